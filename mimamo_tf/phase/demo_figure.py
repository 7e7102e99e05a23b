"""A picture of phase differences on a real face clip: the face next to its phase differences (2
scales x 2 orientations) for a few frame pairs; red/blue = positive/negative phase change.

The face is found with OpenCV's Haar cascade and cropped with one fixed square around it (the median
detection, so the crop itself adds no motion), as 48x48 gray frames.
"""

import os

import cv2
import numpy as np

from mimamo_tf.atomic_files import replacing
from mimamo_tf.phase import PhaseDifference
from mimamo_tf.video import VideoReadError

TILE = 144  # pixels per tile in the picture


def read_gray_video(path, max_frames=400):
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoReadError(f"cannot open video {path}: expected a file OpenCV can decode (mp4, avi, mov)")
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


def write_phase_figure(video, output_dir, rows=6, stride=8):
    """Writes ``<output_dir>/phase_differences.png`` for a face video; returns ``(path, frames)``.

    Raises:
        FileNotFoundError: ``video`` does not exist. VideoReadError: OpenCV cannot decode it.
    """
    if not os.path.isfile(video):
        raise FileNotFoundError(f"--video={video}: no such file")
    frames = read_gray_video(video)
    faces = crop_faces(frames, fixed_face_box(frames))
    maps = PhaseDifference()(faces[None].astype(np.float32) / 255.0)
    maps = [np.asarray(m)[0] for m in maps]
    path = os.path.join(output_dir, "phase_differences.png")
    picture = render(faces, maps, min(rows, len(faces) - 1), stride)
    with replacing(path) as partial:
        cv2.imwrite(partial, picture)
    return path, len(faces)

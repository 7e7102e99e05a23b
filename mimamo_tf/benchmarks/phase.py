"""``python -m mimamo_tf.bench phase``: the phase-difference front end against optical flow and
against a per-snippet NumPy/pyrtools baseline, measured side by side in one run.

* ours: ``PhaseSnippets`` (pyramid once per frame, phase difference once per pair, snippets of 12
  differences) over a long 48x48 sequence, processed in chunks with 6 context frames at each end
  as prediction on a long video does; frames/s of finished snippets.
* OpenCV Farneback and DIS flow per frame pair at 224x224 (the paper's comparison setting) and 48x48.
* baseline: the authors' way, per snippet 13 pyrtools pyramids and 12 NumPy phase differences
  (``mimamo_tf.testing.phase_reference``).

Targets on a 2-core CPU: ours >= 50x Farneback at 224x224 and >= 20x the per-snippet baseline.
Needs the test extra (pyrtools, scipy, scikit-image): ``pip install -e '.[test]'``.
"""

import sys
import time

import cv2
import numpy as np
from absl import flags


FARNEBACK_TARGET = 50.0
BASELINE_TARGET = 20.0


def face_sequence(num_frames, size, seed=0):
    """Gray face frames (uint8) of the public-domain astronaut photo with sub-pixel head motion."""
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    rng = np.random.default_rng(seed)
    shifts = np.cumsum(rng.normal(0, 0.3, size=(num_frames, 2)), axis=0)
    box_top, box_left, box_side = 50, 150, 192
    scale = size / box_side
    frames = np.empty((num_frames, size, size), np.uint8)
    for t, (dx, dy) in enumerate(shifts):
        # Map the moved face box onto a size x size frame in one resampling.
        affine = np.array([[scale, 0, -(box_left - dx) * scale], [0, scale, -(box_top - dy) * scale]])
        frames[t] = cv2.warpAffine(photo, affine, (size, size), flags=cv2.INTER_AREA)
    return frames


def _best_rate(count, run, repeats):
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def measure_front_end(frames, chunk, repeats, snippets=True):
    """Frames/s of ``PhaseSnippets`` (``snippets``: 12-difference snippets, 6 context frames) or
    ``PhaseDifference`` (the per-pair phase-difference maps only) at the size of ``frames``, in
    chunks of ``chunk`` frames."""
    import tensorflow as tf

    from mimamo_tf.phase import PhaseDifference, PhaseSnippets

    context = 6 if snippets else 0
    size = frames.shape[-1]
    layer = PhaseSnippets(context_frames=context, image_size=size) if snippets else PhaseDifference(image_size=size)
    compute = tf.function(lambda x: layer(x))
    video = frames.astype(np.float32) / 255.0
    # Repeat the first/last frame as context at the video's ends (identical to clamping).
    padded = np.concatenate([np.repeat(video[:1], context, 0), video, np.repeat(video[-1:], context, 0)])
    starts = range(0, len(video), chunk)
    chunks = [tf.constant(padded[s : s + min(chunk, len(video) - s) + 2 * context][None]) for s in starts]
    compute(chunks[0])
    if len(chunks[-1][0]) != len(chunks[0][0]):
        compute(chunks[-1])  # trace the shorter tail chunk outside the timing

    def run():
        for c in chunks:
            out = compute(c)
        out[0].numpy()

    return _best_rate(len(video), run, repeats)


def measure_flow(frames, method, preset, pairs, repeats):
    from mimamo_tf.phase.optical_flow import PairFlow

    flow = PairFlow(method, preset)
    pairs = min(pairs, len(frames) - 1)
    flow(frames[0], frames[1])

    def run():
        for t in range(pairs):
            flow(frames[t], frames[t + 1])

    return _best_rate(pairs, run, repeats)


def measure_baseline(frames48, count):
    from mimamo_tf.testing import phase_reference

    video = frames48.astype(np.float64) / 255.0
    return _best_rate(count, lambda: [phase_reference.snippet(video, t) for t in range(6, 6 + count)], 1)


def define_flags(flag_values):
    flags.DEFINE_integer("frames", 1024, "Length of the synthetic face sequence.", flag_values=flag_values)
    flags.DEFINE_integer("chunk", 256, "Output frames per front-end call (plus 2 x 6 context).", flag_values=flag_values)
    flags.DEFINE_integer("flow_pairs", 60, "Frame pairs timed per optical-flow method at 224x224.", flag_values=flag_values)
    flags.DEFINE_integer("baseline_frames", 12, "Snippets timed for the per-snippet baseline.", flag_values=flag_values)
    flags.DEFINE_integer("repeats", 3, "Timed repetitions; the best is reported.", flag_values=flag_values)


def main(FLAGS):
    frames224 = face_sequence(max(FLAGS.flow_pairs + 1, 2), 224)
    frames48 = face_sequence(FLAGS.frames, 48)
    ours = measure_front_end(frames48, FLAGS.chunk, FLAGS.repeats)
    rows = [("ours: PhaseSnippets (pyramid + phase diff + 12-pair snippets)", "48x48", "frames", ours)]
    for size, frames in ((224, frames224), (48, frames48)):
        for method, preset in (("farneback", "medium"), ("dis", "medium"), ("dis", "ultrafast")):
            name = "OpenCV Farneback flow" if method == "farneback" else f"OpenCV DIS flow ({preset})"
            pairs = FLAGS.flow_pairs if size == 224 else 10 * FLAGS.flow_pairs
            rate = measure_flow(frames, method, preset, pairs, FLAGS.repeats)
            rows.append((name, f"{size}x{size}", "pairs", rate))
    baseline = measure_baseline(frames48, FLAGS.baseline_frames)
    rows.append(("baseline: per snippet, 13 pyrtools pyramids (authors' way)", "48x48", "frames", baseline))

    import os

    print(f"\nPhase front end vs optical flow — {os.cpu_count()} CPU cores, "
          f"{FLAGS.frames} frames, chunks of {FLAGS.chunk}")
    print(f"{'method':<62} {'size':>8} {'items/s':>12} {'ours / this':>12}")
    for name, size, unit, rate in rows:
        print(f"{name:<62} {size:>8} {rate:>8.0f} {unit:<6} {ours / rate:>8.1f}x")
    farneback224 = rows[1][3]
    checks = [
        (f"ours >= {FARNEBACK_TARGET:.0f}x Farneback at 224x224", ours / farneback224 >= FARNEBACK_TARGET),
        (f"ours >= {BASELINE_TARGET:.0f}x per-snippet baseline", ours / baseline >= BASELINE_TARGET),
    ]
    for text, ok in checks:
        print(f"target {text}: {'MET' if ok else 'NOT MET'}")
    return 0 if all(ok for _, ok in checks) else 1


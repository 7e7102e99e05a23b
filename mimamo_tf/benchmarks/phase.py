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

import os

import numpy as np
from absl import flags

from mimamo_tf.phase.timing import best_rate, face_sequence, measure_flow, measure_front_end
from mimamo_tf.testing import phase_reference


FARNEBACK_TARGET = 50.0
BASELINE_TARGET = 20.0


def measure_baseline(frames48, count):
    video = frames48.astype(np.float64) / 255.0
    return best_rate(count, lambda: [phase_reference.snippet(video, t) for t in range(6, 6 + count)], 1)


def define_flags(flag_values):
    flags.DEFINE_integer("frames", 1024, "Length of the synthetic face sequence.", flag_values=flag_values)
    flags.DEFINE_integer("chunk", 256, "Output frames per front-end call (plus 2 x 6 context).", flag_values=flag_values)
    flags.DEFINE_integer("flow_pairs", 60, "Frame pairs timed per optical-flow method at 224x224.", flag_values=flag_values)
    flags.DEFINE_integer("baseline_frames", 12, "Snippets timed for the per-snippet baseline.", flag_values=flag_values)
    flags.DEFINE_integer("repeats", 3, "Timed repetitions; the best is reported.", flag_values=flag_values)


def main(flag_values):
    frames224 = face_sequence(max(flag_values.flow_pairs + 1, 2), 224)
    frames48 = face_sequence(flag_values.frames, 48)
    ours = measure_front_end(frames48, flag_values.chunk, flag_values.repeats)
    rows = [("ours: PhaseSnippets (pyramid + phase diff + 12-pair snippets)", "48x48", "frames", ours)]
    for size, frames in ((224, frames224), (48, frames48)):
        for method, preset in (("farneback", "medium"), ("dis", "medium"), ("dis", "ultrafast")):
            name = "OpenCV Farneback flow" if method == "farneback" else f"OpenCV DIS flow ({preset})"
            pairs = flag_values.flow_pairs if size == 224 else 10 * flag_values.flow_pairs
            rate = measure_flow(frames, method, preset, pairs, flag_values.repeats)
            rows.append((name, f"{size}x{size}", "pairs", rate))
    baseline = measure_baseline(frames48, flag_values.baseline_frames)
    rows.append(("baseline: per snippet, 13 pyrtools pyramids (authors' way)", "48x48", "frames", baseline))


    print(f"\nPhase front end vs optical flow — {os.cpu_count()} CPU cores, "
          f"{flag_values.frames} frames, chunks of {flag_values.chunk}")
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


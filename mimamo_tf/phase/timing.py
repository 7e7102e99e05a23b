"""How fast the temporal stream's inputs are computed: phase differences (``PhaseSnippets`` /
``PhaseDifference``) and OpenCV optical flow, on gray frames of a real face with sub-pixel head
motion. Used by ``python -m mimamo_tf.bench phase`` and the paper's speed study
(``mimamo_tf.studies.speed``); each rate is the best of ``repeats`` timed runs after a warm-up.
"""

import time

import cv2
import numpy as np
import tensorflow as tf
from skimage import data

from mimamo_tf.phase import PhaseDifference, PhaseSnippets
from mimamo_tf.phase.optical_flow import PairFlow


def face_sequence(num_frames, size, seed=0):
    """Gray face frames (uint8) of the public-domain astronaut photo with sub-pixel head motion."""
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


def best_rate(count, run, repeats):
    """``count`` items per second of the fastest of ``repeats`` calls of ``run``."""
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

    return best_rate(len(video), run, repeats)


def measure_flow(frames, method, preset, pairs, repeats):
    """Frame pairs/s of OpenCV flow (``PairFlow(method, preset)``) on consecutive ``frames``."""
    flow = PairFlow(method, preset)
    pairs = min(pairs, len(frames) - 1)
    flow(frames[0], frames[1])

    def run():
        for t in range(pairs):
            flow(frames[t], frames[t + 1])

    return best_rate(pairs, run, repeats)

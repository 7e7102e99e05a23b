"""How a video is cut into windows for evaluation and prediction, and which window predicts which frame.

A bidirectional GRU over a window sees nothing before its first frame or after its last, so the
frames at a window's edges are predicted with one-sided context, and two independent windows that
meet disagree at the seam. Windows therefore overlap: they start every ``stride`` frames (``stride =
window - round(overlap * window)``, ``overlap`` a fraction of the window: 0 tiles the video as
training windows would, one after the other; 0.5, the default, is half a window) until one reaches
the video's last frame, and every frame takes the prediction of the one window whose centre is
nearest (the earlier one on a tie) — the window in which it has the most context on its poorer
side. That last window is then moved back to end on the video's last frame, as training's last
window does, so no window is padded with copies of the last frame (only a video shorter than a
window is); it keeps the frames it owned, so which window predicts a frame never depends on how
the video goes on after that window, and a stream need not wait for it. With half-window overlap that is each window's central half (its first and last quarter go
to its neighbours), so every frame has at least a quarter window of context on both sides, except
the video's first and last quarter window, which keep the clamped context of the video's ends.

Each frame is predicted by exactly one window, so the merged prediction is a selection, not an
average: validation during training scores the same frames of the same windows as ``evaluate``
(each window's labels count only on the frames it owns), and a stream can emit a frame as soon as
its window has run. ``python -m mimamo_tf.bench windows`` measures this choice against tiling and
against a triangular cross-fade (docs/design.md, section 7).

A window's frames without a face take the inputs of their nearest frame with a face
(``nearest_face_frames``), in training, evaluation and prediction alike, so a gap is a still face.

NumPy here; ``mimamo_tf.data.pipeline.window_starts``/``owned_frames``/``nearest_face_frames``
are the in-graph twins (tested against these).
"""

import numpy as np

DEFAULT_OVERLAP = 0.5


def overlap_stride(window, overlap):
    """Frames between the starts of consecutive windows of ``window`` frames overlapping by the
    fraction ``overlap`` of a window (in [0, 1)); at least 1.

    Raises:
        ValueError: ``overlap`` outside [0, 1) or ``window`` < 1.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1 frames, got {window}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"the window overlap is a fraction of the window in [0, 1), got {overlap}")
    return max(1, int(window) - int(round(overlap * window)))


def window_starts(num_frames, window, stride):
    """First frames of the windows of a video of ``num_frames`` frames: ``0, stride, 2 * stride, ...``
    up to the first window that reaches the last frame, which starts at ``num_frames - window``
    instead (it ends on the last frame; a video shorter than ``window`` has one window, padded by the
    caller repeating the last frame)."""
    last = max(int(num_frames) - int(window), 0)
    count = 1 + -(-last // int(stride))
    starts = np.arange(count, dtype=np.int64) * int(stride)
    starts[-1] = last
    return starts


def owned_frames(start, num_frames, window, stride):
    """``(first, end)``: the frames ``first <= t < end`` whose prediction comes from the window
    starting at ``start`` (frames nearer its centre than any other window's, ties to the earlier
    window; the last window, moved back to end on the last frame, keeps the frames of the window at
    ``stride`` multiples it replaces). The owned ranges of ``window_starts`` tile ``[0, num_frames)``."""
    last = max(int(num_frames) - int(window), 0)
    if start >= last:
        grid = -(-last // int(stride)) * int(stride)  # the window at a multiple of stride it replaces
        first = 0 if grid == 0 else grid + (window - 1 - stride) // 2 + 1
        return int(first), int(num_frames)
    first = 0 if start == 0 else start + (window - 1 - stride) // 2 + 1
    return int(first), int(start + (window - 1 + stride) // 2 + 1)


def plan(num_frames, window, stride):
    """``[(start, first, end), ...]``: every window of the video and the frames it predicts."""
    return [(int(s), *owned_frames(int(s), num_frames, window, stride))
            for s in window_starts(num_frames, window, stride)]


def nearest_face_frames(face_found):
    """For every frame, the index of the nearest frame with a face: itself if it has one, the earlier
    one on a tie; a video without any face maps every frame to itself.

    One binary search per frame, not a comparison of every pair: videos run to tens of thousands of
    frames (``mimamo_tf.testing.window_reference.nearest_face_by_definition`` is the pairwise oracle).

    Args:
        face_found: ``(T,)`` per-frame flags, > 0 where the frame has a face.

    Returns:
        ``(T,)`` int64 frame indices.
    """
    face_found = np.asarray(face_found) > 0
    frames = np.arange(len(face_found), dtype=np.int64)
    with_face = np.flatnonzero(face_found).astype(np.int64)
    if not len(with_face):
        return frames
    after = np.minimum(np.searchsorted(with_face, frames, side="left"), len(with_face) - 1)
    before = np.maximum(after - 1, 0)
    previous_face, next_face = with_face[before], with_face[after]
    return np.where(np.abs(frames - previous_face) <= np.abs(next_face - frames), previous_face, next_face)

"""OpenCV optical flow of consecutive frame pairs: the paper's "Optical Flow" temporal input.

Produces per-pair maps with the same layout as ``PhaseDifference`` — a list with one array per scale,
``(T - 1, 2, h, w)`` where the two "orientations" are the x and y flow components in pixels of that
scale — so ``SnippetBuilder`` (or ``flow_snippets``) turns them into the same snippets. Flow is not
a Keras layer: it runs in NumPy/OpenCV during data preparation or prediction.
"""

import cv2
import numpy as np

from mimamo_tf.phase.snippets import snippet_source_indices

METHODS = ("farneback", "dis")
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
# OpenCV's documented example parameters for Farneback: pyramid scale 0.5, 3 levels, 15 px window,
# 3 iterations, polynomial neighbourhood 5 with sigma 1.2.
FARNEBACK_PARAMS = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2)


def to_gray_uint8(frames):
    """``(T, H, W)`` gray frames (uint8, or float in [0, 1]) -> contiguous uint8 frames."""
    frames = np.asarray(frames)
    if frames.ndim != 3:
        raise ValueError(f"optical flow expects gray frames of shape (T, H, W); got {frames.shape}")
    if frames.dtype == np.uint8:
        return np.ascontiguousarray(frames)
    if not np.all(np.isfinite(frames)):
        raise ValueError("optical flow got non-finite (NaN/inf) frame values")
    return np.clip(np.rint(frames * 255.0), 0, 255).astype(np.uint8)


class PairFlow:
    """Callable computing the flow ``(H, W, 2)`` from one gray uint8 frame to the next.

    Args:
        method: ``"farneback"`` or ``"dis"``.
        dis_preset: DIS preset, one of ``DIS_PRESETS``.
    """

    def __init__(self, method="farneback", dis_preset="medium"):
        if method not in METHODS:
            raise ValueError(f"optical flow method must be one of {METHODS}, got {method!r}")
        if dis_preset not in DIS_PRESETS:
            raise ValueError(f"dis_preset must be one of {tuple(DIS_PRESETS)}, got {dis_preset!r}")
        self.method = method
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESETS[dis_preset]) if method == "dis" else None

    def __call__(self, earlier, later):
        if self._dis is not None:
            return self._dis.calc(earlier, later, None)
        return cv2.calcOpticalFlowFarneback(earlier, later, None, flags=0, **FARNEBACK_PARAMS)


def optical_flow_pairs(frames, method="farneback", sizes=(48, 24), dis_preset="medium"):
    """x/y optical flow of every consecutive pair, resized to each scale's size.

    Args:
        frames: ``(T, H, W)`` gray frames, uint8 or float in [0, 1]. Flow is computed at this
            resolution (e.g. 48x48 aligned faces, or 224x224 as in the paper's comparison).
        method: ``"farneback"`` or ``"dis"``.
        sizes: output side of each scale; flow vectors are rescaled with the image so they stay in
            pixels of that scale.
        dis_preset: DIS preset when ``method="dis"``.

    Returns:
        A list with one float32 array per size, ``(T - 1, 2, size, size)``: channel 0 is the x (column)
        displacement, channel 1 the y (row) displacement.
    """
    frames = to_gray_uint8(frames)
    flow_of = PairFlow(method, dis_preset)
    height, width = frames.shape[1:]
    outputs = [np.zeros((max(len(frames) - 1, 0), 2, s, s), np.float32) for s in sizes]
    for t in range(len(frames) - 1):
        flow = flow_of(frames[t], frames[t + 1])
        for out, size in zip(outputs, sizes):
            resized = flow
            if (height, width) != (size, size):
                resized = cv2.resize(flow, (size, size), interpolation=cv2.INTER_AREA)
                resized = resized * np.array([size / width, size / height], np.float32)
            out[t] = resized.transpose(2, 0, 1)
    return outputs


def flow_snippets(pair_maps, length=12):
    """NumPy twin of ``SnippetBuilder(length, "pairs", "channels_last")`` for one video.

    Args:
        pair_maps: ``(T - 1, C, h, w)`` per-pair maps (e.g. one entry of ``optical_flow_pairs``).
        length: maps per snippet.

    Returns:
        ``(T, h, w, C * length)`` float32 snippets, channel ``c * length + k``.
    """
    pair_maps = np.asarray(pair_maps, np.float32)
    num_frames = len(pair_maps) + 1
    padded = np.concatenate([pair_maps, np.zeros_like(pair_maps[:1], shape=(1,) + pair_maps.shape[1:])])
    index = snippet_source_indices(num_frames, length, "pairs")
    snippets = padded[index]  # (T, L, C, h, w)
    t, l, c, h, w = snippets.shape
    return snippets.transpose(0, 3, 4, 2, 1).reshape(t, h, w, c * l)

"""Which window predicts each frame, and which face each frame's input is, straight from the
definitions of overlapping evaluation windows and of a frame's nearest face (test oracles for
``mimamo_tf.window_plan`` and the window merge of ``mimamo_tf.inference.windows``, written without
their formulas)."""

import numpy as np
import tensorflow as tf


def frame_windows(num_frames, window, overlap):
    """``(starts, owner)``: the windows' first frames and, for every frame, the start of the window
    that predicts it.

    Windows of ``window`` frames start every ``window - round(overlap * window)`` frames from 0, and
    one is added as long as the last does not reach the video's last frame. A frame belongs to the
    window whose centre is nearest; on a tie, the earlier window. Then the last window is moved to
    end on the video's last frame (start 0 when the video is shorter than a window), taking its
    frames with it.
    """
    stride = max(1, window - int(round(overlap * window)))
    starts = [0]
    while starts[-1] + window < num_frames:
        starts.append(starts[-1] + stride)
    centres = np.array(starts) + (window - 1) / 2.0
    owner = np.array([starts[int(np.argmin(np.abs(t - centres)))] for t in range(num_frames)])
    moved = max(num_frames - window, 0)
    owner[owner == starts[-1]] = moved
    starts[-1] = moved
    return np.array(starts), owner


def nearest_face_by_definition(face_found):
    """For every frame, the frame with a face at the least distance from it, found by comparing
    every pair (the earlier on a tie; every frame itself in a video without a face): the oracle of
    ``mimamo_tf.window_plan.nearest_face_frames``."""
    found = np.flatnonzero(np.asarray(face_found) > 0)
    frames = np.arange(len(face_found))
    if not len(found):
        return frames
    return found[np.argmin(np.abs(frames[:, None] - found[None, :]), axis=1)]


def model_on_windows(signature, faces_rgb, face_found, window, context, overlap):
    """``(T, 2)`` arousal and valence of an exported model's ``serving_default`` ``signature`` on
    evaluate's windows of aligned faces ``(T, 224, 224, 3)``, rebuilt from the definition: a frame
    without a face takes its nearest face's (the earlier on a tie), each window is clamped at the
    ends with ``context`` faces either side, each frame from its window (``frame_windows``)."""
    filled = np.asarray(faces_rgb)[nearest_face_by_definition(face_found)]
    starts, owner = frame_windows(len(face_found), window, overlap)
    expected = np.zeros((len(face_found), 2), np.float32)
    for start in starts:
        span = np.clip(np.arange(start - context, start + window + context), 0, len(face_found) - 1)
        out = signature(faces=tf.constant(filled[span][None]))
        mine = np.flatnonzero(owner == start)
        expected[mine] = np.stack([out["arousal"][0], out["valence"][0]], -1)[mine - start]
    return expected

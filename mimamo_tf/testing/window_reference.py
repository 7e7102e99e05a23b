"""Which window predicts each frame, straight from the definition of overlapping evaluation windows
(a test oracle for ``mimamo_tf.window_plan``, written without its formulas)."""

import numpy as np


def frame_windows(num_frames, window, overlap):
    """``(starts, owner)``: the windows' first frames and, for every frame, the start of the window
    that predicts it.

    Windows of ``window`` frames start every ``window - round(overlap * window)`` frames from 0, and
    one is added as long as the last does not reach the video's last frame. A frame belongs to the
    window whose centre is nearest; on a tie, the earlier window.
    """
    stride = max(1, window - int(round(overlap * window)))
    starts = [0]
    while starts[-1] + window < num_frames:
        starts.append(starts[-1] + stride)
    centres = np.array(starts) + (window - 1) / 2.0
    owner = np.array([starts[int(np.argmin(np.abs(t - centres)))] for t in range(num_frames)])
    return np.array(starts), owner

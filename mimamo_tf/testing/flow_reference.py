"""The optical-flow snippet of one frame, straight from its definition (a test oracle)."""

import numpy as np


def flow_snippet(flow, t, snippet_length=12):
    """Frame ``t``'s snippet from per-pair flow maps ``flow`` ``(T - 1, 2, s, s)`` of a whole video.

    Slot ``k`` is the flow of pair ``(t - L/2 + k, t - L/2 + k + 1)``, both frames clamped to the
    video; zero where the clamped frames coincide; channel ``(x, y) * L + k``, channels last.
    """
    length = len(flow) + 1
    half = snippet_length // 2
    expected = np.zeros(flow.shape[2:] + (2 * snippet_length,), np.float32)
    for k in range(snippet_length):
        a, b = np.clip([t - half + k, t - half + k + 1], 0, length - 1)
        if b > a:
            expected[..., k] = flow[a, 0]
            expected[..., snippet_length + k] = flow[a, 1]
    return expected

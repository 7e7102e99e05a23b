"""Temporal smoothing of the alignment transform.

Landmark detectors jitter by a fraction of a pixel to a few pixels from frame to frame even on a
still face. Aligning each frame independently turns that jitter into global motion of the aligned
crop, which the temporal stream then sees as (fake) phase differences. Since whole videos are
processed offline, the alignment parameters can be smoothed with a zero-lag filter.

The filter is a Gaussian-weighted local *linear* regression over time (a LOESS of degree 1): it
removes jitter like a Gaussian blur but reproduces constant-velocity head motion exactly, also at
the ends of a segment where a plain blur would lag.
"""

import numpy as np


def local_linear_smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Smooths each column of a time series with Gaussian-weighted local linear regression.

    Args:
        values: (T, D) series, rows are time steps.
        sigma: Gaussian width in time steps; <= 0 returns a copy.

    Returns:
        float64 (T, D) smoothed series. Any linear function of time is returned unchanged.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        return local_linear_smooth(values[:, None], sigma)[:, 0]
    length = values.shape[0]
    if sigma <= 0 or length < 2:
        return values.copy()
    radius = max(1, int(np.ceil(3.0 * sigma)))
    smoothed = np.empty_like(values)
    for t in range(length):
        lo, hi = max(0, t - radius), min(length, t + radius + 1)
        offsets = np.arange(lo, hi, dtype=np.float64) - t
        weights = np.exp(-0.5 * (offsets / sigma) ** 2)
        s0, s1, s2 = weights.sum(), (weights * offsets).sum(), (weights * offsets**2).sum()
        window = values[lo:hi]
        t0 = weights @ window
        t1 = (weights * offsets) @ window
        determinant = s0 * s2 - s1 * s1
        if determinant <= 1e-12 * max(s0 * s2, 1e-300):
            smoothed[t] = t0 / s0
        else:
            smoothed[t] = (s2 * t0 - s1 * t1) / determinant
    return smoothed


def segments(segment_ids: np.ndarray):
    """Maximal runs of equal, non-negative ids.

    Args:
        segment_ids: (T,) ints; -1 marks frames that belong to no segment (no face).

    Yields:
        (start, stop) index pairs of each run.
    """
    segment_ids = np.asarray(segment_ids)
    start = None
    for t, value in enumerate(segment_ids):
        if start is not None and value != segment_ids[start]:
            yield start, t
            start = None
        if start is None and value >= 0:
            start = t
    if start is not None:
        yield start, len(segment_ids)


def smooth_alignment_params(params: np.ndarray, segment_ids: np.ndarray, sigma: float) -> np.ndarray:
    """Smooths per-frame alignment parameters within each face track segment.

    Segments are smoothed independently: a new track (another person, a cut, a face that left and
    came back) must not be blended with the previous one.

    Args:
        params: (T, 4) (centre_x, centre_y, log_scale, angle) per frame (see
            `alignment.similarity_to_params`); rows outside segments are ignored.
        segment_ids: (T,) track segment id per frame, -1 where there is no face.
        sigma: Gaussian width in frames; <= 0 disables smoothing.

    Returns:
        float64 (T, 4) smoothed parameters (rows outside segments copied unchanged).
    """
    params = np.asarray(params, dtype=np.float64)
    result = params.copy()
    if sigma <= 0:
        return result
    for start, stop in segments(segment_ids):
        block = params[start:stop].copy()
        # Angles are smoothed on the unwrapped line so a track through +-pi does not average to 0.
        block[:, 3] = np.unwrap(block[:, 3])
        result[start:stop] = local_linear_smooth(block, sigma)
    return result

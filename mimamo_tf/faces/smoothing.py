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


class StreamingSmoother:
    """``smooth_alignment_params`` one frame at a time, with a bounded look-ahead.

    A frame's smoothed parameters depend on the frames within ``radius = ceil(3 * sigma)`` of it in
    its segment, so they are final once the frame ``radius`` later has arrived or the segment has
    ended; they are then computed on exactly the offline filter's frames and equal its result (the
    angle may differ by a multiple of 2 pi: it is unwrapped over fewer frames).

    Args:
        sigma: Gaussian width in frames (<= 0: no smoothing, no look-ahead).

    Call ``add(t, params, segment_id)`` for frames ``t = 0, 1, ...`` (``params`` (4,), or None and
    ``segment_id`` -1 without a face); it returns ``[(t, smoothed (4,) or None), ...]`` for the frames
    that became final, in order. ``finish()`` returns the rest.
    """

    def __init__(self, sigma: float):
        self.sigma = float(sigma)
        self.radius = max(1, int(np.ceil(3.0 * sigma))) if sigma > 0 else 0
        self._frames = []  # (t, params or None, segment) not yet final, and the radius before them
        self._next = 0  # the next frame to make final

    def _final(self, position, segment_end):
        t, params, segment = self._frames[position]
        if params is None:
            return t, None
        lo = position
        while lo > 0 and self._frames[lo - 1][2] == segment and t - self._frames[lo - 1][0] <= self.radius:
            lo -= 1
        hi = min(segment_end, position + self.radius + 1)
        block = np.array([self._frames[k][1] for k in range(lo, hi)], np.float64)
        if self.sigma <= 0:
            return t, block[position - lo]
        block[:, 3] = np.unwrap(block[:, 3])
        return t, local_linear_smooth(block, self.sigma)[position - lo]

    def _release(self, ended):
        out = []
        while True:
            position = next((k for k, frame in enumerate(self._frames) if frame[0] == self._next), None)
            if position is None:
                break
            _, params, segment = self._frames[position]
            # Where this frame's segment ends among the frames seen so far.
            end = position + 1
            while end < len(self._frames) and self._frames[end][2] == segment:
                end += 1
            segment_closed = end < len(self._frames) or ended
            if params is not None and not segment_closed and end - 1 - position < self.radius:
                break
            out.append(self._final(position, end))
            self._next += 1
        # Keep the radius of frames before the next one: they are its past.
        keep_from = max(0, self._next - self.radius)
        self._frames = [frame for frame in self._frames if frame[0] >= keep_from]
        return out

    def add(self, t, params, segment_id):
        if t != (self._frames[-1][0] + 1 if self._frames else self._next):
            raise ValueError(f"frame {t} out of order")
        self._frames.append((int(t), None if params is None else np.asarray(params, np.float64),
                             int(segment_id) if params is not None else -1))
        return self._release(ended=False)

    def finish(self):
        return self._release(ended=True)

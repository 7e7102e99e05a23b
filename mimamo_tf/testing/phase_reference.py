"""A straightforward NumPy/pyrtools implementation of the phase-difference snippets.

This is both the numerical reference the tests compare the Keras layers with and the benchmark's
baseline. It works the way the authors' code does — per snippet, one pyramid per frame of the
snippet (13 pyramids for 12 differences) — using pyrtools for the pyramid and SciPy for the blur,
so it shares no code with the layers. pyrtools and SciPy are test/benchmark dependencies
(``pip install -e .[test]``).
"""

import numpy as np
import scipy.ndimage

try:
    import pyrtools
except ImportError:  # the test extra is not installed; pyramid_bands says how to get it
    pyrtools = None


def _require_reference_packages():
    if pyrtools is None:  # pragma: no cover - depends on the environment
        raise ImportError("the NumPy/pyrtools reference needs pyrtools: pip install -e '.[test]'")


def pyramid_bands(frame, scales=2, orientations=2):
    """pyrtools complex steerable pyramid of one mirror-extended frame, bands cropped to the
    top-left quadrant: ``bands[s][b]`` complex ``(N / 2**s, N / 2**s)``."""
    _require_reference_packages()
    frame = np.asarray(frame, np.float64)
    top = np.concatenate([frame, frame[:, ::-1]], axis=1)
    extended = np.concatenate([top, top[::-1]], axis=0)
    pyramid = pyrtools.pyramids.SteerablePyramidFreq(
        extended, height=scales, order=orientations - 1, is_complex=True
    )
    bands = []
    for s in range(scales):
        n = frame.shape[0] // 2**s
        bands.append([pyramid.pyr_coeffs[(s, b)][:n, :n] for b in range(orientations)])
    return bands


def denoised_phase_difference(earlier, later, sigma=2.0, radius=5, subtract_mean=True):
    """Phase difference of two complex band arrays, amplitude-weighted Gaussian blur, mean removal."""
    product = later * np.conj(earlier)
    angle = np.angle(product)
    weight = np.sqrt(np.abs(product))
    blur = dict(sigma=sigma, mode="constant", cval=0.0, truncate=radius / sigma)
    numerator = scipy.ndimage.gaussian_filter(weight * angle, **blur)
    denominator = scipy.ndimage.gaussian_filter(weight, **blur)
    maps = numerator / np.maximum(denominator, 1e-12)
    if subtract_mean:
        maps = maps - maps.mean()
    return np.clip(maps, -5 * np.pi, 5 * np.pi)


def denoised_phase(band, sigma=2.0, radius=5):
    """Local phase of a complex band, |c|-weighted Gaussian blur, mean removal."""
    weight = np.abs(band)
    blur = dict(sigma=sigma, mode="constant", cval=0.0, truncate=radius / sigma)
    numerator = scipy.ndimage.gaussian_filter(weight * np.angle(band), **blur)
    maps = numerator / np.maximum(scipy.ndimage.gaussian_filter(weight, **blur), 1e-12)
    return np.clip(maps - maps.mean(), -5 * np.pi, 5 * np.pi)


def snippet(frames, t, length=12, scales=2, orientations=2):
    """Phase-difference snippet of frame ``t``: ``length + 1`` clamped frames, one pyramid each.

    Returns:
        A list per scale of ``(h, w, orientations * length)`` arrays, channel ``b * length + k``.
    """
    num_frames = len(frames)
    indices = np.clip(np.arange(t - length // 2, t - length // 2 + length + 1), 0, num_frames - 1)
    bands = [pyramid_bands(frames[i], scales, orientations) for i in indices]
    out = []
    for s in range(scales):
        channels = [
            denoised_phase_difference(bands[k][s][b], bands[k + 1][s][b])
            for b in range(orientations)
            for k in range(length)
        ]
        out.append(np.stack(channels, axis=-1))
    return out


def snippets(frames, length=12, scales=2, orientations=2):
    """``snippet`` for every frame: a list per scale of ``(T, h, w, orientations * length)``."""
    per_frame = [snippet(frames, t, length, scales, orientations) for t in range(len(frames))]
    return [np.stack([f[s] for f in per_frame]) for s in range(scales)]

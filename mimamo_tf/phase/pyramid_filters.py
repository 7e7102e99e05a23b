"""Complex steerable pyramid filters, and the pyramid written as fixed real matrix products.

The pyramid is the Portilla & Simoncelli complex steerable pyramid built in the Fourier domain with
raised-cosine radial masks (transition width 1 octave) and ``cos^order`` angular masks restricted to a
half-plane, applied — as MIMAMO Net's authors do — to a frame mirror-extended to twice its size; each
band is then cropped back to its top-left quadrant. It is numerically the same transform as
``pyrtools.pyramids.SteerablePyramidFreq(x2, height=scales, order=orientations - 1, is_complex=True)``
on the extended frame ``x2``; the tests hold it to that reference.

Because the frame size is fixed, every step is linear with constant matrices, so instead of FFTs the
layer evaluates each band ``b`` of scale ``s`` as

    band = H_left[:, R] @ (mask[R, C] * (Cr[R] @ x @ Cr[C].T)) @ H_right[:, C].T

* ``Cr`` (``n_s x N``, real): the DFT of the mirror-extended frame. A half-sample-symmetric extension
  makes the DFT a real cosine transform times a per-frequency phase ``phi``; ``phi`` is folded into
  ``H``, so everything up to the mask is real arithmetic.
* ``mask`` (real): radial x angular mask of the band, on the frequency grid of scale ``s``.
* ``H`` (complex): the inverse DFT restricted to the quadrant that is kept, times ``phi``; the
  pyramid's constant ``(-1j)**order`` is folded into ``H_left``.
* ``R``, ``C``: the frequency rows/columns where the mask is non-zero. Complex bands live on a half
  plane, so this halves the work.

This form converts to LiteRT with builtin ops only (FFT ops do not) and is faster on CPU than
``tf.signal.fft2d`` at these sizes (docs/design.md section 5).
"""

import dataclasses
import math

import numpy as np

# Sampling of the reference lookup tables. The reference evaluates its masks by linear interpolation
# in these tables rather than analytically; reproducing the tables is what makes the masks equal to
# ~1e-12 instead of ~1e-5.
_RADIAL_TABLE_SAMPLES = 256
_ANGULAR_TABLE_SAMPLES = 1024


def _raised_cosine_table(width=1.0, position=-0.5):
    """Table of a cos^2 step rising from 0 at ``position - width/2`` to 1 at ``position + width/2``."""
    n = _RADIAL_TABLE_SAMPLES
    x = np.pi * np.arange(-n - 1, 2) / (2 * n)
    y = np.cos(x) ** 2
    y[0] = y[1]
    y[n + 2] = y[n + 1]
    x = position + (2 * width / np.pi) * (x + np.pi / 4)
    return x, y


def _angular_table(orientations):
    """Table of the half-plane angular profile ``2 sqrt(c) cos(theta)^order`` of complex bands."""
    n = _ANGULAR_TABLE_SAMPLES
    order = orientations - 1
    x = np.pi * np.arange(-(2 * n + 1), n + 2) / n
    # Normalisation that makes the squared angular masks of all orientations sum to one.
    const = (2 ** (2 * order)) * math.factorial(order) ** 2 / (
        orientations * math.factorial(2 * order)
    )
    wrapped = (x + np.pi) % (2 * np.pi) - np.pi
    y = 2 * np.sqrt(const) * np.cos(x) ** order * (np.abs(wrapped) < np.pi / 2)
    return x, y


def _centre_index(n):
    """0-based index of the zero frequency of an fftshift-ed axis of length ``n``."""
    return int(math.ceil((n + 0.5) / 2)) - 1


def steerable_band_masks(size, scales=2, orientations=2):
    """Fourier masks of the complex steerable pyramid's band-pass bands.

    Args:
        size: side of the (already mirror-extended) square image the pyramid runs on.
        scales: number of band-pass scales (the reference's ``height``).
        orientations: number of orientations per scale.

    Returns:
        A list with one entry per scale, each a list of ``orientations`` real arrays: the mask of that
        band on the scale's frequency grid (``size / 2**s`` per side) in ``fftshift`` order. The
        complex band is ``ifft2(ifftshift((-1j)**(orientations - 1) * mask * X_s))`` where ``X_s`` is
        the centre ``size / 2**s`` square of ``fftshift(fft2(image))``.
    """
    if orientations < 1 or scales < 1:
        raise ValueError(f"need scales >= 1 and orientations >= 1, got {scales}, {orientations}")
    if size % (2**scales):
        raise ValueError(f"image side {size} must be divisible by 2**scales = {2**scales}")
    centre = _centre_index(size)
    ramp = (np.arange(size) - centre) / (size / 2)
    x_ramp, y_ramp = np.meshgrid(ramp, ramp)
    angle = np.arctan2(y_ramp, x_ramp)
    radius = np.sqrt(x_ramp**2 + y_ramp**2)
    # log2(0) at DC: take its neighbour's radius, which lies far below every band's pass band.
    radius[centre, centre] = radius[centre, centre - 1]
    log_radius = np.log2(radius)

    radial_x, radial_y = _raised_cosine_table()
    high = np.sqrt(radial_y)
    low = np.sqrt(1.0 - high**2)
    angular_x, angular_y = _angular_table(orientations)

    lowpass = np.interp(log_radius, radial_x, low)  # removes the high-pass residual
    masks = []
    for _ in range(scales):
        radial_x = radial_x - 1.0  # one octave down
        highpass = np.interp(log_radius, radial_x, high)
        masks.append(
            [
                lowpass
                * highpass
                * np.interp(angle, angular_x + np.pi * b / orientations, angular_y)
                for b in range(orientations)
            ]
        )
        # Keep the centre (low-frequency) half of the spectrum for the next, coarser scale.
        n = log_radius.shape[0]
        low_n = int(math.ceil((n - 0.5) / 2))
        start = _centre_index(n) - _centre_index(low_n)
        crop = (slice(start, start + low_n), slice(start, start + low_n))
        log_radius, angle, lowpass = log_radius[crop], angle[crop], lowpass[crop]
        lowpass = lowpass * np.interp(log_radius, radial_x, low)
    return masks


@dataclasses.dataclass(frozen=True)
class BandOperator:
    """Constant matrices that compute one band as ``H_left (mask * (Cr_r x Cr_c^T)) H_right^T``.

    All arrays are float32. Shapes, with ``N`` the frame side, ``n`` the band side, ``|R|``/``|C|``
    the number of frequency rows/columns in the band's support:

    Attributes:
        cr_rows: ``(|R|, N)`` cosine transform rows.
        cr_cols_t: ``(N, |C|)`` transposed cosine transform columns.
        mask: ``(|R|, |C|)`` the band's real Fourier mask on its support.
        h_left: ``(2n, |R|)`` real and imaginary parts of ``H_left`` stacked on rows.
        h_right_t: ``(2|C|, 2n)`` block matrix ``[[Re, Im], [-Im, Re]]`` of ``H_right^T`` so that
            ``[Vr, Vi] @ h_right_t = [Re B, Im B]`` for ``V = Vr + i Vi``.
    """

    cr_rows: np.ndarray
    cr_cols_t: np.ndarray
    mask: np.ndarray
    h_left: np.ndarray
    h_right_t: np.ndarray


def band_operators(image_size=48, scales=2, orientations=2):
    """Builds the ``BandOperator`` of every band, computed in float64 then stored as float32.

    Args:
        image_size: side ``N`` of the square input frame (before mirror extension).
        scales: number of band-pass scales; band side at scale ``s`` is ``N / 2**s``.
        orientations: orientations per scale.

    Returns:
        ``operators[s][b]``, a ``BandOperator``.
    """
    extended = 2 * image_size
    pixel = np.arange(image_size)
    constant = (-1j) ** (orientations - 1)
    operators = []
    for scale_masks in steerable_band_masks(extended, scales, orientations):
        grid = scale_masks[0].shape[0]
        freq = np.rint(np.fft.fftfreq(grid) * grid)  # signed integer frequencies, fft order
        # DFT of the mirror-extended frame at these frequencies = phase[f] * cosine[f, :] @ x @ ...
        cosine = 2 * np.cos(np.pi * np.outer(freq, extended - 1 - 2 * pixel) / extended)
        phase = np.exp(-1j * np.pi * freq * (extended - 1) / extended)
        out = grid // 2  # keep the top-left quadrant of the band
        inverse = np.exp(2j * np.pi * np.outer(np.arange(out), freq) / grid) / grid * phase
        per_scale = []
        for mask in scale_masks:
            mask = np.fft.ifftshift(mask)
            rows = np.flatnonzero(np.any(mask != 0, axis=1))
            cols = np.flatnonzero(np.any(mask != 0, axis=0))
            left = constant * inverse[:, rows]
            right_t = inverse[:, cols].T
            per_scale.append(
                BandOperator(
                    cr_rows=cosine[rows].astype(np.float32),
                    cr_cols_t=cosine[cols].T.astype(np.float32),
                    mask=mask[np.ix_(rows, cols)].astype(np.float32),
                    h_left=np.concatenate([left.real, left.imag]).astype(np.float32),
                    h_right_t=np.block(
                        [[right_t.real, right_t.imag], [-right_t.imag, right_t.real]]
                    ).astype(np.float32),
                )
            )
        operators.append(per_scale)
    return operators


def apply_band_operators_numpy(frames, operators):
    """NumPy twin of the Keras layer: ``frames (..., N, N)`` -> ``[(real, imag)]`` per scale.

    Each entry has shape ``(..., orientations, n, n)``. Used to test the layer's op ordering
    independently of Keras.
    """
    frames = np.asarray(frames, dtype=np.float64)
    outputs = []
    for per_scale in operators:
        reals, imags = [], []
        for op in per_scale:
            n = op.h_left.shape[0] // 2
            y = op.mask * (op.cr_rows @ frames @ op.cr_cols_t)
            v = op.h_left @ y
            band = np.concatenate([v[..., :n, :], v[..., n:, :]], axis=-1) @ op.h_right_t
            reals.append(band[..., :n])
            imags.append(band[..., n:])
        outputs.append((np.stack(reals, axis=-3), np.stack(imags, axis=-3)))
    return outputs

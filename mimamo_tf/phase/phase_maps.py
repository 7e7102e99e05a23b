"""Denoised phase maps from the steerable pyramid: phase differences (MIMAMO Net's temporal input)
and raw mean-centred phase (the paper's "Phase" ablation)."""

import math

import keras
import numpy as np
from keras import ops

from mimamo_tf.phase.input_checks import check_frames
from mimamo_tf.phase.pyramid import SteerablePyramid

# Amplitude-weighted blur divides by the blurred amplitude; this only matters where the band is ~0
# over the whole 11x11 neighbourhood (flat image regions), where the result is then ~0.
_WEIGHT_FLOOR = 1e-12


def gaussian_blur_matrix(size, kernel_size=11, sigma=2.0):
    """``(size, size)`` matrix ``G`` with ``G @ x`` = 1-D Gaussian blur of ``x``'s rows, zero padded.

    The kernel is normalised to sum 1 and truncated to ``kernel_size`` taps. The blur is always used
    as the ratio ``G*(a*phi) / G*(a)``, a normalised convolution, so zero padding at the borders
    averages over the pixels that exist instead of pulling values towards 0.
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"blur kernel_size must be odd, got {kernel_size}")
    radius = kernel_size // 2
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    matrix = np.zeros((size, size), dtype=np.float64)
    for offset, tap in zip(range(-radius, radius + 1), taps):
        matrix += tap * np.eye(size, k=offset)
    return matrix.astype(np.float32)


class _DenoisedPhaseMaps(keras.layers.Layer):
    """Shared part: pyramid of a frame sequence, amplitude-weighted blur, mean removal, clipping."""

    def __init__(
        self,
        scales=2,
        orientations=2,
        image_size=48,
        blur_size=11,
        blur_sigma=2.0,
        subtract_mean=True,
        clip_value=5 * math.pi,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.scales = int(scales)
        self.orientations = int(orientations)
        self.image_size = int(image_size)
        self.blur_size = int(blur_size)
        self.blur_sigma = float(blur_sigma)
        self.subtract_mean = bool(subtract_mean)
        self.clip_value = None if clip_value is None else float(clip_value)
        self.pyramid = SteerablePyramid(
            scales=self.scales,
            orientations=self.orientations,
            image_size=self.image_size,
            dtype=self.dtype_policy,
            name="pyramid",
        )
        self._blur = [
            gaussian_blur_matrix(n, self.blur_size, self.blur_sigma)
            for n in self.pyramid.band_sizes
        ]

    def build(self, input_shape):
        check_frames(input_shape, self.image_size, min_rank=4, max_rank=4, layer=self)
        self.pyramid.build(input_shape)
        self.built = True

    def _denoise(self, angle, weight, blur):
        """``G*(w*angle) / G*(w)`` per map, then mean removal and clipping."""
        return self._centre_and_clip(self._weighted_blur(angle, weight, blur))

    @staticmethod
    def _weighted_blur(angle, weight, blur):
        """``G*(w*angle) / G*(w)`` per map (zero padded)."""
        # Separable blur G x G^T; G is symmetric.
        numerator = ops.matmul(ops.matmul(blur, weight * angle), blur)
        denominator = ops.matmul(ops.matmul(blur, weight), blur)
        return numerator / ops.maximum(denominator, _WEIGHT_FLOOR)

    def _centre_and_clip(self, maps):
        """Minus each map's spatial mean (``subtract_mean``), clipped to ``clip_value``."""
        if self.subtract_mean:
            maps = maps - ops.mean(maps, axis=(-2, -1), keepdims=True)
        # The maps lie in [-pi, pi] before mean removal (weighted means of angles, or wrapped
        # differences), so after it in [-2 pi, 2 pi]: a wider clip (the paper's 5 pi) cannot change
        # them and is skipped.
        if self.clip_value is not None and self.clip_value < 2 * math.pi:
            maps = ops.clip(maps, -self.clip_value, self.clip_value)
        return maps

    def call(self, frames):
        frames = ops.cast(frames, self.compute_dtype)
        check_frames(frames, self.image_size, min_rank=4, max_rank=4, layer=self)
        return [
            self._maps_of_scale(real, imag, blur)
            for (real, imag), blur in zip(self.pyramid(frames), self._blur)
        ]

    def get_config(self):
        config = super().get_config()
        config.update(
            scales=self.scales,
            orientations=self.orientations,
            image_size=self.image_size,
            blur_size=self.blur_size,
            blur_sigma=self.blur_sigma,
            subtract_mean=self.subtract_mean,
            clip_value=self.clip_value,
        )
        return config


@keras.saving.register_keras_serializable(package="mimamo_tf")
class PhaseDifference(_DenoisedPhaseMaps):
    """Denoised phase differences of consecutive frames, once per frame pair.

    For each pair ``(t-1, t)`` and each pyramid band with coefficients ``c``: the wrapped phase
    difference ``angle(c_t * conj(c_{t-1}))`` (no unwrapping needed), blurred with an
    amplitude-weighted Gaussian ``G*(a*dphi) / G*(a)`` with ``a = sqrt(|c_t| |c_{t-1}|)``
    (``blur_size`` x ``blur_size`` taps, ``blur_sigma`` px), minus its spatial mean (removes rigid
    head motion) and clipped to ``[-clip_value, clip_value]``.

    A translation by ``d`` pixels along +x gives ``dphi ~ -omega * d`` in orientation 0, ``omega``
    being the band's radian frequency (peak ``2 pi / 4`` at scale 0); see the tests.

    Args:
        scales, orientations, image_size: the pyramid's (see ``SteerablePyramid``).
        blur_size: side of the Gaussian kernel (odd).
        blur_sigma: its standard deviation in pixels of the band.
        subtract_mean: remove each map's spatial mean.
        clip_value: clip bound; ``None`` disables clipping.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        frames: float tensor ``(batch, T, image_size, image_size)`` of gray frames in [0, 1].

    Returns:
        A list with one float32 tensor per scale, ``(batch, T - 1, orientations, h, w)``.

    Example:
    >>> frames = np.random.rand(2, 5, 48, 48).astype("float32")
    >>> [tuple(m.shape) for m in PhaseDifference()(frames)]
    [(2, 4, 2, 48, 48), (2, 4, 2, 24, 24)]
    """

    def _maps_of_scale(self, real, imag, blur):
        prev_r, prev_i = real[:, :-1], imag[:, :-1]
        next_r, next_i = real[:, 1:], imag[:, 1:]
        # c_t * conj(c_{t-1}); its modulus is |c_t| |c_{t-1}|.
        prod_r = next_r * prev_r + next_i * prev_i
        prod_i = next_i * prev_r - next_r * prev_i
        weight = ops.sqrt(ops.sqrt(prod_r * prod_r + prod_i * prod_i))
        return self._denoise(ops.arctan2(prod_i, prod_r), weight, blur)

    def compute_output_shape(self, input_shape):
        batch, steps = input_shape[0], input_shape[1]
        pairs = None if steps is None else max(steps - 1, 0)
        return [(batch, pairs, self.orientations, n, n) for n in self.pyramid.band_sizes]


@keras.saving.register_keras_serializable(package="mimamo_tf")
class PaperPhaseDifference(_DenoisedPhaseMaps):
    """Phase differences in the order the paper's text gives (``--temporal_input=phase_difference_paper``).

    Per frame and band: the local phase ``angle(c)`` blurred with the amplitude-weighted Gaussian
    ``G*(|c| phi) / G*(|c|)``; then the difference of consecutive blurred phases unwrapped in time
    (a jump of more than pi between frames is taken as a jump of 2 pi less, so each difference lies
    in [-pi, pi)), minus its spatial mean, clipped. ``PhaseDifference`` (the default input) takes the
    difference first and blurs it; this is the ablation that shows the order matters. Same arguments
    as ``PhaseDifference``; the NumPy definition is ``paper_phase_difference`` in
    ``mimamo_tf.benchmarks.phase_definitions``.

    Call arguments:
        frames: float tensor ``(batch, T, image_size, image_size)`` of gray frames in [0, 1].

    Returns:
        A list with one float32 tensor per scale, ``(batch, T - 1, orientations, h, w)``.
    """

    def _maps_of_scale(self, real, imag, blur):
        phase = self._weighted_blur(ops.arctan2(imag, real), ops.sqrt(real * real + imag * imag), blur)
        step = phase[:, 1:] - phase[:, :-1]
        # Temporal unwrapping, then differencing: the difference of unwrapped phases is the wrapped one.
        wrapped = step - 2 * math.pi * ops.floor((step + math.pi) / (2 * math.pi))
        return self._centre_and_clip(wrapped)

    def compute_output_shape(self, input_shape):
        batch, steps = input_shape[0], input_shape[1]
        pairs = None if steps is None else max(steps - 1, 0)
        return [(batch, pairs, self.orientations, n, n) for n in self.pyramid.band_sizes]


@keras.saving.register_keras_serializable(package="mimamo_tf")
class MeanCentredPhase(_DenoisedPhaseMaps):
    """Denoised, mean-centred local phase of every frame (the paper's "Phase" temporal input).

    Per frame and band: ``angle(c)`` blurred with the amplitude-weighted Gaussian ``G*(|c| phi) /
    G*(|c|)``, minus its spatial mean, clipped. Same arguments as ``PhaseDifference``.

    Call arguments:
        frames: float tensor ``(batch, T, image_size, image_size)``.

    Returns:
        A list with one float32 tensor per scale, ``(batch, T, orientations, h, w)``.
    """

    def _maps_of_scale(self, real, imag, blur):
        weight = ops.sqrt(real * real + imag * imag)
        return self._denoise(ops.arctan2(imag, real), weight, blur)

    def compute_output_shape(self, input_shape):
        return [
            (input_shape[0], input_shape[1], self.orientations, n, n)
            for n in self.pyramid.band_sizes
        ]

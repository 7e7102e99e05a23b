"""``SteerablePyramid``: the complex steerable pyramid of 48x48 gray frames as a Keras layer."""

import keras
import numpy as np
from keras import ops

from mimamo_tf.phase import pyramid_filters
from mimamo_tf.phase.input_checks import check_frames


@keras.saving.register_keras_serializable(package="mimamo_tf")
class SteerablePyramid(keras.layers.Layer):
    """Complex steerable pyramid (band-pass bands only) of mirror-extended gray frames.

    Each frame is mirror-extended to twice its size, decomposed by the Portilla & Simoncelli complex
    steerable pyramid in the Fourier domain (high-pass and low-pass residuals dropped) and every band
    is cropped back to its top-left quadrant, as in MIMAMO Net. Numerically equal to
    ``pyrtools.pyramids.SteerablePyramidFreq(x2, height=scales, order=orientations - 1,
    is_complex=True)`` on the extended frame ``x2`` (within float32 precision). The transform is
    evaluated as constant real matrix products (see ``pyramid_filters``), so it exports to SavedModel
    and to LiteRT with builtin ops only.

    Args:
        scales: number of band-pass scales. Scale ``s`` has bands of side ``image_size / 2**s``.
        orientations: number of orientations per scale; orientation 0 responds to horizontal
            frequencies (vertical edges, motion along x), orientation ``b`` to the direction
            ``pi * b / orientations`` measured from the x axis towards +y (down the image).
        image_size: side of the square input frames.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        frames: float tensor ``(..., image_size, image_size)``, gray values in [0, 1].

    Returns:
        A list with one entry per scale; each entry is a ``(real, imag)`` tuple of float32 tensors of
        shape ``(..., orientations, h, w)`` with ``h = w = image_size / 2**s``.

    Example:
    >>> frames = np.random.rand(4, 48, 48).astype("float32")
    >>> bands = SteerablePyramid()(frames)
    >>> [tuple(part.shape) for part in bands[1]]
    [(4, 2, 24, 24), (4, 2, 24, 24)]
    """

    def __init__(self, scales=2, orientations=2, image_size=48, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.scales = int(scales)
        self.orientations = int(orientations)
        self.image_size = int(image_size)
        # Derived constants, rebuilt from the config on load, so they are not saved as weights.
        self._operators = pyramid_filters.band_operators(
            self.image_size, self.scales, self.orientations
        )

    @property
    def band_sizes(self):
        return [self.image_size // 2**s for s in range(self.scales)]

    def build(self, input_shape):
        check_frames(input_shape, self.image_size, min_rank=2, layer=self)
        self.built = True

    def call(self, frames):
        frames = ops.cast(frames, self.compute_dtype)
        check_frames(frames, self.image_size, min_rank=2, layer=self)
        outputs = []
        for per_scale, size in zip(self._operators, self.band_sizes):
            reals, imags = [], []
            for op in per_scale:
                # (..., N, N) -> (..., |R|, |C|): real Fourier coefficients on the band's support.
                spectrum = ops.matmul(ops.matmul(op.cr_rows, frames), op.cr_cols_t)
                stacked = ops.matmul(op.h_left, spectrum * op.mask)  # (..., 2n, |C|)
                left = ops.concatenate([stacked[..., :size, :], stacked[..., size:, :]], axis=-1)
                band = ops.matmul(left, op.h_right_t)  # (..., n, 2n) = [real | imag]
                reals.append(band[..., :size])
                imags.append(band[..., size:])
            outputs.append((ops.stack(reals, axis=-3), ops.stack(imags, axis=-3)))
        return outputs

    def compute_output_shape(self, input_shape):
        lead = tuple(input_shape[:-2])
        return [
            tuple((lead + (self.orientations, n, n)) for _ in range(2)) for n in self.band_sizes
        ]

    def get_config(self):
        config = super().get_config()
        config.update(
            scales=self.scales, orientations=self.orientations, image_size=self.image_size
        )
        return config


def steerable_pyramid_numpy(frames, scales=2, orientations=2):
    """NumPy (float64) twin of ``SteerablePyramid`` for any ``(..., N, N)`` frames."""
    frames = np.asarray(frames)
    operators = pyramid_filters.band_operators(frames.shape[-1], scales, orientations)
    return pyramid_filters.apply_band_operators_numpy(frames, operators)

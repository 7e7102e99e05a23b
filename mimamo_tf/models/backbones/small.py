"""``small``: 4 conv blocks on a 112x112 resize, trained with the model.

For image input only (``--spatial_input=images``): CPU-only and synthetic-data runs, where a
ResNet50 per frame is too slow and no pretrained face network is needed.
"""

from keras import layers

from mimamo_tf.backbone_registry import BuiltBackbone, register_backbone
from mimamo_tf.models.backbones.preprocessing import SubtractMean
from mimamo_tf.models.normalization import batch_norm

INPUT_SIZE = 112
FILTERS = (32, 64, 128, 256)


@register_backbone(
    "small", feature_dim=FILTERS[-1], input_size=INPUT_SIZE, trainable=True,
    description=f"{len(FILTERS)} conv blocks on a {INPUT_SIZE}x{INPUT_SIZE} resize, trainable (image input only: "
                "CPU-only and synthetic-data runs)")
def build_small(rgb, weights, seed):
    """The small CNN on ``rgb``, initialised from the current random state (the run's ``--seed``)."""
    del weights, seed  # trained from scratch with the model
    x = SubtractMean(name="subtract_mean")(rgb)
    x = layers.Rescaling(1 / 64.0, name="rescale")(x)
    x = layers.Resizing(INPUT_SIZE, INPUT_SIZE, name="resize")(x)
    for i, filters in enumerate(FILTERS):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False, name=f"small{i}_conv")(x)
        x = batch_norm(f"small{i}_bn")(x)
        x = layers.ReLU(name=f"small{i}_relu")(x)
    x = layers.GlobalAveragePooling2D(name="small_pool")(x)
    return BuiltBackbone(x, f"RGB minus the VGGFace2 RGB mean, / 64, {INPUT_SIZE}x{INPUT_SIZE}", "trained with the model")

"""The temporal stream (PhaseNet): a CNN on one frame's phase-difference snippet."""

import keras
from keras import layers

from mimamo_tf.models.normalization import batch_norm


def _conv_bn_relu(x, filters, strides, name):
    # Keras "same" padding with stride 2 pads bottom/right only; the authors' PyTorch convs pad 1 on
    # every side. Output sizes are equal; the sampling grid is offset by half a pixel.
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = batch_norm(f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_temporal_stream(channels=24, feature_dim=256, sizes=(48, 24), name="temporal_stream"):
    """PhaseNet (docs/design.md section 6) as a functional model.

    Scale-0 snippet ``(48, 48, C)``: block 1 (conv C->64, conv 64->64 stride 2) -> 24x24; the scale-1
    snippet ``(24, 24, C)`` is concatenated -> 64 + C channels; block 2 (-> 128, stride 2,
    SpatialDropout 0.2) -> 12x12; block 3 (-> 256, stride 2, SpatialDropout 0.2) -> 6x6; global
    average pool; (Dense 256 -> ReLU -> BN -> Dropout 0.3) x 2.

    Args:
        channels: snippet channels ``C`` (orientations x snippet length; 24 in the paper).
        feature_dim: width of the output feature.
        sizes: spatial sides of the two inputs.
        name: model name (checkpoints of single-stream runs are matched by it).

    Returns:
        A ``keras.Model`` ``[(N, 48, 48, C), (N, 24, 24, C)] -> (N, feature_dim)``.
    """
    level0 = keras.Input((sizes[0], sizes[0], channels), name="level0")
    level1 = keras.Input((sizes[1], sizes[1], channels), name="level1")
    x = _conv_bn_relu(level0, 64, 1, "block1a")
    x = _conv_bn_relu(x, 64, 2, "block1b")
    x = layers.Concatenate(name="with_level1")([x, level1])
    for block, filters in ((2, 128), (3, 256)):
        x = _conv_bn_relu(x, filters, 1, f"block{block}a")
        x = _conv_bn_relu(x, filters, 2, f"block{block}b")
        x = layers.SpatialDropout2D(0.2, name=f"block{block}_dropout")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    for i in (1, 2):
        x = layers.Dense(feature_dim, name=f"fc{i}")(x)
        x = layers.ReLU(name=f"fc{i}_relu")(x)
        x = batch_norm(f"fc{i}_bn")(x)
        x = layers.Dropout(0.3, name=f"fc{i}_dropout")(x)
    return keras.Model([level0, level1], x, name=name)

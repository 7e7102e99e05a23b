"""The spatial stream's MLP on a backbone feature (the backbone itself is `mimamo_tf.models.backbone`)."""

import keras
from keras import layers

from mimamo_tf.models.backbones.resnet50 import FEATURE_DIM
from mimamo_tf.models.normalization import batch_norm


def build_spatial_mlp(input_dim=FEATURE_DIM, feature_dim=256, name="spatial_mlp"):
    """BN, then (Dropout 0.3 -> Dense 256 -> BN -> ReLU) x 2 on a backbone feature
    (docs/design.md section 6, plus the input standardisation)."""
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

"""MIMAMO Net and its parts: temporal stream (PhaseNet), spatial stream, the two-stream + BiGRU model."""

from mimamo_tf.models.backbone import build_backbone
from mimamo_tf.models.mimamo_net import (
    build_mimamo_net,
    count_trainable_parameters,
    model_inputs,
)
from mimamo_tf.models.per_frame import PerFrame
from mimamo_tf.models.spatial_stream import build_spatial_mlp
from mimamo_tf.models.temporal_stream import build_temporal_stream

__all__ = [
    "PerFrame",
    "build_backbone",
    "build_mimamo_net",
    "build_spatial_mlp",
    "build_temporal_stream",
    "count_trainable_parameters",
    "model_inputs",
]

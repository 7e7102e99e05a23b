"""MIMAMO Net: two-stream CNN per frame, BiGRU over time, per-frame (or per-video) head."""

import math

import keras
from keras import layers, ops

from mimamo_tf.config import ModelConfig
from mimamo_tf.models.backbone import build_backbone
from mimamo_tf.models.backbones.resnet50 import FEATURE_DIM
from mimamo_tf.models.normalization import batch_norm
from mimamo_tf.models.per_frame import PerFrame, iter_layers
from mimamo_tf.models.spatial_stream import build_spatial_mlp
from mimamo_tf.models.temporal_stream import build_temporal_stream
from mimamo_tf.phase import PhaseSnippets

# The in-graph temporal inputs: ``PhaseSnippets``'s mode of each.
SNIPPET_MODES = {"phase_difference": "difference", "phase": "phase", "phase_difference_paper": "paper_difference"}


def model_inputs(config, window=None):
    """The ``keras.Input`` of each model input, by name (the input pipeline produces these keys).

    ``window`` fixes the number of frames (None: any); a fixed window is what LiteRT needs.

    * ``gray48`` ``(T + 2 * context, 48, 48)`` float in [0, 1] — phase inputs (video level:
      ``(N, 2 * context + 1, 48, 48)``, each sampled frame with its neighbours);
    * ``flow48``, ``flow24`` ``(T, s, s, 2 L)`` — optical-flow snippets;
    * ``spatial_features`` ``(T, 2048)`` or ``rgb224`` ``(T, 224, 224, 3)`` in [0, 255];
    * video level: ``sample_mask`` ``(N,)``, 1 for the utterance's real snippets, 0 for repeats that
      fill the ``N`` slots (the model averages over the real ones).
    """
    inputs = {}
    with_context = window + 2 * config.context_frames if window else None
    if config.uses_temporal:
        if config.temporal_input == "optical_flow":
            channels = 2 * config.snippet_length
            inputs["flow48"] = keras.Input((window, 48, 48, channels), name="flow48")
            inputs["flow24"] = keras.Input((window, 24, 24, channels), name="flow24")
        elif config.label_level == "video":
            neighbourhood = 2 * config.context_frames + 1
            inputs["gray48"] = keras.Input((window, neighbourhood, 48, 48), name="gray48")
        else:
            inputs["gray48"] = keras.Input((with_context, 48, 48), name="gray48")
    if config.uses_spatial:
        if config.spatial_input == "features":
            inputs["spatial_features"] = keras.Input((window, config.spatial_feature_dim or FEATURE_DIM),
                                                     name="spatial_features")
        else:
            inputs["rgb224"] = keras.Input((window, 224, 224, 3), name="rgb224")
    if config.label_level == "video":
        inputs["sample_mask"] = keras.Input((window,), name="sample_mask")
    return inputs


@keras.saving.register_keras_serializable(package="mimamo_tf")
class TimeMean(layers.Layer):
    """Mean over the time axis, of the steps a mask keeps: ``(B, T, F) -> (B, F)`` (video-level labels).

    Call arguments:
        x: ``(B, T, F)``.
        sample_mask: optional ``(B, T)``, 1 for the steps to average, 0 for the others (a row
            without any step gives zeros); None averages every step.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # The GRUs' time mask arrives with ``x``; it is ``sample_mask`` itself and ends here.
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, x, sample_mask=None):
        if sample_mask is None:
            return ops.mean(x, axis=1)
        weights = ops.expand_dims(ops.cast(sample_mask, x.dtype), -1)
        return ops.sum(x * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_output_shape(self, x_shape, sample_mask_shape=None):
        return (x_shape[0], x_shape[2])


def build_mimamo_net(config=None, name="mimamo_net", window=None, unroll=False):
    """Builds MIMAMO Net (or a variant) as a functional ``keras.Model``.

    Sub-models are named ``temporal_stream``, ``spatial_mlp`` and ``spatial_backbone`` so that
    weights of single-stream runs can initialise a two-stream model (two-stage training).

    Args:
        config: a ``ModelConfig``.
        name: the model's name.
        window: a fixed number of frames per sequence (None: any).
        unroll: unroll the GRUs over the fixed ``window`` (LiteRT's builtin ops have no while
            loop over a tensor list); the weights are the same as the looped model's.

    Returns:
        A model from the dict of ``model_inputs(config)`` to ``(B, T, num_outputs)`` per frame, or
        ``(B, num_outputs)`` for ``label_level="video"``; outputs are (arousal, valence).
    """
    config = config or ModelConfig()
    if unroll and not window:
        raise ValueError("unroll=True needs a fixed window")
    inputs = model_inputs(config, window)
    features = []
    if config.uses_temporal:
        channels = 2 * config.snippet_length
        if config.temporal_input == "optical_flow":
            snippets = [inputs["flow48"], inputs["flow24"]]
        mode = SNIPPET_MODES.get(config.temporal_input)
        stream = build_temporal_stream(channels=channels)
        if config.temporal_input == "optical_flow":
            features.append(PerFrame(stream, name="temporal_per_frame")(snippets))
        elif config.label_level == "video":
            # Sampled frames are not contiguous: one snippet per sampled frame from its neighbours.
            window = keras.Input((2 * config.context_frames + 1, 48, 48), name="neighbourhood")
            levels = PhaseSnippets(
                length=config.snippet_length, mode=mode, context_frames=config.context_frames,
                name="phase_snippets",
            )(window)
            levels = [layers.Reshape(tuple(level.shape[2:]), name=f"level{i}")(level) for i, level in enumerate(levels)]
            per_snippet = keras.Model(window, stream(levels), name="snippet_stream")
            features.append(PerFrame(per_snippet, name="temporal_per_frame")(inputs["gray48"]))
        else:
            snippets = PhaseSnippets(
                length=config.snippet_length, mode=mode, context_frames=config.context_frames,
                name="phase_snippets",
            )(inputs["gray48"])
            features.append(PerFrame(stream, name="temporal_per_frame")(snippets))
    if config.uses_spatial:
        if config.spatial_input == "features":
            backbone_features = inputs["spatial_features"]
            input_dim = config.spatial_feature_dim or FEATURE_DIM
        else:
            backbone = build_backbone(config.spatial_backbone, config.backbone_weights)
            backbone_features = PerFrame(backbone, name="backbone_per_frame")(inputs["rgb224"])
            input_dim = backbone.output.shape[-1]
        mlp = build_spatial_mlp(input_dim)
        features.append(PerFrame(mlp, name="spatial_per_frame")(backbone_features))
    if len(features) == 2:
        x = layers.Concatenate(name="fusion_concat")(features)
        x = layers.Dense(256, name="fusion_fc")(x)
        x = layers.ReLU(name="fusion_relu")(x)
        x = batch_norm("fusion_bn")(x)
        x = layers.Dropout(config.fusion_dropout, name="fusion_dropout")(x)
    else:
        x = features[0]
    # Under a mixed-precision policy the BiGRU and the head compute in float32 (see
    # ``_full_precision``); the phase front end always does (its layers default to float32).
    full = _full_precision()
    sample_mask = inputs.get("sample_mask")
    if config.recurrent:
        # An utterance's real snippets come first (``sample_mask``, 1/0; the RNN casts it to bool):
        # the GRUs skip the repeats after them.
        for i in range(config.gru_layers):
            if i:
                # Between stacked layers, like the authors' multi-layer GRU dropout.
                x = layers.Dropout(config.gru_dropout, name=f"gru{i}_dropout", dtype=full)(x)
            # Recurs over axis 1 (time) of (batch, time, features): each sequence on its own.
            x = layers.Bidirectional(
                layers.GRU(config.gru_units, return_sequences=True, unroll=unroll, dtype=full), name=f"bigru{i + 1}", dtype=full
            )(x, mask=sample_mask)
    if config.label_level == "video":
        # The paper's video-level prediction: the mean over the utterance's snippets (of the GRU
        # outputs, or of the 256-d stream features for a single-stream net), then the linear head.
        x = TimeMean(name="time_mean", dtype=full)(x, sample_mask=sample_mask)
    if config.recurrent:
        x = layers.Dropout(config.head_dropout, name="head_dropout", dtype=full)(x)
    outputs = layers.Dense(config.num_outputs, name="arousal_valence", dtype=full)(x)
    return keras.Model(inputs, outputs, name=name)


def _full_precision():
    """``"float32"`` while a mixed-precision dtype policy is set (``--mixed_precision``), else None
    (the policy's own dtype).

    The recurrent part and the head are ~2% of a training step, and keeping them in float32 costs
    nothing: the 64-step recurrence would otherwise carry bfloat16/float16 rounding in its state,
    the predictions and the loss are float32, and on CPU the bfloat16 GRU was slower than the
    float32 one (casts and bfloat16 elementwise ops inside the time loop).
    """
    policy = keras.config.dtype_policy()
    return "float32" if policy.compute_dtype != policy.variable_dtype else None


def count_trainable_parameters(model, exclude=("spatial_backbone",)):
    """Trainable parameters, leaving out the named sub-models (the backbone by default)."""
    excluded = set()
    for layer in iter_layers(model):
        if layer.name in exclude:
            excluded.update(id(w) for w in layer.trainable_weights)
    return sum(math.prod(w.shape) for w in model.trainable_weights if id(w) not in excluded)

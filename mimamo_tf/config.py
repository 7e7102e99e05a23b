"""The experiment configuration: one place for every default, its flags and its flagfile form.

An ``ExperimentConfig`` is four dataclasses — ``model`` (what network), ``data`` (which shards and
how they are cut into batches), ``optimization`` (how it learns) and ``runtime`` (where it writes,
seeds, distribution and speed options). Library code (trainer, evaluation, tuner, export) takes an
``ExperimentConfig``; only the CLIs touch absl flags, through ``define_flags`` / ``from_flags``.

Fields used by both the model and the input pipeline (snippet length, temporal input, label level,
the context frames a window needs) live once, in ``ModelConfig``; the pipeline derives its view
from it (``mimamo_tf.data.pipeline.pipeline_config``).

This module is pure Python (no TensorFlow import), so a config can be built, validated, compared and
written anywhere; backbone names are validated against the backbone registry
(``mimamo_tf.backbone_registry``, pure Python as well).

Example:
    >>> config = ExperimentConfig()
    >>> config.model.snippet_length, config.data.window, config.optimization.learning_rate
    (12, 64, 0.001)
    >>> config = replace(config, data={"window": 32})
"""

import dataclasses
import importlib.resources
import os
from typing import Optional, Tuple

from absl import flags

from mimamo_tf import backbone_registry, window_plan
from mimamo_tf.atomic_files import write_text
from mimamo_tf.errors import InputError

STREAMS = ("both", "spatial", "temporal")
TEMPORAL_INPUTS = ("phase_difference", "phase", "optical_flow", "phase_difference_paper")
SPATIAL_INPUTS = ("features", "images")
LABEL_LEVELS = ("frame", "video")
# --freeze_streams_epochs that keeps a two-stream run's inherited streams frozen in every epoch.
FROZEN_THROUGHOUT = -1
# What selects the best epoch (best.keras, early stopping, the tuner's objective, the model card):
# the CCC the benchmarks report (every valid-label frame) or the face-only CCC the loss optimises.
SELECTION_METRICS = ("official", "face_only")
# What validates a run without cross-validation (early stopping, best.keras): the eval split, or an
# inner subset of the training split's recordings, so that the eval split is scored by a checkpoint
# it did not choose (the studies' rule).
VALIDATION_SOURCES = ("eval_split", "inner")
# "auto": bfloat16 where the hardware computes it natively, float32 elsewhere (mimamo_tf.hardware);
# a run's flags.cfg records what it resolved to.
MIXED_PRECISION = ("auto", "float32", "bfloat16", "float16")
WEIGHT_DECAY_TYPES = ("coupled", "decoupled")


class ConfigError(InputError, ValueError):
    """The configuration cannot describe a valid run; the message names the flag(s)."""

    kind = "configuration error"


@dataclasses.dataclass
class ModelConfig:
    """What to build. Defaults are the paper's configuration on stored spatial features.

    Attributes:
        streams: ``"both"``, ``"spatial"`` or ``"temporal"`` (single-stream variants).
        temporal_input: ``"phase_difference"`` (computed in-graph from 48x48 gray frames),
            ``"phase"`` (mean-centred phase), ``"optical_flow"`` (precomputed flow snippets) or
            ``"phase_difference_paper"`` (the paper's literal order: each frame's phase blurred,
            then differenced and unwrapped in time; ``phase.PaperPhaseDifference``).
        snippet_length: differences per snippet (paper: 12).
        spatial_input: ``"features"`` (stored frozen-backbone features) or ``"images"``
            (224x224 RGB through ``spatial_backbone``).
        spatial_backbone: backbone for image input: a name of the backbone registry
            (``mimamo_tf.backbone_registry.backbone_names()``: ``resnet50``, ``small``, ...) or a
            whole spec (``keras:PATH[:LAYER]``).
        backbone_weights: its weights: ``resnet50``: None (random), ``"imagenet"`` or a file;
            ``vggface2_resnet50``: the weights file.
        spatial_feature_dim: width of stored spatial features; 0 reads it from the shards.
        spatial_features: the backbone the stored features came from, as ``data_prep.prepare``'s
            ``--spatial_features`` named it (``fer_mini_xception``, ``vggface2_resnet50:PATH``, ...);
            None reads it from the data's ``manifest.json``. A run's ``flags.cfg`` records it (for
            stored features ``--spatial_backbone`` says nothing), and training refuses data prepared
            with another backbone.
        recurrent: BiGRU over time; False gives a linear head on the 256-d stream (or fusion)
            features — per frame, or at video level on their mean over the sampled snippets — the
            paper's single-stream nets, whose weights start its two-stream nets (two-stage training).
        gru_units, gru_layers, gru_dropout: the BiGRU (units per direction; ``gru_dropout``: the
            rate of the dropout between stacked BiGRU layers).
        fusion_dropout, head_dropout: rates of the dropout after a two-stream net's fusion layer
            and before the linear head of a net with the BiGRU (the paper's 0.5 each). This
            project's two-stage recipe sets both, and ``gru_dropout``, to 0: on frozen streams the
            fused net then reaches its temporal parent's arousal (docs/results.md).
        label_level: ``"frame"`` (Aff-Wild) or ``"video"`` (OMG: one snippet per second of the
            utterance; GRU outputs, or without the GRU the stream features, averaged over them).
        num_outputs: predicted values per frame (arousal, valence).
        dropout: dropout layers active in training; False sets every rate to 0 (dropout masks
            are drawn per replica, so only without them does a distributed run compute exactly
            what one device computes).
        init_spatial_from, init_temporal_from: ``.keras`` checkpoints of single-stream runs whose
            stream weights initialise this model (two-stage training).
        init_from: fine-tuning: a run directory of ``mimamo_tf.train`` (its
            ``checkpoints/best.keras``) or a ``.keras`` checkpoint whose every weight starts this
            model, instead of a random/ImageNet initialisation. The network must be the same (the
            ``ARCHITECTURE_FLAGS``); optimizer, schedule and step count start afresh. It applies
            to a fresh run only: a model dir holding a resumable state resumes from it.
    """

    streams: str = "both"
    temporal_input: str = "phase_difference"
    snippet_length: int = 12
    spatial_input: str = "features"
    spatial_backbone: str = "resnet50"
    backbone_weights: Optional[str] = None
    spatial_feature_dim: int = 0
    spatial_features: Optional[str] = None
    recurrent: bool = True
    gru_units: int = 128
    gru_layers: int = 2
    gru_dropout: float = 0.3
    fusion_dropout: float = 0.5
    head_dropout: float = 0.5
    label_level: str = "frame"
    num_outputs: int = 2
    dropout: bool = True
    init_spatial_from: Optional[str] = None
    init_temporal_from: Optional[str] = None
    init_from: Optional[str] = None

    def __post_init__(self):
        for field, choices in (
            ("streams", STREAMS), ("temporal_input", TEMPORAL_INPUTS), ("spatial_input", SPATIAL_INPUTS),
            ("label_level", LABEL_LEVELS),
        ):
            if getattr(self, field) not in choices:
                raise ConfigError(f"--{field} must be one of {', '.join(choices)}; got {getattr(self, field)!r}")
        if self.spatial_backbone.split(":")[0] not in backbone_registry.backbone_names():
            raise ConfigError(f"--spatial_backbone must be one of {backbone_registry.backbone_specs()}; "
                              f"got {self.spatial_backbone!r}")
        if self.snippet_length < 2 or self.snippet_length % 2:
            # A snippet centred on its frame has L/2 differences on each side; with an odd L the
            # windowed snippets (L//2 context frames per side) would differ from whole-video ones.
            raise ConfigError(f"--snippet_length must be even and >= 2 (the paper: 4, 8, 12, 16); got {self.snippet_length}")

    @property
    def uses_temporal(self):
        return self.streams in ("both", "temporal")

    @property
    def uses_spatial(self):
        return self.streams in ("both", "spatial")

    @property
    def context_frames(self):
        """Extra gray frames a window needs at each end for its first/last phase snippets."""
        if not self.uses_temporal or self.temporal_input == "optical_flow":
            return 0
        return self.snippet_length // 2


@dataclasses.dataclass
class DataConfig:
    """Which shards, and how they become batches.

    Attributes:
        data_dir: directory of TFRecord shards written by ``data_prep.prepare``.
        train_split, eval_split: shard splits for training and validation.
        num_folds, fold: K-fold cross-validation by source recording over ``train_split`` (0: off);
            ``fold`` is held out (scored with ``evaluate`` on that fold, never used for selection).
        validation_source: without ``num_folds``, what validates: ``eval_split`` (default), or
            ``inner``: ``inner_validation_fraction`` of the training split's recordings, held apart,
            so the eval split never chooses the checkpoint that is scored on it.
        inner_validation_fraction: with ``num_folds``, the fraction of the fold's training
            recordings held apart to validate on (early stopping, ``best.keras``), so no checkpoint is
            chosen on the held-out fold; 0 validates on the held-out fold itself (selection on the
            data that is scored: optimistic, the protocol of older runs).
        window: frames per training/evaluation window; at video level the most snippets taken of
            an utterance (one per second; a longer utterance gives a block of ``window`` seconds).
        stride: stride of training windows.
        window_overlap: evaluation and validation windows overlap by this fraction of a window, and
            every frame takes the prediction of the window whose centre is nearest
            (``mimamo_tf.window_plan``); 0 tiles the video with windows one after the other.
        batch_size: global batch size in windows (split over replicas and workers).
        eval_batch_size: windows per batch of ``evaluate`` (and the studies' evaluations); any value
            gives the same predictions.
        crop_fraction: the smallest side of the random training crop relative to the frame: each
            window's crop side is drawn from ``[crop_fraction, 1]``, so the test-time scale (1.0)
            is among those trained on.
        train_gamma_beta: the illumination corruption (``u ** g``, ``g ~ U[1 - beta, 1 + beta]`` per
            frame) applied to the training inputs too (0: off).
        validation_gamma_beta: the same corruption of the validation inputs during training, which
            choose the checkpoint and stop early (0: clean): a net trained for a corruption is then
            chosen under it, as ``evaluate --gamma_beta`` will score it (the same frames, the same
            exponents).
        shuffle_buffer: windows in the training shuffle buffer.
        skip_corrupt_records: go on past unreadable records of damaged shards (counted and
            reported) instead of stopping.
    """

    data_dir: Optional[str] = None
    train_split: str = "train"
    eval_split: str = "validation"
    num_folds: int = 0
    fold: int = 0
    inner_validation_fraction: float = 0.2
    validation_source: str = "eval_split"
    window: int = 64
    stride: int = 32
    window_overlap: float = window_plan.DEFAULT_OVERLAP
    batch_size: int = 8
    eval_batch_size: int = 8
    crop_fraction: float = 0.85
    train_gamma_beta: float = 0.0
    validation_gamma_beta: float = 0.0
    shuffle_buffer: int = 256
    skip_corrupt_records: bool = False


@dataclasses.dataclass
class OptimizationConfig:
    """How the network learns (the paper's SGD schedule by default).

    Attributes:
        epochs: maximum epochs.
        steps_per_epoch: batches per epoch (0: one pass over the training windows).
        validation_steps: validation batches (0: all).
        learning_rate, momentum: SGD.
        weight_decay: weight decay coefficient.
        weight_decay_type: ``"coupled"`` (the paper's PyTorch SGD: ``weight_decay * w`` added to
            the gradient before momentum) or ``"decoupled"`` (Keras' ``weight_decay``: ~10x weaker
            with momentum 0.9 at the same value).
        lr_decay_epochs, lr_decay: the learning rate is multiplied by ``lr_decay`` at each of these
            epochs (0-based).
        two_stage: a two-stream net (``--streams=both``) is trained in two stages from one command:
            its single-stream nets without the GRU (the paper's) into ``<model_dir>/streams/spatial``
            and ``<model_dir>/streams/temporal``, then the two-stream net into ``<model_dir>`` with
            its streams initialised from theirs (``training.two_stage``). Each stage is a run of its
            own that resumes where it stopped. A single-stream net is trained as configured.
        freeze_streams_epochs: the streams a two-stream run inherits from single-stream runs
            (``--init_spatial_from``, ``--init_temporal_from``, or ``--two_stage``'s stream runs) are
            frozen for this many first epochs — no gradient, BatchNorm on its moving statistics,
            dropout off: they compute exactly their parents' features — while the fusion layers,
            the BiGRU and the head learn on them; then every layer trains (linear probing, then
            fine-tuning: Kumar et al., ICLR 2022). 0: trained from the first step;
            ``FROZEN_THROUGHOUT`` (-1): frozen in every epoch (linear probing only). No effect on a
            run that inherits no streams (``--notwo_stage`` on a two-stream config: from scratch).
        clip_gradient_norm: the gradient of every step is scaled down to at most this global norm
            (Keras' ``global_clipnorm``, before the weight decay term); 0: not clipped.
        ema_decay: validate, select and save an exponential moving average of the weights with
            this per-step decay (``training.weight_averaging``; ~1 / (1 - decay) steps averaged),
            while SGD trains the raw weights; 0: the raw weights.
        patience: early stopping patience in epochs on the selection metric (0: off).
        selection_metric: what picks the best epoch, stops early and ranks tuner trials:
            ``"official"`` (``val_ccc_mean``: every valid-label frame, as ``evaluate`` reports) or
            ``"face_only"`` (``val_ccc_mean_face_only``: the frames the loss sees).
    """

    epochs: int = 25
    steps_per_epoch: int = 0
    validation_steps: int = 0
    learning_rate: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    weight_decay_type: str = "coupled"
    lr_decay_epochs: Tuple[int, ...] = (10, 20)
    lr_decay: float = 0.1
    two_stage: bool = False
    freeze_streams_epochs: int = 0
    ema_decay: float = 0.0
    clip_gradient_norm: float = 0.0
    patience: int = 5
    selection_metric: str = "official"

    def learning_rate_at(self, epoch):
        """The step schedule: the rate used throughout ``epoch`` (0-based)."""
        return self.learning_rate * self.lr_decay ** sum(epoch >= e for e in self.lr_decay_epochs)


@dataclasses.dataclass
class RuntimeConfig:
    """Where the run writes, and how it executes.

    Attributes:
        model_dir: where checkpoints, logs, history and the resolved flags go.
        seed: seed of initialisation, shuffling, augmentation and dropout.
        sync_batch_norm: with several replicas, BatchNormalization uses global-batch statistics.
        checkpoint_every_steps: steps between fault-tolerance checkpoints (also written at every
            epoch end; 0: epoch ends only).
        jit_compile: compile the training and evaluation steps with XLA.
        mixed_precision: ``"auto"`` (bfloat16 where the hardware computes it natively — a CPU with
            AVX512_BF16 or AMX-BF16, a GPU of compute capability >= 8.0 — float32 elsewhere; see
            ``mimamo_tf.hardware``), ``"float32"``, ``"bfloat16"`` or ``"float16"`` (GPUs; with loss
            scaling). The trainer resolves ``auto`` and writes the result to the run's ``flags.cfg``, so
            a resumed run keeps its precision on any machine. The phase front end, the loss and the
            CCC statistics stay float32/float64.
    """

    model_dir: Optional[str] = None
    seed: int = 0
    sync_batch_norm: bool = True
    # A save of the paper configuration takes ~40 ms next to a ~1.9 s CPU training step: every 50
    # steps costs 0.04% here and < 2% even at GPU step times of ~50 ms, and a kill loses <= 50 steps.
    checkpoint_every_steps: int = 50
    jit_compile: bool = False
    # `python -m mimamo_tf.bench train`: bfloat16 is 1.6x float32 on a CPU with AVX512_BF16 (loss within
    # 2e-4) and ~16x slower than float32 on one without (AVX2 only): only the hardware can choose.
    mixed_precision: str = "auto"


@dataclasses.dataclass
class ExperimentConfig:
    """Everything a training run needs. See the module docstring."""

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    optimization: OptimizationConfig = dataclasses.field(default_factory=OptimizationConfig)
    runtime: RuntimeConfig = dataclasses.field(default_factory=RuntimeConfig)


def replace(config, **sections):
    """A copy of ``config`` with fields of some sections changed, e.g. ``replace(c, data={"window": 32})``."""
    changed = {}
    for section, values in sections.items():
        changed[section] = dataclasses.replace(getattr(config, section), **values)
    return dataclasses.replace(config, **changed)


# --- Flags -------------------------------------------------------------------------------------
# (flag, section, field, help). Defaults and types come from the dataclasses; choices from the
# tuples above. Flag names are a public contract (configs/*.cfg, every run's flags.cfg). A callable
# help is read when the flags are defined: the backbones registered by then.
_FLAGS = (
    ("data_dir", "data", "data_dir", "Directory of TFRecord shards written by data_prep.prepare."),
    ("train_split", "data", "train_split",
     "Split whose shards train the model; with --num_folds several joined by commas (train,validation: "
     "cross-validation over both, as the paper ran Table 3)."),
    ("eval_split", "data", "eval_split", "Split for validation; ignored with --num_folds."),
    ("num_folds", "data", "num_folds", "K-fold cross-validation by source recording over --train_split (0: off)."),
    ("fold", "data", "fold", "Which fold is held out when --num_folds > 0 (0-based); evaluate --fold scores it."),
    ("validation_source", "data", "validation_source",
     "Without --num_folds, what validates (early stopping, best.keras): eval_split, or inner: "
     "--inner_validation_fraction of the training split's recordings, so the eval split is scored by a "
     "checkpoint it did not choose."),
    ("inner_validation_fraction", "data", "inner_validation_fraction",
     "With --num_folds: fraction of the fold's training recordings that validates (early stopping, "
     "best.keras); 0 validates on the held-out fold (optimistic: selection on the scored data)."),
    ("label_level", "model", "label_level", "Frame labels (Aff-Wild) or utterance labels (OMG)."),
    ("window", "data", "window",
     "Frames per training/evaluation window; at video level the most one-per-second snippets of an utterance."),
    ("stride", "data", "stride", "Stride of training windows."),
    ("window_overlap", "data", "window_overlap",
     "Evaluation/validation windows overlap by this fraction of a window (0: tiled); each frame takes the "
     "prediction of the window whose centre is nearest, so it has context on both sides."),
    ("batch_size", "data", "batch_size", "Global batch size in windows."),
    ("eval_batch_size", "data", "eval_batch_size", "Windows per evaluation batch (evaluate, studies)."),
    ("skip_corrupt_records", "data", "skip_corrupt_records",
     "Go on past unreadable records of damaged shards (counted, with a warning) instead of stopping."),
    ("train_gamma_beta", "data", "train_gamma_beta",
     "Illumination corruption of the training inputs too (u ** g, g ~ U[1 - beta, 1 + beta] per frame; 0: off)."),
    ("validation_gamma_beta", "data", "validation_gamma_beta",
     "Illumination corruption of the validation inputs during training, which choose the checkpoint (0: clean)."),
    ("streams", "model", "streams", "Which streams."),
    ("temporal_input", "model", "temporal_input", "Temporal stream input."),
    ("snippet_length", "model", "snippet_length", "Phase differences per snippet."),
    ("spatial_input", "model", "spatial_input", "Stored backbone features or face images."),
    ("spatial_backbone", "model", "spatial_backbone",
     lambda: f"Backbone for --spatial_input=images, one of:\n{backbone_registry.backbones_help()}"),
    ("backbone_weights", "model", "backbone_weights",
     "Its weights, the argument of its spec (--spatial_backbone=NAME --backbone_weights=W is NAME:W), e.g. "
     "resnet50's 'imagenet' or a weights file (unset: random)."),
    ("spatial_feature_dim", "model", "spatial_feature_dim",
     "Width of the stored spatial features (0: read from the shards)."),
    ("spatial_features", "model", "spatial_features",
     "Backbone the stored spatial features came from, as data_prep.prepare's --spatial_features named it "
     "(unset: read from --data_dir's manifest.json). A run's flags.cfg records it; training refuses data "
     "prepared with another backbone."),
    ("recurrent", "model", "recurrent",
     "BiGRU over time (False: the paper's single-stream nets, a linear head on the 256-d stream features; "
     "at video level on their mean over the utterance's snippets)."),
    ("gru_layers", "model", "gru_layers", "Stacked BiGRU layers."),
    ("gru_units", "model", "gru_units", "GRU units per direction."),
    ("gru_dropout", "model", "gru_dropout", "Dropout rate between stacked BiGRU layers."),
    ("fusion_dropout", "model", "fusion_dropout",
     "Dropout rate after a two-stream net's fusion layer (the paper's 0.5)."),
    ("head_dropout", "model", "head_dropout",
     "Dropout rate before the linear head of a net with the BiGRU (the paper's 0.5)."),
    ("dropout", "model", "dropout",
     "Dropout layers active in training. False turns every one off, e.g. to check that a distributed "
     "run reproduces a one-device run (dropout masks are drawn per replica)."),
    ("init_spatial_from", "model", "init_spatial_from", "A .keras checkpoint whose spatial stream initialises ours."),
    ("init_temporal_from", "model", "init_temporal_from", "A .keras checkpoint whose temporal stream initialises ours."),
    ("init_from", "model", "init_from",
     "Fine-tune: start from the weights of this run directory of mimamo_tf.train (its checkpoints/best.keras) or "
     ".keras file instead of a fresh initialisation; the network must be the same, optimizer and step count start "
     "afresh. Only a fresh run is initialised: when --model_dir holds a resumable state, the run resumes from it "
     "(resume wins) and this checkpoint is not read."),
    ("epochs", "optimization", "epochs", "Maximum epochs."),
    ("steps_per_epoch", "optimization", "steps_per_epoch", "Batches per epoch (0: one pass over the training windows)."),
    ("validation_steps", "optimization", "validation_steps", "Validation batches (0: all)."),
    ("learning_rate", "optimization", "learning_rate", "Initial SGD learning rate."),
    ("momentum", "optimization", "momentum", "SGD momentum."),
    ("weight_decay", "optimization", "weight_decay", "Weight decay coefficient (see --weight_decay_type)."),
    ("weight_decay_type", "optimization", "weight_decay_type",
     "coupled: the paper's PyTorch SGD, weight_decay * w added to the gradient before momentum; decoupled: "
     "Keras' weight_decay (about 10x weaker with momentum 0.9 at the same value)."),
    ("lr_decay_epochs", "optimization", "lr_decay_epochs", "Epochs at which the learning rate is multiplied by --lr_decay."),
    ("lr_decay", "optimization", "lr_decay", "Step-schedule factor."),
    ("two_stage", "optimization", "two_stage",
     "Train a two-stream net in two stages from one command: its single-stream nets (no GRU) into "
     "<model_dir>/streams/{spatial,temporal}, then the two-stream net into <model_dir> from their streams; "
     "each stage resumes where it stopped. --notwo_stage trains the two-stream net from scratch."),
    ("freeze_streams_epochs", "optimization", "freeze_streams_epochs",
     "Epochs at the start of a two-stream run during which the streams it inherits (--init_spatial_from, "
     "--init_temporal_from, --two_stage) are frozen: no gradient, BatchNorm statistics and dropout as at "
     "inference; the fusion layers, BiGRU and head learn on their features, then every layer trains (0: none; -1: frozen "
     "throughout, the streams stay exactly their single-stream nets'). No effect on a run that inherits no streams."),
    ("clip_gradient_norm", "optimization", "clip_gradient_norm",
     "Scale each step's gradient down to at most this global norm (0: no clipping)."),
    ("ema_decay", "optimization", "ema_decay",
     "Validate, select and save the exponential moving average of the weights with this per-step decay "
     "(about 1 / (1 - decay) steps averaged) while SGD trains the raw weights; 0: the raw weights."),
    ("patience", "optimization", "patience", "Early stopping patience in epochs on the selection metric (0: off)."),
    ("selection_metric", "optimization", "selection_metric",
     "What picks best.keras, stops early and ranks tuner trials: official (val_ccc_mean, every valid-label "
     "frame, as evaluate reports) or face_only (val_ccc_mean_face_only, the frames the loss sees)."),
    ("seed", "runtime", "seed", "Random seed."),
    ("model_dir", "runtime", "model_dir", "Where checkpoints, logs and flags are written."),
    ("sync_batch_norm", "runtime", "sync_batch_norm",
     "With several replicas, BatchNormalization normalises with the statistics of the global batch, "
     "as one device would; False uses each replica's own share (one small all-reduce less per layer)."),
    ("checkpoint_every_steps", "runtime", "checkpoint_every_steps",
     "Steps between fault-tolerance checkpoints in <model_dir>/checkpoints/state (0: only at epoch ends)."),
    ("jit_compile", "runtime", "jit_compile", "Compile the training and evaluation steps with XLA."),
    ("mixed_precision", "runtime", "mixed_precision",
     "Compute dtype of the convolutions and dense layers of both streams: auto (bfloat16 where the hardware "
     "computes it natively: CPUs with AVX512_BF16/AMX-BF16, GPUs of compute capability >= 8.0; float32 "
     "elsewhere; a run's flags.cfg records the result), float32, bfloat16 or float16 (GPUs, with loss scaling); "
     "the phase front end, BiGRU, head, loss and CCC sums stay float32."),
)
_CHOICES = {
    "streams": STREAMS, "temporal_input": TEMPORAL_INPUTS, "spatial_input": SPATIAL_INPUTS,
    "label_level": LABEL_LEVELS, "mixed_precision": MIXED_PRECISION,
    "weight_decay_type": WEIGHT_DECAY_TYPES, "selection_metric": SELECTION_METRICS,
    "validation_source": VALIDATION_SOURCES,
}
# Settings that may change when a run is continued in its model dir (more epochs; how often to
# checkpoint; how evaluation batches windows). Every other difference makes it another experiment.
RESUMABLE_CHANGES = ("epochs", "checkpoint_every_steps", "eval_batch_size")
_PATH_FLAGS = ("data_dir", "model_dir", "init_spatial_from", "init_temporal_from", "init_from")
# The flags that decide the network's weights: which exist, their shapes, the input they learn from.
# A checkpoint starts another run (--init_from) only if its weights fit; a run that differs in these
# is named in the error (or, when the weights still fit, in a note). --window and --label_level are
# not among them: the network takes any number of frames, and the utterance-level mean has no weights.
ARCHITECTURE_FLAGS = ("streams", "temporal_input", "snippet_length", "spatial_input", "spatial_backbone",
                      "spatial_feature_dim", "recurrent", "gru_layers", "gru_units")
# Settings read from the data when unset (``training.trainer.resolve_data_dependent``); a run's
# flags.cfg records the values read. Unset on one side (a config before resolution, a flags.cfg
# written before the value was recorded) is no difference: the data decides.
DATA_RESOLVED_FLAGS = ("spatial_feature_dim", "spatial_features")
FLAG_NAMES = tuple(name for name, *_ in _FLAGS)


def _default(section, field):
    for f in dataclasses.fields(_SECTIONS[section]):
        if f.name == field:
            return f.default
    raise KeyError(field)


_SECTIONS = {"model": ModelConfig, "data": DataConfig, "optimization": OptimizationConfig, "runtime": RuntimeConfig}


def define_flags(flag_values=None):
    """Defines the experiment's flags (``--window``, ``--streams``, ...) on ``flag_values``.

    Args:
        flag_values: an ``absl.flags.FlagValues``; default the global ``absl.flags.FLAGS``.
            Defining twice on the same object is a no-op.
    """
    flag_values = flags.FLAGS if flag_values is None else flag_values
    define_config_flag(flag_values)
    for name, section, field, help_text in _FLAGS:
        if name in flag_values:
            continue
        default = _default(section, field)
        help_text = help_text() if callable(help_text) else help_text
        if name in _CHOICES:
            flags.DEFINE_enum(name, default, list(_CHOICES[name]), help_text, flag_values=flag_values)
        elif isinstance(default, bool):
            flags.DEFINE_bool(name, default, help_text, flag_values=flag_values)
        elif isinstance(default, int):
            flags.DEFINE_integer(name, default, help_text, flag_values=flag_values)
        elif isinstance(default, float):
            flags.DEFINE_float(name, default, help_text, flag_values=flag_values)
        elif isinstance(default, tuple):
            flags.DEFINE_list(name, [str(v) for v in default], help_text, flag_values=flag_values)
        else:
            flags.DEFINE_string(name, default, help_text, flag_values=flag_values)


def define_config_flag(flag_values=None):
    """Defines ``--config=NAME``: a packaged flagfile by name (``demo``, ``affwild2``, ...), the same as
    ``--flagfile=<its path inside the installed package>``, so it works from any directory after a
    ``pip install``. The command line's ``--config`` is replaced by that ``--flagfile`` before flags
    are parsed (``expand_config_argument``), at its place: flags after it override it."""
    flag_values = flags.FLAGS if flag_values is None else flag_values
    if "config" not in flag_values:
        flags.DEFINE_string("config", None, f"A flagfile that ships with mimamo_tf, by name: "
                            f"{', '.join(packaged_config_names())}. The same as "
                            "--flagfile=<its path in the installed package>; flags after it override it.",
                            flag_values=flag_values)


def expand_config_argument(argv):
    """``argv`` with each ``--config=NAME`` (or ``--config NAME``) replaced by ``--flagfile=PATH`` of
    the packaged ``NAME.cfg`` (``ConfigError`` listing the names for an unknown one)."""
    expanded, remaining = [], list(argv)
    while remaining:
        argument = remaining.pop(0)
        name, has_value, value = argument.partition("=")
        if name not in ("--config", "-config"):
            expanded.append(argument)
            continue
        if not has_value:
            if not remaining:
                raise ConfigError("--config needs a name: " + ", ".join(packaged_config_names()))
            value = remaining.pop(0)
        file_name = value if value.endswith(".cfg") else f"{value}.cfg"
        expanded.append(f"--flagfile={packaged_flagfile(file_name)}")
    return expanded


def from_flags(flag_values=None):
    """The ``ExperimentConfig`` the parsed flags describe, validated (``ConfigError`` if invalid)."""
    flag_values = flags.FLAGS if flag_values is None else flag_values
    values = {section: {} for section in _SECTIONS}
    for name, section, field, _ in _FLAGS:
        value = flag_values[name].value
        if name == "lr_decay_epochs":
            try:
                value = tuple(int(v) for v in value)
            except ValueError as error:
                raise ConfigError(f"--lr_decay_epochs must be integers, got {','.join(value)}") from error
        values[section][field] = value
    config = ExperimentConfig(**{section: cls(**values[section]) for section, cls in _SECTIONS.items()})
    return config


def flag_values_of(config):
    """``{flag name: value}`` of ``config`` (the inverse of ``from_flags``)."""
    return {name: getattr(getattr(config, section), field) for name, section, field, _ in _FLAGS}


def flag_line(name, value):
    """``--name=value`` as absl parses it (``--name``/``--noname`` for booleans, lists comma-joined)."""
    if isinstance(value, bool):
        return f"--{name}" if value else f"--no{name}"
    if isinstance(value, tuple):
        return f"--{name}={','.join(str(v) for v in value)}"
    return f"--{name}={value}"


def to_flagfile(config, path, header=None):
    """Writes ``config`` as an absl flagfile (atomically): ``--flagfile=path`` reproduces it, from any
    working directory (paths are written absolute).

    Args:
        config: the ``ExperimentConfig``.
        path: file to write.
        header: optional comment lines (without ``#``) put first.
    """
    lines = [f"# {line}" for line in (header or "").splitlines()]
    for name, value in flag_values_of(config).items():
        if value is None:
            continue
        if name in _PATH_FLAGS:
            # Recorded absolute, so the file means the same from any working directory.
            value = os.path.abspath(value)
        lines.append(flag_line(name, value))
    return write_text(path, "\n".join(lines) + "\n")


def packaged_flagfile(name):
    """The path of a flagfile that ships inside the package (``mimamo_tf/configs/<name>``: the
    paper's, the demo's, the tests'), found through ``importlib.resources`` so that it resolves in an
    installed wheel as in a checkout (where ``configs/`` at the top level links to the same files)."""
    path = importlib.resources.files("mimamo_tf").joinpath("configs", name)
    if not path.is_file():
        raise ConfigError(f"no packaged flagfile {name!r}: --config takes one of {', '.join(packaged_config_names())} "
                          f"(the files in {importlib.resources.files('mimamo_tf').joinpath('configs')})")
    return str(path)


def packaged_flagfiles():
    """Names of the flagfiles that ship inside the package."""
    return sorted(p.name for p in importlib.resources.files("mimamo_tf").joinpath("configs").iterdir()
                  if p.name.endswith(".cfg"))


def packaged_config_names():
    """``--config``'s names: the packaged flagfiles without ``.cfg`` (``demo``, ``affwild2``, ...)."""
    return [name[:-len(".cfg")] for name in packaged_flagfiles()]


def from_flagfile(path, overrides=()):
    """The config an absl flagfile describes (plus ``overrides`` such as ``["--window=32"]``).

    Flags of other programs in the file (e.g. evaluation's) are ignored, so a run's ``flags.cfg``
    and the repository's ``configs/*.cfg`` both work.
    """
    if not os.path.isfile(path):
        raise ConfigError(f"--flagfile: {path!r} does not exist")
    flag_values = flags.FlagValues()
    define_flags(flag_values)
    known = [line.strip() for line in open(path) if _flag_name(line) in FLAG_NAMES]
    try:
        flag_values(["config", *known, *overrides])
    except flags.Error as error:
        raise ConfigError(f"{path}: {error}") from error
    return from_flags(flag_values)


def _flag_name(line):
    line = line.strip()
    if not line.startswith("--"):
        return None
    name = line[2:].split("=", 1)[0]
    if name.startswith("no") and name[2:] in FLAG_NAMES and "=" not in line:
        return name[2:]
    return name


def same_flag_value(name, x, y):
    """Whether two values of flag ``name`` describe the same experiment: paths compared absolutely,
    lists as tuples, and ``--mixed_precision=auto`` the same as whatever a run resolved it to (a run
    continued with ``auto`` keeps the precision it started with); a ``DATA_RESOLVED_FLAGS`` value
    unset on either side is the same as any."""
    if name == "mixed_precision" and "auto" in (x, y):
        return True
    if name in DATA_RESOLVED_FLAGS and not (x and y):
        return True
    if name in _PATH_FLAGS and x and y:
        return os.path.abspath(x) == os.path.abspath(y)
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return tuple(x) == tuple(y)
    return x == y


def differing_flags(a, b, ignore=()):
    """Names of the flags whose values differ between two configs (``same_flag_value``)."""
    values_a, values_b = flag_values_of(a), flag_values_of(b)
    return [name for name in FLAG_NAMES
            if name not in ignore and not same_flag_value(name, values_a[name], values_b[name])]


def validate(config, require_data=True, require_model_dir=True):
    """Fails fast on settings that cannot work: ``ConfigError`` naming the flags.

    Checks what can be known without reading data: required directories, value ranges,
    incompatible combinations and checkpoint files that do not exist.
    """
    model, data, opt, runtime = config.model, config.data, config.optimization, config.runtime
    if require_data and not data.data_dir:
        raise ConfigError("--data_dir is required")
    if require_model_dir and not runtime.model_dir:
        raise ConfigError("--model_dir is required")
    if data.num_folds < 0 or (data.num_folds and not 0 <= data.fold < data.num_folds):
        raise ConfigError(f"--fold must be in [0, --num_folds={data.num_folds}), got {data.fold}")
    train_splits = [name.strip() for name in data.train_split.split(",")]
    if not data.num_folds and data.eval_split in train_splits:
        raise ConfigError(f"--eval_split={data.eval_split} is also a --train_split ({data.train_split}): the "
                          "checkpoint would be chosen on training data; several training splits go with "
                          "--num_folds (cross-validation)")
    if data.num_folds == 1:
        raise ConfigError("--num_folds=1 leaves no training data; use 0 (off) or >= 2")
    if model.init_spatial_from and not model.uses_spatial:
        raise ConfigError("--init_spatial_from needs a spatial stream (--streams=both or spatial)")
    if model.init_temporal_from and not model.uses_temporal:
        raise ConfigError("--init_temporal_from needs a temporal stream (--streams=both or temporal)")
    for flag in ("init_spatial_from", "init_temporal_from"):
        if model.init_from and getattr(model, flag):
            # --init_from sets every weight, the streams' included: the two would overwrite each other.
            raise ConfigError(f"--init_from and --{flag} both initialise the network; give one of them")
    if opt.freeze_streams_epochs < FROZEN_THROUGHOUT:
        raise ConfigError(f"--freeze_streams_epochs must be >= 0, or {FROZEN_THROUGHOUT} (frozen in every epoch); "
                          f"got {opt.freeze_streams_epochs}")
    for flag in ("init_spatial_from", "init_temporal_from"):
        path = getattr(model, flag)
        if path and not os.path.isfile(path):
            raise ConfigError(f"--{flag}: checkpoint {path!r} does not exist")
    if model.spatial_input == "features" and model.backbone_weights:
        raise ConfigError(
            "--backbone_weights applies to --spatial_input=images; stored features were computed at prepare time")
    for name, value in (("batch_size", data.batch_size), ("eval_batch_size", data.eval_batch_size), ("window", data.window), ("stride", data.stride),
                        ("epochs", opt.epochs), ("gru_units", model.gru_units)):
        if value < 1:
            raise ConfigError(f"--{name} must be positive, got {value}")
    for name, value in (("steps_per_epoch", opt.steps_per_epoch), ("validation_steps", opt.validation_steps),
                        ("patience", opt.patience),
                        ("checkpoint_every_steps", runtime.checkpoint_every_steps),
                        ("gru_layers", model.gru_layers)):
        if value < 0:
            raise ConfigError(f"--{name} must be >= 0, got {value}")
    if opt.learning_rate < 0 or not 0 <= opt.momentum < 1:
        raise ConfigError(f"--learning_rate must be >= 0 and --momentum in [0, 1); got {opt.learning_rate}, {opt.momentum}")
    if opt.clip_gradient_norm < 0:
        raise ConfigError(f"--clip_gradient_norm must be >= 0 (0: off); got {opt.clip_gradient_norm}")
    if not 0 <= opt.ema_decay < 1:
        raise ConfigError(f"--ema_decay must be in [0, 1) (0: off); got {opt.ema_decay}")
    for name in ("gru_dropout", "fusion_dropout", "head_dropout"):
        rate = getattr(model, name)
        if not 0 <= rate < 1:
            raise ConfigError(f"--{name} must be in [0, 1); got {rate}")
    if any(e < 0 for e in opt.lr_decay_epochs):
        raise ConfigError(f"--lr_decay_epochs must be epochs >= 0, got {opt.lr_decay_epochs}")
    if not 0 <= data.inner_validation_fraction < 1:
        raise ConfigError(f"--inner_validation_fraction must be in [0, 1); got {data.inner_validation_fraction}")
    if data.validation_source not in VALIDATION_SOURCES:
        raise ConfigError(f"--validation_source must be one of {', '.join(VALIDATION_SOURCES)}; "
                          f"got {data.validation_source!r}")
    if data.validation_source == "inner" and not data.num_folds and not data.inner_validation_fraction:
        raise ConfigError("--validation_source=inner needs --inner_validation_fraction > 0")
    if not 0 <= data.window_overlap < 1:
        raise ConfigError(f"--window_overlap is a fraction of the window in [0, 1) (0.5: half a window, 0: tiled "
                          f"windows); got {data.window_overlap}")
    if not 0 <= data.train_gamma_beta <= 1:
        raise ConfigError(f"--train_gamma_beta must be in [0, 1]; got {data.train_gamma_beta}")
    if not 0 <= data.validation_gamma_beta <= 1:
        raise ConfigError(f"--validation_gamma_beta must be in [0, 1]; got {data.validation_gamma_beta}")
    return config

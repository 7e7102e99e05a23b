"""The run directory: what a training run writes, where, and how every other part reads it back.

``python -m mimamo_tf.train`` (``mimamo_tf.training.train``) writes into ``--model_dir``:

* ``flags.cfg`` — the resolved configuration, with absolute paths (``--flagfile=<model_dir>/flags.cfg``
  repeats, resumes or evaluates the run from any working directory);
* ``checkpoints/best.keras`` (the best epoch, ``best_epoch``) and ``checkpoints/last.keras``;
* ``checkpoints/state/`` — fault-tolerance checkpoints (``mimamo_tf.training.state``);
* ``history.json`` — one entry per epoch (``loss``, ``ccc_*``, ``val_loss``, ``val_ccc_*``,
  ``learning_rate``, ``frames_per_second``, ``seconds``);
* ``logs/train``, ``logs/validation`` — TensorBoard;
* ``init_from.json`` — with ``--init_from`` (fine-tuning), where the first weights came from: the
  flag's value, the ``.keras`` file it resolved to, that file's sha256 and its run directory;
* ``streams/spatial``, ``streams/temporal`` — with ``--two_stage``, the single-stream runs (each a
  run directory of its own) whose streams start the two-stream net;
* ``eval_<split>/`` — written by ``python -m mimamo_tf.evaluate``.

A run that starts from trained weights (``--init_from``, ``--init_spatial_from``,
``--init_temporal_from``) is validated before its first epoch: ``history.json``'s first entry is then
``"epoch": -1`` (``START_EPOCH``: validation only), and ``best.keras`` holds those starting weights
while no epoch beats them.

This module is the one owner of those names, of the rule that picks the best epoch, and of loading
a run (its config, a checkpoint, the frozen backbone of its data). ``import mimamo_tf`` registers
the project's Keras classes, so ``keras.saving.load_model(checkpoint_path(run, "best"))`` works too.
"""

import dataclasses
import json
import math
import os
from typing import Any, Optional

import keras

from mimamo_tf import config as config_lib
from mimamo_tf.data import shards
from mimamo_tf.errors import InputError

FLAGS_FILE = "flags.cfg"
HISTORY_FILE = "history.json"
CHECKPOINTS_DIR = "checkpoints"
STATE_DIR = os.path.join(CHECKPOINTS_DIR, "state")
LOGS_DIR = "logs"
INIT_FILE = "init_from.json"
STREAMS_DIR = "streams"
# ``history.json``'s ``epoch`` of the validation of a run's starting weights, before its first epoch.
START_EPOCH = -1
# The named checkpoints a run keeps; anything else given as a checkpoint is a path to a .keras file.
NAMED_CHECKPOINTS = ("best", "last")
# The history entry that decides the best epoch (best.keras, early stopping, the tuner's objective,
# the model card, the studies' cells), by --selection_metric. ``val_ccc_*`` are the official CCCs
# (every valid-label frame, as ``evaluate`` reports); ``val_ccc_*_face_only`` the frames the loss sees.
SELECTION_METRIC = "val_ccc_mean"
SELECTION_METRICS = {"official": SELECTION_METRIC, "face_only": "val_ccc_mean_face_only"}


def selection_key(config):
    """The history key that selects the best epoch of a run of ``config`` (``--selection_metric``)."""
    return SELECTION_METRICS[config.optimization.selection_metric]


class RunError(InputError, ValueError):
    """A run directory (or checkpoint of one) that cannot be used; the message names the file."""

    kind = "run error"


def checkpoint_path(model_dir, checkpoint="best"):
    """``best``/``last`` name a run's ``.keras`` checkpoints; anything else is a path to one."""
    if checkpoint in NAMED_CHECKPOINTS:
        return os.path.join(model_dir, CHECKPOINTS_DIR, f"{checkpoint}.keras")
    return checkpoint


def flags_path(model_dir):
    return os.path.join(model_dir, FLAGS_FILE)


def history_path(model_dir):
    return os.path.join(model_dir, HISTORY_FILE)


def stream_run_dir(model_dir, stream):
    """``<model_dir>/streams/<stream>``: a ``--two_stage`` run's single-stream run of ``stream``."""
    return os.path.join(model_dir, STREAMS_DIR, stream)


def trained_epochs(history):
    """Epochs a history has trained (its start validation, ``START_EPOCH``, is not one)."""
    return sum(1 for entry in history if entry.get("epoch", 0) >= 0)


def init_record_path(model_dir):
    """``<model_dir>/init_from.json``: where a fine-tuned run's first weights came from."""
    return os.path.join(model_dir, INIT_FILE)


def init_checkpoint(source, flag="init_from"):
    """The ``.keras`` file a run starts from (``--init_from``): ``source`` is a run directory (its
    ``checkpoints/best.keras``) or a ``.keras`` file.

    Raises:
        RunError: ``source`` does not exist, or is neither a ``.keras`` file nor a run directory
            holding ``best.keras`` (the message names the flag, the path and what was expected).
    """
    expected = (f"expected a run directory of mimamo_tf.train (holding {CHECKPOINTS_DIR}/best.keras) or a "
                ".keras checkpoint")
    if os.path.isdir(source):
        path = checkpoint_path(source, "best")
        if os.path.isfile(path):
            return path
        last = checkpoint_path(source, "last")
        if os.path.isfile(last):
            # No epoch had a finite selection value, or the run stopped before its first epoch ended.
            hint = f"; it has {last}: give that file to start from the run's last epoch"
        elif os.path.isfile(flags_path(source)):
            hint = ": the run has not finished an epoch yet"
        else:
            hint = ""
        raise RunError(f"--{flag}={source}: no checkpoint {path}; {expected}{hint}")
    if not os.path.exists(source):
        raise RunError(f"--{flag}={source} does not exist; {expected}")
    if not str(source).endswith(".keras"):
        raise RunError(f"--{flag}={source} is not a .keras file; {expected}")
    return source


def run_of_checkpoint(path):
    """The run directory a ``.keras`` checkpoint belongs to (``<run>/checkpoints/X.keras`` beside
    ``<run>/flags.cfg``), or None for a file outside a run."""
    run_dir = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    if os.path.basename(os.path.dirname(os.path.abspath(path))) == CHECKPOINTS_DIR and os.path.isfile(flags_path(run_dir)):
        return run_dir
    return None


def evaluation_dir(model_dir, split):
    """Where ``evaluate`` writes by default: ``<model_dir>/eval_<split>``."""
    return os.path.join(model_dir, f"eval_{split}")


def is_improvement(value, best):
    """Whether an epoch's selection value beats the best so far: finite and strictly greater (so a
    tie keeps the earlier epoch, and NaN — a constant prediction — never counts)."""
    return value is not None and math.isfinite(value) and (best is None or value > best)


def best_epoch(history, metric=SELECTION_METRIC):
    """The history entry of the best epoch — the one ``checkpoints/best.keras`` holds — or None.

    The first epoch with the highest finite ``metric``; entries without it or with NaN/inf never
    count. The trainer saves ``best.keras`` by the same rule (``is_improvement``).
    """
    best = None
    for entry in history:
        value = entry.get(metric)
        if isinstance(value, (int, float)) and is_improvement(value, None if best is None else best[metric]):
            best = entry
    return best


def read_history(model_dir):
    """The run's ``history.json`` (a list of epoch entries; empty when the run has none yet)."""
    path = history_path(model_dir)
    if not os.path.isfile(path):
        return []
    try:
        with open(path, encoding="utf-8") as handle:
            history = json.load(handle)
    except (OSError, ValueError) as error:
        raise RunError(f"{path}: not a readable history ({error})") from None
    if not isinstance(history, list):
        raise RunError(f"{path}: expected a list of epoch entries")
    return history


def read_config(model_dir, overrides=()):
    """The ``ExperimentConfig`` of a run (its ``flags.cfg``), with ``model_dir`` pointing at where the
    run is now (a copied or moved run reads its own checkpoints)."""
    path = flags_path(model_dir)
    if not os.path.isfile(path):
        raise RunError(f"--model_dir={model_dir}: no {FLAGS_FILE}: not a training run directory")
    config = config_lib.from_flagfile(path, overrides)
    return config_lib.replace(config, runtime={"model_dir": os.path.abspath(model_dir)})


def data_features(data_dir):
    """The spec of the backbone whose features ``data_dir`` stores (``fer_mini_xception``, ...: the
    ``--spatial_features`` prepare was given, as its ``manifest.json`` records it), or None: no
    manifest (hand-made shards) or no stored features."""
    record = shards.backbone_record(data_dir)
    if isinstance(record, dict):
        return record.get("spec") or None
    return record or None


def trained_features(config):
    """The spec of the backbone whose stored features the run of ``config`` (``read_config``) was
    trained on: its ``flags.cfg``'s ``--spatial_features`` or, for a run written before that was
    recorded, its data's manifest (while that data is there). None when unknown or the run reads no
    stored features (image input, the temporal stream alone)."""
    if not (config.model.uses_spatial and config.model.spatial_input == "features"):
        return None
    return config.model.spatial_features or (data_features(config.data.data_dir) if config.data.data_dir else None)


def load_model(path):
    """A ``.keras`` checkpoint of this project, loaded for inference (``RunError`` if absent)."""
    if not os.path.isfile(path):
        raise RunError(f"--checkpoint: model file {path!r} does not exist")
    return keras.saving.load_model(path, compile=False)


@dataclasses.dataclass
class Run:
    """A trained run as loaded by ``load_run``.

    Attributes:
        model_dir: the run directory.
        config: its ``ExperimentConfig``.
        checkpoint: path of the loaded ``.keras`` file.
        model: the trained network.
        backbone: the frozen backbone its stored spatial features came from (None without them).
        backbone_record: that backbone's identity as recorded with the data (None if unknown).
    """

    model_dir: str
    config: Any
    checkpoint: str
    model: Any
    backbone: Optional[Any] = None
    backbone_record: Optional[dict] = None


def load_run(model_dir, checkpoint="best"):
    """Loads a run: config, a checkpoint (``best``, ``last`` or a path) and, with stored spatial
    features, the backbone saved beside its data. Raises ``RunError`` naming what is missing."""
    config = read_config(model_dir)
    path = checkpoint_path(model_dir, checkpoint)
    model = load_model(path)
    backbone = record = None
    if config.model.uses_spatial and config.model.spatial_input == "features":
        backbone_file = os.path.join(config.data.data_dir, shards.BACKBONE_FILE)
        if not os.path.isfile(backbone_file):
            raise RunError(
                f"{backbone_file} does not exist: the run's data ({config.data.data_dir}) does not carry the backbone "
                "its features came from (prepared before backbones travelled with the data: prepare it again)")
        backbone = load_model(backbone_file)
        record = shards.backbone_record(config.data.data_dir)
    return Run(model_dir=model_dir, config=config, checkpoint=path, model=model, backbone=backbone,
               backbone_record=record)

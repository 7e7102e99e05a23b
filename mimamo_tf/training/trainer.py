"""``train(config)``: the training loop — epochs of ``strategy.run`` steps, validation, early
stopping, checkpoints, history and TensorBoard — usable from Python (tuner, studies) and the CLI.

Outputs in ``config.runtime.model_dir`` (written by the chief only; other workers write the same
files to a private directory, see ``distribution.writable_dir``):

* ``flags.cfg`` — the resolved configuration; ``--flagfile=<model_dir>/flags.cfg`` repeats the run;
* ``checkpoints/best.keras`` (best validation mean CCC) and ``checkpoints/last.keras``;
* ``checkpoints/state/`` — fault-tolerance checkpoints (``state.py``) every
  ``--checkpoint_every_steps`` steps and at each epoch end; re-running the same command continues
  from the newest one and ends with the weights of an uninterrupted run;
* ``history.json`` — one entry per epoch: ``loss``, ``ccc_arousal``, ``ccc_valence``, ``ccc_mean``,
  the same with ``val_``, ``learning_rate``, ``frames_per_second``, ``seconds``;
* ``logs/train``, ``logs/validation`` — TensorBoard scalars ``epoch_loss``, ``epoch_ccc_*``,
  ``epoch_learning_rate``, ``epoch_frames_per_second``.

Losses are means of the per-batch CCC loss; CCCs are exact over all frames of the epoch.
"""

import json
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from mimamo_tf import config as config_lib
from mimamo_tf.atomic_files import write_json
from mimamo_tf.ccc import ccc_from_sums
from mimamo_tf.config import ConfigError
from mimamo_tf.data import pipeline, shards
from mimamo_tf.data.folds import fold_video_ids
from mimamo_tf.metrics import OUTPUT_NAMES
from mimamo_tf.training import distribution, inputs, model_setup
from mimamo_tf.training.optimizer import build_optimizer
from mimamo_tf.training.state import Checkpointer, TrainingState, has_checkpoint
from mimamo_tf.training.steps import StepFunctions

CHECKPOINTS = "checkpoints"


def checkpoint_path(model_dir, checkpoint):
    """``best``/``last`` name a run's ``.keras`` checkpoints; anything else is a path to one."""
    if checkpoint in ("best", "last"):
        return os.path.join(model_dir, CHECKPOINTS, f"{checkpoint}.keras")
    return checkpoint
FLAGS_FILE = "flags.cfg"
HISTORY_FILE = "history.json"


class TrainingData:
    """The shards of a run, checked before any training starts.

    Attributes:
        train_files, eval_files: shard paths.
        train_ids, eval_ids: video ids of the folds (None without cross-validation).
        record_limits: readable records of damaged shards (``--skip_corrupt_records``), or None.
        pipeline_config: the pipeline's view of the experiment config.
    """

    def __init__(self, config):
        data = config.data
        self.data_dir = data.data_dir
        self.pipeline_config = pipeline.pipeline_config(config)
        self.train_files = pipeline.split_shards(data.data_dir, data.train_split)
        self.eval_files = self.train_files if data.num_folds else pipeline.split_shards(data.data_dir, data.eval_split)
        self.all_files = sorted(set(self.train_files) | set(self.eval_files))
        pipeline.check_shards(self.all_files, self.pipeline_config)
        self.record_limits = None
        if data.skip_corrupt_records:
            self.record_limits = self._limit_damaged_shards()
        self.train_ids = self.eval_ids = None
        if data.num_folds:
            ids = self._guard(lambda: pipeline.list_video_ids(self.train_files, self.record_limits))
            try:
                self.train_ids, self.eval_ids = fold_video_ids(ids, data.num_folds, data.fold)
            except ValueError as error:
                raise ConfigError(str(error)) from error

    def _limit_damaged_shards(self):
        damaged = pipeline.find_damaged_shards(self.all_files)
        for path, (readable, error) in damaged.items():
            expected = _expected_examples(path)
            lost = f"{expected - readable} of {expected} records" if expected is not None else "the rest of its records"
            print(f"warning: {path} is damaged after record {readable} ({error.splitlines()[0]}); skipping {lost} "
                  "(--skip_corrupt_records)", file=sys.stderr)
        return {path: readable for path, (readable, _) in damaged.items()}

    def damaged_data_error(self, error):
        """A ``DataError`` naming the damaged shard(s) behind a ``DataLossError`` met mid-run."""
        damaged = pipeline.find_damaged_shards(self.all_files)
        if not damaged:
            return pipeline.DataError(f"reading the shards in {self.data_dir} failed: {error.message}")
        names = "; ".join(f"{path} (readable up to record {n}: {message.splitlines()[0]})"
                          for path, (n, message) in damaged.items())
        return pipeline.DataError(
            f"damaged shard: {names}. Check the data with `python -m data_prep.inspect {self.data_dir}` and "
            "re-prepare that shard, or train with --skip_corrupt_records to go on without the unreadable records. "
            "Checkpoints are intact: the same command resumes.")

    def _guard(self, function):
        try:
            return function()
        except tf.errors.DataLossError as error:
            raise self.damaged_data_error(error) from error


def _expected_examples(path):
    try:
        return int(shards.read_sidecar(path)["examples"])
    except (KeyError, TypeError, ValueError):
        return None


class History:
    """``history.json``: per-epoch logs, rewritten atomically; a resumed run keeps its past epochs."""

    def __init__(self, path):
        self.path = path
        self.epochs = json.load(open(path)) if os.path.exists(path) else []

    def keep_before(self, epoch):
        self.epochs = [e for e in self.epochs if e["epoch"] < epoch]

    def append(self, logs):
        self.epochs.append(logs)
        write_json(self.path, self.epochs)


def _save_model(model, path):
    """``model.save`` through a temporary file and a rename: a kill never leaves half a file."""
    temporary = os.path.join(os.path.dirname(path), "partial-" + os.path.basename(path))
    model.save(temporary)
    os.replace(temporary, path)


def _check_model_dir(config, model_dir):
    """Refuses to continue a run in ``model_dir`` with other settings, naming the flags that differ."""
    flags_path = os.path.join(model_dir, FLAGS_FILE)
    started = has_checkpoint(model_dir) or os.path.exists(os.path.join(model_dir, HISTORY_FILE))
    if not (started and os.path.isfile(flags_path)):
        return
    previous = config_lib.from_flagfile(flags_path)
    differing = config_lib.differing_flags(previous, config, ignore=config_lib.RESUMABLE_CHANGES)
    if differing:
        old, new = config_lib.flag_values_of(previous), config_lib.flag_values_of(config)
        changes = ", ".join(f"--{name}={old[name]!r} (now {new[name]!r})" for name in differing)
        raise ConfigError(
            f"--model_dir={model_dir} holds a run with other settings: {changes}. Continue it with its own "
            f"flags (--flagfile={flags_path}) or train into another --model_dir.")


def _ccc_logs(statistics, prefix=""):
    values = np.asarray(ccc_from_sums(*np.asarray(statistics, np.float64)))
    logs = {f"{prefix}ccc_{name}": float(v) for name, v in zip(OUTPUT_NAMES, values)}
    logs[f"{prefix}ccc_mean"] = float(np.mean(values))
    return logs


def resolve_data_dependent(config):
    """``config`` with the settings read from the data filled in (the stored feature width), so the
    run's ``flags.cfg`` is concrete; the data is checked on the way."""
    if config.model.uses_spatial and config.model.spatial_input == "features" and not config.model.spatial_feature_dim:
        info = pipeline.check_shards(pipeline.split_shards(config.data.data_dir, config.data.train_split),
                                     pipeline.pipeline_config(config))
        if info["spatial_feature_dim"]:
            config = config_lib.replace(config, model={"spatial_feature_dim": info["spatial_feature_dim"]})
    return config


class Trainer:
    """One training run of an ``ExperimentConfig`` under the current ``tf.distribute`` setup.

    Args:
        config: the experiment config (validated here).
        verbose: print one line per epoch and a tqdm progress bar (on a terminal).

    Example:
        >>> history = Trainer(config).run()     # or mimamo_tf.training.train(config)
    """

    def __init__(self, config, verbose=True):
        config_lib.validate(config)
        keras.utils.set_random_seed(config.runtime.seed)
        # First TensorFlow work of the run: MultiWorkerMirroredStrategy must configure collective
        # ops before anything (reading shards included) starts the runtime.
        self.strategy = distribution.make_strategy()
        config = resolve_data_dependent(config)
        self.config = config
        self.verbose = verbose
        runtime = config.runtime
        self.model_dir = runtime.model_dir
        self.out_dir = distribution.writable_dir(self.strategy, self.model_dir)
        _check_model_dir(config, self.model_dir)
        self.data = TrainingData(config)
        os.makedirs(os.path.join(self.out_dir, CHECKPOINTS), exist_ok=True)
        config_lib.to_flagfile(config, os.path.join(self.out_dir, FLAGS_FILE), header=(
            f"Resolved flags of this run: python -m mimamo_tf.train --flagfile={os.path.join(self.model_dir, FLAGS_FILE)}"))
        with self.strategy.scope():
            self.model = model_setup.build_model(config, self.strategy.num_replicas_in_sync)
            self.optimizer = build_optimizer(config, self.model)
        self.steps = StepFunctions(self.model, self.optimizer, self.strategy, runtime.jit_compile,
                                   config.model.num_outputs)
        self.state = TrainingState(config.model.num_outputs)
        self.checkpointer = Checkpointer(self.model, self.optimizer, self.state, self.out_dir, self.model_dir)
        self.history = History(os.path.join(self.out_dir, HISTORY_FILE))
        self.eval_data = inputs.evaluation_dataset(
            self.strategy, self.data.eval_files, self.data.pipeline_config,
            steps=config.optimization.validation_steps, video_ids=self.data.eval_ids,
            record_limits=self.data.record_limits)
        logs = os.path.join(self.out_dir, "logs")
        self.writers = {name: tf.summary.create_file_writer(os.path.join(logs, name)) for name in ("train", "validation")}

    def _say(self, message):
        if self.verbose:
            print(message, flush=True)

    def run(self):
        """Trains until the last epoch or early stopping; returns the history (list of dicts)."""
        restored = self.checkpointer.restore_latest()
        state, opt = self.state, self.config.optimization
        if restored:
            self._say(f"Resuming from {restored}: epoch {int(state.epoch) + 1}, "
                      f"{int(state.step_in_epoch)} steps of it done.")
        self.history.keep_before(int(state.epoch))
        while int(state.epoch) < opt.epochs and not bool(state.stopped):
            epoch = int(state.epoch)
            if int(state.step_in_epoch) == 0:
                state.start_epoch()
            self.optimizer.learning_rate = opt.learning_rate_at(epoch)
            self._train_epoch(epoch)
            logs = self._epoch_logs(epoch, self._evaluate())
            improved = state.update_early_stopping(epoch, logs["val_ccc_mean"], opt.patience)
            if improved:
                _save_model(self.model, checkpoint_path(self.out_dir, "best"))
            _save_model(self.model, checkpoint_path(self.out_dir, "last"))
            self.history.append(logs)
            self._write_summaries(epoch, logs)
            state.finish_epoch()
            # Last: an epoch counts as done for a restart only once its outputs are written.
            self.checkpointer.save()
            self._say(self._epoch_line(epoch, logs) + ("  (best)" if improved else ""))
        if bool(state.stopped):
            self._say(f"Early stopping: validation mean CCC did not improve for {opt.patience} epochs "
                      f"(best {float(state.best):.4f} at epoch {int(state.best_epoch) + 1}).")
        return self.history.epochs

    def _train_epoch(self, epoch):
        config, state = self.config, self.state
        opt = config.optimization
        done = int(state.step_in_epoch)
        dataset = inputs.training_dataset(
            self.strategy, self.data.train_files, self.data.pipeline_config, epoch, skip_batches=done,
            steps_per_epoch=opt.steps_per_epoch, video_ids=self.data.train_ids,
            record_limits=self.data.record_limits)
        every = config.runtime.checkpoint_every_steps
        bar = tqdm(total=opt.steps_per_epoch or None, initial=done, desc=f"epoch {epoch + 1}/{opt.epochs}",
                   unit="step", leave=False, disable=None if self.verbose else True, file=sys.stderr)
        try:
            iterator = iter(dataset)
            while True:
                start = time.perf_counter()
                batch = iterator.get_next_as_optional()
                if not batch.has_value():
                    break
                loss, statistics = self.steps.train(batch.get_value())
                state.add_step(loss, statistics, time.perf_counter() - start)
                bar.update(1)
                if every and int(state.global_step) % every == 0:
                    self.checkpointer.save()
        except tf.errors.DataLossError as error:
            raise self.data.damaged_data_error(error) from error
        finally:
            bar.close()

    def _evaluate(self):
        loss_sum, batches = 0.0, 0
        statistics = np.zeros(self.state.statistics.shape, np.float64)
        try:
            iterator = iter(self.eval_data)
            while True:
                batch = iterator.get_next_as_optional()
                if not batch.has_value():
                    break
                loss, batch_statistics = self.steps.evaluate(batch.get_value())
                loss_sum += float(loss)
                statistics += batch_statistics.numpy()
                batches += 1
        except tf.errors.DataLossError as error:
            raise self.data.damaged_data_error(error) from error
        return {"val_loss": loss_sum / max(batches, 1), **_ccc_logs(statistics, "val_")}

    def _epoch_logs(self, epoch, validation):
        state, data = self.state, self.config.data
        steps = max(int(state.step_in_epoch), 1)
        seconds = float(state.seconds)
        frames = int(state.step_in_epoch) * data.batch_size * data.window
        return {
            "epoch": epoch,
            "loss": float(state.loss_sum) / steps,
            **_ccc_logs(state.statistics.numpy()),
            **validation,
            "learning_rate": float(self.config.optimization.learning_rate_at(epoch)),
            "frames_per_second": frames / seconds if seconds else 0.0,
            "seconds": seconds,
        }

    def _write_summaries(self, epoch, logs):
        with self.writers["train"].as_default():
            for key in ("loss", "ccc_arousal", "ccc_valence", "ccc_mean", "learning_rate", "frames_per_second"):
                tf.summary.scalar(f"epoch_{key}", logs[key], step=epoch)
        with self.writers["validation"].as_default():
            for key in ("loss", "ccc_arousal", "ccc_valence", "ccc_mean"):
                tf.summary.scalar(f"epoch_{key}", logs[f"val_{key}"], step=epoch)
        for writer in self.writers.values():
            writer.flush()

    def _epoch_line(self, epoch, logs):
        return (f"Epoch {epoch + 1}/{self.config.optimization.epochs}: loss {logs['loss']:.4f}  "
                f"CCC arousal {logs['ccc_arousal']:.3f} valence {logs['ccc_valence']:.3f}  |  "
                f"val loss {logs['val_loss']:.4f}  val CCC arousal {logs['val_ccc_arousal']:.3f} "
                f"valence {logs['val_ccc_valence']:.3f} mean {logs['val_ccc_mean']:.4f}  |  "
                f"lr {logs['learning_rate']:.2g}  {logs['frames_per_second']:.0f} frames/s  {logs['seconds']:.0f} s")


def train(config, verbose=True):
    """Trains ``config`` (an ``ExperimentConfig``) into ``config.runtime.model_dir``; returns the history.

    Raises:
        ConfigError: the configuration cannot work (names the flag).
        mimamo_tf.data.pipeline.DataError: the data cannot feed it (names the file).
    """
    return Trainer(config, verbose=verbose).run()

"""``train(config)``: the training loop — epochs of ``strategy.run`` steps, validation, early
stopping, checkpoints, history and TensorBoard — usable from Python (tuner, studies) and the CLI.

What is trained, on what, with which loss and step is the ``task.Task``; this module runs it. The
files written to ``config.runtime.model_dir`` (by the chief only; other workers write the same
files to a private directory, see ``distribution.writable_dir``) are those of ``mimamo_tf.runs``:
``flags.cfg``, ``checkpoints/best.keras`` (``runs.best_epoch``), ``checkpoints/last.keras``,
``checkpoints/state/`` (fault tolerance, ``state.py``: re-running the same command continues from the
newest one and ends with the weights of an uninterrupted run), ``init_from.json`` (a fresh run
started from another run's weights, ``--init_from``), ``history.json`` and TensorBoard
scalars in ``logs/train``, ``logs/validation`` (``epoch_loss``, ``epoch_ccc_*``,
``epoch_learning_rate``, ``epoch_frames_per_second``).

Losses are means of the per-batch CCC loss; CCCs are exact over all frames of the epoch.
"""

import contextlib
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from mimamo_tf import config as config_lib
from mimamo_tf import runs
from mimamo_tf.atomic_files import replacing, write_json
from mimamo_tf.ccc import EVALUATION_GROUPS, ccc_from_sums, validation_cccs
from mimamo_tf.config import ConfigError
from mimamo_tf.data import pipeline, shards
from mimamo_tf.data.training_data import TrainingData
from mimamo_tf.metrics import OUTPUT_NAMES
from mimamo_tf.models import precision
from mimamo_tf.models.backbone import same_features
from mimamo_tf.progress_lines import ProgressLines, progress_seconds
from mimamo_tf.training import distribution, model_setup, two_stage
from mimamo_tf.training.state import Checkpointer, TrainingState, has_checkpoint
from mimamo_tf.training.stream_freezing import TRAINING, StreamFreezer, inherited_streams, stream_mode
from mimamo_tf.training.task import Task
from mimamo_tf.training.weight_averaging import WeightAverage


class History:
    """``history.json``: per-epoch logs, rewritten atomically; a resumed run keeps its past epochs."""

    def __init__(self, model_dir):
        self.path = runs.history_path(model_dir)
        self.epochs = runs.read_history(model_dir)

    def keep_before(self, epoch):
        self.epochs = [e for e in self.epochs if e["epoch"] < epoch]

    def append(self, logs):
        self.epochs.append(logs)
        write_json(self.path, self.epochs)


def _save_model(model, path):
    """``model.save`` through a temporary file and a rename: a kill never leaves half a file."""
    with replacing(path) as temporary:
        model.save(temporary)


def _started_run_config(model_dir):
    """The config of the run already started in ``model_dir`` (its ``flags.cfg``), or None."""
    flags_path = runs.flags_path(model_dir)
    started = has_checkpoint(model_dir) or os.path.exists(runs.history_path(model_dir))
    return config_lib.from_flagfile(flags_path) if started and os.path.isfile(flags_path) else None


def _check_model_dir(config, model_dir, previous):
    """Refuses to continue the run ``previous`` in ``model_dir`` with other settings, naming the flags that differ."""
    if previous is None:
        return
    flags_path = runs.flags_path(model_dir)
    differing = config_lib.differing_flags(previous, config, ignore=config_lib.RESUMABLE_CHANGES)
    if differing:
        old, new = config_lib.flag_values_of(previous), config_lib.flag_values_of(config)
        changes = ", ".join(f"--{name}={old[name]!r} (now {new[name]!r})" for name in differing)
        raise ConfigError(
            f"--model_dir={model_dir} holds a run with other settings: {changes}. Continue it with its own "
            f"flags (--flagfile={flags_path}) or train into another --model_dir.")


def _ccc_logs(values, prefix="", suffix=""):
    logs = {f"{prefix}ccc_{name}{suffix}": float(v) for name, v in zip(OUTPUT_NAMES, values)}
    logs[f"{prefix}ccc_mean{suffix}"] = float(np.mean(values))
    return logs


def _validation_logs(sums):
    """``val_ccc_*`` (official: every valid-label frame, as ``evaluate`` scores) and
    ``val_ccc_*_face_only`` (the frames the loss sees) from the epoch's evaluation sums."""
    official, face_only = validation_cccs(sums)
    return {**_ccc_logs(official, "val_"), **_ccc_logs(face_only, "val_", "_face_only")}


def resolve_features_backbone(config):
    """``config`` with ``--spatial_features`` read from the data's manifest: the backbone its stored
    features came from. Checked first against the ``--init_from`` run's (a fresh run only: a resumed
    one never reads it), then against the configuration's own (a run's ``flags.cfg`` given with new
    data), so that neither fails later as a feature width or a weight that does not fit.

    Raises:
        ConfigError: the data holds features of another backbone (names both, and the prepare flag).
    """
    stored = runs.data_features(config.data.data_dir)
    if not stored:  # hand-made shards, no manifest: only the width can be checked
        return config
    if config.model.init_from and not has_checkpoint(config.runtime.model_dir):
        model_setup.check_init_features(config, stored)
    configured = config.model.spatial_features
    if configured and not same_features(configured, stored):
        raise ConfigError(
            f"--spatial_features={configured}, but the data in {config.data.data_dir} holds features of {stored}: "
            f"prepare it with --spatial_features={configured} (python -m data_prep.prepare), or train on its "
            "features with --spatial_features= --spatial_feature_dim=0 (both then read from the data)")
    return config_lib.replace(config, model={"spatial_features": stored})


def resolve_data_dependent(config):
    """``config`` with the settings read from the data filled in (the backbone of the stored features
    and their width), so the run's ``flags.cfg`` is concrete; the data is checked on the way."""
    if not (config.model.uses_spatial and config.model.spatial_input == "features"):
        return config
    config = resolve_features_backbone(config)
    if not config.model.spatial_feature_dim:
        info = shards.check_shards(shards.split_shards(config.data.data_dir, config.data.train_split),
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
        self.verbose = verbose
        previous = _started_run_config(config.runtime.model_dir)
        config, precision_line, warning = precision.resolve_run_precision(config, previous)
        self._say(precision_line)
        if warning:
            print(warning, file=sys.stderr, flush=True)
        config = resolve_data_dependent(config)
        self.config = config
        runtime = config.runtime
        self.model_dir = runtime.model_dir
        self.out_dir = distribution.writable_dir(self.strategy, self.model_dir)
        _check_model_dir(config, self.model_dir, previous)
        # A run with a saved state resumes from it, which replaces every weight: the checkpoints the
        # config starts from (--init_from, --init_spatial_from/--init_temporal_from) apply to a fresh
        # run only, and a resumed run does not read them (they may be gone by then).
        self.resuming = has_checkpoint(self.model_dir)
        init_checkpoint = None
        if config.model.init_from and not self.resuming:
            init_checkpoint = runs.init_checkpoint(config.model.init_from)  # a missing one fails before any work
        self.data = TrainingData(config)
        self.task = Task(config)
        with self.strategy.scope():
            self.model = self.task.build_model(self.strategy.num_replicas_in_sync, initialise=not self.resuming)
            self.optimizer = self.task.build_optimizer(self.model)
            # Started at the model's first weights (a resumed run restores it with the rest).
            self.average = WeightAverage(self.model, config.optimization.ema_decay) if config.optimization.ema_decay else None
        # Written once the network is built: a checkpoint that does not fit leaves the model dir untouched.
        os.makedirs(os.path.join(self.out_dir, runs.CHECKPOINTS_DIR), exist_ok=True)
        config_lib.to_flagfile(config, runs.flags_path(self.out_dir), header=(
            f"Resolved flags of this run: python -m mimamo_tf.train --flagfile={runs.flags_path(self.model_dir)}\n"
            f"{precision_line}"))
        if init_checkpoint:
            write_json(runs.init_record_path(self.out_dir), model_setup.init_record(config, init_checkpoint))
            self._say(f"Starting from the weights of {init_checkpoint} (--init_from).")
            differing = model_setup.architecture_differences(init_checkpoint, config)
            if differing:
                # The weights fit (checked), e.g. nets on phase differences and on optical flow have
                # the same shapes, but they learnt another input: say so rather than refuse a transfer.
                print(f"Note: its run was trained with {', '.join(differing)}; the weights fit this network and "
                      "are used as they are.", file=sys.stderr, flush=True)
        self.steps = self.task.build_steps(self.model, self.optimizer, self.strategy)
        inherited = inherited_streams(config.model)
        self.freezer = StreamFreezer(self.model, inherited)
        # Validated before its first epoch, so that early stopping never returns a net worse than
        # the trained weights it started from.
        self.starts_from_weights = bool(config.model.init_from or inherited)
        self.state = TrainingState(config.model.num_outputs)
        self.epoch_steps = None  # steps of a full epoch, once one has run in this process
        self.selection_key = runs.selection_key(config)
        self.checkpointer = Checkpointer(self.model, self.optimizer, self.state, self.out_dir, self.model_dir,
                                         average=self.average)
        self.history = History(self.out_dir)
        self.eval_data = self.task.build_validation_inputs(self.strategy, self.data)
        logs = os.path.join(self.out_dir, runs.LOGS_DIR)
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
        if self.starts_from_weights and int(state.global_step) == 0 and not np.isfinite(float(state.best)):
            self._validate_start()
        while int(state.epoch) < opt.epochs and not bool(state.stopped):
            epoch = int(state.epoch)
            if int(state.step_in_epoch) == 0:
                state.start_epoch()
            self.optimizer.learning_rate = opt.learning_rate_at(epoch)
            if self.freezer.set_mode(stream_mode(epoch, opt.freeze_streams_epochs)):
                # Which weights train, and how the streams' BatchNorm and dropout run, are fixed
                # when a step is traced: the epoch needs steps of its own.
                self.steps = self.task.build_steps(self.model, self.optimizer, self.strategy)
            self._train_epoch(epoch)
            with self._validated_weights():
                logs = self._epoch_logs(epoch, self._evaluate())
                improved = state.update_early_stopping(epoch, logs[self.selection_key], opt.patience)
                if improved:
                    _save_model(self.model, runs.checkpoint_path(self.out_dir, "best"))
                _save_model(self.model, runs.checkpoint_path(self.out_dir, "last"))
            self.history.append(logs)
            self._write_summaries(epoch, logs)
            state.finish_epoch()
            # Last: an epoch counts as done for a restart only once its outputs are written.
            self.checkpointer.save()
            self._say(self._epoch_line(epoch, logs) + ("  (best)" if improved else ""))
        if bool(state.stopped):
            self._say(f"Early stopping: {self.selection_key} did not improve for {opt.patience} epochs "
                      f"(best {float(state.best):.4f} at epoch {int(state.best_epoch) + 1}).")
        return self.history.epochs

    def _validated_weights(self):
        """The weights a run validates and saves: the moving average with ``--ema_decay``, else its own."""
        return self.average.swapped_in() if self.average is not None else contextlib.nullcontext()

    def _validate_start(self):
        """Validates the starting weights: ``history.json``'s ``START_EPOCH`` entry, and ``best.keras``
        until an epoch beats them."""
        start = time.perf_counter()
        logs = {"epoch": runs.START_EPOCH, **self._evaluate(), "seconds": time.perf_counter() - start}
        if self.state.record_start(logs[self.selection_key]):  # (an average would hold these weights too)
            _save_model(self.model, runs.checkpoint_path(self.out_dir, "best"))
        self.history.keep_before(runs.START_EPOCH)
        self.history.append(logs)
        self.checkpointer.save()
        self._say(f"Before training (the starting weights): {_validation_text(logs)}")

    def _train_epoch(self, epoch):
        config, state = self.config, self.state
        opt = config.optimization
        done = int(state.step_in_epoch)
        dataset = self.task.build_training_inputs(self.strategy, self.data, epoch, skip_batches=done)
        every = config.runtime.checkpoint_every_steps
        total = opt.steps_per_epoch or self.epoch_steps
        description = f"epoch {epoch + 1}/{opt.epochs}"
        bar = tqdm(total=total, initial=done, desc=description, unit="step", leave=False,
                   disable=None if self.verbose else True, file=sys.stderr)
        if bar.disable and self.verbose:
            # No terminal (a log file, CI, a cluster job): a plain line every ~30 s instead of the bar.
            bar = ProgressLines(description, total=total, initial=done, every=progress_seconds())
        try:
            iterator = iter(dataset)
            while True:
                start = time.perf_counter()
                batch = iterator.get_next_as_optional()
                if not batch.has_value():
                    break
                loss, statistics = self.steps.train(batch.get_value())
                if self.average is not None:
                    self.average.update()
                state.add_step(loss, statistics, time.perf_counter() - start)
                bar.update(1)
                if every and int(state.global_step) % every == 0:
                    self.checkpointer.save()
        except tf.errors.DataLossError as error:
            raise self.data.damaged_data_error(error) from error
        finally:
            bar.close()
        # One pass over the training windows: the next epochs' bars and lines know their length.
        self.epoch_steps = self.epoch_steps or int(state.step_in_epoch)

    def _evaluate(self):
        loss_sum, batches = 0.0, 0
        statistics = np.zeros((len(EVALUATION_GROUPS), 6, self.config.model.num_outputs), np.float64)
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
        return {"val_loss": loss_sum / max(batches, 1), **_validation_logs(statistics)}

    def _epoch_logs(self, epoch, validation):
        state, data = self.state, self.config.data
        steps = max(int(state.step_in_epoch), 1)
        seconds = float(state.seconds)
        frames = int(state.step_in_epoch) * data.batch_size * data.window
        return {
            "epoch": epoch,
            "loss": float(state.loss_sum) / steps,
            **_ccc_logs(ccc_from_sums(*state.statistics.numpy().astype(np.float64))),
            **validation,
            "learning_rate": float(self.config.optimization.learning_rate_at(epoch)),
            "streams": self.freezer.mode,
            "frames_per_second": frames / seconds if seconds else 0.0,
            "seconds": seconds,
        }

    def _write_summaries(self, epoch, logs):
        with self.writers["train"].as_default():
            for key in ("loss", "ccc_arousal", "ccc_valence", "ccc_mean", "learning_rate", "frames_per_second"):
                tf.summary.scalar(f"epoch_{key}", logs[key], step=epoch)
        with self.writers["validation"].as_default():
            for key in ("loss", "ccc_arousal", "ccc_valence", "ccc_mean", "ccc_arousal_face_only",
                        "ccc_valence_face_only", "ccc_mean_face_only"):
                tf.summary.scalar(f"epoch_{key}", logs[f"val_{key}"], step=epoch)
        for writer in self.writers.values():
            writer.flush()

    def _epoch_line(self, epoch, logs):
        faceless = self.data.faceless_train_videos
        skipped = f"  ({len(faceless)} utterances without a face: weight 0)" if faceless else ""
        return (f"Epoch {epoch + 1}/{self.config.optimization.epochs}: loss {logs['loss']:.4f}  "
                f"CCC arousal {logs['ccc_arousal']:.3f} valence {logs['ccc_valence']:.3f}{skipped}  |  "
                f"{_validation_text(logs)}  |  "
                f"lr {logs['learning_rate']:.2g}{'  streams ' + logs['streams'] if logs['streams'] != TRAINING else ''}  "
                f"{logs['frames_per_second']:.0f} frames/s  {logs['seconds']:.0f} s")


def _validation_text(logs):
    """The validation part of an epoch line (and of the starting weights' line)."""
    return (f"val loss {logs['val_loss']:.4f}  val CCC arousal {logs['val_ccc_arousal']:.3f} "
            f"valence {logs['val_ccc_valence']:.3f} mean {logs['val_ccc_mean']:.4f} "
            f"(face-only {logs['val_ccc_mean_face_only']:.4f})")


def _train_run(config, verbose):
    """One run directory: ``config`` trained into ``config.runtime.model_dir``."""
    return Trainer(config, verbose=verbose).run()


def train(config, verbose=True):
    """Trains ``config`` (an ``ExperimentConfig``) into ``config.runtime.model_dir``; returns the history
    (with ``--two_stage`` on a two-stream net: stage one's runs first, then the two-stream run's
    history, ``two_stage.train_two_stage``).

    Raises:
        ConfigError: the configuration cannot work (names the flag).
        mimamo_tf.data.shards.DataError: the data cannot feed it (names the file).
    """
    if two_stage.applies(config):
        return two_stage.train_two_stage(config, _train_run, verbose=verbose)
    return _train_run(config, verbose)

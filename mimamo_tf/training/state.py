"""What a fault-tolerance checkpoint holds, and how it is written and found again.

``<model_dir>/checkpoints/state/ckpt-N`` (a ``tf.train.CheckpointManager``, newest two kept) holds:
every model variable (weights, BatchNorm statistics and the dropout layers' random-generator state),
the optimizer (step count, learning rate, momentum), and ``TrainingState``: the position in the
data (epoch, step within it, global step), the early-stopping state and the running sums of the
current epoch's training loss and CCC statistics. Restoring it and rebuilding the epoch's data
stream at that position (``mimamo_tf.training.inputs``) continues the run exactly where it was.

TensorFlow writes a checkpoint's files first and then replaces the ``checkpoint`` index file
atomically, so a kill during a save leaves the previous checkpoint as the latest.
"""

import os

import numpy as np
import tensorflow as tf

from mimamo_tf import runs
from mimamo_tf.ccc import STATISTICS

STATE_DIR = runs.STATE_DIR


class TrainingState(tf.Module):
    """The trainer's counters and accumulators, as checkpointable variables.

    Attributes:
        epoch: epochs finished.
        step_in_epoch: training steps finished in the current epoch.
        global_step: training steps finished in the run.
        best, best_epoch, wait, stopped: early stopping on validation mean CCC.
        loss_sum, statistics, seconds: the current epoch's training loss sum, CCC sums and time.
    """

    def __init__(self, num_outputs=2):
        super().__init__(name="training_state")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.best = tf.Variable(-np.inf, dtype=tf.float64, trainable=False)
        self.best_epoch = tf.Variable(-1, dtype=tf.int64, trainable=False)
        self.wait = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.stopped = tf.Variable(False, trainable=False)
        self.loss_sum = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.statistics = tf.Variable(np.zeros((len(STATISTICS), num_outputs)), dtype=tf.float64, trainable=False)
        self.seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False)

    def start_epoch(self):
        """Clears the epoch's accumulators (the position is set by ``finish_epoch``)."""
        self.step_in_epoch.assign(0)
        self.loss_sum.assign(0.0)
        self.statistics.assign(tf.zeros_like(self.statistics))
        self.seconds.assign(0.0)

    def add_step(self, loss, statistics, seconds):
        self.step_in_epoch.assign_add(1)
        self.global_step.assign_add(1)
        self.loss_sum.assign_add(tf.cast(loss, tf.float64))
        self.statistics.assign_add(statistics)
        self.seconds.assign_add(seconds)

    def update_early_stopping(self, epoch, value, patience):
        """Records epoch ``epoch``'s validation value; returns True if it is the best so far."""
        best = float(self.best.numpy())
        improved = runs.is_improvement(float(value), best if np.isfinite(best) else None)
        if improved:
            self.best.assign(value)
            self.best_epoch.assign(epoch)
            self.wait.assign(0)
        else:
            self.wait.assign_add(1)
        if patience and int(self.wait.numpy()) >= patience:
            self.stopped.assign(True)
        return improved

    def record_start(self, value):
        """Records the starting weights' validation value (``runs.START_EPOCH``) as the one every epoch
        must beat; returns True if it is finite (then ``best.keras`` is those weights)."""
        if not runs.is_improvement(float(value), None):
            return False
        self.best.assign(value)
        self.best_epoch.assign(runs.START_EPOCH)
        return True

    def finish_epoch(self):
        self.epoch.assign_add(1)
        self.step_in_epoch.assign(0)


class Checkpointer:
    """Saves and restores model, optimizer and ``TrainingState`` for fault tolerance.

    Args:
        model, optimizer, state: what to save.
        average: the run's ``weight_averaging.WeightAverage`` (``--ema_decay``), saved too, or None.
        write_dir: where this process writes (the model dir on the chief, a private directory on
            other workers: under ``MultiWorkerMirroredStrategy`` every worker takes part in a save).
        read_dir: where a restart looks for the latest checkpoint. Every worker restores from the
            chief's model dir, so all of them continue from the same step (the model dir must be
            on storage every worker sees, as ``MultiWorkerMirroredStrategy`` resumption requires).
    """

    def __init__(self, model, optimizer, state, write_dir, read_dir, average=None):
        parts = {"weight_average": average} if average is not None else {}
        self.checkpoint = tf.train.Checkpoint(
            model_variables=list(model.variables), optimizer=optimizer, state=state, **parts)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, os.path.join(write_dir, STATE_DIR), max_to_keep=2)
        self.read_dir = os.path.join(read_dir, STATE_DIR)

    def restore_latest(self):
        """Restores the newest checkpoint, if any; returns its path or None."""
        path = tf.train.latest_checkpoint(self.read_dir)
        if path:
            self.checkpoint.restore(path).assert_existing_objects_matched()
        return path

    def save(self):
        return self.manager.save()


def has_checkpoint(model_dir):
    return tf.train.latest_checkpoint(os.path.join(model_dir, STATE_DIR)) is not None


def finished_epochs(model_dir, epochs):
    """Whether the run in ``model_dir`` has trained ``epochs`` epochs or stopped early, read from its
    latest fault-tolerance checkpoint (nothing is built); False without one."""
    path = tf.train.latest_checkpoint(os.path.join(model_dir, STATE_DIR))
    if path is None:
        return False
    reader = tf.train.load_checkpoint(path)
    done = int(reader.get_tensor("state/epoch/.ATTRIBUTES/VARIABLE_VALUE"))
    return done >= epochs or bool(reader.get_tensor("state/stopped/.ATTRIBUTES/VARIABLE_VALUE"))

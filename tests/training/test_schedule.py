"""The step schedule reaches the optimizer in the epoch it names: with ``--lr_decay=0`` after epoch 1
(``--lr_decay_epochs=1``) and plain SGD (no momentum, no weight decay), the weights move during the
first epoch and not at all during the second — the physical effect of a zero learning rate, not
the logged number."""

import pathlib

import numpy as np
import pytest

from mimamo_tf import config as config_lib
from mimamo_tf.testing.tiny_shards import tiny_video, write_shards

REPO = pathlib.Path(__file__).resolve().parents[2]
SMOKE = str(REPO / "configs" / "smoke.cfg")


def _config(data_dir, model_dir, epochs):
    return config_lib.from_flagfile(SMOKE, [
        f"--data_dir={data_dir}", f"--model_dir={model_dir}", f"--epochs={epochs}", "--steps_per_epoch=2",
        "--validation_steps=1", "--learning_rate=0.05", "--momentum=0", "--weight_decay=0",
        "--lr_decay_epochs=1", "--lr_decay=0"])


def _trainable(trainer):
    return [v.numpy().copy() for v in trainer.model.trainable_variables]


@pytest.fixture(scope="module")
def weights_by_epoch(tmp_path_factory):
    """Trainable weights before training, after epoch 1 and after epoch 2 (the run continued in
    the same model directory with --epochs=2, as a user extends a run)."""
    from mimamo_tf.training import Trainer

    data_dir = tmp_path_factory.mktemp("schedule_data")
    videos = [tiny_video(f"l{i}", 16, i, spatial_dim=16) for i in range(3)]
    write_shards(data_dir, "train", videos[:2])
    write_shards(data_dir, "validation", videos[2:])
    model_dir = tmp_path_factory.mktemp("schedule_run")
    first = Trainer(_config(data_dir, model_dir, 1), verbose=False)
    before = _trainable(first)
    history = first.run()
    after_one = _trainable(first)
    second = Trainer(_config(data_dir, model_dir, 2), verbose=False)
    history = second.run()
    after_two = _trainable(second)
    return before, after_one, after_two, history


@pytest.mark.slow
def test_weights_move_in_epoch_one_and_freeze_at_learning_rate_zero(weights_by_epoch):
    before, after_one, after_two, history = weights_by_epoch
    assert [e["epoch"] for e in history] == [0, 1]
    moved = [not np.array_equal(a, b) for a, b in zip(before, after_one)]
    assert sum(moved) > len(moved) // 2, "epoch 1 (learning rate 0.05) left most weights unchanged"
    changed = [i for i, (a, b) in enumerate(zip(after_one, after_two)) if not np.array_equal(a, b)]
    assert not changed, (f"{len(changed)} of {len(after_one)} trainable variables changed in epoch 2, "
                         "whose learning rate is 0")

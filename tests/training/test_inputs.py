"""The trainer's input stream is a function of (seed, epoch): the same epoch rebuilt gives the same
batches (what resuming relies on), and another epoch gives another order and other augmentation
(otherwise every epoch would train on one fixed sequence of crops and flips)."""

import numpy as np
import pytest
import tensorflow as tf

from mimamo_tf.data.pipeline import PipelineConfig
from mimamo_tf.testing.tiny_shards import tiny_video, write_shards
from mimamo_tf.training.inputs import training_dataset

STEPS = 4


@pytest.fixture(scope="module")
def train_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("inputs")
    videos = [tiny_video(f"s{i}", 24 + 3 * i, i, spatial_dim=8) for i in range(4)]
    for video in videos:
        video["face_found"][:] = 1  # every window counts: the stream is not thinned by the filter
    return write_shards(directory, "train", videos, num_shards=2)


def _epoch(files, epoch, seed=3):
    config = PipelineConfig(window=8, stride=4, batch_size=2, context=6, seed=seed, spatial_dim=8)
    dataset = training_dataset(tf.distribute.get_strategy(), files, config, epoch, steps_per_epoch=STEPS)
    batches = [(inputs["gray48"].numpy(), inputs["spatial_features"].numpy(), labels.numpy())
               for inputs, labels in dataset]
    assert len(batches) == STEPS
    return batches


def _same(a, b):
    return all(np.array_equal(x, y) for batch_a, batch_b in zip(a, b) for x, y in zip(batch_a, batch_b))


def _window_keys(batches):
    """Which windows, in order: their (arousal, valence) labels identify them (smooth per video)."""
    return [tuple(np.round(labels[i, :, :2], 5).ravel()) for _, _, labels in batches for i in range(len(labels))]


def test_the_same_epoch_twice_gives_identical_batches(train_files):
    assert _same(_epoch(train_files, 1), _epoch(train_files, 1))


def test_each_epoch_has_its_own_order_and_augmentation(train_files):
    epochs = [_epoch(train_files, e) for e in range(3)]
    for a in range(3):
        for b in range(a + 1, 3):
            assert not _same(epochs[a], epochs[b]), f"epochs {a} and {b} fed identical batches"
            # The windows come in another order (or are other windows), not merely re-cropped.
            assert _window_keys(epochs[a]) != _window_keys(epochs[b]), f"epochs {a} and {b}: same windows in the same order"
    # Augmentation differs too: the gray frames of a window seen in two epochs are cropped/flipped differently.
    seen = {}
    differing = 0
    for batches in epochs:
        for gray, _, labels in batches:
            for i in range(len(labels)):
                key = tuple(np.round(labels[i, :, :2], 5).ravel())
                if key in seen:
                    differing += not np.array_equal(seen[key], gray[i])
                seen[key] = gray[i]
    assert differing > 0


def test_another_seed_gives_another_stream(train_files):
    assert not _same(_epoch(train_files, 0, seed=3), _epoch(train_files, 0, seed=4))

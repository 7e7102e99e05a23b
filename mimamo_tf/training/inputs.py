"""Distributed input for the trainer: every worker builds its own pipeline from its ``InputContext``.

Exactness and resumability both come from one rule: **the stream of global batches of an epoch is a
deterministic function of (seed, epoch)**. Each epoch's training dataset is built afresh with a
seed derived from the run's seed and the epoch (file order, window shuffle, crops and flips), so:

* under several workers, each input pipeline builds the same stream of global batches and keeps its
  slice of every batch — together the replicas see exactly the batch one device would see;
* a run resumed at step ``k`` of epoch ``e`` rebuilds epoch ``e``'s stream and skips ``k`` batches:
  it sees the batches the uninterrupted run saw. The position (epoch, step) is what the checkpoint
  stores. (Checkpointing the tf.data iterator itself would store the 256-window shuffle buffer —
  hundreds of MB per checkpoint for 64-frame windows with stored features — and does not work for
  pipelines with Python ops such as the optical-flow input.) Skipping costs pipeline time only, which
  runs ~100x faster than training.

Every pipeline reads all shards; that is cheap next to the training step and needs no minimum
number of shards per worker.
"""

import dataclasses
import zlib

import tensorflow as tf

from mimamo_tf.config import ConfigError
from mimamo_tf.data import pipeline


def epoch_seed(seed, epoch):
    """The data seed of one epoch: distinct per (seed, epoch), stable across processes."""
    return zlib.crc32(f"{seed}:{epoch}".encode()) & 0x7FFFFFFF


def _pad_batch(batch, size):
    """Pads a final partial evaluation batch to ``size`` with all-masked windows (weight 0)."""

    def pad(tensor):
        missing = size - tf.shape(tensor)[0]
        paddings = tf.concat([[[0, missing]], tf.zeros([tf.rank(tensor) - 1, 2], tf.int32)], 0)
        return tf.pad(tensor, paddings)

    return tf.nest.map_structure(pad, batch)


def _share(dataset, context, global_batch):
    """This input pipeline's part of every global batch, cut into per-replica batches.

    Pipeline ``i`` of ``P`` takes rows ``[i B/P, (i+1) B/P)`` of each global batch ``B``; with more
    than one replica per pipeline (several local GPUs) those rows are re-batched per replica, in
    order, which is how ``distribute_datasets_from_function`` hands batches to local replicas.
    """
    per_replica = context.get_per_replica_batch_size(global_batch)
    pipelines, index = context.num_input_pipelines, context.input_pipeline_id
    per_pipeline = global_batch // pipelines
    if pipelines > 1:
        dataset = dataset.map(lambda *batch: tf.nest.map_structure(
            lambda t: t[index * per_pipeline:(index + 1) * per_pipeline], batch))
    if per_pipeline != per_replica:
        dataset = dataset.unbatch().batch(per_replica, drop_remainder=True)
    return dataset


def _check_divisible(strategy, global_batch):
    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        raise ConfigError(f"--batch_size={global_batch} must be a multiple of the {replicas} replicas in sync")


def _options():
    options = tf.data.Options()
    # Each pipeline takes its slice of the batches itself (see _share); no automatic sharding.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return options


def training_dataset(strategy, files, pipeline_config, epoch, skip_batches=0, steps_per_epoch=0,
                     video_ids=None, record_limits=None):
    """The distributed training batches ``(inputs, labels)`` of ``epoch``, from batch ``skip_batches`` on.

    Args:
        strategy: the run's strategy.
        files: training shards.
        pipeline_config: ``PipelineConfig`` (its ``seed`` is the run's seed).
        epoch: 0-based epoch; with the seed it fixes the order and augmentation.
        skip_batches: batches of this epoch already trained (resume).
        steps_per_epoch: batches per epoch (the data repeats as needed), 0 for one pass.
        video_ids, record_limits: as ``pipeline.make_dataset``.
    """
    _check_divisible(strategy, pipeline_config.batch_size)
    config = dataclasses.replace(pipeline_config, seed=epoch_seed(pipeline_config.seed, epoch))

    def dataset_fn(context):
        dataset = pipeline.make_dataset(files, config, training=True, video_ids=video_ids,
                                        repeat=bool(steps_per_epoch), record_limits=record_limits)
        if steps_per_epoch:
            dataset = dataset.take(steps_per_epoch)
        dataset = pipeline.to_keras(dataset.skip(skip_batches), config)
        return _share(dataset, context, config.batch_size).with_options(_options())

    return strategy.distribute_datasets_from_function(dataset_fn)


def evaluation_dataset(strategy, files, pipeline_config, steps=0, video_ids=None, record_limits=None):
    """The distributed validation batches: every window once, the last batch padded with masked windows."""
    _check_divisible(strategy, pipeline_config.batch_size)

    def dataset_fn(context):
        dataset = pipeline.make_dataset(files, pipeline_config, training=False, video_ids=video_ids,
                                        record_limits=record_limits)
        if steps:
            dataset = dataset.take(steps)
        dataset = pipeline.to_keras(dataset, pipeline_config)
        dataset = dataset.map(lambda *batch: _pad_batch(batch, pipeline_config.batch_size))
        return _share(dataset, context, pipeline_config.batch_size).with_options(_options())

    return strategy.distribute_datasets_from_function(dataset_fn)

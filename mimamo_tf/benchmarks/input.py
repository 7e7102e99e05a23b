"""``python -m mimamo_tf.bench input``: does the input pipeline keep up with training?

Writes temporary shards of random videos with stored 2048-d spatial features (the paper
configuration: 48x48 gray frames for the in-graph phase front end + frozen-backbone features), then
measures in one run (1) frames/s the tf.data training pipeline delivers (parse, 64-frame windows with
context, augmentation, batching) and (2) frames/s one training step of the paper configuration
consumes (MIMAMO Net, SGD, masked CCC loss) on a fixed batch. The pipeline must deliver more.
"""

import os
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import flags

from mimamo_tf.config import ExperimentConfig, ModelConfig
from mimamo_tf.data import schema, shards
from mimamo_tf.data.pipeline import make_dataset, PipelineConfig, to_keras
from mimamo_tf.losses import MaskedCCCLoss
from mimamo_tf.models import build_mimamo_net


def write_random_shards(directory, videos, frames):
    rng = np.random.default_rng(0)
    jpeg = schema.encode_jpeg(np.zeros((224, 224, 3), np.uint8))
    path = os.path.join(directory, shards.shard_name("train", 0, 1))
    with tf.io.TFRecordWriter(path) as writer:
        for v in range(videos):
            example = schema.make_sequence_example(
                video_id=f"bench{v}", dataset="bench", split="train", fps=30.0,
                gray48=rng.integers(0, 255, (frames, 48, 48), dtype=np.uint8),
                face_found=np.ones(frames, np.int64), arousal=rng.uniform(-1, 1, frames),
                valence=rng.uniform(-1, 1, frames), label_valid=np.ones(frames, np.int64),
                label_level="frame", rgb224_jpeg=[jpeg] * frames,
                spatial_features=rng.normal(size=(frames, 2048)).astype(np.float16),
            )
            writer.write(schema.serialize(example))
    return [path]


def define_flags(flag_values):
    paper = ExperimentConfig()
    flags.DEFINE_integer("videos", 8, "Temporary videos to write.", flag_values=flag_values)
    flags.DEFINE_integer("frames", 300, "Frames per video.", flag_values=flag_values)
    flags.DEFINE_integer("batches", 20, "Pipeline batches timed.", flag_values=flag_values)
    flags.DEFINE_integer("steps", 4, "Training steps timed.", flag_values=flag_values)
    flags.DEFINE_integer("window", paper.data.window, "Frames per window (the paper: 64).", flag_values=flag_values)
    flags.DEFINE_integer("batch_size", paper.data.batch_size, "Windows per batch (the paper: 8).", flag_values=flag_values)


def main(flag_values):
    frames_per_batch = flag_values.batch_size * flag_values.window
    with tempfile.TemporaryDirectory() as directory:
        files = write_random_shards(directory, flag_values.videos, flag_values.frames)
        config = PipelineConfig(window=flag_values.window, stride=32, batch_size=flag_values.batch_size)
        dataset = to_keras(make_dataset(files, config, training=True, repeat=True), config)
        iterator = iter(dataset)
        batch = next(iterator)  # warm-up: builds the pipeline
        start = time.perf_counter()
        for _ in range(flag_values.batches):
            next(iterator)
        pipeline_rate = flag_values.batches * frames_per_batch / (time.perf_counter() - start)

    model = build_mimamo_net(ModelConfig())
    model.compile(optimizer=keras.optimizers.SGD(1e-3, momentum=0.9, weight_decay=5e-4), loss=MaskedCCCLoss())
    inputs, labels = batch
    model.train_on_batch(inputs, labels)  # warm-up: traces the step
    start = time.perf_counter()
    for _ in range(flag_values.steps):
        model.train_on_batch(inputs, labels)
    train_rate = flag_values.steps * frames_per_batch / (time.perf_counter() - start)

    print(f"\nInput pipeline vs training step — {os.cpu_count()} CPU cores, batches of "
          f"{flag_values.batch_size} x {flag_values.window} frames, paper configuration on stored spatial features")
    print(f"{'stage':<58} {'frames/s':>10}")
    print(f"{'tf.data pipeline (parse, windows + context, augment, batch)':<58} {pipeline_rate:>10.0f}")
    print(f"{'training step (phase front end + two streams + BiGRU, SGD)':<58} {train_rate:>10.1f}")
    print(f"pipeline / training = {pipeline_rate / train_rate:.1f}x: "
          f"{'the pipeline keeps up' if pipeline_rate > train_rate else 'the PIPELINE IS THE BOTTLENECK'}")
    return 0 if pipeline_rate > train_rate else 1


"""Frozen and fine-tuned streams of a two-stream net: which weights train, how BatchNorm and dropout
run, and that a training step leaves frozen weights exactly as they were."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mimamo_tf import config as config_lib
from mimamo_tf.models import build_mimamo_net
from mimamo_tf.training.stream_freezing import FINE_TUNING, FROZEN, TRAINING, StreamFreezer, stream_mode


def test_stream_mode_by_epoch():
    assert [stream_mode(e, 2) for e in range(4)] == [FROZEN, FROZEN, FINE_TUNING, FINE_TUNING]
    assert stream_mode(0, 0) == TRAINING
    assert [stream_mode(e, -1) for e in range(3)] == [FROZEN] * 3  # config.FROZEN_THROUGHOUT


def _net():
    keras.utils.set_random_seed(0)
    # A small temporal input keeps the step fast; the structure is the paper's.
    return build_mimamo_net(config_lib.ModelConfig(spatial_feature_dim=16, snippet_length=2, gru_units=8))


def _inputs(model, frames=3):
    rng = np.random.default_rng(0)
    shapes = {name: (2, frames + 2, 48, 48) if name == "gray48" else (2, frames, 16) for name in model.input}
    return {name: rng.uniform(0, 1, shape).astype("float32") for name, shape in shapes.items()}


def _step(model, inputs):
    optimizer = keras.optimizers.SGD(0.1)
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(keras.ops.square(model(inputs, training=True) - 0.5))
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))


def _stream_values(model):
    layers = [model.get_layer("spatial_per_frame"), model.get_layer("temporal_per_frame")]
    return {w.path: w.numpy().copy() for layer in layers for w in layer.weights}


@pytest.mark.parametrize("mode", [FROZEN, FINE_TUNING])
def test_a_step_in_each_mode_moves_exactly_the_weights_it_should(mode):
    model = _net()
    inputs = _inputs(model)
    freezer = StreamFreezer(model, ("spatial", "temporal"))
    assert freezer.set_mode(mode) and not freezer.set_mode(mode)
    assert all(layer.rate == 0.0 for layer in freezer.dropouts)
    assert model.get_layer("fusion_dropout").rate == 0.5  # the fusion layers' dropout is not the streams'
    # Inference-mode streams: the stream features are the same in training and inference calls.
    stream = model.get_layer("spatial_per_frame")
    features = inputs["spatial_features"]
    np.testing.assert_allclose(stream(features, training=True), stream(features, training=False), rtol=1e-6)
    before = _stream_values(model)
    head = model.get_layer("arousal_valence").get_weights()[0].copy()
    _step(model, inputs)
    after = _stream_values(model)
    moved = {path for path in before if not np.array_equal(before[path], after[path])}
    statistics = {p for p in before if p.endswith(("moving_mean", "moving_variance", "gamma", "beta"))}
    kernels = {p for p in before if p.endswith("kernel")}
    assert not np.array_equal(model.get_layer("arousal_valence").get_weights()[0], head)
    if mode == FROZEN:
        assert not moved
    else:
        assert kernels <= moved and not moved & statistics


def test_a_run_that_freezes_nothing_is_left_as_built():
    model = _net()
    freezer = StreamFreezer(model, ())
    assert not freezer.set_mode(FROZEN)
    assert len(model.trainable_variables) == len(_net().trainable_variables)

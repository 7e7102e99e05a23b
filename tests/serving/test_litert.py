"""``litert_op_names`` reads the operators of a LiteRT file from its FlatBuffer (public schema
bindings), not from an interpreter's private op list."""

import numpy as np
import pytest
import tensorflow as tf

from mimamo_tf.serving.litert import LiteRTFileError, litert_op_names


def _convert(function, path):
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()])
    path.write_bytes(converter.convert())
    return path


@pytest.fixture(scope="module")
def dense_file(tmp_path_factory):
    """A Keras Dense(3) + ReLU: one FULLY_CONNECTED with the activation fused into it."""
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu")])
    function = tf.function(lambda x: model(x), input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    return _convert(function, tmp_path_factory.mktemp("litert") / "dense.tflite")


@pytest.fixture(scope="module")
def loop_file(tmp_path_factory):
    """A while loop: WHILE in the primary subgraph, its condition and body in two more subgraphs."""

    @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
    def double_until_large(x):
        return tf.while_loop(lambda v: tf.reduce_sum(v) < 100.0, lambda v: v * 2.0, [x])[0]

    return _convert(double_until_large, tmp_path_factory.mktemp("litert") / "loop.tflite")


def test_a_dense_layer_is_one_fully_connected(dense_file):
    assert litert_op_names(dense_file) == litert_op_names(str(dense_file)) == ["FULLY_CONNECTED"]


def test_every_subgraph_counts(loop_file):
    ops = litert_op_names(loop_file)
    # WHILE in the primary subgraph; the condition's LESS and the body's MUL in their own subgraphs.
    assert "WHILE" in ops and "MUL" in ops and "LESS" in ops, ops


def test_a_custom_op_has_its_custom_code(tmp_path):
    @tf.function(input_signature=[tf.TensorSpec([3], tf.float32)])
    def igamma_plus_one(x):
        return tf.raw_ops.Igamma(a=x, x=x) + 1.0  # Igamma is no LiteRT builtin

    converter = tf.lite.TFLiteConverter.from_concrete_functions([igamma_plus_one.get_concrete_function()])
    converter.allow_custom_ops = True
    path = tmp_path / "custom.tflite"
    path.write_bytes(converter.convert())
    assert litert_op_names(path) == ["ADD", "Igamma"]


def test_a_file_that_is_not_litert_is_refused(tmp_path):
    path = tmp_path / "model.tflite"
    path.write_bytes(np.arange(64, dtype=np.uint8).tobytes())
    with pytest.raises(LiteRTFileError, match="is not a LiteRT"):
        litert_op_names(path)

"""The moving average of the weights (``--ema_decay``) against a NumPy recurrence, swapped in and
out exactly, and restored from a checkpoint."""

import keras
import numpy as np
import tensorflow as tf

from mimamo_tf.training.weight_averaging import WeightAverage


def _model():
    inputs = keras.Input((3,))
    x = keras.layers.Dense(4, name="dense")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(x))


def _numpy_average(trajectory, decay):
    """The EMA of a list of weight vectors with tf.train.ExponentialMovingAverage's warm-up rule."""
    average = trajectory[0].copy()
    for n, weights in enumerate(trajectory[1:]):
        d = min(decay, (1.0 + n) / (10.0 + n))
        average = d * average + (1.0 - d) * weights
    return average


def _flat(variables):
    return np.concatenate([np.asarray(v).ravel() for v in variables])


def test_the_average_follows_the_numpy_recurrence_and_swaps_exactly():
    keras.utils.set_random_seed(1)
    model = _model()
    average = WeightAverage(model, decay=0.9)
    # Every float weight is averaged, BatchNorm statistics included (6 + 4 = 10 weights here).
    assert len(average.sources) == len(model.weights) == 8
    rng = np.random.default_rng(0)
    trajectory = [_flat(model.get_weights())]
    for _ in range(30):
        model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in model.get_weights()])
        average.update()
        trajectory.append(_flat(model.get_weights()))
    expected = _numpy_average(trajectory, 0.9)
    np.testing.assert_allclose(_flat([a.numpy() for a in average.averages]), expected, rtol=1e-5, atol=1e-6)
    own = model.get_weights()
    with average.swapped_in():
        np.testing.assert_allclose(_flat(model.get_weights()), expected, rtol=1e-5, atol=1e-6)
    for a, b in zip(model.get_weights(), own):
        np.testing.assert_array_equal(a, b)


def test_the_average_is_restored_from_a_checkpoint(tmp_path):
    model = _model()
    average = WeightAverage(model, decay=0.99)
    model.set_weights([w + 1.0 for w in model.get_weights()])
    average.update()
    saved = tf.train.Checkpoint(weight_average=average).save(str(tmp_path / "ckpt"))
    other = WeightAverage(model, decay=0.99)
    tf.train.Checkpoint(weight_average=other).restore(saved).assert_existing_objects_matched()
    assert int(other.updates) == 1
    for a, b in zip(other.averages, average.averages):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

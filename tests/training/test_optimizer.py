"""The paper's optimiser: PyTorch SGD with coupled weight decay, against its update rule in NumPy."""

import keras
import numpy as np
import pytest

from mimamo_tf.training.optimizer import CoupledWeightDecaySGD


def _pytorch_sgd(w, gradients, lr, momentum, weight_decay):
    """PyTorch's SGD (``torch.optim.SGD`` documentation): d = g + wd * w; buf = mu * buf + d; w -= lr * buf."""
    w, buf = w.copy(), None
    for g in gradients(w):
        d = g(w) + weight_decay * w
        buf = d if buf is None else momentum * buf + d
        w = w - lr * buf
    return w


@pytest.mark.parametrize("weight_decay", [5e-4, 5e-2])
def test_coupled_weight_decay_sgd_matches_pytorch_update_rule(weight_decay):
    rng = np.random.default_rng(0)
    target = rng.normal(size=6).astype(np.float32)
    start = rng.normal(size=6).astype(np.float32)
    steps, lr, momentum = 25, 0.05, 0.9

    def gradient_of_quadratic(w):  # gradient of 0.5 * |w - target|^2
        return w - target

    expected = _pytorch_sgd(start, lambda w: [gradient_of_quadratic] * steps, lr, momentum, weight_decay)
    variable = keras.Variable(start)
    optimizer = CoupledWeightDecaySGD(l2=weight_decay, learning_rate=lr, momentum=momentum)
    for _ in range(steps):
        optimizer.apply_gradients([(variable - target, variable)])
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-5, atol=1e-6)

    # Keras' decoupled weight decay at the same value is a different (weaker) regulariser.
    decoupled = keras.Variable(start)
    keras_sgd = keras.optimizers.SGD(learning_rate=lr, momentum=momentum, weight_decay=weight_decay)
    for _ in range(steps):
        keras_sgd.apply_gradients([(decoupled - target, decoupled)])
    assert not np.allclose(decoupled.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_round_trips_through_its_config():
    optimizer = CoupledWeightDecaySGD(l2=1e-3, learning_rate=0.1, momentum=0.8)
    clone = CoupledWeightDecaySGD.from_config(optimizer.get_config())
    assert clone.l2 == 1e-3 and clone.momentum == pytest.approx(0.8)

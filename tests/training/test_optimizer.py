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


def test_clip_gradient_norm_scales_the_step_to_the_global_norm_before_the_weight_decay():
    """``--clip_gradient_norm``: a gradient of global norm 50 over two variables becomes one of norm
    2 (same direction); the coupled decay term is added after the clipping."""
    from mimamo_tf import config as config_lib
    from mimamo_tf.training.optimizer import build_optimizer

    config = config_lib.replace(config_lib.ExperimentConfig(), optimization={
        "clip_gradient_norm": 2.0, "momentum": 0.0, "learning_rate": 0.1, "lr_decay_epochs": (),
        "weight_decay": 0.01})
    a, b = keras.Variable(np.ones(3, np.float32)), keras.Variable(np.ones(4, np.float32))

    class Model:  # what build_optimizer reads of a model
        trainable_variables = [a, b]

    optimizer = build_optimizer(config, Model())
    ga, gb = np.full(3, 30.0 / np.sqrt(3), np.float32), np.full(4, 40.0 / 2.0, np.float32)  # norms 30, 40
    optimizer.apply_gradients([(ga, a), (gb, b)])
    scale = 2.0 / 50.0
    np.testing.assert_allclose(a.numpy(), 1 - 0.1 * (ga * scale + 0.01), rtol=1e-5)
    np.testing.assert_allclose(b.numpy(), 1 - 0.1 * (gb * scale + 0.01), rtol=1e-5)

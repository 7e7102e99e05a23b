"""SGD with the weight decay the paper trained with (PyTorch's coupled L2).

PyTorch's ``SGD(weight_decay=wd)`` adds ``wd * w`` to every gradient before the momentum buffer;
Keras' ``weight_decay`` shrinks the weights directly, after the update ("decoupled"). With momentum
0.9 the coupled term is carried by the momentum buffer and ends up ~1/(1 - 0.9) = 10x stronger than
the decoupled one at the same value.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mimamo_tf")
class CoupledWeightDecaySGD(keras.optimizers.SGD):
    """``keras.optimizers.SGD`` whose weight decay is PyTorch's: ``l2 * w`` added to the gradient.

    With a constant learning rate it produces exactly PyTorch's iterates
    (``buf = momentum * buf + (g + l2 * w); w -= lr * buf``). Every trainable variable is decayed,
    as the authors' ``SGD(model.parameters(), weight_decay=5e-4)`` did.

    Args:
        l2: coefficient of the L2 gradient term.
        **kwargs: ``keras.optimizers.SGD`` arguments (leave its ``weight_decay`` unset).

    Example:
        >>> optimizer = CoupledWeightDecaySGD(l2=5e-4, learning_rate=1e-3, momentum=0.9)
    """

    def __init__(self, l2=5e-4, **kwargs):
        super().__init__(**kwargs)
        self.l2 = float(l2)

    def update_step(self, gradient, variable, learning_rate):
        gradient = ops.cast(gradient, variable.dtype)
        decayed = ops.add(gradient, ops.multiply(ops.cast(self.l2, variable.dtype), variable))
        super().update_step(decayed, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "l2": self.l2}


def build_optimizer(config, model):
    """The run's SGD (coupled or decoupled weight decay); loss scaling for float16. Its slots are
    created now, so that a checkpoint restores into them."""
    opt = config.optimization
    common = dict(learning_rate=opt.learning_rate_at(0), momentum=opt.momentum,
                  global_clipnorm=opt.clip_gradient_norm or None)
    if opt.weight_decay_type == "coupled":
        optimizer = CoupledWeightDecaySGD(l2=opt.weight_decay, **common)
    else:
        optimizer = keras.optimizers.SGD(weight_decay=opt.weight_decay or None, **common)
    if config.runtime.mixed_precision == "float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    optimizer.build(model.trainable_variables)
    return optimizer

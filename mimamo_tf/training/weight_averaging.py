"""An exponential moving average of a network's weights (``--ema_decay``): what a run validates,
selects and saves, while SGD trains the raw weights.

On small data the weights after an epoch of SGD scatter around a good region, and the validation CCC
scatters with them: on the demo data a two-stream net moved by up to 0.2 from one epoch to the next,
with frozen streams and at a tenth of the learning rate too (docs/results.md). Their average over the
last steps sits near the centre of that region (Polyak averaging; the EMA of TF Model Garden's
``ExponentialMovingAverage`` optimizer and of timm's ``ModelEmaV2``), so the validated net changes
slowly and is usually better than any single step's.

Every floating-point weight is averaged: kernels, biases, BatchNorm scales and moving statistics
(the averaged net's BatchNorm statistics then match its averaged weights about as well as the raw
net's do its own). Early steps are averaged with a smaller decay, ``min(decay, (1 + n) / (10 + n))``
after ``n`` updates (``tf.train.ExponentialMovingAverage``'s ``num_updates`` rule), so a short run
is not dominated by its random initial weights.
"""

import contextlib

import keras
import tensorflow as tf


class WeightAverage(tf.Module):
    """The moving average of a model's floating-point weights, checkpointable.

    Args:
        model: the Keras model (create this in the same ``strategy.scope()`` as the model).
        decay: the per-step decay in (0, 1); ~1 / (1 - decay) steps are averaged.

    Example:
        >>> average = WeightAverage(model, decay=0.95)
        >>> average.update()                 # after each training step
        >>> with average.swapped_in():       # validate and save the averaged net
        ...     evaluate(); model.save(path)
    """

    def __init__(self, model, decay):
        super().__init__(name="weight_average")
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.sources = [w for w in model.weights if keras.backend.is_float_dtype(w.dtype)]
        self.averages = [tf.Variable(tf.convert_to_tensor(w), trainable=False, name=f"average_{i}")
                         for i, w in enumerate(self.sources)]
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="updates")

    @tf.function
    def update(self):
        """One step of the average towards the current weights (call in cross-replica context)."""
        count = tf.cast(self.updates, tf.float32)
        decay = tf.minimum(self.decay, (1.0 + count) / (10.0 + count))
        for average, weight in zip(self.averages, self.sources):
            value = tf.cast(tf.convert_to_tensor(weight), average.dtype)
            average.assign(decay * average + (1.0 - decay) * value)
        self.updates.assign_add(1)

    @contextlib.contextmanager
    def swapped_in(self):
        """The model holds the averaged weights inside the block, its own weights again after it."""
        own = [tf.identity(tf.convert_to_tensor(w)) for w in self.sources]
        for weight, average in zip(self.sources, self.averages):
            weight.assign(tf.cast(average, weight.dtype))
        try:
            yield
        finally:
            for weight, value in zip(self.sources, own):
                weight.assign(value)

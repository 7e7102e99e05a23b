"""One training step and one evaluation step, run on every replica with ``strategy.run``.

Each step returns the batch loss and the CCC's sufficient statistics of the batch (float64
``(6, outputs)``: ``n, Sx, Sy, Sxx, Syy, Sxy``), summed over replicas and workers. The trainer adds
the statistics up over an epoch, so the logged CCCs are those of all frames concatenated, exactly,
however the data is split into batches, replicas or workers.
"""

import tensorflow as tf
from keras import ops

from mimamo_tf.ccc import masked_sums
from mimamo_tf.losses import MaskedCCCLoss


def batch_statistics(labels, predictions, num_outputs):
    """``(6, num_outputs)`` float64 CCC sums of a batch; ``labels[..., num_outputs]`` is the mask."""
    predictions = ops.cast(predictions, "float64")
    labels = ops.cast(labels, "float64")
    sums = masked_sums(predictions, labels[..., :num_outputs], labels[..., num_outputs])
    return ops.stack(sums)


class StepFunctions:
    """The compiled training/evaluation steps of a model under a strategy.

    Args:
        model: the Keras model (built in ``strategy.scope()``).
        optimizer: its optimizer (slots built).
        strategy: the ``tf.distribute`` strategy.
        jit_compile: compile each replica's step with XLA.
        num_outputs: predicted values per frame.

    Call ``train(batch)`` / ``evaluate(batch)`` with a distributed batch ``(inputs, labels)``; each
    returns ``(loss, statistics)`` as tensors (loss float32 scalar, statistics float64).
    """

    def __init__(self, model, optimizer, strategy, jit_compile=False, num_outputs=2):
        self.model = model
        self.optimizer = optimizer
        self.strategy = strategy
        self.num_outputs = num_outputs
        self.loss = MaskedCCCLoss(num_outputs=num_outputs)
        replica_train = tf.function(self._replica_train, jit_compile=jit_compile)
        replica_evaluate = tf.function(self._replica_evaluate, jit_compile=jit_compile)
        self.train = tf.function(lambda batch: self._reduced(replica_train, batch))
        self.evaluate = tf.function(lambda batch: self._reduced(replica_evaluate, batch))

    def _replica_train(self, inputs, labels):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            predictions = self.model(inputs, training=True)
            # The loss all-reduces its CCC sums across replicas: every replica sees the loss of the
            # global batch, divided by the number of replicas, because the optimizer sums the
            # replicas' gradients.
            loss = self.loss(labels, ops.cast(predictions, "float32"))
            scaled = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return loss, batch_statistics(labels, predictions, self.num_outputs)

    def _replica_evaluate(self, inputs, labels):
        predictions = self.model(inputs, training=False)
        loss = self.loss(labels, ops.cast(predictions, "float32"))
        return loss, batch_statistics(labels, predictions, self.num_outputs)

    def _reduced(self, replica_fn, batch):
        inputs, labels = batch
        loss, statistics = self.strategy.run(replica_fn, args=(inputs, labels))
        sum_ = tf.distribute.ReduceOp.SUM
        return self.strategy.reduce(sum_, loss, axis=None), self.strategy.reduce(sum_, statistics, axis=None)

"""The task's training and evaluation steps, compiled and run on every replica with ``strategy.run``.

Each step returns the batch loss and the CCC's sufficient statistics of the batch (float64
``(6, outputs)``: ``n, Sx, Sy, Sxx, Syy, Sxy``), summed over replicas and workers. The trainer adds
the statistics up over an epoch, so the logged CCCs are those of all frames concatenated, exactly,
however the data is split into batches, replicas or workers. What a step computes is the task's
(``task.Task.train_step`` / ``eval_step``); this module only compiles and distributes it.
"""

import tensorflow as tf


class StepFunctions:
    """The compiled training/evaluation steps of a model under a strategy.

    Args:
        task: the ``task.Task`` whose steps run.
        model: the Keras model (built in ``strategy.scope()``).
        optimizer: its optimizer (slots built).
        strategy: the ``tf.distribute`` strategy.
        jit_compile: compile each replica's step with XLA.

    Call ``train(batch)`` / ``evaluate(batch)`` with a distributed batch ``(inputs, labels)``; each
    returns ``(loss, statistics)`` as tensors (loss float32 scalar, statistics float64).
    """

    def __init__(self, task, model, optimizer, strategy, jit_compile=False):
        self.task = task
        self.model = model
        self.optimizer = optimizer
        self.strategy = strategy
        replica_train = tf.function(lambda inputs, labels: task.train_step(model, optimizer, inputs, labels),
                                    jit_compile=jit_compile)
        replica_evaluate = tf.function(lambda inputs, labels: task.eval_step(model, inputs, labels),
                                       jit_compile=jit_compile)
        self.train = tf.function(lambda batch: self._reduced(replica_train, batch))
        self.evaluate = tf.function(lambda batch: self._reduced(replica_evaluate, batch))

    def _reduced(self, replica_fn, batch):
        inputs, labels = batch
        loss, statistics = self.strategy.run(replica_fn, args=(inputs, labels))
        sum_ = tf.distribute.ReduceOp.SUM
        return self.strategy.reduce(sum_, loss, axis=None), self.strategy.reduce(sum_, statistics, axis=None)

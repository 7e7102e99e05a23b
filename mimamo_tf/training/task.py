"""The recipe of a training run in one place, as Model Garden's ``Task``: what network, optimizer,
inputs, loss, and what one training and one evaluation step compute.

The trainer (``trainer.Trainer``: epochs, checkpoints, history) and ``bench train`` (the step alone)
both take their model, optimizer, inputs and steps from a ``Task``; the tuner and the studies run
the trainer. A change of recipe — another loss, another input, another step — goes here and reaches
every one of them.

Example:
    >>> task = Task(config)
    >>> with strategy.scope():
    ...     model = task.build_model(strategy.num_replicas_in_sync)
    ...     optimizer = task.build_optimizer(model)
    >>> steps = task.build_steps(model, optimizer, strategy)
    >>> loss, statistics = steps.train(next(iter(task.build_training_inputs(strategy, data, epoch=0))))
"""

import dataclasses

import tensorflow as tf
from keras import ops

from mimamo_tf.ccc import evaluation_sums, masked_sums
from mimamo_tf.losses import MaskedCCCLoss
from mimamo_tf.training import inputs, model_setup
from mimamo_tf.training.optimizer import build_optimizer
from mimamo_tf.training.steps import StepFunctions


def batch_statistics(labels, predictions, num_outputs):
    """``(6, num_outputs)`` float64 CCC sums of a batch; ``labels[..., num_outputs]`` is the mask."""
    predictions = ops.cast(predictions, "float64")
    labels = ops.cast(labels, "float64")
    sums = masked_sums(predictions, labels[..., :num_outputs], labels[..., num_outputs])
    return ops.stack(sums)


class Task:
    """One experiment's recipe.

    Args:
        config: the ``ExperimentConfig`` (already resolved against its data, see
            ``trainer.resolve_data_dependent``).

    Attributes:
        loss: the masked CCC loss, ``-(CCC_arousal + CCC_valence)`` over the frames with a face and a
            valid label; it all-reduces its sums across replicas.
    """

    def __init__(self, config):
        self.config = config
        self.num_outputs = config.model.num_outputs
        self.loss = MaskedCCCLoss(num_outputs=self.num_outputs)

    def build_model(self, num_replicas=1, initialise=True):
        """The network (call inside the strategy's scope): built in the config's precision,
        initialised from a run (``--init_from``) or single-stream runs if asked and ``initialise``
        (False when the run resumes from its own state), BatchNorm synchronised across replicas."""
        return model_setup.build_model(self.config, num_replicas, initialise=initialise)

    def build_optimizer(self, model):
        """SGD with the paper's coupled weight decay (or Keras' decoupled form), slots built."""
        return build_optimizer(self.config, model)

    def build_training_inputs(self, strategy, data, epoch, skip_batches=0):
        """Epoch ``epoch``'s distributed training batches ``(inputs, labels)`` of ``data`` (a
        ``mimamo_tf.data.training_data.TrainingData``), from batch ``skip_batches`` on; with
        ``--train_gamma_beta`` under the illumination corruption."""
        pipeline_config = dataclasses.replace(data.pipeline_config, gamma_beta=self.config.data.train_gamma_beta)
        return inputs.training_dataset(
            strategy, data.train_files, pipeline_config, epoch, skip_batches=skip_batches,
            steps_per_epoch=self.config.optimization.steps_per_epoch, video_ids=data.train_ids,
            record_limits=data.record_limits)

    def build_validation_inputs(self, strategy, data):
        """The distributed validation batches: every window once, the last batch padded with masked
        windows; with ``--validation_gamma_beta`` under the illumination corruption."""
        pipeline_config = dataclasses.replace(data.pipeline_config, gamma_beta=self.config.data.validation_gamma_beta)
        return inputs.evaluation_dataset(
            strategy, data.eval_files, pipeline_config, steps=self.config.optimization.validation_steps,
            video_ids=data.eval_ids, record_limits=data.record_limits)

    def train_step(self, model, optimizer, model_inputs, labels):
        """One replica's training step: forward, loss, gradient, update. Returns ``(loss, CCC sums)``."""
        variables = model.trainable_variables
        with tf.GradientTape() as tape:
            predictions = model(model_inputs, training=True)
            # The loss all-reduces its CCC sums across replicas: every replica sees the loss of the
            # global batch, divided by the number of replicas, because the optimizer sums the
            # replicas' gradients.
            loss = self.loss(labels, ops.cast(predictions, "float32"))
            scaled = optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, variables)
        optimizer.apply_gradients(zip(gradients, variables))
        return loss, batch_statistics(labels, predictions, self.num_outputs)

    def eval_step(self, model, model_inputs, labels):
        """One replica's evaluation step. Returns ``(loss, CCC sums)``: float64 ``(4, 6, k)``, the
        sums of ``mimamo_tf.ccc.EVALUATION_GROUPS`` (official and face-only CCC come from them)."""
        predictions = model(model_inputs, training=False)
        loss = self.loss(labels, ops.cast(predictions, "float32"))
        sums = evaluation_sums(ops.cast(predictions, "float64"), ops.cast(labels, "float64"), self.num_outputs)
        return loss, sums

    def build_steps(self, model, optimizer, strategy):
        """The compiled, distributed train/eval steps of ``model`` (``steps.StepFunctions``)."""
        return StepFunctions(self, model, optimizer, strategy, self.config.runtime.jit_compile)

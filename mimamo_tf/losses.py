"""Masked CCC loss: ``-(CCC_arousal + CCC_valence)`` over the valid frames of a batch."""

import keras
import tensorflow as tf
from keras import ops

from mimamo_tf.ccc import ccc_from_sums, masked_sums


def _distributed_replica_context():
    """The replica context of a step running on several replicas (tf.distribute), else None."""
    if keras.backend.backend() != "tensorflow":
        return None

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


@keras.saving.register_keras_serializable(package="mimamo_tf")
class MaskedCCCLoss(keras.losses.Loss):
    """Negative sum of the per-output CCCs over all valid frames of the batch (the paper's loss).

    ``y_true`` carries the mask: ``y_true[..., :k]`` are the labels (arousal, valence) and
    ``y_true[..., k]`` is 1 for frames that count (a face was found and the label is valid), 0
    otherwise. Masked frames contribute nothing, whatever values they hold. CCC is not a mean over
    samples, so the whole batch enters one CCC. Under data parallelism the replicas all-reduce the
    CCC's sufficient statistics, so the loss and its gradient are those of the whole global batch,
    exactly as on one device.

    Args:
        num_outputs: ``k``, number of predicted values per frame (2: arousal, valence).
        **kwargs: standard ``keras.losses.Loss`` arguments.

    Call arguments:
        y_true: ``(batch, T, k + 1)`` or ``(batch, k + 1)`` (video-level labels).
        y_pred: ``(batch, T, k)`` or ``(batch, k)``.

    Returns:
        Scalar loss in ``[-k, k]``; ``-k`` is perfect agreement.
    """

    def __init__(self, num_outputs=2, name="masked_ccc_loss", **kwargs):
        kwargs.setdefault("reduction", "none")
        super().__init__(name=name, **kwargs)
        self.num_outputs = int(num_outputs)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        labels, weight = y_true[..., : self.num_outputs], y_true[..., self.num_outputs]
        sums = masked_sums(y_pred, labels, weight)
        context = _distributed_replica_context()
        if context is None:
            return -ops.sum(ccc_from_sums(*sums))
        # Every replica computes the CCC of the whole global batch from all-reduced sums (the
        # all-reduce is differentiable). Keras sums the replicas' gradients, hence the 1/replicas,
        # which Keras undoes when it logs the loss.

        sums = context.all_reduce(tf.distribute.ReduceOp.SUM, list(sums))
        return -ops.sum(ccc_from_sums(*sums)) / context.num_replicas_in_sync

    def get_config(self):
        config = super().get_config()
        config.update(num_outputs=self.num_outputs)
        return config

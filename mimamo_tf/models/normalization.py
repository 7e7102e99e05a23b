"""The BatchNormalization every MIMAMO Net block uses."""

import keras
import tensorflow as tf
from keras import layers, ops

# PyTorch's BatchNorm (the authors' framework) updates its running statistics with momentum 0.1,
# i.e. Keras momentum 0.9. Keras' default 0.99 needs hundreds of steps before the moving statistics
# used at inference match the data; on short runs (the demo: ~170 steps) inference outputs were
# wrong even on the training videos.
BATCH_NORM_MOMENTUM = 0.9


# Input dtypes TensorFlow's fused batch-norm kernel accepts (statistics are kept in float32), and
# the smallest epsilon it accepts on every device (cuDNN's limit).
_FUSED_DTYPES = ("float32", "bfloat16", "float16")
_FUSED_MIN_EPSILON = 1.001e-5


@keras.saving.register_keras_serializable(package="mimamo_tf")
class FusedBatchNormalization(layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` that runs TensorFlow's fused batch-norm kernel.

    Same weights, arguments, outputs and moving-statistics update as the Keras layer (it *is* one,
    so ``isinstance`` checks and ``synchronized`` still work). Keras normalises with separate
    elementwise ops (mean, squared difference, subtract, multiply, add) whose gradient adds a dozen
    more full-size passes; in the paper configuration those took ~20% of a float32 training step on
    CPU (the fused kernel makes the step ~1.2x faster), and under ``mixed_bfloat16`` Keras also
    upcasts every activation to float32 and back (fused: ~1.5x faster). For
    channels-last inputs of rank 2 to 4 on the TensorFlow backend this layer calls
    ``FusedBatchNormV3`` instead (one pass forward, one backward; bfloat16/float16 inputs with
    float32 statistics; ``(..., C)`` is viewed as ``(N, 1, 1, C)``). Every other case — other
    backends, axes or dtypes, masks, ``synchronized``, ``renorm``, epsilon < 1e-5 — is Keras' own
    code.
    """

    def _fusable(self, inputs, mask):
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and not self.synchronized
            and not self.renorm
            and self.epsilon >= _FUSED_MIN_EPSILON
            and 2 <= len(inputs.shape) <= 4
            and self.axis in (-1, len(inputs.shape) - 1)
            and inputs.shape[-1] is not None
            and keras.backend.standardize_dtype(inputs.dtype) in _FUSED_DTYPES
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        shape = tf.shape(inputs)
        if len(inputs.shape) != 4:
            inputs = tf.reshape(inputs, (-1, 1, 1, channels))
        gamma = ops.cast(self.gamma, "float32") if self.scale else ops.ones((channels,), "float32")
        beta = ops.cast(self.beta, "float32") if self.center else ops.zeros((channels,), "float32")
        if training and self.trainable:
            empty = tf.zeros((0,), tf.float32)
            outputs, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=inputs, scale=gamma, offset=beta, mean=empty, variance=empty, epsilon=self.epsilon,
                exponential_avg_factor=1.0, data_format="NHWC", is_training=True)
            # The kernel normalises with the population variance but returns the sample (n - 1)
            # variance; Keras averages the population variance into its moving statistics.
            count = tf.cast(tf.size(inputs, out_type=tf.int64) // channels, tf.float32)
            variance = variance * ((count - 1.0) / tf.maximum(count, 1.0))
            momentum = self.momentum
            self.moving_mean.assign(ops.cast(self.moving_mean, "float32") * momentum + mean * (1.0 - momentum))
            self.moving_variance.assign(
                ops.cast(self.moving_variance, "float32") * momentum + variance * (1.0 - momentum))
        else:
            outputs, _, _, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=inputs, scale=gamma, offset=beta, mean=ops.cast(self.moving_mean, "float32"),
                variance=ops.cast(self.moving_variance, "float32"), epsilon=self.epsilon,
                data_format="NHWC", is_training=False)
        return ops.cast(tf.reshape(outputs, shape), self.compute_dtype)


def batch_norm(name):
    """Batch normalisation with the PyTorch-equivalent momentum (TensorFlow's fused kernel)."""
    return FusedBatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=name)

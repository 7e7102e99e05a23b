"""Streaming CCC metric, exact across batches and replicas."""

import keras
from keras import ops

from mimamo_tf.ccc import STATISTICS, ccc_from_sums, masked_sums

OUTPUT_NAMES = ("arousal", "valence")


@keras.saving.register_keras_serializable(package="mimamo_tf")
class ConcordanceCorrelation(keras.metrics.Metric):
    """CCC over every valid frame seen since the last reset (the benchmarks' protocol).

    Accumulates ``n, Sx, Sy, Sxx, Syy, Sxy`` per output in float64 variables that Keras sums across
    replicas, so the result equals the CCC of all frames concatenated — not an average of per-batch
    CCCs — however the data is split into batches or over devices.

    Args:
        output: ``"arousal"``, ``"valence"`` or ``"mean"`` (mean of the two CCCs).
        num_outputs: values per frame in ``y_pred``.
        **kwargs: standard ``keras.metrics.Metric`` arguments (``name`` defaults to
            ``ccc_<output>``).

    Call arguments (``update_state``):
        y_true: labels with the mask as last channel, as for ``MaskedCCCLoss``.
        y_pred: predictions.
    """

    def __init__(self, output="mean", num_outputs=2, name=None, **kwargs):
        if output not in OUTPUT_NAMES + ("mean",):
            raise ValueError(f"output must be one of {OUTPUT_NAMES + ('mean',)}, got {output!r}")
        super().__init__(name=name or f"ccc_{output}", **kwargs)
        self.output = output
        self.num_outputs = int(num_outputs)
        self.sums = [
            self.add_variable(
                shape=(self.num_outputs,), initializer="zeros", dtype="float64",
                aggregation="sum", name=key,
            )
            for key in STATISTICS
        ]

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(y_pred, "float64")
        y_true = ops.cast(y_true, "float64")
        weight = y_true[..., self.num_outputs]
        if sample_weight is not None:
            weight = weight * ops.cast(sample_weight, "float64")
        batch = masked_sums(y_pred, y_true[..., : self.num_outputs], weight)
        for variable, value in zip(self.sums, batch):
            variable.assign_add(value)

    def result(self):
        values = ccc_from_sums(*self.sums)
        if self.output == "mean":
            return ops.cast(ops.mean(values), "float32")
        return ops.cast(values[OUTPUT_NAMES.index(self.output)], "float32")

    def reset_state(self):
        for variable in self.sums:
            variable.assign(ops.zeros_like(variable))

    def get_config(self):
        config = super().get_config()
        config.update(output=self.output, num_outputs=self.num_outputs)
        return config

"""Concordance correlation coefficient (CCC) from sufficient statistics, NumPy and Keras twins.

CCC = 2 cov(x, y) / (var x + var y + (mean x - mean y)^2), with population (1/n) moments. Everything
that needs a CCC — the loss, the streaming metric, evaluation — computes it from the sums
``n, Sx, Sy, Sxx, Syy, Sxy``, so partial sums from batches, replicas or videos combine exactly.
"""

import numpy as np
from keras import ops

# Keys of the sufficient statistics, in the order the metric stores them.
STATISTICS = ("n", "sx", "sy", "sxx", "syy", "sxy")


def ccc_from_sums(n, sx, sy, sxx, syy, sxy, epsilon=1e-12):
    """CCC from sums (``ops`` tensors or NumPy arrays; elementwise over any trailing axes)."""
    n = ops.maximum(n, 1.0)
    mean_x, mean_y = sx / n, sy / n
    var_x = sxx / n - mean_x * mean_x
    var_y = syy / n - mean_y * mean_y
    cov = sxy / n - mean_x * mean_y
    return 2.0 * cov / (var_x + var_y + (mean_x - mean_y) ** 2 + epsilon)


def masked_sums(x, y, weight):
    """Sums over all leading axes of ``x, y (..., k)`` with per-frame 0/1 ``weight (...)``.

    Returns a tuple ``(n, sx, sy, sxx, syy, sxy)``, each of shape ``(k,)``.
    """
    w = ops.expand_dims(ops.cast(weight, x.dtype), -1)
    axes = tuple(range(len(x.shape) - 1))
    # Multiply by the mask before squaring so masked frames holding any finite value drop out.
    wx, wy = w * x, w * y
    n = ops.sum(w * ops.ones_like(x), axis=axes)
    return (n, ops.sum(wx, axes), ops.sum(wy, axes), ops.sum(wx * x, axes), ops.sum(wy * y, axes),
            ops.sum(wx * y, axes))


def ccc_numpy(x, y):
    """Reference CCC of two 1-D arrays, straight from the definition (population moments)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) == 0:
        raise ValueError(f"ccc_numpy needs two non-empty 1-D arrays of equal length; got {x.shape}, {y.shape}")
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    return 2 * cov / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)

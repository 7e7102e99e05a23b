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


# The groups of frames whose sums validation keeps, so that the official CCC comes out of sums
# exactly as ``evaluate`` computes it from whole videos (``mimamo_tf.evaluation.scoring``):
# face_only — a face and a valid label (what the loss sees); official_with_face — a valid label,
# in a video with a face somewhere (its faceless frames are predicted from the nearest face's
# inputs); faceless_videos — a valid label in a video without any face (predicted by the mean
# prediction of every face frame of the evaluated set); face_frames — every frame with a face,
# label or not (that mean).
EVALUATION_GROUPS = ("face_only", "official_with_face", "faceless_videos", "face_frames")


def evaluation_sums(predictions, labels, num_outputs):
    """``(4, 6, k)`` sums of a batch, one set per ``EVALUATION_GROUPS`` entry (Keras ops).

    ``labels`` has the columns of ``mimamo_tf.data.pipeline.LABEL_COLUMNS``: the ``k`` targets, then
    the loss weight, ``label_valid``, ``face_found`` and ``video_face_found``.
    """
    k = num_outputs
    targets = labels[..., :k]
    weight, valid, face, video_face = (labels[..., k + i] for i in range(4))
    groups = (weight, valid * video_face, valid * (1.0 - video_face), face)
    return ops.stack([ops.stack(masked_sums(predictions, targets, group)) for group in groups])


def validation_cccs(sums):
    """``(official, face_only)`` CCCs ``(k,)`` from ``evaluation_sums`` added up over a dataset (NumPy).

    The frames of videos without any face take the mean prediction of all face frames (when there
    is one: otherwise their own predictions, as ``evaluate`` leaves them), so the official CCC is
    the one of ``mimamo_tf.evaluation.scoring.summarise``.
    """
    sums = np.asarray(sums, np.float64)
    face_only, with_face, faceless, face_frames = sums
    if face_frames[0].max() > 0:
        mean = face_frames[1] / np.maximum(face_frames[0], 1.0)
        n, _, sy, _, syy, _ = faceless
        faceless = np.stack([n, n * mean, sy, n * mean * mean, syy, mean * sy])
    official = with_face + faceless
    return np.asarray(ccc_from_sums(*official)), np.asarray(ccc_from_sums(*face_only))

"""Validation of frame tensors given to the phase layers: clear errors naming the expected shape."""

import keras
import numpy as np
import tensorflow as tf


def _concrete_values(x):
    """The values of ``x`` if it holds data now (NumPy or an eager tensor), else None (symbolic)."""
    if isinstance(x, np.ndarray):
        return x
    if keras.backend.backend() == "tensorflow":
        if tf.executing_eagerly() and hasattr(x, "numpy"):
            return x.numpy()
        return None
    try:
        return keras.ops.convert_to_numpy(x)
    except Exception:  # traced/symbolic tensors of other backends
        return None


def check_frames(frames_or_shape, image_size, min_rank, layer, max_rank=None):
    """Raises ``ValueError`` unless frames are ``(..., image_size, image_size)`` and finite.

    Shapes are checked whenever they are known; values (NaN/inf) only when the tensor holds data
    (eager calls, NumPy input). Inside a traced function they cannot raise a Python error, and the
    data pipeline feeds uint8-derived frames that cannot be NaN.

    Args:
        frames_or_shape: a tensor/array, or a shape tuple (as given to ``build``).
        image_size: required side of the last two axes.
        min_rank, max_rank: allowed rank range (``max_rank=None``: unbounded).
        layer: the layer whose name goes into the message.
    """
    if isinstance(frames_or_shape, (tuple, list)):
        shape, values = tuple(frames_or_shape), None
    else:
        shape, values = tuple(frames_or_shape.shape), _concrete_values(frames_or_shape)
    lead = "(batch, T, " if min_rank == 4 == max_rank else "(..., "
    expected = f"{lead}{image_size}, {image_size}) gray frames in [0, 1]"
    name = f"{type(layer).__name__} '{layer.name}'"
    rank_ok = len(shape) >= min_rank and (max_rank is None or len(shape) <= max_rank)
    if not rank_ok or tuple(shape[-2:]) != (image_size, image_size):
        raise ValueError(f"{name} expects {expected}; got shape {shape}")
    if values is not None and not np.all(np.isfinite(values)):
        bad = np.argwhere(~np.isfinite(values).reshape(-1, image_size * image_size).all(axis=1))
        raise ValueError(
            f"{name} expects {expected}; got non-finite values (NaN/inf) in "
            f"{len(bad)} frame(s), first at flat frame index {int(bad[0][0])}"
        )

"""Compute precision of the networks (``--mixed_precision``) as Keras dtype policies.

Layers take the global Keras dtype policy when they are built; ``dtype_policy`` sets it for the
layers built inside a ``with`` block and restores it after, so one process can build a bfloat16
training network and a float32 export of it side by side.
"""

import contextlib

import keras

# Keras' names for the compute policies ``--mixed_precision`` offers.
DTYPE_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


@contextlib.contextmanager
def dtype_policy(name):
    """Layers built inside compute in ``name``'s dtype (``--mixed_precision``); restored after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(DTYPE_POLICIES[name])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)

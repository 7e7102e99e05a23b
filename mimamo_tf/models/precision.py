"""Compute precision of the networks (``--mixed_precision``) as Keras dtype policies.

Layers take the global Keras dtype policy when they are built; ``dtype_policy`` sets it for the
layers built inside a ``with`` block and restores it after, so one process can build a bfloat16
training network and a float32 export of it side by side. ``"auto"`` (the default) is resolved
from the hardware by ``mimamo_tf.hardware.choose_precision``: bfloat16 where it is native, float32
elsewhere.
"""

import contextlib
import functools

import keras

from mimamo_tf import config as config_lib
from mimamo_tf import hardware

# Keras' names for the compute policies ``--mixed_precision`` offers ("auto" resolves to one of them).
DTYPE_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
AUTO = "auto"


@functools.lru_cache(maxsize=None)
def machine_choice():
    """``hardware.choose_precision`` of this machine (read once per process)."""
    return hardware.choose_precision(hardware.read_cpu(), hardware.read_gpus())


def resolve_precision(name):
    """``name`` itself if it is a precision, this machine's choice for ``"auto"``."""
    return machine_choice().precision if name == AUTO else name


def resolve_run_precision(config, previous=None, choice=None):
    """``config`` with ``--mixed_precision`` concrete, the line that says what and why, and a warning
    (or None) for an explicit precision that is slow on this hardware.

    ``auto`` takes the precision of the run already started in the model dir (``previous``), so a
    resumed run keeps its precision on any machine; otherwise the hardware's choice
    (``mimamo_tf.hardware.choose_precision``; ``choice`` stands for this machine's in tests).
    """
    requested = config.runtime.mixed_precision
    choice = choice or machine_choice()
    if requested != AUTO:
        line = f"precision: {requested} — as --mixed_precision asks (auto would take {choice.precision}: {choice.reason})"
        return config, line, hardware.slow_precision_warning(requested, choice)
    kept = previous.runtime.mixed_precision if previous is not None else AUTO
    if kept != AUTO:
        line = f"precision: {kept} — kept from the run this continues (its flags.cfg)"
        if kept != choice.precision:
            line += f"; a new run here would take {choice.precision}: {choice.reason}"
        resolved, warning = kept, hardware.slow_precision_warning(kept, choice)
    else:
        line, resolved, warning = choice.line(), choice.precision, None
    return config_lib.replace(config, runtime={"mixed_precision": resolved}), line, warning


@contextlib.contextmanager
def dtype_policy(name):
    """Layers built inside compute in ``name``'s dtype (``--mixed_precision``; ``"auto"`` resolved
    for this machine); restored after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(DTYPE_POLICIES[resolve_precision(name)])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)

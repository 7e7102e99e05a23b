"""Compute precision of the networks (``--mixed_precision``) as Keras dtype policies.

Layers take the global Keras dtype policy when they are built; ``dtype_policy`` sets it for the
layers built inside a ``with`` block and restores it after, so one process can build a bfloat16
training network and a float32 export of it side by side. ``"auto"`` (the default) is resolved
from the hardware by ``mimamo_tf.hardware.choose_precision``: bfloat16 where it is native, float32
elsewhere.
"""

import contextlib
import dataclasses
import functools

import keras

from mimamo_tf import config as config_lib
from mimamo_tf import hardware
from mimamo_tf.models.mimamo_net import build_mimamo_net
from mimamo_tf.models.per_frame import iter_layers

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


def rebuild_in_precision(model, model_config, name, window=None, unroll=False):
    """``model``'s network built anew from its ``ModelConfig`` in precision ``name``, its weights copied.

    A loaded checkpoint keeps the dtype policy it trained under, so run as loaded it computes in the
    training precision. The architecture comes from the config through the builder that made
    ``model`` (``build_mimamo_net``), so the variables pair up in order; variables are float32 under
    every policy, so the weights copy exactly.

    Args:
        model: the trained network (a run's checkpoint).
        model_config: the run's ``ModelConfig``; the stored feature width is taken from ``model``.
        name: a ``--mixed_precision`` value (``"auto"``: this machine's).
        window, unroll: ``build_mimamo_net``'s fixed window and GRU unrolling.

    Raises:
        ValueError: the checkpoint's variables do not match the network its config builds (the
            message lists the first differences).
    """
    if "spatial_features" in model.input:
        model_config = dataclasses.replace(model_config,
                                           spatial_feature_dim=int(model.input["spatial_features"].shape[-1]))
    with dtype_policy(name):
        rebuilt = build_mimamo_net(model_config, name=model.name, window=window, unroll=unroll)
    source, target = model.weights, rebuilt.weights
    mismatched = [(a.path, tuple(a.shape), b.path, tuple(b.shape)) for a, b in zip(source, target)
                  if tuple(a.shape) != tuple(b.shape)]
    if len(source) != len(target) or mismatched:
        raise ValueError(f"the checkpoint's network does not match its flags.cfg ({len(source)} vs {len(target)} "
                         f"variables; first differences {mismatched[:3]})")
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def computes_in(model):
    """The precision ``model``'s layers compute in: ``"bfloat16"``, ``"float16"`` or ``"float32"``."""
    dtypes = {getattr(layer, "compute_dtype", "float32") for layer in iter_layers(model)}
    return next((d for d in ("bfloat16", "float16") if d in dtypes), "float32")


def for_this_machine(model, model_config, choice=None):
    """``model`` as it is, or rebuilt in float32 when it computes in bfloat16 and this machine has no
    native bfloat16 (a run trained on another machine, evaluated here): the same function, without
    the ~16x slow path. ``choice`` stands for this machine's in tests."""
    choice = choice or machine_choice()
    if computes_in(model) != "bfloat16" or choice.precision == "bfloat16":
        return model
    return rebuild_in_precision(model, model_config, "float32")

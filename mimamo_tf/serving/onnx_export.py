"""ONNX files of an export (``export --onnx``), converted by tf2onnx, checked by ONNX's checker and
by onnxruntime against the Keras model before they are written.

One file per signature (an ONNX model is one graph): ``model.onnx`` (``serving_default``: faces ->
arousal, valence) and, for a network on stored features, ``model_frame_features.onnx`` and
``model_window_from_features.onnx``, and for the two-stream network
``model_frame_motion_features.onnx`` and ``model_window_from_frame_features.onnx``
(``model_card.ONNX_FILES``), float32, every dimension but the face's dynamic (any window, any
batch). The network has no FFT (the pyramid is constant real matrix products,
``phase.pyramid_filters``), so the whole model converts with standard ONNX ops.

One op is converted by this module rather than by tf2onnx's own rule: ``Atan2`` (``atan2_onnx``).
tf2onnx 1.17 builds it from ``Sign``, which loses the sign of a zero: ``atan2(-0, x < 0)`` comes out
``+pi`` where TensorFlow (and IEEE 754) give ``-pi``, and a phase difference can land exactly there.

tf2onnx leaves an op it cannot convert in the graph and still writes the file, so a conversion is
only kept when ``onnx.checker`` passes, onnxruntime loads it and its outputs on a random window equal
the Keras model's (``CHECK_TOLERANCE`` of the largest output): a file that computes something else is
never written.

Optional dependency: ``pip install mimamo_tf[onnx]`` (tf2onnx, onnx, onnxruntime).
"""

import os

import numpy as np
import tensorflow as tf

from mimamo_tf.atomic_files import write_bytes
from mimamo_tf.serving.face_model import ExportError
from mimamo_tf.serving.litert import input_signature
from mimamo_tf.serving.model_card import FACE_SIZE, ONNX_FILES

# tf2onnx 1.17 converts up to opset 18; 17 is the first with every op the network needs, and what
# onnxruntime builds for years run.
ONNX_OPSET = 17
# Largest difference allowed between onnxruntime and the Keras model, relative to the largest output.
CHECK_TOLERANCE = 1e-4
INSTALL_HINT = "pip install 'mimamo_tf[onnx]' (tf2onnx, onnx, onnxruntime)"


def _modules():
    try:
        import onnx  # deferred: optional (mimamo_tf[onnx])
        import onnxruntime  # deferred: optional (mimamo_tf[onnx])
        import tf2onnx  # deferred: optional (mimamo_tf[onnx])
    except ImportError as error:
        raise ExportError(f"--onnx needs tf2onnx, onnx and onnxruntime ({error.name} is missing): {INSTALL_HINT}") from None
    return onnx, onnxruntime, tf2onnx


def atan2_onnx(ctx, node, name, args):
    """tf2onnx handler (``custom_op_handlers``) for TensorFlow's ``Atan2``, with IEEE 754's signed
    zeros and infinities: ``atan(y / x)`` plus ``+-pi`` where ``x`` is negative or ``-0`` (the sign
    of ``y``, ``-0`` included, choosing), ``x`` taken as ``+-1`` where both are zeros, ``+-1`` for the ratio of
    two infinities."""
    import tf2onnx  # deferred: optional (mimamo_tf[onnx])

    y, x = node.input
    np_dtype = tf2onnx.utils.map_onnx_to_numpy_type(ctx.get_dtype(y))

    def const(tag, value):
        return ctx.make_const(tf2onnx.utils.make_name(f"{name}_{tag}"), np.array(value, np_dtype)).output[0]

    def op(kind, *inputs):
        return ctx.make_node(kind, list(inputs), name=tf2onnx.utils.make_name(f"{name}_{kind}")).output[0]

    zero, one, pi = const("zero", 0.0), const("one", 1.0), const("pi", np.pi)

    def negative(v):  # v < 0, or v is -0 (1 / -0 = -inf)
        return op("Or", op("Less", v, zero), op("Less", op("Div", one, v), zero))

    x_negative = negative(x)
    # Two zeros: atan2(y, +-0) is atan2(y, +-1) (the sign of y kept).
    unit = op("Where", x_negative, op("Neg", one), one)
    ratio = op("Div", y, op("Where", op("And", op("Equal", x, zero), op("Equal", y, zero)), unit, x))
    ratio = op("Where", op("And", op("IsInf", x), op("IsInf", y)), op("Mul", op("Sign", y), op("Sign", x)), ratio)
    angle = op("Atan", ratio)
    turned = op("Add", angle, op("Where", negative(y), op("Neg", pi), pi))
    ctx.remove_node(node.name)  # (where x >= +0 the angle is kept as it is: adding 0 would lose a -0)
    return ctx.make_node("Where", [x_negative, turned, angle], outputs=[node.output[0]],
                         name=tf2onnx.utils.make_name(name))


def convert(model, name, sample):
    """``model`` (a Keras model of the export) as an ONNX ``ModelProto``, checked: ``ExportError``
    naming the signature and what failed when tf2onnx could not convert it faithfully."""
    onnx, onnxruntime, tf2onnx = _modules()
    signature = input_signature(model, static_batch=False)
    function = tf.function(lambda *inputs: model(*inputs, training=False), input_signature=signature)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=ONNX_OPSET,
                                             custom_op_handlers={"Atan2": (atan2_onnx, [])})
    try:
        onnx.checker.check_model(proto, full_check=True)
        session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: B902 — the checker's and onnxruntime's own exception types
        raise ExportError(f"--onnx: {name} does not convert to ONNX opset {ONNX_OPSET} with tf2onnx: {error}") from None
    got = dict(zip([output.name for output in session.get_outputs()], session.run(None, sample)))
    expected = model(sample if len(sample) > 1 else next(iter(sample.values())), training=False)
    for key, value in expected.items():
        value = np.asarray(value, np.float32)
        difference = float(np.abs(got[key] - value).max()) if key in got else np.inf
        if not difference <= CHECK_TOLERANCE * max(1.0, float(np.abs(value).max())):
            raise ExportError(f"--onnx: {name}'s ONNX file gives {key} {difference:.3g} away from the model's on a "
                              "random window: not written")
    return proto


def export_onnx(models, export_dir, window, context, seed=0):
    """Writes ``{signature: Keras model}`` (the export's float32 face model and its parts) as ONNX
    files into ``export_dir`` (``ONNX_FILES``); returns ``{signature: file name}``."""
    rng = np.random.default_rng(seed)
    faces = rng.integers(0, 256, (1, window + 2 * context, FACE_SIZE, FACE_SIZE, 3)).astype(np.uint8)
    written = {}
    for name, model in models.items():
        sample = {}
        for tensor in model.inputs:
            key = tensor.name.split(":")[0]
            if key == "faces":  # the window with its context, or (frame_features) the window's faces
                sample[key] = faces[:, context: context + window] if name == "frame_features" else faces
            elif key == "gray48":
                sample[key] = rng.integers(0, 256, (1, window + 2 * context, *tensor.shape[2:])).astype(np.uint8)
            else:  # per-frame features of the window
                sample[key] = rng.normal(size=(1, window, tensor.shape[-1])).astype(np.float32)
        proto = convert(model, name, sample)
        write_bytes(os.path.join(export_dir, ONNX_FILES[name]), proto.SerializeToString())
        written[name] = ONNX_FILES[name]
    return written

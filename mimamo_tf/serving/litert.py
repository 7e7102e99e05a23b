"""SavedModel and LiteRT files: writing a Keras model as a SavedModel with a ``serving_default``
signature (TF Serving's layout), converting it to a LiteRT flatbuffer with builtin ops only, and
listing the ops a LiteRT file uses.

The op list is read from the file itself: a ``.tflite`` file is a FlatBuffer of the published LiteRT
schema (the model lists its operator codes, each operator of each subgraph names one by index), read
with the schema's Python bindings that ship in ``ai_edge_litert`` — no interpreter, so no runtime,
no tensors, and it works for files the local runtime could not run (custom or Flex ops).
"""

import os

import keras
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema

from mimamo_tf.atomic_files import write_bytes
from mimamo_tf.cli_startup import native_stderr_captured
from mimamo_tf.serving.face_model import ExportError


def input_signature(model, static_batch):
    """The argument of ``model``'s call as ``tf.TensorSpec``s named as its inputs (the signature's
    keys): one spec for a single input, a dict of them for several."""
    specs = {tensor.name.split(":")[0]: tf.TensorSpec(tensor.shape if static_batch else [None, *tensor.shape[1:]],
                                                      tensor.dtype, name=tensor.name.split(":")[0])
             for tensor in model.inputs}
    return list(specs.values()) if len(specs) == 1 else [specs]


def export_saved_model(model, directory, static_batch=False, endpoints=None):
    """Writes ``model`` as a SavedModel with a ``serving_default`` signature (TF Serving layout).

    The batch dimension of the signature is dynamic; ``static_batch`` keeps every input's full
    static shape (a LiteRT file then has no dynamic dimension left). ``endpoints``: ``{name:
    Keras model}`` written as further signatures of the same SavedModel (their weights shared).
    """
    archive = keras.export.ExportArchive()
    archive.track_and_add_endpoint("serve", model, input_signature(model, static_batch))
    for name, endpoint in (endpoints or {}).items():
        archive.track_and_add_endpoint(name, endpoint, input_signature(endpoint, static_batch))
    archive.write_out(directory, verbose=False)
    return directory


def export_constant_saved_model(models, directory):
    """Writes ``{signature name: Keras model}`` as one SavedModel without variables, every input's
    shape static: the model LiteRT's converter is given for a file with several signatures.

    Each signature is traced with the models' weights read as constants (``keras.StatelessScope``
    maps every variable to its value). With variables, the converter (TF 2.21, ai-edge-litert 2.3)
    keeps them as resource variables when a SavedModel has several signatures, and the file then
    returns garbage under XNNPACK and fails (``READ_VARIABLE``) without it; a single signature is
    frozen and correct.
    """
    signatures = {name: _constant_function(model) for name, model in models.items()}
    tf.saved_model.save(tf.Module(), directory, signatures=signatures)
    return directory


def _constant_function(model):
    """``model``'s call on its static input signature, traced with its weights as constants."""
    values = [(variable, tf.constant(variable.numpy())) for variable in model.variables]

    def call(*inputs):
        with keras.StatelessScope(state_mapping=values):
            return model(*inputs, training=False)

    return tf.function(call, input_signature=input_signature(model, True)).get_concrete_function()


def saved_model_to_litert(saved_model_dir, output_path, builtin_ops_only=True, quantize=None, signature_keys=None):
    """Converts a SavedModel to a LiteRT flatbuffer, atomically written to ``output_path``.

    Args:
        saved_model_dir: a directory written by ``export_saved_model``.
        output_path: the ``.tflite`` file to write.
        builtin_ops_only: refuse the conversion unless every op is a LiteRT builtin (no Flex/select
            TF ops, no custom ops), so the file runs on the plain LiteRT runtime.
        quantize: None (float32) or ``"dynamic"`` (dynamic-range quantisation: int8 weights,
            float activations).
        signature_keys: the SavedModel's signatures the file carries (None: ``serving_default``).

    Returns:
        ``output_path``.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=signature_keys)
    if builtin_ops_only:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        converter.allow_custom_ops = False
    if quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize is not None:
        raise ExportError(f"--quantize must be 'dynamic' (or unset); got {quantize!r}")
    # The converter's C++ side logs every step (and a harmless "NodeDef mentions attribute Truncate"
    # error line while loading the SavedModel); shown only if the conversion fails.
    with native_stderr_captured(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") != "0"):
        flatbuffer = converter.convert()
    return write_bytes(output_path, flatbuffer)


class LiteRTFileError(ValueError):
    """The file is not a LiteRT FlatBuffer."""


def _builtin_names(schema):
    return {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}


def _op_name(operator_code, schema, names):
    # Builtin codes below 127 are in the int8 field ``deprecated_builtin_code`` (older writers fill
    # only that one; 127 there means "see builtin_code"), newer ones in the int32 field
    # ``builtin_code`` (schema 3a). The operator's code is the larger of the two.
    code = max(operator_code.BuiltinCode(), operator_code.DeprecatedBuiltinCode())
    if code == schema.BuiltinOperator.CUSTOM:
        custom = operator_code.CustomCode()
        return custom.decode("utf-8") if isinstance(custom, bytes) else str(custom)
    return names.get(code, f"BUILTIN_{code}")


def litert_op_names(tflite_path):
    """Sorted names of the operators the LiteRT model at ``tflite_path`` uses, in any subgraph.

    Builtin operators have their schema names (upper case, e.g. ``FULLY_CONNECTED``,
    ``BATCH_MATMUL``); a custom operator has its custom code (e.g. ``FlexConv2D`` for a select-TF
    op). Operators of every subgraph count (the bodies of ``WHILE``/``IF`` included), unlike an
    interpreter's op list, which covers the primary subgraph.

    Raises:
        LiteRTFileError: the file is not a LiteRT FlatBuffer (no ``TFL3`` identifier).
    """
    with open(tflite_path, "rb") as handle:
        buffer = handle.read()
    if len(buffer) < 8 or not schema.Model.ModelBufferHasIdentifier(buffer, 0):
        raise LiteRTFileError(f"{tflite_path} is not a LiteRT (.tflite) file")
    model = schema.Model.GetRootAs(buffer, 0)
    names = _builtin_names(schema)
    codes = [_op_name(model.OperatorCodes(i), schema, names) for i in range(model.OperatorCodesLength())]
    used = set()
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        used.update(codes[subgraph.Operators(o).OpcodeIndex()] for o in range(subgraph.OperatorsLength()))
    return sorted(used)

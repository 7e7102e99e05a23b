"""Exporting models: SavedModel for TF Serving and LiteRT (``.tflite``) with builtin ops only.

The command-line entry point (``python -m mimamo_tf.export``) is added with the trained model; the
functions here are what it and the tests use.
"""

import os
import tempfile


def export_saved_model(model, directory):
    """Writes ``model`` as a SavedModel with a ``serving_default`` signature (TF Serving layout)."""
    model.export(directory, format="tf_saved_model", verbose=False)
    return directory


def saved_model_to_litert(saved_model_dir, output_path, builtin_ops_only=True):
    """Converts a SavedModel to a LiteRT flatbuffer, atomically written to ``output_path``.

    Args:
        saved_model_dir: a directory written by ``export_saved_model``.
        output_path: the ``.tflite`` file to write.
        builtin_ops_only: refuse the conversion unless every op is a LiteRT builtin (no Flex/select
            TF ops, no custom ops), so the file runs on the plain LiteRT runtime.

    Returns:
        ``output_path``.
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    if builtin_ops_only:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        converter.allow_custom_ops = False
    flatbuffer = converter.convert()
    directory = os.path.dirname(os.path.abspath(output_path))
    os.makedirs(directory, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".partial", delete=False) as tmp:
        tmp.write(flatbuffer)
    os.replace(tmp.name, output_path)
    return output_path


def litert_op_names(tflite_path):
    """Sorted names of the ops a LiteRT model uses (builtins are upper-case, e.g. ``BATCH_MATMUL``)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tflite_path))
    return sorted({op["op_name"] for op in interpreter._get_ops_details()})

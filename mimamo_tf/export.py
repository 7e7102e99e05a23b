"""``python -m mimamo_tf.export --model_dir=RUN --export_dir=saved_models/NAME [--checkpoint=best|last] [--tflite] [--quantize=dynamic] [--onnx] [--compute_dtype=float32|bfloat16]``

Exports a trained run as a model that takes **aligned face crops only** (``mimamo_tf.serving``): a
SavedModel whose ``serving_default`` signature maps ``faces`` — uint8
``(batch, window + 2 * context, 224, 224, 3)`` RGB aligned faces, ``context`` extra frames on each
side of the window — to ``arousal`` and ``valence``, ``(batch, window)`` float32, and
``model_card.json`` (the input contract, outputs, backbone, training data, validation metrics).
The SavedModel computes in ``--compute_dtype`` (default float32: no bfloat16 support needed from
the CPU, and what the LiteRT files compute), whatever precision the run trained in
(``--mixed_precision``: by default bfloat16 where the hardware computes it natively); ``bfloat16`` keeps the training precision (worth
trying only on CPUs with AVX512_BF16/AMX).

``--tflite`` adds ``model.tflite`` (LiteRT, builtin ops only, float32, one fixed window
``--tflite_window``, default the training window, batch 1); ``--quantize=dynamic`` also writes
``model_dynamic_range.tflite`` (int8 weights, float activations). ``--onnx`` adds ``model.onnx``
(and the two parts of a model on stored features, ``model_frame_features.onnx`` and
``model_window_from_features.onnx``): ONNX via tf2onnx, float32, any window and batch, each checked
against the model before it is written (``pip install 'mimamo_tf[onnx]'``). Exit code 2: bad flags
or run.
"""

import os

from absl import flags

from mimamo_tf.command_line import run_command
from mimamo_tf.serving import export_run, ExportError
from mimamo_tf.serving.face_model import COMPUTE_DTYPES


def define_flags(flag_values):
    flags.DEFINE_string("model_dir", None, "The training run to export.", flag_values=flag_values)
    flags.DEFINE_string("export_dir", None, "Where the SavedModel and model_card.json go (e.g. saved_models/NAME).",
                        flag_values=flag_values)
    flags.DEFINE_string("checkpoint", "best", "'best', 'last' or a path to a .keras model.", flag_values=flag_values)
    flags.DEFINE_boolean("tflite", False, "Also write model.tflite (LiteRT, builtin ops, fixed window, batch 1).",
                         flag_values=flag_values)
    flags.DEFINE_enum("quantize", None, ["dynamic"],
                      "Also write model_dynamic_range.tflite (int8 weights, float activations); implies --tflite.",
                      flag_values=flag_values)
    flags.DEFINE_integer("tflite_window", 0, "Frames per LiteRT window, context excluded (0: the training window).",
                         flag_values=flag_values)
    flags.DEFINE_boolean("onnx", False,
                         "Also write model.onnx (and model_frame_features.onnx, model_window_from_features.onnx for a "
                         "model on stored features): ONNX opset 17 via tf2onnx, float32, any window and batch; needs "
                         "pip install 'mimamo_tf[onnx]'.", flag_values=flag_values)
    flags.DEFINE_enum("compute_dtype", "float32", list(COMPUTE_DTYPES),
                      "Compute precision of the SavedModel's network, whatever the run trained in (the LiteRT "
                      "files are float32 always).", flag_values=flag_values)


def main(flag_values):
    if not flag_values.model_dir or not flag_values.export_dir:
        raise ExportError("--model_dir and --export_dir are required")
    directory = flag_values.export_dir
    card = export_run(flag_values.model_dir, directory, flag_values.checkpoint, flag_values.tflite,
                      flag_values.quantize, flag_values.tflite_window, flag_values.compute_dtype, flag_values.onnx)
    print(f"mimamo_tf.export: SavedModel ({card.compute_dtype} compute; signature serving_default: faces -> "
          f"arousal, valence) and model_card.json in {directory}")
    if card.litert:
        shape = card.to_json()["litert"]["faces_shape"]
        for kind, name in card.litert.files.items():
            size = os.path.getsize(os.path.join(directory, name)) / 2**20
            print(f"mimamo_tf.export: LiteRT {kind}: {os.path.join(directory, name)} ({size:.1f} MB; faces "
                  f"{tuple(shape)})")
    for signature, name in (card.onnx or {}).items():
        size = os.path.getsize(os.path.join(directory, name)) / 2**20
        print(f"mimamo_tf.export: ONNX {signature}: {os.path.join(directory, name)} ({size:.1f} MB; float32, any window "
              "and batch; run it with onnxruntime, or predict --model=" + os.path.join(directory, "model.onnx") + ")")
    return 0


def run():
    run_command("export", main, define_flags, __doc__)


if __name__ == "__main__":
    run()

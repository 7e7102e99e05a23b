"""``python -m mimamo_tf.export --model_dir=RUN --export_dir=saved_models/NAME [--checkpoint=best|last] [--tflite] [--quantize=dynamic] [--compute_dtype=float32|bfloat16]``

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
``model_dynamic_range.tflite`` (int8 weights, float activations). Exit code 2: bad flags or run.
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
    flags.DEFINE_enum("compute_dtype", "float32", list(COMPUTE_DTYPES),
                      "Compute precision of the SavedModel's network, whatever the run trained in (the LiteRT "
                      "files are float32 always).", flag_values=flag_values)


def main(flag_values):
    if not flag_values.model_dir or not flag_values.export_dir:
        raise ExportError("--model_dir and --export_dir are required")
    directory = flag_values.export_dir
    card = export_run(flag_values.model_dir, directory, flag_values.checkpoint, flag_values.tflite,
                      flag_values.quantize, flag_values.tflite_window, flag_values.compute_dtype)
    print(f"mimamo_tf.export: SavedModel ({card.compute_dtype} compute; signature serving_default: faces -> "
          f"arousal, valence) and model_card.json in {directory}")
    if card.litert:
        shape = card.to_json()["litert"]["faces_shape"]
        for kind, name in card.litert.files.items():
            size = os.path.getsize(os.path.join(directory, name)) / 2**20
            print(f"mimamo_tf.export: LiteRT {kind}: {os.path.join(directory, name)} ({size:.1f} MB; faces "
                  f"{tuple(shape)})")
    return 0


def run():
    run_command("export", main, define_flags, __doc__)


if __name__ == "__main__":
    run()

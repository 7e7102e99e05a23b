"""``python -m mimamo_tf.convert_weights --input=rcmalli_vggface_tf_notop_resnet50.h5 --output=vggface2_resnet50.weights.h5``

Converts keras-vggface's VGGFace2 ResNet50 weights (Keras 2 ``.h5``, with or without the classifier;
users download it on their own machines) into the weights of our Keras 3 rebuild of that network
(``mimamo_tf.models.vggface2_resnet50``). Use the output with
``--spatial_features=vggface2_resnet50:vggface2_resnet50.weights.h5`` (prepare) or
``--spatial_backbone=vggface2_resnet50 --backbone_weights=...`` (image input). Exit code 2 when the
input is not that layout (the message says what differs).
"""

from mimamo_tf.cli_startup import quiet_tensorflow_startup

quiet_tensorflow_startup()

import os  # noqa: E402
import sys  # noqa: E402

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("input", None, "keras-vggface VGGFace2 ResNet50 .h5 file (top or notop).")
flags.DEFINE_string("output", None, "Weights file to write (must end in .weights.h5).")


def convert(input_path, output_path):
    """Converts; returns the output path. Raises ``VGGFaceWeightsError`` for a foreign file."""
    from mimamo_tf.models import vggface2_resnet50 as vggface

    if not output_path.endswith(".weights.h5"):
        raise vggface.VGGFaceWeightsError(f"--output={output_path}: Keras weights files end in .weights.h5")
    if not os.path.isfile(input_path):
        raise vggface.VGGFaceWeightsError(f"--input={input_path}: file does not exist")
    trunk = vggface.load_published_weights(vggface.build_vggface2_resnet50_trunk(), input_path)
    directory = os.path.dirname(os.path.abspath(output_path))
    os.makedirs(directory, exist_ok=True)
    partial = os.path.join(directory, "partial-" + os.path.basename(output_path))
    trunk.save_weights(partial)
    os.replace(partial, output_path)
    return output_path


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}")
    from mimamo_tf.models.vggface2_resnet50 import VGGFaceWeightsError

    if not FLAGS.input or not FLAGS.output:
        print("mimamo_tf.convert_weights: --input and --output are required", file=sys.stderr)
        return 2
    try:
        path = convert(FLAGS.input, FLAGS.output)
    except VGGFaceWeightsError as error:
        print(f"mimamo_tf.convert_weights: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}: use --spatial_features=vggface2_resnet50:{path}")
    return 0


def run():
    app.run(main)


if __name__ == "__main__":
    run()

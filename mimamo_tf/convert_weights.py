"""``python -m mimamo_tf.convert_weights --input=rcmalli_vggface_tf_notop_resnet50.h5 --output=vggface2_resnet50.weights.h5``

Converts keras-vggface's VGGFace2 ResNet50 weights (Keras 2 ``.h5``, with or without the classifier;
users download it on their own machines) into the weights of our Keras 3 rebuild of that network
(``mimamo_tf.models.backbones.vggface2_resnet50``). Use the output with
``--spatial_features=vggface2_resnet50:vggface2_resnet50.weights.h5`` (prepare) or
``--spatial_backbone=vggface2_resnet50 --backbone_weights=...`` (image input). Exit code 2 when the
input is not that layout (the message says what differs).
"""

from absl import flags

from mimamo_tf.command_line import run_command
from mimamo_tf.models.backbones.vggface2_resnet50 import convert_published_weights, VGGFaceWeightsError


def define_flags(flag_values):
    flags.DEFINE_string("input", None, "keras-vggface VGGFace2 ResNet50 .h5 file (top or notop).",
                        flag_values=flag_values)
    flags.DEFINE_string("output", None, "Weights file to write (must end in .weights.h5).", flag_values=flag_values)


def main(flag_values):
    if not flag_values.input or not flag_values.output:
        raise VGGFaceWeightsError("--input and --output are required")
    path = convert_published_weights(flag_values.input, flag_values.output)
    print(f"wrote {path}: use --spatial_features=vggface2_resnet50:{path}")
    return 0


def run():
    run_command("convert_weights", main, define_flags, __doc__)


if __name__ == "__main__":
    run()

"""``keras:PATH[:LAYER]``: any Keras model file as the backbone.

The feature is LAYER's output (default: the input of the model's last Dense layer), averaged over
space if it is spatial; the face is resized (and turned gray) to the model's input, values in
[0, 255]. Its width and input come from the file.

(The module is not named ``keras.py``: it would stand for the ``keras`` package wherever this
folder is on ``sys.path``.)
"""

import os

import keras
from keras import layers

from mimamo_tf.backbone_registry import BackboneError, BuiltBackbone, register_backbone
from mimamo_tf.models.backbones.preprocessing import FaceToNetworkInput

_MODEL_FILE_SUFFIXES = (".keras", ".h5", ".hdf5")


def model_file_and_layer(argument):
    """``(path, layer name or "")`` of ``PATH[:LAYER]``; ``BackboneError`` unless PATH is a model file.

    A PATH that is itself an existing file is taken whole, ``:`` and all.
    """
    argument = argument or ""
    path, _, layer_name = argument.partition(":") if not os.path.isfile(argument) else (argument, "", "")
    if not path.endswith(_MODEL_FILE_SUFFIXES) or not os.path.isfile(path):
        raise BackboneError(f"keras:{argument}: expected keras:PATH[:LAYER] with PATH an existing .keras/.h5 model file")
    return path, layer_name


@register_backbone(
    "keras", feature_dim=None, input_size=None, channels=None, weights_from=model_file_and_layer,
    usage="keras:PATH[:LAYER]",
    description="any Keras model file; features of LAYER (default: the input of its last Dense layer), pooled "
                "if spatial")
def build_keras_file(rgb, weights, seed):
    """Features of the model file's layer on ``rgb``; ``weights`` is ``(path, layer name or "")``."""
    del seed  # the model file sets every weight
    path, layer_name = weights
    try:
        source = keras.models.load_model(path, compile=False)
    except Exception as error:
        raise BackboneError(f"keras:{path}: cannot be loaded as a Keras model: {error}") from error
    if layer_name:
        try:
            feature = source.get_layer(layer_name).output
        except ValueError as error:
            names = ", ".join(layer.name for layer in source.layers[-6:])
            raise BackboneError(f"keras:{path}: no layer {layer_name!r} (its last layers: {names})") from error
    else:
        dense = [layer for layer in source.layers if isinstance(layer, layers.Dense)]
        feature = dense[-1].input if dense else source.output
    trunk = keras.Model(source.inputs[0], feature, name="keras_backbone")
    trunk.trainable = False
    height, width, channels = source.inputs[0].shape[1:4]
    x = FaceToNetworkInput((height, width), gray=channels == 1, name="keras_preprocess")(rgb)
    x = trunk(x, training=False)
    if len(x.shape) == 4:
        x = layers.GlobalAveragePooling2D(name="keras_pool")(x)
    elif len(x.shape) != 2:
        spec = f"{path}:{layer_name}" if layer_name else path
        raise BackboneError(f"keras:{spec}: feature layer output {x.shape} is neither (N, D) nor (N, H, W, D)")
    preprocessing = f"{'gray (ITU-R 601), ' if channels == 1 else ''}{height}x{width} bilinear, values in [0, 255]"
    return BuiltBackbone(x, preprocessing, path, input_size=int(height), channels=int(channels))

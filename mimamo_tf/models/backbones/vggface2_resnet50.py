"""``vggface2_resnet50:PATH``: the VGGFace2 ResNet50 (the paper's spatial pretraining) and a converter
of its published weights.

PATH is keras-vggface's ``.h5`` or the output of ``python -m mimamo_tf.convert_weights``.

keras-vggface publishes VGGFace2 ResNet50 weights as a Keras 2 ``.h5`` file
(``rcmalli_vggface_tf_resnet50.h5`` / ``..._notop_resnet50.h5``). The network those weights were
trained in is the Caffe ResNet50, not ``keras.applications.ResNet50``:

* stem: 7x7 convolution, stride 2, ``same`` padding, no bias; BatchNorm; ReLU; 3x3 max-pool with
  stride 2 and **no padding** — 55x55 maps after it where Keras' ResNet50 has 56x56;
* bottleneck blocks whose stride sits on the first 1x1 convolution (Keras' ResNet50 v1 as well),
  no convolution biases, BatchNorm epsilon 1e-3; 3, 4, 6, 3 blocks of 256, 512, 1024, 2048 channels;
* a 7x7 average pool (``avg_pool``) to 2048 features, then the 8631-way identity classifier;
* input: BGR, minus the VGGFace2 BGR mean (91.4953, 103.8827, 131.0912) ("version 2"
  preprocessing), no scaling.

Its layer names are Caffe's (``conv1/7x7_s2``, ``conv2_1_1x1_reduce``, ``conv2_1_1x1_reduce/bn``,
``conv2_1_1x1_proj``, ...). Keras 3 does not allow ``/`` in layer names, so ours replace it with
``__`` (``keras_layer_name``); the converter maps one onto the other.
"""

import os

import h5py
import keras
import numpy as np
from keras import layers

from mimamo_tf.atomic_files import replacing
from mimamo_tf.backbone_registry import BackboneError, BuiltBackbone, register_backbone, require_weights_file
from mimamo_tf.errors import InputError
from mimamo_tf.models.backbones.preprocessing import VGGFACE2_RGB_MEAN, SubtractMean

VGGFACE2_BGR_MEAN = VGGFACE2_RGB_MEAN[::-1]
FEATURE_DIM = 2048
INPUT_SIZE = 224
# (stage, blocks, bottleneck width, output channels)
STAGES = ((2, 3, 64, 256), (3, 4, 128, 512), (4, 6, 256, 1024), (5, 3, 512, 2048))
_BN_EPSILON = 1e-3


class VGGFaceWeightsError(InputError, ValueError):
    """A weights file is not keras-vggface's VGGFace2 ResNet50 layout; the message says why."""


def keras_layer_name(published):
    """Our layer name for a published one (``/`` is not allowed in Keras 3 names)."""
    return published.replace("/", "__")


def _conv_bn(x, filters, kernel, name, strides=1, padding="valid", relu=True):
    x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False,
                      name=keras_layer_name(name))(x)
    x = layers.BatchNormalization(epsilon=_BN_EPSILON, name=keras_layer_name(name + "/bn"))(x)
    return layers.ReLU()(x) if relu else x


def _bottleneck(x, stage, block, width, channels, strides):
    prefix = f"conv{stage}_{block}"
    y = _conv_bn(x, width, 1, f"{prefix}_1x1_reduce", strides=strides)
    y = _conv_bn(y, width, 3, f"{prefix}_3x3", padding="same")
    y = _conv_bn(y, channels, 1, f"{prefix}_1x1_increase", relu=False)
    if block == 1:
        x = _conv_bn(x, channels, 1, f"{prefix}_1x1_proj", strides=strides, relu=False)
    return layers.ReLU()(layers.Add()([y, x]))


def build_vggface2_resnet50_trunk(name="vggface2_resnet50"):
    """The Caffe ResNet50 of the VGGFace2 weights: preprocessed BGR ``(N, 224, 224, 3)`` -> 2048.

    Returns:
        A ``keras.Model`` whose input is already mean-subtracted BGR (see the module docstring)
        and whose output is the ``avg_pool`` feature.
    """
    image = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="bgr_minus_mean")
    x = _conv_bn(image, 64, 7, "conv1/7x7_s2", strides=2, padding="same")
    x = layers.MaxPooling2D(3, strides=2, name="pool1_3x3_s2")(x)  # 112 -> 55: no padding
    for stage, blocks, width, channels in STAGES:
        for block in range(1, blocks + 1):
            strides = 2 if block == 1 and stage > 2 else 1
            x = _bottleneck(x, stage, block, width, channels, strides)
    x = layers.AveragePooling2D(7, name="avg_pool")(x)
    x = layers.Flatten(name="features")(x)
    return keras.Model(image, x, name=name)


def read_keras2_weights(path):
    """``{layer name: [arrays]}`` of a Keras 2 ``save_weights``/``save`` ``.h5`` file.

    Keras 2 writes the layer names as the root attribute ``layer_names`` (under ``model_weights``
    for a whole-model file) and, per layer, ``weight_names`` pointing at its datasets.

    Raises:
        VGGFaceWeightsError: the file is not an HDF5 file of that layout.
    """
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise VGGFaceWeightsError(f"{path}: not an HDF5 weights file ({error})") from error
    with handle:
        root = handle["model_weights"] if "model_weights" in handle else handle
        if "layer_names" not in root.attrs:
            raise VGGFaceWeightsError(f"{path}: no 'layer_names' attribute: not a Keras 2 weights file")
        weights = {}
        for raw in root.attrs["layer_names"]:
            name = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
            if name not in root:  # listed but absent: reported as missing by the caller
                continue
            group = root[name]
            arrays = []
            for raw_weight in group.attrs.get("weight_names", []):
                weight = raw_weight.decode("utf-8") if isinstance(raw_weight, bytes) else str(raw_weight)
                arrays.append(np.asarray(group[weight]))
            if arrays:
                weights[name] = arrays
        return weights


def load_published_weights(model, path):
    """Sets the trunk's weights from keras-vggface's VGGFace2 ResNet50 ``.h5`` file (top or no top).

    Raises:
        VGGFaceWeightsError: a layer is missing or has arrays of other shapes (names them).
    """
    published = read_keras2_weights(path)
    missing, wrong = [], []
    for layer in model.layers:
        if not layer.weights:
            continue
        source = layer.name.replace("__", "/")
        arrays = published.get(source)
        if arrays is None:
            missing.append(source)
            continue
        expected = [tuple(w.shape) for w in layer.weights]
        if [a.shape for a in arrays] != expected:
            wrong.append(f"{source}: {[a.shape for a in arrays]} (expected {expected})")
            continue
        layer.set_weights(arrays)
    if missing or wrong:
        detail = "; ".join(filter(None, [
            f"{len(missing)} layers missing (first: {', '.join(missing[:3])})" if missing else "",
            f"shape mismatch: {'; '.join(wrong[:3])}" if wrong else ""]))
        raise VGGFaceWeightsError(
            f"{path} is not keras-vggface's VGGFace2 ResNet50 layout (layer names like conv1/7x7_s2, "
            f"conv2_1_1x1_reduce/bn): {detail}")
    return model


def convert_published_weights(input_path, output_path):
    """keras-vggface's published VGGFace2 ResNet50 weights (``input_path``, Keras 2 ``.h5``, with or
    without the classifier) as the weights of ``build_vggface2_resnet50_trunk`` (``output_path``, a
    ``.weights.h5`` file, written atomically); returns the output path.

    Raises:
        VGGFaceWeightsError: the input is missing or not that layout (the message says what differs).
    """
    if not output_path.endswith(".weights.h5"):
        raise VGGFaceWeightsError(f"--output={output_path}: Keras weights files end in .weights.h5")
    if not os.path.isfile(input_path):
        raise VGGFaceWeightsError(f"--input={input_path}: file does not exist")
    trunk = load_published_weights(build_vggface2_resnet50_trunk(), input_path)
    with replacing(output_path) as partial:
        trunk.save_weights(partial)
    return output_path


@register_backbone(
    "vggface2_resnet50", feature_dim=FEATURE_DIM, input_size=INPUT_SIZE,
    weights_from=lambda path: require_weights_file(path, "vggface2_resnet50"), usage="vggface2_resnet50:PATH",
    description="the paper's VGGFace2 pretraining: keras-vggface's Caffe ResNet50; PATH is keras-vggface's .h5 or "
                "the output of python -m mimamo_tf.convert_weights")
def build_vggface2_resnet50(rgb, weights, seed):
    """The trunk on ``rgb`` with the weights file ``weights``: published layout, else ours (converted)."""
    del seed  # the weights file sets every weight
    trunk = build_vggface2_resnet50_trunk()
    try:
        load_published_weights(trunk, weights)
    except VGGFaceWeightsError as published_error:
        try:  # the output of convert_weights: our own layout
            trunk.load_weights(weights)
        except Exception:
            raise BackboneError(f"vggface2_resnet50: {published_error}") from published_error
    x = SubtractMean(VGGFACE2_BGR_MEAN, bgr=True, name="vggface2_preprocess")(rgb)
    return BuiltBackbone(trunk(x, training=False),
                         "RGB -> BGR minus the VGGFace2 BGR mean (91.4953, 103.8827, 131.0912)", weights)

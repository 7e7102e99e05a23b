"""The in-graph gray face (for exported models) against what data preparation computes with OpenCV."""

import cv2
import numpy as np
from skimage import data

from mimamo_tf.faces.alignment import gray_from_rgb
from mimamo_tf.models.face_inputs import GrayFromRGB, area_resize_matrix


def test_gray_faces_equal_prepare_to_one_level():
    rng = np.random.default_rng(0)
    faces = [cv2.resize(data.astronaut()[20 + d:220 + d, 150:350], (224, 224), interpolation=cv2.INTER_AREA)
             for d in range(0, 40, 5)]
    faces += [rng.integers(0, 256, (224, 224, 3), dtype=np.uint8) for _ in range(4)]
    rgb = np.stack(faces)
    expected = np.stack([gray_from_rgb(face) for face in rgb]).astype(np.int32)
    got = np.round(np.asarray(GrayFromRGB()(rgb)) * 255).astype(np.int32)
    difference = np.abs(got - expected)
    # Exact but for sums landing on .5, which float summation order rounds either way.
    assert difference.max() <= 1 and (difference == 0).mean() > 0.995


def test_luma_is_opencv_exact_and_area_weights_average():
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (1, 224 * 224, 3), dtype=np.uint8)
    # A 1-pixel-tall "image" resized 224 -> 224 wide keeps the luma alone: compare it exactly.
    layer = GrayFromRGB(size=224, source_size=224)
    luma = np.round(np.asarray(layer(pixels.reshape(224, 224, 3))) * 255).astype(np.int32)
    np.testing.assert_array_equal(luma, cv2.cvtColor(pixels.reshape(224, 224, 3), cv2.COLOR_RGB2GRAY))
    weights = area_resize_matrix(224, 48)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)  # each output is an average
    np.testing.assert_allclose(weights.sum(axis=0), 48 / 224)  # each input counts equally


def test_antialiased_resize_matrices_equal_tensorflow_resize():
    """The backbones' face resize as matrices (LiteRT-convertible) against tf.image.resize itself,
    down- and up-scaling, and inside FaceToNetworkInput (the fer CNN's 64x64 gray input)."""
    import tensorflow as tf

    from mimamo_tf.models.backbone import FaceToNetworkInput
    from mimamo_tf.models.face_inputs import antialiased_bilinear_matrix

    rng = np.random.default_rng(0)
    for source, target in ((224, 64), (224, 48), (100, 37), (40, 90)):
        image = rng.uniform(0, 255, (source, source)).astype(np.float32)
        expected = tf.image.resize(image[None, :, :, None], (target, target), "bilinear", antialias=True)[0, :, :, 0]
        matrix = antialiased_bilinear_matrix(source, target)
        np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-12)
        # float32 rounding of TF's own kernel weights: ~3e-6 of the 0-255 range.
        np.testing.assert_allclose(matrix @ image @ matrix.T, expected.numpy(), atol=1e-3)
    faces = rng.integers(0, 256, (2, 224, 224, 3)).astype(np.float32)
    layer = FaceToNetworkInput((64, 64), gray=True, scale=1 / 255.0)
    luma = np.sum(faces * np.array([0.299, 0.587, 0.114], np.float32), axis=-1, keepdims=True)
    expected = tf.image.resize(luma, (64, 64), "bilinear", antialias=True).numpy() / 255.0
    np.testing.assert_allclose(np.asarray(layer(faces)), expected, atol=1e-5)

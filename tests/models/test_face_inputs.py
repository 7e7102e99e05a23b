"""The in-graph gray face (for exported models) against what data preparation computes with OpenCV:
equal value for value (no tolerance), so a model sees the same input exported or trained."""

import cv2
import numpy as np
import tensorflow as tf
from skimage import data

from mimamo_tf.models.face_inputs import GrayFromRGB, area_resize_taps


def _opencv_gray48(rgb):
    """The reference, straight from OpenCV (what ``faces.alignment.gray_from_rgb`` does in prepare)."""
    return cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (48, 48), interpolation=cv2.INTER_AREA)


def _face_crops():
    """Aligned-face-like 224x224 crops of a real face: several offsets, zooms and resamplings."""
    image = data.astronaut()
    crops = []
    for dy in range(0, 40, 8):
        for dx in (0, 9, 17):
            crops.append(cv2.resize(image[20 + dy:220 + dy, 150 + dx:350 + dx], (224, 224), interpolation=cv2.INTER_AREA))
    crops.append(cv2.resize(image[0:300, 100:400], (224, 224), interpolation=cv2.INTER_CUBIC))
    crops.append(cv2.resize(image[60:160, 200:300], (224, 224), interpolation=cv2.INTER_LINEAR))
    return np.stack(crops)


def test_gray_faces_equal_opencv_exactly_on_real_faces():
    rgb = _face_crops()
    expected = np.stack([_opencv_gray48(face) for face in rgb])
    got = np.asarray(GrayFromRGB()(rgb))
    assert got.dtype == np.float32 and got.shape == (len(rgb), 48, 48)
    # Every value is a whole gray level / 255 (not merely within one level of it)...
    np.testing.assert_array_equal(got, expected.astype(np.float32) / np.float32(255.0))
    # ...and the same gray levels in a graph (what an exported model runs), where Grappler may turn
    # "/ 255" into "* (1 / 255)": the float may then differ in its last bit, the level may not.
    compiled = tf.function(GrayFromRGB())
    levels = np.asarray(compiled(tf.constant(rgb.astype(np.float32)))) * 255.0
    np.testing.assert_array_equal(np.round(levels), expected)
    assert np.abs(levels - expected).max() < 1e-4  # whole levels, not values rounding to them
    window = np.asarray(GrayFromRGB()(rgb[None, :6]))  # leading axes (batch, time)
    np.testing.assert_array_equal(window[0], expected[:6].astype(np.float32) / np.float32(255.0))


def test_gray_faces_equal_opencv_exactly_on_noise_and_flat_images():
    """Noise lands many area sums near .5 (where summation order decides the rounding); flat
    images and extremes check the ends of the range."""
    rng = np.random.default_rng(7)
    images = list(rng.integers(0, 256, (6, 224, 224, 3), dtype=np.uint8))
    images += [np.full((224, 224, 3), value, np.uint8) for value in (0, 1, 127, 254, 255)]
    images.append(np.tile(np.arange(224, dtype=np.uint8)[None, :, None], (224, 1, 3)))
    rgb = np.stack(images)
    expected = np.stack([_opencv_gray48(face) for face in rgb])
    got = np.asarray(GrayFromRGB()(rgb))
    np.testing.assert_array_equal(got, expected.astype(np.float32) / np.float32(255.0))


def test_luma_is_opencv_exact_and_area_weights_average():
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (1, 224 * 224, 3), dtype=np.uint8)
    # A 1-pixel-tall "image" resized 224 -> 224 wide keeps the luma alone: compare it exactly.
    layer = GrayFromRGB(size=224, source_size=224)
    luma = np.round(np.asarray(layer(pixels.reshape(224, 224, 3))) * 255).astype(np.int32)
    np.testing.assert_array_equal(luma, cv2.cvtColor(pixels.reshape(224, 224, 3), cv2.COLOR_RGB2GRAY))
    indices, taps = area_resize_taps(224, 48)
    weights = np.zeros((48, 224))
    np.add.at(weights, (np.arange(48)[:, None].repeat(indices.shape[1], 1), indices), taps)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)  # each output is an average
    np.testing.assert_allclose(weights.sum(axis=0), 48 / 224, rtol=1e-6)  # each input counts equally


def test_antialiased_resize_matrices_equal_tensorflow_resize():
    """The backbones' face resize as matrices (LiteRT-convertible) against tf.image.resize itself,
    down- and up-scaling, and inside FaceToNetworkInput (the fer CNN's 64x64 gray input)."""
    import tensorflow as tf

    from mimamo_tf.models.backbones.preprocessing import FaceToNetworkInput
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

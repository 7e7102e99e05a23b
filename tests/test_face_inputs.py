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

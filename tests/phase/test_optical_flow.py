"""OpenCV flow of frame pairs: known displacements, scale handling, snippet layout, bad input."""

import numpy as np
import pytest
from mimamo_tf.testing.face_frames import face_crop

from mimamo_tf.phase import SnippetBuilder
from mimamo_tf.phase.optical_flow import flow_snippets, optical_flow_pairs


@pytest.fixture(scope="module")
def shifted_faces():
    """A 64x64 face moved by (+1.0, -0.5) px per frame."""
    return np.stack([face_crop((1.0 * t, -0.5 * t), size=64) for t in range(4)]).astype(np.float32)


@pytest.mark.parametrize("method", ["farneback", "dis"])
def test_flow_recovers_known_translation_at_each_scale(shifted_faces, method):
    level0, level1 = optical_flow_pairs(shifted_faces, method, sizes=(64, 32))
    assert level0.shape == (3, 2, 64, 64) and level1.shape == (3, 2, 32, 32)
    centre = (slice(None), slice(16, 48), slice(16, 48))
    # Median over the face's centre: x (channel 0) = +1 px, y (channel 1) = -0.5 px at 64x64 ...
    np.testing.assert_allclose(np.median(level0[:, 0][centre], axis=(1, 2)), 1.0, atol=0.2)
    np.testing.assert_allclose(np.median(level0[:, 1][centre], axis=(1, 2)), -0.5, atol=0.2)
    # ... and half of that in pixels of the 32x32 scale.
    centre = (slice(None), slice(8, 24), slice(8, 24))
    np.testing.assert_allclose(np.median(level1[:, 0][centre], axis=(1, 2)), 0.5, atol=0.1)
    np.testing.assert_allclose(np.median(level1[:, 1][centre], axis=(1, 2)), -0.25, atol=0.1)


def test_flow_snippets_equal_snippet_builder(shifted_faces):
    maps = optical_flow_pairs(shifted_faces, "dis", sizes=(48,))[0]
    expected = np.asarray(SnippetBuilder(length=6)(maps[None]))[0]
    np.testing.assert_array_equal(flow_snippets(maps, length=6), expected)


def test_flow_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(T, H, W\)"):
        optical_flow_pairs(np.zeros((2, 48, 48, 3), np.uint8))
    with pytest.raises(ValueError, match="non-finite"):
        optical_flow_pairs(np.full((2, 48, 48), np.nan, np.float32))
    with pytest.raises(ValueError, match="method must be one of"):
        optical_flow_pairs(np.zeros((2, 48, 48), np.uint8), method="brox")

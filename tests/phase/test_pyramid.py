"""SteerablePyramid against pyrtools, and its NumPy twin."""

import numpy as np
import pytest
from mimamo_tf.testing.face_frames import astronaut_gray, random_images
from skimage import transform

from mimamo_tf.phase import SteerablePyramid, steerable_pyramid_numpy
from mimamo_tf.testing import phase_reference as reference


def _face_crops():
    """48x48 crops of the real face photo at several positions and scales."""
    photo = astronaut_gray()
    boxes = [(40, 130, 240), (90, 190, 96), (150, 220, 64), (60, 160, 160)]
    return np.stack(
        [transform.resize(photo[t : t + s, l : l + s], (48, 48), anti_aliasing=True)
         for t, l, s in boxes]
    )


def _relative_error(ours_real, ours_imag, ref):
    return np.abs(ours_real + 1j * ours_imag - ref).max() / np.abs(ref).max()


@pytest.mark.parametrize("images", ["face", "random"])
def test_matches_pyrtools(images):
    frames = _face_crops() if images == "face" else random_images(4, seed=3)
    bands = SteerablePyramid()(frames.astype(np.float32))
    assert len(bands) == 2
    for i, frame in enumerate(frames):
        ref = reference.pyramid_bands(frame)
        for s, size in enumerate((48, 24)):
            real, imag = (np.asarray(part) for part in bands[s])
            assert real.shape == imag.shape == (len(frames), 2, size, size)
            for b in range(2):
                assert _relative_error(real[i, b], imag[i, b], ref[s][b]) <= 1e-4, (i, s, b)


def test_other_sizes_match_pyrtools():
    # Three scales of 32x32 frames with 4 orientations: the construction is not tied to the defaults.
    frames = random_images(2, size=32, seed=5)
    bands = SteerablePyramid(scales=3, orientations=4, image_size=32)(frames.astype(np.float32))
    for i, frame in enumerate(frames):
        ref = reference.pyramid_bands(frame, scales=3, orientations=4)
        for s in range(3):
            real, imag = (np.asarray(part) for part in bands[s])
            for b in range(4):
                assert _relative_error(real[i, b], imag[i, b], ref[s][b]) <= 1e-4, (i, s, b)


def test_numpy_twin_matches_layer_with_leading_axes():
    frames = random_images(6, seed=7).reshape(2, 3, 48, 48).astype(np.float32)
    layer = SteerablePyramid()(frames)
    twin = steerable_pyramid_numpy(frames)
    for (lr, li), (tr, ti) in zip(layer, twin):
        assert np.asarray(lr).shape == tr.shape == (2, 3, 2) + tr.shape[-2:]
        np.testing.assert_allclose(np.asarray(lr), tr, atol=2e-5)
        np.testing.assert_allclose(np.asarray(li), ti, atol=2e-5)


def test_linear_and_blind_to_brightness_offset():
    a, b = random_images(2, seed=11).astype(np.float32)
    pyramid = SteerablePyramid()
    combined = pyramid(np.stack([2.0 * a - 0.5 * b + 0.3]))
    separate = pyramid(np.stack([a, b]))
    for (cr, ci), (sr, si) in zip(combined, separate):
        np.testing.assert_allclose(np.asarray(cr)[0], 2 * np.asarray(sr)[0] - 0.5 * np.asarray(sr)[1], atol=1e-5)
        np.testing.assert_allclose(np.asarray(ci)[0], 2 * np.asarray(si)[0] - 0.5 * np.asarray(si)[1], atol=1e-5)


@pytest.mark.parametrize(
    "shape, message",
    [((48, 48, 1), r"\(\.\.\., 48, 48\)"), ((2, 32, 32), r"got shape \(2, 32, 32\)"), ((48,), "expects")],
)
def test_bad_shapes_raise_clear_errors(shape, message):
    with pytest.raises(ValueError, match=message):
        SteerablePyramid()(np.zeros(shape, np.float32))


def test_nan_frames_raise_clear_error():
    frames = np.random.default_rng(0).random((3, 48, 48)).astype(np.float32)
    frames[1, 5, 5] = np.nan
    with pytest.raises(ValueError, match=r"non-finite.*1 frame.*index 1"):
        SteerablePyramid()(frames)

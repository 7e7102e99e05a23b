"""The paper's phase difference as written (``bench phase_definitions``): known answers, a direct
computation, and the known-motion case both definitions must localise. No network."""

import math

import numpy as np
import pytest

from mimamo_tf.benchmarks import phase_definitions as definitions


@pytest.mark.parametrize("step", [2.5, -2.5])
def test_paper_variant_recovers_a_known_per_frame_phase_shift(step):
    # Phase ramp 0.02 x + 0.3 + t * step, wrapped per frame; a non-uniform amplitude that does not
    # change over time. Every frame's phases stay on one side of the +-pi cut, so the blurred phase
    # is the ramp's blur plus the frame's constant and the difference is ``step`` exactly. A jump of
    # -+(2 pi - 2.5) between frames 1 and 2 (positive for step < 0, negative for step > 0) must be
    # unwrapped.
    x = np.arange(12.0)
    amplitude = 0.5 + np.random.default_rng(0).random((12, 12))
    phase = np.angle(np.exp(1j * (0.02 * x[None, None, :] + 0.3 + step * np.arange(4)[:, None, None])))
    assert np.all(phase.max(axis=(1, 2)) - phase.min(axis=(1, 2)) < 1)  # no frame straddles the cut
    bands = (amplitude * np.exp(1j * phase))[:, None]  # (T, orientations=1, h, w)

    maps = definitions.paper_phase_difference(bands, subtract_mean=False)
    assert maps.shape == (3, 1, 12, 12)
    np.testing.assert_allclose(maps, step, atol=1e-9)
    np.testing.assert_allclose(definitions.paper_phase_difference(bands), 0.0, atol=1e-9)


def _direct_paper_difference(bands, sigma=2.0, radius=5):
    """Loops: zero-padded 11x11 Gaussian sums per pixel, then a per-pixel unwrap rule over time.
    Returns the maps and how many jumps were corrected downwards and upwards."""
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel = np.outer(taps, taps)
    frames, orientations, h, w = bands.shape
    blurred = np.zeros((frames, orientations, h, w))
    for t in range(frames):
        for b in range(orientations):
            weight = np.pad(np.abs(bands[t, b]), radius)
            weighted = np.pad(np.abs(bands[t, b]) * np.angle(bands[t, b]), radius)
            for i in range(h):
                for j in range(w):
                    window = (slice(i, i + 2 * radius + 1), slice(j, j + 2 * radius + 1))
                    blurred[t, b, i, j] = np.sum(kernel * weighted[window]) / np.sum(kernel * weight[window])
    maps = np.zeros((frames - 1, orientations, h, w))
    corrected = [0, 0]
    for t in range(1, frames):
        for b in range(orientations):
            for i in range(h):
                for j in range(w):
                    jump = blurred[t, b, i, j] - blurred[t - 1, b, i, j]
                    corrected[0] += jump > math.pi
                    corrected[1] += jump < -math.pi
                    while jump > math.pi:
                        jump -= 2 * math.pi
                    while jump < -math.pi:
                        jump += 2 * math.pi
                    maps[t - 1, b, i, j] = jump
    return maps, corrected


def test_paper_variant_equals_a_direct_computation():
    # Per-frame phase offsets whose jumps cross the cut both ways, pixel noise, random amplitudes.
    rng = np.random.default_rng(1)
    offsets = np.array([0.0, 2.6, -2.4, 2.9])[:, None, None, None]
    phase = offsets + 0.4 * rng.normal(size=(4, 2, 9, 9))
    bands = (0.2 + rng.random((4, 2, 9, 9))) * np.exp(1j * phase)
    expected, corrected = _direct_paper_difference(bands)
    assert min(corrected) > 0  # jumps above pi and below -pi were both unwrapped
    # Without the mean removal, which would hide a correction made at every pixel of a map.
    np.testing.assert_allclose(definitions.paper_phase_difference(bands, subtract_mean=False), expected, atol=1e-9)


def test_without_the_blur_both_definitions_are_the_wrapped_difference():
    rng = np.random.default_rng(2)
    bands = rng.normal(size=(5, 2, 8, 8)) + 1j * rng.normal(size=(5, 2, 8, 8))
    wrapped = np.angle(bands[1:] * np.conj(bands[:-1]))
    expected = wrapped - wrapped.mean(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(definitions.paper_phase_difference(bands, blur_radius=0), expected, atol=1e-12)
    np.testing.assert_allclose(definitions.unblurred_phase_difference(bands), expected, atol=1e-12)


def test_both_definitions_put_the_energy_of_a_known_local_motion_inside_the_moving_disc():
    # A disc of radius 6 px moves by 0.5 px; the moving region dilated by the blur radius is 19% of
    # the 48x48 map and 40% of the 24x24 one. Only ours also follows the motion's sign.
    result = definitions.measure_local_motion(seeds=3)
    for level in result["levels"]:
        for name in ("ours", "paper"):
            assert level[name]["energy_inside"]["min"] > 0.7, (level["scale"], name, level[name])
        assert level["ours"]["centroid_px"]["max"] < 3.0, level
        assert level["ours"]["gain"]["min"] > 0.25, level

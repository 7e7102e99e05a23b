"""Phase differences, mean-centred phase and snippets: numbers and physical behaviour."""

import numpy as np
import pytest
import scipy.ndimage
from mimamo_tf.testing.face_frames import face_crop

from mimamo_tf.phase import (
    MeanCentredPhase,
    PaperPhaseDifference,
    PhaseDifference,
    PhaseSnippets,
    SnippetBuilder,
    snippet_source_indices,
    steerable_pyramid_numpy,
)
from mimamo_tf.phase.optical_flow import optical_flow_pairs
from mimamo_tf.testing import phase_reference as reference

# Peak radian frequency of the scale-0 bands (wavelength 4 px); scale 1 peaks at 8 px of the
# 48x48 frame, i.e. 4 px of its own 24x24 grid.
PEAK_OMEGA = 2 * np.pi / 4


@pytest.fixture(scope="module")
def moving_face():
    """8 frames (shorter than a 13-frame snippet) of a face drifting and jittering sub-pixel."""
    rng = np.random.default_rng(4)
    shifts = np.cumsum(rng.normal(0, 0.2, size=(8, 2)), axis=0)
    return np.stack([face_crop(tuple(s)) for s in shifts]).astype(np.float32)


def test_snippets_match_per_snippet_pyrtools_reference_with_clamping(moving_face):
    # The reference builds every snippet from its own 13 clamped frames with 13 pyrtools pyramids and
    # SciPy's blur; the layer computes each pair once and gathers. With 8 frames every snippet is
    # clamped at one or both ends.
    expected = reference.snippets(moving_face.astype(np.float64))
    got = PhaseSnippets()(moving_face[None])
    for s, size in enumerate((48, 24)):
        ours = np.asarray(got[s])[0]
        assert ours.shape == expected[s].shape == (8, size, size, 24)
        np.testing.assert_allclose(ours, expected[s], atol=1e-4)
        assert np.abs(expected[s]).max() > 0.05  # real motion, not all zeros


def test_channels_first_is_a_transpose_and_context_frames_trim(moving_face):
    last = PhaseSnippets()(moving_face[None])
    first = PhaseSnippets(data_format="channels_first")(moving_face[None])
    trimmed = PhaseSnippets(context_frames=2)(moving_face[None])
    for cl, cf, tr in zip(last, first, trimmed):
        cl, cf, tr = np.asarray(cl), np.asarray(cf), np.asarray(tr)
        np.testing.assert_array_equal(cf, cl.transpose(0, 1, 4, 2, 3))
        np.testing.assert_array_equal(tr, cl[:, 2:-2])


@pytest.mark.parametrize("source", ["pairs", "frames"])
@pytest.mark.parametrize("num_frames, length, context", [(1, 12, 0), (2, 4, 0), (5, 12, 1), (20, 12, 3), (9, 5, 0)])
def test_snippet_builder_equals_index_table_gather(source, num_frames, length, context):
    rng = np.random.default_rng(num_frames)
    steps = num_frames - 1 if source == "pairs" else num_frames
    maps = rng.random((2, steps, 2, 3, 4)).astype(np.float32)
    padded = np.concatenate([maps, np.zeros((2, 1, 2, 3, 4), np.float32)], axis=1)
    index = snippet_source_indices(num_frames, length, source)[context : num_frames - context]
    gathered = padded[:, index]  # (batch, T', L, O, h, w)
    expected = gathered.transpose(0, 1, 4, 5, 3, 2).reshape(2, len(index), 3, 4, 2 * length)
    got = SnippetBuilder(length, source, context_frames=context)(maps)
    np.testing.assert_array_equal(np.asarray(got), expected)


def test_snippet_index_table_clamps_at_video_ends():
    index = snippet_source_indices(3, 4, "pairs")
    # Frame 0 spans frames -2..2 -> clamped 0,0,0,1,2: pairs (0,0)=zero, (0,0)=zero, (0,1), (1,2).
    np.testing.assert_array_equal(index, [[2, 2, 0, 1], [2, 0, 1, 2], [0, 1, 2, 2]])


def _shift_pairs(dx, dy):
    base = face_crop((0.0, 0.0))
    return np.stack([[base, face_crop((dx, 0.0))], [base, face_crop((0.0, dy))]]).astype(np.float32)


@pytest.mark.parametrize("shift", [0.25, -0.15])
def test_global_subpixel_shift_follows_fourier_shift_theorem(shift):
    # A translation by d px along +x multiplies each positive-frequency band coefficient by
    # exp(-i omega d): orientation 0 (x frequencies) sees dphi = -omega d, orientation 1 ~ 0; and the
    # same for y. Natural images weight the band's lower frequencies, so the effective omega is a
    # fraction of the peak: measured 0.63 (scale 0) and 0.76 (scale 1) of it on this face. The other
    # orientation's mean is not exactly 0 because the face's structure is anisotropic: measured
    # 0.05-0.17 of the main response here (0.01-0.04 on isotropic noise).
    raw = PhaseDifference(subtract_mean=False)(_shift_pairs(shift, shift))
    for s, maps in enumerate(raw):
        maps = np.asarray(maps)[:, 0]  # (x-shift / y-shift, orientation, h, w)
        predicted = -PEAK_OMEGA * shift / 2**s  # shift in pixels of this scale's grid
        for moved_axis in range(2):
            along = maps[moved_axis, moved_axis].mean()
            across = maps[moved_axis, 1 - moved_axis].mean()
            assert np.sign(along) == np.sign(predicted), (s, moved_axis, along)
            assert 0.45 <= along / predicted <= 1.0, (s, moved_axis, along, predicted)
            assert abs(across) <= 0.25 * abs(along), (s, moved_axis, across, along)
    centred = PhaseDifference()(_shift_pairs(shift, shift))
    for maps in centred:
        np.testing.assert_allclose(np.asarray(maps).mean(axis=(-2, -1)), 0.0, atol=1e-5)


def test_local_subpixel_motion_stays_in_its_region():
    # Move only the mouth region by half a pixel: the phase differences concentrate there.
    base = face_crop((0.0, 0.0))
    yy, xx = np.mgrid[:48, :48]
    window = np.exp(-(((yy - 34) / 5.0) ** 2 + ((xx - 24) / 7.0) ** 2) ** 2)
    frames = np.stack([base, base * (1 - window) + face_crop((0.5, 0.0)) * window])
    region = scipy.ndimage.binary_dilation(window > 0.05, iterations=5)  # + the blur's reach
    maps = PhaseDifference()(frames[None].astype(np.float32))
    for s, scale_maps in enumerate(maps):
        energy = np.abs(np.asarray(scale_maps)[0, 0]).sum(axis=0)
        inside = region[:: 2**s, :: 2**s]
        assert inside.mean() < 0.25  # the region is a small part of the face
        # Measured: mean |dphi| inside / outside = 5.1 (scale 0) and 3.7 (scale 1).
        assert energy[inside].mean() > 3.0 * energy[~inside].mean(), s


def _relative_change(corrupted, clean):
    return np.linalg.norm(corrupted - clean) / np.linalg.norm(clean)


@pytest.fixture(scope="module")
def mouth_motion_clip():
    """16 frames of a still face whose mouth region oscillates by up to half a pixel."""
    base = face_crop((0.0, 0.0))
    yy, xx = np.mgrid[:48, :48]
    window = np.exp(-(((yy - 34) / 5.0) ** 2 + ((xx - 24) / 8.0) ** 2) ** 2)
    frames = []
    for t in range(16):
        d = 0.5 * np.sin(2 * np.pi * t / 5.0)
        frames.append(base * (1 - window) + face_crop((d, 0.5 * d)) * window)
    return np.stack(frames).astype(np.float32)


def test_phase_differences_ignore_per_frame_affine_brightness_changes(mouth_motion_clip):
    # Band-pass filtering removes offsets and a gain scales every coefficient of a frame alike, so
    # the phase differences are exactly invariant; Farneback's brightness constancy is broken.
    rng = np.random.default_rng(1)
    gain = rng.uniform(0.6, 1.0, size=(16, 1, 1))
    offset = rng.uniform(0.0, 0.3, size=(16, 1, 1)) * (1 - gain)
    changed = (gain * mouth_motion_clip + offset).astype(np.float32)
    layer = PhaseDifference()
    phase_change = _relative_change(np.asarray(layer(changed[None])[0]), np.asarray(layer(mouth_motion_clip[None])[0]))
    flow_change = _relative_change(
        optical_flow_pairs(changed, "farneback")[0], optical_flow_pairs(mouth_motion_clip, "farneback")[0]
    )
    assert phase_change < 1e-3
    assert flow_change > 0.3


def test_gamma_changes_phase_differences_less_than_farneback_flow(mouth_motion_clip):
    # The paper's corruption: u -> u**g per frame, g ~ U[1 - beta, 1 + beta], beta = 0.5. Gamma is
    # non-linear, so phase is not exactly invariant, but it moves less than Farneback flow (and far
    # less than DIS flow). Measured over these 4 draws: relative change 2.8 (phase differences,
    # scale 0) vs 3.9 (Farneback) vs 5.8 (DIS): ratio Farneback / phase = 1.37 (1.50 at scale 1).
    rng = np.random.default_rng(0)
    layer = PhaseDifference()
    clean_phase = [np.asarray(m) for m in layer(mouth_motion_clip[None])]
    clean_flow = optical_flow_pairs(mouth_motion_clip, "farneback")
    ratios = []
    for _ in range(4):
        gamma = rng.uniform(0.5, 1.5, size=(16, 1, 1))
        corrupted = (mouth_motion_clip**gamma).astype(np.float32)
        phase = [np.asarray(m) for m in layer(corrupted[None])]
        flow = optical_flow_pairs(corrupted, "farneback")
        ratios.append(
            [_relative_change(flow[s], clean_flow[s]) / _relative_change(phase[s], clean_phase[s]) for s in range(2)]
        )
    ratio = np.mean(ratios, axis=0)
    assert ratio[0] > 1.2 and ratio[1] > 1.2, ratio


def test_mean_centred_phase_matches_reference_and_has_zero_mean(moving_face):
    maps = MeanCentredPhase()(moving_face[None])
    for s, scale_maps in enumerate(maps):
        scale_maps = np.asarray(scale_maps)[0]
        assert scale_maps.shape == (8, 2, 48 >> s, 48 >> s)
        np.testing.assert_allclose(scale_maps.mean(axis=(-2, -1)), 0.0, atol=1e-5)
    # Reference: pyrtools band -> angle, |c|-weighted SciPy blur, mean removal.
    for t in (0, 5):
        bands = reference.pyramid_bands(moving_face[t].astype(np.float64))
        for s in range(2):
            for b in range(2):
                expected = reference.denoised_phase(bands[s][b])
                np.testing.assert_allclose(np.asarray(maps[s])[0, t, b], expected, atol=1e-4)


def test_phase_difference_rejects_bad_input():
    layer = PhaseDifference()
    with pytest.raises(ValueError, match=r"\(batch, T, 48, 48\).*got shape \(5, 48, 48\)"):
        layer(np.zeros((5, 48, 48), np.float32))
    with pytest.raises(ValueError, match=r"\(batch, T, 48, 48\).*got shape \(1, 5, 40, 40\)"):
        layer(np.zeros((1, 5, 40, 40), np.float32))
    frames = np.full((1, 4, 48, 48), 0.5, np.float32)
    frames[0, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        layer(frames)
    with pytest.raises(ValueError, match="mode must be one of"):
        PhaseSnippets(mode="flow")
    with pytest.raises(ValueError, match="data_format must be one of"):
        SnippetBuilder(data_format="NCHW")


def test_the_papers_order_equals_its_numpy_definition():
    """``PaperPhaseDifference`` (``--temporal_input=phase_difference_paper``: blur each frame's phase,
    unwrap in time, difference) against ``paper_phase_difference`` of ``benchmarks/phase_definitions``
    (NumPy, float64, SciPy's blur, ``np.unwrap``) on a moving real face: within 1e-4; and it is not
    ``PhaseDifference`` (the order matters)."""
    from mimamo_tf.benchmarks.phase_definitions import paper_phase_difference

    frames = np.stack([face_crop((0.3 * t, 0.1 * t)) for t in range(6)]).astype(np.float64)
    bands = [real + 1j * imag for real, imag in steerable_pyramid_numpy(frames, 2, 2)]
    ours = PaperPhaseDifference()(frames[None].astype(np.float32))
    for maps, band in zip(ours, bands):
        np.testing.assert_allclose(np.asarray(maps)[0], paper_phase_difference(band), atol=1e-4)
    default = PhaseDifference()(frames[None].astype(np.float32))
    assert max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(ours, default)) > 0.05

"""One frame rate inside the model (mimamo_tf.frame_rate): the frame indices against their
definition by times, compared pair by pair."""

import numpy as np
import pytest

from mimamo_tf import frame_rate

RATES = [(120, 60.0, 30.0), (50, 25.0, 30.0), (73, 24.0, 30.0), (31, 59.94, 30.0), (9, 7.0, 30.0), (1, 60.0, 30.0),
         (100, 30.0, 25.0), (64, 90.0, 30.0)]


def _nearest_by_definition(times, grid_times):
    """For each time, the index of the grid time at the least distance (the later one on a tie)."""
    distance = np.abs(times[:, None] - grid_times[None, :])
    return np.array([np.flatnonzero(np.isclose(row, row.min(), rtol=0, atol=1e-12))[-1] for row in distance])


@pytest.mark.parametrize("num_frames,fps,target", RATES)
def test_each_resampled_frame_shows_the_source_frame_nearest_its_time(num_frames, fps, target):
    shown = frame_rate.resampled_frames(num_frames, fps, target)
    source_times = np.arange(num_frames) / fps
    # The resampled video runs from 0 s to the last source frame's time, one frame per 1 / target s.
    ticks = np.arange(0.0, source_times[-1] + 1e-9, 1.0 / target)
    np.testing.assert_array_equal(shown, _nearest_by_definition(ticks, source_times))
    back = frame_rate.source_to_resampled(num_frames, fps, target)
    np.testing.assert_array_equal(back, _nearest_by_definition(source_times, ticks))


def test_a_snippet_spans_the_same_time_at_60_and_25_frames_per_second():
    """12 differences of the resampled frames are 0.4 s of either video (the source frames they show
    are 0.4 s apart, to the source's frame); without resampling 0.2 s and 0.48 s."""
    for fps in (60.0, 25.0):
        shown = frame_rate.resampled_frames(int(4 * fps), fps, frame_rate.DEFAULT_TARGET_FPS)
        spans = (shown[12:] - shown[:-12]) / fps
        assert np.all(np.abs(spans - 0.4) <= 1.0 / fps + 1e-9)
        assert abs(spans.mean() - 0.4) < 0.01
        own = frame_rate.resampled_frames(int(4 * fps), fps, 0)
        assert abs((own[12] - own[0]) / fps - 0.4) > 0.07


def test_rates_within_one_percent_keep_their_frames():
    np.testing.assert_array_equal(frame_rate.resampled_frames(100, 29.97, 30.0), np.arange(100))
    assert not frame_rate.resamples(30.0, 0) and not frame_rate.resamples(0.0, 30.0)
    assert frame_rate.resamples(25.0, 30.0) and frame_rate.model_frame_rate(25.0, 30.0) == 30.0
    assert frame_rate.model_frame_rate(29.97, 30.0) == 29.97

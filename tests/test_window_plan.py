"""Overlapping evaluation windows (mimamo_tf.window_plan): the NumPy plan against its definition
(mimamo_tf.testing.window_reference) and the in-graph twins of the input pipeline against NumPy."""

import numpy as np
import pytest
import tensorflow as tf

from mimamo_tf import window_plan
from mimamo_tf.data import pipeline
from mimamo_tf.testing.window_reference import frame_windows

CASES = [(num_frames, window, overlap) for num_frames in (1, 5, 8, 9, 31, 64, 100, 129)
         for window in (1, 4, 8, 13, 64) for overlap in (0.0, 0.25, 0.5, 0.75)]


@pytest.mark.parametrize("num_frames,window,overlap", CASES)
def test_plan_gives_every_frame_to_the_window_with_the_nearest_centre(num_frames, window, overlap):
    starts, owner = frame_windows(num_frames, window, overlap)
    stride = window_plan.overlap_stride(window, overlap)
    np.testing.assert_array_equal(window_plan.window_starts(num_frames, window, stride), starts)
    got = np.full(num_frames, -1)
    for start, first, end in window_plan.plan(num_frames, window, stride):
        assert start <= first <= end <= start + window  # a window predicts only its own frames
        assert (got[first:end] == -1).all()  # each frame once
        got[first:end] = start
    np.testing.assert_array_equal(got, owner)


def test_half_overlap_gives_a_quarter_window_of_context_on_both_sides():
    """Away from the video's ends, every frame has >= window/4 frames of its window on each side
    (tiling gives the frames at window edges none on one side)."""
    num_frames, window = 300, 64
    for overlap, least in ((0.5, window // 4), (0.0, 0)):
        stride = window_plan.overlap_stride(window, overlap)
        context = []
        for start, first, end in window_plan.plan(num_frames, window, stride):
            for t in range(first, end):
                if window <= t < num_frames - window:
                    context.append(min(t - start, start + window - 1 - t))
        assert min(context) == least


def test_in_graph_twins_equal_numpy():
    for num_frames, window, overlap in CASES:
        stride = window_plan.overlap_stride(window, overlap)
        starts = pipeline.window_starts(tf.constant(num_frames), window, stride).numpy()
        np.testing.assert_array_equal(starts, window_plan.window_starts(num_frames, window, stride))
        for start in starts:
            first, end = pipeline.owned_frames(tf.constant(int(start)), tf.constant(num_frames), window, stride)
            assert (int(first), int(end)) == window_plan.owned_frames(int(start), num_frames, window, stride)


def test_overlap_outside_zero_to_one_is_refused():
    for overlap in (-0.1, 1.0, 32):
        with pytest.raises(ValueError, match=r"fraction of the window in \[0, 1\)"):
            window_plan.overlap_stride(64, overlap)
    assert window_plan.overlap_stride(64, 0.0) == 64 and window_plan.overlap_stride(64, 0.5) == 32


def test_the_last_window_ends_on_the_last_frame_as_in_training():
    """No evaluation window is padded (issue 27: the last one was, with up to window - 1 copies of
    the last frame): it ends on the video's last frame, as training's last window does, and the
    frames it predicts are real frames inside it."""
    for num_frames, window, overlap in CASES:
        stride = window_plan.overlap_stride(window, overlap)
        start, first, end = window_plan.plan(num_frames, window, stride)[-1]
        assert start + window == max(num_frames, window)
        assert start <= first < end == num_frames
        training = pipeline.window_starts(tf.constant(num_frames), window, stride).numpy()
        assert training[-1] == start

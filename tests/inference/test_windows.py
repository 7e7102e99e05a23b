"""Inference's window merge (``windows.WindowMerge``: which window's prediction each frame takes and
when it is final) and the nearest face its windows are filled with (``window_plan.nearest_face_frames``),
against oracles written from the definitions (``mimamo_tf.testing.window_reference``), for the
windows of a file and of a live stream."""

import numpy as np
import pytest

from mimamo_tf import window_plan
from mimamo_tf.inference.windows import LiveWindowStream, ReadyWindow, WindowMerge, WindowStream
from mimamo_tf.testing.window_reference import frame_windows, nearest_face_by_definition

OVERLAPS = (0.0, 0.25, 0.5, 0.75)


def _labelled_predictions(ready, window):
    """A window's stand-in output that says which window made it and for which of its frames:
    row ``i`` is ``(start, i)``."""
    return np.stack([np.full(window, ready.start), np.arange(window)], -1)


def test_nearest_face_frames_equal_the_pairwise_definition():
    rng = np.random.default_rng(5)
    for trial in range(300):
        found = (rng.random(int(rng.integers(0, 60))) > rng.choice([0.2, 0.6, 0.95])).astype(int)
        np.testing.assert_array_equal(window_plan.nearest_face_frames(found), nearest_face_by_definition(found),
                                      err_msg=f"trial {trial}")
    # A tie (frame 5, two frames from the faces at 3 and 7) goes to the earlier face.
    np.testing.assert_array_equal(window_plan.nearest_face_frames([1, 0, 0, 1, 0, 0, 0, 1]), [0, 0, 3, 3, 3, 3, 7, 7])
    np.testing.assert_array_equal(window_plan.nearest_face_frames(np.zeros(5)), np.arange(5))


@pytest.mark.parametrize("overlap", OVERLAPS)
def test_every_frame_of_a_file_takes_the_window_with_the_nearest_centre(overlap):
    """Random videos' windows (``WindowStream``) merged as they complete, each window "predicting"
    its start and each frame's place in it: every frame's value comes from the window whose centre
    is nearest (the earlier on a tie: ``frame_windows``, by comparing every window), at its place in
    that window, and each frame is final once, in frame order, as soon as that window has run."""
    rng = np.random.default_rng(int(overlap * 100))
    for trial in range(60):
        num_frames, window, context = int(rng.integers(1, 150)), int(rng.integers(1, 24)), int(rng.integers(0, 7))
        stride = window_plan.overlap_stride(window, overlap)
        found = (rng.random(num_frames) > rng.choice([0.1, 0.5])).astype(int)
        stream = WindowStream(found, window, context, stride)
        merged = []
        for t in range(num_frames):
            for ready in stream.add(t, np.zeros(1)):
                merged.append(stream.merge.add(ready, _labelled_predictions(ready, window)))
                assert stream.merge.final == merged[-1].end
        assert [m.first for m in merged] == [0] + [m.end for m in merged[:-1]], trial  # in order, each once
        assert stream.merge.final == num_frames
        _, owner = frame_windows(num_frames, window, overlap)
        values = np.concatenate([m.values for m in merged])
        np.testing.assert_array_equal(values[:, 0], owner, err_msg=f"trial {trial}")
        np.testing.assert_array_equal(values[:, 1], np.arange(num_frames) - owner, err_msg=f"trial {trial}")


def test_a_live_stream_makes_frames_final_as_the_whole_video_does():
    """The same through ``LiveWindowStream``, faces arriving one by one, the length unknown until the
    end: frames become final in order, each once, never before they arrive; a window that ran gives
    the whole video's values, a window none of whose frames has a face makes its frames final
    without values; all are final at the end; with a face in every frame, a frame an inner window
    gives is final within ``lookahead`` frames of its own."""
    rng = np.random.default_rng(11)
    for trial in range(200):
        num_frames, window, context = int(rng.integers(1, 120)), int(rng.integers(1, 20)), int(rng.integers(0, 7))
        overlap = float(rng.choice(OVERLAPS))
        stride = window_plan.overlap_stride(window, overlap)
        found = (rng.random(num_frames) > rng.choice([0.0, 0.5, 0.9])).astype(int)
        if rng.random() < 0.2:
            found[rng.integers(0, num_frames):] = 0
        live = LiveWindowStream(window, context, stride)
        merged, final_at = [], np.full(num_frames, num_frames)

        def run(windows, arrived):
            for ready in windows:
                out = None if ready.faces is None else _labelled_predictions(ready, window)
                merged.append(live.merge.add(ready, out))
                final_at[merged[-1].first : merged[-1].end] = arrived

        for t in range(num_frames):
            run(live.add(t, np.zeros(1) if found[t] else None), t)
            assert live.merge.final <= t + 1, trial
        run(live.finish(), num_frames - 1)
        assert live.merge.final == num_frames
        assert [m.first for m in merged] == [0] + [m.end for m in merged[:-1]], trial
        starts, owner = frame_windows(num_frames, window, overlap)
        for frames in merged:
            given = np.arange(frames.first, frames.end)
            if frames.values is None:
                assert not found[given].any(), trial
            else:
                np.testing.assert_array_equal(frames.values[:, 0], owner[given], err_msg=f"trial {trial}")
                np.testing.assert_array_equal(frames.values[:, 1], given - owner[given], err_msg=f"trial {trial}")
        if found.all():
            # Inner windows: not the first (which gives frames from 0) nor the last (known at the end).
            inner = (owner != starts[0]) & (owner != starts[-1])
            frames = np.flatnonzero(inner)
            assert np.all(final_at[frames] - frames <= live.lookahead), trial


def test_the_merge_takes_windows_in_order_only():
    merge = WindowMerge(window=8, stride=4)
    assert merge.frames_of(0, 100) == (0, 6) and merge.frames_of(4, 100) == (6, 10) and merge.frames_of(92, 100) == (94, 100)
    with pytest.raises(ValueError, match="in order"):
        merge.add(ReadyWindow(4, None, 6, 10, None), None)
    merge.add(ReadyWindow(0, None, 0, 6, None), None)
    with pytest.raises(ValueError, match="in order"):
        merge.add(ReadyWindow(0, None, 0, 6, None), None)

"""bench windows' seam ratio on curves whose seams are known: a steady ramp has none (1.0), the
same ramp with a step at every boundary has exactly (step + slope) / slope, and pairs with a
faceless frame do not count."""

import numpy as np
import pytest

from mimamo_tf.benchmarks.windows import merge_boundaries, seam_ratio, tiled_boundaries


def test_seam_ratio_of_known_curves():
    frames, window, slope, step = 64, 8, 0.01, 0.05
    ramp = np.arange(frames)[:, None] * np.array([[slope, -slope]])
    found = np.ones(frames, int)
    edges = tiled_boundaries(frames, window)
    np.testing.assert_array_equal(edges, np.arange(8, 64, 8))
    np.testing.assert_allclose(seam_ratio([ramp], [found], [edges]), [1.0, 1.0])
    stepped = ramp + (np.arange(frames) // window)[:, None] * np.array([[step, -step]])
    np.testing.assert_allclose(seam_ratio([stepped], [found], [edges]), [(step + slope) / slope] * 2)
    # A pair with a faceless frame is not counted: hiding every boundary pair but one changes nothing.
    hidden = found.copy()
    hidden[edges[1:]] = 0
    assert seam_ratio([stepped], [hidden], [edges])[0] == pytest.approx((step + slope) / slope)


def test_merge_boundaries_are_where_the_owning_window_changes():
    # Windows of 8 every 4 frames: window k predicts [4k + 2, 4k + 6) inside the video.
    np.testing.assert_array_equal(merge_boundaries(24, 8, 4), [6, 10, 14, 18])

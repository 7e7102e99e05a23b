"""What predict draws (mimamo_tf.inference.outputs): the overlay's label and gauges inside the frame
wherever the face is, gauges on the label scale, and every face's plot panel on one y range in
seconds, read back from the figure objects."""

import numpy as np
import pytest

from mimamo_tf.data.label_scale import MODEL_SCALE, LabelScale
from mimamo_tf.inference import outputs
from mimamo_tf.inference.predictor import VideoFaces, VideoPrediction

FRAME = (640, 360)  # width, height
LABEL = (70, 26)


def _inside(rect, frame_size):
    x, y, w, h = rect
    return x >= 0 and y >= 0 and x + w <= frame_size[0] and y + h <= frame_size[1]


def _overlap(a, b):
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


@pytest.mark.parametrize("box", [
    (0, 150, 80, 90),      # touching the left edge
    (560, 150, 80, 90),    # the right edge
    (280, 0, 80, 90),      # the top edge
    (280, 270, 80, 90),    # the bottom edge
    (0, 0, 80, 90), (560, 270, 80, 90), (0, 270, 80, 90), (560, 0, 80, 90),  # the corners
    (600, 300, 90, 110),   # a tracked box reaching past the right and bottom edges
    (-20, -15, 90, 110),   # and past the left and top ones
    (200, 0, 220, 360),    # a face as tall as the frame
])
def test_the_label_and_gauges_stay_inside_the_frame_wherever_the_face_is(box):
    layout = outputs.face_overlay_layout(box, FRAME, LABEL)
    assert _inside(layout.label, FRAME) and _inside(layout.panel, FRAME), layout
    assert layout.panel[2:] == outputs.GAUGE_PANEL and layout.label[2:] == LABEL
    x, y, w, h = box
    inside_box = (max(x, 0), max(y, 0), min(x + w, FRAME[0]) - max(x, 0), min(y + h, FRAME[1]) - max(y, 0))
    if h < 200:  # room above or below the face: the gauges never cover it, nor the label
        assert not _overlap(layout.panel, inside_box) and not _overlap(layout.panel, layout.label), layout
    if y + h >= FRAME[1] and h < 200:  # a face at the bottom: gauges above it
        assert layout.panel[1] + layout.panel[3] <= y


def test_the_overlay_fits_a_frame_smaller_than_its_gauges_at_its_top_left():
    layout = outputs.face_overlay_layout((10, 10, 40, 40), (120, 50), LABEL)
    assert layout.panel[:2] == (0, 0) and layout.label[0] >= 0 and layout.label[1] >= 0


def test_the_face_id_is_large_enough_to_read_at_640x360():
    (width, height), _ = outputs._label_size("face 3")
    assert height >= 20 and width >= 60  # FONT_HERSHEY_SIMPLEX 0.6, thickness 2, padded


@pytest.mark.parametrize("value, filled", [(9.0, (60, 120)), (1.0, (0, 60)), (5.0, (60, 60)), (11.0, (60, 120)),
                                            (7.0, (60, 90))])
def test_a_gauge_shows_a_value_on_the_label_scale(value, filled):
    """A gauge 120 px wide: the scale's middle (the model's 0) at its centre, its ends at its ends."""
    frame = np.zeros((80, 200, 3), np.uint8)
    outputs._bar(frame, "arousal", value, (10, 40), (255, 0, 0), LabelScale(1.0, 9.0))
    red = np.flatnonzero((frame[45, 10:131] == (255, 0, 0)).all(-1))
    assert (red.min(), red.max()) == filled


def _person(arousal, valence, fps=25.0, scale=MODEL_SCALE, face_id=0):
    frames = len(arousal)
    return VideoPrediction(video="clip.mp4", fps=fps, face_found=np.ones(frames, np.int64),
                           face_box=np.tile([10.0, 10.0, 50.0, 60.0], (frames, 1)),
                           arousal=np.asarray(arousal, np.float32), valence=np.asarray(valence, np.float32),
                           face_id=np.full(frames, face_id), label_scale=scale)


def test_every_faces_panel_has_the_label_scale_as_its_y_range_and_seconds_as_x():
    scale = LabelScale(1.0, 9.0)
    calm = _person([4.0, 4.5, 5.0, 4.8], [5.0, 5.2, 5.1, 5.0], scale=scale)
    excited = _person([8.0, 9.0, 8.5, 7.0], [2.0, 1.0, 3.0, 2.5], scale=scale, face_id=1)
    result = VideoFaces(video="clip.mp4", fps=25.0, num_frames=4, faces={0: calm, 1: excited}, label_scale=scale)
    figure = outputs.figure_of(result)
    assert len(figure.axes) == 2 and scale.axis_range() == pytest.approx((0.8, 9.2))
    for axis in figure.axes:
        assert axis.get_ylim() == pytest.approx((0.8, 9.2))
        assert "[1, 9]" in axis.get_ylabel()
        arousal = [line for line in axis.get_lines() if line.get_label() == "arousal"][0]
        np.testing.assert_allclose(arousal.get_xdata(), np.arange(4) / 25.0)  # seconds
    assert figure.axes[-1].get_xlabel() == "time (s)"
    # Unclipped values past the scale (--noclip) widen every panel alike.
    excited.arousal[1] = 10.0
    ranges = [axis.get_ylim() for axis in outputs.figure_of(result).axes]
    assert ranges[0] == ranges[1] == pytest.approx(scale.axis_range([10.0]))

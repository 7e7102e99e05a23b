"""Synthetic dataset: Aff-Wild2 layout and oddities, and that labels drive what they should."""

import os

import cv2
import numpy as np
import pytest

from data_prep import synthetic
from data_prep.readers import make_reader
from mimamo_tf import video


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("synthetic"))
    config = synthetic.SyntheticConfig(train_videos=2, validation_videos=1, two_person_videos=1,
                                       frames=24, seed=5)
    names = synthetic.generate(root, config)
    return root, config, names


def test_layout_labels_and_oddities_match_ground_truth(tiny_set):
    root, config, names = tiny_set
    assert names == {"train": ["synth000", "synth001", "synthpair000_left", "synthpair000_right"],
                     "validation": ["synthval000"]}
    reader = make_reader("affwild2", root, "train")
    items = {item.video_id: item for item in reader.list_items()}
    assert items["synthpair000_left"].video_path == items["synthpair000_right"].video_path
    surpluses = set()
    for name, item in items.items():
        truth = np.load(os.path.join(root, "ground_truth", name + ".npz"))
        labels = reader.load_labels(item)
        surplus = int(truth["label_surplus"])
        surpluses.add(surplus)
        assert len(labels.valence) == config.frames + surplus
        visible = truth["face_visible"]
        np.testing.assert_array_equal(labels.valid[:config.frames], visible.astype(np.uint8))
        np.testing.assert_allclose(labels.valence[:config.frames][visible], truth["valence"][visible], atol=5e-4)
        np.testing.assert_allclose(labels.arousal[:config.frames][visible], truth["arousal"][visible], atol=5e-4)
        assert video.count_frames(item.video_path) == config.frames
        jpgs = sorted(os.listdir(os.path.join(root, "cropped_aligned", name)))
        assert jpgs == [f"{i + 1:05d}.jpg" for i in np.flatnonzero(visible)]
    assert surpluses == {0, 1, 2}  # Aff-Wild2's 1-2 surplus label lines are reproduced
    assert not np.load(os.path.join(root, "ground_truth", "synth001.npz"))["face_visible"].all()


def _renderer():
    photo = synthetic._astronaut()  # pylint: disable=protected-access
    return synthetic.FaceRenderer(photo, synthetic.ASTRONAUT_LANDMARKS, synthetic.ASTRONAUT_BROWS,
                                  synthetic.ASTRONAUT_INNER_BROWS, flipped=False)


def _vertical_shift(before, after, centre, half=10):
    x, y = int(round(centre[0])), int(round(centre[1]))
    a = cv2.cvtColor(before[y - half:y + half, x - half:x + half], cv2.COLOR_RGB2GRAY).astype(np.float32)
    b = cv2.cvtColor(after[y - half:y + half, x - half:x + half], cv2.COLOR_RGB2GRAY).astype(np.float32)
    (dx, dy), _ = cv2.phaseCorrelate(a, b)
    return dy


def test_valence_lifts_or_lowers_the_mouth_corners_and_nothing_far_away():
    renderer = _renderer()
    still = np.zeros((5, 2))
    neutral = renderer.render(0.0, still)
    happy = renderer.render(1.0, still)
    sad = renderer.render(-1.0, still)
    left_corner = synthetic.ASTRONAUT_LANDMARKS[3]
    # Measured by phase correlation of the corner patch: up (negative y) when happy, down when sad.
    assert _vertical_shift(neutral, happy, left_corner) < -1.0
    assert _vertical_shift(neutral, sad, left_corner) > 1.0
    difference = np.abs(happy.astype(float) - sad.astype(float)).sum(axis=2)
    near_mouth = difference[125:155, 190:258].mean()
    forehead = difference[35:70, 190:258].mean()  # no valence warp there
    assert near_mouth > 10 * max(forehead, 1e-3)


def test_arousal_scales_micro_motion():
    renderer = _renderer()
    fps, frames = 30.0, 30

    def motion_energy(arousal_value):
        micro = synthetic.micro_motion(np.random.default_rng(1), np.full(frames, arousal_value), fps)
        rendered = [cv2.cvtColor(renderer.render(0.0, m), cv2.COLOR_RGB2GRAY).astype(float) for m in micro]
        x0, y0, x1, y1 = synthetic.FACE_ROI
        return np.mean([np.abs(b - a)[y0:y1, x0:x1].mean() for a, b in zip(rendered, rendered[1:])])

    calm, excited = motion_energy(-0.9), motion_energy(0.9)
    # Amplitude x rate grows ~ (2.0/0.39) * (7.7/2.3) between these arousal levels.
    assert excited > 4.0 * calm > 0

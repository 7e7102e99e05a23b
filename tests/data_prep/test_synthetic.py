"""Synthetic dataset: Aff-Wild2 and OMG-Emotion layouts and oddities, and that labels drive what
they should."""

import csv
import glob
import json
import os
import shutil

import cv2
import numpy as np
import pytest
import tensorflow as tf

from data_prep import synthetic_datasets, synthetic_faces
from data_prep.preparation import prepare
from data_prep.readers.registry import make_reader
from mimamo_tf import video
from mimamo_tf.data import schema


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("synthetic"))
    config = synthetic_datasets.SyntheticConfig(train_videos=2, validation_videos=1, two_person_videos=1,
                                                frames=24, seed=5)
    names = synthetic_datasets.generate(root, config)
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
    photo = synthetic_faces.astronaut()
    return synthetic_faces.FaceRenderer(photo, synthetic_faces.ASTRONAUT_LANDMARKS, synthetic_faces.ASTRONAUT_BROWS,
                                        synthetic_faces.ASTRONAUT_INNER_BROWS, flipped=False)


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
    left_corner = synthetic_faces.ASTRONAUT_LANDMARKS[3]
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
        micro = synthetic_faces.micro_motion(np.random.default_rng(1), np.full(frames, arousal_value), fps)
        rendered = [cv2.cvtColor(renderer.render(0.0, m), cv2.COLOR_RGB2GRAY).astype(float) for m in micro]
        x0, y0, x1, y1 = synthetic_faces.FACE_ROI
        return np.mean([np.abs(b - a)[y0:y1, x0:x1].mean() for a, b in zip(rendered, rendered[1:])])

    calm, excited = motion_energy(-0.9), motion_energy(0.9)
    # Amplitude x rate grows ~ (2.0/0.39) * (7.7/2.3) between these arousal levels.
    assert excited > 4.0 * calm > 0


# --- OMG-Emotion format ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def omg_set(tmp_path_factory):
    """Three train source videos (so one has an utterance without a face) and one validation
    video, each cut into three short utterances: about 160 rendered frames."""
    root = str(tmp_path_factory.mktemp("synthetic_omg"))
    config = synthetic_datasets.OmgSyntheticConfig(train_videos=3, validation_videos=1, utterances_per_video=3,
                                                   min_utterance_frames=10, max_utterance_frames=16, seed=3)
    names = synthetic_datasets.generate_omg(root, config)
    return root, config, names


def _omg_rows(root, split):
    path = os.path.join(root, synthetic_datasets.OMG_CSV_NAMES[split])
    with open(path, encoding="utf-8") as handle:
        assert handle.readline() == "link,start,end,video,utterance,arousal,valence,EmotionMaxVote\n"
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_omg_layout_clips_and_labels_match_ground_truth(omg_set):
    root, config, names = omg_set
    with open(os.path.join(root, "synthetic_config.json"), encoding="utf-8") as handle:
        assert json.load(handle)["format"] == "omg"
    faces_per_utterance = []
    for split, videos in (("train", config.train_videos), ("validation", config.validation_videos)):
        rows = _omg_rows(root, split)
        assert len(rows) == videos * config.utterances_per_video
        listed = [f"{r['video']}/{r['utterance'][:-len('.mp4')]}" for r in rows]
        assert listed == names[split] and listed != sorted(listed)  # not in id order, as the real CSVs
        previous_end = {}
        for row in sorted(rows, key=lambda r: (r["video"], float(r["start"]))):
            name, utterance = row["video"], row["utterance"]
            assert row["link"].startswith("https://youtu.be/synth") and utterance.endswith(".mp4")
            start, end = float(row["start"]), float(row["end"])
            # Consecutive utterances of one long source video.
            assert start == previous_end.get(name, 0.0)
            previous_end[name] = end
            frames = video.count_frames(os.path.join(root, name, utterance))
            assert frames == round((end - start) * config.fps)
            assert config.min_utterance_frames <= frames <= config.max_utterance_frames
            truth = np.load(os.path.join(root, "ground_truth", name, utterance[:-4] + ".npz"))
            visible = truth["face_visible"]
            assert len(truth["valence"]) == len(truth["arousal"]) == len(visible) == frames
            # Utterance labels: means of the per-frame truth, arousal mapped from [-1, 1] to [0, 1].
            arousal, valence = float(row["arousal"]), float(row["valence"])
            assert arousal == pytest.approx(np.mean((truth["arousal"] + 1.0) / 2.0), abs=5e-7)
            assert valence == pytest.approx(np.mean(truth["valence"]), abs=5e-7)
            assert 0.0 <= arousal <= 1.0 and -1.0 <= valence <= 1.0
            assert int(row["EmotionMaxVote"]) in range(7)
            jpgs = sorted(os.listdir(os.path.join(root, "cropped_aligned", name, utterance[:-4])))
            assert jpgs == [f"{i + 1:05d}.jpg" for i in np.flatnonzero(visible)]
            faces_per_utterance.append((split, int(visible.sum()), frames))
        lengths = [round((float(r["end"]) - float(r["start"])) * config.fps) for r in rows]
        assert len(set(lengths)) > 1
    train = [(seen, frames) for split, seen, frames in faces_per_utterance if split == "train"]
    assert any(0 < seen < frames for seen, frames in train)  # a stretch without a face
    assert any(seen == 0 for seen, _ in train)               # an utterance without a face at all
    face = cv2.imread(os.path.join(root, "cropped_aligned", "omgsynth000", "utterance_1", "00001.jpg"))
    assert face.shape == (synthetic_datasets.ALIGNED_SIZE, synthetic_datasets.ALIGNED_SIZE, 3)


def test_omg_prepare_with_aligned_faces_keeps_csv_labels_and_true_face_flags(omg_set, tmp_path):
    root, _, names = omg_set
    # A copy of the aligned faces with one utterance's folder gone: that utterance is reported by
    # name, the others are written.
    aligned = str(tmp_path / "aligned")
    shutil.copytree(os.path.join(root, "cropped_aligned"), aligned)
    missing = os.path.join(aligned, "omgsynth001", "utterance_2")
    shutil.rmtree(missing)
    items = make_reader("omg", root, "train", omg_aligned_dir=aligned).list_items()
    assert all(item.aligned_dir == os.path.join(aligned, item.video_id) for item in items)
    output = str(tmp_path / "shards")
    manifest = prepare("omg", root, output, split="train", reader_options={"omg_aligned_dir": aligned})
    summary = manifest["splits"]["train"]
    assert summary["settings"]["omg_aligned_dir"] == aligned
    # Faces aligned beforehand are used as they are: recorded as a crop of unknown template.
    assert summary["face_geometry"] == {"source": "omg_aligned_dir, provider's crop", "template": None,
                                        "output_size": 224}
    assert [(f["video_id"], missing in f["reason"]) for f in summary["failed"]] == [
        ("omgsynth001/utterance_2", True)]
    rows = {f"{r['video']}/{r['utterance'][:-4]}": r for r in _omg_rows(root, "train")}
    examples = {}
    for path in sorted(glob.glob(os.path.join(output, "*.tfrecord"))):
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            example = schema.parse_sequence_example(record, decode_images=False)
            examples[example["video_id"]] = example
    # The shards keep the annotation file's order (what evaluate's predictions.csv follows).
    assert list(examples) == [n for n in names["train"] if n != "omgsynth001/utterance_2"]
    for name, example in examples.items():
        truth = np.load(os.path.join(root, "ground_truth", name + ".npz"))
        assert example["label_level"] == "video" and example["face_backend"] == "cropped_aligned"
        assert example["video_arousal"] == pytest.approx(float(rows[name]["arousal"]), abs=1e-6)
        assert example["video_valence"] == pytest.approx(float(rows[name]["valence"]), abs=1e-6)
        np.testing.assert_array_equal(example["face_found"], truth["face_visible"].astype(np.int64))
    assert any(not e["face_found"].any() for e in examples.values())


def test_motion_scale_changes_the_micro_motion_amplitude_alone():
    arousal = np.linspace(-0.9, 0.9, 60)
    default = synthetic_faces.micro_motion(np.random.default_rng(3), arousal, 30.0)
    for scale in (0.0, 0.25, 2.0):
        scaled = synthetic_faces.micro_motion(np.random.default_rng(3), arousal, 30.0, scale)
        np.testing.assert_allclose(scaled, scale * default, rtol=0, atol=1e-12)  # same phases and rates
    # The rendered face moves accordingly: no micro-motion at 0, and more at larger scales.
    renderer = _renderer()
    x0, y0, x1, y1 = synthetic_faces.FACE_ROI

    def motion_energy(scale):
        micro = synthetic_faces.micro_motion(np.random.default_rng(3), np.full(20, 0.5), 30.0, scale)
        rendered = [cv2.cvtColor(renderer.render(0.0, m), cv2.COLOR_RGB2GRAY).astype(float) for m in micro]
        return np.mean([np.abs(b - a)[y0:y1, x0:x1].mean() for a, b in zip(rendered, rendered[1:])])

    assert motion_energy(0.0) == 0.0 < motion_energy(0.25) < motion_energy(1.0)
    with pytest.raises(ValueError, match="motion_scale"):
        synthetic_datasets.SyntheticConfig(motion_scale=-1.0)
    assert synthetic_datasets.OmgSyntheticConfig(motion_scale=0.5).motion_scale == 0.5

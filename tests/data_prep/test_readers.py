"""Dataset readers against hand-written fixtures in the exact on-disk formats."""

import os

import numpy as np
import pytest

from data_prep.readers.affwild2 import read_va_file
from data_prep.readers.base import Labels, reconcile
from data_prep.readers.omg import youtube_id
from data_prep.readers.registry import make_reader
from mimamo_tf import video
from mimamo_tf.config import ConfigError
from mimamo_tf.errors import ItemError


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _video(path, frames=6):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    video.write_video(path, [np.full((32, 48, 3), 10 * i, np.uint8) for i in range(frames)], 25.0)


# --- Aff-Wild -------------------------------------------------------------------------------

@pytest.fixture
def affwild_root(tmp_path):
    root = str(tmp_path / "affwild")
    _video(f"{root}/videos/train/105.mp4")
    _video(f"{root}/videos/train/271.mp4")
    _video(f"{root}/videos/test/300.mp4")
    _write(f"{root}/annotations/train/arousal/105.txt", "0.1\n-0.25\n0.5\n1\n-1\n0\n")
    _write(f"{root}/annotations/train/valence/105.txt", "0.3\n0.3\n-0.75\n0.0\n0.2\n0.125\n\n")
    _write(f"{root}/annotations/train/arousal/271.txt", "0.1\n1.5\n")
    _write(f"{root}/annotations/train/valence/271.txt", "0.1\n0.2\n")
    _write(f"{root}/annotations/train/arousal/999.txt", "0.1\n")
    return root


def test_affwild_reads_exact_labels_and_reports_bad_files(affwild_root):
    reader = make_reader("affwild", affwild_root, "train")
    items = {item.video_id: item for item in reader.list_items()}
    assert sorted(items) == ["105", "271", "999"]
    labels = reader.load_labels(items["105"])
    np.testing.assert_array_equal(labels.arousal, np.float32([0.1, -0.25, 0.5, 1, -1, 0]))
    np.testing.assert_array_equal(labels.valence, np.float32([0.3, 0.3, -0.75, 0, 0.2, 0.125]))
    assert labels.valid.tolist() == [1] * 6 and labels.level == "frame"
    with pytest.raises(ItemError, match=r"arousal/271\.txt:2: label 1\.5 outside"):
        reader.load_labels(items["271"])
    # Labels whose video is missing are listed as failed, naming the label file.
    assert "999.txt" in items["999"].listing_error and items["999"].video_path is None


def test_affwild_missing_valence_file_and_unlabelled_test_split(affwild_root):
    os.remove(f"{affwild_root}/annotations/train/valence/105.txt")
    reader = make_reader("affwild", affwild_root, "train")
    item = next(i for i in reader.list_items() if i.video_id == "105")
    with pytest.raises(ItemError, match=r"valence/105\.txt: label file is missing"):
        reader.load_labels(item)
    test_items = make_reader("affwild", affwild_root, "test").list_items()
    assert [(i.video_id, i.label_level) for i in test_items] == [("300", "none")]
    with pytest.raises(ConfigError, match="split"):
        make_reader("affwild", affwild_root, "validation")


# --- Aff-Wild2 ------------------------------------------------------------------------------

@pytest.mark.parametrize("annotation_parent", ["VA_Set", "3rd ABAW Annotations/VA_Estimation_Challenge"])
def test_affwild2_layouts_left_right_and_invalid_marker(tmp_path, annotation_parent):
    root = str(tmp_path / "aw2")
    labels_dir = f"{root}/{annotation_parent}/Train_Set"
    _write(f"{labels_dir}/video59_left.txt", "valence,arousal\n0.5,-0.2\n-5,-5\n0.25,0.75\n")
    _write(f"{labels_dir}/video59_right.txt", "valence,arousal\n-0.5,0.2\n0.1,0.1\n-5,-5\n")
    _write(f"{labels_dir}/1-30-1280x720.txt", "valence,arousal\n0,0\n")
    _write(f"{root}/{annotation_parent}/Validation_Set/other.txt", "valence,arousal\n0,0\n")
    _video(f"{root}/batch1/video59.mp4")
    _video(f"{root}/new_vids/1-30-1280x720.mp4")
    reader = make_reader("affwild2", root, "train")
    items = {item.video_id: item for item in reader.list_items()}
    assert sorted(items) == ["1-30-1280x720", "video59_left", "video59_right"]
    left, right = items["video59_left"], items["video59_right"]
    assert left.video_path == right.video_path == f"{root}/batch1/video59.mp4"
    assert (left.face_preference, right.face_preference) == ("leftmost", "rightmost")
    assert items["1-30-1280x720"].face_preference == "largest"
    labels = reader.load_labels(left)
    np.testing.assert_array_equal(labels.valence, np.float32([0.5, 0.0, 0.25]))
    np.testing.assert_array_equal(labels.arousal, np.float32([-0.2, 0.0, 0.75]))
    assert labels.valid.tolist() == [1, 0, 1]
    assert [i.video_id for i in make_reader("affwild2", root, "validation").list_items()] == ["other"]


def test_affwild2_columns_by_header_name_and_malformed_files(tmp_path):
    path = str(tmp_path / "a.txt")
    _write(path, "arousal,valence\n0.1,0.9\n")
    labels = read_va_file(path)
    assert labels.arousal.tolist() == [pytest.approx(0.1)] and labels.valence.tolist() == [pytest.approx(0.9)]
    cases = {
        "0.1,0.2\n0.3,0.4\n": r"a\.txt:1: expected the header",
        "valence,arousal\n0.1,1.2\n": r"a\.txt:2: label 1\.2 outside \[-1, 1\]",
        "valence,arousal\n0.1,-4\n": r"a\.txt:2: label -4\.0 outside",
        "valence,arousal\n0.1\n": r"a\.txt:2: expected 2 comma-separated",
        "valence,arousal\n0.1,abc\n": r"a\.txt:2: expected a number",
        "valence,arousal\n": r"no label lines",
    }
    for text, message in cases.items():
        _write(path, text)
        with pytest.raises(ItemError, match=message):
            read_va_file(path)


def test_affwild2_missing_video_and_cropped_aligned_lookup(tmp_path):
    root = str(tmp_path / "aw2")
    _write(f"{root}/VA_Set/Train_Set/v1.txt", "valence,arousal\n0,0\n")
    _write(f"{root}/VA_Set/Train_Set/v2.txt", "valence,arousal\n0,0\n")
    _video(f"{root}/videos/v1.mp4")
    os.makedirs(f"{root}/cropped_aligned/cropped_aligned/v1")  # the ABAW archive's nesting
    items = {i.video_id: i for i in make_reader("affwild2", root, "train").list_items()}
    assert items["v1"].listing_error is None
    assert "v2.txt: no video file v2" in items["v2"].listing_error
    aligned = {i.video_id: i for i in make_reader("affwild2", root, "train",
                                                  affwild2_source="cropped_aligned").list_items()}
    assert aligned["v1"].aligned_dir == f"{root}/cropped_aligned/cropped_aligned/v1"
    assert "no cropped_aligned/v2" in aligned["v2"].listing_error
    with pytest.raises(ConfigError, match="Validation_Set"):
        make_reader("affwild2", root, "validation")


def test_reconcile_truncates_a_small_surplus_and_rejects_the_rest():
    values = np.arange(10, dtype=np.float32) / 10
    labels = Labels(arousal=values, valence=-values, valid=np.ones(10, np.uint8), level="frame", path="x.txt")
    arousal, valence, valid = reconcile(labels, 8)
    np.testing.assert_array_equal(arousal, values[:8])
    np.testing.assert_array_equal(valence, -values[:8])
    assert len(valid) == 8
    assert len(reconcile(labels, 10)[0]) == 10
    with pytest.raises(ItemError, match=r"x\.txt: 10 label lines .* 7 frames \(surplus 3 > tolerated 2\)"):
        reconcile(labels, 7)
    with pytest.raises(ItemError, match=r"fewer labels than frames"):
        reconcile(labels, 11)
    video_level = reconcile(Labels.video_level(0.75, -0.5), 4)
    assert video_level[0].tolist() == [0.75] * 4 and video_level[1].tolist() == [-0.5] * 4
    assert reconcile(Labels.none(), 3)[2].tolist() == [0, 0, 0]


# --- OMG-Emotion ----------------------------------------------------------------------------

OMG_HEADER = "link,start,end,video,utterance,arousal,valence,EmotionMaxVote\n"


def test_omg_reads_utterances_with_and_without_extension(tmp_path):
    root = str(tmp_path / "omg")
    _write(f"{root}/omg_TrainVideos.csv", OMG_HEADER
           + "https://youtu.be/x,00:01,00:05,0a3e,utterance_1.mp4,0.6,-0.25,3\n"
           + "https://youtu.be/x,00:05,00:09,0a3e,utterance_2,0.1,0.5,4\n"
           + "https://youtu.be/y,00:00,00:03,1bcd,utterance_1.mp4,1.4,0.0,0\n"
           + "https://youtu.be/y,00:00,00:03,1bcd,utterance_2.mp4,0.2,-1.5,0\n")
    reader = make_reader("omg", root, "train")
    items = {item.video_id: item for item in reader.list_items()}
    assert sorted(items) == ["0a3e/utterance_1", "0a3e/utterance_2", "1bcd/utterance_1", "1bcd/utterance_2"]
    first = items["0a3e/utterance_1"]
    assert first.video_path == f"{root}/0a3e/utterance_1.mp4" and first.label_level == "video"
    assert items["0a3e/utterance_2"].video_path == f"{root}/0a3e/utterance_2.mp4"
    labels = reader.load_labels(first)
    assert (labels.video_arousal, labels.video_valence) == (0.6, -0.25)
    assert "arousal 1.4 outside [0.0, 1.0]" in items["1bcd/utterance_1"].listing_error
    assert "valence -1.5 outside [-1.0, 1.0]" in items["1bcd/utterance_2"].listing_error
    assert "omg_TrainVideos.csv:4" in items["1bcd/utterance_1"].listing_error


def test_omg_rejects_a_csv_without_label_columns(tmp_path):
    root = str(tmp_path / "omg")
    _write(f"{root}/omg_ValidationVideos.csv", "link,start,end,video,utterance\n")
    with pytest.raises(ConfigError, match=r"missing CSV columns \['arousal', 'valence'\]"):
        make_reader("omg", root, "validation")
    with pytest.raises(ConfigError, match="omg_TrainVideos.csv"):
        make_reader("omg", root, "train")


def test_omg_aligned_faces_folders_per_utterance(tmp_path, monkeypatch):
    root = str(tmp_path / "omg")
    _write(f"{root}/omg_TrainVideos.csv", OMG_HEADER
           + "https://youtu.be/x,0,1,0a3e,utterance_1.mp4,0.6,-0.25,3\n"
           + "https://youtu.be/x,1,2,0a3e,utterance_2,0.1,0.5,4\n")
    os.makedirs(f"{root}/faces/0a3e/utterance_1")
    monkeypatch.chdir(root)
    faces = os.path.join(os.getcwd(), "faces")
    reader = make_reader("omg", root, "train", omg_aligned_dir="faces")  # relative to the cwd
    items = {item.video_id: item for item in reader.list_items()}
    assert items["0a3e/utterance_1"].aligned_dir == f"{faces}/0a3e/utterance_1"
    assert items["0a3e/utterance_1"].video_path == f"{root}/0a3e/utterance_1.mp4"
    assert items["0a3e/utterance_1"].listing_error is None
    # A missing folder is that utterance's error, naming the folder and the CSV row.
    assert items["0a3e/utterance_2"].listing_error == (
        f"{root}/omg_TrainVideos.csv:3: no aligned faces folder {faces}/0a3e/utterance_2")
    assert reader.settings()["omg_aligned_dir"] == faces
    assert "omg_aligned_dir" not in make_reader("omg", root, "train").settings()
    assert make_reader("omg", root, "train").list_items()[0].aligned_dir is None
    with pytest.raises(ConfigError, match=r"--omg_aligned_dir .*/nowhere is not a directory"):
        make_reader("omg", root, "train", omg_aligned_dir="nowhere")


# --- Folder ---------------------------------------------------------------------------------

def test_folder_lists_videos_recursively_without_labels(tmp_path):
    root = str(tmp_path / "clips")
    _video(f"{root}/a.mp4")
    _video(f"{root}/sub/b.mp4")
    _write(f"{root}/notes.txt", "not a video")
    reader = make_reader("folder", root, "all")
    items = reader.list_items()
    assert [(i.video_id, i.source, i.label_level) for i in items] == [
        ("a", "a.mp4", "none"), ("sub/b", "sub/b.mp4", "none")]
    assert reader.load_labels(items[0]).level == "none"


@pytest.mark.parametrize("link,expected", [
    ("https://youtu.be/NVJqXbDuqkw", "NVJqXbDuqkw"),
    ("https://www.youtube.com/watch?v=NVJqXbDuqkw&t=15s", "NVJqXbDuqkw"),
    ("https://www.youtube.com/embed/NVJqXbDuqkw", "NVJqXbDuqkw"),
    (" https://youtu.be/NVJqXbDuqkw/ ", "NVJqXbDuqkw"),
    ("NVJqXbDuqkw", "NVJqXbDuqkw"),
    ("", ""),
])
def test_youtube_ids_of_omg_links(link, expected):
    assert youtube_id(link) == expected


def test_omg_segments_of_one_youtube_video_are_one_recording(tmp_path):
    """The ``video`` column names a segment of the YouTube video in ``link`` (as 9c3a9bce7_1, _2, _4 and
    _5 are all NVJqXbDuqkw in the real CSV); a row without a link falls back to its segment."""
    root = str(tmp_path / "omg")
    _write(f"{root}/omg_TrainVideos.csv", OMG_HEADER
           + "https://www.youtube.com/watch?v=NVJqXbDuqkw,0,1,9c3a9bce7_1,utterance_1.mp4,0.6,-0.25,3\n"
           + "https://youtu.be/NVJqXbDuqkw,1,2,9c3a9bce7_2,utterance_1.mp4,0.1,0.5,4\n"
           + ",0,1,0a3e,utterance_1.mp4,0.1,0.5,4\n")
    reader = make_reader("omg", root, "train")
    assert [reader.recording_id(item.video_id) for item in reader.list_items()] == [
        "NVJqXbDuqkw", "NVJqXbDuqkw", "0a3e"]

"""The dataset reader registry: a reader defined only in this module, registered with the decorator, is
a ``--dataset`` of prepare with its own option flag; the recording ids its rule gives are written
into the shards, the sidecars and the manifest, and the folds group the videos by them."""

import glob
import json
import os
import shutil

import pytest
import tensorflow as tf
from absl import flags

from data_prep import prepare as prepare_command
from data_prep import synthetic_datasets
from data_prep.preparation import prepare
from data_prep.readers import registry
from data_prep.readers.base import DatasetReader, Labels, VideoItem
from mimamo_tf.config import ConfigError
from mimamo_tf.data import schema
from mimamo_tf.data.folds import fold_video_ids, inner_validation_ids
from mimamo_tf.data.shards import video_recordings

NAME = "takes"
# Four takes of three recordings; "-" is part of two recording names, "+" separates the take.
TAKES = ("ann-lee+1", "ann-lee+2", "bo+1", "cy-d+1")
RECORDINGS = {"ann-lee+1": "ann-lee", "ann-lee+2": "ann-lee", "bo+1": "bo", "cy-d+1": "cy-d"}
FRAMES = 8


class TakesReader(DatasetReader):
    """Takes of recordings, ``clips/<recording><separator><take>.mp4``, with their faces aligned
    beforehand in ``faces/<recording><separator><take>/00001.jpg``; no labels.

    (Defined in this test only: not a module of data_prep.readers.)
    """

    def __init__(self, data_root, split, separator):
        super().__init__(data_root, split)
        self.separator = separator

    @staticmethod
    def define_flags(flag_values):
        flags.DEFINE_string("takes_separator", "-", "takes: what separates the recording from the take in a "
                            "clip's name.", flag_values=flag_values)

    @classmethod
    def from_options(cls, data_root, split, options):
        if not options["takes_separator"]:
            raise ConfigError("--takes_separator must not be empty")
        return cls(data_root, split, options["takes_separator"])

    def recording_id(self, video_id):
        return video_id.split(self.separator, 1)[0]

    def list_items(self):
        clips = os.path.join(self.data_root, "clips")
        items = []
        for name in sorted(os.listdir(clips)):
            stem = os.path.splitext(name)[0]
            items.append(VideoItem(video_id=stem, dataset=self.name, split=self.split, source=f"clips/{name}",
                                   video_path=os.path.join(clips, name),
                                   aligned_dir=os.path.join(self.data_root, "faces", stem)))
        return items

    def load_labels(self, item):
        return Labels.none()


@pytest.fixture
def takes_reader(monkeypatch):
    """``TakesReader`` registered as ``--dataset=takes`` for one test: the registry is as it was after."""
    monkeypatch.setattr(registry, "READERS", dict(registry.READERS))
    return registry.register_reader(NAME)(TakesReader)


@pytest.fixture(scope="module")
def takes_root(tmp_path_factory):
    """The synthetic videos and their aligned faces, renamed as takes (no face detection needed)."""
    source = tmp_path_factory.mktemp("synthetic")
    synthetic_datasets.generate(str(source), synthetic_datasets.SyntheticConfig(
        train_videos=len(TAKES), validation_videos=0, frames=FRAMES, width=96, height=72, cutaways=False,
        label_surplus=False, cropped_aligned_template="ours"))
    root = tmp_path_factory.mktemp("takes")
    os.makedirs(root / "clips")
    for index, take in enumerate(TAKES):
        shutil.copy(source / "videos" / f"synth{index:03d}.mp4", root / "clips" / f"{take}.mp4")
        shutil.copytree(source / "cropped_aligned" / f"synth{index:03d}", root / "faces" / take)
    return root


def _flags(*argv):
    flag_values = flags.FlagValues()
    prepare_command.define_flags(flag_values)
    flag_values(["prepare", *argv])
    return flag_values


def test_a_registered_reader_is_a_dataset_of_prepare_with_its_own_flag(takes_reader, takes_root, tmp_path):
    assert takes_reader.name == NAME and NAME in registry.reader_names()
    output = tmp_path / "shards"
    flag_values = _flags(f"--dataset={NAME}", f"--data_root={takes_root}", f"--output_dir={output}", "--split=all",
                         "--takes_separator=+", "--videos_per_shard=3")
    assert "takes: Takes of recordings" in flag_values["dataset"].help
    options = registry.reader_options(flag_values.dataset, flag_values)
    assert options == {"takes_separator": "+"}
    manifest = prepare(flag_values.dataset, flag_values.data_root, flag_values.output_dir, split=flag_values.split,
                       videos_per_shard=flag_values.videos_per_shard, reader_options=options)
    summary = manifest["splits"]["all"]
    assert (summary["examples"], summary["frames"], summary["failed"]) == (len(TAKES), len(TAKES) * FRAMES, [])
    assert summary["dataset"] == NAME and summary["recordings"] == RECORDINGS
    files = sorted(glob.glob(str(output / "*.tfrecord")))
    assert len(files) == 2
    examples = [schema.parse_sequence_example(record, decode_images=False)
                for path in files for record in tf.data.TFRecordDataset(path).as_numpy_iterator()]
    assert {e["video_id"]: e["recording_id"] for e in examples} == RECORDINGS
    assert all(e["face_found"].all() and e["face_backend"] == "cropped_aligned" for e in examples)
    sidecars = [json.loads(open(path[:-len(".tfrecord")] + ".json", encoding="utf-8").read()) for path in files]
    assert {v["video_id"]: v["recording_id"] for s in sidecars for v in s["videos"]} == RECORDINGS

    # The folds read the recordings from the shards: both takes of ann-lee always on one side.
    recordings = video_recordings(files)
    assert recordings == RECORDINGS
    held_out = []
    for fold in range(3):
        train_ids, fold_held_out = fold_video_ids(recordings, 3, fold)
        assert ("ann-lee+1" in fold_held_out) == ("ann-lee+2" in fold_held_out)
        assert len({recordings[v] for v in fold_held_out}) == 1
        inner_train, inner_validation = inner_validation_ids({v: recordings[v] for v in train_ids}, 0.5)
        assert not {recordings[v] for v in inner_train} & {recordings[v] for v in inner_validation}
        held_out += fold_held_out
    assert sorted(held_out) == sorted(TAKES)


def test_the_readers_options_are_checked_and_named(takes_reader, takes_root):
    # The flag's default groups by another rule: the option is what the recordings follow.
    reader = registry.make_reader(NAME, str(takes_root), "all")
    assert [reader.recording_id(take) for take in TAKES] == ["ann", "ann", "bo+1", "cy"]
    assert registry.reader_options(NAME, _flags(f"--dataset={NAME}")) == {"takes_separator": "-"}
    with pytest.raises(ConfigError, match="--takes_separator must not be empty"):
        registry.make_reader(NAME, str(takes_root), "all", takes_separator="")
    with pytest.raises(ConfigError, match=f"--dataset={NAME} has no option --omg_csv; its options: --takes_separator"):
        registry.make_reader(NAME, str(takes_root), "all", omg_csv="x.csv")
    with pytest.raises(ConfigError, match=r"--dataset='nothing'; expected one of \['affwild', 'affwild2', 'folder'"):
        registry.make_reader("nothing", str(takes_root), "all")
    with pytest.raises(ValueError, match="the name is taken by TakesReader"):
        registry.register_reader(NAME)(TakesReader)


def test_the_built_in_readers_are_registered_with_their_flags_and_recording_rules(tmp_path):
    assert {"affwild", "affwild2", "folder", "omg"} <= set(registry.reader_names())
    flag_values = _flags("--dataset=omg")
    for flag in ("affwild2_source", "omg_csv", "omg_clips_dir", "omg_aligned_dir", "label_range",
                 "max_label_gap_seconds", "cropped_aligned_geometry"):
        assert flag in flag_values, flag
    assert registry.reader_options("omg", flag_values) == {"omg_csv": "", "omg_clips_dir": "", "omg_aligned_dir": None}
    assert registry.reader_options("affwild", flag_values) == {}
    # The smallest layouts each reader accepts.
    (tmp_path / "videos" / "train").mkdir(parents=True)
    (tmp_path / "VA_Set" / "Train_Set").mkdir(parents=True)
    (tmp_path / "omg_TrainVideos.csv").write_text("link,start,end,video,utterance,arousal,valence\n")
    rules = [("affwild", "105", "105"), ("affwild2", "video59_left", "video59"),
             ("affwild2", "video59_right", "video59"), ("affwild2", "video3", "video3"),
             ("omg", "0a3e/utterance_2", "0a3e"), ("folder", "sub/clip", "sub/clip")]
    for name, video_id, recording in rules:
        assert registry.make_reader(name, str(tmp_path), "train").recording_id(video_id) == recording, name

"""K-fold cross-validation by recording (mimamo_tf.data.folds), the recordings read from the shards
(mimamo_tf.data.shards.video_recordings)."""

import os

from mimamo_tf.data.folds import fold_video_ids, inner_validation_ids
from mimamo_tf.data.shards import video_recordings
from mimamo_tf.testing.tiny_shards import tiny_video, write_shards


def test_fold_split_is_a_partition_by_recording():
    recordings = {f"video{i}": f"video{i}" for i in range(10)}
    recordings.update({"video20_left": "video20", "video20_right": "video20"})
    ids = list(recordings)
    held_out = []
    for fold in range(5):
        train_ids, validation_ids = fold_video_ids(recordings, 5, fold)
        assert sorted(train_ids + validation_ids) == sorted(ids) and not set(train_ids) & set(validation_ids)
        # Both persons of one recording are on the same side.
        assert ("video20_left" in validation_ids) == ("video20_right" in validation_ids)
        held_out += validation_ids
    assert sorted(held_out) == sorted(ids)  # every video validates exactly once
    assert fold_video_ids(recordings, 5, 2) == fold_video_ids(dict(recordings), 5, 2)  # deterministic


def _links(root):
    """``{utterance id: link}`` from the synthetic OMG CSV, read independently of the code under test:
    the link (one YouTube video) is the source recording; the ``video`` column names segments of it."""
    import csv

    with open(os.path.join(root, "omg_TrainVideos.csv"), newline="", encoding="utf-8") as handle:
        return {f"{row['video']}/{os.path.splitext(row['utterance'])[0]}": row["link"]
                for row in csv.DictReader(handle)}


def test_omg_folds_and_inner_validation_never_split_a_youtube_video(tmp_path):
    """On the synthetic OMG layout (several utterances per ``video`` segment, two segments per YouTube
    link), with the recordings the OMG reader names (what prepare writes into the shards): in every
    fold, no YouTube video has utterances on both sides — held out vs trained, and inner validation
    vs trained. Grouping by the ``video`` segment (the rule before) puts one link on both sides."""
    from data_prep import synthetic_datasets
    from data_prep.readers.registry import make_reader

    config = synthetic_datasets.OmgSyntheticConfig(train_videos=7, validation_videos=0, utterances_per_video=4,
                                                   min_utterance_frames=6, max_utterance_frames=9, width=96, height=72)
    synthetic_datasets.generate_omg(str(tmp_path), config)
    links = _links(str(tmp_path))
    reader = make_reader("omg", str(tmp_path), "train")
    recordings = {item.video_id: reader.recording_id(item.video_id) for item in reader.list_items()}
    ids = list(recordings)
    assert len(ids) == 28 and len({v.split("/")[0] for v in ids}) == 7 and len(set(links.values())) == 4

    def sources(video_ids):
        return {links[v] for v in video_ids}

    held_out_everywhere = []
    for fold in range(4):
        train_ids, held_out = fold_video_ids(recordings, 4, fold)
        assert sorted(train_ids + held_out) == sorted(ids)
        assert not sources(train_ids) & sources(held_out)
        inner_train, inner_validation = inner_validation_ids({v: recordings[v] for v in train_ids}, 0.2)
        assert sorted(inner_train + inner_validation) == sorted(train_ids) and inner_validation and inner_train
        assert not sources(inner_train) & sources(inner_validation)
        assert len(sources(inner_validation)) == -(-len(sources(train_ids)) // 5)  # ceil(20% of the links)
        held_out_everywhere += held_out
    assert sorted(held_out_everywhere) == sorted(ids)  # every utterance is held out exactly once
    # The segment rule would have split a YouTube video: some fold holds out part of a link.
    by_segment = {v: v.split("/")[0] for v in ids}
    assert any(sources(fold_video_ids(by_segment, 4, fold)[0]) & sources(fold_video_ids(by_segment, 4, fold)[1])
               for fold in range(4))


def test_the_recordings_come_from_the_shards_and_old_shards_make_each_video_its_own(tmp_path, capsys):
    """Videos sharing a recording id in the shards stay together whatever their names; shards written
    before recording ids were (none in the records) give each video its own, with one warning that
    says to prepare them again."""
    grouped = [tiny_video("take_a", 5, 0, spatial_dim=0, recording_id="session1"),
               tiny_video("other_name", 5, 1, spatial_dim=0, recording_id="session1"),
               tiny_video("take_c", 5, 2, spatial_dim=0)]
    files = write_shards(tmp_path / "new", "train", grouped, num_shards=2)
    recordings = video_recordings(files)
    assert recordings == {"take_a": "session1", "take_c": "take_c", "other_name": "session1"}
    for fold in range(2):
        _, held_out = fold_video_ids(recordings, 2, fold)
        assert ("take_a" in held_out) == ("other_name" in held_out)
    assert capsys.readouterr().err == ""

    old = [dict(video, recording_id=None) for video in grouped]
    files = write_shards(tmp_path / "old", "train", old)
    assert video_recordings(files) == {"take_a": "take_a", "other_name": "other_name", "take_c": "take_c"}
    warning = capsys.readouterr().err
    assert "3 of 3 videos" in warning and os.fspath(tmp_path / "old") in warning
    assert "python -m data_prep.prepare again" in warning
    video_recordings(files)  # once per process
    assert capsys.readouterr().err == ""


def test_cross_validation_over_two_splits_takes_the_videos_of_both(tmp_path):
    """``--train_split=train,validation --num_folds=2``: the folds run over the videos of both splits
    (the paper merged them for Table 3); without folds that is refused, since the eval split would
    then be training data."""
    import pytest

    from mimamo_tf import config as config_lib
    from mimamo_tf.data import shards
    from mimamo_tf.data.training_data import TrainingData

    write_shards(tmp_path, "train", [tiny_video(f"t{i}", 12, i) for i in range(3)])
    write_shards(tmp_path, "validation", [tiny_video(f"v{i}", 12, 10 + i) for i in range(3)])
    assert [os.path.basename(f).split("-")[0] for f in shards.split_shards(str(tmp_path), "train,validation")] == [
        "train", "validation"]
    base = config_lib.ExperimentConfig()
    config = config_lib.replace(base, data={"data_dir": str(tmp_path), "train_split": "train,validation",
                                            "num_folds": 2, "fold": 1, "inner_validation_fraction": 0.0})
    data = TrainingData(config)
    assert sorted(data.train_ids + data.held_out_ids) == ["t0", "t1", "t2", "v0", "v1", "v2"]
    with pytest.raises(config_lib.ConfigError, match="is also a --train_split"):
        config_lib.validate(config_lib.replace(config, data={"num_folds": 0}, runtime={"model_dir": str(tmp_path)}))
    with pytest.raises(shards.DataError, match="no 'test-NNNNN"):
        shards.split_shards(str(tmp_path), "train,test")


def test_inner_validation_without_folds_holds_recordings_of_the_training_split_apart(tmp_path):
    """``--validation_source=inner``: validation on a subset of the training split's recordings (the
    studies' cells), so the eval split never chooses the checkpoint it scores."""
    from mimamo_tf import config as config_lib
    from mimamo_tf.data.training_data import TrainingData

    write_shards(tmp_path, "train", [tiny_video(f"t{i}", 12, i) for i in range(5)])
    write_shards(tmp_path, "validation", [tiny_video(f"v{i}", 12, 10 + i) for i in range(2)])
    config = config_lib.replace(config_lib.ExperimentConfig(), data={
        "data_dir": str(tmp_path), "validation_source": "inner", "inner_validation_fraction": 0.2})
    data = TrainingData(config)
    assert data.eval_files == data.train_files  # the validation split is not read while training
    assert len(data.eval_ids) == 1 and sorted(data.train_ids + data.eval_ids) == [f"t{i}" for i in range(5)]
    assert data.held_out_ids is None

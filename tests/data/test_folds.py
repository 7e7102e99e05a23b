"""K-fold cross-validation by recording (mimamo_tf.data.folds)."""


def test_fold_split_is_a_partition_by_recording():
    from mimamo_tf.data.folds import fold_video_ids

    ids = [f"video{i}" for i in range(10)] + ["video20_left", "video20_right"]
    held_out = []
    for fold in range(5):
        train_ids, validation_ids = fold_video_ids(ids, 5, fold)
        assert sorted(train_ids + validation_ids) == sorted(ids) and not set(train_ids) & set(validation_ids)
        # Both persons of one recording are on the same side.
        assert ("video20_left" in validation_ids) == ("video20_right" in validation_ids)
        held_out += validation_ids
    assert sorted(held_out) == sorted(ids)  # every video validates exactly once
    assert fold_video_ids(ids, 5, 2) == fold_video_ids(list(ids), 5, 2)  # deterministic


def _source_video(utterance_id):
    """The OMG source video of ``<video>/<utterance>``, read independently of the code under test."""
    return utterance_id[: utterance_id.index("/")]


def test_omg_folds_and_inner_validation_never_split_a_source_video(tmp_path):
    """On the synthetic OMG layout (several utterances per source video): in every fold, no source
    video has utterances on both sides — held out vs trained, and inner validation vs trained."""
    import csv
    import os

    from data_prep import synthetic

    from mimamo_tf.data.folds import fold_video_ids, inner_validation_ids

    config = synthetic.OmgSyntheticConfig(train_videos=7, validation_videos=0, utterances_per_video=4,
                                          min_utterance_frames=6, max_utterance_frames=9, width=96, height=72)
    synthetic.generate_omg(str(tmp_path), config)
    with open(os.path.join(tmp_path, synthetic.OMG_CSV_NAMES["train"]), newline="", encoding="utf-8") as handle:
        ids = [f"{row['video']}/{os.path.splitext(row['utterance'])[0]}" for row in csv.DictReader(handle)]
    assert len(ids) == 28 and len({_source_video(v) for v in ids}) == 7
    held_out_everywhere = []
    for fold in range(5):
        train_ids, held_out = fold_video_ids(ids, 5, fold)
        assert sorted(train_ids + held_out) == sorted(ids)
        assert not {_source_video(v) for v in train_ids} & {_source_video(v) for v in held_out}
        inner_train, inner_validation = inner_validation_ids(train_ids, 0.2)
        assert sorted(inner_train + inner_validation) == sorted(train_ids) and inner_validation and inner_train
        assert not {_source_video(v) for v in inner_train} & {_source_video(v) for v in inner_validation}
        # ceil(20% of the fold's source videos)
        assert len({_source_video(v) for v in inner_validation}) == -(-len({_source_video(v) for v in train_ids}) // 5)
        held_out_everywhere += held_out
    assert sorted(held_out_everywhere) == sorted(ids)  # every utterance is held out exactly once

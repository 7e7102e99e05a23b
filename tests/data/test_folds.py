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

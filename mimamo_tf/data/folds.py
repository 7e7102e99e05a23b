"""K-fold cross-validation by video, the way the paper ran its ablations on Aff-Wild."""

import zlib

# Aff-Wild2 annotates each person of a two-person video separately (``video10_left``,
# ``video10_right``): both belong to one recording and must stay in the same fold.
_PERSON_SUFFIXES = ("_left", "_right")


def recording_of(video_id):
    """The recording a video id belongs to (the id without an Aff-Wild2 person suffix)."""
    for suffix in _PERSON_SUFFIXES:
        if video_id.endswith(suffix):
            return video_id[: -len(suffix)]
    return video_id


def fold_video_ids(video_ids, num_folds, fold):
    """Deterministic K-fold split by recording: ``(train_ids, validation_ids)``.

    Recordings are ordered by a hash of their name (stable across runs and machines, unlike
    Python's ``hash``) and every ``num_folds``-th one is held out, starting at ``fold``.

    Raises:
        ValueError: fewer recordings than folds.
    """
    groups = sorted({recording_of(v) for v in video_ids}, key=lambda g: (zlib.crc32(g.encode()), g))
    if len(groups) < num_folds:
        raise ValueError(f"--num_folds={num_folds} needs at least that many videos; the data has {len(groups)}")
    held_out = {g for i, g in enumerate(groups) if i % num_folds == fold}
    train = [v for v in video_ids if recording_of(v) not in held_out]
    validation = [v for v in video_ids if recording_of(v) in held_out]
    return train, validation

"""K-fold cross-validation by source recording, the way the paper ran its ablations, and the inner
validation subset that chooses a fold's checkpoint without looking at its held-out videos."""

import math
import zlib

# Aff-Wild2 annotates each person of a two-person video separately (``video10_left``,
# ``video10_right``): both belong to one recording and must stay in the same fold.
_PERSON_SUFFIXES = ("_left", "_right")


def recording_of(video_id):
    """The source recording a video id belongs to: an OMG utterance ``<video>/<utterance>`` belongs to
    ``<video>``, an Aff-Wild2 annotation ``<video>_left``/``_right`` to ``<video>``, anything else
    (an Aff-Wild video) to itself."""
    if "/" in video_id:
        return video_id.split("/", 1)[0]
    for suffix in _PERSON_SUFFIXES:
        if video_id.endswith(suffix):
            return video_id[: -len(suffix)]
    return video_id


def _ordered_recordings(video_ids):
    # Ordered by a hash of the name: stable across runs and machines (unlike Python's ``hash``),
    # and unrelated to the order or naming of the dataset.
    return sorted({recording_of(v) for v in video_ids}, key=lambda g: (zlib.crc32(g.encode()), g))


def fold_video_ids(video_ids, num_folds, fold):
    """Deterministic K-fold split by source recording: ``(train_ids, held_out_ids)``.

    Every ``num_folds``-th recording (in hash order, starting at ``fold``) is held out, with all of
    its videos (both persons, every utterance).

    Raises:
        ValueError: fewer recordings than folds.
    """
    groups = _ordered_recordings(video_ids)
    if len(groups) < num_folds:
        raise ValueError(f"--num_folds={num_folds} needs at least that many source recordings; "
                         f"the data has {len(groups)}")
    held_out = {g for i, g in enumerate(groups) if i % num_folds == fold}
    train = [v for v in video_ids if recording_of(v) not in held_out]
    validation = [v for v in video_ids if recording_of(v) in held_out]
    return train, validation


def inner_validation_ids(video_ids, fraction):
    """Splits a fold's training videos into ``(train_ids, inner_validation_ids)`` by recording.

    ``ceil(fraction * recordings)`` recordings validate (the last ones in hash order, so the choice
    does not follow the fold's own); at least one recording is left on each side.

    Raises:
        ValueError: fewer than two recordings to split.
    """
    groups = _ordered_recordings(video_ids)
    if len(groups) < 2:
        raise ValueError(f"--inner_validation_fraction={fraction} needs at least two training recordings "
                         f"in the fold; it has {len(groups)}")
    count = min(max(math.ceil(fraction * len(groups)), 1), len(groups) - 1)
    inner = set(groups[-count:])
    return ([v for v in video_ids if recording_of(v) not in inner],
            [v for v in video_ids if recording_of(v) in inner])

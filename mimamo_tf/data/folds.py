"""K-fold cross-validation by source recording, the way the paper ran its ablations, and the inner
validation subset that chooses a fold's checkpoint without looking at its held-out videos.

The recording of each video comes from the data (``shards.video_recordings``: the recording id
that each dataset's reader wrote into the shards, e.g. one Aff-Wild2 video for both of its persons,
one OMG video for all of its utterances); nothing here knows a dataset. Every function takes
``recordings``, ``{video_id: recording_id}`` in the data's order, and keeps that order.
"""

import math
import zlib


def _ordered_recordings(recordings):
    # Ordered by a hash of the name: stable across runs and machines (unlike Python's ``hash``),
    # and unrelated to the order or naming of the dataset.
    return sorted(set(recordings.values()), key=lambda g: (zlib.crc32(g.encode()), g))


def _split(recordings, chosen):
    """``(ids whose recording is not in chosen, ids whose recording is)``, in the data's order."""
    return ([v for v, r in recordings.items() if r not in chosen], [v for v, r in recordings.items() if r in chosen])


def fold_video_ids(recordings, num_folds, fold):
    """Deterministic K-fold split by source recording: ``(train_ids, held_out_ids)``.

    Every ``num_folds``-th recording (in hash order, starting at ``fold``) is held out, with all of
    its videos (both persons, every utterance).

    Raises:
        ValueError: fewer recordings than folds.
    """
    groups = _ordered_recordings(recordings)
    if len(groups) < num_folds:
        raise ValueError(f"--num_folds={num_folds} needs at least that many source recordings; "
                         f"the data has {len(groups)}")
    return _split(recordings, {g for i, g in enumerate(groups) if i % num_folds == fold})


def inner_validation_ids(recordings, fraction):
    """Splits a fold's training videos (``recordings`` of those alone) into ``(train_ids,
    inner_validation_ids)`` by recording.

    ``ceil(fraction * recordings)`` recordings validate (the last ones in hash order, so the choice
    does not follow the fold's own); at least one recording is left on each side.

    Raises:
        ValueError: fewer than two recordings to split.
    """
    groups = _ordered_recordings(recordings)
    if len(groups) < 2:
        raise ValueError(f"--inner_validation_fraction={fraction} needs at least two training recordings "
                         f"in the fold; it has {len(groups)}")
    count = min(max(math.ceil(fraction * len(groups)), 1), len(groups) - 1)
    return _split(recordings, set(groups[-count:]))

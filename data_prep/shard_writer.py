"""Deterministic assignment of items to shards, and crash-safe writing of one shard.

A shard is written to a temporary name in the output folder; its sidecar JSON is renamed into
place first and the ``.tfrecord`` last, so "the .tfrecord exists" means "the shard is complete".
A killed run leaves at most temporary files of the shards in progress, which the next run deletes
and redoes. Every sidecar carries a fingerprint of the input listing and options; a rerun into a
folder holding shards with another fingerprint stops instead of mixing two different outputs.
"""

import hashlib
import json
import math
import os
import sys
import traceback
from typing import Callable, Dict, Iterable, List, Sequence, Union

import tensorflow as tf

from data_prep.readers.base import VideoItem
from mimamo_tf import atomic_files
from mimamo_tf.config import ConfigError
from mimamo_tf.data import shards


# Per-video counts that a sidecar and the manifest sum up.
COUNTED_KEYS = ("frames", "frames_with_face", "valid_label_frames", "unreadable_frames",
                "crops_without_face")


def plan_shards(items: Sequence[VideoItem], videos_per_shard: int) -> List[List[VideoItem]]:
    """Splits the (sorted) items into consecutive groups of `videos_per_shard`."""
    if videos_per_shard < 1:
        raise ConfigError(f"--videos_per_shard must be >= 1, got {videos_per_shard}")
    count = max(1, math.ceil(len(items) / videos_per_shard))
    return [list(items[i * videos_per_shard:(i + 1) * videos_per_shard]) for i in range(count)]


def fingerprint(items: Sequence[VideoItem], settings: Dict[str, object],
                recording_id: Callable[[str], str]) -> str:
    """Hash of everything that determines the output bytes: item list (with each item's recording,
    ``recording_id(video_id)``, the reader's rule) and options."""
    digest = hashlib.sha256()
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode("utf-8"))
    for item in items:
        digest.update(json.dumps([item.video_id, recording_id(item.video_id), item.source, item.label_level,
                                  item.listing_error], default=str).encode("utf-8"))
    return digest.hexdigest()[:16]


def write_json_atomic(path: str, payload: dict) -> None:
    """Writes JSON (sorted keys) to a temporary file, flushes it to disk and renames it over `path`."""
    atomic_files.write_json(path, payload, indent=2, sort_keys=True, fsync=True)


def shard_status(output_dir: str, name: str, expected_fingerprint: str) -> bool:
    """True when shard `name` is complete; ``ConfigError`` if it belongs to a different run setup (or
    its sidecar cannot be read)."""
    path = os.path.join(output_dir, name)
    if not os.path.isfile(path):
        return False
    sidecar = os.path.join(output_dir, shards.sidecar_name(name))
    try:
        with open(sidecar, encoding="utf-8") as handle:
            recorded = json.load(handle)
    except (OSError, ValueError) as error:
        raise ConfigError(f"{sidecar}: unreadable sidecar of complete shard {name} ({error}); delete that shard "
                          "or use a new --output_dir") from error
    found = recorded.get("fingerprint")
    if found != expected_fingerprint and any("recording_id" not in video for video in recorded.get("videos", ())):
        # Written before examples carried their source recording: the same run now writes other bytes.
        raise ConfigError(f"{output_dir} holds shards of an earlier data_prep, without recording ids ({name}); "
                          "they still train and evaluate, but to prepare into this folder again delete its "
                          "shards (or use a new --output_dir)")
    if found != expected_fingerprint:
        raise ConfigError(
            f"{path} was written from a different input listing or options (fingerprint {found}, "
            f"this run {expected_fingerprint}); use a new --output_dir or delete the old shards")
    return True


def remove_stale_temporaries(output_dir: str, names: Sequence[str]) -> List[str]:
    """Deletes leftovers of killed runs for the given shard names; returns what was removed."""
    removed = []
    targets = [file_name for name in names for file_name in (name, shards.sidecar_name(name))]
    for entry in os.listdir(output_dir):
        if any(atomic_files.is_partial(entry, of=target) for target in targets):
            os.remove(os.path.join(output_dir, entry))
            removed.append(entry)
    return removed


def merge_label_stats(total: Dict[str, Dict], part: Dict[str, Dict]) -> Dict[str, Dict]:
    """Adds mergeable label sums (see `examples.label_statistics`)."""
    merged = {}
    for name in ("arousal", "valence"):
        a = total.get(name) or {"n": 0, "sum": 0.0, "sum_sq": 0.0, "min": None, "max": None}
        b = part.get(name) or {"n": 0, "sum": 0.0, "sum_sq": 0.0, "min": None, "max": None}
        mins = [v for v in (a["min"], b["min"]) if v is not None]
        maxs = [v for v in (a["max"], b["max"]) if v is not None]
        merged[name] = {"n": a["n"] + b["n"], "sum": a["sum"] + b["sum"],
                        "sum_sq": a["sum_sq"] + b["sum_sq"],
                        "min": min(mins) if mins else None, "max": max(maxs) if maxs else None}
    return merged


def combine_face_geometries(geometries: Iterable[Union[None, dict, list]]) -> Union[None, dict, list]:
    """The ``face_geometry`` record of a shard or a split, from those of its parts.

    One geometry (`faces.face_geometry` dict) when every part agrees, the list of the distinct ones
    (in order of appearance) when they differ, None when no part has one (every item failed, or
    sidecars written before geometries were recorded). A part may itself be such a list.
    """
    distinct = []
    for geometry in geometries:
        for one in geometry if isinstance(geometry, list) else [geometry]:
            if one is not None and one not in distinct:
                distinct.append(one)
    if not distinct:
        return None
    return distinct[0] if len(distinct) == 1 else distinct


def write_shard(output_dir: str, split: str, index: int, count: int, items: Sequence[VideoItem],
                build: Callable[[VideoItem], tuple], run_fingerprint: str, settings: dict,
                report: Callable[[int, bool, str], None]) -> dict:
    """Builds and writes one shard; a failed item (``ItemError``, or any other error) is recorded and
    skipped.

    Args:
        output_dir: destination folder.
        split: split name (file name prefix).
        index: shard index.
        count: total number of shards of the split.
        items: the shard's items, in order.
        build: item -> (serialized example, stats); raises on bad input.
        run_fingerprint: see `fingerprint`.
        settings: options recorded in the sidecar.
        report: called after every item with (frames, failed, message).

    Returns:
        The sidecar dict: the shard's totals (frames, frames_with_face, valid_label_frames,
        unreadable_frames, crops_without_face, label sums), one entry per written video, the failed
        items, and face_geometry (see `combine_face_geometries`).
    """
    name = shards.shard_name(split, index, count)
    final_path = os.path.join(output_dir, name)
    sidecar = {
        "file": name, "split": split, "shard_index": index, "num_output_shards": count,
        "fingerprint": run_fingerprint, "settings": settings, "examples": 0, "frames": 0,
        "frames_with_face": 0, "valid_label_frames": 0, "unreadable_frames": 0, "crops_without_face": 0,
        "labels": {}, "videos": [], "failed": [], "face_geometry": None,
    }
    geometries = []
    # The sidecar is renamed into place first and the .tfrecord last: a complete shard is one whose
    # .tfrecord exists.
    with atomic_files.replacing(final_path, fsync=True) as tmp_path:
        with tf.io.TFRecordWriter(tmp_path) as writer:
            for item in items:
                try:
                    serialized, stats = build(item)
                except Exception as error:  # pylint: disable=broad-except
                    # One failed item must never stop the run: record the reason and go on. Errors
                    # other than a bad item (ItemError and the other ValueErrors) or file (OSError,
                    # e.g. VideoReadError) keep their type and a traceback tail.
                    reason = f"{type(error).__name__}: {error}"
                    if not isinstance(error, (ValueError, IOError)):
                        reason += " | " + traceback.format_exc(limit=3).replace("\n", " ")
                    sidecar["failed"].append({"video_id": item.video_id, "source": item.source,
                                              "reason": reason})
                    report(0, True, f"FAILED {item.source} ({item.video_id}): {reason}")
                    continue
                writer.write(serialized)
                sidecar["examples"] += 1
                for key in COUNTED_KEYS:
                    sidecar[key] += stats.get(key, 0)
                sidecar["labels"] = merge_label_stats(sidecar["labels"], stats["labels"])
                sidecar["videos"].append({"video_id": item.video_id, "recording_id": stats["recording_id"],
                                          "frames": stats["frames"],
                                          "fps": stats.get("fps"), "source_fps": stats.get("source_fps"),
                                          "source_frames": stats.get("source_frames"),
                                          "frames_with_face": stats["frames_with_face"],
                                          "valid_label_frames": stats["valid_label_frames"],
                                          "unreadable_frames": stats.get("unreadable_frames", 0),
                                          "crops_without_face": stats.get("crops_without_face", 0)})
                geometries.append(stats.get("face_geometry"))
                unreadable = stats.get("unreadable_frames", 0)
                report(stats["frames"], False, (
                    f"WARNING {item.source} ({item.video_id}): {unreadable} unreadable frame(s) recorded as "
                    f"without a face, first: {stats['unreadable_first']}") if unreadable else "")
            writer.flush()
        sidecar["face_geometry"] = combine_face_geometries(geometries)
        write_json_atomic(os.path.join(output_dir, shards.sidecar_name(name)), sidecar)
    return sidecar


def log(message: str) -> None:
    """One line on stderr."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()

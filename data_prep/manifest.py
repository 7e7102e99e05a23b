"""``manifest.json``: per-split totals of a prepared folder, aggregated from the shard sidecars."""

import json
import math
import os
from typing import Dict

from data_prep.shard_writer import (COUNTED_KEYS, combine_face_geometries, merge_label_stats,
                                    write_json_atomic)
from mimamo_tf.data import schema, shards

MANIFEST_NAME = shards.MANIFEST_FILE


def _finalize_labels(sums: Dict[str, Dict]) -> Dict[str, Dict]:
    result = {}
    for name, s in sums.items():
        n = s["n"]
        mean = s["sum"] / n if n else None
        variance = max(s["sum_sq"] / n - mean * mean, 0.0) if n else None
        result[name] = {"valid_frames": n, "mean": mean,
                        "std": math.sqrt(variance) if variance is not None else None,
                        "min": s["min"], "max": s["max"]}
    return result


def build_manifest(output_dir: str) -> dict:
    """Aggregates every complete shard's sidecar in `output_dir`.

    Returns:
        {"schema_version", "splits": {split: {totals (frames, frames_with_face, ...,
        crops_without_face), label statistics, shards, failed, recordings ({video_id:
        recording_id} of every written video; none from shards written before they were
        recorded), face_geometry (one `faces.face_geometry` dict, or the list of the distinct ones
        when shards disagree)}}}.
    """
    splits: Dict[str, dict] = {}
    for path in shards.list_shards(output_dir):
        name = os.path.basename(path)
        with open(os.path.join(output_dir, shards.sidecar_name(name)), encoding="utf-8") as handle:
            sidecar = json.load(handle)
        split = splits.setdefault(sidecar["split"], {
            "dataset": sidecar["settings"].get("dataset"),
            "num_output_shards": sidecar["num_output_shards"], "complete_shards": 0,
            "examples": 0, "frames": 0, "frames_with_face": 0, "valid_label_frames": 0,
            "unreadable_frames": 0, "crops_without_face": 0, "label_sums": {}, "shards": [], "failed": [],
            "videos_with_unreadable_frames": [], "recordings": {}, "settings": sidecar["settings"],
            "face_geometry": None,
        })
        split["complete_shards"] += 1
        for key in ("examples",) + COUNTED_KEYS:
            split[key] += sidecar.get(key, 0)
        split["face_geometry"] = combine_face_geometries([split["face_geometry"], sidecar.get("face_geometry")])
        # Frames that could not be decoded were written as frames without a face; say where.
        split["videos_with_unreadable_frames"].extend(
            {"video_id": v["video_id"], "unreadable_frames": v["unreadable_frames"], "shard": name}
            for v in sidecar["videos"] if v.get("unreadable_frames"))
        # Other splits of the folder may have been prepared before recording ids were written.
        split["recordings"].update((v["video_id"], v["recording_id"]) for v in sidecar["videos"] if "recording_id" in v)
        split["label_sums"] = merge_label_stats(split["label_sums"], sidecar["labels"])
        split["shards"].append({"file": name, "examples": sidecar["examples"],
                                "frames": sidecar["frames"], "failed": len(sidecar["failed"])})
        split["failed"].extend(dict(f, shard=name) for f in sidecar["failed"])
    for split in splits.values():
        split["complete"] = split["complete_shards"] == split["num_output_shards"]
        sums = split.pop("label_sums")
        split["labels"] = _finalize_labels(sums) if sums else {}
    return {"schema_version": schema.SCHEMA_VERSION, "splits": splits}


def write_manifest(output_dir: str) -> dict:
    """Builds and atomically writes ``manifest.json``; returns it."""
    manifest = build_manifest(output_dir)
    write_json_atomic(os.path.join(output_dir, MANIFEST_NAME), manifest)
    return manifest

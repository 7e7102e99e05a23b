"""Names of TFRecord shard files and their sidecar metadata.

A prepared dataset directory holds, per split, ``<split>-00003-of-00012.tfrecord`` files and, next
to each, ``<split>-00003-of-00012.json`` with that shard's counts. A shard is complete exactly when
its ``.tfrecord`` exists: writers create it last, by renaming a temporary file. The directory also
holds ``manifest.json`` (per-split totals and the preparation settings, read here: the faces'
geometry, the labels' annotation scale) and, when spatial features
were stored, ``spatial_backbone.keras`` (the frozen backbone they came from). This module is the one
owner of those names.
"""

import json
import os
import re
from typing import List

from mimamo_tf.data.label_scale import MODEL_SCALE, LabelScale

MANIFEST_FILE = "manifest.json"
BACKBONE_FILE = "spatial_backbone.keras"
SHARD_PATTERN = re.compile(r"^(?P<split>[A-Za-z0-9_]+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.tfrecord$")


def shard_name(split: str, index: int, count: int) -> str:
    """File name of shard `index` (0-based) of `count` for `split`."""
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} outside [0, {count})")
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def sidecar_name(shard_file_name: str) -> str:
    """The metadata JSON next to a shard."""
    return shard_file_name[: -len(".tfrecord")] + ".json"


def read_sidecar(shard_path):
    """The sidecar dict of a shard, or None when it is missing or unreadable (hand-made shards)."""
    sidecar = os.path.join(os.path.dirname(shard_path), sidecar_name(os.path.basename(shard_path)))
    try:
        with open(sidecar, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def list_shards(directory, split: str = None) -> List[str]:
    """Complete shard files in `directory` (optionally of one split), sorted, as full paths."""
    names = []
    for name in os.listdir(directory):
        match = SHARD_PATTERN.match(name)
        if match and (split is None or match.group("split") == split):
            names.append(os.path.join(os.fspath(directory), name))
    return sorted(names)


def read_manifest(directory):
    """The prepared directory's ``manifest.json`` as a dict, or None when missing or unreadable."""
    try:
        with open(os.path.join(directory, MANIFEST_FILE), encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError, TypeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def backbone_record(directory):
    """The identity of the backbone whose features the directory stores (the manifest's
    ``settings.spatial_backbone`` of its first split that has one: ``spec``, weights hash, ...), or
    None."""
    for split in ((read_manifest(directory) or {}).get("splits") or {}).values():
        record = split.get("settings", {}).get("spatial_backbone")
        if record:
            return record
    return None


def _split_entry(directory, split):
    """The manifest's entry of ``split`` (``{}`` without a manifest or without that split)."""
    return ((read_manifest(directory) or {}).get("splits") or {}).get(split) or {}


def face_geometry_record(directory, split):
    """Where the faces of ``split`` sit in their crops (the manifest's ``face_geometry``: a
    ``mimamo_tf.faces.face_geometry`` dict, a list when its shards disagree), or None when the
    directory was prepared before it was recorded."""
    return _split_entry(directory, split).get("face_geometry")


def split_label_scale(directory, split):
    """The scale ``split``'s labels were annotated on, as a ``label_scale.LabelScale``: the folder
    reader's ``label_range`` in the manifest's settings (prepare maps it onto the stored [-1, 1]), or
    [-1, 1] when none is recorded: the Aff-Wild, Aff-Wild2 and OMG readers and the synthetic data
    store their labels as annotated, and hand-made shards have no manifest."""
    label_range = (_split_entry(directory, split).get("settings") or {}).get("label_range")
    return MODEL_SCALE if label_range is None else LabelScale(*(float(v) for v in label_range))

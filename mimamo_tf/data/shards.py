"""Names of TFRecord shard files and their sidecar metadata.

A prepared dataset directory holds, per split, ``<split>-00003-of-00012.tfrecord`` files and, next
to each, ``<split>-00003-of-00012.json`` with that shard's counts. A shard is complete exactly when
its ``.tfrecord`` exists: writers create it last, by renaming a temporary file.
"""

import json
import os
import re
from typing import List

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

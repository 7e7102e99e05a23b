"""Finding video files on disk."""

import os
from typing import Dict, Iterable, List

from mimamo_tf.errors import ItemError
from mimamo_tf.video import VIDEO_EXTENSIONS


def walk_videos(root: str, skip_dir_names: Iterable[str] = ()) -> List[str]:
    """Every video file under `root` (recursive, sorted), skipping folders with the given names."""
    skip = set(skip_dir_names)
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in skip and not d.startswith("."))
        for name in files:
            if name.lower().endswith(VIDEO_EXTENSIONS) and not name.startswith("."):
                found.append(os.path.join(directory, name))
    return sorted(found)


def index_by_stem(paths: Iterable[str]) -> Dict[str, List[str]]:
    """Maps file name without extension -> every path with that stem (several = ambiguous)."""
    index: Dict[str, List[str]] = {}
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        index.setdefault(stem, []).append(path)
    return index


def read_label_lines(path: str) -> List[str]:
    """Lines of a label text file without trailing blank lines.

    Raises:
        ItemError: the file is missing.
    """
    if not os.path.isfile(path):
        raise ItemError(f"{path}: label file is missing")
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines

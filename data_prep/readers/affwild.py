"""Aff-Wild (2017) reader.

Layout::

    <data_root>/videos/{train,test}/<id>.mp4 | <id>.avi
    <data_root>/annotations/<split>/arousal/<id>.txt
    <data_root>/annotations/<split>/valence/<id>.txt

Label files have no header, one float in [-1, 1] per line, line i = frame i (0-based). A split
without an ``annotations/<split>`` folder (the original test set) is prepared without labels.
"""

import os
from typing import List

import numpy as np

from data_prep.readers import files
from data_prep.readers.base import DatasetReader, Labels, VideoItem, parse_float, relative_source
from data_prep.readers.registry import register_reader
from mimamo_tf.config import ConfigError
from mimamo_tf.errors import ItemError


def read_value_file(path: str, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """One float per line, all within [low, high] (blank lines at the end are ignored).

    Raises:
        ItemError: missing file, a non-number, or a value out of range (naming file and line).
    """
    lines = files.read_label_lines(path)
    values = np.empty(len(lines), np.float32)
    for number, line in enumerate(lines, start=1):
        value = parse_float(line, path, number)
        if not low <= value <= high:
            raise ItemError(f"{path}:{number}: label {value} outside [{low}, {high}]")
        values[number - 1] = value
    if not len(values):
        raise ItemError(f"{path}: label file is empty")
    return values


@register_reader("affwild")
class AffWildReader(DatasetReader):
    """Aff-Wild (2017): videos with separate arousal and valence files, one value per frame."""

    splits = ("train", "test")

    def __init__(self, data_root: str, split: str):
        super().__init__(data_root, split)
        self.video_dir = os.path.join(self.data_root, "videos", split)
        self.annotation_dir = os.path.join(self.data_root, "annotations", split)
        if not os.path.isdir(self.video_dir):
            raise ConfigError(f"Aff-Wild: expected videos in {self.video_dir}")

    @property
    def labelled(self) -> bool:
        return os.path.isdir(self.annotation_dir)

    def list_items(self) -> List[VideoItem]:
        videos = files.index_by_stem(files.walk_videos(self.video_dir))
        label_ids = set()
        if self.labelled:
            for dimension in ("arousal", "valence"):
                folder = os.path.join(self.annotation_dir, dimension)
                if os.path.isdir(folder):
                    label_ids.update(os.path.splitext(n)[0] for n in os.listdir(folder)
                                     if n.endswith(".txt"))
        items = []
        for video_id in sorted(set(videos) | label_ids):
            paths = videos.get(video_id, [])
            label_paths = ()
            if self.labelled:
                label_paths = (os.path.join(self.annotation_dir, "arousal", video_id + ".txt"),
                               os.path.join(self.annotation_dir, "valence", video_id + ".txt"))
            error = None
            if not paths:
                error = f"{label_paths[0] if label_paths else video_id}: labels without a video " \
                        f"{video_id}.mp4/.avi in {self.video_dir}"
            elif len(paths) > 1:
                error = f"ambiguous video {video_id}: {', '.join(paths)}"
            video_path = paths[0] if len(paths) == 1 else None
            items.append(VideoItem(
                video_id=video_id, dataset=self.name, split=self.split,
                source=relative_source(video_path or (label_paths or [video_id])[0], self.data_root),
                video_path=video_path, label_paths=label_paths,
                label_level="frame" if self.labelled else "none", listing_error=error))
        return items

    def load_labels(self, item: VideoItem) -> Labels:
        if item.label_level == "none":
            return Labels.none()
        arousal_path, valence_path = item.label_paths
        arousal = read_value_file(arousal_path)
        valence = read_value_file(valence_path)
        if len(arousal) != len(valence):
            raise ItemError(f"{arousal_path}: {len(arousal)} lines but {valence_path} has "
                            f"{len(valence)}")
        return Labels(arousal=arousal, valence=valence, valid=np.ones(len(arousal), np.uint8),
                      level="frame", path=arousal_path)

"""A plain folder of videos (any depth; ids are paths without extension), with optional labels.

A video may have its own continuous annotation beside it: ``<video stem>.csv`` with
``time_s,valence,arousal`` (or ``frame,valence,arousal``) at any rate, resampled to the video's
frames (``timed_labels``). Videos without one are unlabelled (``label_valid=0`` everywhere).
"""

import os
from typing import List

from data_prep.readers import files
from data_prep.readers.base import DatasetReader, Labels, VideoItem, relative_source
from data_prep.readers.timed_labels import DEFAULT_LABEL_RANGE, DEFAULT_MAX_GAP_SECONDS, read_timed_label_file

LABEL_SUFFIX = ".csv"


class FolderReader(DatasetReader):
    """Every video file under the data root, with its ``<stem>.csv`` annotation when there is one.
    Any split name is accepted.

    Args:
        data_root, split: as every reader.
        max_label_gap_seconds: frames in a longer gap between two annotation samples have no label.
        label_range: ``(low, high)`` of the annotation scale, mapped onto [-1, 1].
    """

    name = "folder"
    splits = ()

    def __init__(self, data_root: str, split: str, max_label_gap_seconds: float = DEFAULT_MAX_GAP_SECONDS,
                 label_range=DEFAULT_LABEL_RANGE):
        super().__init__(data_root, split)
        self.max_label_gap_seconds = float(max_label_gap_seconds)
        self.label_range = tuple(float(v) for v in label_range)

    def list_items(self) -> List[VideoItem]:
        items = {}
        for path in files.walk_videos(self.data_root):
            relative = relative_source(path, self.data_root)
            video_id = os.path.splitext(relative)[0]
            error = None
            if video_id in items:
                error = f"{path}: another video has the same name without extension " \
                        f"({items[video_id].source})"
                video_id = relative
            label_path = os.path.splitext(path)[0] + LABEL_SUFFIX
            labelled = os.path.isfile(label_path)
            items[video_id] = VideoItem(video_id=video_id, dataset=self.name, split=self.split,
                                        source=relative, video_path=path,
                                        label_paths=(label_path,) if labelled else (),
                                        label_level="frame" if labelled else "none", listing_error=error)
        return [items[key] for key in sorted(items)]

    def load_labels(self, item: VideoItem) -> Labels:
        if not item.label_paths:
            return Labels.none()
        return read_timed_label_file(item.label_paths[0], self.label_range, self.max_label_gap_seconds)

    def settings(self) -> dict:
        return {"max_label_gap_seconds": self.max_label_gap_seconds, "label_range": list(self.label_range)}

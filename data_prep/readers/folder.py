"""A plain folder of videos (any depth; ids are paths without extension), with optional labels.

A video may have its own continuous annotation beside it: ``<video stem>.csv`` with
``time_s,valence,arousal`` (or ``frame,valence,arousal``) at any rate, resampled to the video's
frames (``timed_labels``). Videos without one are unlabelled (``label_valid=0`` everywhere).
"""

import os
from typing import List

from absl import flags

from data_prep.readers import files
from data_prep.readers.base import DatasetReader, Labels, VideoItem, relative_source
from data_prep.readers.registry import register_reader
from data_prep.readers.timed_labels import (DEFAULT_LABEL_RANGE, DEFAULT_MAX_GAP_SECONDS, parse_label_range,
                                            read_timed_label_file)
from mimamo_tf.config import ConfigError

LABEL_SUFFIX = ".csv"


@register_reader("folder")
class FolderReader(DatasetReader):
    """Any folder of videos (every video file under the data root), each with its own continuous
    annotation ``<stem>.csv`` or none. Any split name is accepted.

    Args:
        data_root, split: as every reader.
        max_label_gap_seconds: frames in a longer gap between two annotation samples have no label.
        label_range: ``(low, high)`` of the annotation scale, mapped onto [-1, 1].
    """

    splits = ()

    def __init__(self, data_root: str, split: str, max_label_gap_seconds: float = DEFAULT_MAX_GAP_SECONDS,
                 label_range=DEFAULT_LABEL_RANGE):
        super().__init__(data_root, split)
        self.max_label_gap_seconds = float(max_label_gap_seconds)
        self.label_range = tuple(float(v) for v in label_range)

    @staticmethod
    def define_flags(flag_values) -> None:
        flags.DEFINE_string("label_range", "-1,1", "folder: LOW,HIGH of the scale of the <video>.csv annotations "
                            "(e.g. -1000,1000 or 1,9), mapped linearly onto [-1, 1]; a value outside it is an error.",
                            flag_values=flag_values)
        flags.DEFINE_float("max_label_gap_seconds", DEFAULT_MAX_GAP_SECONDS, "folder: frames between two annotation "
                           "samples further apart than this have no label (label_valid=0), as frames outside the "
                           "annotated span.", flag_values=flag_values)

    @classmethod
    def from_options(cls, data_root: str, split: str, options: dict) -> "FolderReader":
        gap = float(options["max_label_gap_seconds"])
        if not gap > 0:
            raise ConfigError(f"--max_label_gap_seconds must be > 0; got {gap}")
        return cls(data_root, split, max_label_gap_seconds=gap, label_range=parse_label_range(options["label_range"]))

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

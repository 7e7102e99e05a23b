"""Aff-Wild2 reader (ABAW valence-arousal track).

Layout (either annotation folder name is accepted, at any depth below the data root)::

    <data_root>/.../VA_Set/{Train_Set,Validation_Set}/<name>.txt
    <data_root>/.../VA_Estimation_Challenge/{Train_Set,Validation_Set}/<name>.txt
    <data_root>/.../<video>.mp4|.avi                  raw videos, anywhere (e.g. batch1/, new_vids/)
    <data_root>/.../cropped_aligned/<name>/00001.jpg  provided aligned faces (frame i -> i+1)

A label file starts with the header ``valence,arousal`` (columns are taken by name), then one line
per frame; ``-5`` marks an invalid frame. ``<video>_left.txt``/``<video>_right.txt`` annotate the
left/right person of ``<video>``: the face track starts on the leftmost/rightmost face.

With ``source="cropped_aligned"`` the provided aligned frames are used instead of the videos; a
missing jpg is a frame without a face. Prepare re-aligns them to the project's template by default
(``--cropped_aligned_geometry=realign``, see `data_prep.aligned_frames`) or keeps the provider's crop.
"""

import os
from typing import Dict, List, Optional

import numpy as np
from absl import flags

from data_prep.readers import files
from data_prep.readers.base import DatasetReader, Labels, VideoItem, numeric_rows, relative_source
from data_prep.readers.registry import register_reader
from mimamo_tf.config import ConfigError
from mimamo_tf.errors import ItemError

INVALID_LABEL = -5.0
SPLIT_FOLDERS = {"train": "Train_Set", "validation": "Validation_Set", "test": "Test_Set"}
ANNOTATION_PARENTS = ("VA_Set", "VA_Estimation_Challenge")
SOURCES = ("video", "cropped_aligned")
_SEARCH_DEPTH = 4


def _find_dirs(root: str, name: str, parent_names=None) -> List[str]:
    """Folders called `name` (optionally with a parent in `parent_names`) up to a small depth."""
    found = []
    root_depth = root.rstrip(os.sep).count(os.sep)
    for directory, subdirs, _ in os.walk(root):
        depth = directory.count(os.sep) - root_depth
        if depth >= _SEARCH_DEPTH:
            subdirs[:] = []
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        if os.path.basename(directory) == name and directory != root:
            if parent_names is None or os.path.basename(os.path.dirname(directory)) in parent_names:
                found.append(directory)
                subdirs[:] = []
        elif os.path.basename(directory) == "cropped_aligned" and name != "cropped_aligned":
            subdirs[:] = []  # thousands of frame folders: never search inside
    return sorted(found)


def read_va_file(path: str) -> Labels:
    """Parses an ABAW VA label file.

    Returns:
        Frame-level `Labels`; frames where either value is -5 are invalid (stored as 0).

    Raises:
        ItemError: missing file, wrong header, malformed line, value outside [-1, 1] that is not
            the -5 marker.
    """
    lines = files.read_label_lines(path)
    if not lines:
        raise ItemError(f"{path}: label file is empty")
    header = [column.strip().lower() for column in lines[0].split(",")]
    if sorted(header) != ["arousal", "valence"]:
        raise ItemError(f"{path}:1: expected the header 'valence,arousal', got {lines[0]!r}")
    valence_column, arousal_column = header.index("valence"), header.index("arousal")
    count = len(lines) - 1
    if count == 0:
        raise ItemError(f"{path}: no label lines after the header")
    valence = np.zeros(count, np.float32)
    arousal = np.zeros(count, np.float32)
    valid = np.ones(count, np.uint8)
    for index, (number, values) in enumerate(numeric_rows(lines, path, 2)):
        v, a = values[valence_column], values[arousal_column]
        if v == INVALID_LABEL or a == INVALID_LABEL:
            valid[index] = 0
            continue
        for value in (v, a):
            if not -1.0 <= value <= 1.0:
                raise ItemError(f"{path}:{number}: label {value} outside [-1, 1] (and not the "
                                f"invalid marker -5)")
        valence[index], arousal[index] = v, a
    return Labels(arousal=arousal, valence=valence, valid=valid, level="frame", path=path)


def video_name_and_person(name: str):
    """``video59_left`` -> (``video59``, ``leftmost``); ``video3`` -> (``video3``, ``largest``)."""
    for suffix, preference in (("_left", "leftmost"), ("_right", "rightmost")):
        if name.endswith(suffix):
            return name[: -len(suffix)], preference
    return name, "largest"


@register_reader("affwild2")
class AffWild2Reader(DatasetReader):
    """Aff-Wild2 (ABAW VA): per-frame annotations with raw videos or the provided cropped_aligned faces."""

    splits = tuple(SPLIT_FOLDERS)
    aligned_frames_name = "cropped_aligned"
    # The provided crops follow the provider's template, not ours: prepare re-aligns them by default.
    aligned_frames_realignable = True

    def __init__(self, data_root: str, split: str, source: str = "video"):
        super().__init__(data_root, split)
        if source not in SOURCES:
            raise ConfigError(f"--affwild2_source={source!r}; expected one of {SOURCES}")
        self.source = source
        candidates = _find_dirs(self.data_root, SPLIT_FOLDERS[split], ANNOTATION_PARENTS)
        if not candidates:
            raise ConfigError(
                f"Aff-Wild2: no {'/'.join(ANNOTATION_PARENTS)}/{SPLIT_FOLDERS[split]} folder under "
                f"{self.data_root}")
        if len(candidates) > 1:
            raise ConfigError(f"Aff-Wild2: several annotation folders for {split}: {candidates}")
        self.annotation_dir = candidates[0]
        aligned = _find_dirs(self.data_root, "cropped_aligned")
        self.aligned_roots = aligned
        if source == "cropped_aligned" and not aligned:
            raise ConfigError(f"Aff-Wild2: --affwild2_source=cropped_aligned but no "
                              f"cropped_aligned folder under {self.data_root}")

    @staticmethod
    def define_flags(flag_values) -> None:
        flags.DEFINE_enum("affwild2_source", "video", list(SOURCES),
                          "Aff-Wild2: detect faces in the raw videos, or use the provided aligned frames.",
                          flag_values=flag_values)

    @classmethod
    def from_options(cls, data_root: str, split: str, options: dict) -> "AffWild2Reader":
        return cls(data_root, split, source=options["affwild2_source"])

    def recording_id(self, video_id: str) -> str:
        """``video59_left`` and ``video59_right`` annotate the two persons of one video, ``video59``."""
        return video_name_and_person(video_id)[0]

    def _aligned_dir(self, name: str) -> Optional[str]:
        # The ABAW archive unpacks to cropped_aligned/ or cropped_aligned/cropped_aligned/.
        for root in self.aligned_roots:
            for candidate in (os.path.join(root, name), os.path.join(root, "cropped_aligned", name)):
                if os.path.isdir(candidate):
                    return candidate
        return None

    def list_items(self) -> List[VideoItem]:
        skip = {"cropped_aligned", *ANNOTATION_PARENTS}
        videos: Dict[str, List[str]] = files.index_by_stem(files.walk_videos(self.data_root, skip))
        items = []
        label_names = sorted(os.path.splitext(n)[0] for n in os.listdir(self.annotation_dir)
                             if n.endswith(".txt") and not n.startswith("."))
        for name in label_names:
            label_path = os.path.join(self.annotation_dir, name + ".txt")
            video_name, preference = video_name_and_person(name)
            paths = videos.get(video_name, [])
            video_path = paths[0] if len(paths) == 1 else None
            error = None
            if len(paths) > 1:
                error = f"{label_path}: ambiguous video {video_name}: {', '.join(paths)}"
            aligned_dir = None
            if self.source == "cropped_aligned":
                aligned_dir = self._aligned_dir(name)
                if aligned_dir is None:
                    error = error or f"{label_path}: no cropped_aligned/{name} folder"
            elif video_path is None and error is None:
                error = f"{label_path}: no video file {video_name}.* under {self.data_root}"
            items.append(VideoItem(
                video_id=name, dataset=self.name, split=self.split,
                source=relative_source(aligned_dir or video_path or label_path, self.data_root),
                video_path=video_path, aligned_dir=aligned_dir, label_paths=(label_path,),
                label_level="frame", face_preference=preference, listing_error=error))
        return items

    def load_labels(self, item: VideoItem) -> Labels:
        return read_va_file(item.label_paths[0])

    def settings(self) -> dict:
        return {"affwild2_source": self.source}

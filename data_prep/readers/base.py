"""What every dataset reader produces: a list of `VideoItem`s and, per item, its `Labels`.

Readers only list files and parse labels; decoding and face processing happen in
`data_prep.examples`. Everything here is picklable, so items can be sent to worker processes.
"""

import dataclasses
import os
from typing import List, Optional

import numpy as np


class InputError(ValueError):
    """A bad input item (missing/unreadable file, malformed or out-of-range labels).

    The message always names the file. Data preparation records it in the manifest and goes on.
    """


class ConfigurationError(ValueError):
    """The dataset layout or flags are wrong as a whole (e.g. no annotation folder): stop early."""


@dataclasses.dataclass(frozen=True)
class VideoItem:
    """One example to prepare (a video, or an OMG utterance clip).

    Attributes:
        video_id: unique id within the dataset and split.
        dataset: reader name.
        split: split name.
        source: path shown in reports, relative to the data root when possible.
        video_path: raw video file, or None.
        aligned_dir: folder of pre-aligned frames ``{i+1:05d}.jpg`` (Aff-Wild2 cropped_aligned);
            when set, these are used instead of face detection.
        label_paths: label files the reader parses for this item.
        label_level: "frame", "video" or "none".
        face_preference: which face starts a track ("largest", "leftmost", "rightmost").
        video_arousal: utterance-level label (label_level "video").
        video_valence: utterance-level label (label_level "video").
        listing_error: set when the item is known to be bad at listing time (e.g. labels without
            a video); the item is then reported as failed without being processed.
    """

    video_id: str
    dataset: str
    split: str
    source: str
    video_path: Optional[str] = None
    aligned_dir: Optional[str] = None
    label_paths: tuple = ()
    label_level: str = "none"
    face_preference: str = "largest"
    video_arousal: float = float("nan")
    video_valence: float = float("nan")
    listing_error: Optional[str] = None


@dataclasses.dataclass
class Labels:
    """Per-frame labels as read from the label files (before reconciliation with the video).

    Attributes:
        arousal: float32 (L,), 0 where invalid.
        valence: float32 (L,), 0 where invalid.
        valid: uint8 (L,).
        level: "frame", "video" or "none". For "video" and "none" the arrays are empty and are
            expanded to the video's length by `reconcile`.
        video_arousal: utterance label for level "video", else NaN.
        video_valence: utterance label for level "video", else NaN.
        path: label file for messages.
        positions, position_unit, max_gap_seconds: level "timed" (annotations at their own rate,
            `timed_labels`): where each sample lies ("seconds" or "frames"), and the longest gap
            between samples that is interpolated over.
    """

    arousal: np.ndarray
    valence: np.ndarray
    valid: np.ndarray
    level: str
    video_arousal: float = float("nan")
    video_valence: float = float("nan")
    path: str = ""
    positions: Optional[np.ndarray] = None
    position_unit: str = ""
    max_gap_seconds: float = 0.0

    @classmethod
    def none(cls) -> "Labels":
        empty = np.zeros(0, np.float32)
        return cls(arousal=empty, valence=empty, valid=np.zeros(0, np.uint8), level="none")

    @classmethod
    def video_level(cls, arousal: float, valence: float, path: str = "") -> "Labels":
        empty = np.zeros(0, np.float32)
        return cls(arousal=empty, valence=empty, valid=np.zeros(0, np.uint8), level="video",
                   video_arousal=float(arousal), video_valence=float(valence), path=path)


def reconcile(labels: Labels, num_frames: int, max_label_surplus: int = 2, fps: float = 0.0):
    """Per-frame label arrays of exactly `num_frames` frames.

    Time-stamped labels (level "timed") are resampled to the frames at `fps`
    (`timed_labels.resample`).

    Frame-level label files often have 1-2 lines more than the video decodes to (Aff-Wild2): a
    surplus up to `max_label_surplus` is truncated. Any other mismatch means the labels do not
    belong to this video as decoded, and the item is rejected rather than silently misaligned.

    Args:
        labels: parsed labels.
        num_frames: decoded frame count.
        max_label_surplus: tolerated extra label lines.

    Returns:
        (arousal float32 (T,), valence float32 (T,), label_valid uint8 (T,)).

    Raises:
        InputError: label count and frame count disagree beyond the tolerance.
    """
    if labels.level == "none":
        zeros = np.zeros(num_frames, np.float32)
        return zeros, zeros.copy(), np.zeros(num_frames, np.uint8)
    if labels.level == "timed":
        from data_prep.readers.timed_labels import resample  # the module builds on this one

        if not fps > 0:
            raise InputError(f"{labels.path}: time-stamped labels need the video's frame rate")
        return resample(labels, num_frames, fps)
    if labels.level == "video":
        return (np.full(num_frames, labels.video_arousal, np.float32),
                np.full(num_frames, labels.video_valence, np.float32),
                np.ones(num_frames, np.uint8))
    count = len(labels.arousal)
    if count < num_frames:
        raise InputError(f"{labels.path}: {count} label lines but the video has {num_frames} "
                         f"frames (fewer labels than frames)")
    if count - num_frames > max_label_surplus:
        raise InputError(f"{labels.path}: {count} label lines but the video has {num_frames} "
                         f"frames (surplus {count - num_frames} > tolerated {max_label_surplus})")
    return (labels.arousal[:num_frames].copy(), labels.valence[:num_frames].copy(),
            labels.valid[:num_frames].copy())


def relative_source(path: str, data_root: str) -> str:
    """`path` relative to `data_root` (posix separators) when inside it, else unchanged."""
    try:
        relative = os.path.relpath(path, data_root)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative.replace(os.sep, "/")


def parse_float(text: str, path: str, line_number: int) -> float:
    """float(text), or InputError naming the file and line."""
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{path}:{line_number}: expected a number, got {text.strip()!r}") from None
    if not np.isfinite(value):
        raise InputError(f"{path}:{line_number}: label is not finite ({text.strip()!r})")
    return value


def numeric_rows(lines, path: str, columns: int):
    """``(line number, values)`` of every line after a CSV header, ``columns`` numbers each;
    InputError naming the file and line for a line that is not."""
    for index, line in enumerate(lines[1:]):
        number = index + 2
        fields = line.split(",")
        if len(fields) != columns:
            raise InputError(f"{path}:{number}: expected {columns} comma-separated values, got {line!r}")
        yield number, [parse_float(field, path, number) for field in fields]


class DatasetReader:
    """Interface: list the items of one split and parse an item's labels.

    Attributes:
        name: the ``--dataset`` name.
        splits: the split names it accepts (empty: any).
        aligned_frames_name: what its pre-aligned faces (`VideoItem.aligned_dir`) are called in
            records, e.g. the flag or folder they come from.
        aligned_frames_realignable: True when those faces are a provider's crops that prepare
            re-aligns to the project's template under ``--cropped_aligned_geometry=realign``.
    """

    name = "abstract"
    splits: tuple = ()
    aligned_frames_name = "aligned frames"
    aligned_frames_realignable = False

    def __init__(self, data_root: str, split: str):
        if not os.path.isdir(data_root):
            raise ConfigurationError(f"--data_root {data_root!r} is not a directory")
        if self.splits and split not in self.splits:
            raise ConfigurationError(f"--split={split!r} is not a split of {self.name}; "
                                     f"expected one of {self.splits}")
        self.data_root = os.path.abspath(data_root)
        self.split = split

    def list_items(self) -> List[VideoItem]:
        """Every item of the split, sorted by video_id."""
        raise NotImplementedError

    def load_labels(self, item: VideoItem) -> Labels:
        """Parses the labels of one item.

        Raises:
            InputError: missing or malformed label file, out-of-range values.
        """
        raise NotImplementedError

    def settings(self) -> dict:
        """Reader options that change the output (recorded in the manifest and fingerprint)."""
        return {}

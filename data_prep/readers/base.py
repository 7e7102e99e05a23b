"""What every dataset reader produces: a list of `VideoItem`s and, per item, its `Labels`; and
`reconcile`, which turns an item's labels into exactly one per decoded frame.

Readers only list files and parse labels; decoding and face processing happen in
`data_prep.examples`. Everything here is picklable, so readers and items can be sent to worker
processes. A bad item raises `mimamo_tf.errors.ItemError` (prepare records it and goes on); a bad
flag or dataset layout `mimamo_tf.config.ConfigError` (prepare stops before it starts).
"""

import dataclasses
import os
from typing import List, Optional

import numpy as np

from mimamo_tf.config import ConfigError
from mimamo_tf.errors import ItemError


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

    Time-stamped labels (level "timed") are resampled to the frames at `fps` (`resample`).

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
        ItemError: label count and frame count disagree beyond the tolerance.
    """
    if labels.level == "none":
        zeros = np.zeros(num_frames, np.float32)
        return zeros, zeros.copy(), np.zeros(num_frames, np.uint8)
    if labels.level == "timed":
        if not fps > 0:
            raise ItemError(f"{labels.path}: time-stamped labels need the video's frame rate")
        return resample(labels, num_frames, fps)
    if labels.level == "video":
        return (np.full(num_frames, labels.video_arousal, np.float32),
                np.full(num_frames, labels.video_valence, np.float32),
                np.ones(num_frames, np.uint8))
    count = len(labels.arousal)
    if count < num_frames:
        raise ItemError(f"{labels.path}: {count} label lines but the video has {num_frames} "
                        f"frames (fewer labels than frames)")
    if count - num_frames > max_label_surplus:
        raise ItemError(f"{labels.path}: {count} label lines but the video has {num_frames} "
                        f"frames (surplus {count - num_frames} > tolerated {max_label_surplus})")
    return (labels.arousal[:num_frames].copy(), labels.valence[:num_frames].copy(),
            labels.valid[:num_frames].copy())


def resample(labels: Labels, num_frames: int, fps: float):
    """Per-frame ``(arousal, valence, label_valid)`` of a ``"timed"`` ``Labels`` (annotations at their
    own rate, `timed_labels`) for a video of ``num_frames`` frames at ``fps``.

    Each frame ``t`` (at ``t / fps`` seconds) takes the linear interpolation of the two samples
    around it. A frame before the first sample or after the last, or between two samples further
    apart than ``labels.max_gap_seconds`` (a pause of the annotator, a lost connection), has no
    label (``label_valid=0``).
    """
    seconds = labels.positions / fps if labels.position_unit == "frames" else labels.positions
    frame_times = np.arange(num_frames) / fps
    inside = (frame_times >= seconds[0]) & (frame_times <= seconds[-1])
    # The sample at or before each frame, and the gap to the next one.
    before = np.clip(np.searchsorted(seconds, frame_times, side="right") - 1, 0, len(seconds) - 1)
    after = np.minimum(before + 1, len(seconds) - 1)
    exact = seconds[before] == frame_times
    gap = seconds[after] - seconds[before]
    valid = inside & (exact | (gap <= labels.max_gap_seconds + 1e-9))
    arousal = np.where(valid, np.interp(frame_times, seconds, labels.arousal), 0.0).astype(np.float32)
    valence = np.where(valid, np.interp(frame_times, seconds, labels.valence), 0.0).astype(np.float32)
    return arousal, valence, valid.astype(np.uint8)


def relative_source(path: str, data_root: str) -> str:
    """`path` relative to `data_root` (posix separators) when inside it, else unchanged."""
    try:
        relative = os.path.relpath(path, data_root)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative.replace(os.sep, "/")


def parse_float(text: str, path: str, line_number: int) -> float:
    """float(text), or ItemError naming the file and line."""
    try:
        value = float(text)
    except ValueError:
        raise ItemError(f"{path}:{line_number}: expected a number, got {text.strip()!r}") from None
    if not np.isfinite(value):
        raise ItemError(f"{path}:{line_number}: label is not finite ({text.strip()!r})")
    return value


def numeric_rows(lines, path: str, columns: int):
    """``(line number, values)`` of every line after a CSV header, ``columns`` numbers each;
    ItemError naming the file and line for a line that is not."""
    for index, line in enumerate(lines[1:]):
        number = index + 2
        fields = line.split(",")
        if len(fields) != columns:
            raise ItemError(f"{path}:{number}: expected {columns} comma-separated values, got {line!r}")
        yield number, [parse_float(field, path, number) for field in fields]


class DatasetReader:
    """Interface: list the items of one split and parse an item's labels.

    A reader is one module of `data_prep.readers`, its class decorated with
    `registry.register_reader(name)`. Besides listing and parsing, it declares its options as absl
    flags (`define_flags`), how it is built from their values (`from_options`) and which source
    recording each of its items belongs to (`recording_id`).

    Attributes:
        name: the ``--dataset`` name (set by `registry.register_reader`).
        splits: the split names it accepts (empty: any).
        aligned_frames_name: what its pre-aligned faces (`VideoItem.aligned_dir`) are called in
            records, e.g. the flag or folder they come from.
        aligned_frames_realignable: True when those faces are a provider's crops that prepare
            re-aligns to the project's template under ``--cropped_aligned_geometry=realign``.
    """

    name = ""
    splits: tuple = ()
    aligned_frames_name = "aligned frames"
    aligned_frames_realignable = False

    def __init__(self, data_root: str, split: str):
        if not os.path.isdir(data_root):
            raise ConfigError(f"--data_root {data_root!r} is not a directory")
        if self.splits and split not in self.splits:
            raise ConfigError(f"--split={split!r} is not a split of {self.name}; "
                              f"expected one of {self.splits}")
        self.data_root = os.path.abspath(data_root)
        self.split = split

    @staticmethod
    def define_flags(flag_values) -> None:
        """Defines the reader's own options on ``flag_values`` (absl flags with their help), named so
        that no other reader's clash (e.g. ``--omg_csv``). ``prepare`` defines every registered
        reader's. None by default."""

    @classmethod
    def from_options(cls, data_root: str, split: str, options: dict) -> "DatasetReader":
        """The reader of ``split`` under ``data_root``.

        Args:
            data_root, split: the dataset folder and split.
            options: ``{flag name: value}`` of every flag `define_flags` defines (their defaults
                where not given).

        Raises:
            ConfigError: an option, the split or the layout cannot work, naming the flag.
        """
        del options
        return cls(data_root, split)

    def recording_id(self, video_id: str) -> str:
        """The source recording an item belongs to (written into its example): items of one recording
        (two persons of a video, utterances cut from one video) stay in one cross-validation fold.
        By default each item is its own recording."""
        return video_id

    def list_items(self) -> List[VideoItem]:
        """Every item of the split, sorted by video_id."""
        raise NotImplementedError

    def load_labels(self, item: VideoItem) -> Labels:
        """Parses the labels of one item.

        Raises:
            ItemError: missing or malformed label file, out-of-range values.
        """
        raise NotImplementedError

    def settings(self) -> dict:
        """Reader options that change the output (recorded in the manifest and fingerprint)."""
        return {}

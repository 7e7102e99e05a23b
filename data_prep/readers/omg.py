"""OMG-Emotion reader (one example per utterance clip, utterance-level labels).

Layout::

    <data_root>/omg_TrainVideos.csv | omg_ValidationVideos.csv | omg_TestVideos_WithLabels.csv
    <clips_dir>/<video>/<utterance>.mp4        (clips_dir defaults to the data root)
    <aligned_dir>/<video>/<utterance stem>/00001.jpg ...   optional pre-aligned faces

CSV columns: ``link,start,end,video,utterance,arousal,valence,EmotionMaxVote`` (``video``,
``utterance``, ``arousal``, ``valence`` and ``link`` are used; columns are taken by name). Arousal is
in [0, 1], valence in [-1, 1]. The ``utterance`` column may or may not carry the ``.mp4`` extension.

An utterance's source recording is the YouTube video of its ``link``: the ``video`` column names a
segment of it (in the real ``omg_TrainVideos.csv`` the segments ``9c3a9bce7_1``, ``_2``, ``_4`` and
``_5`` all come from ``NVJqXbDuqkw``), so cross-validation folds keep the segments of one YouTube
video, and its speaker, on one side. A row without a link falls back to its ``video`` segment.

With ``aligned_dir`` (``prepare --omg_aligned_dir``), the faces are taken from pre-aligned frames
``{i+1:05d}.jpg`` (frame i of the clip; a missing file is a frame without a face) instead of face
detection, as for Aff-Wild2's cropped_aligned; the clip is still read for its frame count and fps.
OMG-Emotion ships no aligned faces: this is for faces aligned beforehand (``data_prep.synthetic
--format=omg`` writes them from the true landmarks).
"""

import csv
import math
import os
import urllib.parse
from typing import Dict, List, Optional

from absl import flags

from data_prep.readers.base import DatasetReader, Labels, VideoItem, relative_source
from data_prep.readers.registry import register_reader
from mimamo_tf.config import ConfigError
from mimamo_tf.errors import ItemError

DEFAULT_CSV_NAMES = {
    "train": ("omg_TrainVideos.csv",),
    "validation": ("omg_ValidationVideos.csv",),
    "test": ("omg_TestVideos_WithLabels.csv", "omg_TestVideos.csv"),
}
REQUIRED_COLUMNS = ("video", "utterance", "arousal", "valence")
AROUSAL_RANGE = (0.0, 1.0)
VALENCE_RANGE = (-1.0, 1.0)


def youtube_id(link: str) -> str:
    """The video id of a YouTube link (``https://youtu.be/ID``, ``https://www.youtube.com/watch?v=ID``,
    ``.../embed/ID``); the link itself, stripped, when it is none of those; "" for no link."""
    link = (link or "").strip()
    parsed = urllib.parse.urlparse(link)
    query = urllib.parse.parse_qs(parsed.query).get("v")
    if query:
        return query[0]
    segments = [segment for segment in parsed.path.split("/") if segment]
    if parsed.netloc and segments:
        return segments[-1]
    return link


def _utterance_id(video: str, utterance: str) -> str:
    """An utterance's video id: ``<video>/<utterance without extension>``."""
    return f"{video}/{os.path.splitext(utterance)[0]}"


def _label(text: str, name: str, value_range, where: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ItemError(f"{where}: {name} is not a number: {text!r}") from None
    if not math.isfinite(value) or not value_range[0] <= value <= value_range[1]:
        raise ItemError(f"{where}: {name} {value} outside [{value_range[0]}, {value_range[1]}]")
    return value


@register_reader("omg")
class OmgReader(DatasetReader):
    """OMG-Emotion: utterance clips listed in a CSV, one label per utterance."""

    splits = tuple(DEFAULT_CSV_NAMES)
    # Faces aligned beforehand with an unknown template: used as they are (never re-aligned), and
    # recorded as a provider's crop.
    aligned_frames_name = "omg_aligned_dir"

    def __init__(self, data_root: str, split: str, csv_path: Optional[str] = None,
                 clips_dir: Optional[str] = None, aligned_dir: Optional[str] = None):
        """Finds the split's CSV and checks its columns.

        Args:
            data_root: dataset folder (holds the CSVs).
            split: train, validation or test.
            csv_path: the split's CSV (default: its standard name in `data_root`).
            clips_dir: folder of ``<video>/<utterance>.mp4`` (default: `data_root`).
            aligned_dir: optional folder of ``<video>/<utterance stem>/{i+1:05d}.jpg`` faces; a
                relative path is taken relative to the current directory.

        Raises:
            ConfigError: no CSV, a CSV without the label columns, or `aligned_dir` is not
                a folder.
        """
        super().__init__(data_root, split)
        self._links = None  # video id -> YouTube id, read on first use (recording_id)
        if csv_path:
            self.csv_path = os.path.abspath(csv_path)
        else:
            candidates = [os.path.join(self.data_root, n) for n in DEFAULT_CSV_NAMES[split]]
            existing = [c for c in candidates if os.path.isfile(c)]
            if not existing:
                raise ConfigError(f"OMG: none of {candidates} exists (or pass --omg_csv)")
            self.csv_path = existing[0]
        if not os.path.isfile(self.csv_path):
            raise ConfigError(f"OMG: --omg_csv {self.csv_path} does not exist")
        self.clips_dir = os.path.abspath(clips_dir) if clips_dir else self.data_root
        self.aligned_dir = os.path.abspath(aligned_dir) if aligned_dir else None
        if self.aligned_dir is not None and not os.path.isdir(self.aligned_dir):
            raise ConfigError(f"OMG: --omg_aligned_dir {self.aligned_dir} is not a directory")
        with open(self.csv_path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
        missing = [c for c in REQUIRED_COLUMNS if c not in [h.strip() for h in header]]
        if missing:
            raise ConfigError(f"{self.csv_path}: missing CSV columns {missing}; header is {header}")

    @staticmethod
    def define_flags(flag_values) -> None:
        flags.DEFINE_string("omg_csv", "", "OMG: CSV file (default: the split's standard name).",
                            flag_values=flag_values)
        flags.DEFINE_string("omg_clips_dir", "", "OMG: folder of <video>/<utterance>.mp4 (default: data_root).",
                            flag_values=flag_values)
        flags.DEFINE_string("omg_aligned_dir", None, "OMG: folder of pre-aligned faces <video>/<utterance "
                            "stem>/00001.jpg (missing file: no face in that frame), used instead of face "
                            "detection; relative to the current directory. Default: detect faces in the clips.",
                            flag_values=flag_values)

    @classmethod
    def from_options(cls, data_root: str, split: str, options: dict) -> "OmgReader":
        return cls(data_root, split, csv_path=options["omg_csv"] or None, clips_dir=options["omg_clips_dir"] or None,
                   aligned_dir=options["omg_aligned_dir"] or None)

    def recording_id(self, video_id: str) -> str:
        """The YouTube video (``youtube_id`` of the row's ``link``) an utterance ``<video>/<utterance>``
        was cut from; ``<video>`` when its row has no link."""
        if self._links is None:
            self._links = self._read_links()
        return self._links.get(video_id) or video_id.split("/", 1)[0]

    def _read_links(self) -> Dict[str, str]:
        # Read on first use (also in a worker process, which gets the reader without its listing).
        links = {}
        for _, video, utterance, row in self._rows():
            links.setdefault(_utterance_id(video, utterance), youtube_id(row.get("link")))
        return links

    def _rows(self):
        """``(line number, video, utterance, row)`` of every row of the CSV, the two names stripped."""
        with open(self.csv_path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            reader.fieldnames = [f.strip() for f in reader.fieldnames]
            for line_number, row in enumerate(reader, start=2):
                yield line_number, (row.get("video") or "").strip(), (row.get("utterance") or "").strip(), row

    def list_items(self) -> List[VideoItem]:
        items = {}
        for line_number, video, utterance, row in self._rows():
            where = f"{self.csv_path}:{line_number}"
            if not video or not utterance:
                items[f"<row {line_number}>"] = VideoItem(
                    video_id=f"<row {line_number}>", dataset=self.name, split=self.split,
                    source=where, listing_error=f"{where}: empty video or utterance")
                continue
            file_name = utterance if os.path.splitext(utterance)[1] else utterance + ".mp4"
            video_id = _utterance_id(video, utterance)
            clip_path = os.path.join(self.clips_dir, video, file_name)
            error = None
            arousal = valence = float("nan")
            try:
                arousal = _label(row.get("arousal"), "arousal", AROUSAL_RANGE, where)
                valence = _label(row.get("valence"), "valence", VALENCE_RANGE, where)
            except ItemError as bad:
                error = str(bad)
            aligned = None
            if self.aligned_dir is not None:
                aligned = os.path.join(self.aligned_dir, video, os.path.splitext(utterance)[0])
                # A missing folder costs this utterance, not the run (an empty one is an
                # utterance without a face in any frame).
                if error is None and not os.path.isdir(aligned):
                    error = f"{where}: no aligned faces folder {aligned}"
            if video_id in items:
                error = f"{where}: duplicate utterance {video_id}"
                video_id = f"{video_id}#row{line_number}"
            items[video_id] = VideoItem(
                video_id=video_id, dataset=self.name, split=self.split,
                source=relative_source(clip_path, self.data_root), video_path=clip_path,
                aligned_dir=aligned, label_paths=(where,), label_level="video",
                video_arousal=arousal, video_valence=valence, listing_error=error)
        # The annotation file's own order: the official scorer pairs predictions with it row by row,
        # and evaluate writes predictions.csv in the order of the shards, which is this one.
        return list(items.values())

    def load_labels(self, item: VideoItem) -> Labels:
        return Labels.video_level(item.video_arousal, item.video_valence, path=item.label_paths[0])

    def settings(self) -> dict:
        settings = {"omg_csv": self.csv_path, "omg_clips_dir": self.clips_dir}
        # Only when set: outputs prepared without it keep their fingerprint (and stay resumable).
        if self.aligned_dir is not None:
            settings["omg_aligned_dir"] = self.aligned_dir
        return settings

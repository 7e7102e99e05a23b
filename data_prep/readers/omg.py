"""OMG-Emotion reader (one example per utterance clip, utterance-level labels).

Layout::

    <data_root>/omg_TrainVideos.csv | omg_ValidationVideos.csv | omg_TestVideos_WithLabels.csv
    <clips_dir>/<video>/<utterance>.mp4        (clips_dir defaults to the data root)

CSV columns: ``link,start,end,video,utterance,arousal,valence,EmotionMaxVote`` (only ``video``,
``utterance``, ``arousal`` and ``valence`` are used; columns are taken by name). Arousal is in
[0, 1], valence in [-1, 1]. The ``utterance`` column may or may not carry the ``.mp4`` extension.
"""

import csv
import math
import os
from typing import List, Optional

from data_prep.readers.base import (ConfigurationError, DatasetReader, InputError, Labels,
                                    VideoItem, relative_source)

DEFAULT_CSV_NAMES = {
    "train": ("omg_TrainVideos.csv",),
    "validation": ("omg_ValidationVideos.csv",),
    "test": ("omg_TestVideos_WithLabels.csv", "omg_TestVideos.csv"),
}
REQUIRED_COLUMNS = ("video", "utterance", "arousal", "valence")
AROUSAL_RANGE = (0.0, 1.0)
VALENCE_RANGE = (-1.0, 1.0)


def _label(text: str, name: str, value_range, where: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {name} is not a number: {text!r}") from None
    if not math.isfinite(value) or not value_range[0] <= value <= value_range[1]:
        raise InputError(f"{where}: {name} {value} outside [{value_range[0]}, {value_range[1]}]")
    return value


class OmgReader(DatasetReader):
    """Reads the OMG-Emotion utterance CSV of one split."""

    name = "omg"
    splits = tuple(DEFAULT_CSV_NAMES)

    def __init__(self, data_root: str, split: str, csv_path: Optional[str] = None,
                 clips_dir: Optional[str] = None):
        super().__init__(data_root, split)
        if csv_path:
            self.csv_path = os.path.abspath(csv_path)
        else:
            candidates = [os.path.join(self.data_root, n) for n in DEFAULT_CSV_NAMES[split]]
            existing = [c for c in candidates if os.path.isfile(c)]
            if not existing:
                raise ConfigurationError(f"OMG: none of {candidates} exists (or pass --omg_csv)")
            self.csv_path = existing[0]
        if not os.path.isfile(self.csv_path):
            raise ConfigurationError(f"OMG: --omg_csv {self.csv_path} does not exist")
        self.clips_dir = os.path.abspath(clips_dir) if clips_dir else self.data_root
        with open(self.csv_path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
        missing = [c for c in REQUIRED_COLUMNS if c not in [h.strip() for h in header]]
        if missing:
            raise ConfigurationError(f"{self.csv_path}: missing CSV columns {missing}; header is {header}")

    def list_items(self) -> List[VideoItem]:
        items = {}
        with open(self.csv_path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            reader.fieldnames = [f.strip() for f in reader.fieldnames]
            for line_number, row in enumerate(reader, start=2):
                where = f"{self.csv_path}:{line_number}"
                video = (row.get("video") or "").strip()
                utterance = (row.get("utterance") or "").strip()
                if not video or not utterance:
                    items[f"<row {line_number}>"] = VideoItem(
                        video_id=f"<row {line_number}>", dataset=self.name, split=self.split,
                        source=where, listing_error=f"{where}: empty video or utterance")
                    continue
                file_name = utterance if os.path.splitext(utterance)[1] else utterance + ".mp4"
                video_id = f"{video}/{os.path.splitext(utterance)[0]}"
                clip_path = os.path.join(self.clips_dir, video, file_name)
                error = None
                arousal = valence = float("nan")
                try:
                    arousal = _label(row.get("arousal"), "arousal", AROUSAL_RANGE, where)
                    valence = _label(row.get("valence"), "valence", VALENCE_RANGE, where)
                except InputError as bad:
                    error = str(bad)
                if video_id in items:
                    error = f"{where}: duplicate utterance {video_id}"
                    video_id = f"{video_id}#row{line_number}"
                items[video_id] = VideoItem(
                    video_id=video_id, dataset=self.name, split=self.split,
                    source=relative_source(clip_path, self.data_root), video_path=clip_path,
                    label_paths=(where,), label_level="video", video_arousal=arousal,
                    video_valence=valence, listing_error=error)
        return [items[key] for key in sorted(items)]

    def load_labels(self, item: VideoItem) -> Labels:
        return Labels.video_level(item.video_arousal, item.video_valence, path=item.label_paths[0])

    def settings(self) -> dict:
        return {"omg_csv": self.csv_path, "omg_clips_dir": self.clips_dir}

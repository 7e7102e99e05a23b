"""Continuous annotations at their own rate (what DARMA, CARMA or ELAN export), resampled to frames.

A label file is a CSV with a header naming its columns: ``time_s,valence,arousal`` (a time stamp in
seconds) or ``frame,valence,arousal`` (a frame number of the video, from 0), in any order, then one
line per sample at any rate, times strictly increasing. Values are on ``label_range`` (default
[-1, 1]; e.g. ``-1000,1000`` or ``1,9`` scales are mapped linearly onto [-1, 1]).

Each video frame ``t`` (at ``t / fps`` seconds) takes the linear interpolation of the two samples
around it. A frame before the first sample or after the last, or between two samples further apart
than ``max_gap_seconds`` (a pause of the annotator, a lost connection), has no label
(``label_valid=0``).
"""

from typing import Tuple

import numpy as np

from data_prep.readers import files
from data_prep.readers.base import InputError, Labels, numeric_rows

POSITION_COLUMNS = {"time_s": "seconds", "frame": "frames"}
VALUE_COLUMNS = ("valence", "arousal")
DEFAULT_MAX_GAP_SECONDS = 1.0
DEFAULT_LABEL_RANGE = (-1.0, 1.0)


def parse_label_range(text) -> Tuple[float, float]:
    """``"LOW,HIGH"`` (or a pair) -> ``(low, high)``; ``ValueError`` naming ``--label_range`` otherwise."""
    try:
        low, high = (float(v) for v in (text.split(",") if isinstance(text, str) else text))
    except (TypeError, ValueError):
        raise ValueError(f"--label_range={text!r}: expected LOW,HIGH (e.g. -1,1 or 1,9 or -1000,1000)") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"--label_range={text!r}: expected two finite numbers LOW < HIGH")
    return low, high


def read_timed_label_file(path: str, label_range=DEFAULT_LABEL_RANGE,
                          max_gap_seconds: float = DEFAULT_MAX_GAP_SECONDS) -> Labels:
    """Parses a time-stamped (or frame-numbered) valence/arousal file.

    Returns:
        ``Labels`` of level ``"timed"``: ``positions`` (seconds or frames, ``position_unit``), the
        values mapped onto [-1, 1], ``max_gap_seconds``; resampled to the video by ``resample``.

    Raises:
        InputError: a bad header, line, order of times, or a value outside ``label_range``, naming
            the file and line.
    """
    low, high = label_range
    lines = files.read_label_lines(path)
    if not lines:
        raise InputError(f"{path}: label file is empty")
    header = [column.strip().lower() for column in lines[0].split(",")]
    positions = [c for c in header if c in POSITION_COLUMNS]
    if len(header) != 3 or len(positions) != 1 or sorted(c for c in header if c not in POSITION_COLUMNS) != sorted(VALUE_COLUMNS):
        raise InputError(f"{path}:1: expected the header time_s,valence,arousal or frame,valence,arousal (any "
                         f"order), got {lines[0]!r}")
    position_column = header.index(positions[0])
    valence_column, arousal_column = header.index("valence"), header.index("arousal")
    samples = []
    for number, values in numeric_rows(lines, path, 3):
        position = values[position_column]
        if samples and position <= samples[-1][0]:
            raise InputError(f"{path}:{number}: {positions[0]} {position:g} does not come after the previous "
                             f"line's {samples[-1][0]:g}")
        mapped = []
        for name, column in (("valence", valence_column), ("arousal", arousal_column)):
            value = values[column]
            if not low <= value <= high:
                raise InputError(f"{path}:{number}: {name} {value:g} outside the label range [{low:g}, {high:g}] "
                                 "(--label_range)")
            mapped.append(2.0 * (value - low) / (high - low) - 1.0)
        samples.append((position, *mapped))
    if not samples:
        raise InputError(f"{path}: no label lines after the header")
    array = np.asarray(samples, np.float64)
    return Labels(arousal=array[:, 2].astype(np.float32), valence=array[:, 1].astype(np.float32),
                  valid=np.ones(len(array), np.uint8), level="timed", path=path, positions=array[:, 0],
                  position_unit=POSITION_COLUMNS[positions[0]], max_gap_seconds=float(max_gap_seconds))


def resample(labels: Labels, num_frames: int, fps: float):
    """Per-frame ``(arousal, valence, label_valid)`` of a ``"timed"`` ``Labels`` for a video of
    ``num_frames`` frames at ``fps``: linear interpolation at each frame's time, invalid outside
    the annotated span and inside gaps longer than ``labels.max_gap_seconds``."""
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

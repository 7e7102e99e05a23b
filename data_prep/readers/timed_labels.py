"""Continuous annotations at their own rate (what DARMA, CARMA or ELAN export), resampled to frames.

A label file is a CSV with a header naming its columns: ``time_s,valence,arousal`` (a time stamp in
seconds) or ``frame,valence,arousal`` (a frame number of the video, from 0), in any order, then one
line per sample at any rate, times strictly increasing. Values are on ``label_range`` (default
[-1, 1]; e.g. ``-1000,1000`` or ``1,9`` scales are mapped linearly onto [-1, 1]).

The labels are read here as ``Labels`` of level ``"timed"``; `base.reconcile` resamples them to the
video's frames (`base.resample`: linear interpolation, no label outside the annotated span or across
a gap longer than ``max_gap_seconds``).
"""

from typing import Tuple

import numpy as np

from data_prep.readers import files
from data_prep.readers.base import Labels, numeric_rows
from mimamo_tf.config import ConfigError
from mimamo_tf.errors import ItemError

POSITION_COLUMNS = {"time_s": "seconds", "frame": "frames"}
VALUE_COLUMNS = ("valence", "arousal")
DEFAULT_MAX_GAP_SECONDS = 1.0
DEFAULT_LABEL_RANGE = (-1.0, 1.0)


def parse_label_range(text) -> Tuple[float, float]:
    """``"LOW,HIGH"`` (or a pair) -> ``(low, high)``; ``ConfigError`` naming ``--label_range`` otherwise."""
    try:
        low, high = (float(v) for v in (text.split(",") if isinstance(text, str) else text))
    except (TypeError, ValueError):
        raise ConfigError(f"--label_range={text!r}: expected LOW,HIGH (e.g. -1,1 or 1,9 or -1000,1000)") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ConfigError(f"--label_range={text!r}: expected two finite numbers LOW < HIGH")
    return low, high


def read_timed_label_file(path: str, label_range=DEFAULT_LABEL_RANGE,
                          max_gap_seconds: float = DEFAULT_MAX_GAP_SECONDS) -> Labels:
    """Parses a time-stamped (or frame-numbered) valence/arousal file.

    Returns:
        ``Labels`` of level ``"timed"``: ``positions`` (seconds or frames, ``position_unit``), the
        values mapped onto [-1, 1], ``max_gap_seconds``; resampled to the video by ``base.resample``.

    Raises:
        ItemError: a bad header, line, order of times, or a value outside ``label_range``, naming
            the file and line.
    """
    low, high = label_range
    lines = files.read_label_lines(path)
    if not lines:
        raise ItemError(f"{path}: label file is empty")
    header = [column.strip().lower() for column in lines[0].split(",")]
    positions = [c for c in header if c in POSITION_COLUMNS]
    if len(header) != 3 or len(positions) != 1 or sorted(c for c in header if c not in POSITION_COLUMNS) != sorted(VALUE_COLUMNS):
        raise ItemError(f"{path}:1: expected the header time_s,valence,arousal or frame,valence,arousal (any "
                        f"order), got {lines[0]!r}")
    position_column = header.index(positions[0])
    valence_column, arousal_column = header.index("valence"), header.index("arousal")
    samples = []
    for number, values in numeric_rows(lines, path, 3):
        position = values[position_column]
        if samples and position <= samples[-1][0]:
            raise ItemError(f"{path}:{number}: {positions[0]} {position:g} does not come after the previous "
                            f"line's {samples[-1][0]:g}")
        mapped = []
        for name, column in (("valence", valence_column), ("arousal", arousal_column)):
            value = values[column]
            if not low <= value <= high:
                raise ItemError(f"{path}:{number}: {name} {value:g} outside the label range [{low:g}, {high:g}] "
                                "(--label_range)")
            mapped.append(2.0 * (value - low) / (high - low) - 1.0)
        samples.append((position, *mapped))
    if not samples:
        raise ItemError(f"{path}: no label lines after the header")
    array = np.asarray(samples, np.float64)
    return Labels(arousal=array[:, 2].astype(np.float32), valence=array[:, 1].astype(np.float32),
                  valid=np.ones(len(array), np.uint8), level="timed", path=path, positions=array[:, 0],
                  position_unit=POSITION_COLUMNS[positions[0]], max_gap_seconds=float(max_gap_seconds))

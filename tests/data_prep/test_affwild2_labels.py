"""Aff-Wild2 VA label files: a frame is valid only when both values are real labels; ``-5`` in
either column marks it invalid (the ABAW convention)."""

import numpy as np
import pytest

from data_prep.readers.affwild2 import AffWild2Reader, read_va_file

# (valence, arousal) per frame, and whether the frame carries a label.
FRAMES = [
    ((0.1, 0.2), True),
    ((-5.0, 0.3), False),   # valence invalid, arousal a plausible value
    ((0.3, -5.0), False),   # arousal invalid
    ((-5.0, -5.0), False),  # both invalid
    ((-0.4, 0.9), True),
    ((1.0, -1.0), True),    # the range's ends are labels
]


def _write(path, header="valence,arousal", frames=FRAMES, order=(0, 1)):
    lines = [header] + [",".join(repr(values[i]) for i in order) for values, _ in frames]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _expected(frames=FRAMES):
    valid = np.array([ok for _, ok in frames], np.uint8)
    valence = np.array([v if ok else 0.0 for (v, _), ok in frames], np.float32)
    arousal = np.array([a if ok else 0.0 for (_, a), ok in frames], np.float32)
    return valid, valence, arousal


@pytest.mark.parametrize("header, order", [("valence,arousal", (0, 1)), ("arousal,valence", (1, 0))])
def test_one_invalid_value_makes_the_frame_invalid(tmp_path, header, order):
    labels = read_va_file(_write(tmp_path / "video1.txt", header, order=order))
    valid, valence, arousal = _expected()
    np.testing.assert_array_equal(labels.valid, valid)
    np.testing.assert_array_equal(labels.valence, valence)  # invalid frames hold 0, not -5 or 0.3
    np.testing.assert_array_equal(labels.arousal, arousal)
    assert labels.level == "frame"


def test_the_reader_gives_the_same_validity(tmp_path):
    """Through the reader's own item listing and label loading (an ABAW layout on disk)."""
    annotations = tmp_path / "VA_Set" / "Train_Set"
    annotations.mkdir(parents=True)
    _write(annotations / "video7.txt")
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "video7.mp4").write_bytes(b"")  # listed only, never decoded here
    reader = AffWild2Reader(str(tmp_path), "train")
    (item,) = reader.list_items()
    labels = reader.load_labels(item)
    valid, _, _ = _expected()
    np.testing.assert_array_equal(labels.valid, valid)
    assert labels.valid[1] == 0 and labels.valid[2] == 0


"""Annotations at their own rate (data_prep.readers.timed_labels): resampled to the video's frames
against an oracle interpolation written from the definition, gaps and the annotated span, the label
scale, and bad files named by file and line."""

import numpy as np
import pytest

from data_prep.readers.base import reconcile
from data_prep.readers.registry import make_reader
from data_prep.readers.timed_labels import read_timed_label_file
from mimamo_tf.config import ConfigError
from mimamo_tf.errors import ItemError


def _write(path, header, rows):
    path.write_text(header + "\n" + "".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in rows))
    return str(path)


def _oracle(times, values, frame_times, max_gap):
    """Linear interpolation between the two samples around each frame time, from the definition."""
    out, valid = np.zeros(len(frame_times)), np.zeros(len(frame_times), bool)
    for k, t in enumerate(frame_times):
        for i in range(len(times)):
            if times[i] == t:
                out[k], valid[k] = values[i], True
                break
            if i + 1 < len(times) and times[i] < t < times[i + 1]:
                if times[i + 1] - times[i] <= max_gap:
                    w = (t - times[i]) / (times[i + 1] - times[i])
                    out[k], valid[k] = (1 - w) * values[i] + w * values[i + 1], True
                break
    return out, valid


@pytest.mark.parametrize("rate", [10.0, 50.0])
def test_annotations_at_10_and_50_hz_resample_onto_30_fps_frames(tmp_path, rate):
    rng = np.random.default_rng(int(rate))
    times = np.arange(0.2, 3.0, 1.0 / rate)  # starts after frame 0 and ends before the video does
    valence, arousal = rng.uniform(-1, 1, len(times)), rng.uniform(-1, 1, len(times))
    path = _write(tmp_path / "v.csv", "time_s,valence,arousal", zip(times, valence, arousal))
    labels = read_timed_label_file(path, max_gap_seconds=1.0)
    fps, frames = 30.0, 100
    got_arousal, got_valence, got_valid = reconcile(labels, frames, fps=fps)
    frame_times = np.arange(frames) / fps
    for got, values in ((got_arousal, arousal), (got_valence, valence)):
        expected, valid = _oracle(np.round(times, 6), np.round(values, 6), frame_times, 1.0)
        np.testing.assert_array_equal(got_valid > 0, valid)
        np.testing.assert_allclose(got[valid], expected[valid], atol=1e-6)
    # Outside the annotated span (0.2 s to its last sample) there is no label.
    span = (frame_times >= 0.2 - 1e-9) & (frame_times <= np.round(times[-1], 6) + 1e-9)
    np.testing.assert_array_equal(got_valid > 0, span)


def test_gaps_frame_numbers_and_label_scale(tmp_path):
    # 10 Hz with a pause from 1.0 s to 2.5 s: no label inside it with a 1 s limit, labels with 2 s.
    times = np.concatenate([np.arange(0.0, 1.05, 0.1), np.arange(2.5, 3.05, 0.1)])
    values = np.linspace(1, 9, len(times))  # a 1-9 scale
    path = _write(tmp_path / "g.csv", "arousal,time_s,valence", zip(values, times, values))
    for max_gap, inside_gap_valid in ((1.0, False), (2.0, True)):
        arousal, valence, valid = reconcile(read_timed_label_file(path, (1.0, 9.0), max_gap), 91, fps=30.0)
        gap = (np.arange(91) / 30.0 > 1.0 + 1e-9) & (np.arange(91) / 30.0 < 2.5 - 1e-9)
        np.testing.assert_array_equal(valid[gap] > 0, inside_gap_valid)
        assert valid[~gap].all()
    assert arousal[0] == pytest.approx(-1.0) and arousal[90] == pytest.approx(1.0)  # 1 -> -1, 9 -> 1
    # Frame numbers instead of times: every 3rd frame of a 25 fps video.
    frames = np.arange(0, 30, 3)
    path = _write(tmp_path / "f.csv", "frame,valence,arousal", zip(frames, frames / 30.0, -frames / 30.0))
    arousal, valence, valid = reconcile(read_timed_label_file(path), 28, fps=25.0)
    np.testing.assert_allclose(valence, np.arange(28) / 30.0, atol=1e-6)  # linear in the frame number
    assert valid.all()


@pytest.mark.parametrize("text, message", [
    ("time,valence,arousal\n0,0,0\n", ":1: expected the header time_s,valence,arousal"),
    ("time_s,valence,arousal\n0,0,0\n0.1,1.5,0\n", ":3: valence 1.5 outside the label range [-1, 1]"),
    ("time_s,valence,arousal\n0,0,0\n0.1,x,0\n", ":3: expected a number"),
    ("time_s,valence,arousal\n0.2,0,0\n0.1,0,0\n", ":3: time_s 0.1 does not come after"),
    ("time_s,valence,arousal\n0,0\n", ":2: expected 3 comma-separated values"),
])
def test_a_bad_label_file_is_named_with_its_line(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ItemError, match=str(path).replace(".", r"\.") + message.replace("[", r"\[").replace(".", r"\.")):
        read_timed_label_file(str(path))


def test_the_folder_reader_pairs_each_video_with_its_annotation(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"")
    (tmp_path / "b.mp4").write_bytes(b"")
    _write(tmp_path / "a.csv", "time_s,valence,arousal", [(0.0, 0.1, 0.2), (0.1, 0.3, 0.4)])
    reader = make_reader("folder", str(tmp_path), "all", label_range="-1000,1000", max_label_gap_seconds=0.5)
    items = {item.video_id: item for item in reader.list_items()}
    assert items["a"].label_level == "frame" and items["a"].label_paths == (str(tmp_path / "a.csv"),)
    assert items["b"].label_level == "none" and reader.load_labels(items["b"]).level == "none"
    labels = reader.load_labels(items["a"])
    np.testing.assert_allclose(labels.valence, [0.1 / 1000, 0.3 / 1000], atol=1e-9)  # the -1000..1000 scale
    assert reader.settings() == {"max_label_gap_seconds": 0.5, "label_range": [-1000.0, 1000.0]}
    for options, message in (({"label_range": "1"}, "--label_range"), ({"label_range": "9,1"}, "--label_range"),
                             ({"max_label_gap_seconds": 0}, "--max_label_gap_seconds")):
        with pytest.raises(ConfigError, match=message):
            make_reader("folder", str(tmp_path), "all", **options)

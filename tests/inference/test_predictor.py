"""python -m mimamo_tf.predict and the Predictor API, against the exported model applied to faces
found and aligned in memory (an independent assembly of evaluate-style windows)."""

import csv
import json
import re
import shutil
import subprocess
import sys
import warnings

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from skimage import data

from mimamo_tf import faces, runs, video, window_plan
from mimamo_tf.data.label_scale import LabelScale
from mimamo_tf.errors import InputError
from mimamo_tf.inference import Predictor, load_runner
from mimamo_tf.inference.batch_prediction import find_videos
from mimamo_tf.inference.predictor import FaceGeometryWarning
from mimamo_tf.inference.windows import WindowStream
from mimamo_tf.serving import export_run
from mimamo_tf.testing.window_reference import frame_windows, model_on_windows, nearest_face_by_definition

NO_FACE = slice(12, 18)


def _face_video(path, frames=30):
    """A real face drifting over a 320x240 frame, with frames 12-17 a plain wall (no face)."""
    photo = cv2.resize(data.astronaut(), (320, 320), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(3)
    shifts = np.cumsum(rng.normal(0, 1.0, (frames, 2)), axis=0)
    out = []
    for t, (dx, dy) in enumerate(shifts):
        moved = cv2.warpAffine(photo, np.float32([[1, 0, dx], [0, 1, dy]]), (320, 320), borderMode=cv2.BORDER_REFLECT)
        frame = moved[20:260]
        if NO_FACE.start <= t < NO_FACE.stop:
            frame = np.full_like(frame, 128)
        out.append(frame)
    video.write_video(path, out, fps=25.0)
    return path


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("overlap", [0.0, 0.5])
def test_window_stream_gives_evaluate_windows_with_bounded_memory(overlap):
    """Every window equals the clamped, face-filled window built from the whole video at once, in
    order, each once, and says which frames it predicts (the window with the nearest centre,
    window_reference); at most window + 2 * context + stride faces are held — also across a no-face
    gap longer than several windows — and a window is emitted as soon as its last face arrives."""
    rng = np.random.default_rng(0)
    face_found = (rng.random(400) > 0.2).astype(int)
    face_found[100:260] = 0  # a long gap: its second half waits for the face at 260
    face_found[:3] = 0
    window, context = 16, 6
    stride = window_plan.overlap_stride(window, overlap)
    stream = WindowStream(face_found, window, context, stride)
    frames = np.arange(400)[:, None] * np.ones((1, 3))  # a "face" that says which frame it is
    emitted_at = {}
    got = []
    for t in range(400):
        for item in stream.add(t, frames[t]):
            emitted_at[item.start] = t
            got.append(item)
    source = nearest_face_by_definition(face_found)
    starts, owner = frame_windows(400, window, overlap)
    assert [item.start for item in got] == list(starts)
    for item in got:
        needed = source[np.clip(np.arange(item.start - context, item.start + window + context), 0, 399)]
        np.testing.assert_array_equal(item.faces[:, 0], needed)
        assert emitted_at[item.start] == needed.max()  # as soon as the last face it needs is there
        np.testing.assert_array_equal(np.flatnonzero(owner == item.start), np.arange(item.first, item.end))
    assert stream.peak <= window + 2 * context + stride


@pytest.fixture(scope="module")
def predicted(exported_run, tmp_path_factory):
    _, export_dir, _ = exported_run
    root = tmp_path_factory.mktemp("predict")
    videos = root / "videos"
    videos.mkdir()
    _face_video(str(videos / "face.mp4"))
    (videos / "broken.mp4").write_bytes(b"not a video at all" * 100)
    out = root / "out"
    result = subprocess.run([sys.executable, "-m", "mimamo_tf.predict", f"--model={export_dir}",
                             f"--input={videos}", f"--output_dir={out}", "--overlay"],
                            capture_output=True, text=True, timeout=300)
    return export_dir, videos / "face.mp4", out, result


@pytest.mark.slow
def test_predict_csv_equals_the_model_on_faces_aligned_in_memory(predicted):
    export_dir, clip, out, result = predicted
    # The broken file is reported and skipped; the exit code says something failed.
    assert result.returncode == 1, result.stderr[-3000:]
    assert "1 of 2 video(s) done, 1 failed" in result.stdout and "broken.mp4" in result.stdout
    rows = _rows(out / "face.csv")
    assert list(rows[0]) == ["frame", "time_s", "face_id", "face_found", "face_x", "face_y", "face_w", "face_h",
                             "arousal", "valence"]
    # The oracle: the whole video aligned in memory, windows cut like evaluate, the SavedModel.
    aligned = faces.process_video(str(clip))
    found = aligned.face_found.astype(int)
    assert len(rows) == len(found) == 30 and found[NO_FACE].sum() == 0 and found.sum() >= 20
    signature = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    # Windows overlapping by half (predict's default), each frame from the window with the nearest
    # centre; configs/smoke.cfg's window 8 and context 6 (snippet_length / 2).
    expected = model_on_windows(signature, aligned.rgb224, found, window=8, context=6, overlap=0.5)
    # predict clips to the label scale ([-1, 1] here); the smoke model's outputs may pass it.
    expected = np.clip(expected, -1.0, 1.0)
    boxes = aligned.track.boxes
    for t, row in enumerate(rows):
        assert int(row["frame"]) == t and float(row["time_s"]) == pytest.approx(t / 25.0, abs=1e-4)
        assert int(row["face_found"]) == found[t]
        if found[t]:
            assert float(row["arousal"]) == pytest.approx(expected[t, 0], abs=2e-5)
            assert float(row["valence"]) == pytest.approx(expected[t, 1], abs=2e-5)
            x1, y1, x2, y2 = boxes[t]
            np.testing.assert_allclose([float(row[k]) for k in ("face_x", "face_y", "face_w", "face_h")],
                                       [x1, y1, x2 - x1, y2 - y1], atol=0.06)
        else:
            assert all(row[k] == "" for k in ("face_x", "face_y", "face_w", "face_h", "arousal", "valence"))
    # The plot and the overlay video (same frame count and size as the clip).
    assert (out / "face.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    overlay, original = video.read_frames(out / "face.mp4"), video.read_frames(clip)
    assert overlay.shape == original.shape
    assert np.abs(overlay.astype(int) - original.astype(int)).max() > 100  # something is drawn


@pytest.mark.slow
def test_python_api_fill_missing_and_litert(predicted, exported_run):
    export_dir, clip, out, _ = predicted
    rows = _rows(out / "face.csv")
    result = Predictor.load(str(export_dir)).predict_video(str(clip), fill_missing=True)
    csv_arousal = np.array([float(r["arousal"]) if r["arousal"] else np.nan for r in rows])
    has_face = result.face_found == 1
    np.testing.assert_allclose(result.arousal[has_face], csv_arousal[has_face], atol=2e-6)
    # Filled frames carry the model's predictions on the nearest face's inputs (not NaN).
    assert np.all(np.isfinite(result.arousal)) and np.all(np.isfinite(result.valence))
    assert [r["arousal"] for r in result.rows()][NO_FACE] != [None] * 6
    # The LiteRT file (window 8, batch 1) predicts the same numbers as the SavedModel.
    litert = Predictor.load(str(export_dir / "model.tflite")).predict_video(str(clip), fill_missing=True)
    np.testing.assert_allclose(litert.arousal, result.arousal, atol=1e-4)
    np.testing.assert_allclose(litert.valence, result.valence, atol=1e-4)


@pytest.mark.slow
def test_video_without_a_face_and_bad_models(exported_run, tmp_path):
    _, export_dir, _ = exported_run
    video.write_video(str(tmp_path / "wall.mp4"), [np.full((120, 160, 3), 90, np.uint8)] * 12, 25.0)
    result = subprocess.run([sys.executable, "-m", "mimamo_tf.predict", f"--model={export_dir}",
                             f"--input={tmp_path / 'wall.mp4'}", f"--output_dir={tmp_path / 'out'}"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no face found in any of its 12 frames" in result.stdout
    rows = _rows(tmp_path / "out" / "wall.csv")
    assert len(rows) == 12 and all(r["face_found"] == "0" and r["arousal"] == "" for r in rows)
    # A directory that is not an export, and an input that matches nothing: input errors (exit 2,
    # one line: tests/test_command_line.py), named.
    with pytest.raises(InputError, match=f"--model={tmp_path}: no saved_model.pb"):
        load_runner(str(tmp_path))
    with pytest.raises(InputError, match=r"--input=.*\*\.avi: the pattern matches no file"):
        find_videos(str(tmp_path / "*.avi"))


@pytest.mark.slow
def test_predict_warns_when_the_training_faces_had_another_geometry(exported_run, tmp_path):
    """A card recording the provider's crops (template unknown) or another template warns, naming
    the fix; our template (whatever the source) or no record does not."""
    _, export_dir, _ = exported_run
    copy = tmp_path / "export"
    shutil.copytree(export_dir, copy)
    card = json.loads((copy / "model_card.json").read_text())
    lower_eyes = faces.face_geometry("another template")
    lower_eyes["template"] = [[x, y + 10.0] for x, y in lower_eyes["template"]]
    cases = [(faces.face_geometry("cropped_aligned, provider's crop", template=False), True),
             (lower_eyes, True), (faces.face_geometry("cropped_aligned, realigned"), False), (None, False)]
    for geometry, warns in cases:
        card["face_geometry"] = geometry
        (copy / "model_card.json").write_text(json.dumps(card))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Predictor.load(str(copy))
        messages = [str(w.message) for w in caught if issubclass(w.category, FaceGeometryWarning)]
        assert bool(messages) == warns, (geometry, messages)
        if warns:
            assert "another geometry" in messages[0] and "--cropped_aligned_geometry=realign" in messages[0]


@pytest.mark.slow
def _with_and_without_reuse(runner, faces_rgb, found):
    """``(reused, whole, featurized)``: ``runner``'s predictions on the faces through its two parts
    and through ``serving_default``, and the batch sizes its backbone saw in the first."""
    featurized = []
    frame_features = runner.frame_features
    runner.frame_features = lambda batch: featurized.append(len(batch)) or frame_features(batch)
    reused = Predictor(runner).predict_faces(faces_rgb, found)
    whole = Predictor(runner, reuse_features=False).predict_faces(faces_rgb, found)
    return reused, whole, featurized


@pytest.mark.slow  # the session's export (LiteRT files with three signatures) takes ~30 s to build
def test_overlapping_windows_run_the_backbone_once_per_face_with_the_same_predictions(exported_run):
    """The export's two parts (frame_features, window_from_features) give serving_default's
    predictions, while the backbone sees each face once instead of once per window it is in."""
    _, export_dir, video = exported_run
    runner = load_runner(str(export_dir))
    assert runner.split
    faces_rgb = np.concatenate([video["rgb224"]] * 3)  # 48 frames: several overlapping windows of 8
    found = np.ones(len(faces_rgb), int)
    found[20:23] = 0
    reused, whole, featurized = _with_and_without_reuse(runner, faces_rgb, found)
    np.testing.assert_allclose(reused, whole, atol=1e-5)
    assert sum(featurized) == int(found.sum())  # each face once (a faceless frame takes its neighbour's)
    windows = len(window_plan.window_starts(len(found), runner.window, Predictor(runner).stride))
    assert windows * runner.window >= 1.8 * sum(featurized)  # what serving_default's backbone would see


@pytest.mark.slow  # the session's export
def test_overlapping_windows_run_the_temporal_stream_once_per_frame_with_the_same_predictions(exported_run):
    """The window part in two (frame_motion_features on the stored-format gray faces,
    window_from_frame_features) gives serving_default's predictions, while the temporal stream sees
    each frame once — faceless frames, clamped ends and the last window moved back included —
    instead of once per window it is in."""
    _, export_dir, video = exported_run
    runner = load_runner(str(export_dir))
    assert runner.motion
    faces_rgb = np.concatenate([video["rgb224"]] * 3)[:45]  # windows of 8 every 4; the last one moved back
    found = np.ones(len(faces_rgb), int)
    found[[0, 20, 21, 22, 44]] = 0
    computed = []
    frame_motion_features = runner.frame_motion_features
    runner.frame_motion_features = lambda gray: computed.append(len(gray) - 2 * runner.context) or frame_motion_features(gray)
    predictor = Predictor(runner)
    assert predictor.reuses_motion and predictor.stride < runner.window
    kept = predictor.predict_faces(faces_rgb, found)
    whole = Predictor(runner, reuse_features=False).predict_faces(faces_rgb, found)
    np.testing.assert_allclose(kept, whole, atol=1e-5)
    assert sum(computed) == len(found)  # each frame once
    windows = len(window_plan.window_starts(len(found), runner.window, predictor.stride))
    assert windows * runner.window >= 1.8 * sum(computed)  # what window_from_features would compute


@pytest.fixture(scope="module")
def scaled_export(exported_run, tmp_path_factory):
    """The session's run with its valence output's bias lowered by 3 (so valence leaves [-1, 1]) and
    its training data's manifest saying the labels were annotated on 1..9 (what ``prepare
    --dataset=folder --label_range=1,9`` records), exported again in-process (no LiteRT files):
    ``(export dir, its card)``. No training: the weights are the session run's."""
    model_dir, _, _ = exported_run
    root = tmp_path_factory.mktemp("label_scale")
    data_dir = root / "data"
    shutil.copytree(runs.read_config(model_dir).data.data_dir, data_dir)
    (data_dir / "manifest.json").write_text(json.dumps(
        {"splits": {"train": {"settings": {"dataset": "folder", "label_range": [1.0, 9.0]}}}}))
    run_dir = root / "run"
    shutil.copytree(model_dir, run_dir, ignore=shutil.ignore_patterns("state", "logs"))
    flags_file = run_dir / "flags.cfg"
    flags_file.write_text(re.sub(r"^--data_dir=.*$", f"--data_dir={data_dir}", flags_file.read_text(), flags=re.M))
    best = run_dir / "checkpoints" / "best.keras"
    model = keras.saving.load_model(best, compile=False)
    head = model.get_layer("arousal_valence")
    head.bias.assign(head.bias.numpy() + np.float32([0.0, -3.0]))
    model.save(best)
    return root / "export", export_run(str(run_dir), str(root / "export"))


@pytest.mark.slow
def test_predictions_are_on_the_label_scale_of_the_card_clipped_unless_noclip(scaled_export, predicted, tmp_path):
    """A model whose training labels were annotated on 1..9: predict's values are the SavedModel's
    raw outputs on faces aligned in memory (evaluate-style windows) mapped by 1 + (y + 1) / 2 * 8
    and clipped to [1, 9]; with --noclip (clip=False) not clipped. The CSV, the JSON lines, the
    Python API and every face (faces="all") agree."""
    export_dir, card = scaled_export
    _, clip, _, _ = predicted
    assert card.label_scale == LabelScale(1.0, 9.0)  # the exporter read the manifest
    aligned = faces.process_video(str(clip))
    found = aligned.face_found.astype(bool)
    signature = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    raw = model_on_windows(signature, aligned.rgb224, found.astype(int), window=8, context=6, overlap=0.5)
    assert np.all(raw[found, 1] < -1) and np.all(np.abs(raw[found, 0]) < 1)  # valence leaves [-1, 1], arousal not
    mapped = 1.0 + (raw.astype(np.float64) + 1.0) / 2.0 * 8.0
    tolerance = 2e-5 * 4  # the oracle's tolerance on [-1, 1], times the scale's half span
    # Python: clipped by default, raw with clip=False (faces aligned in memory, then whole videos).
    in_memory = {clipped: Predictor.load(str(export_dir), clip=clipped).predict_faces(aligned.rgb224, found.astype(int))
                 for clipped in (True, False)}
    np.testing.assert_allclose(in_memory[True][found], np.clip(mapped, 1, 9)[found], atol=tolerance)
    np.testing.assert_allclose(in_memory[False][found], mapped[found], atol=tolerance)
    result = Predictor.load(str(export_dir)).predict_video(str(clip))
    assert result.label_scale == LabelScale(1.0, 9.0)
    np.testing.assert_allclose(np.stack([result.arousal, result.valence], 1)[found], np.clip(mapped, 1, 9)[found],
                               atol=tolerance)
    assert np.all(result.valence[found] == 1.0)
    people = Predictor.load(str(export_dir)).predict_video(str(clip), faces="all")
    assert list(people.faces) == [0] and people.label_scale == LabelScale(1.0, 9.0)
    # The same windows; the backbone and the temporal stream see the faces in other batches (float rounding).
    np.testing.assert_allclose(people.faces[0].arousal, result.arousal, atol=tolerance)
    np.testing.assert_array_equal(people.faces[0].valence, result.valence)
    # The command with --noclip: the CSV and the JSON lines, unclipped.
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "mimamo_tf.predict", f"--model={export_dir}", f"--input={clip}",
                          f"--output_dir={out}", "--noclip", f"--jsonl={tmp_path / 'rows.jsonl'}"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "values on [1, 9], not clipped (--noclip)" in run.stdout
    rows = _rows(out / "face.csv")
    got = np.array([[float(r["arousal"]), float(r["valence"])] for r in rows if r["face_found"] == "1"])
    np.testing.assert_allclose(got, mapped[found], atol=tolerance)
    assert np.all(got[:, 1] < 1.0)
    lines = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert [(line["arousal"], line["valence"]) for line in lines] == [
        (float(r["arousal"]) if r["arousal"] else None, float(r["valence"]) if r["valence"] else None) for r in rows]


@pytest.fixture(scope="module")
def rated_export(exported_run, tmp_path_factory):
    """The session's run with its training data's manifest saying every video was resampled to 30
    frames/s (what ``prepare --target_fps=30`` records), exported again in-process (no LiteRT files):
    ``(export dir, its card)``."""
    model_dir, _, _ = exported_run
    root = tmp_path_factory.mktemp("frame_rate")
    data_dir = root / "data"
    shutil.copytree(runs.read_config(model_dir).data.data_dir, data_dir)
    (data_dir / "manifest.json").write_text(json.dumps(
        {"splits": {"train": {"settings": {"dataset": "folder", "target_fps": 30.0}}}}))
    run_dir = root / "run"
    shutil.copytree(model_dir, run_dir, ignore=shutil.ignore_patterns("state", "logs"))
    flags_file = run_dir / "flags.cfg"
    flags_file.write_text(re.sub(r"^--data_dir=.*$", f"--data_dir={data_dir}", flags_file.read_text(), flags=re.M))
    return root / "export", export_run(str(run_dir), str(root / "export"))


@pytest.mark.slow
def test_predict_samples_a_video_at_the_frame_rate_of_the_card(rated_export, predicted):
    """A model trained on videos resampled to 30 frames/s, on a 25 fps video: predict runs it on the
    faces of the frames nearest each 1/30 s tick (a snippet spans the time it spanned in training),
    and every one of the video's frames takes the prediction of the tick nearest in time. Oracle:
    the ticks found by comparing times, the SavedModel on evaluate-style windows of those faces."""
    export_dir, card = rated_export
    _, clip, _, _ = predicted
    assert card.frame_rate == 30.0
    assert json.loads((export_dir / "model_card.json").read_text())["inputs"]["faces"]["frame_rate"] == 30.0
    aligned = faces.process_video(str(clip))
    found = aligned.face_found.astype(int)
    source_times = np.arange(len(found)) / 25.0
    ticks = np.arange(0.0, source_times[-1] + 1e-9, 1.0 / 30.0)
    shown = np.array([np.argmin(np.abs(source_times - tick) - 1e-9 * np.arange(len(found))) for tick in ticks])
    nearest_tick = np.array([np.argmin(np.abs(ticks - time) - 1e-9 * np.arange(len(ticks))) for time in source_times])
    assert len(ticks) == 35 and len(set(shown)) == 29  # 35 ticks to 1.16 s: frames shown twice, the last not
    signature = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    at_ticks = model_on_windows(signature, aligned.rgb224[shown], found[shown], window=8, context=6, overlap=0.5)
    expected = at_ticks[nearest_tick]
    result = Predictor.load(str(export_dir), clip=False).predict_video(str(clip))  # the raw outputs
    got = np.stack([result.arousal, result.valence], 1)
    assert result.num_frames == len(found) and result.fps == 25.0
    np.testing.assert_array_equal(result.face_found, found)
    np.testing.assert_allclose(got[found > 0], expected[found > 0], atol=2e-5)
    own_rate = model_on_windows(signature, aligned.rgb224, found, window=8, context=6, overlap=0.5)
    assert np.abs(own_rate[found > 0] - expected[found > 0]).max() > 1e-3  # resampling changed the inputs
    people = Predictor.load(str(export_dir), clip=False).predict_video(str(clip), faces="all")
    np.testing.assert_allclose(people.faces[0].arousal[found > 0], expected[found > 0, 0], atol=2e-5)


@pytest.mark.slow
def test_litert_files_carry_the_two_parts_and_run_the_backbone_once_per_face(exported_run):
    """Issue 28: each .tflite file (float32 and int8 weights) has frame_features and
    window_from_features beside serving_default; each equals the SavedModel's signature within 1e-4
    (float32), and Predictor on the file runs the backbone once per face, with the whole-window
    file's predictions."""
    _, export_dir, video = exported_run
    saved = load_runner(str(export_dir))
    faces_rgb = np.concatenate([video["rgb224"]] * 2)  # 32 frames
    for name, atol in (("model.tflite", 1e-4), ("model_dynamic_range.tflite", None)):
        runner = load_runner(str(export_dir / name))
        assert runner.split, name
        features = runner.frame_features(faces_rgb[:5])
        span = faces_rgb[None, : runner.window + 2 * runner.context]
        central = saved.frame_features(span[0, runner.context : runner.context + runner.window])[None]
        if atol:
            np.testing.assert_allclose(features, saved.frame_features(faces_rgb[:5]), atol=atol)
            np.testing.assert_allclose(runner.from_features(span, central), saved.from_features(span, central),
                                       atol=atol)
        found = np.ones(len(faces_rgb), int)
        found[10:12] = 0
        reused, whole, featurized = _with_and_without_reuse(runner, faces_rgb, found)
        np.testing.assert_allclose(reused, whole, atol=1e-5)
        assert sum(featurized) == int(found.sum())  # each face once


@pytest.mark.slow
def test_one_pass_on_a_file_gives_the_two_passes_predictions(predicted):
    """``predict_video``'s default one face runs in one pass with overlapping stages; on a real face
    with a stretch without one it gives what the two passes give (``one_pass=False``): the same
    faces found, boxes, ids and values within 1e-6 — and it is the path taken (its model time is the
    pipeline's, backbone included)."""
    export_dir, video_path, _, _ = predicted
    one = Predictor.load(str(export_dir)).predict_video(str(video_path))
    two = Predictor.load(str(export_dir), one_pass=False).predict_video(str(video_path))
    assert one.num_frames == two.num_frames == 30
    np.testing.assert_array_equal(one.face_found, two.face_found)
    assert not one.face_found[NO_FACE].any() and one.face_found.sum() == 24
    np.testing.assert_array_equal(one.face_id, two.face_id)
    np.testing.assert_allclose(one.face_box, two.face_box, atol=1e-9)
    np.testing.assert_allclose(np.stack([one.arousal, one.valence]), np.stack([two.arousal, two.valence]), atol=1e-6)
    assert np.isnan(one.arousal[NO_FACE]).all() and np.isfinite(one.arousal[one.face_found > 0]).all()
    assert "backbone" in one.seconds and "backbone" not in two.seconds  # each took its own path
    assert one.seconds["model"] >= one.seconds["backbone"] > 0

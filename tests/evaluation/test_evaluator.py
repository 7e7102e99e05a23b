"""python -m mimamo_tf.evaluate on a model trained by the smoke config: metrics recomputed
independently from the written predictions and the shards' labels."""

import csv
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from mimamo_tf.testing.tiny_shards import tiny_video, write_dataset, write_shards

from mimamo_tf.ccc import ccc_numpy
from mimamo_tf.testing.window_reference import frame_windows
from mimamo_tf.data import schema, shards

REPO = pathlib.Path(__file__).resolve().parents[2]
SMOKE = f"--flagfile={REPO / 'configs' / 'smoke.cfg'}"


def _run(module, *flags):
    return subprocess.run([sys.executable, "-m", module, *flags], cwd=REPO, capture_output=True, text=True, timeout=300)


def _trained(data_dir, model_dir, *extra):
    run = _run("mimamo_tf.train", SMOKE, f"--data_dir={data_dir}", f"--model_dir={model_dir}", *extra)
    assert run.returncode == 0, run.stderr[-3000:]
    return model_dir


@pytest.fixture(scope="module")
def frame_run(tmp_path_factory):
    """A run whose validation split has frames without a face but with valid labels (about 10% of
    every tiny video) and a whole video without any face: the official CCC (every valid-label frame)
    then differs from the face-only one, so selecting on either can be told apart."""
    data_dir = tmp_path_factory.mktemp("eval_data")
    videos = write_dataset(data_dir)
    faceless = tiny_video("v_faceless", 11, 6)
    faceless["face_found"][:] = 0
    faceless["label_valid"][:] = 1
    write_shards(data_dir, "validation", videos[4:] + [faceless], num_shards=1)  # replaces the split
    model_dir = _trained(data_dir, tmp_path_factory.mktemp("eval_model"), "--epochs=3", "--validation_steps=0",
                         "--learning_rate=0.01")
    return data_dir, model_dir, {v["video_id"]: v for v in videos + [faceless]}


def _evaluate(model_dir, *flags):
    return _run("mimamo_tf.evaluate", f"--flagfile={model_dir / 'flags.cfg'}", *flags)


def _shard_labels(data_dir, split):
    videos = {}
    for path in shards.list_shards(data_dir, split):
        for record in tf.data.TFRecordDataset(path):
            example = schema.parse_sequence_example(record.numpy(), decode_images=False)
            videos[example["video_id"]] = example
    return videos


@pytest.mark.slow
def test_metrics_and_plots_equal_numpy_ccc_of_written_predictions(frame_run, tmp_path):
    data_dir, model_dir, _ = frame_run
    run = _evaluate(model_dir, "--split=validation", f"--output_dir={tmp_path}")
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    labels = _shard_labels(data_dir, "validation")
    for suffix, counted in (("", lambda e: e["label_valid"] > 0),  # the official scorers: every valid label
                            ("_face_only", lambda e: (e["label_valid"] * e["face_found"]) > 0)):
        predictions, targets = [], []
        for video_id, example in labels.items():
            lines = (tmp_path / "predictions" / f"{video_id}.txt").read_text().splitlines()
            assert lines[0] == "valence,arousal" and len(lines) == example["num_frames"] + 1  # every frame
            values = np.array([[float(x) for x in line.split(",")] for line in lines[1:]])  # valence, arousal
            keep = counted(example)
            predictions.append(values[keep][:, ::-1])
            targets.append(np.stack([example["arousal"], example["valence"]], 1)[keep])
            if not suffix:
                assert metrics["per_video"][video_id]["frames"] == int(keep.sum())
        predictions, targets = np.concatenate(predictions), np.concatenate(targets)
        assert metrics["frames" if not suffix else "frames_with_face"] == len(targets)
        assert metrics[f"ccc_arousal{suffix}"] == pytest.approx(ccc_numpy(predictions[:, 0], targets[:, 0]), abs=1e-4)
        assert metrics[f"ccc_valence{suffix}"] == pytest.approx(ccc_numpy(predictions[:, 1], targets[:, 1]), abs=1e-4)
        assert metrics[f"ccc_mean{suffix}"] == pytest.approx((metrics[f"ccc_arousal{suffix}"] + metrics[f"ccc_valence{suffix}"]) / 2)
        if not suffix:
            # Beside the official scores (of the unclipped outputs), those of the predictions
            # clipped to the label scale ([-1, 1] here: no manifest), as predict writes them.
            clipped = metrics["clipped_predictions"]
            for column, name in enumerate(("arousal", "valence")):
                expected = ccc_numpy(np.clip(predictions[:, column], -1, 1), targets[:, column])
                assert clipped[f"ccc_{name}"] == pytest.approx(expected, abs=1e-4)
                assert clipped["clipped_frames"][name] == pytest.approx(np.mean(np.abs(predictions[:, column]) > 1),
                                                                        abs=0.01)
            assert metrics["label_scale"] == {"low": -1.0, "high": 1.0}
    assert metrics["frames"] > metrics["frames_with_face"] and metrics["videos"] == len(labels)
    # --plots is on by default: a PNG per video whose panel titles show the video's CCC of each output
    # over its valid labels (read back from the PNG's text, recomputed from the written predictions).
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(f"{v}.png" for v in labels)
    assert f"Plotted {len(labels)} videos -> {tmp_path / 'plots'}" in run.stdout
    for video_id, example in labels.items():
        lines = (tmp_path / "predictions" / f"{video_id}.txt").read_text().splitlines()[1:]
        predictions = np.array([[float(x) for x in line.split(",")] for line in lines])[:, ::-1]  # arousal, valence
        valid = example["label_valid"] > 0
        text = _png_text(tmp_path / "plots" / f"{video_id}.png")
        shown, titles = json.loads(text["ccc"]), text["Description"].splitlines()
        for column, (output, target) in enumerate((("arousal", example["arousal"]), ("valence", example["valence"]))):
            expected = ccc_numpy(predictions[valid, column], target[valid])
            assert shown[output] == pytest.approx(expected, abs=1e-4), (video_id, output)
            assert titles[column].startswith(f"{output}: CCC ")
            assert float(titles[column].rsplit(" ", 1)[1]) == pytest.approx(expected, abs=6e-4), (video_id, titles)


@pytest.mark.slow
def test_every_prediction_line_is_the_model_output_of_an_independently_rebuilt_window(frame_run, tmp_path):
    """Oracle: the evaluation windows rebuilt in NumPy from the videos' arrays (overlapping by half
    a window, every frame from the window with the nearest centre (window_reference), 6 clamped
    context frames per side, no-face frames given their nearest face frame's inputs), run through
    the checkpoint one window at a time."""
    import keras


    data_dir, model_dir, videos = frame_run
    run = _evaluate(model_dir, "--split=validation", f"--output_dir={tmp_path}", "--eval_batch_size=3", "--noplots")
    assert run.returncode == 0, run.stderr[-3000:]
    assert not (tmp_path / "plots").exists() and "Plotted" not in run.stdout  # --noplots draws none
    model = keras.saving.load_model(model_dir / "checkpoints" / "best.keras", compile=False)
    window, context = 8, 6  # smoke.cfg; snippet length 12
    for video_id in _shard_labels(data_dir, "validation"):
        video = videos[video_id]
        length = len(video["gray48"])
        with_face = np.flatnonzero(video["face_found"])
        if not len(with_face):
            continue  # a video without any face: test_a_video_without_any_face_gets_the_mean_face_frame_prediction
        source = np.array([with_face[np.argmin(np.abs(with_face - t))] for t in range(length)])
        features = video["spatial_features"].astype(np.float16).astype(np.float32)
        starts, owner = frame_windows(length, window, 0.5)  # the default --window_overlap
        assert len(starts) > (length + window - 1) // window  # more windows than tiling
        expected = np.zeros((length, 2), np.float32)
        for start in starts:
            frames = np.minimum(np.arange(start, start + window), length - 1)
            around = np.clip(np.arange(start - context, start + window + context), 0, length - 1)
            output = model({"gray48": video["gray48"][source[around]][None] / 255.0,
                            "spatial_features": features[source[frames]][None]}, training=False)
            mine = np.flatnonzero(owner == start)
            expected[mine] = np.asarray(output)[0][mine - start]
        lines = (tmp_path / "predictions" / f"{video_id}.txt").read_text().splitlines()[1:]
        written = np.array([[float(x) for x in line.split(",")] for line in lines])[:, ::-1]
        np.testing.assert_allclose(written, expected, atol=2e-5)


@pytest.mark.slow
def test_training_selects_on_the_ccc_that_evaluate_reports(frame_run, tmp_path):
    """``val_ccc_*`` of history.json are the official CCCs: ``evaluate`` of best.keras (the epoch with
    the highest ``val_ccc_mean``) and of last.keras gives them to 1e-6, and the face-only ones to
    ``val_ccc_*_face_only``; on this data the two differ, so selecting on the wrong one would show."""
    from mimamo_tf import runs
    from mimamo_tf.evaluation import evaluate

    _, model_dir, _ = frame_run
    history = json.loads((model_dir / "history.json").read_text())
    assert len(history) == 3
    best = max(history, key=lambda e: e["val_ccc_mean"])
    assert runs.best_epoch(history) == best
    config = runs.read_config(str(model_dir))
    for checkpoint, entry in (("best", best), ("last", history[-1])):
        metrics, _ = evaluate(config, "validation", checkpoint, output_dir=str(tmp_path / checkpoint))
        assert metrics["videos_without_face"] == ["v_faceless"]
        for name in ("arousal", "valence", "mean"):
            assert metrics[f"ccc_{name}"] == pytest.approx(entry[f"val_ccc_{name}"], abs=1e-6)
            assert metrics[f"ccc_{name}_face_only"] == pytest.approx(entry[f"val_ccc_{name}_face_only"], abs=1e-6)
        assert abs(metrics["ccc_mean"] - metrics["ccc_mean_face_only"]) > 1e-5  # 10x the tolerance


@pytest.mark.slow
def test_gamma_corruption_changes_inputs_deterministically(frame_run, tmp_path):
    from mimamo_tf import runs
    from mimamo_tf.evaluation import evaluate

    _, model_dir, _ = frame_run
    config = runs.read_config(str(model_dir))
    outputs = []
    for name, beta in (("clean", 0.0), ("a", 0.5), ("b", 0.5)):
        evaluate(config, "validation", gamma_beta=beta, output_dir=str(tmp_path / name))
        outputs.append((tmp_path / name / "predictions" / "v4.txt").read_text())
    assert outputs[1] == outputs[2]  # same corruption of the same frames
    assert outputs[0] != outputs[1]
    assert json.loads((tmp_path / "a" / "metrics.json").read_text())["gamma_beta"] == 0.5


@pytest.mark.slow
def test_validation_under_corruption_selects_on_what_evaluate_reports_at_that_beta(frame_run, tmp_path):
    """``--validation_gamma_beta``: the CCC training validates on (and picks best.keras by) is
    ``evaluate --gamma_beta`` of that checkpoint at the same beta, not the clean one."""
    from mimamo_tf import runs
    from mimamo_tf.evaluation import evaluate

    data_dir, _, _ = frame_run
    model_dir = _trained(data_dir, tmp_path / "model", "--epochs=1", "--validation_steps=0",
                         "--train_gamma_beta=0.5", "--validation_gamma_beta=0.5")
    (entry,) = json.loads((model_dir / "history.json").read_text())
    config = runs.read_config(str(model_dir))
    assert config.data.validation_gamma_beta == 0.5
    corrupted, _ = evaluate(config, "validation", "best", gamma_beta=0.5, output_dir=str(tmp_path / "corrupted"))
    clean, _ = evaluate(config, "validation", "best", output_dir=str(tmp_path / "clean"))
    assert corrupted["ccc_mean"] == pytest.approx(entry["val_ccc_mean"], abs=1e-6)
    assert abs(clean["ccc_mean"] - entry["val_ccc_mean"]) > 1e-5  # so validating clean would show


@pytest.mark.slow
def test_missing_checkpoint_is_a_clear_error(frame_run, tmp_path):
    _, model_dir, _ = frame_run
    run = _evaluate(model_dir, "--checkpoint=/nowhere/model.keras")
    assert run.returncode == 2 and "model file '/nowhere/model.keras' does not exist" in run.stderr


@pytest.mark.slow
def test_utterance_level_predictions_and_ccc(tmp_path):
    data_dir = tmp_path / "omg"
    for split, count in (("train", 6), ("validation", 5)):
        videos = [tiny_video(f"clip{i}/utt{i}", 12 + 3 * i, i + 10 * (split == "validation"), label_level="video")
                  for i in range(count)]
        write_shards(data_dir, split, videos)
    model_dir = _trained(data_dir, tmp_path / "model", "--label_level=video", "--window=4", "--epochs=1",
                         "--steps_per_epoch=2")
    run = _evaluate(model_dir, f"--output_dir={tmp_path / 'eval'}")
    assert run.returncode == 0, run.stderr[-3000:]
    rows = list(csv.DictReader(open(tmp_path / "eval" / "predictions.csv")))
    assert [r["video"] for r in rows] == [f"clip{i}" for i in range(5)] and rows[0]["utterance"] == "utt0"
    labels = _shard_labels(data_dir, "validation")
    pred = np.array([[float(r["arousal"]), float(r["valence"])] for r in rows])
    target = np.array([[labels[f"{r['video']}/{r['utterance']}"]["video_arousal"],
                        labels[f"{r['video']}/{r['utterance']}"]["video_valence"]] for r in rows])
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["frames"] == 5  # utterances
    assert not (tmp_path / "eval" / "plots").exists() and "No plots: utterance labels" in run.stdout
    assert metrics["ccc_arousal"] == pytest.approx(ccc_numpy(pred[:, 0], target[:, 0]), abs=1e-4)


def test_report_prints_one_row_per_run(tmp_path):
    from mimamo_tf.evaluation.evaluator import metrics_table as table

    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"ccc_arousal": 0.51234, "ccc_valence": -0.25, "ccc_mean": 0.13117, "frames": 900}))
    lines = table([("two-stream", str(path))]).splitlines()
    assert lines[0].startswith("| model | CCC arousal") and lines[2] == "| two-stream | 0.512 | -0.250 | 0.131 | 900 |"


@pytest.mark.slow
def test_a_video_without_any_face_gets_the_mean_face_frame_prediction(frame_run, tmp_path):
    """Its frames have no real input: every one gets the mean prediction of the evaluated set's frames
    with a face (recomputed here from the other video's written predictions), never the network's
    output on black frames."""
    from mimamo_tf import runs
    from mimamo_tf.evaluation import evaluate
    from mimamo_tf.testing.tiny_shards import tiny_video

    _, model_dir, _ = frame_run
    faceless = tiny_video("faceless", 14, 7)
    faceless["face_found"][:] = 0
    faceless["label_valid"][:] = 1
    with_face = tiny_video("with_face", 19, 8)
    write_shards(tmp_path / "data", "validation", [faceless, with_face], num_shards=1)
    config = runs.read_config(str(model_dir), [f"--data_dir={tmp_path / 'data'}"])
    metrics, out = evaluate(config, "validation", output_dir=str(tmp_path / "eval"))
    assert metrics["videos_without_face"] == ["faceless"]

    def predictions(video_id):
        lines = (tmp_path / "eval" / "predictions" / f"{video_id}.txt").read_text().splitlines()[1:]
        return np.array([[float(a), float(v)] for v, a in (line.split(",") for line in lines)])  # valence,arousal

    seen = predictions("with_face")[with_face["face_found"] > 0]
    expected = seen.mean(axis=0)
    got = predictions("faceless")
    assert got.shape == (14, 2)
    np.testing.assert_allclose(got, np.tile(expected, (14, 1)), atol=2e-6)  # files hold 6 decimals
    assert np.abs(expected).max() > 1e-3  # not trivially zero


def _evaluate_command(model_dir, *flags):
    """``python -m mimamo_tf.evaluate`` in this process (its flags, its main): the model loads in
    about a second instead of a new interpreter's TensorFlow start-up."""
    from absl import flags as absl_flags

    from mimamo_tf import evaluate as command

    flag_values = absl_flags.FlagValues()
    command.define_flags(flag_values)
    flag_values(["evaluate", f"--flagfile={model_dir / 'flags.cfg'}", *flags])
    assert command.main(flag_values) == 0


def _png_text(path):
    from PIL import Image

    with Image.open(path) as image:
        return dict(image.text)


@pytest.mark.slow
def test_max_plots_draws_the_first_videos_by_name_and_says_so(frame_run, tmp_path, capsys):
    data_dir, model_dir, _ = frame_run
    names = sorted(_shard_labels(data_dir, "validation"))
    assert len(names) == 3
    _evaluate_command(model_dir, f"--output_dir={tmp_path}", "--max_plots=2")
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [f"{v}.png" for v in names[:2]]
    assert f"Plotted the first 2 of 3 videos (sorted by name) -> {tmp_path / 'plots'}" in capsys.readouterr().out


def test_a_video_figure_leaves_invalid_labels_out_and_shades_frames_without_a_face(tmp_path):
    from mimamo_tf.evaluation.plots import plot_video, video_figure

    frames = 12
    t = np.arange(frames, dtype=np.float32)
    entry = dict(pred=np.stack([np.sin(t), np.cos(t)], 1), labels=np.stack([t / 10, -t / 10], 1),
                 label_valid=np.array([1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1], bool),
                 face_found=np.array([1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0], bool))
    ccc = {"arousal": 0.51234, "valence": float("nan")}
    figure, title, titles = video_figure("clip", entry, ccc)
    assert titles == {"arousal": "arousal: CCC 0.512", "valence": "valence: CCC undefined"}
    assert [a.get_title(loc="left") for a in figure.axes] == [titles["arousal"], titles["valence"]]
    assert title == "clip: 8 of 12 frames labelled, 8 with a face"
    for column, axis in enumerate(figure.axes):
        label = [line for line in axis.get_lines() if line.get_label() == "label"][0]
        y = np.asarray(label.get_ydata(), float)
        np.testing.assert_array_equal(np.isnan(y), ~entry["label_valid"])
        np.testing.assert_allclose(y[entry["label_valid"]], entry["labels"][entry["label_valid"], column])
        prediction = [line for line in axis.get_lines() if line.get_label() == "prediction"][0]
        np.testing.assert_allclose(prediction.get_ydata(), entry["pred"][:, column])
        # Frames 1-2, 6 and 11 have no face: three grey bands covering exactly them.
        spans = sorted((p.get_x(), p.get_x() + p.get_width()) for p in axis.patches)
        assert spans == [(0.5, 2.5), (5.5, 6.5), (10.5, 11.5)]
    written = plot_video(str(tmp_path / "clip.png"), "clip", entry, ccc)
    assert _png_text(written.path)["Description"] == "arousal: CCC 0.512\nvalence: CCC undefined"
    assert written.panel_titles == titles and [p.name for p in tmp_path.iterdir()] == ["clip.png"]  # no partial left


def test_a_video_figure_draws_seconds_with_frames_beneath_on_the_training_label_scale():
    """With the video's frame rate the x axis is seconds (a frame axis beneath it converts back);
    prediction and label are drawn on the training labels' scale (here 1..9, the network's [-1, 1]
    mapped: 1 + (y + 1) / 2 * 8), the prediction unclipped as it is scored; without a frame rate,
    frames."""
    from mimamo_tf.data.label_scale import LabelScale
    from mimamo_tf.evaluation.plots import video_figure

    frames, fps = 50, 25.0
    t = np.arange(frames, dtype=np.float32)
    pred = np.stack([np.sin(t / 5) * 1.4, np.cos(t / 7) * 0.5], 1)  # arousal leaves [-1, 1]
    labels = np.stack([t / frames * 2 - 1, -t / frames], 1)
    entry = dict(pred=pred, labels=labels, label_valid=np.ones(frames, bool), face_found=t >= 10, fps=fps)
    figure, _, _ = video_figure("clip", entry, {"arousal": 0.5, "valence": 0.1}, LabelScale(1.0, 9.0))
    figure.canvas.draw()
    for column, axis in enumerate(figure.axes):
        prediction = [line for line in axis.get_lines() if line.get_label() == "prediction"][0]
        label = [line for line in axis.get_lines() if line.get_label() == "label"][0]
        np.testing.assert_allclose(prediction.get_xdata(), t / fps)
        np.testing.assert_allclose(prediction.get_ydata(), 1 + (pred[:, column] + 1) / 2 * 8, rtol=1e-6)
        np.testing.assert_allclose(label.get_ydata(), 1 + (labels[:, column] + 1) / 2 * 8, rtol=1e-6)
        low, high = axis.get_ylim()
        assert low < 1.0 and high > 9.0  # the whole scale shows
        assert high >= np.max(1 + (pred[:, column] + 1) / 2 * 8)  # and the unclipped prediction
        # Frames 0-9 without a face: one band from frame -0.5 to 9.5, in seconds.
        assert [(p.get_x(), p.get_x() + p.get_width()) for p in axis.patches] == [
            pytest.approx((-0.5 / fps, 9.5 / fps))]
        assert "[1, 9]" in axis.get_ylabel()
    bottom = figure.axes[-1]
    assert bottom.get_xlim() == pytest.approx((-0.5 / fps, (frames - 0.5) / fps))
    assert bottom.get_xlabel().startswith("time (s)")
    (frames_axis,) = bottom.child_axes
    assert frames_axis.get_xlabel() == "frame"
    assert frames_axis.get_xlim() == pytest.approx((-0.5, frames - 0.5))
    del entry["fps"]
    figure, _, _ = video_figure("clip", entry, {"arousal": 0.5, "valence": 0.1})
    assert figure.axes[-1].get_xlabel().startswith("frame") and not figure.axes[-1].child_axes
    assert figure.axes[-1].get_xlim() == pytest.approx((-0.5, frames - 0.5))


@pytest.mark.parametrize("data,split,fold,chooser,scored", [
    (dict(), "validation", None, "the validation split", True),
    (dict(validation_source="inner"), "validation", None, "an inner validation subset (0.2 of the recordings of train)",
     False),
    (dict(validation_source="inner"), "train", None, "an inner validation subset", True),
    (dict(num_folds=5, fold=2), "train", 2, "an inner validation subset (0.2 of the training recordings of fold 2",
     False),
    (dict(num_folds=5, fold=2), "train", None, "an inner validation subset", True),
    (dict(num_folds=5, fold=2, inner_validation_fraction=0.0), "train", 2, "the held-out fold 2 of train", True),
    (dict(num_folds=5, fold=2, train_split="train,validation"), "train,validation", 2, "fold 2 of train,validation",
     False),
])
def test_metrics_say_what_chose_the_checkpoint_and_whether_it_is_the_scored_data(data, split, fold, chooser, scored):
    from mimamo_tf.config import DataConfig
    from mimamo_tf.evaluation.evaluator import checkpoint_selection

    selection = checkpoint_selection(DataConfig(**data), split, fold)
    assert chooser in selection["selected_on"]
    assert selection["selected_on_scored_data"] is scored


def test_a_resampled_video_gets_a_prediction_line_per_source_frame(tmp_path):
    """A 25 fps video prepared at 30 fps (59 stored frames for 50 source frames): its predictions
    file has a line per source frame, each the stored frame nearest in time (found by comparing
    times here), as a challenge's per-frame file expects; a video kept at its rate is untouched."""
    from mimamo_tf.evaluation.evaluator import write_predictions

    stored = np.stack([np.arange(59) / 100.0, -np.arange(59) / 100.0], -1).astype(np.float32)  # arousal, valence
    kept = np.full((7, 2), 0.25, np.float32)
    write_predictions({"resampled": {"pred": stored}, "kept": {"pred": kept}}, str(tmp_path), "frame",
                      resampled={"resampled": (50, 25.0, 30.0)})
    lines = (tmp_path / "predictions" / "resampled.txt").read_text().splitlines()
    assert lines[0] == "valence,arousal" and len(lines) == 51
    stored_times = np.arange(59) / 30.0
    for t, line in enumerate(lines[1:]):
        nearest = np.argmin(np.abs(stored_times - t / 25.0) - 1e-9 * np.arange(59))  # the later on a tie
        valence, arousal = (float(x) for x in line.split(","))
        assert (arousal, valence) == pytest.approx(tuple(stored[nearest]), abs=1e-7)
    assert len((tmp_path / "predictions" / "kept.txt").read_text().splitlines()) == 8

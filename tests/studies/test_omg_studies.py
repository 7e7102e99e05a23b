"""The OMG path end to end on ``data_prep.synthetic --format=omg``: prepare (CLI, pre-aligned faces)
-> train -> evaluate -> every study, with utterance labels, faceless utterances, one snippet per
second and folds by source video. Numbers are checked against independent recomputations: the
official CCC from the written predictions and the CSV's labels, the length table from ``evaluate
--fold`` of each fold, and no held-out utterance among the videos a fold trained or selected on."""

import csv
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from mimamo_tf import config as config_lib
from mimamo_tf.ccc import ccc_numpy
from mimamo_tf.studies import illumination, length, streams

pytestmark = pytest.mark.slow

REPO = pathlib.Path(__file__).resolve().parents[2]
OMG_FLAGS = ("--label_level=video", "--window=4", "--validation_steps=0", "--spatial_input=images",
             "--spatial_backbone=small")


def _quiet(_message):
    pass


def _run(module, *flags):
    run = subprocess.run([sys.executable, "-m", module, *flags], cwd=REPO, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def omg(tmp_path_factory):
    """Synthetic OMG data (6 train source videos and 3 validation ones, 3 utterances each, with
    partly and wholly faceless utterances), prepared by the CLI from the pre-aligned faces (no stored
    features: the spatial stream runs the small trainable CNN on the faces)."""
    from data_prep import synthetic_datasets

    root = tmp_path_factory.mktemp("omg_raw")
    # One source video per link: with two per link these 6 videos would be 3 recordings, and a 2-fold
    # split would leave a fold one training recording, too few for its inner validation subset
    # (tests/data/test_folds.py covers links shared by segments).
    config = synthetic_datasets.OmgSyntheticConfig(train_videos=6, validation_videos=3, utterances_per_video=3,
                                                   videos_per_link=1,
                                                   min_utterance_frames=14, max_utterance_frames=30, fps=10.0,
                                                   width=160, height=120, seed=5)
    synthetic_datasets.generate_omg(str(root), config)
    data_dir = tmp_path_factory.mktemp("omg_shards")
    aligned = root / "cropped_aligned"
    _run("data_prep.prepare", "--dataset=omg", f"--data_root={root}", f"--omg_aligned_dir={aligned}",
         f"--output_dir={data_dir}", "--split=train")
    # The same as the library (one interpreter start less).
    from data_prep.preparation import prepare

    prepare("omg", str(root), str(data_dir), split="validation", reader_options={"omg_aligned_dir": str(aligned)})
    return root, data_dir


@pytest.fixture(scope="module")
def base(omg):
    _, data_dir = omg
    return config_lib.from_flagfile(str(REPO / "configs" / "smoke.cfg"), [
        f"--data_dir={data_dir}", *OMG_FLAGS, "--epochs=1", "--steps_per_epoch=3"])


def official_omg_ccc(predictions, gold):
    """The OMG-Emotion challenge's score of two columns paired row by row, from its published
    definition: ``2 rho s_p s_g / (s_p^2 + s_g^2 + (m_p - m_g)^2)`` with Pearson's rho and population
    standard deviations."""
    predictions, gold = np.asarray(predictions, np.float64), np.asarray(gold, np.float64)
    rho = np.corrcoef(predictions, gold)[0, 1]
    s_p, s_g = predictions.std(), gold.std()
    return 2 * rho * s_p * s_g / (s_p ** 2 + s_g ** 2 + (predictions.mean() - gold.mean()) ** 2)


def _csv_labels(root, split):
    name = {"train": "omg_TrainVideos.csv", "validation": "omg_ValidationVideos.csv"}[split]
    with open(root / name, newline="", encoding="utf-8") as handle:
        return {f"{r['video']}/{os.path.splitext(r['utterance'])[0]}": (float(r["arousal"]), float(r["valence"]))
                for r in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def streams_result(base, tmp_path_factory):
    """The streams study of the two-stream cell, which trains its two single-stream parents first."""
    output_dir = tmp_path_factory.mktemp("omg_streams")
    return output_dir, streams.run(base, str(output_dir), ["features+phase_difference"], verbose=False, log=_quiet)


def test_streams_study_two_stage_on_omg(streams_result):
    output_dir, result = streams_result
    runs_dir = output_dir / "runs"
    for cell, recurrent in (("features+none", False), ("none+phase_difference", False),
                            ("features+phase_difference", True)):
        flags = config_lib.from_flagfile(str(runs_dir / cell / "flags.cfg"))
        assert flags.model.recurrent == recurrent and flags.model.label_level == "video"
    child = config_lib.from_flagfile(str(runs_dir / "features+phase_difference" / "flags.cfg"))
    assert child.model.init_temporal_from == str(runs_dir / "none+phase_difference" / "checkpoints" / "best.keras")
    metrics = json.loads((runs_dir / "features+phase_difference" / "eval_validation" / "metrics.json").read_text())
    assert result["rows"][0]["arousal"] == metrics["ccc_arousal"] and metrics["label_level"] == "video"
    assert "every valid-label utterance" in result["table"]


def test_evaluate_scores_every_utterance_against_the_csv_by_position_with_a_checkpoint_it_did_not_choose(omg, streams_result, tmp_path):
    """``python -m mimamo_tf.evaluate`` on the two-stream cell: the official CCC recomputed from its
    predictions.csv and the CSV's labels, a faceless utterance predicted by the others' mean, and a
    checkpoint that the scored split did not choose."""
    root, _ = omg
    output_dir, _ = streams_result
    model_dir = output_dir / "runs" / "features+phase_difference"
    out = tmp_path / "eval"
    run = _run("mimamo_tf.evaluate", f"--flagfile={model_dir / 'flags.cfg'}", f"--output_dir={out}")
    assert "utterances" in run.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    labels = _csv_labels(root, "validation")
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    # Row by row in the annotation file's order (not the ids' order: the synthetic CSV, like the real
    # one, is not sorted), as the official scorer pairs them.
    assert [f"{r['video']}/{r['utterance']}" for r in rows] == list(labels) != sorted(labels)
    for i, name in enumerate(("arousal", "valence")):
        by_position = official_omg_ccc([float(r[name]) for r in rows], [gold[i] for gold in labels.values()])
        assert metrics[f"ccc_{name}"] == pytest.approx(by_position, abs=1e-6)
    faceless = metrics["videos_without_face"]
    assert faceless, "the synthetic validation split has a faceless utterance"
    pred = {f"{r['video']}/{r['utterance']}": (float(r["arousal"]), float(r["valence"])) for r in rows}
    others = np.array([pred[k] for k in pred if k not in faceless])
    np.testing.assert_allclose(pred[faceless[0]], others.mean(axis=0), atol=2e-6)
    order = sorted(labels)
    for i, name in enumerate(("arousal", "valence")):
        expected = ccc_numpy([pred[k][i] for k in order], [labels[k][i] for k in order])
        assert metrics[f"ccc_{name}"] == pytest.approx(expected, abs=1e-5)
    # The cell chose its checkpoint on utterances of the training split held apart, not on the
    # validation split scored here (evaluate of the eval split equals training's validation when a run
    # validates on it: tests/evaluation/test_evaluator.py).
    assert metrics["selected_on_scored_data"] is False and "inner validation subset" in metrics["selected_on"]


def test_length_study_scores_each_fold_on_held_out_source_videos_with_evaluate(base, tmp_path):
    from mimamo_tf.data.training_data import TrainingData
    from mimamo_tf.evaluation import evaluate

    result = length.run(base, str(tmp_path), lengths=(4,), num_folds=2, verbose=False, log=_quiet)
    row = result["rows"][0]
    scored = []
    for fold in range(2):
        run_dir = tmp_path / "runs" / length.cell_name(4, fold)
        config = config_lib.from_flagfile(str(run_dir / "flags.cfg"))
        assert (config.model.snippet_length, config.model.recurrent, config.data.num_folds, config.data.fold) == (
            4, False, 2, fold)
        # Independently: evaluate of best.keras on the fold's held-out utterances of the train split.
        metrics, _ = evaluate(config, "train", "best", output_dir=str(tmp_path / f"check{fold}"), fold=fold)
        assert row["folds"][fold]["arousal"] == metrics["ccc_arousal"]
        scored.append(metrics)
        # No utterance scored here was trained on or selected on (inner validation), and no source
        # video is split between them.
        data = TrainingData(config)
        seen = set(data.train_ids) | set(data.eval_ids)
        held_out = set(metrics["per_video"])
        assert held_out == set(data.held_out_ids) and not held_out & seen
        assert not {v.split("/")[0] for v in held_out} & {v.split("/")[0] for v in seen}
    assert row["arousal"] == pytest.approx(np.mean([m["ccc_arousal"] for m in scored]), abs=1e-12)
    assert row["valence"] == pytest.approx(np.mean([m["ccc_valence"] for m in scored]), abs=1e-12)


def test_illumination_study_with_corrupted_training(base, streams_result):
    """--corrupt=both: the clean net is the streams study's cell (reused, not retrained); beta 0.5 gets
    its own net trained under that corruption."""
    output_dir, _ = streams_result
    clean = output_dir / "runs" / "none+phase_difference" / "checkpoints"
    before = {p.name: p.stat().st_mtime_ns for p in clean.iterdir()}
    result = illumination.run(base, str(output_dir), (0.0, 0.5), ("phase_difference",), verbose=False, log=_quiet,
                              corrupt="both")
    assert {p.name: p.stat().st_mtime_ns for p in clean.iterdir()} == before
    series = result["series"]["phase_difference"]
    assert series["cells"] == ["none+phase_difference", "none+phase_difference_train_gamma_0.50"]
    trained = config_lib.from_flagfile(str(output_dir / "runs" / series["cells"][1] / "flags.cfg"))
    assert trained.data.train_gamma_beta == 0.5 and not trained.model.recurrent
    corrupted = json.loads((output_dir / "runs" / series["cells"][1] / "gamma_0.50" / "metrics.json").read_text())
    assert corrupted["gamma_beta"] == 0.5 and series["arousal"][1] == corrupted["ccc_arousal"]
    assert "under the same corruption" in result["table"]

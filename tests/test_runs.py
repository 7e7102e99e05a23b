"""The run directory (mimamo_tf.runs): the best-epoch rule on fabricated histories, loading a run,
``import mimamo_tf`` enough for ``keras.saving.load_model``, and a run used from another directory."""

import json
import math
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mimamo_tf import runs
from mimamo_tf.testing.tiny_shards import write_dataset

REPO = pathlib.Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.cfg"


def _history(values):
    return [{"epoch": i, "val_ccc_mean": v, "val_ccc_arousal": v, "val_ccc_valence": v} for i, v in enumerate(values)]


@pytest.mark.parametrize("values, expected", [
    ([0.1, 0.5, 0.3], 1),                   # the highest, not the last or the worst
    ([0.5, 0.1, 0.3], 0),
    ([0.2, 0.4, 0.4, 0.1], 1),              # a tie keeps the earlier epoch (best.keras is not overwritten)
    ([float("nan"), 0.1, float("nan")], 1),  # NaN (a constant prediction) never counts
    ([-0.3, -0.1, -0.2], 1),                # negative CCCs are ordered as numbers
    ([float("inf"), 0.2], 1),               # not finite: not a CCC
])
def test_best_epoch_is_the_first_epoch_with_the_highest_finite_value(values, expected):
    best = runs.best_epoch(_history(values))
    assert best["epoch"] == expected
    # The trainer's rule epoch by epoch (TrainingState.update_early_stopping) picks the same epoch.
    chosen, best_value = None, None
    for entry in _history(values):
        if runs.is_improvement(entry["val_ccc_mean"], best_value):
            chosen, best_value = entry["epoch"], entry["val_ccc_mean"]
    assert chosen == expected


def test_best_epoch_of_no_usable_epoch_is_none():
    assert runs.best_epoch([]) is None
    assert runs.best_epoch(_history([float("nan"), float("nan")])) is None
    assert runs.best_epoch([{"epoch": 0, "loss": 1.0}]) is None


def test_training_state_selects_as_best_epoch():
    from mimamo_tf.training.state import TrainingState

    values = [0.2, float("nan"), 0.6, 0.6, 0.5]
    state = TrainingState()
    improved = [state.update_early_stopping(i, v, patience=0) for i, v in enumerate(values)]
    assert improved == [True, False, True, False, False]
    assert int(state.best_epoch.numpy()) == runs.best_epoch(_history(values))["epoch"] == 2


def test_checkpoint_paths_and_bad_run_directories(tmp_path):
    assert runs.checkpoint_path("r", "best") == os.path.join("r", "checkpoints", "best.keras")
    assert runs.checkpoint_path("r", "last") == os.path.join("r", "checkpoints", "last.keras")
    assert runs.checkpoint_path("r", "/x/y.keras") == "/x/y.keras"
    with pytest.raises(runs.RunError, match="no flags.cfg: not a training run directory"):
        runs.load_run(str(tmp_path))
    (tmp_path / "history.json").write_text("{not json")
    with pytest.raises(runs.RunError, match="history.json: not a readable history"):
        runs.read_history(str(tmp_path))


@pytest.fixture(scope="module")
def relative_run(tmp_path_factory):
    """A run trained with relative --data_dir/--model_dir from one working directory (temporal stream:
    it exports without a stored-feature backbone)."""
    root = tmp_path_factory.mktemp("relative")
    write_dataset(root / "data", spatial_dim=16)
    result = subprocess.run([sys.executable, "-m", "mimamo_tf.train", f"--flagfile={SMOKE}", "--data_dir=data",
                             "--model_dir=run", "--epochs=2", "--streams=temporal"], cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return root


@pytest.mark.slow
def test_a_run_evaluates_and_exports_from_another_directory(relative_run, tmp_path):
    """flags.cfg records absolute paths: evaluate and export work from any working directory."""
    flags_file = (relative_run / "run" / "flags.cfg").read_text()
    assert f"--data_dir={relative_run / 'data'}" in flags_file.splitlines()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    evaluated = subprocess.run([sys.executable, "-m", "mimamo_tf.evaluate", f"--flagfile={relative_run / 'run' / 'flags.cfg'}",
                                "--output_dir=eval"], cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    metrics = json.loads((elsewhere / "eval" / "metrics.json").read_text())
    assert metrics["checkpoint"] == str(relative_run / "run" / "checkpoints" / "best.keras")
    exported = subprocess.run([sys.executable, "-m", "mimamo_tf.export", f"--model_dir={relative_run / 'run'}",
                               "--export_dir=export"], cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert exported.returncode == 0, exported.stderr[-3000:]
    card = json.loads((elsewhere / "export" / "model_card.json").read_text())
    history = json.loads((relative_run / "run" / "history.json").read_text())
    best = max((e for e in history if math.isfinite(e["val_ccc_mean"])), key=lambda e: e["val_ccc_mean"])
    assert card["validation_metrics"]["epoch"] == best["epoch"]


@pytest.mark.slow
def test_a_moved_run_loads_its_own_checkpoints(relative_run, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(relative_run / "run", moved)
    run = runs.load_run(str(moved))
    assert run.checkpoint == str(moved / "checkpoints" / "best.keras")
    assert run.config.runtime.model_dir == str(moved)
    assert run.config.data.data_dir == str(relative_run / "data")


@pytest.mark.slow
def test_import_mimamo_tf_is_enough_to_load_a_checkpoint_in_a_fresh_process(relative_run, tmp_path):
    checkpoint = relative_run / "run" / "checkpoints" / "best.keras"
    code = f"""
        import keras
        import mimamo_tf
        import numpy as np
        model = keras.saving.load_model({str(checkpoint)!r}, compile=False)
        print(sorted(model.input))
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "['gray48']"
    # Without the import, Keras cannot find the project's classes: the test above is not vacuous.
    result = subprocess.run([sys.executable, "-c", f"import keras; keras.saving.load_model({str(checkpoint)!r})"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "Could not locate class" in result.stderr
    assert np.isfinite(runs.best_epoch(runs.read_history(str(relative_run / "run")))["val_ccc_mean"])

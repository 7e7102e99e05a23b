"""``mimamo_tf.study`` on tiny real shards (frame-level labels; the OMG path is
``test_omg_studies.py``): the paper's two-stage training (single-stream cells without the GRU, two-stream
cells starting from their weights), tables equal the cells' own evaluation files, finished cells are
reused (not re-trained), the illumination study's beta = 0 equals a plain evaluation, the speed
table's ratios come from its numbers, and bad flags exit 2 naming the flag."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from mimamo_tf.testing.tiny_shards import write_dataset

from mimamo_tf import config as config_lib
from mimamo_tf.studies import cells, illumination, speed, streams

# Studies train and evaluate real cells.
pytestmark = pytest.mark.slow

REPO = pathlib.Path(__file__).resolve().parents[2]
STREAM_CELLS = ("features+phase_difference", "none+phase_difference", "none+optical_flow")


def _quiet(_message):
    pass


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("study_data")
    write_dataset(directory, spatial_dim=32)
    return directory


@pytest.fixture(scope="module")
def base(data_dir):
    return config_lib.from_flagfile(str(REPO / "configs" / "smoke.cfg"), [f"--data_dir={data_dir}", "--epochs=1"])


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("study")


@pytest.fixture(scope="module")
def streams_result(base, study_dir):
    return streams.run(base, str(study_dir), STREAM_CELLS, verbose=False, log=_quiet, training="paper")


def _table_rows(markdown):
    rows = [line.strip("|").split("|") for line in markdown.splitlines() if line.startswith("|")]
    return [[c.strip() for c in row] for row in rows[2:]]


def _mtimes(directory):
    return {str(p): p.stat().st_mtime_ns for p in pathlib.Path(directory).rglob("*") if p.is_file()}


def test_streams_table_equals_each_cells_metrics(streams_result, study_dir):
    table = (study_dir / "streams.md").read_text()
    rows = _table_rows(table)
    assert len(rows) == len(STREAM_CELLS)
    for cell, row in zip(STREAM_CELLS, rows):
        metrics = json.loads((study_dir / "runs" / cell / "eval_validation" / "metrics.json").read_text())
        assert row[2] == f"{metrics['ccc_arousal']:.3f}" and row[3] == f"{metrics['ccc_valence']:.3f}"
        assert row[4] == f"{metrics['ccc_mean']:.3f}"
        # Scored on the validation split by a checkpoint that split did not choose: the cell validated
        # on recordings of the training split held apart.
        assert metrics["split"] == "validation" and metrics["selected_on_scored_data"] is False
        cell_flags = config_lib.from_flagfile(str(study_dir / "runs" / cell / "flags.cfg"))
        assert (cell_flags.data.validation_source, cell_flags.data.num_folds) == ("inner", 0)
    assert "never on the scored data" in table
    # The paper's numbers sit next to ours: Table 5 (Aff-Wild) and Table 4 (OMG) for Δ phase + ResNet50.
    assert rows[0][5:] == ["0.521", "0.580", "0.377", "0.529"]
    assert rows[2][1] == "optical flow" and rows[2][5:] == ["0.124", "0.058", "0.136", "0.145"]
    assert (study_dir / "streams.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    flags = config_lib.from_flagfile(str(study_dir / "runs" / "none+optical_flow" / "flags.cfg"))
    assert (flags.model.streams, flags.model.temporal_input) == ("temporal", "optical_flow")


def test_single_stream_cells_have_no_gru_and_two_stream_cells_start_from_them(streams_result, base, study_dir):
    """The paper's two-stage training: read back from each cell's flags.cfg and checkpoints."""
    import keras

    from mimamo_tf.models.per_frame import iter_layers
    from mimamo_tf.training.model_setup import build_model

    runs_dir = study_dir / "runs"
    for cell in ("features+none", "none+phase_difference", "none+optical_flow"):
        flags = config_lib.from_flagfile(str(runs_dir / cell / "flags.cfg"))
        assert not flags.model.recurrent and not flags.model.init_spatial_from and not flags.model.init_temporal_from
        model = keras.saving.load_model(runs_dir / cell / "checkpoints" / "best.keras", compile=False)
        assert not [layer for layer in iter_layers(model) if isinstance(layer, keras.layers.GRU)]
    child = config_lib.from_flagfile(str(runs_dir / "features+phase_difference" / "flags.cfg"))
    parents = {"spatial": runs_dir / "features+none" / "checkpoints" / "best.keras",
               "temporal": runs_dir / "none+phase_difference" / "checkpoints" / "best.keras"}
    assert child.model.recurrent and child.model.streams == "both"
    assert (child.model.init_spatial_from, child.model.init_temporal_from) == (str(parents["spatial"]),
                                                                                str(parents["temporal"]))
    # The two-stream net as its training built it: its streams hold the parents' weights.
    built = {layer.name: layer for layer in iter_layers(build_model(child))}
    for stream, names in (("spatial", ("spatial_mlp",)), ("temporal", ("temporal_stream",))):
        parent = {layer.name: layer for layer in iter_layers(keras.saving.load_model(parents[stream], compile=False))}
        for name in names:
            for got, expected in zip(built[name].get_weights(), parent[name].get_weights(), strict=True):
                np.testing.assert_array_equal(got, expected)
    recorded = json.loads((runs_dir / "features+phase_difference" / cells.PARENTS_FILE).read_text())
    assert recorded["temporal"]["sha256"] == cells.file_sha256(parents["temporal"])
    assert "Trained as the paper did" in (study_dir / "streams.md").read_text()


def test_a_two_stream_cell_whose_parent_changed_is_refused(streams_result, base, study_dir):
    path = study_dir / "runs" / "features+phase_difference" / cells.PARENTS_FILE
    recorded = path.read_text()
    changed = json.loads(recorded)
    changed["temporal"]["sha256"] = "0" * 64  # as if none+phase_difference had been retrained since
    path.write_text(json.dumps(changed))
    try:
        with pytest.raises(config_lib.ConfigError, match="temporal .*changed since it started"):
            streams.run(base, str(study_dir), ["features+phase_difference"], verbose=False, log=_quiet,
                        training="paper")
    finally:
        path.write_text(recorded)


def test_rerun_reuses_finished_cells(streams_result, base, study_dir):
    before = _mtimes(study_dir / "runs")
    messages = []
    again = streams.run(base, str(study_dir), STREAM_CELLS, verbose=False, log=messages.append, training="paper")
    assert _mtimes(study_dir / "runs") == before  # no checkpoint, history or metrics file rewritten
    finished = [m for m in messages if "finished earlier" in m]
    assert len(finished) == len(STREAM_CELLS) + 1  # and the parent features+none, trained first
    assert [r["arousal"] for r in again["rows"]] == [r["arousal"] for r in streams_result["rows"]]


def test_finished_cell_with_other_settings_is_refused(streams_result, base, study_dir):
    other = config_lib.replace(streams.cell_config(base, "none", "phase_difference"), optimization={"learning_rate": 0.5})
    with pytest.raises(config_lib.ConfigError, match="--learning_rate"):
        cells.train_cell(other, str(study_dir), "none+phase_difference", verbose=False)


def test_illumination_reuses_models_and_beta_zero_is_plain_evaluation(streams_result, base, study_dir, tmp_path):
    checkpoints = _mtimes(study_dir / "runs" / "none+phase_difference" / "checkpoints")
    result = illumination.run(base, str(study_dir), (0.0, 1.0), verbose=False, log=_quiet)
    assert _mtimes(study_dir / "runs" / "none+phase_difference" / "checkpoints") == checkpoints
    from mimamo_tf.evaluation import evaluate

    for temporal in illumination.TEMPORAL_INPUTS:
        run_dir = study_dir / "runs" / f"none+{temporal}"
        config = config_lib.from_flagfile(str(run_dir / "flags.cfg"))
        plain, _ = evaluate(config, "validation", "best", 0.0, str(tmp_path / temporal))
        series = result["series"][temporal]
        assert series["arousal"][0] == plain["ccc_arousal"] and series["valence"][0] == plain["ccc_valence"]
        corrupted = json.loads((run_dir / "gamma_1.00" / "metrics.json").read_text())
        assert corrupted["gamma_beta"] == 1.0 and corrupted["corrupted_streams"] == ["temporal"]
        assert series["arousal"][1] == corrupted["ccc_arousal"]
    rows = _table_rows((study_dir / "illumination.md").read_text())
    assert [r[0] for r in rows] == ["0.0", "1.0"]
    gap = result["series"]["phase_difference"]["arousal"][1] - result["series"]["optical_flow"]["arousal"][1]
    assert rows[1][-1] == f"{gap:.3f}"
    assert (study_dir / "illumination.png").stat().st_size > 1000


def _study(*flags, timeout=300):
    return subprocess.run([sys.executable, "-m", "mimamo_tf.study", *flags], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def test_speed_study_cli(tmp_path):
    run = _study("--study=speed", f"--output_dir={tmp_path}", "--speed_frames=48", "--speed_pairs=3",
                 "--speed_repeats=1")
    assert run.returncode == 0, run.stderr[-3000:]
    rows = json.loads((tmp_path / "speed.json").read_text())["rows"]
    assert {(r["method"], r["size"]) for r in rows} == {(m, s) for m, _, _ in speed.METHODS for s in (48, 224)}
    table = {(r[0], r[1]): r for r in _table_rows((tmp_path / "speed.md").read_text())}
    for r in rows:
        assert r["frames_per_second"] > 0 and r["ms_per_frame"] > 0
        phase = next(p for p in rows if p["size"] == r["size"] and p["method"] == "phase differences")
        assert r["vs_phase"] == pytest.approx(r["ms_per_frame"] / phase["ms_per_frame"])
        assert table[(r["method"], f"{r['size']}x{r['size']}")][4] == f"{r['vs_phase']:.2f}x"
    assert (tmp_path / "speed.png").read_bytes()[:4] == b"\x89PNG"
    again = _study("--study=speed", f"--output_dir={tmp_path}")  # finished cells: nothing re-measured
    assert again.returncode == 0 and again.stdout.count("finished earlier") == len(rows)


@pytest.mark.parametrize("flags, message", [
    (("--study=bogus", "--output_dir=/tmp/unused"), "--study must be one of streams, length, illumination, sensitivity, speed"),
    (("--study=streams", "--output_dir=/tmp/unused"), "--data_dir is required"),
    (("--study=length", "--data_dir=/tmp/unused", "--output_dir=/tmp/unused", "--num_folds=1",
      "--preset=synthetic"), "--num_folds"),
    (("--study=streams", "--data_dir=/nonexistent", "--output_dir=/tmp/unused", "--preset=synthetic",
      "--cells=features+nothing"), "--cells"),
    (("--study=streams", "--data_dir=/nonexistent", "--output_dir=/tmp/unused", "--training=paper,bogus"),
     "--training must be among paper, recipe, scratch"),
    (("--study=illumination", "--data_dir=/nonexistent", "--output_dir=/tmp/unused", "--training=recipe"),
     "--training for --study=illumination must be one of paper, scratch"),
])
def test_bad_flags_are_refused_naming_the_flag(flags, message):
    """In-process (the study's own checks, before any work); the command turns them into exit 2
    (test_the_command_exits_2_on_a_bad_flag)."""
    from absl import flags as absl_flags

    from mimamo_tf import study
    from mimamo_tf.errors import InputError

    flag_values = absl_flags.FlagValues()
    study.define_flags(flag_values)
    argv = ["study", *flags]
    flag_values(argv)
    with pytest.raises(InputError) as raised:
        study.run_study(flag_values, argv)
    assert message in str(raised.value)


def test_the_command_exits_2_on_a_bad_flag():
    run = _study("--study=bogus", "--output_dir=/tmp/unused")
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "--study must be one of streams, length, illumination, sensitivity, speed" in run.stderr


def test_recipe_rows_train_apart_with_the_base_flagfiles_optimisation(streams_result, base, study_dir):
    """``--training=paper,recipe``: the paper's cells are the ones trained before (their literal
    optimisation ignores the recipe's flags of the base), the recipe's cells train into
    ``runs/recipe/`` with the base's clipping, averaged weights and stream freezing, its two-stream
    cell from the recipe's own single-stream cells; each row equals its cell's evaluation."""
    recipe_base = config_lib.replace(base, optimization={"two_stage": True, "freeze_streams_epochs": 1,
                                                         "ema_decay": 0.9, "clip_gradient_norm": 1.0},
                                     model={"fusion_dropout": 0.0, "head_dropout": 0.0, "gru_dropout": 0.0})
    messages = []
    cell = "features+phase_difference"
    result = streams.run(recipe_base, str(study_dir), [cell], verbose=False, log=messages.append,
                         training=("recipe", "paper"))
    runs_dir = study_dir / "runs"
    assert any(m.startswith(f"{cell}: finished earlier") for m in messages)  # the paper's cell, not retrained
    assert [(r["training"], r["cell"]) for r in result["rows"]] == [("paper", cell), ("recipe", cell)]
    rows = _table_rows((study_dir / "streams.md").read_text())
    for row, directory in zip(rows, (runs_dir / cell, runs_dir / "recipe" / cell), strict=True):
        metrics = json.loads((directory / "eval_validation" / "metrics.json").read_text())
        assert row[3:6] == [f"{metrics[k]:.3f}" for k in ("ccc_arousal", "ccc_valence", "ccc_mean")]
    assert [row[0] for row in rows] == ["paper", "recipe"]
    recipe = config_lib.from_flagfile(str(runs_dir / "recipe" / cell / "flags.cfg"))
    opt = recipe.optimization
    assert (opt.two_stage, opt.freeze_streams_epochs, opt.ema_decay, opt.clip_gradient_norm) == (False, 1, 0.9, 1.0)
    assert (recipe.model.fusion_dropout, recipe.model.head_dropout, recipe.model.gru_dropout) == (0.0, 0.0, 0.0)
    assert recipe.model.init_temporal_from == str(runs_dir / "recipe" / "none+phase_difference" / "checkpoints"
                                                  / "best.keras")
    parent = config_lib.from_flagfile(str(runs_dir / "recipe" / "none+phase_difference" / "flags.cfg"))
    assert not parent.model.recurrent and parent.optimization.freeze_streams_epochs == 0
    assert (parent.optimization.ema_decay, parent.optimization.clip_gradient_norm) == (0.9, 1.0)
    literal = config_lib.from_flagfile(str(runs_dir / cell / "flags.cfg"))
    opt = literal.optimization
    assert (opt.freeze_streams_epochs, opt.ema_decay, opt.clip_gradient_norm) == (0, 0.0, 0.0)
    assert (literal.model.fusion_dropout, literal.model.head_dropout, literal.model.gru_dropout) == (0.5, 0.5, 0.3)

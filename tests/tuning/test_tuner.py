"""``python -m mimamo_tf.tune`` on tiny real shards and the smoke config: a 3-trial Hyperband search
killed in its first trial and re-run (the trial resumes from its checkpoint, finished trials are not
run again, the last trial continues the better first-round run), its results, best flagfile and
HParams sessions; keras-tuner's distributed mode (a chief and two workers on 127.0.0.1, a 2-trial
random search); bad search spaces."""

import dataclasses
import importlib.util
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from mimamo_tf import config as config_lib
from mimamo_tf.testing.checkpoints import saved_checkpoints
from mimamo_tf.tuning import search_space as space_lib

# Keras-tuner searches of real training runs.
pytestmark = pytest.mark.slow

REPO = pathlib.Path(__file__).resolve().parents[2]
SMOKE = f"--flagfile={REPO / 'configs' / 'smoke.cfg'}"
# A small BiGRU; the snippet length changes the input pipeline too.
SEARCH = ("--hyperparameters=learning_rate,gru_units,snippet_length",
          "--search_space=gru_units=8|16,snippet_length=4|8")
TIMEOUT = 300


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_") and k != "TF_CONFIG"}
    env.update(extra)
    return env


def _command(data_dir, tune_dir, *flags):
    return [sys.executable, "-m", "mimamo_tf.tune", SMOKE, f"--data_dir={data_dir}", f"--tune_dir={tune_dir}", *flags]


def _run(*command, timeout=TIMEOUT):
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=_env())


def _start(command, **env):
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(**env))


def _stop(processes):
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=60)


def _history(tune_dir, trial_id):
    return json.loads((tune_dir / "trials" / trial_id / "history.json").read_text())


def _oracle_trial(tune_dir, trial_id):
    return json.loads((tune_dir / "keras_tuner" / f"trial_{trial_id}" / "trial.json").read_text())


def _hparams_sessions(run_dir):
    """``{hparam: value}`` of each HParams session_start_info in ``run_dir``'s own events files."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    sessions, experiments = [], []
    for path in sorted(run_dir.glob("events.out.tfevents*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "hparams":
                    continue
                data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                if data.HasField("session_start_info"):
                    info = data.session_start_info
                    sessions.append({k: v.number_value for k, v in info.hparams.items()})
                if data.HasField("experiment"):
                    experiments.append(data.experiment)
    return sessions, experiments


def _scalars(run_dir):
    values = {}
    for path in run_dir.glob("events.out.tfevents*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    values[value.tag] = float(tf.make_ndarray(value.tensor))
    return values


# --- A Hyperband search killed in its first trial, then run again -------------------------------


@pytest.fixture(scope="module")
def killed_search(data_dir, tmp_path_factory):
    """Hyperband with max_epochs 2 (--epochs), factor 2: two random 1-epoch trials, then the better
    one trained on to epoch 2 as trial 2. SIGKILLed after the first step checkpoint of trial 0, then
    re-run."""
    tune_dir = tmp_path_factory.mktemp("tune") / "search"
    command = _command(data_dir, tune_dir, "--tuner=hyperband", "--hyperband_factor=2", "--max_trials=3",
                       "--epochs=2", "--checkpoint_every_steps=1", *SEARCH)
    first = _start(command)
    try:
        deadline = time.time() + TIMEOUT
        while saved_checkpoints(tune_dir / "trials" / "0") < 1 and first.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)
    finally:
        _stop([first])
    assert saved_checkpoints(tune_dir / "trials" / "0") >= 1, "the search never reached trial 0's first checkpoint"
    running = _oracle_trial(tune_dir, "0")
    rerun = _run(*command)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    return tune_dir, command, running, rerun


def test_killed_trial_resumes_from_its_checkpoint_and_the_search_completes(killed_search):
    tune_dir, _, running, rerun = killed_search
    assert running["status"] == "RUNNING"
    # The same trial (id, values) was given out again and its run continued mid-epoch.
    assert re.search(r"Resuming from \S+trials/0/checkpoints/state/ckpt-\d+: epoch 1, [1-9]\d* steps of it done",
                     rerun.stdout), rerun.stdout[-3000:]
    assert _oracle_trial(tune_dir, "0")["hyperparameters"]["values"] == running["hyperparameters"]["values"]
    # Trial 0's epoch (resumed), trial 1's, and trial 2's second epoch: nothing trained twice.
    assert [line.split(":")[0] for line in rerun.stdout.splitlines() if line.startswith("Epoch")] == [
        "Epoch 1/1", "Epoch 1/1", "Epoch 2/2"]
    for trial_id in ("0", "1", "2"):
        assert _oracle_trial(tune_dir, trial_id)["status"] == "COMPLETED"


def test_hyperband_continues_the_best_run_of_the_previous_round(killed_search):
    tune_dir, _, _, rerun = killed_search
    trials = {t["trial_id"]: t for t in json.loads((tune_dir / "results.json").read_text())["trials"]}
    assert sorted(trials) == ["0", "1", "2"]
    assert [trials[i]["epochs"] for i in ("0", "1", "2")] == [1, 1, 2]
    parent = max(("0", "1"), key=lambda i: trials[i]["val_ccc_mean"])
    assert trials["2"]["continued_from"] == parent
    assert trials["2"]["hyperparameters"] == trials[parent]["hyperparameters"]
    assert re.search(r"Resuming from \S+trials/2/checkpoints/state/ckpt-\d+: epoch 2, 0 steps", rerun.stdout), rerun.stdout
    history, parent_history = _history(tune_dir, "2"), _history(tune_dir, parent)
    assert [e["epoch"] for e in history] == [0, 1] and history[0] == parent_history[0]
    assert [e["epoch"] for e in _history(tune_dir, "0")] == [0] == [e["epoch"] for e in _history(tune_dir, "1")]


def test_results_json_table_and_trial_runs_agree(killed_search):
    tune_dir, _, _, rerun = killed_search
    results = json.loads((tune_dir / "results.json").read_text())
    assert results["objective"]["name"] == "val_ccc_mean" and results["objective"]["direction"] == "max"
    trials = {t["trial_id"]: t for t in results["trials"]}
    for trial_id, trial in trials.items():
        assert trial["status"] == "COMPLETED"
        history = _history(tune_dir, trial_id)
        best = max(history, key=lambda e: e["val_ccc_mean"])
        assert trial["val_ccc_mean"] == pytest.approx(best["val_ccc_mean"], abs=1e-12)
        assert trial["val_ccc_arousal"] == pytest.approx(best["val_ccc_arousal"], abs=1e-12)
        assert trial["best_epoch"] == best["epoch"] + 1
        values = trial["hyperparameters"]
        assert set(values) == {"learning_rate", "gru_units", "snippet_length"}
        assert 1e-4 <= values["learning_rate"] <= 1e-1 and values["gru_units"] in (8, 16)
        assert values["snippet_length"] in (4, 8)
        # The trial trained exactly the base configuration with its values.
        config = config_lib.from_flagfile(str(tune_dir / "trials" / trial_id / "flags.cfg"))
        assert config.optimization.learning_rate == pytest.approx(values["learning_rate"], rel=1e-12)
        assert (config.model.gru_units, config.model.snippet_length) == (values["gru_units"], values["snippet_length"])
        assert config.data.window == 8 and config.optimization.epochs == trial["epochs"]
    assert trials["0"]["hyperparameters"] != trials["1"]["hyperparameters"]
    ranked = sorted(trials, key=lambda i: (-trials[i]["val_ccc_mean"], int(i)))
    assert results["best_trial"] == ranked[0]
    # The table: a header, a rule and one row per trial, best first.
    lines = rerun.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["rank", "trial", "status"])
    rows = [line.split() for line in lines[header + 2: header + 5]]
    assert [row[:3] for row in rows] == [[str(rank), i, "COMPLETED"] for rank, i in enumerate(ranked, 1)]
    assert [float(row[3]) for row in rows] == pytest.approx([trials[i]["val_ccc_mean"] for i in ranked], abs=1e-4)


def test_hparams_dashboard_has_the_experiment_and_one_session_per_trial(killed_search):
    tune_dir, _, _, _ = killed_search
    results = json.loads((tune_dir / "results.json").read_text())
    _, experiments = _hparams_sessions(tune_dir)
    assert experiments, "no HParams experiment summary in tune_dir"
    assert {h.name for h in experiments[0].hparam_infos} == {"learning_rate", "gru_units", "snippet_length", "epochs"}
    assert "val_ccc_mean" in {m.name.tag for m in experiments[0].metric_infos}
    for trial in results["trials"]:
        run_dir = tune_dir / "trials" / trial["trial_id"]
        sessions, _ = _hparams_sessions(run_dir)
        assert len(sessions) == 1, sessions  # trial 2 started as a copy of its parent's run, not of its session
        expected = {k: float(v) for k, v in trial["hyperparameters"].items()}
        assert sessions[0] == pytest.approx({**expected, "epochs": float(trial["epochs"])})
        assert _scalars(run_dir)["val_ccc_mean"] == pytest.approx(trial["val_ccc_mean"], abs=1e-6)


def test_best_flagfile_trains_unchanged_and_reproduces_the_best_trial(killed_search):
    tune_dir, _, _, _ = killed_search
    results = json.loads((tune_dir / "results.json").read_text())
    best = next(t for t in results["trials"] if t["trial_id"] == results["best_trial"])
    flagfile = tune_dir / "best.cfg"
    assert results["best_flagfile"] == str(flagfile)
    assert f"python -m mimamo_tf.train --flagfile={flagfile}" in flagfile.read_text()
    config = config_lib.from_flagfile(str(flagfile))
    assert config.optimization.learning_rate == pytest.approx(best["hyperparameters"]["learning_rate"], rel=1e-12)
    assert config.model.gru_units == best["hyperparameters"]["gru_units"]
    assert config.model.snippet_length == best["hyperparameters"]["snippet_length"]
    # Every epoch (Hyperband's max_epochs is --epochs), into its own model dir.
    assert config.data.window == 8 and config.optimization.epochs == 2
    assert config.runtime.model_dir == str(tune_dir / "best")
    run = _run(sys.executable, "-m", "mimamo_tf.train", f"--flagfile={flagfile}")
    assert run.returncode == 0, run.stderr[-3000:]
    history = json.loads((tune_dir / "best" / "history.json").read_text())
    # Same configuration, same seed: the trial's result again (the trial ran inside the tuner's
    # process after other trials, and maybe as a continuation of an earlier trial's run).
    assert max(e["val_ccc_mean"] for e in history) == pytest.approx(best["val_ccc_mean"], rel=1e-4, abs=1e-6)


def test_rerunning_a_finished_search_runs_no_trial_and_other_settings_are_refused(killed_search):
    from mimamo_tf.tuning import tuner as tuner_lib

    tune_dir, command, _, _ = killed_search
    before = {p: p.stat().st_mtime_ns for p in (tune_dir / "trials").glob("*/history.json")}
    again = _run(*command)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Epoch" not in again.stdout and "Running Trial" not in again.stdout, again.stdout[-2000:]
    assert {p: p.stat().st_mtime_ns for p in (tune_dir / "trials").glob("*/history.json")} == before
    assert len(json.loads((tune_dir / "results.json").read_text())["trials"]) == 3
    # The checks a re-run makes before anything runs: other settings in the same tune_dir are refused.
    base = config_lib.from_flagfile(str(tune_dir / "search.cfg"))
    space = space_lib.build_search_space(base, ["gru_units=8|16,snippet_length=4|8"],
                                         ["learning_rate", "gru_units", "snippet_length"])
    settings = tuner_lib.SearchSettings(str(tune_dir), tuner="hyperband", max_trials=5, hyperband_factor=2)
    tuner_lib.check_search_settings(base, space, settings)  # the same search (more trials): accepted
    with pytest.raises(config_lib.ConfigError, match=re.escape("--window=8 (now 4)")):
        tuner_lib.check_search_settings(config_lib.replace(base, data={"window": 4}), space, settings)
    with pytest.raises(config_lib.ConfigError, match=re.escape('tuner "hyperband" (now "random")')):
        tuner_lib.check_search_settings(base, space, dataclasses.replace(settings, tuner="random"))
    narrower = space_lib.build_search_space(base, ["gru_units=8,snippet_length=4|8"],
                                            ["learning_rate", "gru_units", "snippet_length"])
    with pytest.raises(config_lib.ConfigError, match="search_space"):
        tuner_lib.check_search_settings(base, narrower, settings)


# --- keras-tuner's distributed mode ----------------------------------------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_distributed_search_chief_and_two_workers_run_each_trial_once(data_dir, tmp_path):
    tune_dir = tmp_path / "distributed"
    command = _command(data_dir, tune_dir, "--max_trials=2", "--epochs=1", "--hyperparameters=learning_rate,gru_units",
                       "--search_space=gru_units=8|16")
    cluster = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(_free_port())}
    processes = [_start(command, KERASTUNER_TUNER_ID=tuner_id, **cluster) for tuner_id in ("chief", "tuner0", "tuner1")]
    chief = processes[0]
    try:
        # The workers first: a worker that fails leaves the chief waiting for its trial.
        workers = [p.communicate(timeout=TIMEOUT) for p in processes[1:]]
        for process, (out, err) in zip(processes[1:], workers):
            assert process.returncode == 0, (out[-2000:], err[-3000:])
        # keras-tuner's chief looks for the end of the search every 20 s.
        chief_out, chief_err = chief.communicate(timeout=120)
    finally:
        _stop(processes)
    assert chief.returncode == 0, (chief_out[-2000:], chief_err[-3000:])
    ran = []
    for out, _ in workers:
        match = re.search(r"worker done; it ran trial\(s\) ([\w, ]+)\.", out)
        assert match, out[-2000:]
        ran += [] if match.group(1) == "none" else match.group(1).split(", ")
        # One epoch line per trial this worker trained.
        assert sum(line.startswith("Epoch 1/1") for line in out.splitlines()) == len(match.group(1).split(", "))
    assert sorted(ran) == ["0", "1"]  # every trial ran, and exactly once
    assert "Epoch" not in chief_out  # the chief serves the oracle; it trains nothing
    results = json.loads((tune_dir / "results.json").read_text())
    assert [t["trial_id"] for t in results["trials"]] == ["0", "1"]
    for trial in results["trials"]:
        assert trial["status"] == "COMPLETED" and _oracle_trial(tune_dir, trial["trial_id"])["status"] == "COMPLETED"
        history = _history(tune_dir, trial["trial_id"])
        assert [e["epoch"] for e in history] == [0]
        assert trial["val_ccc_mean"] == pytest.approx(history[0]["val_ccc_mean"], abs=1e-12)
        assert len(_hparams_sessions(tune_dir / "trials" / trial["trial_id"])[0]) == 1
    assert results["trials"][0]["hyperparameters"] != results["trials"][1]["hyperparameters"]
    assert (tune_dir / "best.cfg").is_file() and "rank" in chief_out


# --- Bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "search_space, hyperparameters, message",
    [
        (["lerning_rate=1e-4:1e-2"], None, "--search_space: unknown hyperparameter 'lerning_rate'; the searchable ones "
                                           "are: snippet_length, learning_rate, gru_dropout, gru_units"),
        ([], ["snippet_lenght"], "--hyperparameters: unknown hyperparameter 'snippet_lenght'"),
        (["learning_rate=1e-2:1e-4"], None, "'learning_rate=1e-2:1e-4' is an empty range (min 1e-2 > max 1e-4)"),
        (["snippet_length="], None, "'snippet_length=' is an empty choice"),
        (["snippet_length=18:30"], None, "none of snippet_length's values 4|8|12|16 lies in [18, 30]"),
        (["snippet_length=8|5"], None, "snippet_length must be even and >= 2, got 5"),
        (["window=abc"], None, "'abc' is not an integer"),
        (["learning_rate=0:1e-2"], None, "learning_rate must be > 0, got 0"),
        (["gru_dropout=0.2:1.5"], None, "gru_dropout must be in [0, 1), got 1.5"),
        (["learning_rate"], None, "is not NAME=SPEC"),
        (["gru_units=8", "gru_units=16"], None, "gru_units is given twice"),
        (["gru_units=8"], ["learning_rate"], "narrows gru_units, which --hyperparameters=learning_rate does not search"),
    ],
)
def test_bad_search_space_is_a_clear_error(search_space, hyperparameters, message):
    with pytest.raises(config_lib.ConfigError, match=re.escape(message)):
        space_lib.build_search_space(config_lib.ExperimentConfig(), search_space, hyperparameters)


def test_search_space_narrowing_and_defaults():
    base = config_lib.ExperimentConfig()
    space = space_lib.build_search_space(base, ["snippet_length=8:12,learning_rate=1e-3:1e-2", "window=48"])
    assert space.names == space_lib.NAMES  # declaration order, every entry
    by_name = {h.name: h for h in space.hyperparameters}
    assert by_name["snippet_length"].values == (8, 12)
    assert (by_name["learning_rate"].low, by_name["learning_rate"].high, by_name["learning_rate"].log) == (1e-3, 1e-2, True)
    assert by_name["window"].values == (48,) and by_name["gru_units"].values == (64, 128, 256)
    config = space.apply(base, {"snippet_length": 8, "window": 48, "learning_rate": 0.005})
    assert (config.model.snippet_length, config.data.window, config.optimization.learning_rate) == (8, 48, 0.005)
    # Entries without effect on the base configuration are left out by default and refused by name.
    spatial = config_lib.replace(base, model={"streams": "spatial"})
    assert "snippet_length" not in space_lib.build_search_space(spatial).names
    with pytest.raises(config_lib.ConfigError, match="snippet_length has no effect"):
        space_lib.build_search_space(spatial, [], ["snippet_length"])


def test_cli_exit_code_2_names_the_flag_and_the_valid_names(data_dir, tmp_path):
    run = _run(*_command(data_dir, tmp_path / "bad", "--search_space=lerning_rate=1e-4:1e-2"))
    assert run.returncode == 2, run.stderr[-2000:]
    assert ("configuration error: --search_space: unknown hyperparameter 'lerning_rate'; the searchable ones are: "
            + ", ".join(space_lib.NAMES)) in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "bad").exists()


@pytest.mark.parametrize("tuner", ["random", "bayesian", "hyperband"])
def test_each_tuner_gets_an_oracle_over_the_space(tuner):
    from mimamo_tf.tuning import tuner as tuner_lib

    base = config_lib.ExperimentConfig()
    space = space_lib.build_search_space(base, ["learning_rate=1e-3:1e-2,window=32|64"], ["learning_rate", "window"])
    settings = tuner_lib.SearchSettings("unused", tuner=tuner, max_trials=7)
    if tuner == "bayesian" and importlib.util.find_spec("sklearn") is None:
        # keras-tuner's Gaussian process needs scikit-learn: without it, a clear error.
        with pytest.raises(config_lib.ConfigError, match="--tuner=bayesian needs scikit-learn"):
            tuner_lib.make_oracle(settings, space, base)
        return
    oracle = tuner_lib.make_oracle(settings, space, base)
    assert [hp.name for hp in oracle.hyperparameters.space] == ["learning_rate", "window"]
    assert oracle.objective.name == "val_ccc_mean" and oracle.objective.direction == "max"
    assert oracle.max_trials == 7
    if tuner == "hyperband":
        assert oracle.max_epochs == base.optimization.epochs


def test_tf_config_is_refused_before_anything_is_written(data_dir, tmp_path, monkeypatch):
    from mimamo_tf.tuning import tuner as tuner_lib

    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}))
    base = config_lib.replace(config_lib.ExperimentConfig(), data={"data_dir": str(data_dir)})
    space = space_lib.build_search_space(base, [], ["learning_rate"])
    with pytest.raises(config_lib.ConfigError, match="TF_CONFIG is set"):
        tuner_lib.search(base, space, tuner_lib.SearchSettings(str(tmp_path / "tune")))
    assert not (tmp_path / "tune").exists()

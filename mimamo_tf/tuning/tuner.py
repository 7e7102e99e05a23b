"""``search(base_config, space, settings)``: a keras-tuner search whose trials are training runs.

Each trial is the base ``ExperimentConfig`` with the trial's hyperparameter values put in, trained
by ``mimamo_tf.training.train`` (the same loop, ``tf.distribute`` strategy, checkpoints and outputs
as ``python -m mimamo_tf.train``) into ``<tune_dir>/trials/<trial_id>``. The objective is the trial's
best epoch validation mean CCC (``val_ccc_mean`` of ``history.json``: the exact CCC of all
validation frames), maximised. keras-tuner's oracles (random search, Bayesian optimisation,
Hyperband) choose the values; ``ExperimentTuner`` is a ``keras_tuner.Tuner`` that overrides
``run_trial`` and uses no hypermodel.

``<tune_dir>`` holds:

* ``keras_tuner/`` — the oracle's state and one ``trial_<id>/trial.json`` per trial (keras-tuner's
  own files; re-running the same command reloads them and continues the search);
* ``trials/<id>/`` — each trial's run (``flags.cfg``, ``history.json``, checkpoints, TensorBoard
  logs) and its HParams session (the trial's values and metrics);
* ``results.json`` — every trial (status, hyperparameters, objective, CCCs at the best epoch) and
  the best trial; ``best.cfg`` — the best configuration as a flagfile for ``mimamo_tf.train``;
* ``search.cfg``, ``search.json`` — the search's base configuration and settings: a re-run with
  other settings is refused, naming them (``--max_trials`` may change: a larger value extends the
  search);
* an events file with the HParams experiment (``tensorboard --logdir <tune_dir>``).

Resuming: keras-tuner reloads its oracle; a trial that was running when the process died is given
out again with the same id (keras-tuner puts it back in its retry queue), so it trains in the same
model dir and the trainer continues from its last checkpoint. Finished trials are not run again.

Many machines: keras-tuner's distributed mode, configured by ``KERASTUNER_TUNER_ID`` (``chief``
serves the oracle; ``tuner0``, ``tuner1``, ... run trials), ``KERASTUNER_ORACLE_IP`` and
``KERASTUNER_ORACLE_PORT``. The chief writes ``results.json``/``best.cfg``/the table when the search
ends; ``<tune_dir>`` should be storage every machine sees (the trials' runs land there).
"""

import dataclasses
import gc
import importlib.util
import json
import math
import os
import shutil
import sys
import traceback

import keras
import keras_tuner
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from mimamo_tf import config as config_lib
from mimamo_tf import runs
from mimamo_tf.atomic_files import write_json
from mimamo_tf.config import ConfigError
from mimamo_tf.data.shards import DataError
from mimamo_tf.data.training_data import TrainingData
from mimamo_tf.runs import FLAGS_FILE, HISTORY_FILE
from mimamo_tf.training import train
from mimamo_tf.training.state import has_checkpoint

# The default objective; a search ranks trials by ``runs.selection_key(base_config)`` (the official
# validation mean CCC, or the face-only one with --selection_metric=face_only).
OBJECTIVE = runs.SELECTION_METRIC
# Reported per trial (values of the best epoch).
METRICS = ("val_ccc_mean", "val_ccc_arousal", "val_ccc_valence", "val_ccc_mean_face_only", "best_epoch")
CCC_METRICS = METRICS[:-1]
TUNERS = ("hyperband", "random", "bayesian")
PROJECT = "keras_tuner"
TRIALS = "trials"
RESULTS_FILE = "results.json"
BEST_FLAGFILE = "best.cfg"
BEST_RUN = "best"
SEARCH_FLAGFILE = "search.cfg"
SEARCH_FILE = "search.json"
# Config fields a re-run may change without changing what the trials compute.
RESUMABLE_CHANGES = ("model_dir", "checkpoint_every_steps")


@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """How to search (the space is a ``SearchSpace``).

    Attributes:
        tune_dir: where everything is written (see the module docstring).
        tuner: ``"random"``, ``"bayesian"`` or ``"hyperband"``.
        max_trials: trials at most (Hyperband stops earlier when its brackets are done).
        seed: the oracle's seed (>= 1), so a search is repeatable.
        hyperband_factor, hyperband_iterations: Hyperband's reduction factor and sweeps; its
            ``max_epochs`` is the base configuration's ``--epochs``.
    """

    tune_dir: str
    tuner: str = "random"
    max_trials: int = 10
    seed: int = 1
    hyperband_factor: int = 3
    hyperband_iterations: int = 1

    def validate(self):
        if not self.tune_dir:
            raise ConfigError("--tune_dir is required")
        if self.tuner not in TUNERS:
            raise ConfigError(f"--tuner must be one of {', '.join(TUNERS)}; got {self.tuner!r}")
        if self.max_trials < 1:
            raise ConfigError(f"--max_trials must be >= 1, got {self.max_trials}")
        if self.seed < 1:
            raise ConfigError(f"--search_seed must be >= 1, got {self.seed}")
        if self.tuner == "hyperband" and (self.hyperband_factor < 2 or self.hyperband_iterations < 1):
            raise ConfigError("--hyperband_factor must be >= 2 and --hyperband_iterations >= 1; got "
                              f"{self.hyperband_factor}, {self.hyperband_iterations}")
        return self


def process_role():
    """``"single"``, or in keras-tuner's distributed mode ``"chief"`` (serves the oracle) or
    ``"worker"`` (runs trials), as its ``KERASTUNER_*`` environment variables say."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    for name in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
        if not os.environ.get(name):
            raise ConfigError(f"KERASTUNER_ORACLE_IP is set but {name} is not: distributed tuning needs "
                              "KERASTUNER_TUNER_ID (chief, tuner0, tuner1, ...), KERASTUNER_ORACLE_IP and "
                              "KERASTUNER_ORACLE_PORT")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


def trial_dir(tune_dir, trial_id):
    return os.path.join(tune_dir, TRIALS, str(trial_id))


def trial_config(base_config, space, values, tune_dir, trial_id):
    """The ``ExperimentConfig`` of a trial: the base with its values, trained into its own dir.

    ``values`` are the trial's keras-tuner values; Hyperband's ``tuner/epochs`` sets ``--epochs``.
    """
    config = space.apply(base_config, values)
    config = config_lib.replace(config, runtime={"model_dir": trial_dir(tune_dir, trial_id)})
    if "tuner/epochs" in values:
        config = config_lib.replace(config, optimization={"epochs": int(values["tuner/epochs"])})
    return config


def make_oracle(settings, space, base_config):
    """The keras-tuner oracle of ``settings.tuner`` over ``space``."""
    common = dict(
        objective=keras_tuner.Objective(runs.selection_key(base_config), "max"),
        hyperparameters=space.keras_tuner_hyperparameters(),
        allow_new_entries=False,
        tune_new_entries=False,
        seed=settings.seed,
    )
    if settings.tuner == "random":
        return keras_tuner.oracles.RandomSearchOracle(max_trials=settings.max_trials, **common)
    if settings.tuner == "bayesian":
        if importlib.util.find_spec("sklearn") is None:  # keras-tuner's Gaussian process
            raise ConfigError("--tuner=bayesian needs scikit-learn (pip install scikit-learn, or "
                              "keras-tuner[bayesian])")
        return keras_tuner.oracles.BayesianOptimizationOracle(max_trials=settings.max_trials, **common)
    oracle = keras_tuner.oracles.HyperbandOracle(
        max_epochs=base_config.optimization.epochs, factor=settings.hyperband_factor,
        hyperband_iterations=settings.hyperband_iterations, **common)
    # HyperbandOracle takes no max_trials argument; Oracle.max_trials (a documented Oracle
    # argument, checked by Oracle.create_trial) caps it as --max_trials promises.
    oracle.max_trials = settings.max_trials
    return oracle


def _continue_from_parent(parent_dir, model_dir):
    """A Hyperband trial that continues a trial of the previous round starts as a copy of that
    trial's run (checkpoints, history, logs): the trainer then resumes it and trains on to the
    trial's ``--epochs``. Nothing is copied when the trial has started already (a resumed trial)
    or the parent's run is not reachable (another machine's disk): then it trains from scratch."""
    if has_checkpoint(model_dir) or os.path.exists(os.path.join(model_dir, HISTORY_FILE)):
        return False
    if not (has_checkpoint(parent_dir) and os.path.isfile(os.path.join(parent_dir, FLAGS_FILE))):
        return False
    partial = model_dir.rstrip(os.sep) + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    for name in ("checkpoints", "logs"):
        if os.path.isdir(os.path.join(parent_dir, name)):
            shutil.copytree(os.path.join(parent_dir, name), os.path.join(partial, name))
    if os.path.isfile(os.path.join(parent_dir, HISTORY_FILE)):
        shutil.copy(os.path.join(parent_dir, HISTORY_FILE), os.path.join(partial, HISTORY_FILE))
    # The run's resolved flags, now naming this model dir (the trainer refuses a model dir whose
    # flags.cfg names other settings; --epochs may differ).
    parent = config_lib.from_flagfile(os.path.join(parent_dir, FLAGS_FILE))
    config_lib.to_flagfile(config_lib.replace(parent, runtime={"model_dir": model_dir}),
                           os.path.join(partial, FLAGS_FILE),
                           header=f"Resolved flags of this run (continued from {parent_dir}): "
                                  f"python -m mimamo_tf.train --flagfile={os.path.join(model_dir, FLAGS_FILE)}")
    if os.path.isdir(model_dir):
        shutil.rmtree(model_dir)  # nothing of a run in it (checked above)
    os.replace(partial, model_dir)
    return True


# --- TensorBoard HParams ---------------------------------------------------------------------


def _hparams(space, hyperband):
    hparams = space.tensorboard_hparams()
    if hyperband:
        hparams["epochs"] = hparams_api.HParam("epochs", hparams_api.IntInterval(1, 1 << 30))
    return hparams


def write_hparams_experiment(tune_dir, space, hyperband=False):
    """The HParams dashboard's experiment (hyperparameters and metrics) in ``tune_dir``'s own events file."""
    if any(name.startswith("events.out.tfevents") for name in os.listdir(tune_dir)):
        return  # written when the search started (a continued search has the same space)
    metrics = [
        hparams_api.Metric("val_ccc_mean", display_name="validation mean CCC (best epoch; the default objective)"),
        hparams_api.Metric("val_ccc_mean_face_only", display_name="validation mean CCC of face frames (best epoch)"),
        hparams_api.Metric("val_ccc_arousal", display_name="validation arousal CCC (best epoch)"),
        hparams_api.Metric("val_ccc_valence", display_name="validation valence CCC (best epoch)"),
        hparams_api.Metric("epoch_ccc_mean", group=os.path.join("logs", "validation"),
                           display_name="validation mean CCC (last epoch)"),
    ]
    writer = tf.summary.create_file_writer(tune_dir)
    with writer.as_default():
        hparams_api.hparams_config(hparams=list(_hparams(space, hyperband).values()), metrics=metrics)
    writer.close()


def write_hparams_session(model_dir, space, values, metrics, trial_id):
    """One HParams session per trial, in its run's directory: its values and its metrics."""
    hyperband = "tuner/epochs" in values
    hparams = _hparams(space, hyperband)
    session = {hparams[h.name]: h.value_type(values[h.name]) for h in space.hyperparameters}
    if hyperband:
        session[hparams["epochs"]] = int(values["tuner/epochs"])
    writer = tf.summary.create_file_writer(model_dir)
    with writer.as_default():
        hparams_api.hparams(session, trial_id=str(trial_id))
        for name in CCC_METRICS:
            tf.summary.scalar(name, metrics[name], step=0)
    writer.close()


# --- The tuner ---------------------------------------------------------------------------------


class ExperimentTuner(keras_tuner.Tuner):
    """A ``keras_tuner.Tuner`` whose trials are ``mimamo_tf.training.train`` runs.

    Args:
        oracle: a keras-tuner oracle (``make_oracle``).
        base_config: the ``ExperimentConfig`` every trial starts from.
        space: the ``SearchSpace``.
        settings: the ``SearchSettings`` (``tune_dir``).
        verbose: the trainer's epoch lines and the oracle's trial tables.

    Attributes:
        ran: ids of the trials this process trained (in order).
    """

    def __init__(self, oracle, base_config, space, settings, verbose=True):
        self.base_config = base_config
        self.space = space
        self.settings = settings
        self.verbose = verbose
        self.ran = []
        super().__init__(oracle=oracle, directory=settings.tune_dir, project_name=PROJECT, overwrite=False)

    def run_trial(self, trial, *args, **kwargs):
        values = trial.hyperparameters.values
        tune_dir = self.settings.tune_dir
        config = trial_config(self.base_config, self.space, values, tune_dir, trial.trial_id)
        model_dir = config.runtime.model_dir
        if self.verbose:
            shown = ", ".join(f"{name}={_format(values[name])}" for name in self.space.names)
            print(f"Trial id {trial.trial_id} ({shown}) trains into {model_dir}", flush=True)
        if values.get("tuner/trial_id"):
            _continue_from_parent(trial_dir(tune_dir, values["tuner/trial_id"]), model_dir)
        # Trials run one after another in this process: drop the previous trial's graphs and layers.
        keras.backend.clear_session()
        gc.collect()
        try:
            history = train(config, verbose=self.verbose)
        except ConfigError as error:
            # This trial's values cannot work (another trial's may): the trial fails, the search goes on.
            print(f"Trial id {trial.trial_id} failed: configuration error: {error}", file=sys.stderr, flush=True)
            raise keras_tuner.errors.FailedTrialError(f"configuration error: {error}") from error
        except DataError as error:
            # Every trial reads the same data: stop the search (the trial stays RUNNING, so the
            # same command continues it once the data is fixed).
            raise keras_tuner.errors.FatalError(f"data error: {error}") from error
        except Exception:
            # keras-tuner keeps the traceback only in the trial's trial.json: show it here too.
            traceback.print_exc()
            raise
        finally:
            keras.backend.clear_session()
            gc.collect()
        best = runs.best_epoch(history, runs.selection_key(config))
        if best is None:
            raise keras_tuner.errors.FailedTrialError(f"trial {trial.trial_id}: no finite validation mean CCC")
        metrics = {name: float(best[name]) for name in CCC_METRICS}
        metrics["best_epoch"] = int(best["epoch"]) + 1
        write_hparams_session(model_dir, self.space, values, metrics, trial.trial_id)
        self.ran.append(trial.trial_id)
        return metrics

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if process_role() == "single":
            # Results so far, after every trial (the chief writes them when the search ends).
            write_results(self.oracle, self.base_config, self.space, self.settings)


# --- Settings of a search, and its results -------------------------------------------------------


def _settings_record(settings, space):
    record = {"tuner": settings.tuner, "search_space": space.to_json(), "search_seed": settings.seed}
    if settings.tuner == "hyperband":
        record.update(hyperband_factor=settings.hyperband_factor, hyperband_iterations=settings.hyperband_iterations)
    return record


def check_search_settings(base_config, space, settings, record=True):
    """Refuses to continue the search in ``tune_dir`` with other settings (naming them); records
    the settings of a new search (``search.cfg``, ``search.json``) when ``record``."""
    tune_dir = settings.tune_dir
    flagfile, settings_file = os.path.join(tune_dir, SEARCH_FLAGFILE), os.path.join(tune_dir, SEARCH_FILE)
    current = _settings_record(settings, space)
    base = config_lib.replace(base_config, runtime={"model_dir": None})
    if os.path.isfile(flagfile) and os.path.isfile(settings_file):
        previous_config = config_lib.from_flagfile(flagfile)
        previous = json.load(open(settings_file))
        # The searched fields' base values are never used; --max_trials may change.
        differing = config_lib.differing_flags(previous_config, base, ignore=space.names + RESUMABLE_CHANGES)
        old, new = config_lib.flag_values_of(previous_config), config_lib.flag_values_of(base)
        changes = [f"--{name}={old[name]!r} (now {new[name]!r})" for name in differing]
        for key in sorted(set(previous) | set(current)):
            if previous.get(key) != current.get(key):
                changes.append(f"{key} {json.dumps(previous.get(key))} (now {json.dumps(current.get(key))})")
        if changes:
            raise ConfigError(
                f"--tune_dir={tune_dir} holds a search with other settings: {'; '.join(changes)}. Continue it "
                f"with its own settings (--flagfile={flagfile} and the same --tuner/--search_space/"
                "--hyperparameters) or search into another --tune_dir.")
        return
    if record:
        config_lib.to_flagfile(base, flagfile, header=(
            f"Base configuration of the hyperparameter search in {tune_dir} (mimamo_tf.tune); every trial is "
            f"this with its own values of: {', '.join(space.names)}"))
        write_json(os.path.join(tune_dir, SEARCH_FILE), current)


def _trial_sort_key(trial_id):
    return (int(trial_id), trial_id) if str(trial_id).isdigit() else (math.inf, str(trial_id))


def _json_number(value):
    return value if value is None or math.isfinite(value) else None


def collect_results(oracle, space, settings):
    """``results.json``'s content from the oracle's trials (metrics as the trials reported them)."""
    trials = []
    for trial_id in sorted(oracle.trials, key=_trial_sort_key):
        trial = oracle.trials[trial_id]
        values = trial.hyperparameters.values
        entry = {"trial_id": trial_id, "status": trial.status,
                 "hyperparameters": {name: values[name] for name in space.names if name in values}}
        for name in METRICS:
            value = trial.metrics.get_last_value(name) if trial.metrics.exists(name) else None
            entry[name] = None if value is None else (int(value) if name == "best_epoch" else _json_number(float(value)))
        if "tuner/epochs" in values:
            entry["epochs"] = int(values["tuner/epochs"])
            entry["continued_from"] = values.get("tuner/trial_id")
        entry["model_dir"] = trial_dir(settings.tune_dir, trial_id)
        if trial.status != "COMPLETED" and trial.message:
            entry["message"] = trial.message.strip().splitlines()[-1]
        trials.append(entry)
    objective = oracle.objective.name
    completed = [t for t in trials if t["status"] == "COMPLETED" and t[objective] is not None]
    best = max(completed, key=lambda t: t[objective]) if completed else None  # the first of ties
    return {
        "objective": {"name": objective, "direction": "max",
                      "description": "validation mean CCC of the trial's best epoch"
                                     + (" (face-only frames)" if objective != OBJECTIVE else "")},
        "tuner": settings.tuner,
        "max_trials": settings.max_trials,
        "search_space": space.to_json(),
        "best_trial": best["trial_id"] if best else None,
        "best_flagfile": os.path.join(settings.tune_dir, BEST_FLAGFILE) if best else None,
        "trials": trials,
    }


def best_config(base_config, space, settings, best):
    """The best trial's configuration as a fresh run: full ``--epochs``, model dir ``<tune_dir>/best``."""
    config = space.apply(base_config, best["hyperparameters"])
    return config_lib.replace(config, runtime={"model_dir": os.path.join(settings.tune_dir, BEST_RUN)})


def write_results(oracle, base_config, space, settings):
    """Writes ``results.json`` and (once a trial completed) ``best.cfg``; returns the results."""
    results = collect_results(oracle, space, settings)
    best = next((t for t in results["trials"] if t["trial_id"] == results["best_trial"]), None)
    if best:
        path = results["best_flagfile"]
        values = ", ".join(f"{name}={value}" for name, value in best["hyperparameters"].items())
        config_lib.to_flagfile(best_config(base_config, space, settings, best), path, header="\n".join([
            f"The best configuration of the hyperparameter search in {settings.tune_dir} (python -m mimamo_tf.tune):",
            f"trial {best['trial_id']}, validation mean CCC {best[results['objective']['name']]:.4f} at epoch {best['best_epoch']}; {values}.",
            "Train it from scratch with every epoch (--model_dir below; flags after --flagfile override it):",
            f"  python -m mimamo_tf.train --flagfile={path}",
            f"The trial's own run (checkpoints/best.keras, history.json) is {best['model_dir']}.",
        ]))
    write_json(os.path.join(settings.tune_dir, RESULTS_FILE), results)
    return results


def _format(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def results_table(results):
    """The results as a text table, best trial first."""
    trials = results["trials"]
    objective = results["objective"]["name"]
    names = [h["name"] for h in results["search_space"]]
    hyperband = any("epochs" in t for t in trials)
    header = ["rank", "trial", "status", "val CCC mean", "arousal", "valence", "best epoch", *names]
    if hyperband:
        header += ["epochs", "continues"]

    def order(t):
        done = t["status"] == "COMPLETED" and t[objective] is not None
        return (0 if done else 1, -(t[objective] or 0.0) if done else 0.0, _trial_sort_key(t["trial_id"]))

    rows = []
    for rank, t in enumerate(sorted(trials, key=order), 1):
        done = t["status"] == "COMPLETED" and t[objective] is not None
        row = [str(rank) if done else "-", t["trial_id"], t["status"],
               f"{t[objective]:.4f}" if t[objective] is not None else "-",
               f"{t['val_ccc_arousal']:.4f}" if t["val_ccc_arousal"] is not None else "-",
               f"{t['val_ccc_valence']:.4f}" if t["val_ccc_valence"] is not None else "-",
               _format(t["best_epoch"])]
        row += [_format(t["hyperparameters"].get(name)) for name in names]
        if hyperband:
            row += [_format(t.get("epochs")), _format(t.get("continued_from"))]
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in [header, *rows]]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


# --- The search --------------------------------------------------------------------------------


@dataclasses.dataclass
class SearchOutcome:
    """What ``search`` returns: ``results`` (None on a distributed worker, whose chief writes them)
    and ``ran``, the trial ids this process trained."""

    role: str
    results: dict
    ran: list


def search(base_config, space, settings, verbose=True):
    """Runs the search, or continues the one in ``settings.tune_dir``.

    Args:
        base_config: the ``ExperimentConfig`` every trial starts from (its ``model_dir`` is unused).
        space: the ``SearchSpace`` (``search_space.build_search_space``).
        settings: the ``SearchSettings``.
        verbose: the trainer's epoch lines and keras-tuner's trial tables.

    Returns:
        A ``SearchOutcome``.

    Raises:
        ConfigError: settings that cannot work, TF_CONFIG set, or a tune_dir holding a search with
            other settings.
        mimamo_tf.data.shards.DataError: the data cannot feed the base configuration (before any trial).
        keras_tuner.errors.FatalError: the data failed in a trial (the message names the file).
        RuntimeError: keras-tuner stopped the search after 3 consecutive failed trials.
    """
    settings.validate()
    config_lib.validate(config_lib.replace(base_config, runtime={"model_dir": None}), require_model_dir=False)
    if not space.hyperparameters:
        raise ConfigError("the search space is empty: nothing to search")
    if os.environ.get("TF_CONFIG"):
        # A trial is one training run inside this process; MultiWorkerMirroredStrategy (TF_CONFIG)
        # is configured once per process, so trials cannot each be a multi-worker run here.
        raise ConfigError("TF_CONFIG is set: a search's trials train on this machine's devices "
                          "(MirroredStrategy); spread a search over machines with keras-tuner's workers "
                          "(KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT) instead")
    role = process_role()
    if role != "chief":
        # The trainer's own check of the shards, once before any trial (and before a new search
        # records its settings): a wrong --data_dir fails here, not in every trial.

        TrainingData(base_config)
    os.makedirs(settings.tune_dir, exist_ok=True)
    check_search_settings(base_config, space, settings, record=role != "worker")
    tuner = ExperimentTuner(make_oracle(settings, space, base_config), base_config, space, settings, verbose)
    if role != "worker":
        write_hparams_experiment(settings.tune_dir, space, hyperband=settings.tuner == "hyperband")
    tuner.search(verbose=1 if verbose else 0)
    if role == "worker":
        return SearchOutcome(role, None, tuner.ran)
    return SearchOutcome(role, write_results(tuner.oracle, base_config, space, settings), tuner.ran)

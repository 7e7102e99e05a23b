"""Cells: the unit of work of a study, cached on disk so a study can be stopped and re-run.

A study is a list of named cells. A cell is finished when its result JSON exists; the JSON is
written atomically (a temporary file and ``os.replace``), so a killed study never leaves a half
result, and re-running the same command skips every finished cell. A training cell trains into
``<output_dir>/runs/<cell>``; if it was killed mid-training, the trainer's own checkpoints resume it.

Files of a training cell ``<output_dir>/runs/<cell>/``: the trainer's outputs (``flags.cfg``,
``checkpoints/``, ``history.json``, ``logs/``; see ``mimamo_tf.runs``), ``eval_<split>/metrics.json``
(``mimamo_tf.evaluation``)
when the cell is evaluated on a split, and ``cell.json`` (its result; written last).
"""

import hashlib
import json
import os
import time

from mimamo_tf import config as config_lib
from mimamo_tf import runs
from mimamo_tf.atomic_files import write_json
from mimamo_tf.config import ConfigError
from mimamo_tf.evaluation import evaluate, METRICS_FILE
from mimamo_tf.training import train

RUNS = "runs"
CELL_FILE = "cell.json"
# A two-stage cell's record of the checkpoints that initialised it (written before it trains).
PARENTS_FILE = "parents.json"


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def cached(path, compute, log=None, label=None):
    """The result JSON at ``path``; computed by ``compute()`` (a dict) and written if absent.

    Returns:
        ``(result, computed)``: ``computed`` is False when the cell was already finished.
    """
    if os.path.isfile(path):
        if log:
            log(f"{label or path}: finished earlier, not recomputed ({path})")
        return read_json(path), False
    start = time.perf_counter()
    result = compute()
    result.setdefault("seconds", time.perf_counter() - start)
    write_json(path, result)
    if log:
        log(f"{label or path}: done in {result['seconds']:.0f} s")
    return result, True


def run_dir(output_dir, cell):
    return os.path.join(output_dir, RUNS, cell)


def _check_same_settings(previous_flags, config, path):
    """A finished cell is reused only for the same experiment; names the flags that differ."""
    current = config_lib.flag_values_of(config)
    differing = [name for name in config_lib.FLAG_NAMES
                 if name in previous_flags and name not in ("model_dir", "data_dir", "spatial_feature_dim")
                 and not config_lib.same_flag_value(name, previous_flags[name], current[name])]
    if previous_flags.get("data_dir") and config.data.data_dir and (
            os.path.abspath(previous_flags["data_dir"]) != os.path.abspath(config.data.data_dir)):
        differing.append("data_dir")
    if differing:
        changes = ", ".join(f"--{n}={previous_flags.get(n)!r} (now {current[n]!r})" for n in differing)
        raise ConfigError(f"{path} is a finished cell with other settings: {changes}. "
                          "Use another --output_dir for a study with other settings.")


def file_sha256(path):
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _check_parents(model_dir, cell, parents):
    """Records the parents' checkpoint hashes before a two-stage cell trains; refuses a cell whose
    parents changed since (it started from other weights than they now hold)."""
    missing = [path for path in parents.values() if not os.path.isfile(path)]
    if missing:
        raise ConfigError(f"{cell}: parent checkpoint {missing[0]} does not exist (train the parent cell first)")
    current = {stream: {"checkpoint": path, "sha256": file_sha256(path)} for stream, path in parents.items()}
    path = os.path.join(model_dir, PARENTS_FILE)
    if os.path.isfile(path):
        recorded = read_json(path)
        changed = [stream for stream in current if recorded.get(stream, {}).get("sha256") != current[stream]["sha256"]]
        if changed:
            names = ", ".join(f"{stream} ({current[stream]['checkpoint']})" for stream in changed)
            raise ConfigError(
                f"{cell} was initialised from other weights than its parents now hold: {names} changed since "
                f"it started. Delete {model_dir} to retrain it from the new parents.")
        return recorded
    write_json(path, current)
    return current


def train_cell(config, output_dir, cell, evaluate_split=None, checkpoint="best", verbose=True, log=None,
               parents=None):
    """Trains ``config`` into ``<output_dir>/runs/<cell>`` (resuming a killed run) unless finished.

    Args:
        config: the cell's ``ExperimentConfig`` (its ``model_dir`` is set here).
        output_dir: the study's output directory.
        cell: the cell's name (a directory name).
        evaluate_split: evaluate the ``checkpoint`` on this split with ``mimamo_tf.evaluation``
            (its ``metrics.json`` goes to ``runs/<cell>/eval_<split>``); None: no evaluation (the
            cell's CCC is the held-out validation CCC of the training history).
        checkpoint: passed to ``evaluate`` (``config.data.eval_batch_size`` windows per batch).
        verbose: the trainer's per-epoch lines.
        log: a function taking progress lines.
        parents: ``{stream: .keras path}`` of a two-stage cell (the checkpoints its config
            initialises from): their hashes are recorded, and a cell whose parents changed since it
            started is refused (``ConfigError``).

    Returns:
        ``(result, computed)``; ``result`` holds ``cell``, ``parents`` (the recorded hashes, or
        None), ``flags`` (the resolved training flags),
        ``best_epoch`` (``runs.best_epoch``: the history entry ``best.keras`` holds),
        ``epochs``, ``train_seconds`` and, when evaluated, ``metrics`` (``ccc_arousal``,
        ``ccc_valence``, ``ccc_mean``, ``frames``, ``videos``) and ``metrics_file``.
    """
    model_dir = run_dir(output_dir, cell)
    config = config_lib.replace(config, runtime={"model_dir": model_dir})
    path = os.path.join(model_dir, CELL_FILE)
    if os.path.isfile(path):
        _check_same_settings(read_json(path)["flags"], config, path)
    recorded_parents = None
    if parents:
        os.makedirs(model_dir, exist_ok=True)
        recorded_parents = _check_parents(model_dir, cell, parents)

    def compute():
        if log:
            log(f"{cell}: training into {model_dir}")
        start = time.perf_counter()
        history = train(config, verbose=verbose)
        train_seconds = time.perf_counter() - start
        if not history:
            raise RuntimeError(f"{cell}: training produced no epochs")
        key = runs.selection_key(config)
        best = runs.best_epoch(history, key)
        if best is None:
            raise RuntimeError(f"{cell}: no epoch has a finite validation {key}")
        resolved = runs.read_config(model_dir)
        result = {"cell": cell, "parents": recorded_parents,
                  "flags": _jsonable(config_lib.flag_values_of(resolved)), "epochs": runs.trained_epochs(history),
                  "best_epoch": best, "last_epoch": history[-1], "train_seconds": train_seconds}
        if evaluate_split:
            metrics, metrics_dir = evaluate_run(resolved, evaluate_split, checkpoint, 0.0,
                                                runs.evaluation_dir(model_dir, evaluate_split))
            result["metrics"] = _summary(metrics)
            result["metrics_file"] = metrics_file(metrics_dir)
        return result

    return cached(path, compute, log, label=cell)


def evaluate_cell(config, output_dir, cell, name, split="validation", checkpoint="best", gamma_beta=0.0, log=None,
                  fold=None):
    """Evaluates the trained run of cell ``cell`` once (``runs/<cell>/<name>/``), cached.

    Args:
        fold: score only the videos this cross-validation fold holds out of ``split``.

    Returns:
        ``(result, computed)``; ``result`` holds the ``metrics`` summary, ``gamma_beta``, ``fold`` and
        ``metrics_file``.
    """
    model_dir = run_dir(output_dir, cell)
    config = config_lib.replace(config, runtime={"model_dir": model_dir})
    out = os.path.join(model_dir, name)

    def compute():
        metrics, metrics_dir = evaluate_run(config, split, checkpoint, gamma_beta, out, fold)
        return {"cell": cell, "evaluation": name, "gamma_beta": gamma_beta, "split": split, "fold": fold,
                "metrics": _summary(metrics), "metrics_file": metrics_file(metrics_dir)}

    return cached(os.path.join(out, CELL_FILE), compute, log, label=f"{cell}/{name}")


def evaluate_run(config, split, checkpoint, gamma_beta, output_dir, fold=None):
    """``mimamo_tf.evaluation.evaluate`` (imported here: it imports TensorFlow)."""
    return evaluate(config, split=split, checkpoint=checkpoint, gamma_beta=gamma_beta, output_dir=output_dir,
                    fold=fold)


def metrics_file(metrics_dir):
    return os.path.join(metrics_dir, METRICS_FILE)


def _summary(metrics):
    keys = ("ccc_arousal", "ccc_valence", "ccc_mean", "ccc_arousal_face_only", "ccc_valence_face_only",
            "ccc_mean_face_only", "frames", "frames_with_face", "videos", "checkpoint", "split", "gamma_beta",
            "fold", "videos_without_face", "selected_on", "selected_on_scored_data")
    return {k: metrics[k] for k in keys if k in metrics}


def _jsonable(values):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}

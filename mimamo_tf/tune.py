"""``python -m mimamo_tf.tune --flagfile=configs/affwild2.cfg --data_dir=DATA --tune_dir=runs/tune
--tuner=hyperband|random|bayesian --max_trials=N``: hyperparameter search over the experiment config.

Each trial trains the flagfile's configuration with the trial's hyperparameter values (the trainer
of ``mimamo_tf.train``) into ``<tune_dir>/trials/<trial_id>``; the objective is the validation mean
CCC of the trial's best epoch, maximised. At the end a table is printed and ``<tune_dir>`` holds
``results.json`` and ``best.cfg`` (``python -m mimamo_tf.train --flagfile=<tune_dir>/best.cfg``
trains the best configuration); ``tensorboard --logdir <tune_dir>`` shows the trials in its HParams
dashboard. Re-running the same command continues the search: finished trials are not run again and
a trial killed mid-way resumes from its checkpoint.

The space (``--search_space`` narrows it, ``--hyperparameters`` picks entries): see
``mimamo_tf.tuning.search_space``. Many machines: keras-tuner's distributed mode — the same command
on every machine with ``KERASTUNER_TUNER_ID=chief`` (serves the oracle, writes the results) or
``tuner0``, ``tuner1``, ... (run trials), ``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT``
(the chief's address), and a ``--tune_dir`` every machine sees.

Exit code 2: the configuration, the search space or the data cannot work (the message names the
flag or the file).
"""

import sys

import keras_tuner
from absl import flags

from mimamo_tf import config as config_lib
from mimamo_tf.command_line import EXIT_SOME_FAILED, run_command
from mimamo_tf.tuning import search_space as space_lib, tuner as tuner_lib


def define_flags(flag_values):
    config_lib.define_flags(flag_values)
    fv = dict(flag_values=flag_values)
    flags.DEFINE_string("tune_dir", None, "Where the search writes: keras-tuner's state, trials/<id> (each trial's "
                        "run; --model_dir is not used), results.json, best.cfg, TensorBoard HParams.", **fv)
    flags.DEFINE_enum("tuner", "random", ["hyperband", "random", "bayesian"],
                      "keras-tuner oracle: random search, Bayesian optimisation (Gaussian process) or Hyperband "
                      "(max_epochs = --epochs; later rounds continue a previous trial's run).", **fv)
    flags.DEFINE_integer("max_trials", 10, "Trials at most (a larger value on a re-run extends the search).", **fv)
    flags.DEFINE_multi_string(
        "search_space", [],
        "Narrows the space: NAME=a|b|c (these values), NAME=lo:hi (a continuous range; for a discrete entry its "
        "declared values in [lo, hi]) or NAME=a (fixed); comma-separated or repeated. The declared space:\n"
        + space_lib.space_help(), **fv)
    flags.DEFINE_list("hyperparameters", [], "Which entries of the space to search (default: every one that has an "
                      f"effect with the flagfile's configuration); the others keep the flagfile's values. "
                      f"Names: {', '.join(space_lib.NAMES)}.", **fv)
    flags.DEFINE_integer("search_seed", 1, "Seed of the oracle (>= 1): the same command proposes the same trials.", **fv)
    flags.DEFINE_integer("hyperband_factor", 3, "Hyperband's reduction factor.", **fv)
    flags.DEFINE_integer("hyperband_iterations", 1, "Hyperband's sweeps over its brackets.", **fv)


def main(flag_values):
    config = config_lib.from_flags(flag_values)
    if config.runtime.model_dir:
        print(f"mimamo_tf.tune: --model_dir={config.runtime.model_dir} is not used: each trial trains into "
              "<tune_dir>/trials/<trial_id>", file=sys.stderr)
    settings = tuner_lib.SearchSettings(
        tune_dir=flag_values.tune_dir, tuner=flag_values.tuner, max_trials=flag_values.max_trials, seed=flag_values.search_seed,
        hyperband_factor=flag_values.hyperband_factor, hyperband_iterations=flag_values.hyperband_iterations).validate()
    space = space_lib.build_search_space(config, flag_values.search_space, flag_values.hyperparameters)
    try:
        outcome = tuner_lib.search(config, space, settings)
    except RuntimeError as error:
        # keras-tuner stops the search after --max_consecutive_failed_trials (3) failed trials.
        print(f"mimamo_tf.tune: the search stopped: {error}", file=sys.stderr)
        return EXIT_SOME_FAILED
    if outcome.role == "worker":
        print(f"mimamo_tf.tune: worker done; it ran trial(s) {', '.join(outcome.ran) or 'none'}. The chief prints the "
              f"table and writes {settings.tune_dir}/results.json.")
        return 0
    results = outcome.results
    done = sum(t["status"] == "COMPLETED" for t in results["trials"])
    print(f"\nHyperparameter search in {settings.tune_dir} ({settings.tuner}): {done} of {len(results['trials'])} "
          f"trials completed; objective: validation mean CCC of the best epoch (max). Space: {space.describe()}")
    print(tuner_lib.results_table(results))
    print(f"Results: {settings.tune_dir}/{tuner_lib.RESULTS_FILE}")
    if results["best_trial"] is not None:
        print(f"Best: trial {results['best_trial']}; train it with: python -m mimamo_tf.train "
              f"--flagfile={results['best_flagfile']}")
    print(f"TensorBoard HParams: tensorboard --logdir {settings.tune_dir}")
    return 0


def run():
    run_command("tune", main, define_flags, __doc__, extra_errors=(keras_tuner.errors.FatalError,))


if __name__ == "__main__":
    run()

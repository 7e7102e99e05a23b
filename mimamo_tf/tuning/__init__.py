"""Hyperparameter search as a library: keras-tuner oracles over ``ExperimentConfig`` fields, each
trial a ``mimamo_tf.training.train`` run.

Modules: ``search_space`` (the one declaration of the space, its narrowing and checks; pure Python),
``tuner`` (the keras-tuner ``Tuner`` subclass, results, the best flagfile, HParams).

Example:
    >>> space = build_search_space(config, ["learning_rate=1e-4:1e-2"])
    >>> outcome = search(config, space, SearchSettings(tune_dir="runs/tune", tuner="bayesian", max_trials=20))
    >>> outcome.results["best_trial"]
"""

from mimamo_tf.tuning.search_space import NAMES, SEARCH_SPACE, SearchSpace, build_search_space
from mimamo_tf.tuning.tuner import TUNERS, SearchSettings, search

__all__ = ["NAMES", "SEARCH_SPACE", "SearchSpace", "build_search_space", "TUNERS", "SearchSettings", "search"]

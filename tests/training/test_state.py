"""Early stopping on fabricated validation curves: the run stops right after ``patience`` epochs in
a row without a new best, remembers the best value and epoch, and never takes NaN for a best."""

import math

import pytest

from mimamo_tf.training.state import TrainingState


def _reference(values, patience):
    """The rule, spelled out: (epoch that stops the run or None, best, best_epoch, improved flags)."""
    best, best_epoch, since_best, improved = -math.inf, -1, 0, []
    for epoch, value in enumerate(values):
        better = not math.isnan(value) and value > best
        improved.append(better)
        if better:
            best, best_epoch, since_best = value, epoch, 0
        else:
            since_best += 1
        if patience and since_best == patience:
            return epoch, best, best_epoch, improved
    return None, best, best_epoch, improved


def _run(values, patience):
    """Feeds the values epoch by epoch as the trainer does, until the state says stop."""
    state = TrainingState()
    improved = []
    for epoch, value in enumerate(values):
        improved.append(state.update_early_stopping(epoch, value, patience))
        if bool(state.stopped):
            return epoch, float(state.best), int(state.best_epoch), improved
    return None, float(state.best), int(state.best_epoch), improved


CURVES = {
    # epochs without improvement after the best at epoch 1: 2, 3, 4, ...
    "plateau": [0.1, 0.3, 0.2, 0.25, 0.3, 0.1, 0.05, 0.0],
    # a new best resets the count: 2 bad, best, 3 bad, best, then bad ones
    "reset": [0.2, 0.1, 0.15, 0.4, 0.3, 0.35, 0.39, 0.5, 0.1, 0.2, 0.3, 0.4],
    # NaN is never an improvement, not even as the first value, and counts as a bad epoch
    "nan": [float("nan"), 0.1, float("nan"), float("nan"), 0.05, float("nan"), 0.2, 0.1],
    "all_nan": [float("nan")] * 6,
    # equal to the best is not better
    "ties": [0.3, 0.3, 0.3, 0.3, 0.3],
}


@pytest.mark.parametrize("patience", [1, 2, 3])
@pytest.mark.parametrize("curve", sorted(CURVES))
def test_stops_after_exactly_patience_epochs_without_improvement(curve, patience):
    values = CURVES[curve]
    expected = _reference(values, patience)
    assert _run(values, patience) == expected
    stop_epoch, _, best_epoch, _ = expected
    if stop_epoch is not None:  # the curve says when: patience epochs after the last best
        assert stop_epoch == (best_epoch if best_epoch >= 0 else -1) + patience


def test_known_stopping_epochs():
    """Hand-counted: best 0.3 at epoch 1 of "plateau", 0.5 at epoch 7 of "reset"."""
    plateau, reset = CURVES["plateau"], CURVES["reset"]
    assert _run(plateau, 2)[:3] == (3, 0.3, 1)
    assert _run(plateau, 3)[:3] == (4, 0.3, 1)
    assert _run(reset, 2)[:3] == (2, 0.2, 0)   # epochs 1, 2 without a new best
    assert _run(reset, 3)[:3] == (6, 0.4, 3)   # epochs 1-2 did not stop it at patience 3; 4, 5, 6 do
    nan_run = _run(CURVES["nan"], 2)
    assert nan_run[:3] == (3, 0.1, 1) and nan_run[3] == [False, True, False, False]
    assert _run(CURVES["all_nan"], 3)[:3] == (2, -math.inf, -1)


def test_patience_zero_never_stops_and_keeps_the_best():
    values = [0.1, 0.5, float("nan"), 0.2, 0.4, 0.6, 0.1] + [0.0] * 20
    stop, best, best_epoch, improved = _run(values, 0)
    assert stop is None and best == 0.6 and best_epoch == 5
    assert improved == [True, True, False, False, False, True] + [False] * 21

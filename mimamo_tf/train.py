"""``python -m mimamo_tf.train --flagfile=configs/affwild.cfg [--flag=value ...]``: train MIMAMO Net.

Flags after ``--flagfile`` override it; ``--helpshort`` lists them (defined, with their defaults, by
``mimamo_tf.config``). The run is ``mimamo_tf.training.train``; the files it writes to
``--model_dir`` are listed in ``mimamo_tf.runs``. A killed run continues from its last checkpoint
when the same command is run again. Exit code 2: the configuration or the data cannot work (the
message names the flag or the file).
"""

from mimamo_tf import config as config_lib, runs
from mimamo_tf.command_line import run_command
from mimamo_tf.training import train


def define_flags(flag_values):
    config_lib.define_flags(flag_values)


def main(flag_values):
    config = config_lib.from_flags(flag_values)
    history = train(config)
    key = runs.selection_key(config)
    best = runs.best_epoch(history, key)
    if best is not None:
        which = ("the starting weights: no epoch beat them" if best["epoch"] == runs.START_EPOCH
                 else f"epoch {best['epoch'] + 1}")
        print(f"mimamo_tf.train: done after {runs.trained_epochs(history)} epochs; best validation mean CCC "
              f"{best[key]:.4f} ({key}, {which})")
    return 0


def run():
    run_command("train", main, define_flags, __doc__)


if __name__ == "__main__":
    run()

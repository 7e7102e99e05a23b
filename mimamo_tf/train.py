"""``python -m mimamo_tf.train --flagfile=configs/affwild.cfg [--flag=value ...]``: train MIMAMO Net.

Flags after ``--flagfile`` override it; ``--helpshort`` lists them all (they are defined, with their
defaults, by ``mimamo_tf.config``). The run is ``mimamo_tf.training.train``: see its module for the
files written to ``--model_dir``. A killed run continues from its last checkpoint when the same
command is run again. Exit code 2: the configuration or the data cannot work (the message names the
flag or the file).
"""

from mimamo_tf.cli_startup import quiet_tensorflow_startup

quiet_tensorflow_startup()

import sys  # noqa: E402

from absl import app, flags  # noqa: E402

from mimamo_tf import config as config_lib  # noqa: E402

config_lib.define_flags()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}; every option is a --flag")
    from mimamo_tf.cli_startup import quiet_python_logging
    from mimamo_tf.data.pipeline import DataError

    quiet_python_logging()
    from mimamo_tf.training import train

    try:
        history = train(config_lib.from_flags(flags.FLAGS))
    except (config_lib.ConfigError, DataError) as error:
        kind = "configuration error" if isinstance(error, config_lib.ConfigError) else "data error"
        print(f"mimamo_tf.train: {kind}: {error}", file=sys.stderr)
        return 2
    if history:
        last = max(history, key=lambda e: e.get("val_ccc_mean", float("-inf")))
        print("mimamo_tf.train: done after {} epochs; best validation mean CCC {:.4f} (epoch {})".format(
            len(history), last["val_ccc_mean"], last["epoch"] + 1))
    return 0


def run():
    app.run(main)


if __name__ == "__main__":
    run()

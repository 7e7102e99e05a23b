"""Benchmarks: ``python -m mimamo_tf.bench {phase,faces,...} [--flags]``.

Each benchmark measures the things it compares side by side in one run and prints a table with the
ratios, so the numbers are comparable on whatever machine runs it. Speed targets are checked here,
never by timed unit tests.
"""

# Every benchmark runs TensorFlow.
from mimamo_tf.cli_startup import quiet_tensorflow_startup

quiet_tensorflow_startup()

import importlib  # noqa: E402
import sys  # noqa: E402

# Subcommand -> module with a ``main(argv)`` that parses its own absl flags.
BENCHMARKS = {
    "phase": "mimamo_tf.benchmarks.phase",
    "faces": "mimamo_tf.benchmarks.faces",
    "input": "mimamo_tf.benchmarks.input",
    "train": "mimamo_tf.benchmarks.train",
    "predict": "mimamo_tf.benchmarks.predict",
    "export": "mimamo_tf.benchmarks.export",
}


def run(argv=None):
    argv = list(sys.argv if argv is None else argv)
    if len(argv) < 2 or argv[1] not in BENCHMARKS:
        names = ", ".join(sorted(BENCHMARKS))
        print(f"usage: python -m mimamo_tf.bench {{{names}}} [--flags]", file=sys.stderr)
        return 2
    module = importlib.import_module(BENCHMARKS[argv[1]])
    return module.main([f"{argv[0]} {argv[1]}"] + argv[2:])


if __name__ == "__main__":
    sys.exit(run())

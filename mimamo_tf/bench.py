"""``python -m mimamo_tf.bench {phase,phase_definitions,faces,input,train,predict,export,windows,live} [--flags]``: benchmarks.

Each benchmark measures the things it compares side by side in one run and prints a table with the
ratios, so the numbers are comparable on whatever machine runs it. Speed targets are checked here,
never by timed unit tests. ``python -m mimamo_tf.bench NAME --helpshort`` lists a benchmark's flags.
Exit code 1: the benchmark's target was missed.
"""

import importlib
import sys

from mimamo_tf.command_line import EXIT_BAD_INPUT, run_command

# Subcommand -> module with ``define_flags(flag_values)`` and ``main(flag_values)``.
BENCHMARKS = {
    "phase": "mimamo_tf.benchmarks.phase",
    "phase_definitions": "mimamo_tf.benchmarks.phase_definitions",
    "faces": "mimamo_tf.benchmarks.faces",
    "input": "mimamo_tf.benchmarks.input",
    "train": "mimamo_tf.benchmarks.train",
    "predict": "mimamo_tf.benchmarks.predict",
    "export": "mimamo_tf.benchmarks.export",
    "windows": "mimamo_tf.benchmarks.windows",
    "live": "mimamo_tf.benchmarks.live",
}


def run(argv=None):
    argv = list(sys.argv if argv is None else argv)
    if len(argv) < 2 or argv[1] not in BENCHMARKS:
        names = ", ".join(sorted(BENCHMARKS))
        print(f"usage: python -m mimamo_tf.bench {{{names}}} [--flags]", file=sys.stderr)
        return EXIT_BAD_INPUT
    name = argv[1]
    module = importlib.import_module(BENCHMARKS[name])
    # absl parses sys.argv: the benchmark's flags follow its name.
    sys.argv = [f"{argv[0]} {name}", *argv[2:]]
    run_command(f"bench {name}", module.main, module.define_flags, module.__doc__)


if __name__ == "__main__":
    sys.exit(run())

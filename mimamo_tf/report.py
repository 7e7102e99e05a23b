"""``python -m mimamo_tf.report NAME=metrics.json [NAME=metrics.json ...]``: a CCC table.

Prints one Markdown row per evaluated model (as in the paper's Tables 4-5) from the ``metrics.json``
files that ``mimamo_tf.evaluate`` writes. Exit code 2: a file that is missing or not such a file.
"""

import json

from mimamo_tf.command_line import run_command
from mimamo_tf.errors import InputError
from mimamo_tf.evaluation.evaluator import metrics_table


class ReportError(InputError, ValueError):
    """The arguments name no readable ``metrics.json``."""


def main(flag_values, arguments):
    del flag_values
    pairs = [arg.split("=", 1) for arg in arguments]
    if not pairs or any(len(p) != 2 for p in pairs):
        raise ReportError("usage: python -m mimamo_tf.report NAME=path/to/metrics.json [...]")
    try:
        print(metrics_table(pairs))
    except (OSError, KeyError, json.JSONDecodeError) as error:
        raise ReportError(f"cannot read metrics: {error}") from error
    return 0


def run():
    run_command("report", main, doc=__doc__, positional=True)


if __name__ == "__main__":
    run()

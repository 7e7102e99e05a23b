"""``python -m mimamo_tf.report NAME=metrics.json [NAME=metrics.json ...]``: a CCC table.

Prints one Markdown row per evaluated model (as in the paper's Tables 4-5) from the ``metrics.json``
files that ``mimamo_tf.evaluate`` writes.
"""

import json
import sys


def table(named_files):
    rows = ["| model | CCC arousal | CCC valence | CCC mean | frames |", "| --- | --- | --- | --- | --- |"]
    for name, path in named_files:
        with open(path) as handle:
            m = json.load(handle)
        rows.append(f"| {name} | {m['ccc_arousal']:.3f} | {m['ccc_valence']:.3f} | {m['ccc_mean']:.3f} | {m['frames']} |")
    return "\n".join(rows)


def main(argv):
    pairs = [arg.split("=", 1) for arg in argv[1:]]
    if not pairs or any(len(p) != 2 for p in pairs):
        print("usage: python -m mimamo_tf.report NAME=path/to/metrics.json [...]", file=sys.stderr)
        return 2
    try:
        print(table(pairs))
    except (OSError, KeyError, json.JSONDecodeError) as error:
        print(f"mimamo_tf.report: cannot read metrics: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

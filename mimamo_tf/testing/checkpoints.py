"""What a training run under test has saved so far (for tests that kill a run mid-way)."""

import os
import re

from mimamo_tf import runs


def saved_checkpoints(model_dir):
    """How many fault-tolerance checkpoints the run has saved (the number in the newest's name)."""
    index = os.path.join(os.fspath(model_dir), runs.STATE_DIR, "checkpoint")
    try:
        with open(index, encoding="utf-8") as handle:
            return int(re.search(r"ckpt-(\d+)", handle.read()).group(1))
    except (OSError, AttributeError):
        return 0

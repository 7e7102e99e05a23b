"""Plain progress lines for logs: what a tqdm bar shows, as a whole line every ~30 s.

tqdm draws its bar only on a terminal (``disable=None``); with the output sent to a file (``make demo
> log``, CI, nohup, a cluster job) a long loop would otherwise say nothing until it ends.
``ProgressLines`` is the stand-in for that case: the same ``update``/``close`` calls as the bar,
printing ``"epoch 2/8: step 40/75, 0.52 steps/s, ETA 67 s"`` at most every ``every`` seconds.

Example:
    >>> lines = ProgressLines("epoch 1/8", total=75, unit="step")
    >>> for _ in range(75):
    ...     train_step()
    ...     lines.update(1)
    >>> lines.close()
"""

import os
import sys
import time

# Seconds between two lines: often enough that a log never looks stuck, rarely enough to read.
EVERY_SECONDS = 30.0
# The environment variable that changes it (a cluster's log, a test that wants a line per step).
EVERY_SECONDS_VARIABLE = "MIMAMO_TF_PROGRESS_SECONDS"


def progress_seconds(environ=None):
    """Seconds between progress lines: ``$MIMAMO_TF_PROGRESS_SECONDS`` or ``EVERY_SECONDS``."""
    value = (os.environ if environ is None else environ).get(EVERY_SECONDS_VARIABLE, "")
    try:
        return max(float(value), 0.0) if value.strip() else EVERY_SECONDS
    except ValueError:
        return EVERY_SECONDS


def format_seconds(seconds):
    """``"42 s"``, ``"3 min 05 s"``, ``"1 h 02 min"``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_line(description, done, total, rate, unit="step"):
    """One line: ``"<description>: step 40/75, 0.52 steps/s, ETA 67 s"`` (no total or rate: no ETA)."""
    count = f"{unit} {done}/{total}" if total else f"{unit} {done}"
    line = f"{description}: {count}, {rate:.2f} {unit}s/s"
    if total and rate > 0:
        line += f", ETA {format_seconds(max(total - done, 0) / rate)}"
    return line


class ProgressLines:
    """Prints a ``progress_line`` at most every ``every`` seconds while a loop advances.

    Args:
        description: what runs (``"epoch 2/8"``).
        total: steps expected, or None when not known (then no ETA).
        initial: steps already done (a resumed epoch); they do not count towards the rate.
        unit: what a step is called.
        every: seconds between lines.
        file: where lines go (default stdout, flushed at each line).
        clock: seconds as a float (``time.monotonic``); tests pass their own.
    """

    def __init__(self, description, total=None, initial=0, unit="step", every=EVERY_SECONDS, file=None,
                 clock=time.monotonic):
        self.description, self.total, self.unit, self.every = description, total, unit, every
        self.file, self.clock = file, clock
        self.done = self.initial = initial
        self.start = self.last = clock()

    def update(self, steps=1):
        self.done += steps
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            self._print(now)

    def _print(self, now):
        # The rate counts this process's steps only (a resumed epoch's earlier steps took no time here).
        elapsed = now - self.start
        rate = (self.done - self.initial) / elapsed if elapsed > 0 else 0.0
        print(progress_line(self.description, self.done, self.total, rate, self.unit), file=self.file or sys.stdout,
              flush=True)

    def close(self):
        """Nothing to undo (lines are whole); the bar's interface."""

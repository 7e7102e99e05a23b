"""Progress lines for logs: one at least every ``every`` seconds while steps run, with the count, the
rate of this process's steps and an ETA from it."""

import io

from mimamo_tf.progress_lines import ProgressLines, format_seconds, progress_line, progress_seconds


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_line_every_30_seconds_with_rate_and_eta():
    clock, out = _Clock(), io.StringIO()
    lines = ProgressLines("epoch 2/8", total=100, unit="step", every=30, file=out, clock=clock)
    times = []
    for step in range(100):
        clock.now += 4.0  # a 4-second step: a line after the 8th step (32 s), then every 8 steps
        lines.update(1)
        if out.getvalue().count("\n") > len(times):
            times.append(clock.now)
    lines.close()
    printed = out.getvalue().splitlines()
    assert printed[0] == "epoch 2/8: step 8/100, 0.25 steps/s, ETA 6 min 08 s"  # 92 steps at 0.25/s
    assert len(printed) == 12 and printed[-1].startswith("epoch 2/8: step 96/100")
    gaps = [b - a for a, b in zip([100.0] + times, times)]
    assert all(30 <= gap < 34 for gap in gaps)  # never silent for longer than every + one step


def test_a_resumed_epoch_counts_its_earlier_steps_but_not_their_time():
    clock, out = _Clock(), io.StringIO()
    lines = ProgressLines("epoch 1/2", total=50, initial=40, every=10, file=out, clock=clock)
    clock.now += 10
    lines.update(5)
    assert out.getvalue() == "epoch 1/2: step 45/50, 0.50 steps/s, ETA 10 s\n"


def test_without_a_total_there_is_no_eta_and_the_interval_comes_from_the_environment():
    assert progress_line("epoch 1/8", 12, None, 0.5) == "epoch 1/8: step 12, 0.50 steps/s"
    assert format_seconds(59.6) == "1 min 00 s" and format_seconds(3725) == "1 h 02 min"
    assert progress_seconds({}) == 30.0
    assert progress_seconds({"MIMAMO_TF_PROGRESS_SECONDS": "0"}) == 0.0
    assert progress_seconds({"MIMAMO_TF_PROGRESS_SECONDS": "often"}) == 30.0

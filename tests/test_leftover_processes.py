"""The suite fails when a process its tests started outlives it (mimamo_tf/testing/leftover_processes.py)."""

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

# Each test runs a pytest of its own (TensorFlow's import, the grace time): seconds, not milliseconds.
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the check reads /proc (Linux only)")]

ORPHAN = """
import subprocess, sys

def test_{name}():
    # A child that starts a grandchild and ends: the grandchild is an orphan, as a spawned pool
    # worker is when a test SIGKILLs its parent.
    subprocess.run([sys.executable, "-c",
                    "import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep({seconds})'])"])
"""


def _pytest(tmp_path, seconds, *options):
    (tmp_path / "test_orphan.py").write_text(textwrap.dedent(ORPHAN.format(name="orphan", seconds=seconds)))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "mimamo_tf.testing.leftover_processes", *options, str(tmp_path / "test_orphan.py")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          # A pytest of its own, not a worker of the suite's xdist session.
                          env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")})


@pytest.mark.parametrize("options", [(), ("-n", "1")], ids=["one process", "xdist"])
def test_an_orphan_that_outlives_the_tests_fails_the_run_and_is_killed(tmp_path, options):
    result = _pytest(tmp_path, 60, *options)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert "outlived them" in result.stdout and "time.sleep(60)" in result.stdout
    pid = int(result.stdout.split("outlived them (killed now):\n")[1].split(":")[0])
    # Killed: not running any more (it was re-parented to pytest, which has ended, so init reaps it).
    stat = pathlib.Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_process_that_ends_within_the_grace_time_passes(tmp_path):
    result = _pytest(tmp_path, 1)
    assert result.returncode == 0, result.stdout + result.stderr

"""A pytest plugin: the run fails when a process started by its tests is still alive at the end.

Such a process writes into the terminal after pytest's summary and holds its files. Each pytest
process becomes the "child subreaper" of everything it starts (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``),
so a grandchild orphaned by a killed child (a spawned pool worker whose parent a test SIGKILLed) is
re-parented to pytest rather than to init, where no check would see it. The leftovers are killed
and listed. ``tests/conftest.py`` loads it; elsewhere: ``pytest -p mimamo_tf.testing.leftover_processes``.
Linux only (it reads ``/proc``); elsewhere it does nothing.
"""

import ctypes
import os
import pathlib
import signal
import sys
import time

import pytest

_PR_SET_CHILD_SUBREAPER = 36
# A process that is ending anyway gets this long before it counts as left behind.
GRACE_SECONDS = 5.0
# multiprocessing's helpers of the pytest process itself (started by a spawn pool in a test): they
# end when it does, so they never outlive the suite.
OWN_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _linux():
    return sys.platform.startswith("linux")


def pytest_configure(config):
    if _linux():
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _children_by_parent():
    """``{parent pid: {pid: command line}}`` of the live (not zombie) processes, read from /proc."""
    children = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # it ended while being read
            continue
        # The fields after the parenthesised name: state, ppid, ...
        state, parent = stat[stat.rindex(")") + 2:].split()[:2]
        if state != "Z":
            children.setdefault(int(parent), {})[int(entry.name)] = command
    return children


def descendants(pid, children=None):
    """``{pid: command line}`` of the live processes below ``pid`` (``children``: a
    ``_children_by_parent()`` table, read afresh when None)."""
    children = _children_by_parent() if children is None else children
    found, stack = {}, [pid]
    while stack:
        for child, command in children.get(stack.pop(), {}).items():
            found[child] = command
            stack.append(child)
    return found


def _left_behind():
    own = os.getpid()
    children = _children_by_parent()
    helpers = {pid for pid, command in children.get(own, {}).items() if any(h in command for h in OWN_HELPERS)}
    return {pid: command for pid, command in descendants(own, children).items() if pid not in helpers}


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    # A pytest-xdist worker leaves the check to the controller: what the worker's children leave
    # behind is re-parented to the controller, the nearest subreaper, when the worker ends. The
    # controller's own workers were shut down by xdist's sessionfinish, which runs before this one.
    # (xdist gives its workers ``config.workerinput``; the environment variable would also be
    # inherited by a pytest that a test starts.)
    if not _linux() or hasattr(session.config, "workerinput"):
        return
    deadline = time.monotonic() + GRACE_SECONDS
    left = _left_behind()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = _left_behind()
    if not left:
        return
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    lines = "\n".join(f"  {pid}: {command[:300]}" for pid, command in sorted(left.items()))
    session.config.get_terminal_writer().line(
        f"FAILED: {len(left)} process(es) started by the tests outlived them (killed now):\n{lines}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED

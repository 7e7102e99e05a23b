"""Quiet command-line start-up: TensorFlow's C++ start-up lines are hidden unless asked for.

Only the project's own commands start quietly (``python -m mimamo_tf.X``, ``python -m data_prep.X``,
the ``mimamo-*`` console scripts, and processes they spawn): ``started_as_command`` tells from the
process's command line. Python imports the package ``mimamo_tf`` before it runs any command module,
and importing it imports TensorFlow (it registers the project's Keras classes), so
``mimamo_tf/__init__.py`` is where a command's quiet start-up must happen; for any other process —
a notebook, a user's script, a test — importing ``mimamo_tf`` changes no logging setting.

Importing TensorFlow 2.21 and initialising its devices prints lines from C++ straight to the
process's stderr — the oneDNN notice, CUDA probes ("Could not find cuda drivers", "failed call to
cuInit", cuDNN/cuFFT/cuBLAS factory registration), ``cpu_feature_guard`` and absl's "All log messages
before absl::InitializeLog() is called are written to STDERR". Since TF 2.19 ``TF_CPP_MIN_LOG_LEVEL``
no longer hides them (tensorflow/tensorflow#100442), so the CLIs import TensorFlow and list its
devices with file descriptor 2 pointed at a temporary file. If that fails, the captured text is
printed with the error. ``--verbosity=1`` (absl's flag; or ``-v 1``) shows everything as usual, and
so does an explicit ``TF_CPP_MIN_LOG_LEVEL=0`` (whoever sets it wants TensorFlow's C++ log).
"""

import contextlib
import os
import sys
import tempfile

from absl import logging


# Set in a quietly started command's environment, so that its worker processes (multiprocessing's
# spawn starts a fresh interpreter) start quietly too.
QUIET_MARKER = "MIMAMO_TF_QUIET_STARTUP"
# Top-level packages whose modules are commands, and the console scripts' prefix (setup.py).
COMMAND_PACKAGES = ("mimamo_tf", "data_prep")
CONSOLE_SCRIPT_PREFIX = "mimamo-"

# absl accepts a flag with one or two dashes, by its name or its short name.
_VERBOSITY_NAMES = ("--verbosity", "-verbosity", "--v", "-v")


def _verbosity(argv):
    """The value of absl's ``--verbosity`` flag on the command line ``argv``, 0 when absent."""
    value = None
    arguments = list(argv[1:])
    for index, arg in enumerate(arguments):
        if arg == "--":  # absl stops parsing flags here
            break
        name, has_value, text = arg.partition("=")
        if name not in _VERBOSITY_NAMES:
            continue
        if not has_value:
            text = arguments[index + 1] if index + 1 < len(arguments) else ""
        # Like absl, the last occurrence wins; an unparsable value is absl's error to report.
        try:
            value = int(text)
        except ValueError:
            value = None
    return 0 if value is None else value


def started_as_command(orig_argv=None, environ=None):
    """Whether this process runs one of the project's commands (or is a worker spawned by one).

    Reads the interpreter's original command line (``sys.orig_argv``): ``python [options] -m
    mimamo_tf.X ...`` or ``-m data_prep.X``, or a console script named ``mimamo-*``.
    """
    orig_argv = sys.orig_argv if orig_argv is None else orig_argv
    environ = os.environ if environ is None else environ
    if environ.get(QUIET_MARKER) == "1":
        return True
    arguments = list(orig_argv[1:])
    for index, arg in enumerate(arguments):
        module = None
        if arg == "-m":
            module = arguments[index + 1] if index + 1 < len(arguments) else ""
        elif arg.startswith("-m") and not arg.startswith("--"):
            module = arg[2:]
        elif arg in ("-c", "-") or not arg.startswith("-"):
            # ``-c CODE``, standard input or a script: the script is a console script of ours or not.
            script = os.path.basename(arg) if not arg.startswith("-") else ""
            return script.startswith(CONSOLE_SCRIPT_PREFIX)
        if module is not None:
            return module.split(".")[0] in COMMAND_PACKAGES
    return False


def quiet_tensorflow_startup(argv=None):
    """Imports TensorFlow and initialises its devices without their start-up lines on stderr.

    ``mimamo_tf/__init__.py`` calls it when ``started_as_command()``, before anything imports
    TensorFlow or Keras. Does nothing when
    the command line asks for ``--verbosity`` >= 1, when ``TF_CPP_MIN_LOG_LEVEL`` is explicitly 0,
    or when TensorFlow is already imported. A ``TF_CPP_MIN_LOG_LEVEL`` set by the user is kept;
    otherwise it becomes 2, which hides TensorFlow's later INFO and WARNING lines.

    Args:
        argv: the command line (default ``sys.argv``), only read for ``--verbosity``.
    """
    argv = sys.argv if argv is None else argv
    if _verbosity(argv) >= 1 or "tensorflow" in sys.modules:
        return
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip() == "0":
        return
    # Python-level messages at import go through Python's own logging; C++ ones through fd 2.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ[QUIET_MARKER] = "1"
    with native_stderr_captured():
        # deferred: this import is the point of the function (it must happen with fd 2 captured).
        import tensorflow as tf

        tf.config.list_physical_devices()


@contextlib.contextmanager
def native_stderr_captured(enabled=True):
    """Points file descriptor 2 at a temporary file for the ``with`` block: C++ log lines (which
    ``TF_CPP_MIN_LOG_LEVEL`` no longer hides) are dropped, or written out if the block raises."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def quiet_python_logging(argv=None):
    """Keeps absl/TensorFlow Python logging at WARNING unless ``--verbosity`` was given.

    Call it at the start of a CLI's ``main`` (after absl parsed the flags): absl's default verbosity
    shows TensorFlow's INFO lines (e.g. one "Sharding callback duration" per checkpoint save), which
    would drown what the command itself says.
    """
    argv = sys.argv if argv is None else argv
    if not any(arg.partition("=")[0] in _VERBOSITY_NAMES for arg in argv[1:]):
        logging.set_verbosity(logging.WARNING)

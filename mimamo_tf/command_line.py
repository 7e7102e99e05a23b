"""How every command starts and ends: one skeleton for ``python -m mimamo_tf.X`` and ``mimamo-X``.

A command module (``mimamo_tf/train.py``, ``evaluate.py``, ...) holds only its docstring (the usage
text), ``define_flags(flag_values)``, a ``main(flag_values)`` that turns flags into a config and
calls the library, and ``run()``, the console-script entry point: ``run_command(...)``. The
skeleton does the rest, the same way for every command:

* flags are defined when the command runs (never when a module is imported, so commands and
  libraries can be imported together), and ``--help``/``--helpshort`` list them with the command's
  docstring, for ``python -m`` and for the installed console scripts alike;
* Python logging stays at WARNING unless ``--verbosity`` is given (TensorFlow's C++ start-up lines
  are hidden by ``mimamo_tf/__init__.py``, see ``cli_startup``);
* exit codes: 0 done, 1 some items failed (``main`` lists them and returns 1), 2 bad
  configuration or input — a flag absl cannot parse, an unexpected argument, any
  ``mimamo_tf.errors.InputError`` (``ConfigError``, ``DataError``, ``RunError``, ``ExportError``,
  ``PredictError``, ...), a missing file, or an error type the command names — reported as one line
  naming the flag or file, never a traceback.
"""

import sys

from absl import app, flags

from mimamo_tf.cli_startup import quiet_python_logging
from mimamo_tf.config import expand_config_argument
from mimamo_tf.errors import InputError

EXIT_DONE = 0
EXIT_SOME_FAILED = 1
EXIT_BAD_INPUT = 2


def report_input_error(name, error, kind=None):
    """Prints the one-line message of a bad-input error and returns ``EXIT_BAD_INPUT``."""
    prefix = f"{kind}: " if kind else ""
    program = name if "." in name else f"mimamo_tf.{name}"
    print(f"{program}: {prefix}{error}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _kind(error, extra_errors):
    """The words before a bad-input error's message, or raises ``error`` again if it is not one."""
    if isinstance(error, InputError):
        return error.kind
    if isinstance(error, FileNotFoundError):
        return "missing file"
    if isinstance(error, tuple(extra_errors)):
        return None
    raise error


def _make_discoverable(flag_values, names, doc):
    """``--help`` shows the command's docstring and flags also when run as a console script.

    absl's help lists the key flags of the module named ``sys.argv[0]`` and prints the docstring of
    ``__main__``: under ``python -m`` that is the command module, under a console script the
    generated wrapper, which has neither. Registering the command's flags as key flags of
    ``sys.argv[0]`` (public ``FlagValues`` API) and giving the wrapper the command's docstring makes
    both forms print the same help.
    """
    for name in names:
        flag_values.register_key_flag_for_module(sys.argv[0], flag_values[name])
    main_module = sys.modules.get("__main__")
    if main_module is not None and not main_module.__doc__ and doc:
        main_module.__doc__ = doc


def parse_flags(argv, flag_values=None):
    """absl's flag parsing (``app.run``'s ``flags_parser``), except that a command line it cannot
    parse (an unknown flag, a bad value) exits with ``EXIT_BAD_INPUT``, as every other bad input:
    absl's own parser exits with 1, which here means that some inputs failed. ``--help`` still exits
    as absl has it."""
    flag_values = flags.FLAGS if flag_values is None else flag_values
    try:
        return flag_values(argv)
    except flags.Error as error:
        print(f"FATAL Flags parsing error: {error}\nPass --helpshort or --helpfull to see help on flags.",
              file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def run_command(name, main, define_flags=None, doc=None, extra_errors=(), positional=False, key_flags=None):
    """Runs a command: defines its flags, parses the command line, calls ``main`` and exits.

    Args:
        name: the command's name (``train``, ``evaluate``, ...), used in messages as ``mimamo_tf.<name>``; a
            command of another package gives its module (``data_prep.prepare``).
        main: ``main(flag_values) -> exit code or None`` (None: 0).
        define_flags: ``define_flags(flag_values)``, defining the command's flags.
        doc: the usage text (the command module's docstring).
        extra_errors: more exception types that mean bad input (exit 2) for this command.
        positional: the command takes positional arguments: ``main(flag_values, arguments)``.
        key_flags: the names of the flags ``--help`` lists (default: every flag ``define_flags``
            defines); the others are accepted all the same and listed by ``--helpfull``.
    """
    flag_values = flags.FLAGS
    before = set(flag_values)
    if define_flags is not None:
        define_flags(flag_values)
    _make_discoverable(flag_values, sorted(set(flag_values) - before) if key_flags is None else key_flags, doc)
    if "config" in flag_values:
        # --config=NAME is a packaged flagfile: absl reads flagfiles while it parses, so it becomes
        # --flagfile=PATH first, where it stands (flags after it still override it).
        try:
            sys.argv = [sys.argv[0], *expand_config_argument(sys.argv[1:])]
        except InputError as error:
            sys.exit(report_input_error(name, error, error.kind))

    def absl_main(argv):
        if len(argv) > 1 and not positional:
            raise app.UsageError(f"unexpected arguments {argv[1:]}; every option is a --flag", exitcode=EXIT_BAD_INPUT)

        quiet_python_logging()
        if "config" in flag_values and flag_values["config"].value:
            # The command line's --config became a --flagfile before parsing; one read from a flagfile cannot.
            return report_input_error(name, f"--config={flag_values['config'].value} works on the command line only; "
                                            "inside a flagfile write --flagfile=PATH (python -c \"from mimamo_tf import "
                                            "config; print(config.packaged_flagfile('NAME.cfg'))\" prints it)",
                                      "configuration error")
        try:
            code = main(flag_values, argv[1:]) if positional else main(flag_values)
        except Exception as error:  # only the input errors are caught; anything else is re-raised
            return report_input_error(name, error, _kind(error, extra_errors))
        return EXIT_DONE if code is None else int(code)

    app.run(absl_main, flags_parser=parse_flags)

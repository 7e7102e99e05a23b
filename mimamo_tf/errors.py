"""The one base of the library's "this configuration or input cannot work" errors.

Every library error that a user causes with a flag, a file or data — ``ConfigError``, ``DataError``,
``RunError``, ``ExportError``, ``PredictError``, ``ModelCardError``, ``BackboneError``,
``VideoReadError``, ... — derives from ``InputError`` (and from the builtin type it always had, e.g.
``ValueError``), states the flag or file in its message, and names its kind. A command turns any of
them into one line and exit code 2 (``mimamo_tf.command_line``); anything else is a bug and keeps
its traceback.
"""


class InputError(Exception):
    """A configuration, file or data that cannot work; the message names the flag or the file.

    Attributes:
        kind: the words a command prints before the message (e.g. ``"configuration error"``), or
            None for none.
    """

    kind = None

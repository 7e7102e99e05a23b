"""The project's two kinds of expected failure: the whole job cannot work, or one item of it failed.

``InputError``: a configuration, a file or data that cannot work, so the job stops before it starts.
Every such library error — ``ConfigError``, ``DataError``, ``RunError``, ``ExportError``,
``PredictError``, ``ModelCardError``, ``BackboneError``, ``VideoReadError``, ... — derives from it
(and from the builtin type it always had, e.g. ``ValueError``), states the flag or file in its
message, and names its kind. A command turns any of them into one line and exit code 2
(``mimamo_tf.command_line``); ``data_prep``'s commands too (a bad flag or dataset layout is a
``ConfigError``).

``ItemError``: one item of a job that works on many (a video or an utterance that ``data_prep.prepare``
cannot turn into an example: a missing or malformed label file, labels that do not fit the video, a
bad aligned-face folder) failed; the job records it with its message, goes on with the others and
lists the failed items at the end (the command then exits 1). It is not an ``InputError``: it must
never stop a job.

Anything else is a bug and keeps its traceback.
"""


class InputError(Exception):
    """A configuration, file or data that cannot work; the message names the flag or the file.

    Attributes:
        kind: the words a command prints before the message (e.g. ``"configuration error"``), or
            None for none.
    """

    kind = None


class ItemError(ValueError):
    """One item of a job (a video, an utterance) cannot be processed; the message names its file.

    The job records it and goes on with the other items (never a reason to stop the job).
    """

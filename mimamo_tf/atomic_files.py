"""Files written whole or not at all: into a temporary file beside the target, then renamed over it
(``os.replace`` is atomic on one file system), so a killed job never leaves a file that looks
complete. The one owner of this for every file the project writes (run outputs, flagfiles, shards
and their sidecars, exports, figures, videos): one temporary-name convention, ``partial_path`` (``.partial-<pid>-<name>``).
"""

import contextlib
import json
import os

PARTIAL_PREFIX = ".partial-"


def partial_path(path):
    """The temporary name ``path`` is written under: hidden, in the same folder, of this process (two
    processes writing one file each complete theirs; the last rename wins), ending as ``path`` ends
    (OpenCV, matplotlib and Keras pick the format from the ending, e.g. ``.weights.h5``)."""
    directory, name = os.path.split(os.fspath(path))
    return os.path.join(directory, f"{PARTIAL_PREFIX}{os.getpid()}-{name}")


def is_partial(name, of=None):
    """Whether a file name is a temporary name of ``partial_path`` (e.g. left behind by a killed
    writer), of any file or of the file named ``of``."""
    name = os.path.basename(name)
    if not name.startswith(PARTIAL_PREFIX):
        return False
    pid, dash, target = name[len(PARTIAL_PREFIX):].partition("-")
    return bool(dash) and pid.isdigit() and (of is None or target == os.path.basename(of))


def _fsync(path):
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@contextlib.contextmanager
def replacing(path, fsync=False):
    """Yields the temporary path to write ``path``'s content to; renames it over ``path`` when the
    block ends normally, removes it when the block raises. Creates ``path``'s folder.

    Args:
        path: the file to (re)place.
        fsync: flush the temporary file to disk before the rename (for files other processes or a
            restarted job rely on, e.g. shards and their sidecars).

    Example:
        >>> with replacing("runs/x/checkpoints/best.keras") as partial:
        ...     model.save(partial)
    """
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = partial_path(path)
    try:
        yield partial
        if fsync:
            _fsync(partial)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def write_bytes(path, data, fsync=False):
    """Writes ``data`` to ``path`` atomically; returns ``path``."""
    with replacing(path, fsync) as partial:
        with open(partial, "wb") as handle:
            handle.write(data)
    os.chmod(path, 0o644)
    return os.fspath(path)


def write_text(path, text, fsync=False):
    """Writes ``text`` to ``path`` atomically (UTF-8, newlines as given); returns ``path``."""
    with replacing(path, fsync) as partial:
        with open(partial, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    return os.fspath(path)


def write_json(path, value, indent=1, sort_keys=False, fsync=False):
    """Writes ``value`` as indented JSON to ``path`` atomically; returns ``path``."""
    return write_text(path, json.dumps(value, indent=indent, sort_keys=sort_keys) + "\n", fsync)

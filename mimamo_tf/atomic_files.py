"""Files written whole or not at all: into a temporary file beside the target, then renamed over it
(``os.replace`` is atomic on one file system), so a killed job never leaves a file that looks
complete. The one owner of this for the library's text and JSON outputs."""

import json
import os


def partial_path(path):
    """The temporary name ``path`` is written under: hidden, in the same folder, same extension (some
    writers, e.g. OpenCV's and matplotlib's, pick the format from it)."""
    directory, name = os.path.split(os.fspath(path))
    stem, extension = os.path.splitext(name)
    return os.path.join(directory, f".{stem}.partial{extension}")


def write_text(path, text):
    """Writes ``text`` to ``path`` atomically, creating its folder."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = partial_path(path)
    with open(partial, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    os.replace(partial, path)
    return path


def write_json(path, value):
    """Writes ``value`` as indented JSON to ``path`` atomically."""
    return write_text(path, json.dumps(value, indent=1) + "\n")

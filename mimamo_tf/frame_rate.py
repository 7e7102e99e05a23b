"""One frame rate inside the model: a snippet of ``snippet_length`` phase differences spans a fixed time.

A snippet is ``snippet_length`` differences of consecutive frames, so its span in seconds is
``snippet_length / fps``: the paper's 12 differences are 0.4 s of its 30 fps video, but 0.2 s of a
60 fps recording and 0.5 s of a 24 fps one, and a motion moves twice as far between two frames of
a 30 fps video as of a 60 fps one. Prepare therefore resamples every video to one rate
(``--target_fps``, default ``DEFAULT_TARGET_FPS``): each frame at the target rate is the source
frame nearest in time (frames are dropped or repeated; their labels follow them), so the same
motion in seconds gives the same snippet span and the same phase difference per pair whatever the
camera's rate. The rate is recorded in the manifest and in the model card (``frame_rate``), and
``predict`` samples a video at the card's rate and gives every source frame the prediction of the
sampled frame nearest in time.

A video within ``RATE_TOLERANCE`` of the target (29.97 fps for 30) keeps its frames: repeating one
frame in a thousand would only add a still pair.

NumPy; the frame indices are the whole rule (``tests/test_frame_rate.py`` holds them to their
definition by times).
"""

import numpy as np

# The paper's rate: its 12-difference snippets are 0.4 s of 30 fps video.
DEFAULT_TARGET_FPS = 30.0
# Relative difference of rates treated as the same rate.
RATE_TOLERANCE = 0.01


def resamples(fps, target_fps):
    """Whether a video at ``fps`` is resampled to ``target_fps`` (0 or None: each video keeps its own
    rate; an unknown ``fps`` (0) is taken as the target)."""
    if not target_fps or not fps or fps <= 0:
        return False
    return abs(float(fps) / float(target_fps) - 1.0) > RATE_TOLERANCE


def _nearest(times, step, count):
    # Round half up (np.round rounds half to even, which would pick frames in an uneven pattern); a
    # millionth of a frame decides ties that floating point splits (2.3 s at 25 frames/s is 57.5).
    return np.minimum(np.floor(times / step + 0.5 + 1e-6).astype(np.int64), count - 1)


def _resampled_count(num_frames, fps, target_fps):
    # Ticks of 1 / target_fps from 0 s to the last source frame's time.
    return int(np.floor((num_frames - 1) * float(target_fps) / float(fps) + 1e-9)) + 1


def resampled_frames(num_frames, fps, target_fps):
    """The source frame shown at each frame of the video resampled to ``target_fps``.

    Frame ``k`` of the resampled video is at ``k / target_fps`` s and shows the source frame nearest
    in time (the later one on a tie); the resampled video runs to the time of the last source frame.

    Args:
        num_frames: frames of the source video (> 0).
        fps: its frame rate.
        target_fps: the rate to resample to; when ``resamples(fps, target_fps)`` is False, every
            source frame once.

    Returns:
        ``(K,)`` int64 source frame indices, non-decreasing.
    """
    num_frames = int(num_frames)
    if not resamples(fps, target_fps):
        return np.arange(num_frames, dtype=np.int64)
    times = np.arange(_resampled_count(num_frames, fps, target_fps)) / float(target_fps)
    return _nearest(times, 1.0 / float(fps), num_frames)


def source_to_resampled(num_frames, fps, target_fps):
    """For every source frame, the frame of the resampled video nearest in time (the later one on a
    tie): the prediction each source frame takes.

    Returns:
        ``(num_frames,)`` int64 indices into ``resampled_frames(num_frames, fps, target_fps)``.
    """
    num_frames = int(num_frames)
    if not resamples(fps, target_fps):
        return np.arange(num_frames, dtype=np.int64)
    times = np.arange(num_frames) / float(fps)
    return _nearest(times, 1.0 / float(target_fps), _resampled_count(num_frames, fps, target_fps))


def model_frame_rate(fps, target_fps):
    """The rate a video at ``fps`` is seen at by a model trained at ``target_fps``."""
    return float(target_fps) if resamples(fps, target_fps) else float(fps)

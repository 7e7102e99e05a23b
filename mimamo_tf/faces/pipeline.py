"""Video -> per-frame aligned faces (RGB 224x224, gray 48x48) and a face_found flag.

Two passes over the frames, so long videos never have to fit in memory:

1. `locate_faces`: the detector runs on every `detect_every`-th frame ("keyframes"); frames in
   between are followed with the rigid tracker and corrected so they meet the next keyframe's
   detection exactly (the tracking drift is spread linearly over the interval). Whenever an interval
   is not a clean continuation (the face appears, disappears, the track is lost or switches,
   tracking fails), the detector runs on every frame of that interval instead, so face/no-face
   transitions are as exact as per-frame detection. Only the interval between two keyframes that
   both have no face is skipped, so a face visible for less than `detect_every` frames in the
   middle of a no-face stretch can be missed.
2. `iter_aligned_faces`: the per-frame similarity parameters are smoothed within each track
   segment (`smoothing.py`), then every frame is warped.

Frames without a face stay in the sequence with `face_found = 0` and black images, so frame
indices stay aligned with frame-level labels.
"""

import collections
import dataclasses
import os
from typing import Iterable, Iterator, List, Optional, Tuple

import numpy as np

from mimamo_tf import video as video_io
from mimamo_tf.faces import alignment, smoothing, tracking
from mimamo_tf.faces.detection import FaceDetection, FaceDetector, make_detector


@dataclasses.dataclass(frozen=True)
class FacePipelineConfig:
    """Settings of the face pipeline.

    Attributes:
        detect_every: run the detector on every k-th frame and track in between (1 = detect on
            every frame).
        smoothing_sigma: Gaussian width in frames of the alignment smoothing (0 disables it).
        prefer: which face starts a track: "largest", "leftmost" or "rightmost".
        tracker_max_side: frames are tracked on a copy at most this long on their longer side.
    """

    detect_every: int = 3
    smoothing_sigma: float = 2.0
    prefer: str = "largest"
    tracker_max_side: int = 640

    def __post_init__(self):
        if self.detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {self.detect_every}")
        if self.smoothing_sigma < 0:
            raise ValueError(f"smoothing_sigma must be >= 0, got {self.smoothing_sigma}")
        if self.prefer not in tracking.PREFERENCES:
            raise ValueError(f"prefer must be one of {tracking.PREFERENCES}, got {self.prefer!r}")


@dataclasses.dataclass
class FaceTrack:
    """Where the followed face is in every frame (output of `locate_faces`).

    Attributes:
        landmarks: float64 (T, 5, 2) five landmarks per frame (zeros where no face).
        boxes: float64 (T, 4) face boxes [x1, y1, x2, y2] (zeros where no face).
        face_found: uint8 (T,) 1 where the face was found.
        track_ids: int64 (T,) track id per frame, -1 where no face.
        detected: uint8 (T,) 1 where the landmarks came from the detector, 0 if tracked.
        detector_calls: how many frames the detector ran on.
    """

    landmarks: np.ndarray
    boxes: np.ndarray
    face_found: np.ndarray
    track_ids: np.ndarray
    detected: np.ndarray
    detector_calls: int

    @property
    def num_frames(self) -> int:
        return int(self.face_found.shape[0])

    def alignment_params(self, smoothing_sigma: float) -> np.ndarray:
        """Per-frame image->crop alignment parameters, smoothed within track segments.

        Args:
            smoothing_sigma: Gaussian width in frames; 0 gives the raw per-frame alignment.

        Returns:
            float64 (T, 4) parameters (see `alignment.similarity_to_params`); rows of frames
            without a face are zeros.
        """
        params = np.zeros((self.num_frames, 4), np.float64)
        for t in np.flatnonzero(self.face_found):
            params[t] = alignment.landmarks_to_params(self.landmarks[t])
        return smoothing.smooth_alignment_params(params, self.track_ids, smoothing_sigma)


@dataclasses.dataclass
class _FrameState:
    """Working record of one frame during `locate_faces`."""

    index: int
    frame: Optional[np.ndarray]  # kept only while the frame may need a fallback detection
    gray: np.ndarray
    landmarks: Optional[np.ndarray] = None
    box: Optional[np.ndarray] = None
    track_id: int = -1
    detected: bool = False


class _Locator:
    """Implements pass 1 (see module docstring); one instance per video."""

    def __init__(self, detector: FaceDetector, config: FacePipelineConfig):
        self.detector = detector
        self.config = config
        self.tracker = tracking.RigidFaceTracker(max_side=config.tracker_max_side)
        self.done: List[_FrameState] = []
        self.pending: List[_FrameState] = []  # frames after the last keyframe, tracked
        self.tracking_ok = True
        self.last: Optional[_FrameState] = None  # last resolved-or-tracked frame
        self.next_track_id = 0
        self.detector_calls = 0
        self.scale = 1.0
        self._popped = 0

    def _detect(self, frame: np.ndarray) -> List[FaceDetection]:
        self.detector_calls += 1
        return self.detector.detect(frame)

    def _start_track(self, state: _FrameState, detection: FaceDetection) -> None:
        state.landmarks = detection.landmarks.astype(np.float64)
        state.box = detection.box.astype(np.float64)
        state.detected = True
        state.track_id = self.next_track_id
        self.next_track_id += 1

    def _assign(self, state: _FrameState, detections: List[FaceDetection],
                previous: Optional[_FrameState], predicted_box: Optional[np.ndarray]) -> None:
        """Per-frame decision given this frame's detections and the previous frame's face."""
        if previous is not None and previous.track_id >= 0:
            reference = predicted_box if predicted_box is not None else previous.box
            match = tracking.matching_face(detections, reference)
            if match is not None:
                state.landmarks = match.landmarks.astype(np.float64)
                state.box = match.box.astype(np.float64)
                state.detected = True
                state.track_id = previous.track_id
                return
        chosen = tracking.preferred_face(detections, self.config.prefer)
        if chosen is not None:
            self._start_track(state, chosen)

    def _track_from(self, previous: _FrameState, state: _FrameState) -> bool:
        """Moves `previous`'s face onto `state` with the rigid tracker; False on failure."""
        motion = self.tracker.estimate(previous.gray, state.gray, previous.box, self.scale)
        if motion is None:
            return False
        state.landmarks = tracking.apply_affine(motion, previous.landmarks)
        state.box = tracking.box_after_motion(previous.box, motion)
        state.track_id = previous.track_id
        return True

    def add(self, index: int, frame: np.ndarray, is_keyframe: bool) -> None:
        gray, self.scale = self.tracker.tracking_image(frame)
        state = _FrameState(index=index, frame=frame, gray=gray)
        previous = self.last
        if previous is not None and previous.track_id >= 0 and self.tracking_ok:
            self.tracking_ok = self._track_from(previous, state)
        if previous is not None:
            previous.gray = None  # only ever needed to track into the next frame
        if is_keyframe:
            self._resolve_keyframe(state)
        else:
            self.pending.append(state)
        self.last = state

    def _resolve_keyframe(self, key: _FrameState) -> None:
        anchor = self.done[-1] if self.done else None  # previous keyframe (or fallback frame)
        tracked_landmarks = key.landmarks if key.track_id >= 0 and self.tracking_ok else None
        tracked_box = key.box if tracked_landmarks is not None else None
        detections = self._detect(key.frame)
        key.landmarks, key.box, key.track_id = None, None, -1
        anchor_has_face = anchor is not None and anchor.track_id >= 0
        if anchor_has_face and tracked_box is not None:
            match = tracking.matching_face(detections, tracked_box)
            if match is not None:
                # Clean continuation: keep the tracked in-between frames, corrected so that they
                # end exactly on this keyframe's detection.
                drift = match.landmarks.astype(np.float64) - tracked_landmarks
                box_drift = match.box.astype(np.float64) - tracked_box
                count = len(self.pending) + 1
                for step, state in enumerate(self.pending, start=1):
                    state.landmarks = state.landmarks + drift * (step / count)
                    state.box = state.box + box_drift * (step / count)
                key.landmarks = match.landmarks.astype(np.float64)
                key.box = match.box.astype(np.float64)
                key.detected = True
                key.track_id = anchor.track_id
                self._commit(self.pending + [key])
                return
        if not anchor_has_face and not detections and anchor is not None:
            # No face at either end: the in-between frames are taken as faceless too.
            for state in self.pending:
                state.landmarks, state.box, state.track_id = None, None, -1
            self._commit(self.pending + [key])
            return
        # Anything else: detect on every in-between frame, in order, then place the keyframe.
        previous = anchor
        for state in self.pending:
            state.landmarks, state.box, state.track_id = None, None, -1
            self._assign(state, self._detect(state.frame), previous, None)
            previous = state
        self._assign(key, detections, previous, None)
        self._commit(self.pending + [key])

    def _commit(self, states: List[_FrameState]) -> None:
        for state in states:
            state.frame = None  # resolved: the RGB frame is no longer needed
        self.done.extend(states)
        self.pending = []
        self.tracking_ok = True

    def flush(self) -> None:
        if self.pending:
            # The video ended between keyframes: its last frame becomes a keyframe.
            last = self.pending.pop()
            self._resolve_keyframe(last)

    def pop_resolved(self) -> List[_FrameState]:
        """The frames resolved since the last call, in order; only the last resolved frame is kept
        (the next interval's anchor), so a stream's memory does not grow."""
        new = self.done[self._popped:]
        if self.done:
            self.done, self._popped = self.done[-1:], 1
        return new

    def finish(self) -> FaceTrack:
        self.flush()
        count = len(self.done)
        landmarks = np.zeros((count, 5, 2), np.float64)
        boxes = np.zeros((count, 4), np.float64)
        found = np.zeros(count, np.uint8)
        track_ids = np.full(count, -1, np.int64)
        detected = np.zeros(count, np.uint8)
        for t, state in enumerate(self.done):
            if state.track_id >= 0:
                landmarks[t], boxes[t] = state.landmarks, state.box
                found[t], track_ids[t] = 1, state.track_id
                detected[t] = 1 if state.detected else 0
        return FaceTrack(landmarks=landmarks, boxes=boxes, face_found=found, track_ids=track_ids,
                         detected=detected, detector_calls=self.detector_calls)


def locate_faces(frames: Iterable[np.ndarray], detector: FaceDetector,
                 config: FacePipelineConfig = FacePipelineConfig()) -> FaceTrack:
    """Pass 1: finds and follows one face through a sequence of frames.

    Args:
        frames: RGB uint8 frames in order (an iterator is consumed once).
        detector: a `FaceDetector`.
        config: pipeline settings.

    Returns:
        A `FaceTrack` with one entry per frame.
    """
    locator = _Locator(detector, config)
    for index, frame in enumerate(frames):
        locator.add(index, frame, is_keyframe=(index % config.detect_every == 0))
    return locator.finish()


def iter_aligned_faces(frames: Iterable[np.ndarray], track: FaceTrack,
                       config: FacePipelineConfig = FacePipelineConfig()
                       ) -> Iterator[Tuple[np.ndarray, np.ndarray, int]]:
    """Pass 2: warps every frame with the smoothed alignment of `track`.

    Args:
        frames: the same frames `track` was computed on, in order.
        track: output of `locate_faces`.
        config: pipeline settings (smoothing width).

    Yields:
        (rgb224 uint8 (224, 224, 3), gray48 uint8 (48, 48), face_found 0/1) per frame.

    Raises:
        ValueError: the frames are more or fewer than the track's.
    """
    params = track.alignment_params(config.smoothing_sigma)
    black_rgb = np.zeros((alignment.RGB_SIZE, alignment.RGB_SIZE, 3), np.uint8)
    black_gray = np.zeros((alignment.GRAY_SIZE, alignment.GRAY_SIZE), np.uint8)
    count = 0
    for t, frame in enumerate(frames):
        if t >= track.num_frames:
            raise ValueError(f"more frames than the face track's {track.num_frames}")
        count += 1
        if not track.face_found[t]:
            yield black_rgb.copy(), black_gray.copy(), 0
            continue
        rgb = alignment.warp_face(frame, alignment.params_to_similarity(params[t]))
        yield rgb, alignment.gray_from_rgb(rgb), 1
    if count != track.num_frames:
        raise ValueError(f"{count} frames but the face track has {track.num_frames}")


AlignedFrame = collections.namedtuple("AlignedFrame", "index rgb224 face_found box track_id")
AlignedFrame.__doc__ = """One frame out of `FaceStream`: ``rgb224`` uint8 (224, 224, 3) aligned face (None without a
face), ``face_found`` 0/1, ``box`` float64 [x1, y1, x2, y2] of the face (None without one),
``track_id`` its track (-1 without a face)."""


class FaceStream:
    """The one-face pipeline (`locate_faces`, then `iter_aligned_faces`) in a single pass over
    frames that arrive one by one (a camera, a network stream): each frame comes out aligned as soon
    as its face is final — its keyframe interval resolved and the smoothing's ``ceil(3 * sigma)``
    frames after it located — the same faces the two passes give, with at most ``detect_every +
    ceil(3 * sigma)`` frames held.

    Args:
        detector: a `FaceDetector`.
        config: pipeline settings.

    Call ``add(frame)`` for every frame in order; it returns the `AlignedFrame` tuples that became
    final, in order. ``finish()`` returns the rest (the last frame becomes a keyframe, as in
    `locate_faces`).
    """

    def __init__(self, detector: FaceDetector, config: FacePipelineConfig = FacePipelineConfig()):
        self.config = config
        self._locator = _Locator(detector, config)
        self._smoother = smoothing.StreamingSmoother(config.smoothing_sigma)
        self._frames = {}  # frame index -> RGB frame, until it is aligned
        self._boxes = {}  # frame index -> (face box, track id), until it is aligned
        self.num_frames = 0

    def _located(self, states: List[_FrameState]) -> List[AlignedFrame]:
        final = []
        for state in states:
            if state.track_id >= 0:
                self._boxes[state.index] = (state.box, state.track_id)
                final += self._smoother.add(state.index, alignment.landmarks_to_params(state.landmarks), state.track_id)
            else:
                final += self._smoother.add(state.index, None, -1)
        return [self._aligned(t, params) for t, params in final]

    def _aligned(self, t: int, params: Optional[np.ndarray]) -> AlignedFrame:
        frame = self._frames.pop(t)
        box, track_id = self._boxes.pop(t, (None, -1))
        if params is None:
            return AlignedFrame(t, None, 0, None, -1)
        return AlignedFrame(t, alignment.warp_face(frame, alignment.params_to_similarity(params)), 1, box, track_id)

    def add(self, frame: np.ndarray) -> List[AlignedFrame]:
        index = self.num_frames
        self.num_frames += 1
        self._frames[index] = frame
        self._locator.add(index, frame, is_keyframe=(index % self.config.detect_every == 0))
        return self._located(self._locator.pop_resolved())

    def finish(self) -> List[AlignedFrame]:
        self._locator.flush()
        final = self._located(self._locator.pop_resolved())
        return final + [self._aligned(t, params) for t, params in self._smoother.finish()]


@dataclasses.dataclass
class AlignedFaces:
    """Result of `process_video`.

    Attributes:
        rgb224: uint8 (T, 224, 224, 3) aligned faces (black where no face).
        gray48: uint8 (T, 48, 48) luma of the aligned faces.
        face_found: uint8 (T,).
        track: the `FaceTrack` (landmarks, boxes, track ids).
    """

    rgb224: np.ndarray
    gray48: np.ndarray
    face_found: np.ndarray
    track: FaceTrack


def process_video(source, detector: Optional[FaceDetector] = None,
                  config: FacePipelineConfig = FacePipelineConfig()) -> AlignedFaces:
    """Detects, tracks, smooths and aligns the face of a whole video, in memory.

    For long videos use `locate_faces` + `iter_aligned_faces` (what data preparation does), which
    never hold more than a few frames.

    Args:
        source: a video file path, or RGB uint8 frames as an array (T, H, W, 3) or a sequence.
        detector: a `FaceDetector`; defaults to `make_detector("mtcnn")`.
        config: pipeline settings.

    Returns:
        `AlignedFaces`.

    Raises:
        video.VideoReadError: unreadable or truncated video file.
    """
    detector = detector or make_detector("mtcnn")
    if isinstance(source, (str, os.PathLike)):
        track = locate_faces(video_io.iter_frames(source), detector, config)
        frames = video_io.iter_frames(source)
    else:
        track = locate_faces(iter(source), detector, config)
        frames = iter(source)
    rgb, gray, found = [], [], []
    for face_rgb, face_gray, face_found in iter_aligned_faces(frames, track, config):
        rgb.append(face_rgb)
        gray.append(face_gray)
        found.append(face_found)
    return AlignedFaces(rgb224=np.stack(rgb), gray48=np.stack(gray),
                        face_found=np.asarray(found, np.uint8), track=track)

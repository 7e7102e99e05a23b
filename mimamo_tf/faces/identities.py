"""Every face of a video, each followed as an identity whose id does not change while the person
stays in view (``predict --faces=all``; Aff-Wild2's ``_left``/``_right`` people in ``data_prep``).

Pass 1 (`locate_identities`) works like the one-face pass (``pipeline.locate_faces``): the detector
runs on every ``detect_every``-th frame and every face present is followed in between by the rigid
tracker, corrected so it meets the next keyframe's detection exactly. An interval is accepted as
tracked only when it is a clean continuation for *every* face: each face of the previous keyframe
tracked through it and matched to exactly one detection of the next keyframe, and no detection
left over. Anything else (a face appears, leaves, is occluded, tracking fails) runs the detector on
every frame of the interval, so faces come and go at the exact frame.

Identities, frame to frame (`IdentityAssigner`):

* a detection continues the face whose box in the previous frame it overlaps most (IoU >=
  ``tracking.MIN_TRACK_IOU``), one detection per face, best overlaps first — never the larger or
  the more confident face, so two people crossing paths keep their ids as long as their boxes
  overlap their own past more than each other's;
* a detection that continues no face is a face coming back when a face left within
  ``reentry_seconds`` at the same place and size (`same_place`): it takes that face's id; else it
  gets a new id (ids count up from 0 in order of appearance, left to right within a frame).

Each identity is returned as a ``pipeline.FaceTrack`` over the whole video (``face_found = 0``
where the person is not in view), so pass 2 (alignment, smoothing, windows) is the one-face path's,
per identity. A face that comes back starts a new smoothing segment (its ``track_ids`` value
changes): alignment is never blended across the time it was away.
"""

import collections
import dataclasses
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np

from mimamo_tf.faces import alignment, smoothing, tracking
from mimamo_tf.faces.detection import FaceDetection, FaceDetector
from mimamo_tf.faces.pipeline import FacePipelineConfig, FaceTrack

DEFAULT_REENTRY_SECONDS = 2.0
# A returning face is at the same place when its box centre is within this fraction of the box
# width of where the face was last seen, and the same size when the widths differ by less than
# this ratio: a person who stepped out and back in, not another person at another seat.
_SAME_PLACE_CENTRE = 0.5
_SAME_SIZE_RATIO = 1.5


def box_centre(box: np.ndarray) -> np.ndarray:
    return np.array([0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])])


def same_place(last_box: np.ndarray, box: np.ndarray) -> bool:
    """Whether ``box`` is where a face last seen at ``last_box`` would come back: centre within half
    a face width, width within a factor 1.5."""
    width_last, width = last_box[2] - last_box[0], box[2] - box[0]
    if width_last <= 0 or width <= 0:
        return False
    ratio = max(width, width_last) / min(width, width_last)
    distance = np.linalg.norm(box_centre(box) - box_centre(last_box))
    return ratio <= _SAME_SIZE_RATIO and distance <= _SAME_PLACE_CENTRE * width_last


@dataclasses.dataclass
class _Identity:
    """Where one person was last seen and which smoothing segment it is in."""

    last_box: np.ndarray
    last_frame: int
    segment: int = 0


class IdentityAssigner:
    """Gives the detections of each frame, in frame order, the ids of the people they show.

    Args:
        reentry_frames: a face that left at most this many frames ago comes back with its id when
            it reappears at the same place and size.

    Call ``assign(t, detections)`` for every frame in order; it returns ``{id: detection}``.
    """

    def __init__(self, reentry_frames: int):
        self.reentry_frames = int(reentry_frames)
        self.people: Dict[int, _Identity] = {}
        self.present: Dict[int, np.ndarray] = {}  # id -> box, people seen in the previous frame
        self.next_id = 0

    def assign(self, t: int, detections: List[FaceDetection], reference_boxes=None) -> Dict[int, FaceDetection]:
        """``{id: detection}`` for frame ``t``.

        Args:
            t: frame index (increasing from call to call).
            detections: the frame's faces.
            reference_boxes: ``{id: box}`` where the faces of the previous frame are expected in
                this one (e.g. after tracking); default their boxes in the previous frame.
        """
        reference = dict(self.present if reference_boxes is None else reference_boxes)
        pairs = sorted(((tracking.box_iou(d.box, box), person, k) for person, box in reference.items()
                        for k, d in enumerate(detections)), key=lambda p: -p[0])
        assigned: Dict[int, FaceDetection] = {}
        used = set()
        for iou, person, k in pairs:
            if iou < tracking.MIN_TRACK_IOU:
                break
            if person in assigned or k in used:
                continue
            assigned[person], used = detections[k], used | {k}
        left_over = sorted((k for k in range(len(detections)) if k not in used),
                           key=lambda k: box_centre(detections[k].box)[0])
        for k in left_over:
            detection = detections[k]
            returning = [(np.linalg.norm(box_centre(detection.box) - box_centre(p.last_box)), person)
                         for person, p in self.people.items()
                         if person not in assigned and person not in self.present
                         and t - p.last_frame <= self.reentry_frames + 1 and same_place(p.last_box, detection.box)]
            if returning:
                person = min(returning)[1]
                self.people[person].segment += 1
            else:
                person = self.next_id
                self.next_id += 1
                self.people[person] = _Identity(detection.box.astype(np.float64), t)
            assigned[person] = detection
        for person, detection in assigned.items():
            self.people[person].last_box = detection.box.astype(np.float64)
            self.people[person].last_frame = t
        self.present = {person: self.people[person].last_box for person in assigned}
        return assigned

    def segment(self, person: int) -> int:
        return self.people[person].segment


@dataclasses.dataclass
class _Frame:
    """Working record of one frame during pass 1."""

    index: int
    frame: Optional[np.ndarray]  # kept only while the frame may need a detection of its own
    gray: Optional[np.ndarray]
    faces: Dict[int, Tuple[np.ndarray, np.ndarray]] = dataclasses.field(default_factory=dict)  # id -> (landmarks, box)
    segments: Dict[int, int] = dataclasses.field(default_factory=dict)  # id -> smoothing segment


class _IdentityLocator:
    """Implements pass 1 (see module docstring); one instance per video."""

    def __init__(self, detector: FaceDetector, config: FacePipelineConfig, reentry_frames: int, stream=False):
        self.detector = detector
        # A stream hands its resolved frames out (``resolved``) instead of keeping records for ``finish``.
        self.stream = stream
        self.resolved: List[_Frame] = []
        self.config = config
        self.tracker = tracking.RigidFaceTracker(max_side=config.tracker_max_side)
        self.assigner = IdentityAssigner(reentry_frames)
        self.records: Dict[int, List[Tuple[int, np.ndarray, np.ndarray, int, bool]]] = {}
        self.pending: List[_Frame] = []
        self.last: Optional[_Frame] = None  # the last frame added (resolved or tracked)
        self.tracking_ok = True
        self.detector_calls = 0
        self.num_frames = 0
        self.scale = 1.0

    def _detect(self, frame: np.ndarray) -> List[FaceDetection]:
        self.detector_calls += 1
        return self.detector.detect(frame)

    def add(self, index: int, frame: np.ndarray, is_keyframe: bool) -> None:
        gray, self.scale = self.tracker.tracking_image(frame)
        state = _Frame(index=index, frame=frame, gray=gray)
        previous = self.last
        if previous is not None and self.tracking_ok:
            for person, (landmarks, box) in previous.faces.items():
                motion = self.tracker.estimate(previous.gray, gray, box, self.scale)
                if motion is None:
                    self.tracking_ok = False
                    break
                state.faces[person] = (tracking.apply_affine(motion, landmarks), tracking.box_after_motion(box, motion))
        if previous is not None:
            previous.gray = None  # only ever needed to track into the next frame
        self.num_frames += 1
        self.last = state
        if is_keyframe:
            self._resolve(state)
        else:
            self.pending.append(state)

    def _resolve(self, key: _Frame) -> None:
        tracked = dict(key.faces) if self.tracking_ok else None
        detections = self._detect(key.frame)
        key.faces = {}
        if tracked is not None and self._clean(tracked, detections):
            matched = self.assigner.assign(key.index, detections, {p: box for p, (_, box) in tracked.items()})
            count = len(self.pending) + 1
            for person, detection in matched.items():
                drift = detection.landmarks.astype(np.float64) - tracked[person][0]
                box_drift = detection.box.astype(np.float64) - tracked[person][1]
                for step, state in enumerate(self.pending, start=1):
                    landmarks, box = state.faces[person]
                    state.faces[person] = (landmarks + drift * (step / count), box + box_drift * (step / count))
                key.faces[person] = (detection.landmarks.astype(np.float64), detection.box.astype(np.float64))
            for state in self.pending + [key]:
                state.segments = {person: self.assigner.segment(person) for person in state.faces}
            self._commit(self.pending + [key], detected=[key])
            return
        # Not a clean continuation: every in-between frame gets its own detections, in order (the
        # assigner's last frame is the previous keyframe, so the first one continues from it).
        for state in self.pending + [key]:
            found = detections if state is key else self._detect(state.frame)
            state.faces = {person: (d.landmarks.astype(np.float64), d.box.astype(np.float64))
                           for person, d in self.assigner.assign(state.index, found).items()}
            state.segments = {person: self.assigner.segment(person) for person in state.faces}
        self._commit(self.pending + [key], detected=self.pending + [key])

    def _clean(self, tracked, detections) -> bool:
        """Whether every tracked face meets exactly one detection and no detection is left over."""
        if len(tracked) != len(detections):
            return False
        if not tracked:
            return True  # no face at either keyframe: the frames between count as faceless
        claimed = set()
        for _, box in tracked.values():
            match = tracking.matching_face(detections, box)
            if match is None or id(match) in claimed:
                return False
            claimed.add(id(match))
        return True

    def _commit(self, states: List[_Frame], detected: List[_Frame]) -> None:
        detected_ids = {id(state) for state in detected}
        for state in states:
            state.frame = None
            if self.stream:
                self.resolved.append(state)
                continue
            for person, (landmarks, box) in state.faces.items():
                self.records.setdefault(person, []).append(
                    (state.index, landmarks, box, state.segments[person], id(state) in detected_ids))
        self.pending = []
        self.tracking_ok = True

    def flush(self) -> None:
        if self.pending:
            # The video ended between keyframes: its last frame becomes a keyframe.
            self._resolve(self.pending.pop())

    def finish(self) -> "VideoIdentities":
        self.flush()
        count = self.num_frames
        tracks = {}
        for person, records in sorted(self.records.items()):
            landmarks = np.zeros((count, 5, 2), np.float64)
            boxes = np.zeros((count, 4), np.float64)
            found = np.zeros(count, np.uint8)
            segments = np.full(count, -1, np.int64)
            detected = np.zeros(count, np.uint8)
            for t, points, box, segment, was_detected in records:
                landmarks[t], boxes[t], found[t], segments[t], detected[t] = points, box, 1, segment, was_detected
            tracks[person] = FaceTrack(landmarks=landmarks, boxes=boxes, face_found=found, track_ids=segments,
                                       detected=detected, detector_calls=self.detector_calls)
        return VideoIdentities(num_frames=count, tracks=tracks, detector_calls=self.detector_calls)


@dataclasses.dataclass
class VideoIdentities:
    """Output of `locate_identities`.

    Attributes:
        num_frames: frames of the video.
        tracks: ``{id: FaceTrack}`` in order of first appearance, each over all ``num_frames``
            frames (``face_found = 0`` where the person is not in view); empty without any face.
        detector_calls: how many frames the detector ran on.
    """

    num_frames: int
    tracks: Dict[int, FaceTrack]
    detector_calls: int


def locate_identities(frames: Iterable[np.ndarray], detector: FaceDetector,
                      config: FacePipelineConfig = FacePipelineConfig(), fps: float = 25.0,
                      reentry_seconds: float = DEFAULT_REENTRY_SECONDS) -> VideoIdentities:
    """Pass 1 for every face: ``{id: FaceTrack}``, each track over all frames of the video.

    Args:
        frames: RGB uint8 frames in order (an iterator is consumed once).
        detector: a ``FaceDetector``.
        config: pipeline settings (``detect_every``, ``tracker_max_side``; ``prefer`` is not used).
        fps: the video's frame rate (turns ``reentry_seconds`` into frames).
        reentry_seconds: a face away for at most this long keeps its id when it comes back at the
            same place and size; 0: every return is a new id.

    Returns:
        ``VideoIdentities``.
    """
    if reentry_seconds < 0:
        raise ValueError(f"reentry_seconds must be >= 0, got {reentry_seconds}")
    locator = _IdentityLocator(detector, config, int(round(reentry_seconds * (fps or 25.0))))
    for index, frame in enumerate(frames):
        locator.add(index, frame, is_keyframe=(index % config.detect_every == 0))
    return locator.finish()


def iter_aligned_identities(frames: Iterable[np.ndarray], tracks: Dict[int, FaceTrack],
                            config: FacePipelineConfig = FacePipelineConfig(), num_frames: Optional[int] = None
                            ) -> Iterator[Dict[int, np.ndarray]]:
    """Pass 2 for every face: per frame, ``{id: rgb224}`` of the people in view, each warped with its
    own smoothed alignment (what ``pipeline.iter_aligned_faces`` does for one face).

    Raises:
        ValueError: the frames are more or fewer than ``num_frames`` (default the tracks').
    """
    if num_frames is None:
        num_frames = next(iter(tracks.values())).num_frames if tracks else None
    params = {person: track.alignment_params(config.smoothing_sigma) for person, track in tracks.items()}
    count = 0
    for t, frame in enumerate(frames):
        if num_frames is not None and t >= num_frames:
            raise ValueError(f"more frames than the face tracks' {num_frames}")
        count += 1
        yield {person: alignment.warp_face(frame, alignment.params_to_similarity(params[person][t]))
               for person, track in tracks.items() if track.face_found[t]}
    if num_frames is not None and count != num_frames:
        raise ValueError(f"{count} frames but the face tracks have {num_frames}")


PersonFrame = collections.namedtuple("PersonFrame", "person index rgb224 box")
PersonFrame.__doc__ = """One person's frame out of `IdentityStream`, final: ``rgb224`` uint8 (224, 224, 3) their aligned
face and ``box`` float64 [x1, y1, x2, y2], or both None in a frame they are not in."""
PeopleInFrame = collections.namedtuple("PeopleInFrame", "index people")
PeopleInFrame.__doc__ = """Who is in frame ``index`` (their ids, sorted), once that is final."""
PersonLeft = collections.namedtuple("PersonLeft", "person last_face")
PersonLeft.__doc__ = """``person`` cannot come back with their id any more (or the stream ended): their last face
was in frame ``last_face``; no more `PersonFrame` of theirs follows."""


@dataclasses.dataclass
class _Person:
    first: int  # the frame of their first face: their smoother counts frames from it
    smoother: smoothing.StreamingSmoother
    last_face: int


class IdentityStream:
    """Every face (`locate_identities`, then `iter_aligned_identities`) in a single pass over frames
    that arrive one by one (a camera, a network stream): each keyframe interval's identities are
    popped as it closes, each person is smoothed on their own (``smoothing.StreamingSmoother``, from
    their first face on), and each person's face comes out aligned as soon as it is final — the
    faces and ids the two passes give.

    Args:
        detector: a `FaceDetector`.
        config: pipeline settings.
        fps: the stream's frame rate (turns ``reentry_seconds`` into frames).
        reentry_seconds: as `locate_identities`'.
        start: the index of the stream's first frame (keyframes count from it).
        previous: the `IdentityStream` of the stretch before this one (a live source that dropped
            frames or was reopened): its people keep their ids when they come back within the
            re-entry time (counting the frames in between) at the same place and size; None: ids
            from 0.

    Call ``add(frame)`` for every frame in order and ``finish()`` at the end; each returns, in order,
    `PeopleInFrame` (a frame's identities, final), `PersonFrame` (one person's frame from their first
    face on, final once smoothed) and `PersonLeft` (a person away longer than the re-entry time, or
    every person at the end).
    """

    def __init__(self, detector: FaceDetector, config: FacePipelineConfig = FacePipelineConfig(), fps: float = 25.0,
                 reentry_seconds: float = DEFAULT_REENTRY_SECONDS, start: int = 0,
                 previous: Optional["IdentityStream"] = None):
        if reentry_seconds < 0:
            raise ValueError(f"reentry_seconds must be >= 0, got {reentry_seconds}")
        self.config = config
        self.reentry_frames = int(round(reentry_seconds * (fps or 25.0)))
        self._locator = _IdentityLocator(detector, config, self.reentry_frames, stream=True)
        if previous is not None:
            # Nobody continues across the gap frame to frame; a face there comes back by place and size.
            self._locator.assigner = previous._locator.assigner
            self._locator.assigner.present = {}
        self._frames = {}  # frame -> [RGB frame, people in it not yet aligned, their boxes]
        self._people: Dict[int, _Person] = {}
        self.start = int(start)
        self.num_frames = 0

    def _smoothed(self, person, final):
        out = []
        state = self._people[person]
        for k, params in final:
            t = state.first + k
            if params is None:
                out.append(PersonFrame(person, t, None, None))
                continue
            held = self._frames[t]
            rgb = alignment.warp_face(held[0], alignment.params_to_similarity(params))
            out.append(PersonFrame(person, t, rgb, held[2][person]))
            held[1] -= 1
            if not held[1]:
                del self._frames[t]
        return out

    def _leave(self, person):
        state = self._people[person]
        out = self._smoothed(person, state.smoother.finish()) + [PersonLeft(person, state.last_face)]
        del self._people[person]
        return out

    def _resolved(self):
        out = []
        for state in self._locator.resolved:
            t = state.index
            people = sorted(state.faces)
            out.append(PeopleInFrame(t, tuple(people)))
            if people:
                self._frames[t] = [self._frames.pop(t), len(people),
                                   {person: box for person, (_, box) in state.faces.items()}]
            else:
                del self._frames[t]
            for person in people:
                if person not in self._people:
                    self._people[person] = _Person(t, smoothing.StreamingSmoother(self.config.smoothing_sigma), t)
            for person in sorted(self._people):
                mine = self._people[person]
                if person in state.faces:
                    landmarks, _ = state.faces[person]
                    mine.last_face = t
                    final = mine.smoother.add(t - mine.first, alignment.landmarks_to_params(landmarks),
                                              state.segments[person])
                else:
                    final = mine.smoother.add(t - mine.first, None, -1)
                out += self._smoothed(person, final)
                if person not in state.faces and t - mine.last_face >= self.reentry_frames + 1:
                    out += self._leave(person)  # the assigner would give them a new id now
        self._locator.resolved = []
        return out

    def add(self, frame: np.ndarray) -> list:
        index = self.start + self.num_frames
        self._frames[index] = frame
        self._locator.add(index, frame, is_keyframe=(self.num_frames % self.config.detect_every == 0))
        self.num_frames += 1
        return self._resolved()

    def finish(self) -> list:
        self._locator.flush()
        out = self._resolved()
        for person in sorted(self._people):
            out += self._leave(person)
        return out


def person_on_side(located: VideoIdentities, side: str, frame_width: int) -> FaceTrack:
    """One person of a two-person video as one track: the identities whose median box centre is on
    ``side`` ("leftmost": the left half of the frame, "rightmost": the right half) joined in time,
    the one seen longer winning a frame both are in (Aff-Wild2's ``_left``/``_right`` labels).

    Raises:
        ValueError: ``side`` is neither.
    """
    if side not in ("leftmost", "rightmost"):
        raise ValueError(f"side must be 'leftmost' or 'rightmost', got {side!r}")
    tracks, num_frames = located.tracks, located.num_frames
    chosen = []
    for person, track in tracks.items():
        found = np.flatnonzero(track.face_found)
        centre_x = np.median(0.5 * (track.boxes[found, 0] + track.boxes[found, 2]))
        if (centre_x < 0.5 * frame_width) == (side == "leftmost"):
            chosen.append((len(found), person))
    landmarks = np.zeros((num_frames, 5, 2), np.float64)
    boxes = np.zeros((num_frames, 4), np.float64)
    found = np.zeros(num_frames, np.uint8)
    segments = np.full(num_frames, -1, np.int64)
    detected = np.zeros(num_frames, np.uint8)
    # Fewest frames first, so the person seen longest is written last and wins shared frames.
    next_segment = 0
    for _, person in sorted(chosen):
        track = tracks[person]
        mine = track.face_found > 0
        landmarks[mine], boxes[mine], found[mine], detected[mine] = (
            track.landmarks[mine], track.boxes[mine], 1, track.detected[mine])
        # Segment ids of their own per identity: two people's alignments are never smoothed together.
        own = track.track_ids[mine]
        segments[mine] = next_segment + own
        next_segment += int(own.max()) + 1
    return FaceTrack(landmarks=landmarks, boxes=boxes, face_found=found, track_ids=segments, detected=detected,
                     detector_calls=located.detector_calls)

"""Valence and arousal of a live source — a camera, an RTSP/HTTP(S) stream — in one pass.

    from mimamo_tf.inference import Predictor
    from mimamo_tf.inference.live import open_live_source, predict_live

    source = open_live_source("rtsp://camera.local/stream")        # or "0" for the first camera
    summary = predict_live(Predictor.load("saved_models/demo"), source, on_row=print)

The work runs as overlapping stages, each a thread handing the next its results through a short
queue (``run_pipeline``), so the slowest stage sets the rate rather than their sum (TensorFlow,
LiteRT and OpenCV release the GIL while they compute): a reader decodes the source; the faces stage
runs the one-face pipeline frame by frame (``faces.FaceStream``: detection, tracking, smoothing
with its look-ahead); with an export in two parts the backbone stage runs once per face as faces come
out; the calling thread cuts windows as they complete (``windows.LiveWindowStream``: the windows,
sources and given frames ``predict`` gives a file), runs and merges them as a file's are
(``windows.WindowFeeder``), so every row is final — and written — as soon as its window has run.
On a file of the same frames the rows equal ``predict``'s.

Falling behind: a full queue holds the stage before it back; when the reader's queue is full it
drops frames at the input until the faces stage has caught up, then starts a new *segment* (the
current one is finished as if the video had ended there): frames are never dropped in the middle of a window, and the dropped frames get no rows.
A source that stops delivering frames is reopened for ``reconnect_seconds`` (a new segment), then
the run ends with a message. Stopping (Ctrl-C, SIGTERM, ``stop``) finishes the current segment, so
every row written is complete.
"""

import collections
import dataclasses
import datetime
import math
import queue
import threading
import time
from typing import Callable, Deque, Dict, List, Optional

import cv2
import numpy as np

from mimamo_tf import frame_rate
from mimamo_tf.errors import InputError
from mimamo_tf.faces import FaceStream
from mimamo_tf.faces.identities import DEFAULT_REENTRY_SECONDS, IdentityStream, PeopleInFrame, PersonFrame
from mimamo_tf.faces.smoothing import StreamingSmoother
from mimamo_tf.inference.frame_rows import COLUMNS, frame_row
from mimamo_tf.inference.windows import LiveWindowStream, WindowFeeder

# What --input accepts as a network stream (anything OpenCV's FFmpeg backend opens by URL).
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
OPEN_TIMEOUT_SECONDS = 10.0
# Extra wait on top of the window's look-ahead that the input queue may add (frames a slow moment
# can catch up on before frames are dropped); the default --latency is the look-ahead plus this.
DEFAULT_QUEUE_SECONDS = 0.5
LATENCIES_KEPT = 100_000
# A live row's columns: a file row's, and when its frame arrived. ``time_s`` is the stream's clock
# (the frame's number over the rate the source reports, 25 when it reports none); ``wall_time`` is
# the arrival on this machine's clock, ISO 8601 UTC with milliseconds, to synchronise with other
# recordings of a lab.
LIVE_COLUMNS = COLUMNS + ("wall_time",)


class LiveInputError(InputError, IOError):
    """A camera or stream that cannot be opened, or that stopped and could not be reopened."""

    kind = "live input error"


@dataclasses.dataclass(frozen=True)
class LiveSource:
    """A live ``--input``: ``target`` is a camera index (int) or a stream URL; ``name`` names its
    output files (``camera0``, or the URL's host and path)."""

    target: object
    name: str

    @property
    def is_camera(self):
        return isinstance(self.target, int)


def parse_live_input(text) -> Optional[LiveSource]:
    """The ``LiveSource`` of an ``--input`` that names a camera (``0``, ``1``, ...) or a stream URL,
    else None (a file, folder or glob)."""
    text = str(text).strip()
    if text.isdigit():
        return LiveSource(int(text), f"camera{int(text)}")
    if text.lower().startswith(STREAM_SCHEMES):
        rest = text.split("://", 1)[1].split("?", 1)[0]
        name = "".join(c if c.isalnum() or c in "-." else "_" for c in rest.strip("/")) or "stream"
        return LiveSource(text, name[:80])
    return None


def _capture(source: LiveSource):
    if source.is_camera:
        return cv2.VideoCapture(source.target)
    timeout_ms = int(OPEN_TIMEOUT_SECONDS * 1000)
    return cv2.VideoCapture(source.target, cv2.CAP_FFMPEG,
                            [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms])


def _describe(source: LiveSource):
    """How messages name the source: ``--input=...: camera N`` or ``--input=URL: the stream``."""
    return f"--input={source.target}: " + (f"camera {source.target}" if source.is_camera else "the stream")


def open_live_source(text):
    """Opens ``--input`` as a live source and reads its first frame, or raises ``LiveInputError``
    saying why: a camera index that does not open, a URL that cannot be reached or read.

    Returns:
        ``(LiveSource, capture, first RGB frame, fps)``: hand them to ``predict_live``.
    """
    source = parse_live_input(text) if not isinstance(text, LiveSource) else text
    if source is None:
        raise LiveInputError(f"--input={text}: not a camera index or a stream URL ({', '.join(STREAM_SCHEMES)})")
    capture = _capture(source)
    ok, frame = (capture.read() if capture.isOpened() else (False, None))
    if not ok:
        capture.release()
        if source.is_camera:
            raise LiveInputError(f"{_describe(source)} cannot be opened (no such device, no permission, or in use)")
        raise LiveInputError(f"{_describe(source)} cannot be opened or gives no frame within "
                             f"{OPEN_TIMEOUT_SECONDS:.0f} s (unreachable, refused, or not a video stream OpenCV's "
                             "FFmpeg backend reads: MJPEG, HLS, RTSP, ...)")
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    if not 1.0 <= fps <= 240.0:
        fps = 25.0  # cameras and MJPEG streams often report nothing usable
    return source, capture, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), fps


class FrameReader(threading.Thread):
    """Decodes a live source into a bounded queue of ``("frame", index, arrival_s, wall_time_s, rgb,
    dropped)`` (``arrival_s`` on ``time.monotonic()``, ``wall_time_s`` on ``time.time()``; ``dropped``:
    frames dropped just before this one, > 0 starts a new segment), ``("reopened", dropped)``
    (the source was reopened: a new segment; ``dropped``: frames dropped before it stopped) and, at the end, ``("end", message or None, dropped)``
    (``dropped``: frames dropped after the last one queued).

    Args:
        source, capture, first_frame: from ``open_live_source``.
        max_queued: frames the queue holds; when it is full, frames are dropped at the input until
            the consumer has emptied it.
        reconnect_seconds: how long a source that stopped delivering frames is reopened.
    """

    def __init__(self, source, capture, first_frame, max_queued, reconnect_seconds):
        super().__init__(daemon=True, name="mimamo-live-reader")
        self.source, self.capture = source, capture
        self.queue = queue.Queue(maxsize=max(1, int(max_queued)))
        self.reconnect_seconds = float(reconnect_seconds)
        self.stopping = threading.Event()
        self.dropped = 0
        self.reconnects = 0
        self._index = 0
        self._dropping = 0
        self.first_arrival = self.last_arrival = None  # time.monotonic() of the first and last frame read
        self._lock = threading.Lock()
        self._closed = False
        self._offer(first_frame)

    @property
    def frames_read(self):
        return self._index

    def _offer(self, rgb):
        with self._lock:
            if not self._closed:
                self._offer_unlocked(rgb)

    def _offer_unlocked(self, rgb):
        index, self._index = self._index, self._index + 1
        self.last_arrival = time.monotonic()
        self.first_arrival = self.first_arrival if index else self.last_arrival
        if self._dropping and not self.queue.empty():
            # Behind: keep dropping until the consumer has caught up with what it has.
            self._dropping += 1
            self.dropped += 1
            return
        try:
            # The frame says how many were dropped just before it: the consumer starts a new segment.
            self.queue.put_nowait(("frame", index, time.monotonic(), time.time(), rgb, self._dropping))
            self._dropping = 0
        except queue.Full:
            self._dropping += 1
            self.dropped += 1

    def _reopen(self):
        """Reopens the source for up to ``reconnect_seconds``; True when it delivers again."""
        self.capture.release()
        deadline = time.monotonic() + self.reconnect_seconds
        while not self.stopping.is_set() and time.monotonic() < deadline:
            capture = _capture(self.source)
            if capture.isOpened():
                self.capture = capture
                return True
            capture.release()
            self.stopping.wait(min(0.5, max(deadline - time.monotonic(), 0)))
        return False

    def run(self):
        message = None
        while not self.stopping.is_set():
            ok, frame = self.capture.read()
            if ok:
                self._offer(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                continue
            if self.stopping.is_set():
                break
            if self.reconnect_seconds > 0 and self._reopen():
                self.reconnects += 1
                with self._lock:  # the frames dropped before it stopped are reported with the reopening
                    dropped, self._dropping = self._dropping, 0
                self.queue.put(("reopened", dropped))  # the time line restarts: a new segment
                continue
            message = (f"{_describe(self.source)} stopped delivering frames and could not be reopened within "
                       f"{self.reconnect_seconds:g} s (--reconnect_seconds)")
            break
        self.capture.release()
        self.queue.put(("end", message, self._dropping))

    def stop(self):
        self.stopping.set()

    def close_input(self):
        """Stops counting and queueing frames, and returns how many queued frames were never taken
        (read, not processed: a stopped run's pending frames). After it, ``frames_read`` and
        ``dropped`` no longer change."""
        with self._lock:
            self._closed = True
        pending = 0
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return pending
            pending += item[0] == "frame"


class FramesWithoutDrops(threading.Thread):
    """Frames of an iterable (a decoded file, frames in memory) as a ``FrameReader`` gives them, but
    never dropped: it waits for room. For ``run_pipeline`` on a file (``predict``) and the live
    pipeline's capacity (``bench live``). An exception the iterable raises ends the frames; it is
    kept in ``error``."""

    def __init__(self, frames, max_queued=8):
        super().__init__(daemon=True, name="mimamo-live-frames")
        self.frames = frames
        self.queue = queue.Queue(maxsize=max_queued)
        self.frames_read, self.dropped, self.reconnects = 0, 0, 0
        self.error = None
        self._stopping = threading.Event()

    def run(self):
        try:
            for index, frame in enumerate(self.frames):
                if self._stopping.is_set():
                    break
                self.queue.put(("frame", index, time.monotonic(), None, frame, 0))
                self.frames_read += 1
        except Exception as error:  # noqa: B902 — the caller raises it after the run
            self.error = error
        self.queue.put(("end", None, 0))

    def stop(self):
        self._stopping.set()

    def close_input(self):
        # Lets a reader that waits for room go on to its end.
        while True:
            try:
                self.queue.get_nowait()
            except queue.Empty:
                return 0


@dataclasses.dataclass
class LiveSummary:
    """What a live run did.

    Attributes:
        frames: frames read from the source: ``rows + dropped + pending``.
        rows: rows written.
        dropped: frames dropped at the input because processing was behind.
        pending: frames read but not processed when the run was stopped (still in the input queue).
        segments: stretches processed as one video (a new one after every drop or reconnect).
        segment_starts: the first frame of each segment.
        reconnects: times the source was reopened.
        latency_s: per row, seconds from its frame's arrival to the row being written (the last
            ``LATENCIES_KEPT`` rows: a stream may run for days).
        seconds: wall time of the run.
        stream_seconds: the stretch of the stream read, from the first frame's arrival to the last's,
            plus one frame: ``rows / stream_seconds`` is the rate rows kept up with the stream
            (its frame rate when none was dropped).
        error: why the run ended early (the source stopped), or None.
        stopped: the run was stopped (Ctrl-C, SIGTERM, ``stop``).
        stage_seconds: seconds each stage of the pipeline was busy: ``faces`` (detection, tracking,
            smoothing, alignment), ``backbone`` (the backbone on each face, an export in two parts)
            and ``model`` (the windows' model and merging); over ``seconds``, how close each stage
            is to limiting the rate.
    """

    frames: int = 0
    rows: int = 0
    dropped: int = 0
    pending: int = 0
    segments: int = 0
    segment_starts: List[int] = dataclasses.field(default_factory=list)
    reconnects: int = 0
    latency_s: Deque[float] = dataclasses.field(default_factory=lambda: collections.deque(maxlen=LATENCIES_KEPT))
    seconds: float = 0.0
    stream_seconds: float = 0.0
    error: Optional[str] = None
    stopped: bool = False
    stage_seconds: Dict[str, float] = dataclasses.field(
        default_factory=lambda: {"faces": 0.0, "backbone": 0.0, "model": 0.0})

    def latency_percentiles(self):
        """``(median, p95)`` of ``latency_s`` in seconds (NaN without rows)."""
        if not self.latency_s:
            return math.nan, math.nan
        return float(np.median(self.latency_s)), float(np.percentile(self.latency_s, 95))


def iso_utc(seconds):
    """``time.time()`` seconds as ISO 8601 UTC with milliseconds: ``2026-12-07T21:05:03.120Z``."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lookahead_frames(predictor):
    """Frames a row waits for after its own frame arrives, at most: the face pipeline's (a keyframe
    interval and the smoothing's reach) plus the window's (``windows.LiveWindowStream.lookahead``:
    the first frame a window gives waits for the last frame of its context and the frame after its
    end)."""
    config = predictor.face_config
    face_lag = (config.detect_every - 1) + StreamingSmoother(config.smoothing_sigma).radius
    return LiveWindowStream(predictor.window, predictor.context, predictor.stride).lookahead + face_lag


# Items a stage hands the next one, through a queue of at most STAGE_QUEUE_ITEMS: ("segment", first source
# index), ("faces", [(AlignedFrame, arrival, wall_time, feature or None)]) or, every face,
# ("people", [(PeopleInFrame, (arrival, wall_time)) | (PersonFrame, feature or None) | (PersonLeft, None)]),
# ("finish",) (the segment ended), ("event", line), and last ("end", error, stopped, pending) or ("raise", exception). A full
# queue holds the stage before it back, and in the end the reader, which then drops frames at the
# input: the slowest stage sets the rate, and no frame waits long inside the pipeline.
STAGE_QUEUE_ITEMS = 4


class _Stage(threading.Thread):
    """Runs ``work`` in a thread. An exception it raises goes on to ``outbox`` as ``("raise", error)``
    (the caller's thread raises it), and what then still comes into ``inbox`` is let go, up to the
    stage before's last item, so that stage never waits on a full queue."""

    def __init__(self, name, work, outbox, inbox=None):
        super().__init__(daemon=True, name=name)
        self.work, self.outbox, self.inbox = work, outbox, inbox

    def run(self):
        try:
            self.work()
        except BaseException as error:  # noqa: B902 — handed on, raised in the caller's thread
            self.outbox.put(("raise", error))
            while self.inbox is not None and self.inbox.get()[0] not in ("end", "raise"):
                pass


def _timed(seconds, key, function, *args):
    start = time.perf_counter()
    try:
        return function(*args)
    finally:
        seconds[key] += time.perf_counter() - start


def _faces_stage(predictor, reader, outbox, stopping, seconds, people=None):
    """Stage 1: frames from ``reader`` (a ``FrameReader``) -> aligned faces, one segment at a time
    (``faces.FaceStream``; ``people``, a function of a segment's first frame: every face,
    ``identities.IdentityStream``), with the segment and drop decisions; ends with the ``"end"`` item."""
    faces, arrival = None, {}

    def put(kind, *rest):
        outbox.put((kind,) + rest)

    def aligned(frames):
        if not frames:
            return
        if people is None:
            put("faces", [(frame, *arrival.pop(frame.index), None) for frame in frames])
        else:  # a frame's arrival goes with who is in it; a person's face will take its feature
            put("people", [(event, arrival.pop(event.index) if isinstance(event, PeopleInFrame) else None)
                           for event in frames])

    def finish():
        nonlocal faces
        if faces is not None:
            aligned(_timed(seconds, "faces", faces.finish))
            put("finish")
        faces = None

    error, stopped = None, False
    try:
        while True:
            try:
                item = reader.queue.get(timeout=0.2)
            except queue.Empty:
                if stopping():
                    stopped = True
                    break
                continue
            if item[0] == "frame":
                _, index, arrived, wall_time, frame, dropped = item
                if dropped and faces is None:
                    # Dropped before the first frame of a segment (one that a reopening started).
                    put("event", f"processing fell behind the source: {dropped} frame(s) dropped at the input as it "
                                 "was reopened")
                elif dropped:
                    finish()
                    put("event", f"processing fell behind the source: {dropped} frame(s) dropped at the input")
                if faces is None:
                    faces = FaceStream(predictor.detector, predictor.face_config) if people is None else people(index)
                    put("segment", index)
                arrival[faces.num_frames if people is None else index] = (arrived, wall_time)
                aligned(_timed(seconds, "faces", faces.add, frame))
                if stopping():
                    stopped = True
                    break
            elif item[0] == "reopened":
                finish()
                put("event", "the source was reopened" + (
                    f" ({item[1]} frame(s) dropped at the input before it stopped)" if item[1] else ""))
            else:
                error = item[1]
                if item[2]:
                    put("event", f"processing fell behind the source: {item[2]} frame(s) dropped at the input before "
                                 "it ended")
                break
    except BaseException:
        reader.stop()
        reader.close_input()
        raise
    reader.stop()
    pending = reader.close_input()
    finish()
    put("end", error, stopped, pending)


def _feature_stage(predictor, inbox, outbox, seconds):
    """Stage 2 (an export in two parts): the backbone on each face as it comes, in one call for the
    faces that came out together (a keyframe interval), so the window model reuses the features."""
    while True:
        item = inbox.get()
        if item[0] in ("faces", "people"):
            with_face = [k for k, (frame, *_) in enumerate(item[1]) if getattr(frame, "rgb224", None) is not None]
            if with_face:
                batch = np.stack([item[1][k][0].rgb224 for k in with_face])
                features = dict(zip(with_face, _timed(seconds, "backbone", predictor.runner.frame_features, batch)))
                item = (item[0], [entry[:-1] + (features[k],) if k in features else entry
                                  for k, entry in enumerate(item[1])])
        outbox.put(item)
        if item[0] in ("end", "raise"):
            return


def _live_row(frame, fps, face_id, box, values, wall_time):
    """A live row: ``frame_row`` of a face box ``[x1, y1, x2, y2]`` (None: no face) and its values,
    with ``wall_time`` (ISO 8601 UTC) when the arrival on the wall clock is known."""
    found = box is not None
    row = frame_row(frame, fps, face_id, found,
                    (box[0], box[1], box[2] - box[0], box[3] - box[1]) if found else None, *values)
    if wall_time is not None:
        row["wall_time"] = iso_utc(wall_time)
    return row


class _SegmentRows:
    """Stage 3, one segment: aligned faces (and their features) -> windows, model, final rows
    (``windows.WindowFeeder`` on a ``windows.LiveWindowStream``), as ``(row, arrival)`` in frame
    order."""

    def __init__(self, predictor, fps, base, seconds, raw=False):
        self.fps, self.base, self.raw = fps, base, raw
        self.feeder = WindowFeeder(predictor, LiveWindowStream(predictor.window, predictor.context, predictor.stride),
                                   seconds)
        self.found = {}

    def add(self, entries):
        merged = []
        for frame, arrival, wall_time, feature in entries:
            self.found[frame.index] = (frame.box, frame.track_id, arrival, wall_time)
            merged += self.feeder.add(frame.index, frame.rgb224, feature)
        return self._rows(merged)

    def finish(self):
        return self._rows(self.feeder.finish())

    def _rows(self, merged):
        rows = []
        for frames in merged:
            for t in range(frames.first, frames.end):
                box, track, arrival, wall_time = self.found.pop(t)
                found = box is not None
                if self.raw:  # the values as the model gave them, for arrays (``predict`` on a file)
                    values = frames.values[t - frames.first] if found and frames.values is not None else None
                    rows.append(({"frame": self.base + t, "box": box, "track": int(track), "values": values}, arrival))
                    continue
                values = frames.values[t - frames.first] if found and frames.values is not None else (None, None)
                rows.append((_live_row(self.base + t, self.fps, int(track) if found else None, box, values, wall_time),
                             arrival))
        return rows


class _PersonWindows:
    """One person's windows in a segment, from their first face on (``windows.WindowFeeder`` on a
    ``windows.LiveWindowStream``, frame ``k`` = the segment's frame ``first + k``). Frames they are
    away are held back until they come back (then fed, faceless) or leave for good (then their
    windows end on their last face): their windows are those of their span from the first to the
    last face, as ``predict --faces=all`` on a file gives."""

    def __init__(self, predictor, first, seconds):
        self.first = first
        self.feeder = WindowFeeder(predictor, LiveWindowStream(predictor.window, predictor.context, predictor.stride),
                                   seconds)
        self.fed = 0  # frames given to the feeder
        self.boxes = {}  # frame -> box, of their faces not yet merged

    def add(self, t, face, box, feature):
        """Frame ``t``'s face (None: away): the windows merged meanwhile."""
        if face is None:
            return []  # held back: fed if they come back
        merged = []
        while self.first + self.fed < t:
            merged += self.feeder.add(self.fed, None)
            self.fed += 1
        self.boxes[t] = box
        merged += self.feeder.add(self.fed, face, feature)
        self.fed += 1
        return merged

    def finish(self):
        return self.feeder.finish() if self.fed else []


class _SegmentPeopleRows:
    """Stage 3 with every face, one segment: ``identities.IdentityStream``'s events (and each face's
    feature) -> each person's windows (``_PersonWindows``) -> rows, each written as soon as that
    person's value is final (so rows of different people interleave); a frame nobody is in gets one
    row without a face as soon as that is known."""

    def __init__(self, predictor, fps, base, seconds):
        self.predictor, self.fps, self.base, self.seconds = predictor, fps, base, seconds
        self.people = {}
        self.arrival = {}  # frame -> [arrival, wall_time, rows still to write]

    def _row(self, t, person=None, box=None, values=(None, None)):
        arrival = self.arrival[t]
        row = _live_row(t, self.fps, person, box, values, arrival[1])
        arrival[2] -= 1
        if not arrival[2]:
            del self.arrival[t]
        return row, arrival[0]

    def _merged(self, person, merged):
        windows, rows = self.people[person], []
        for frames in merged:
            for k in range(frames.first, frames.end):
                t = windows.first + k
                box = windows.boxes.pop(t, None)
                if box is not None:  # frames they are away have no row of theirs
                    rows.append(self._row(t, person, box, frames.values[k - frames.first]))
        return rows

    def add(self, entries):
        rows = []
        for event, extra in entries:
            if isinstance(event, PeopleInFrame):
                self.arrival[event.index] = [*extra, max(len(event.people), 1)]
                if not event.people:
                    rows.append(self._row(event.index))
            elif isinstance(event, PersonFrame):
                windows = self.people.get(event.person)
                if windows is None:
                    windows = self.people[event.person] = _PersonWindows(self.predictor, event.index, self.seconds)
                rows += self._merged(event.person, windows.add(event.index, event.rgb224, event.box, extra))
            elif event.person in self.people:  # PersonLeft: their windows end on their last face
                rows += self._merged(event.person, self.people[event.person].finish())
                del self.people[event.person]
        return rows

    def finish(self):
        rows = []
        for person in list(self.people):
            rows += self._merged(person, self.people.pop(person).finish())
        return rows


def predict_live(predictor, opened, on_row: Callable[[dict], None], latency=None, reconnect_seconds=5.0,
                 stop: Optional[threading.Event] = None, on_event: Callable[[str], None] = lambda message: None,
                 faces="largest", reentry_seconds=DEFAULT_REENTRY_SECONDS):
    """Runs ``predictor`` on a live source until it ends, fails or is stopped.

    Args:
        predictor: a ``Predictor`` (one face: the largest where a track starts).
        opened: ``open_live_source(...)``'s result.
        on_row: called with each final row (a dict with ``frame_rows.COLUMNS``), in frame order.
        latency: seconds a row may wait after its frame arrived; at least the look-ahead the window
            and the face pipeline need (``lookahead_frames / fps``); the rest is the input queue.
            None: the look-ahead plus ``DEFAULT_QUEUE_SECONDS``.
        reconnect_seconds: how long a source that stops is reopened before the run ends.
        stop: set it to end the run (the current segment is finished first).
        on_event: called with a line for drops, reconnects and a source rate other than the model's
            (``predictor.frame_rate``; live frames are not resampled).
        faces: ``"largest"``: one face (the largest where a track starts); ``"all"``: every face, each
            an identity (``identities.IdentityStream``) with its own windows, its rows written as
            soon as its values are final (the rows of a person who is away wait until they come back
            or the re-entry time has passed: only then are their windows known).
        reentry_seconds: with ``faces="all"``, a face away for at most this long keeps its id when it
            comes back at the same place and size (also across a drop or a reconnect).

    Returns:
        A ``LiveSummary``.

    Raises:
        LiveInputError: ``latency`` is shorter than the look-ahead.
    """
    source, capture, first_frame, fps = opened
    needed = lookahead_frames(predictor) / fps
    latency = needed + DEFAULT_QUEUE_SECONDS if latency is None else float(latency)
    if latency < needed:
        capture.release()
        raise LiveInputError(
            f"--latency={latency:g}: the model's windows of {predictor.window} frames every {predictor.stride} "
            f"(context {predictor.context}) and the face pipeline's look-ahead need {needed:.2f} s at {fps:g} frames/s; "
            "allow at least that, or lower --window_overlap")
    reader = FrameReader(source, capture, first_frame, max_queued=max(1, round((latency - needed) * fps)),
                         reconnect_seconds=reconnect_seconds)
    trained_rate = getattr(predictor, "frame_rate", None)
    if frame_rate.resamples(fps, trained_rate):
        # Live frames are taken as they come (a camera's reported rate is often wrong or absent).
        on_event(f"the source gives {fps:g} frames/s and the model was trained on faces at {trained_rate:g} "
                 "frames/s: live input is not resampled, so a motion moves "
                 f"{trained_rate / fps:.2f}x as far between frames as in training")
    summary = run_pipeline(predictor, reader, fps, on_row, stop=stop, on_event=on_event, faces=faces,
                           reentry_seconds=reentry_seconds)
    return summary


def run_pipeline(predictor, reader, fps, on_row, stop=None, on_event=lambda message: None, faces="largest",
                 reentry_seconds=DEFAULT_REENTRY_SECONDS, raw=False):
    """The live pipeline on ``reader`` (a ``FrameReader`` not yet started, or a thread with its ``queue``,
    ``stop``, ``close_input``, ``frames_read``, ``dropped`` and ``reconnects``):
    decoding (the reader's thread), faces (a thread), the backbone once per face (a thread, when the
    export has the model in two parts) and the windows and rows (the calling thread) overlap, each
    handing the next its results through a short queue. Arguments and result as ``predict_live``'s;
    ``raw`` (one face): ``on_row`` takes ``{"frame", "box" ([x1, y1, x2, y2] or None), "track", "values"
    ((2,) as the model gave them, or None)}`` instead of a row."""
    summary = LiveSummary()
    stop = stop or threading.Event()
    halt = threading.Event()  # this run's own stop: Ctrl-C, or a stage that failed
    seconds = summary.stage_seconds
    faces_out = queue.Queue(STAGE_QUEUE_ITEMS)
    stopping = lambda: stop.is_set() or halt.is_set()  # noqa: E731
    if faces not in ("largest", "all"):
        raise ValueError(f"faces={faces!r}: expected 'largest' or 'all'")
    previous = []

    def every_face(start):
        # People keep their ids across segments (the re-entry rule, counting the frames between).
        previous[:] = [IdentityStream(predictor.detector, predictor.face_config, fps, reentry_seconds, start=start,
                                      previous=previous[0] if previous else None)]
        return previous[0]

    people = every_face if faces == "all" else None
    stages = [_Stage("mimamo-live-faces",
                     lambda: _faces_stage(predictor, reader, faces_out, stopping, seconds, people), faces_out)]
    rows_in = faces_out
    if predictor.reuses_features:
        rows_in = queue.Queue(STAGE_QUEUE_ITEMS)
        stages.append(_Stage("mimamo-live-backbone",
                             lambda: _feature_stage(predictor, faces_out, rows_in, seconds), rows_in, faces_out))
    started = time.monotonic()
    segment, failure = None, None

    def write(rows):
        for row, arrival in rows:
            on_row(row)
            summary.rows += 1
            summary.latency_s.append(time.monotonic() - arrival)

    reader.start()
    for stage in stages:
        stage.start()
    while True:
        try:
            item = rows_in.get()
            kind = item[0]
            if failure is not None and kind not in ("end", "raise"):
                continue  # an error stops the run: what is still in the pipeline is let go
            if kind == "segment":
                summary.segments += 1
                summary.segment_starts.append(item[1])
                segment = (_SegmentRows(predictor, fps, item[1], seconds, raw) if faces == "largest"
                           else _SegmentPeopleRows(predictor, fps, item[1], seconds))
            elif kind in ("faces", "people"):
                write(segment.add(item[1]))
            elif kind == "finish":
                write(segment.finish())
            elif kind == "event":
                on_event(item[1])
            elif kind == "raise":  # a stage failed; the stages before it end (stopped, or drained)
                failure = failure or item[1]
                halt.set()
                break
            else:
                summary.error, summary.stopped, summary.pending = item[1], item[2], item[3]
                break
        except KeyboardInterrupt:
            halt.set()  # the faces stage ends the segment and the pipeline drains: every row written is whole
        except BaseException as error:  # noqa: B902 — on_row failed (a full disk): stop, then raise it
            failure = failure or error
            halt.set()
    for stage in stages:
        stage.join()
    summary.frames, summary.dropped, summary.reconnects = reader.frames_read, reader.dropped, reader.reconnects
    summary.seconds = time.monotonic() - started
    first, last = getattr(reader, "first_arrival", None), getattr(reader, "last_arrival", None)
    summary.stream_seconds = last - first + 1.0 / fps if first is not None else summary.seconds
    if failure is not None:
        raise failure
    return summary

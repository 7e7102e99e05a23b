"""Windows of aligned faces for an exported model, assembled while a video streams past, and their
predictions merged into one per frame.

An export takes ``window + 2 * context`` faces and predicts the ``window`` central frames; a video
is cut like ``evaluate`` cuts it (``mimamo_tf.window_plan``): windows every ``stride`` frames
(overlapping when ``stride < window``), with the context clamped at the video's ends (the first/last
face repeated) and the last window ending on the video's last frame (only a video shorter than a
window is padded, with its last face). A frame without a face takes the face of its
nearest frame with a face (``window_plan.nearest_face_frames``, as the input pipeline does), so a
window can need a face that comes later in the video: it is emitted as soon as every face it needs
has arrived, and faces no later window needs are dropped — a window is never held longer than its
faces take to arrive, and at most ``window + 2 * context + stride`` faces are held, whatever the
video's length (``+ stride`` more in a live stream, whose last window, moved back to end on the
last frame, may start anywhere after the one before it).

``WindowMerge`` alone decides which window's prediction each frame takes and when a frame's
prediction is final; both streams ask it which frames a window gives, and every caller (a file, each
face of ``--faces=all``, faces in memory, a live source: ``WindowFeeder``, below) hands it the
windows' predictions.
"""

import bisect
import collections
import time

import numpy as np

from mimamo_tf import window_plan


def window_frames(start, num_frames, window, context):
    """Frame indices of the window starting at ``start``, context included, clamped to the video."""
    return np.clip(np.arange(start - context, start + window + context), 0, num_frames - 1)


ReadyWindow = collections.namedtuple("ReadyWindow", "start faces first end sources")
ReadyWindow.__doc__ = """A window whose faces have all arrived: ``faces`` ``(window + 2 * context, ...)`` from frame
``start - context`` on, ``sources`` the frame each face is (a frame without a face takes its nearest
face's); it gives the frames ``first <= t < end`` (``WindowMerge.frames_of``: the model's output
``[first - start, end - start)``). ``faces`` and ``sources`` are None for a window that need not run
(``LiveWindowStream``: none of its frames has a face): its frames are final without values."""

MergedFrames = collections.namedtuple("MergedFrames", "first end values")
MergedFrames.__doc__ = """Frames ``first <= t < end`` whose predictions are final: ``values`` ``(end - first, k)``
(row ``t - first`` is frame ``t``'s), or None when the window that gives them did not run."""


class WindowMerge:
    """Which window's prediction each frame takes, and when a frame's prediction is final.

    Every frame takes the prediction of the window whose centre is nearest, the earlier one on a tie
    (``window_plan.owned_frames``, the frames ``evaluate`` scores each window on): each window gives
    a run of consecutive frames, the runs of consecutive windows tile the video, and a frame is final
    as soon as the window that gives it has run, since no later window changes it. File prediction,
    every face and live input all merge here, so the merge ``predict`` applies is this class.

    Args:
        window: predicted frames per window.
        stride: frames between window starts (``window_plan.overlap_stride``).

    Attributes:
        final: the frames ``[0, final)`` are final (their windows have been added).

    Example:
        >>> merge = WindowMerge(window=8, stride=4)
        >>> merge.frames_of(4, num_frames=100)
        (6, 10)
    """

    def __init__(self, window, stride):
        self.window, self.stride = int(window), int(stride)
        self.final = 0

    def frames_of(self, start, num_frames):
        """The frames the window starting at ``start`` gives.

        Args:
            start: the window's first frame.
            num_frames: the video's frames known so far; the window is the video's last when it
                reaches the last of them (a stream asks once that is settled: the video has ended,
                or a frame past the window has arrived).

        Returns:
            ``(first, end)``: it gives the frames ``first <= t < end``.
        """
        return window_plan.owned_frames(start, num_frames, self.window, self.stride)

    def add(self, window, predictions):
        """Merges the next window's predictions.

        Args:
            window: a ``ReadyWindow``; windows come in the order of their starts, each once.
            predictions: ``(window, k)`` the model's output on it (frames ``start`` to
                ``start + window - 1``), or None when it did not run (``window.faces`` is None).

        Returns:
            ``MergedFrames``: the frames this window made final, with their values.

        Raises:
            ValueError: the window does not follow the last one added.
        """
        if window.first != self.final:
            raise ValueError(f"the window starting at frame {window.start} gives frames from {window.first}, "
                             f"but the frames up to {self.final} are final: windows must come in order, each once")
        values = None if predictions is None else predictions[window.first - window.start : window.end - window.start]
        self.final = window.end
        return MergedFrames(window.first, window.end, values)


class WindowStream:
    """Turns faces arriving in frame order into the model's input windows.

    Args:
        face_found: ``(T,)`` 1 where the frame has a face (known before the faces stream: the face
            pipeline locates faces in a first pass).
        window: predicted frames per window.
        context: extra frames on each side.
        stride: frames between window starts (``window_plan.overlap_stride``); None: ``window``
            (windows one after the other).

    Attributes:
        merge: the ``WindowMerge`` that says which frames each window gives; its ``add`` takes the
            windows' predictions.
        peak: the most faces held at once.

    Call ``add(frame_index, face)`` for every frame in order; it returns the windows completed by
    that face as ``ReadyWindow`` tuples (all of them by the last frame's; ``finish`` returns none).
    """

    def __init__(self, face_found, window, context, stride=None):
        self.face_found = np.asarray(face_found) > 0
        self.num_frames = len(self.face_found)
        self.window = int(window)
        self.context = int(context)
        self.stride = int(stride or window)
        self.merge = WindowMerge(self.window, self.stride)
        self.source = window_plan.nearest_face_frames(self.face_found)
        self.starts = [int(s) for s in window_plan.window_starts(self.num_frames, self.window, self.stride)]
        self._next = 0
        self._kept = {}
        self.peak = 0

    @property
    def held(self):
        """The frames whose faces are still held (some window yet to come needs them)."""
        return self._kept.keys()

    @property
    def done(self):
        return self._next >= len(self.starts)

    def _sources(self, position):
        return self.source[window_frames(self.starts[position], self.num_frames, self.window, self.context)]

    def add(self, index, face):
        if self.source[index] == index:  # only faces some frame takes its input from
            self._kept[index] = face
            self.peak = max(self.peak, len(self._kept))
        ready = []
        while not self.done:
            sources = self._sources(self._next)
            if sources.max() > index:
                break
            start = self.starts[self._next]
            first, end = self.merge.frames_of(start, self.num_frames)
            ready.append(ReadyWindow(start, np.stack([self._kept[i] for i in sources]), first, end, sources))
            self._next += 1
            if not self.done:
                oldest_needed = self._sources(self._next).min()
                for key in [k for k in self._kept if k < oldest_needed]:
                    del self._kept[key]
        return ready

    def finish(self):
        """The windows left at the video's end: none, the last frame's ``add`` completed them all
        (``LiveWindowStream.finish``'s counterpart, for callers that take either stream)."""
        return []


class _FrameFlags:
    """A list of per-frame flags indexed by frame number that forgets the frames before a point
    (a live stream's memory does not grow with its length)."""

    def __init__(self):
        self._flags, self._offset = [], 0

    def __len__(self):
        return self._offset + len(self._flags)

    def append(self, flag):
        self._flags.append(bool(flag))

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self._flags[key.start - self._offset : key.stop - self._offset]
        return self._flags[key - self._offset]

    def forget_before(self, frame):
        drop = max(0, min(frame - self._offset, len(self._flags)))
        del self._flags[:drop]
        self._offset += drop


class LiveWindowStream:
    """`WindowStream` for a stream whose length and faces are not known in advance (a camera): the
    same windows, sources and given frames as ``WindowStream`` gives the whole video, emitted with a
    bounded look-ahead.

    Windows start every ``stride`` frames. A window is emitted once its last context frame and the
    frame after its end have arrived: it is then known not to be the last window, so ``merge`` can
    say which frames it gives. A frame without a face takes its nearest face, known once a face
    arrived after it or the frames after it are as many as those since the face before it. A window
    none of whose given frames has a face is emitted without faces (not to be run: its frames have
    no values), so any other window's sources are at most ``window + 2 * context`` frames beyond it.
    ``finish()`` gives the remaining windows, the last one moved back to end on the last frame, as
    ``WindowStream`` does at the end of a video.

    Args:
        window, context, stride: as ``WindowStream``.

    Attributes:
        merge, peak: as ``WindowStream``'s.

    Call ``add(t, face)`` for frames ``t = 0, 1, ...`` (``face`` None without a face) and at the end
    ``finish()``; each returns the ``ReadyWindow`` tuples completed meanwhile, in order.
    """

    def __init__(self, window, context, stride=None):
        self.window, self.context = int(window), int(context)
        self.stride = int(stride or window)
        self.merge = WindowMerge(self.window, self.stride)
        self._faces = {}  # frame -> face, for faces a coming window may still need
        self._found = _FrameFlags()  # face_found of the frames a coming window may still look at
        self._face_frames = []  # the frames with a face a coming window may take a face from
        self._next = 0  # the next window
        self.peak = 0

    @property
    def held(self):
        return self._faces.keys()

    @property
    def lookahead(self):
        """Frames the first frame an inner window gives waits after it arrives, for the window's last
        context frame and the frame after its end (a frame without a face may also wait for its
        nearest face)."""
        start = self.stride  # an inner window: not the first, and not the last once a frame is past it
        first, _ = self.merge.frames_of(start, start + self.window + 1)
        return start + self.window + max(self.context, 1) - 1 - first

    def _source(self, p, num_frames, ended):
        """Nearest face frame of frame ``p`` (None while unknown)."""
        if self._found[p]:
            return p
        k = bisect.bisect_left(self._face_frames, p)
        before = self._face_frames[k - 1] if k > 0 else None
        after = self._face_frames[k] if k < len(self._face_frames) else None
        if after is not None and (before is None or after - p < p - before):
            return after
        if before is not None and (ended or p + (p - before) < num_frames):
            return before  # no face can come nearer than the one before
        return p if ended else None  # no face anywhere: itself (its window never runs)

    def _emit(self, num_frames, ended):
        windows = []
        while True:
            start = self._next * self.stride
            if start >= num_frames or (self._next > 0 and start - self.stride + self.window >= num_frames and ended):
                break
            if not ended and num_frames < start + self.window + max(self.context, 1):
                # Its last context frame has not arrived, or it is not yet known whether it is the
                # last window (it is unless a frame past its end arrives).
                break
            if ended and start + self.window > num_frames:
                start = max(num_frames - self.window, 0)  # the last window ends on the last frame
            first, end = self.merge.frames_of(start, num_frames)
            if any(self._found[first:end]):
                sources = [self._source(int(p), num_frames, ended)
                           for p in window_frames(start, num_frames, self.window, self.context)]
                if any(s is None for s in sources):
                    break
                sources = np.array(sources)
                windows.append(ReadyWindow(start, np.stack([self._faces[int(i)] for i in sources]), first, end,
                                           sources))
            else:
                windows.append(ReadyWindow(start, None, first, end, None))
            self._next += 1
        # Faces no coming window needs: those before the next window's first frame and before the
        # face just before it (a faceless frame there may take that one). The next window may be the
        # last, moved back to end on the last frame: anywhere after the window before it.
        oldest = max(0, (self._next - 1) * self.stride + 1 - self.context) if self._next else 0
        k = bisect.bisect_left(self._face_frames, oldest)
        keep_from = self._face_frames[k - 1] if k > 0 else oldest
        for key in [key for key in self._faces if key < keep_from]:
            del self._faces[key]
        del self._face_frames[: max(k - 1, 0)]
        self._found.forget_before(min(keep_from, oldest))
        return windows

    def add(self, t, face):
        if t != len(self._found):
            raise ValueError(f"frame {t} out of order: expected {len(self._found)}")
        self._found.append(face is not None)
        if face is not None:
            self._faces[t] = face
            self._face_frames.append(t)
            self.peak = max(self.peak, len(self._faces))
        return self._emit(len(self._found), ended=False)

    def finish(self):
        if not self._found:
            return []
        return self._emit(len(self._found), ended=True)


class WindowFeeder:
    """One face sequence through a predictor's model: feeds its faces, frame by frame, into a window
    stream, runs each window as soon as it is complete and merges the windows' predictions into
    final per-frame values (``stream.merge``, a ``windows.WindowMerge``). A file (several feeders
    side by side, one per identity, in one pass over a video), faces in memory and a live source
    (``live.predict_live``) all run their windows through it, so all give the same numbers.

    Args:
        predictor: the ``Predictor`` whose model runs the windows.
        stream: a ``windows.WindowStream`` (the frames with a face known in advance) or a
            ``windows.LiveWindowStream`` (a live source).
        seconds: a dict whose ``"model"`` entry the model's time is added to; None: not timed.

    Call ``add(t, face)`` for frames ``t = 0, 1, ...`` and, at the end, ``finish()``; each returns the
    ``windows.MergedFrames`` made final meanwhile, in frame order. ``add(t, face, feature)`` gives
    the face's backbone feature computed ahead (live input's backbone stage), so no window runs the
    backbone on it again.

    Example:
        >>> feeder = WindowFeeder(predictor, WindowStream(face_found, predictor.window, predictor.context,
        ...                                               predictor.stride))
        >>> merged = [frames for t, face in enumerate(faces_rgb) for frames in feeder.add(t, face)]
    """

    def __init__(self, predictor, stream, seconds=None):
        self.predictor = predictor
        self.stream = stream
        self.seconds = seconds
        # Backbone features of the faces still held, when the export has the model in two parts, and
        # motion features of the frames the next window may take, when its window part is in two too.
        self.features = {} if predictor.reuses_features else None
        self.motion = {} if predictor.reuses_motion else None

    def add(self, t, face, feature=None):
        """Frame ``t``'s face: ``(224, 224, 3)`` uint8, or None for a frame without a face (a
        ``WindowStream`` never reads those, so anything will do there); ``feature``: its backbone
        feature, when already computed (kept only with an export in two parts)."""
        if feature is not None and self.features is not None:
            self.features[t] = feature
        return self._merge(self.stream.add(t, face))

    def finish(self):
        """The video has ended: runs the windows its end completes."""
        return self._merge(self.stream.finish())

    def _merge(self, windows):
        merged = []
        model_start = time.perf_counter()
        for window in windows:
            # A window without faces (live: none of its frames has one) does not run; its frames get no values.
            out = (None if window.faces is None else
                   self.predictor._run_window(window, self.features, self.stream.held, self.motion))
            merged.append(self.stream.merge.add(window, out))
        if self.seconds is not None:
            self.seconds["model"] += time.perf_counter() - model_start
        return merged

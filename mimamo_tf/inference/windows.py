"""Windows of aligned faces for an exported model, assembled while a video streams past.

An export takes ``window + 2 * context`` faces and predicts the ``window`` central frames; a video
is cut like ``evaluate`` cuts it (``mimamo_tf.window_plan``): windows every ``stride`` frames
(overlapping when ``stride < window``), each predicting the frames nearest its centre, with the
context clamped at the video's ends (the first/last face repeated) and the last window padded the
same way. A frame without a face takes the face of its nearest frame with a face (as the input
pipeline does), so a window can need a face that comes later in the video: it is emitted as soon as
every face it needs has arrived, with the frames whose predictions it makes final, and faces no
later window needs are dropped — a window is never held longer than its faces take to arrive, and
at most ``window + 2 * context + stride`` faces are held, whatever the video's length.
"""

import bisect
import collections

import numpy as np

from mimamo_tf import window_plan


def nearest_face_frames(face_found):
    """Index of the nearest frame with a face for every frame (itself if it has one; the earlier
    one on a tie); a video without a face maps every frame to itself.

    Linear-time twin of ``mimamo_tf.data.pipeline.nearest_face_frames_numpy`` (the definition),
    for videos of tens of thousands of frames.
    """
    face_found = np.asarray(face_found) > 0
    frames = np.arange(len(face_found))
    with_face = np.flatnonzero(face_found)
    if not len(with_face):
        return frames
    after = np.minimum(np.searchsorted(with_face, frames, side="left"), len(with_face) - 1)
    before = np.maximum(after - 1, 0)
    previous_face, next_face = with_face[before], with_face[after]
    return np.where(np.abs(frames - previous_face) <= np.abs(next_face - frames), previous_face, next_face)


def window_frames(start, num_frames, window, context):
    """Frame indices of the window starting at ``start``, context included, clamped to the video."""
    return np.clip(np.arange(start - context, start + window + context), 0, num_frames - 1)


ReadyWindow = collections.namedtuple("ReadyWindow", "start faces first end sources")
ReadyWindow.__doc__ = """A window whose faces have all arrived: ``faces`` ``(window + 2 * context, ...)`` from frame
``start - context`` on, ``sources`` the frame each face is (a frame without a face takes its nearest
face's); its predictions of frames ``first <= t < end`` are final (the model's output
``[first - start, end - start)``)."""


class WindowStream:
    """Turns faces arriving in frame order into the model's input windows.

    Args:
        face_found: ``(T,)`` 1 where the frame has a face (known before the faces stream: the face
            pipeline locates faces in a first pass).
        window: predicted frames per window.
        context: extra frames on each side.
        stride: frames between window starts (``window_plan.overlap_stride``); None: ``window``
            (windows one after the other).

    Call ``add(frame_index, face)`` for every frame in order; it returns the windows completed by
    that face as ``ReadyWindow`` tuples. ``peak`` is the most faces held at once.
    """

    def __init__(self, face_found, window, context, stride=None):
        self.face_found = np.asarray(face_found) > 0
        self.num_frames = len(self.face_found)
        self.window = int(window)
        self.context = int(context)
        self.stride = int(stride or window)
        self.source = nearest_face_frames(self.face_found)
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
            first, end = window_plan.owned_frames(start, self.num_frames, self.window, self.stride)
            ready.append(ReadyWindow(start, np.stack([self._kept[i] for i in sources]), first, end, sources))
            self._next += 1
            if not self.done:
                oldest_needed = self._sources(self._next).min()
                for key in [k for k in self._kept if k < oldest_needed]:
                    del self._kept[key]
        return ready


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
    same windows, sources and owned frames as ``WindowStream`` gives the whole video, emitted with a
    bounded look-ahead.

    Windows start every ``stride`` frames. A window runs once its last context frame and the frame
    after its end have arrived: it is then known not to be the last window, and its owned frames
    are its interior ones. A frame without a face takes its nearest face, known once a
    face arrived after it or the frames after it are as many as those since the face before it.
    A window whose owned frames have no face is skipped (their rows have no values); any other
    window's sources are at most ``window + 2 * context`` frames beyond it. ``finish()`` cuts the
    remaining windows at the last frame, as ``WindowStream`` does at the end of a video.

    Args:
        window, context, stride: as ``WindowStream``.

    Call ``add(t, face)`` for frames ``t = 0, 1, ...`` (``face`` None without a face). ``add`` and
    ``finish`` return ``(windows, final)``: the ``ReadyWindow`` tuples to run, and the frames
    ``[0, final)`` whose rows are final once those windows have run.
    """

    def __init__(self, window, context, stride=None):
        self.window, self.context = int(window), int(context)
        self.stride = int(stride or window)
        self._faces = {}  # frame -> face, for faces a coming window may still need
        self._found = _FrameFlags()  # face_found of the frames a coming window may still look at
        self._face_frames = []  # the frames with a face a coming window may take a face from
        self._next = 0  # the next window
        self.final = 0
        self.peak = 0

    @property
    def held(self):
        return self._faces.keys()

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
            last = ended and start + self.window >= num_frames
            first, end = window_plan.owned_frames(start, num_frames if last else start + self.window + 1,
                                                  self.window, self.stride)
            frames = np.clip(np.arange(start - self.context, start + self.window + self.context), 0, num_frames - 1)
            if any(self._found[first:end]):
                sources = [self._source(int(p), num_frames, ended) for p in frames]
                if any(s is None for s in sources):
                    break
                sources = np.array(sources)
                windows.append(ReadyWindow(start, np.stack([self._faces[int(i)] for i in sources]), first, end,
                                           sources))
            self._next += 1
            self.final = end
        # Faces no coming window needs: those before the next window's first frame and before the
        # face just before it (a faceless frame there may take that one).
        oldest = max(0, self._next * self.stride - self.context)
        k = bisect.bisect_left(self._face_frames, oldest)
        keep_from = self._face_frames[k - 1] if k > 0 else oldest
        for key in [key for key in self._faces if key < keep_from]:
            del self._faces[key]
        del self._face_frames[: max(k - 1, 0)]
        self._found.forget_before(min(keep_from, oldest))
        return windows, self.final

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
            return [], 0
        windows, _ = self._emit(len(self._found), ended=True)
        self.final = len(self._found)
        return windows, self.final

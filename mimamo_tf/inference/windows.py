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

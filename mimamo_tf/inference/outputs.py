"""What ``predict`` writes for a video: the CSV, a plot of both curves, an overlay video.

Every file is written under a temporary name and renamed, so a killed run never leaves a file that
looks complete.
"""

import csv
import io
import os

import numpy as np

from mimamo_tf.atomic_files import replacing, write_text
from mimamo_tf.inference.predictor import COLUMNS


def write_csv(result, path):
    """One row per decoded frame with ``COLUMNS``; missing values are empty cells."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=COLUMNS)
    writer.writeheader()
    for row in result.rows():
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return write_text(path, text.getvalue())


def no_face_stretches(face_found):
    """``[(first, last + 1), ...]`` frame ranges without a face."""
    missing = np.concatenate([[0], (np.asarray(face_found) == 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(missing))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _people(result):
    """``[(face_id or None, VideoPrediction)]``: the one followed face, or every person."""
    people = getattr(result, "faces", None)
    return sorted(people.items()) if people is not None else [(None, result)]


def _plot_curves(axis, result):
    time_s = result.time_s
    axis.plot(time_s, result.arousal, color="tab:red", linewidth=1.4, label="arousal")
    axis.plot(time_s, result.valence, color="tab:blue", linewidth=1.4, label="valence")
    frame_s = 1.0 / result.fps
    for index, (first, end) in enumerate(no_face_stretches(result.face_found)):
        axis.axvspan(first * frame_s - frame_s / 2, (end - 1) * frame_s + frame_s / 2, color="0.85", zorder=0,
                     label=("no face" + (" (filled)" if result.filled else "")) if index == 0 else None)
    axis.axhline(0.0, color="0.5", linewidth=0.6)
    values = np.concatenate([result.arousal, result.valence])
    values = values[np.isfinite(values)]
    low, high = (min(values.min(), -1.0), max(values.max(), 1.0)) if len(values) else (-1.0, 1.0)
    axis.set_ylim(low - 0.05, high + 0.05)
    axis.set_xlim(0, max(time_s[-1] if len(time_s) else 0, frame_s))
    axis.set_ylabel("predicted value")
    axis.legend(loc="upper right", ncol=3, fontsize=8)
    axis.grid(alpha=0.3)


def plot(result, path, title=None):
    """Arousal and valence over time, with the stretches without a face shaded: one panel, or one
    per person (``face_id``) for a ``VideoFaces``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    people = _people(result)
    figure, axes = plt.subplots(max(len(people), 1), 1, figsize=(10, 1.2 + 2.6 * max(len(people), 1)), dpi=100,
                                sharex=True, squeeze=False)
    if not people:  # --faces=all on a video without anyone: an empty panel that says so
        axes[0, 0].text(0.5, 0.5, "no face in any frame", ha="center", va="center", transform=axes[0, 0].transAxes)
    for axis, (face_id, person) in zip(axes[:, 0], people):
        _plot_curves(axis, person)
        if face_id is not None:
            axis.set_title(f"face {face_id}", fontsize=10, loc="left")
    axes[-1, 0].set_xlabel("time (s)")
    figure.suptitle(title or os.path.basename(result.video))
    figure.tight_layout()
    with replacing(path) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)
    return path


def _bar(frame, label, value, origin, colour):
    """A labelled horizontal gauge of a value in [-1, 1] drawn on ``frame`` (RGB, in place)."""
    import cv2

    x, y = origin
    width, height = 120, 10
    cv2.putText(frame, f"{label} {value:+.2f}", (x, y - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                cv2.LINE_AA)
    cv2.rectangle(frame, (x, y), (x + width, y + height), (255, 255, 255), 1)
    middle = x + width // 2
    end = middle + int(round(np.clip(value, -1, 1) * width / 2))
    cv2.rectangle(frame, (min(middle, end), y + 1), (max(middle, end), y + height - 1), colour, -1)


def overlay_frames(frames, result, blank):
    """The video's frames with each face's box (and id, for several people) and both values drawn
    on each (``blank`` stands in for an undecodable frame)."""
    import cv2

    people = _people(result)
    for t, frame in enumerate(frames):
        frame = np.ascontiguousarray(frame) if frame is not None else blank.copy()
        if t < result.num_frames:
            if people and people[0][0] is None:  # one face: gauges in the corner
                person = people[0][1]
                if person.face_found[t]:
                    x, y, w, h = (int(round(v)) for v in person.face_box[t])
                    cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 255, 0), 2)
                cv2.rectangle(frame, (0, 0), (150, 62), (0, 0, 0), -1)
                if np.isfinite(person.arousal[t]):
                    _bar(frame, "arousal", float(person.arousal[t]), (10, 22), (255, 80, 80))
                    _bar(frame, "valence", float(person.valence[t]), (10, 50), (80, 160, 255))
                else:
                    cv2.putText(frame, "no face", (10, 36), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                                cv2.LINE_AA)
            for face_id, person in people:
                if face_id is None or not person.face_found[t]:
                    continue
                # Several people: each box with its id, and its gauges just below it.
                x, y, w, h = (int(round(v)) for v in person.face_box[t])
                cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 255, 0), 2)
                cv2.putText(frame, f"face {face_id}", (x, max(y - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                            (0, 255, 0), 1, cv2.LINE_AA)
                if np.isfinite(person.arousal[t]):
                    top = min(y + h + 4, frame.shape[0] - 62)
                    cv2.rectangle(frame, (x, top), (x + 150, top + 62), (0, 0, 0), -1)
                    _bar(frame, "arousal", float(person.arousal[t]), (x + 10, top + 22), (255, 80, 80))
                    _bar(frame, "valence", float(person.valence[t]), (x + 10, top + 50), (80, 160, 255))
        yield frame


def write_overlay(result, path):
    """``path`` (.mp4): the video again, frame by frame (streamed), with the overlay drawn."""
    from mimamo_tf import video as video_io

    info = video_io.probe(result.video)
    frames = video_io.iter_frames(result.video, mark_undecodable=True)
    blank = np.zeros((info.height, info.width, 3), np.uint8)
    video_io.write_video(path, overlay_frames(frames, result, blank), result.fps)
    return path


class JsonLines:
    """``--jsonl``: rows as one JSON object per line, flushed as written, to a file or (``"-"``) to
    stdout. A reader that goes away (``| head``) ends the JSON lines, not the run: the rest is still
    written to the CSV, and ``closed_by_reader`` says so."""

    def __init__(self, target):
        import sys

        self.to_stdout = target == "-"
        self._out = sys.stdout if self.to_stdout else open(target, "w")
        self.closed_by_reader = False

    def write(self, row, **extra):
        import json
        import os
        import sys

        if self.closed_by_reader:
            return
        try:
            self._out.write(json.dumps({**extra, **row}) + "\n")
            self._out.flush()
        except BrokenPipeError:
            self.closed_by_reader = True
            if self.to_stdout:
                # Python flushes stdout again at exit: point it at nothing so that cannot fail too.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    def close(self):
        if not self.to_stdout:
            self._out.close()

"""What ``predict`` writes for a video: the CSV, a plot of both curves, an overlay video.

Values are on the result's ``label_scale`` (the model card's: the training labels' annotation
scale), and so are the plot's y axis and the overlay's gauges. Every file is written under a
temporary name and renamed, so a killed run never leaves a file that looks complete.
"""

import csv
import dataclasses
import io
import json
import os
import sys

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mimamo_tf import video as video_io
from mimamo_tf.atomic_files import replacing, write_text
from mimamo_tf.inference.frame_rows import COLUMNS


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


def _plot_curves(axis, result, y_range):
    time_s = result.time_s
    axis.plot(time_s, result.arousal, color="tab:red", linewidth=1.4, label="arousal")
    axis.plot(time_s, result.valence, color="tab:blue", linewidth=1.4, label="valence")
    frame_s = 1.0 / result.fps
    for index, (first, end) in enumerate(no_face_stretches(result.face_found)):
        axis.axvspan(first * frame_s - frame_s / 2, (end - 1) * frame_s + frame_s / 2, color="0.85", zorder=0,
                     label=("no face" + (" (filled)" if result.filled else "")) if index == 0 else None)
    axis.axhline(result.label_scale.middle, color="0.5", linewidth=0.6)  # the model's 0: neutral
    axis.set_ylim(*y_range)
    axis.set_xlim(0, max(time_s[-1] if len(time_s) else 0, frame_s))
    axis.set_ylabel(f"predicted value {result.label_scale.describe()}")
    axis.legend(loc="upper right", ncol=3, fontsize=8)
    axis.grid(alpha=0.3)


def figure_of(result, title=None):
    """The plot of ``plot`` (not written): arousal and valence over time in seconds on the label
    scale, the stretches without a face shaded; one panel, or one per person (``face_id``) for a
    ``VideoFaces``, all on one y range: the label scale (widened to values outside it, ``--noclip``),
    so people compare at a glance.

    Returns:
        A ``matplotlib.figure.Figure`` on the Agg canvas.
    """
    # A Figure on its own Agg canvas, not pyplot: no GUI backend, nothing global changes and no
    # figure stays registered to be closed (as evaluation.plots).

    people = _people(result)
    panels = max(len(people), 1)
    figure = Figure(figsize=(10, 1.2 + 2.6 * panels), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(panels, 1, sharex=True, squeeze=False)
    values = [v for _, person in people for v in (person.arousal, person.valence)]
    y_range = result.label_scale.axis_range(np.concatenate(values) if values else ())
    if not people:  # --faces=all on a video without anyone: an empty panel that says so
        axes[0, 0].text(0.5, 0.5, "no face in any frame", ha="center", va="center", transform=axes[0, 0].transAxes)
        axes[0, 0].set_ylim(*y_range)
    for axis, (face_id, person) in zip(axes[:, 0], people):
        _plot_curves(axis, person, y_range)
        if face_id is not None:
            axis.set_title(f"face {face_id}", fontsize=10, loc="left")
    axes[-1, 0].set_xlabel("time (s)")
    figure.suptitle(title or os.path.basename(result.video))
    figure.tight_layout()
    return figure


def plot(result, path, title=None):
    """Writes ``figure_of(result)`` to ``path`` (PNG)."""
    figure = figure_of(result, title)
    with replacing(path) as tmp:
        figure.savefig(tmp, format="png")
    return path


# The overlay, in pixels. A face's two gauges sit on a black panel of this size (x, y: the gauges'
# offsets in it); the id label is bold text on a black box, legible on any background at 640x360.
GAUGE_PANEL = (150, 62)
GAUGE_ORIGINS = ((10, 22), (10, 50))
LABEL_FONT_SCALE, LABEL_THICKNESS, LABEL_PADDING = 0.6, 2, 4
# Between a face's box and its label or panel.
OVERLAY_GAP = 4


@dataclasses.dataclass(frozen=True)
class FaceOverlay:
    """Where one face's id label and gauge panel go: ``(x, y, width, height)`` rectangles."""

    label: tuple
    panel: tuple


def _inside(start, size, limit):
    """``start`` moved so that ``[start, start + size)`` lies in ``[0, limit)`` (at 0 when it
    cannot fit)."""
    return max(0, min(start, limit - size))


def face_overlay_layout(box, frame_size, label_size, panel_size=GAUGE_PANEL, gap=OVERLAY_GAP):
    """Places a face's id label and gauge panel inside the frame, whatever the box's position.

    The label goes above the box (inside its top edge when the box touches the frame's top), the
    panel below the box, or above the label when there is no room below (a face at the bottom); both
    then slide along the frame's edges to lie inside it. A tracked box may itself reach past the
    frame; only the label and panel are kept in.

    Args:
        box: the face's ``(x, y, w, h)`` in pixels.
        frame_size: ``(width, height)`` of the frame.
        label_size, panel_size: ``(width, height)`` of the label box and the gauge panel.
        gap: pixels between the box, the label and the panel.

    Returns:
        A ``FaceOverlay``.
    """
    x, y, w, h = box
    width, height = frame_size
    label_w, label_h = label_size
    panel_w, panel_h = panel_size
    label_y = y - gap - label_h if y - gap - label_h >= 0 else max(y, 0) + gap
    label_y = _inside(label_y, label_h, height)
    panel_y = y + h + gap
    if panel_y + panel_h > height:  # no room below the face: above it and its label, if there is room
        above = min(label_y, y) - gap - panel_h
        panel_y = above if above >= 0 else panel_y
    panel_y = _inside(panel_y, panel_h, height)
    return FaceOverlay(label=(_inside(x, label_w, width), label_y, label_w, label_h),
                       panel=(_inside(x, panel_w, width), panel_y, panel_w, panel_h))


def _label_size(text):
    """``(width, height)`` of the id label's box for ``text``, and the text's baseline offset."""
    (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, LABEL_FONT_SCALE, LABEL_THICKNESS)
    return (text_w + 2 * LABEL_PADDING, text_h + baseline + 2 * LABEL_PADDING), baseline


def _draw_label(frame, text, rect, colour):
    x, y, w, h = rect
    _, baseline = _label_size(text)
    cv2.rectangle(frame, (x, y), (x + w - 1, y + h - 1), (0, 0, 0), -1)
    cv2.putText(frame, text, (x + LABEL_PADDING, y + h - LABEL_PADDING - baseline), cv2.FONT_HERSHEY_SIMPLEX,
                LABEL_FONT_SCALE, colour, LABEL_THICKNESS, cv2.LINE_AA)


def _value_text(value, label_scale):
    """A gauge's number: signed on a scale around 0 ([-1, 1]), plain on one like [1, 9]."""
    return f"{value:+.2f}" if label_scale.low < 0 < label_scale.high else f"{value:.2f}"


def _bar(frame, label, value, origin, colour, label_scale):
    """A labelled horizontal gauge of a value on ``label_scale`` drawn on ``frame`` (RGB, in
    place): a bar from the scale's middle (the model's 0) towards the value, full at its ends."""
    x, y = origin
    width, height = 120, 10
    cv2.putText(frame, f"{label} {_value_text(value, label_scale)}", (x, y - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (255, 255, 255), 1, cv2.LINE_AA)
    cv2.rectangle(frame, (x, y), (x + width, y + height), (255, 255, 255), 1)
    middle = x + width // 2
    end = middle + int(round(np.clip(label_scale.to_model(value), -1, 1) * width / 2))
    cv2.rectangle(frame, (min(middle, end), y + 1), (max(middle, end), y + height - 1), colour, -1)


def _draw_gauges(frame, person, t, panel_origin):
    """The black panel at ``panel_origin`` with the arousal and valence gauges of frame ``t``."""
    x, y = panel_origin
    cv2.rectangle(frame, (x, y), (x + GAUGE_PANEL[0] - 1, y + GAUGE_PANEL[1] - 1), (0, 0, 0), -1)
    for (dx, dy), name, colour in zip(GAUGE_ORIGINS, ("arousal", "valence"), ((255, 80, 80), (80, 160, 255))):
        _bar(frame, name, float(getattr(person, name)[t]), (x + dx, y + dy), colour, person.label_scale)


def overlay_frames(frames, result, blank):
    """The video's frames with each face's box (and id, for several people) and both values drawn
    on each (``blank`` stands in for an undecodable frame)."""
    people = _people(result)
    for t, frame in enumerate(frames):
        frame = np.ascontiguousarray(frame) if frame is not None else blank.copy()
        if t < result.num_frames:
            if people and people[0][0] is None:  # one face: gauges in the corner
                person = people[0][1]
                if person.face_found[t]:
                    x, y, w, h = (int(round(v)) for v in person.face_box[t])
                    cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 255, 0), 2)
                if np.isfinite(person.arousal[t]):
                    _draw_gauges(frame, person, t, (0, 0))
                else:
                    cv2.rectangle(frame, (0, 0), (GAUGE_PANEL[0] - 1, GAUGE_PANEL[1] - 1), (0, 0, 0), -1)
                    cv2.putText(frame, "no face", (10, 36), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                                cv2.LINE_AA)
            for face_id, person in people:
                if face_id is None or not person.face_found[t]:
                    continue
                # Several people: each box with its id above it and its gauges below (or above when
                # the face is at the bottom), both kept inside the frame.
                box = tuple(int(round(v)) for v in person.face_box[t])
                x, y, w, h = box
                cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 255, 0), 2)
                text = f"face {face_id}"
                layout = face_overlay_layout(box, (frame.shape[1], frame.shape[0]), _label_size(text)[0])
                _draw_label(frame, text, layout.label, (0, 255, 0))
                if np.isfinite(person.arousal[t]):
                    _draw_gauges(frame, person, t, layout.panel[:2])
        yield frame


def write_overlay(result, path):
    """``path`` (.mp4): the video again, frame by frame (streamed), with the overlay drawn."""
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
        self.to_stdout = target == "-"
        self._out = sys.stdout if self.to_stdout else open(target, "w")
        self.closed_by_reader = False

    def write(self, row, **extra):
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

"""Per-video figures of an evaluation: what the model predicted next to the labels it is scored on.

``write_plots`` draws ``<output_dir>/plots/<video_id>.png`` for the videos of an evaluation (the
first ``max_plots`` by name): one figure per video, an arousal and a valence panel over time in
seconds (the video's frame rate from the data; a frame axis beneath; frames alone when the rate is
unknown), on the scale the training labels were annotated on (``LabelScale``: e.g. 1 to 9 for data
prepared with ``--label_range=1,9``; the network and the scores work on [-1, 1]), each with the
prediction over every frame (as scored: not clipped to the scale), the label over the frames whose
label is valid (the line breaks where it is not), grey bands where no face was found (their
predictions come from the nearest face's inputs, or for a video without any face are the mean
prediction, as ``scoring`` scores them), and the video's official CCC of that output in the
panel's title — the ``per_video`` numbers of ``metrics.json``, so the figure and the file cannot
disagree. Each PNG also carries its titles and the CCCs at full precision as text chunks
(``Title``, ``Description``, ``ccc``), so what a figure shows can be read back without looking at
it.

Frame-level runs only: at utterance level (OMG) a video is one value, not a curve.
"""

import dataclasses
import json
import math
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mimamo_tf.atomic_files import replacing
from mimamo_tf.data.label_scale import MODEL_SCALE

PLOTS_DIR = "plots"
# Enough to look through by eye; an evaluation of a whole benchmark split (hundreds of videos) would
# otherwise spend minutes drawing figures nobody opens. ``--max_plots`` changes it.
DEFAULT_MAX_PLOTS = 50
# The columns of an evaluation's ``pred`` and ``labels`` arrays (``evaluator.collect_predictions``).
OUTPUTS = ("arousal", "valence")
COLOURS = {"arousal": "tab:red", "valence": "tab:blue"}


@dataclasses.dataclass(frozen=True)
class VideoPlot:
    """One figure as written.

    Attributes:
        video_id: the video.
        path: the PNG.
        title: the figure's title.
        panel_titles: ``{output: title}``; each names the video's CCC of that output.
        ccc: ``{output: CCC}``, the numbers in the panel titles at full precision (NaN: undefined,
            fewer than two valid labels or no variance).
    """

    video_id: str
    path: str
    title: str
    panel_titles: dict
    ccc: dict


def plot_path(output_dir, video_id):
    """``<output_dir>/plots/<video_id>.png``."""
    return os.path.join(output_dir, PLOTS_DIR, f"{video_id}.png")


def no_face_stretches(face_found):
    """``[(first, last + 1), ...]``: the runs of frames without a face."""
    missing = np.concatenate([[0], (~np.asarray(face_found, bool)).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(missing))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _ccc_text(value):
    return f"{value:.3f}" if math.isfinite(value) else "undefined"


def panel_title(output, ccc):
    """``"arousal: CCC 0.512"`` (``undefined`` for NaN)."""
    return f"{output}: CCC {_ccc_text(ccc)}"


def label_line(labels, label_valid):
    """The label values to draw: NaN where the label is not valid, so the line leaves those frames out."""
    return np.where(np.asarray(label_valid, bool), labels, np.nan)


def frame_rate(entry):
    """The video's frames per second, or None when the data does not say (then the x axis is frames)."""
    fps = entry.get("fps")
    return float(fps) if fps is not None and math.isfinite(fps) and fps > 0 else None


def video_figure(video_id, entry, ccc, label_scale=MODEL_SCALE):
    """The figure of one video (not written).

    Args:
        video_id: its name (the figure's title).
        entry: the evaluation's arrays of the video: ``pred`` and ``labels`` ``(T, 2)`` (arousal,
            valence) on the model's [-1, 1], ``label_valid`` and ``face_found`` ``(T,)``, and
            optionally ``fps`` (the x axis is in seconds when it is known, else in frames).
        ccc: ``{"arousal": CCC, "valence": CCC}`` to show.
        label_scale: the training labels' ``LabelScale``: prediction and label are drawn on it.

    Returns:
        ``(figure, title, panel_titles)``: a ``matplotlib.figure.Figure`` on the Agg canvas.
    """
    # A Figure on its own Agg canvas, not pyplot: no GUI backend, and nothing global changes (a
    # notebook that calls evaluate keeps its backend; no figure stays registered to be closed).

    # Drawn on the training labels' scale; the network's outputs and the scores are on [-1, 1].
    pred = label_scale.from_model(np.asarray(entry["pred"], np.float64), clip=False)
    all_labels = label_scale.from_model(np.asarray(entry["labels"], np.float64), clip=False)
    valid = np.asarray(entry["label_valid"], bool)
    fps = frame_rate(entry)
    per_frame = 1.0 / fps if fps else 1.0  # x units per frame: seconds, or frames
    x = np.arange(len(pred)) * per_frame
    figure = Figure(figsize=(10, 5.8 if fps else 5.4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(OUTPUTS), 1, sharex=True)
    titles = {}
    stretches = no_face_stretches(entry["face_found"])
    for column, (output, axis) in enumerate(zip(OUTPUTS, axes)):
        for index, (first, end) in enumerate(stretches):
            axis.axvspan((first - 0.5) * per_frame, (end - 0.5) * per_frame, color="0.88", zorder=0,
                         label="no face" if index == 0 else None)
        labels = label_line(all_labels[:, column], valid)
        axis.plot(x, labels, color="0.15", linewidth=1.2, label="label")
        # A valid label between two invalid ones is a line of length zero: show it as a dot.
        alone = valid & ~np.concatenate([[False], valid[:-1]]) & ~np.concatenate([valid[1:], [False]])
        if alone.any():
            axis.plot(x[alone], labels[alone], linestyle="none", marker=".", markersize=3, color="0.15")
        axis.plot(x, pred[:, column], color=COLOURS[output], linewidth=1.2, label="prediction")
        axis.axhline(label_scale.middle, color="0.6", linewidth=0.5)  # the model's 0
        axis.set_ylim(*label_scale.axis_range(np.concatenate([pred[:, column], labels])))
        titles[output] = panel_title(output, ccc[output])
        axis.set_title(titles[output], fontsize=10, loc="left")
        axis.set_ylabel(f"{output} {label_scale.describe()}")
        axis.grid(alpha=0.3)
        # Above the panel, opposite its title: never over the curves.
        axis.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3, fontsize=8, frameon=False,
                    borderaxespad=0.2)
    axes[-1].set_xlim(-0.5 * per_frame, (max(len(pred), 1) - 0.5) * per_frame)
    if fps:
        axes[-1].set_xlabel(f"time (s) at {fps:g} frames/s")
        # The frame numbers beneath the seconds: what predictions/<video>.txt's lines count.
        frames_axis = axes[-1].secondary_xaxis(-0.32, functions=(lambda s: s * fps, lambda f: f / fps))
        frames_axis.set_xlabel("frame")
    else:
        axes[-1].set_xlabel("frame (frame rate unknown)")
    title = f"{video_id}: {int(valid.sum())} of {len(pred)} frames labelled, {int(np.sum(entry['face_found']))} with a face"
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    return figure, title, titles


def plot_video(path, video_id, entry, ccc, label_scale=MODEL_SCALE):
    """Writes the figure of one video to ``path`` (atomically) and returns its ``VideoPlot``."""
    figure, title, titles = video_figure(video_id, entry, ccc, label_scale)
    metadata = {"Title": title, "Description": "\n".join(titles[o] for o in OUTPUTS),
                "ccc": json.dumps({o: float(ccc[o]) for o in OUTPUTS})}
    with replacing(path) as partial:
        figure.savefig(partial, format="png", metadata=metadata)
    return VideoPlot(video_id=video_id, path=path, title=title, panel_titles=titles,
                     ccc={o: float(ccc[o]) for o in OUTPUTS})


def plotted_videos(video_ids, max_plots=DEFAULT_MAX_PLOTS):
    """The videos ``write_plots`` draws: the first ``max_plots`` by name (None or 0: all)."""
    if max_plots is not None and max_plots < 0:
        raise ValueError(f"max_plots must be >= 0 (0 or None: every video); got {max_plots}")
    return sorted(video_ids)[:max_plots or None]


def write_plots(videos, per_video, output_dir, max_plots=DEFAULT_MAX_PLOTS, label_scale=MODEL_SCALE):
    """Draws ``<output_dir>/plots/<video_id>.png`` for the first ``max_plots`` videos by name.

    Args:
        videos: the evaluation's arrays by video id (``evaluator.collect_predictions``, after
            ``scoring.predict_faceless_videos``: the predictions that are scored).
        per_video: the per-video CCCs of ``scoring.summarise`` (``metrics["per_video"]``).
        output_dir: the evaluation's output directory.
        max_plots: draw at most this many (None or 0: every video).
        label_scale: the training labels' ``LabelScale`` (``shards.split_label_scale`` of the
            training split): prediction and label are drawn on it.

    Returns:
        the ``VideoPlot`` of each figure, in name order.
    """
    return [plot_video(plot_path(output_dir, video_id), video_id, videos[video_id],
                       {o: per_video[video_id][f"ccc_{o}"] for o in OUTPUTS}, label_scale)
            for video_id in plotted_videos(videos, max_plots)]

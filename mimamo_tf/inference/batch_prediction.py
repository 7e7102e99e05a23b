"""Predicting many videos to files: the videos an ``--input`` names, and one CSV, plot (and overlay
video) per video, going on past a video that fails (``predict_videos``)."""

import glob
import os
import warnings

from tqdm import tqdm

from mimamo_tf.errors import InputError
from mimamo_tf.inference import outputs
from mimamo_tf.inference.predictor import NoFaceWarning
from mimamo_tf.inference.runners import PredictError
from mimamo_tf.video import TruncatedVideoWarning

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")


class VideoInputError(InputError, ValueError):
    """``--input`` names no video."""


def find_videos(pattern):
    """The videos of ``--input``: one file, the videos in a folder (sorted), or a glob's matches."""
    if os.path.isdir(pattern):
        videos = sorted(os.path.join(pattern, name) for name in os.listdir(pattern)
                        if name.lower().endswith(VIDEO_EXTENSIONS))
        if not videos:
            raise VideoInputError(f"--input={pattern}: the folder holds no video ({', '.join(VIDEO_EXTENSIONS)})")
        return videos
    if glob.has_magic(pattern):
        videos = sorted(path for path in glob.glob(pattern, recursive=True) if os.path.isfile(path))
        if not videos:
            raise VideoInputError(f"--input={pattern}: the pattern matches no file")
        return videos
    if not os.path.exists(pattern):
        raise VideoInputError(f"--input={pattern}: no such file or folder")
    return [pattern]


def output_stem(video, videos):
    """``<name>`` of a video's outputs: its file name without extension (with the extension when two
    inputs share a stem)."""
    stem, extension = os.path.splitext(os.path.basename(video))
    same = [v for v in videos if os.path.splitext(os.path.basename(v))[0] == stem]
    return stem if len(same) == 1 else f"{stem}_{extension.lstrip('.')}"


def predict_videos(predictor, videos, output_dir, overlay=False, fill_missing=False, say=print, faces="largest",
                   reentry_seconds=None, on_rows=None):
    """Runs ``predictor`` on every video, writing its outputs; returns ``(done, failed)`` lists of
    ``(video, files)`` and ``(video, reason)``. ``faces``, ``reentry_seconds``: see
    ``Predictor.predict_video``; ``on_rows(video, rows)`` is called with each video's CSV rows once
    its files are written (``predict --jsonl``)."""
    os.makedirs(output_dir, exist_ok=True)
    done, failed = [], []
    for number, video in enumerate(videos, 1):
        stem = output_stem(video, videos)
        bar = tqdm(desc=f"[{number}/{len(videos)}] {os.path.basename(video)}", unit="frame", leave=False,
                   dynamic_ncols=True, disable=None)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", NoFaceWarning)
                warnings.simplefilter("always", TruncatedVideoWarning)
                options = {} if reentry_seconds is None else {"reentry_seconds": reentry_seconds}
                result = predictor.predict_video(video, fill_missing=fill_missing, progress=bar, faces=faces, **options)
            bar.close()
            files = [outputs.write_csv(result, os.path.join(output_dir, f"{stem}.csv")),
                     outputs.plot(result, os.path.join(output_dir, f"{stem}.png"))]
            if overlay:
                files.append(outputs.write_overlay(result, os.path.join(output_dir, f"{stem}.mp4")))
        except (PredictError, OSError) as error:
            bar.close()
            say(f"mimamo_tf.predict: FAILED {video}: {error}")
            failed.append((video, str(error)))
            continue
        if on_rows is not None:
            on_rows(video, result.rows())
        for warning in caught:
            if issubclass(warning.category, (NoFaceWarning, TruncatedVideoWarning)):
                say(f"mimamo_tf.predict: warning: {warning.message}")
            else:
                warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
        with_face = int(result.face_found.sum())
        people = f", {len(result.faces)} face id(s)" if hasattr(result, "faces") else ""
        speed = result.num_frames / max(result.seconds["total"], 1e-9)
        say(f"mimamo_tf.predict: {video}: {result.num_frames} frames ({with_face} with a face{people}), "
            f"{speed:.1f} frames/s -> {', '.join(files)}")
        done.append((video, files))
    return done, failed

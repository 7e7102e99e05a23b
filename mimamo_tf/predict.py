"""``python -m mimamo_tf.predict --model=saved_models/NAME|FILE.tflite --input=VIDEO|DIR|GLOB --output_dir=OUT [--overlay] [--fill_missing]``

Valence and arousal for every frame of the face in each video, from a model exported by
``python -m mimamo_tf.export``. Per video ``<name>``:

* ``OUT/<name>.csv`` — one row per decoded frame: ``frame, time_s, face_found, face_x, face_y,
  face_w, face_h, arousal, valence`` (box in the frame's pixels; frames without a face have
  ``face_found=0`` and empty values, or the model's predictions on the nearest face's inputs with
  ``--fill_missing``);
* ``OUT/<name>.png`` — both curves over time, stretches without a face shaded;
* ``OUT/<name>.mp4`` with ``--overlay`` — the video with the face box and both values drawn.

Videos are streamed (memory does not grow with their length) and processed one by one; a video
that cannot be read is reported and skipped. Exit code: 0 when every video was done, 1 when some
failed, 2 for bad flags or a model that is not an export.
"""

from mimamo_tf.cli_startup import quiet_tensorflow_startup

quiet_tensorflow_startup()

import glob  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

from absl import app, flags  # noqa: E402

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")

flags.DEFINE_string("model", None, "An export directory (SavedModel + model_card.json) or a .tflite file in one.")
flags.DEFINE_string("input", None, "A video file, a folder of videos, or a glob pattern (quote it).")
flags.DEFINE_string("output_dir", None, "Where the CSV, PNG (and MP4) of each video go.")
flags.DEFINE_boolean("overlay", False, "Also write <name>.mp4: the video with the face box and both values.")
flags.DEFINE_boolean("fill_missing", False,
                     "Frames without a face get the model's predictions on the nearest face's inputs "
                     "(what evaluate and the official scorers use) instead of empty values.")
flags.DEFINE_integer("num_threads", 0, "LiteRT interpreter threads (0: all cores).")


class InputError(ValueError):
    """``--input`` names no video."""


def find_videos(pattern):
    """The videos of ``--input``: one file, the videos in a folder (sorted), or a glob's matches."""
    if os.path.isdir(pattern):
        videos = sorted(os.path.join(pattern, name) for name in os.listdir(pattern)
                        if name.lower().endswith(VIDEO_EXTENSIONS))
        if not videos:
            raise InputError(f"--input={pattern}: the folder holds no video ({', '.join(VIDEO_EXTENSIONS)})")
        return videos
    if glob.has_magic(pattern):
        videos = sorted(path for path in glob.glob(pattern, recursive=True) if os.path.isfile(path))
        if not videos:
            raise InputError(f"--input={pattern}: the pattern matches no file")
        return videos
    if not os.path.exists(pattern):
        raise InputError(f"--input={pattern}: no such file or folder")
    return [pattern]


def output_stem(video, videos):
    """``<name>`` of a video's outputs: its file name without extension (with the extension when two
    inputs share a stem)."""
    stem, extension = os.path.splitext(os.path.basename(video))
    same = [v for v in videos if os.path.splitext(os.path.basename(v))[0] == stem]
    return stem if len(same) == 1 else f"{stem}_{extension.lstrip('.')}"


def predict_videos(predictor, videos, output_dir, overlay=False, fill_missing=False, say=print):
    """Runs ``predictor`` on every video, writing its outputs; returns ``(done, failed)`` lists of
    ``(video, files)`` and ``(video, reason)``."""
    from tqdm import tqdm

    from mimamo_tf.inference import NoFaceWarning, PredictError, outputs

    os.makedirs(output_dir, exist_ok=True)
    done, failed = [], []
    for number, video in enumerate(videos, 1):
        stem = output_stem(video, videos)
        bar = tqdm(desc=f"[{number}/{len(videos)}] {os.path.basename(video)}", unit="frame", leave=False,
                   dynamic_ncols=True, disable=None)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", NoFaceWarning)
                result = predictor.predict_video(video, fill_missing=fill_missing, progress=bar)
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
        for warning in caught:
            if issubclass(warning.category, NoFaceWarning):
                say(f"mimamo_tf.predict: warning: {warning.message}")
            else:
                warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
        faces = int(result.face_found.sum())
        speed = result.num_frames / max(result.seconds["total"], 1e-9)
        say(f"mimamo_tf.predict: {video}: {result.num_frames} frames ({faces} with a face), {speed:.1f} frames/s "
            f"-> {', '.join(files)}")
        done.append((video, files))
    return done, failed


def main(argv):
    from mimamo_tf.cli_startup import quiet_python_logging

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}; every option is a --flag")
    quiet_python_logging()
    FLAGS = flags.FLAGS
    missing = [name for name in ("model", "input", "output_dir") if not getattr(FLAGS, name)]
    if missing:
        print(f"mimamo_tf.predict: {', '.join('--' + m for m in missing)} required", file=sys.stderr)
        return 2
    from mimamo_tf.inference import PredictError, Predictor

    try:
        videos = find_videos(FLAGS.input)
        predictor = Predictor.load(FLAGS.model, num_threads=FLAGS.num_threads or None)
    except (InputError, PredictError) as error:
        print(f"mimamo_tf.predict: {error}", file=sys.stderr)
        return 2
    print(f"mimamo_tf.predict: {predictor.runner.kind} {FLAGS.model} (windows of {predictor.window} frames, "
          f"{predictor.context} context frames each side) on {len(videos)} video(s)")
    done, failed = predict_videos(predictor, videos, FLAGS.output_dir, FLAGS.overlay, FLAGS.fill_missing)
    print(f"mimamo_tf.predict: {len(done)} of {len(videos)} video(s) done, {len(failed)} failed"
          + "".join(f"\n  failed: {video}: {reason}" for video, reason in failed))
    return 1 if failed else 0


def run():
    app.run(main)


if __name__ == "__main__":
    run()

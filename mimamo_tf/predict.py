"""``python -m mimamo_tf.predict --model=saved_models/NAME|FILE.tflite --input=VIDEO|DIR|GLOB --output_dir=OUT [--overlay] [--fill_missing]``

Valence and arousal for every frame of the face (``--faces=largest``, the default) or of every
face (``--faces=all``) in each video, from a model exported by ``python -m mimamo_tf.export``.
Per video ``<name>``:

* ``OUT/<name>.csv`` — one row per decoded frame (with ``--faces=all``: per frame and face in it):
  ``frame, time_s, face_id, face_found, face_x, face_y, face_w, face_h, arousal, valence`` (box in
  the frame's pixels; frames without a face have ``face_found=0`` and empty values, or the model's
  predictions on the nearest face's inputs with ``--fill_missing``). ``face_id`` stays the same
  while a person is in view and when they come back within ``--reentry_seconds`` at the same place;
* ``OUT/<name>.png`` — both curves over time, stretches without a face shaded (a panel per face);
* ``OUT/<name>.mp4`` with ``--overlay`` — the video with each face's box, id and both values drawn.

Windows overlap by half a window by default (``--window_overlap``), each frame predicted by the
window in which it sits nearest the centre, as ``evaluate`` does: no seams where windows meet.
Videos are streamed (memory does not grow with their length) and processed one by one; a video
that cannot be read is reported and skipped. Exit code: 0 when every video was done, 1 when some
failed, 2 for bad flags or a model that is not an export.
"""

from mimamo_tf.command_line import EXIT_DONE, EXIT_SOME_FAILED, run_command
from mimamo_tf.window_plan import DEFAULT_OVERLAP


def define_flags(flag_values):
    from absl import flags

    flags.DEFINE_string("model", None, "An export directory (SavedModel + model_card.json) or a .tflite file in one.",
                        flag_values=flag_values)
    flags.DEFINE_string("input", None, "A video file, a folder of videos, or a glob pattern (quote it).",
                        flag_values=flag_values)
    flags.DEFINE_string("output_dir", None, "Where the CSV, PNG (and MP4) of each video go.", flag_values=flag_values)
    flags.DEFINE_boolean("overlay", False, "Also write <name>.mp4: the video with the face box and both values.",
                         flag_values=flag_values)
    flags.DEFINE_boolean("fill_missing", False,
                         "Frames without a face get the model's predictions on the nearest face's inputs "
                         "(what evaluate and the official scorers use) instead of empty values.",
                         flag_values=flag_values)
    flags.DEFINE_enum("faces", "largest", ["largest", "all"],
                      "largest: follow one face (the largest where a track starts); all: every face, each with an id "
                      "that stays while the person is in view (CSV column face_id, one row per frame and face).",
                      flag_values=flag_values)
    flags.DEFINE_float("reentry_seconds", 2.0,
                       "With --faces=all: a face away for at most this long keeps its id when it comes back at the "
                       "same place and size (0: every return is a new id).", flag_values=flag_values)
    flags.DEFINE_integer("num_threads", 0, "LiteRT interpreter threads (0: all cores).", flag_values=flag_values)
    flags.DEFINE_float("window_overlap", DEFAULT_OVERLAP,
                       "Consecutive windows overlap by this fraction of a window and each frame takes the "
                       "prediction of the window whose centre is nearest, as evaluate does (0: windows one after "
                       "the other, faster, with a seam at every window boundary).", flag_values=flag_values)


def main(flag_values):
    import warnings

    from mimamo_tf.errors import InputError
    from mimamo_tf.inference import Predictor
    from mimamo_tf.inference.predictor import FaceGeometryWarning
    from mimamo_tf.inference.batch_prediction import find_videos, predict_videos

    missing = [name for name in ("model", "input", "output_dir") if not getattr(flag_values, name)]
    if missing:
        raise InputError(f"{', '.join('--' + m for m in missing)} required")
    if flag_values.reentry_seconds < 0:
        raise InputError(f"--reentry_seconds={flag_values.reentry_seconds}: expected seconds >= 0")
    videos = find_videos(flag_values.input)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FaceGeometryWarning)
        predictor = Predictor.load(flag_values.model, num_threads=flag_values.num_threads or None,
                                   window_overlap=flag_values.window_overlap)
    for warning in caught:
        print(f"mimamo_tf.predict: warning: {warning.message}")
    print(f"mimamo_tf.predict: {predictor.runner.kind} {flag_values.model} (windows of {predictor.window} frames "
          f"every {predictor.stride}, {predictor.context} context frames each side) on {len(videos)} video(s)")
    done, failed = predict_videos(predictor, videos, flag_values.output_dir, flag_values.overlay,
                                  flag_values.fill_missing, faces=flag_values.faces,
                                  reentry_seconds=flag_values.reentry_seconds)
    print(f"mimamo_tf.predict: {len(done)} of {len(videos)} video(s) done, {len(failed)} failed"
          + "".join(f"\n  failed: {video}: {reason}" for video, reason in failed))
    return EXIT_SOME_FAILED if failed else EXIT_DONE


def run():
    run_command("predict", main, define_flags, __doc__)


if __name__ == "__main__":
    run()

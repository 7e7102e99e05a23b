"""``python -m mimamo_tf.predict --model=saved_models/NAME|FILE.tflite|model.onnx --input=VIDEO|DIR|GLOB|CAMERA|URL --output_dir=OUT [--overlay] [--fill_missing] [--faces=all] [--jsonl -]``

Valence and arousal for every frame of the face (``--faces=largest``, the default) or of every
face (``--faces=all``) in each video, from a model exported by ``python -m mimamo_tf.export``.
Per video ``<name>``:

* ``OUT/<name>.csv`` — one row per decoded frame (with ``--faces=all``: per frame and face in it):
  ``frame, time_s, face_id, face_found, face_x, face_y, face_w, face_h, arousal, valence`` (box in
  the frame's pixels; frames without a face have ``face_found=0`` and empty values, or the model's
  predictions on the nearest face's inputs with ``--fill_missing``). ``face_id`` stays the same
  while a person is in view and when they come back within ``--reentry_seconds`` at the same place.
  Arousal and valence are on the scale the model's training labels were annotated on (the model
  card's ``label_scale``: [-1, 1] for Aff-Wild, Aff-Wild2, OMG and the demo, or the ``--label_range``
  of data prepared with ``--dataset=folder``, e.g. 1 to 9), clipped to it (``--noclip``: not clipped);
* ``OUT/<name>.png`` — both curves over time on that scale, stretches without a face shaded (a panel
  per face, all on one y range);
* ``OUT/<name>.mp4`` with ``--overlay`` — the video with each face's box, id and both values drawn.

``--jsonl FILE`` (or ``-`` for stdout; the messages then go to stderr) also writes every row as a
JSON object per line.

Windows overlap by half a window by default (``--window_overlap``), each frame predicted by the
window in which it sits nearest the centre, as ``evaluate`` does: no seams where windows meet.
Videos are streamed (memory does not grow with their length) and processed one by one; a video
that cannot be read is reported and skipped, and one cut short is predicted up to its last
decodable frame with a warning. Exit code: 0 when every video was done, 1 when some failed, 2 for
bad flags or a model that is not an export.

A camera index (``0``) or a stream URL (``rtsp://``, ``http(s)://``, ...) as ``--input`` is read
live, in one pass (``mimamo_tf.inference.live``): each row is written to ``OUT/<camera0|host_path>.csv``
(and ``--jsonl``) as soon as it is final, a row following its frame by the window's look-ahead
(``--latency`` bounds it; frames are dropped at the input, between windows, when processing falls
behind), with ``--faces=all`` one row per frame and person in it as soon as that person's value is
final; a source that stops is reopened for ``--reconnect_seconds``, then the run ends with exit 1;
Ctrl-C or SIGTERM ends it cleanly (exit 0). A camera or URL that cannot be opened: exit 2.
"""

import csv
import os
import signal
import sys
import threading
import warnings

import numpy as np
from absl import flags

from mimamo_tf import video as video_io
from mimamo_tf.command_line import EXIT_DONE, EXIT_SOME_FAILED, run_command
from mimamo_tf.errors import InputError
from mimamo_tf.inference import Predictor
from mimamo_tf.inference.batch_prediction import find_videos, predict_videos
from mimamo_tf.inference.live import LIVE_COLUMNS, lookahead_frames, open_live_source, parse_live_input, predict_live
from mimamo_tf.inference.outputs import JsonLines
from mimamo_tf.inference.predictor import FaceGeometryWarning
from mimamo_tf.window_plan import DEFAULT_OVERLAP


def define_flags(flag_values):
    flags.DEFINE_string("model", None, "An export directory (SavedModel + model_card.json), or a .tflite or .onnx file in one "
                        "(ONNX: pip install 'mimamo_tf[onnx]').",
                        flag_values=flag_values)
    flags.DEFINE_string("input", None,
                        "A video file, a folder of videos, a glob pattern (quote it), a camera index (0, 1, ...) or a "
                        "stream URL (rtsp://, http(s)://: MJPEG, HLS, anything OpenCV's FFmpeg backend opens).",
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
    flags.DEFINE_float("latency", 0.0,
                       "Live input: seconds a row may wait after its frame arrived (0: the look-ahead the window, "
                       "overlap and face smoothing need, plus 0.5 s of input queue); when processing falls further "
                       "behind, frames are dropped at the input, between windows.", flag_values=flag_values)
    flags.DEFINE_float("reconnect_seconds", 5.0,
                       "Live input: a camera or stream that stops delivering frames is reopened for this long, then "
                       "the run ends with exit 1.", flag_values=flag_values)
    flags.DEFINE_string("jsonl", None,
                        "Also write every row as one JSON object per line to this file, or to stdout with '-' (the "
                        "progress messages then go to stderr).", flag_values=flag_values)
    flags.DEFINE_boolean("clip", True,
                         "Clip arousal and valence to the scale of the model's training labels (its card's "
                         "label_scale, [-1, 1] unless the data was prepared with another --label_range); --noclip "
                         "writes the model's outputs mapped onto that scale as they are.", flag_values=flag_values)
    flags.DEFINE_integer("num_threads", 0, "LiteRT interpreter threads (0: all cores).", flag_values=flag_values)
    flags.DEFINE_float("window_overlap", DEFAULT_OVERLAP,
                       "Consecutive windows overlap by this fraction of a window and each frame takes the "
                       "prediction of the window whose centre is nearest, as evaluate does (0: windows one after "
                       "the other, faster, with a seam at every window boundary).", flag_values=flag_values)


def main(flag_values):
    missing = [name for name in ("model", "input", "output_dir") if not getattr(flag_values, name)]
    if missing:
        raise InputError(f"{', '.join('--' + m for m in missing)} required")
    if flag_values.reentry_seconds < 0:
        raise InputError(f"--reentry_seconds={flag_values.reentry_seconds}: expected seconds >= 0")

    live = parse_live_input(flag_values.input)
    if live is not None:
        return _main_live(flag_values, live)
    videos = find_videos(flag_values.input)
    to_stdout = flag_values.jsonl == "-"
    out = sys.stderr if to_stdout else sys.stdout

    def say(message):
        print(message, file=out, flush=True)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FaceGeometryWarning)
        predictor = Predictor.load(flag_values.model, num_threads=flag_values.num_threads or None,
                                   window_overlap=flag_values.window_overlap, clip=flag_values.clip)
    for warning in caught:
        say(f"mimamo_tf.predict: warning: {warning.message}")
    say(f"mimamo_tf.predict: {predictor.runner.kind} {flag_values.model} (windows of {predictor.window} frames "
        f"every {predictor.stride}, {predictor.context} context frames each side; values on {_scale_said(predictor)}"
        + (f"; faces sampled at the {predictor.frame_rate:g} frames/s it was trained at" if predictor.frame_rate else "")
        + f") on {len(videos)} video(s)")
    jsonl = JsonLines(flag_values.jsonl) if flag_values.jsonl else None

    def write_json_lines(video, rows):
        # Each row tagged with its video (an --input can name many).
        for row in rows:
            jsonl.write(row, video=video)

    try:
        done, failed = predict_videos(predictor, videos, flag_values.output_dir, flag_values.overlay,
                                      flag_values.fill_missing, say=say, faces=flag_values.faces,
                                      reentry_seconds=flag_values.reentry_seconds,
                                      on_rows=write_json_lines if jsonl is not None else None)
    finally:
        if jsonl is not None:
            jsonl.close()
    say(f"mimamo_tf.predict: {len(done)} of {len(videos)} video(s) done, {len(failed)} failed"
        + "".join(f"\n  failed: {video}: {reason}" for video, reason in failed))
    return EXIT_SOME_FAILED if failed else EXIT_DONE


def _main_live(flag_values, source):
    """``predict`` on a camera or a stream: rows written (and flushed) as they become final."""
    to_stdout = flag_values.jsonl == "-"
    out = sys.stderr if to_stdout else sys.stdout

    def say(message):
        print(f"mimamo_tf.predict: {message}", file=out, flush=True)

    if flag_values.overlay:
        raise InputError(f"--overlay: not for a live --input={flag_values.input} (it draws on a copy of a video file)")
    if flag_values.reentry_seconds < 0:
        raise InputError(f"--reentry_seconds={flag_values.reentry_seconds:g}: expected seconds >= 0")
    if flag_values.latency < 0 or flag_values.reconnect_seconds < 0:
        raise InputError("--latency and --reconnect_seconds are seconds >= 0")
    predictor = Predictor.load(flag_values.model, num_threads=flag_values.num_threads or None,
                               window_overlap=flag_values.window_overlap, clip=flag_values.clip)
    # The model and the detector are set up before the source opens, so no frame waits for them.
    predictor.warm_up()
    predictor.detector.detect(np.zeros((64, 64, 3), np.uint8))
    # The project's lines say when the stream stops or is reopened; FFmpeg's would repeat it every 0.5 s.
    video_io.quiet_ffmpeg_logs()
    opened = open_live_source(source)
    fps = opened[3]
    needed = lookahead_frames(predictor) / fps
    os.makedirs(flag_values.output_dir, exist_ok=True)
    csv_path = os.path.join(flag_values.output_dir, f"{source.name}.csv")
    say(f"{predictor.runner.kind} {flag_values.model} on {flag_values.input} ({fps:g} frames/s): windows of "
        f"{predictor.window} frames every {predictor.stride}, so a row follows its frame by at most {needed:.2f} s "
        "plus processing" + (f" (every face: a person's last rows before they leave wait up to --reentry_seconds="
                             f"{flag_values.reentry_seconds:g} s more, for whether they come back)"
                             if flag_values.faces == "all" else "") + f"; values on {_scale_said(predictor)}; rows -> {csv_path}"
        + (" and stdout (JSON lines)" if to_stdout else "")
        + ". Ctrl-C stops.")
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    jsonl = JsonLines(flag_values.jsonl) if flag_values.jsonl else None
    try:
        with open(csv_path, "w", newline="") as table:
            writer = csv.DictWriter(table, fieldnames=LIVE_COLUMNS)
            writer.writeheader()
            table.flush()

            def on_row(row):
                # Whole rows, flushed one by one: a stopped or killed run leaves only complete rows.
                writer.writerow({k: "" if v is None else v for k, v in row.items()})
                table.flush()
                if jsonl is not None:
                    jsonl.write(row, video=flag_values.input)  # as a file's rows carry their video

            summary = predict_live(predictor, opened, on_row, latency=flag_values.latency or None,
                                   reconnect_seconds=flag_values.reconnect_seconds, stop=stop, on_event=say,
                                   faces=flag_values.faces, reentry_seconds=flag_values.reentry_seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if jsonl is not None:
            jsonl.close()
    median, p95 = summary.latency_percentiles()
    written = (f"{summary.rows} row(s) written" if flag_values.faces == "largest" else
               f"{summary.rows} row(s) written for them (a row per person in a frame)")
    say(f"{summary.frames} frame(s) read: {written}, {summary.dropped} dropped at the input"
        + (f", {summary.pending} not yet processed when stopped" if summary.pending else "")
        + f" ({summary.segments} segment(s), {summary.reconnects} reconnect(s)); latency from a frame's arrival to its "
        f"row: median {median:.2f} s, p95 {p95:.2f} s" + ("; stopped" if summary.stopped else ""))
    if summary.error:
        say(f"FAILED: {summary.error}")
        return EXIT_SOME_FAILED
    return EXIT_DONE


def _scale_said(predictor):
    """``"[1, 9], clipped"``: the scale of the values written, for the start-up line."""
    return f"{predictor.label_scale.describe()}, " + ("clipped" if predictor.clip else "not clipped (--noclip)")


def run():
    run_command("predict", main, define_flags, __doc__)


if __name__ == "__main__":
    run()

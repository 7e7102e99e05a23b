"""``python -m mimamo_tf.bench export --export_dir=saved_models/demo --data_dir=data/tfrecords --data_root=data/synthetic``:
what each model file of an export costs and gives, side by side.

Every file (the SavedModel, ``model.tflite``, ``model_dynamic_range.tflite``, ``model.onnx`` when
present) runs through ``Predictor.predict_faces`` on the faces ``predict`` sees: each video of the split aligned
from its raw file by the face pipeline ``Predictor.predict_video`` runs (``labelled_videos``; the
faces are found once and shared by every file), windows overlapping as ``predict``'s default, values
clipped to the label scale as ``predict`` clips them (compared on the labels' [-1, 1]). So the CCC
column is the official CCC (all frames with a valid label, faceless frames filled as ``evaluate``
fills them) a user of ``predict`` gets on those videos. ``--faces=stored`` scores the
faces stored in the shards instead (when the raw videos are not at hand: those went through JPEG
and, for data prepared from provided crops, another alignment — the table says so). The table shows
size on disk, CCC, its change from the SavedModel, the largest prediction difference and frames/s
of the model alone.
"""

import os
import time

import numpy as np
from absl import flags

from mimamo_tf.benchmarks.labelled_videos import add_predict_faces, official_ccc, read_split
from mimamo_tf.inference import Predictor
from mimamo_tf.serving.model_card import LITERT_FILES, ONNX_FILES, SIGNATURE
from mimamo_tf.window_plan import DEFAULT_OVERLAP


# What a SavedModel directory holds (the export directory also holds the LiteRT and ONNX files).
SAVED_MODEL_PARTS = ("saved_model.pb", "fingerprint.pb", "variables", "assets")


def _size_mb(path):
    if not os.path.isdir(path):
        return os.path.getsize(path) / 2**20
    total = 0
    for part in SAVED_MODEL_PARTS:
        part = os.path.join(path, part)
        if os.path.isfile(part):
            total += os.path.getsize(part)
        for root, _, names in os.walk(part):
            total += sum(os.path.getsize(os.path.join(root, name)) for name in names)
    return total / 2**20


def define_flags(flag_values):
    flags.DEFINE_string("export_dir", "saved_models/demo", "An export of python -m mimamo_tf.export.", flag_values=flag_values)
    flags.DEFINE_string("data_dir", "data/tfrecords", "Prepared shards with the split's labels.", flag_values=flag_values)
    flags.DEFINE_string("data_root", "data/synthetic", "The raw videos the shards were prepared from (--faces=videos).",
                        flag_values=flag_values)
    flags.DEFINE_enum("faces", "videos", ["videos", "stored"],
                      "videos: align the faces from the raw videos as predict does; stored: the shards' faces.",
                      flag_values=flag_values)
    flags.DEFINE_string("split", "validation", "Which split's videos.", flag_values=flag_values)
    flags.DEFINE_float("window_overlap", DEFAULT_OVERLAP, "Window overlap, as predict's --window_overlap.",
                       flag_values=flag_values)


def main(flag_values):
    export_dir = flag_values.export_dir
    candidates = [(f"LiteRT {kind}", os.path.join(export_dir, name)) for kind, name in LITERT_FILES.items()]
    candidates.append(("ONNX", os.path.join(export_dir, ONNX_FILES[SIGNATURE])))
    files = [("SavedModel", export_dir)] + [(name, path) for name, path in candidates if os.path.isfile(path)]
    videos = read_split(flag_values.data_dir, flag_values.split, stored_faces=flag_values.faces == "stored")
    if flag_values.faces == "videos":
        add_predict_faces(videos, flag_values.data_root)
        faces_said = f"faces aligned from the raw videos in {flag_values.data_root}, as predict aligns them"
    else:
        faces_said = ("faces stored in the shards (JPEG, prepare's alignment): not what predict sees on the raw "
                      "videos; pass --faces=videos --data_root=... for that")
    rows, reference = [], None
    for name, path in files:
        predictor = Predictor.load(path, window_overlap=flag_values.window_overlap)
        predictor.warm_up()
        start = time.perf_counter()
        # Back on the shards' [-1, 1] (clipped as predict clips): CCC is blind to the affine map.
        predictions = [predictor.label_scale.to_model(predictor.predict_faces(v.faces, v.face_found)) for v in videos]
        seconds = time.perf_counter() - start
        stacked = np.concatenate(predictions)
        reference = stacked if reference is None else reference
        rows.append((name, _size_mb(path), official_ccc(videos, predictions), np.abs(stacked - reference).max(),
                     len(stacked) / seconds))
    print(f"{len(videos)} {flag_values.split} videos of {flag_values.data_dir}, {sum(int(v.label_valid.sum()) for v in videos)} "
          f"labelled frames; {faces_said}; export {export_dir}, windows overlapping by {flag_values.window_overlap:g}")
    header = (f"{'model file':26s} {'size MB':>8s} {'CCC arousal':>12s} {'CCC valence':>12s} {'mean change':>12s} "
              f"{'max |diff|':>11s} {'frames/s':>9s}")
    print(header)
    print("-" * len(header))
    base = np.mean(rows[0][2])
    for name, size, ccc, diff, fps in rows:
        print(f"{name:26s} {size:8.1f} {ccc[0]:12.4f} {ccc[1]:12.4f} {np.mean(ccc) - base:+12.4f} {diff:11.4f} "
              f"{fps:9.1f}")
    return 0

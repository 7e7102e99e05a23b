"""``python -m mimamo_tf.bench export --export_dir=saved_models/demo --data_dir=data/tfrecords``:
what each model file of an export costs and gives, side by side.

Every file (the SavedModel, ``model.tflite``, ``model_dynamic_range.tflite`` when present) runs
through ``Predictor.predict_faces`` on the aligned faces stored in the split's shards (the faces
the network was evaluated on), and the official CCC (all frames with a valid label, faceless frames
filled as ``evaluate`` fills them) is computed for each: the table shows size on disk, CCC, its
change from the SavedModel, the largest prediction difference and frames/s of the model alone.
"""

import os
import time

import numpy as np
from absl import flags


def _size_mb(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names) / 2**20
    return os.path.getsize(path) / 2**20


def stored_videos(data_dir, split):
    """``(video_id, rgb224, face_found, labels (T, 2), label_valid)`` of every video in the split."""
    import tensorflow as tf

    from mimamo_tf.data import schema, shards

    files = shards.list_shards(data_dir, split)
    if not files:
        raise SystemExit(f"--data_dir={data_dir}: no shards of split {split!r}")
    for path in files:
        for record in tf.data.TFRecordDataset(path):
            video = schema.parse_sequence_example(record.numpy())
            yield (video["video_id"], video["rgb224"], video["face_found"],
                   np.stack([video["arousal"], video["valence"]], -1), video["label_valid"] > 0)


def define_flags(flag_values):
    flags.DEFINE_string("export_dir", "saved_models/demo", "An export of python -m mimamo_tf.export.", flag_values=flag_values)
    flags.DEFINE_string("data_dir", "data/tfrecords", "Prepared shards with the faces to predict.", flag_values=flag_values)
    flags.DEFINE_string("split", "validation", "Which split's videos.", flag_values=flag_values)


def main(FLAGS):
    from mimamo_tf.ccc import ccc_numpy
    from mimamo_tf.serving.model_card import LITERT_FILES
    from mimamo_tf.inference import Predictor

    export_dir = FLAGS.export_dir
    files = [("SavedModel", export_dir)] + [
        (f"LiteRT {kind}", os.path.join(export_dir, name)) for kind, name in LITERT_FILES.items()
        if os.path.isfile(os.path.join(export_dir, name))]
    videos = list(stored_videos(FLAGS.data_dir, FLAGS.split))
    labels = np.concatenate([v[3] for v in videos])
    valid = np.concatenate([v[4] for v in videos])
    rows, reference = [], None
    for name, path in files:
        predictor = Predictor.load(path)
        predictor.warm_up()
        start = time.perf_counter()
        predictions = np.concatenate([predictor.predict_faces(rgb, found) for _, rgb, found, _, _ in videos])
        seconds = time.perf_counter() - start
        ccc = [ccc_numpy(predictions[valid, i], labels[valid, i]) for i in range(2)]
        reference = predictions if reference is None else reference
        rows.append((name, _size_mb(path), ccc, np.abs(predictions - reference).max(), len(predictions) / seconds))
    print(f"{len(videos)} {FLAGS.split} videos, {int(valid.sum())} labelled frames of {FLAGS.data_dir}; "
          f"export {export_dir}")
    header = (f"{'model file':26s} {'size MB':>8s} {'CCC arousal':>12s} {'CCC valence':>12s} {'mean change':>12s} "
              f"{'max |diff|':>11s} {'frames/s':>9s}")
    print(header)
    print("-" * len(header))
    base = np.mean(rows[0][2])
    for name, size, ccc, diff, fps in rows:
        print(f"{name:26s} {size:8.1f} {ccc[0]:12.4f} {ccc[1]:12.4f} {np.mean(ccc) - base:+12.4f} {diff:11.4f} "
              f"{fps:9.1f}")
    return 0

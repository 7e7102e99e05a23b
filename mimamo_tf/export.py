"""``python -m mimamo_tf.export --model_dir=RUN --export_dir=saved_models/NAME [--checkpoint=best|last] [--tflite] [--quantize=dynamic]``

Exports a trained run as a model that takes **aligned face crops only**: a SavedModel whose
``serving_default`` signature maps ``faces`` — uint8 ``(batch, window + 2 * context, 224, 224, 3)``
RGB aligned faces, ``context`` extra frames on each side of the window (``snippet_length // 2``;
repeat the first/last face at a video's ends) — to ``arousal`` and ``valence``, ``(batch, window)``
float32. The frozen backbone the run's data was prepared with (``spatial_backbone.keras`` beside
the shards), the gray 48x48 conversion prepare does (``models.face_inputs.GrayFromRGB``), the
pyramid and phase differences, both streams and the BiGRU all run inside the graph. The export
directory also holds ``model_card.json`` (the input contract, outputs, backbone, training data,
validation metrics, package version).

``--tflite`` adds ``model.tflite`` (LiteRT, builtin ops only, float32) to the export directory: the
network rebuilt from the run's config for one fixed window (``--tflite_window``, default the
training window) with unrolled GRUs — LiteRT's builtins have no loop over a tensor list, which the
Keras GRU's ``while`` needs — the trained weights copied in, batch 1. ``--quantize=dynamic`` also
writes ``model_dynamic_range.tflite``: weights stored as int8, activations float (no calibration
data needed). Both files take ``faces`` uint8 ``(1, window + 2 * context, 224, 224, 3)``.

Also the helpers the tests use: ``export_saved_model``, ``saved_model_to_litert``, ``litert_op_names``.
"""

from mimamo_tf.cli_startup import quiet_tensorflow_startup

quiet_tensorflow_startup()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

from mimamo_tf.atomic_files import write_json  # noqa: E402

# The LiteRT files an export directory can hold (``Predictor.load`` accepts either).
LITERT_FILES = {"float32": "model.tflite", "dynamic_range": "model_dynamic_range.tflite"}
MODEL_CARD = "model_card.json"


def export_saved_model(model, directory, static_batch=False):
    """Writes ``model`` as a SavedModel with a ``serving_default`` signature (TF Serving layout).

    Keras makes the batch dimension of the signature dynamic; ``static_batch`` keeps every input's
    full static shape (a LiteRT file then has no dynamic dimension left).
    """
    import tensorflow as tf

    signature = None
    if static_batch:
        signature = [tf.TensorSpec(tensor.shape, tensor.dtype, name=tensor.name.split(":")[0])
                     for tensor in model.inputs]
    model.export(directory, format="tf_saved_model", verbose=False, input_signature=signature)
    return directory


def saved_model_to_litert(saved_model_dir, output_path, builtin_ops_only=True, quantize=None):
    """Converts a SavedModel to a LiteRT flatbuffer, atomically written to ``output_path``.

    Args:
        saved_model_dir: a directory written by ``export_saved_model``.
        output_path: the ``.tflite`` file to write.
        builtin_ops_only: refuse the conversion unless every op is a LiteRT builtin (no Flex/select
            TF ops, no custom ops), so the file runs on the plain LiteRT runtime.
        quantize: None (float32) or ``"dynamic"`` (dynamic-range quantisation: int8 weights,
            float activations).

    Returns:
        ``output_path``.
    """
    import tensorflow as tf

    from mimamo_tf.cli_startup import native_stderr_captured

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    if builtin_ops_only:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        converter.allow_custom_ops = False
    if quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize is not None:
        raise ExportError(f"--quantize must be 'dynamic' (or unset); got {quantize!r}")
    # The converter's C++ side logs every step (and a harmless "NodeDef mentions attribute Truncate"
    # error line while loading the SavedModel); shown only if the conversion fails.
    with native_stderr_captured(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") != "0"):
        flatbuffer = converter.convert()
    directory = os.path.dirname(os.path.abspath(output_path))
    os.makedirs(directory, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".partial", delete=False) as tmp:
        tmp.write(flatbuffer)
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, output_path)
    return output_path


def litert_op_names(tflite_path):
    """Sorted names of the ops a LiteRT model uses (builtins are upper-case, e.g. ``BATCH_MATMUL``)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tflite_path))
    return sorted({op["op_name"] for op in interpreter._get_ops_details()})


class ExportError(ValueError):
    """The run cannot be exported as asked; the message names the flag or file."""


def build_face_model(model, config, backbone=None, window=None, batch_size=None):
    """The trained ``model`` behind a face-crop input: ``{"faces"} -> {"arousal", "valence"}``.

    Args:
        model: the trained MIMAMO Net (``best.keras``).
        config: the run's ``ExperimentConfig``.
        backbone: the frozen backbone of the run's stored features (needed with
            ``--spatial_input=features``).
        window, batch_size: fixed sizes of the ``faces`` input (None: any); ``window`` excludes
            the context frames.

    Raises:
        ExportError: a configuration whose inputs cannot be computed in-graph (optical flow) or
            that the face-window signature does not cover (video-level labels).
    """
    import keras

    from mimamo_tf.models.face_inputs import CentralFrames, GrayFromRGB
    from mimamo_tf.models.per_frame import PerFrame

    cfg = config.model
    if cfg.uses_temporal and cfg.temporal_input == "optical_flow":
        raise ExportError("--temporal_input=optical_flow is computed with OpenCV outside the graph: not exportable")
    if cfg.label_level != "frame":
        raise ExportError("only frame-level models (--label_level=frame) export to the face-window signature")
    context = cfg.context_frames
    steps = window + 2 * context if window else None
    faces = keras.Input((steps, 224, 224, 3), batch_size=batch_size, dtype="uint8", name="faces")
    inputs = {}
    if cfg.uses_temporal:
        inputs["gray48"] = GrayFromRGB(name="gray48")(faces)
    if cfg.uses_spatial:
        window = CentralFrames(context, name="window_frames")(faces)
        if cfg.spatial_input == "features":
            if backbone is None:
                raise ExportError("the run trained on stored features: the backbone they came from is needed")
            inputs["spatial_features"] = PerFrame(backbone, name="backbone_per_frame")(window)
        else:
            inputs["rgb224"] = keras.layers.Identity(name="rgb224")(keras.ops.cast(window, "float32"))
    outputs = model(inputs, training=False)
    named = {name: keras.layers.Identity(name=name)(outputs[..., i]) for i, name in enumerate(("arousal", "valence"))}
    return keras.Model(faces, named, name="mimamo_net_faces")


def fixed_window_model(model, config, window):
    """``model`` rebuilt for LiteRT: ``window`` frames, unrolled GRUs, float32, its weights copied.

    The architecture comes from the run's config (the same builder that made ``model``), so the
    variables pair up in order; shapes are checked before anything is copied.
    """
    from mimamo_tf import config as config_lib
    from mimamo_tf.models import build_mimamo_net
    from mimamo_tf.training.model_setup import dtype_policy

    model_config = config.model
    if "spatial_features" in model.input:
        model_config = config_lib.replace(
            config, model={"spatial_feature_dim": int(model.input["spatial_features"].shape[-1])}).model
    with dtype_policy("float32"):
        fixed = build_mimamo_net(model_config, name=model.name, window=window, unroll=True)
    source, target = model.weights, fixed.weights
    mismatched = [(a.path, tuple(a.shape), b.path, tuple(b.shape)) for a, b in zip(source, target)
                  if tuple(a.shape) != tuple(b.shape)]
    if len(source) != len(target) or mismatched:
        raise ExportError(f"the checkpoint's network does not match its flags.cfg ({len(source)} vs {len(target)} "
                          f"variables; first differences {mismatched[:3]})")
    fixed.set_weights(model.get_weights())
    return fixed


def export_litert(model, config, backbone, export_dir, window, quantize=None):
    """Writes ``model.tflite`` (and ``model_dynamic_range.tflite`` with ``quantize="dynamic"``) of a
    run into ``export_dir``; returns ``{kind: path}``."""
    fixed = fixed_window_model(model, config, window)
    face_model = build_face_model(fixed, config, backbone, window=window, batch_size=1)
    written = {}
    with tempfile.TemporaryDirectory() as scratch:
        export_saved_model(face_model, scratch, static_batch=True)
        written["float32"] = saved_model_to_litert(scratch, os.path.join(export_dir, LITERT_FILES["float32"]))
        if quantize:
            written["dynamic_range"] = saved_model_to_litert(
                scratch, os.path.join(export_dir, LITERT_FILES["dynamic_range"]), quantize=quantize)
    return written



def load_run(model_dir, checkpoint="best"):
    """``(config, model, backbone, backbone_record)`` of a trained run (``backbone`` None without
    stored features)."""
    import keras

    import mimamo_tf.models  # noqa: F401  (registers the custom layers)
    import mimamo_tf.phase  # noqa: F401
    from mimamo_tf import config as config_lib

    flags_file = os.path.join(model_dir, "flags.cfg")
    if not os.path.isfile(flags_file):
        raise ExportError(f"--model_dir={model_dir}: no flags.cfg: not a training run directory")
    config = config_lib.from_flagfile(flags_file)
    from mimamo_tf.training.trainer import checkpoint_path

    path = checkpoint_path(model_dir, checkpoint)
    if not os.path.isfile(path):
        raise ExportError(f"--checkpoint: model file {path!r} does not exist")
    model = keras.saving.load_model(path, compile=False)
    backbone, record = None, None
    if config.model.uses_spatial and config.model.spatial_input == "features":
        backbone_file = os.path.join(config.data.data_dir, "spatial_backbone.keras")
        if not os.path.isfile(backbone_file):
            raise ExportError(
                f"{backbone_file} does not exist: the run's data ({config.data.data_dir}) does not carry the backbone "
                "its features came from (prepared before backbones travelled with the data: prepare it again)")
        backbone = keras.saving.load_model(backbone_file, compile=False)
        record = _backbone_record(config.data.data_dir)
    return config, model, backbone, record


def _backbone_record(data_dir):
    try:
        with open(os.path.join(data_dir, "manifest.json"), encoding="utf-8") as handle:
            splits = json.load(handle)["splits"]
    except (OSError, ValueError, KeyError):
        return None
    for split in splits.values():
        record = split.get("settings", {}).get("spatial_backbone")
        if record:
            return record
    return None


def model_card(config, backbone_record, model_dir, checkpoint, litert=None):
    """What a user of the export needs to know, as a dict (``model_card.json``).

    ``litert``: ``{"window": W, "files": {kind: file name}}`` when LiteRT files were written."""
    from mimamo_tf import __version__

    metrics = None
    history_path = os.path.join(model_dir, "history.json")
    if os.path.isfile(history_path):
        history = json.load(open(history_path))
        if history:
            best = max(history, key=lambda e: e.get("val_ccc_mean", float("-inf")))
            metrics = {k: best[k] for k in ("epoch", "val_ccc_arousal", "val_ccc_valence", "val_ccc_mean") if k in best}
    context = config.model.context_frames
    return {
        "name": "MIMAMO Net (Deng et al., AAAI 2020), mimamo_tf",
        "package_version": __version__,
        "signature": "serving_default",
        "inputs": {"faces": {
            "dtype": "uint8", "shape": ["batch", f"window + {2 * context}", 224, 224, 3],
            "value_range": [0, 255], "channels": "RGB",
            "description": (f"aligned face crops (mimamo_tf.faces alignment: 5-landmark similarity transform to "
                            f"the canonical template, 224x224), {context} context frames before and after the "
                            "window (repeat the first/last face at a video's ends); frames without a face take "
                            "the nearest face frame's crop"),
            "window": {"trained_with": config.data.window, "any_length": True},
            "context_frames": context,
            "frame_rate_assumption": "the training videos' frame rate (Aff-Wild2: 30 fps); phase differences "
                                     "are per frame pair",
        }},
        "outputs": {"arousal": {"shape": ["batch", "window"], "dtype": "float32"},
                    "valence": {"shape": ["batch", "window"], "dtype": "float32"}},
        "model": {"streams": config.model.streams, "temporal_input": config.model.temporal_input,
                  "snippet_length": config.model.snippet_length, "spatial_input": config.model.spatial_input},
        "spatial_backbone": backbone_record,
        "training_data": {"data_dir": config.data.data_dir, "train_split": config.data.train_split,
                          "eval_split": config.data.eval_split, "num_folds": config.data.num_folds,
                          "fold": config.data.fold},
        "checkpoint": checkpoint,
        "validation_metrics": metrics,
        "litert": None if litert is None else {
            "files": litert["files"], "signature": "serving_default",
            "faces_shape": [1, litert["window"] + 2 * context, 224, 224, 3], "window": litert["window"],
            "description": "fixed window, batch 1, builtin ops only; unrolled GRUs, float32 compute "
                           "(dynamic_range: int8 weights)",
        },
    }


def export_run(model_dir, export_dir, checkpoint="best", tflite=False, quantize=None, tflite_window=0):
    """Writes the face-input SavedModel and ``model_card.json`` of a run into ``export_dir`` (and the
    LiteRT files with ``tflite``; ``quantize="dynamic"`` implies it). Returns ``export_dir``."""
    if quantize not in (None, "", "none", "dynamic"):
        raise ExportError(f"--quantize must be 'dynamic' (or unset); got {quantize!r}")
    quantize = quantize if quantize == "dynamic" else None
    if tflite_window < 0:
        raise ExportError(f"--tflite_window must be >= 1 frames (0: the training window); got {tflite_window}")
    config, model, backbone, record = load_run(model_dir, checkpoint)
    face_model = build_face_model(model, config, backbone)
    os.makedirs(export_dir, exist_ok=True)
    export_saved_model(face_model, export_dir)
    litert = None
    if tflite or quantize:
        window = tflite_window or config.data.window
        written = export_litert(model, config, backbone, export_dir, window, quantize)
        litert = {"window": window, "files": {kind: os.path.basename(path) for kind, path in written.items()}}
    write_json(os.path.join(export_dir, MODEL_CARD), model_card(config, record, model_dir, checkpoint, litert))
    return export_dir


def main(argv):
    from absl import app, flags

    from mimamo_tf.cli_startup import quiet_python_logging

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}")
    quiet_python_logging()
    FLAGS = flags.FLAGS
    if not FLAGS.model_dir or not FLAGS.export_dir:
        print("mimamo_tf.export: --model_dir and --export_dir are required", file=sys.stderr)
        return 2
    try:
        directory = export_run(FLAGS.model_dir, FLAGS.export_dir, FLAGS.checkpoint, FLAGS.tflite,
                               FLAGS.quantize, FLAGS.tflite_window)
    except ExportError as error:
        print(f"mimamo_tf.export: {error}", file=sys.stderr)
        return 2
    print(f"mimamo_tf.export: SavedModel (signature serving_default: faces -> arousal, valence) and "
          f"model_card.json in {directory}")
    card = json.load(open(os.path.join(directory, MODEL_CARD)))
    if card["litert"]:
        for kind, name in card["litert"]["files"].items():
            size = os.path.getsize(os.path.join(directory, name)) / 2**20
            print(f"mimamo_tf.export: LiteRT {kind}: {os.path.join(directory, name)} ({size:.1f} MB; faces "
                  f"{tuple(card['litert']['faces_shape'])})")
    return 0


def run():
    from absl import app, flags

    flags.DEFINE_string("model_dir", None, "The training run to export.")
    flags.DEFINE_string("export_dir", None, "Where the SavedModel and model_card.json go (e.g. saved_models/NAME).")
    flags.DEFINE_string("checkpoint", "best", "'best', 'last' or a path to a .keras model.")
    flags.DEFINE_boolean("tflite", False, "Also write model.tflite (LiteRT, builtin ops, fixed window, batch 1).")
    flags.DEFINE_enum("quantize", None, ["dynamic"],
                      "Also write model_dynamic_range.tflite (int8 weights, float activations); implies --tflite.")
    flags.DEFINE_integer("tflite_window", 0, "Frames per LiteRT window, context excluded (0: the training window).")
    app.run(main)


if __name__ == "__main__":
    run()

"""Exporting a trained run: the face-input SavedModel, its LiteRT files and the model card.

``export_run(model_dir, export_dir)`` writes into ``export_dir``:

* a SavedModel whose ``serving_default`` signature maps ``faces`` — uint8
  ``(batch, window + 2 * context, 224, 224, 3)`` RGB aligned faces, ``context`` extra frames on each
  side of the window (``snippet_length // 2``; repeat the first/last face at a video's ends) — to
  ``arousal`` and ``valence``, ``(batch, window)`` float32 (``face_model.build_face_model``). Its
  network computes in ``compute_dtype`` (float32 by default) whatever precision the run trained in
  (``--mixed_precision``: by default bfloat16 where the hardware computes it natively): it is rebuilt from the run's config in that
  precision (``face_model.rebuild_network``), so a float32 export needs no bfloat16 support from the
  CPU and computes what the LiteRT files compute;
* with ``tflite``: ``model.tflite`` (LiteRT, builtin ops only, float32, one fixed window, batch 1);
  with ``quantize="dynamic"`` also ``model_dynamic_range.tflite`` (int8 weights, float activations);
* with ``onnx``: ``model.onnx`` and, for a network on stored features, the two parts as
  ``model_frame_features.onnx`` and ``model_window_from_features.onnx``, and for the two-stream
  network the window part's two parts, ``model_frame_motion_features.onnx`` and
  ``model_window_from_frame_features.onnx`` (``onnx_export``: float32, any window and batch, each
  checked against the Keras model before it is written);
* ``model_card.json`` (``model_card.ModelCard``): the input contract, outputs, the training labels'
  scale (the outputs are on [-1, 1]; ``predict`` maps them onto it), backbone, training data,
  validation metrics of the exported epoch, the SavedModel's compute precision, package version.
"""

import os
import tempfile

from mimamo_tf import __version__, runs
from mimamo_tf.data import shards
from mimamo_tf.serving import litert, onnx_export
from mimamo_tf.serving.face_model import (ExportError, build_face_model, build_motion_models, build_split_models,
                                          check_compute_dtype, fixed_window_model, rebuild_network)
from mimamo_tf.serving.model_card import (LITERT_FILES, MOTION_SIGNATURES, SIGNATURE, SPLIT_SIGNATURES, LiteRTFiles,
                                          ModelCard, write_card)


def signature_models(network, config, backbone, window=None, batch_size=None, faces_per_call=None, motion=True):
    """``{signature: Keras model}`` of an export: ``serving_default`` (``face_model.build_face_model``)
    and, for a network on stored features, its two parts (``face_model.build_split_models``);
    sizes as theirs. Every file of an export (SavedModel, LiteRT, ONNX) carries these. With
    ``motion``, also the window part's own two parts for the two-stream network
    (``face_model.build_motion_models``; any number of frames, so the LiteRT files leave them out)."""
    split = build_split_models(network, config, backbone, window=window, batch_size=batch_size,
                               faces_per_call=faces_per_call)
    parts = build_motion_models(network, config, batch_size=batch_size) if motion and split else None
    return {SIGNATURE: build_face_model(network, config, backbone, window=window, batch_size=batch_size),
            **(dict(zip(SPLIT_SIGNATURES, split)) if split else {}),
            **(dict(zip(MOTION_SIGNATURES, parts)) if parts else {})}


def export_litert(model, config, backbone, export_dir, window, quantize=None):
    """Writes ``model.tflite`` (and ``model_dynamic_range.tflite`` with ``quantize="dynamic"``) of a
    run into ``export_dir``; returns ``{kind: path}``.

    Each file carries ``serving_default`` and, for a network on stored features, the model in two
    parts as the SavedModel has them (``frame_features``: one face per call; ``window_from_features``),
    so a client runs the backbone once per face rather than once per window the face is in."""
    # The motion parts take any number of frames (a window's new frames): LiteRT's shapes are fixed.
    models = signature_models(fixed_window_model(model, config, window), config, backbone, window=window,
                              batch_size=1, faces_per_call=1, motion=False)
    signatures = list(models)
    written = {}
    with tempfile.TemporaryDirectory() as scratch:
        litert.export_constant_saved_model(models, scratch)
        written["float32"] = litert.saved_model_to_litert(scratch, os.path.join(export_dir, LITERT_FILES["float32"]),
                                                          signature_keys=signatures)
        if quantize:
            written["dynamic_range"] = litert.saved_model_to_litert(
                scratch, os.path.join(export_dir, LITERT_FILES["dynamic_range"]), quantize=quantize,
                signature_keys=signatures)
    return written


def write_saved_model(network, config, backbone, export_dir):
    """The export's SavedModel: ``serving_default`` (faces -> arousal, valence) and, for a network on
    stored features, the same model in two parts as the ``frame_features`` and
    ``window_from_features`` signatures (``face_model.build_split_models``), and for the two-stream
    network the window part in two as ``frame_motion_features`` and ``window_from_frame_features``
    (``face_model.build_motion_models``)."""
    endpoints = signature_models(network, config, backbone)
    return litert.export_saved_model(endpoints.pop(SIGNATURE), export_dir, endpoints=endpoints or None)


def validation_metrics(model_dir, checkpoint="best", selection_key=runs.SELECTION_METRIC):
    """``epoch`` and ``val_ccc_*`` (official, and ``*_face_only``) of the epoch a checkpoint holds:
    the best epoch by ``selection_key`` (``runs.best_epoch``) for ``best``, the last for ``last``;
    None for another file or no history."""
    history = runs.read_history(model_dir)
    entry = {"best": lambda: runs.best_epoch(history, selection_key),
             "last": lambda: history[-1] if history else None}.get(checkpoint, lambda: None)()
    if entry is None:
        return None
    keys = ("epoch", "val_ccc_arousal", "val_ccc_valence", "val_ccc_mean", "val_ccc_arousal_face_only",
            "val_ccc_valence_face_only", "val_ccc_mean_face_only")
    return {k: entry[k] for k in keys if k in entry}


def model_card(config, backbone_record, model_dir, checkpoint, litert_files=None, compute_dtype=None,
               onnx_files=None):
    """The ``ModelCard`` of an export of the run ``config`` (``litert_files``: ``LiteRTFiles`` or None;
    ``compute_dtype``: the SavedModel's compute precision, None if not known; ``onnx_files``:
    ``{signature: file name}`` or None)."""
    data = config.data
    return ModelCard(
        context_frames=config.model.context_frames, trained_window=data.window,
        streams=config.model.streams, temporal_input=config.model.temporal_input,
        snippet_length=config.model.snippet_length, spatial_input=config.model.spatial_input,
        spatial_backbone=backbone_record,
        training_data={"data_dir": data.data_dir, "train_split": data.train_split, "eval_split": data.eval_split,
                       "num_folds": data.num_folds, "fold": data.fold,
                       "selection_metric": config.optimization.selection_metric,
                       # The precision the run trained in (flags.cfg's, resolved from --mixed_precision=auto).
                       "mixed_precision": config.runtime.mixed_precision},
        checkpoint=checkpoint,
        validation_metrics=validation_metrics(model_dir, checkpoint, runs.selection_key(config)),
        litert=litert_files, compute_dtype=compute_dtype,
        face_geometry=shards.face_geometry_record(data.data_dir, data.train_split) if data.data_dir else None,
        label_scale=shards.split_label_scale(data.data_dir, data.train_split) if data.data_dir else None,
        frame_rate=shards.split_frame_rate(data.data_dir, data.train_split) if data.data_dir else None,
        onnx=onnx_files, package_version=__version__)


def export_run(model_dir, export_dir, checkpoint="best", tflite=False, quantize=None, tflite_window=0,
               compute_dtype="float32", onnx=False):
    """Writes the face-input SavedModel and ``model_card.json`` of a run into ``export_dir`` (and the
    LiteRT files with ``tflite``; ``quantize="dynamic"`` implies it; the ONNX files with ``onnx``,
    ``onnx_export``, float32 always).

    The SavedModel's network computes in ``compute_dtype`` (``face_model.COMPUTE_DTYPES``), whatever
    the run's ``--mixed_precision``; the LiteRT files are float32 always.

    Returns:
        The written ``ModelCard``.

    Raises:
        ExportError, runs.RunError: naming the flag or file.
    """
    if quantize not in (None, "", "none", "dynamic"):
        raise ExportError(f"--quantize must be 'dynamic' (or unset); got {quantize!r}")
    quantize = quantize if quantize == "dynamic" else None
    if tflite_window < 0:
        raise ExportError(f"--tflite_window must be >= 1 frames (0: the training window); got {tflite_window}")
    check_compute_dtype(compute_dtype)
    run = runs.load_run(model_dir, checkpoint)
    network = rebuild_network(run.model, run.config, compute_dtype)
    os.makedirs(export_dir, exist_ok=True)
    write_saved_model(network, run.config, run.backbone, export_dir)
    litert_files = None
    if tflite or quantize:
        window = tflite_window or run.config.data.window
        written = export_litert(run.model, run.config, run.backbone, export_dir, window, quantize)
        litert_files = LiteRTFiles(window=window, files={kind: os.path.basename(path) for kind, path in written.items()})
    onnx_files = None
    if onnx:
        float32 = network if compute_dtype == "float32" else rebuild_network(run.model, run.config, "float32")
        onnx_files = onnx_export.export_onnx(signature_models(float32, run.config, run.backbone), export_dir,
                                             run.config.data.window, run.config.model.context_frames)
    card = model_card(run.config, run.backbone_record, model_dir, checkpoint, litert_files, compute_dtype, onnx_files)
    write_card(card, export_dir)
    return card

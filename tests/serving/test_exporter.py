"""mimamo_tf.serving (python -m mimamo_tf.export): a trained run as a SavedModel on aligned face crops, loaded in a fresh
process and compared with the Keras model and with the model on the prepared shards.

The run (the session fixture exported_run) trained in bfloat16, the training default; its export is
float32 (``--compute_dtype``'s default), so the Keras reference is the trained network rebuilt in
float32 (``face_model.rebuild_network``)."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

# Every test uses a trained and exported run (the session fixture exported_run).
pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def run(exported_run):
    return exported_run


def _float32_network(model_dir):
    """The run's trained network rebuilt in float32, and the loaded run."""
    from mimamo_tf.runs import load_run
    from mimamo_tf.serving.face_model import rebuild_network

    loaded = load_run(str(model_dir))
    return rebuild_network(loaded.model, loaded.config, "float32"), loaded


def test_saved_model_on_faces_matches_keras_and_the_prepared_shards(run, tmp_path):
    from mimamo_tf.serving.face_model import build_face_model

    model_dir, export_dir, video = run
    # A window of 8 frames with 6 context faces per side, clamped at the video's start.
    frames = np.clip(np.arange(-6, 14), 0, len(video["rgb224"]) - 1)
    faces = video["rgb224"][frames][None]
    np.save(tmp_path / "faces.npy", faces)
    code = f"""
        import numpy as np, tensorflow as tf
        model = tf.saved_model.load({str(export_dir)!r})
        out = model.signatures["serving_default"](faces=tf.constant(np.load("faces.npy")))
        np.save("served.npy", np.stack([out["arousal"].numpy(), out["valence"].numpy()], -1))
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    served = np.load(tmp_path / "served.npy")
    network, loaded = _float32_network(model_dir)
    expected = np.stack([np.asarray(v) for v in build_face_model(network, loaded.config, loaded.backbone)(faces).values()], -1)
    np.testing.assert_allclose(served, expected, atol=1e-5)
    # The same window from the prepared shards: stored gray faces and stored (float16) features.
    window = frames[6:14]
    on_shards = np.asarray(network({"gray48": video["gray48"][frames][None] / 255.0,
                                  "spatial_features": video["spatial_features"][window][None].astype(np.float32)}))
    # Measured 2e-4 (float16 features, gray faces within one level); the in-graph gray conversion
    # itself is held to OpenCV in test_face_inputs.py.
    np.testing.assert_allclose(served, on_shards, atol=1e-3)


def test_model_card_and_signature(run):
    model_dir, export_dir, _ = run
    card = json.loads((export_dir / "model_card.json").read_text())
    assert card["inputs"]["faces"]["shape"] == ["batch", "window + 12", 224, 224, 3]
    assert card["inputs"]["faces"]["context_frames"] == 6 and card["outputs"].keys() == {"arousal", "valence"}
    # Shards whose manifest records no --label_range (or that have none): the model's own [-1, 1].
    assert (card["label_scale"]["low"], card["label_scale"]["high"]) == (-1.0, 1.0)
    # The precision the run trained in, as its flags.cfg resolved it (the fixture asks for bfloat16).
    assert card["training_data"]["mixed_precision"] == "bfloat16"
    history = json.loads((model_dir / "history.json").read_text())
    assert card["validation_metrics"]["val_ccc_mean"] == pytest.approx(max(e["val_ccc_mean"] for e in history))
    shown = subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir",
                            str(export_dir), "--all"], capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "signature_def['serving_default']" in shown.stdout and "inputs['faces'] tensor_info" in shown.stdout
    assert "outputs['arousal']" in shown.stdout and "outputs['valence']" in shown.stdout
    # The model in two parts, for clients that keep each face's backbone feature across windows.
    assert "signature_def['frame_features']" in shown.stdout and "outputs['spatial_features']" in shown.stdout
    assert "signature_def['window_from_features']" in shown.stdout and "inputs['spatial_features']" in shown.stdout
    # The window part in two, for clients that also keep each frame's motion features (its numbers:
    # tests/inference/test_predictor.py).
    assert "signature_def['frame_motion_features']" in shown.stdout and "inputs['gray48']" in shown.stdout
    assert "signature_def['window_from_frame_features']" in shown.stdout and "outputs['temporal_features']" in shown.stdout


def test_litert_files_run_in_a_fresh_process_and_match_keras(run, tmp_path):
    """model.tflite (builtin ops only) matches the Keras model within 1e-4 in ai_edge_litert; the
    dynamic-range file is smaller and close."""
    from mimamo_tf.serving.face_model import build_face_model
    from mimamo_tf.serving.litert import litert_op_names

    model_dir, export_dir, video = run
    card = json.loads((export_dir / "model_card.json").read_text())
    assert card["litert"]["faces_shape"] == [1, 20, 224, 224, 3]  # smoke window 8 + 2 x 6 context
    files = {kind: export_dir / name for kind, name in card["litert"]["files"].items()}
    assert set(files) == {"float32", "dynamic_range"}
    ops = litert_op_names(files["float32"])
    assert ops and all(name.isupper() and not name.startswith("FLEX") for name in ops), ops
    assert "WHILE" not in ops  # the GRUs are unrolled
    faces = video["rgb224"][np.clip(np.arange(-6, 14), 0, len(video["rgb224"]) - 1)][None]
    np.save(tmp_path / "faces.npy", faces)
    code = f"""
        import json, numpy as np
        from ai_edge_litert.interpreter import Interpreter
        for kind, path in {json.dumps({k: str(v) for k, v in files.items()})}.items():
            runner = Interpreter(model_path=path).get_signature_runner("serving_default")
            out = runner(faces=np.load("faces.npy"))
            np.save(kind + ".npy", np.stack([out["arousal"], out["valence"]], -1))
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    network, loaded = _float32_network(model_dir)
    expected = np.stack([np.asarray(v) for v in build_face_model(network, loaded.config, loaded.backbone)(faces).values()], -1)
    np.testing.assert_allclose(np.load(tmp_path / "float32.npy"), expected, atol=1e-4)
    quantized = np.load(tmp_path / "dynamic_range.npy")
    assert files["dynamic_range"].stat().st_size < 0.5 * files["float32"].stat().st_size
    assert np.all(np.isfinite(quantized)) and np.abs(quantized - expected).max() < 0.1


def test_runs_that_cannot_be_exported_say_why(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mimamo_tf.export", f"--model_dir={tmp_path}",
                             f"--export_dir={tmp_path / 'out'}"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "no flags.cfg: not a training run directory" in result.stderr


def test_rest_body_and_grpc_request_feed_the_signature(run):
    """The README's REST :predict body and the equivalent gRPC PredictRequest (tensorflow-serving-api)
    carry tensors the serving_default signature takes, with the same results."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    _, export_dir, video = run
    faces = video["rgb224"][np.clip(np.arange(-6, 10), 0, len(video["rgb224"]) - 1)][None]  # 4 frames + context
    signature = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    direct = signature(faces=tf.constant(faces))
    # REST: POST http://HOST:8501/v1/models/mimamo:predict with this body (columnar "inputs").
    body = json.loads(json.dumps({"signature_name": "serving_default", "inputs": {"faces": faces.tolist()}}))
    rest = signature(faces=tf.constant(np.asarray(body["inputs"]["faces"], np.uint8)))
    # gRPC: PredictionService/Predict.
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "mimamo"
    request.model_spec.signature_name = "serving_default"
    request.inputs["faces"].CopyFrom(tf.make_tensor_proto(faces))
    received = tf.make_ndarray(predict_pb2.PredictRequest.FromString(request.SerializeToString()).inputs["faces"])
    spec = signature.structured_input_signature[1]["faces"]
    assert received.dtype == spec.dtype.as_numpy_dtype and spec.shape.is_compatible_with(received.shape)
    grpc = signature(faces=tf.constant(received))
    for name in ("arousal", "valence"):
        assert direct[name].shape == (1, 4)
        np.testing.assert_array_equal(rest[name].numpy(), direct[name].numpy())
        np.testing.assert_array_equal(grpc[name].numpy(), direct[name].numpy())


def _graph_dtypes(signature):
    """Every dtype an op of ``signature``'s graph takes or makes (the functions it calls included)."""
    from tensorflow.core.framework import types_pb2

    graph_def = signature.graph.as_graph_def()
    nodes = [*graph_def.node, *(node for function in graph_def.library.function for node in function.node_def)]
    return {types_pb2.DataType.Name(dtype) for node in nodes for attr in node.attr.values()
            for dtype in ([attr.type] if attr.type else []) + list(attr.list.type)}


def test_a_bfloat16_trained_run_exports_float32_unless_asked_for_bfloat16(run, tmp_path):
    """The bfloat16 run's default export has no bfloat16 op and says float32 on its card;
    ``--compute_dtype=bfloat16`` keeps bfloat16 compute, says so, and predicts visibly differently
    (measured 8e-3; the float32 export is within 1e-6 of its LiteRT file, test_predictor holds 1e-4)."""
    import tensorflow as tf

    from mimamo_tf.runs import read_config
    from mimamo_tf.serving import ExportError, export_run, read_card

    model_dir, export_dir, video = run
    assert read_config(str(model_dir)).runtime.mixed_precision == "bfloat16"
    bfloat16_dir = tmp_path / "bfloat16"
    export_run(str(model_dir), str(bfloat16_dir), compute_dtype="bfloat16")  # export --compute_dtype=bfloat16
    faces = tf.constant(video["rgb224"][np.clip(np.arange(-6, 14), 0, len(video["rgb224"]) - 1)][None])
    served = {}
    for name, directory in (("float32", export_dir), ("bfloat16", bfloat16_dir)):
        signature = tf.saved_model.load(str(directory)).signatures["serving_default"]
        assert ("DT_BFLOAT16" in _graph_dtypes(signature)) == (name == "bfloat16"), name
        card = read_card(str(directory))
        assert card.compute_dtype == name and card.to_json()["compute_dtype"] == name
        out = signature(faces=faces)
        served[name] = np.stack([out["arousal"].numpy(), out["valence"].numpy()], -1)
    assert "float32 compute" in read_card(str(export_dir)).to_json()["litert"]["description"]
    difference = np.abs(served["bfloat16"] - served["float32"]).max()
    assert 1e-4 < difference < 0.05, difference
    with pytest.raises(ExportError, match="--compute_dtype must be one of float32, bfloat16; got 'float16'"):
        export_run(str(model_dir), str(tmp_path / "never"), compute_dtype="float16")

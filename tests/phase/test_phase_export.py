"""The phase front end inside a model survives .keras, SavedModel and LiteRT, each loaded in a fresh
process, and LiteRT needs builtin ops only."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from mimamo_tf.testing.face_frames import face_crop

from mimamo_tf.serving import litert as export
from mimamo_tf.phase import PhaseSnippets, SnippetBuilder, SteerablePyramid

FRAMES = 10


@pytest.fixture(scope="module")
def front_end(tmp_path_factory):
    """A model frames -> phase-difference snippets, its input clip and its Keras outputs."""
    frames_in = keras.Input(shape=(FRAMES, 48, 48), batch_size=1, name="frames")
    level0, level1 = PhaseSnippets(name="phase_snippets")(frames_in)
    model = keras.Model(frames_in, {"level0": level0, "level1": level1})
    rng = np.random.default_rng(0)
    shifts = np.cumsum(rng.normal(0, 0.3, size=(FRAMES, 2)), axis=0)
    clip = np.stack([face_crop(tuple(s)) for s in shifts])[None].astype(np.float32)
    outputs = {k: np.asarray(v) for k, v in model(clip).items()}
    directory = tmp_path_factory.mktemp("export")
    np.save(directory / "clip.npy", clip)
    return model, clip, outputs, directory


def _run_fresh(code, directory):
    """Runs ``code`` in a new Python process; it writes ``out_*.npy`` files we read back."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
def test_keras_file_round_trip_in_fresh_process(front_end):
    model, _, outputs, directory = front_end
    model.save(directory / "front_end.keras")
    _run_fresh(
        """
        import numpy as np, keras
        import mimamo_tf.phase  # registers the layers
        model = keras.saving.load_model("front_end.keras")
        out = model(np.load("clip.npy"))
        for key, value in out.items():
            np.save(f"out_keras_{key}.npy", np.asarray(value))
        """,
        directory,
    )
    for key, value in outputs.items():
        np.testing.assert_allclose(np.load(directory / f"out_keras_{key}.npy"), value, atol=1e-6)


@pytest.mark.slow
def test_saved_model_serving_signature_in_fresh_process(front_end):
    model, _, outputs, directory = front_end
    export.export_saved_model(model, str(directory / "saved_model"))
    _run_fresh(
        """
        import numpy as np, tensorflow as tf
        loaded = tf.saved_model.load("saved_model")
        serve = loaded.signatures["serving_default"]
        out = serve(frames=tf.constant(np.load("clip.npy")))
        for key, value in out.items():
            np.save(f"out_sm_{key}.npy", value.numpy())
        """,
        directory,
    )
    for key, value in outputs.items():
        np.testing.assert_allclose(np.load(directory / f"out_sm_{key}.npy"), value, atol=1e-5)


def test_litert_builtin_ops_only_matches_keras_in_fresh_process(front_end):
    model, _, outputs, directory = front_end
    saved = directory / "saved_model_litert"
    export.export_saved_model(model, str(saved))
    tflite = export.saved_model_to_litert(str(saved), str(directory / "front_end.tflite"))
    ops = export.litert_op_names(tflite)
    assert ops and all(name.isupper() and not name.startswith("FLEX") for name in ops), ops
    report = _run_fresh(
        """
        import json, numpy as np
        from ai_edge_litert.interpreter import Interpreter
        interpreter = Interpreter(model_path="front_end.tflite")
        runner = interpreter.get_signature_runner()
        out = runner(frames=np.load("clip.npy"))
        for key, value in out.items():
            np.save(f"out_tflite_{key}.npy", value)
        print(json.dumps(sorted(out)))
        """,
        directory,
    )
    assert json.loads(report.strip().splitlines()[-1]) == sorted(outputs)
    for key, value in outputs.items():
        np.testing.assert_allclose(np.load(directory / f"out_tflite_{key}.npy"), value, atol=1e-4)


@pytest.mark.parametrize(
    "layer",
    [
        SteerablePyramid(scales=3, orientations=4, image_size=32, name="p"),
        SnippetBuilder(length=8, source="frames", data_format="channels_first", context_frames=2),
        PhaseSnippets(length=4, mode="phase", blur_sigma=1.5, subtract_mean=False),
    ],
)
def test_get_config_round_trip(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()

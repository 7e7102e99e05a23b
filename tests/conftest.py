"""Fixtures shared by several test modules."""

import fcntl
import os
import pathlib
import shutil
import subprocess
import sys

# The suite's own processes start TensorFlow quietly, as the commands do (mimamo_tf.cli_startup):
# its C++ start-up lines, written while pytest holds file descriptor 2 for the whole session, would
# be replayed after the summary. Tests of the start-up itself remove the marker from their children.
os.environ["MIMAMO_TF_QUIET_STARTUP"] = "1"  # cli_startup.QUIET_MARKER, which cannot be imported before TensorFlow
import mimamo_tf  # noqa: E402,F401  (first: it imports TensorFlow quietly only if nothing imported it before)

import cv2
import keras
import numpy as np
import pytest
from skimage import data
from mimamo_tf.testing.tiny_shards import tiny_video, write_shards

from mimamo_tf.data import schema
from mimamo_tf.faces.alignment import gray_from_rgb

REPO = pathlib.Path(__file__).resolve().parents[1]


# The modules that take longest, first: ``make test`` runs on two processes (pytest-xdist,
# ``--dist loadfile``: a module's tests stay on one process, so its module-scoped fixtures are built
# once), and a long module started last would finish alone.
LONGEST_FIRST = ("tests/training/test_trainer.py", "tests/tuning/test_tuner.py", "tests/studies/test_studies.py",
                 "tests/studies/test_omg_studies.py", "tests/inference/test_predictor.py",
                 "tests/evaluation/test_evaluator.py", "tests/inference/test_live.py",
                 "tests/serving/test_exporter.py")


# No process may outlive the suite (mimamo_tf/testing/leftover_processes.py).
pytest_plugins = ["mimamo_tf.testing.leftover_processes"]


def pytest_collection_modifyitems(items):
    order = {path: rank for rank, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: order.get(item.nodeid.split("::")[0], len(order)))


SMOKE = f"--flagfile={REPO / 'configs' / 'smoke.cfg'}"


def _faces(frames, seed):
    """Aligned-face-like RGB crops of a real face, drifting by a few pixels (stored as JPEG)."""
    rng = np.random.default_rng(seed)
    image = data.astronaut()
    offsets = np.cumsum(rng.normal(0, 1.5, (frames, 2)), axis=0).astype(int)
    crops = [cv2.resize(image[20 + dy:220 + dy, 150 + dx:350 + dx], (224, 224), interpolation=cv2.INTER_AREA)
             for dy, dx in np.clip(offsets, -15, 15)]
    return np.stack([schema.decode_jpeg(schema.encode_jpeg(c)) for c in crops])


def _backbone(path):
    """A small frozen backbone as prepare would have saved it (spatial_backbone.keras)."""
    from mimamo_tf.models.backbone import resolve_backbone

    image = keras.Input((64, 64, 3))
    x = keras.layers.Conv2D(8, 5, strides=4, activation="relu", name="conv")(image)
    x = keras.layers.GlobalAveragePooling2D()(x)
    keras.Model(image, keras.layers.Dense(3)(keras.layers.Dense(16, name="feature")(x))).save(path.parent / "source.keras")
    backbone, _ = resolve_backbone(f"keras:{path.parent / 'source.keras'}")
    backbone.save(path)
    return backbone


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A prepared dataset of tiny videos (``write_dataset``: train and validation shards), one per
    test module."""
    from mimamo_tf.testing.tiny_shards import write_dataset

    directory = tmp_path_factory.mktemp("data")
    write_dataset(directory)
    return directory


@pytest.fixture(scope="session")
def exported_run(tmp_path_factory):
    """A smoke-sized run trained on aligned real-face crops with a small frozen backbone, exported
    with its LiteRT files: ``(model_dir, export_dir, validation video arrays)``.

    Made once per test session: under pytest-xdist the workers share it (the first one to take the
    lock builds it in the session's common temporary folder, the others wait and read it)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    root = shared / "export_run"
    with open(shared / "export_run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "done").exists():
            _build_exported_run(root)
            (root / "done").write_text("")
    with np.load(root / "validation_video.npz") as stored:
        video = {key: stored[key] for key in stored.files}
    return root / "model", root / "saved_models" / "demo", video


def _build_exported_run(root):
    shutil.rmtree(root, ignore_errors=True)
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    backbone = _backbone(data_dir / "spatial_backbone.keras")
    videos = []
    for i, frames in enumerate((20, 18, 16)):
        video = tiny_video(f"e{i}", frames, i, spatial_dim=16)
        rgb = _faces(frames, i)
        video.update(rgb224=rgb, gray48=np.stack([gray_from_rgb(f) for f in rgb]),
                     spatial_features=np.asarray(backbone(rgb.astype(np.float32))).astype(np.float16),
                     face_found=np.ones(frames, np.int64))
        videos.append(video)
    write_shards(data_dir, "train", videos[:2])
    write_shards(data_dir, "validation", videos[2:])
    model_dir = root / "model"
    # Trained in bfloat16, auto's choice on CPUs with native bfloat16 (smoke.cfg says float32): the export must still be a
    # float32 SavedModel that computes what its LiteRT file computes (tests/inference, tests/serving).
    result = subprocess.run([sys.executable, "-m", "mimamo_tf.train", SMOKE, f"--data_dir={data_dir}",
                             f"--model_dir={model_dir}", "--epochs=1", "--mixed_precision=bfloat16"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    export_dir = root / "saved_models" / "demo"
    result = subprocess.run([sys.executable, "-m", "mimamo_tf.export", f"--model_dir={model_dir}",
                             f"--export_dir={export_dir}", "--tflite", "--quantize=dynamic"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    np.savez(root / "validation_video.npz", **{k: v for k, v in videos[2].items() if isinstance(v, np.ndarray)},
             **{k: np.asarray(v) for k, v in videos[2].items() if not isinstance(v, np.ndarray)})



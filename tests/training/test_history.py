"""history.json's validation CCCs, output by output: after a tiny run, ``val_ccc_arousal`` and
``val_ccc_valence`` each equal the CCC (NumPy, population moments) of the saved model's own
predictions against the labels over every validation frame with a valid label (the official
protocol), and ``val_ccc_*_face_only`` over those with a face too — the windows rebuilt here from
the videos' arrays. Arousal is output 0, valence output 1, and the data
make the two CCCs clearly different, so a swap cannot pass."""

import json
import pathlib

import numpy as np
import pytest

from mimamo_tf import config as config_lib
from mimamo_tf.testing.tiny_shards import tiny_video, write_shards
from mimamo_tf.testing.window_reference import frame_windows

REPO = pathlib.Path(__file__).resolve().parents[2]
SMOKE = str(REPO / "configs" / "smoke.cfg")
WINDOW, CONTEXT = 8, 6  # smoke.cfg: --window=8; snippet length 12


def _ccc(x, y):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    covariance = np.mean((x - x.mean()) * (y - y.mean()))
    return 2 * covariance / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def _validation_videos():
    """Arousal labels follow the gray frames' brightness the model sees; valence labels are a fast
    oscillation around an offset — the model's two CCCs cannot come out alike."""
    videos = []
    for i, frames in enumerate((21, 14)):
        video = tiny_video(f"hv{i}", frames, 10 + i, spatial_dim=16)
        t = np.arange(frames)
        video["arousal"] = (0.9 * np.sin(t / 3.0 + i)).astype(np.float32)
        video["valence"] = (0.5 + 0.05 * np.cos(t * 2.5)).astype(np.float32)
        video["arousal"][video["label_valid"] == 0] = 0.0
        video["valence"][video["label_valid"] == 0] = 0.0
        videos.append(video)
    return videos


@pytest.fixture(scope="module")
def history_run(tmp_path_factory):
    from mimamo_tf.training import Trainer

    data_dir = tmp_path_factory.mktemp("history_data")
    write_shards(data_dir, "train", [tiny_video(f"ht{i}", 18, i, spatial_dim=16) for i in range(2)])
    validation = _validation_videos()
    write_shards(data_dir, "validation", validation)
    model_dir = tmp_path_factory.mktemp("history_run")
    config = config_lib.from_flagfile(SMOKE, [
        f"--data_dir={data_dir}", f"--model_dir={model_dir}", "--epochs=1", "--steps_per_epoch=2",
        "--validation_steps=0", "--learning_rate=0.03"])  # enough for arousal to follow the brightness
    Trainer(config, verbose=False).run()
    return model_dir, validation


def _predictions(model, video):
    """The model on the evaluation windows of one video, rebuilt in NumPy: windows overlapping by
    half (the default), every frame from the window with the nearest centre (window_reference), the
    context frames clamped to the video, faceless frames given their nearest face frame's inputs."""
    length = len(video["gray48"])
    with_face = np.flatnonzero(video["face_found"])
    source = np.array([with_face[np.argmin(np.abs(with_face - t))] for t in range(length)])
    features = video["spatial_features"].astype(np.float16).astype(np.float32)  # as the shards store them
    starts, owner = frame_windows(length, WINDOW, 0.5)
    out = np.zeros((length, 2), np.float32)
    for start in starts:
        frames = np.minimum(np.arange(start, start + WINDOW), length - 1)
        around = np.clip(np.arange(start - CONTEXT, start + WINDOW + CONTEXT), 0, length - 1)
        output = model({"gray48": video["gray48"][source[around]][None].astype(np.float32) / 255.0,
                        "spatial_features": features[source[frames]][None]}, training=False)
        mine = np.flatnonzero(owner == start)
        out[mine] = np.asarray(output)[0][mine - start]
    return out


@pytest.mark.slow
def test_validation_cccs_in_history_are_those_of_each_output(history_run):
    import keras


    model_dir, videos = history_run
    (logs,) = json.loads((model_dir / "history.json").read_text())
    model = keras.saving.load_model(model_dir / "checkpoints" / "last.keras", compile=False)
    outputs = [_predictions(model, video) for video in videos]
    # Official (``val_ccc_*``): every frame with a valid label, face or not (a faceless frame is
    # predicted from its nearest face frame's inputs); face-only: the frames the loss counts.
    for suffix, counted_of in (("", lambda v: v["label_valid"] > 0),
                               ("_face_only", lambda v: (v["face_found"] * v["label_valid"]) > 0)):
        predictions = np.concatenate([out[counted_of(v)] for out, v in zip(outputs, videos)])
        labels = np.concatenate([np.stack([v["arousal"], v["valence"]], -1)[counted_of(v)] for v in videos])
        arousal = _ccc(predictions[:, 0], labels[:, 0])
        valence = _ccc(predictions[:, 1], labels[:, 1])
        assert abs(arousal - valence) > 0.01, "the data should make the two CCCs differ"
        assert logs[f"val_ccc_arousal{suffix}"] == pytest.approx(arousal, abs=2e-4)
        assert logs[f"val_ccc_valence{suffix}"] == pytest.approx(valence, abs=2e-4)
        assert logs[f"val_ccc_mean{suffix}"] == pytest.approx((arousal + valence) / 2, abs=2e-4)
    assert logs["val_ccc_arousal"] != logs["val_ccc_arousal_face_only"]

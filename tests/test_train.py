"""The trainer CLI end to end on real shards: outputs, fail-fast errors, resume after a kill, and
MultiWorkerMirroredStrategy with two processes on 127.0.0.1."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest
import tensorflow as tf
from tiny_shards import write_dataset

REPO = pathlib.Path(__file__).resolve().parents[1]
SMOKE = f"--flagfile={REPO / 'configs' / 'smoke.cfg'}"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("train_data")
    write_dataset(directory)
    return directory


def _command(*flags):
    return [sys.executable, "-m", "mimamo_tf.train", SMOKE, *flags]


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _train(*flags, env=None, timeout=300):
    return subprocess.run(_command(*flags), cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env or _env())


def test_smoke_run_writes_checkpoints_logs_flags_and_history(data_dir, tmp_path):
    run = _train(f"--data_dir={data_dir}", f"--model_dir={tmp_path}", "--epochs=2")
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "checkpoints" / "best.keras").is_file()
    assert (tmp_path / "checkpoints" / "last.keras").is_file()
    flags_file = (tmp_path / "flags.cfg").read_text()
    assert f"--data_dir={data_dir}" in flags_file and "--window=8" in flags_file
    history = json.loads((tmp_path / "history.json").read_text())
    assert [e["epoch"] for e in history] == [0, 1]
    for key in ("loss", "ccc_arousal", "ccc_valence", "ccc_mean", "val_ccc_mean", "learning_rate"):
        assert all(key in e for e in history), key
    # The step schedule of smoke.cfg (--lr_decay_epochs=1) divides the rate by 10 after epoch 0.
    assert history[0]["learning_rate"] == pytest.approx(1e-3) and history[1]["learning_rate"] == pytest.approx(1e-4)
    # TensorBoard got scalars for both phases.
    tags = set()
    for phase in ("train", "validation"):
        for event_file in (tmp_path / "logs" / phase).iterdir():
            for event in tf.compat.v1.train.summary_iterator(str(event_file)):
                tags.update(v.tag for v in event.summary.value)
    assert {"epoch_loss", "epoch_ccc_mean", "epoch_learning_rate"} <= tags


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--data_dir=/nonexistent/data"], "data directory '/nonexistent/data' does not exist"),
        (["--train_split=test"], "no 'test-NNNNN-of-NNNNN.tfrecord' shards"),
        (["--streams=temporal", "--init_spatial_from=/x.keras"], "--init_spatial_from needs a spatial stream"),
        (["--num_folds=3", "--fold=3"], "--fold must be in [0, --num_folds=3)"),
        (["--backbone_weights=imagenet"], "--backbone_weights applies to --spatial_input=images"),
    ],
)
def test_bad_configuration_fails_fast_with_a_clear_message(data_dir, tmp_path, flags, message):
    args = [f"--data_dir={data_dir}", f"--model_dir={tmp_path}"] + flags
    run = _train(*args)
    assert run.returncode == 2, run.stderr[-2000:]
    assert message in run.stderr


def test_unknown_flag_and_other_schema_version_are_rejected(data_dir, tmp_path):
    run = _train(f"--data_dir={data_dir}", f"--model_dir={tmp_path}", "--learning_rat=0.1")
    assert run.returncode != 0 and "Unknown command line flag 'learning_rat'" in run.stderr
    old = tmp_path / "old"
    old.mkdir()
    example = tf.train.SequenceExample()
    example.context.feature["schema_version"].int64_list.value.append(99)
    for split in ("train", "validation"):
        with tf.io.TFRecordWriter(str(old / f"{split}-00000-of-00001.tfrecord")) as writer:
            writer.write(example.SerializeToString())
    run = _train(f"--data_dir={old}", f"--model_dir={tmp_path / 'run'}")
    assert run.returncode == 2 and "does not follow schema version" in run.stderr


def test_killed_run_resumes_from_its_backup(data_dir, tmp_path):
    flags = (f"--data_dir={data_dir}", f"--model_dir={tmp_path}", "--epochs=4", "--steps_per_epoch=3")
    process = subprocess.Popen(_command(*flags), cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    metadata = tmp_path / "backup" / "training_metadata.json"
    deadline = time.time() + 240
    while not metadata.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # no chance to clean up, like a preempted machine
    process.wait(timeout=60)
    assert metadata.exists(), "the run never finished an epoch"
    backed_up = json.loads(metadata.read_text())["epoch"]  # Keras stores the number of finished epochs
    assert 1 <= backed_up < 4
    rerun = _train(*flags)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    epochs_run = [int(line.split()[1].split("/")[0]) for line in rerun.stdout.splitlines() + rerun.stderr.splitlines()
                  if line.startswith("Epoch ")]
    # It continued after the last finished epoch instead of starting over.
    assert epochs_run and epochs_run[0] == backed_up + 1, epochs_run
    history = json.loads((tmp_path / "history.json").read_text())
    assert [e["epoch"] for e in history] == [0, 1, 2, 3]


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_on_loopback_agree_with_a_single_process(data_dir, tmp_path):
    import keras
    import numpy as np

    import mimamo_tf.models  # noqa: F401  (registers the custom layers for loading)
    from mimamo_tf.train import worker_output_dir

    # Dropout masks are drawn per replica, so only without dropout can two workers compute exactly
    # what one process computes. Everything else is on: the workers split every global batch, the
    # CCC loss and BatchNormalization use all-reduced global-batch statistics, gradients are summed.
    common = (f"--data_dir={data_dir}", "--epochs=2", "--learning_rate=0.005", "--nodropout")
    single = _train(*common, f"--model_dir={tmp_path / 'single'}")
    assert single.returncode == 0, single.stderr[-3000:]
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    multi_dir = tmp_path / "multi"
    workers = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        workers.append(subprocess.Popen(
            _command(*common, f"--model_dir={multi_dir}"), cwd=REPO, env=_env(TF_CONFIG=tf_config),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    outputs = [w.communicate(timeout=400) for w in workers]
    for worker, (_, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-3000:]
    # Only the chief (worker 0) wrote to the model directory; worker 1 wrote to its private one.
    worker_dir = pathlib.Path(worker_output_dir(str(multi_dir), "worker", 1))
    assert (multi_dir / "checkpoints" / "last.keras").is_file() and not (multi_dir / "backup_worker1").exists()

    def flat_weights(path, trainable=False):
        model = keras.saving.load_model(path, compile=False)
        weights = model.trainable_variables if trainable else model.weights  # BatchNorm statistics too
        return np.concatenate([v.numpy().ravel() for v in weights])

    chief = flat_weights(multi_dir / "checkpoints" / "last.keras")
    np.testing.assert_allclose(flat_weights(worker_dir / "checkpoints" / "last.keras"), chief, atol=1e-6)
    # The two workers trained the one-process model: what is left is float summation order.
    # Measured: 0.0009 apart (norm) after moving 2.9 from the initial weights; with per-replica
    # BatchNorm statistics they ended 3.9 apart.
    initial = _train(*common, f"--model_dir={tmp_path / 'initial'}", "--learning_rate=0", "--epochs=1")
    assert initial.returncode == 0, initial.stderr[-3000:]
    single_weights = flat_weights(tmp_path / "single" / "checkpoints" / "last.keras", trainable=True)
    moved = np.linalg.norm(single_weights - flat_weights(tmp_path / "initial" / "checkpoints" / "last.keras", trainable=True))
    assert moved > 0.5
    assert np.linalg.norm(flat_weights(multi_dir / "checkpoints" / "last.keras", trainable=True) - single_weights) < 0.01 * moved
    # Same for every logged loss and CCC (measured: within 1e-4; per-replica BatchNorm statistics
    # put them 0.08-0.17 apart).
    multi = json.loads((multi_dir / "history.json").read_text())
    reference = json.loads((tmp_path / "single" / "history.json").read_text())
    assert len(multi) == len(reference) == 2
    for a, b in zip(multi, reference):
        for key in ("loss", "val_loss", "val_ccc_mean"):
            assert a[key] == pytest.approx(b[key], abs=0.01), (key, a, b)


def test_fold_split_is_a_partition_by_recording():
    from mimamo_tf.train import fold_video_ids

    ids = [f"video{i}" for i in range(10)] + ["video20_left", "video20_right"]
    held_out = []
    for fold in range(5):
        train_ids, validation_ids = fold_video_ids(ids, 5, fold)
        assert sorted(train_ids + validation_ids) == sorted(ids) and not set(train_ids) & set(validation_ids)
        # Both persons of one recording are on the same side.
        assert ("video20_left" in validation_ids) == ("video20_right" in validation_ids)
        held_out += validation_ids
    assert sorted(held_out) == sorted(ids)  # every video validates exactly once
    assert fold_video_ids(ids, 5, 2) == fold_video_ids(list(ids), 5, 2)  # deterministic


def test_two_stage_initialisation_copies_the_single_stream_weights(tmp_path):
    import keras
    import numpy as np

    from mimamo_tf.models import MimamoConfig, build_mimamo_net
    from mimamo_tf.train import ConfigError, initialise_streams

    temporal = build_mimamo_net(MimamoConfig(streams="temporal", recurrent=False))
    spatial = build_mimamo_net(MimamoConfig(streams="spatial", recurrent=False))
    temporal.save(tmp_path / "temporal.keras")
    spatial.save(tmp_path / "spatial.keras")
    both = build_mimamo_net(MimamoConfig())

    def weights(model, name):  # the streams are nested inside PerFrame layers
        return [w.numpy() for layer in model._flatten_layers() if layer.name == name for w in layer.weights]

    before = weights(both, "temporal_stream")
    initialise_streams(both, spatial_from=tmp_path / "spatial.keras", temporal_from=tmp_path / "temporal.keras")
    for name, source in (("temporal_stream", temporal), ("spatial_mlp", spatial)):
        for got, expected in zip(weights(both, name), weights(source, name)):
            np.testing.assert_array_equal(got, expected)
    assert any(not np.array_equal(a, b) for a, b in zip(before, weights(both, "temporal_stream")))
    with pytest.raises(ConfigError, match="has none of the sub-models"):
        initialise_streams(both, temporal_from=tmp_path / "spatial.keras")

"""The trainer end to end on real shards: outputs, fail-fast errors, exact resume after SIGKILL (two
MultiWorkerMirroredStrategy workers on 127.0.0.1, dropout on; a single process resumes in
tests/tuning's killed trial), damaged shards, and two workers computing what one process computes."""

import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from mimamo_tf.testing.tiny_shards import write_dataset

from mimamo_tf import config as config_lib
from mimamo_tf.testing.checkpoints import saved_checkpoints

# Every test trains real runs in subprocesses.
pytestmark = pytest.mark.slow

REPO = pathlib.Path(__file__).resolve().parents[2]
SMOKE = f"--flagfile={REPO / 'configs' / 'smoke.cfg'}"
# A checkpoint after every step; epoch 1 saves 4 step checkpoints + 1 at its end, so the 7th is
# the 2nd step of epoch 2: killing then lands in the middle of an epoch.
RESUME = ("--epochs=2", "--steps_per_epoch=4", "--checkpoint_every_steps=1")
KILL_AT = 7


def _command(*flags):
    return [sys.executable, "-m", "mimamo_tf.train", SMOKE, *flags]


def _env(**extra):
    env = dict(os.environ)
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _train(*flags, env=None, timeout=300):
    return subprocess.run(_command(*flags), cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env or _env())


def _start(flags, model_dir, tf_config=None):
    env = _env(TF_CONFIG=json.dumps(tf_config)) if tf_config else _env()
    return subprocess.Popen(_command(*flags, f"--model_dir={model_dir}"), cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# The library's trainer (not the CLI), so the run can say how many replicas its strategy has.
REPLICAS_RUN = """
import sys
from mimamo_tf import config as config_lib
from mimamo_tf.training import Trainer
trainer = Trainer(config_lib.from_flagfile(sys.argv[1], sys.argv[2:]), verbose=False)
print("REPLICAS", trainer.strategy.num_replicas_in_sync, flush=True)
trainer.run()
"""


def _start_local_replicas(flags, model_dir, replicas):
    """A run mirrored over ``replicas`` logical CPUs of one process (``MIMAMO_TF_CPU_REPLICAS``:
    make_strategy splits the CPU before TensorFlow starts its runtime)."""
    env = _env(MIMAMO_TF_CPU_REPLICAS=str(replicas))
    return subprocess.Popen([sys.executable, "-c", REPLICAS_RUN, SMOKE[len("--flagfile="):], *flags,
                             f"--model_dir={model_dir}"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _kill_when_saved(processes, model_dir, count, timeout=300):
    """SIGKILLs every process (no chance to clean up, like a preempted machine) once the run has
    saved ``count`` checkpoints."""
    deadline = time.time() + timeout
    while saved_checkpoints(model_dir) < count and all(p.poll() is None for p in processes) and time.time() < deadline:
        time.sleep(0.01)
    for process in processes:
        process.send_signal(signal.SIGKILL)
    for process in processes:
        process.communicate(timeout=60)
    assert saved_checkpoints(model_dir) >= count, "the run never reached the checkpoint to kill at"


def _finish(processes):
    outputs = [p.communicate(timeout=600) for p in processes]
    for process, (_, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-3000:]
    return [out for out, _ in outputs]


def _weights(path, trainable=False):
    import keras


    model = keras.saving.load_model(path, compile=False)
    variables = model.trainable_variables if trainable else model.weights  # BatchNorm statistics too
    return np.concatenate([v.numpy().ravel() for v in variables])


def _relative_difference(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _cluster(workers=2):
    addresses = [f"127.0.0.1:{p}" for p in _free_ports(workers)]
    return [{"cluster": {"worker": addresses}, "task": {"type": "worker", "index": i}} for i in range(workers)]


@pytest.fixture(scope="module")
def smoke_run(data_dir, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("smoke_run")
    # Output to a pipe, as in a log file: progress lines instead of a bar, here one per step.
    run = _train(f"--data_dir={data_dir}", f"--model_dir={model_dir}", "--epochs=2",
                 env=_env(MIMAMO_TF_PROGRESS_SECONDS="0"))
    assert run.returncode == 0, run.stderr[-3000:]
    return model_dir, run


def test_smoke_run_writes_checkpoints_logs_flags_and_history(data_dir, smoke_run):
    model_dir, run = smoke_run
    assert (model_dir / "checkpoints" / "best.keras").is_file()
    assert (model_dir / "checkpoints" / "last.keras").is_file()
    flags_file = (model_dir / "flags.cfg").read_text()
    assert f"--data_dir={data_dir}" in flags_file and "--window=8" in flags_file
    history = json.loads((model_dir / "history.json").read_text())
    assert [e["epoch"] for e in history] == [0, 1]
    for key in ("loss", "ccc_arousal", "ccc_valence", "ccc_mean", "val_loss", "val_ccc_mean", "learning_rate",
                "frames_per_second"):
        assert all(key in e for e in history), key
    # The step schedule of smoke.cfg (--lr_decay_epochs=1) divides the rate by 10 after epoch 0.
    assert history[0]["learning_rate"] == pytest.approx(1e-3) and history[1]["learning_rate"] == pytest.approx(1e-4)
    # The resolved flags reproduce the configuration exactly.
    config = config_lib.from_flagfile(str(model_dir / "flags.cfg"))
    assert config.data.window == 8 and config.optimization.lr_decay_epochs == (1,)
    # TensorBoard got scalars for both phases.
    tags = set()
    for phase in ("train", "validation"):
        for event_file in (model_dir / "logs" / phase).iterdir():
            for event in tf.compat.v1.train.summary_iterator(str(event_file)):
                tags.update(v.tag for v in event.summary.value)
    assert {"epoch_loss", "epoch_ccc_mean", "epoch_learning_rate", "epoch_frames_per_second"} <= tags
    # The start-up is quiet: no TensorFlow C++ lines, one line per epoch.
    assert "oneDNN" not in run.stderr and "cuda" not in run.stderr.lower(), run.stderr[:2000]
    assert "Sharding callback" not in run.stderr, run.stderr[:2000]  # TensorFlow INFO lines stay hidden
    assert [line.split(":")[0] for line in run.stdout.splitlines() if line.startswith("Epoch")] == ["Epoch 1/2", "Epoch 2/2"]
    # The first line says the precision and why; flags.cfg holds it resolved, with the reason.
    first = run.stdout.splitlines()[0]
    assert first.startswith("precision: float32 — as --mixed_precision asks (auto would take "), run.stdout
    assert "--mixed_precision=float32" in flags_file and f"# {first}" in flags_file
    # Not a terminal: a plain progress line per step here (every 30 s by default), with rate and ETA.
    progress = [line for line in run.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split(",")[0] for line in progress] == ["epoch 1/2: step 1/2", "epoch 1/2: step 2/2",
                                                          "epoch 2/2: step 1/2", "epoch 2/2: step 2/2"], run.stdout
    assert all(re.search(r"[0-9.]+ steps/s, ETA \d+ s$", line) for line in progress), progress


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--data_dir=/nonexistent/data"], "data directory '/nonexistent/data' does not exist"),
        (["--train_split=test"], "no 'test-NNNNN-of-NNNNN.tfrecord' shards"),
        (["--streams=temporal", "--init_spatial_from=/x.keras"], "--init_spatial_from needs a spatial stream"),
        (["--init_from=/x", "--init_temporal_from=/y.keras"], "--init_from and --init_temporal_from both initialise"),
        (["--num_folds=3", "--fold=3"], "--fold must be in [0, --num_folds=3)"),
        (["--backbone_weights=imagenet"], "--backbone_weights applies to --spatial_input=images"),
        (["--batch_size=0"], "--batch_size must be positive"),
        (["--lr_decay_epochs=ten"], "--lr_decay_epochs must be integers"),
        (["--snippet_length=5"], "--snippet_length must be even"),
        (["--num_folds=20"], "--num_folds=20 needs at least that many source recordings"),
    ],
)
def test_bad_configuration_fails_fast_with_a_clear_message(data_dir, tmp_path, flags, message):
    from mimamo_tf.data.shards import DataError
    from mimamo_tf.training import Trainer

    flag_values = [SMOKE, f"--data_dir={data_dir}", f"--model_dir={tmp_path}", *flags]
    with pytest.raises((config_lib.ConfigError, DataError), match=re.escape(message)):
        Trainer(config_lib.from_flagfile(flag_values[0][len("--flagfile="):], flag_values[1:]))
    assert not (tmp_path / "checkpoints").exists()  # nothing written


def test_cli_exit_code_2_and_unknown_flags(data_dir, tmp_path):
    run = _train(f"--data_dir={data_dir}", f"--model_dir={tmp_path}", "--num_folds=3", "--fold=3")
    assert run.returncode == 2 and "configuration error: --fold must be in [0, --num_folds=3)" in run.stderr, run.stderr
    run = _train(f"--data_dir={data_dir}", f"--model_dir={tmp_path}", "--learning_rat=0.1")
    assert run.returncode == 2 and "Unknown command line flag 'learning_rat'" in run.stderr  # bad input, not absl's 1
    # --config names a packaged flagfile on the command line only; inside a flagfile it is refused.
    (tmp_path / "with_config.cfg").write_text("--config=demo\n")
    run = _train(f"--flagfile={tmp_path / 'with_config.cfg'}", f"--data_dir={data_dir}", f"--model_dir={tmp_path}")
    assert run.returncode == 2 and "--config=demo works on the command line only" in run.stderr, run.stderr
    old = tmp_path / "old"
    old.mkdir()
    example = tf.train.SequenceExample()
    example.context.feature["schema_version"].int64_list.value.append(99)
    for split in ("train", "validation"):
        with tf.io.TFRecordWriter(str(old / f"{split}-00000-of-00001.tfrecord")) as writer:
            writer.write(example.SerializeToString())
    # Data of another schema version: the same kind of error (exit 2 above), raised before training.
    from mimamo_tf.errors import InputError

    with pytest.raises(InputError, match="does not follow schema version"):
        _trainer(old, f"--model_dir={tmp_path / 'run'}")


def test_rerun_with_other_settings_is_refused_naming_the_flags(data_dir, smoke_run):
    model_dir, _ = smoke_run
    before = (model_dir / "history.json").read_text()
    run = _train(f"--data_dir={data_dir}", f"--model_dir={model_dir}", "--epochs=2", "--window=4", "--nodropout")
    assert run.returncode == 2, run.stderr[-2000:]
    assert "--window=8 (now 4)" in run.stderr and "--dropout=True (now False)" in run.stderr, run.stderr
    assert (model_dir / "history.json").read_text() == before


@pytest.fixture(scope="module")
def damaged_data(data_dir, tmp_path_factory):
    """A copy of the data whose first training shard is cut in half, as a failed copy would leave it."""
    directory = tmp_path_factory.mktemp("damaged")
    for item in data_dir.iterdir():
        shutil.copy(item, directory / item.name)
    shard = directory / "train-00000-of-00002.tfrecord"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    return directory, shard


def test_damaged_shard_stops_with_the_shard_named_or_is_skipped(damaged_data, tmp_path):
    directory, shard = damaged_data
    common = (f"--data_dir={directory}", "--epochs=1", "--steps_per_epoch=0")
    # Both runs at once: each is mostly TensorFlow starting up.
    stop, skip = (_start(common, tmp_path / "stop"), _start((*common, "--skip_corrupt_records"), tmp_path / "skip"))
    (_, stop_err), (_, skip_err) = stop.communicate(timeout=300), skip.communicate(timeout=300)
    assert stop.returncode == 2, stop_err[-3000:]
    assert str(shard) in stop_err and "python -m data_prep.inspect" in stop_err, stop_err[-3000:]
    assert "Traceback" not in stop_err
    assert skip.returncode == 0, skip_err[-3000:]
    assert re.search(rf"warning: {re.escape(str(shard))} is damaged after record \d+ .*skipping the rest", skip_err), skip_err


@pytest.fixture(scope="module")
def two_worker_runs(data_dir, tmp_path_factory):
    """One process, two local replicas in one process, and two workers, on the same settings; two
    workers killed mid-epoch and restarted."""
    root = tmp_path_factory.mktemp("distributed")
    # Dropout masks are drawn per replica, so only without dropout can two workers compute exactly
    # what one process computes. Everything else is on: the workers split every global batch, the
    # CCC loss and BatchNormalization use all-reduced global-batch statistics, gradients are summed.
    # (Today's settings: 2 epochs of 2 steps. Float rounding differences grow ~50x per step at this
    # learning rate, so longer runs of one process and two workers drift apart by chaos alone.)
    common = (f"--data_dir={data_dir}", "--learning_rate=0.005", "--nodropout", "--epochs=2")
    _, replicas_out = _finish([_start(common, root / "single"), _start_local_replicas(common, root / "replicas", 2)])
    assert "REPLICAS 2" in replicas_out
    _finish([_start(common, root / "multi", c) for c in _cluster()])
    # Dropout on for the killed and the uninterrupted runs: each replica's random state is restored too.
    resume = (f"--data_dir={data_dir}", "--learning_rate=0.005", *RESUME)
    _finish([_start(resume, root / "uninterrupted", c) for c in _cluster()])
    _kill_when_saved([_start(resume, root / "killed", c) for c in _cluster()], root / "killed", KILL_AT)
    resumed = _finish([_start(resume, root / "killed", c) for c in _cluster()])
    return root, resumed


def test_two_workers_killed_and_restarted_end_with_the_uninterrupted_weights(two_worker_runs):
    """Two workers, dropout on, killed mid-epoch and restarted: the weights and every logged number
    of the uninterrupted run (the data position, optimizer slots, each replica's random state and
    the epoch's running sums are all restored)."""
    root, resumed = two_worker_runs
    for out in resumed:
        match = re.search(r"Resuming from \S+: epoch (\d+), (\d+) steps of it done", out)
        assert match and int(match.group(2)) > 0, out  # it resumed in the middle of an epoch
    final = _weights(root / "uninterrupted" / "checkpoints" / "last.keras")
    assert _relative_difference(_weights(root / "killed" / "checkpoints" / "last.keras"), final) <= 1e-5
    history = json.loads((root / "killed" / "history.json").read_text())
    reference_history = json.loads((root / "uninterrupted" / "history.json").read_text())
    assert [e["epoch"] for e in history] == [0, 1]
    for got, expected in zip(history, reference_history):
        for key in ("loss", "ccc_mean", "val_loss", "val_ccc_mean"):
            assert got[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-7), (key, got, expected)


def test_two_workers_on_loopback_agree_with_a_single_process(two_worker_runs, data_dir):
    from mimamo_tf.training.distribution import worker_output_dir

    root, _ = two_worker_runs
    multi_dir = root / "multi"
    # Only the chief (worker 0) wrote to the model directory; worker 1 wrote to its private one.
    worker_dir = pathlib.Path(worker_output_dir(str(multi_dir), "worker", 1))
    chief = _weights(multi_dir / "checkpoints" / "last.keras")
    np.testing.assert_allclose(_weights(worker_dir / "checkpoints" / "last.keras"), chief, atol=1e-6)
    # The two workers trained the one-process model: what is left is float summation order
    # (measured: 0.0009 apart after moving 2.9; with per-replica BatchNorm statistics 3.9 apart).
    single = _weights(root / "single" / "checkpoints" / "last.keras", trainable=True)
    # Where training started: the run's seeded initialisation, built here.
    initial = _trainer(data_dir, f"--model_dir={root / 'initial'}", "--learning_rate=0.005", "--nodropout").model
    moved = np.linalg.norm(single - np.concatenate([v.numpy().ravel() for v in initial.trainable_variables]))
    assert moved > 0.5
    assert np.linalg.norm(_weights(multi_dir / "checkpoints" / "last.keras", trainable=True) - single) < 0.01 * moved
    # Same for every logged loss and CCC.
    multi = json.loads((multi_dir / "history.json").read_text())
    reference = json.loads((root / "single" / "history.json").read_text())
    assert len(multi) == len(reference) == 2
    for a, b in zip(multi, reference):
        for key in ("loss", "val_loss", "ccc_mean", "val_ccc_mean"):
            assert a[key] == pytest.approx(b[key], abs=0.01), (key, a, b)


def test_two_local_replicas_train_what_one_device_trains(two_worker_runs):
    """Two replicas in one process (``MirroredStrategy`` over two logical CPUs) train what one device
    trains: the CCC loss and synchronised BatchNorm all-reduce over the replicas, gradients sum."""
    root, _ = two_worker_runs
    single = _weights(root / "single" / "checkpoints" / "last.keras", trainable=True)
    replicas = _weights(root / "replicas" / "checkpoints" / "last.keras", trainable=True)
    # Within 1e-2 relative weight norm of one device: what is left is float summation order (2.9e-5
    # measured). Without synchronised BatchNorm the two replicas compute another function: 0.044
    # relative (--nosync_batch_norm, measured).
    assert _relative_difference(replicas, single) < 1e-2
    two = json.loads((root / "replicas" / "history.json").read_text())
    one = json.loads((root / "single" / "history.json").read_text())
    assert len(two) == len(one) == 2
    for a, b in zip(two, one):
        for key in ("loss", "val_loss", "ccc_mean", "val_ccc_mean"):
            assert a[key] == pytest.approx(b[key], abs=0.01), (key, a, b)


def test_the_width_of_stored_features_is_read_from_the_shards(tmp_path):
    # e.g. fer_mini_xception's 128-d features instead of ResNet50's 2048 (in-process: the CLI's
    # flag handling is tested above)
    from mimamo_tf.data.shards import DataError
    from mimamo_tf.training import Trainer

    write_dataset(tmp_path / "data", spatial_dim=128)
    flagfile = SMOKE[len("--flagfile="):]
    config = config_lib.from_flagfile(flagfile, [f"--data_dir={tmp_path / 'data'}", f"--model_dir={tmp_path / 'run'}",
                                                 "--epochs=1", "--validation_steps=1"])
    Trainer(config, verbose=False).run()
    assert "--spatial_feature_dim=128" in (tmp_path / "run" / "flags.cfg").read_text()
    config = config_lib.from_flagfile(flagfile, [f"--data_dir={tmp_path / 'data'}", f"--model_dir={tmp_path / 'other'}",
                                                 "--spatial_feature_dim=2048"])
    with pytest.raises((config_lib.ConfigError, DataError),
                       match="spatial features are 128-d, the configuration expects 2048"):
        Trainer(config, verbose=False)

def _trainer(data_dir, *flags):
    from mimamo_tf.training import Trainer

    return Trainer(config_lib.from_flagfile(SMOKE[len("--flagfile="):], [f"--data_dir={data_dir}", *flags]),
                   verbose=False)


def _model_weights(model):
    return np.concatenate([w.ravel() for w in model.get_weights()])


def test_init_from_starts_a_fresh_run_from_the_runs_weights(data_dir, smoke_run, tmp_path):
    """``--init_from=RUN``: before the first step the network holds RUN's best.keras (not a fresh
    initialisation), with a new optimizer at step 0, and the run records where its weights came from."""
    import hashlib

    import keras

    from mimamo_tf.training import model_setup

    source_dir, _ = smoke_run
    best = source_dir / "checkpoints" / "best.keras"
    tuned = _trainer(data_dir, f"--model_dir={tmp_path / 'tuned'}", f"--init_from={source_dir}")
    np.testing.assert_array_equal(_model_weights(tuned.model), _weights(best))
    assert int(tuned.state.global_step) == 0 and int(tuned.optimizer.iterations.numpy()) == 0
    keras.utils.set_random_seed(0)  # the seed a run without --init_from starts from (smoke.cfg's --seed)
    fresh = model_setup.build_model(config_lib.replace(tuned.config, model={"init_from": None}))
    assert np.abs(_model_weights(fresh) - _weights(best)).max() > 1e-3
    assert f"--init_from={source_dir}" in (tmp_path / "tuned" / "flags.cfg").read_text().splitlines()
    record = json.loads((tmp_path / "tuned" / "init_from.json").read_text())
    assert record == {"init_from": str(source_dir), "checkpoint": str(best), "run_dir": str(source_dir),
                      "sha256": hashlib.sha256(best.read_bytes()).hexdigest()}


def test_init_from_a_keras_file_and_resume_wins(data_dir, smoke_run, tmp_path):
    """A .keras file works as well as a run directory; once the model dir holds a state, a re-run
    resumes from it and does not read the init checkpoint at all (here: deleted in between)."""
    source_dir, _ = smoke_run
    copy = tmp_path / "weights.keras"
    shutil.copy(source_dir / "checkpoints" / "last.keras", copy)
    flags = (f"--model_dir={tmp_path / 'tuned'}", f"--init_from={copy}")
    first = _trainer(data_dir, *flags)
    np.testing.assert_array_equal(_model_weights(first.model), _weights(copy))
    first.checkpointer.save()  # as if killed after its first checkpoint
    saved = _model_weights(first.model)
    copy.unlink()
    resumed = _trainer(data_dir, *flags)
    assert resumed.checkpointer.restore_latest()
    np.testing.assert_array_equal(_model_weights(resumed.model), saved)
    # The record of the fresh start stays: the weights of this run still came from that file.
    assert json.loads((tmp_path / "tuned" / "init_from.json").read_text())["checkpoint"] == str(copy)


def test_init_from_without_a_checkpoint_or_of_another_network_fails_before_training(data_dir, smoke_run, tmp_path):
    from mimamo_tf.runs import RunError

    source_dir, _ = smoke_run
    empty = tmp_path / "empty_run"
    empty.mkdir()
    model_dir = tmp_path / "tuned"
    for source, message in ((empty, f"--init_from={empty}: no checkpoint {empty / 'checkpoints' / 'best.keras'}; "
                                    "expected a run directory of mimamo_tf.train"),
                            (tmp_path / "nowhere", f"--init_from={tmp_path / 'nowhere'} does not exist"),
                            (source_dir / "flags.cfg", "is not a .keras file")):
        with pytest.raises(RunError, match=re.escape(message)):
            _trainer(data_dir, f"--model_dir={model_dir}", f"--init_from={source}")
    # Another network (smaller GRUs): its weights do not fit; the message names the differing flag.
    with pytest.raises(config_lib.ConfigError, match=re.escape(f"--init_from={source_dir}: the network in")) as error:
        _trainer(data_dir, f"--model_dir={model_dir}", f"--init_from={source_dir}", "--gru_units=64")
    assert "--gru_units=128 (this run: 64)" in str(error.value)
    assert not model_dir.exists()  # nothing written


def _run_copy(source_dir, destination, data_dir):
    """A copy of a run (checkpoints, state, history) whose flags.cfg reads ``data_dir``."""
    shutil.copytree(source_dir, destination)
    flags_file = destination / "flags.cfg"
    lines = [f"--data_dir={data_dir}" if line.startswith("--data_dir=") else
             f"--model_dir={destination}" if line.startswith("--model_dir=") else line
             for line in flags_file.read_text().splitlines()]
    flags_file.write_text("\n".join(lines) + "\n")
    return destination


def _data_of(data_dir, destination, backbone):
    """A copy of the shards whose manifest.json says their features came from ``backbone``."""
    from mimamo_tf.testing.tiny_shards import write_manifest

    shutil.copytree(data_dir, destination)
    write_manifest(destination, backbone)
    return destination


def test_init_from_a_run_on_another_backbones_features_names_both(data_dir, smoke_run, tmp_path):
    """The run's flags.cfg records the backbone of its features; fine-tuning it on data prepared with
    another one stops before anything is built, naming both (also when the run's own flags.cfg is
    given, whose feature width no longer fits), and a run on the same backbone records it."""
    source = _run_copy(smoke_run[0], tmp_path / "source", _data_of(data_dir, tmp_path / "fer", "fer_mini_xception"))
    with open(source / "flags.cfg", "a") as handle:
        handle.write("--spatial_features=fer_mini_xception\n")
    other = _data_of(data_dir, tmp_path / "resnet", "resnet50:none")
    message = (f"run {source} was trained on features of fer_mini_xception; the data in {other} holds features of "
               "resnet50:none: prepare it with --spatial_features=fer_mini_xception")
    for flags in ((), (f"--flagfile={source / 'flags.cfg'}",)):
        with pytest.raises(config_lib.ConfigError, match=re.escape(message)):
            _trainer(other, *flags, f"--data_dir={other}", f"--model_dir={tmp_path / 'tuned'}", f"--init_from={source}")
    assert not (tmp_path / "tuned").exists()
    # Without --init_from, the run's flags.cfg on the new data: the same two backbones, and the way out.
    with pytest.raises(config_lib.ConfigError, match=re.escape(
            f"--spatial_features=fer_mini_xception, but the data in {other} holds features of resnet50:none: "
            "prepare it with --spatial_features=fer_mini_xception")):
        _trainer(other, f"--flagfile={source / 'flags.cfg'}", f"--data_dir={other}", f"--model_dir={tmp_path / 'new'}")
    _trainer(other, f"--flagfile={source / 'flags.cfg'}", f"--data_dir={other}", f"--model_dir={tmp_path / 'new'}",
             "--spatial_features=", "--spatial_feature_dim=0")
    assert "--spatial_features=resnet50:none" in (tmp_path / "new" / "flags.cfg").read_text().splitlines()
    _trainer(tmp_path / "fer", f"--model_dir={tmp_path / 'tuned'}", f"--init_from={source}")
    assert "--spatial_features=fer_mini_xception" in (tmp_path / "tuned" / "flags.cfg").read_text().splitlines()


def test_a_run_whose_flags_cfg_predates_the_backbone_record_still_resumes(data_dir, smoke_run, tmp_path):
    """flags.cfg written before --spatial_features was recorded: the value read from the data now is
    no difference, the run resumes from its state and its flags.cfg gains the value."""
    data = _data_of(data_dir, tmp_path / "data", "resnet50:none")
    run = _run_copy(smoke_run[0], tmp_path / "run", data)
    assert "--spatial_features" not in (run / "flags.cfg").read_text()
    resumed = _trainer(data, f"--model_dir={run}")
    assert resumed.resuming and resumed.checkpointer.restore_latest()
    assert "--spatial_features=resnet50:none" in (run / "flags.cfg").read_text().splitlines()

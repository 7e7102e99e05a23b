"""``--two_stage`` end to end on real shards: the stage-one runs and the two-stream run, killed
(SIGKILL) in each stage and continued by the same command, end with the weights of an uninterrupted
run (averaged weights and all); inherited streams frozen exactly for ``--freeze_streams_epochs`` epochs and fine-tuned after
them with their BatchNorm statistics kept; the validation of the starting weights is recorded; the
two-stream net of the recipe is the network every export reads."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mimamo_tf import config as config_lib
from mimamo_tf import runs
from mimamo_tf.testing.checkpoints import saved_checkpoints

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMOKE = os.path.join(REPO, "configs", "smoke.cfg")
# A checkpoint after every step: each stage-one epoch saves 2 step checkpoints + 1 at its end; the
# two-stream run saves one more first, after validating its starting weights.
TWO_STAGE = ("--two_stage", "--freeze_streams_epochs=1", "--ema_decay=0.5", "--epochs=2", "--checkpoint_every_steps=1")


def _env():
    env = dict(os.environ)
    env.pop("TF_CONFIG", None)
    return env


def _command(data_dir, model_dir, *flags):
    return [sys.executable, "-m", "mimamo_tf.train", f"--flagfile={SMOKE}", f"--data_dir={data_dir}",
            f"--model_dir={model_dir}", *TWO_STAGE, *flags]


def _run(data_dir, model_dir):
    run = subprocess.run(_command(data_dir, model_dir), cwd=REPO, capture_output=True, text=True, timeout=600,
                         env=_env())
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def _kill_when_saved(data_dir, model_dir, watched, count, timeout=300):
    """Starts the command and SIGKILLs it once the run in ``watched`` has saved ``count`` checkpoints."""
    process = subprocess.Popen(_command(data_dir, model_dir), cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    while saved_checkpoints(watched) < count and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    out, err = process.communicate(timeout=60)
    assert saved_checkpoints(watched) >= count, f"never reached checkpoint {count} of {watched}:\n{err[-3000:]}"
    return out


def _weights(path):
    import keras

    model = keras.saving.load_model(path, compile=False)
    return [w.numpy() for w in model.weights]


@pytest.fixture(scope="module")
def two_stage_runs(data_dir, tmp_path_factory):
    """``(uninterrupted run dir, its output, killed-and-continued run dir, outputs of each start)``."""
    root = tmp_path_factory.mktemp("two_stage")
    whole, killed = root / "whole", root / "killed"
    whole_run = _run(data_dir, whole)
    outputs = [
        _kill_when_saved(data_dir, killed, runs.stream_run_dir(killed, "spatial"), 4),   # in its 2nd epoch
        _kill_when_saved(data_dir, killed, runs.stream_run_dir(killed, "temporal"), 2),  # in its 1st epoch
        # start validation (1) + epoch 1 (3) + 1 step: killed in epoch 2, the streams fine-tuning
        _kill_when_saved(data_dir, killed, killed, 5),
    ]
    outputs.append(_run(data_dir, killed).stdout)
    return whole, whole_run.stdout, killed, outputs


def test_two_stage_trains_the_streams_then_the_two_stream_net_from_them(two_stage_runs):
    whole, out, _, _ = two_stage_runs
    for stream in ("spatial", "temporal"):
        stage = config_lib.from_flagfile(str(runs.flags_path(runs.stream_run_dir(whole, stream))))
        assert (stage.model.streams, stage.model.recurrent, stage.optimization.two_stage) == (stream, False, False)
        assert os.path.isfile(runs.checkpoint_path(runs.stream_run_dir(whole, stream), "best"))
    fused = config_lib.from_flagfile(str(runs.flags_path(whole)))
    assert fused.model.streams == "both" and fused.model.recurrent and fused.optimization.two_stage
    assert fused.model.init_spatial_from == str(runs.checkpoint_path(runs.stream_run_dir(whole, "spatial"), "best"))
    assert fused.model.init_temporal_from == str(runs.checkpoint_path(runs.stream_run_dir(whole, "temporal"), "best"))
    stages = [line.split(":")[0] for line in out.splitlines() if line.startswith("Stage")]
    assert stages == ["Stage 1 (1/2)", "Stage 1 (2/2)", "Stage 2"], out
    history = runs.read_history(whole)
    assert [e["epoch"] for e in history] == [runs.START_EPOCH, 0, 1]
    assert [e.get("streams") for e in history] == [None, "frozen", "fine-tuning"]


def test_a_killed_two_stage_run_continues_each_stage_to_the_uninterrupted_weights(two_stage_runs):
    whole, _, killed, outputs = two_stage_runs
    # Each restart skipped the stages already finished and resumed the one that was killed.
    spatial, temporal = outputs[1].split("Stage 1 (2/2)")
    assert "Resuming from" in spatial and "Resuming from" not in temporal, outputs[1]
    spatial, rest = outputs[2].split("Stage 1 (2/2)")
    assert "trained already" in spatial and "Resuming from" in rest.split("Stage 2")[0], outputs[2]
    assert outputs[3].count("trained already") == 2 and "Resuming from" in outputs[3], outputs[3]
    for directory in (runs.stream_run_dir(whole, "spatial"), runs.stream_run_dir(whole, "temporal"), whole):
        relative = os.path.relpath(directory, whole)
        for name in ("best", "last"):
            expected = _weights(runs.checkpoint_path(directory, name))
            got = _weights(runs.checkpoint_path(os.path.join(killed, relative), name))
            for a, b in zip(expected, got):
                np.testing.assert_array_equal(a, b, err_msg=f"{relative} {name}.keras")
    assert runs.read_history(killed)[0]["epoch"] == runs.START_EPOCH


def _stream_weights(model, stream):
    from mimamo_tf.training.stream_freezing import STREAM_LAYERS

    layer = model.get_layer(STREAM_LAYERS[stream])
    return {w.path: w.numpy() for w in layer.weights}


def test_inherited_streams_are_frozen_exactly_for_the_stated_epochs(two_stage_runs, data_dir, tmp_path):
    """Epoch 1 frozen: every stream weight (BatchNorm statistics too) is the parent's while the
    fusion layers learn; epoch 2 fine-tunes: kernels move, BatchNorm statistics stay the parent's."""
    import keras

    from mimamo_tf.training import Trainer

    whole, *_ = two_stage_runs
    parents = {s: runs.checkpoint_path(runs.stream_run_dir(whole, s), "best") for s in ("spatial", "temporal")}
    flags = [f"--data_dir={data_dir}", f"--model_dir={tmp_path}", "--freeze_streams_epochs=1", "--epochs=1",
             f"--init_spatial_from={parents['spatial']}", f"--init_temporal_from={parents['temporal']}"]
    trainer = Trainer(config_lib.from_flagfile(SMOKE, flags), verbose=False)
    start = {s: _stream_weights(trainer.model, s) for s in parents}
    fusion_start = trainer.model.get_layer("fusion_fc").get_weights()[0].copy()
    for stream, path in parents.items():  # the streams start as the parents'
        parent = keras.saving.load_model(path, compile=False)
        source = [w.numpy() for w in parent.get_layer(f"{stream}_per_frame").weights]
        for a, b in zip(source, start[stream].values()):
            np.testing.assert_array_equal(a, b)
    trainer.run()
    assert not np.array_equal(trainer.model.get_layer("fusion_fc").get_weights()[0], fusion_start)
    for stream in parents:
        for path, value in _stream_weights(trainer.model, stream).items():
            np.testing.assert_array_equal(value, start[stream][path], err_msg=f"{path} moved while frozen")
    # The same run continued for a second epoch: the streams fine-tune.
    trainer = Trainer(config_lib.from_flagfile(SMOKE, [*flags[:-3], "--epochs=2", *flags[-2:]]), verbose=False)
    trainer.run()
    for stream in parents:
        after = _stream_weights(trainer.model, stream)
        moved = [p for p in after if not np.array_equal(after[p], start[stream][p])]
        kernels = [p for p in after if p.endswith("/kernel")]
        statistics = [p for p in after if p.endswith(("moving_mean", "moving_variance", "gamma", "beta"))]
        assert kernels and set(kernels) <= set(moved), (stream, moved)
        assert statistics and not set(statistics) & set(moved), (stream, moved)
    history = runs.read_history(tmp_path)
    assert [(e["epoch"], e.get("streams")) for e in history] == [(-1, None), (0, "frozen"), (1, "fine-tuning")]


def test_the_starting_weights_are_validated_before_the_first_epoch(smoke_source, data_dir, tmp_path):
    """A run started from another run's weights records their validation first (epoch -1): the same
    CCCs as that run's own validation of those weights, and ``best.keras`` holds them until an epoch
    beats them."""
    from mimamo_tf.training import train

    source = runs.read_history(smoke_source)
    best = runs.best_epoch(source)
    config = config_lib.from_flagfile(SMOKE, [f"--data_dir={data_dir}", f"--model_dir={tmp_path}",
                                              f"--init_from={smoke_source}", "--epochs=1", "--learning_rate=0"])
    history = train(config, verbose=False)
    start = history[0]
    assert start["epoch"] == runs.START_EPOCH and "loss" not in start
    for key in ("val_ccc_arousal", "val_ccc_valence", "val_ccc_mean", "val_loss"):
        assert start[key] == pytest.approx(best[key], abs=1e-6), key
    assert runs.trained_epochs(history) == 1
    chosen = runs.best_epoch(history)
    expected = (runs.checkpoint_path(smoke_source, "best") if chosen["epoch"] == runs.START_EPOCH
                else runs.checkpoint_path(tmp_path, "last"))
    for a, b in zip(_weights(runs.checkpoint_path(tmp_path, "best")), _weights(expected)):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def smoke_source(data_dir, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("source")
    run = subprocess.run([sys.executable, "-m", "mimamo_tf.train", f"--flagfile={SMOKE}", f"--data_dir={data_dir}",
                          f"--model_dir={model_dir}"], cwd=REPO, capture_output=True, text=True, timeout=600, env=_env())
    assert run.returncode == 0, run.stderr[-3000:]
    return model_dir


def test_the_two_stream_net_of_the_recipe_is_the_exported_network(two_stage_runs):
    """No training device is left in the net: its checkpoint has exactly the weights, inputs and the
    one (arousal, valence) output of the two-stream net built from its flags, which export reads."""
    import keras

    from mimamo_tf.models import build_mimamo_net

    whole, *_ = two_stage_runs
    config = runs.read_config(whole)
    trained = keras.saving.load_model(runs.checkpoint_path(whole, "best"), compile=False)
    built = build_mimamo_net(config.model)
    assert [(w.name, tuple(w.shape)) for w in trained.weights] == [(w.name, tuple(w.shape)) for w in built.weights]
    assert sorted(trained.input) == sorted(built.input) and len(trained.outputs) == 1
    assert tuple(trained.outputs[0].shape) == (None, None, 2)


@pytest.mark.parametrize("flags, message", [
    (["--two_stage", "--freeze_streams_epochs=-2"], "--freeze_streams_epochs must be >= 0, or -1"),
    (["--two_stage", "--init_spatial_from=/x.keras"], "--init_spatial_from=/x.keras: --two_stage starts"),
    (["--two_stage", "--init_from=/x"], "--init_from and --two_stage both initialise"),
])
def test_two_stage_flags_that_cannot_work_fail_before_training(data_dir, tmp_path, flags, message):
    from mimamo_tf.training import train

    config = config_lib.from_flagfile(SMOKE, [f"--data_dir={data_dir}", f"--model_dir={tmp_path}", *flags])
    with pytest.raises(config_lib.ConfigError, match=message.replace("(", r"\(")):
        train(config, verbose=False)
    assert not any(tmp_path.iterdir())


def test_notwo_stage_on_a_recipe_config_trains_the_two_stream_net_from_scratch(data_dir, tmp_path):
    """The configs carry the recipe (frozen streams, ``-1``); with ``--notwo_stage`` nothing is
    inherited, so nothing is frozen: the run validates and every weight of the streams trains."""
    import keras

    from mimamo_tf.models.per_frame import iter_layers
    from mimamo_tf.training import train
    from mimamo_tf.training.stream_freezing import STREAM_LAYERS

    recipe = config_lib.from_flagfile(config_lib.packaged_flagfile("demo.cfg"),
                                      ["--notwo_stage", "--data_dir=/unused", "--model_dir=/unused"])
    assert recipe.optimization.freeze_streams_epochs == config_lib.FROZEN_THROUGHOUT
    config_lib.validate(recipe, require_data=False, require_model_dir=False)
    config = config_lib.from_flagfile(SMOKE, [f"--data_dir={data_dir}", f"--model_dir={tmp_path}", "--epochs=1",
                                              "--freeze_streams_epochs=-1"])
    train(config, verbose=False)
    history = runs.read_history(str(tmp_path))
    assert [e["epoch"] for e in history] == [0]  # no start validation: it starts from no trained weights
    assert history[0].get("streams", "training") == "training"
    trained = keras.saving.load_model(runs.checkpoint_path(str(tmp_path), "last"), compile=False)
    for layer in STREAM_LAYERS.values():
        # Frozen streams keep BatchNorm's initial statistics (mean 0); these were trained.
        means = [np.asarray(bn.moving_mean) for bn in iter_layers(trained.get_layer(layer))
                 if isinstance(bn, keras.layers.BatchNormalization)]
        assert means and any(np.abs(m).max() > 0 for m in means), layer

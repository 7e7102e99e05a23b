"""Two local replicas in one process (``MirroredStrategy`` over two logical CPUs) train what one
device trains: the CCC loss and synchronised BatchNorm all-reduce over the replicas, gradients sum."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from mimamo_tf.testing.tiny_shards import write_dataset

REPO = pathlib.Path(__file__).resolve().parents[2]
SMOKE = REPO / "configs" / "smoke.cfg"
# The library's trainer (not the CLI) so the run can report the replicas its strategy has.
RUN = """
import sys
from mimamo_tf import config as config_lib
from mimamo_tf.training import Trainer
trainer = Trainer(config_lib.from_flagfile(sys.argv[1], sys.argv[2:]), verbose=False)
print("REPLICAS", trainer.strategy.num_replicas_in_sync, flush=True)
trainer.run()
"""


def _start(flags, model_dir, cpu_replicas=None):
    env = dict(os.environ)
    env.pop("TF_CONFIG", None)
    env.pop("MIMAMO_TF_CPU_REPLICAS", None)
    if cpu_replicas:
        # make_strategy splits the CPU into this many logical devices before TensorFlow starts its
        # runtime and mirrors over them.
        env["MIMAMO_TF_CPU_REPLICAS"] = str(cpu_replicas)
    return subprocess.Popen([sys.executable, "-c", RUN, str(SMOKE), *flags, f"--model_dir={model_dir}"], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _replicas(process):
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return int(next(line.split()[1] for line in out.splitlines() if line.startswith("REPLICAS")))


def _trainable_weights(path):
    import keras


    model = keras.saving.load_model(path, compile=False)
    return np.concatenate([v.numpy().ravel() for v in model.trainable_variables])


@pytest.mark.slow
def test_two_local_devices_train_what_one_device_trains(tmp_path):
    write_dataset(tmp_path / "data")
    # As the two-worker test in test_train.py: no dropout (masks are drawn per replica), float32
    # (smoke.cfg), 2 epochs of 2 steps; the replicas split every global batch of 2 windows.
    common = (f"--data_dir={tmp_path / 'data'}", "--learning_rate=0.005", "--nodropout", "--epochs=2")
    runs = {"two": _start(common, tmp_path / "two", cpu_replicas=2), "one": _start(common, tmp_path / "one")}
    replicas = {name: _replicas(process) for name, process in runs.items()}
    assert replicas == {"two": 2, "one": 1}
    weights = {name: _trainable_weights(tmp_path / name / "checkpoints" / "last.keras") for name in runs}
    # Within 1e-2 relative weight norm of one device: what is left is float summation order (0.0027
    # apart after training moved the weights by 1.93; ||w|| = 91). Without synchronised BatchNorm
    # the two replicas compute another function: 4.0 apart, 0.044 relative (--nosync_batch_norm,
    # measured); here 2.9e-5.
    difference = np.linalg.norm(weights["two"] - weights["one"]) / np.linalg.norm(weights["one"])
    assert difference < 1e-2, difference
    two = json.loads((tmp_path / "two" / "history.json").read_text())
    one = json.loads((tmp_path / "one" / "history.json").read_text())
    assert len(two) == len(one) == 2
    for a, b in zip(two, one):
        for key in ("loss", "val_loss", "ccc_mean", "val_ccc_mean"):
            assert a[key] == pytest.approx(b[key], abs=0.01), (key, a, b)

"""Masked CCC loss and the streaming CCC metric against a NumPy CCC of the concatenated frames."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mimamo_tf.ccc import ccc_numpy
from mimamo_tf.losses import MaskedCCCLoss
from mimamo_tf.metrics import ConcordanceCorrelation


def _data(seed=0, batch=4, steps=16):
    """Correlated predictions/labels with ~30% masked frames holding garbage values."""
    rng = np.random.default_rng(seed)
    labels = rng.uniform(-1, 1, size=(batch, steps, 2))
    # A bias per sequence, as per-video offsets in real predictions.
    preds = 0.6 * labels + 0.3 * rng.normal(size=labels.shape) + rng.normal(0, 0.4, (batch, 1, 2))
    valid = (rng.random((batch, steps)) > 0.3).astype(np.float64)
    labels[valid == 0] = 1e3  # must not matter
    preds[valid == 0] = -1e3
    return np.concatenate([labels, valid[..., None]], -1).astype(np.float32), preds.astype(np.float32)


def _reference(y_true, y_pred, output):
    keep = y_true[..., 2].reshape(-1) > 0
    values = [ccc_numpy(y_pred[..., i].reshape(-1)[keep], y_true[..., i].reshape(-1)[keep]) for i in range(2)]
    return {"arousal": values[0], "valence": values[1], "mean": np.mean(values)}[output]


def test_ccc_numpy_known_values():
    x = np.array([-1.5, -0.5, 0.5, 1.5])  # zero mean, population variance 1.25
    assert ccc_numpy(x, x) == pytest.approx(1.0)
    assert ccc_numpy(x, -x) == pytest.approx(-1.0)
    # Perfectly correlated but shifted by 1: 2 var / (2 var + 1).
    assert ccc_numpy(x, x + 1) == pytest.approx(2.5 / 3.5)
    # Perfectly correlated but scaled by 2: 2 * 2 var / (var + 4 var).
    assert ccc_numpy(x, 2 * x) == pytest.approx(0.8)


def test_loss_is_minus_sum_of_cccs_over_valid_frames():
    y_true, y_pred = _data()
    loss = float(MaskedCCCLoss()(y_true, y_pred))
    expected = -(_reference(y_true, y_pred, "arousal") + _reference(y_true, y_pred, "valence"))
    assert loss == pytest.approx(expected, abs=1e-5)
    assert -2 < loss < 0


def test_loss_video_level_labels():
    y_true, y_pred = _data(batch=32, steps=1)
    loss = float(MaskedCCCLoss()(y_true[:, 0], y_pred[:, 0]))
    expected = -(_reference(y_true, y_pred, "arousal") + _reference(y_true, y_pred, "valence"))
    assert loss == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("output", ["arousal", "valence", "mean"])
def test_streaming_metric_equals_ccc_of_concatenated_frames(output):
    y_true, y_pred = _data(seed=1, batch=12, steps=20)
    metric = ConcordanceCorrelation(output)
    # Uneven batches: a mean of per-batch CCCs would differ from the concatenated CCC.
    for start, stop in [(0, 1), (1, 6), (6, 12)]:
        metric.update_state(y_true[start:stop], y_pred[start:stop])
    assert float(metric.result()) == pytest.approx(_reference(y_true, y_pred, output), abs=1e-6)
    per_batch = np.mean([_reference(y_true[a:b], y_pred[a:b], output) for a, b in [(0, 1), (1, 6), (6, 12)]])
    assert abs(per_batch - _reference(y_true, y_pred, output)) > 1e-3  # the test can tell them apart
    metric.reset_state()
    metric.update_state(y_true[:3], y_pred[:3])
    assert float(metric.result()) == pytest.approx(_reference(y_true[:3], y_pred[:3], output), abs=1e-6)


def test_metric_rejects_unknown_output():
    with pytest.raises(ValueError, match="output must be one of"):
        ConcordanceCorrelation("dominance")


@pytest.mark.slow
def test_metric_exact_under_two_replica_mirrored_strategy(tmp_path):
    y_true, y_pred = _data(seed=2, batch=16, steps=10)
    np.save(tmp_path / "y_true.npy", y_true)
    np.save(tmp_path / "y_pred.npy", y_pred)
    code = textwrap.dedent(
        """
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from mimamo_tf.metrics import ConcordanceCorrelation
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        y_true, y_pred = np.load("y_true.npy"), np.load("y_pred.npy")
        with strategy.scope():
            metrics = [ConcordanceCorrelation(o) for o in ("arousal", "valence", "mean")]
        data = tf.data.Dataset.from_tensor_slices((y_true, y_pred)).batch(6)
        @tf.function
        def step(t, p):
            def replica(t, p):
                seen = tf.distribute.get_replica_context().replica_id_in_sync_group
                for m in metrics:
                    m.update_state(t, p)
                return tf.shape(t)[0]
            return strategy.run(replica, args=(t, p))
        sizes = []
        for t, p in strategy.experimental_distribute_dataset(data):
            per_replica = step(t, p)
            sizes.append([int(v) for v in strategy.experimental_local_results(per_replica)])
        print("SIZES", sizes)
        print("RESULT", " ".join(f"{float(m.result()):.10f}" for m in metrics))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if line.startswith(("SIZES", "RESULT")))
    sizes = eval(lines["SIZES"])  # noqa: S307 - our own printout
    assert all(len(s) == 2 and min(s) > 0 for s in sizes[:-1])  # both replicas really got data
    got = [float(v) for v in lines["RESULT"].split()]
    expected = [_reference(y_true, y_pred, o) for o in ("arousal", "valence", "mean")]
    np.testing.assert_allclose(got, expected, atol=1e-6)

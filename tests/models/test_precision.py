"""``--mixed_precision=auto`` in a run: a new run takes the hardware's choice, a continued run keeps
what its flags.cfg says on any machine, an explicit precision is kept (with a warning where slow)."""

import keras

from mimamo_tf import config as config_lib
from mimamo_tf.config import ExperimentConfig, replace
from mimamo_tf.hardware import PrecisionChoice
from mimamo_tf.models import precision

NATIVE = PrecisionChoice("bfloat16", "this CPU computes bfloat16 natively (AVX512_BF16)")
AVX2 = PrecisionChoice("float32", "this CPU has no native bfloat16 (AVX2)")


def _with(value):
    return replace(ExperimentConfig(), runtime={"mixed_precision": value})


def test_auto_is_the_default_and_a_new_run_takes_the_hardwares_choice_with_its_reason():
    assert ExperimentConfig().runtime.mixed_precision == "auto"
    for choice in (NATIVE, AVX2):
        config, line, warning = precision.resolve_run_precision(_with("auto"), None, choice)
        assert config.runtime.mixed_precision == choice.precision and warning is None
        assert line == f"precision: {choice.precision} — {choice.reason}"


def test_a_continued_run_keeps_its_precision_on_another_machine():
    started_in_bfloat16 = _with("bfloat16")
    config, line, warning = precision.resolve_run_precision(_with("auto"), started_in_bfloat16, AVX2)
    assert config.runtime.mixed_precision == "bfloat16"
    assert "kept from the run this continues" in line and "a new run here would take float32" in line
    assert warning and "AVX2" in warning  # slow here, but the run's precision is not changed under it
    config, line, warning = precision.resolve_run_precision(_with("auto"), _with("float32"), NATIVE)
    assert config.runtime.mixed_precision == "float32" and warning is None
    # The resume check sees no difference between auto and what the run resolved it to ...
    assert config_lib.differing_flags(started_in_bfloat16, _with("auto")) == []
    # ... but an explicit other precision is another experiment.
    assert config_lib.differing_flags(started_in_bfloat16, _with("float32")) == ["mixed_precision"]


def test_an_explicit_precision_is_kept_and_warned_about_where_bfloat16_is_slow():
    config, line, warning = precision.resolve_run_precision(_with("bfloat16"), None, AVX2)
    assert config.runtime.mixed_precision == "bfloat16"
    assert line.startswith("precision: bfloat16 — as --mixed_precision asks (auto would take float32")
    assert warning.startswith("Warning: --mixed_precision=bfloat16") and "slower than float32" in warning
    assert precision.resolve_run_precision(_with("bfloat16"), None, NATIVE)[2] is None
    assert precision.resolve_run_precision(_with("float32"), None, NATIVE)[2] is None


def test_auto_builds_layers_in_this_machines_choice():
    expected = {"float32": "float32", "bfloat16": "bfloat16"}[precision.machine_choice().precision]
    with precision.dtype_policy("auto"):
        layer = keras.layers.Dense(2)
    assert layer.compute_dtype == expected and layer.variable_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"  # restored


def test_a_bfloat16_network_is_rebuilt_in_float32_where_bfloat16_is_not_native():
    import numpy as np

    from mimamo_tf.models import build_mimamo_net

    model_config = replace(ExperimentConfig(), model={"streams": "spatial", "spatial_feature_dim": 16}).model
    with precision.dtype_policy("bfloat16"):
        trained = build_mimamo_net(model_config)
    assert precision.computes_in(trained) == "bfloat16"
    assert precision.for_this_machine(trained, model_config, NATIVE) is trained  # fast as it is
    rebuilt = precision.for_this_machine(trained, model_config, AVX2)
    assert precision.computes_in(rebuilt) == "float32"
    for a, b in zip(trained.get_weights(), rebuilt.get_weights()):
        np.testing.assert_array_equal(a, b)  # float32 variables under every policy: copied exactly
    features = np.random.default_rng(0).normal(size=(2, 8, 16)).astype(np.float32)
    inputs = {"spatial_features": features}
    in_bfloat16 = np.asarray(trained(inputs, training=False), np.float32)
    in_float32 = np.asarray(rebuilt(inputs, training=False))
    # The same function, without bfloat16's rounding (~3 significant digits).
    np.testing.assert_allclose(in_float32, in_bfloat16, atol=0.03)
    assert precision.for_this_machine(rebuilt, model_config, AVX2) is rebuilt

"""MIMAMO Net: size of the paper configuration, shapes, recurrence over time, serialisation."""

import numpy as np
import pytest

from mimamo_tf.config import ModelConfig
from mimamo_tf.models import build_mimamo_net, count_trainable_parameters
from mimamo_tf.models.per_frame import iter_layers

T = 10


def _paper_parameter_count():
    """Trainable parameters of docs/design.md section 4, counted by hand (backbone excluded)."""
    conv = 9 * (24 * 64 + 64 * 64 + 88 * 128 + 128 * 128 + 128 * 256 + 256 * 256)  # no biases
    conv_bn = 2 * (64 + 64 + 128 + 128 + 256 + 256)  # gamma + beta
    temporal_fc = 2 * (256 * 256 + 256) + 2 * (2 * 256)
    spatial = 2 * 2048 + (2048 * 256 + 256) + (256 * 256 + 256) + 2 * (2 * 256)  # input BN first
    fusion = 512 * 256 + 256 + 2 * 256
    # Keras GRU (reset_after=True): 3 gates x (input kernel + recurrent kernel + 2 biases).
    gru_direction = 3 * (256 * 128 + 128 * 128 + 2 * 128)
    head = 256 * 2 + 2
    return conv + conv_bn + temporal_fc + spatial + fusion + 2 * 2 * gru_direction + head


@pytest.fixture(scope="module")
def paper_model():
    return build_mimamo_net(ModelConfig())


def _inputs(batch=3, steps=T, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "gray48": rng.random((batch, steps + 12, 48, 48)).astype(np.float32),
        "spatial_features": rng.random((batch, steps, 2048)).astype(np.float32),
    }


def test_paper_configuration_size_and_shapes(paper_model):
    assert count_trainable_parameters(paper_model) == _paper_parameter_count()
    assert 2.5e6 < _paper_parameter_count() < 2.8e6  # "~2.6M trainable parameters"
    out = paper_model(_inputs(), training=False)
    assert tuple(out.shape) == (3, T, 2)
    video = build_mimamo_net(ModelConfig(label_level="video"))
    sampled = {"gray48": np.random.default_rng(0).random((3, 5, 13, 48, 48)).astype(np.float32),
               "spatial_features": _inputs()["spatial_features"][:, :5], "sample_mask": np.ones((3, 5), np.float32)}
    assert tuple(video(sampled, training=False).shape) == (3, 2)


def test_gru_recurs_over_time_not_over_the_batch(paper_model):
    base = _inputs()
    out = np.asarray(paper_model(base, training=False))
    # Change only the last frame of sequence 0 (its spatial feature and its gray frame).
    later = {k: v.copy() for k, v in base.items()}
    later["spatial_features"][0, -1] += 1.0
    later["gray48"][0, -7:] = np.random.default_rng(1).random((7, 48, 48))
    changed = np.asarray(paper_model(later, training=False))
    # The backward direction carries the change to the first frame ...
    assert np.abs(changed[0, 0] - out[0, 0]).max() > 1e-4
    # ... and other sequences of the batch are untouched (no recurrence over the batch axis).
    np.testing.assert_array_equal(changed[1:], out[1:])
    # The forward direction carries a change of the first frame to the last output.
    earlier = {k: v.copy() for k, v in base.items()}
    earlier["spatial_features"][2, 0] -= 1.0
    changed = np.asarray(paper_model(earlier, training=False))
    assert np.abs(changed[2, -1] - out[2, -1]).max() > 1e-4
    np.testing.assert_array_equal(changed[:2], out[:2])


def test_single_stream_and_ablation_variants_build_and_run():
    rng = np.random.default_rng(0)
    temporal = build_mimamo_net(ModelConfig(streams="temporal", temporal_input="phase"))
    assert list(temporal.input) == ["gray48"]
    assert tuple(temporal({"gray48": rng.random((2, T + 12, 48, 48)).astype("float32")}).shape) == (2, T, 2)
    flow = build_mimamo_net(ModelConfig(streams="temporal", temporal_input="optical_flow"))
    snippets = {"flow48": rng.random((2, T, 48, 48, 24)), "flow24": rng.random((2, T, 24, 24, 24))}
    assert tuple(flow(snippets).shape) == (2, T, 2)
    images = build_mimamo_net(ModelConfig(streams="spatial", spatial_input="images", spatial_backbone="small", recurrent=False))
    rgb = rng.integers(0, 255, (2, 3, 224, 224, 3)).astype("float32")
    assert tuple(images({"rgb224": rgb}).shape) == (2, 3, 2)
    with pytest.raises(ValueError, match="streams must be one of"):
        ModelConfig(streams="audio")
    with pytest.raises(ValueError, match="snippet_length must be even"):
        ModelConfig(snippet_length=5)


def test_keras_file_round_trip(paper_model, tmp_path):
    import keras

    path = tmp_path / "mimamo.keras"
    paper_model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        np.asarray(loaded(_inputs(), training=False)), np.asarray(paper_model(_inputs(), training=False)), atol=1e-5
    )


def test_batch_norm_statistics_follow_the_data_quickly(paper_model):
    # PyTorch-equivalent momentum: with Keras' default 0.99, inference used stale moving statistics
    # after a short run and scored near zero on the training videos themselves.
    import keras

    norms = [layer for layer in iter_layers(paper_model) if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 12  # temporal: 6 conv + 2 fc; spatial MLP: input + 2; fusion: 1
    assert {layer.momentum for layer in norms} == {0.9}


def test_video_level_output_is_the_head_on_the_time_mean_of_the_bigru_features_of_the_real_snippets():
    import keras

    model = build_mimamo_net(ModelConfig(label_level="video"))
    rng = np.random.default_rng(3)
    real = (5, 3)  # the second utterance has 3 real snippets; its last 2 slots are repeats (mask 0)
    inputs = {"gray48": rng.random((2, 5, 13, 48, 48)).astype(np.float32),
              "spatial_features": rng.random((2, 5, 2048)).astype(np.float32),
              "sample_mask": np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], np.float32)}
    gru = keras.Model(model.inputs, model.get_layer("bigru2").output)
    kernel, bias = model.get_layer("arousal_valence").get_weights()
    got = np.asarray(model(inputs, training=False))
    for row, count in enumerate(real):
        # Oracle: the utterance alone, cut to its real snippets (no mask needed), through the GRUs.
        alone = {"gray48": inputs["gray48"][row:row + 1, :count],
                 "spatial_features": inputs["spatial_features"][row:row + 1, :count],
                 "sample_mask": np.ones((1, count), np.float32)}
        features = np.asarray(gru(alone, training=False))[0]  # (count, 256)
        expected = features.mean(axis=0) @ kernel + bias  # head dropout is the identity at inference
        np.testing.assert_allclose(got[row], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("temporal_input", ["phase_difference", "optical_flow"])
def test_video_level_single_stream_net_is_a_linear_layer_on_the_mean_stream_feature(temporal_input):
    """The paper's single-stream net at video level: no GRU, the 256-d stream features averaged over
    the utterance's real snippets, then one linear layer."""
    import keras

    model = build_mimamo_net(ModelConfig(label_level="video", streams="temporal", recurrent=False,
                                          temporal_input=temporal_input, snippet_length=4))
    assert not [layer for layer in model.layers if "gru" in layer.name]
    rng = np.random.default_rng(4)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], np.float32)
    inputs = {i.name: rng.random((2, 4, *i.shape[2:])).astype(np.float32) for i in model.inputs}
    inputs["sample_mask"] = mask
    stream = keras.Model(model.inputs, model.get_layer("temporal_per_frame").output)
    features = np.asarray(stream(inputs, training=False))  # (2, 4, 256)
    assert features.shape[-1] == 256
    kernel, bias = model.get_layer("arousal_valence").get_weights()
    expected = np.stack([features[i][mask[i] > 0].mean(axis=0) for i in range(2)]) @ kernel + bias
    np.testing.assert_allclose(np.asarray(model(inputs, training=False)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(4, 6, 5, 3), (7, 3), (3, 4, 3)])
def test_fused_batch_norm_computes_what_keras_batch_norm_computes(shape):
    # Outputs, gradients and moving statistics in training, outputs at inference. A batch this small
    # would show the kernel's (n - 1) variance if it leaked into the moving statistics.
    import keras
    import tensorflow as tf

    from mimamo_tf.models.normalization import FusedBatchNormalization

    rng = np.random.default_rng(0)
    x = tf.constant((rng.normal(size=shape) * 2 + 1.5).astype(np.float32))
    weights = rng.normal(size=shape).astype(np.float32)
    results = []
    for cls in (keras.layers.BatchNormalization, FusedBatchNormalization):
        norm = cls(momentum=0.9)
        norm.build(shape)
        norm.gamma.assign(np.linspace(0.5, 1.5, shape[-1]))
        norm.beta.assign(np.linspace(-1.0, 1.0, shape[-1]))

        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = norm(x, training=True)
                loss = tf.reduce_sum(y * weights)
            return [y, *tape.gradient(loss, [x, norm.gamma, norm.beta])]

        values = step(x)
        results.append([np.asarray(v) for v in (*values, norm.moving_mean, norm.moving_variance, norm(x, training=False))])
    for keras_value, fused_value in zip(*results):
        np.testing.assert_allclose(fused_value, keras_value, rtol=1e-5, atol=2e-5)


def test_mixed_bfloat16_keeps_phase_front_end_recurrence_and_head_in_float32():
    import keras

    from mimamo_tf.config import ExperimentConfig, replace
    from mimamo_tf.training.model_setup import build_model, iter_layers

    reference = build_model(replace(ExperimentConfig(), runtime={"mixed_precision": "float32"}))
    mixed = build_model(replace(ExperimentConfig(), runtime={"mixed_precision": "bfloat16"}))
    mixed.set_weights(reference.get_weights())
    assert keras.config.dtype_policy().name == "float32"  # restored after the build
    dtypes = {layer.name: layer.compute_dtype for layer in iter_layers(mixed)}
    assert dtypes["block1a_conv"] == dtypes["fusion_fc"] == "bfloat16"
    for name in ("phase_snippets", "bigru1", "bigru2", "head_dropout", "arousal_valence"):
        assert dtypes[name] == "float32", name
    inputs = _inputs(batch=2, steps=16)
    expected = np.asarray(reference(inputs, training=False))
    got = mixed(inputs, training=False)
    assert got.dtype == "float32"
    # bfloat16 keeps 8 mantissa bits: predictions agree to a small fraction of their spread.
    assert np.abs(np.asarray(got) - expected).max() < 0.02 * max(np.abs(expected).max(), 0.1)


def test_image_input_with_a_random_backbone_keeps_the_runs_seed():
    # Building the frozen random ResNet50 inside the model must not reseed Keras: every layer built
    # after it (spatial MLP, head) follows --seed, and the same seed gives the same model.
    import keras

    def head(seed):
        keras.utils.set_random_seed(seed)
        model = build_mimamo_net(ModelConfig(streams="spatial", spatial_input="images"))
        return model.get_layer("arousal_valence").get_weights()[0]

    assert not np.array_equal(head(1), head(2))
    np.testing.assert_array_equal(head(1), head(1))


def test_dropout_rates_are_the_configs_and_bad_rates_are_refused():
    """--fusion_dropout, --head_dropout, --gru_dropout set the three dropout layers outside the
    streams (the two-stage recipe turns them off); a rate outside [0, 1) is refused naming the flag."""
    from mimamo_tf import config as config_lib

    config = ModelConfig(fusion_dropout=0.0, head_dropout=0.25, gru_dropout=0.1)
    model = build_mimamo_net(config)
    rates = {layer.name: layer.rate for layer in iter_layers(model) if "dropout" in layer.name}
    assert (rates["fusion_dropout"], rates["head_dropout"], rates["gru1_dropout"]) == (0.0, 0.25, 0.1)
    paper = {layer.name: layer.rate for layer in iter_layers(build_mimamo_net(ModelConfig()))
             if layer.name in ("fusion_dropout", "head_dropout")}
    assert paper == {"fusion_dropout": 0.5, "head_dropout": 0.5}  # the paper's rates by default
    bad = config_lib.from_flagfile(config_lib.packaged_flagfile("demo.cfg"), ["--data_dir=/unused", "--head_dropout=1"])
    with pytest.raises(config_lib.ConfigError, match=r"--head_dropout must be in \[0, 1\); got 1.0"):
        config_lib.validate(bad, require_data=False, require_model_dir=False)


def test_the_papers_phase_difference_order_is_a_temporal_input_that_trains():
    """``--temporal_input=phase_difference_paper``: the snippets come from ``PaperPhaseDifference`` and
    one SGD step on a CCC-like loss changes the stream's weights (gradients flow through the blur,
    the wrapped difference and the pyramid's input)."""
    import keras
    import tensorflow as tf

    from mimamo_tf.phase import PaperPhaseDifference

    model = build_mimamo_net(ModelConfig(streams="temporal", temporal_input="phase_difference_paper",
                                         recurrent=False))
    snippets = model.get_layer("phase_snippets")
    assert isinstance(snippets.phase_maps, PaperPhaseDifference)
    rng = np.random.default_rng(1)
    gray = tf.constant(rng.random((2, T + 12, 48, 48)).astype("float32"))
    target = tf.constant(rng.uniform(-1, 1, (2, T, 2)).astype("float32"))
    before = [w.numpy().copy() for w in model.trainable_weights]
    optimizer = keras.optimizers.SGD(0.1)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model({"gray48": gray}, training=True) - target))
    gradients = tape.gradient(loss, model.trainable_weights)
    assert all(g is not None and np.all(np.isfinite(g.numpy())) for g in gradients)
    optimizer.apply_gradients(zip(gradients, model.trainable_weights))
    assert any(np.abs(w.numpy() - b).max() > 0 for w, b in zip(model.trainable_weights, before))

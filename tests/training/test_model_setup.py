"""The network of a run (mimamo_tf.training.model_setup): two-stage initialisation from single-stream runs."""

import numpy as np
import pytest

from mimamo_tf import config as config_lib


def test_two_stage_initialisation_copies_the_single_stream_weights(tmp_path):
    from mimamo_tf.models import MimamoConfig, build_mimamo_net
    from mimamo_tf.training.model_setup import initialise_streams, iter_layers

    temporal = build_mimamo_net(MimamoConfig(streams="temporal", recurrent=False))
    spatial = build_mimamo_net(MimamoConfig(streams="spatial", recurrent=False))
    temporal.save(tmp_path / "temporal.keras")
    spatial.save(tmp_path / "spatial.keras")
    both = build_mimamo_net(MimamoConfig())

    def weights(model, name):  # the streams are nested inside PerFrame layers
        return [w.numpy() for layer in iter_layers(model) if layer.name == name for w in layer.weights]

    before = weights(both, "temporal_stream")
    initialise_streams(both, spatial_from=tmp_path / "spatial.keras", temporal_from=tmp_path / "temporal.keras")
    for name, source in (("temporal_stream", temporal), ("spatial_mlp", spatial)):
        for got, expected in zip(weights(both, name), weights(source, name)):
            np.testing.assert_array_equal(got, expected)
    assert any(not np.array_equal(a, b) for a, b in zip(before, weights(both, "temporal_stream")))
    with pytest.raises(config_lib.ConfigError, match="has none of the sub-models"):
        initialise_streams(both, temporal_from=tmp_path / "spatial.keras")

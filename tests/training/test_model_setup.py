"""The network of a run (mimamo_tf.training.model_setup): two-stage initialisation from single-stream runs,
fine-tuning only from a run on the same backbone's features."""

import re

import numpy as np
import pytest

from mimamo_tf import config as config_lib


def test_two_stage_initialisation_copies_the_single_stream_weights(tmp_path):
    from mimamo_tf.config import ModelConfig
    from mimamo_tf.models import build_mimamo_net
    from mimamo_tf.training.model_setup import initialise_streams, iter_layers

    temporal = build_mimamo_net(ModelConfig(streams="temporal", recurrent=False))
    spatial = build_mimamo_net(ModelConfig(streams="spatial", recurrent=False))
    temporal.save(tmp_path / "temporal.keras")
    spatial.save(tmp_path / "spatial.keras")
    both = build_mimamo_net(ModelConfig())

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


def _source_run(run_dir, data_dir, *flags):
    """A run directory as ``--init_from`` reads it (``flags.cfg``, ``checkpoints/best.keras``), with
    no training: the backbone check reads the flags only."""
    config = config_lib.from_flagfile(config_lib.packaged_flagfile("smoke.cfg"),
                                      [f"--data_dir={data_dir}", f"--model_dir={run_dir}", *flags])
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "best.keras").write_bytes(b"")
    config_lib.to_flagfile(config, run_dir / "flags.cfg")
    return config


def test_init_from_a_run_on_features_of_another_backbone_names_both(tmp_path):
    """A run records the backbone of its features (--spatial_features); fine-tuning it on data of
    another backbone is refused naming both and the prepare flag, before any weight is compared, and
    also for a run whose flags.cfg predates the record (its data's manifest says it)."""
    from mimamo_tf.testing.tiny_shards import write_manifest
    from mimamo_tf.training.model_setup import check_init_features

    new_data = tmp_path / "new_data"
    target = config_lib.from_flagfile(config_lib.packaged_flagfile("smoke.cfg"), [
        f"--data_dir={new_data}", f"--model_dir={tmp_path / 'tuned'}", f"--init_from={tmp_path / 'recorded'}"])
    _source_run(tmp_path / "recorded", tmp_path / "old_data", "--spatial_features=fer_mini_xception")
    expected = (f"--init_from={tmp_path / 'recorded'}: run {tmp_path / 'recorded'} was trained on features of "
                f"fer_mini_xception; the data in {new_data} holds features of resnet50:none: prepare it with "
                "--spatial_features=fer_mini_xception (python -m data_prep.prepare), or give --init_temporal_from=")
    with pytest.raises(config_lib.ConfigError, match=re.escape(expected)):
        check_init_features(target, "resnet50:none")
    check_init_features(target, "fer_mini_xception")  # the same backbone: nothing to say
    # A flags.cfg written before the backbone was recorded: the run's data still says which it was.
    (tmp_path / "old_data").mkdir()
    write_manifest(tmp_path / "old_data", "fer_mini_xception")
    _source_run(tmp_path / "old", tmp_path / "old_data")
    assert "--spatial_features" not in (tmp_path / "old" / "flags.cfg").read_text()
    old_target = config_lib.replace(target, model={"init_from": str(tmp_path / "old")})
    with pytest.raises(config_lib.ConfigError, match="was trained on features of fer_mini_xception; the data in"):
        check_init_features(old_target, "resnet50:none")
    # Unknown on either side (no manifest, a spatial stream on images): the weights alone decide.
    (tmp_path / "old_data" / "manifest.json").unlink()
    check_init_features(old_target, "resnet50:none")
    check_init_features(target, None)
    _source_run(tmp_path / "images", tmp_path / "old_data", "--spatial_input=images", "--spatial_backbone=small")
    check_init_features(config_lib.replace(target, model={"init_from": str(tmp_path / "images")}), "resnet50:none")


def test_backbones_are_the_same_features_by_name_and_weights_file_name():
    from mimamo_tf.models.backbone import same_features

    assert same_features("resnet50", "resnet50:none") and same_features("none", "resnet50:none")
    assert same_features("vggface2_resnet50:weights/w.h5", "vggface2_resnet50:/data/weights/w.h5")
    assert not same_features("resnet50:imagenet", "resnet50:none")
    assert not same_features("vggface2_resnet50:w.h5", "resnet50:w.h5")
    assert not same_features("fer_mini_xception", "keras:/models/fer.keras")

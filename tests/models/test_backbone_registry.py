"""The backbone registry: a backbone defined only in this module, registered with the decorator, works by
name wherever a backbone is named — config validation and flags, the model, feature extraction,
prepare and training — and an unknown name is refused with the registered names listed."""

import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from data_prep import synthetic_datasets
from data_prep.examples import ExampleOptions
from data_prep.preparation import prepare, resolve_spatial_backbone
from mimamo_tf import config as config_lib
from mimamo_tf.backbone_registry import (
    BackboneError,
    BuiltBackbone,
    backbone_names,
    backbones_help,
    get_backbone,
    register_backbone,
    unregister_backbone,
)
from mimamo_tf.data import schema
from mimamo_tf.models.backbone import SpatialFeatureExtractor, resolve_backbone
from mimamo_tf.models.per_frame import iter_layers
from mimamo_tf.training import Trainer
from mimamo_tf.training.model_setup import build_model

TINY = "tiny_test_backbone"
TINY_FEATURE_DIM = 6
TINY_INPUT_SIZE = 32
FRAMES = 16


@pytest.fixture
def tiny_backbone():
    """A backbone that exists only while a test runs: registered here, nowhere else."""

    @register_backbone(TINY, feature_dim=TINY_FEATURE_DIM, input_size=TINY_INPUT_SIZE,
                       description="one random strided convolution on a 32x32 resize (tests)")
    def build_tiny(rgb, weights, seed):
        del weights  # random, from the seed
        if seed is not None:  # prepare's features must be reproducible
            keras.utils.set_random_seed(seed)
        x = keras.layers.Resizing(TINY_INPUT_SIZE, TINY_INPUT_SIZE, name="tiny_resize")(rgb)
        x = keras.layers.Rescaling(1 / 255.0, name="tiny_scale")(x)
        x = keras.layers.Conv2D(TINY_FEATURE_DIM, 3, strides=2, name="tiny_conv")(x)
        features = keras.layers.GlobalAveragePooling2D(name="tiny_pool")(x)
        return BuiltBackbone(features, preprocessing="32x32 bilinear, / 255", weights="random (seeded)")

    yield build_tiny
    unregister_backbone(TINY)


def _spatial_image_flags(*more):
    return ["--streams=spatial", "--spatial_input=images", f"--spatial_backbone={TINY}", *more]


def test_a_registered_backbone_is_listed_described_and_refused_twice(tiny_backbone):
    entry = get_backbone(TINY)
    assert TINY in backbone_names() and {"resnet50", "vggface2_resnet50", "fer_mini_xception", "keras",
                                         "small"} <= set(backbone_names())
    assert (entry.build, entry.feature_dim, entry.input_size, entry.trainable) == (tiny_backbone, 6, 32, False)
    assert f"* {TINY} (6-d): one random strided convolution" in backbones_help()
    with pytest.raises(ValueError, match=f"'{TINY}' is registered already, by .*build_tiny"):
        register_backbone(TINY, feature_dim=1, input_size=1, description="another")(tiny_backbone)
    with pytest.raises(ValueError, match="without ':'"):
        register_backbone("a:b", feature_dim=1, input_size=1, description="")


def test_config_flags_and_model_take_a_registered_backbone_by_name(tiny_backbone):
    flag_values = flags.FlagValues()
    config_lib.define_flags(flag_values)
    assert f"* {TINY} (6-d)" in flag_values["spatial_backbone"].help
    flag_values(["train", *_spatial_image_flags("--norecurrent")])
    config = config_lib.validate(config_lib.from_flags(flag_values), require_data=False, require_model_dir=False)
    assert config.model.spatial_backbone == TINY
    model = build_model(config)  # what training builds
    backbone = next(layer for layer in iter_layers(model) if layer.name == "spatial_backbone")
    assert backbone.output.shape == (None, TINY_FEATURE_DIM) and not backbone.trainable
    outputs = model({"rgb224": np.zeros((1, 3, 224, 224, 3), np.float32)}, training=False)
    assert outputs.shape == (1, 3, 2)


def test_the_feature_extractor_builds_a_registered_backbone(tiny_backbone):
    extractor = SpatialFeatureExtractor(TINY, batch_size=2)
    assert extractor.feature_dim == TINY_FEATURE_DIM
    assert (extractor.info.spec, extractor.info.input_size, extractor.info.channels) == (TINY, 32, 3)
    faces = np.random.default_rng(0).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    features = extractor(faces)
    assert features.shape == (3, TINY_FEATURE_DIM) and features.dtype == np.float32
    np.testing.assert_allclose(features, np.asarray(extractor.model(faces.astype(np.float32))), rtol=1e-5, atol=1e-6)
    # Seeded as prepare builds it: the same weights every time.
    assert SpatialFeatureExtractor(TINY).info.weights_sha256 == extractor.info.weights_sha256


def test_a_backbone_whose_network_is_not_its_registered_width_is_refused():
    @register_backbone("misregistered_test_backbone", feature_dim=7, input_size=224, description="says 7, gives 3")
    def build_rgb_means(rgb, weights, seed):
        return BuiltBackbone(keras.layers.GlobalAveragePooling2D()(rgb), "none", "no weights")

    try:
        with pytest.raises(BackboneError, match="registered with feature_dim=7, its network gives 3"):
            resolve_backbone("misregistered_test_backbone")
    finally:
        unregister_backbone("misregistered_test_backbone")


def test_an_unknown_backbone_is_refused_listing_the_registered_ones(tiny_backbone):
    listed = rf"fer_mini_xception, keras:PATH\[:LAYER\], resnet50\[:none\|imagenet\|WEIGHTS\], small, {TINY}, " \
             r"vggface2_resnet50:PATH"
    with pytest.raises(config_lib.ConfigError, match=f"--spatial_backbone must be one of {listed}; got 'tiny'"):
        config_lib.ModelConfig(spatial_backbone="tiny")
    with pytest.raises(BackboneError, match=f"unknown backbone 'tiny': expected one of {listed}"):
        resolve_backbone("tiny")
    with pytest.raises(BackboneError, match=f"unknown backbone 'tiny': expected one of {listed}"):
        get_backbone("tiny")
    with pytest.raises(config_lib.ConfigError, match=f"--spatial_features=tiny: unknown backbone 'tiny'.*{TINY}"):
        resolve_spatial_backbone("tiny")


def test_an_unregistered_backbone_is_no_longer_accepted(tiny_backbone):
    unregister_backbone(TINY)
    assert TINY not in backbone_names()
    with pytest.raises(config_lib.ConfigError, match=f"got '{TINY}'"):
        config_lib.ModelConfig(spatial_backbone=TINY)


@pytest.mark.slow
def test_prepare_stores_its_features_and_training_runs_on_its_images(tiny_backbone, tmp_path):
    root = str(tmp_path / "synthetic")
    synthetic_datasets.generate(root, synthetic_datasets.SyntheticConfig(
        train_videos=1, validation_videos=1, frames=FRAMES, seed=3, cropped_aligned_template="ours"))
    data_dir = str(tmp_path / "data")
    for split in ("train", "validation"):
        manifest = prepare("affwild2", root, data_dir, split=split,
                           example_options=ExampleOptions(spatial_features=TINY, cropped_aligned_geometry="keep"),
                           reader_options={"affwild2_source": "cropped_aligned"})
    recorded = manifest["splits"]["validation"]["settings"]["spatial_backbone"]
    assert (recorded["spec"], recorded["feature_dim"], recorded["input_size"]) == (TINY, TINY_FEATURE_DIM, 32)
    record = next(iter(tf.data.TFRecordDataset(glob.glob(os.path.join(data_dir, "validation-*.tfrecord")))))
    example = schema.parse_sequence_example(record.numpy(), decode_images=True)
    assert example["spatial_features"].shape == (FRAMES, TINY_FEATURE_DIM)
    # Training by name on the stored faces: the backbone is built into the model.
    config = config_lib.from_flagfile(config_lib.packaged_flagfile("smoke.cfg"), [
        f"--data_dir={data_dir}", f"--model_dir={tmp_path / 'run'}", "--epochs=1", "--steps_per_epoch=1",
        "--validation_steps=1", *_spatial_image_flags()])
    Trainer(config, verbose=False).run()
    assert f"--spatial_backbone={TINY}" in (tmp_path / "run" / "flags.cfg").read_text().splitlines()

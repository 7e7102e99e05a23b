"""TFRecord SequenceExample schema: NumPy and tf.data round trips, and rejection of bad data."""

import numpy as np
import pytest
import tensorflow as tf

from mimamo_tf.data import schema


def _arrays(num_frames=7, seed=0):
    rng = np.random.default_rng(seed)
    # Smooth images so JPEG error is small and measurable.
    yy, xx = np.mgrid[0:224, 0:224]
    rgb = np.stack([
        np.clip(128 + 60 * np.sin(xx / 17.0 + t)[..., None] + 40 * np.cos(yy / 23.0)[..., None]
                * np.array([1.0, 0.5, -0.7]), 0, 255)
        for t in range(num_frames)
    ]).astype(np.uint8)
    return {
        "gray48": rng.integers(0, 256, size=(num_frames, 48, 48), dtype=np.uint8),
        "rgb224": rgb,
        "face_found": np.array([1, 1, 0, 1, 1, 1, 0][:num_frames], np.uint8),
        "arousal": rng.uniform(-1, 1, num_frames).astype(np.float32),
        "valence": rng.uniform(-1, 1, num_frames).astype(np.float32),
        "label_valid": np.array([1, 0, 1, 1, 1, 1, 1][:num_frames], np.uint8),
        "spatial_features": rng.normal(0, 3, size=(num_frames, 2048)).astype(np.float32),
    }


def _example(arrays, **overrides):
    kwargs = dict(video_id="video59_left", dataset="affwild2", split="train", fps=29.97,
                  label_level="frame", source="batch1/video59.mp4", face_backend="mtcnn", **arrays)
    kwargs.update(overrides)
    return schema.make_sequence_example(**kwargs)


def test_numpy_round_trip_is_exact_except_jpeg():
    arrays = _arrays()
    parsed = schema.parse_sequence_example(_example(arrays).SerializeToString())
    assert parsed["schema_version"] == schema.SCHEMA_VERSION
    assert parsed["video_id"] == "video59_left" and parsed["dataset"] == "affwild2"
    assert parsed["num_frames"] == 7 and parsed["label_level"] == "frame"
    assert parsed["fps"] == pytest.approx(29.97, rel=1e-6)
    assert np.isnan(parsed["video_arousal"]) and np.isnan(parsed["video_valence"])
    np.testing.assert_array_equal(parsed["gray48"], arrays["gray48"])
    np.testing.assert_array_equal(parsed["face_found"], arrays["face_found"])
    np.testing.assert_array_equal(parsed["label_valid"], arrays["label_valid"])
    np.testing.assert_array_equal(parsed["arousal"], arrays["arousal"])
    np.testing.assert_array_equal(parsed["valence"], arrays["valence"])
    np.testing.assert_array_equal(parsed["spatial_features"], arrays["spatial_features"].astype(np.float16))
    assert parsed["spatial_feature_dim"] == 2048
    error = parsed["rgb224"].astype(float) - arrays["rgb224"].astype(float)
    psnr = 10 * np.log10(255.0**2 / np.mean(error**2))
    assert psnr > 35.0


def test_tf_data_parsing_matches_numpy_parsing(tmp_path):
    arrays = _arrays()
    path = str(tmp_path / "one.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(_example(arrays).SerializeToString())
        writer.write(_example(_arrays(seed=1), spatial_features=None, video_id="b",
                              label_level="video", video_arousal=0.25,
                              video_valence=-0.5).SerializeToString())

    def parse(record):
        context, sequence = tf.io.parse_single_sequence_example(
            record, context_features=schema.context_feature_spec(),
            sequence_features=schema.sequence_feature_spec(include_spatial_features=False))
        return schema.decode_parsed(context, sequence)

    records = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
    decoded = list(tf.data.TFRecordDataset(path).map(parse).as_numpy_iterator())
    for record, from_tf in zip(records, decoded):
        reference = schema.parse_sequence_example(record)
        np.testing.assert_array_equal(from_tf["gray48"], reference["gray48"])
        np.testing.assert_array_equal(from_tf["rgb224"], reference["rgb224"])
        for key in ("face_found", "label_valid", "arousal", "valence"):
            np.testing.assert_array_equal(from_tf[key], reference[key])
        assert from_tf["video_id"].decode() == reference["video_id"]
    assert decoded[1]["video_arousal"] == pytest.approx(0.25)
    assert decoded[1]["label_level"] == b"video"

    def parse_spatial(record):
        context, sequence = tf.io.parse_single_sequence_example(
            record, context_features=schema.context_feature_spec(),
            sequence_features=schema.sequence_feature_spec(include_spatial_features=True))
        return schema.decode_parsed(context, sequence, decode_rgb=False)

    first = next(iter(tf.data.TFRecordDataset(path).take(1).map(parse_spatial).as_numpy_iterator()))
    np.testing.assert_array_equal(first["spatial_features"].reshape(7, 2048),
                                  arrays["spatial_features"].astype(np.float16).astype(np.float32))


@pytest.mark.parametrize("change, message", [
    (dict(arousal=np.zeros(6, np.float32)), "arousal has 6 frames"),
    (dict(gray48=np.zeros((7, 48, 48), np.float32)), "gray48 must be uint8"),
    (dict(label_level="frames"), "label_level"),
    (dict(valence=np.array([0, 0, np.nan, 0, 0, 0, 0], np.float32)), "finite"),
    (dict(spatial_features=np.zeros((6, 2048))), "spatial_features"),
])
def test_bad_arrays_are_rejected(change, message):
    arrays = _arrays()
    arrays.update({k: v for k, v in change.items() if k in arrays})
    overrides = {k: v for k, v in change.items() if k not in arrays}
    with pytest.raises(schema.SchemaError, match=message):
        _example(arrays, **overrides)


def test_parse_rejects_other_versions_and_truncated_lists():
    arrays = _arrays()
    example = _example(arrays)
    example.context.feature["schema_version"].int64_list.value[0] = schema.SCHEMA_VERSION + 1
    with pytest.raises(schema.SchemaError, match="schema_version"):
        schema.parse_sequence_example(example.SerializeToString())
    example = _example(arrays)
    del example.feature_lists.feature_list["valence"].feature[-1]
    with pytest.raises(schema.SchemaError, match="valence has 6 frames"):
        schema.parse_sequence_example(example.SerializeToString())
    with pytest.raises(schema.SchemaError):
        schema.parse_sequence_example(b"\x01\x02not a proto")


def test_the_recording_id_is_written_when_given_and_optional_when_parsed(tmp_path):
    """Shards written before recording ids existed have none: both parsers give ``""`` for them."""
    arrays = _arrays()
    path = str(tmp_path / "two.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(_example(arrays, recording_id="video59").SerializeToString())
        writer.write(_example(arrays).SerializeToString())
    records = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
    assert [schema.parse_sequence_example(r, decode_images=False)["recording_id"] for r in records] == ["video59", ""]

    def parse(record):
        context, _ = tf.io.parse_single_sequence_example(record, context_features=schema.context_feature_spec())
        return context["recording_id"]

    assert list(tf.data.TFRecordDataset(path).map(parse).as_numpy_iterator()) == [b"video59", b""]

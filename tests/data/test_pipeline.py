"""tf.data pipeline over real TFRecord shards: windows, context, masks, augmentation, bad data."""

import numpy as np
import pytest
import tensorflow as tf
from mimamo_tf.testing.tiny_shards import tiny_video, write_dataset, write_shards

from mimamo_tf.data import pipeline, shards
from mimamo_tf.data.pipeline import PipelineConfig
from mimamo_tf.data.shards import DataError
from mimamo_tf.testing.window_reference import frame_windows
from mimamo_tf.testing.window_reference import nearest_face_by_definition


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("shards")
    videos = write_dataset(directory)
    return directory, {v["video_id"]: v for v in videos}


def _elements(dataset):
    for batch in dataset:
        batch = {k: v.numpy() for k, v in batch.items()}
        for i in range(len(batch["labels"])):
            yield {k: v[i] for k, v in batch.items()}


@pytest.mark.parametrize("overlap", [0.0, 0.5])
def test_evaluation_windows_cover_every_frame_once_with_clamped_context(dataset_dir, overlap):
    """Evaluation windows (tiled, or overlapping by half): inputs with clamped context and nearest-face
    filling, and labels, weights and face flags that count only on the frames the window predicts
    (the window with the nearest centre, window_reference), so every frame counts exactly once."""
    directory, videos = dataset_dir
    config = PipelineConfig(window=8, batch_size=3, context=6, window_overlap=overlap)
    files = shards.split_shards(directory, "train")
    covered = {}
    for e in _elements(pipeline.make_dataset(files, config, training=False)):
        video = videos[e["video_id"].decode()]
        length = len(video["gray48"])
        assert e["num_frames"] == length and e["fps"] == pytest.approx(video["fps"])  # evaluate's plots: seconds
        starts, owner = frame_windows(length, 8, overlap)
        assert e["start"] in starts
        frames = np.arange(e["start"], e["start"] + 8)
        inside = frames < length
        clamped = np.minimum(frames, length - 1)
        counted = inside & (owner[clamped] == e["start"])
        np.testing.assert_array_equal(e["owned"], counted)
        expected_weight = np.where(counted, video["label_valid"][clamped] * video["face_found"][clamped], 0)
        np.testing.assert_array_equal(e["labels"][:, 2], expected_weight)
        np.testing.assert_array_equal(e["face_found"], np.where(counted, video["face_found"][clamped], 0))
        np.testing.assert_array_equal(e["label_valid"], np.where(counted, video["label_valid"][clamped], 0))
        np.testing.assert_array_equal(e["labels"][:, 3:5], np.stack([e["label_valid"], e["face_found"]], -1))
        np.testing.assert_allclose(e["labels"][inside, 0], video["arousal"][frames[inside]])
        np.testing.assert_allclose(e["labels"][inside, 1], video["valence"][frames[inside]])
        # Inputs of frames without a face come from the nearest frame with one.
        source = nearest_face_by_definition(video["face_found"])
        context = np.clip(np.arange(e["start"] - 6, e["start"] + 14), 0, length - 1)
        np.testing.assert_allclose(e["gray48"], video["gray48"][source[context]] / 255.0, atol=1e-6)
        np.testing.assert_allclose(e["spatial_features"][inside],
                                   video["spatial_features"][source[frames[inside]]].astype(np.float16), rtol=1e-3)
        for f in frames[counted]:
            covered[(e["video_id"].decode(), f)] = covered.get((e["video_id"].decode(), f), 0) + 1
    expected = {(v, f) for v in ("v0", "v1", "v2", "v3") for f in range(len(videos[v]["gray48"]))}
    assert set(covered) == expected and set(covered.values()) == {1}


def test_training_windows_stride_and_sequence_consistent_flip(dataset_dir):
    directory, videos = dataset_dir
    config = PipelineConfig(window=8, stride=4, batch_size=2, context=6, crop_fraction=1.0, seed=3)
    files = shards.split_shards(directory, "train")
    flips = []
    starts = set()
    for e in _elements(pipeline.make_dataset(files, config, training=True)):
        video = videos[e["video_id"].decode()]
        length = len(video["gray48"])
        starts.add((e["video_id"].decode(), int(e["start"])))
        context = np.clip(np.arange(e["start"] - 6, e["start"] + 14), 0, length - 1)
        original = video["gray48"][nearest_face_by_definition(video["face_found"])[context]] / 255.0
        same = np.allclose(e["gray48"], original, atol=1e-6)
        mirrored = np.allclose(e["gray48"], original[:, :, ::-1], atol=1e-6)
        assert same != mirrored  # every frame flipped, or none
        flips.append(mirrored)
    assert 0 < np.mean(flips) < 1  # both happen
    expected = set()
    for v in ("v0", "v1", "v2", "v3"):
        last = max(len(videos[v]["gray48"]) - 8, 0)
        # Every 4th frame, plus the window ending at the video's last frame (the tail).
        expected |= {(v, s) for s in sorted(set(range(0, last + 1, 4)) | {last})
                     if videos[v]["face_found"][s:s + 8].any()}
    # drop_remainder may drop one partial batch of windows
    assert len(expected - starts) <= 1 and starts <= expected


def test_random_crop_is_identical_across_the_window(dataset_dir):
    directory, _ = dataset_dir
    config = PipelineConfig(window=8, stride=8, batch_size=1, context=0, spatial_input=None, crop_fraction=0.85, seed=1)
    still = tiny_video("still", 12, 0)
    still["gray48"] = np.repeat(still["gray48"][:1], 12, axis=0)  # the same frame throughout
    files = write_shards(directory / "still", "train", [still])
    for e in _elements(pipeline.make_dataset(files, config, training=True)):
        # The same crop of the same frame gives the same image in every frame of the window.
        np.testing.assert_array_equal(e["gray48"], np.repeat(e["gray48"][:1], 8, axis=0))
        assert not np.allclose(e["gray48"][0], still["gray48"][0] / 255.0, atol=1e-3)  # it was cropped


def test_training_crops_include_the_test_time_face_scale(dataset_dir):
    """Issue 27: a fixed 0.85 crop enlarged every training face x1.18, so the temporal stream saw 18%
    larger motion than at test (no crop). The crop side is drawn from [crop_fraction, 1]: measured
    on a 16-pixel square, some windows see it at its own size, none beyond x1/0.85, and the scales
    spread over the range (mean ~0.925)."""
    directory, _ = dataset_dir
    frames = 60
    still = tiny_video("square", frames, 0)
    square = np.full((48, 48), 20, np.uint8)
    square[16:32, 16:32] = 235
    still["gray48"] = np.repeat(square[None], frames, axis=0)
    still["face_found"][:] = 1
    files = write_shards(directory / "square", "train", [still])
    config = PipelineConfig(window=1, stride=1, batch_size=1, context=0, spatial_input=None, crop_fraction=0.85,
                            seed=2, shuffle_buffer=1)
    scales = []
    for e in _elements(pipeline.make_dataset(files, config, training=True)):
        side = np.sqrt((np.asarray(e["gray48"]) > 0.5).sum())  # the enlarged square's side, in pixels
        scales.append(16.0 / side)
    scales = np.array(scales)
    assert len(scales) == frames
    assert scales.max() > 0.97  # the test-time scale is trained on
    assert scales.min() > 0.85 - 0.02
    assert 0.9 < scales.mean() < 0.95 and scales.std() > 0.02


def test_video_level_elements(tmp_path):
    videos = [tiny_video(f"u{i}", 15 + 5 * i, i, label_level="video") for i in range(3)]
    files = write_shards(tmp_path, "train", videos)
    config = PipelineConfig(window=4, batch_size=3, context=6, label_level="video")
    batch = next(iter(pipeline.make_dataset(files, config, training=False)))
    assert batch["gray48"].shape == (3, 4, 13, 48, 48)
    np.testing.assert_allclose(batch["labels"].numpy()[:, :2], [[v["video_arousal"], v["video_valence"]] for v in videos], atol=1e-6)
    np.testing.assert_array_equal(batch["labels"].numpy()[:, 2], 1.0)


def test_bad_data_directories_raise_clear_errors(tmp_path, dataset_dir):
    directory, _ = dataset_dir
    with pytest.raises(DataError, match="does not exist"):
        shards.split_shards(tmp_path / "missing", "train")
    with pytest.raises(DataError, match="no 'test-NNNNN-of-NNNNN.tfrecord' shards"):
        shards.split_shards(directory, "test")
    # A shard written by another schema version is named.
    old = tmp_path / "old"
    old.mkdir()
    example = tf.train.SequenceExample()
    example.context.feature["schema_version"].int64_list.value.append(99)
    path = old / "train-00000-of-00001.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(example.SerializeToString())
    with pytest.raises(DataError, match=r"train-00000-of-00001.tfrecord does not follow schema version"):
        shards.check_shards([str(path)], PipelineConfig())
    # Stored features requested but absent.
    bare = write_shards(tmp_path / "bare", "train", [tiny_video("b", 5, 0, spatial_dim=0)])
    with pytest.raises(DataError, match="no spatial_features"):
        shards.check_shards(bare, PipelineConfig(spatial_input="features"))


@pytest.mark.parametrize("mask", [
    [0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0], [1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1],
    list(np.random.default_rng(4).integers(0, 2, 200)),
])
def test_nearest_face_frame_equals_its_numpy_definition(mask):
    got = pipeline.nearest_face_frames(tf.constant(mask, tf.int64)).numpy()
    np.testing.assert_array_equal(got, nearest_face_by_definition(mask))


@pytest.mark.parametrize("length, expected", [(150, [0, 32, 64, 86]), (128, [0, 32, 64]), (20, [0]), (64, [0])])
def test_training_windows_reach_the_last_frame(length, expected):
    # A 150-frame video used to train only on frames 0-127: the tail window now ends at frame 149.
    starts = pipeline.window_starts(tf.constant(length), 64, 32).numpy()
    assert starts.tolist() == expected


def test_predictions_do_not_depend_on_what_a_faceless_gap_contains(tmp_path):
    from mimamo_tf.config import ModelConfig
    from mimamo_tf.models import build_mimamo_net

    rng = np.random.default_rng(0)
    video = tiny_video("gap", 30, 1)
    video["face_found"][:] = 1
    gap = slice(12, 17)  # 5 frames without a face
    video["face_found"][gap] = 0
    black, noisy = dict(video), dict(video)
    for key in ("gray48", "rgb224", "spatial_features"):
        black[key], noisy[key] = video[key].copy(), video[key].copy()
        black[key][gap] = 0
        noisy[key][gap] = rng.uniform(0, 255, noisy[key][gap].shape).astype(video[key].dtype)
    model = build_mimamo_net(ModelConfig())
    config = PipelineConfig(window=8, batch_size=4, context=6, window_overlap=0.0)
    outputs = []
    for name, content in (("black", black), ("noisy", noisy)):
        files = write_shards(tmp_path / name, "validation", [content])
        batches = list(pipeline.make_dataset(files, config, training=False))
        outputs.append(np.concatenate([
            model({k: b[k] for k in pipeline.model_input_keys(config)}, training=False).numpy() for b in batches]))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    # ...and the inputs of the gap are real faces: the nearest ones.
    batch = next(iter(pipeline.make_dataset(write_shards(tmp_path / "check", "validation", [noisy]), config, training=False)))
    window = batch["gray48"].numpy()[1]  # frames 8-15 with 6 context frames: index i is frame i + 2
    np.testing.assert_allclose(window[12 - 2], video["gray48"][11] / 255.0, atol=1e-6)
    np.testing.assert_allclose(window[16 - 2], video["gray48"][17] / 255.0, atol=1e-6)


def test_crop_and_flip_are_the_same_for_rgb_and_gray_frames(tmp_path):
    import cv2

    video = tiny_video("marker", 12, 0)
    video["face_found"][:] = 1
    # An asymmetric bright square on black, drawn at the same relative place in both images.
    gray = np.zeros((12, 48, 48), np.uint8)
    gray[:, 8:16, 6:14] = 255
    video["gray48"] = gray
    video["rgb224"] = np.stack([np.repeat(cv2.resize(g, (224, 224), interpolation=cv2.INTER_NEAREST)[..., None], 3, -1)
                                for g in gray])
    files = write_shards(tmp_path, "train", [video] * 8)
    config = PipelineConfig(window=4, stride=4, batch_size=1, context=6, spatial_input="images", seed=5)

    def centre(image):  # centroid in coordinates relative to the image side
        rows, cols = np.indices(image.shape)
        return np.array([np.sum((rows + 0.5) * image), np.sum((cols + 0.5) * image)]) / image.sum() / len(image)

    flipped = []
    for e in _elements(pipeline.make_dataset(files, config, training=True)):
        for t in range(4):
            gray_centre = centre(e["gray48"][t + 6])
            rgb_centre = centre(e["rgb224"][t, ..., 0])
            # The crop offsets round to whole pixels of each size: at most ~1 gray pixel apart.
            np.testing.assert_allclose(gray_centre, rgb_centre, atol=1.5 / 48)
        flipped.append(gray_centre[1] > 0.5)
    assert 0 < np.mean(flipped) < 1  # both flips happened, identically for both images


def test_windowed_optical_flow_snippets_equal_those_of_the_whole_video(tmp_path):
    from mimamo_tf.phase.optical_flow import optical_flow_pairs
    from mimamo_tf.testing.flow_reference import flow_snippet

    video = tiny_video("flow", 23, 2)
    files = write_shards(tmp_path, "validation", [video])
    config = PipelineConfig(window=8, batch_size=4, context=6, temporal_input="optical_flow", spatial_input=None)
    windows = [e for e in _elements(pipeline.make_dataset(files, config, training=False))]
    gray = video["gray48"][nearest_face_by_definition(video["face_found"])]
    whole = optical_flow_pairs(gray, "farneback", sizes=(48, 24))  # (T - 1, 2, s, s) per scale
    length = len(gray)
    for e in windows:
        for i in range(8):
            t = int(e["start"]) + i
            if t >= length:
                continue
            for key, flow in (("flow48", whole[0]), ("flow24", whole[1])):
                np.testing.assert_allclose(e[key][i], flow_snippet(flow, t), atol=1e-5)


def test_shards_of_different_backbones_are_refused_naming_both(tmp_path):
    import json

    from mimamo_tf.data import shards

    videos = [tiny_video(f"b{i}", 10, i, spatial_dim=16) for i in range(2)]
    files = write_shards(tmp_path, "train", videos, num_shards=2)
    for path, spec, digest in zip(files, ("fer_mini_xception", "resnet50:none"), ("ab" * 32, "cd" * 32)):
        sidecar = tmp_path / shards.sidecar_name(path.rsplit("/", 1)[1])
        sidecar.write_text(json.dumps({"settings": {"spatial_backbone": {"spec": spec, "weights_sha256": digest}}}))
    with pytest.raises(DataError, match=r"different spatial backbones: .*train-00000-of-00002.tfrecord has features of "
                                        r"fer_mini_xception .*train-00001-of-00002.tfrecord of resnet50:none"):
        shards.check_shards(files, PipelineConfig(spatial_input="features"))
    info = shards.check_shards(files[:1], PipelineConfig(spatial_input="features"))
    assert info["spatial_feature_dim"] == 16 and info["spatial_backbone"].startswith("fer_mini_xception")
    with pytest.raises(DataError, match="spatial features are 16-d, the configuration expects 2048"):
        shards.check_shards(files[:1], PipelineConfig(spatial_input="features", spatial_dim=2048))

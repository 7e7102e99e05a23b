"""Video-level (OMG) sampling as the paper's "Sampling" paragraph says, against an oracle that
recomputes the sampled frames from time stamps: one snippet per second from a random start in
training (deterministic in seed and epoch, every frame used over the epochs), the middle of each
second for evaluation, faceless utterances with weight 0."""

import dataclasses
import math

import numpy as np
import pytest
import tensorflow as tf
from mimamo_tf.testing.tiny_shards import tiny_video, write_shards

from mimamo_tf.data import pipeline, shards
from mimamo_tf.data.pipeline import PipelineConfig
from mimamo_tf.training.inputs import epoch_seed
from mimamo_tf.testing.window_reference import nearest_face_by_definition


def oracle_frames(num_frames, fps, offset, block_position, window):
    """The sampled frames from time stamps: sample k is at ``offset * min(1 s, duration) + k`` seconds;
    its frame is the one on screen then (frame j shows during [j / fps, (j + 1) / fps)). Of more than
    ``window`` samples, the block starting at ``floor(block_position * (count - window + 1))``."""
    duration = num_frames / fps
    times = []
    t = offset * min(1.0, duration)
    while t < duration - 1e-12:
        times.append(t)
        t += 1.0
    frames = [min(int(math.floor(time * fps + 1e-9)), num_frames - 1) for time in times]
    first = int(math.floor(block_position * (max(len(frames) - window, 0) + 1)))
    kept = frames[first:first + window]
    padded = [kept[j % len(kept)] for j in range(window)]
    return padded, [1.0 if j < len(kept) else 0.0 for j in range(window)]


@pytest.mark.parametrize("num_frames,fps", [(1, 30.0), (20, 30.0), (30, 30.0), (31, 30.0), (95, 29.97),
                                            (250, 25.0), (120, 24.0), (400, 30.0), (7, 12.5)])
@pytest.mark.parametrize("offset,block", [(0.0, 0.0), (0.5, 0.5), (0.37, 0.9), (0.999, 0.2)])
def test_sampled_frames_equal_the_time_stamp_oracle(num_frames, fps, offset, block):
    window = 8
    frames, mask = pipeline.utterance_sample_frames(tf.constant(num_frames), tf.constant(fps, tf.float32),
                                                    tf.constant(offset, tf.float64), tf.constant(block, tf.float64),
                                                    window)
    expected_frames, expected_mask = oracle_frames(num_frames, fps, offset, block, window)
    np.testing.assert_array_equal(frames.numpy(), expected_frames)
    np.testing.assert_array_equal(mask.numpy(), expected_mask)


def _utterances(tmp_path, lengths, fps=30.0, faceless=(), every_frame_a_face=False):
    videos = []
    for i, length in enumerate(lengths):
        video = tiny_video(f"clip{i % 2}/utt{i}", length, i, label_level="video", spatial_dim=4)
        video["fps"] = fps
        if every_frame_a_face:
            video["face_found"] = np.ones(length, np.int64)
        if i in faceless:
            video["face_found"] = np.zeros(length, np.int64)
        videos.append(video)
    return write_shards(tmp_path, "train", videos), videos


def _by_id(dataset):
    out = {}
    for batch in dataset:
        for i, video_id in enumerate(batch["video_id"].numpy()):
            out[video_id.decode()] = {k: v.numpy()[i] for k, v in batch.items()}
    return out


def test_evaluation_samples_the_middle_of_each_second_with_the_neighbourhoods(tmp_path):
    files, videos = _utterances(tmp_path, [17, 70, 100], fps=25.0)
    config = PipelineConfig(window=3, batch_size=3, context=6, label_level="video", spatial_input="features")
    elements = _by_id(pipeline.make_dataset(files, config, training=False))
    for video in videos:
        got = elements[video["video_id"]]
        length = len(video["gray48"])
        frames, mask = oracle_frames(length, 25.0, pipeline.EVALUATION_OFFSET, pipeline.EVALUATION_OFFSET, 3)
        np.testing.assert_array_equal(got["sample_mask"], mask)
        # Each sampled frame with 6 neighbours per side, clamped; faceless frames filled from the nearest face.
        around = np.clip(np.array(frames)[:, None] + np.arange(-6, 7)[None], 0, length - 1)
        source = nearest_face_by_definition(video["face_found"])
        np.testing.assert_allclose(got["gray48"], video["gray48"][source[around]] / 255.0, atol=1e-6)
        np.testing.assert_allclose(got["spatial_features"], video["spatial_features"][source[frames]], atol=2e-3)
        np.testing.assert_allclose(got["labels"][:2], [video["video_arousal"], video["video_valence"]], atol=1e-6)


def test_evaluation_samples_are_the_frames_on_screen_at_the_middle_of_each_second(tmp_path):
    """Written as literals, not from ``EVALUATION_OFFSET`` (a test built from it passes whatever it is):
    at 25 frames/s, the middle of second k (k + 0.5 s) is frame floor(25 k + 12.5); a 17-frame
    utterance, shorter than a second, is sampled at the middle of its duration (frame 8); a 100-frame
    one has 4 seconds, and of more seconds than ``--window`` (3) evaluation keeps the central block."""
    files, videos = _utterances(tmp_path, [17, 70, 100], fps=25.0, every_frame_a_face=True)
    config = PipelineConfig(window=3, batch_size=3, context=6, label_level="video", spatial_input="features")
    elements = _by_id(pipeline.make_dataset(files, config, training=False))
    expected = {17: ([8], [1.0, 0.0, 0.0]), 70: ([12, 37, 62], [1.0, 1.0, 1.0]), 100: ([37, 62, 87], [1.0, 1.0, 1.0])}
    for video in videos:
        element = elements[video["video_id"]]
        stored = video["spatial_features"].astype(np.float16).astype(np.float32)
        rows = element["spatial_features"][element["sample_mask"] > 0]
        frames, mask = expected[len(video["gray48"])]
        assert [int(np.argmin(np.abs(stored - row).sum(1))) for row in rows] == frames
        np.testing.assert_array_equal(element["sample_mask"], mask)


@pytest.mark.slow  # several seconds (make test-fast stays under a minute)
def test_training_offsets_are_drawn_per_epoch_and_reproducible_and_use_every_frame(tmp_path):
    fps, lengths = 3.0, [11, 2]  # with 3 frames per second each start has a 1 in 3 chance per epoch
    files, videos = _utterances(tmp_path, lengths, fps=fps, every_frame_a_face=True)
    config = PipelineConfig(window=4, batch_size=1, context=1, label_level="video", spatial_input="features")

    def sampled(epoch):
        # Which frames were sampled, read back from their stored features (unique per frame and not
        # augmented).
        epoch_config = dataclasses.replace(config, seed=epoch_seed(0, epoch))
        elements = _by_id(pipeline.make_dataset(files, epoch_config, training=True))
        out = {}
        for video in videos:
            element = elements[video["video_id"]]
            stored = video["spatial_features"].astype(np.float16).astype(np.float32)
            rows = element["spatial_features"][element["sample_mask"] > 0]
            out[video["video_id"]] = [int(np.argmin(np.abs(stored - row).sum(1))) for row in rows]
        return out

    first, again = sampled(0), sampled(0)
    assert first == again  # deterministic given seed and epoch: a resumed epoch sees the same samples
    used = {v["video_id"]: set() for v in videos}
    starts = set()
    for epoch in range(10):
        frames = sampled(epoch)
        for video in videos:
            got = frames[video["video_id"]]
            # One sample per second (3 frames apart), from a start within the first second.
            assert all(b - a == fps for a, b in zip(got, got[1:])), got
            assert 0 <= got[0] < min(fps, len(video["gray48"]))
            used[video["video_id"]].update(got)
        starts.add(frames[videos[0]["video_id"]][0])
    assert starts == set(range(int(fps)))  # the start moves from epoch to epoch, over the whole first second
    for video, length in zip(videos, lengths):
        assert used[video["video_id"]] == set(range(length)), sorted(set(range(length)) - used[video["video_id"]])


def test_an_utterance_without_a_face_has_weight_zero_and_is_not_trained_on(tmp_path):
    files, videos = _utterances(tmp_path, [20, 25, 30], faceless=(1,))
    config = PipelineConfig(window=2, batch_size=1, context=1, label_level="video")
    evaluated = _by_id(pipeline.make_dataset(files, config, training=False))
    faceless = videos[1]["video_id"]
    assert evaluated[faceless]["labels"][2] == 0.0 and evaluated[faceless]["face_found"] == 0
    assert all(evaluated[v["video_id"]]["labels"][2] == 1.0 for v in videos if v["video_id"] != faceless)
    trained = _by_id(pipeline.make_dataset(files, config, training=True))
    assert sorted(trained) == sorted(v["video_id"] for v in videos if v["video_id"] != faceless)
    assert shards.faceless_video_ids(files) == [faceless]


def test_video_level_optical_flow_snippets_equal_those_of_the_whole_utterance(tmp_path):
    """Optical flow at video level: each sampled snippet is the whole utterance's flow snippet of that
    frame (slot k: the flow of pair (t - 6 + k, t - 5 + k), clamped; zero where the frames coincide)."""
    from mimamo_tf.phase.optical_flow import optical_flow_pairs
    from mimamo_tf.testing.flow_reference import flow_snippet

    files, videos = _utterances(tmp_path, [23], fps=8.0)
    config = PipelineConfig(window=4, batch_size=1, context=6, label_level="video", temporal_input="optical_flow",
                            spatial_input=None)
    element = _by_id(pipeline.make_dataset(files, config, training=False))[videos[0]["video_id"]]
    video = videos[0]
    gray = video["gray48"][nearest_face_by_definition(video["face_found"])]
    whole = optical_flow_pairs(gray, "farneback", sizes=(48, 24))
    length = len(gray)
    frames, mask = oracle_frames(length, 8.0, pipeline.EVALUATION_OFFSET, pipeline.EVALUATION_OFFSET, 4)
    np.testing.assert_array_equal(element["sample_mask"], mask)
    for slot, t in enumerate(frames):
        for key, flow in (("flow48", whole[0]), ("flow24", whole[1])):
            np.testing.assert_allclose(element[key][slot], flow_snippet(flow, t), atol=1e-5)

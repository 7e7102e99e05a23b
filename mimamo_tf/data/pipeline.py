"""tf.data input pipelines: TFRecord shards -> windows of frames -> model inputs and masked labels.

Every element is a dict. Model inputs use the names of ``mimamo_tf.models.model_inputs``:
``gray48`` (window + 2 * context frames, 48, 48) float in [0, 1], ``spatial_features`` (window, D)
or ``rgb224`` (window, 224, 224, 3), ``flow48``/``flow24`` snippets for the optical-flow ablation,
and at video level ``sample_mask``. Targets: ``labels`` (window, 6), the columns of
``LABEL_COLUMNS``: arousal, valence, the loss weight (1 for frames with a face and a valid label, 0
for the rest, including padding past the video's end) — the layout ``MaskedCCCLoss`` reads — then
``label_valid``, ``face_found`` and ``video_face_found`` (the video has a face somewhere), from
which validation computes the official CCC as ``evaluate`` does (``mimamo_tf.ccc.validation_cccs``).
Bookkeeping for evaluation: ``video_id``, ``start`` (index of the window's first frame),
``num_frames``, ``owned`` (1 on the frames whose prediction this window gives), ``face_found`` and
``label_valid``; frame level also ``fps`` (the video's frame rate: ``evaluate --plots`` draws
seconds).

Frame-level datasets are cut into windows of ``window`` frames: with ``stride`` for training (the
paper: 64 frames, stride 32); for evaluation overlapping by ``window_overlap`` of a window, each
window predicting the frames nearest its centre (``mimamo_tf.window_plan``): its labels, loss weight
and face flags count only on those (``owned``), so every frame is scored exactly once. Each window
brings ``context`` extra gray frames per side, clamped at the video's ends, so snippets at window
borders see the real neighbouring frames.

Video-level datasets (OMG) give one element per utterance, sampled as the paper did: one snippet per
second of the utterance (at its fps), starting at a random offset in [0, 1 s) drawn per utterance and
epoch in training (so every frame is used over the epochs), at the middle of each second for
evaluation (``utterance_sample_frames``). At most ``window`` snippets: a longer utterance gives a
block of ``window`` consecutive seconds (random in training, central for evaluation). Elements have
exactly ``window`` snippets; ``sample_mask`` marks the real ones (the rest repeat them, so
BatchNormalization sees real faces) and the model averages over those alone. An utterance without
any face has loss weight 0: training leaves it out, evaluation predicts it from the others.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from mimamo_tf import window_plan
from mimamo_tf.config import DataConfig, ModelConfig, RuntimeConfig
from mimamo_tf.data import schema
from mimamo_tf.phase.optical_flow import optical_flow_pairs
from mimamo_tf.phase.snippets import snippet_source_indices

# The columns of ``labels``: the targets, the loss weight, and what the official CCC needs.
LABEL_COLUMNS = ("arousal", "valence", "weight", "label_valid", "face_found", "video_face_found")
# Evaluation samples an utterance at the middle of each second, and a long one in its middle
# block: the mean of the training draws.
EVALUATION_OFFSET = 0.5
# Per-frame image inputs that a frame without a face takes from its nearest frame with a face.
_FILLED_KEYS = ("gray48", "rgb224", "spatial_features")


@dataclasses.dataclass
class PipelineConfig:
    """How to turn shards into batches.

    Attributes:
        window: frames per window (and per sampled utterance at video level).
        stride: training window stride.
        window_overlap: overlap of evaluation windows, a fraction of ``window``
            (``mimamo_tf.window_plan``).
        batch_size: windows per batch (global batch under a distribution strategy).
        context: extra gray frames per side (``snippet_length // 2``; 0 without a phase stream).
        temporal_input: ``"phase_difference"``, ``"phase"``, ``"optical_flow"`` or None.
        snippet_length: snippet length for optical-flow snippets.
        spatial_input: ``"features"``, ``"images"`` or None.
        label_level: ``"frame"`` or ``"video"``.
        crop_fraction: the smallest side of the random training crop relative to the frame (the side
            is drawn from ``[crop_fraction, 1]``).
        shuffle_buffer: windows in the training shuffle buffer.
        seed: shuffling/augmentation seed.
        spatial_dim: width of the stored spatial features (0: whatever the shards hold).
        gamma_beta: the paper's illumination corruption: every frame ``u`` (in [0, 1]) becomes
            ``u ** g``, ``g ~ U[1 - beta, 1 + beta]`` drawn per video frame (0: off). Applies to the
            images the pipeline feeds (gray frames, RGB faces), not to stored spatial features.
    """

    # Defaults are the experiment config's (``mimamo_tf.config``, their one owner); a run builds
    # this view with ``pipeline_config``.
    window: int = DataConfig.window
    stride: int = DataConfig.stride
    window_overlap: float = DataConfig.window_overlap
    batch_size: int = DataConfig.batch_size
    context: int = ModelConfig.snippet_length // 2
    temporal_input: str = ModelConfig.temporal_input
    snippet_length: int = ModelConfig.snippet_length
    spatial_input: str = ModelConfig.spatial_input
    label_level: str = ModelConfig.label_level
    crop_fraction: float = DataConfig.crop_fraction
    shuffle_buffer: int = DataConfig.shuffle_buffer
    seed: int = RuntimeConfig.seed
    spatial_dim: int = 0
    gamma_beta: float = 0.0


def pipeline_config(config, **overrides):
    """The pipeline's view of an ``ExperimentConfig`` (plus ``overrides`` of ``PipelineConfig`` fields).

    Context frames: the snippets of a window's first and last frames need ``snippet_length // 2``
    gray frames beyond each end, for phase input and for optical flow (computed from those frames).
    """
    model, data = config.model, config.data
    values = dict(
        window=data.window, stride=data.stride, window_overlap=data.window_overlap, batch_size=data.batch_size,
        context=model.snippet_length // 2 if model.uses_temporal else 0,
        temporal_input=model.temporal_input if model.uses_temporal else None,
        snippet_length=model.snippet_length,
        spatial_input=model.spatial_input if model.uses_spatial else None,
        label_level=model.label_level, crop_fraction=data.crop_fraction,
        shuffle_buffer=data.shuffle_buffer, seed=config.runtime.seed,
        spatial_dim=model.spatial_feature_dim,
    )
    values.update(overrides)
    return PipelineConfig(**values)


def _parse(serialized, config):
    context, sequence = tf.io.parse_single_sequence_example(
        serialized,
        context_features=schema.context_feature_spec(),
        sequence_features=schema.sequence_feature_spec(config.spatial_input == "features"),
    )
    tf.debugging.assert_equal(
        context["schema_version"], tf.constant(schema.SCHEMA_VERSION, tf.int64),
        message=f"shard of another schema version (this code reads version {schema.SCHEMA_VERSION})",
    )
    video = schema.decode_parsed(context, sequence, decode_rgb=config.spatial_input == "images")
    return fill_faceless_frames(video)


def nearest_face_frames(face_found):
    """For every frame, the index of the nearest frame with a face (itself if it has one; the earlier
    one on a tie). A video without any face maps every frame to itself.

    In-graph twin of ``mimamo_tf.window_plan.nearest_face_frames`` (the NumPy one inference uses).
    """
    length = tf.shape(face_found, out_type=tf.int64)[0]
    frames = tf.range(length)
    with_face = tf.where(face_found > 0)[:, 0]
    count = tf.shape(with_face, out_type=tf.int64)[0]

    def nearest():
        after = tf.minimum(tf.searchsorted(with_face, frames, side="left", out_type=tf.int64), count - 1)
        before = tf.maximum(after - 1, 0)
        next_face, previous_face = tf.gather(with_face, after), tf.gather(with_face, before)
        use_previous = tf.abs(frames - previous_face) <= tf.abs(next_face - frames)
        return tf.where(use_previous, previous_face, next_face)

    return tf.cond(count > 0, nearest, lambda: frames)


def fill_faceless_frames(video):
    """Gives every frame without a face the image inputs of its nearest frame with a face.

    A no-face frame is stored black. Fed as it is, it would pass through the spatial MLP, BatchNorm
    and the BiGRU and shift the predictions of its neighbours, and its phase differences would be a
    flash. Filled, a gap is a still face: zero phase differences within it, and a real prediction
    for every frame, as the benchmarks' scorers require. Labels and masks are not touched
    (``face_found`` stays 0, so the loss still ignores the frame). ``source_frame`` records where
    each frame's inputs came from, ``video_face_found`` whether the video has a face at all.
    """
    source = nearest_face_frames(video["face_found"])
    video = dict(video)
    video["source_frame"] = source
    video["video_face_found"] = tf.reduce_any(video["face_found"] > 0)
    for key in _FILLED_KEYS:
        if key in video:
            video[key] = tf.gather(video[key], source)
    return video


def _frame_weights(video):
    return tf.cast(video["label_valid"] * video["face_found"], tf.float32)


def _gamma_corrupt(frames, video, frame_index, beta):
    """``u ** g`` per frame with ``g ~ U[1 - beta, 1 + beta]``, the same for a given video frame in
    every window that contains it (stateless, seeded by video id and frame index). A frame filled
    from its nearest face frame gets that frame's gamma: the corruption belongs to the recorded
    image, and a gap stays a still face."""
    frame_index = tf.gather(video["source_frame"], frame_index)  # any shape: (T,) or (N, 2c + 1)
    video_seed = tf.strings.to_hash_bucket_fast(video["video_id"], 2**31 - 1)
    gammas = tf.map_fn(
        lambda i: tf.random.stateless_uniform([], tf.stack([video_seed, i]), 1 - beta, 1 + beta),
        tf.reshape(tf.cast(frame_index, tf.int64), [-1]), fn_output_signature=tf.float32,
    )
    image_rank = len(frames.shape) - len(frame_index.shape)
    gammas = tf.reshape(gammas, tf.concat([tf.shape(frame_index), tf.ones([image_rank], tf.int32)], 0))
    corrupted = tf.pow(tf.cast(frames, tf.float32) / 255.0, gammas)
    return tf.cast(tf.round(corrupted * 255.0), tf.uint8)


def _window(video, start, config, owned=None):
    """One window of ``config.window`` frames starting at ``start`` (padded past the end of a video shorter than a window).

    ``owned``: ``(first, end)``, the frames whose prediction this window gives (an evaluation
    window); None: all of its frames in the video (a training window).
    """
    length = tf.shape(video["gray48"])[0]
    frames = tf.range(start, start + config.window)
    counted = frames < length
    if owned is not None:
        counted &= (frames >= owned[0]) & (frames < owned[1])
    frames = tf.minimum(frames, length - 1)
    weights = tf.where(counted, tf.gather(_frame_weights(video), frames), 0.0)
    # Kept apart (the loss weight is their product): the official scorers count every frame with a
    # valid label, with or without a face.
    face_found = tf.where(counted, tf.gather(video["face_found"], frames), 0)
    label_valid = tf.where(counted, tf.gather(video["label_valid"], frames), 0)
    video_face = tf.fill([config.window], tf.cast(video["video_face_found"], tf.float32))
    element = {
        "labels": tf.stack([tf.gather(video["arousal"], frames), tf.gather(video["valence"], frames), weights,
                            tf.cast(label_valid, tf.float32), tf.cast(face_found, tf.float32), video_face], -1),
        "video_id": video["video_id"],
        "start": start,
        "num_frames": length,
        "fps": video["fps"],
        "owned": tf.cast(counted, tf.int32),
        "face_found": face_found,
        "label_valid": label_valid,
    }
    if config.temporal_input:
        # Context frames at both ends, clamped: repeated frames give the clamped snippets.
        with_context = tf.clip_by_value(tf.range(start - config.context, start + config.window + config.context), 0, length - 1)
        element["gray48"] = tf.gather(video["gray48"], with_context)
        if config.temporal_input == "optical_flow":
            element["gray48_frames"] = with_context  # which pairs are a frame with itself
        if config.gamma_beta:
            element["gray48"] = _gamma_corrupt(element["gray48"], video, with_context, config.gamma_beta)
    if config.spatial_input == "features":
        element["spatial_features"] = tf.gather(video["spatial_features"], frames)
    elif config.spatial_input == "images":
        element["rgb224"] = tf.gather(video["rgb224"], frames)
        if config.gamma_beta:
            element["rgb224"] = _gamma_corrupt(element["rgb224"], video, frames, config.gamma_beta)
    return _static_shapes(element, config, config.window)


def _static_shapes(element, config, steps):
    """Fixes the shapes a window always has (decoded bytes lose them)."""
    shapes = {
        "labels": [steps, len(LABEL_COLUMNS)] if config.label_level == "frame" else [len(LABEL_COLUMNS)],
        "sample_mask": [steps],
        "spatial_features": [steps, config.spatial_dim or None],
        "rgb224": [steps, 224, 224, 3],
        "gray48": ([steps + 2 * config.context, 48, 48] if config.label_level == "frame"
                   else [steps, 2 * config.context + 1, 48, 48]),
    }
    for key, shape in shapes.items():
        if key in element:
            element[key] = tf.ensure_shape(element[key], shape)
    return element


def utterance_sample_frames(num_frames, fps, offset, block_position, window):
    """The frames an utterance is sampled at: one per second, from ``offset`` into the first second.

    Sample ``k`` is the frame at time ``offset * span + k`` seconds, ``span`` one second or the whole
    utterance if it is shorter (so there is always a sample), while inside the utterance. Of more than
    ``window`` samples, the block of ``window`` consecutive ones that starts at
    ``floor(block_position * (count - window + 1))`` is kept. The result always has ``window``
    entries: the ``count`` real ones, then repeats of them (``mask`` 0).

    NumPy reference: the oracle of ``tests/data/test_utterance_sampling.py``.

    Args:
        num_frames: the utterance's frames (int scalar tensor, >= 1).
        fps: its frame rate.
        offset, block_position: in [0, 1); random per utterance and epoch in training,
            ``EVALUATION_OFFSET`` for evaluation.
        window: the most samples (``--window``).

    Returns:
        ``(frames int32 (window,), mask float32 (window,))``.
    """
    length = tf.cast(num_frames, tf.float64)
    period = tf.maximum(tf.cast(fps, tf.float64), 1.0)  # frames per second
    start = tf.cast(offset, tf.float64) * tf.minimum(period, length)
    count = tf.cast(tf.math.ceil((length - start) / period), tf.int32)
    first = tf.cast(tf.floor(tf.cast(block_position, tf.float64) * tf.cast(tf.maximum(count - window, 0) + 1, tf.float64)),
                    tf.int32)
    kept = tf.minimum(count, window)
    k = first + tf.range(window) % kept
    frames = tf.cast(tf.floor(start + tf.cast(k, tf.float64) * period), tf.int32)
    mask = tf.cast(tf.range(window) < kept, tf.float32)
    return tf.minimum(frames, tf.cast(num_frames, tf.int32) - 1), mask


def _video_element(video, config, training):
    """Utterance-level element: one snippet per second (``utterance_sample_frames``) and the label."""
    length = tf.shape(video["gray48"])[0]
    if training:
        # Per utterance and epoch (``config.seed`` is the epoch's seed in training): a resumed epoch
        # draws the same offsets.
        video_seed = tf.strings.to_hash_bucket_fast(video["video_id"], 2**31 - 1)
        offset, position = tf.unstack(tf.random.stateless_uniform(
            [2], tf.stack([tf.cast(config.seed, tf.int64), video_seed]), dtype=tf.float64))
    else:
        offset = position = tf.constant(EVALUATION_OFFSET, tf.float64)
    frames, mask = utterance_sample_frames(length, video["fps"], offset, position, config.window)
    has_face = video["video_face_found"]
    face = tf.cast(has_face, tf.float32)
    label = tf.stack([video["video_arousal"], video["video_valence"], face, 1.0, face, face])
    element = {"labels": label, "video_id": video["video_id"], "start": 0, "num_frames": length,
               "face_found": tf.cast(has_face, tf.int64), "label_valid": tf.constant(1, tf.int64),
               "sample_mask": mask}
    if config.temporal_input:
        # Snippets of the sampled frames need their neighbours: gather each sampled frame's window.
        offsets = tf.range(-config.context, config.context + 1)
        around = tf.clip_by_value(frames[:, None] + offsets[None], 0, length - 1)
        element["gray48"] = tf.gather(video["gray48"], around)  # (window, 2 context + 1, 48, 48)
        if config.temporal_input == "optical_flow":
            element["gray48_frames"] = around
        if config.gamma_beta:
            element["gray48"] = _gamma_corrupt(element["gray48"], video, around, config.gamma_beta)
    if config.spatial_input == "features":
        element["spatial_features"] = tf.gather(video["spatial_features"], frames)
    elif config.spatial_input == "images":
        element["rgb224"] = tf.gather(video["rgb224"], frames)
        if config.gamma_beta:
            element["rgb224"] = _gamma_corrupt(element["rgb224"], video, frames, config.gamma_beta)
    return _static_shapes(element, config, config.window)


def _augment(element, config, seed):
    """Random crop + horizontal flip, the same for every frame of the window.

    The crop's side is drawn uniformly from ``[crop_fraction, 1]`` of the frame and resized back to
    it, so the face's scale at test time (the whole aligned face, 1.0) is one training sees: with a
    fixed crop every training face was enlarged ``1 / crop_fraction`` times (x1.18 at 0.85) and the
    temporal stream saw 18% larger motion than at test.
    """
    flip = tf.random.stateless_uniform([], seed, dtype=tf.float32) < 0.5
    offsets = tf.random.stateless_uniform([2], seed + 1, dtype=tf.float32)
    scale = tf.random.stateless_uniform([], seed + 2, minval=config.crop_fraction, maxval=1.0, dtype=tf.float32)
    for key, size in (("gray48", 48), ("rgb224", 224)):
        if key not in element:
            continue
        frames = element[key]
        squeeze = key == "gray48"
        images = tf.cast(frames[..., None] if squeeze else frames, tf.float32)
        shape = tf.shape(images)
        images = tf.reshape(images, tf.concat([[-1], shape[-3:]], 0))  # any leading axes -> one
        crop = tf.cast(tf.round(scale * size), tf.int32)
        top = tf.cast(offsets[0] * tf.cast(size - crop, tf.float32), tf.int32)
        left = tf.cast(offsets[1] * tf.cast(size - crop, tf.float32), tf.int32)
        images = tf.image.resize(images[:, top : top + crop, left : left + crop], (size, size), antialias=True)
        images = tf.cond(flip, lambda: tf.reverse(images, axis=[2]), lambda: images)
        images = tf.reshape(images, shape)
        images = images[..., 0] if squeeze else images
        element[key] = tf.cast(tf.clip_by_value(tf.round(images), 0, 255), frames.dtype)
    return element


def _flow_snippets(element, config):
    """Optical-flow snippets of the window's frames (OpenCV, outside the graph)."""
    def compute(gray, frames):
        if gray.ndim == 4:
            # Video level: one neighbourhood of 2 context + 1 frames per sampled snippet.
            parts = [snippets_of(g, f) for g, f in zip(gray, frames)]
            return [np.concatenate([part[i] for part in parts]) for i in range(2)]
        return snippets_of(gray, frames)

    def snippets_of(gray, frames):
        maps = optical_flow_pairs(gray, "farneback", sizes=(48, 24))
        # A pair of a clamped frame with itself (context beyond the video's ends) has no motion:
        # exactly zero, as in the whole video's snippets (Farneback returns ~1e-5 noise for it).
        same = frames[1:] == frames[:-1]
        index = snippet_source_indices(len(gray), config.snippet_length, "pairs")
        out = []
        for scale in maps:
            scale[same] = 0.0
            padded = np.concatenate([scale, np.zeros((1,) + scale.shape[1:], np.float32)])
            snippets = padded[index][config.context : len(gray) - config.context]  # (T, L, 2, s, s)
            t, length, channels, s, _ = snippets.shape
            out.append(snippets.transpose(0, 3, 4, 2, 1).reshape(t, s, s, channels * length))
        return out

    flow48, flow24 = tf.numpy_function(compute, [element.pop("gray48"), element.pop("gray48_frames")],
                                       [tf.float32, tf.float32])
    channels = 2 * config.snippet_length
    element["flow48"] = tf.ensure_shape(flow48, [config.window, 48, 48, channels])
    element["flow24"] = tf.ensure_shape(flow24, [config.window, 24, 24, channels])
    return element


def _finalise(element):
    """uint8 -> float model inputs."""
    if "gray48" in element:
        element["gray48"] = tf.cast(element["gray48"], tf.float32) / 255.0
    if "rgb224" in element:
        element["rgb224"] = tf.cast(element["rgb224"], tf.float32)
    return element


def make_dataset(files, config, training, video_ids=None, repeat=False, record_limits=None):
    """Builds the dataset of batched element dicts.

    Args:
        files: shard paths (``split_shards``).
        config: ``PipelineConfig``.
        training: shuffle, stride windows, augment, drop the last partial batch.
        video_ids: optional collection of video ids to keep (cross-validation folds).
        repeat: repeat forever (training with ``steps_per_epoch``).
        record_limits: optional ``{shard path: n}``: read only the first ``n`` records of those
            shards (the readable part of a damaged shard, see ``readable_records``).

    Returns:
        A ``tf.data.Dataset`` of dicts (see the module docstring).
    """
    files = list(files)
    limits = [int((record_limits or {}).get(f, -1)) for f in files]
    dataset = tf.data.Dataset.from_tensor_slices((files, tf.constant(limits, tf.int64)))
    if training:
        dataset = dataset.shuffle(len(files), seed=config.seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(
        lambda path, limit: tf.data.TFRecordDataset(path).take(limit),
        cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        # Deterministic order: under multi-worker training every worker must see the same stream
        # to take its share of the batches, and runs are reproducible from --seed.
        deterministic=True,
    )
    dataset = dataset.map(lambda s: _parse(s, config), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if video_ids is not None:
        keep = tf.constant(sorted(str(v) for v in video_ids) or [""])
        dataset = dataset.filter(lambda video: tf.reduce_any(tf.equal(keep, video["video_id"])))
    if config.label_level == "video":
        dataset = dataset.map(lambda v: _video_element(v, config, training), num_parallel_calls=tf.data.AUTOTUNE)
        if training:
            # An utterance without any face has loss weight 0: it would only cost a step.
            dataset = dataset.filter(lambda element: element["face_found"] > 0)
    else:
        def windows(video):
            length = tf.shape(video["gray48"])[0]
            if training:
                starts = window_starts(length, config.window, config.stride)
                return tf.data.Dataset.from_tensor_slices(starts).map(lambda s: _window(video, s, config))
            stride = window_plan.overlap_stride(config.window, config.window_overlap)
            starts = window_starts(length, config.window, stride)
            return tf.data.Dataset.from_tensor_slices(starts).map(
                lambda s: _window(video, s, config, owned_frames(s, length, config.window, stride)))

        dataset = dataset.flat_map(windows)
        if training:
            # A window without any face has no frame the loss counts: it would only cost a step.
            dataset = dataset.filter(lambda element: tf.reduce_any(element["face_found"] > 0))
    if training:
        dataset = dataset.shuffle(config.shuffle_buffer, seed=config.seed, reshuffle_each_iteration=True)
        if repeat:
            dataset = dataset.repeat()
        counter = tf.data.Dataset.counter(start=config.seed * 1_000_003)
        dataset = tf.data.Dataset.zip(dataset, counter).map(
            lambda element, i: _augment(element, config, tf.stack([i, 1])),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if config.temporal_input == "optical_flow":
        dataset = dataset.map(lambda e: _flow_snippets(e, config), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.map(_finalise, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(config.batch_size, drop_remainder=training)
    return dataset.prefetch(tf.data.AUTOTUNE)


def window_starts(length, window, stride):
    """First frames of the windows of a video of ``length`` frames, in training and evaluation alike
    (in-graph twin of ``mimamo_tf.window_plan.window_starts``).

    Every ``stride`` frames, with the last window ending on the video's last frame (the tail is
    trained on, and an evaluation window is not padded); one window (padded and masked past the
    end) for a video shorter than ``window``.
    """
    last = tf.maximum(length - window, 0)
    starts = tf.range(0, last + 1, stride)
    return tf.cond(last % stride > 0, lambda: tf.concat([starts, [last]], 0), lambda: starts)


def owned_frames(start, length, window, stride):
    """``(first, end)`` of the frames the evaluation window at ``start`` predicts (in-graph twin of
    ``mimamo_tf.window_plan.owned_frames``)."""
    last = tf.maximum(length - window, 0)
    is_last = start >= last
    grid = tf.where(is_last, -tf.math.floordiv(-last, stride) * stride, start)
    first = tf.where(grid == 0, 0, grid + (window - 1 - stride) // 2 + 1)
    end = tf.where(is_last, length, start + (window - 1 + stride) // 2 + 1)
    return first, end


def model_input_keys(config):
    """Keys of an element that are model inputs."""
    keys = []
    if config.temporal_input == "optical_flow":
        keys += ["flow48", "flow24"]
    elif config.temporal_input:
        keys.append("gray48")
    if config.spatial_input == "features":
        keys.append("spatial_features")
    elif config.spatial_input == "images":
        keys.append("rgb224")
    if config.label_level == "video":
        keys.append("sample_mask")
    return keys


def to_keras(dataset, config):
    """``(inputs, labels)`` pairs for ``model.fit`` / ``model.evaluate``."""
    keys = model_input_keys(config)
    return dataset.map(lambda e: ({k: e[k] for k in keys}, e["labels"]), num_parallel_calls=tf.data.AUTOTUNE)

"""Real TFRecord shards of tiny videos, written through the project's schema (for pipeline/trainer tests)."""

import json

import numpy as np
import tensorflow as tf

from mimamo_tf.data import schema, shards


def tiny_video(video_id, num_frames, seed, label_level="frame", spatial_dim=2048, recording_id=None):
    """Arrays of one video: moving blob frames, smooth labels, some frames without face/label.

    ``recording_id``: the source recording it belongs to (videos that share one stay in one fold);
    None: its own, the video id. (``dict(tiny_video(...), recording_id=None)`` writes none, as shards
    prepared before recording ids were.)"""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:48, :48]
    gray = np.stack([
        np.clip(128 + 90 * np.exp(-(((yy - 24 - 5 * np.sin(t / 3 + seed)) ** 2 + (xx - 20 - t % 9) ** 2) / 60.0)), 0, 255)
        for t in range(num_frames)
    ]).astype(np.uint8)
    t = np.arange(num_frames)
    arousal = np.sin(t / 5.0 + seed).astype(np.float32) * 0.8
    valence = np.cos(t / 7.0 + seed).astype(np.float32) * 0.6
    face_found = (rng.random(num_frames) > 0.1).astype(np.int64)
    label_valid = (rng.random(num_frames) > 0.1).astype(np.int64)
    arousal[label_valid == 0] = 0.0
    valence[label_valid == 0] = 0.0
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    rgb = np.stack([np.kron(frame, np.ones((5, 5, 1), np.uint8))[:224, :224] for frame in np.pad(rgb, ((0, 0), (0, 0), (0, 0), (0, 0)))])
    rgb = np.pad(rgb, ((0, 0), (0, 224 - rgb.shape[1]), (0, 224 - rgb.shape[2]), (0, 0)))
    features = rng.normal(size=(num_frames, spatial_dim)).astype(np.float32) if spatial_dim else None
    return dict(
        video_id=video_id, recording_id=video_id if recording_id is None else recording_id, dataset="tiny",
        split="train", fps=30.0, gray48=gray, face_found=face_found,
        arousal=arousal, valence=valence, label_valid=label_valid, label_level=label_level, rgb224=rgb,
        spatial_features=features,
        video_arousal=float(arousal.mean()) if label_level == "video" else float("nan"),
        video_valence=float(valence.mean()) if label_level == "video" else float("nan"),
    )


def write_shards(directory, split, videos, num_shards=1):
    """Writes ``videos`` (dicts of ``tiny_video``) round-robin into ``num_shards`` shards."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(num_shards):
        path = directory / shards.shard_name(split, index, num_shards)
        with tf.io.TFRecordWriter(str(path)) as writer:
            for video in videos[index::num_shards]:
                writer.write(schema.serialize(schema.make_sequence_example(**video)))
        paths.append(str(path))
    return paths


def write_dataset(directory, train_videos=4, validation_videos=2, frames=(20, 13, 30, 9, 17, 24), spatial_dim=2048):
    """A prepared-dataset directory with ``train`` and ``validation`` shards."""
    videos = [tiny_video(f"v{i}", frames[i % len(frames)], i, spatial_dim=spatial_dim)
              for i in range(train_videos + validation_videos)]
    write_shards(directory, "train", videos[:train_videos], num_shards=2)
    write_shards(directory, "validation", videos[train_videos:], num_shards=1)
    return videos


def write_manifest(directory, backbone_spec, splits=("train", "validation")):
    """A ``manifest.json`` as prepare writes it, reduced to what the library reads of it: the
    backbone the stored features came from (``settings.spatial_backbone``) of each split."""
    record = {"spec": backbone_spec, "weights_sha256": "0" * 64, "file": shards.BACKBONE_FILE}
    manifest = {"schema_version": schema.SCHEMA_VERSION,
                "splits": {split: {"settings": {"spatial_backbone": record}} for split in splits}}
    (directory / shards.MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    return manifest

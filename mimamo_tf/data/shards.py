"""A prepared directory's shards: their file names, sidecars and manifest, and their inventory.

A prepared dataset directory holds, per split, ``<split>-00003-of-00012.tfrecord`` files and, next
to each, ``<split>-00003-of-00012.json`` with that shard's counts. A shard is complete exactly when
its ``.tfrecord`` exists: writers create it last, by renaming a temporary file. The directory also
holds ``manifest.json`` (per-split totals and the preparation settings, read here: the faces'
geometry, the labels' annotation scale) and, when spatial features
were stored, ``spatial_backbone.keras`` (the frozen backbone they came from). This module is the one
owner of those names, and of what a set of shards holds (``split_shards``, ``check_shards``: can
they feed a configuration; ``video_recordings``, ``faceless_video_ids``, ``find_damaged_shards``),
read before any tf.data pipeline is built (``mimamo_tf.data.pipeline``).
"""

import json
import os
import re
import sys
from typing import List

import numpy as np
import tensorflow as tf

from mimamo_tf import frame_rate
from mimamo_tf.data import schema
from mimamo_tf.data.label_scale import MODEL_SCALE, LabelScale
from mimamo_tf.errors import InputError

MANIFEST_FILE = "manifest.json"
BACKBONE_FILE = "spatial_backbone.keras"
SHARD_PATTERN = re.compile(r"^(?P<split>[A-Za-z0-9_]+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.tfrecord$")


def shard_name(split: str, index: int, count: int) -> str:
    """File name of shard `index` (0-based) of `count` for `split`."""
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} outside [0, {count})")
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def sidecar_name(shard_file_name: str) -> str:
    """The metadata JSON next to a shard."""
    return shard_file_name[: -len(".tfrecord")] + ".json"


def read_sidecar(shard_path):
    """The sidecar dict of a shard, or None when it is missing or unreadable (hand-made shards)."""
    sidecar = os.path.join(os.path.dirname(shard_path), sidecar_name(os.path.basename(shard_path)))
    try:
        with open(sidecar, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def list_shards(directory, split: str = None) -> List[str]:
    """Complete shard files in `directory` (optionally of one split), sorted, as full paths."""
    names = []
    for name in os.listdir(directory):
        match = SHARD_PATTERN.match(name)
        if match and (split is None or match.group("split") == split):
            names.append(os.path.join(os.fspath(directory), name))
    return sorted(names)


def read_manifest(directory):
    """The prepared directory's ``manifest.json`` as a dict, or None when missing or unreadable."""
    try:
        with open(os.path.join(directory, MANIFEST_FILE), encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError, TypeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def backbone_record(directory):
    """The identity of the backbone whose features the directory stores (the manifest's
    ``settings.spatial_backbone`` of its first split that has one: ``spec``, weights hash, ...), or
    None."""
    for split in ((read_manifest(directory) or {}).get("splits") or {}).values():
        record = split.get("settings", {}).get("spatial_backbone")
        if record:
            return record
    return None


def _split_entry(directory, split):
    """The manifest's entry of ``split`` (``{}`` without a manifest or without that split)."""
    return ((read_manifest(directory) or {}).get("splits") or {}).get(split) or {}


def split_names(split):
    """The splits a split value names: one (``train``), or several joined by commas
    (``train,validation``: cross-validation over both, as the paper ran Table 3)."""
    names = [name.strip() for name in str(split).split(",")]
    if not all(names) or len(set(names)) != len(names):
        raise DataError(f"{split!r} is not a split name or a list of distinct ones joined by commas")
    return names


def face_geometry_record(directory, split):
    """Where the faces of ``split`` sit in their crops (the manifest's ``face_geometry``: a
    ``mimamo_tf.faces.face_geometry`` dict, a list when its shards, or the splits named, disagree), or
    None when the directory was prepared before it was recorded."""
    records = []
    for name in split_names(split):
        record = _split_entry(directory, name).get("face_geometry")
        for one in (record if isinstance(record, list) else [record]):
            if one not in records:
                records.append(one)
    return records[0] if len(records) == 1 else records


def split_label_scale(directory, split):
    """The scale ``split``'s labels were annotated on, as a ``label_scale.LabelScale``: the folder
    reader's ``label_range`` in the manifest's settings (prepare maps it onto the stored [-1, 1]), or
    [-1, 1] when none is recorded: the Aff-Wild, Aff-Wild2 and OMG readers and the synthetic data
    store their labels as annotated, and hand-made shards have no manifest. Several splits must share
    one scale (``DataError`` otherwise)."""
    scales = []
    for name in split_names(split):
        label_range = (_split_entry(directory, name).get("settings") or {}).get("label_range")
        scale = MODEL_SCALE if label_range is None else LabelScale(*(float(v) for v in label_range))
        if scale not in scales:
            scales.append(scale)
    if len(scales) > 1:
        raise DataError(f"the splits {split} of {directory} were annotated on different scales: {scales}")
    return scales[0]


def split_frame_rate(directory, split):
    """The frame rate ``split``'s videos were resampled to (the manifest's ``target_fps``, see
    ``mimamo_tf.frame_rate``), or None when each video kept its own (``--target_fps=0``, a folder
    prepared before the rate was recorded, or hand-made shards). Several splits must share one rate
    (``DataError`` otherwise)."""
    rates = []
    for name in split_names(split):
        rate = (_split_entry(directory, name).get("settings") or {}).get("target_fps") or None
        if rate not in rates:
            rates.append(rate)
    if len(rates) > 1:
        raise DataError(f"the splits {split} of {directory} were resampled to different frame rates: {rates}")
    return None if rates[0] is None else float(rates[0])


# The shard folders whose videos without recording ids were warned about (``video_recordings``).
_WARNED_WITHOUT_RECORDINGS = set()


class DataError(InputError, ValueError):
    """The data directory cannot feed this configuration (no shards, wrong schema, ...)."""

    kind = "data error"


def split_shards(data_dir, split):
    """The complete shards of ``split`` (or of each of the comma-separated splits, in that order) in
    ``data_dir``; ``DataError`` naming what is missing."""
    if not os.path.isdir(data_dir):
        raise DataError(f"data directory {data_dir!r} does not exist (flag --data_dir)")
    files = []
    for name in split_names(split):
        found = list_shards(data_dir, name)
        if not found:
            raise DataError(
                f"no '{name}-NNNNN-of-NNNNN.tfrecord' shards in {data_dir!r}; prepare the data with "
                "python -m data_prep.prepare"
            )
        files += found
    return files


def shard_backbone(path):
    """The spatial backbone a shard's features come from, as its sidecar records it (None if unknown).

    Prepare records ``spatial_backbone`` (spec and weights hash) in every shard's settings; shards of
    older versions only have the ``spatial_features`` option.
    """
    settings = (read_sidecar(path) or {}).get("settings", {})
    backbone = settings.get("spatial_backbone")
    if backbone:
        return f"{backbone['spec']} (weights sha256 {backbone['weights_sha256'][:12]})"
    return settings.get("spatial_features") or None


def check_shards(files, config):
    """Reads the first example of every shard; ``DataError`` names a shard that cannot feed us.

    Returns:
        ``{"spatial_feature_dim": D or None, "spatial_backbone": description or None}`` of the shards.
    """
    dims, backbones = {}, {}
    for path in files:
        try:
            first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
        except tf.errors.OpError as error:
            raise DataError(f"shard {path} cannot be read: {error.message}") from error
        if first is None:
            continue
        try:
            example = schema.parse_sequence_example(first.numpy(), decode_images=False)
        except schema.SchemaError as error:
            raise DataError(f"shard {path} does not follow schema version {schema.SCHEMA_VERSION}: {error}") from error
        if config.label_level == "video" and not float(example["fps"]) > 0:
            raise DataError(f"shard {path}: {example['video_id']} has fps {example['fps']}; video-level "
                            "sampling takes one snippet per second and needs the clip's frame rate")
        if config.spatial_input == "features" and example["spatial_features"] is None:
            raise DataError(
                f"shard {path} has no spatial_features; prepare with --spatial_features=WEIGHTS or "
                "train with --spatial_input=images"
            )
        if config.label_level != example["label_level"] and example["label_level"] != "none":
            raise DataError(
                f"shard {path} has {example['label_level']}-level labels but the configuration "
                f"expects {config.label_level}-level (flag --label_level)"
            )
        if config.spatial_input == "features":
            dims.setdefault(int(example["spatial_feature_dim"]), path)
            backbone = shard_backbone(path)
            if backbone:
                backbones.setdefault(backbone, path)
    if len(backbones) > 1:
        (first, first_path), (second, second_path) = list(backbones.items())[:2]
        raise DataError(
            f"shards prepared with different spatial backbones: {first_path} has features of {first}, "
            f"{second_path} of {second}; prepare every split with the same --spatial_features")
    if len(dims) > 1:
        raise DataError(f"shards with different spatial feature widths: {dims}")
    if config.spatial_input == "features" and config.spatial_dim and dims and next(iter(dims)) != config.spatial_dim:
        raise DataError(f"the shards' spatial features are {next(iter(dims))}-d, the configuration expects "
                        f"{config.spatial_dim} (flag --spatial_feature_dim; 0 reads it from the shards)")
    return {"spatial_feature_dim": next(iter(dims), None), "spatial_backbone": next(iter(backbones), None)}


def _scan_records(files, record_limits, sequence_features=None):
    """``(video_id, recording_id, parsed sequence features)`` of every readable record, in file order
    (eager); the recording id is ``""`` in shards written before it was recorded."""
    context_spec = {key: spec for key, spec in schema.context_feature_spec().items()
                    if key in ("video_id", "recording_id")}
    for path in files:
        for record in tf.data.TFRecordDataset(path).take(int((record_limits or {}).get(path, -1))):
            context, sequence = tf.io.parse_single_sequence_example(
                record, context_features=context_spec, sequence_features=sequence_features)
            yield (context["video_id"].numpy().decode("utf-8"), context["recording_id"].numpy().decode("utf-8"),
                   sequence)


def video_ids(files, record_limits=None):
    """The ids of the videos (utterances) in the shards, in the order they were written: the
    dataset's own listing (OMG: the annotation file's row order)."""
    return [video_id for video_id, _, _ in _scan_records(files, record_limits)]


def video_recordings(files, record_limits=None):
    """``{video_id: recording_id}`` of every video in the shards, in file order: the source recording
    of each video as its dataset's reader named it, which cross-validation folds keep together.

    Shards written before prepare recorded it have none: each of their videos is then its own
    recording, and a warning (once per process and set of shards) says to prepare them again.
    """
    recordings, unrecorded = {}, 0
    for video_id, recording_id, _ in _scan_records(files, record_limits):
        recordings[video_id] = recording_id or video_id
        unrecorded += not recording_id
    directories = tuple(sorted({os.path.dirname(os.path.abspath(path)) for path in files}))
    if unrecorded and directories not in _WARNED_WITHOUT_RECORDINGS:
        _WARNED_WITHOUT_RECORDINGS.add(directories)
        print(f"warning: {unrecorded} of {len(recordings)} videos in {', '.join(directories)} have no recording id "
              "(shards prepared before prepare wrote them): each is its own recording in the folds, so the videos "
              "of one recording (two persons, the utterances of one video) may fall into different folds; run "
              "python -m data_prep.prepare again to group them by recording", file=sys.stderr)
    return recordings


def resampled_videos(files):
    """``{video_id: (source frames, source fps, stored fps)}`` of the videos of ``files`` that prepare
    resampled to another frame rate (``prepare --target_fps``, ``mimamo_tf.frame_rate``), from the
    shards' sidecars; videos kept at their own rate, and shards without sidecars, are absent."""
    resampled = {}
    for path in files:
        for video in (read_sidecar(path) or {}).get("videos", []):
            source_fps, fps, frames = video.get("source_fps"), video.get("fps"), video.get("source_frames")
            if source_fps and fps and frames and frame_rate.resamples(source_fps, fps):
                resampled[video["video_id"]] = (int(frames), float(source_fps), float(fps))
    return resampled


def faceless_video_ids(files, record_limits=None):
    """Ids of the videos (utterances) in the shards in which no frame has a face."""
    spec = {"face_found": tf.io.FixedLenSequenceFeature([], tf.int64)}
    return [video_id for video_id, _, sequence in _scan_records(files, record_limits, spec)
            if not np.any(sequence["face_found"].numpy() > 0)]


def readable_records(path):
    """``(records read, error message or None)``: how far a shard reads before it is damaged."""
    count = 0
    try:
        for _ in tf.data.TFRecordDataset(path):
            count += 1
    except tf.errors.OpError as error:
        return count, error.message
    return count, None


def find_damaged_shards(files):
    """``{path: (readable records, error)}`` of the shards that cannot be read to the end."""
    damaged = {}
    for path in files:
        count, error = readable_records(path)
        if error is not None:
            damaged[path] = (count, error)
    return damaged

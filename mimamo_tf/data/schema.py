"""The TFRecord schema: one `tf.train.SequenceExample` per video (or per OMG utterance).

This module is the single source of truth of the on-disk format. Writers (data_prep) build
examples with `make_sequence_example`; readers either decode a serialized example into NumPy
(`parse_sequence_example`, no TensorFlow graph needed) or parse it inside `tf.data` with
`context_feature_spec` / `sequence_feature_spec` + `decode_parsed`.

Context (one value per example):

=====================  =======  =============================================================
key                    type     meaning
=====================  =======  =============================================================
schema_version         int64    `SCHEMA_VERSION` of the writer
video_id               bytes    unique id within the dataset (Aff-Wild2: annotation name,
                                e.g. ``video59_left``; OMG: ``<video>/<utterance>``)
recording_id           bytes    the source recording the video belongs to, as its dataset
                                reader names it (Aff-Wild2: ``video59`` for both persons;
                                OMG: ``<video>`` for every utterance; else the video id):
                                cross-validation folds keep a recording together. Optional:
                                shards written before it have none (parsed as ``""``)
dataset                bytes    affwild, affwild2, omg, folder, ...
split                  bytes    train, validation, test, all
source                 bytes    input path relative to the data root
fps                    float    frames per second of the source video
num_frames             int64    T, length of every sequence feature
label_level            bytes    ``frame`` (Aff-Wild/Aff-Wild2), ``video`` (OMG), ``none``
video_arousal          float    utterance label (label_level ``video``), else NaN
video_valence          float    utterance label (label_level ``video``), else NaN
face_backend           bytes    ``mtcnn``, ``cropped_aligned`` (provided aligned frames), ...
spatial_feature_dim    int64    length of ``spatial_features`` per frame, 0 when absent
=====================  =======  =============================================================

Sequence (one value per frame, all of length ``num_frames``):

=====================  =======  =============================================================
gray48                 bytes    48*48 uint8, row-major, ITU-R 601 luma of the aligned face
rgb224_jpeg            bytes    JPEG of the 224x224 RGB aligned face
face_found             int64    1 if a face was found; else both images are black
arousal                float    label, 0.0 where label_valid is 0
valence                float    label, 0.0 where label_valid is 0
label_valid            int64    1 if the frame's label is valid (Aff-Wild2: not -5)
spatial_features       bytes    optional: float16 little-endian backbone features
=====================  =======  =============================================================

Losses must mask frames with ``face_found == 0`` or ``label_valid == 0``. Invalid labels are stored
as 0.0 rather than NaN because a masked loss that multiplies by 0 would still propagate NaN.
"""

from typing import Dict, Optional

import cv2
import numpy as np
import tensorflow as tf

# The frame sizes belong to face alignment, which makes the frames; the schema only stores them.
# (Not the other way round: the face pipeline must stay importable without TensorFlow.)
from mimamo_tf.faces.alignment import GRAY_SIZE, RGB_SIZE

SCHEMA_VERSION = 1

JPEG_QUALITY = 95

LABEL_LEVELS = ("frame", "video", "none")

# Context keys and their types ("int", "float", "bytes").
CONTEXT_FEATURES = {
    "schema_version": "int",
    "video_id": "bytes",
    "recording_id": "bytes",
    "dataset": "bytes",
    "split": "bytes",
    "source": "bytes",
    "fps": "float",
    "num_frames": "int",
    "label_level": "bytes",
    "video_arousal": "float",
    "video_valence": "float",
    "face_backend": "bytes",
    "spatial_feature_dim": "int",
}

# Context keys that shards written before them lack, and the value they parse to there.
OPTIONAL_CONTEXT_FEATURES = {"recording_id": ""}

# Per-frame keys and their types. spatial_features is optional.
SEQUENCE_FEATURES = {
    "gray48": "bytes",
    "rgb224_jpeg": "bytes",
    "face_found": "int",
    "arousal": "float",
    "valence": "float",
    "label_valid": "int",
    "spatial_features": "bytes",
}
OPTIONAL_SEQUENCE_FEATURES = ("spatial_features",)


class SchemaError(ValueError):
    """An example does not follow the schema (wrong version, missing key, wrong length)."""


def encode_jpeg(rgb: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG bytes of an RGB uint8 image (libjpeg via OpenCV, deterministic)."""
    ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                              [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buffer.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    """RGB uint8 image from JPEG bytes."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise SchemaError("invalid JPEG data in rgb224_jpeg")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _bytes_feature(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int_feature(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def _float_feature(value: float) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))


def make_sequence_example(
    *,
    video_id: str,
    dataset: str,
    split: str,
    fps: float,
    gray48: np.ndarray,
    face_found: np.ndarray,
    arousal: np.ndarray,
    valence: np.ndarray,
    label_valid: np.ndarray,
    label_level: str,
    rgb224: Optional[np.ndarray] = None,
    rgb224_jpeg=None,
    source: str = "",
    face_backend: str = "",
    video_arousal: float = float("nan"),
    video_valence: float = float("nan"),
    spatial_features: Optional[np.ndarray] = None,
    recording_id: Optional[str] = None,
) -> tf.train.SequenceExample:
    """Builds the SequenceExample of one video.

    Args:
        video_id, dataset, split, fps, label_level, source, face_backend, video_arousal,
        video_valence: context values (see the module docstring).
        recording_id: the source recording (see the module docstring); None writes none, as
            shards written before it existed.
        gray48: uint8 (T, 48, 48).
        face_found: (T,) 0/1.
        arousal: (T,) float labels (0 where invalid).
        valence: (T,) float labels.
        label_valid: (T,) 0/1.
        rgb224: uint8 (T, 224, 224, 3); encoded here. Give this or `rgb224_jpeg`.
        rgb224_jpeg: sequence of T JPEG byte strings, already encoded (streaming writers).
        spatial_features: optional (T, D) array, stored as float16.

    Returns:
        The `tf.train.SequenceExample`.

    Raises:
        SchemaError: inconsistent lengths, wrong shapes or dtypes, unknown label level.
    """
    gray48 = np.asarray(gray48)
    num_frames = int(gray48.shape[0]) if gray48.ndim == 3 else -1
    if gray48.shape[1:] != (GRAY_SIZE, GRAY_SIZE) or gray48.dtype != np.uint8:
        raise SchemaError(f"{video_id}: gray48 must be uint8 (T, 48, 48), got {gray48.dtype} {gray48.shape}")
    if num_frames < 1:
        raise SchemaError(f"{video_id}: an example needs at least one frame")
    if label_level not in LABEL_LEVELS:
        raise SchemaError(f"{video_id}: label_level must be one of {LABEL_LEVELS}, got {label_level!r}")
    if (rgb224 is None) == (rgb224_jpeg is None):
        raise SchemaError(f"{video_id}: give exactly one of rgb224 and rgb224_jpeg")
    if rgb224 is not None:
        rgb224 = np.asarray(rgb224)
        if rgb224.shape != (num_frames, RGB_SIZE, RGB_SIZE, 3) or rgb224.dtype != np.uint8:
            raise SchemaError(f"{video_id}: rgb224 must be uint8 ({num_frames}, 224, 224, 3), "
                              f"got {rgb224.dtype} {rgb224.shape}")
        rgb224_jpeg = [encode_jpeg(image) for image in rgb224]
    rgb224_jpeg = list(rgb224_jpeg)
    per_frame = {
        "rgb224_jpeg": rgb224_jpeg,
        "face_found": np.asarray(face_found),
        "arousal": np.asarray(arousal, np.float32),
        "valence": np.asarray(valence, np.float32),
        "label_valid": np.asarray(label_valid),
    }
    for key, values in per_frame.items():
        if len(values) != num_frames:
            raise SchemaError(f"{video_id}: {key} has {len(values)} frames, gray48 has {num_frames}")
    if not (np.all(np.isfinite(per_frame["arousal"])) and np.all(np.isfinite(per_frame["valence"]))):
        raise SchemaError(f"{video_id}: labels must be finite (store 0 with label_valid=0)")

    feature_lists = {
        "gray48": [_bytes_feature(frame.tobytes()) for frame in np.ascontiguousarray(gray48)],
        "rgb224_jpeg": [_bytes_feature(bytes(data)) for data in rgb224_jpeg],
        "face_found": [_int_feature(v) for v in per_frame["face_found"]],
        "arousal": [_float_feature(v) for v in per_frame["arousal"]],
        "valence": [_float_feature(v) for v in per_frame["valence"]],
        "label_valid": [_int_feature(v) for v in per_frame["label_valid"]],
    }
    spatial_dim = 0
    if spatial_features is not None:
        spatial_features = np.asarray(spatial_features)
        if spatial_features.ndim != 2 or spatial_features.shape[0] != num_frames:
            raise SchemaError(f"{video_id}: spatial_features must be ({num_frames}, D), "
                              f"got {spatial_features.shape}")
        spatial_dim = int(spatial_features.shape[1])
        as_half = spatial_features.astype("<f2")
        feature_lists["spatial_features"] = [_bytes_feature(row.tobytes()) for row in as_half]

    context = {
        "schema_version": _int_feature(SCHEMA_VERSION),
        "video_id": _bytes_feature(video_id.encode("utf-8")),
        "dataset": _bytes_feature(dataset.encode("utf-8")),
        "split": _bytes_feature(split.encode("utf-8")),
        "source": _bytes_feature(source.encode("utf-8")),
        "fps": _float_feature(fps),
        "num_frames": _int_feature(num_frames),
        "label_level": _bytes_feature(label_level.encode("utf-8")),
        "video_arousal": _float_feature(video_arousal),
        "video_valence": _float_feature(video_valence),
        "face_backend": _bytes_feature(face_backend.encode("utf-8")),
        "spatial_feature_dim": _int_feature(spatial_dim),
    }
    if recording_id is not None:
        context["recording_id"] = _bytes_feature(recording_id.encode("utf-8"))
    return tf.train.SequenceExample(
        context=tf.train.Features(feature=context),
        feature_lists=tf.train.FeatureLists(
            feature_list={key: tf.train.FeatureList(feature=values)
                          for key, values in feature_lists.items()}
        ),
    )


def serialize(example: tf.train.SequenceExample) -> bytes:
    """Bytes of an example with map keys in sorted order.

    Protobuf map fields (context, feature_lists) otherwise serialize in an order that can differ
    between processes, and shards must be byte-identical whoever writes them.
    """
    return example.SerializeToString(deterministic=True)


def _context_value(example: tf.train.SequenceExample, key: str):
    feature = example.context.feature.get(key)
    if feature is None and key in OPTIONAL_CONTEXT_FEATURES:
        return OPTIONAL_CONTEXT_FEATURES[key]
    if feature is None:
        raise SchemaError(f"context feature {key!r} is missing")
    kind = CONTEXT_FEATURES[key]
    if kind == "int":
        values = list(feature.int64_list.value)
    elif kind == "float":
        values = list(feature.float_list.value)
    else:
        values = [v.decode("utf-8") for v in feature.bytes_list.value]
    if len(values) != 1:
        raise SchemaError(f"context feature {key!r} must hold one value, holds {len(values)}")
    return values[0]


def parse_sequence_example(serialized: bytes, decode_images: bool = True) -> Dict[str, object]:
    """Decodes a serialized example into Python/NumPy values (no TensorFlow graph).

    Args:
        serialized: bytes of a `tf.train.SequenceExample`.
        decode_images: also decode the JPEGs into ``rgb224`` (T, 224, 224, 3) uint8.

    Returns:
        dict with every context key, and ``gray48`` uint8 (T, 48, 48), ``rgb224_jpeg`` list of
        bytes, ``face_found``/``label_valid`` int64 (T,), ``arousal``/``valence`` float32 (T,),
        ``spatial_features`` float16 (T, D) or None, optionally ``rgb224``.

    Raises:
        SchemaError: not this schema (version, missing keys, inconsistent lengths).
    """
    try:
        example = tf.train.SequenceExample.FromString(serialized)
    except Exception as error:  # protobuf raises its own DecodeError
        raise SchemaError(f"not a SequenceExample: {error}") from error
    result: Dict[str, object] = {key: _context_value(example, key) for key in CONTEXT_FEATURES}
    if result["schema_version"] != SCHEMA_VERSION:
        raise SchemaError(f"schema_version {result['schema_version']} != supported {SCHEMA_VERSION}")
    num_frames = int(result["num_frames"])
    lists = example.feature_lists.feature_list

    def frames_of(key):
        if key not in lists:
            raise SchemaError(f"sequence feature {key!r} is missing")
        features = lists[key].feature
        if len(features) != num_frames:
            raise SchemaError(f"{key} has {len(features)} frames, num_frames is {num_frames}")
        return features

    gray = [f.bytes_list.value[0] for f in frames_of("gray48")]
    if any(len(g) != GRAY_SIZE * GRAY_SIZE for g in gray):
        raise SchemaError("gray48 frame with a wrong byte count")
    result["gray48"] = np.frombuffer(b"".join(gray), np.uint8).reshape(num_frames, GRAY_SIZE, GRAY_SIZE)
    result["rgb224_jpeg"] = [f.bytes_list.value[0] for f in frames_of("rgb224_jpeg")]
    for key in ("face_found", "label_valid"):
        result[key] = np.array([f.int64_list.value[0] for f in frames_of(key)], np.int64)
    for key in ("arousal", "valence"):
        result[key] = np.array([f.float_list.value[0] for f in frames_of(key)], np.float32)
    dim = int(result["spatial_feature_dim"])
    if dim:
        rows = [f.bytes_list.value[0] for f in frames_of("spatial_features")]
        if any(len(r) != 2 * dim for r in rows):
            raise SchemaError("spatial_features frame with a wrong byte count")
        result["spatial_features"] = np.frombuffer(b"".join(rows), "<f2").reshape(num_frames, dim)
    else:
        result["spatial_features"] = None
    if decode_images:
        result["rgb224"] = np.stack([decode_jpeg(data) for data in result["rgb224_jpeg"]])
    return result


def context_feature_spec() -> Dict[str, tf.io.FixedLenFeature]:
    """Context feature spec for `tf.io.parse_single_sequence_example` (an optional key absent from a
    shard parses to its `OPTIONAL_CONTEXT_FEATURES` value)."""
    dtypes = {"int": tf.int64, "float": tf.float32, "bytes": tf.string}
    return {key: tf.io.FixedLenFeature([], dtypes[kind], default_value=OPTIONAL_CONTEXT_FEATURES.get(key))
            for key, kind in CONTEXT_FEATURES.items()}


def sequence_feature_spec(include_spatial_features: bool = False) -> Dict[str, tf.io.FixedLenSequenceFeature]:
    """Sequence feature spec for `tf.io.parse_single_sequence_example`.

    Args:
        include_spatial_features: parse ``spatial_features`` too (the shards must have them).
    """
    dtypes = {"int": tf.int64, "float": tf.float32, "bytes": tf.string}
    return {
        key: tf.io.FixedLenSequenceFeature([], dtypes[kind])
        for key, kind in SEQUENCE_FEATURES.items()
        if include_spatial_features or key not in OPTIONAL_SEQUENCE_FEATURES
    }


def decode_parsed(context: Dict[str, tf.Tensor], sequence: Dict[str, tf.Tensor],
                  decode_rgb: bool = True) -> Dict[str, tf.Tensor]:
    """Turns the output of `tf.io.parse_single_sequence_example` into tensors (graph-safe).

    Args:
        context: parsed context dict.
        sequence: parsed sequence dict.
        decode_rgb: decode the JPEGs into ``rgb224`` uint8 (T, 224, 224, 3) (costly; skip when the
            spatial features are precomputed).

    Returns:
        dict with the context tensors and ``gray48`` uint8 (T, 48, 48), ``face_found``,
        ``label_valid`` int64 (T,), ``arousal``, ``valence`` float32 (T,), optionally ``rgb224``
        and ``spatial_features`` float32 (T, D).
    """
    result = dict(context)
    gray = tf.io.decode_raw(sequence["gray48"], tf.uint8)
    result["gray48"] = tf.reshape(gray, [-1, GRAY_SIZE, GRAY_SIZE])
    for key in ("face_found", "label_valid", "arousal", "valence"):
        result[key] = sequence[key]
    if decode_rgb:
        # INTEGER_ACCURATE makes TensorFlow's decode identical to OpenCV's (the NumPy path); the
        # default fast IDCT differs by a few levels.
        result["rgb224"] = tf.map_fn(
            lambda data: tf.ensure_shape(tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"), [RGB_SIZE, RGB_SIZE, 3]),
            sequence["rgb224_jpeg"], fn_output_signature=tf.TensorSpec([RGB_SIZE, RGB_SIZE, 3], tf.uint8))
    if "spatial_features" in sequence:
        half = tf.io.decode_raw(sequence["spatial_features"], tf.float16, little_endian=True)
        result["spatial_features"] = tf.cast(half, tf.float32)
    return result


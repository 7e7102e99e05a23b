"""The labelled videos of a prepared split, with the faces ``predict`` would see in them.

Benchmarks that report a CCC of an export (``bench export``, ``bench windows``) score the faces a
user of ``predict`` gets: each video's raw file (the record's ``source``, relative to the data root
prepare read) goes through the face pipeline ``Predictor.predict_video`` runs (MTCNN, tracking,
smoothing, alignment; ``faces.process_video``, the same code and settings), not the faces stored in
the shards, which went through JPEG. The labels come from the shards.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from mimamo_tf import faces
from mimamo_tf.data import schema, shards
from mimamo_tf.errors import InputError
from mimamo_tf.evaluation.scoring import predict_faceless_videos, summarise


@dataclasses.dataclass
class LabelledVideo:
    """One video of a split: ``labels`` ``(T, 2)`` arousal, valence; ``label_valid`` ``(T,)`` bool;
    ``faces`` ``(T, 224, 224, 3)`` uint8 and ``face_found`` ``(T,)`` from ``faces_of``."""

    video_id: str
    source: str
    labels: np.ndarray
    label_valid: np.ndarray
    faces: np.ndarray = None
    face_found: np.ndarray = None


def read_split(data_dir, split, stored_faces=False):
    """The split's videos with their labels, in shard order; with ``stored_faces``, also the faces
    stored in the shards (JPEG, prepare's alignment) as ``faces``/``face_found``."""
    files = shards.list_shards(data_dir, split)
    if not files:
        raise InputError(f"--data_dir={data_dir}: no shards of split {split!r}")
    videos = []
    for path in files:
        for record in tf.data.TFRecordDataset(path):
            video = schema.parse_sequence_example(record.numpy(), decode_images=stored_faces)
            if video["label_level"] != "frame":
                raise InputError(f"--data_dir={data_dir}: {video['video_id']} has utterance labels; these benchmarks "
                                 "score frame-level predictions")
            videos.append(LabelledVideo(video["video_id"], video["source"],
                                        np.stack([video["arousal"], video["valence"]], -1).astype(np.float32),
                                        video["label_valid"] > 0))
            if stored_faces:
                videos[-1].faces, videos[-1].face_found = video["rgb224"], video["face_found"]
    return videos


def raw_video_path(data_root, video):
    """The raw video file of ``video`` under ``data_root`` (``InputError`` naming the flag if absent)."""
    path = os.path.join(data_root, video.source)
    if not video.source or not os.path.isfile(path):
        raise InputError(f"--data_root={data_root}: no raw video {video.source!r} for {video.video_id} (the data root "
                         "that data_prep.prepare read, holding the videos the shards were made from)")
    return path


def add_predict_faces(videos, data_root, detector=None):
    """Fills ``faces``/``face_found`` of every video from its raw file, as ``predict`` aligns them."""
    paths = [raw_video_path(data_root, video) for video in videos]  # every file checked before any work
    detector = detector or faces.make_detector("mtcnn")
    for video, path in zip(videos, paths):
        aligned = faces.process_video(path, detector)
        if len(aligned.face_found) != len(video.labels):
            raise InputError(f"{path}: {len(aligned.face_found)} frames decoded, {len(video.labels)} labelled in the "
                             "shards")
        video.faces, video.face_found = aligned.rgb224, aligned.face_found.astype(np.int64)
    return videos


def official_ccc(videos, predictions):
    """``(ccc_arousal, ccc_valence)`` as ``evaluate`` scores them: every valid-label frame of all
    videos concatenated, frames without a face predicted from their nearest face's inputs, a
    video without any face given the mean face-frame prediction. ``predictions``: ``(T, 2)`` per
    video, filled."""
    scored = {v.video_id: dict(pred=np.array(p, np.float32), labels=v.labels, label_valid=v.label_valid,
                               face_found=v.face_found > 0) for v, p in zip(videos, predictions)}
    predict_faceless_videos(scored)
    metrics = summarise(scored)
    return metrics["ccc_arousal"], metrics["ccc_valence"]

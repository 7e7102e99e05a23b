"""Turns one `VideoItem` into one serialized SequenceExample (the per-item work of prepare).

Order of checks is cheapest first, so a bad item costs little: labels are parsed, the video's
frames are counted and reconciled with the labels, and only then are faces detected and aligned.
"""

import dataclasses
import os
from typing import Dict, Optional, Tuple

import numpy as np

from data_prep import aligned_frames
from data_prep.readers.base import DatasetReader, VideoItem, reconcile
from mimamo_tf import faces, frame_rate
from mimamo_tf import video as video_io
from mimamo_tf.config import ConfigError
from mimamo_tf.data import schema
from mimamo_tf.errors import ItemError
from mimamo_tf.faces import identities
from mimamo_tf.models.backbone import SpatialFeatureExtractor

ALIGNED_BACKEND = "cropped_aligned"
# --cropped_aligned_geometry: re-align a provider's crops to our template, or keep them as they are.
CROPPED_ALIGNED_GEOMETRIES = ("realign", "keep")
# `face_geometry` sources: what the faces of an example were made from.
VIDEO_GEOMETRY_SOURCE = "video"
REALIGNED_GEOMETRY_SUFFIX = ", realigned"         # e.g. "cropped_aligned, realigned"
PROVIDER_CROP_GEOMETRY_SUFFIX = ", provider's crop"  # e.g. "omg_aligned_dir, provider's crop"


@dataclasses.dataclass(frozen=True)
class ExampleOptions:
    """Options of the per-item work (all recorded in the manifest).

    Attributes:
        face_backend: detector name for raw videos (see `mimamo_tf.faces.available_detectors`).
        detect_every: detector runs on every k-th frame, tracking in between.
        smoothing_sigma: alignment smoothing width in frames.
        detector_max_side: detection runs on frames reduced to this longer side.
        max_label_surplus: tolerated extra label lines beyond the decoded frames.
        spatial_features: "" (off), "imagenet", "none" (random, tests) or a weights file path.
        default_fps: fps stored when no video is available (cropped_aligned without the video).
        target_fps: the rate every video is resampled to (``mimamo_tf.frame_rate``: a snippet of
            ``snippet_length`` differences then spans the same time in every video); 0 keeps each
            video's own rate.
        cropped_aligned_geometry: "realign" (default) warps a provider's crops (Aff-Wild2's
            cropped_aligned) to our template with the raw-video face pipeline, so they share the
            geometry of video faces; "keep" uses them as the provider cut them. See
            `data_prep.aligned_frames`.
    """

    face_backend: str = "mtcnn"
    detect_every: int = 3
    smoothing_sigma: float = 2.0
    detector_max_side: int = 320
    max_label_surplus: int = 2
    spatial_features: str = ""
    default_fps: float = 30.0
    cropped_aligned_geometry: str = "realign"
    target_fps: float = frame_rate.DEFAULT_TARGET_FPS

    def __post_init__(self):
        if self.target_fps < 0:
            raise ConfigError(f"--target_fps={self.target_fps}: expected a frame rate > 0, or 0 to keep each video's own")
        if self.cropped_aligned_geometry not in CROPPED_ALIGNED_GEOMETRIES:
            raise ConfigError(f"--cropped_aligned_geometry={self.cropped_aligned_geometry!r}; "
                              f"expected one of {CROPPED_ALIGNED_GEOMETRIES}")


def label_statistics(arousal, valence, valid) -> Dict[str, Dict[str, float]]:
    """Mergeable sums of the valid labels: n, sum, sum of squares, min, max per dimension."""
    mask = np.asarray(valid).astype(bool)
    stats = {}
    for name, values in (("arousal", arousal), ("valence", valence)):
        chosen = np.asarray(values, np.float64)[mask]
        stats[name] = {
            "n": int(chosen.size),
            "sum": float(chosen.sum()),
            "sum_sq": float(np.square(chosen).sum()),
            "min": float(chosen.min()) if chosen.size else None,
            "max": float(chosen.max()) if chosen.size else None,
        }
    return stats


class ExampleBuilder:
    """Builds examples for one reader; holds the (expensive) detector and backbone of a process."""

    def __init__(self, reader: DatasetReader, options: ExampleOptions = ExampleOptions(), backbone_file: str = ""):
        self.reader = reader
        self.options = options
        # The saved backbone of this run (prepare writes it once): every worker uses those weights.
        self.backbone_file = backbone_file
        self._detector = None
        self._extractor = None
        self._pipeline = {}

    @property
    def detector(self):
        if self._detector is None:
            kwargs = {}
            if self.options.face_backend == "mtcnn":
                kwargs["max_side"] = self.options.detector_max_side
            self._detector = faces.make_detector(self.options.face_backend, **kwargs)
        return self._detector

    @property
    def extractor(self):
        if self._extractor is None and self.options.spatial_features:
            self._extractor = SpatialFeatureExtractor(self.backbone_file or self.options.spatial_features)
        return self._extractor

    def _config(self, preference: str) -> faces.FacePipelineConfig:
        return faces.FacePipelineConfig(detect_every=self.options.detect_every,
                                        smoothing_sigma=self.options.smoothing_sigma,
                                        prefer=preference)

    def _faces_from_video(self, item: VideoItem, num_frames: int, unreadable: list):
        config = self._config(item.face_preference)
        info = video_io.probe(item.video_path)
        blank = np.zeros((info.height, info.width, 3), np.uint8)

        def frames(record):
            # An undecodable frame is a frame without a face: the detector and tracker see a
            # blank image (no face, the track ends) and its output is forced to "no face" below.
            for index, frame in enumerate(video_io.iter_frames(item.video_path, mark_undecodable=True)):
                if frame is None:
                    if record:
                        unreadable.append(f"{item.video_path}: frame {index} cannot be decoded")
                    frame = blank
                yield frame

        if item.face_preference in ("leftmost", "rightmost"):
            # One person of a two-person video: every face followed with stable ids (the tracker of
            # `predict --faces=all`), then the identities on that side of the frame joined.
            located = identities.locate_identities(frames(record=True), self.detector, config, info.fps or 30.0)
            track = identities.person_on_side(located, item.face_preference, info.width)
        else:
            track = faces.locate_faces(frames(record=True), self.detector, config)
        if track.num_frames != num_frames:
            raise ItemError(f"{item.video_path}: decoded {track.num_frames} frames, "
                            f"{num_frames} when counted (unstable decoding)")
        bad = {int(message.rsplit("frame ", 1)[1].split()[0]) for message in unreadable}
        for index, (rgb, gray, found) in enumerate(faces.iter_aligned_faces(frames(record=False), track, config)):
            if index in bad:
                rgb, gray, found = np.zeros_like(rgb), np.zeros_like(gray), 0
            yield rgb, gray, found

    def _realigns(self, item: VideoItem) -> bool:
        """Whether `item`'s pre-aligned faces are re-aligned to our template."""
        return (item.aligned_dir is not None and self.reader.aligned_frames_realignable
                and self.options.cropped_aligned_geometry == "realign")

    def face_geometry(self, item: VideoItem) -> dict:
        """The `faces.face_geometry` of `item`'s prepared faces (recorded in the sidecar)."""
        if item.aligned_dir is None:
            return faces.face_geometry(VIDEO_GEOMETRY_SOURCE)
        name = self.reader.aligned_frames_name
        if self._realigns(item):
            return faces.face_geometry(name + REALIGNED_GEOMETRY_SUFFIX)
        return faces.face_geometry(name + PROVIDER_CROP_GEOMETRY_SUFFIX, template=False)

    def _faces_from_aligned_dir(self, item: VideoItem, num_frames: int, unreadable: list,
                                crops_without_face: list):
        present = aligned_frames.frame_numbers(item.aligned_dir, num_frames, self.options.max_label_surplus)
        if self._realigns(item):
            # The crop already shows the annotated person (a _left/_right annotation has its own
            # crops), so the track starts on the crop's largest face, not on the leftmost/rightmost.
            return aligned_frames.realigned_faces(
                item.aligned_dir, present, num_frames, self.detector, self._config("largest"),
                unreadable, crops_without_face)
        return aligned_frames.provided_faces(item.aligned_dir, present, num_frames, unreadable)

    def build(self, item: VideoItem) -> Tuple[bytes, Dict[str, object]]:
        """Prepares one item.

        Args:
            item: from the reader's `list_items`.

        Returns:
            (serialized SequenceExample, statistics dict with recording_id (the reader's
            `recording_id` of the item), frames, frames_with_face, valid_label_frames,
            unreadable_frames (frames that could not be decoded, recorded as without a face), the
            first such message, crops_without_face (re-aligned crops in which no face was found,
            recorded as without a face), face_geometry, and mergeable label sums).

        Raises:
            ItemError: bad labels, labels/frames mismatch, bad aligned frames.
            video.VideoReadError: unreadable or truncated video.
        """
        if item.listing_error:
            raise ItemError(item.listing_error)
        labels = self.reader.load_labels(item)
        fps = self.options.default_fps
        if item.video_path is not None:
            if not os.path.isfile(item.video_path):
                raise ItemError(f"{item.video_path}: video file is missing")
            num_frames = video_io.count_frames(item.video_path, mark_undecodable=True)
            fps = video_io.probe(item.video_path).fps or fps
        elif item.aligned_dir is not None and labels.level == "frame":
            # Without the video, the label file defines the sequence.
            num_frames = len(labels.arousal)
        else:
            raise ItemError(f"{item.source}: neither a video nor aligned frames with labels")
        arousal, valence, valid = reconcile(labels, num_frames, self.options.max_label_surplus, fps)
        # One rate inside the model: the source frame nearest each tick of --target_fps, its labels with it.
        shown = frame_rate.resampled_frames(num_frames, fps, self.options.target_fps)
        repeats = np.bincount(shown, minlength=num_frames)
        arousal, valence, valid = arousal[shown], valence[shown], valid[shown]
        stored_fps = frame_rate.model_frame_rate(fps, self.options.target_fps)

        unreadable, crops_without_face = [], []
        if item.aligned_dir is not None:
            frames = self._faces_from_aligned_dir(item, num_frames, unreadable, crops_without_face)
            # Re-aligned crops: the crops' source and the detector that found their landmarks.
            backend = (f"{ALIGNED_BACKEND}+{self.options.face_backend}" if self._realigns(item)
                       else ALIGNED_BACKEND)
        else:
            frames = self._faces_from_video(item, num_frames, unreadable)
            backend = self.options.face_backend
        gray, jpegs, found, features = [], [], [], []
        rgb_batch, featured_repeats = [], []
        extractor = self.extractor
        produced = 0
        for rgb, face_gray, face_found in frames:
            copies = int(repeats[produced]) if produced < num_frames else 1
            produced += 1
            if not copies:
                continue  # a frame the resampled video does not show
            jpeg = schema.encode_jpeg(rgb)
            gray.extend([face_gray] * copies)
            jpegs.extend([jpeg] * copies)
            found.extend([face_found] * copies)
            featured_repeats.append(copies)
            if extractor is not None:
                # Features of the face as stored (after JPEG), so they can be recomputed exactly
                # from the shards.
                rgb_batch.append(schema.decode_jpeg(jpeg))
                if len(rgb_batch) == extractor.batch_size:
                    features.append(extractor(np.stack(rgb_batch)))
                    rgb_batch = []
        if extractor is not None and rgb_batch:
            features.append(extractor(np.stack(rgb_batch)))
        if produced != num_frames:
            raise ItemError(f"{item.source}: produced {produced} frames, expected {num_frames}")
        spatial: Optional[np.ndarray] = None
        if extractor is not None:
            spatial = np.repeat(np.concatenate(features), featured_repeats, axis=0)
        recording_id = self.reader.recording_id(item.video_id)
        example = schema.make_sequence_example(
            video_id=item.video_id, recording_id=recording_id, dataset=item.dataset, split=item.split, fps=stored_fps,
            gray48=np.stack(gray), rgb224_jpeg=jpegs, face_found=np.asarray(found, np.uint8),
            arousal=arousal, valence=valence, label_valid=valid,
            # Time-stamped annotations are per-frame labels once resampled.
            label_level="frame" if labels.level == "timed" else labels.level,
            source=item.source, face_backend=backend, video_arousal=labels.video_arousal,
            video_valence=labels.video_valence, spatial_features=spatial)
        stats = {
            "recording_id": recording_id,
            "frames": len(shown),
            "fps": stored_fps,
            "source_fps": fps,
            "source_frames": num_frames,
            "frames_with_face": int(np.sum(found)),
            "valid_label_frames": int(np.sum(valid)),
            "unreadable_frames": len(unreadable),
            "unreadable_first": unreadable[0] if unreadable else None,
            "crops_without_face": len(crops_without_face),
            "face_geometry": self.face_geometry(item),
            "labels": label_statistics(arousal, valence, valid),
        }
        return schema.serialize(example), stats

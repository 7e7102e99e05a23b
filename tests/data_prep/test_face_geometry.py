"""One face geometry: Aff-Wild2-style crops (another template) re-aligned to the raw-video path's faces."""

import glob
import json
import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

from data_prep import synthetic_datasets
from data_prep.examples import ExampleOptions
from data_prep.preparation import prepare
from data_prep.shard_writer import combine_face_geometries
from mimamo_tf import faces
from mimamo_tf.config import ConfigError
from mimamo_tf.data import schema

FRAMES = 8
MISSING_CROP = 1   # frame index whose jpg is deleted: a frame without a face, not a faceless crop
GREY_CROP = 4      # frame index whose crop is a plain grey image: a crop without a face
# ArcFace's published 112x112 reference points (eyes, nose tip, mouth corners), as fractions of
# the crop: the template the fixture's crops are cut with.
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]]) / 112.0
MODES = {
    "video": ({"affwild2_source": "video"}, ExampleOptions()),
    "realign": ({"affwild2_source": "cropped_aligned"}, ExampleOptions()),
    "keep": ({"affwild2_source": "cropped_aligned"}, ExampleOptions(cropped_aligned_geometry="keep")),
}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """One synthetic video whose cropped_aligned faces are cut with an ArcFace-style template from
    the same frames, prepared from the video, from the crops re-aligned, and from the crops kept."""
    root = str(tmp_path_factory.mktemp("arcface_crops"))
    synthetic_datasets.generate(root, synthetic_datasets.SyntheticConfig(
        train_videos=1, validation_videos=0, frames=FRAMES, seed=3, cutaways=False,
        label_surplus=False, cropped_aligned_template="arcface"))
    crops = os.path.join(root, "cropped_aligned", "synth000")
    os.remove(os.path.join(crops, f"{MISSING_CROP + 1:05d}.jpg"))
    grey = np.full((synthetic_datasets.ALIGNED_SIZE, synthetic_datasets.ALIGNED_SIZE, 3), 128, np.uint8)
    cv2.imwrite(os.path.join(crops, f"{GREY_CROP + 1:05d}.jpg"), grey)
    results = {}
    for mode, (reader_options, options) in MODES.items():
        output = str(tmp_path_factory.mktemp(mode))
        manifest = prepare("affwild2", root, output, split="train", example_options=options,
                           reader_options=reader_options)
        (shard,) = glob.glob(os.path.join(output, "*.tfrecord"))
        record = next(iter(tf.data.TFRecordDataset(shard).as_numpy_iterator()))
        with open(shard[:-len(".tfrecord")] + ".json", encoding="utf-8") as handle:
            sidecar = json.load(handle)
        results[mode] = {"example": schema.parse_sequence_example(record, decode_images=True),
                         "sidecar": sidecar, "split": manifest["splits"]["train"]}
    return results


@pytest.fixture(scope="module")
def landmarks(prepared):
    """Five landmarks per prepared 224x224 face, found by the project's MTCNN (None: no face)."""
    detector = faces.make_detector("mtcnn")
    found = {}
    for mode, result in prepared.items():
        found[mode] = []
        for face, has_face in zip(result["example"]["rgb224"], result["example"]["face_found"]):
            detections = detector.detect(face) if has_face else []
            found[mode].append(max(detections, key=lambda d: d.area).landmarks if detections else None)
    return found


def _distances_in_interocular(landmarks, mode, move_reference=None):
    """Per frame, the mean landmark distance between `mode`'s faces and the video path's faces
    (moved by the (2, 3) matrix `move_reference` first, if given), in units of the video face's
    inter-ocular distance."""
    distances = []
    for reference, other in zip(landmarks["video"], landmarks[mode]):
        if reference is not None and other is not None:
            interocular = np.linalg.norm(reference[1] - reference[0])
            if move_reference is not None:
                reference = reference @ move_reference[:, :2].T + move_reference[:, 2]
            distances.append(np.linalg.norm(other - reference, axis=1).mean() / interocular)
    return np.asarray(distances)


def test_realigned_crops_have_the_video_faces_geometry_and_kept_crops_do_not(landmarks):
    realigned = _distances_in_interocular(landmarks, "realign")
    kept = _distances_in_interocular(landmarks, "keep")
    assert len(realigned) == len(kept) == FRAMES - 2  # every frame but the missing and grey crops
    assert realigned.max() < 0.05, realigned
    assert kept.min() > 0.15, kept  # the template offset: eyes lower, face larger
    # What the kept crops differ by is the template: the video faces moved from our template onto
    # ArcFace's (the similarity between the two, in pixels of the 224 crop) land on them.
    ours_to_arcface = faces.alignment.estimate_similarity(faces.CANONICAL_TEMPLATE * faces.RGB_SIZE,
                                                          ARCFACE_TEMPLATE * faces.RGB_SIZE)
    moved = _distances_in_interocular(landmarks, "keep", move_reference=ours_to_arcface)
    assert moved.mean() < 0.05, moved


def test_geometry_and_crops_without_a_face_are_recorded(prepared):
    ours = (faces.CANONICAL_TEMPLATE * faces.RGB_SIZE).tolist()
    geometries = {mode: result["sidecar"]["face_geometry"] for mode, result in prepared.items()}
    assert geometries["video"]["source"] == "video"
    assert geometries["realign"]["source"] == "cropped_aligned, realigned"
    assert geometries["keep"]["source"] == "cropped_aligned, provider's crop"
    np.testing.assert_allclose(geometries["video"]["template"], ours, atol=1e-3)
    assert geometries["video"]["output_size"] == geometries["keep"]["output_size"] == 224
    assert geometries["keep"]["template"] is None
    assert faces.same_face_geometry(geometries["video"], geometries["realign"])
    assert not faces.same_face_geometry(geometries["video"], geometries["keep"])
    for mode, result in prepared.items():
        assert result["split"]["face_geometry"] == geometries[mode], mode
        assert result["split"]["unreadable_frames"] == 0, mode  # a missing jpg is not unreadable
    # Re-aligned: the grey crop is written without a face and counted; the missing one is not counted.
    realigned = prepared["realign"]
    expected = [0 if index in (MISSING_CROP, GREY_CROP) else 1 for index in range(FRAMES)]
    assert realigned["example"]["face_found"].tolist() == expected
    assert not realigned["example"]["gray48"][GREY_CROP].any()
    assert realigned["example"]["face_backend"] == "cropped_aligned+mtcnn"
    assert [video["crops_without_face"] for video in realigned["sidecar"]["videos"]] == [1]
    assert realigned["sidecar"]["crops_without_face"] == realigned["split"]["crops_without_face"] == 1
    # Kept crops are trusted as faces; the video path has no crops.
    assert prepared["keep"]["example"]["face_found"][GREY_CROP] == 1
    assert prepared["keep"]["split"]["crops_without_face"] == prepared["video"]["split"]["crops_without_face"] == 0


def test_a_split_whose_shards_disagree_records_every_geometry_and_bad_options_are_refused():
    video, kept = faces.face_geometry("video"), faces.face_geometry("cropped_aligned, provider's crop", template=False)
    assert combine_face_geometries([None, video, dict(video)]) == video
    assert combine_face_geometries([video, [kept, video], None]) == [video, kept]
    assert combine_face_geometries([None]) is None
    with pytest.raises(ConfigError, match="--cropped_aligned_geometry='crop'"):
        ExampleOptions(cropped_aligned_geometry="crop")

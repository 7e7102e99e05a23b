"""Faces from a folder of pre-aligned frames ``{i+1:05d}.jpg`` (Aff-Wild2's ``cropped_aligned``,
OMG's ``--omg_aligned_dir``): kept as the provider cut them, or re-aligned to the project's template.

A provider's crop follows the provider's template (Aff-Wild2's 112x112 faces are face-recognition
crops: eyes lower and the face larger than in `mimamo_tf.faces.CANONICAL_TEMPLATE`), while raw
videos and ``predict`` align faces to ours. Re-aligning gives the model one face geometry: the
landmarks are found in each crop by the raw-video face pipeline (the same detector, tracking and
smoothing, `faces.locate_faces`), and each crop is warped to our template exactly as a video frame
is (`faces.iter_aligned_faces`). Both passes read the crops from their files, one at a time.

The crop is first resized to `REALIGN_CROP_SIZE` (224, with the resize of kept crops, so the two
modes differ only by the similarity warp, and the warp to the 224x224 face is then about 1:1 rather
than a 2x magnification), then centred on a black canvas twice its side. A face that fills its crop
(a face-recognition crop cuts through the forehead and the chin) then lies well inside the
detector's image, with the margin MTCNN's proposal network and box regression expect, and the
tracker's box never leaves the image. Our template is looser than a face-recognition crop, so the
re-aligned face shows black where it reaches past the provider's crop (mostly below the chin).
"""

import os
from typing import Iterator, List, Optional, Set, Tuple

import cv2
import numpy as np

from mimamo_tf import faces
from mimamo_tf.errors import ItemError

# The crop is resized to this side before detection and warping (see the module docstring).
REALIGN_CROP_SIZE = faces.RGB_SIZE
# Black margin around the resized crop on each side: half its side (the canvas is twice the crop).
REALIGN_MARGIN = REALIGN_CROP_SIZE // 2

FaceFrame = Tuple[np.ndarray, np.ndarray, int]  # (rgb224, gray48, face_found)


def frame_numbers(directory: str, num_frames: int, max_surplus: int) -> Set[int]:
    """The frame numbers (1-based, as in ``00001.jpg``) that have a file in `directory`.

    Args:
        directory: folder of ``{i+1:05d}.jpg`` faces.
        num_frames: frames of the sequence.
        max_surplus: tolerated numbers beyond `num_frames` (label surplus; those files are unused).

    Raises:
        ItemError: a number below 1 or beyond the tolerated range, naming the folder.
    """
    numbers = set()
    for name in os.listdir(directory):
        stem, extension = os.path.splitext(name)
        if extension.lower() == ".jpg" and stem.isdigit():
            numbers.add(int(stem))
    if numbers and min(numbers) < 1:
        raise ItemError(f"{directory}: frame file numbers start at 1, found {min(numbers):05d}.jpg")
    if numbers and max(numbers) > num_frames + max_surplus:
        raise ItemError(f"{directory}: {max(numbers):05d}.jpg is beyond the video's {num_frames} frames")
    return numbers


def iter_crops(directory: str, present: Set[int], num_frames: int,
               unreadable: Optional[List[str]] = None) -> Iterator[Optional[np.ndarray]]:
    """Reads the crops of frames 0 .. num_frames - 1, one at a time.

    Args:
        directory: folder of ``{i+1:05d}.jpg`` faces.
        present: `frame_numbers` of the folder.
        num_frames: frames of the sequence.
        unreadable: when given, a message naming each file that cannot be decoded is appended.

    Yields:
        uint8 (H, W, 3) RGB crop, or None for a missing or undecodable file (a frame without a face).
    """
    for index in range(num_frames):
        if index + 1 not in present:
            yield None
            continue
        path = os.path.join(directory, f"{index + 1:05d}.jpg")
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            # One bad file costs its frame, not the video and all its labels.
            if unreadable is not None:
                unreadable.append(f"{path}: unreadable image")
            yield None
            continue
        yield cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _no_face() -> FaceFrame:
    return (np.zeros((faces.RGB_SIZE, faces.RGB_SIZE, 3), np.uint8),
            np.zeros((faces.GRAY_SIZE, faces.GRAY_SIZE), np.uint8), 0)


def provided_faces(directory: str, present: Set[int], num_frames: int,
                   unreadable: List[str]) -> Iterator[FaceFrame]:
    """The provider's crops as they are, resized to 224 (``--cropped_aligned_geometry=keep``).

    Args:
        directory, present, num_frames: see `iter_crops`.
        unreadable: messages of undecodable files are appended.

    Yields:
        (rgb224, gray48, face_found) per frame; every readable crop counts as a face.
    """
    for crop in iter_crops(directory, present, num_frames, unreadable):
        if crop is None:
            yield _no_face()
            continue
        rgb, gray = faces.standardize_aligned_face(crop)
        yield rgb, gray, 1


def crop_canvas(crop: Optional[np.ndarray]) -> np.ndarray:
    """The image the face pipeline sees for one crop: the crop resized to `REALIGN_CROP_SIZE`
    (as `faces.standardize_aligned_face` resizes kept crops), centred on a black canvas with
    `REALIGN_MARGIN` on every side; an all-black canvas for a missing crop."""
    side = REALIGN_CROP_SIZE + 2 * REALIGN_MARGIN
    if crop is None:
        return np.zeros((side, side, 3), np.uint8)
    resized, _ = faces.standardize_aligned_face(crop)
    return cv2.copyMakeBorder(resized, REALIGN_MARGIN, REALIGN_MARGIN, REALIGN_MARGIN,
                              REALIGN_MARGIN, cv2.BORDER_CONSTANT, value=(0, 0, 0))


def realigned_faces(directory: str, present: Set[int], num_frames: int, detector: faces.FaceDetector,
                    config: faces.FacePipelineConfig, unreadable: List[str],
                    crops_without_face: List[int]) -> Iterator[FaceFrame]:
    """The crops re-aligned to the project's template (``--cropped_aligned_geometry=realign``).

    Pass 1 runs `faces.locate_faces` on the sequence of `crop_canvas` images, pass 2 warps the
    same canvases with `faces.iter_aligned_faces`: what a raw video's frames go through. Each pass
    reads the crops from their files, so a long video is never held in memory.

    Args:
        directory, present, num_frames: see `iter_crops`.
        detector: the face detector of raw videos.
        config: the face pipeline settings of raw videos (detect_every, smoothing, which face).
        unreadable: messages of undecodable files are appended (pass 1).
        crops_without_face: the index of every readable crop in which no face was found is
            appended; these frames are written without a face.

    Yields:
        (rgb224, gray48, face_found) per frame.
    """
    has_crop = []

    def canvases(first_pass: bool):
        for crop in iter_crops(directory, present, num_frames, unreadable if first_pass else None):
            if first_pass:
                has_crop.append(crop is not None)
            yield crop_canvas(crop)

    track = faces.locate_faces(canvases(first_pass=True), detector, config)
    for index, face in enumerate(faces.iter_aligned_faces(canvases(first_pass=False), track, config)):
        if not has_crop[index]:
            # A missing or undecodable crop is a frame without a face, whatever the tracker made of
            # its black canvas (as an undecodable video frame).
            yield _no_face()
            continue
        if not face[2]:
            crops_without_face.append(index)
        yield face

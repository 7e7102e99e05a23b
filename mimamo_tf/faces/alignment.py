"""Similarity alignment of a face to a canonical 5-point template, and the two network inputs.

Outputs per frame (docs/design.md section 1): an aligned RGB face 224x224 (spatial stream) and its
ITU-R 601 luma resized to 48x48 (temporal stream). The 48x48 face is derived from the 224x224 one
(luma, then area-averaging), never warped separately, so both views always show the same crop.
"""

import math
from typing import Mapping, Optional

import cv2
import numpy as np

# The sizes of the two network inputs. Owned here, where the frames are made; the TFRecord schema
# (`mimamo_tf.data.schema`) and everything downstream import them from this module.
RGB_SIZE = 224
GRAY_SIZE = 48

# Canonical positions of (left eye, right eye, nose tip, left mouth corner, right mouth corner) in
# a unit square. Proportions follow common 5-point face templates (inter-ocular distance 0.30,
# eye-to-mouth 1.1x that), but the crop is looser than face-recognition crops: brows, forehead and
# chin, where expressions show, stay inside the frame.
CANONICAL_TEMPLATE = np.array(
    [
        [0.350, 0.380],
        [0.650, 0.380],
        [0.500, 0.545],
        [0.375, 0.710],
        [0.625, 0.710],
    ],
    dtype=np.float64,
)


def template_points(size: int = RGB_SIZE) -> np.ndarray:
    """The canonical template in pixel coordinates of a `size` x `size` crop (float64 (5, 2))."""
    return CANONICAL_TEMPLATE * float(size)


def estimate_similarity(source_points: np.ndarray, target_points: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation; no reflection).

    Solves `target ~ [[a, -b], [b, a]] @ source + t` for a, b, t in closed form (linear least
    squares; the parametrisation makes reflections impossible).

    Args:
        source_points: (N, 2) points, N >= 2.
        target_points: (N, 2) corresponding points.

    Returns:
        float64 (2, 3) affine matrix mapping source to target coordinates.

    Raises:
        ValueError: fewer than 2 points, mismatched shapes, or degenerate (coincident) points.
    """
    source = np.asarray(source_points, dtype=np.float64)
    target = np.asarray(target_points, dtype=np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2 or len(source) < 2:
        raise ValueError(f"expected two (N>=2, 2) point sets, got {source.shape} and {target.shape}")
    source_mean = source.mean(axis=0)
    target_mean = target.mean(axis=0)
    src = source - source_mean
    dst = target - target_mean
    norm = float(np.sum(src * src))
    if norm < 1e-12:
        raise ValueError("source points coincide; similarity is undefined")
    a = float(np.sum(src[:, 0] * dst[:, 0] + src[:, 1] * dst[:, 1])) / norm
    b = float(np.sum(src[:, 0] * dst[:, 1] - src[:, 1] * dst[:, 0])) / norm
    rotation_scale = np.array([[a, -b], [b, a]])
    translation = target_mean - rotation_scale @ source_mean
    return np.concatenate([rotation_scale, translation[:, None]], axis=1)


def similarity_to_params(matrix: np.ndarray, size: int = RGB_SIZE) -> np.ndarray:
    """Image->crop similarity as (centre_x, centre_y, log_scale, angle).

    The centre is the image point that lands on the crop centre. Smoothing these four numbers over
    time is well behaved: unlike the raw translation column, the centre does not mix with rotation
    and scale.

    Args:
        matrix: (2, 3) similarity mapping image pixels to crop pixels.
        size: crop side the matrix maps into.

    Returns:
        float64 (4,) parameters.
    """
    a, b = matrix[0, 0], matrix[1, 0]
    scale = math.hypot(a, b)
    angle = math.atan2(b, a)
    rotation_scale = matrix[:, :2]
    crop_centre = np.array([size / 2.0, size / 2.0])
    image_centre = np.linalg.solve(rotation_scale, crop_centre - matrix[:, 2])
    return np.array([image_centre[0], image_centre[1], math.log(scale), angle])


def params_to_similarity(params: np.ndarray, size: int = RGB_SIZE) -> np.ndarray:
    """Inverse of `similarity_to_params`.

    Args:
        params: (4,) (centre_x, centre_y, log_scale, angle).
        size: crop side.

    Returns:
        float64 (2, 3) image->crop similarity.
    """
    centre_x, centre_y, log_scale, angle = (float(v) for v in params)
    scale = math.exp(log_scale)
    a, b = scale * math.cos(angle), scale * math.sin(angle)
    rotation_scale = np.array([[a, -b], [b, a]])
    translation = np.array([size / 2.0, size / 2.0]) - rotation_scale @ np.array([centre_x, centre_y])
    return np.concatenate([rotation_scale, translation[:, None]], axis=1)


def landmarks_to_params(landmarks: np.ndarray, size: int = RGB_SIZE) -> np.ndarray:
    """Alignment parameters that map five landmarks onto the canonical template.

    Args:
        landmarks: (5, 2) image points in `detection.LANDMARK_NAMES` order.
        size: crop side.

    Returns:
        float64 (4,) parameters (see `similarity_to_params`).
    """
    return similarity_to_params(estimate_similarity(landmarks, template_points(size)), size)


def warp_face(frame_rgb: np.ndarray, matrix: np.ndarray, size: int = RGB_SIZE) -> np.ndarray:
    """Crops the aligned face out of a frame.

    When the face is much larger than the crop (high-resolution video), the region is first
    area-averaged down, because bilinear warping alone would alias.

    Args:
        frame_rgb: uint8 (H, W, 3) frame.
        matrix: (2, 3) image->crop similarity for a `size` crop.
        size: output side.

    Returns:
        uint8 (size, size, 3) aligned face; outside the frame is black.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    scale = math.hypot(matrix[0, 0], matrix[1, 0])
    if scale < 0.7:
        # Source region of the crop, padded, as an integer ROI inside the frame.
        inverse = cv2.invertAffineTransform(matrix)
        corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64)
        source = corners @ inverse.T
        height, width = frame_rgb.shape[:2]
        x0 = int(np.clip(np.floor(source[:, 0].min()) - 2, 0, width - 1))
        y0 = int(np.clip(np.floor(source[:, 1].min()) - 2, 0, height - 1))
        x1 = int(np.clip(np.ceil(source[:, 0].max()) + 2, x0 + 1, width))
        y1 = int(np.clip(np.ceil(source[:, 1].max()) + 2, y0 + 1, height))
        roi = frame_rgb[y0:y1, x0:x1]
        factor = scale / 0.8  # leaves the final bilinear step a mild 0.8x reduction
        new_w = max(1, int(round(roi.shape[1] * factor)))
        new_h = max(1, int(round(roi.shape[0] * factor)))
        reduced = cv2.resize(roi, (new_w, new_h), interpolation=cv2.INTER_AREA)
        # reduced pixel q = (p - roi origin) * (new/old size)  ->  compose with the matrix.
        fx, fy = new_w / roi.shape[1], new_h / roi.shape[0]
        to_reduced = np.array([[fx, 0.0, -x0 * fx], [0.0, fy, -y0 * fy], [0.0, 0.0, 1.0]])
        matrix = np.vstack([matrix, [0.0, 0.0, 1.0]]) @ np.linalg.inv(to_reduced)
        matrix = matrix[:2]
        frame_rgb = reduced
    return cv2.warpAffine(frame_rgb, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def gray_from_rgb(face_rgb: np.ndarray, size: int = GRAY_SIZE) -> np.ndarray:
    """ITU-R 601 luma of an aligned face, area-averaged to `size` x `size` uint8."""
    gray = cv2.cvtColor(face_rgb, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)


def standardize_aligned_face(face_rgb: np.ndarray):
    """Network inputs from an already aligned face (e.g. Aff-Wild2 `cropped_aligned` 112x112).

    Args:
        face_rgb: uint8 (H, W, 3) aligned face of any size.

    Returns:
        (rgb224 uint8 (224, 224, 3), gray48 uint8 (48, 48)).
    """
    height, width = face_rgb.shape[:2]
    if (height, width) == (RGB_SIZE, RGB_SIZE):
        rgb = np.ascontiguousarray(face_rgb)
    else:
        shrinking = height > RGB_SIZE or width > RGB_SIZE
        rgb = cv2.resize(face_rgb, (RGB_SIZE, RGB_SIZE),
                         interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return rgb, gray_from_rgb(rgb)


def face_geometry(source: str, template: bool = True, size: int = RGB_SIZE) -> dict:
    """Describes where faces sit in aligned crops, as a JSON-able dict (recorded with data).

    Two sets of faces have the same geometry when the same five landmarks land on the same pixels
    of equally sized crops: then a model trained on one is served faces like the ones it learned
    from. Faces warped to `CANONICAL_TEMPLATE` (raw video, `predict`, re-aligned provider crops)
    share one geometry; a provider's crop (e.g. Aff-Wild2's `cropped_aligned` kept as it is) follows
    the provider's template, which is not known here.

    Args:
        source: what the faces were made from, e.g. ``"video"``; descriptive only, never compared.
        template: True when the faces were warped to `CANONICAL_TEMPLATE`; False when their template
            is someone else's (recorded as None).
        size: side of the square output crop in pixels.

    Returns:
        ``{"source": source, "template": [[x, y] x 5] in pixels of the output crop (landmark order
        of `detection.LANDMARK_NAMES`) or None, "output_size": size}``.
    """
    points = template_points(size).round(3).tolist() if template else None
    return {"source": str(source), "template": points, "output_size": int(size)}


def same_face_geometry(first: Optional[Mapping], second: Optional[Mapping],
                       tolerance: float = 0.5) -> bool:
    """Whether faces of two recorded geometries (`face_geometry` dicts) are interchangeable.

    The sources are not compared (a re-aligned crop and a video frame give the same faces). A
    geometry whose template is None (a provider's crop) is never the same as any geometry, itself
    included: its template is unknown. Anything that is not one geometry dict (None, or the list a
    manifest records when the shards of a split disagree) is never the same either.

    Args:
        first: a `face_geometry` dict.
        second: another one.
        tolerance: largest difference of a template coordinate, in pixels of the output crop.

    Returns:
        True when both templates are known, the output sizes are equal and every template
        coordinate agrees within `tolerance`.
    """
    if not isinstance(first, Mapping) or not isinstance(second, Mapping):
        return False
    if first.get("template") is None or second.get("template") is None:
        return False
    if first.get("output_size") != second.get("output_size"):
        return False
    points_a = np.asarray(first["template"], np.float64)
    points_b = np.asarray(second["template"], np.float64)
    if points_a.shape != (5, 2) or points_b.shape != (5, 2):
        return False
    return bool(np.abs(points_a - points_b).max() <= tolerance)

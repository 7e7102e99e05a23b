"""Which face to follow, and frame-to-frame rigid tracking between detections.

Track policy (one face per video):

* A track starts on the preferred face among the detections: the largest box by default
  (``prefer="largest"``); ``"leftmost"``/``"rightmost"`` pick by box centre among faces at least a
  quarter of the largest one's area (Aff-Wild2's ``_left``/``_right`` annotations of videos with
  two people).
* Once started, the track follows the detection whose box overlaps the track's predicted box the
  most (IoU >= `MIN_TRACK_IOU`), even if another face becomes larger: a consistent identity matters
  more than size, since labels belong to one person.
* If no detection overlaps, the track ends and a new one starts on the preferred face (a new
  track id, so temporal smoothing never blends two tracks).

Between detections the face is followed with pyramidal Lucas-Kanade on corners inside the face box
and a RANSAC similarity fit: sub-pixel, nearly free, and rigid, so it follows head motion without
following expression changes of individual landmarks.
"""

from typing import List, Optional

import cv2
import numpy as np

from mimamo_tf.faces.detection import FaceDetection

MIN_TRACK_IOU = 0.3
PREFERENCES = ("largest", "leftmost", "rightmost")


def box_iou(box_a: np.ndarray, box_b: np.ndarray) -> float:
    """Intersection over union of two [x1, y1, x2, y2] boxes."""
    x1, y1 = max(box_a[0], box_b[0]), max(box_a[1], box_b[1])
    x2, y2 = min(box_a[2], box_b[2]), min(box_a[3], box_b[3])
    intersection = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
    area_a = max(box_a[2] - box_a[0], 0.0) * max(box_a[3] - box_a[1], 0.0)
    area_b = max(box_b[2] - box_b[0], 0.0) * max(box_b[3] - box_b[1], 0.0)
    union = area_a + area_b - intersection
    return float(intersection / union) if union > 0 else 0.0


def preferred_face(detections: List[FaceDetection], prefer: str = "largest") -> Optional[FaceDetection]:
    """The face a new track starts on (see module docstring), or None without detections.

    Raises:
        ValueError: unknown `prefer`.
    """
    if prefer not in PREFERENCES:
        raise ValueError(f"unknown face preference {prefer!r}; expected one of {PREFERENCES}")
    if not detections:
        return None
    largest = max(detections, key=lambda d: d.area)
    if prefer == "largest":
        return largest
    candidates = [d for d in detections if d.area >= 0.25 * largest.area]
    centre_x = lambda d: 0.5 * (d.box[0] + d.box[2])  # noqa: E731
    return min(candidates, key=centre_x) if prefer == "leftmost" else max(candidates, key=centre_x)


def matching_face(detections: List[FaceDetection], predicted_box: np.ndarray) -> Optional[FaceDetection]:
    """The detection that continues a track whose box is predicted at `predicted_box`, or None."""
    best, best_iou = None, MIN_TRACK_IOU
    for detection in detections:
        iou = box_iou(detection.box, predicted_box)
        if iou >= best_iou:
            best, best_iou = detection, iou
    return best


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Applies a (2, 3) affine matrix to (N, 2) points."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def box_after_motion(box: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Axis-aligned box around the moved corners of `box`."""
    corners = np.array([[box[0], box[1]], [box[2], box[1]], [box[0], box[3]], [box[2], box[3]]])
    moved = apply_affine(matrix, corners)
    return np.array([moved[:, 0].min(), moved[:, 1].min(), moved[:, 0].max(), moved[:, 1].max()])


class RigidFaceTracker:
    """Estimates the similarity motion of a face between two consecutive gray frames."""

    def __init__(self, max_points: int = 80, min_points: int = 8, forward_backward_px: float = 1.0,
                 max_side: int = 640):
        """Configures the tracker.

        Args:
            max_points: corners sampled inside the face box.
            min_points: fewer RANSAC inliers than this counts as a tracking failure.
            forward_backward_px: points whose forward-then-backward flow misses their start by more
                than this are discarded (occlusions, points on the moving background).
            max_side: frames with a longer side above this are tracked on a reduced copy.
        """
        self.max_points = max_points
        self.min_points = min_points
        self.forward_backward_px = forward_backward_px
        self.max_side = max_side

    def tracking_image(self, frame_rgb: np.ndarray):
        """(gray image used for tracking, its scale relative to the frame)."""
        gray = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY)
        longer = max(gray.shape)
        if self.max_side and longer > self.max_side:
            scale = self.max_side / float(longer)
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            return gray, scale
        return gray, 1.0

    def estimate(self, previous_gray: np.ndarray, gray: np.ndarray, box: np.ndarray,
                 scale: float = 1.0) -> Optional[np.ndarray]:
        """Similarity motion of the face in `box` from `previous_gray` to `gray`.

        Args:
            previous_gray: tracking image of the earlier frame (from `tracking_image`).
            gray: tracking image of the later frame.
            box: face box [x1, y1, x2, y2] in full-frame pixels, in the earlier frame.
            scale: the tracking images' scale relative to full frames.

        Returns:
            (2, 3) similarity in full-frame pixels, or None when the face cannot be tracked.
        """
        height, width = previous_gray.shape
        # Corners inside the inner 80% of the box: box edges are often background.
        x1, y1, x2, y2 = (np.asarray(box, dtype=np.float64) * scale)
        margin_x, margin_y = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
        left = int(np.clip(x1 + margin_x, 0, width - 1))
        top = int(np.clip(y1 + margin_y, 0, height - 1))
        right = int(np.clip(x2 - margin_x, left + 1, width))
        bottom = int(np.clip(y2 - margin_y, top + 1, height))
        if right - left < 8 or bottom - top < 8:
            return None
        roi = previous_gray[top:bottom, left:right]
        min_distance = max(2.0, (right - left) / 20.0)
        corners = cv2.goodFeaturesToTrack(roi, maxCorners=self.max_points, qualityLevel=0.01,
                                          minDistance=min_distance, blockSize=5)
        if corners is None or len(corners) < self.min_points:
            return None
        start = (corners.reshape(-1, 2) + np.array([left, top], np.float32)).astype(np.float32)
        lk_params = dict(winSize=(21, 21), maxLevel=3,
                         criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
        forward, status_f, _ = cv2.calcOpticalFlowPyrLK(previous_gray, gray, start, None, **lk_params)
        if forward is None:
            return None
        backward, status_b, _ = cv2.calcOpticalFlowPyrLK(gray, previous_gray, forward, None, **lk_params)
        if backward is None:
            return None
        error = np.linalg.norm(backward - start, axis=1)
        good = (status_f.ravel() == 1) & (status_b.ravel() == 1) & (error < self.forward_backward_px)
        if good.sum() < self.min_points:
            return None
        matrix, inliers = cv2.estimateAffinePartial2D(start[good], forward[good], method=cv2.RANSAC,
                                                      ransacReprojThreshold=1.0, maxIters=500,
                                                      confidence=0.99, refineIters=10)
        if matrix is None or inliers is None or int(inliers.sum()) < self.min_points:
            return None
        matrix = matrix.astype(np.float64)
        # Same linear part in full-frame pixels; the translation scales back.
        matrix[:, 2] /= scale
        return matrix

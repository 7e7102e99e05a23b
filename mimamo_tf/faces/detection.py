"""Face detectors with five landmarks behind one small interface.

A backend returns, for one RGB frame, every face it finds as a `FaceDetection`: a box and the five
points the alignment uses (eye centres, nose tip, mouth corners), in full-frame pixel coordinates.
Backends with more points (e.g. dlib's 68) reduce them to these five; see `register_detector`.

The default backend is MTCNN: its weights ship inside its wheel, so it works offline.
"""

import abc
import dataclasses
from typing import Callable, Dict, List

import cv2
import numpy as np
import tensorflow as tf
from mtcnn import MTCNN
from mtcnn.stages import StageONet, StagePNet, StageRNet
from mtcnn.stages.base import StageBase

# Order of the five landmarks everywhere in this package (image left/right, not the subject's).
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclasses.dataclass(frozen=True)
class FaceDetection:
    """One detected face.

    Attributes:
        box: float32 (4,) [x1, y1, x2, y2] in pixels.
        landmarks: float32 (5, 2) (x, y) in pixels, in `LANDMARK_NAMES` order.
        score: detector confidence in [0, 1].
    """

    box: np.ndarray
    landmarks: np.ndarray
    score: float

    @property
    def area(self) -> float:
        return float(max(self.box[2] - self.box[0], 0.0) * max(self.box[3] - self.box[1], 0.0))


class FaceDetector(abc.ABC):
    """Interface of a face + 5-landmark detector."""

    name: str = "abstract"

    @abc.abstractmethod
    def detect(self, frame_rgb: np.ndarray) -> List[FaceDetection]:
        """Finds faces in one frame.

        Args:
            frame_rgb: uint8 (H, W, 3) RGB frame.

        Returns:
            Every face found (possibly none), in any order.
        """


class _CompiledNetwork:
    """An MTCNN network run as a `tf.function`, except on empty batches.

    With no face proposal, the package feeds an empty batch to the next network and relies on the
    InvalidArgumentError that raises to mean "no face"; TensorFlow also logs every such failed op on
    stderr. The same exception is raised here without running the network, silently.
    """

    def __init__(self, network, tf_module):
        self._errors = tf_module.errors
        # reduce_retracing: the proposal count (batch of RNet/ONet) changes every frame.
        self._compiled = tf_module.function(network, reduce_retracing=True)

    def __call__(self, inputs, *args, **kwargs):
        if inputs.shape[0] == 0:
            raise self._errors.InvalidArgumentError(None, None, "no face proposal")
        return self._compiled(inputs, *args, **kwargs)


def _compiled_stage(stage_class, tf_module):
    """An instance of the mtcnn stage ``stage_class`` whose network runs as a `_CompiledNetwork`.

    Built through mtcnn's public API only (checked against mtcnn 1.0.0): the stock stage loads the
    weights shipped in the wheel and exposes its network as ``stage.model``; a stage holds the
    network it runs through the ``model`` argument of the documented base class
    ``mtcnn.stages.base.StageBase``, so the compiled stage is a ``stage_class`` initialised by that
    constructor with the wrapped network (``stage_class.__call__``, the stage's pre- and
    post-processing, is unchanged). ``MTCNN(stages=[...])`` accepts stage instances.
    """
    stock = stage_class()
    stage = stage_class.__new__(stage_class)
    StageBase.__init__(stage, stage_name=stock.name, stage_id=stock.id,
                       model=_CompiledNetwork(stock.model, tf_module))
    return stage


class MtcnnDetector(FaceDetector):
    """MTCNN (the `mtcnn` package) with its networks compiled and an optional downscale.

    Two things make it usable at video rate on a CPU:

    * The package runs its three networks eagerly; on small inputs per-op dispatch dominates
      (measured ~80 ms per frame whatever the size). Wrapping each network in a `tf.function`
      gives identical outputs at ~31 ms per 320x180 frame and ~66 ms per 640x360 frame.
    * Detection runs on a copy of the frame whose longer side is at most `max_side` pixels.
      MTCNN's landmark network sees a 48x48 resample of each face anyway, so landmark precision
      relative to the face does not drop while the face stays well above 48 px. If nothing is
      found at the reduced size, the full-resolution frame is tried (small faces).

    `min_face_size` is left at the package default of 20 px: with mtcnn 1.0.0 other values build a
    broken image pyramid and return no faces at all.
    """

    name = "mtcnn"

    def __init__(self, max_side: int = 320, full_resolution_fallback: bool = True,
                 min_score: float = 0.9, compile_networks: bool = True):
        """Builds the detector (loads the weights shipped in the mtcnn wheel).

        Args:
            max_side: longer side of the frame copy that is searched; 0 searches full resolution.
            full_resolution_fallback: search the full frame when the reduced one has no face.
            min_score: faces below this confidence are dropped.
            compile_networks: wrap the networks in `tf.function` (disable only to compare with the
                stock package, as the faces benchmark does).
        """
        # The stages of the package's "face_and_landmarks_detection" pipeline.
        stages = [StagePNet, StageRNet, StageONet]
        if compile_networks:
            stages = [_compiled_stage(stage, tf) for stage in stages]
        self._mtcnn = MTCNN(stages=stages, device="CPU:0")
        self.max_side = int(max_side)
        self.full_resolution_fallback = bool(full_resolution_fallback)
        self.min_score = float(min_score)

    def _detect_at(self, frame_rgb: np.ndarray, scale: float) -> List[FaceDetection]:
        if scale != 1.0:
            image = cv2.resize(frame_rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        else:
            image = frame_rgb
        rows = self._mtcnn.detect_faces(np.ascontiguousarray(image), box_format="xyxy",
                                        output_type="numpy")
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, 16)
        detections = []
        for row in rows:
            if row[5] < self.min_score:
                continue
            # Columns: image id, x1, y1, x2, y2, score, 5 landmark x, then 5 landmark y (the
            # package's own JSON output rounds these to integers, losing the sub-pixel part).
            box = (row[1:5] / scale).astype(np.float32)
            landmarks = (np.stack([row[6:11], row[11:16]], axis=1) / scale).astype(np.float32)
            detections.append(FaceDetection(box=box, landmarks=landmarks, score=float(row[5])))
        return detections

    def detect(self, frame_rgb: np.ndarray) -> List[FaceDetection]:
        height, width = frame_rgb.shape[:2]
        longer = max(height, width)
        scale = 1.0
        if self.max_side and longer > self.max_side:
            scale = self.max_side / float(longer)
        detections = self._detect_at(frame_rgb, scale)
        if not detections and scale != 1.0 and self.full_resolution_fallback:
            detections = self._detect_at(frame_rgb, 1.0)
        return detections


_REGISTRY: Dict[str, Callable[..., FaceDetector]] = {"mtcnn": MtcnnDetector}


def register_detector(name: str, factory: Callable[..., FaceDetector]) -> None:
    """Makes a backend available to `make_detector` and the `--face_backend` flag.

    A backend that is an optional install (e.g. dlib with its 68-point shape predictor) registers
    itself on import and reduces its landmarks to `LANDMARK_NAMES` (for 68 points: means of
    points 36-41 and 42-47 for the eyes, 30 for the nose tip, 48 and 54 for the mouth corners).

    Args:
        name: backend name.
        factory: callable returning a `FaceDetector`; keyword arguments of `make_detector` are
            passed through.
    """
    _REGISTRY[name] = factory


def available_detectors() -> List[str]:
    """Names accepted by `make_detector`."""
    return sorted(_REGISTRY)


def make_detector(name: str = "mtcnn", **kwargs) -> FaceDetector:
    """Builds a registered face detector.

    Args:
        name: backend name, one of `available_detectors()`.
        **kwargs: passed to the backend's constructor.

    Returns:
        A `FaceDetector`.

    Raises:
        ValueError: unknown backend name.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown face backend {name!r}; available: {available_detectors()}")
    return _REGISTRY[name](**kwargs)

"""Face detection, tracking, alignment and temporal smoothing for video.

Used by data preparation (`data_prep.prepare`) and by prediction on raw video. Entry points:
`process_video` (in memory), `locate_faces` + `iter_aligned_faces` (streaming, two passes),
`FaceStream` (one pass with a bounded look-ahead: cameras, network streams) and
`identities.locate_identities` (every face with a stable id).
MTCNN and TensorFlow are imported only when a detector is built.
"""

from mimamo_tf.faces.alignment import (CANONICAL_TEMPLATE, GRAY_SIZE, RGB_SIZE, face_geometry,
                                       gray_from_rgb, same_face_geometry, standardize_aligned_face,
                                       warp_face)
from mimamo_tf.faces.detection import (LANDMARK_NAMES, FaceDetection, FaceDetector, MtcnnDetector,
                                       available_detectors, make_detector, register_detector)
from mimamo_tf.faces.pipeline import (AlignedFaces, AlignedFrame, FacePipelineConfig, FaceStream, FaceTrack,
                                      iter_aligned_faces, locate_faces, process_video)

__all__ = [
    "CANONICAL_TEMPLATE", "GRAY_SIZE", "RGB_SIZE", "face_geometry", "gray_from_rgb",
    "same_face_geometry", "standardize_aligned_face", "warp_face", "LANDMARK_NAMES",
    "FaceDetection", "FaceDetector", "MtcnnDetector", "available_detectors", "make_detector",
    "register_detector", "AlignedFaces", "AlignedFrame", "FacePipelineConfig", "FaceStream", "FaceTrack",
    "iter_aligned_faces",
    "locate_faces", "process_video",
]

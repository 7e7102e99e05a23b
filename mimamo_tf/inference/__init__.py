"""Running an exported model on videos: ``Predictor.load(path).predict_video("clip.mp4")``.

``predictor`` (videos -> per-frame results), ``runners`` (SavedModel / LiteRT / ONNX behind one call),
``windows`` (streaming windows of faces), ``outputs`` (CSV, plot, overlay video), ``batch_prediction``
(the videos of an ``--input`` to files, going on past failures).
"""

from mimamo_tf.inference.frame_rows import COLUMNS
from mimamo_tf.inference.predictor import NoFaceWarning, Predictor, VideoFaces, VideoPrediction
from mimamo_tf.inference.runners import PredictError, load_runner

__all__ = ["COLUMNS", "NoFaceWarning", "PredictError", "Predictor", "VideoFaces", "VideoPrediction", "load_runner"]

"""Evaluation as a library: ``evaluate(config, split)`` scores a trained run with the benchmarks'
protocols (``evaluator``); ``scoring`` holds the protocol itself (pure NumPy), ``plots`` the per-video
figures of prediction against label.
"""

from mimamo_tf.evaluation.evaluator import METRICS_FILE, evaluate
from mimamo_tf.evaluation.scoring import predict_faceless_videos, summarise

__all__ = ["METRICS_FILE", "evaluate", "predict_faceless_videos", "summarise"]

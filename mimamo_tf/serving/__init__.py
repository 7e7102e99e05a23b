"""Serving a trained run: the face-input model (``face_model``), SavedModel and LiteRT files
(``litert``), the model card schema (``model_card``) and the whole export (``exporter.export_run``).
"""

from mimamo_tf.serving.exporter import export_run
from mimamo_tf.serving.face_model import ExportError
from mimamo_tf.serving.model_card import ModelCard, ModelCardError, read_card

__all__ = ["ExportError", "ModelCard", "ModelCardError", "export_run", "read_card"]

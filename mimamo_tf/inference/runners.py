"""Exported models (``mimamo_tf.serving.export_run``) as one callable: windows of faces -> predictions.

``load_runner(path)`` takes an export directory (its SavedModel), or a ``.tflite`` or ``.onnx`` file of one,
and checks it is what ``export`` writes: a ``serving_default`` signature taking ``faces`` and
returning ``arousal`` and ``valence``, and the ``model_card.json`` beside it (the context frames
and the window the model was trained with come from there).
"""

import os

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from mimamo_tf.cli_startup import native_stderr_captured
from mimamo_tf.errors import InputError
from mimamo_tf.serving.model_card import (LITERT_FILES, MOTION_SIGNATURES, ONNX_FILES, OUTPUTS, SIGNATURE,
                                          SPLIT_SIGNATURES, ModelCardError, read_card)


class PredictError(InputError, ValueError):
    """A model or video that cannot be used; the message names the file and what was expected."""

    kind = "model error"


def read_model_card(directory, model_path):
    """The ``ModelCard`` of the export ``model_path`` belongs to (``PredictError`` naming it if none)."""
    try:
        return read_card(directory)
    except ModelCardError as error:
        raise PredictError(f"--model={model_path}: {error}") from None


class SavedModelRunner:
    """The SavedModel of an export: any number of frames per window, any batch.

    Attributes:
        context: faces before and after each window the model needs.
        window: the frames per window to use (the training window; any works).
        card: the ``ModelCard``.
    """

    kind = "SavedModel"

    def __init__(self, directory):
        self.card = read_model_card(directory, directory)
        try:
            loaded = tf.saved_model.load(directory)
        except (OSError, ValueError, tf.errors.OpError) as error:
            raise PredictError(f"--model={directory}: cannot load the SavedModel ({type(error).__name__})") from None
        signature = loaded.signatures.get(SIGNATURE)
        if signature is None:
            raise PredictError(f"--model={directory}: the SavedModel has no {SIGNATURE!r} signature "
                               f"(has {sorted(loaded.signatures)})")
        inputs = signature.structured_input_signature[1]
        outputs = signature.structured_outputs
        if set(inputs) != {"faces"} or not set(OUTPUTS) <= set(outputs):
            raise PredictError(f"--model={directory}: {SIGNATURE} takes {sorted(inputs)} and returns "
                               f"{sorted(outputs)}; expected faces -> {', '.join(OUTPUTS)}")
        self._loaded = loaded  # keeps the signature's variables alive
        self._signature = signature
        split = [loaded.signatures.get(name) for name in SPLIT_SIGNATURES]
        self._split = split if all(split) else None
        motion = [loaded.signatures.get(name) for name in MOTION_SIGNATURES]
        self._motion = motion if self._split and all(motion) else None
        self._tf = tf
        self.context = self.card.context_frames
        self.window = self.card.trained_window
        self.path = directory

    def __call__(self, faces):
        """``(n, window + 2 * context, 224, 224, 3)`` uint8 -> ``(n, window, 2)`` float32."""
        out = self._signature(faces=self._tf.constant(faces, self._tf.uint8))
        return np.stack([out[name].numpy() for name in OUTPUTS], -1)

    @property
    def split(self):
        """Whether the export has the model in two parts (``frame_features``, ``from_features``)."""
        return self._split is not None

    def frame_features(self, faces):
        """``(n, 224, 224, 3)`` uint8 -> ``(n, D)`` float32: the frozen backbone on each face."""
        out = self._split[0](faces=self._tf.constant(faces[None], self._tf.uint8))
        return out["spatial_features"].numpy()[0]

    def from_features(self, faces, spatial_features):
        """``faces`` ``(n, window + 2 * context, 224, 224, 3)`` uint8 and the central faces'
        ``spatial_features`` ``(n, window, D)`` -> ``(n, window, 2)``: what ``__call__`` gives."""
        out = self._split[1](faces=self._tf.constant(faces, self._tf.uint8),
                             spatial_features=self._tf.constant(spatial_features, self._tf.float32))
        return np.stack([out[name].numpy() for name in OUTPUTS], -1)

    @property
    def motion(self):
        """Whether the export also has the window part in two (``frame_motion_features``,
        ``from_frame_features``): the two-stream network."""
        return self._motion is not None

    def frame_motion_features(self, gray):
        """``(frames + 2 * context, 48, 48)`` uint8 gray faces -> ``(frames, 256)`` float32: the
        temporal stream's output on each central frame."""
        out = self._motion[0](gray48=self._tf.constant(gray[None], self._tf.uint8))
        return out["temporal_features"].numpy()[0]

    def from_frame_features(self, spatial_features, temporal_features):
        """``spatial_features`` ``(n, window, D)`` and ``temporal_features`` ``(n, window, 256)`` ->
        ``(n, window, 2)``: what ``from_features`` gives on the faces they came from."""
        out = self._motion[1](spatial_features=self._tf.constant(spatial_features, self._tf.float32),
                              temporal_features=self._tf.constant(temporal_features, self._tf.float32))
        return np.stack([out[name].numpy() for name in OUTPUTS], -1)


class LiteRTRunner:
    """A ``.tflite`` file of an export (fixed window, batch 1), on the LiteRT interpreter; with the
    ``frame_features`` (one face per call) and ``window_from_features`` signatures the file has the
    model in two parts as the SavedModel does (``split``)."""

    kind = "LiteRT"

    def __init__(self, path, num_threads=None):
        self.card = read_model_card(os.path.dirname(os.path.abspath(path)), path)
        try:
            with native_stderr_captured():
                interpreter = Interpreter(model_path=path, num_threads=num_threads or os.cpu_count())
                self._runner = interpreter.get_signature_runner(SIGNATURE)
        except ValueError as error:
            raise PredictError(f"--model={path}: not a LiteRT model with a {SIGNATURE!r} signature ({error})") from None
        details = self._runner.get_input_details()
        if set(details) != {"faces"} or not set(OUTPUTS) <= set(self._runner.get_output_details()):
            raise PredictError(f"--model={path}: {SIGNATURE} takes {sorted(details)}; expected faces -> "
                               f"{', '.join(OUTPUTS)}")
        shape = [int(s) for s in details["faces"]["shape"]]
        self.context = self.card.context_frames
        self.window = shape[1] - 2 * self.context
        self._interpreter = interpreter
        signatures = interpreter.get_signature_list()
        self._split = ([interpreter.get_signature_runner(name) for name in SPLIT_SIGNATURES]
                       if all(name in signatures for name in SPLIT_SIGNATURES) else None)
        self._called = False
        self.path = path

    @property
    def split(self):
        """Whether the file has the model in two parts (``frame_features``, ``window_from_features``)."""
        return self._split is not None

    # The motion parts take any number of frames, which a LiteRT file's fixed shapes do not.
    motion = False

    def _run(self, runner, **inputs):
        # The first call prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU" on fd 2.
        with native_stderr_captured(not self._called):
            out = runner(**inputs)
        self._called = True
        return out

    def frame_features(self, faces):
        """``(n, 224, 224, 3)`` uint8 -> ``(n, D)`` float32: the frozen backbone on each face (one
        call per face: the file's signature takes one)."""
        return np.stack([self._run(self._split[0], faces=face[None, None])["spatial_features"][0, 0]
                         for face in np.asarray(faces, np.uint8)])

    def from_features(self, faces, spatial_features):
        """As ``SavedModelRunner.from_features``, one window per call."""
        results = []
        for window_faces, features in zip(np.asarray(faces, np.uint8), np.asarray(spatial_features, np.float32)):
            out = self._run(self._split[1], faces=window_faces[None], spatial_features=features[None])
            results.append(np.stack([out[name][0] for name in OUTPUTS], -1))
        return np.stack(results)

    def __call__(self, faces):
        results = []
        for one in np.asarray(faces, np.uint8):
            out = self._run(self._runner, faces=one[None])
            results.append(np.stack([out[name][0] for name in OUTPUTS], -1))
        return np.stack(results)


class OnnxRunner:
    """The ONNX files of an export (``export --onnx``) on onnxruntime (``pip install
    'mimamo_tf[onnx]'``): ``model.onnx`` (any window and batch) and, when its two parts lie beside it
    (``model_frame_features.onnx``, ``model_window_from_features.onnx``), the model in two parts as
    the SavedModel has it (``split``)."""

    kind = "ONNX"

    def __init__(self, path, num_threads=None):
        try:
            import onnxruntime  # deferred: optional (mimamo_tf[onnx])
        except ImportError:
            raise PredictError(f"--model={path}: an ONNX model needs onnxruntime: pip install 'mimamo_tf[onnx]'") from None
        directory = os.path.dirname(os.path.abspath(path))
        self.card = read_model_card(directory, path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(num_threads or os.cpu_count() or 1)

        def session(file_path):
            try:
                return onnxruntime.InferenceSession(file_path, options, providers=["CPUExecutionProvider"])
            except Exception as error:  # noqa: B902 — onnxruntime's own exception types
                raise PredictError(f"--model={file_path}: not an ONNX model onnxruntime can run ({error})") from None

        self._session = session(path)
        inputs = [tensor.name for tensor in self._session.get_inputs()]
        outputs = [tensor.name for tensor in self._session.get_outputs()]
        if inputs != ["faces"] or not set(OUTPUTS) <= set(outputs):
            raise PredictError(f"--model={path}: takes {inputs} and returns {outputs}; expected faces -> "
                               f"{', '.join(OUTPUTS)} (a model.onnx written by export --onnx)")
        parts = [os.path.join(directory, ONNX_FILES[name]) for name in SPLIT_SIGNATURES]
        self._split = [session(part) for part in parts] if all(os.path.isfile(part) for part in parts) else None
        parts = [os.path.join(directory, ONNX_FILES[name]) for name in MOTION_SIGNATURES]
        self._motion = ([session(part) for part in parts]
                        if self._split and all(os.path.isfile(part) for part in parts) else None)
        self.context = self.card.context_frames
        self.window = self.card.trained_window
        self.path = path

    @property
    def split(self):
        """Whether the model's two parts lie beside it (``frame_features``, ``window_from_features``)."""
        return self._split is not None

    @staticmethod
    def _predictions(session, **inputs):
        """``(n, window, 2)``: the session's arousal and valence outputs on ``inputs``."""
        out = session.run(list(OUTPUTS), inputs)
        return np.stack(out, -1)

    def __call__(self, faces):
        """As ``SavedModelRunner.__call__``."""
        return self._predictions(self._session, faces=np.asarray(faces, np.uint8))

    def frame_features(self, faces):
        """As ``SavedModelRunner.frame_features``."""
        return self._split[0].run(["spatial_features"], {"faces": np.asarray(faces, np.uint8)[None]})[0][0]

    def from_features(self, faces, spatial_features):
        """As ``SavedModelRunner.from_features``."""
        return self._predictions(self._split[1], faces=np.asarray(faces, np.uint8),
                                 spatial_features=np.asarray(spatial_features, np.float32))

    @property
    def motion(self):
        """Whether the window part's two parts lie beside it (``frame_motion_features``,
        ``window_from_frame_features``)."""
        return self._motion is not None

    def frame_motion_features(self, gray):
        """As ``SavedModelRunner.frame_motion_features``."""
        return self._motion[0].run(["temporal_features"], {"gray48": np.asarray(gray, np.uint8)[None]})[0][0]

    def from_frame_features(self, spatial_features, temporal_features):
        """As ``SavedModelRunner.from_frame_features``."""
        return self._predictions(self._motion[1], spatial_features=np.asarray(spatial_features, np.float32),
                                 temporal_features=np.asarray(temporal_features, np.float32))


def load_runner(path, num_threads=None):
    """The runner of ``path``: an export directory (SavedModel), or a ``.tflite`` or ``.onnx`` file in
    one."""
    path = os.fspath(path)
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            litert = [name for name in LITERT_FILES.values() if os.path.isfile(os.path.join(path, name))]
            hint = f" (it holds {litert[0]}: pass that file for LiteRT)" if litert else ""
            raise PredictError(f"--model={path}: no saved_model.pb: not a SavedModel directory{hint}")
        return SavedModelRunner(path)
    if path.endswith(".tflite"):
        if not os.path.isfile(path):
            raise PredictError(f"--model={path}: no such file")
        return LiteRTRunner(path, num_threads)
    if path.endswith(".onnx"):
        if not os.path.isfile(path):
            raise PredictError(f"--model={path}: no such file")
        return OnnxRunner(path, num_threads)
    raise PredictError(f"--model={path}: expected an export directory (saved_models/NAME), a .tflite or an .onnx file")

"""``Predictor``: valence and arousal for every frame of a video, from an exported model.

    from mimamo_tf.inference import Predictor

    predictor = Predictor.load("saved_models/demo")          # or "saved_models/demo/model.tflite"
    result = predictor.predict_video("clip.mp4")
    result.arousal, result.valence                            # (frames,) float, NaN without a face
    result.rows()                                             # the rows of `predict`'s CSV

A video is read twice and never held in memory: pass 1 finds and follows the face
(``mimamo_tf.faces.locate_faces``, the pipeline data preparation uses), pass 2 aligns every frame
and feeds windows of faces to the model as soon as they are complete (``windows.WindowStream``).
"""

import dataclasses
import os
import time
import warnings
from typing import Dict

import numpy as np

from mimamo_tf import video as video_io
from mimamo_tf import window_plan
from mimamo_tf.inference.runners import PredictError, load_runner
from mimamo_tf.inference.windows import WindowStream

class NoFaceWarning(UserWarning):
    """No face was found anywhere in a video: its rows all have ``face_found=0`` and no values."""


class FaceGeometryWarning(UserWarning):
    """The model's card says its training faces sat in their crops otherwise than the faces the
    predictor aligns (e.g. Aff-Wild2's ``cropped_aligned`` crops kept as provided)."""


def face_geometry_mismatch(card):
    """A message when ``card`` (a ``ModelCard``) records training faces of another geometry than
    ``predict``'s alignment, else None (also when the card does not record it)."""
    from mimamo_tf import faces

    trained = card.face_geometry
    served = faces.face_geometry("predict")
    if trained is None or faces.same_face_geometry(trained, served):
        return None
    def describe(geometry):
        if not isinstance(geometry, dict):
            return repr(geometry)
        template = geometry.get("template") or "unknown (the provider's crop)"
        return f"{geometry.get('source')}, template {template}"

    described = "; ".join(describe(g) for g in (trained if isinstance(trained, list) else [trained]))
    return (f"the model was trained on faces of another geometry ({described}) than predict aligns (our "
            f"template {served['template']}, {served['output_size']}x{served['output_size']}): its predictions may be "
            "off. Prepare the training data with --cropped_aligned_geometry=realign (the default) and train again")


COLUMNS = ("frame", "time_s", "face_found", "face_x", "face_y", "face_w", "face_h", "arousal", "valence")


@dataclasses.dataclass
class VideoPrediction:
    """Per-frame results for one video.

    Attributes:
        video: the video file.
        fps: its frame rate.
        face_found: ``(T,)`` 1 where the face was found.
        face_box: ``(T, 4)`` float ``x, y, w, h`` of the face in the frame's pixels (NaN without a face).
        arousal, valence: ``(T,)`` float32 in about [-1, 1]; NaN for frames without a face unless
            ``fill_missing`` (then the model's prediction with the nearest face's inputs, as the
            official scorers and ``evaluate`` use it); NaN everywhere for a video without any face.
        filled: whether ``fill_missing`` was on.
        seconds: wall time per stage: ``decode``, ``faces``, ``model``, ``total``.
    """

    video: str
    fps: float
    face_found: np.ndarray
    face_box: np.ndarray
    arousal: np.ndarray
    valence: np.ndarray
    filled: bool = False
    seconds: Dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def num_frames(self):
        return len(self.face_found)

    @property
    def time_s(self):
        return np.arange(self.num_frames) / self.fps

    def rows(self):
        """One dict per frame with the CSV's ``COLUMNS``; missing values are None."""
        def value(x, digits):
            return None if not np.isfinite(x) else round(float(x), digits)

        rows = []
        for t in range(self.num_frames):
            x, y, w, h = self.face_box[t]
            rows.append({
                "frame": t, "time_s": round(t / self.fps, 4), "face_found": int(self.face_found[t]),
                "face_x": value(x, 1), "face_y": value(y, 1), "face_w": value(w, 1), "face_h": value(h, 1),
                "arousal": value(self.arousal[t], 6), "valence": value(self.valence[t], 6),
            })
        return rows


class _Timed:
    """Wraps an iterator and adds the time spent inside ``next`` to ``seconds[key]``."""

    def __init__(self, iterator, seconds, key):
        self.iterator, self.seconds, self.key = iter(iterator), seconds, key

    def __iter__(self):
        return self

    def __next__(self):
        start = time.perf_counter()
        try:
            return next(self.iterator)
        finally:
            self.seconds[self.key] += time.perf_counter() - start


class Predictor:
    """Runs an exported MIMAMO Net on videos: faces, windows, model, per-frame results.

    Args:
        runner: a ``runners.SavedModelRunner`` or ``runners.LiteRTRunner``.
        face_config: ``mimamo_tf.faces.FacePipelineConfig`` (prepare's defaults).
        detector: a ``mimamo_tf.faces.FaceDetector`` (default MTCNN, as prepare).
        window_overlap: consecutive windows overlap by this fraction of the model's window, each
            frame predicted by the window whose centre is nearest (``mimamo_tf.window_plan``, as
            ``evaluate``); 0: windows one after the other.
        reuse_features: with a SavedModel that has the model in two parts (a network on stored
            backbone features), run the backbone once per face and keep its feature for the next
            window, instead of once per window it is in (the same predictions, half the cost at
            half-window overlap); False: ``serving_default`` on every window.

    Example:
        >>> Predictor.load("saved_models/demo").predict_video("clip.mp4").rows()[0]
    """

    def __init__(self, runner, face_config=None, detector=None, window_overlap=window_plan.DEFAULT_OVERLAP,
                 reuse_features=True):
        from mimamo_tf import faces

        self.runner = runner
        self.face_config = face_config or faces.FacePipelineConfig()
        self._detector = detector
        try:
            self.stride = window_plan.overlap_stride(runner.window, window_overlap)
        except ValueError as error:
            raise PredictError(f"--window_overlap={window_overlap}: {error}") from None
        self.window_overlap = window_overlap
        self.reuse_features = reuse_features
        card = getattr(runner, "card", None)  # any callable with window and context runs; a card is checked
        mismatch = face_geometry_mismatch(card) if card is not None else None
        if mismatch:
            warnings.warn(f"{getattr(runner, 'path', 'the model')}: {mismatch}", FaceGeometryWarning, stacklevel=2)

    @classmethod
    def load(cls, path, num_threads=None, **kwargs):
        """A predictor on an export directory (SavedModel) or one of its ``.tflite`` files."""
        return cls(load_runner(path, num_threads), **kwargs)

    @property
    def detector(self):
        if self._detector is None:
            from mimamo_tf import faces

            self._detector = faces.make_detector("mtcnn")
        return self._detector

    @property
    def window(self):
        return self.runner.window

    @property
    def context(self):
        return self.runner.context

    @property
    def reuses_features(self):
        """Whether windows run on the export's two parts, the backbone once per face
        (``reuse_features`` and a SavedModel that has them)."""
        return self.reuse_features and getattr(self.runner, "split", False)

    def warm_up(self):
        """Runs the model once on a blank window, the way videos will run it (in two parts when
        the export has them): its one-off set-up cost stays out of timings."""
        blank = np.zeros((self.window + 2 * self.context, 224, 224, 3), np.uint8)
        if self.reuses_features:
            features = self.runner.frame_features(blank[self.context : self.context + self.window])
            self.runner.from_features(blank[None], features[None])
        else:
            self.runner(blank[None])

    def predict_faces(self, faces_rgb, face_found):
        """Predictions for aligned faces already in memory: ``(T, 224, 224, 3)`` uint8 and ``(T,)``
        face flags -> ``(T, 2)`` (arousal, valence) for every frame (faceless frames filled)."""
        predictions = np.zeros((len(face_found), 2), np.float32)
        self._predict_stream(face_found, faces_rgb, predictions, {"model": 0.0})
        return predictions

    def _predict_stream(self, face_found, faces_in_order, predictions, seconds):
        """Feeds faces in frame order through a ``WindowStream`` into the model, writing each
        window's predictions into ``predictions``; the model's time goes to ``seconds["model"]``."""
        stream = WindowStream(face_found, self.window, self.context, self.stride)
        # Backbone features of the faces still held, when the export has the model in two parts.
        features = {} if self.reuses_features else None
        for t, face in enumerate(faces_in_order):
            ready = stream.add(t, face)
            if not ready:
                continue
            model_start = time.perf_counter()
            for window in ready:
                if features is None:
                    out = self.runner(window.faces[None])[0]
                else:
                    out = self._from_kept_features(window, features, stream.held)
                predictions[window.first : window.end] = out[window.first - window.start : window.end - window.start]
            seconds["model"] += time.perf_counter() - model_start

    def _from_kept_features(self, window, features, held):
        """The window's predictions from the export's two parts: the backbone runs once per face
        (in one batch for the faces new to this window) and its feature is kept in ``features``
        while a later window needs the face (``held``), so overlapping windows do not pay for it twice."""
        central = [int(i) for i in window.sources[self.context : self.context + self.window]]
        new = sorted(set(central) - features.keys())
        if new:
            position = {int(source): k for k, source in enumerate(window.sources)}
            features.update(zip(new, self.runner.frame_features(window.faces[[position[i] for i in new]])))
        out = self.runner.from_features(window.faces[None], np.stack([features[i] for i in central])[None])[0]
        for frame in [k for k in features if k not in held]:
            del features[frame]
        return out

    def predict_video(self, path, fill_missing=False, progress=None):
        """Per-frame valence and arousal of the face in video ``path``.

        Args:
            path: a video file OpenCV can decode.
            fill_missing: give frames without a face the model's predictions on the nearest face's
                inputs instead of NaN.
            progress: a ``tqdm`` bar to advance (its total is set here), or None.

        Returns:
            A ``VideoPrediction``.

        Raises:
            PredictError: the video cannot be opened or decoded (the message names it).
        """
        from mimamo_tf import faces

        path = os.fspath(path)
        seconds = {"decode": 0.0, "faces": 0.0, "model": 0.0}
        started = time.perf_counter()
        try:
            info = video_io.probe(path)
        except video_io.VideoReadError as error:
            raise PredictError(f"{path}: cannot be read as a video ({error})") from None
        blank = np.zeros((info.height, info.width, 3), np.uint8)
        undecodable = set()

        def frames():
            # A frame that fails to decode between good ones is a frame without a face, as in prepare.
            for index, frame in enumerate(_Timed(video_io.iter_frames(path, mark_undecodable=True), seconds, "decode")):
                if frame is None:
                    undecodable.add(index)
                    frame = blank
                if progress is not None:
                    progress.update(1)
                yield frame

        if progress is not None:
            progress.reset(total=info.header_frame_count or None)
            progress.set_postfix_str("finding the face")
        try:
            pass_start = time.perf_counter()
            decoded = seconds["decode"]
            track = faces.locate_faces(frames(), self.detector, self.face_config)
            seconds["faces"] += time.perf_counter() - pass_start - (seconds["decode"] - decoded)
            face_found = track.face_found.astype(np.int64)
            face_found[sorted(undecodable)] = 0
            num_frames = len(face_found)
            predictions = np.full((num_frames, 2), np.nan, np.float32)
            if face_found.any():
                if progress is not None:
                    progress.reset(total=num_frames)
                    progress.set_postfix_str("predicting")
                aligned = faces.iter_aligned_faces(frames(), track, self.face_config)
                pass_start, decoded = time.perf_counter(), seconds["decode"]
                self._predict_stream(face_found, (rgb for rgb, _, _ in aligned), predictions, seconds)
                seconds["faces"] += (time.perf_counter() - pass_start - (seconds["decode"] - decoded)
                                     - seconds["model"])
            else:
                warnings.warn(f"{path}: no face found in any of its {num_frames} frames: every row has face_found=0",
                              NoFaceWarning, stacklevel=2)
        except (video_io.VideoReadError, ValueError) as error:
            # ValueError: the second pass decoded a different number of frames than the first.
            raise PredictError(f"{path}: cannot be decoded ({error})") from None
        if not fill_missing:
            predictions[face_found == 0] = np.nan
        boxes = np.asarray(track.boxes, np.float64)
        face_box = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], -1)
        face_box[face_found == 0] = np.nan
        seconds["total"] = time.perf_counter() - started
        return VideoPrediction(video=path, fps=float(info.fps or 30.0), face_found=face_found, face_box=face_box,
                               arousal=predictions[:, 0], valence=predictions[:, 1], filled=fill_missing,
                               seconds=seconds)

"""``Predictor``: valence and arousal for every frame of a video, from an exported model.

    from mimamo_tf.inference import Predictor

    predictor = Predictor.load("saved_models/demo")          # or "saved_models/demo/model.tflite"
    result = predictor.predict_video("clip.mp4")
    result.arousal, result.valence                            # (frames,) float, NaN without a face
    result.rows()                                             # the rows of `predict`'s CSV

Values are on the scale the model's training labels were annotated on (the card's ``label_scale``:
[-1, 1] for Aff-Wild, Aff-Wild2, OMG and the demo; e.g. [1, 9] for a folder prepared with
``--label_range=1,9``), mapped from the network's [-1, 1] and clipped to it (``clip=False``: not
clipped).

A video is never held in memory. It is read twice: pass 1 finds and follows the face
(``mimamo_tf.faces.locate_faces``, the pipeline data preparation uses), pass 2 aligns every frame
and feeds windows of faces to the model as soon as they are complete (``windows.WindowStream``),
each frame taking its window's prediction as ``windows.WindowMerge`` says (``WindowFeeder``). One
face of a video taken at its own rate, without ``fill_missing``, is read once instead, its stages
overlapping (``live.run_pipeline`` without dropping frames: the one-pass face pipeline and windows
give the two passes' faces and windows, tested), which is faster; every face, a resampled video,
``fill_missing`` and a video with a frame that does not decode take the two passes.
"""

import dataclasses
import itertools
import os
import time
import warnings
from typing import Dict, Optional

import numpy as np

from mimamo_tf import frame_rate
from mimamo_tf import faces as face_pipeline
from mimamo_tf import video as video_io
from mimamo_tf import window_plan
from mimamo_tf.data.label_scale import MODEL_SCALE, LabelScale
from mimamo_tf.faces import identities
from mimamo_tf.faces.alignment import gray_from_rgb
from mimamo_tf.inference.runners import PredictError, load_runner
from mimamo_tf.inference import live
from mimamo_tf.inference.frame_rows import frame_row
from mimamo_tf.inference.windows import WindowFeeder, WindowStream


class NoFaceWarning(UserWarning):
    """No face was found anywhere in a video: its rows all have ``face_found=0`` and no values."""


class FaceGeometryWarning(UserWarning):
    """The model's card says its training faces sat in their crops otherwise than the faces the
    predictor aligns (e.g. Aff-Wild2's ``cropped_aligned`` crops kept as provided)."""


def face_geometry_mismatch(card):
    """A message when ``card`` (a ``ModelCard``) records training faces of another geometry than
    ``predict``'s alignment, else None (also when the card does not record it)."""
    trained = card.face_geometry
    served = face_pipeline.face_geometry("predict")
    if trained is None or face_pipeline.same_face_geometry(trained, served):
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


@dataclasses.dataclass
class VideoPrediction:
    """Per-frame results for one video.

    Attributes:
        video: the video file.
        fps: its frame rate.
        face_found: ``(T,)`` 1 where the face was found.
        face_box: ``(T, 4)`` float ``x, y, w, h`` of the face in the frame's pixels (NaN without a face).
        arousal, valence: ``(T,)`` float32 on ``label_scale`` (clipped to it unless the predictor's
            ``clip`` is off); NaN for frames without a face unless ``fill_missing`` (then the
            model's prediction with the nearest face's inputs, as the official scorers and
            ``evaluate`` use it); NaN everywhere for a video without any face.
        filled: whether ``fill_missing`` was on.
        seconds: time per stage: ``decode``, ``faces``, ``model``, ``total`` (in one pass, the stages
            overlap: ``total`` is less than their sum; ``backbone``, the part of ``model`` the
            backbone took).
        face_id: ``(T,)`` the CSV's ``face_id`` of each frame (-1: none).
        label_scale: the scale of the values (``LabelScale``: the model card's, [-1, 1] by default).
    """

    video: str
    fps: float
    face_found: np.ndarray
    face_box: np.ndarray
    arousal: np.ndarray
    valence: np.ndarray
    filled: bool = False
    seconds: Dict[str, float] = dataclasses.field(default_factory=dict)
    face_id: Optional[np.ndarray] = None
    label_scale: LabelScale = MODEL_SCALE

    @property
    def num_frames(self):
        return len(self.face_found)

    @property
    def time_s(self):
        return np.arange(self.num_frames) / self.fps

    def row(self, t):
        """Frame ``t`` as a dict with the CSV's ``COLUMNS``; missing values are None."""
        face_id = None if self.face_id is None or self.face_id[t] < 0 else int(self.face_id[t])
        return frame_row(t, self.fps, face_id, self.face_found[t], self.face_box[t], self.arousal[t],
                         self.valence[t])

    def rows(self):
        """One dict per frame with the CSV's ``COLUMNS``; missing values are None."""
        return [self.row(t) for t in range(self.num_frames)]


@dataclasses.dataclass
class VideoFaces:
    """Per-frame results for every person in a video (``predict --faces=all``).

    Attributes:
        video: the video file.
        fps: its frame rate.
        num_frames: its decoded frames.
        faces: ``{face_id: VideoPrediction}``, one per identity, each over the whole video: its
            ``face_found`` is 1 where that person is in view, its values NaN where not (with
            ``fill_missing``: filled between the person's first and last face).
        filled: whether ``fill_missing`` was on.
        seconds: wall time per stage, as ``VideoPrediction.seconds``.
        label_scale: the scale of every face's values, as ``VideoPrediction.label_scale``.
    """

    video: str
    fps: float
    num_frames: int
    faces: Dict[int, VideoPrediction]
    filled: bool = False
    seconds: Dict[str, float] = dataclasses.field(default_factory=dict)
    label_scale: LabelScale = MODEL_SCALE

    @property
    def face_found(self):
        """``(T,)`` 1 where anyone's face was found."""
        found = np.zeros(self.num_frames, np.int64)
        for person in self.faces.values():
            found |= person.face_found > 0
        return found

    @property
    def time_s(self):
        return np.arange(self.num_frames) / self.fps

    def rows(self):
        """One row per frame and person in it (ids in order); a frame without anyone has one row
        with ``face_found=0`` and no ``face_id``."""
        rows = []
        for t in range(self.num_frames):
            mine = [person.row(t) for _, person in sorted(self.faces.items()) if person.face_id[t] >= 0]
            rows.extend(mine or [frame_row(t, self.fps)])
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
        reuse_motion: with an export that also has the window part in two (the two-stream network's
            SavedModel or ONNX files), run the temporal stream once per frame and keep its output for
            the next window (the same predictions); False: ``window_from_features`` on every window.
        clip: limit the values to the label scale (``predict``'s default); False: the model's
            outputs mapped onto the scale as they are (``predict --noclip``).
        one_pass: predict one face of a file in one pass with overlapping stages (decoding, faces,
            backbone, windows: ``live.run_pipeline``, never dropping a frame) where it gives the two
            passes' numbers — no resampling, no ``fill_missing``, every frame decoded; False:
            always the two passes.

    Attributes:
        label_scale: the scale every value is given on (``mimamo_tf.data.label_scale.LabelScale``):
            the model card's ``label_scale``, the training labels' annotation scale; [-1, 1] (the
            network's own) when the card records none.
        frame_rate: the card's ``frame_rate`` (``mimamo_tf.frame_rate``): a video is sampled at it
            before its windows run, and each of its frames takes the prediction of the sampled frame
            nearest in time; None: videos run at their own rate.

    Example:
        >>> Predictor.load("saved_models/demo").predict_video("clip.mp4").rows()[0]
    """

    def __init__(self, runner, face_config=None, detector=None, window_overlap=window_plan.DEFAULT_OVERLAP,
                 reuse_features=True, clip=True, one_pass=True, reuse_motion=True):
        self.runner = runner
        self.one_pass = one_pass
        self.face_config = face_config or face_pipeline.FacePipelineConfig()
        self._detector = detector
        try:
            self.stride = window_plan.overlap_stride(runner.window, window_overlap)
        except ValueError as error:
            raise PredictError(f"--window_overlap={window_overlap}: {error}") from None
        self.window_overlap = window_overlap
        self.reuse_features = reuse_features
        self.reuse_motion = reuse_motion
        self.clip = clip
        card = getattr(runner, "card", None)  # any callable with window and context runs; a card is checked
        self.label_scale = getattr(card, "label_scale", None) or MODEL_SCALE
        self.frame_rate = getattr(card, "frame_rate", None)
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
            self._detector = face_pipeline.make_detector("mtcnn")
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

    @property
    def reuses_motion(self):
        """Whether windows also keep each frame's motion features, the temporal stream once per frame
        (``reuses_features`` and an export with the window part in two: the two-stream network's
        SavedModel or ONNX files)."""
        return self.reuse_motion and self.reuses_features and getattr(self.runner, "motion", False)

    def warm_up(self):
        """Runs the model once on a blank window, the way videos will run it (in two parts when
        the export has them): its one-off set-up cost stays out of timings."""
        blank = np.zeros((self.window + 2 * self.context, 224, 224, 3), np.uint8)
        if self.reuses_features:
            features = self.runner.frame_features(blank[self.context : self.context + self.window])
            if self.reuses_motion:
                self.runner.from_frame_features(features[None], self._kept_motion(blank, 0, {})[None])
            else:
                self.runner.from_features(blank[None], features[None])
        else:
            self.runner(blank[None])

    def predict_faces(self, faces_rgb, face_found):
        """Predictions for aligned faces already in memory: ``(T, 224, 224, 3)`` uint8 and ``(T,)``
        face flags -> ``(T, 2)`` (arousal, valence) for every frame (faceless frames filled), on
        ``label_scale`` (``label_scale.to_model`` gives the network's [-1, 1] back)."""
        predictions = np.zeros((len(face_found), 2), np.float32)
        feeder = self._window_feeder(face_found)
        for t, face in enumerate(faces_rgb):
            _write_merged(predictions, feeder.add(t, face))
        return predictions

    def _window_feeder(self, face_found, seconds=None):
        """A ``WindowFeeder`` on the windows of a sequence whose frames with a face are known."""
        return WindowFeeder(self, WindowStream(face_found, self.window, self.context, self.stride), seconds)

    def _run_window(self, window, features, held, motion=None):
        """``(window, 2)`` predictions of a ``ReadyWindow`` on ``label_scale``: the whole model on it,
        or (``features`` a dict, see ``_from_kept_features``) its parts. Every path (a video, every
        face, live, faces in memory) gets its values here (``WindowFeeder``), so all give the same
        numbers."""
        if features is None:
            out = self.runner(window.faces[None])[0]
        else:
            out = self._from_kept_features(window, features, held, motion)
        return self.label_scale.from_model(out, self.clip)

    def _from_kept_features(self, window, features, held, motion=None):
        """The window's predictions from the export's parts: the backbone runs once per face (in one
        batch for the faces new to this window) and its feature is kept in ``features`` while a
        later window needs the face (``held``), so overlapping windows do not pay for it twice; with
        ``motion`` (a dict, ``reuses_motion``) the temporal stream too runs once per frame
        (``_kept_motion``)."""
        central = [int(i) for i in window.sources[self.context : self.context + self.window]]
        new = sorted(set(central) - features.keys())
        if new:
            position = {int(source): k for k, source in enumerate(window.sources)}
            features.update(zip(new, self.runner.frame_features(window.faces[[position[i] for i in new]])))
        spatial = np.stack([features[i] for i in central])[None]
        if motion is None:
            out = self.runner.from_features(window.faces[None], spatial)[0]
        else:
            out = self.runner.from_frame_features(spatial, self._kept_motion(window.faces, window.start, motion)[None])[0]
        for frame in [k for k in features if k not in held]:
            del features[frame]
        return out

    def _kept_motion(self, faces, start, motion):
        """``(window, 256)`` motion features of the window starting at frame ``start`` (``faces``: its
        faces, context included): those an earlier window computed (``motion``, by frame of the
        sequence), the others computed now — the temporal stream on the gray faces of each run of
        new frames and their context — and kept for the next window. A frame's motion features do
        not depend on the window (``face_model.build_motion_models``): its context frames are the
        same faces in every window it is in (``windows.window_frames``). Frames before ``start`` are
        forgotten: windows come in order of their start."""
        frames = range(start, start + self.window)
        for first, end in _runs([t for t in frames if t not in motion]):
            gray = np.stack([gray_from_rgb(face) for face in faces[first - start : end - start + 2 * self.context]])
            motion.update(zip(range(first, end), self.runner.frame_motion_features(gray)))
        for frame in [t for t in motion if t < start]:
            del motion[frame]
        return np.stack([motion[t] for t in frames])

    def predict_video(self, path, fill_missing=False, progress=None, faces="largest",
                      reentry_seconds=identities.DEFAULT_REENTRY_SECONDS):
        """Per-frame valence and arousal of the face (or every face) in video ``path``.

        Args:
            path: a video file OpenCV can decode.
            fill_missing: give frames without a face the model's predictions on the nearest face's
                inputs instead of NaN (with ``faces="all"``: each person's frames between the first
                and the last time they are seen).
            progress: a ``tqdm`` bar to advance (its total is set here), or None.
            faces: ``"largest"``: follow one face (the largest where a track starts); ``"all"``:
                every face, each an identity (``mimamo_tf.faces.identities``) run through the
                model on its own windows.
            reentry_seconds: with ``faces="all"``, a face away for at most this long keeps its id
                when it comes back at the same place and size.

        Returns:
            A ``VideoPrediction``; with ``faces="all"`` a ``VideoFaces`` (``.faces[id]`` is each
            person's ``VideoPrediction``).

        Raises:
            PredictError: the video cannot be opened or decoded (the message names it).
        """
        if faces not in FACE_MODES:
            raise PredictError(f"faces={faces!r}: expected one of {', '.join(FACE_MODES)}")
        path = os.fspath(path)
        seconds = {"decode": 0.0, "faces": 0.0, "model": 0.0}
        started = time.perf_counter()
        try:
            info = video_io.probe(path)
        except video_io.VideoReadError as error:
            raise PredictError(f"{path}: cannot be read as a video ({error})") from None
        fps = float(info.fps or 30.0)
        blank = np.zeros((info.height, info.width, 3), np.uint8)
        undecodable = set()

        passes = []

        def frames():
            # A frame that fails to decode between good ones is a frame without a face, as in prepare.
            # A recording cut short is predicted up to its last decodable frame (warned once, by the
            # first pass that reads to the end: a one-pass run left at an undecodable frame does not).
            truncated = "ignore" if passes else "warn"
            decoded = video_io.iter_frames(path, mark_undecodable=True, truncated=truncated)
            for index, frame in enumerate(_Timed(decoded, seconds, "decode")):
                if frame is None:
                    undecodable.add(index)
                    frame = blank
                if progress is not None:
                    progress.update(1)
                yield frame
            passes.append(truncated)

        def timed_pass(run):
            # The face pipeline's share of a pass: its wall time less decoding and the model.
            pass_start, decoded, model = time.perf_counter(), seconds["decode"], seconds["model"]
            result = run()
            seconds["faces"] += (time.perf_counter() - pass_start - (seconds["decode"] - decoded)
                                 - (seconds["model"] - model))
            return result

        if progress is not None:
            progress.reset(total=info.header_frame_count or None)
            progress.set_postfix_str("finding the faces" if faces == "all" else "finding the face")
        if (faces == "largest" and not fill_missing and self.one_pass
                and not frame_rate.resamples(fps, self.frame_rate)):
            result = self._predict_in_one_pass(path, fps, frames, undecodable, seconds, started, progress)
            if result is not None:
                if not result.face_found.any():
                    warnings.warn(f"{path}: no face found in any of its {result.num_frames} frames: every row has "
                                  "face_found=0", NoFaceWarning, stacklevel=2)
                return result
            undecodable.clear()  # the two passes below decode the video again
            seconds.update(decode=0.0, faces=0.0, model=0.0)
        try:
            if faces == "all":
                located = timed_pass(lambda: identities.locate_identities(
                    frames(), self.detector, self.face_config, fps, reentry_seconds))
                tracks, num_frames = located.tracks, located.num_frames
            else:
                track = timed_pass(lambda: face_pipeline.locate_faces(frames(), self.detector, self.face_config))
                tracks, num_frames = {0: track}, track.num_frames
            found = {}
            for person, track in tracks.items():
                found[person] = track.face_found.astype(np.int64)
                found[person][sorted(undecodable)] = 0
            # One person's windows cover the frames from their first to their last face; the one
            # followed face's cover the whole video (frames before it are filled from it).
            spans = {person: _span(flags) if faces == "all" else (0, num_frames) for person, flags in found.items()}
            predictions = {}
            if any(flags.any() for flags in found.values()):
                if progress is not None:
                    progress.reset(total=num_frames)
                    progress.set_postfix_str("predicting")
                predictions = timed_pass(lambda: self._predict_tracks(frames(), tracks, found, spans, num_frames,
                                                                      fps, seconds))
        except (video_io.VideoReadError, ValueError) as error:
            # ValueError: the second pass decoded a different number of frames than the first.
            raise PredictError(f"{path}: cannot be decoded ({error})") from None
        seconds["total"] = time.perf_counter() - started
        if faces == "largest":
            result = _track_prediction(path, fps, tracks[0], found[0], predictions.get(0), fill_missing, seconds,
                                       np.where(found[0] > 0, tracks[0].track_ids, -1), spans[0], self.label_scale)
        else:
            people = {}
            for person, track in tracks.items():
                first, end = spans[person]
                in_view = np.zeros(num_frames, bool)
                in_view[first:end] = True
                rows_of = in_view if fill_missing else found[person] > 0
                people[person] = _track_prediction(path, fps, track, found[person], predictions.get(person),
                                                   fill_missing, seconds, np.where(rows_of, person, -1), spans[person],
                                                   self.label_scale)
            result = VideoFaces(video=path, fps=fps, num_frames=num_frames, faces=people, filled=fill_missing,
                                seconds=seconds, label_scale=self.label_scale)
        if not result.face_found.any():
            warnings.warn(f"{path}: no face found in any of its {result.num_frames} frames: every row has face_found=0",
                          NoFaceWarning, stacklevel=2)
        return result

    def _predict_in_one_pass(self, path, fps, frames, undecodable, seconds, started, progress):
        """One face in one pass, its stages overlapping (``live.run_pipeline`` on the decoded file,
        no frame dropped): decoding, the face pipeline (``faces.FaceStream``, the two passes' faces),
        the backbone once per face, and the windows (``windows.LiveWindowStream``, ``WindowStream``'s
        windows) — the two passes' predictions, in less time. None where the two passes must run
        instead: a frame that did not decode (they take it as faceless), or no frame at all."""
        if progress is not None:
            progress.set_postfix_str("predicting")
        # The first frame that does not decode ends the pass (frames() has noted it): the two passes take over.
        reader = live.FramesWithoutDrops(itertools.takewhile(lambda frame: not undecodable, frames()))
        records = []
        summary = live.run_pipeline(self, reader, fps, records.append, raw=True)
        if isinstance(reader.error, (video_io.VideoReadError, ValueError)):
            raise PredictError(f"{path}: cannot be decoded ({reader.error})") from None
        if reader.error is not None:
            raise reader.error
        if undecodable or not records or len(records) != reader.frames_read:
            return None
        num_frames = len(records)
        found = np.zeros(num_frames, np.int64)
        face_id = np.full(num_frames, -1, np.int64)
        face_box = np.full((num_frames, 4), np.nan)
        predictions = np.full((num_frames, 2), np.nan, np.float32)
        for record in records:
            t, box = record["frame"], record["box"]
            if box is not None:
                found[t], face_id[t] = 1, record["track"]
                face_box[t] = box[0], box[1], box[2] - box[0], box[3] - box[1]
                if record["values"] is not None:
                    predictions[t] = record["values"]
        stages = summary.stage_seconds
        seconds.update(faces=stages["faces"], model=stages["model"] + stages["backbone"], backbone=stages["backbone"],
                       total=time.perf_counter() - started)
        return VideoPrediction(video=path, fps=fps, face_found=found, face_box=face_box, arousal=predictions[:, 0],
                               valence=predictions[:, 1], filled=False, seconds=seconds, face_id=face_id,
                               label_scale=self.label_scale)

    def _predict_tracks(self, frames, tracks, found, spans, num_frames, fps, seconds):
        """Pass 2: aligns every followed face of every frame and feeds each person's faces to their
        own windows, at the model's frame rate (``frame_rate``: a span's source frames sampled at the
        card's rate, each source frame then given its nearest sampled frame's prediction);
        ``{person: (T, 2)}`` predictions (NaN outside the person's span)."""
        predictions, feeders, sampled = {}, {}, {}
        for person, (first, end) in spans.items():
            predictions[person] = np.full((num_frames, 2), np.nan, np.float32)
            shown = frame_rate.resampled_frames(end - first, fps, self.frame_rate)
            flags = found[person][first:end][shown]
            if flags.any():
                feeders[person] = self._window_feeder(flags, seconds)
                # [source frame of each sampled frame, the next sampled frame to feed, their predictions]
                sampled[person] = [shown, 0, np.full((len(shown), 2), np.nan, np.float32)]
        for t, aligned in enumerate(identities.iter_aligned_identities(frames, tracks, self.face_config, num_frames)):
            for person, feeder in feeders.items():
                first, end = spans[person]
                if first <= t < end:
                    shown, k, values = sampled[person]
                    while k < len(shown) and shown[k] == t - first:  # the sampled frames that show it
                        _write_merged(values, feeder.add(k, aligned.get(person)))
                        k += 1
                    sampled[person][1] = k
        for person, (shown, _, values) in sampled.items():
            first, end = spans[person]
            predictions[person][first:end] = values[frame_rate.source_to_resampled(end - first, fps, self.frame_rate)]
        return predictions


FACE_MODES = ("largest", "all")


def _runs(frames):
    """``(first, end)`` of each run of consecutive numbers in the sorted ``frames``."""
    runs = []
    for t in frames:
        if runs and runs[-1][1] == t:
            runs[-1][1] = t + 1
        else:
            runs.append([t, t + 1])
    return [tuple(run) for run in runs]


def _write_merged(predictions, merged):
    """Writes ``windows.MergedFrames`` into ``predictions`` ``(T, 2)`` (a ``WindowStream``'s windows
    all run, so every merged frame has values)."""
    for frames in merged:
        predictions[frames.first : frames.end] = frames.values


def _span(face_found):
    """``(first, last + 1)`` of the frames with a face (``(0, 0)`` without any)."""
    with_face = np.flatnonzero(face_found)
    return (int(with_face[0]), int(with_face[-1]) + 1) if len(with_face) else (0, 0)


def _track_prediction(path, fps, track, found, predictions, fill_missing, seconds, face_id, span,
                      label_scale=MODEL_SCALE):
    """A ``VideoPrediction`` of one followed face: its boxes, and its predictions on the frames
    with a face (and, ``fill_missing``, on the frames of its windows' ``span``)."""
    num_frames = len(found)
    if predictions is None:
        predictions = np.full((num_frames, 2), np.nan, np.float32)
    predictions = predictions.copy()
    keep = np.zeros(num_frames, bool)
    if fill_missing:
        keep[span[0]:span[1]] = True
    keep |= found > 0
    predictions[~keep] = np.nan
    boxes = np.asarray(track.boxes, np.float64)
    face_box = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], -1)
    face_box[found == 0] = np.nan
    return VideoPrediction(video=path, fps=fps, face_found=found, face_box=face_box, arousal=predictions[:, 0],
                           valence=predictions[:, 1], filled=fill_missing, seconds=seconds,
                           face_id=np.asarray(face_id, np.int64), label_scale=label_scale)

"""``model_card.json``: the contract between an export and whoever runs it, as one typed schema.

``export`` writes it beside the SavedModel (and the LiteRT files); ``Predictor``/``load_runner`` and
the benchmarks read it. Both sides go through ``ModelCard``: the JSON layout lives only here.

Versions: ``schema_version`` 1 is the first with a version field. Cards written before it (the same
layout, no ``schema_version``) are read as version 0; a card of a newer version than this package
knows is refused with a message saying so, rather than half understood. The version counts changes
an older reader would misread: a key removed, renamed or given another meaning. A new optional key
(``compute_dtype``, ``face_geometry``, ``label_scale``, ``inputs.faces.frame_rate``) is not one: older readers ignore it, and this reader takes a
card without it as "not recorded" (None; for ``label_scale`` that means the model's own [-1, 1]), so the version
stays.

Example:
    >>> card = read_card("saved_models/demo")
    >>> card.context_frames, card.trained_window
    (6, 64)
"""

import dataclasses
import json
import os
from typing import Dict, Optional

from mimamo_tf.atomic_files import write_json
from mimamo_tf.data.label_scale import LabelScale
from mimamo_tf.errors import InputError

CARD_FILE = "model_card.json"
SCHEMA_VERSION = 1
# The LiteRT files an export directory can hold, by kind.
LITERT_FILES = {"float32": "model.tflite", "dynamic_range": "model_dynamic_range.tflite"}
SIGNATURE = "serving_default"
# The ONNX files an export can hold (``export --onnx``), by the signature each one is.
ONNX_FILES = {"serving_default": "model.onnx", "frame_features": "model_frame_features.onnx",
              "window_from_features": "model_window_from_features.onnx",
              "frame_motion_features": "model_frame_motion_features.onnx",
              "window_from_frame_features": "model_window_from_frame_features.onnx"}
# The face model in two parts (``face_model.build_split_models``), for clients that keep each face's
# backbone feature while windows overlap: faces -> spatial_features; faces + spatial_features ->
# arousal, valence.
SPLIT_SIGNATURES = ("frame_features", "window_from_features")
# Its window part in two further parts (``face_model.build_motion_models``), for clients that also keep
# each frame's motion features: gray48 -> temporal_features; spatial_features + temporal_features ->
# arousal, valence. Any number of frames, so not in the LiteRT files (fixed shapes).
MOTION_SIGNATURES = ("frame_motion_features", "window_from_frame_features")
OUTPUTS = ("arousal", "valence")
FACE_SIZE = 224


class ModelCardError(InputError, ValueError):
    """A missing, unreadable or unsupported model card; the message names the file."""

    kind = "model error"


@dataclasses.dataclass(frozen=True)
class LiteRTFiles:
    """The LiteRT files of an export: ``files`` kind -> file name, all for one fixed ``window``."""

    window: int
    files: Dict[str, str]


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """What a user of an export needs to know.

    Attributes:
        context_frames: faces needed before and after each window (``snippet_length // 2``, or 0).
        trained_window: frames per window in training (the SavedModel takes any window).
        streams, temporal_input, snippet_length, spatial_input: the network (``ModelConfig``).
        spatial_backbone: identity of the frozen backbone of stored features (``spec``, weights hash).
        training_data: data dir, splits and folds the run trained on, and the selection metric.
        checkpoint: which checkpoint was exported (``best``, ``last`` or a path).
        validation_metrics: the exported epoch's ``epoch``, ``val_ccc_*`` (official: every
            valid-label frame) and ``val_ccc_*_face_only`` (``runs.best_epoch``), or None.
        litert: the LiteRT files (always float32 compute), or None.
        compute_dtype: the SavedModel's compute precision (``"float32"`` or ``"bfloat16"``,
            ``export --compute_dtype``); None for cards written before it was recorded.
        face_geometry: where the faces of the training data sit in their crops
            (``mimamo_tf.faces.face_geometry``: source, template points, output size, from the
            prepared data's manifest); None when the data did not record it.
        label_scale: the scale the training labels were annotated on
            (``mimamo_tf.data.label_scale.LabelScale``, from the training split's manifest): the
            model's outputs are on [-1, 1], and ``predict`` maps them onto this scale. None for
            cards written before it was recorded: [-1, 1].
        onnx: the ONNX files (``export --onnx``): ``{signature: file name}``, float32, any window and
            batch; None when not written.
        frame_rate: the frame rate the training videos were resampled to (``prepare --target_fps``,
            ``mimamo_tf.frame_rate``): ``predict`` samples a video at it, so a snippet spans the time
            it spanned in training. None: each training video kept its own rate (or a card written
            before it was recorded); videos are then taken at their own rate.
        package_version: mimamo_tf's version that wrote the card.
        schema_version: this card's layout version (0: written before the field existed).
    """

    context_frames: int
    trained_window: int
    streams: str
    temporal_input: str
    snippet_length: int
    spatial_input: str
    spatial_backbone: Optional[dict] = None
    training_data: Optional[dict] = None
    checkpoint: str = "best"
    validation_metrics: Optional[dict] = None
    litert: Optional[LiteRTFiles] = None
    compute_dtype: Optional[str] = None
    face_geometry: Optional[object] = None
    label_scale: Optional[LabelScale] = None
    frame_rate: Optional[float] = None
    onnx: Optional[Dict[str, str]] = None
    package_version: str = ""
    schema_version: int = SCHEMA_VERSION

    def to_json(self):
        """The card as the JSON dict of ``model_card.json``."""
        context = self.context_frames
        return {
            "schema_version": self.schema_version,
            "name": "MIMAMO Net (Deng et al., AAAI 2020), mimamo_tf",
            "package_version": self.package_version,
            "signature": SIGNATURE,
            "inputs": {"faces": {
                "dtype": "uint8", "shape": ["batch", f"window + {2 * context}", FACE_SIZE, FACE_SIZE, 3],
                "value_range": [0, 255], "channels": "RGB",
                "description": (f"aligned face crops (mimamo_tf.faces alignment: 5-landmark similarity transform to "
                                f"the canonical template, {FACE_SIZE}x{FACE_SIZE}), {context} context frames before "
                                "and after the window (repeat the first/last face at a video's ends); frames without "
                                "a face take the nearest face frame's crop"),
                "window": {"trained_with": self.trained_window, "any_length": True},
                "context_frames": context,
                "frame_rate": self.frame_rate,
                "frame_rate_assumption": (
                    f"faces at {self.frame_rate:g} frames/s, the rate the training videos were resampled to: a "
                    f"video at another rate is sampled at it (the frame nearest each tick), and each of its "
                    f"frames takes the prediction of the sampled frame nearest in time"
                    if self.frame_rate else
                    "the training videos' own frame rates (not resampled); phase differences are per frame pair"),
            }},
            "outputs": {name: {"shape": ["batch", "window"], "dtype": "float32"} for name in OUTPUTS},
            # The SavedModel's; the outputs are float32 either way.
            "compute_dtype": self.compute_dtype,
            # The training faces' geometry: predict aligns to our template and warns when it differs.
            "face_geometry": self.face_geometry,
            # The training labels' scale: predict maps the outputs onto it (older readers ignore it).
            "label_scale": None if self.label_scale is None else {
                "low": self.label_scale.low, "high": self.label_scale.high,
                "description": "the scale the training labels were annotated on; the model's outputs are on "
                               "[-1, 1], and on this scale are low + (output + 1) / 2 * (high - low): predict "
                               "writes them so, clipped to [low, high] (--noclip: not clipped)",
            },
            "model": {"streams": self.streams, "temporal_input": self.temporal_input,
                      "snippet_length": self.snippet_length, "spatial_input": self.spatial_input},
            "spatial_backbone": self.spatial_backbone,
            "training_data": self.training_data,
            "checkpoint": self.checkpoint,
            "validation_metrics": self.validation_metrics,
            "litert": None if self.litert is None else {
                "files": dict(self.litert.files), "signature": SIGNATURE,
                "faces_shape": [1, self.litert.window + 2 * context, FACE_SIZE, FACE_SIZE, 3],
                "window": self.litert.window,
                "description": "fixed window, batch 1, builtin ops only; unrolled GRUs, float32 compute "
                               "(dynamic_range: int8 weights); a model on stored features also has the "
                               "frame_features (one face per call) and window_from_features signatures",
            },
            "onnx": None if not self.onnx else {
                "files": dict(self.onnx),
                "description": "ONNX (tf2onnx), float32 compute, any window and batch; one file per signature: "
                               "serving_default (faces -> arousal, valence) and, for a model on stored features, "
                               "frame_features (faces -> spatial_features) and window_from_features (faces, "
                               "spatial_features -> arousal, valence), and for the two-stream model also "
                               "frame_motion_features (gray48 -> temporal_features) and "
                               "window_from_frame_features (spatial_features, temporal_features -> arousal, "
                               "valence)",
            },
        }

    @classmethod
    def from_json(cls, data, source="model card"):
        """The card of a ``model_card.json`` dict (version 0 or 1); ``ModelCardError`` otherwise."""
        if not isinstance(data, dict):
            raise ModelCardError(f"{source}: expected a JSON object")
        version = data.get("schema_version", 0)
        if not isinstance(version, int) or version < 0:
            raise ModelCardError(f"{source}: schema_version must be a whole number, got {version!r}")
        if version > SCHEMA_VERSION:
            raise ModelCardError(f"{source}: schema_version {version} is newer than this mimamo_tf reads "
                                 f"({SCHEMA_VERSION}): upgrade mimamo_tf, or export the run again with this version")
        try:
            faces = data["inputs"]["faces"]
            model = data["model"]
            litert = data.get("litert")
            return cls(
                context_frames=int(faces["context_frames"]),
                trained_window=int(faces["window"]["trained_with"]),
                streams=str(model["streams"]), temporal_input=str(model["temporal_input"]),
                snippet_length=int(model["snippet_length"]), spatial_input=str(model["spatial_input"]),
                spatial_backbone=data.get("spatial_backbone"), training_data=data.get("training_data"),
                checkpoint=str(data.get("checkpoint", "")), validation_metrics=data.get("validation_metrics"),
                litert=None if not litert else LiteRTFiles(window=int(litert["window"]), files=dict(litert["files"])),
                compute_dtype=_optional_str(data.get("compute_dtype")),
                face_geometry=data.get("face_geometry"),
                label_scale=_optional_label_scale(data.get("label_scale")),
                frame_rate=float(faces["frame_rate"]) if faces.get("frame_rate") else None,
                onnx=dict(data["onnx"]["files"]) if data.get("onnx") else None,
                package_version=str(data.get("package_version", "")), schema_version=version)
        except (KeyError, TypeError, ValueError) as error:
            raise ModelCardError(f"{source}: not a model card written by mimamo_tf.export (missing or bad "
                                 f"{error!r})") from None


def _optional_str(value):
    return None if value is None else str(value)


def _optional_label_scale(value):
    """The card's ``label_scale`` (``{"low", "high", ...}``) as a ``LabelScale``; None when absent."""
    return None if value is None else LabelScale(float(value["low"]), float(value["high"]))


def card_path(export_dir):
    return os.path.join(export_dir, CARD_FILE)


def write_card(card, export_dir):
    """Writes ``card`` as ``<export_dir>/model_card.json`` (atomically); returns the path."""
    return write_json(card_path(export_dir), card.to_json())


def read_card(export_dir):
    """The ``ModelCard`` of an export directory; ``ModelCardError`` naming the file if it has none,
    or one this version cannot read."""
    path = card_path(export_dir)
    if not os.path.isfile(path):
        raise ModelCardError(f"no {CARD_FILE} in {export_dir}: expected an export of "
                             "`python -m mimamo_tf.export --model_dir=RUN --export_dir=DIR`")
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as error:
        raise ModelCardError(f"{path}: not readable as JSON ({error})") from None
    return ModelCard.from_json(data, path)

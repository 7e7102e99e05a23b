"""The trained network behind the face-crop input an export serves, and its LiteRT-ready rebuild.

``build_face_model`` wraps a run's network so it takes what ``predict`` and a TF Serving client have:
aligned RGB faces, uint8 ``(batch, window + 2 * context, 224, 224, 3)``. The gray 48x48 frames that
prepare stores (``models.face_inputs.GrayFromRGB``), the frozen backbone of stored features, the
pyramid and phase differences, both streams and the BiGRU all run inside the graph.
``rebuild_network`` builds a run's network anew from its config in a chosen compute precision and
copies the trained weights in: the SavedModel's network (float32 by default, whatever precision the
run trained in) and ``fixed_window_model``, the LiteRT one (one fixed window, unrolled GRUs since
LiteRT's builtins have no loop over a tensor list, always float32).
"""

import keras

from mimamo_tf.errors import InputError
from mimamo_tf.models.face_inputs import CentralFrames, GrayFromRGB
from mimamo_tf.models.per_frame import PerFrame
from mimamo_tf.models.precision import rebuild_in_precision

# The compute precisions an export offers (``--compute_dtype``), named as ``--mixed_precision``
# names them (keys of ``models.precision.DTYPE_POLICIES``, which owns their Keras policies). float16,
# a GPU training precision (with loss scaling), is not offered: such a run exports as float32.
COMPUTE_DTYPES = ("float32", "bfloat16")


class ExportError(InputError, ValueError):
    """The run cannot be exported as asked; the message names the flag or file."""

    kind = "export error"


def _named_outputs(outputs):
    """The network's ``(..., 2)`` output as the signatures' ``arousal`` and ``valence`` outputs."""
    return {name: keras.layers.Identity(name=name)(outputs[..., i]) for i, name in enumerate(("arousal", "valence"))}


def build_face_model(model, config, backbone=None, window=None, batch_size=None, features_given=False):
    """The trained ``model`` behind a face-crop input: ``{"faces"} -> {"arousal", "valence"}``.

    Args:
        model: the trained MIMAMO Net (``best.keras``).
        config: the run's ``ExperimentConfig``.
        backbone: the frozen backbone of the run's stored features (needed with
            ``--spatial_input=features``).
        window, batch_size: fixed sizes of the ``faces`` input (None: any); ``window`` excludes
            the context frames.
        features_given: take the central faces' backbone features as a second input,
            ``spatial_features`` ``(batch, window, D)``, instead of running ``backbone`` on them
            (``build_split_models``).

    Raises:
        ExportError: a configuration whose inputs cannot be computed in-graph (optical flow) or
            that the face-window signature does not cover (video-level labels).
    """
    cfg = config.model
    if cfg.uses_temporal and cfg.temporal_input == "optical_flow":
        raise ExportError("--temporal_input=optical_flow is computed with OpenCV outside the graph: not exportable")
    if cfg.label_level != "frame":
        raise ExportError("only frame-level models (--label_level=frame) export to the face-window signature")
    context = cfg.context_frames
    steps = window + 2 * context if window else None
    faces = keras.Input((steps, 224, 224, 3), batch_size=batch_size, dtype="uint8", name="faces")
    model_inputs = {"faces": faces}
    inputs = {}
    if cfg.uses_temporal:
        inputs["gray48"] = GrayFromRGB(name="gray48")(faces)
    if cfg.uses_spatial:
        if cfg.spatial_input == "features" and features_given:
            inputs["spatial_features"] = model_inputs["spatial_features"] = keras.Input(
                (window, int(model.input["spatial_features"].shape[-1])), batch_size=batch_size,
                name="spatial_features")
        elif cfg.spatial_input == "features":
            if backbone is None:
                raise ExportError("the run trained on stored features: the backbone they came from is needed")
            central = CentralFrames(context, name="window_frames")(faces)
            inputs["spatial_features"] = PerFrame(backbone, name="backbone_per_frame")(central)
        else:
            central = CentralFrames(context, name="window_frames")(faces)
            inputs["rgb224"] = keras.layers.Identity(name="rgb224")(keras.ops.cast(central, "float32"))
    outputs = model(inputs, training=False)
    named = _named_outputs(outputs)
    if len(model_inputs) == 1:
        return keras.Model(faces, named, name="mimamo_net_faces")
    return keras.Model(model_inputs, named, name="mimamo_net_window_from_features")


def build_split_models(model, config, backbone, window=None, batch_size=None, faces_per_call=None):
    """The face model in two parts, for a client that keeps each face's backbone feature while
    windows overlap (``Predictor``: the backbone is most of the cost, and with half-window overlap
    every face is in two windows): ``(frame_features, window_from_features)``, or None when the
    network has no stored-feature spatial stream (nothing to keep).

    * ``frame_features``: ``faces`` uint8 ``(batch, frames, 224, 224, 3)`` -> ``spatial_features``
      ``(batch, frames, D)`` float32, the frozen backbone on each face;
    * ``window_from_features``: ``build_face_model`` with ``features_given``: ``faces`` (the gray
      faces of the temporal stream come from all ``window + 2 * context``) and the central faces'
      ``spatial_features`` -> ``arousal``, ``valence``.

    ``window`` and ``batch_size`` fix ``window_from_features``'s sizes as ``build_face_model``'s, and
    ``faces_per_call`` the faces ``frame_features`` takes (the LiteRT file's: batch 1, one face);
    None: any.
    """
    cfg = config.model
    if not (cfg.uses_spatial and cfg.spatial_input == "features") or backbone is None:
        return None
    window_from_features = build_face_model(model, config, backbone, window=window, batch_size=batch_size,
                                            features_given=True)
    frames = keras.Input((faces_per_call, 224, 224, 3), batch_size=batch_size, dtype="uint8", name="faces")
    features = PerFrame(backbone, name="backbone_per_frame")(frames)
    frame_features = keras.Model(frames, {"spatial_features": keras.layers.Identity(name="spatial_features")(features)},
                                 name="mimamo_net_frame_features")
    return frame_features, window_from_features


def build_motion_models(model, config, batch_size=None):
    """The face model's window part in two further parts, for a client that also keeps each frame's
    motion features while windows overlap (``Predictor``: after the backbone, the pyramid, phase
    differences and temporal CNN are most of a window's cost, and every frame is in two windows at
    half overlap): ``(frame_motion_features, window_from_frame_features)``, or None when the network
    is not the two-stream one on stored spatial features with an in-graph phase front end at frame
    level (nothing per frame to keep, or no ``frame_features`` to pair with).

    * ``frame_motion_features``: ``gray48`` uint8 ``(batch, frames + 2 * context, 48, 48)`` (the
      gray faces prepare stores, ``faces.alignment.gray_from_rgb`` of the aligned faces: equal to
      what ``window_from_features`` computes in-graph) -> ``temporal_features`` ``(batch, frames,
      256)`` float32, the temporal stream's output per frame. A frame's value depends only on its own
      snippet (the pyramid runs per frame, the phase differences per frame pair, the spatial mean per
      map), so it is the same in every window the frame is in;
    * ``window_from_frame_features``: ``spatial_features`` ``(batch, window, D)`` (``frame_features``)
      and ``temporal_features`` ``(batch, window, 256)`` -> ``arousal``, ``valence``: the spatial MLP,
      fusion, BiGRU and head, what ``window_from_features`` computes after the two streams.

    Any number of frames and any batch (``batch_size``: fixed batch, None: any).
    """
    cfg = config.model
    if (not (cfg.uses_spatial and cfg.spatial_input == "features" and cfg.uses_temporal)
            or cfg.temporal_input == "optical_flow" or cfg.label_level != "frame"):
        return None
    temporal = model.get_layer("temporal_per_frame").output
    gray = keras.Input((None, *model.input["gray48"].shape[2:]), batch_size=batch_size, dtype="uint8", name="gray48")
    # GrayFromRGB's output is round(luma) / 255 in float32: the same numbers from the stored uint8.
    scaled = keras.ops.divide(keras.ops.cast(gray, "float32"), 255.0)
    motion = keras.Model(model.input["gray48"], temporal, name="temporal_stream_per_frame")(scaled)
    frame_motion_features = keras.Model(
        gray, {"temporal_features": keras.layers.Identity(name="temporal_features")(keras.ops.cast(motion, "float32"))},
        name="mimamo_net_frame_motion_features")
    spatial_in = keras.Input((None, int(model.input["spatial_features"].shape[-1])), batch_size=batch_size,
                             name="spatial_features")
    temporal_in = keras.Input((None, int(temporal.shape[-1])), batch_size=batch_size, name="temporal_features")
    head = keras.Model([model.input["spatial_features"], temporal], model.output, name="window_head")
    outputs = head([spatial_in, temporal_in], training=False)
    named = _named_outputs(outputs)
    window_from_frame_features = keras.Model({"spatial_features": spatial_in, "temporal_features": temporal_in},
                                             named, name="mimamo_net_window_from_frame_features")
    return frame_motion_features, window_from_frame_features


def check_compute_dtype(compute_dtype):
    """``compute_dtype`` if it is one of ``COMPUTE_DTYPES``; ``ExportError`` naming the flag otherwise."""
    if compute_dtype not in COMPUTE_DTYPES:
        raise ExportError(f"--compute_dtype must be one of {', '.join(COMPUTE_DTYPES)}; got {compute_dtype!r}")
    return compute_dtype


def rebuild_network(model, config, compute_dtype="float32", window=None, unroll=False):
    """``model``'s network built anew from the run's config in ``compute_dtype``, its weights copied.

    A loaded checkpoint keeps the dtype policy it trained under (``mixed_bfloat16`` by default), so
    serving it as loaded would compute in the training precision. The architecture comes from the
    run's config through the builder that made ``model``, so the variables pair up in order; their
    shapes are checked before anything is copied. Variables are float32 under every policy, so the
    weights copy exactly.

    Args:
        model: the trained network (a run's checkpoint).
        config: the run's ``ExperimentConfig``.
        compute_dtype: one of ``COMPUTE_DTYPES``; the layers that stay float32 under mixed
            precision (phase front end, GRUs, head) stay float32 under ``"bfloat16"`` too.
        window, unroll: ``build_mimamo_net``'s fixed window and GRU unrolling (None, False: any
            window, looped GRUs).

    Raises:
        ExportError: an unknown ``compute_dtype``, or a checkpoint whose variables do not match the
            network its config builds.
    """
    check_compute_dtype(compute_dtype)
    try:
        return rebuild_in_precision(model, config.model, compute_dtype, window=window, unroll=unroll)
    except ValueError as error:
        raise ExportError(str(error)) from None


def fixed_window_model(model, config, window):
    """``model`` rebuilt for LiteRT: ``window`` frames, unrolled GRUs, float32, its weights copied.

    Always float32, whatever ``--compute_dtype`` the SavedModel has: the LiteRT files are the float32
    model and its dynamic-range quantisation (int8 weights, float32 activations) of it.
    """
    return rebuild_network(model, config, "float32", window=window, unroll=True)

"""The trained network behind the face-crop input an export serves, and its LiteRT-ready rebuild.

``build_face_model`` wraps a run's network so it takes what ``predict`` and a TF Serving client have:
aligned RGB faces, uint8 ``(batch, window + 2 * context, 224, 224, 3)``. The gray 48x48 frames that
prepare stores (``models.face_inputs.GrayFromRGB``), the frozen backbone of stored features, the
pyramid and phase differences, both streams and the BiGRU all run inside the graph.
``fixed_window_model`` rebuilds the network for one fixed window with unrolled GRUs (LiteRT's
builtins have no loop over a tensor list) and copies the trained weights in.
"""

from mimamo_tf.errors import InputError


class ExportError(InputError, ValueError):
    """The run cannot be exported as asked; the message names the flag or file."""

    kind = "export error"


def build_face_model(model, config, backbone=None, window=None, batch_size=None):
    """The trained ``model`` behind a face-crop input: ``{"faces"} -> {"arousal", "valence"}``.

    Args:
        model: the trained MIMAMO Net (``best.keras``).
        config: the run's ``ExperimentConfig``.
        backbone: the frozen backbone of the run's stored features (needed with
            ``--spatial_input=features``).
        window, batch_size: fixed sizes of the ``faces`` input (None: any); ``window`` excludes
            the context frames.

    Raises:
        ExportError: a configuration whose inputs cannot be computed in-graph (optical flow) or
            that the face-window signature does not cover (video-level labels).
    """
    import keras

    from mimamo_tf.models.face_inputs import CentralFrames, GrayFromRGB
    from mimamo_tf.models.per_frame import PerFrame

    cfg = config.model
    if cfg.uses_temporal and cfg.temporal_input == "optical_flow":
        raise ExportError("--temporal_input=optical_flow is computed with OpenCV outside the graph: not exportable")
    if cfg.label_level != "frame":
        raise ExportError("only frame-level models (--label_level=frame) export to the face-window signature")
    context = cfg.context_frames
    steps = window + 2 * context if window else None
    faces = keras.Input((steps, 224, 224, 3), batch_size=batch_size, dtype="uint8", name="faces")
    inputs = {}
    if cfg.uses_temporal:
        inputs["gray48"] = GrayFromRGB(name="gray48")(faces)
    if cfg.uses_spatial:
        window = CentralFrames(context, name="window_frames")(faces)
        if cfg.spatial_input == "features":
            if backbone is None:
                raise ExportError("the run trained on stored features: the backbone they came from is needed")
            inputs["spatial_features"] = PerFrame(backbone, name="backbone_per_frame")(window)
        else:
            inputs["rgb224"] = keras.layers.Identity(name="rgb224")(keras.ops.cast(window, "float32"))
    outputs = model(inputs, training=False)
    named = {name: keras.layers.Identity(name=name)(outputs[..., i]) for i, name in enumerate(("arousal", "valence"))}
    return keras.Model(faces, named, name="mimamo_net_faces")


def fixed_window_model(model, config, window):
    """``model`` rebuilt for LiteRT: ``window`` frames, unrolled GRUs, float32, its weights copied.

    The architecture comes from the run's config (the same builder that made ``model``), so the
    variables pair up in order; shapes are checked before anything is copied.
    """
    from mimamo_tf import config as config_lib
    from mimamo_tf.models import build_mimamo_net
    from mimamo_tf.models.precision import dtype_policy

    model_config = config.model
    if "spatial_features" in model.input:
        model_config = config_lib.replace(
            config, model={"spatial_feature_dim": int(model.input["spatial_features"].shape[-1])}).model
    with dtype_policy("float32"):
        fixed = build_mimamo_net(model_config, name=model.name, window=window, unroll=True)
    source, target = model.weights, fixed.weights
    mismatched = [(a.path, tuple(a.shape), b.path, tuple(b.shape)) for a, b in zip(source, target)
                  if tuple(a.shape) != tuple(b.shape)]
    if len(source) != len(target) or mismatched:
        raise ExportError(f"the checkpoint's network does not match its flags.cfg ({len(source)} vs {len(target)} "
                          f"variables; first differences {mismatched[:3]})")
    fixed.set_weights(model.get_weights())
    return fixed

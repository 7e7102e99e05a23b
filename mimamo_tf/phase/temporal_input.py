"""``PhaseSnippets``: gray frames in, the temporal stream's per-frame snippets out, in one layer."""

import math

import keras

from mimamo_tf.phase.phase_maps import MeanCentredPhase, PaperPhaseDifference, PhaseDifference
from mimamo_tf.phase.snippets import SnippetBuilder

MODES = ("difference", "phase", "paper_difference")


@keras.saving.register_keras_serializable(package="mimamo_tf")
class PhaseSnippets(keras.layers.Layer):
    """Steerable pyramid -> phase differences (or mean-centred phase) -> per-frame snippets.

    The pyramid runs once per frame and the phase difference once per frame pair of the sequence;
    snippets only gather those maps. This is MIMAMO Net's temporal-stream input computed in-graph.

    Args:
        length: maps per snippet ``L`` (paper: 12 differences from 13 frames).
        mode: ``"difference"`` (``PhaseDifference``, the paper's Delta Phase), ``"phase"``
            (``MeanCentredPhase``, the paper's Phase ablation) or ``"paper_difference"``
            (``PaperPhaseDifference``: the paper's literal order, blur then difference).
        data_format, context_frames: see ``SnippetBuilder``.
        scales, orientations, image_size, blur_size, blur_sigma, subtract_mean, clip_value: see
            ``PhaseDifference``.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        frames: ``(batch, T, image_size, image_size)`` gray frames in [0, 1].

    Returns:
        A list with one tensor per scale; with the defaults
        ``[(batch, T', 48, 48, 24), (batch, T', 24, 24, 24)]``, ``T' = T - 2 * context_frames``.

    Example:
    >>> frames = np.random.rand(1, 20, 48, 48).astype("float32")
    >>> [tuple(s.shape) for s in PhaseSnippets()(frames)]
    [(1, 20, 48, 48, 24), (1, 20, 24, 24, 24)]
    """

    def __init__(
        self,
        length=12,
        mode="difference",
        data_format="channels_last",
        context_frames=0,
        scales=2,
        orientations=2,
        image_size=48,
        blur_size=11,
        blur_sigma=2.0,
        subtract_mean=True,
        clip_value=5 * math.pi,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.length = int(length)
        self.mode = mode
        self.data_format = data_format
        self.context_frames = int(context_frames)
        self.map_config = dict(
            scales=scales,
            orientations=orientations,
            image_size=image_size,
            blur_size=blur_size,
            blur_sigma=blur_sigma,
            subtract_mean=subtract_mean,
            clip_value=clip_value,
        )
        maps_class = {"difference": PhaseDifference, "phase": MeanCentredPhase,
                      "paper_difference": PaperPhaseDifference}[mode]
        self.phase_maps = maps_class(**self.map_config, dtype=self.dtype_policy, name="maps")
        self.snippets = SnippetBuilder(
            length=self.length,
            source="frames" if mode == "phase" else "pairs",
            data_format=data_format,
            context_frames=self.context_frames,
            dtype=self.dtype_policy,
            name="snippets",
        )

    def build(self, input_shape):
        self.phase_maps.build(input_shape)
        for shape in self.phase_maps.compute_output_shape(input_shape):
            self.snippets.build(shape)
        self.built = True

    def call(self, frames):
        return [self.snippets(maps) for maps in self.phase_maps(frames)]

    def compute_output_shape(self, input_shape):
        return [
            self.snippets.compute_output_shape(shape)
            for shape in self.phase_maps.compute_output_shape(input_shape)
        ]

    def get_config(self):
        config = super().get_config()
        config.update(
            length=self.length,
            mode=self.mode,
            data_format=self.data_format,
            context_frames=self.context_frames,
            **self.map_config,
        )
        return config

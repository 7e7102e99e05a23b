"""The temporal stream's input: complex steerable pyramid and phase maps as Keras layers.

* ``SteerablePyramid``: 48x48 gray frames -> complex band-pass bands (equal to pyrtools).
* ``PhaseDifference``: denoised phase differences, once per consecutive frame pair.
* ``MeanCentredPhase``: denoised mean-centred phase per frame (the paper's "Phase" ablation).
* ``SnippetBuilder``: per-pair/per-frame maps -> per-frame snippets of ``L`` maps, edge-clamped.
* ``PhaseSnippets``: all of the above in one layer.
* ``optical_flow``: OpenCV Farneback/DIS flow of the same pairs (the "Optical Flow" ablation).
"""

from mimamo_tf.phase.phase_maps import MeanCentredPhase, PaperPhaseDifference, PhaseDifference
from mimamo_tf.phase.pyramid import SteerablePyramid, steerable_pyramid_numpy
from mimamo_tf.phase.snippets import SnippetBuilder, snippet_source_indices
from mimamo_tf.phase.temporal_input import PhaseSnippets

__all__ = [
    "MeanCentredPhase",
    "PaperPhaseDifference",
    "PhaseDifference",
    "PhaseSnippets",
    "SnippetBuilder",
    "SteerablePyramid",
    "snippet_source_indices",
    "steerable_pyramid_numpy",
]

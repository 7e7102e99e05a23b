"""The scale a model's labels were annotated on, and the model's [-1, 1] mapped back onto it.

Every dataset reader stores labels on [-1, 1], so that is the scale the network learns and outputs.
Aff-Wild, Aff-Wild2, OMG-Emotion and the synthetic data are annotated on it; the folder reader maps
its ``--label_range`` (e.g. ``1,9``) onto it by ``2 (v - low) / (high - low) - 1``. ``LabelScale`` is
that annotation scale: read from a prepared split's manifest (``shards.split_label_scale``), recorded
in the model card (``label_scale``), and used by ``predict`` and ``evaluate --plots`` to show values
on the scale the user annotated: ``low + (y + 1) / 2 * (high - low)``, the reader's inverse.

Example:
    >>> LabelScale(1.0, 9.0).from_model(np.array([-1.0, 0.0, 1.5]))
    array([1., 5., 9.])
"""

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class LabelScale:
    """An annotation scale ``[low, high]``: the model's -1 is ``low``, its 1 is ``high``.

    Attributes:
        low, high: the ends of the scale (finite, ``low < high``).
    """

    low: float = -1.0
    high: float = 1.0

    def __post_init__(self):
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(f"a label scale needs two finite numbers low < high; got [{self.low}, {self.high}]")

    @property
    def middle(self):
        """The model's 0 on this scale."""
        return (self.low + self.high) / 2

    @property
    def half_span(self):
        return (self.high - self.low) / 2

    def from_model(self, values, clip=True):
        """Model outputs (the [-1, 1] scale) on this scale; ``clip``: limited to ``[low, high]``.

        Computed as ``middle + y * half_span``, so the model's own scale is exactly the identity; NaN
        stays NaN and float32 stays float32.
        """
        mapped = self.middle + np.asarray(values) * self.half_span
        return np.clip(mapped, self.low, self.high) if clip else mapped

    def to_model(self, values):
        """Values on this scale back on the model's [-1, 1] (no clipping): ``from_model``'s inverse."""
        return (np.asarray(values) - self.middle) / self.half_span

    def axis_range(self, values=()):
        """``(bottom, top)`` of a plot axis of ``values`` on this scale: the scale itself, widened to
        any finite value outside it (unclipped outputs), plus a margin of 2.5% on each side."""
        values = np.asarray(values, np.float64).ravel()
        values = values[np.isfinite(values)]
        low, high = self.low, self.high
        if len(values):
            low, high = min(low, float(values.min())), max(high, float(values.max()))
        margin = 0.025 * (high - low)
        return low - margin, high + margin

    def describe(self):
        """``"[1, 9]"``."""
        return f"[{self.low:g}, {self.high:g}]"


# The scale every reader stores and the network computes on; a card or manifest that records no
# scale means this one.
MODEL_SCALE = LabelScale()

"""Markdown tables, the captions and columns the studies share, and the small facts about the data
that label them."""

import math

from mimamo_tf.data import shards
from mimamo_tf.evaluation.evaluator import checkpoint_selection
from mimamo_tf.studies import paper

# How the temporal-only nets of the illumination and sensitivity studies were trained, by
# ``--training`` (a caption line of their tables).
TEMPORAL_ONLY_TRAINING = {
    "paper": "Single-stream temporal nets as the paper's: no GRU, a linear layer on the 256-d stream features.",
    "scratch": "Temporal nets with the BiGRU, from scratch (`--training=scratch`, not the paper's nets).",
    "recipe": "Single-stream temporal nets as the paper's (no GRU), trained as this project's two-stage recipe "
              "trains them (`--training=recipe`: the base flagfile's gradient clipping and averaged weights).",
}


def selection_line(data, split):
    """The caption line that names what chose the checkpoints of cells trained with ``data`` (a
    ``DataConfig``) and scored on ``split``."""
    selection = checkpoint_selection(data, split)
    warning = " (the scored data: optimistic)" if selection["selected_on_scored_data"] else ", never on the scored data"
    return f"Checkpoints (early stopping, `best.keras`) chosen on {selection['selected_on']}{warning}."


def markdown(header, rows):
    """A Markdown table: ``header`` (list of str), ``rows`` (lists of cells, formatted with ``cell``)."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def input_columns(temporal_inputs):
    """Column names of an arousal and a valence CCC per temporal input, in the inputs' order."""
    return [f"{paper.TEMPORAL_NAMES[t]} {name}" for t in temporal_inputs for name in ("arousal", "valence")]


def cell(value):
    if value is None:
        return "—"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def spatial_backbone(data_dir):
    """The spec of the backbone of the data's stored spatial features, or None."""
    backbone = shards.backbone_record(data_dir)
    if isinstance(backbone, dict):
        return backbone.get("spec") or None
    return backbone or None



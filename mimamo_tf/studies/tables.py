"""Markdown tables and the small facts about the data that label them."""

import json
import math
import os


def markdown(header, rows):
    """A Markdown table: ``header`` (list of str), ``rows`` (lists of cells, formatted with ``cell``)."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def cell(value):
    if value is None:
        return "—"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def spatial_backbone(data_dir):
    """The spec of the backbone of the data's stored spatial features, or None."""
    from mimamo_tf.data import shards

    backbone = shards.backbone_record(data_dir)
    if isinstance(backbone, dict):
        return backbone.get("spec") or None
    return backbone or None
    for split in manifest.get("splits", {}).values():
        backbone = split.get("settings", {}).get("spatial_backbone")
        if isinstance(backbone, dict) and backbone.get("spec"):
            return backbone["spec"]
        if isinstance(backbone, str) and backbone:
            return backbone
    return None



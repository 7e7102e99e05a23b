"""The ``streams`` study (the paper's Tables 4-5): spatial {stored features, none} x temporal
{phase differences, phase, optical flow, none}, each cell trained and evaluated on the eval split.

Cell names are ``<spatial>+<temporal>``, e.g. ``features+phase_difference``, ``none+optical_flow``;
``none+none`` does not exist. The temporal-only cells are the illumination study's models.
"""

import os

from mimamo_tf import config as config_lib
from mimamo_tf.atomic_files import write_json, write_text
from mimamo_tf.studies import cells, figures, paper, tables

SPATIAL = ("features", "none")
TEMPORAL = ("phase_difference", "phase", "optical_flow", "none")


def cell_name(spatial, temporal):
    return f"{spatial}+{temporal}"


CELLS = tuple(cell_name(s, t) for s in SPATIAL for t in TEMPORAL if (s, t) != ("none", "none"))


def cell_config(base, spatial, temporal):
    """The base config with the cell's streams; cross-validation off (cells are evaluated on the eval split)."""
    if spatial == "none" and temporal == "none":
        raise ValueError("a model needs at least one stream")
    streams = "both" if spatial != "none" and temporal != "none" else ("spatial" if temporal == "none" else "temporal")
    model = {"streams": streams}
    if temporal != "none":
        model["temporal_input"] = temporal
    return config_lib.replace(base, model=model, data={"num_folds": 0, "fold": 0})


def parse_cell(name):
    spatial, _, temporal = name.partition("+")
    if spatial not in SPATIAL or temporal not in TEMPORAL or (spatial, temporal) == ("none", "none"):
        raise config_lib.ConfigError(f"--cells: unknown streams cell {name!r}; cells are {', '.join(CELLS)}")
    return spatial, temporal


def run(base, output_dir, cells_to_run=None, checkpoint="best", verbose=True, log=print):
    """Trains and evaluates the cells (default all 7) and writes ``streams.md``, ``streams.png`` and
    ``streams.json`` into ``output_dir``.

    Args:
        base: the base ``ExperimentConfig`` (data dir, training sizes).
        output_dir: the study directory (cells in ``runs/<cell>``).
        cells_to_run: names of a subset of ``CELLS``.
        checkpoint: which checkpoint of each cell is evaluated (``best``: best validation mean CCC).

    Returns:
        dict with ``rows`` (per cell: ``cell``, ``spatial``, ``temporal``, ``arousal``, ``valence``,
        ``mean``, ``frames``, ``metrics_file``, ``paper_affwild``, ``paper_omg``), ``table``,
        ``table_file``, ``figure``.
    """
    names = list(cells_to_run or CELLS)
    for name in names:
        parse_cell(name)
    names = [n for n in CELLS if n in names]
    backbone = tables.spatial_backbone(base.data.data_dir) or "stored"
    rows = []
    for name in names:
        spatial, temporal = parse_cell(name)
        result, _ = cells.train_cell(cell_config(base, spatial, temporal), output_dir, name,
                                     evaluate_split=base.data.eval_split, checkpoint=checkpoint,
                                     verbose=verbose, log=log)
        m = result["metrics"]
        rows.append({
            "cell": name, "spatial": spatial, "temporal": temporal, "arousal": m["ccc_arousal"],
            "valence": m["ccc_valence"], "mean": m["ccc_mean"], "frames": m["frames"],
            "epochs": result["epochs"], "train_seconds": result["train_seconds"],
            "metrics_file": result["metrics_file"],
            "paper_affwild": paper.TABLE5_AFFWILD_STREAMS.get((spatial, temporal)),
            "paper_omg": paper.TABLE4_OMG_STREAMS.get((spatial, temporal)),
            "label": f"{backbone if spatial == 'features' else 'no spatial'} + "
                     f"{paper.TEMPORAL_NAMES[temporal] if temporal != 'none' else 'no temporal'}",
        })
    header = ["spatial", "temporal", "arousal CCC", "valence CCC", "mean CCC",
              "paper Aff-Wild arousal", "paper Aff-Wild valence", "paper OMG arousal", "paper OMG valence"]
    table_rows = []
    for r in rows:
        affwild, omg = r["paper_affwild"] or (None, None), r["paper_omg"] or (None, None)
        table_rows.append([f"{backbone} features" if r["spatial"] == "features" else "none",
                           paper.TEMPORAL_NAMES[r["temporal"]], r["arousal"], r["valence"], r["mean"],
                           affwild[0], affwild[1], omg[0], omg[1]])
    split = base.data.eval_split
    table = (f"Streams study (paper Tables 4-5): CCC on the `{split}` split of `{base.data.data_dir}` "
             f"(checkpoint `{checkpoint}`), next to the paper's (spatial stream on VGGFace2/FER+ ResNet50 "
             f"features there; `{backbone}` features here).\n\n" + tables.markdown(header, table_rows) + "\n")
    table_file = os.path.join(output_dir, "streams.md")
    write_text(table_file, table)
    figure = figures.streams_figure(rows, os.path.join(output_dir, "streams.png"),
                                    f"Streams study: CCC on {split} vs the paper")
    result = {"study": "streams", "rows": rows, "table": table, "table_file": table_file, "figure": figure}
    write_json(os.path.join(output_dir, "streams.json"), result)
    return result

"""The ``streams`` study (the paper's Tables 4-5): spatial {stored features, none} x temporal
{phase differences, phase, optical flow, none}, each cell trained and evaluated on the eval split.

Cell names are ``<spatial>+<temporal>``, e.g. ``features+phase_difference``, ``none+optical_flow``;
``none+none`` does not exist. The temporal-only cells are the illumination study's models.

``training="paper"`` (``--training=paper``, the default) trains the nets as the paper did: the
single-stream cells (``features+none``, ``none+<temporal>``) without the GRU (a linear layer on the
256-d stream features; at video level on their mean over the snippets), then each two-stream cell
with the BiGRU, its streams initialised from those cells' checkpoints (``--init_spatial_from``,
``--init_temporal_from``; a two-stream cell asked for alone trains its parents first). A two-stream
cell records its parents' checkpoint hashes (``parents.json``); if a parent is retrained later, the
cell is refused (delete it to retrain it from the new parents), never silently mixed.
``training="recipe"`` trains the cells with this project's recipe (``train --two_stage``, the default
of ``configs/*.cfg``): the same two stages, but with the base flagfile's optimisation settings instead of
the paper's literal ones (gradient clipping and averaged weights in both stages; the two-stream net's
dropout rates, and its inherited streams frozen for ``--freeze_streams_epochs``). Its cells live in ``runs/recipe/<cell>``,
so one study shows both procedures side by side (``--training=paper,recipe``, the default).
``training="scratch"`` trains every cell from scratch with the BiGRU (this project's earlier tables).
"""

import os

from absl import flags

from mimamo_tf import config as config_lib
from mimamo_tf import runs
from mimamo_tf.atomic_files import write_json, write_text
from mimamo_tf.studies import cells, figures, paper, presets, tables
from mimamo_tf.studies.registry import TRAININGS, register_study
from mimamo_tf.training import two_stage

SPATIAL = ("features", "none")
TEMPORAL = ("phase_difference", "phase_difference_paper", "phase", "optical_flow", "none")
DEFAULT_TRAINING = ("paper", "recipe")  # the streams study shows the paper's procedure and ours
TRAINING_LINES = {
    "paper": "Trained as the paper did: single-stream nets without the GRU (a linear layer on the 256-d stream "
             "features), two-stream nets with the BiGRU and their streams initialised from those nets.",
    "recipe": "Trained with this project's recipe (`train --two_stage`): the paper's two stages with the base "
              "flagfile's clipping, averaged weights and dropout rates, and the two-stream net's inherited "
              "streams frozen for `--freeze_streams_epochs` epochs (-1: every epoch).",
    "scratch": "Every net trained from scratch with the BiGRU (`--training=scratch`, not the paper's procedure).",
}


# Every cell validates on an inner subset of the training split's recordings, so the eval split, which
# the tables report, never chooses the checkpoint it scores (a best-of-epochs on the scored split
# inflates a pooled CCC by about the gaps between the paper's rows).
CELL_DATA = {"num_folds": 0, "fold": 0, "validation_source": "inner"}


def selection_line(base, split):
    """The caption line naming what chose the checkpoints of cells of ``base`` scored on ``split``."""
    return tables.selection_line(config_lib.replace(base, data=CELL_DATA).data, split)


def cell_name(spatial, temporal):
    return f"{spatial}+{temporal}"


CELLS = tuple(cell_name(s, t) for s in SPATIAL for t in TEMPORAL if (s, t) != ("none", "none"))


def run_name(cell, training):
    """The directory of ``cell`` trained by ``training`` under ``<output_dir>/runs``: the recipe's cells
    apart (``recipe/<cell>``); the paper's and scratch cells share ``<cell>`` with the illumination
    study (a cell trained one way refuses the other, ``cells.train_cell``)."""
    return f"recipe/{cell}" if training == "recipe" else cell


def is_two_stream(spatial, temporal):
    return spatial != "none" and temporal != "none"


def parent_cells(spatial, temporal):
    """``{"spatial": cell, "temporal": cell}``: the single-stream cells a two-stream cell starts from."""
    return {"spatial": cell_name(spatial, "none"), "temporal": cell_name("none", temporal)}


def cell_config(base, spatial, temporal, training="paper", parents=None):
    """The base config with the cell's streams; cross-validation off, validation on an inner subset of the
    training split's recordings (``CELL_DATA``; cells are scored on the eval split).

    Args:
        training: ``"paper"``: single-stream cells without the GRU, two-stream cells initialised from
            ``parents`` (``{"spatial": .keras path, "temporal": .keras path}``), with the paper's
            literal optimisation and dropout (``presets.LITERAL_OPTIMIZATION``, ``LITERAL_MODEL``);
            ``"recipe"``: the same cells with ``base``'s optimisation and dropout (its clipping,
            averaged weights, stream freezing and dropout rates; the
            study runs the two stages itself, so ``--two_stage`` is off in each cell);
            ``"scratch"``: every cell as ``base`` says, with the literal optimisation.
    """
    if spatial == "none" and temporal == "none":
        raise ValueError("a model needs at least one stream")
    if training not in TRAININGS:
        raise config_lib.ConfigError(f"--training must be one of {', '.join(TRAININGS)}; got {training!r}")
    two_stream = is_two_stream(spatial, temporal)
    streams = "both" if two_stream else ("spatial" if temporal == "none" else "temporal")
    model = {"streams": streams}
    if temporal != "none":
        model["temporal_input"] = temporal
    if training in ("paper", "recipe"):
        model["recurrent"] = two_stream
        if two_stream:
            if not parents:
                raise ValueError(f"{cell_name(spatial, temporal)} needs its single-stream parents' checkpoints")
            model.update(init_spatial_from=parents["spatial"], init_temporal_from=parents["temporal"])
    if training == "recipe":
        # The study runs the two stages itself: as --two_stage's runs, each cell is one run.
        optimization = {"two_stage": False} if two_stream else two_stage.STAGE_ONE_OPTIMIZATION
    else:
        optimization = presets.LITERAL_OPTIMIZATION
        model.update(presets.LITERAL_MODEL)
    return config_lib.replace(base, model=model, data=CELL_DATA, optimization=optimization)


def parse_cell(name):
    spatial, _, temporal = name.partition("+")
    if spatial not in SPATIAL or temporal not in TEMPORAL or (spatial, temporal) == ("none", "none"):
        raise config_lib.ConfigError(f"--cells: unknown streams cell {name!r}; cells are {', '.join(CELLS)}")
    return spatial, temporal


def train_cells(base, output_dir, names, training="paper", checkpoint="best", verbose=True, log=print):
    """Trains and evaluates the named cells (on ``base.data.eval_split``), single-stream cells first;
    under ``training="paper"`` a two-stream cell's parents are trained first (even if not named)
    and initialise it from their ``checkpoint``.

    Returns:
        ``{cell: train_cell result}`` of every cell trained or found finished (parents included).
    """
    wanted = [parse_cell(n) for n in names]
    staged = training in ("paper", "recipe")
    if staged:
        for spatial, temporal in list(wanted):
            if is_two_stream(spatial, temporal):
                for parent in parent_cells(spatial, temporal).values():
                    if parse_cell(parent) not in wanted:
                        log(f"{cell_name(spatial, temporal)} starts from {parent}: training it first")
                        wanted.append(parse_cell(parent))
    order = [c for c in CELLS if parse_cell(c) in wanted]
    order.sort(key=lambda c: is_two_stream(*parse_cell(c)))  # single-stream cells first (a stable sort)
    results = {}
    for name in order:
        spatial, temporal = parse_cell(name)
        parents = None
        if staged and is_two_stream(spatial, temporal):
            parents = {stream: runs.checkpoint_path(cells.run_dir(output_dir, run_name(parent, training)), checkpoint)
                       for stream, parent in parent_cells(spatial, temporal).items()}
        result, _ = cells.train_cell(cell_config(base, spatial, temporal, training, parents), output_dir,
                                     run_name(name, training), evaluate_split=base.data.eval_split,
                                     checkpoint=checkpoint, verbose=verbose, log=log, parents=parents)
        results[name] = result
    return results


def trainings_of(training):
    """``training`` (a name, or a sequence of names) as a tuple of known names, in ``TRAININGS`` order."""
    names = (training,) if isinstance(training, str) else tuple(training)
    unknown = [t for t in names if t not in TRAININGS]
    if unknown or not names:
        raise config_lib.ConfigError(f"--training must be among {', '.join(TRAININGS)}; got {', '.join(names)}")
    return tuple(t for t in TRAININGS if t in names)


def run(base, output_dir, cells_to_run=None, checkpoint="best", verbose=True, log=print, training=DEFAULT_TRAINING):
    """Trains and evaluates the cells (default all 7) of each training procedure and writes
    ``streams.md``, ``streams.png`` and ``streams.json`` into ``output_dir``.

    Args:
        base: the base ``ExperimentConfig`` (data dir, training sizes).
        output_dir: the study directory (cells in ``runs/<cell>``, the recipe's in ``runs/recipe/<cell>``).
        cells_to_run: names of a subset of ``CELLS``.
        checkpoint: which checkpoint of each cell is evaluated, and initialises the two-stream cells
            (``best``: the best epoch by ``--selection_metric``).
        training: one of ``TRAININGS`` or several (``"paper"``, ``"recipe"``: two-stage, see the
            module docstring; ``"scratch"``); each gives its own rows.

    Returns:
        dict with ``rows`` (per training and cell: ``training``, ``cell``, ``spatial``, ``temporal``,
        ``arousal``, ``valence``, ``mean``, ``frames``, ``metrics_file``, ``paper_affwild``,
        ``paper_omg``), ``table``, ``table_file``, ``figure``.
    """
    trainings = trainings_of(training)
    names = list(cells_to_run or CELLS)
    for name in names:
        parse_cell(name)
    names = [n for n in CELLS if n in names]
    backbone = tables.spatial_backbone(base.data.data_dir) or "stored"
    several = len(trainings) > 1
    rows = []
    for procedure in trainings:
        trained = train_cells(base, output_dir, names, procedure, checkpoint, verbose, log)
        for name in names:
            spatial, temporal = parse_cell(name)
            result = trained[name]
            m = result["metrics"]
            label = (f"{backbone if spatial == 'features' else 'no spatial'} + "
                     f"{paper.TEMPORAL_NAMES[temporal] if temporal != 'none' else 'no temporal'}")
            rows.append({
                "training": procedure, "cell": name, "spatial": spatial, "temporal": temporal,
                "arousal": m["ccc_arousal"], "valence": m["ccc_valence"], "mean": m["ccc_mean"], "frames": m["frames"],
                "epochs": result["epochs"], "train_seconds": result["train_seconds"],
                "recurrent": result["flags"]["recurrent"], "parents": result.get("parents"),
                "metrics_file": result["metrics_file"],
                "paper_affwild": paper.TABLE5_AFFWILD_STREAMS.get((spatial, temporal)),
                "paper_omg": paper.TABLE4_OMG_STREAMS.get((spatial, temporal)),
                "label": f"{label} ({procedure})" if several else label,
            })
    header = (["training"] if several else []) + [
        "spatial", "temporal", "arousal CCC", "valence CCC", "mean CCC",
        "paper Aff-Wild arousal", "paper Aff-Wild valence", "paper OMG arousal", "paper OMG valence"]
    table_rows = []
    for r in rows:
        affwild, omg = r["paper_affwild"] or (None, None), r["paper_omg"] or (None, None)
        table_rows.append(([r["training"]] if several else []) + [
            f"{backbone} features" if r["spatial"] == "features" else "none",
            paper.TEMPORAL_NAMES[r["temporal"]], r["arousal"], r["valence"], r["mean"],
            affwild[0], affwild[1], omg[0], omg[1]])
    split = base.data.eval_split
    table = (f"Streams study (paper Tables 4-5): official CCC (`evaluate`: every valid-label "
             f"{'utterance' if base.model.label_level == 'video' else 'frame'}) on the `{split}` split of "
             f"`{base.data.data_dir}` (checkpoint `{checkpoint}`), next to the paper's (spatial stream on "
             f"VGGFace2/FER+ ResNet50 features there; `{backbone}` features here). "
             f"{selection_line(base, split)}\n"
             + "".join(f"{procedure}: {TRAINING_LINES[procedure]}\n" if several else f"{TRAINING_LINES[procedure]}\n"
                       for procedure in trainings)
             + "\n" + tables.markdown(header, table_rows) + "\n")
    table_file = os.path.join(output_dir, "streams.md")
    write_text(table_file, table)
    figure = figures.streams_figure(rows, os.path.join(output_dir, "streams.png"),
                                    f"Streams study: CCC on {split} vs the paper")
    result = {"study": "streams", "training": list(trainings), "rows": rows, "table": table,
              "table_file": table_file, "figure": figure}
    write_json(os.path.join(output_dir, "streams.json"), result)
    return result


def define_flags(flag_values):
    flags.DEFINE_list("cells", None, "streams: only these cells (e.g. features+phase_difference,none+optical_flow).",
                      flag_values=flag_values)


@register_study("streams", help="Tables 4-5: spatial {features, none} x temporal {phase differences, phase, optical "
                "flow, none}, arousal and valence CCC", define_flags=define_flags, trainings=TRAININGS,
                default_training=DEFAULT_TRAINING, several_trainings=True)
def streams_study(request):
    return run(request.config, request.output_dir, request.flags.cells, request.checkpoint, verbose=request.verbose,
               log=request.log, training=request.training)

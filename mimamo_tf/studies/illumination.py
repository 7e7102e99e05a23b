"""The ``illumination`` study (the paper's Figure 5): temporal-only models on phase differences and
on optical flow, evaluated on the eval split with per-frame gamma corruption (``u ** g``,
``g ~ U[1 - beta, 1 + beta]``, drawn per frame, the same in every window; see
``mimamo_tf.evaluate --gamma_beta``) for beta in {0, 0.1, ..., 1}.

The paper's "corrupted OMG dataset" does not say whether its nets also trained on corrupted data, so
both readings run: ``corrupt="eval"`` (default) trains on clean data once and evaluates at every
beta; ``corrupt="both"`` trains one net per beta under the same corruption
(``--train_gamma_beta``), chooses its checkpoint on validation data under that corruption too
(``--validation_gamma_beta``, the frames and exponents ``evaluate --gamma_beta`` uses), and
evaluates it at that beta.

Clean training cells are the streams study's ``none+phase_difference`` and ``none+optical_flow``
(the same directories and ``--training``: a study run after the other reuses them); ``both`` adds
cells ``none+<input>_train_gamma_<beta>``. Each evaluation is a cell ``runs/<model cell>/gamma_<beta>/``.
"""

import os

from absl import flags

from mimamo_tf import config as config_lib
from mimamo_tf import runs
from mimamo_tf.atomic_files import write_json, write_text
from mimamo_tf.config import ConfigError
from mimamo_tf.studies import cells, figures, paper, streams, tables
from mimamo_tf.studies.registry import parse_numbers, parse_temporal_inputs, register_study

TEMPORAL_INPUTS = ("phase_difference", "optical_flow")
CORRUPT = ("eval", "both")


def training_cell(temporal, beta, corrupt):
    """The cell whose net is evaluated at ``beta``: the clean one, or (``both``) one trained at ``beta``."""
    clean = streams.cell_name("none", temporal)
    return clean if corrupt == "eval" or not beta else f"{clean}_train_gamma_{beta:.2f}"


def evaluation_name(beta):
    return f"gamma_{beta:.2f}"


def run(base, output_dir, betas, temporal_inputs=TEMPORAL_INPUTS, checkpoint="best", verbose=True, log=print,
        training="paper", corrupt="eval"):
    """Trains the temporal-only models, evaluates each at every beta; writes ``illumination.md``,
    ``illumination.png`` and ``illumination.json``.

    Args:
        training: ``"paper"`` (single-stream nets without the GRU) or ``"scratch"`` (with it).
        corrupt: ``"eval"`` (clean training) or ``"both"`` (training under the same corruption).

    Returns:
        dict with ``series`` ({temporal input: {"betas", "arousal", "valence", "mean", "metrics_files"}}),
        ``table``, ``table_file``, ``figure``.
    """
    if corrupt not in CORRUPT:
        raise ConfigError(f"--corrupt must be one of {', '.join(CORRUPT)}; got {corrupt!r}")
    split = base.data.eval_split
    series = {}
    resolved = {}  # cell -> its run's config; each cell is trained (or found finished) once
    for temporal in temporal_inputs:
        values = {"cell": streams.cell_name("none", temporal), "cells": [], "betas": [], "arousal": [],
                  "valence": [], "mean": [], "metrics_files": []}
        for beta in betas:
            name = training_cell(temporal, beta, corrupt)
            if name not in resolved:
                config = streams.cell_config(base, "none", temporal, training)
                if name != values["cell"]:
                    # Trained under beta, and its checkpoint chosen under beta too.
                    config = config_lib.replace(config, data={"train_gamma_beta": float(beta),
                                                              "validation_gamma_beta": float(beta)})
                cells.train_cell(config, output_dir, name, evaluate_split=split, checkpoint=checkpoint,
                                 verbose=verbose, log=log)
                resolved[name] = runs.read_config(cells.run_dir(output_dir, name))
            result, _ = cells.evaluate_cell(resolved[name], output_dir, name, evaluation_name(beta), split, checkpoint,
                                            float(beta), log=log)
            values["cells"].append(name)
            m = result["metrics"]
            values["betas"].append(float(beta))
            values["arousal"].append(m["ccc_arousal"])
            values["valence"].append(m["ccc_valence"])
            values["mean"].append(m["ccc_mean"])
            values["metrics_files"].append(result["metrics_file"])
        series[temporal] = values
    header = ["beta"] + tables.input_columns(temporal_inputs)
    both = all(t in series for t in TEMPORAL_INPUTS)
    if both:
        header.append("arousal gap (Δ phase − flow)")
    table_rows = []
    for index, beta in enumerate(betas):
        row = [f"{beta:.1f}"]
        for temporal in temporal_inputs:
            row += [series[temporal]["arousal"][index], series[temporal]["valence"][index]]
        if both:
            row.append(series["phase_difference"]["arousal"][index] - series["optical_flow"]["arousal"][index])
        table_rows.append(row)
    trained_on = ("clean data" if corrupt == "eval"
                  else "data under the same corruption (one net per beta, `--corrupt=both`)")
    table = (f"Illumination study (paper Figure 5): temporal-only models trained on {trained_on}, official CCC "
             f"on the `{split}` split of `{base.data.data_dir}` with per-frame gamma corruption u^g, "
             f"g ~ U[1-beta, 1+beta] (checkpoint `{checkpoint}`). {paper.FIGURE5_OMG_ILLUMINATION} "
             f"{streams.selection_line(base, split)}\n"
             f"{tables.TEMPORAL_ONLY_TRAINING[training]}\n\n"
             + tables.markdown(header, table_rows) + "\n")
    table_file = os.path.join(output_dir, "illumination.md")
    write_text(table_file, table)
    figure = figures.illumination_figure(
        {f"temporal only: {paper.TEMPORAL_NAMES[t]}": v for t, v in series.items()},
        os.path.join(output_dir, "illumination.png"), "Illumination study: CCC under per-frame gamma corruption")
    result = {"study": "illumination", "training": training, "corrupt": corrupt, "series": series, "table": table, "table_file": table_file, "figure": figure}
    write_json(os.path.join(output_dir, "illumination.json"), result)
    return result


def define_flags(flag_values):
    fv = dict(flag_values=flag_values)
    flags.DEFINE_list("betas", None, "illumination: the beta grid (default 0, 0.1, ..., 1).", **fv)
    flags.DEFINE_string("corrupt", "eval", "illumination: corrupt the evaluation only (eval) or training too (both: "
                        "one net per beta, trained under that corruption).", **fv)


@register_study("illumination", help="Figure 5: temporal-only nets on phase differences and optical flow under "
                "per-frame gamma corruption beta", define_flags=define_flags)
def illumination_study(request):
    flag_values = request.flags
    betas = parse_numbers(flag_values.betas, float, "betas") if flag_values.betas else request.preset.betas
    if any(not 0 <= b <= 1 for b in betas):
        raise ConfigError(f"--betas must be in [0, 1]; got {betas}")
    inputs = parse_temporal_inputs(flag_values.temporal_inputs, TEMPORAL_INPUTS)
    return run(request.config, request.output_dir, betas, inputs, request.checkpoint, corrupt=flag_values.corrupt,
               verbose=request.verbose, log=request.log, training=request.training)

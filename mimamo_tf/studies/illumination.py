"""The ``illumination`` study (the paper's Figure 5): temporal-only models on phase differences and
on optical flow, trained on clean data, evaluated on the eval split with per-frame gamma corruption
(``u ** g``, ``g ~ U[1 - beta, 1 + beta]``, drawn per frame, the same in every window; see
``mimamo_tf.evaluate --gamma_beta``) for beta in {0, 0.1, ..., 1}.

Training cells are the streams study's ``none+phase_difference`` and ``none+optical_flow`` (the same
directories: a study run after the other reuses them); each evaluation is a cell
``runs/<model cell>/gamma_<beta>/``.
"""

import os

from mimamo_tf import runs
from mimamo_tf.atomic_files import write_json, write_text
from mimamo_tf.studies import cells, figures, paper, streams, tables

TEMPORAL_INPUTS = ("phase_difference", "optical_flow")


def evaluation_name(beta):
    return f"gamma_{beta:.2f}"


def run(base, output_dir, betas, temporal_inputs=TEMPORAL_INPUTS, checkpoint="best", verbose=True, log=print):
    """Trains the temporal-only models, evaluates each at every beta; writes ``illumination.md``,
    ``illumination.png`` and ``illumination.json``.

    Returns:
        dict with ``series`` ({temporal input: {"betas", "arousal", "valence", "mean", "metrics_files"}}),
        ``table``, ``table_file``, ``figure``.
    """
    split = base.data.eval_split
    series = {}
    for temporal in temporal_inputs:
        name = streams.cell_name("none", temporal)
        config = streams.cell_config(base, "none", temporal)
        trained, _ = cells.train_cell(config, output_dir, name, evaluate_split=split, checkpoint=checkpoint,
                                      verbose=verbose, log=log)
        resolved = runs.read_config(cells.run_dir(output_dir, name))
        values = {"cell": name, "betas": [], "arousal": [], "valence": [], "mean": [], "metrics_files": []}
        for beta in betas:
            result, _ = cells.evaluate_cell(resolved, output_dir, name, evaluation_name(beta), split, checkpoint,
                                            float(beta), log=log)
            m = result["metrics"]
            values["betas"].append(float(beta))
            values["arousal"].append(m["ccc_arousal"])
            values["valence"].append(m["ccc_valence"])
            values["mean"].append(m["ccc_mean"])
            values["metrics_files"].append(result["metrics_file"])
        series[temporal] = values
    header = ["beta"]
    for temporal in temporal_inputs:
        header += [f"{paper.TEMPORAL_NAMES[temporal]} arousal", f"{paper.TEMPORAL_NAMES[temporal]} valence"]
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
    table = (f"Illumination study (paper Figure 5): temporal-only models trained on clean data, CCC on the "
             f"`{split}` split of `{base.data.data_dir}` with per-frame gamma corruption u^g, g ~ U[1-beta, 1+beta] "
             f"(checkpoint `{checkpoint}`). {paper.FIGURE5_OMG_ILLUMINATION}\n\n"
             + tables.markdown(header, table_rows) + "\n")
    table_file = os.path.join(output_dir, "illumination.md")
    write_text(table_file, table)
    figure = figures.illumination_figure(
        {f"temporal only: {paper.TEMPORAL_NAMES[t]}": v for t, v in series.items()},
        os.path.join(output_dir, "illumination.png"), "Illumination study: CCC under per-frame gamma corruption")
    result = {"study": "illumination", "series": series, "table": table, "table_file": table_file, "figure": figure}
    write_json(os.path.join(output_dir, "illumination.json"), result)
    return result

"""The ``length`` study (the paper's Table 3): the temporal stream alone (phase differences) with
L in {4, 8, 12, 16} phase-difference images per snippet, k-fold cross-validated by source recording
over the train split.

Cells ``temporal_L<L>_fold<k>``: the paper's single-stream temporal net (no GRU; with
``--training=scratch`` the BiGRU net). No checkpoint is chosen on the videos it is scored on: each
fold trains on the other folds' recordings less an inner validation subset of them
(``--inner_validation_fraction``), which alone picks ``best.keras``; then ``evaluate`` scores the
fold's held-out videos (``runs/<cell>/eval_<split>_fold<k>``) with the official CCC, the protocol of
the streams table. The CCC of an L is the mean over folds.
"""

import os

import numpy as np
from absl import flags

from mimamo_tf import config as config_lib
from mimamo_tf.atomic_files import write_json, write_text
from mimamo_tf.studies import cells, figures, paper, presets, tables
from mimamo_tf.studies.registry import parse_numbers, register_study

TRAINING_LINES = {
    "paper": "Trained as the paper's single-stream temporal net (no GRU: a linear layer on the 256-d stream features).",
    "scratch": "The temporal stream with the BiGRU, from scratch (`--training=scratch`, not the paper's net).",
}


def cell_name(length, fold):
    return f"temporal_L{length:02d}_fold{fold}"


def cell_config(base, length, num_folds, fold, training="paper"):
    model = {"streams": "temporal", "temporal_input": "phase_difference", "snippet_length": length,
             **presets.LITERAL_MODEL}
    if training == "paper":
        model["recurrent"] = False
    return config_lib.replace(base, model=model, data={"num_folds": num_folds, "fold": fold},
                              optimization=presets.LITERAL_OPTIMIZATION)


def run(base, output_dir, lengths=(4, 8, 12, 16), num_folds=5, verbose=True, log=print, training="paper",
        checkpoint="best"):
    """Trains and scores every (L, fold) cell and writes ``length.md``, ``length.png``, ``length.json``.

    Returns:
        dict with ``rows`` (per L: ``length``, ``arousal``, ``valence``, ``mean`` averaged over folds,
        ``folds``: per-fold values, run dirs and metrics files, ``paper``), ``table``, ``table_file``,
        ``figure``.
    """
    if num_folds < 2:
        raise config_lib.ConfigError(f"--num_folds must be >= 2 for the length study; got {num_folds}")
    if not base.data.inner_validation_fraction:
        raise config_lib.ConfigError(
            "the length study picks each fold's checkpoint on an inner validation subset of its training "
            "recordings: --inner_validation_fraction must be > 0 (0 would select on the scored fold)")
    split = base.data.train_split
    rows = []
    for length in lengths:
        folds = []
        for fold in range(num_folds):
            name = cell_name(length, fold)
            config = cell_config(base, length, num_folds, fold, training)
            trained, _ = cells.train_cell(config, output_dir, name, evaluate_split=None, verbose=verbose, log=log)
            scored, _ = cells.evaluate_cell(config, output_dir, name, f"eval_{split.replace(',', '+')}_fold{fold}", split, checkpoint,
                                            log=log, fold=fold)
            m = scored["metrics"]
            folds.append({"fold": fold, "cell": name, "arousal": m["ccc_arousal"], "valence": m["ccc_valence"],
                          "mean": m["ccc_mean"], "frames": m["frames"], "best_epoch": trained["best_epoch"]["epoch"],
                          "metrics_file": scored["metrics_file"], "run_dir": cells.run_dir(output_dir, name)})
        rows.append({
            "length": length,
            "arousal": float(np.mean([f["arousal"] for f in folds])),
            "valence": float(np.mean([f["valence"] for f in folds])),
            "mean": float(np.mean([f["mean"] for f in folds])),
            "folds": folds,
            "paper": paper.TABLE3_OMG_LENGTH.get(length),
        })
    header = ["L", f"arousal CCC (mean of {num_folds} folds)", "valence CCC", "mean CCC", "arousal per fold",
              "valence per fold", "paper OMG arousal", "paper OMG valence"]
    table_rows = [[r["length"], r["arousal"], r["valence"], r["mean"],
                   ", ".join(f"{f['arousal']:.3f}" for f in r["folds"]),
                   ", ".join(f"{f['valence']:.3f}" for f in r["folds"]),
                   *(r["paper"] or (None, None))] for r in rows]
    fraction = base.data.inner_validation_fraction
    table = (f"Length study (paper Table 3): temporal stream alone (phase differences), {num_folds}-fold "
             f"cross-validation by source recording over the `{split}` split of `{base.data.data_dir}`; a fold's "
             f"CCC is the official CCC (`evaluate --fold`) of its held-out videos, with the checkpoint "
             f"(`{checkpoint}`) chosen on an inner validation subset ({fraction:.0%} of the fold's training "
             "recordings). The paper: OMG, 5 folds.\n"
             f"{TRAINING_LINES[training]}\n\n" + tables.markdown(header, table_rows) + "\n")
    table_file = os.path.join(output_dir, "length.md")
    write_text(table_file, table)
    spread = {name: [(min(f[name] for f in r["folds"]), max(f[name] for f in r["folds"])) for r in rows]
              for name in ("arousal", "valence")}
    figure = figures.length_figure([r["length"] for r in rows],
                                   {name: [r[name] for r in rows] for name in ("arousal", "valence")},
                                   spread, paper.TABLE3_OMG_LENGTH, os.path.join(output_dir, "length.png"),
                                   f"Length study: temporal stream, {num_folds}-fold CV")
    result = {"study": "length", "training": training, "num_folds": num_folds, "rows": rows, "table": table,
              "table_file": table_file, "figure": figure}
    write_json(os.path.join(output_dir, "length.json"), result)
    return result


def define_flags(flag_values):
    flags.DEFINE_list("lengths", None, "length: snippet lengths L (default 4, 8, 12, 16).", flag_values=flag_values)


@register_study("length", help="Table 3: snippet length L in {4, 8, 12, 16}, the temporal stream alone, "
                "cross-validated by source recording (--num_folds)", define_flags=define_flags)
def length_study(request):
    flag_values = request.flags
    lengths = parse_numbers(flag_values.lengths, int, "lengths") if flag_values.lengths else request.preset.lengths
    num_folds = flag_values.num_folds if "num_folds" in request.explicit_flags else request.preset.num_folds
    return run(request.config, request.output_dir, lengths, num_folds, verbose=request.verbose, log=request.log,
               training=request.training, checkpoint=request.checkpoint)

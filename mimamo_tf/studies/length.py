"""The ``length`` study (the paper's Table 3): the temporal stream alone (phase differences) with
L in {4, 8, 12, 16} phase-difference images per snippet, k-fold cross-validated by video over the
train split.

Cells ``temporal_L<L>_fold<k>``. A fold's CCC is the held-out fold's validation CCC of the epoch with
the best validation mean CCC (the ``best.keras`` checkpoint) from the training history: one CCC over
every held-out frame with a face and a valid label. The CCC of an L is the mean over folds.
"""

import os

import numpy as np

from mimamo_tf import config as config_lib
from mimamo_tf import runs
from mimamo_tf.atomic_files import write_json, write_text
from mimamo_tf.studies import cells, figures, paper, tables


def cell_name(length, fold):
    return f"temporal_L{length:02d}_fold{fold}"


def cell_config(base, length, num_folds, fold):
    return config_lib.replace(base, model={"streams": "temporal", "temporal_input": "phase_difference",
                                           "snippet_length": length},
                              data={"num_folds": num_folds, "fold": fold})


def run(base, output_dir, lengths=(4, 8, 12, 16), num_folds=5, verbose=True, log=print):
    """Trains every (L, fold) cell and writes ``length.md``, ``length.png``, ``length.json``.

    Returns:
        dict with ``rows`` (per L: ``length``, ``arousal``, ``valence``, ``mean`` averaged over folds,
        ``folds``: per-fold values and run dirs, ``paper``), ``table``, ``table_file``, ``figure``.
    """
    if num_folds < 2:
        raise config_lib.ConfigError(f"--num_folds must be >= 2 for the length study; got {num_folds}")
    rows = []
    for length in lengths:
        folds = []
        for fold in range(num_folds):
            name = cell_name(length, fold)
            result, _ = cells.train_cell(cell_config(base, length, num_folds, fold), output_dir, name,
                                         evaluate_split=None, verbose=verbose, log=log)
            best = result["best_epoch"]
            folds.append({"fold": fold, "cell": name, "arousal": best["val_ccc_arousal"],
                          "valence": best["val_ccc_valence"], "mean": best["val_ccc_mean"],
                          "best_epoch": best["epoch"], "history": runs.history_path(cells.run_dir(output_dir, name))})
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
    table = (f"Length study (paper Table 3): temporal stream alone (phase differences), {num_folds}-fold "
             f"cross-validation by video over the `{base.data.train_split}` split of `{base.data.data_dir}`; "
             "a fold's CCC is its held-out videos' CCC at the best epoch. The paper: OMG, 5 folds.\n\n"
             + tables.markdown(header, table_rows) + "\n")
    table_file = os.path.join(output_dir, "length.md")
    write_text(table_file, table)
    spread = {name: [(min(f[name] for f in r["folds"]), max(f[name] for f in r["folds"])) for r in rows]
              for name in ("arousal", "valence")}
    figure = figures.length_figure([r["length"] for r in rows],
                                   {name: [r[name] for r in rows] for name in ("arousal", "valence")},
                                   spread, paper.TABLE3_OMG_LENGTH, os.path.join(output_dir, "length.png"),
                                   f"Length study: temporal stream, {num_folds}-fold CV")
    result = {"study": "length", "num_folds": num_folds, "rows": rows, "table": table, "table_file": table_file,
              "figure": figure}
    write_json(os.path.join(output_dir, "length.json"), result)
    return result

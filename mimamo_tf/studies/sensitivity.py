"""The ``sensitivity`` study: how subtle a micro-motion each temporal input still sees — the paper's
"subtle motion" claim, measured.

``data_prep.synthetic`` puts arousal in the face's micro-motion (eyes, brows, mouth moving 0.3 px at
arousal -1 to 2.1 px at +1); ``--motion_scale`` multiplies that amplitude. The study trains the
temporal-only nets (Δ phase, phase, optical flow; the streams study's ``none+<input>`` nets) on
data made at each of a few amplitudes and reports their arousal CCC on the eval split against the
amplitude: where does each input stop seeing motion?

Data: ``--data_dir`` is a root holding one prepared directory per amplitude,
``<root>/motion_scale_<s>`` (``data_dir_for``), with shards of the train and eval splits
(``make study-sensitivity`` makes them: ``data_prep.synthetic --motion_scale=<s>`` into
``<root>/synthetic_<s>``, then ``data_prep.prepare``; no spatial features are needed). Every
directory is checked before anything trains. The amplitude is checked where the data says it: a
``synthetic_config.json`` in the prepared directory or in ``<root>/synthetic_<s>`` must record
that motion scale.

Cells ``motion_scale_<s>/none+<input>``: the streams study's temporal-only net, the paper's net
without the GRU (``streams.cell_config``), its ``--data_dir`` that amplitude's directory, evaluated
on the eval split (``runs/<cell>/eval_<split>/metrics.json``: the official CCC of ``evaluate``).
By default it trains as the recipe's stage one does (``--training=recipe``, cells under
``runs/recipe/``: the base flagfile's clipping and averaged weights): this study measures the
inputs, and with the paper's literal optimisation at lr 0.01 some cells diverged mid-run (training
CCC falling from 0.63 to 0.36), which reads as an input that does not see the motion.
"""

import json
import math
import os

from absl import flags

from mimamo_tf import config as config_lib
from mimamo_tf.atomic_files import write_json, write_text
from mimamo_tf.config import ConfigError
from mimamo_tf.data import shards
from mimamo_tf.studies import cells, figures, paper, streams, tables
from mimamo_tf.studies.registry import TRAININGS, parse_numbers, parse_temporal_inputs, register_study

TEMPORAL_INPUTS = ("phase_difference", "phase", "optical_flow")
# The micro-motion's amplitude in px at arousal -1 and +1 at motion scale 1 (data_prep.synthetic's
# micro_motion; mimamo_tf does not import data_prep, tests/studies checks the two agree).
MOTION_PIXELS = (0.3, 2.1)
SYNTHETIC_CONFIG = "synthetic_config.json"


def scale_name(scale):
    """The motion scale as it appears in directory and cell names: ``printf %g`` (0.25, 0.5, 1, 2),
    so the Makefile names the same directories with the shell's ``printf``."""
    return f"{float(scale):g}"


def scale_dir_name(scale):
    """``motion_scale_<s>``: the name of ``scale``'s prepared directory, and of its cells' directory."""
    return f"motion_scale_{scale_name(scale)}"


def data_dir_for(root, scale):
    """The prepared directory (shards) of ``scale`` under the study's ``--data_dir``."""
    return os.path.join(root, scale_dir_name(scale))


def synthetic_dir_for(root, scale):
    """Where ``make study-sensitivity`` writes ``data_prep.synthetic``'s videos of ``scale``."""
    return os.path.join(root, f"synthetic_{scale_name(scale)}")


def amplitude(scale):
    """The micro-motion's amplitude at ``scale`` in px, from arousal -1 to +1, e.g. ``"0.3-2.1 px"``."""
    if not scale:
        return "0 px (none)"
    return f"{MOTION_PIXELS[0] * scale:.3g}-{MOTION_PIXELS[1] * scale:.3g} px"


def cell_name(scale, temporal):
    return f"{scale_dir_name(scale)}/{streams.cell_name('none', temporal)}"


def check_motion_scales(scales):
    """``ConfigError`` naming ``--motion_scales`` unless they are distinct finite numbers >= 0 (0:
    no micro-motion at all, which ``data_prep.synthetic`` accepts)."""
    if not scales:
        raise ConfigError("--motion_scales must name at least one motion scale")
    bad = [s for s in scales if not (math.isfinite(s) and s >= 0)]
    if bad:
        raise ConfigError(f"--motion_scales must be finite numbers >= 0; got {', '.join(map(str, bad))}")
    names = [scale_name(s) for s in scales]
    if len(set(names)) != len(names):
        raise ConfigError(f"--motion_scales must be distinct (as directory names: {', '.join(names)})")


def make_commands(root, scale, splits):
    """The commands that make ``scale``'s prepared directory (the Makefile's ``study-sensitivity``)."""
    synthetic = synthetic_dir_for(root, scale)
    commands = [f"python -m data_prep.synthetic --size=demo --motion_scale={scale_name(scale)} "
                f"--output_dir={synthetic}"]
    commands += [f"python -m data_prep.prepare --dataset=affwild2 --data_root={synthetic} "
                 f"--output_dir={data_dir_for(root, scale)} --split={split}" for split in splits]
    return commands


def recorded_scale_files(root, scale):
    """The ``synthetic_config.json`` files that say which motion scale ``scale``'s data was made with:
    one beside the shards (if someone put it there), one in ``synthetic_dir_for`` (where the
    Makefile's synthetic data is); those that exist."""
    candidates = (os.path.join(data_dir_for(root, scale), SYNTHETIC_CONFIG),
                  os.path.join(synthetic_dir_for(root, scale), SYNTHETIC_CONFIG))
    return [path for path in candidates if os.path.isfile(path)]


def check_data(root, scales, splits):
    """Checks, before anything trains, that every scale has its prepared directory with shards of
    every split in ``splits``, and that no ``synthetic_config.json`` records another motion scale.

    Returns:
        ``{scale name: [synthetic_config.json files that confirmed it]}`` (empty: not checkable).

    Raises:
        ConfigError: naming each missing directory or split and the commands that make it, or the
            file that records another scale.
    """
    missing = []
    for scale in scales:
        directory = data_dir_for(root, scale)
        if not os.path.isdir(directory):
            missing.append((scale, f"{directory} does not exist"))
            continue
        absent = [split for split in splits if not shards.list_shards(directory, split)]
        if absent:
            missing.append((scale, f"{directory} has no {' or '.join(absent)} shards"))
    if missing:
        problems = "; ".join(problem for _, problem in missing)
        commands = " && ".join(c for scale, _ in missing for c in make_commands(root, scale, splits))
        raise ConfigError(f"--data_dir={root} is the sensitivity study's root, one prepared directory per motion "
                          f"scale (motion_scale_<s>): {problems}. Make them with: {commands}")
    confirmed = {}
    for scale in scales:
        confirmed[scale_name(scale)] = []
        for path in recorded_scale_files(root, scale):
            with open(path, encoding="utf-8") as handle:
                # Synthetic data from before --motion_scale had the default amplitude.
                recorded = float(json.load(handle).get("motion_scale", 1.0))
            if not math.isclose(recorded, scale, rel_tol=1e-9, abs_tol=1e-12):
                raise ConfigError(f"{data_dir_for(root, scale)} should hold motion scale {scale_name(scale)}, but "
                                  f"{path} records --motion_scale={recorded:g}")
            confirmed[scale_name(scale)].append(path)
    return confirmed


def run(base, output_dir, motion_scales, temporal_inputs=TEMPORAL_INPUTS, checkpoint="best", verbose=True,
        log=print, training="recipe"):
    """Trains a temporal-only net per (motion scale, temporal input) on that scale's data, evaluates
    each on the eval split; writes ``sensitivity.md``, ``sensitivity.png`` and ``sensitivity.json``.

    Args:
        base: the base ``ExperimentConfig``; its ``data.data_dir`` is the root of the per-scale
            directories (``data_dir_for``).
        output_dir: the study directory (cells in ``runs/motion_scale_<s>/none+<input>``).
        motion_scales: the micro-motion amplitudes, factors of ``data_prep.synthetic``'s default.
        temporal_inputs: among ``config.TEMPORAL_INPUTS``.
        checkpoint: which checkpoint of each cell is evaluated (``best`` or ``last``).
        training: ``"recipe"`` (default: the paper's single-stream nets without the GRU, trained
            with the recipe's clipping and averaged weights: at lr 0.01 the literal procedure
            diverged in some cells, which would read as an input that does not see the motion),
            ``"paper"`` (the same nets, literal optimisation) or ``"scratch"`` (with the BiGRU).

    Returns:
        dict with ``series`` ({temporal input: {"motion_scales", "pixels", "arousal", "valence",
        "mean", "cells", "data_dirs", "metrics_files"}}), ``checked_by`` (per scale, the
        ``synthetic_config.json`` files that confirmed it), ``table``, ``table_file``, ``figure``.

    Raises:
        ConfigError: bad scales or training, or a scale's data missing (before anything trains).
    """
    check_motion_scales(motion_scales)
    if training not in tables.TEMPORAL_ONLY_TRAINING:
        raise ConfigError(f"--training for the sensitivity study must be one of "
                          f"{', '.join(tables.TEMPORAL_ONLY_TRAINING)}; got {training!r}")
    root, split = base.data.data_dir, base.data.eval_split
    checked_by = check_data(root, motion_scales, (base.data.train_split, split))
    series = {}
    for temporal in temporal_inputs:
        values = {"motion_scales": [], "pixels": [], "arousal": [], "valence": [], "mean": [], "cells": [],
                  "data_dirs": [], "metrics_files": []}
        for scale in motion_scales:
            name, data_dir = streams.run_name(cell_name(scale, temporal), training), data_dir_for(root, scale)
            config = config_lib.replace(streams.cell_config(base, "none", temporal, training),
                                        data={"data_dir": data_dir})
            result, _ = cells.train_cell(config, output_dir, name, evaluate_split=split, checkpoint=checkpoint,
                                         verbose=verbose, log=log)
            m = result["metrics"]
            values["motion_scales"].append(float(scale))
            values["pixels"].append([MOTION_PIXELS[0] * scale, MOTION_PIXELS[1] * scale])
            values["arousal"].append(m["ccc_arousal"])
            values["valence"].append(m["ccc_valence"])
            values["mean"].append(m["ccc_mean"])
            values["cells"].append(name)
            values["data_dirs"].append(data_dir)
            values["metrics_files"].append(result["metrics_file"])
        series[temporal] = values
    header = ["motion scale", "amplitude (arousal -1 to +1)"] + tables.input_columns(temporal_inputs)
    table_rows = []
    for index, scale in enumerate(motion_scales):
        row = [scale_name(scale), amplitude(scale)]
        for temporal in temporal_inputs:
            row += [series[temporal]["arousal"][index], series[temporal]["valence"][index]]
        table_rows.append(row)
    unchecked = [name for name, files in checked_by.items() if not files]
    checked = ("Every scale's amplitude confirmed by its `synthetic_config.json`." if not unchecked else
               f"No `synthetic_config.json` to confirm the amplitude of scale(s) {', '.join(unchecked)}: "
               "the directory names are trusted.")
    table = (f"Sensitivity study: temporal-only models trained and evaluated on data whose micro-motion (which "
             f"carries arousal) is scaled by the motion scale (`data_prep.synthetic --motion_scale`; "
             f"{MOTION_PIXELS[0]:g} px at arousal -1 to {MOTION_PIXELS[1]:g} px at +1 at scale 1), official CCC on "
             f"the `{split}` split of `{root}/motion_scale_<s>` (checkpoint `{checkpoint}`). {checked} "
             f"{streams.selection_line(base, split)}\n"
             f"{tables.TEMPORAL_ONLY_TRAINING[training]}\n\n"
             + tables.markdown(header, table_rows) + "\n")
    table_file = os.path.join(output_dir, "sensitivity.md")
    write_text(table_file, table)
    figure = figures.sensitivity_figure(
        {f"temporal only: {paper.TEMPORAL_NAMES[t]}": v for t, v in series.items()},
        {float(scale): amplitude(scale) for scale in motion_scales},
        os.path.join(output_dir, "sensitivity.png"), "Sensitivity study: arousal CCC against micro-motion amplitude")
    result = {"study": "sensitivity", "training": training, "checkpoint": checkpoint, "split": split,
              "motion_pixels": list(MOTION_PIXELS), "checked_by": checked_by, "series": series, "table": table,
              "table_file": table_file, "figure": figure}
    write_json(os.path.join(output_dir, "sensitivity.json"), result)
    return result


def define_flags(flag_values):
    flags.DEFINE_list("motion_scales", None,
                      "sensitivity: micro-motion amplitudes, factors of data_prep.synthetic's default, >= 0 (default: "
                      "the preset's, 0,0.0625,0.25,1,2); --data_dir holds motion_scale_<s> for each.",
                      flag_values=flag_values)


def _motion_scales(flag_values, preset):
    scales = (parse_numbers(flag_values.motion_scales, float, "motion_scales") if flag_values.motion_scales
              else preset.motion_scales)
    check_motion_scales(scales)
    return scales


def _labelled_data_dir(data_dir, flag_values, preset):
    # The scales' directories hold the same synthetic videos: their labels are alike.
    return data_dir_for(data_dir, _motion_scales(flag_values, preset)[0])


# Default training "recipe": the study measures the inputs, and the literal procedure diverged in some of
# its cells, which would read as an input blind to the motion (docs/results.md).
@register_study("sensitivity", help="the paper's 'subtle motion' claim: temporal-only nets against the synthetic "
                "micro-motion's amplitude (--motion_scales)", define_flags=define_flags,
                data="the root of one prepared directory per motion scale, motion_scale_<s>",
                trainings=TRAININGS, default_training=("recipe",), labelled_data_dir=_labelled_data_dir)
def sensitivity_study(request):
    flag_values = request.flags
    scales = _motion_scales(flag_values, request.preset)
    inputs = parse_temporal_inputs(flag_values.temporal_inputs, TEMPORAL_INPUTS)
    return run(request.config, request.output_dir, scales, inputs, request.checkpoint, verbose=request.verbose,
               log=request.log, training=request.training)

"""``python -m mimamo_tf.study --study=streams|length|illumination|sensitivity|speed --data_dir=... --output_dir=...``

Reproduces the paper's experiments on any prepared dataset (the studies of
``mimamo_tf.studies.registry``: a study is one module registered with ``@register_study``, and its
own flags come with it); each study writes a Markdown table
(``<study>.md``, the paper's numbers beside ours), a PNG figure (``<study>.png``) and its results
(``<study>.json``) into ``--output_dir``:

* ``streams`` — Tables 4/5: spatial {stored features, none} x temporal {phase differences, phase,
  optical flow, none}, arousal and valence CCC on the eval split;
* ``length`` — Table 3: L in {4, 8, 12, 16}, the temporal stream alone, ``--num_folds``-fold
  cross-validated by source recording, each fold scored on its held-out videos with a checkpoint
  chosen on an inner validation subset (``--inner_validation_fraction``);
* ``illumination`` — Figure 5: temporal-only models on phase differences and on optical flow,
  evaluated at beta in {0, 0.1, ..., 1} of per-frame gamma corruption (``u ** g``,
  ``g ~ U[1 - beta, 1 + beta]``), trained clean (``--corrupt=eval``) or under the same corruption
  (``--corrupt=both``);
* ``sensitivity`` — the paper's "subtle motion" claim, measured: temporal-only models (Δ phase,
  phase, optical flow) trained on ``data_prep.synthetic`` data whose micro-motion (which carries
  arousal) is scaled by each of ``--motion_scales`` (default 0, 0.0625, 0.25, 1, 2), arousal CCC against
  the amplitude. ``--data_dir`` is then a root of prepared directories ``motion_scale_<s>``, one
  per scale (``make study-sensitivity`` makes them; see ``mimamo_tf.studies.sensitivity``);
* ``speed`` — cost per frame of phase differences vs optical flow (Farneback, DIS) at 48x48 and
  224x224 (no data needed).

Every CCC is the official one of ``evaluate`` (every valid-label frame, or utterance). Nets are
trained the paper's way (``--training=paper``, default): single-stream nets without the GRU, and
two-stream nets initialised from them; ``--training=scratch`` trains every net with the BiGRU from
scratch.

``--preset=paper`` (default) trains with the base flagfile's settings (``--flagfile``, default
``configs/affwild2.cfg``, or ``configs/omg.cfg`` for data with utterance labels);
``--preset=synthetic`` uses sizes that run on the demo data in CPU time (base ``configs/demo.cfg``,
or ``configs/omg_demo.cfg`` for ``data_prep.synthetic --format=omg`` data; see
``mimamo_tf.studies.presets``). Training flags on the command line
(e.g. ``--epochs=3``) override both. Resumable: every cell (a training run, an evaluation, a speed
measurement) is cached in ``<output_dir>/runs``; re-running the same command skips finished cells
and resumes a killed training from its checkpoints. Exit code 2: bad flags or data (the message
names the flag or file).
"""

import sys
import time

import tensorflow as tf
from absl import flags

from mimamo_tf import config as config_lib
from mimamo_tf.command_line import run_command
from mimamo_tf.data import schema, shards
from mimamo_tf.studies import presets, registry


def define_flags(flag_values):
    fv = dict(flag_values=flag_values)
    # The training flags override the base flagfile's settings (see ``base_config``).
    config_lib.define_flags(flag_values)
    studies = "; ".join(f"{name}: {registry.get_study(name).help}" for name in registry.study_names())
    flags.DEFINE_string("output_dir", None, "Where the study writes <study>.md/.png/.json and runs/ (required).", **fv)
    flags.DEFINE_string("checkpoint", "best", "Checkpoint of each trained cell that is evaluated: best, last.", **fv)
    flags.DEFINE_string("study", None, f"Which study ({studies}).", **fv)
    flags.DEFINE_string("preset", "paper", "Study sizes: paper (the base flagfile's settings) or synthetic "
                        "(the demo data in CPU time, base configs/demo.cfg or configs/omg_demo.cfg).", **fv)
    flags.DEFINE_list("training", None, "How the nets are trained: paper (single-stream nets without the GRU, "
                      "two-stream nets initialised from them, the paper's optimisation), recipe (the same two stages "
                      "with this project's recipe, `train --two_stage`) or scratch (every net with the BiGRU, from "
                      "scratch). streams takes several, one row per net and procedure (default paper,recipe); the "
                      "others take one (default paper; sensitivity: recipe).", **fv)
    flags.DEFINE_list("temporal_inputs", None,
                      "A study comparing temporal inputs: those compared (default illumination: "
                      "phase_difference,optical_flow; sensitivity: phase_difference,phase,optical_flow).", **fv)
    flags.DEFINE_bool("train_log", True, "Print the trainer's per-epoch lines.", **fv)
    registry.define_study_flags(flag_values)


def command_line_training_flags(argv):
    """What the command line itself says of training: ``(flagfile, names, ["--name=value", ...])`` —
    the last ``--flagfile`` (or None) and the training flags given outside it. absl parses ``argv``
    without its flagfiles, so booleans, lists and abbreviations read exactly as in the real parse."""
    flagfile, arguments, remaining = None, [], list(argv[1:])
    while remaining:
        arg = remaining.pop(0)
        if arg == "--":
            break
        name, has_value, value = arg.lstrip("-").partition("=")
        if arg.startswith("-") and name == "flagfile":
            flagfile = value if has_value else (remaining.pop(0) if remaining else None)
            continue
        arguments.append(arg)
    explicit = flags.FlagValues()
    config_lib.define_flags(explicit)
    explicit([argv[0], *arguments], known_only=True)
    names = [name for name in config_lib.FLAG_NAMES if explicit[name].present]
    return flagfile, names, [config_lib.flag_line(name, explicit[name].value) for name in names
                             if explicit[name].value is not None]


def base_config(preset, study, flagfile, overrides, label_level="frame"):
    """The study's base ``ExperimentConfig``: the flagfile (default the preset's for the data's
    ``label_level``), then the preset's overrides, then the training flags of the command line
    (``overrides``)."""
    preset_overrides = list(preset.overrides(study, label_level))
    return config_lib.from_flagfile(flagfile or preset.flagfiles[label_level], preset_overrides + list(overrides))


def data_label_level(data_dir, split):
    """``"frame"`` or ``"video"``: the labels of the first example of ``split``'s shards (``"frame"``
    when there are none: the study's own checks then name what is missing)."""
    try:
        files = shards.split_shards(data_dir, split)
    except shards.DataError:
        return "frame"
    for path in files:
        for record in tf.data.TFRecordDataset(path).take(1):
            level = schema.parse_sequence_example(record.numpy(), decode_images=False)["label_level"]
            return level if level in config_lib.LABEL_LEVELS else "frame"
    return "frame"


def run_study(flag_values, argv):
    """Validates the flags and runs the registered study ``--study``; returns its result dict.
    Raises ``ConfigError`` (naming the flag) before any work."""
    study = registry.get_study(flag_values.study)
    if flag_values.preset not in presets.PRESETS:
        raise config_lib.ConfigError(f"--preset must be one of {', '.join(presets.PRESETS)}; got {flag_values.preset!r}")
    if not flag_values.output_dir:
        raise config_lib.ConfigError("--output_dir is required (where the study writes its table, figure and runs)")
    preset = presets.get(flag_values.preset)

    def log(message):
        print(f"[{study.name}] {message}", flush=True)

    request = dict(output_dir=flag_values.output_dir, preset=preset, flags=flag_values, verbose=flag_values.train_log, log=log)
    if study.data is None:
        return study.run(registry.StudyRequest(config=None, training=None, **request))
    if not flag_values.data_dir:
        raise config_lib.ConfigError(f"--data_dir is required for --study={study.name} ({study.data})")
    flagfile, explicit_names, overrides = command_line_training_flags(argv)
    training = study.parse_training(flag_values.training)
    labelled_data = (study.labelled_data_dir(flag_values.data_dir, flag_values, preset) if study.labelled_data_dir
                     else flag_values.data_dir)
    label_level = data_label_level(labelled_data, flag_values.train_split)
    config = base_config(preset, study.name, flagfile, overrides, label_level)
    config_lib.validate(config, require_model_dir=False)
    if flag_values.checkpoint not in ("best", "last"):
        raise config_lib.ConfigError(f"--checkpoint must be best or last for a study; got {flag_values.checkpoint!r}")
    return study.run(registry.StudyRequest(config=config, training=training, checkpoint=flag_values.checkpoint,
                                           explicit_flags=tuple(explicit_names), **request))


def main(flag_values):
    start = time.perf_counter()
    result = run_study(flag_values, sys.argv)
    seconds = time.perf_counter() - start
    print(result["table"])
    print(f"mimamo_tf.study: --study={flag_values.study} done in {seconds:.0f} s -> {result['table_file']}, {result['figure']}")
    return 0


def run():
    run_command("study", main, define_flags, __doc__)


if __name__ == "__main__":
    run()

"""``python -m mimamo_tf.study --study=streams|length|illumination|sensitivity|speed --data_dir=... --output_dir=...``

Reproduces the paper's experiments on any prepared dataset; each study writes a Markdown table
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

from mimamo_tf import config as config_lib
from mimamo_tf.command_line import run_command


def define_flags(flag_values):
    from absl import flags

    from mimamo_tf.studies import presets

    fv = dict(flag_values=flag_values)
    # The training flags override the base flagfile's settings (see ``base_config``).
    config_lib.define_flags(flag_values)
    flags.DEFINE_string("output_dir", None, "Where the study writes <study>.md/.png/.json and runs/ (required).", **fv)
    flags.DEFINE_string("checkpoint", "best", "Checkpoint of each trained cell that is evaluated: best, last.", **fv)
    flags.DEFINE_string("study", None, f"Which study: {', '.join(presets.STUDIES)}.", **fv)
    flags.DEFINE_string("preset", "paper", "Study sizes: paper (the base flagfile's settings) or synthetic "
                        "(the demo data in CPU time, base configs/demo.cfg or configs/omg_demo.cfg).", **fv)
    flags.DEFINE_list("training", None, "How the nets are trained: paper (single-stream nets without the GRU, "
                      "two-stream nets initialised from them, the paper's optimisation), recipe (the same two stages "
                      "with this project's recipe, `train --two_stage`; streams only) or scratch (every net with the "
                      "BiGRU, from scratch). streams takes several, one row per net and procedure (default "
                      "paper,recipe); the other studies take one (default paper).", **fv)
    flags.DEFINE_string("corrupt", "eval", "illumination: corrupt the evaluation only (eval) or training too (both: "
                        "one net per beta, trained under that corruption).", **fv)
    flags.DEFINE_list("cells", None, "streams: only these cells (e.g. features+phase_difference,none+optical_flow).",
                      **fv)
    flags.DEFINE_list("betas", None, "illumination: the beta grid (default 0, 0.1, ..., 1).", **fv)
    flags.DEFINE_list("temporal_inputs", None,
                      "illumination and sensitivity: temporal inputs compared (default illumination: "
                      "phase_difference,optical_flow; sensitivity: phase_difference,phase,optical_flow).", **fv)
    flags.DEFINE_list("motion_scales", None,
                      "sensitivity: micro-motion amplitudes, factors of data_prep.synthetic's default, >= 0 (default: "
                      "the preset's, 0,0.0625,0.25,1,2); --data_dir holds motion_scale_<s> for each.", **fv)
    flags.DEFINE_list("lengths", None, "length: snippet lengths L (default 4, 8, 12, 16).", **fv)
    flags.DEFINE_integer("speed_frames", None, "speed: frames of the 48x48 phase sequence (default: the preset's).", **fv)
    flags.DEFINE_integer("speed_pairs", None,
                         "speed: flow pairs timed at 224x224, 10x at 48x48 (default: the preset's).", **fv)
    flags.DEFINE_integer("speed_repeats", None, "speed: timed repetitions, the best kept (default: the preset's).",
                         **fv)
    flags.DEFINE_bool("train_log", True, "Print the trainer's per-epoch lines.", **fv)


def command_line_training_flags(argv):
    """What the command line itself says of training: ``(flagfile, names, ["--name=value", ...])`` —
    the last ``--flagfile`` (or None) and the training flags given outside it. absl parses ``argv``
    without its flagfiles, so booleans, lists and abbreviations read exactly as in the real parse."""
    from absl import flags

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


def _numbers(values, kind, flag):
    try:
        return tuple(kind(v) for v in values)
    except ValueError as error:
        raise config_lib.ConfigError(f"--{flag} must be a list of numbers; got {','.join(values)}") from error


def _temporal_inputs(values, default):
    """``--temporal_inputs`` (``default`` when not given) as a tuple; ``ConfigError`` unless each is a
    distinct one of ``config.TEMPORAL_INPUTS``."""
    inputs = tuple(values or default)
    unknown = [t for t in inputs if t not in config_lib.TEMPORAL_INPUTS]
    if unknown or len(set(inputs)) != len(inputs):
        raise config_lib.ConfigError(f"--temporal_inputs must be distinct ones of "
                                     f"{', '.join(config_lib.TEMPORAL_INPUTS)}; got {', '.join(inputs)}")
    return inputs


def _training(values, study):
    """``--training`` of ``study``: the streams study's procedures (a tuple, default paper and recipe);
    the sensitivity study's one (default recipe: it measures the inputs, and the literal procedure
    diverged in some of its cells); the one procedure of another study (default paper; they
    reproduce the paper's figures, and the recipe is a two-stream procedure)."""
    from mimamo_tf.studies import streams

    if study == "streams":
        return streams.trainings_of(values or streams.DEFAULT_TRAINING)
    allowed = streams.TRAINING if study == "sensitivity" else tuple(t for t in streams.TRAINING if t != "recipe")
    if values and (len(values) != 1 or values[0] not in allowed):
        raise config_lib.ConfigError(f"--training for --study={study} must be one of {', '.join(allowed)}; "
                                     f"got {','.join(values)}")
    if values:
        return values[0]
    return "recipe" if study == "sensitivity" else "paper"


def base_config(preset, study, flagfile, overrides, label_level="frame"):
    """The study's base ``ExperimentConfig``: the flagfile (default the preset's for the data's
    ``label_level``), then the preset's overrides, then the training flags of the command line
    (``overrides``)."""
    preset_overrides = list(preset.overrides(study, label_level))
    return config_lib.from_flagfile(flagfile or preset.flagfiles[label_level], preset_overrides + list(overrides))


def data_label_level(data_dir, split):
    """``"frame"`` or ``"video"``: the labels of the first example of ``split``'s shards (``"frame"``
    when there are none: the study's own checks then name what is missing)."""
    import tensorflow as tf

    from mimamo_tf.data import pipeline, schema

    try:
        files = pipeline.split_shards(data_dir, split)
    except pipeline.DataError:
        return "frame"
    for path in files:
        for record in tf.data.TFRecordDataset(path).take(1):
            level = schema.parse_sequence_example(record.numpy(), decode_images=False)["label_level"]
            return level if level in config_lib.LABEL_LEVELS else "frame"
    return "frame"


def run_study(FLAGS, argv):
    """Validates the flags and runs the study; returns its result dict. Raises ``ConfigError``."""
    from mimamo_tf.studies import presets

    study, preset_name = FLAGS.study, FLAGS.preset
    if not study or study not in presets.STUDIES:
        raise config_lib.ConfigError(f"--study must be one of {', '.join(presets.STUDIES)}; got {study!r}")
    if preset_name not in presets.PRESETS:
        raise config_lib.ConfigError(f"--preset must be one of {', '.join(presets.PRESETS)}; got {preset_name!r}")
    if not FLAGS.output_dir:
        raise config_lib.ConfigError("--output_dir is required (where the study writes its table, figure and runs)")
    preset = presets.get(preset_name)
    output_dir = FLAGS.output_dir

    def log(message):
        print(f"[{study}] {message}", flush=True)

    if study == "speed":
        from mimamo_tf.studies import speed

        return speed.run(output_dir, frames=FLAGS.speed_frames or preset.speed_frames,
                         pairs=FLAGS.speed_pairs or preset.speed_pairs,
                         repeats=FLAGS.speed_repeats or preset.speed_repeats, log=log)
    if not FLAGS.data_dir:
        what = ("the root of one prepared directory per motion scale, motion_scale_<s>" if study == "sensitivity"
                else "a directory of shards written by data_prep.prepare")
        raise config_lib.ConfigError(f"--data_dir is required for --study={study} ({what})")
    flagfile, explicit_names, overrides = command_line_training_flags(argv)
    training = _training(FLAGS.training, study)
    labelled_data = FLAGS.data_dir
    if study == "sensitivity":
        from mimamo_tf.studies import sensitivity

        motion_scales = (_numbers(FLAGS.motion_scales, float, "motion_scales") if FLAGS.motion_scales
                         else preset.motion_scales)
        sensitivity.check_motion_scales(motion_scales)
        inputs = _temporal_inputs(FLAGS.temporal_inputs, sensitivity.TEMPORAL_INPUTS)
        # --data_dir is the root of one prepared directory per scale: their labels are alike.
        labelled_data = sensitivity.data_dir_for(FLAGS.data_dir, motion_scales[0])
    label_level = data_label_level(labelled_data, FLAGS.train_split)
    config = base_config(preset, study, flagfile, overrides, label_level)
    config_lib.validate(config, require_model_dir=False)
    common = dict(verbose=FLAGS.train_log, log=log, training=training)
    if FLAGS.checkpoint not in ("best", "last"):
        raise config_lib.ConfigError(f"--checkpoint must be best or last for a study; got {FLAGS.checkpoint!r}")
    if study == "streams":
        from mimamo_tf.studies import streams

        return streams.run(config, output_dir, FLAGS.cells, FLAGS.checkpoint, **common)
    if study == "illumination":
        from mimamo_tf.studies import illumination

        betas = _numbers(FLAGS.betas, float, "betas") if FLAGS.betas else preset.betas
        if any(not 0 <= b <= 1 for b in betas):
            raise config_lib.ConfigError(f"--betas must be in [0, 1]; got {betas}")
        inputs = _temporal_inputs(FLAGS.temporal_inputs, illumination.TEMPORAL_INPUTS)
        return illumination.run(config, output_dir, betas, inputs, FLAGS.checkpoint, corrupt=FLAGS.corrupt, **common)
    if study == "sensitivity":
        return sensitivity.run(config, output_dir, motion_scales, inputs, FLAGS.checkpoint, **common)
    from mimamo_tf.studies import length

    lengths = _numbers(FLAGS.lengths, int, "lengths") if FLAGS.lengths else preset.lengths
    num_folds = FLAGS.num_folds if "num_folds" in explicit_names else preset.num_folds
    return length.run(config, output_dir, lengths, num_folds, checkpoint=FLAGS.checkpoint, **common)


def main(FLAGS):
    import sys
    import time

    start = time.perf_counter()
    result = run_study(FLAGS, sys.argv)
    seconds = time.perf_counter() - start
    print(result["table"])
    print(f"mimamo_tf.study: --study={FLAGS.study} done in {seconds:.0f} s -> {result['table_file']}, {result['figure']}")
    return 0


def run():
    run_command("study", main, define_flags, __doc__)


if __name__ == "__main__":
    run()

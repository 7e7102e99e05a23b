"""``python -m mimamo_tf.study --study=streams|length|illumination|speed --data_dir=... --output_dir=...``

Reproduces the paper's experiments on any prepared dataset; each study writes a Markdown table
(``<study>.md``, the paper's numbers beside ours), a PNG figure (``<study>.png``) and its results
(``<study>.json``) into ``--output_dir``:

* ``streams`` — Tables 4/5: spatial {stored features, none} x temporal {phase differences, phase,
  optical flow, none}, arousal and valence CCC on the eval split;
* ``length`` — Table 3: L in {4, 8, 12, 16}, the temporal stream alone, ``--num_folds``-fold
  cross-validated mean CCC;
* ``illumination`` — Figure 5: temporal-only models on phase differences and on optical flow,
  evaluated at beta in {0, 0.1, ..., 1} of per-frame gamma corruption (``u ** g``,
  ``g ~ U[1 - beta, 1 + beta]``);
* ``speed`` — cost per frame of phase differences vs optical flow (Farneback, DIS) at 48x48 and
  224x224 (no data needed).

``--preset=paper`` (default) trains with the base flagfile's settings (``--flagfile``, default
``configs/affwild2.cfg``); ``--preset=synthetic`` uses sizes that run on the demo data in CPU time
(base ``configs/demo.cfg``; see ``mimamo_tf.studies.presets``). Training flags on the command line
(e.g. ``--epochs=3``) override both. Resumable: every cell (a training run, an evaluation, a speed
measurement) is cached in ``<output_dir>/runs``; re-running the same command skips finished cells
and resumes a killed training from its checkpoints. Exit code 2: bad flags or data (the message
names the flag or file).
"""

from mimamo_tf.cli_startup import quiet_tensorflow_startup

quiet_tensorflow_startup()

import sys  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

from mimamo_tf import config as config_lib  # noqa: E402

from mimamo_tf.studies import presets  # noqa: E402

FLAGS = flags.FLAGS
# The training flags override the base flagfile's settings (see ``base_config``).
config_lib.define_flags()
flags.DEFINE_string("output_dir", None, "Where the study writes <study>.md/.png/.json and runs/ (required).")
flags.DEFINE_string("checkpoint", "best", "Checkpoint of each trained cell that is evaluated: best, last.")
flags.DEFINE_integer("eval_batch_size", 8, "Windows per evaluation batch.")
flags.DEFINE_string("study", None, f"Which study: {', '.join(presets.STUDIES)}.")
flags.DEFINE_string("preset", "paper", "Study sizes: paper (the base flagfile's settings) or synthetic "
                    "(the demo data in CPU time, base configs/demo.cfg).")
flags.DEFINE_list("cells", None, "streams: only these cells (e.g. features+phase_difference,none+optical_flow).")
flags.DEFINE_list("betas", None, "illumination: the beta grid (default 0, 0.1, ..., 1).")
flags.DEFINE_list("temporal_inputs", None, "illumination: temporal inputs compared (default phase_difference,optical_flow).")
flags.DEFINE_list("lengths", None, "length: snippet lengths L (default 4, 8, 12, 16).")
flags.DEFINE_integer("speed_frames", None, "speed: frames of the 48x48 phase sequence (default: the preset's).")
flags.DEFINE_integer("speed_pairs", None, "speed: flow pairs timed at 224x224, 10x at 48x48 (default: the preset's).")
flags.DEFINE_integer("speed_repeats", None, "speed: timed repetitions, the best kept (default: the preset's).")
flags.DEFINE_bool("train_log", True, "Print the trainer's per-epoch lines.")


def _explicit_training_flags(argv):
    """The training flags given on the command line (not in a flagfile), as ``--name=value`` strings."""
    names = []
    arguments = argv[1:]
    for arg in arguments:
        if arg == "--":
            break
        if not arg.startswith("-"):
            continue
        name = arg.lstrip("-").split("=", 1)[0]
        if name.startswith("no") and name[2:] in config_lib.FLAG_NAMES and isinstance(FLAGS[name[2:]].value, bool):
            name = name[2:]
        if name in config_lib.FLAG_NAMES and name not in names:
            names.append(name)
    overrides = []
    for name in names:
        value = FLAGS[name].value
        if value is None:
            continue
        if isinstance(value, bool):
            overrides.append(f"--{name}" if value else f"--no{name}")
        elif isinstance(value, (list, tuple)):
            overrides.append(f"--{name}={','.join(str(v) for v in value)}")
        else:
            overrides.append(f"--{name}={value}")
    return names, overrides


def _flagfile(argv):
    path = None
    for index, arg in enumerate(argv[1:], start=1):
        name, has_value, value = arg.lstrip("-").partition("=")
        if arg.startswith("-") and name == "flagfile":
            path = value if has_value else (argv[index + 1] if index + 1 < len(argv) else None)
    return path


def _numbers(values, kind, flag):
    try:
        return tuple(kind(v) for v in values)
    except ValueError as error:
        raise config_lib.ConfigError(f"--{flag} must be a list of numbers; got {','.join(values)}") from error


def base_config(preset, study, argv):
    """The study's base ``ExperimentConfig``: flagfile, then the preset's overrides, then the command line."""
    path = _flagfile(argv) or preset.flagfile
    _, explicit = _explicit_training_flags(argv)
    overrides = list(preset.length_training if study == "length" else preset.training)
    return config_lib.from_flagfile(path, overrides + explicit)


def run_study(argv):
    """Validates the flags and runs the study; returns its result dict. Raises ``ConfigError``."""
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
        raise config_lib.ConfigError(f"--data_dir is required for --study={study} (a directory of shards "
                                     "written by data_prep.prepare)")
    config = base_config(preset, study, sys.argv if argv is None else argv)
    config_lib.validate(config, require_model_dir=False)
    common = dict(verbose=FLAGS.train_log, log=log)
    if FLAGS.checkpoint not in ("best", "last"):
        raise config_lib.ConfigError(f"--checkpoint must be best or last for a study; got {FLAGS.checkpoint!r}")
    if study == "streams":
        from mimamo_tf.studies import streams

        return streams.run(config, output_dir, FLAGS.cells, FLAGS.checkpoint, FLAGS.eval_batch_size, **common)
    if study == "illumination":
        from mimamo_tf.studies import illumination

        betas = _numbers(FLAGS.betas, float, "betas") if FLAGS.betas else preset.betas
        if any(not 0 <= b <= 1 for b in betas):
            raise config_lib.ConfigError(f"--betas must be in [0, 1]; got {betas}")
        inputs = tuple(FLAGS.temporal_inputs or illumination.TEMPORAL_INPUTS)
        unknown = [t for t in inputs if t not in config_lib.TEMPORAL_INPUTS]
        if unknown:
            raise config_lib.ConfigError(f"--temporal_inputs must be among {', '.join(config_lib.TEMPORAL_INPUTS)}; "
                                         f"got {', '.join(unknown)}")
        return illumination.run(config, output_dir, betas, inputs, FLAGS.checkpoint, FLAGS.eval_batch_size, **common)
    from mimamo_tf.studies import length

    lengths = _numbers(FLAGS.lengths, int, "lengths") if FLAGS.lengths else preset.lengths
    names, _ = _explicit_training_flags(sys.argv if argv is None else argv)
    num_folds = FLAGS.num_folds if "num_folds" in names else preset.num_folds
    return length.run(config, output_dir, lengths, num_folds, **common)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}; every option is a --flag")
    from mimamo_tf.cli_startup import quiet_python_logging
    from mimamo_tf.data.pipeline import DataError

    quiet_python_logging()
    start = time.perf_counter()
    try:
        result = run_study(None)
    except (config_lib.ConfigError, DataError) as error:
        kind = "configuration error" if isinstance(error, config_lib.ConfigError) else "data error"
        print(f"mimamo_tf.study: {kind}: {error}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    print(result["table"])
    print(f"mimamo_tf.study: --study={FLAGS.study} done in {seconds:.0f} s -> {result['table_file']}, {result['figure']}")
    return 0


def run():
    app.run(main)


if __name__ == "__main__":
    run()

"""``python -m mimamo_tf.evaluate --flagfile=<model_dir>/flags.cfg [--split=validation] [--checkpoint=best]``

Evaluates a trained run with the benchmarks' protocols (``mimamo_tf.evaluation``): the run's
``flags.cfg`` gives the model and data settings, the flags below the evaluation's. Writes to
``--output_dir`` (default ``<model_dir>/eval_<split>``) ``metrics.json`` — ``ccc_arousal``,
``ccc_valence``, ``ccc_mean`` over every frame with a valid label of all videos concatenated, face or
not (Aff-Wild/ABAW; over utterances for OMG), ``ccc_*_face_only``, ``per_video`` CCCs — and the
predictions in the benchmark's layout (``predictions/<video_id>.txt``, or ``predictions.csv`` at
video level). ``--gamma_beta`` applies the paper's illumination corruption to every frame
(``u ** g``, ``g ~ U[1 - beta, 1 + beta]``). ``--plots`` (default on) also draws
``plots/<video_id>.png`` per video: prediction and label of both outputs over time, frames without a
face shaded, the video's CCCs in the titles (the first ``--max_plots`` videos by name; frame labels
only).

A cross-validated run (``--num_folds``) evaluated on its training split scores the videos its fold
held out (``--fold``, default the run's own; the same split by source recording as training), and
writes to ``eval_<split>_fold<k>``: the checkpoint was chosen on an inner validation subset, never on
these videos. Exit code 2: bad flags, run or data.

``--help`` lists the evaluation's flags and the run's settings that evaluation reads; the other
training flags are accepted too (a run's flags.cfg sets them) and ``--helpfull`` lists them.
"""

import os

from absl import flags

from mimamo_tf import config as config_lib
from mimamo_tf.command_line import run_command
from mimamo_tf.evaluation import evaluate, plots
from mimamo_tf.evaluation.plots import DEFAULT_MAX_PLOTS

# What --help lists: the flags defined below and the run's settings that evaluation itself reads
# (which run and data, how windows are cut and batched, the held-out fold); the rest of the
# training flags only describe the run, and listing them first buried these.
KEY_FLAGS = ("split", "checkpoint", "output_dir", "plots", "max_plots", "gamma_beta",
             "data_dir", "model_dir", "fold", "window_overlap", "eval_batch_size")


def define_flags(flag_values):
    """The run's own settings (the training flags, read from its flags.cfg) and the evaluation's."""
    config_lib.define_flags(flag_values)
    flags.DEFINE_string("split", "validation", "Split to evaluate.", flag_values=flag_values)
    flags.DEFINE_string("checkpoint", "best", "'best', 'last' or a path to a .keras model.", flag_values=flag_values)
    flags.DEFINE_float("gamma_beta", 0.0, "Per-frame gamma corruption strength beta (0: off).", flag_values=flag_values)
    flags.DEFINE_string("output_dir", None, "Where metrics.json and predictions go (default <model_dir>/eval_<split>).",
                        flag_values=flag_values)
    flags.DEFINE_bool("plots", True, "Draw <output_dir>/plots/<video>.png per video: prediction and label of arousal "
                      "and valence over time, frames without a face shaded, the video's CCCs in the titles (frame "
                      "labels only).", flag_values=flag_values)
    flags.DEFINE_integer("max_plots", DEFAULT_MAX_PLOTS, "With --plots, draw only the first this many videos by name "
                         "(0: every video).", flag_values=flag_values)


def main(flag_values):
    config = config_lib.from_flags(flag_values)
    if not config.data.data_dir or not config.runtime.model_dir:
        raise config_lib.ConfigError("--data_dir and --model_dir are required (use --flagfile=<model_dir>/flags.cfg)")
    if flag_values.max_plots < 0:
        raise config_lib.ConfigError(f"--max_plots must be >= 0 (0: every video); got {flag_values.max_plots}")
    split = flag_values.split
    fold = config.data.fold if config.data.num_folds and split == config.data.train_split else None
    metrics, output_dir = evaluate(config, split, flag_values.checkpoint, flag_values.gamma_beta,
                                   flag_values.output_dir, fold=fold, plots=flag_values.plots,
                                   max_plots=flag_values.max_plots)
    unit = "utterances" if config.model.label_level == "video" else "frames"
    beta = flag_values.gamma_beta
    where = split if fold is None else f"{split} (fold {fold} of {config.data.num_folds}, held out)"
    print(f"{where}: CCC arousal {metrics['ccc_arousal']:.4f}  valence {metrics['ccc_valence']:.4f}  "
          f"mean {metrics['ccc_mean']:.4f}  over {metrics['frames']} {unit} of {metrics['videos']} videos"
          + (f"  (gamma beta {beta})" if beta else "") + f" -> {output_dir}")
    if flag_values.plots:
        print(_plots_line(metrics["videos"], flag_values.max_plots, unit, output_dir))
    return 0


def _plots_line(videos, max_plots, unit, output_dir):
    """What ``--plots`` drew (the library draws the first ``max_plots`` videos by name)."""
    if unit == "utterances":
        return "No plots: utterance labels are one value per utterance, not a curve (--plots draws frame labels)."
    where = os.path.join(output_dir, plots.PLOTS_DIR)
    drawn = len(plots.plotted_videos(range(videos), max_plots))
    if drawn < videos:
        return (f"Plotted the first {drawn} of {videos} videos (sorted by name) -> {where} "
                f"(--max_plots={max_plots}; 0 draws every video)")
    return f"Plotted {videos} videos -> {where}"


def run():
    run_command("evaluate", main, define_flags, __doc__, key_flags=KEY_FLAGS)


if __name__ == "__main__":
    run()

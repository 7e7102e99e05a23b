"""``python -m mimamo_tf.bench train``: training speed of the paper configuration under the speed
options (``--jit_compile``, ``--mixed_precision``), measured side by side in one run.

Every setting — float32, XLA, bfloat16, XLA + bfloat16 — trains the paper configuration
(``ExperimentConfig()``: stored spatial features, 64-frame windows, batches of 8) with the trainer's
own ``Task`` (model, optimizer, step) under ``MirroredStrategy``, from the same initial weights on the same
fixed batches. Input pipeline and checkpointing are left out: this is the step alone.

* Speed: after warm-up steps (tracing/compilation excluded), ``--repeats`` rounds each time
  ``--steps`` steps of every setting, the order rotating from round to round so that the load of a
  shared host falls on all settings alike. frames/s = steps x batch x window / seconds, the median
  round (every round's in the next column); "vs float32" is the median over rounds of the speed
  ratio to float32 in the same round.
* Accuracy: with dropout off (``--nodropout``: dropout masks depend on the dtype and the compiler,
  so only without them do the settings compute the same function), each setting's predictions on one
  batch with the initial weights are compared with float32's (max abs difference), and so is the
  training loss after ``--steps`` SGD steps (the loss step ``steps + 1`` reports).

A setting is within tolerance when both differences are at most ``--loss_tolerance`` and
``--prediction_tolerance``. First it prints the CPU (model, the flags that matter) and the precision
``--mixed_precision=auto`` takes on it, and why (``mimamo_tf.hardware``). The target: auto's choice
is within tolerance and trains at least ``CHOICE_TARGET`` x as many frames/s as the fastest
precision within tolerance (float32 or bfloat16, without XLA) in this run — so ``auto`` is right on
the machine at hand, with or without native bfloat16; exit status 1 otherwise.
"""

import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from absl import flags

from mimamo_tf import hardware
from mimamo_tf.config import ExperimentConfig, replace
from mimamo_tf.models import precision
from mimamo_tf.training.task import Task


# auto's choice may trail the fastest precision by the run-to-run noise of a shared 2-core host.
CHOICE_TARGET = 0.9
# The precisions auto chooses between (XLA is another option, not a precision).
PRECISIONS = ("float32", "bfloat16")
# Setting name -> (jit_compile, mixed_precision).
SETTINGS = {
    "float32": (False, "float32"),
    "xla": (True, "float32"),
    "bfloat16": (False, "bfloat16"),
    "xla+bfloat16": (True, "bfloat16"),
}
_NUM_BATCHES = 2  # the fixed batches the steps cycle through


def setting_name(jit_compile, mixed_precision):
    for name, value in SETTINGS.items():
        if value == (jit_compile, mixed_precision):
            return name
    return f"jit_compile={jit_compile}, mixed_precision={mixed_precision}"


def _moving_texture(rng, frames, size=48):
    """Gray frames in [0, 1] of a random smooth texture drifting by sub-pixel steps (so the phase
    front end sees coherent motion, as on faces)."""
    freq = np.fft.fftfreq(size)
    fy, fx = np.meshgrid(freq, freq, indexing="ij")
    spectrum = (rng.normal(size=(size, size)) + 1j * rng.normal(size=(size, size))) * np.exp(
        -(fx**2 + fy**2) / (2 * 0.08**2))
    shifts = np.cumsum(rng.normal(0, 0.3, (frames, 2)), axis=0)
    phase = np.exp(-2j * np.pi * (fy[None] * shifts[:, :1, None] + fx[None] * shifts[:, 1:, None]))
    video = np.fft.ifft2(spectrum[None] * phase).real
    video = (video - video.min()) / (video.max() - video.min() + 1e-12)
    return video.astype(np.float32)


def make_batches(config, count, seed):
    """``count`` fixed batches ``(inputs, labels)`` of the paper configuration's shapes (NumPy)."""
    rng = np.random.default_rng(seed)
    batch, window, context = config.data.batch_size, config.data.window, config.model.context_frames
    batches = []
    for _ in range(count):
        gray = np.stack([_moving_texture(rng, window + 2 * context) for _ in range(batch)])
        features = rng.normal(1.0, 0.1, (batch, window, 2048)).astype(np.float32)
        walk = np.cumsum(rng.normal(0, 0.05, (batch, window, 2)), axis=1)
        mask = (rng.random((batch, window, 1)) > 0.05).astype(np.float32)  # a few faceless frames
        labels = np.concatenate([np.clip(walk, -1, 1), mask], -1).astype(np.float32)
        batches.append(({"gray48": gray, "spatial_features": features}, labels))
    return batches


class Setting:
    """One setting's model, optimizer and compiled step, from its ``Task`` (built in ``strategy.scope()``)."""

    def __init__(self, name, config, strategy, weights):
        self.name, self.config = name, config
        keras.utils.set_random_seed(config.runtime.seed)  # same dropout seeds in every setting
        task = Task(config)
        with strategy.scope():
            self.model = task.build_model(strategy.num_replicas_in_sync)
            self.model.set_weights(weights)
            self.optimizer = task.build_optimizer(self.model)
        self.steps = task.build_steps(self.model, self.optimizer, strategy)

    def train(self, batches, count, offset=0):
        """``count`` steps cycling through ``batches``; returns the last loss (waits for it)."""
        for i in range(count):
            loss, _ = self.steps.train(batches[(offset + i) % len(batches)])
        return float(loss)


def define_flags(flag_values):
    paper = ExperimentConfig()
    flags.DEFINE_integer("steps", 3, "Timed training steps per setting and round; also the SGD steps "
                         "after which the losses are compared.", flag_values=flag_values)
    flags.DEFINE_integer("repeats", 3, "Timed rounds over all settings (median reported).", flag_values=flag_values)
    flags.DEFINE_integer("warmup", 1, "Untimed steps per setting first (the first one traces/compiles).",
                         flag_values=flag_values)
    flags.DEFINE_integer("window", paper.data.window, "Frames per window (the paper: 64).", flag_values=flag_values)
    flags.DEFINE_integer("batch_size", paper.data.batch_size, "Windows per batch (the paper: 8).", flag_values=flag_values)
    flags.DEFINE_list("settings", ["float32", "xla", "bfloat16", "xla+bfloat16"],
                      "Settings to compare (float32 is always included).", flag_values=flag_values)
    flags.DEFINE_float("loss_tolerance", 0.01, "Largest |loss - float32's loss| after --steps steps "
                       "(the loss lies in [-2, 2]).", flag_values=flag_values)
    flags.DEFINE_float("prediction_tolerance", 0.02, "Largest |prediction - float32's prediction| with "
                       "the initial weights.", flag_values=flag_values)
    flags.DEFINE_integer("seed", 0, "Seed of the weights and the batches.", flag_values=flag_values)


def main(flag_values):
    # Eight step functions of one class are traced on purpose; TensorFlow would warn of "retracing".
    tf.get_logger().setLevel("ERROR")

    unknown = [s for s in flag_values.settings if s not in SETTINGS]
    if unknown:
        print(f"unknown settings {unknown}; choose from {', '.join(SETTINGS)}", file=sys.stderr)
        return 2
    names = ["float32"] + [s for s in flag_values.settings if s != "float32"]
    base = replace(ExperimentConfig(), data={"window": flag_values.window, "batch_size": flag_values.batch_size},
                   runtime={"seed": flag_values.seed})
    cpu, choice = hardware.read_cpu(), precision.machine_choice()
    print(f"CPU: {cpu.summary()}, {os.cpu_count()} cores; GPUs: "
          f"{', '.join(g.name for g in hardware.read_gpus()) or 'none'}")
    print(f"--mixed_precision=auto (the default) takes {choice.precision} — {choice.reason}", flush=True)
    default = setting_name(base.runtime.jit_compile, precision.resolve_precision(base.runtime.mixed_precision))
    configs = {name: replace(base, runtime={"jit_compile": SETTINGS[name][0],
                                            "mixed_precision": SETTINGS[name][1]}) for name in names}
    strategy = tf.distribute.MirroredStrategy()
    numpy_batches = make_batches(base, _NUM_BATCHES, flag_values.seed)

    def distributed(batch):
        dataset = tf.data.Dataset.from_tensors(batch).repeat()
        return next(iter(strategy.experimental_distribute_dataset(dataset)))

    batches = [distributed(b) for b in numpy_batches]
    frames_per_step = flag_values.batch_size * flag_values.window
    load_before = os.getloadavg()[0]

    # The initial weights every setting starts from.


    keras.utils.set_random_seed(flag_values.seed)
    with strategy.scope():
        weights = Task(configs["float32"]).build_model(strategy.num_replicas_in_sync).get_weights()

    # Speed: the paper configuration as it trains (dropout on).
    timed = {name: Setting(name, configs[name], strategy, weights) for name in names}
    compile_seconds = {}
    for name, setting in timed.items():
        start = time.perf_counter()
        setting.train(batches, flag_values.warmup)
        compile_seconds[name] = time.perf_counter() - start
    seconds = {name: [] for name in names}
    for round_ in range(flag_values.repeats):
        order = names[round_ % len(names):] + names[:round_ % len(names)]
        for name in order:
            start = time.perf_counter()
            timed[name].train(batches, flag_values.steps, offset=round_)
            seconds[name].append(time.perf_counter() - start)
    rates = {name: flag_values.steps * frames_per_step / float(np.median(s)) for name, s in seconds.items()}
    # Each round's ratio compares runs minutes apart at most, so it is robust to drifting host load.
    speedups = {name: float(np.median(np.array(seconds["float32"]) / np.array(s))) for name, s in seconds.items()}
    del timed

    # Accuracy: the same function in every setting (no dropout), same weights, same batches.
    losses, predictions = {}, {}
    probe_inputs = {k: tf.constant(v) for k, v in numpy_batches[0][0].items()}
    for name in names:
        setting = Setting(name, replace(configs[name], model={"dropout": False}), strategy, weights)
        predictions[name] = np.asarray(tf.cast(setting.model(probe_inputs, training=False), tf.float32))
        if name == "float32":
            first_loss = setting.train(batches, 1)
            losses[name] = setting.train(batches, flag_values.steps, offset=1)
        else:
            losses[name] = setting.train(batches, flag_values.steps + 1)
        del setting
    load_after = os.getloadavg()[0]

    print(f"\nTraining step of the paper configuration (stored features, {flag_values.window}-frame windows, "
          f"batch {flag_values.batch_size}) — {os.cpu_count()} CPU cores, load average {load_before:.1f} -> "
          f"{load_after:.1f}; {flag_values.steps} steps x {flag_values.repeats} rounds per setting")
    print(f"float32 loss: {first_loss:+.4f} at the first step, {losses['float32']:+.4f} after "
          f"{flag_values.steps} steps; max |prediction| {np.abs(predictions['float32']).max():.3f}")
    header = (f"{'setting':<14} {'frames/s':>9} {'rounds (frames/s)':>19} {'vs float32':>11} {'loss diff':>10} "
              f"{'max |pred diff|':>16} {'warm-up s':>10}  within tolerance")
    print(header)
    ok = {}
    for name in names:
        loss_diff = losses[name] - losses["float32"]
        pred_diff = float(np.abs(predictions[name] - predictions["float32"]).max())
        ok[name] = abs(loss_diff) <= flag_values.loss_tolerance and pred_diff <= flag_values.prediction_tolerance
        marker = "  (auto's choice)" if name == default else ""
        rounds = "/".join(f"{flag_values.steps * frames_per_step / t:.0f}" for t in seconds[name])
        print(f"{name:<14} {rates[name]:>9.1f} {rounds:>19} {speedups[name]:>10.2f}x {loss_diff:>+10.4f} "
              f"{pred_diff:>16.4f} {compile_seconds[name]:>10.1f}  {'yes' if ok[name] else 'NO'}{marker}")
    fastest = max((n for n in names if ok[n]), key=lambda n: speedups[n])
    print(f"fastest setting within tolerance (loss {flag_values.loss_tolerance}, predictions "
          f"{flag_values.prediction_tolerance}): {fastest}; auto's choice: {default}")
    measured = [n for n in PRECISIONS if n in rates]
    if default not in rates or len(measured) < len(PRECISIONS):
        print(f"target: auto's choice against both precisions ({', '.join(PRECISIONS)}) — not all were measured "
              "(see --settings): NOT MET")
        return 1
    best = max((n for n in measured if ok[n]), key=lambda n: speedups[n])
    ratio = speedups[default] / speedups[best]
    met = ok[default] and ratio >= CHOICE_TARGET
    print(f"target: auto's choice ({default}) within tolerance and >= {CHOICE_TARGET}x the fastest precision "
          f"within tolerance ({best}): {ratio:.2f}x — {'MET' if met else 'NOT MET'}")
    return 0 if met else 1

"""``--two_stage``: a two-stream net trained from its single-stream nets, in one command.

Stage one trains the two single-stream nets the paper starts from: each stream alone with a linear
head on its 256-d features (no GRU), into ``<model_dir>/streams/spatial`` and
``<model_dir>/streams/temporal``. Stage two trains the two-stream net into ``<model_dir>`` with its
streams initialised from those nets' best checkpoints (``--init_spatial_from``,
``--init_temporal_from``), frozen for the first ``--freeze_streams_epochs`` epochs
(``training.stream_freezing``), and validated before its first epoch (``runs.START_EPOCH``).

Every stage is an ordinary run directory: it has its own ``flags.cfg``, history, TensorBoard logs and
checkpoints, can be evaluated or exported on its own, and resumes where it stopped. Running the same
command again after a kill skips the finished stages and continues the unfinished one.

``training.train(config)`` runs this for a config with ``--two_stage`` and ``--streams=both``.
"""

import os

from mimamo_tf import config as config_lib
from mimamo_tf import runs
from mimamo_tf.config import ConfigError
from mimamo_tf.training.state import finished_epochs

STAGE_STREAMS = ("spatial", "temporal")
# Stage one's optimisation: the base config's, as one run that inherits nothing (the streams study's
# recipe cells train their single-stream nets with it too).
STAGE_ONE_OPTIMIZATION = {"two_stage": False, "freeze_streams_epochs": 0}
_INIT_FLAGS = {"spatial": "init_spatial_from", "temporal": "init_temporal_from"}


def applies(config):
    """Whether ``config`` is trained in two stages (``--two_stage`` on a two-stream net)."""
    return config.optimization.two_stage and config.model.streams == "both"


def stream_config(config, stream):
    """Stage one's run of ``stream``: the single-stream net without the GRU (the paper's), trained with
    the same data, optimizer and schedule, into ``<model_dir>/streams/<stream>``."""
    return config_lib.replace(
        config,
        model={"streams": stream, "recurrent": False, "init_spatial_from": None, "init_temporal_from": None},
        optimization=STAGE_ONE_OPTIMIZATION,
        runtime={"model_dir": runs.stream_run_dir(config.runtime.model_dir, stream)})


def stream_checkpoints(model_dir):
    """``{stream: .keras}``: the best checkpoints of stage one's runs in ``model_dir``."""
    return {stream: runs.checkpoint_path(runs.stream_run_dir(model_dir, stream), "best") for stream in STAGE_STREAMS}


def fused_config(config):
    """Stage two's run: ``config`` with its streams initialised from stage one's best checkpoints.

    Raises:
        ConfigError: ``config`` names other checkpoints to start the streams from (``--two_stage``
            trains its own; a run's ``flags.cfg`` names exactly these and passes).
    """
    model_dir = config.runtime.model_dir
    checkpoints = stream_checkpoints(model_dir)
    for stream, flag in _INIT_FLAGS.items():
        given = getattr(config.model, flag)
        if given and os.path.abspath(given) != os.path.abspath(checkpoints[stream]):
            raise ConfigError(
                f"--{flag}={given}: --two_stage starts the two-stream net from its own stage-one run "
                f"({checkpoints[stream]}); drop --{flag}, or give --notwo_stage to start from that checkpoint")
    if config.model.init_from:
        raise ConfigError("--init_from and --two_stage both initialise the two-stream net; give one of them "
                          "(--notwo_stage fine-tunes the --init_from run)")
    return config_lib.replace(config, model={_INIT_FLAGS[s]: checkpoints[s] for s in STAGE_STREAMS})


def _stage_done(config):
    """Whether a stage's run has trained all its epochs (or stopped early)."""
    return finished_epochs(config.runtime.model_dir, config.optimization.epochs)


def train_two_stage(config, train_run, verbose=True):
    """Trains stage one's single-stream nets, then the two-stream net from them; returns the
    two-stream run's history. A finished stage is not retrained; an unfinished one resumes.

    Args:
        config: the two-stream ``ExperimentConfig`` (``applies(config)``).
        train_run: trains one run directory: ``train_run(config, verbose) -> history``
            (``trainer.Trainer(config, verbose).run``).
        verbose: print what each stage does, and the runs' epoch lines.

    Raises:
        ConfigError, mimamo_tf.data.shards.DataError: as ``training.train``; and a stage-one run
            without a best checkpoint (no epoch had a finite validation CCC).
    """
    fused = fused_config(config)  # conflicting flags fail before any stage starts
    config_lib.validate(config)
    say = print if verbose else (lambda *args, **kwargs: None)
    for number, stream in enumerate(STAGE_STREAMS, start=1):
        stage = stream_config(config, stream)
        title = f"Stage 1 ({number}/2): the {stream} stream alone, no GRU -> {stage.runtime.model_dir}"
        if _stage_done(stage):
            say(f"{title}: trained already ({stage.optimization.epochs} epochs or stopped early).", flush=True)
            continue
        say(f"{title}", flush=True)
        train_run(stage, verbose)
    for stream in STAGE_STREAMS:  # a stage-one run without a best epoch: say which, not a missing file
        runs.init_checkpoint(runs.stream_run_dir(config.runtime.model_dir, stream), flag="two_stage")
    frozen = config.optimization.freeze_streams_epochs
    frozen_note = (" (frozen throughout)" if frozen == config_lib.FROZEN_THROUGHOUT
                   else f" (frozen for the first {frozen} epochs)" if frozen else "")
    say(f"Stage 2: the two-stream net with the BiGRU, its streams from stage one{frozen_note} -> "
        f"{config.runtime.model_dir}", flush=True)
    return train_run(fused, verbose)

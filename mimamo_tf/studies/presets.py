"""Study sizes: ``paper`` (the paper's settings, from the base flagfile) and ``synthetic`` (the demo
data on a 2-core CPU).

A study's base training config is, in order of precedence (later wins): the base flagfile
(``--flagfile``; by default the preset's for the data's labels: ``configs/affwild2.cfg`` or
``configs/omg.cfg`` for ``paper``, ``configs/demo.cfg`` or ``configs/omg_demo.cfg`` for
``synthetic``), the preset's training overrides below, then training flags given on the command
line (e.g. ``--epochs``).
"""

import dataclasses
from typing import Tuple

from mimamo_tf import config as config_lib

PRESETS = ("paper", "synthetic")
BETAS = tuple(round(0.1 * i, 1) for i in range(11))  # Figure 5: beta in {0, 0.1, ..., 1}
LENGTHS = (4, 8, 12, 16)  # Table 3
# The sensitivity study's micro-motion amplitudes, factors of data_prep.synthetic's default (0.3-2.1 px):
# none (the control), then x4 steps down from the default, and twice it (the Makefile's SENSITIVITY_SCALES).
MOTION_SCALES = (0.0, 0.0625, 0.25, 1.0, 2.0)
# The studies train the paper's procedure (and the scratch baseline) as they were, whatever recipe
# the base flagfile trains with (configs/*.cfg: --two_stage, frozen streams, averaged weights, clipping).
LITERAL_OPTIMIZATION = {"two_stage": False, "freeze_streams_epochs": 0, "ema_decay": 0.0, "clip_gradient_norm": 0.0}
# ... and with the paper's dropout rates (ModelConfig's defaults; the recipe turns them off).
LITERAL_MODEL = {field.name: field.default for field in dataclasses.fields(config_lib.ModelConfig)
                 if field.name in ("gru_dropout", "fusion_dropout", "head_dropout")}



@dataclasses.dataclass(frozen=True)
class Preset:
    """Sizes of the studies.

    Attributes:
        flagfile: default base training flagfile (frame-level labels).
        video_flagfile: default base training flagfile for utterance-level labels (OMG).
        training: flag overrides of the streams, illumination and sensitivity cells (the same, so
            streams and illumination share their temporal-only trainings, and the sensitivity study's
            nets train as theirs).
        length_training: flag overrides of the length cells.
        video_training, video_length_training: the same for data with utterance labels (OMG).
        num_folds: folds of the length study.
        betas, lengths, motion_scales: the illumination, length and sensitivity grids.
        speed_frames, speed_pairs, speed_repeats: the speed study's sequence length (48x48 phase
            front end), flow pairs timed, repetitions (the best is reported).
    """

    flagfile: str
    video_flagfile: str
    training: Tuple[str, ...] = ()
    length_training: Tuple[str, ...] = ()
    video_training: Tuple[str, ...] = ()
    video_length_training: Tuple[str, ...] = ()
    num_folds: int = 5
    betas: Tuple[float, ...] = BETAS
    lengths: Tuple[int, ...] = LENGTHS
    motion_scales: Tuple[float, ...] = MOTION_SCALES
    speed_frames: int = 1024
    speed_pairs: int = 60
    speed_repeats: int = 3

    @property
    def flagfiles(self):
        """``{label level: base flagfile}``."""
        return {"frame": self.flagfile, "video": self.video_flagfile}

    def overrides(self, study, label_level):
        """The preset's training flag overrides of ``study``'s cells on data of ``label_level``."""
        if label_level == "video":
            return self.video_length_training if study == "length" else self.video_training
        return self.length_training if study == "length" else self.training


PRESET_VALUES = {
    # The paper: its training settings are the flagfile's (configs/affwild2.cfg: 25 epochs, lr 1e-3,
    # patience 5); Table 3 used 5-fold cross-validation.
    "paper": Preset(flagfile=config_lib.packaged_flagfile("affwild2.cfg"),
                    video_flagfile=config_lib.packaged_flagfile("omg.cfg")),
    # The demo data (28 training videos, 8 validation videos of 120 frames) on 2 CPU cores. The demo
    # trains 8 epochs; 5 (rate x0.1 for the last) reach most of it. The length study trains the
    # temporal stream alone for 3 epochs per fold, 3 folds. On the OMG-format data (160 training
    # utterances: 20 steps an epoch), configs/omg_demo.cfg's 20 epochs for streams and illumination,
    # 10 per fold for length.
    "synthetic": Preset(
        flagfile=config_lib.packaged_flagfile("demo.cfg"),
        video_flagfile=config_lib.packaged_flagfile("omg_demo.cfg"),
        training=("--epochs=5", "--lr_decay_epochs=4"),
        length_training=("--epochs=3", "--lr_decay_epochs=2"),
        video_length_training=("--epochs=10", "--lr_decay_epochs=8"),
        num_folds=3,
        speed_frames=512,
        speed_pairs=30,
        speed_repeats=3,
    ),
}


def get(name):
    if name not in PRESET_VALUES:
        raise ValueError(f"--preset must be one of {', '.join(PRESETS)}; got {name!r}")
    return PRESET_VALUES[name]

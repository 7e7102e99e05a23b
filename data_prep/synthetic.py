"""``python -m data_prep.synthetic``: a synthetic valence/arousal dataset in Aff-Wild2 or OMG format.

This is the project's embedded default dataset (no real dataset can be downloaded here): videos of
a real face, scikit-image's public-domain ``astronaut`` photo, whose valence drives the face's
appearance and whose arousal drives its micro-motion (``data_prep.synthetic_faces``), written in
the layout of ``--format`` (``data_prep.synthetic_datasets``): ``affwild2`` (the default; videos
with per-frame labels, the provided-style aligned faces, two-person videos annotated per person)
or ``omg`` (utterance clips cut from longer videos, one label per utterance, plus their aligned
faces). The real readers and the face pipeline run on them unchanged.

**The crops' template** (``--cropped_aligned_template``): ``arcface`` (the Aff-Wild2 default) cuts
the crops as Aff-Wild2's provider does, with a face-recognition template (ArcFace's 112x112
reference points: eyes at y = 0.46 of the crop, the face about 8% larger than in ours); ``ours``
cuts them with the project's template (`mimamo_tf.faces.CANONICAL_TEMPLATE`, eyes at y = 0.38), the
geometry the raw-video path produces. OMG's default is ``ours``: its faces stand for faces aligned
beforehand, and prepare has no re-alignment for them (``prepare --cropped_aligned_geometry``
re-aligns Aff-Wild2's crops only).

Sizes (``--size``)::

    affwild2  videos (train + validation, two-person train)   frames per video
      tiny      2 + 1, 0                                          30
      small     4 + 2, 1                                          90
      demo     24 + 8, 2                                         120
    omg       source videos (train + validation) x utterances  frames per utterance
      tiny      4 + 2 x 3                                       20-40  (about 540 frames: tests)
      small     6 + 3 x 4                                       45-90
      demo     40 + 10 x 4                                      45-120 (1.5-4 s at 30 fps)

``synthetic_config.json`` in the output folder records the settings. Exit code 2: flags that do
not fit the format.
"""

from absl import flags

from data_prep.synthetic_datasets import (CROPPED_ALIGNED_TEMPLATES, FORMATS, OMG_SIZES, SIZES, OmgSyntheticConfig,
                                          SyntheticConfig, generate, generate_omg)
from mimamo_tf.command_line import run_command
from mimamo_tf.config import ConfigError


def define_flags(flag_values):
    flags.DEFINE_string("output_dir", "data/synthetic", "Where to write the dataset.", flag_values=flag_values)
    flags.DEFINE_enum("format", "affwild2", FORMATS, "Dataset layout: affwild2 (videos with per-frame "
                      "labels) or omg (OMG-Emotion: utterance clips cut from longer videos, one label "
                      "per utterance, plus their aligned faces).", flag_values=flag_values)
    flags.DEFINE_enum("size", "small", sorted(SIZES), "Preset: tiny (tests), small, demo. affwild2 "
                      "demo: 28 train + 8 validation faces, ~4.3k frames; omg demo: 40 + 10 source "
                      "videos x 4 utterances of 45-120 frames (see the module docstring).", flag_values=flag_values)
    flags.DEFINE_integer("train_videos", None, "Override the preset's single-person train videos "
                         "(omg: train source videos).", flag_values=flag_values)
    flags.DEFINE_integer("validation_videos", None, "Override the preset's validation videos "
                         "(omg: validation source videos).", flag_values=flag_values)
    flags.DEFINE_integer("two_person_videos", None, "Override the preset's two-person train videos "
                         "(affwild2 only).", flag_values=flag_values)
    flags.DEFINE_integer("frames", None, "Override the preset's frames per video (affwild2 only).",
                         flag_values=flag_values)
    flags.DEFINE_integer("utterances_per_video", None, "Override the preset's utterances per source "
                         "video (omg only).", flag_values=flag_values)
    flags.DEFINE_float("motion_scale", 1.0, "The micro-motion's amplitude (which carries arousal) as a factor of "
                       "the default 0.3-2.1 px: 0 removes it, 0.25 makes it four times subtler.", lower_bound=0.0,
                       flag_values=flag_values)
    flags.DEFINE_integer("width", 320, "Frame width (per person).", flag_values=flag_values)
    flags.DEFINE_integer("height", 240, "Frame height.", flag_values=flag_values)
    flags.DEFINE_integer("seed", 0, "Random seed (output is a deterministic function of it).", flag_values=flag_values)
    flags.DEFINE_enum("cropped_aligned_template", None, sorted(CROPPED_ALIGNED_TEMPLATES),
                      "Template the cropped_aligned faces are cut with: arcface (a face-recognition "
                      "112x112 crop like Aff-Wild2's provided faces: eyes lower, face larger) or ours "
                      "(mimamo_tf.faces.CANONICAL_TEMPLATE). Default: arcface for affwild2, ours for omg.",
                      flag_values=flag_values)


def _preset(flag_values, name, preset):
    """``--name`` where given, else the ``--size`` preset's value."""
    value = flag_values[name].value
    return preset if value is None else value


def _template_override(flag_values) -> dict:
    """``--cropped_aligned_template`` as a config keyword, or nothing (the format's default)."""
    if flag_values.cropped_aligned_template is None:
        return {}
    return {"cropped_aligned_template": flag_values.cropped_aligned_template}


def _main_affwild2(flag_values):
    if flag_values.utterances_per_video is not None:
        raise ConfigError("--utterances_per_video applies to --format=omg only")
    train, validation, frames, pairs = SIZES[flag_values.size]
    config = SyntheticConfig(
        train_videos=_preset(flag_values, "train_videos", train),
        validation_videos=_preset(flag_values, "validation_videos", validation),
        two_person_videos=_preset(flag_values, "two_person_videos", pairs),
        frames=_preset(flag_values, "frames", frames), width=flag_values.width, height=flag_values.height,
        seed=flag_values.seed, motion_scale=flag_values.motion_scale, **_template_override(flag_values))
    names = generate(flag_values.output_dir, config)
    total = (config.train_videos + config.validation_videos + config.two_person_videos) * config.frames
    print(f"wrote {len(names['train'])} train and {len(names['validation'])} validation annotations "
          f"({total} video frames) to {flag_values.output_dir}")


def _main_omg(flag_values):
    for name in ("two_person_videos", "frames"):
        if flag_values[name].value is not None:
            raise ConfigError(f"--{name} applies to --format=affwild2 only (OMG sizes: --size, --train_videos, "
                              "--validation_videos, --utterances_per_video)")
    train, validation, utterances, shortest, longest = OMG_SIZES[flag_values.size]
    try:
        config = OmgSyntheticConfig(
            train_videos=_preset(flag_values, "train_videos", train),
            validation_videos=_preset(flag_values, "validation_videos", validation),
            utterances_per_video=_preset(flag_values, "utterances_per_video", utterances),
            min_utterance_frames=shortest, max_utterance_frames=longest, width=flag_values.width,
            height=flag_values.height, seed=flag_values.seed, motion_scale=flag_values.motion_scale,
            **_template_override(flag_values))
    except ValueError as error:
        raise ConfigError(f"--format=omg: {error}") from error
    names = generate_omg(flag_values.output_dir, config)
    print(f"wrote {len(names['train'])} train and {len(names['validation'])} validation utterances "
          f"of {config.train_videos + config.validation_videos} source videos (OMG-Emotion layout) "
          f"to {flag_values.output_dir}")


def main(flag_values):
    if flag_values.format == "omg":
        _main_omg(flag_values)
    else:
        _main_affwild2(flag_values)


def run():
    run_command("data_prep.synthetic", main, define_flags, __doc__)


if __name__ == "__main__":
    run()

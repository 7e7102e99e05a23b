"""``python -m data_prep.prepare``: videos + labels -> sharded TFRecord SequenceExamples.

Example::

    python -m data_prep.prepare --dataset=affwild2 --data_root=data/synthetic \\
        --output_dir=data/synthetic_tfrecords --split=train --num_workers=2

``--dataset`` is one of the readers of ``data_prep/readers/`` (each adds its own flags, below);
``--num_shards=M --shard_index=m`` makes this machine write every M-th output shard from m, and
``--num_workers`` worker processes each write whole shards (``data_prep.preparation``). A rerun
skips complete shards. Bad input never stops the run: each failed item is printed on stderr with its
file name and recorded in the shard's sidecar and in ``manifest.json``, and the failed items of this
machine's shards are listed again at the end. Exit code (``mimamo_tf.command_line``'s rule): 0
every input written, 1 some inputs failed (listed), 2 bad flags or dataset layout (nothing
prepared).
"""

import inspect

from absl import flags

from data_prep import preparation
from data_prep.examples import CROPPED_ALIGNED_GEOMETRIES, ExampleOptions
from data_prep.readers import registry
from mimamo_tf import frame_rate
from mimamo_tf.backbone_registry import backbones_help
from mimamo_tf.command_line import run_command
from mimamo_tf.config import ConfigError


def _dataset_help() -> str:
    """One line per reader: its name and the first paragraph of its docstring."""
    lines = ["Dataset format to read (a reader of data_prep/readers/):"]
    for name, reader in sorted(registry.READERS.items()):
        summary = inspect.getdoc(reader).split("\n\n")[0]
        lines.append(f"  {name}: {' '.join(summary.split())}")
    return "\n".join(lines)


def _split_help() -> str:
    splits = "; ".join(f"{name}: {'/'.join(reader.splits) or 'any name, used as the file prefix'}"
                       for name, reader in sorted(registry.READERS.items()))
    return f"Split to prepare ({splits})."


def define_flags(flag_values):
    flags.DEFINE_enum("dataset", None, registry.reader_names(), _dataset_help(), flag_values=flag_values)
    flags.DEFINE_string("data_root", None, "Folder of the dataset.", flag_values=flag_values)
    flags.DEFINE_string("output_dir", None, "Folder for the TFRecord shards and manifest.json.",
                        flag_values=flag_values)
    flags.DEFINE_string("split", "train", _split_help(), flag_values=flag_values)
    flags.DEFINE_integer("num_workers", 1, "Worker processes (each writes whole shards).", flag_values=flag_values)
    flags.DEFINE_integer("num_shards", 1, "Number of machines sharing the work.", flag_values=flag_values)
    flags.DEFINE_integer("shard_index", 0, "This machine's index in [0, num_shards).", flag_values=flag_values)
    flags.DEFINE_integer("videos_per_shard", 8, "Items per output TFRecord shard.", flag_values=flag_values)
    flags.DEFINE_string("face_backend", "mtcnn", "Face detector for raw videos.", flag_values=flag_values)
    flags.DEFINE_integer("detect_every", 3, "Run the detector every k-th frame, track in between.",
                         flag_values=flag_values)
    flags.DEFINE_float("smoothing_sigma", 2.0, "Alignment smoothing width in frames (0: off).", flag_values=flag_values)
    flags.DEFINE_integer("detector_max_side", 320, "Detection runs on frames reduced to this size.",
                         flag_values=flag_values)
    flags.DEFINE_string("spatial_features", "", "Also store frozen-backbone features (float16) of this backbone, "
                        f"saved as spatial_backbone.keras; one of:\n{backbones_help(frozen_only=True)}",
                        flag_values=flag_values)
    flags.DEFINE_integer("max_label_surplus", 2, "Tolerated label lines beyond the decoded frames.",
                         flag_values=flag_values)
    flags.DEFINE_enum("cropped_aligned_geometry", "realign", list(CROPPED_ALIGNED_GEOMETRIES),
                      "Aff-Wild2 with --affwild2_source=cropped_aligned: realign warps each provided "
                      "crop to the project's face template (landmarks found by the raw-video face "
                      "pipeline), so the faces have the geometry of video faces and of predict; keep "
                      "uses the provider's crop as it is (another template: eyes lower, face larger). "
                      "A crop in which realign finds no face is written without a face and counted "
                      "(crops_without_face in the sidecars and manifest.json).", flag_values=flag_values)
    flags.DEFINE_float("default_fps", 30.0, "fps stored when no video is available.", flag_values=flag_values)
    flags.DEFINE_float("target_fps", frame_rate.DEFAULT_TARGET_FPS,
                       "Resample every video to this frame rate (the source frame nearest each tick, its labels "
                       "with it), so a snippet of --snippet_length phase differences spans the same time in "
                       "every video (the paper's 12 at 30 fps: 0.4 s); recorded in manifest.json and the "
                       "model card, and predict samples videos at it. 0 keeps each video's own rate.",
                       flag_values=flag_values)
    registry.define_reader_flags(flag_values)


def main(flag_values):
    for name in ("dataset", "data_root", "output_dir"):
        if not flag_values[name].value:
            raise ConfigError(f"--{name} is required")
    options = ExampleOptions(
        face_backend=flag_values.face_backend, detect_every=flag_values.detect_every,
        smoothing_sigma=flag_values.smoothing_sigma, detector_max_side=flag_values.detector_max_side,
        max_label_surplus=flag_values.max_label_surplus, spatial_features=flag_values.spatial_features,
        default_fps=flag_values.default_fps, cropped_aligned_geometry=flag_values.cropped_aligned_geometry,
        target_fps=flag_values.target_fps)
    manifest = preparation.prepare(
        flag_values.dataset, flag_values.data_root, flag_values.output_dir, split=flag_values.split,
        num_workers=flag_values.num_workers, num_shards=flag_values.num_shards, shard_index=flag_values.shard_index,
        videos_per_shard=flag_values.videos_per_shard, example_options=options,
        reader_options=registry.reader_options(flag_values.dataset, flag_values))
    return preparation.finish(manifest, flag_values.split, flag_values.output_dir, flag_values.num_shards,
                              flag_values.shard_index)


def run():
    run_command("data_prep.prepare", main, define_flags, __doc__)


if __name__ == "__main__":
    run()

"""``python -m data_prep.prepare``: videos + labels -> sharded TFRecord SequenceExamples.

Example::

    python -m data_prep.prepare --dataset=affwild2 --data_root=data/synthetic \\
        --output_dir=data/synthetic_tfrecords --split=train --num_workers=2

Work is split in three levels:

* output shards: the sorted item list is cut into shards of ``--videos_per_shard`` items; a shard
  is the unit of crash safety (written to a temporary name, renamed when complete; reruns skip
  complete shards);
* machines: ``--num_shards=M --shard_index=m`` makes this machine write only output shards
  ``i`` with ``i % M == m`` (all machines write into the same ``--output_dir``);
* processes: ``--num_workers`` worker processes each write whole shards.

Bad input never stops the run: each failed item is printed on stderr with its file name and
recorded in the shard's sidecar and in ``manifest.json``, and the failed items of this machine's
shards are listed again at the end. Exit code (``mimamo_tf.command_line``'s rule): 0 every input
written, 1 some inputs failed (listed), 2 bad flags or dataset layout (nothing prepared).
"""

import dataclasses
import multiprocessing
import os
import sys
import time
from typing import List, Optional

from absl import app, flags
from tqdm import tqdm

from data_prep import manifest as manifest_lib
from data_prep import shard_writer
from data_prep.examples import CROPPED_ALIGNED_GEOMETRIES, ExampleBuilder, ExampleOptions
from data_prep.readers import READERS, ConfigurationError, make_reader
from mimamo_tf import atomic_files
from mimamo_tf.command_line import EXIT_BAD_INPUT, EXIT_DONE, EXIT_SOME_FAILED, parse_flags
from mimamo_tf.data import shards

FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything a worker process needs to rebuild the reader and example builder."""

    dataset: str
    data_root: str
    split: str
    output_dir: str
    reader_options: dict
    example_options: ExampleOptions
    settings: dict
    fingerprint: str
    num_output_shards: int
    single_thread: bool
    backbone_file: str = ""


# Per-process state of worker processes (spawned: nothing is inherited).
_WORKER = {}


def _worker_init(config: RunConfig, queue) -> None:
    if config.single_thread:
        # Two processes on two cores: one compute thread each avoids oversubscription.
        import cv2  # pylint: disable=import-outside-toplevel
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        cv2.setNumThreads(1)
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    reader = make_reader(config.dataset, config.data_root, config.split, **config.reader_options)
    _WORKER.update(config=config, queue=queue,
                   builder=ExampleBuilder(reader, config.example_options, config.backbone_file))


def _worker_write(task) -> dict:
    index, items = task
    config, queue = _WORKER["config"], _WORKER["queue"]
    return shard_writer.write_shard(
        config.output_dir, config.split, index, config.num_output_shards, items,
        _WORKER["builder"].build, config.fingerprint, config.settings,
        lambda frames, failed, message: queue.put((frames, failed, message)))


def run(config: RunConfig, tasks, num_workers: int, progress: tqdm) -> List[dict]:
    """Writes the shards of `tasks` ((index, items) pairs); returns their sidecars.

    `progress` counts finished items; its postfix shows frames, frames/s (the rate that matters:
    videos differ in length) and failed items.
    """
    start = time.monotonic()
    totals = {"frames": 0, "failed": 0}

    def report(frames, failed, message):
        if message:
            # tqdm.write clears the bar, prints the line and redraws the bar below it.
            progress.write(message, file=sys.stderr)
        totals["frames"] += int(frames)
        totals["failed"] += int(bool(failed))
        rate = totals["frames"] / max(time.monotonic() - start, 1e-9)
        progress.set_postfix_str(f"{totals['frames']} frames, {rate:.1f} frames/s, "
                                 f"{totals['failed']} failed", refresh=False)
        progress.update(1)

    if num_workers <= 1 or len(tasks) <= 1:
        reader = make_reader(config.dataset, config.data_root, config.split, **config.reader_options)
        builder = ExampleBuilder(reader, config.example_options, config.backbone_file)
        return [shard_writer.write_shard(config.output_dir, config.split, index,
                                         config.num_output_shards, items, builder.build,
                                         config.fingerprint, config.settings, report)
                for index, items in tasks]
    # spawn, not fork: the parent may already have TensorFlow threads.
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    sidecars = []
    with context.Pool(min(num_workers, len(tasks)), initializer=_worker_init,
                      initargs=(config, queue)) as pool:
        pending = pool.map_async(_worker_write, tasks, chunksize=1)
        while True:
            while not queue.empty():
                report(*queue.get())
            if pending.ready():
                break
            pending.wait(0.2)
        while not queue.empty():
            report(*queue.get())
        sidecars = pending.get()
    return sidecars




def resolve_spatial_backbone(spec: str):
    """``(model, BackboneInfo)`` of ``--spatial_features`` (None when off); ``ConfigurationError``
    naming the flag when it cannot work."""
    if not spec:
        return None
    from mimamo_tf.models.backbone import BackboneError, resolve_backbone  # pylint: disable=import-outside-toplevel

    try:
        return resolve_backbone(spec)
    except BackboneError as error:
        raise ConfigurationError(f"--spatial_features={spec}: {error}") from error


def save_spatial_backbone(model, output_dir: str) -> str:
    """Writes the exact backbone the features come from next to the shards (atomically), so the
    same features can be recomputed from the stored faces later (export, prediction)."""
    path = os.path.join(output_dir, shards.BACKBONE_FILE)
    with atomic_files.replacing(path) as partial:
        model.save(partial)
    return path


def machine_shards(split: str, count: int, num_shards: int = 1, shard_index: int = 0) -> List[str]:
    """The shard names of ``split`` (``count`` in all) that machine ``shard_index`` of ``num_shards``
    writes: every ``num_shards``-th, from ``shard_index``."""
    return [shards.shard_name(split, i, count) for i in range(count) if i % num_shards == shard_index]


def _split_summary(manifest: dict, split: str, num_shards: int, shard_index: int):
    """``manifest.json``'s summary of ``split`` and the names of this machine's shards of it."""
    summary = manifest["splits"].get(split, {})
    return summary, set(machine_shards(split, summary.get("num_output_shards", 0), num_shards, shard_index))


def failed_inputs(manifest: dict, split: str, num_shards: int = 1, shard_index: int = 0) -> List[dict]:
    """The failed inputs of ``split`` in this machine's shards, as ``manifest.json`` lists them
    (``video_id``, ``source``, ``reason``, ``shard``). Shards skipped as complete count: their inputs
    failed as much as in the run that wrote them."""
    return _failed_in(*_split_summary(manifest, split, num_shards, shard_index))


def _failed_in(summary: dict, mine: set) -> List[dict]:
    return [failure for failure in summary.get("failed", []) if failure.get("shard") in mine]


def finish(manifest: dict, split: str, output_dir: str, num_shards: int = 1, shard_index: int = 0) -> int:
    """The command's exit code once ``prepare`` has run, with this machine's failed inputs listed last
    on stderr, each with its file and reason: ``EXIT_DONE`` when every input was written,
    ``EXIT_SOME_FAILED`` when one or more failed (all of them included)."""
    summary, mine = _split_summary(manifest, split, num_shards, shard_index)
    failed = _failed_in(summary, mine)
    if not failed:
        return EXIT_DONE
    written = sum(shard["examples"] for shard in summary["shards"] if shard["file"] in mine)
    where = os.path.join(output_dir, manifest_lib.MANIFEST_NAME)
    header = (f"{len(failed)} of {len(failed) + written} inputs failed (also in {where}):" if written else
              f"error: no example was written for split {split}: all {len(failed)} inputs failed (also in {where}):")
    shard_writer.log("\n".join([header] + [f"  FAILED {f['source']} ({f['video_id']}): {f['reason']}" for f in failed]))
    return EXIT_SOME_FAILED


def prepare(dataset: str, data_root: str, output_dir: str, split: str = "train",
            num_workers: int = 1, num_shards: int = 1, shard_index: int = 0,
            videos_per_shard: int = 8, example_options: ExampleOptions = ExampleOptions(),
            reader_options: Optional[dict] = None) -> dict:
    """Prepares (this machine's part of) one split; the library form of the CLI.

    Returns:
        The manifest written to ``output_dir/manifest.json``.

    Raises:
        ConfigurationError: bad flags or dataset layout.
        RuntimeError: the output folder holds shards of a different listing/options.
    """
    if not 0 <= shard_index < num_shards:
        raise ConfigurationError(f"--shard_index={shard_index} must be in [0, --num_shards={num_shards})")
    if not shards.SHARD_PATTERN.match(shards.shard_name(split, 0, 1)):
        raise ConfigurationError(f"--split={split!r}: use letters, digits and underscores")
    reader_options = dict(reader_options or {})
    # The backbone first: a bad --spatial_features fails before any video is read or file written.
    backbone = resolve_spatial_backbone(example_options.spatial_features)
    reader = make_reader(dataset, data_root, split, **reader_options)
    items = reader.list_items()
    if not items:
        raise ConfigurationError(f"{dataset}: no items found for split {split} under {data_root}")
    os.makedirs(output_dir, exist_ok=True)
    settings = {"dataset": dataset, "split": split, "videos_per_shard": videos_per_shard,
                **dataclasses.asdict(example_options), **reader.settings()}
    backbone_file = ""
    if backbone is not None:
        model, info = backbone
        backbone_file = save_spatial_backbone(model, output_dir)
        settings["spatial_backbone"] = {**dataclasses.asdict(info), "file": shards.BACKBONE_FILE}
    run_fingerprint = shard_writer.fingerprint(items, settings)
    planned = shard_writer.plan_shards(items, videos_per_shard)
    count = len(planned)
    mine = [i for i in range(count) if i % num_shards == shard_index]
    names = machine_shards(split, count, num_shards, shard_index)
    for removed in shard_writer.remove_stale_temporaries(output_dir, names):
        shard_writer.log(f"removed leftover of an interrupted run: {removed}")
    tasks = [(i, planned[i]) for i, name in zip(mine, names)
             if not shard_writer.shard_status(output_dir, name, run_fingerprint)]
    skipped = len(mine) - len(tasks)
    shard_writer.log(f"{dataset}/{split}: {len(items)} items in {count} shards; this machine: "
                     f"{len(mine)} shards, {skipped} already complete, {len(tasks)} to write")
    config = RunConfig(dataset=dataset, data_root=data_root, split=split, output_dir=output_dir,
                       reader_options=reader_options, example_options=example_options,
                       settings=settings, fingerprint=run_fingerprint, num_output_shards=count,
                       single_thread=num_workers > 1, backbone_file=backbone_file)
    # Nothing to write (every shard complete): no bar at all, as before.
    total = sum(len(items) for _, items in tasks)
    with tqdm(total=total, unit="video", file=sys.stderr, mininterval=0.5, disable=not total) as progress:
        run(config, tasks, num_workers, progress)
    manifest = manifest_lib.write_manifest(output_dir)
    summary = manifest["splits"].get(split, {})
    faceless_crops = summary.get("crops_without_face", 0)
    shard_writer.log(
        f"{split}: {summary.get('complete_shards', 0)}/{count} shards complete, "
        f"{summary.get('examples', 0)} examples, {summary.get('frames', 0)} frames, "
        + (f"{faceless_crops} re-aligned crops without a face found, " if faceless_crops else "")
        + f"{len(summary.get('failed', []))} failed inputs (see {output_dir}/manifest.json)")
    return manifest


def main(argv):
    del argv
    for name in ("dataset", "data_root", "output_dir"):
        if not getattr(FLAGS, name):
            raise app.UsageError(f"--{name} is required", exitcode=EXIT_BAD_INPUT)
    options = ExampleOptions(
        face_backend=FLAGS.face_backend, detect_every=FLAGS.detect_every,
        smoothing_sigma=FLAGS.smoothing_sigma, detector_max_side=FLAGS.detector_max_side,
        max_label_surplus=FLAGS.max_label_surplus, spatial_features=FLAGS.spatial_features,
        default_fps=FLAGS.default_fps, cropped_aligned_geometry=FLAGS.cropped_aligned_geometry)
    reader_options = {"affwild2_source": FLAGS.affwild2_source, "omg_csv": FLAGS.omg_csv,
                      "omg_clips_dir": FLAGS.omg_clips_dir,
                      # Absolute here, so worker processes and the manifest see the same folder.
                      "omg_aligned_dir": (os.path.abspath(FLAGS.omg_aligned_dir)
                                          if FLAGS.omg_aligned_dir else None),
                      "label_range": FLAGS.label_range, "max_label_gap_seconds": FLAGS.max_label_gap_seconds}
    try:
        manifest = prepare(FLAGS.dataset, FLAGS.data_root, FLAGS.output_dir, split=FLAGS.split,
                num_workers=FLAGS.num_workers, num_shards=FLAGS.num_shards,
                shard_index=FLAGS.shard_index, videos_per_shard=FLAGS.videos_per_shard,
                example_options=options, reader_options=reader_options)
    except (ConfigurationError, RuntimeError) as error:
        shard_writer.log(f"error: {error}")
        return EXIT_BAD_INPUT
    return finish(manifest, FLAGS.split, FLAGS.output_dir, FLAGS.num_shards, FLAGS.shard_index)


def define_flags():
    """Registers the CLI flags (only when run as a program, so importing this module as a
    library never collides with other tools' flags)."""
    flags.DEFINE_enum("dataset", None, sorted(READERS), "Dataset format to read.")
    flags.DEFINE_string("data_root", None, "Folder of the dataset.")
    flags.DEFINE_string("output_dir", None, "Folder for the TFRecord shards and manifest.json.")
    flags.DEFINE_string("split", "train", "Split to prepare (affwild: train/test; affwild2 and omg: "
                        "train/validation/test; folder: any name, used as the file prefix).")
    flags.DEFINE_integer("num_workers", 1, "Worker processes (each writes whole shards).")
    flags.DEFINE_integer("num_shards", 1, "Number of machines sharing the work.")
    flags.DEFINE_integer("shard_index", 0, "This machine's index in [0, num_shards).")
    flags.DEFINE_integer("videos_per_shard", 8, "Items per output TFRecord shard.")
    flags.DEFINE_string("face_backend", "mtcnn", "Face detector for raw videos.")
    flags.DEFINE_integer("detect_every", 3, "Run the detector every k-th frame, track in between.")
    flags.DEFINE_float("smoothing_sigma", 2.0, "Alignment smoothing width in frames (0: off).")
    flags.DEFINE_integer("detector_max_side", 320, "Detection runs on frames reduced to this size.")
    flags.DEFINE_string("spatial_features", "", "Also store frozen-backbone features (float16) of this backbone: "
                        "resnet50[:none|imagenet|WEIGHTS] (legacy: none, imagenet, WEIGHTS), vggface2_resnet50:PATH, "
                        "fer_mini_xception, keras:PATH[:LAYER]. The backbone is saved as spatial_backbone.keras.")
    flags.DEFINE_integer("max_label_surplus", 2, "Tolerated label lines beyond the decoded frames.")
    flags.DEFINE_enum("affwild2_source", "video", ["video", "cropped_aligned"],
                      "Aff-Wild2: detect faces in the raw videos, or use the provided aligned frames.")
    flags.DEFINE_enum("cropped_aligned_geometry", "realign", list(CROPPED_ALIGNED_GEOMETRIES),
                      "Aff-Wild2 with --affwild2_source=cropped_aligned: realign warps each provided "
                      "crop to the project's face template (landmarks found by the raw-video face "
                      "pipeline), so the faces have the geometry of video faces and of predict; keep "
                      "uses the provider's crop as it is (another template: eyes lower, face larger). "
                      "A crop in which realign finds no face is written without a face and counted "
                      "(crops_without_face in the sidecars and manifest.json).")
    flags.DEFINE_string("omg_csv", "", "OMG: CSV file (default: the split's standard name).")
    flags.DEFINE_string("omg_clips_dir", "", "OMG: folder of <video>/<utterance>.mp4 (default: data_root).")
    flags.DEFINE_string("omg_aligned_dir", None, "OMG: folder of pre-aligned faces <video>/<utterance "
                        "stem>/00001.jpg (missing file: no face in that frame), used instead of face "
                        "detection; relative to the current directory. Default: detect faces in the clips.")
    flags.DEFINE_float("default_fps", 30.0, "fps stored when no video is available.")
    flags.DEFINE_string("label_range", "-1,1", "folder: LOW,HIGH of the scale of the <video>.csv annotations "
                        "(e.g. -1000,1000 or 1,9), mapped linearly onto [-1, 1]; a value outside it is an error.")
    flags.DEFINE_float("max_label_gap_seconds", 1.0, "folder: frames between two annotation samples further apart "
                       "than this have no label (label_valid=0), as frames outside the annotated span.")


def cli():
    """Console-script entry point."""
    define_flags()
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    cli()

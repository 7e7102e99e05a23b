"""Preparing one split of a dataset: videos + labels -> sharded TFRecord SequenceExamples (the library of
``python -m data_prep.prepare``).

Work is split in three levels:

* output shards: the sorted item list is cut into shards of ``videos_per_shard`` items; a shard
  is the unit of crash safety (written to a temporary name, renamed when complete; reruns skip
  complete shards);
* machines: ``num_shards=M, shard_index=m`` makes this machine write only output shards ``i`` with
  ``i % M == m`` (all machines write into the same output folder);
* processes: ``num_workers`` spawned worker processes each write whole shards. A worker ends with
  the job: the pool is closed when ``prepare`` returns or raises, and a worker whose parent is gone
  (killed without a chance to close it) ends by itself.

A failed item never stops the run: it is printed on stderr with its file name and recorded in the
shard's sidecar and in ``manifest.json`` (`finish` lists this machine's failed items again and gives
the command's exit code). A bad flag or dataset layout is a ``ConfigError`` before anything is
written.
"""

import dataclasses
import multiprocessing
import os
import sys
import threading
import time
from typing import List, Optional

import cv2
import tensorflow as tf
from tqdm import tqdm

from data_prep import manifest as manifest_lib
from data_prep import shard_writer
from data_prep.examples import ExampleBuilder, ExampleOptions
from data_prep.readers.base import DatasetReader
from data_prep.readers.registry import make_reader
from mimamo_tf import atomic_files
from mimamo_tf.command_line import EXIT_DONE, EXIT_SOME_FAILED
from mimamo_tf.config import ConfigError
from mimamo_tf.data import shards
from mimamo_tf.models.backbone import BackboneError, resolve_backbone

# How often a worker process checks that the process that started it is still there.
PARENT_CHECK_SECONDS = 0.5


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything a worker process needs to build examples (pickled to spawned workers)."""

    reader: DatasetReader
    output_dir: str
    example_options: ExampleOptions
    settings: dict
    fingerprint: str
    num_output_shards: int
    single_thread: bool
    backbone_file: str = ""


# Per-process state of worker processes (spawned: nothing is inherited).
_WORKER = {}


def _end_with_parent(parent_pid: int) -> None:
    """Ends this process as soon as its parent is gone: a parent killed outright (SIGKILL) cannot
    close its pool, and a worker must never outlive the job. A daemon thread watches the parent's
    pid (the worker is re-parented when its parent ends)."""

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)  # pylint: disable=protected-access  # the whole process, from this thread

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def _worker_init(config: RunConfig, queue, parent_pid: int) -> None:
    _end_with_parent(parent_pid)
    if config.single_thread:
        # Two processes on two cores: one compute thread each avoids oversubscription.
        cv2.setNumThreads(1)
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    _WORKER.update(config=config, queue=queue,
                   builder=ExampleBuilder(config.reader, config.example_options, config.backbone_file))


def _worker_write(task) -> dict:
    index, items = task
    config, queue = _WORKER["config"], _WORKER["queue"]
    return shard_writer.write_shard(
        config.output_dir, config.reader.split, index, config.num_output_shards, items,
        _WORKER["builder"].build, config.fingerprint, config.settings,
        lambda frames, failed, message: queue.put((frames, failed, message)))


def write_shards(config: RunConfig, tasks, num_workers: int, progress: tqdm) -> List[dict]:
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
        builder = ExampleBuilder(config.reader, config.example_options, config.backbone_file)
        return [shard_writer.write_shard(config.output_dir, config.reader.split, index,
                                         config.num_output_shards, items, builder.build,
                                         config.fingerprint, config.settings, report)
                for index, items in tasks]
    # spawn, not fork: the parent may already have TensorFlow threads.
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    # Leaving the block (done, or an exception) terminates and joins the workers.
    with context.Pool(min(num_workers, len(tasks)), initializer=_worker_init,
                      initargs=(config, queue, os.getpid())) as pool:
        pending = pool.map_async(_worker_write, tasks, chunksize=1)
        while True:
            while not queue.empty():
                report(*queue.get())
            if pending.ready():
                break
            pending.wait(0.2)
        while not queue.empty():
            report(*queue.get())
        return pending.get()


def resolve_spatial_backbone(spec: str):
    """``(model, BackboneInfo)`` of ``--spatial_features`` (None when off); ``ConfigError`` naming
    the flag when it cannot work."""
    if not spec:
        return None
    try:
        return resolve_backbone(spec)
    except BackboneError as error:
        raise ConfigError(f"--spatial_features={spec}: {error}") from error


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
    """Prepares (this machine's part of) one split.

    Args:
        dataset: a registered reader's name (``--dataset``).
        data_root, output_dir, split: the dataset folder, the shards' folder, the split.
        num_workers, num_shards, shard_index, videos_per_shard: see the module docstring.
        example_options: the per-item work (faces, features).
        reader_options: the reader's options by flag name (`registry.make_reader`); the others take
            their defaults.

    Returns:
        The manifest written to ``output_dir/manifest.json``.

    Raises:
        ConfigError: bad options or dataset layout, or the output folder holds shards of a different
            listing or options (nothing of this run written).
    """
    if not 0 <= shard_index < num_shards:
        raise ConfigError(f"--shard_index={shard_index} must be in [0, --num_shards={num_shards})")
    if not shards.SHARD_PATTERN.match(shards.shard_name(split, 0, 1)):
        raise ConfigError(f"--split={split!r}: use letters, digits and underscores")
    # The backbone first: a bad --spatial_features fails before any video is read or file written.
    backbone = resolve_spatial_backbone(example_options.spatial_features)
    reader = make_reader(dataset, data_root, split, **(reader_options or {}))
    items = reader.list_items()
    if not items:
        raise ConfigError(f"{dataset}: no items found for split {split} under {data_root}")
    os.makedirs(output_dir, exist_ok=True)
    settings = {"dataset": dataset, "split": split, "videos_per_shard": videos_per_shard,
                **dataclasses.asdict(example_options), **reader.settings()}
    backbone_file = ""
    if backbone is not None:
        model, info = backbone
        backbone_file = save_spatial_backbone(model, output_dir)
        settings["spatial_backbone"] = {**dataclasses.asdict(info), "file": shards.BACKBONE_FILE}
    run_fingerprint = shard_writer.fingerprint(items, settings, reader.recording_id)
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
    config = RunConfig(reader=reader, output_dir=output_dir, example_options=example_options, settings=settings,
                       fingerprint=run_fingerprint, num_output_shards=count, single_thread=num_workers > 1,
                       backbone_file=backbone_file)
    # Nothing to write (every shard complete): no bar at all, as before.
    total = sum(len(items) for _, items in tasks)
    with tqdm(total=total, unit="video", file=sys.stderr, mininterval=0.5, disable=not total) as progress:
        write_shards(config, tasks, num_workers, progress)
    manifest = manifest_lib.write_manifest(output_dir)
    summary = manifest["splits"].get(split, {})
    faceless_crops = summary.get("crops_without_face", 0)
    shard_writer.log(
        f"{split}: {summary.get('complete_shards', 0)}/{count} shards complete, "
        f"{summary.get('examples', 0)} examples, {summary.get('frames', 0)} frames, "
        + (f"{faceless_crops} re-aligned crops without a face found, " if faceless_crops else "")
        + f"{len(summary.get('failed', []))} failed inputs (see {output_dir}/manifest.json)")
    return manifest

"""``python -m data_prep.inspect PATH``: counts of prepared shards, and a full parse of each.

PATH is a prepared folder (every ``*.tfrecord`` shard in it) or one shard file. Every record of
every shard is read and decoded with `mimamo_tf.data.schema` (JPEGs included); a shard that does
not parse (truncated or corrupt file, wrong schema) is reported by name and the exit status is 1.
When the folder has a ``manifest.json`` (or sidecars), the counts are checked against it. Exit code
(``mimamo_tf.command_line``'s rule): 0 every shard good, 1 some shards damaged (listed last), 2 no
such PATH, no shards in it, or bad flags.
"""

import json
import os
import sys
from typing import Dict, List

from absl import app, flags

from mimamo_tf.command_line import EXIT_BAD_INPUT, EXIT_DONE, EXIT_SOME_FAILED, parse_flags
from mimamo_tf.data import schema, shards

FLAGS = flags.FLAGS


def inspect_shard(path: str, decode_images: bool = True) -> Dict[str, object]:
    """Reads every example of one shard.

    Returns:
        {"file", "examples", "frames", "frames_with_face", "valid_label_frames", "videos":
        [{"video_id", "frames", ...}], "error": None or the reason the shard does not parse}.
    """
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    result = {"file": os.path.basename(path), "examples": 0, "frames": 0, "frames_with_face": 0,
              "valid_label_frames": 0, "videos": [], "error": None}
    try:
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            example = schema.parse_sequence_example(record, decode_images=decode_images)
            frames = int(example["num_frames"])
            result["examples"] += 1
            result["frames"] += frames
            result["frames_with_face"] += int(example["face_found"].sum())
            result["valid_label_frames"] += int(example["label_valid"].sum())
            result["videos"].append({
                "video_id": example["video_id"], "frames": frames,
                "frames_with_face": int(example["face_found"].sum()),
                "valid_label_frames": int(example["label_valid"].sum()),
                "label_level": example["label_level"],
            })
    except (tf.errors.OpError, schema.SchemaError, ValueError) as error:
        result["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
    return result


def _expected_counts(directory: str, name: str):
    sidecar = os.path.join(directory, shards.sidecar_name(name))
    if not os.path.isfile(sidecar):
        return None
    with open(sidecar, encoding="utf-8") as handle:
        return json.load(handle)


def inspect_path(path: str, decode_images: bool = True, stream=None) -> int:
    """Prints a report of a folder or shard; returns the process exit status (0 = all good)."""
    stream = stream or sys.stdout
    if os.path.isdir(path):
        files: List[str] = sorted(os.path.join(path, n) for n in os.listdir(path)
                                  if n.endswith(".tfrecord") and not n.startswith("."))
    elif os.path.isfile(path):
        files = [path]
    else:
        print(f"error: {path} does not exist", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not files:
        print(f"error: no .tfrecord shards in {path}", file=sys.stderr)
        return EXIT_BAD_INPUT
    problems = []
    totals: Dict[str, int] = {"examples": 0, "frames": 0, "frames_with_face": 0, "valid_label_frames": 0}
    print(f"{'shard':40s} {'examples':>8s} {'frames':>8s} {'faces':>8s} {'labels':>8s}  status",
          file=stream)
    for file_path in files:
        result = inspect_shard(file_path, decode_images)
        status = "ok"
        if result["error"]:
            status = f"CORRUPT: {result['error']}"
            problems.append(f"{result['file']}: {status}")
        else:
            expected = _expected_counts(os.path.dirname(file_path), result["file"])
            if expected is not None:
                mismatches = [k for k in ("examples", "frames", "frames_with_face", "valid_label_frames")
                              if expected.get(k) != result[k]]
                if mismatches:
                    status = "MISMATCH with sidecar: " + ", ".join(
                        f"{k} {result[k]} != {expected.get(k)}" for k in mismatches)
                    problems.append(f"{result['file']}: {status}")
        for key in totals:
            totals[key] += result[key]
        print(f"{result['file']:40s} {result['examples']:8d} {result['frames']:8d} "
              f"{result['frames_with_face']:8d} {result['valid_label_frames']:8d}  {status}",
              file=stream)
    print(f"{'total':40s} {totals['examples']:8d} {totals['frames']:8d} "
          f"{totals['frames_with_face']:8d} {totals['valid_label_frames']:8d}", file=stream)
    manifest_path = os.path.join(path, shards.MANIFEST_FILE) if os.path.isdir(path) else None
    if manifest_path and os.path.isfile(manifest_path):
        with open(manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
        for split, summary in sorted(manifest.get("splits", {}).items()):
            print(f"manifest {split}: {summary['examples']} examples, {summary['frames']} frames, "
                  f"{summary['complete_shards']}/{summary['num_output_shards']} shards, "
                  f"{len(summary['failed'])} failed inputs", file=stream)
            for failure in summary["failed"]:
                print(f"  failed: {failure['source']}: {failure['reason']}", file=stream)
    if problems:
        print("\n".join([f"{len(problems)} of {len(files)} shard(s) with problems:"] + [f"  {p}" for p in problems]),
              file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_DONE


def main(argv):
    if len(argv) != 2:
        raise app.UsageError("usage: python -m data_prep.inspect PATH (a prepared folder or a shard)",
                             exitcode=EXIT_BAD_INPUT)
    return inspect_path(argv[1], decode_images=FLAGS.decode_images)


def define_flags():
    """Registers the CLI flags (only when run as a program, so importing this module as a
    library never collides with other tools' flags)."""
    flags.DEFINE_boolean("decode_images", True, "Also decode every JPEG (slower, checks them too).")


def cli():
    """Console-script entry point."""
    define_flags()
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    cli()

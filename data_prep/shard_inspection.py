"""Reading prepared shards back in full (the library of ``python -m data_prep.inspect``): every record
of every shard decoded with `mimamo_tf.data.schema` (JPEGs included), the counts checked against the
shard's sidecar and the folder's ``manifest.json``, a shard that does not parse named."""

import json
import os
import sys
from typing import Dict, List

import tensorflow as tf

from mimamo_tf.command_line import EXIT_DONE, EXIT_SOME_FAILED
from mimamo_tf.data import schema, shards
from mimamo_tf.errors import InputError


def inspect_shard(path: str, decode_images: bool = True) -> Dict[str, object]:
    """Reads every example of one shard.

    Returns:
        {"file", "examples", "frames", "frames_with_face", "valid_label_frames", "videos":
        [{"video_id", "recording_id" ("" in shards written before it), "frames", ...}], "error": None
        or the reason the shard does not parse}.
    """
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
                "video_id": example["video_id"], "recording_id": example["recording_id"], "frames": frames,
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
    """Prints a report of a folder or shard (the damaged shards listed again last, on stderr).

    Returns:
        The command's exit code: ``EXIT_DONE`` every shard good, ``EXIT_SOME_FAILED`` some damaged.

    Raises:
        InputError: no such path, or no shard in it.
    """
    stream = stream or sys.stdout
    if os.path.isdir(path):
        files: List[str] = sorted(os.path.join(path, n) for n in os.listdir(path)
                                  if n.endswith(".tfrecord") and not n.startswith("."))
    elif os.path.isfile(path):
        files = [path]
    else:
        raise InputError(f"{path} does not exist")
    if not files:
        raise InputError(f"no .tfrecord shards in {path}")
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

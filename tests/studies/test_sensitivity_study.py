"""The sensitivity study (``mimamo_tf.study --study=sensitivity``): its data layout (one prepared
directory per motion scale, checked before anything trains, named alike by the module and by
``make study-sensitivity``), its flags, and an end-to-end run on tiny shards whose table, JSON and
figure hold the CCCs that ``evaluate`` wrote into each cell's ``metrics.json``.

That ``micro_motion`` and the face renderer scale with ``--motion_scale`` (none at 0) is tested
where the data is made (``tests/data_prep/test_synthetic.py``); here, the whole videos the study's
scales are made of."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from mimamo_tf.testing.tiny_shards import write_dataset

from mimamo_tf import config as config_lib
from mimamo_tf.studies import sensitivity

REPO = pathlib.Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _prepared(root, scale, frames=(20, 13, 30, 9, 17, 24)):
    """Tiny shards of the train and validation splits, without spatial features (as the Makefile
    prepares them), in ``scale``'s directory under ``root``."""
    directory = pathlib.Path(sensitivity.data_dir_for(str(root), scale))
    write_dataset(directory, frames=frames, spatial_dim=0)
    return directory


def _run_study(*flags):
    """``study.run_study`` in-process on these flags (the command's own checks and dispatch)."""
    from absl import flags as absl_flags

    from mimamo_tf import study

    flag_values = absl_flags.FlagValues()
    study.define_flags(flag_values)
    argv = ["study", "--study=sensitivity", *flags]
    flag_values(argv)
    return study.run_study(flag_values, argv)


def test_directory_names_are_the_scale_as_printf_g_writes_it(tmp_path):
    assert [os.path.basename(sensitivity.data_dir_for("root", s)) for s in (0.25, 0.5, 1, 1.0, 2.0, 0)] == [
        "motion_scale_0.25", "motion_scale_0.5", "motion_scale_1", "motion_scale_1", "motion_scale_2",
        "motion_scale_0"]
    assert sensitivity.cell_name(0.5, "optical_flow") == "motion_scale_0.5/none+optical_flow"
    assert sensitivity.synthetic_dir_for("root", 2.0) == os.path.join("root", "synthetic_2")


def test_the_motion_pixels_are_the_generators():
    """The amplitudes the table and figure print in px are data_prep.synthetic's (mostly vertical:
    the full amplitude is on the vertical axis)."""
    from data_prep import synthetic_faces

    for arousal, pixels in zip((-1.0, 1.0), sensitivity.MOTION_PIXELS):
        micro = synthetic_faces.micro_motion(np.random.default_rng(0), np.full(4000, arousal), 2000.0)
        assert np.abs(micro[..., 1]).max() == pytest.approx(pixels, rel=1e-3)


def test_videos_of_different_scales_differ_in_the_micro_motion_alone():
    """``render_video`` (what ``generate`` writes) at scales 0.25, 1 and 2 against the same seed at 0:
    the difference is the micro-motion, confined to a small part of the frame (eyes, brows, mouth)
    and growing in proportion to the scale (sub-pixel shifts change pixels linearly); and the videos'
    frame-to-frame change is larger with the micro-motion than without it."""
    from data_prep import synthetic_faces

    def render(scale):
        config = synthetic_faces.RenderConfig(frames=24, motion_scale=scale)
        frames, _, _, _ = synthetic_faces.render_video(np.random.default_rng([0, 0]), synthetic_faces.astronaut(),
                                                       config, 1, cutaway=False)
        return frames.astype(np.float64)

    still = render(0.0)
    moved = {scale: render(scale) for scale in (0.25, 1.0, 2.0)}
    change = {scale: np.abs(frames - still).mean() for scale, frames in moved.items()}
    assert 0 < change[0.25] < change[1.0] < change[2.0]
    assert change[1.0] / change[0.25] == pytest.approx(4, rel=0.2)
    assert change[2.0] / change[1.0] == pytest.approx(2, rel=0.2)
    touched = (np.abs(moved[2.0] - still).max(axis=(0, 3)) > 0).mean()
    assert 0 < touched < 0.15

    def frame_to_frame(frames):
        return np.abs(np.diff(frames, axis=0)).mean()

    assert frame_to_frame(still) < frame_to_frame(moved[1.0]) < frame_to_frame(moved[2.0])


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_make_target_names_the_directories_the_study_reads(tmp_path):
    """``make study-sensitivity`` with a stand-in interpreter that records each command: it makes
    synthetic data and shards in the directories ``synthetic_dir_for`` and ``data_dir_for`` name
    (``1.0`` and ``1`` alike), skips a scale whose shards are complete, and runs the study on them."""
    venv, data, runs = tmp_path / "venv", tmp_path / "data", tmp_path / "runs"
    (venv / "bin").mkdir(parents=True)
    (venv / ".installed").touch()  # newer than setup.py: make does not rebuild the virtualenv
    log = tmp_path / "commands.jsonl"
    python = venv / "bin" / "python"
    python.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "if sys.argv[1] == '-c':  # the Makefile's shard check: run it for real\n"
        f"    os.execv({sys.executable!r}, [{sys.executable!r}, *sys.argv[1:]])\n"
        f"with open({str(log)!r}, 'a') as handle:\n"
        "    handle.write(json.dumps(sys.argv[1:]) + '\\n')\n")
    python.chmod(0o755)
    root = data / "sensitivity"
    done = pathlib.Path(sensitivity.data_dir_for(str(root), 2))
    done.mkdir(parents=True)
    (done / "manifest.json").write_text(json.dumps({"splits": {"train": {"complete": True},
                                                               "validation": {"complete": True}}}))
    make = subprocess.run(["make", "-C", str(REPO), "study-sensitivity", f"VENV={venv}", f"DATA={data}",
                           f"RUNS={runs}", "SENSITIVITY_SCALES=0.25 1.0 2"],
                          capture_output=True, text=True, timeout=60)
    assert make.returncode == 0, make.stdout + make.stderr
    commands = [json.loads(line) for line in log.read_text().splitlines()]

    def flag(command, name):
        return next(a.split("=", 1)[1] for a in command if a.startswith(f"--{name}="))

    made = [(c[1], flag(c, "output_dir")) for c in commands if c[1] == "data_prep.synthetic"]
    assert made == [("data_prep.synthetic", sensitivity.synthetic_dir_for(str(root), s)) for s in (0.25, 1.0)]
    assert [flag(c, "motion_scale") for c in commands if c[1] == "data_prep.synthetic"] == ["0.25", "1"]
    prepared = [(flag(c, "data_root"), flag(c, "output_dir"), flag(c, "split")) for c in commands
                if c[1] == "data_prep.prepare"]
    assert prepared == [(sensitivity.synthetic_dir_for(str(root), s), sensitivity.data_dir_for(str(root), s), split)
                        for s in (0.25, 1.0) for split in ("train", "validation")]
    assert not any(a.startswith("--spatial_features=") and a != "--spatial_features=" for c in commands for a in c)
    study = commands[-1]
    assert study[:2] == ["-m", "mimamo_tf.study"] and "--study=sensitivity" in study
    assert flag(study, "data_dir") == str(root) and flag(study, "output_dir") == str(runs / "study_sensitivity")
    assert [float(s) for s in flag(study, "motion_scales").split(",")] == [0.25, 1.0, 2.0]
    assert "motion scale 2: " in make.stdout and "skipped" in make.stdout


def test_a_missing_scale_is_named_with_the_commands_that_make_it(tmp_path):
    _prepared(tmp_path, 0.5)
    half_done = pathlib.Path(sensitivity.data_dir_for(str(tmp_path), 2))
    write_dataset(half_done, spatial_dim=0)
    for path in half_done.glob("validation-*"):
        path.unlink()
    with pytest.raises(config_lib.ConfigError) as raised:
        sensitivity.check_data(str(tmp_path), (0.5, 1.0, 2.0), ("train", "validation"))
    message = str(raised.value)
    missing = sensitivity.data_dir_for(str(tmp_path), 1.0)
    assert f"{missing} does not exist" in message
    assert f"{half_done} has no validation shards" in message
    assert sensitivity.data_dir_for(str(tmp_path), 0.5) + " " not in message  # the complete one is fine
    for command in sensitivity.make_commands(str(tmp_path), 1.0, ("train", "validation")):
        assert command in message
    assert "--motion_scale=1 " in message and f"--output_dir={missing} --split=validation" in message
    # The command refuses it the same way, before any training (exit code 2: an InputError).
    with pytest.raises(config_lib.ConfigError, match=f"{missing} does not exist"):
        _run_study(f"--data_dir={tmp_path}", f"--output_dir={tmp_path / 'study'}", "--motion_scales=0.5,1")
    assert not (tmp_path / "study" / "runs").exists()


def test_data_recorded_with_another_motion_scale_is_refused(tmp_path):
    for scale in (0.5, 1.0):
        _prepared(tmp_path, scale)
    synthetic = pathlib.Path(sensitivity.synthetic_dir_for(str(tmp_path), 1.0))
    synthetic.mkdir()
    (synthetic / sensitivity.SYNTHETIC_CONFIG).write_text(json.dumps({"motion_scale": 1.0}))
    beside = pathlib.Path(sensitivity.data_dir_for(str(tmp_path), 0.5)) / sensitivity.SYNTHETIC_CONFIG
    beside.write_text(json.dumps({"motion_scale": 0.5}))
    checked = sensitivity.check_data(str(tmp_path), (0.5, 1.0), ("train", "validation"))
    assert checked == {"0.5": [str(beside)], "1": [str(synthetic / sensitivity.SYNTHETIC_CONFIG)]}
    (synthetic / sensitivity.SYNTHETIC_CONFIG).write_text(json.dumps({"motion_scale": 0.25}))
    with pytest.raises(config_lib.ConfigError, match=r"should hold motion scale 1, but .*synthetic_1.* records "
                                                     r"--motion_scale=0\.25"):
        sensitivity.check_data(str(tmp_path), (0.5, 1.0), ("train", "validation"))
    # Synthetic data from before --motion_scale existed had the default amplitude.
    beside.write_text(json.dumps({"format": "affwild2"}))
    with pytest.raises(config_lib.ConfigError, match="should hold motion scale 0.5, but .* records --motion_scale=1"):
        sensitivity.check_data(str(tmp_path), (0.5,), ("train", "validation"))


@pytest.mark.parametrize("flag, message", [
    ("--motion_scales=0.5,x", "--motion_scales must be a list of numbers"),
    ("--motion_scales=0.5,-1", "--motion_scales must be finite numbers >= 0; got -1.0"),
    ("--motion_scales=nan", "--motion_scales must be finite numbers >= 0"),
    ("--motion_scales=1,1.0", "--motion_scales must be distinct"),
    ("--temporal_inputs=phase,none", "--temporal_inputs must be distinct ones of phase_difference, phase, "
                                     "optical_flow, phase_difference_paper; got phase, none"),
    ("--temporal_inputs=phase,phase", "--temporal_inputs must be distinct ones of"),
])
def test_bad_flags_are_refused_naming_the_flag(tmp_path, flag, message):
    with pytest.raises(config_lib.ConfigError) as raised:
        _run_study(f"--data_dir={tmp_path}", f"--output_dir={tmp_path / 'study'}", flag)
    assert message in str(raised.value)


@pytest.mark.slow
def test_end_to_end_on_tiny_data_at_two_scales(tmp_path):
    """Two scales (different data), one temporal input, one epoch, through the command's dispatch:
    each number of the JSON and the table is what ``evaluate`` wrote into that cell's metrics.json,
    each cell trained on its scale's directory with the recipe's stage one by default (the base's
    clipping, under ``runs/recipe/``), and the figure is a PNG."""
    root = tmp_path / "data"
    _prepared(root, 0.5)
    _prepared(root, 1.0, frames=(24, 17, 9, 30, 13, 20))
    output_dir = tmp_path / "study"
    result = _run_study(f"--data_dir={root}", f"--output_dir={output_dir}", "--motion_scales=0.5,1",
                        "--temporal_inputs=phase_difference", f"--flagfile={REPO / 'configs' / 'smoke.cfg'}",
                        "--epochs=1", "--clip_gradient_norm=2", "--notrain_log")
    written = json.loads((output_dir / "sensitivity.json").read_text())
    assert list(written["series"]) == ["phase_difference"]
    series = written["series"]["phase_difference"]
    assert series["motion_scales"] == [0.5, 1.0]
    assert series["pixels"] == [pytest.approx([0.15, 1.05]), pytest.approx([0.3, 2.1])]
    table = [[c.strip() for c in line.strip("|").split("|")]
             for line in (output_dir / "sensitivity.md").read_text().splitlines() if line.startswith("|")][2:]
    assert [row[:2] for row in table] == [["0.5", "0.15-1.05 px"], ["1", "0.3-2.1 px"]]
    for index, scale in enumerate((0.5, 1.0)):
        run_dir = output_dir / "runs" / "recipe" / f"motion_scale_{scale:g}" / "none+phase_difference"
        metrics = json.loads((run_dir / "eval_validation" / "metrics.json").read_text())
        assert series["arousal"][index] == metrics["ccc_arousal"]
        assert series["valence"][index] == metrics["ccc_valence"]
        assert table[index][2:] == [f"{metrics['ccc_arousal']:.3f}", f"{metrics['ccc_valence']:.3f}"]
        flags = config_lib.from_flagfile(str(run_dir / "flags.cfg"))
        assert flags.data.data_dir == sensitivity.data_dir_for(str(root), scale)
        assert flags.optimization.clip_gradient_norm == 2.0  # the recipe keeps it; the paper's cells would not
        assert (flags.model.streams, flags.model.temporal_input, flags.model.recurrent) == (
            "temporal", "phase_difference", False)
    # Different data at the two scales: two evaluations, not one number written twice.
    assert series["arousal"][0] != series["arousal"][1]
    assert written["checked_by"] == {"0.5": [], "1": []} and "trusted" in result["table"]
    assert (output_dir / "sensitivity.png").read_bytes()[:8] == PNG_SIGNATURE
    from PIL import Image

    with Image.open(output_dir / "sensitivity.png") as image:
        image.verify()

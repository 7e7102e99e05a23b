"""Files written whole or not at all (mimamo_tf.atomic_files)."""

import json
import os

import pytest

from mimamo_tf import atomic_files


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "sub" / "history.json"
    atomic_files.write_json(target, [1, 2])
    with pytest.raises(RuntimeError):
        with atomic_files.replacing(target) as partial:
            with open(partial, "w") as handle:
                handle.write("[1, 2, 3")  # a writer killed half-way
            raise RuntimeError("killed")
    assert json.loads(target.read_text()) == [1, 2]
    assert os.listdir(target.parent) == ["history.json"]


def test_the_temporary_name_keeps_the_ending_and_names_its_process_and_target(tmp_path):
    partial = atomic_files.partial_path(tmp_path / "model.weights.h5")
    name = os.path.basename(partial)
    assert name.endswith("-model.weights.h5") and name.startswith(".") and str(os.getpid()) in name
    assert atomic_files.is_partial(name) and atomic_files.is_partial(name, of="model.weights.h5")
    assert not atomic_files.is_partial(name, of="other.h5")
    assert not atomic_files.is_partial("model.weights.h5") and not atomic_files.is_partial(".partial-x")


def test_bytes_text_and_json_round_trip(tmp_path):
    assert atomic_files.write_bytes(tmp_path / "a.bin", b"\x00\x01") == str(tmp_path / "a.bin")
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    atomic_files.write_text(tmp_path / "a.txt", "x\r\ny", fsync=True)
    assert (tmp_path / "a.txt").read_bytes() == b"x\r\ny"  # newlines as given
    atomic_files.write_json(tmp_path / "a.json", {"b": 1, "a": 2}, indent=2, sort_keys=True)
    assert (tmp_path / "a.json").read_text() == '{\n  "a": 2,\n  "b": 1\n}\n'

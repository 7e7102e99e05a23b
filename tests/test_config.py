"""The experiment configuration (mimamo_tf.config): flagfiles, packaged configs, differences."""

import os
import pathlib

import pytest

from mimamo_tf import config as config_lib

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_config_round_trips_through_a_flagfile_and_names_differences(tmp_path):
    config = config_lib.replace(config_lib.ExperimentConfig(), data={"window": 32, "data_dir": "d"},
                                model={"dropout": False}, optimization={"lr_decay_epochs": (3,)})
    path = config_lib.to_flagfile(config, str(tmp_path / "flags.cfg"), header="a test")
    # Paths are recorded absolute: the file means the same from any working directory.
    assert f"--data_dir={os.path.abspath('d')}" in open(path).read().splitlines()
    assert config_lib.from_flagfile(path) == config_lib.replace(config, data={"data_dir": os.path.abspath("d")})
    assert config_lib.differing_flags(config, config_lib.ExperimentConfig()) == [
        "data_dir", "window", "dropout", "lr_decay_epochs"]


def test_packaged_flagfiles_are_the_checkouts_configs_and_parse():
    names = config_lib.packaged_flagfiles()
    assert {"affwild.cfg", "affwild2.cfg", "omg.cfg", "demo.cfg", "smoke.cfg"} <= set(names)
    for name in names:
        path = config_lib.packaged_flagfile(name)
        # configs/ at the top of the checkout is the same folder (a link), so one source.
        assert os.path.samefile(path, REPO / "configs" / name)
        config_lib.from_flagfile(path)  # comments are whole lines; every flag is known
        first = open(path).readline()
        assert first.startswith("# "), f"{name} starts with what it is for"
    with pytest.raises(config_lib.ConfigError, match="no packaged flagfile"):
        config_lib.packaged_flagfile("nope.cfg")

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


def test_config_names_a_packaged_flagfile_at_its_place_on_the_command_line():
    demo = config_lib.packaged_flagfile("demo.cfg")
    assert config_lib.expand_config_argument(["--config=demo", "--epochs=1"]) == [f"--flagfile={demo}", "--epochs=1"]
    assert config_lib.expand_config_argument(["--epochs=1", "--config", "demo.cfg"]) == ["--epochs=1", f"--flagfile={demo}"]
    assert config_lib.expand_config_argument(["--configuration=x"]) == ["--configuration=x"]  # another flag
    with pytest.raises(config_lib.ConfigError, match="--config takes one of .*affwild2.*demo"):
        config_lib.expand_config_argument(["--config=nope"])
    with pytest.raises(config_lib.ConfigError, match="--config needs a name"):
        config_lib.expand_config_argument(["--config"])


def test_auto_precision_is_the_same_experiment_as_what_it_resolved_to():
    assert config_lib.same_flag_value("mixed_precision", "auto", "bfloat16")
    assert config_lib.same_flag_value("mixed_precision", "float32", "auto")
    assert not config_lib.same_flag_value("mixed_precision", "float32", "bfloat16")
    assert config_lib.same_flag_value("lr_decay_epochs", [10, 20], (10, 20))
    assert config_lib.same_flag_value("data_dir", "d", os.path.abspath("d"))

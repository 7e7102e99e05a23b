"""A study is one registered function: a study defined only here, with a flag of its own, runs through
``python -m mimamo_tf.study``'s own parsing, checks and dispatch (mimamo_tf/studies/registry.py)."""

from absl import flags
import pytest

from mimamo_tf import study
from mimamo_tf.config import ConfigError
from mimamo_tf.studies import registry

NAME = "test_flicker"


def _define_flicker_flags(flag_values):
    flags.DEFINE_float("flicker_amplitude", 0.5, "test_flicker: the flicker's amplitude.", flag_values=flag_values)


@pytest.fixture
def flicker_study():
    calls = []

    @registry.register_study(NAME, help="arousal under a flicker (a test's own study)",
                             define_flags=_define_flicker_flags, trainings=("paper", "recipe"))
    def flicker(request):
        calls.append(request)
        return {"table": f"| flicker | {request.flags.flicker_amplitude} |", "table_file": "t.md", "figure": "f.png"}

    yield calls
    registry.unregister_study(NAME)


def _run(*arguments):
    flag_values = flags.FlagValues()
    study.define_flags(flag_values)
    argv = ["study", *arguments]
    flag_values(argv)
    return study.run_study(flag_values, argv)


def test_a_study_defined_in_a_test_runs_from_the_command_with_its_own_flag(flicker_study, data_dir, tmp_path):
    result = _run(f"--study={NAME}", f"--data_dir={data_dir}", f"--output_dir={tmp_path}", "--flicker_amplitude=0.25",
                  "--training=recipe", "--epochs=3")
    assert result["table"] == "| flicker | 0.25 |"
    (request,) = flicker_study
    # The base config: the preset's flagfile (frame-level labels: affwild2.cfg), then the command line.
    assert request.config.data.data_dir == str(data_dir)
    assert request.config.optimization.epochs == 3 and "epochs" in request.explicit_flags
    assert request.training == "recipe" and request.output_dir == str(tmp_path) and request.checkpoint == "best"


def test_its_name_help_and_allowed_trainings_come_from_the_registration(flicker_study, data_dir, tmp_path):
    flag_values = flags.FlagValues()
    study.define_flags(flag_values)
    assert NAME in flag_values["study"].help and "arousal under a flicker" in flag_values["study"].help
    assert "flicker_amplitude" in flag_values
    with pytest.raises(ConfigError, match=f"--training for --study={NAME} must be one of paper, recipe; got scratch"):
        _run(f"--study={NAME}", f"--data_dir={data_dir}", f"--output_dir={tmp_path}", "--training=scratch")
    with pytest.raises(ConfigError, match=f"--study must be one of .*{NAME}; got 'bogus'"):
        _run("--study=bogus", f"--output_dir={tmp_path}")
    assert not flicker_study  # refused before the study ran


def test_a_name_is_registered_once():
    with pytest.raises(ValueError, match="already registered"):
        registry.register_study("streams", help="another streams")(lambda request: {})

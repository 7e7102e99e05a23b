"""Commands apart from libraries (mimamo_tf.command_line, mimamo_tf.cli_startup): no library imports a
command module, importing a library changes nothing in the process, every command has the same
skeleton and help, and bad input is one line with exit code 2."""

import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

from mimamo_tf import cli_startup
from mimamo_tf import config as config_lib
from mimamo_tf.testing.package_layout import COMMANDS, console_script, imported_names, modules



def test_the_command_modules_are_exactly_the_top_level_modules_with_a_main():
    found = {name.split(".")[1] for name, path in modules().items()
             if name.count(".") == 1 and "run_command(" in path.read_text() and "def run_command" not in path.read_text()}
    assert found == set(COMMANDS)


def test_no_library_module_imports_a_command_module():
    commands = {f"mimamo_tf.{name}" for name in COMMANDS}
    offenders = {}
    for name, path in modules().items():
        if name in commands:
            continue
        imported = imported_names(path) & commands
        if imported:
            offenders[name] = sorted(imported)
    assert not offenders, f"library modules importing command modules: {offenders}"


@pytest.mark.slow  # several seconds (make test-fast stays under a minute)
def test_importing_every_library_module_changes_nothing_in_the_process():
    """In a fresh interpreter (not one of our commands): no TensorFlow logging setting, no redirected
    stderr, no absl flag defined, no absl verbosity change."""
    libraries = sorted(name for name in modules() if name.replace("mimamo_tf.", "", 1) not in COMMANDS
                       and not name.startswith("mimamo_tf.testing"))
    code = f"""
        import importlib, json, os, sys
        from absl import flags, logging
        def ours():  # flags defined by a module of this project (TensorFlow defines its own at import)
            return sorted(name for module, defined in flags.FLAGS.flags_by_module_dict().items()
                          if "mimamo_tf" in module or "data_prep" in module for name in map(str, defined))
        before = dict(env=os.environ.get("TF_CPP_MIN_LOG_LEVEL"), fd2=os.fstat(2).st_ino,
                      verbosity=logging.get_verbosity(), flags=ours())
        for name in {libraries!r}:
            importlib.import_module(name)
        after = dict(env=os.environ.get("TF_CPP_MIN_LOG_LEVEL"), fd2=os.fstat(2).st_ino,
                     verbosity=logging.get_verbosity(), flags=ours())
        marker = os.environ.get("{cli_startup.QUIET_MARKER}")
        print(json.dumps(dict(same=before == after, before=before, after=after, marker=marker)))
    """
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", cli_startup.QUIET_MARKER)}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["same"] and report["marker"] is None, report
    # TensorFlow's own start-up lines reach the user's stderr as usual: nothing was hidden.
    assert "oneDNN custom operations" in result.stderr or "cuda" in result.stderr.lower()


@pytest.mark.parametrize("orig_argv, expected", [
    (["python3", "-m", "mimamo_tf.train", "--flagfile=x"], True),
    (["python3", "-u", "-m", "data_prep.prepare"], True),
    (["python3", "-mmimamo_tf.bench", "phase"], True),
    (["/venv/bin/python", "/venv/bin/mimamo-predict", "--help"], True),
    (["python3", "-m", "pytest", "tests"], False),
    (["python3", "-c", "import mimamo_tf"], False),
    (["python3", "notebook_script.py"], False),
    (["python3"], False),
])
def test_started_as_command_reads_the_interpreter_command_line(orig_argv, expected):
    assert cli_startup.started_as_command(orig_argv, environ={}) is expected
    # Worker processes spawned by a command inherit the marker.
    assert cli_startup.started_as_command(orig_argv, environ={cli_startup.QUIET_MARKER: "1"}) is True


@pytest.mark.slow
@pytest.mark.parametrize("command", ["predict", "train"])
def test_console_scripts_help_shows_the_docstring_and_the_flags(command):
    script = pathlib.Path(sys.executable).parent / console_script(command)
    if not script.exists():
        pytest.skip(f"{script} is not installed (pip install -e . installs the console scripts)")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=300)
    text = result.stdout + result.stderr  # (absl's --help exits with 1 after printing the help)
    assert f"python -m mimamo_tf.{command}" in text  # the command's docstring, not a bare USAGE line
    expected_flag = {"predict": "--input", "evaluate": "--split", "export": "--export_dir", "train": "--window"}[command]
    assert expected_flag in text
    # TensorFlow's C++ start-up lines are hidden for the project's commands.
    assert "oneDNN custom operations" not in text and "absl::InitializeLog" not in text


@pytest.mark.slow
@pytest.mark.parametrize("arguments, message", [
    (["mimamo_tf.phase_demo", "--video=/missing.mp4"], "mimamo_tf.phase_demo: missing file: --video=/missing.mp4"),
    (["mimamo_tf.export", "--model_dir=/missing", "--export_dir=/tmp/x"], "no flags.cfg: not a training run"),
    (["mimamo_tf.predict", "--model=/missing", "--input=/missing.mp4", "--output_dir=/tmp/x"],
     "--input=/missing.mp4: no such file or folder"),
    (["mimamo_tf.report", "a=/missing/metrics.json"], "cannot read metrics"),
])
def test_bad_input_is_one_line_and_exit_code_2(arguments, message):
    result = subprocess.run([sys.executable, "-m", *arguments], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.slow
def test_unexpected_positional_arguments_are_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "mimamo_tf.evaluate", "extra"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2 and "unexpected arguments ['extra']" in result.stderr


def test_a_flag_that_cannot_be_parsed_exits_with_the_bad_input_code():
    """absl's own parser exits with 1, the code of "some inputs failed"; the commands' parser with 2."""
    from absl import flags

    from mimamo_tf.command_line import EXIT_BAD_INPUT, parse_flags

    flag_values = flags.FlagValues()
    flags.DEFINE_integer("frames", 1, "", flag_values=flag_values)
    assert parse_flags(["command", "--frames=3", "rest"], flag_values) == ["command", "rest"]
    for argv in (["command", "--frame=3"], ["command", "--frames=three"]):
        with pytest.raises(SystemExit) as exit_:
            parse_flags(argv, flag_values)
        assert exit_.value.code == EXIT_BAD_INPUT


@pytest.mark.slow
def test_evaluate_help_lists_its_own_flags_first_and_accepts_every_training_flag():
    """51 flags, most of them training-only: --help lists evaluate's own and the run's settings it reads;
    the training flags a run's flags.cfg holds are still defined (and listed by --helpfull)."""
    from absl import flags

    from mimamo_tf import evaluate

    result = subprocess.run([sys.executable, "-m", "mimamo_tf.evaluate", "--helpshort"], capture_output=True,
                            text=True, timeout=300)
    listed = set(re.findall(r"^  --(?:\[no\])?(\w+):", result.stdout + result.stderr, re.MULTILINE))
    flag_values = flags.FlagValues()
    evaluate.define_flags(flag_values)
    own = {name for name in flag_values if name not in config_lib.FLAG_NAMES and name != "config"}
    assert own <= listed and set(evaluate.KEY_FLAGS) == listed, listed
    assert {"split", "checkpoint", "plots", "max_plots", "data_dir", "model_dir"} <= listed
    assert not {"learning_rate", "momentum", "gru_units", "epochs"} & listed
    assert set(config_lib.FLAG_NAMES) <= set(flag_values)


def test_every_bad_input_error_of_the_library_is_an_input_error_with_its_builtin_base():
    from mimamo_tf.config import ConfigError
    from mimamo_tf.data.shards import DataError
    from mimamo_tf.errors import InputError, ItemError
    from mimamo_tf.inference.batch_prediction import VideoInputError
    from mimamo_tf.inference.runners import PredictError
    from mimamo_tf.models.backbone import BackboneError
    from mimamo_tf.models.backbones.vggface2_resnet50 import VGGFaceWeightsError
    from mimamo_tf.runs import RunError
    from mimamo_tf.serving.face_model import ExportError
    from mimamo_tf.serving.model_card import ModelCardError
    from mimamo_tf.video import VideoReadError

    for error in (ConfigError, DataError, PredictError, BackboneError, VGGFaceWeightsError, RunError, ExportError,
                  ModelCardError, VideoInputError):
        assert issubclass(error, InputError) and issubclass(error, ValueError), error
    # Callers that caught OSError for unreadable videos still do.
    assert issubclass(VideoReadError, InputError) and issubclass(VideoReadError, OSError)
    assert ConfigError("x").kind == "configuration error" and DataError("x").kind == "data error"
    # One item that failed (recorded, the job goes on) is the other kind: never a bad-input error.
    assert issubclass(ItemError, ValueError) and not issubclass(ItemError, InputError)

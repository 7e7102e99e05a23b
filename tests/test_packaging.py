"""The wheel: it ships the flagfiles inside the package, and an install without the source tree finds
them (``study --preset=paper``) through importlib.resources."""

import pathlib
import subprocess
import sys
import zipfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: the venv's setuptools builds it, so nothing is downloaded.
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                             "-q", "-w", str(out)], capture_output=True, text=True, timeout=300)
    if result.returncode != 0 and "No module named" in result.stderr and "setuptools" in result.stderr:
        pytest.skip("setuptools is not installed in this environment: the wheel cannot be built offline")
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = out.glob("mimamo_tf-*.whl")
    return path


@pytest.mark.slow
def test_the_wheel_holds_the_configs_and_an_install_without_the_source_tree_reads_them(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    expected = {f"mimamo_tf/configs/{name}" for name in ("affwild.cfg", "affwild2.cfg", "omg.cfg", "demo.cfg",
                                                          "smoke.cfg")}
    assert expected <= names, sorted(n for n in names if "configs" in n)
    assert not any(name.startswith("tests/") for name in names)
    # The unpacked wheel first on the path (as an installed package is), run from a directory that
    # holds no configs/ folder.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(tmp_path / "site"), "PATH": str(pathlib.Path(sys.executable).parent)}
    code = ("import mimamo_tf, pathlib; from mimamo_tf import config; from mimamo_tf.studies import presets; "
            "path = presets.get('paper').flagfile; print(pathlib.Path(mimamo_tf.__file__).parent); print(path); "
            "print(config.from_flagfile(path).optimization.epochs)")
    result = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    package, flagfile, epochs = result.stdout.strip().splitlines()[-3:]
    assert package == str(tmp_path / "site" / "mimamo_tf")  # the wheel's copy, not the checkout
    assert flagfile == str(tmp_path / "site" / "mimamo_tf" / "configs" / "affwild2.cfg") and epochs == "25"
    result = subprocess.run([sys.executable, "-m", "mimamo_tf.study", "--preset=paper", "--help"], cwd=elsewhere,
                            capture_output=True, text=True, env=env, timeout=300)
    assert "python -m mimamo_tf.study" in result.stdout + result.stderr and "--preset" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    # --config names a packaged flagfile from any directory: smoke.cfg asks for float32 (the default is
    # auto), which the run's first line reports before the (missing) data stops it.
    result = subprocess.run([sys.executable, "-m", "mimamo_tf.train", "--config=smoke", "--data_dir=no_data",
                             f"--model_dir={tmp_path / 'run'}"], cwd=elsewhere, capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.stdout.startswith("precision: float32 — as --mixed_precision asks"), result.stdout + result.stderr
    assert result.returncode == 2 and "no_data" in result.stderr, result.stderr[-3000:]

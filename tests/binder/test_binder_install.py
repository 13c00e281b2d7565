"""Binder's install steps, run for real in a fresh virtual environment.

repo2docker needs Docker, which the test machines lack, so this runs what it would run:
a virtual environment with the Python that ``binder/runtime.txt`` names, then
``binder/postBuild`` from a copy of the repository's root, then lesson 01 in fast mode
in a kernel of that environment. It takes a few minutes (TensorFlow is installed), so
it runs only through ``make test-binder`` (``COURSE_BINDER_TEST=1``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"

pytestmark = pytest.mark.skipif(
    os.environ.get("COURSE_BINDER_TEST") != "1",
    reason="builds a fresh environment (minutes); run it with `make test-binder`")


def _runtime_python() -> str:
    """The interpreter that binder/runtime.txt asks for, e.g. ``python3.11``."""
    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(3\.\d+)", runtime)
    assert match, f"binder/runtime.txt must read python-3.X; it reads {runtime!r}"
    executable = shutil.which(f"python{match.group(1)}")
    if executable is None:
        pytest.skip(f"python{match.group(1)} (from binder/runtime.txt) is not on this machine")
    return executable


def _copy_of_the_repository(destination: Path) -> Path:
    """The files git would check out (tracked and untracked, not ignored), copied."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


@pytest.fixture(scope="module")
def binder_environment(tmp_path_factory) -> tuple[Path, Path]:
    """(repository copy, venv) after running binder/postBuild as repo2docker would."""
    base = tmp_path_factory.mktemp("binder")
    repository = _copy_of_the_repository(base / "repo")
    venv = base / "venv"
    subprocess.run([_runtime_python(), "-m", "venv", str(venv)], check=True)
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    environment["PATH"] = f"{venv / 'bin'}{os.pathsep}{environment['PATH']}"
    result = subprocess.run(["bash", str(repository / "binder" / "postBuild")],
                            cwd=repository, env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return repository, venv


def test_post_build_installs_the_course_and_its_front_ends(binder_environment):
    repository, venv = binder_environment
    python = venv / "bin" / "python"
    script = ("import course_utils, tensorflow, jupyterlab, notebook, ipywidgets\n"
              "print(course_utils.__file__)\n"
              "print(notebook.__version__)")
    result = subprocess.run([str(python), "-c", script], cwd="/", capture_output=True,
                            text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    location, notebook_version = result.stdout.split()[-2:]
    assert "site-packages" in location, f"course_utils came from {location}, not the install"
    assert int(notebook_version.split(".")[0]) >= 7, "Binder should offer Notebook 7"


def test_lesson_01_runs_in_the_binder_environment(binder_environment):
    repository, venv = binder_environment
    lesson = repository / "notebooks" / "01_autoencoder_baseline.ipynb"
    executed = repository / "lesson01_executed.ipynb"
    environment = {**os.environ, "COURSE_FAST": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
                   "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    environment.pop("PYTHONPATH", None)
    result = subprocess.run(
        [str(venv / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
         "--ExecutePreprocessor.timeout=900", f"--output={executed}", str(lesson)],
        cwd=lesson.parent, env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    notebook = nbformat.read(executed, as_version=4)
    errors = [output for cell in notebook.cells for output in cell.get("outputs", [])
              if output.get("output_type") == "error"]
    assert not errors, errors
    printed = "".join(output.get("text", "") for cell in notebook.cells
                      for output in cell.get("outputs", []))
    assert "FAST mode" in printed, "the lesson did not run in fast mode"

"""Each lesson's setup cell installs the course on Colab, for real, and nothing else.

Runs in the Colab-like environment only (``COURSE_COLAB_ENV=1``, ``make test-colab``; see
conftest.py), because it uninstalls and reinstalls the course there. For each lesson it
uninstalls ``vae-course``, then runs the lesson's setup cell, as stored in the notebook, in
a fresh Python process started in a folder outside the repository:

1. as on a laptop (no Colab or Kaggle variables): the cell prints nothing and installs
   nothing;
2. as on Colab (``COLAB_RELEASE_TAG`` set), with ``COURSE_PACKAGE`` pointing at a local
   git repository of this checkout at the release tag (``course_git_repo``), which pip
   installs exactly as it installs ``git+https://github.com/...@TAG`` on Colab.

Afterwards ``import course_utils`` must work in a new process outside the repository,
from the installed release, and ``pip freeze`` must be the same as before apart from the
course. The course stays installed at the end: the rest of the Colab suite imports it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"]).resolve()
sys.path.insert(0, str(ROOT / "tools"))

from sync_setup import is_setup_cell, lesson_paths  # noqa: E402

LESSONS = lesson_paths(ROOT)
DISTRIBUTION = "vae-course"
PLATFORM_VARIABLES = ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE", "COURSE_PACKAGE",
                      "PYTHONPATH")
COLAB = {"COLAB_RELEASE_TAG": "release-colab-external_20260819-060055_RC00"}
PIP_TIMEOUT = 900  # seconds: a git clone and a build, on a busy machine


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _environment(**variables: str) -> dict[str, str]:
    """This process's environment without any platform variable, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if k not in PLATFORM_VARIABLES}
    return {**env, "PYTHONNOUSERSITE": "1", **variables}


def _python(code: str, workdir: Path, **variables: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a new process of this environment's Python, in ``workdir``."""
    return subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True,
                          text=True, env=_environment(**variables), timeout=PIP_TIMEOUT)


def _pip(workdir: Path, *args: str) -> str:
    """Run this environment's pip; return its output, failing the test if pip fails."""
    result = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check",
                             *args], cwd=workdir, capture_output=True, text=True,
                            env=_environment(), timeout=PIP_TIMEOUT)
    assert result.returncode == 0, f"pip {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def _freeze(workdir: Path) -> dict[str, str]:
    """``pip freeze --all`` as ``{canonical name: line}``, without the course itself."""
    packages = {}
    for line in _pip(workdir, "freeze", "--all").splitlines():
        if line.strip() and not line.startswith("#"):
            name = _canonical(re.split(r"\s*(?:==|@)\s*", line.removeprefix("-e "), maxsplit=1)[0])
            packages[name] = line
    packages.pop(DISTRIBUTION, None)
    return packages


def _course_installed(workdir: Path) -> dict | None:
    """The installed course's ``direct_url.json`` (where pip got it), or None."""
    code = ("import importlib.metadata as m\ntry:\n"
            f"    print(m.distribution({DISTRIBUTION!r}).read_text('direct_url.json'))\n"
            "except m.PackageNotFoundError:\n    print('null')")
    result = _python(code, workdir)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _setup_cell(path: Path) -> str:
    """The lesson's setup cell source, as stored: it must be the first code cell."""
    notebook = nbformat.read(path, as_version=4)
    first = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert is_setup_cell(first), f"{path.name}: the first code cell is not the setup cell"
    assert "COURSE_PACKAGE" in first.source
    return first.source


@pytest.fixture(scope="module")
def course_package(course_git_repo: tuple[Path, str]) -> str:
    """The pip requirement of the local release: ``vae-course @ git+file://...@TAG``."""
    path, tag = course_git_repo
    return f"{DISTRIBUTION} @ git+{Path(path).resolve().as_uri()}@{tag}"


@pytest.fixture
def outside(tmp_path: Path, course_package: str) -> Iterator[Path]:
    """An empty folder outside the repository; afterwards the course is installed again.

    If a test failed before its setup cell reinstalled the course, the teardown installs
    it from the local release, so that the rest of the Colab suite still finds it.
    """
    assert ROOT not in tmp_path.resolve().parents
    yield tmp_path
    if _course_installed(tmp_path) is None:
        _pip(tmp_path, "install", "--quiet", course_package)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name[:2])
def test_setup_cell_installs_the_course_on_colab_and_nothing_else(
        lesson: Path, outside: Path, course_package: str, course_git_repo: tuple[Path, str]):
    source = _setup_cell(lesson)
    _pip(outside, "uninstall", "--quiet", "-y", DISTRIBUTION)
    assert _course_installed(outside) is None
    missing = _python("import course_utils", outside)
    assert "No module named 'course_utils'" in missing.stderr, \
        "course_utils is importable without the course installed: the test would prove nothing"
    before = _freeze(outside)

    # On a laptop the cell does nothing, even with COURSE_PACKAGE set.
    elsewhere = _python(source, outside, COURSE_PACKAGE=course_package)
    assert (elsewhere.returncode, elsewhere.stdout, elsewhere.stderr) == (0, "", "")
    assert _course_installed(outside) is None and _freeze(outside) == before

    # On Colab it installs the release that COURSE_PACKAGE names, and the lesson's next
    # cell, in the same process as in a notebook's kernel, imports it.
    kernel = source + "\nimport course_utils\nprint(course_utils.__file__)"
    colab = _python(kernel, outside, COURSE_PACKAGE=course_package, **COLAB)
    assert colab.returncode == 0, colab.stdout + colab.stderr
    installing, imported_from = colab.stdout.splitlines()
    assert (installing, colab.stderr) == (f"Installing {course_package}", "")
    assert SITE_PACKAGES in Path(imported_from).resolve().parents, imported_from
    origin = _course_installed(outside)
    repository, tag = course_git_repo
    assert origin is not None, "the setup cell ran on Colab but installed no course"
    assert origin["url"] == Path(repository).resolve().as_uri()
    assert origin["vcs_info"]["requested_revision"] == tag
    assert not origin.get("dir_info", {}).get("editable", False)

    after = _freeze(outside)
    changed = {name: (before.get(name), after.get(name)) for name in before.keys() | after
               if before.get(name) != after.get(name)}
    assert not changed, f"installing the course changed other packages {{name: (before, " \
                        f"after)}}: {changed}"

    # And a new process, outside the repository, imports it too.
    imported = _python("import course_utils, course_utils.data\n"
                       "print(course_utils.__file__)", outside)
    assert imported.returncode == 0, imported.stderr[-3000:]
    location = Path(imported.stdout.strip()).resolve()
    assert SITE_PACKAGES in location.parents, f"imported from {location}, not {SITE_PACKAGES}"

    # Run again, as when a learner opens the next lesson in the same runtime: no install.
    again = _python(source, outside, COURSE_PACKAGE=course_package + "-unused", **COLAB)
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")


def test_on_kaggle_a_failed_install_shows_pips_reason_and_changes_nothing(
        outside: Path, course_git_repo: tuple[Path, str]):
    source = _setup_cell(LESSONS[0])
    _pip(outside, "uninstall", "--quiet", "-y", DISTRIBUTION)
    before = _freeze(outside)
    repository, _ = course_git_repo
    bad = f"{DISTRIBUTION} @ git+{Path(repository).resolve().as_uri()}@no-such-tag"
    kaggle = _python(source, outside, COURSE_PACKAGE=bad, KAGGLE_KERNEL_RUN_TYPE="Interactive")
    assert kaggle.returncode != 0
    assert kaggle.stdout == f"Installing {bad}\n"
    assert "RuntimeError: pip could not install the course:" in kaggle.stderr
    assert "no-such-tag" in kaggle.stderr, "pip's own reason is missing"
    assert _course_installed(outside) is None and _freeze(outside) == before

"""Shared pieces of the tests that run only in the Colab-like environment.

Every test under ``tests/colab/`` changes or inspects the installed packages, so it runs
only where ``COURSE_COLAB_ENV=1`` says that this is the disposable Colab-like environment
(``make test-colab`` sets it for ``.venv-colab``); elsewhere it is skipped.

Fixtures
--------
course_git_repo
    ``(path, tag)``: a local git repository of the current checkout (committed tree plus
    uncommitted changes and new files), tagged with ``[tool.vae-course] tag`` from
    pyproject.toml, so that ``pip install "vae-course @ git+file://<path>@<tag>"`` installs
    the course exactly as Colab installs it from the real repository's URL.
pip_without_course
    Runs this environment's pip as if the course were not installed (Colab's state before
    a lesson's setup cell runs), without uninstalling anything.

Run as a script, this file builds the repository for ``make test-colab`` and prints the
pip URL: ``python tests/colab/conftest.py DEST``.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
COLAB_ENV_VARIABLE = "COURSE_COLAB_ENV"
DISTRIBUTION = "vae-course"

# A fixed identity, so that building the repository never depends on the user's git setup.
_GIT = ["git", "-c", "user.name=vae-course tests", "-c", "user.email=tests@invalid",
        "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "core.hooksPath=/dev/null",
        "-c", "init.defaultBranch=main"]


def in_colab_env() -> bool:
    """Whether ``COURSE_COLAB_ENV=1``: the tests may change this environment's packages."""
    return os.environ.get(COLAB_ENV_VARIABLE) == "1"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip every test under tests/colab/ outside the Colab-like environment."""
    if not in_colab_env() and HERE in Path(item.path).resolve().parents:
        pytest.skip(f"runs only in the Colab-like environment, because it changes installed "
                    f"packages: make test-colab (sets {COLAB_ENV_VARIABLE}=1 in .venv-colab)")


# ------------------------------------------------------------------ the local repository

def course_tag(root: Path = ROOT) -> str:
    """The release tag the Colab setup cells install, from pyproject's ``[tool.vae-course]``.

    Parameters
    ----------
    root : pathlib.Path
        The checkout whose pyproject.toml to read.

    Returns
    -------
    str
        For example ``"v0.2.0"``.
    """
    settings = tomllib.loads((root / "pyproject.toml").read_text()).get("tool", {})
    tag = settings.get("vae-course", {}).get("tag")
    if not isinstance(tag, str) or not tag:
        raise ValueError(f"{root / 'pyproject.toml'} must set [tool.vae-course] tag = \"vX.Y.Z\" "
                         f"(the tag Colab installs); found {tag!r}.")
    return tag


def checkout_files(root: Path = ROOT) -> list[str]:
    """The files ``git add -A`` would commit: tracked ones still present, plus new ones.

    Parameters
    ----------
    root : pathlib.Path
        A git checkout.

    Returns
    -------
    list of str
        Paths relative to ``root``; files ignored by .gitignore are left out.
    """
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], cwd=root, capture_output=True, check=True)
    names = sorted(set(filter(None, listing.stdout.decode().split("\0"))))
    return [name for name in names
            if (root / name).is_file() or (root / name).is_symlink()]


def build_course_repo(destination: Path, root: Path = ROOT) -> tuple[Path, str]:
    """Make a git repository of the current checkout, tagged as a Colab release would be.

    The repository holds one commit of the working tree (committed files with their
    uncommitted changes, and new files that are not ignored), tagged with
    :func:`course_tag`. It works the same in a developer's checkout and in a clean clone.

    Parameters
    ----------
    destination : pathlib.Path
        Where to create it; an existing folder there is replaced.
    root : pathlib.Path
        The checkout to copy.

    Returns
    -------
    tuple of (pathlib.Path, str)
        The repository's absolute path and the tag.
    """
    destination = Path(destination).resolve()
    tag = course_tag(root)
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    for name in checkout_files(root):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target, follow_symlinks=False)
    for command in (["init", "-q"], ["add", "-A"],
                    ["commit", "-q", "-m", f"vae-course {tag}, from {root}"], ["tag", tag]):
        subprocess.run(_GIT + command, cwd=destination, check=True, capture_output=True)
    return destination, tag


def pip_url(path: Path, tag: str) -> str:
    """The pip requirement URL of a local repository at a tag: ``git+file:///...@tag``."""
    return f"git+{Path(path).resolve().as_uri()}@{tag}"


@pytest.fixture(scope="session")
def course_git_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``(path, tag)`` of a local git repository of the current checkout (see the module)."""
    return build_course_repo(tmp_path_factory.mktemp("course-git") / "vae-course")


# ------------------------------------------------------------- pip, course not installed

def _course_entries(site_packages: Path) -> set[str]:
    """Top-level names in ``site_packages`` that belong to the installed course, if any."""
    site_packages = site_packages.resolve()
    entries = set()
    files = [file for distribution in importlib.metadata.distributions(path=[str(site_packages)])
             if distribution.metadata["Name"] == DISTRIBUTION for file in distribution.files or []]
    for file in files:
        path = Path(file.locate()).resolve()
        if site_packages in path.parents:
            entries.add(path.relative_to(site_packages).parts[0])
    return entries


def run_pip_without_course(args: Sequence[str], workdir: Path) -> subprocess.CompletedProcess:
    """Run this environment's pip with the installed course hidden from it.

    pip sees a copy of site-packages made of symbolic links to every entry except the
    course's own (its package and ``.dist-info``), so it answers as in Colab before the
    course is installed, while the real environment stays untouched.

    Parameters
    ----------
    args : sequence of str
        pip's arguments, e.g. ``["install", "--dry-run", ...]``.
    workdir : pathlib.Path
        An empty folder for the view of site-packages.

    Returns
    -------
    subprocess.CompletedProcess
        With ``stdout`` and ``stderr`` as text.
    """
    site_packages = Path(sysconfig.get_paths()["purelib"])
    hidden = _course_entries(site_packages)
    view = Path(workdir) / "site-packages"
    view.mkdir(parents=True)
    for entry in site_packages.iterdir():
        if entry.name not in hidden and not entry.name.startswith("__editable__"):
            (view / entry.name).symlink_to(entry)
    # -S: no site-packages and no .pth files; the view takes site-packages' place. The
    # current folder leaves sys.path too (a checkout's vae_course.egg-info would count).
    runner = ("import sys; sys.path[:] = [p for p in sys.path if p] + [sys.argv.pop(1)]; "
              "from pip._internal.cli.main import main; sys.exit(main())")
    return subprocess.run([sys.executable, "-S", "-c", runner, str(view), *args],
                          cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, "PYTHONNOUSERSITE": "1", "PYTHONPATH": ""})


@pytest.fixture
def pip_without_course(tmp_path: Path) -> Callable[[Sequence[str]], subprocess.CompletedProcess]:
    """A function running pip as in Colab before the course is installed (see the module)."""
    calls = iter(range(1_000_000))
    return lambda args: run_pip_without_course(args, tmp_path / f"pip-{next(calls)}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} DESTINATION\n(builds a tagged git repository of this "
                 f"checkout there and prints its pip URL)")
    print(pip_url(*build_course_repo(Path(sys.argv[1]))))

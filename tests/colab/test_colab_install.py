"""Installing the course on Colab adds the course and nothing else.

Runs in the Colab-like environment only (``make test-colab``; see conftest.py): Python
3.13 with Colab's versions from requirements/colab.txt, into which make has installed the
course from a local git repository, as a lesson's setup cell installs it on Colab.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import sys
import sysconfig
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLAB_REQUIREMENTS = ROOT / "requirements" / "colab.txt"
COLAB_PART = "# ---- Part 1"
EXTRA_PART = "# ---- Part 2"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(part: str) -> dict[str, str]:
    """``{canonical name: version}`` of one part of requirements/colab.txt."""
    text = COLAB_REQUIREMENTS.read_text()
    assert COLAB_PART in text and EXTRA_PART in text, "colab.txt lost its part headings"
    pins, section = {}, None
    for line in text.splitlines():
        if line.startswith((COLAB_PART, EXTRA_PART)):
            section = "colab" if line.startswith(COLAB_PART) else "extra"
        elif section == part and line.strip() and not line.lstrip().startswith("#"):
            name, sep, version = line.strip().partition("==")
            assert sep, f"requirements/colab.txt line {line!r} is not name==version"
            pins[_canonical(name)] = version
    return pins


def _site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"]).resolve()


def _installed() -> dict[str, str]:
    """``{canonical name: version}`` of site-packages (a checkout's egg-info does not count)."""
    return {_canonical(d.metadata["Name"]): d.version
            for d in importlib.metadata.distributions(path=[str(_site_packages())])}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_environment_has_colabs_versions_and_nothing_else():
    """After make installed the course, every package is still Colab's, and none was added."""
    assert sys.version_info[:2] == (3, 13), f"Colab runs Python 3.13; this is {sys.version}"
    colab, extra = _pins("colab"), _pins("extra")
    assert {"tensorflow", "keras", "numpy", "ipywidgets"} <= set(colab)
    assert not set(colab) & set(extra), "a package is in both parts of colab.txt"
    installed = _installed()
    changed = {name: (version, installed.get(name)) for name, version in colab.items()
               if installed.get(name) != version}
    assert not changed, ("these packages are not at Colab's version {name: (Colab's, "
                         f"installed)}}: {changed}. Rebuild: rm -r .venv-colab; make test-colab")
    added = set(installed) - set(colab) - set(extra) - {"vae-course"}
    assert not added, f"packages Colab does not have were installed: {sorted(added)}"


def test_the_course_is_imported_from_site_packages_not_the_checkout():
    import course_utils

    site_packages = _site_packages()
    loaded = {name: Path(module.__file__).resolve() for name, module in list(sys.modules.items())
              if name.split(".")[0] == "course_utils" and getattr(module, "__file__", None)}
    outside = {name: str(path) for name, path in loaded.items()
               if site_packages not in path.parents}
    assert not outside, (f"course modules were imported from outside {site_packages}: "
                         f"{outside}. Run this env's own pytest (.venv-colab/bin/pytest), not "
                         "python -m pytest, which puts the checkout first on sys.path.")
    assert course_utils.__version__ == _project()["version"]


def test_the_course_was_installed_from_the_git_tag_not_editable():
    """make test-colab installs as Colab does: pip install "vae-course @ git+...@tag"."""
    distribution = next((d for d in importlib.metadata.distributions(path=[str(_site_packages())])
                         if _canonical(d.metadata["Name"]) == "vae-course"), None)
    assert distribution is not None, "the course is not installed here: run make test-colab"
    direct_url = json.loads(distribution.read_text("direct_url.json") or "{}")
    tag = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["vae-course"]["tag"]
    assert direct_url.get("vcs_info", {}).get("vcs") == "git", direct_url
    assert direct_url["vcs_info"].get("requested_revision") == tag, direct_url
    assert not direct_url.get("dir_info", {}).get("editable", False), direct_url


def test_a_dry_run_install_from_the_git_tag_adds_only_the_course(
        course_git_repo, pip_without_course, tmp_path):
    path, tag = course_git_repo
    report_file = tmp_path / "report.json"
    url = f"git+{path.as_uri()}@{tag}"
    result = pip_without_course(["install", "--dry-run", "--disable-pip-version-check",
                                 "--report", str(report_file), f"vae-course @ {url}"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(report_file.read_text())
    installs = {_canonical(item["metadata"]["name"]): item for item in report["install"]}
    assert list(installs) == ["vae-course"], (
        f"installing the course on Colab would also install or replace "
        f"{sorted(set(installs) - {'vae-course'})}; pip said:\n{result.stdout[-3000:]}")
    course = installs["vae-course"]
    assert course["metadata"]["version"] == _project()["version"]
    assert course["download_info"]["url"] == path.as_uri()
    assert course["download_info"]["vcs_info"]["requested_revision"] == tag
    existing = set(_installed()) - {"vae-course"}
    assert not set(installs) & existing, "the install would replace a package of Colab's"
    assert report["environment"]["python_version"].startswith("3.13")


def test_the_local_repository_holds_the_checkout_at_the_tag(course_git_repo):
    import subprocess

    path, tag = course_git_repo
    files = subprocess.run(["git", "ls-tree", "-r", "--name-only", tag], cwd=path, check=True,
                           capture_output=True, text=True).stdout.split()
    assert "pyproject.toml" in files and "course_utils/__init__.py" in files
    assert "tests/colab/conftest.py" in files          # new files count before they are committed
    assert not any(name.startswith((".venv", "build/")) for name in files)
    shipped = (path / "course_utils" / "explorer" / "widget.py").read_bytes()
    assert shipped == (ROOT / "course_utils" / "explorer" / "widget.py").read_bytes()

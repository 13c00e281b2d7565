"""tools/sync_setup.py: the lessons' Colab/Kaggle setup cells and badges, and their logic."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
import sync_setup
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from sync_setup import (
    SETUP_CELL_ID,
    Release,
    is_setup_cell,
    read_release,
    setup_cell_source,
    sync,
    sync_readme,
)

ROOT = Path(__file__).resolve().parents[1]

LESSONS = sync_setup.lesson_paths(ROOT)
TAG = read_release(ROOT / "pyproject.toml").tag
PLATFORM_VARIABLES = ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE", "COURSE_PACKAGE")


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of what the tool reads and writes: pyproject.toml, README.md, the lessons."""
    (tmp_path / "notebooks").mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    for path in LESSONS:
        shutil.copy(path, tmp_path / "notebooks" / path.name)
    return tmp_path


def _set_tag(root: Path, tag: str) -> None:
    pyproject = root / "pyproject.toml"
    text, count = re.subn(r'(?m)^tag = ".*"$', f'tag = "{tag}"', pyproject.read_text())
    assert count == 1, "pyproject.toml's [tool.vae-course] has no tag line"
    pyproject.write_text(text)


def _files(root: Path) -> dict[str, str]:
    paths = [root / "README.md", *sorted((root / "notebooks").glob("*.ipynb"))]
    return {path.name: path.read_text() for path in paths}


def _setup_cells(path: Path) -> list[tuple[int, nbformat.NotebookNode]]:
    notebook = nbformat.read(path, as_version=4)
    return [(i, cell) for i, cell in enumerate(notebook.cells) if is_setup_cell(cell)]


# The repository itself ------------------------------------------------------------------

def test_repository_is_in_sync_with_pyproject():
    report = sync(ROOT, check=True)
    assert report == [], "run: python tools/sync_setup.py\n" + "\n".join(report)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_lesson_opens_with_title_badges_then_the_setup_cell(path):
    notebook = nbformat.read(path, as_version=4)
    release = read_release(ROOT / "pyproject.toml")
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0].source == setup_cell_source(release)
    assert code[0].id == SETUP_CELL_ID and not code[0].outputs
    assert code[0].execution_count is None
    assert f"git+{release.repository}@{release.tag}" in code[0].source
    title = notebook.cells[0].source.split("\n")
    assert title[0].startswith(("# Lesson ", "# Appendix to lesson ")) and title[1] == ""
    assert title[2].startswith("[![Open In Colab]") and f"/blob/{release.tag}/" in title[2]
    assert f"notebooks/{path.name}" in title[2]


def test_student_versions_keep_the_setup_cell():
    from make_student import student_version

    for path in LESSONS:
        if not path.name[2] == "_":
            continue  # appendices have no exercises and no student version
        student = student_version(nbformat.read(path, as_version=4))
        assert [cell.source for _, cell in _setup_cells(path)] == \
            [cell.source for cell in student.cells if is_setup_cell(cell)]


# The tool on copies ---------------------------------------------------------------------

def test_sync_is_idempotent_and_changes_nothing_when_in_sync(repo_copy):
    before = _files(repo_copy)
    assert sync(repo_copy) == []
    assert sync(repo_copy) == []
    assert _files(repo_copy) == before


def test_a_new_tag_is_reported_then_written_everywhere(repo_copy, capsys):
    before = {path.name: nbformat.read(path, as_version=4) for path in LESSONS}
    _set_tag(repo_copy, "v9.9.9")
    files = _files(repo_copy)
    assert sync_setup.main(["--check", "--root", str(repo_copy)]) == 1
    printed = capsys.readouterr().out
    assert _files(repo_copy) == files, "--check changed a file"
    for path in LESSONS:
        assert f"notebooks/{path.name}: setup cell out of date" in printed
        assert f"notebooks/{path.name}: badges under the title" in printed
    assert "README.md: badge table out of date" in printed

    assert sync_setup.main(["--root", str(repo_copy)]) == 0
    assert sync(repo_copy, check=True) == []
    block = (repo_copy / "README.md").read_text().split(sync_setup.README_START)[1]
    block = block.split(sync_setup.README_END)[0]
    assert block.count("/blob/v9.9.9/notebooks/") == 2 * len(LESSONS)
    assert f"/blob/{TAG}/" not in block
    for path in LESSONS:
        old, new = before[path.name], nbformat.read(repo_copy / "notebooks" / path.name, 4)
        assert len(new.cells) == len(old.cells)
        for old_cell, new_cell in zip(old.cells, new.cells):
            if is_setup_cell(old_cell):
                assert new_cell.id == old_cell.id
                assert "@v9.9.9" in new_cell.source and "@v9.9.9" not in old_cell.source
            elif new_cell is not new.cells[0]:
                assert new_cell == old_cell  # outputs, ids and metadata untouched
        assert "/blob/v9.9.9/notebooks/" in new.cells[0].source
        assert new.cells[0].source.count("[![Open In Colab]") == 1


def test_a_hand_edited_setup_cell_is_detected_in_that_lesson_only(repo_copy):
    path = repo_copy / "notebooks" / LESSONS[0].name
    text = path.read_text()
    assert text.count(f"@{TAG}") == 1  # in the setup cell; the badges say /blob/TAG/
    path.write_text(text.replace(f"@{TAG}", "@v0.0.0-hand-edited"))
    report = sync(repo_copy, check=True)
    assert report == [f"notebooks/{LESSONS[0].name}: setup cell out of date"]
    sync(repo_copy)
    assert sync(repo_copy, check=True) == []


def test_a_misplaced_or_doubled_setup_cell_is_moved_back(repo_copy):
    path = repo_copy / "notebooks" / LESSONS[0].name
    notebook = nbformat.read(path, as_version=4)
    (index, cell), = _setup_cells(path)
    notebook.cells.insert(index + 2, notebook.cells.pop(index))
    nbformat.write(notebook, path)
    assert sync(repo_copy, check=True) == [
        f"notebooks/{LESSONS[0].name}: setup cell is not the first code cell after the Setup "
        "heading"]
    sync(repo_copy)
    assert _setup_cells(path) == [(index, cell)]

    copy = nbformat.v4.new_code_cell(cell.source)
    notebook.cells.append(copy)
    nbformat.write(notebook, path)
    assert "2 setup cells instead of one" in sync(repo_copy)[0]
    assert _setup_cells(path) == [(index, cell)]


def test_a_new_lesson_gets_its_setup_cell_badges_and_readme_row(repo_copy):
    lesson = new_notebook(cells=[
        new_markdown_cell("# Lesson 07: Something new\n\n**Learning objectives.** ..."),
        new_markdown_cell("## Setup\n\nImports."),
        new_code_cell("%matplotlib inline\nimport numpy as np"),
        new_markdown_cell("## Summary"),
    ])
    path = repo_copy / "notebooks" / "07_something_new.ipynb"
    nbformat.write(lesson, path)
    assert sorted(sync(repo_copy, check=True)) == [
        "README.md: badge table out of date",
        "notebooks/07_something_new.ipynb: badges under the title",
        "notebooks/07_something_new.ipynb: setup cell missing",
    ]
    sync(repo_copy)
    cells = nbformat.read(path, as_version=4).cells
    assert [c.cell_type for c in cells] == ["markdown", "markdown", "code", "code", "markdown"]
    assert is_setup_cell(cells[2]) and cells[2].id == SETUP_CELL_ID
    assert cells[3].source == "%matplotlib inline\nimport numpy as np"
    assert cells[0].source.startswith("# Lesson 07: Something new\n\n[![Open In Colab]")
    assert cells[0].source.endswith("\n\n**Learning objectives.** ...")
    readme = (repo_copy / "README.md").read_text()
    assert "| [07 Something new](notebooks/07_something_new.ipynb) |" in readme
    assert f"/blob/{TAG}/notebooks/07_something_new.ipynb" in readme
    nbformat.validate(nbformat.read(path, as_version=4))
    assert sync(repo_copy, check=True) == []


def test_an_appendix_gets_its_setup_cell_and_a_readme_row_after_its_lesson(repo_copy):
    appendix = new_notebook(cells=[
        new_markdown_cell("# Appendix to lesson 02: Extra detail"),
        new_markdown_cell("## Setup"),
        new_code_cell("import numpy as np"),
    ])
    path = repo_copy / "notebooks" / "02a_extra_detail.ipynb"
    nbformat.write(appendix, path)
    sync(repo_copy)
    cells = nbformat.read(path, as_version=4).cells
    assert is_setup_cell(cells[2]) and cells[3].source == "import numpy as np"
    readme = (repo_copy / "README.md").read_text()
    row = "| [02a Appendix: Extra detail](notebooks/02a_extra_detail.ipynb) |"
    assert row in readme
    after_02 = readme.index("notebooks/02_elbo_derivation.ipynb) |")
    assert after_02 < readme.index(row) < readme.index("notebooks/03_dense_vae.ipynb) |")
    assert sync(repo_copy, check=True) == []


def test_a_lesson_without_a_setup_heading_gets_the_cell_after_its_title(repo_copy):
    path = repo_copy / "notebooks" / "07_bare.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("# Lesson 07: Bare"),
                                       new_code_cell("x = 1")]), path)
    sync(repo_copy)
    cells = nbformat.read(path, as_version=4).cells
    assert is_setup_cell(cells[1]) and cells[2].source == "x = 1"


def test_a_lesson_without_a_title_is_an_error(repo_copy):
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]),
                   repo_copy / "notebooks" / "07_untitled.ipynb")
    with pytest.raises(ValueError, match="07_untitled.ipynb.*Lesson NN"):
        sync(repo_copy, check=True)


def test_the_readme_block_goes_after_the_lesson_table_and_markers_must_match():
    text = "# Course\n\n| Lesson | What |\n| --- | --- |\n| 01 A | a |\n\nMore text.\n"
    new, report = sync_readme(text, "<!-- colab-badges:start -->\nX\n<!-- colab-badges:end -->")
    assert report == ["badge table missing"]
    assert new == ("# Course\n\n| Lesson | What |\n| --- | --- |\n| 01 A | a |\n\n"
                   "<!-- colab-badges:start -->\nX\n<!-- colab-badges:end -->\n\nMore text.\n")
    assert sync_readme(new, "<!-- colab-badges:start -->\nX\n<!-- colab-badges:end -->") == \
        (new, [])
    with pytest.raises(ValueError, match="expected one"):
        sync_readme("<!-- colab-badges:start -->\n", "")
    with pytest.raises(ValueError, match="no lesson table"):
        sync_readme("# Course\n", "")


def test_release_values_are_checked_before_they_are_written_into_code():
    release = Release("vae-course", "https://github.com/o/r.git", "v1.0")
    assert release.package == "vae-course @ git+https://github.com/o/r.git@v1.0"
    assert release.github == "o/r"
    assert sync_setup.colab_url(release, "01_a.ipynb") == \
        "https://colab.research.google.com/github/o/r/blob/v1.0/notebooks/01_a.ipynb"
    assert sync_setup.kaggle_url(release, "01_a.ipynb") == \
        "https://kaggle.com/kernels/welcome?src=https://github.com/o/r/blob/v1.0/notebooks/01_a.ipynb"
    with pytest.raises(ValueError, match="tag"):
        Release("vae-course", "https://github.com/o/r", 'v1"; import os')
    with pytest.raises(ValueError, match="repository"):
        Release("vae-course", "git@github.com:o/r", "v1")
    with pytest.raises(ValueError, match="GitHub only"):
        sync_setup.badges(Release("vae-course", "https://gitlab.com/o/r", "v1"), "01_a.ipynb")


# The setup cell's logic, with pip replaced by a recorder --------------------------------

class _Pip:
    """Stands in for subprocess.run: records the command, answers with ``returncode``."""

    def __init__(self, cell_source: str) -> None:
        self.calls: list[list[str]] = []
        self.returncode = 0
        self.cell_source = cell_source

    def __call__(self, command: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        self.calls.append(command)
        return subprocess.CompletedProcess(command, self.returncode, "", "ERROR: no network")

    def run_cell(self) -> None:
        """Execute the setup cell, as a kernel would, in a namespace of its own."""
        exec(compile(self.cell_source, "setup-cell", "exec"), {})


@pytest.fixture
def cell(monkeypatch):
    """Run the setup cell as on a machine without the course; return the pip recorder."""
    for name in PLATFORM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None
                        if name == "course_utils" else real_find_spec(name, *args))
    pip = _Pip(setup_cell_source(read_release(ROOT / "pyproject.toml")))
    monkeypatch.setattr(subprocess, "run", pip)
    return pip


def _expected_command(package: str) -> list[str]:
    return [sys.executable, "-m", "pip", "install", "--quiet", package]


def test_the_cell_does_nothing_and_prints_nothing_elsewhere(cell, capsys):
    cell.run_cell()
    assert cell.calls == [] and capsys.readouterr() == ("", "")


@pytest.mark.parametrize("platform", ["COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE",
                                      "google.colab"])
def test_on_colab_or_kaggle_the_cell_installs_the_tagged_release(cell, platform, monkeypatch,
                                                                 capsys):
    if platform == "google.colab":
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.setenv(platform, "release-or-run-type")
    cell.run_cell()
    release = read_release(ROOT / "pyproject.toml")
    assert cell.calls == [_expected_command(f"vae-course @ git+{release.repository}"
                                            f"@{release.tag}")]
    assert capsys.readouterr().out.startswith("Installing vae-course @ git+")


def test_course_package_overrides_what_the_cell_installs(cell, monkeypatch):
    monkeypatch.setenv("COLAB_RELEASE_TAG", "x")
    monkeypatch.setenv("COURSE_PACKAGE", "vae-course @ git+file:///tmp/fork@v1")
    cell.run_cell()
    assert cell.calls == [_expected_command("vae-course @ git+file:///tmp/fork@v1")]


def test_the_cell_installs_nothing_when_the_course_is_already_there(cell, monkeypatch):
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: object())
    cell.run_cell()
    assert cell.calls == []


def test_a_failed_install_stops_the_cell_with_pips_reason(cell, monkeypatch):
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    cell.returncode = 1
    with pytest.raises(RuntimeError, match="could not install the course:\nERROR: no network"):
        cell.run_cell()

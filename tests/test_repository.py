"""House rules of the repository, checked on every test run."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHECK = "# NBVAL_CHECK_OUTPUT"


def _requirement(line: str) -> tuple[str, str, str]:
    """Split 'name==version; marker' into (name, version, normalised marker)."""
    spec, _, marker = line.partition(";")
    name, _, version = spec.strip().partition("==")
    return name.strip().lower(), version.strip(), " ".join(marker.split())


def test_environment_yml_and_pyproject_name_the_same_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_section = next(item["pip"] for item in
                       yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
                       if isinstance(item, dict))
    conda_pins = {_requirement(line)[0]: _requirement(line) for line in pip_section
                  if not line.startswith("-e")}
    # environment.yml fixes python=3.11, so it must carry the pins pyproject gives 3.11.
    wanted = {}
    for line in project["dependencies"] + project["optional-dependencies"]["test"]:
        name, version, marker = _requirement(line)
        if 'python_version < "3.11"' in marker:
            continue
        wanted[name] = (name, version, marker.replace('python_version >= "3.11"', "").strip())
    for name, (_, version, marker) in wanted.items():
        assert name in conda_pins, f"{name} is in pyproject.toml but not environment.yml"
        assert conda_pins[name][1] == version, f"{name}: {conda_pins[name][1]} vs {version}"
        assert conda_pins[name][2] == marker, f"{name}: markers differ"
    extra = set(conda_pins) - set(wanted)
    assert not extra, f"environment.yml pins {extra}, which pyproject.toml does not"
    assert "- python=3.11" in (ROOT / "environment.yml").read_text()


def test_every_pin_is_exact():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for line in project["dependencies"] + project["optional-dependencies"]["test"]:
        assert "==" in line.split(";")[0], f"{line!r} is not pinned"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_keeps_only_checked_text_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if CHECK in cell.source:
            assert cell.outputs, f"checked cell has no stored output: {cell.source[:60]!r}"
        else:
            assert not cell.outputs, f"unchecked cell stores outputs: {cell.source[:60]!r}"
        for output in cell.outputs:
            assert all(m.startswith("text/") for m in output.get("data", {})), \
                "a stored output is not text"
    assert path.stat().st_size < 300_000


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_the_lesson_skeleton(path):
    notebook = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert re.match(r"# Lesson \d\d: ", notebook.cells[0].source)
    for heading in ("## Setup", "## Summary", "## Exercises"):
        assert heading in markdown, f"{path.name} lacks {heading}"
    assert re.search(r"learning objectives", markdown, re.IGNORECASE)
    assert "current_mode()" in "\n".join(c.source for c in notebook.cells)


def test_notebooks_are_numbered_in_order():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers == list(range(1, len(numbers) + 1))


def test_code_is_ruff_clean():
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed in this environment (pip install -e '.[test]')")
    result = subprocess.run([str(ruff), "check", "course_utils", "tests", "tools", "notebooks"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def test_course_utils_does_not_show_or_print():
    for path in (ROOT / "course_utils").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            assert name not in ("print", "show"), f"{path.name}:{node.lineno} calls {name}()"

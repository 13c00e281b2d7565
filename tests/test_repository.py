"""House rules of the repository, checked on every test run."""

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
APPENDICES = sorted((ROOT / "notebooks").glob("[0-9][0-9][a-z]_*.ipynb"))
CHECK = "# NBVAL_CHECK_OUTPUT"


MAKE_EXTRAS = "[cpu,jupyter,test]"

sys.path.insert(0, str(ROOT / "tools"))
from lesson_words import LIMIT as WORD_LIMIT  # noqa: E402
from lesson_words import notebook_words  # noqa: E402


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _lock() -> dict[str, str]:
    """The lock file as {normalised name: version}."""
    pins = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep, f"lock line {line!r} is not name==version"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def _requirement_name(line: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0]).lower()


def test_pyproject_states_lower_bounds_not_pins():
    project = _project()
    lines = project["dependencies"] + [line for extra in project["optional-dependencies"].values()
                                       for line in extra]
    for line in lines:
        spec = line.split(";")[0]
        assert "==" not in spec and "<" not in spec, f"{line!r} pins or caps a version"
        assert ">=" in spec, f"{line!r} states no lower bound"
    assert "<" not in project["requires-python"], "requires-python locks out the next Python"
    core = [_requirement_name(line) for line in project["dependencies"]]
    assert not {"tensorflow", "tensorflow-cpu"} & set(core), \
        "TensorFlow must come from an extra, or installing on Colab replaces Colab's build"


def test_lock_pins_every_dependency_within_its_bounds():
    from packaging.requirements import Requirement
    from packaging.version import Version

    lock = _lock()
    project = _project()
    for line in project["dependencies"] + project["optional-dependencies"]["jupyter"] + \
            project["optional-dependencies"]["test"] + ["tensorflow>=2.20", "tensorflow-cpu>=2.20"]:
        requirement = Requirement(line)
        name = _requirement_name(line)
        assert name in lock, f"{name} is a dependency but requirements/lock.txt does not pin it"
        assert Version(lock[name]) in requirement.specifier, \
            f"lock pins {name}=={lock[name]}, outside pyproject's {requirement.specifier}"


def test_environment_yml_installs_what_make_installs():
    text = (ROOT / "environment.yml").read_text()
    pip_section = next(item["pip"] for item in yaml.safe_load(text)["dependencies"]
                       if isinstance(item, dict))
    assert pip_section == ["-c requirements/lock.txt", f"-e .{MAKE_EXTRAS}"]
    assert f'-c $(LOCK) -e ".{MAKE_EXTRAS}"' in (ROOT / "Makefile").read_text()
    assert "- python=3.11" in text


def test_make_lint_runs_ruff_and_mypy_on_the_package():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "the Makefile has no lint target"
    assert "ruff check course_utils tests tools notebooks" in recipe.group(1)
    assert "$(VENV)/bin/mypy" in recipe.group(1)
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    assert tool["mypy"]["packages"] == ["course_utils"]
    assert "ANN201" in tool["ruff"]["lint"]["select"]


def test_importing_course_utils_without_tensorflow_says_how_to_install_it():
    script = ("import sys; sys.modules['tensorflow'] = None\n"
              "try:\n    import course_utils\n"
              "except ImportError as error:\n    print(error)\n"
              "else:\n    print('imported')")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, check=True)
    assert "TensorFlow" in result.stdout and "pip install" in result.stdout, result.stdout


@pytest.mark.parametrize("path", NOTEBOOKS + APPENDICES, ids=lambda p: p.name)
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


@pytest.mark.parametrize("path", APPENDICES, ids=lambda p: p.name)
def test_appendix_follows_its_lesson_and_has_the_skeleton(path):
    notebook = nbformat.read(path, as_version=4)
    match = re.match(r"# Appendix to lesson (\d\d): ", notebook.cells[0].source)
    assert match and match.group(1) == path.name[:2], notebook.cells[0].source[:80]
    assert any(lesson.name[:2] == path.name[:2] for lesson in NOTEBOOKS)
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    for heading in ("## Setup", "## Summary"):
        assert heading in markdown, f"{path.name} lacks {heading}"
    assert "current_mode()" in "\n".join(c.source for c in notebook.cells)


@pytest.mark.parametrize("path", NOTEBOOKS + APPENDICES, ids=lambda p: p.name)
def test_notebook_prose_is_at_most_3000_words(path):
    words = notebook_words(path)
    assert words <= WORD_LIMIT, (f"{path.name} has {words:,} words of prose "
                                 f"(tools/lesson_words.py); the limit is {WORD_LIMIT:,}")


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


def test_prose_words_count_every_whitespace_separated_piece():
    from lesson_words import prose_words

    text = ("[![Open In Colab](https://x/badge.svg)](https://colab/x) A  short\n"
            "sentence with $x^2 + 1$ maths <b>bold</b>.\n```python\nprint(1)\n```\n")
    # the badge is 3 pieces ("[![Open", "In", "Colab](...)"), then "A", "short",
    # "sentence", "with", "$x^2", "+", "1$", "maths", "<b>bold</b>.", "```python",
    # "print(1)", "```"
    assert prose_words(text) == 15

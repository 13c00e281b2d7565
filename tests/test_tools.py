"""The course's own tools: the notebook cleaner, the course runner's helpers, imports."""

import ast
import subprocess
import sys
from pathlib import Path

import nbformat
from clean_notebooks import clean_notebook
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from run_course import format_seconds, headlines

from course_utils.report import headline

ROOT = Path(__file__).resolve().parents[1]


def executed_notebook():
    checked = new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)", execution_count=3, outputs=[
        new_output("stream", name="stdout", text="1\n"),
        new_output("stream", name="stderr", text="I0000 oneDNN noise\n"),
        new_output("display_data", data={"image/png": "AAAA", "text/plain": "<Figure>"}),
        new_output("execute_result", execution_count=3,
                   data={"text/plain": "Correct", "text/html": "<b>Correct</b>"}),
    ])
    plain = new_code_cell("plot()", execution_count=4, outputs=[
        new_output("display_data", data={"image/png": "AAAA", "text/plain": "<Figure>"})])
    return new_notebook(cells=[new_markdown_cell("# T"), checked, plain])


def test_clean_notebook_keeps_only_checked_text_outputs():
    notebook = clean_notebook(executed_notebook())
    checked, plain = notebook.cells[1], notebook.cells[2]
    assert plain.outputs == [] and plain.execution_count is None
    assert checked.execution_count == 3  # nbval needs it to compare outputs
    assert [o.output_type for o in checked.outputs] == ["stream", "display_data",
                                                        "execute_result"]
    assert checked.outputs[0].name == "stdout"
    assert "image/png" not in checked.outputs[1].data
    assert set(checked.outputs[2].data) == {"text/plain", "text/html"}


def test_clean_notebooks_check_mode_reports_dirty_files(tmp_path):
    path = tmp_path / "dirty.ipynb"
    nbformat.write(executed_notebook(), path)
    script = [sys.executable, str(ROOT / "tools" / "clean_notebooks.py")]
    assert subprocess.run(script + ["--check", str(path)], capture_output=True).returncode == 1
    assert subprocess.run(script + [str(path)], capture_output=True).returncode == 0
    assert subprocess.run(script + ["--check", str(path)], capture_output=True).returncode == 0


def test_headlines_are_read_back_from_executed_outputs():
    bundle = headline("test loss", 104.5, "nats")._repr_mimebundle_()
    cell = new_code_cell("headline(...)", outputs=[
        new_output("execute_result", data=bundle, execution_count=1)])
    notebook = new_notebook(cells=[cell, new_code_cell("x")])
    assert headlines(notebook) == ["test loss: 104.5 nats"]


def test_format_seconds():
    assert format_seconds(9.4) == "9s"
    assert format_seconds(125) == "2m05s"



def _subfolder_parts(node: ast.expr) -> list[str] | None:
    """``"a", "b"`` for ``str(ROOT / "a" / "b")``; None for anything else."""
    if not (isinstance(node, ast.Call) and ast.unparse(node.func) == "str" and node.args):
        return None
    parts, path = [], node.args[0]
    while isinstance(path, ast.BinOp) and isinstance(path.op, ast.Div):
        if not (isinstance(path.right, ast.Constant) and isinstance(path.right.value, str)):
            return None
        parts.insert(0, path.right.value)
        path = path.left
    return parts if ast.unparse(path) == "ROOT" else None


def test_no_tool_puts_the_repository_on_sys_path():
    """Tools import the installed course_utils, and their siblings from their own folder.

    A tool may add a folder below the repository, written ``str(ROOT / "tests" / ...)``
    (grade_check reads the submissions in ``tests/grading``); adding the checkout itself
    would let it import a ``course_utils`` that is not the installed one.
    """
    for path in sorted((ROOT / "tools").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and ast.unparse(node.func.value) == "sys.path" and node.args):
                parts = _subfolder_parts(node.args[-1])
                assert parts and ".." not in parts, (
                    f"{path.name} adds {ast.unparse(node.args[-1])} to sys.path")

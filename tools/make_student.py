"""Write student versions of the lessons: solutions out, checks saying "Not attempted".

In the lessons, exercise solutions sit between nbgrader's markers::

    def my_answer(...):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

Each marked region becomes nbgrader's stub (``# YOUR CODE HERE`` and
``raise NotImplementedError()``, at the marker's indentation). The stored output of
each checked exercise cell (``ex.qN.check(...)``) is replaced by what the check prints
for an unfinished answer, so nbval verifies that the student version runs top to
bottom and reports every exercise as not attempted.

Student versions are graded copies: the setup cell imports and calls
``course_utils.exercises.core.set_graded()``, so checks refuse answers that hand back,
wrap or call the course's own implementation, and ``solution()`` shows no solution.

With ``--nbgrader DIR`` it also writes nbgrader *source* notebooks to
``DIR/source/lessonNN/``, graded copies too: answer cells get nbgrader's "autograded
answer" metadata and each exercise check is followed by a locked, graded test cell
that re-imports the exercise module and asserts that the check passed *in graded
mode* (``check(answer, graded=True)``), so deleting the switch in the setup cell does
not help. ``nbgrader generate_assignment`` and ``nbgrader autograde`` work on them.

Usage::

    python tools/make_student.py                 # notebooks/NN_*.ipynb -> build/student/
                                                 # (appendices, NNa_*, have no exercises)
    python tools/make_student.py --out DIR NB.ipynb ...
    python tools/make_student.py --nbgrader build/nbgrader   # also nbgrader sources
"""

from __future__ import annotations

import argparse
import ast
import importlib
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

from course_utils.exercises.core import NOT_IMPLEMENTED_MESSAGE, CheckResult  # noqa: E402

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_REGION = re.compile(rf"^([ \t]*){re.escape(BEGIN)}[^\n]*\n.*?^[ \t]*{re.escape(END)}[^\n]*$",
                     re.MULTILINE | re.DOTALL)
_EXERCISE_IMPORT = re.compile(r"from course_utils\.exercises import (\w+) as (\w+)")
_CHECK_CALL = re.compile(r"^(\w+)\.(\w+)\.check\(", re.MULTILINE)
GRADED_IMPORT = "from course_utils.exercises.core import set_graded"
GRADED_CALL = ("set_graded()  # a graded copy: answers must be your own code, not the "
               "course's")


def strip_solutions(source: str) -> str:
    """Replace every solution region in a cell's source with nbgrader's stub.

    Raises
    ------
    ValueError
        If a BEGIN marker has no matching END marker (or the reverse).
    """
    stubbed = _REGION.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n"
                                    f"{m.group(1)}raise NotImplementedError()", source)
    if BEGIN in stubbed or END in stubbed:
        raise ValueError(f"unmatched solution marker in cell:\n{source}")
    return stubbed


def _exercise_modules(notebook: nbformat.NotebookNode) -> dict[str, object]:
    """Map each alias used for an exercise module (``ex``) to the imported module."""
    modules: dict[str, object] = {}
    for cell in notebook.cells:
        if cell.cell_type == "code":
            for module, alias in _EXERCISE_IMPORT.findall(cell.source):
                modules[alias] = importlib.import_module(f"course_utils.exercises.{module}")
    return modules


def _last_import_line(source: str) -> int | None:
    """0-based index of the last line of the cell's last top-level import, if any."""
    lines = [("" if line.lstrip().startswith(("%", "!")) else line)
             for line in source.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return None
    ends = [node.end_lineno for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom)) and node.end_lineno]
    return max(ends) - 1 if ends else None


def insert_graded_switch(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Make ``notebook`` a graded copy: import and call ``set_graded()`` in its setup.

    The import goes right after the exercise module's import; the call after the
    cell's imports, before its first statement.

    Raises
    ------
    ValueError
        If no code cell imports an exercise module.
    """
    for cell in notebook.cells:
        if cell.cell_type != "code" or not _EXERCISE_IMPORT.search(cell.source):
            continue
        if GRADED_IMPORT in cell.source:
            return notebook
        lines = cell.source.splitlines()
        at = next(i for i, line in enumerate(lines) if _EXERCISE_IMPORT.search(line))
        lines.insert(at + 1, GRADED_IMPORT)
        last = _last_import_line("\n".join(lines))
        last = at + 1 if last is None else last
        first_statement = next((i for i in range(last + 1, len(lines)) if lines[i].strip()),
                               None)
        if first_statement is None:
            lines += ["", GRADED_CALL]
        else:
            lines.insert(first_statement, GRADED_CALL)
        cell.source = "\n".join(lines)
        return notebook
    raise ValueError("no cell imports an exercise module (from course_utils.exercises "
                     "import lessonNN as ex): cannot make a graded copy.")


def _not_attempted_output(title: str, execution_count: int | None) -> dict:
    result = CheckResult(title, "not_attempted", NOT_IMPLEMENTED_MESSAGE)
    return nbformat.v4.new_output(
        "execute_result", execution_count=execution_count,
        data={"text/plain": repr(result), "text/html": result._repr_html_()})


def student_version(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return a graded copy of ``notebook``: solutions stubbed, checks not attempted."""
    modules = _exercise_modules(notebook)
    insert_graded_switch(notebook)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell.source = strip_solutions(cell.source)
        call = _CHECK_CALL.search(cell.source)
        if call and call.group(1) in modules and cell.outputs:
            exercise = getattr(modules[call.group(1)], call.group(2))
            cell.outputs = [_not_attempted_output(exercise.title, cell.execution_count)]
    return notebook


def _nbgrader_metadata(grade_id: str, *, solution: bool, points: int = 0) -> dict:
    metadata = {"grade": not solution, "grade_id": grade_id, "locked": not solution,
                "schema_version": 3, "solution": solution, "task": False}
    if not solution:
        metadata["points"] = points
    return metadata


def graded_test_source(module: str, question: str, answer: str) -> str:
    """Source of the locked test cell that grades ``answer`` to ``module.question``.

    It re-imports the exercise module (a learner may rebind ``ex``) and checks in
    graded mode whatever the notebook switched.
    """
    return (f"# Graded test ({question}, 1 point): the check runs in graded mode.\n"
            f"from course_utils.exercises import {module} as _graded\n"
            f"_result = _graded.{question}.check({answer}, graded=True)\n"
            "assert _result.passed, _result.message")


def nbgrader_source(notebook: nbformat.NotebookNode, lesson: str) -> nbformat.NotebookNode:
    """Return a graded copy of ``notebook`` with nbgrader metadata and graded tests.

    Answer cells (those with solution markers) become autograded answers; after each
    ``ex.qN.check(answer)`` cell comes a locked test cell worth one point (see
    :func:`graded_test_source`).
    """
    modules = {alias: module for cell in notebook.cells if cell.cell_type == "code"
               for module, alias in _EXERCISE_IMPORT.findall(cell.source)}
    insert_graded_switch(notebook)
    cells = []
    for cell in notebook.cells:
        cells.append(cell)
        if cell.cell_type != "code":
            continue
        if BEGIN in cell.source:
            cell.metadata["nbgrader"] = _nbgrader_metadata(
                f"{lesson}-answer-{len(cells)}", solution=True)
        call = re.search(r"^(\w+)\.(\w+)\.check\((.*)\)\s*$", cell.source, re.MULTILINE)
        if call and call.group(1) in modules:
            alias, question, answer = call.groups()
            test = nbformat.v4.new_code_cell(
                graded_test_source(modules[alias], question, answer))
            test.metadata["nbgrader"] = _nbgrader_metadata(
                f"{lesson}-{question}-test", solution=False, points=1)
            cells.append(test)
    notebook.cells = cells
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "student")
    parser.add_argument("--nbgrader", type=Path, default=None,
                        help="also write nbgrader source notebooks under DIR/source/")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    args.out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        notebook = student_version(nbformat.read(path, as_version=4))
        nbformat.write(notebook, args.out / path.name)
        if args.nbgrader is not None:
            lesson = f"lesson{path.name[:2]}"
            folder = args.nbgrader / "source" / lesson
            folder.mkdir(parents=True, exist_ok=True)
            source = nbgrader_source(nbformat.read(path, as_version=4), lesson)
            nbformat.write(source, folder / path.name)
    print(f"wrote {len(paths)} student notebooks to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The grade check's submissions, checked in-process against every lesson's exercises.

For each question of each lesson: the lesson's own solution passes in graded mode; the
typical mistake is judged incorrect (never refused) with the expected advice; every
shortcut passes in self-study mode (so it is a real way around the exercise) and is
refused in graded mode. ``make grade-check`` then submits them through nbgrader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from exercise_contract import graded_mode
from grade_check import exercise_cells, fill
from submissions import LESSONS

ROOT = Path(__file__).resolve().parents[2]

NOTEBOOKS = {f"lesson{p.name[:2]}": p
             for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))}


def _imports_of_setup(notebook: nbformat.NotebookNode) -> str:
    """The top-level imports of the cell that imports the exercise module."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and "from course_utils.exercises import" in cell.source:
            lines = ["" if line.startswith(("%", "!")) else line
                     for line in cell.source.splitlines()]
            tree = ast.parse("\n".join(lines))
            keep = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
            return ast.unparse(ast.Module(body=keep, type_ignores=[]))
    raise AssertionError("no setup cell imports the exercise module")


class Lesson:
    """A lesson's exercises, answer cells run in order in one namespace, as a kernel would."""

    def __init__(self, lesson: str) -> None:
        self.notebook = nbformat.read(NOTEBOOKS[lesson], as_version=4)
        self.cells = exercise_cells(self.notebook)
        self.namespace: dict = {"__name__": "__main__"}
        exec(_imports_of_setup(self.notebook), self.namespace)
        self.module = self.namespace["ex"]

    def answer(self, question: str, variant=None):
        """Run the answer cell (with ``variant`` written in) and return the answer."""
        index, name = self.cells[question]
        source = self.notebook.cells[index].source
        exec(source if variant is None else fill(source, variant), self.namespace)
        return self.namespace[name]

    def check(self, question: str, variant=None, *, graded: bool):
        answer = self.answer(question, variant)
        with graded_mode(graded):
            return getattr(self.module, question).check(answer)


@pytest.fixture(scope="module", params=sorted(LESSONS))
def lesson(request) -> tuple[str, Lesson]:
    return request.param, Lesson(request.param)


def test_every_lesson_and_question_has_submissions():
    assert set(LESSONS) == set(NOTEBOOKS)
    for name, questions in LESSONS.items():
        notebook = nbformat.read(NOTEBOOKS[name], as_version=4)
        assert set(exercise_cells(notebook)) == set(questions), name
        assert all(question.shortcuts for question in questions.values())


def test_solutions_pass_in_graded_mode(lesson):
    name, runner = lesson
    for question in LESSONS[name]:
        result = runner.check(question, graded=True)
        assert result.passed, f"{name} {question}: {result}"


def test_mistakes_are_incorrect_with_advice_and_not_refused(lesson):
    name, runner = lesson
    for question, entry in LESSONS[name].items():
        for graded in (False, True):
            result = runner.check(question, entry.mistake, graded=graded)
            assert result.status == "incorrect", f"{name} {question}: {result}"
            assert entry.phrase in result.message, f"{name} {question}: {result}"
        runner.answer(question)  # later cells see the solution again


def test_shortcuts_pass_in_self_study_and_are_refused_in_graded_mode(lesson):
    name, runner = lesson
    for question, entry in LESSONS[name].items():
        for number, shortcut in enumerate(entry.shortcuts, 1):
            where = f"{name} {question} shortcut {number}"
            friendly = runner.check(question, shortcut, graded=False)
            assert friendly.passed, f"{where} is no shortcut in self-study mode: {friendly}"
            refused = runner.check(question, shortcut, graded=True)
            assert refused.status == "refused", f"{where}: {refused}"
        runner.answer(question)

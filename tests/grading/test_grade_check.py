"""Unit tests of tools/grade_check.py: building submissions and judging the scores.

The end-to-end run through nbgrader is ``make grade-check`` (it takes minutes); these
tests make sure that its submissions are what they claim to be and that any wrong
score or unexpected error is reported.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from grade_check import (
    REFUSAL_PHRASE,
    STUDENTS,
    Outcome,
    compare,
    exercise_cells,
    expected_grades,
    fill,
    notebook_errors,
    remove_graded_switch,
    submission,
)
from make_student import GRADED_CALL, nbgrader_source, strip_solutions
from nbformat.v4 import new_code_cell, new_notebook, new_output
from submissions import LESSONS, Answer

from course_utils.exercises.core import NOT_IMPLEMENTED_MESSAGE

ROOT = Path(__file__).resolve().parents[2]

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLVED = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n"
STUB = "def f(x):\n    y = 1\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"


def test_fill_writes_a_body_into_the_solution_region_or_the_stub():
    for source in (SOLVED, STUB):
        filled = fill(source, Answer(body="z = x * 2\nreturn z"))
        assert filled == "def f(x):\n    y = 1\n    z = x * 2\n    return z\n"


def test_fill_appends_an_after_and_needs_exactly_one_region_for_a_body():
    assert fill(STUB, Answer(after="f = len")).endswith("raise NotImplementedError()\n\nf = len\n")
    with pytest.raises(ValueError, match="one solution region"):
        fill("def f(x):\n    return x\n", Answer(body="return 1"))
    with pytest.raises(ValueError, match="either a body or an after"):
        Answer(body="a", after="b")


def test_remove_graded_switch_deletes_only_that_line():
    notebook = new_notebook(cells=[new_code_cell(f"import x\n{GRADED_CALL}\nmode = 1")])
    assert remove_graded_switch(notebook) == 1
    assert notebook.cells[0].source == "import x\nmode = 1"


def _release(path: Path) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode, str]:
    """The nbgrader source of a lesson and a release made from it as nbgrader would."""
    lesson = f"lesson{path.name[:2]}"
    source = nbgrader_source(nbformat.read(path, as_version=4), lesson)
    release = copy.deepcopy(source)
    for cell in release.cells:
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source)
    return source, release, lesson


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_submissions_put_each_answer_in_its_cell(path):
    source, release, lesson = _release(path)
    cells = exercise_cells(release)
    assert set(cells) == set(LESSONS[lesson])
    built = {student: submission(student, release, source, lesson) for student in STUDENTS}
    assert built["blank"].cells == release.cells
    for question, (index, name) in cells.items():
        assert f"def {name}(" in release.cells[index].source
        assert "### BEGIN SOLUTION" in built["solution"].cells[index].source
        entry = LESSONS[lesson][question]
        for student, answer in (("mistakes", entry.mistake), ("shortcuts", entry.shortcuts[0])):
            text = built[student].cells[index].source
            code = answer.body if answer.body is not None else answer.after
            assert code.splitlines()[-1].strip() in text, (student, question)
            assert "raise NotImplementedError()" not in text or answer.after is not None
    for student in ("solution", "blank", "mistakes"):
        assert any(GRADED_CALL in c.source for c in built[student].cells)
    assert not any(GRADED_CALL in c.source for c in built["shortcuts"].cells)
    # The graded test cells are untouched (nbgrader would restore them anyway).
    for student in STUDENTS:
        for mine, theirs in zip(built[student].cells, release.cells):
            if mine.metadata.get("nbgrader", {}).get("grade"):
                assert mine.source == theirs.source


GRADE_IDS = {"q1": "lesson01-q1-test", "q2": "lesson01-q2-test", "q3": "lesson01-q3-test"}


def _outcome(student: str) -> Outcome:
    """The outcome a correct grader produces for ``student`` on lesson 01."""
    expected = expected_grades(student, "lesson01", GRADE_IDS)
    errors = {grade_id: f"AssertionError: {phrase}" for grade_id, phrase
              in expected.phrases.items() if phrase is not None}
    return Outcome(expected.total, 3.0, dict(expected.points), errors)


@pytest.mark.parametrize("student", STUDENTS)
def test_compare_accepts_the_right_outcome(student):
    expected = expected_grades(student, "lesson01", GRADE_IDS)
    assert compare("lesson01", student, expected, _outcome(student)) == []


def test_expected_grades_are_full_marks_only_for_the_solution():
    assert expected_grades("solution", "lesson01", GRADE_IDS).total == 3
    for student in ("blank", "mistakes", "shortcuts"):
        assert expected_grades(student, "lesson01", GRADE_IDS).total == 0
    phrases = expected_grades("mistakes", "lesson01", GRADE_IDS).phrases
    assert phrases["lesson01-q1-test"] == LESSONS["lesson01"]["q1"].phrase
    assert set(expected_grades("shortcuts", "lesson01", GRADE_IDS).phrases.values()) == \
        {REFUSAL_PHRASE}
    assert set(expected_grades("blank", "lesson01", GRADE_IDS).phrases.values()) == \
        {NOT_IMPLEMENTED_MESSAGE}


def test_compare_reports_every_wrong_score_and_message():
    expected = expected_grades("shortcuts", "lesson01", GRADE_IDS)
    gamed = _outcome("shortcuts")
    gamed.score, gamed.grades["lesson01-q2-test"] = 1.0, 1.0
    del gamed.errors["lesson01-q2-test"]
    problems = compare("lesson01", "shortcuts", expected, gamed)
    assert any("score 1, expected 0" in p for p in problems)
    assert any("lesson01-q2-test scored 1.0, expected 0" in p for p in problems)
    assert any("should fail with 'This is a graded copy'" in p for p in problems)

    solution = _outcome("solution")
    solution.errors["cell 40"] = "NameError: name 'count' is not defined"
    solution.errors["lesson01-q3-test"] = "AssertionError: Not quite"
    solution.max_score = 4.0
    problems = compare("lesson01", "solution", expected_grades("solution", "lesson01",
                                                                GRADE_IDS), solution)
    assert any("cell 40 raised" in p for p in problems)
    assert any("lesson01-q3-test failed" in p for p in problems)
    assert any("max score 4" in p for p in problems)

    mistakes = _outcome("mistakes")
    mistakes.errors["lesson01-q1-test"] = "AssertionError: Running your answer raised NameError"
    problems = compare("lesson01", "mistakes", expected_grades("mistakes", "lesson01",
                                                                GRADE_IDS), mistakes)
    assert problems and "784 times too large" in problems[0]


def test_notebook_errors_keys_graded_cells_by_grade_id():
    test = new_code_cell("assert False", outputs=[
        new_output("error", ename="AssertionError", evalue="Not attempted", traceback=[])])
    test.metadata["nbgrader"] = {"grade_id": "lesson01-q1-test", "grade": True}
    other = new_code_cell("1 / 0", outputs=[
        new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])])
    errors = notebook_errors(new_notebook(cells=[new_code_cell("x = 1"), test, other]))
    assert errors == {"lesson01-q1-test": "AssertionError: Not attempted",
                      "cell 2": "ZeroDivisionError: division by zero"}

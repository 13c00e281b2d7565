"""tools/make_student.py: student versions without solutions, and nbgrader's source notebooks."""

import re
from pathlib import Path

import nbformat
import pytest
from make_student import (
    GRADED_CALL,
    GRADED_IMPORT,
    insert_graded_switch,
    nbgrader_source,
    strip_solutions,
    student_version,
)
from nbformat.v4 import new_code_cell, new_notebook, new_output

from course_utils.exercises import lesson01
from course_utils.exercises.core import is_graded, set_graded

ROOT = Path(__file__).resolve().parents[1]


def test_strip_solutions_keeps_indentation_and_surrounding_code():
    source = ("def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n"
              "    ### END SOLUTION\n\n\nprint(f)")
    assert strip_solutions(source) == ("def f(x):\n    y = 1\n    # YOUR CODE HERE\n"
                                       "    raise NotImplementedError()\n\n\nprint(f)")


def test_strip_solutions_handles_several_regions_and_rejects_unmatched_markers():
    source = "### BEGIN SOLUTION\na = 1\n### END SOLUTION\n### BEGIN SOLUTION\nb = 2\n" \
             "### END SOLUTION"
    assert strip_solutions(source).count("raise NotImplementedError()") == 2
    with pytest.raises(ValueError, match="unmatched"):
        strip_solutions("### BEGIN SOLUTION\na = 1\n")


def test_student_version_outputs_are_what_the_check_prints_for_a_stub():
    notebook = new_notebook(cells=[
        new_code_cell("from course_utils.exercises import lesson01 as ex"),
        new_code_cell("def mine(a, b):\n    ### BEGIN SOLUTION\n    return a\n"
                      "    ### END SOLUTION"),
        new_code_cell("# NBVAL_CHECK_OUTPUT\nex.q1.check(mine)", execution_count=5, outputs=[
            new_output("execute_result", data={"text/plain": "Correct - ..."},
                       execution_count=5)]),
    ])
    student = student_version(notebook)
    namespace = {}
    exec(student.cells[1].source, namespace)
    printed = lesson01.q1.check(namespace["mine"])
    assert printed.status == "not_attempted"
    assert student.cells[2].outputs[0]["data"]["text/plain"] == repr(printed)
    assert student.cells[2].outputs[0]["data"]["text/html"] == printed._repr_html_()


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")),
                         ids=lambda p: p.name)
def test_every_lesson_has_exercises_with_solutions_to_strip(path):
    notebook = nbformat.read(path, as_version=4)
    student = student_version(nbformat.read(path, as_version=4))
    solutions = sum("### BEGIN SOLUTION" in c.source for c in notebook.cells)
    stubs = sum("raise NotImplementedError()" in c.source for c in student.cells)
    assert solutions >= 2 and stubs >= solutions
    assert not any("### BEGIN SOLUTION" in c.source for c in student.cells)


def test_nbgrader_source_marks_answers_and_adds_a_graded_test_per_check():
    notebook = new_notebook(cells=[
        new_code_cell("from course_utils.exercises import lesson01 as ex"),
        new_code_cell("def mine(a, b):\n    ### BEGIN SOLUTION\n    return a\n"
                      "    ### END SOLUTION"),
        new_code_cell("# NBVAL_CHECK_OUTPUT\nex.q1.check(mine)"),
    ])
    cells = nbgrader_source(notebook, "lesson01").cells
    assert len(cells) == 4
    answer, test = cells[1].metadata["nbgrader"], cells[3].metadata["nbgrader"]
    assert answer["solution"] and not answer["grade"] and not answer["locked"]
    assert test["grade"] and test["locked"] and test["points"] == 1
    assert answer["grade_id"] != test["grade_id"]
    # The graded test cell fails for a wrong answer, passes for the learner's own right
    # answer, and refuses the reference even though the notebook never switched graded
    # mode on (a learner may delete the switch).
    assert not is_graded()
    namespace = {"ex": lesson01, "mine": lambda a, b: 0.0}
    with pytest.raises(AssertionError, match="one number per image"):
        exec(cells[3].source, namespace)
    namespace["mine"] = lambda a, b: ((a - b) ** 2).reshape(len(a), -1).mean(axis=1)
    exec(cells[3].source, namespace)
    for shortcut in (lesson01.per_image_mse, lambda a, b: lesson01.q1.reference(a, b)):
        namespace["mine"] = shortcut
        with pytest.raises(AssertionError, match="graded copy"):
            exec(cells[3].source, namespace)
    # A learner who rebinds `ex` cannot change what the test cell grades with.
    namespace.update(ex=None, mine=lesson01.per_image_mse)
    with pytest.raises(AssertionError, match="graded copy"):
        exec(cells[3].source, namespace)


def _setup_cell(source):
    return new_notebook(cells=[new_code_cell("x = 1"), new_code_cell(source)])


def test_graded_switch_goes_after_the_imports_and_switches_graded_mode_on():
    source = ("%matplotlib inline\nimport numpy as np\n\n"
              "from course_utils.exercises import lesson01 as ex\n"
              "from course_utils.mode import (\n    current_mode,\n)\n\n"
              "mode = current_mode()\nprint(mode)")
    cell = insert_graded_switch(_setup_cell(source)).cells[1]
    lines = cell.source.splitlines()
    assert lines[lines.index("from course_utils.exercises import lesson01 as ex") + 1] == \
        GRADED_IMPORT
    assert lines[lines.index("mode = current_mode()") - 1] == GRADED_CALL
    assert lines[lines.index(GRADED_CALL) - 1] == ""
    assert insert_graded_switch(_setup_cell(cell.source)).cells[1].source == cell.source
    try:
        exec(cell.source.replace("%matplotlib inline", ""), {})
        assert is_graded()
    finally:
        set_graded(False)


def test_graded_switch_at_the_end_of_an_import_only_cell_and_missing_exercises():
    cell = insert_graded_switch(
        _setup_cell("from course_utils.exercises import lesson01 as ex")).cells[1]
    assert cell.source.splitlines()[-1] == GRADED_CALL
    with pytest.raises(ValueError, match="graded copy"):
        insert_graded_switch(_setup_cell("import numpy as np"))


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")),
                         ids=lambda p: p.name)
def test_every_student_version_and_nbgrader_source_is_a_graded_copy(path):
    student = student_version(nbformat.read(path, as_version=4))
    assert sum(GRADED_CALL in c.source for c in student.cells) == 1
    source = nbgrader_source(nbformat.read(path, as_version=4), f"lesson{path.name[:2]}")
    assert sum(GRADED_CALL in c.source for c in source.cells) == 1
    tests = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")]
    checks = [c for c in source.cells if c.cell_type == "code" and
              re.search(r"^ex\.q\d+\.check\(", c.source, re.MULTILINE)]
    assert len(tests) == len(checks) >= 2
    assert all("graded=True" in c.source and "_graded" in c.source for c in tests)

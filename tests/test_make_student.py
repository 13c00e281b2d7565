import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from make_student import strip_solutions, student_version  # noqa: E402

from course_utils.exercises import lesson01  # noqa: E402


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


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")),
                         ids=lambda p: p.name)
def test_every_lesson_has_exercises_with_solutions_to_strip(path):
    notebook = nbformat.read(path, as_version=4)
    student = student_version(nbformat.read(path, as_version=4))
    solutions = sum("### BEGIN SOLUTION" in c.source for c in notebook.cells)
    stubs = sum("raise NotImplementedError()" in c.source for c in student.cells)
    assert solutions >= 2 and stubs >= solutions
    assert not any("### BEGIN SOLUTION" in c.source for c in student.cells)


def test_nbgrader_source_marks_answers_and_adds_a_graded_test_per_check():
    from make_student import nbgrader_source

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
    # The graded test cell fails for a wrong answer and passes for the reference.
    namespace = {"ex": lesson01, "mine": lambda a, b: 0.0}
    with pytest.raises(AssertionError, match="one number per image"):
        exec(cells[3].source, namespace)
    namespace["mine"] = lesson01.per_image_mse
    exec(cells[3].source, namespace)

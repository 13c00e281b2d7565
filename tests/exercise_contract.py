"""What every exercise checker must do, shared by the tests of each lesson's exercises.

* ``____`` and nbgrader's student stub read as "not attempted";
* a crashing answer, or one that is not a function, reads as "incorrect", never raises;
* the reference passes, and ``resolve`` falls back to it for unfinished answers;
* hints and the solution render;
* advice for a wrong answer never quotes a line of the reference solution.
"""

from __future__ import annotations

import inspect

from course_utils.exercises import ____


def student_stub(*args):
    """What nbgrader leaves in the student version of every solution region."""
    raise NotImplementedError()


def crashes(*args):
    raise ZeroDivisionError("division by zero")


def reference_code_lines(function) -> list[str]:
    """The reference's code lines, without its signature, docstring or comments."""
    source = inspect.getsource(function)
    docstring = inspect.getdoc(function) or ""
    lines = []
    for line in source.splitlines()[1:]:
        text = line.strip()
        if text and not text.startswith(("#", '"""')) and text not in docstring:
            lines.append(text)
    return lines


def assert_exercise_contract(question) -> None:
    """Assert the behaviour every exercise shares (see the module docstring)."""
    assert question.check(____).status == "not_attempted"
    assert question.check(student_stub).status == "not_attempted"
    crashed = question.check(crashes)
    assert crashed.status == "incorrect" and "ZeroDivisionError" in crashed.message
    assert question.check(42).status == "incorrect"
    assert question.check(question.reference).passed
    assert question.resolve(student_stub) is question.reference
    assert question.resolve(____) is question.reference
    assert "Hint 1/" in repr(question.hint())
    assert "def " in repr(question.solution())
    assert reference_code_lines(question.reference), "the reference has no code lines"


def assert_incorrect(question, answer, *phrases: str, forbidden: tuple[str, ...] = ()) -> str:
    """Assert ``answer`` is judged incorrect with advice naming ``phrases``.

    The advice must not contain any code line of the reference, nor any of the
    ``forbidden`` snippets. Returns the message.
    """
    result = question.check(answer)
    assert result.status == "incorrect", result
    for phrase in phrases:
        assert phrase in result.message, result.message
    for line in reference_code_lines(question.reference):
        assert line not in result.message, f"message reveals {line!r}"
    for snippet in forbidden:
        assert snippet not in result.message, f"message reveals {snippet!r}"
    return result.message

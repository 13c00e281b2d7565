"""What every exercise checker must do, shared by the tests of each lesson's exercises.

* ``____`` and nbgrader's student stub read as "not attempted";
* a crashing answer, or one that is not a function, reads as "incorrect", never raises;
* the reference passes, and ``resolve`` falls back to it for unfinished answers;
* hints and the solution render;
* advice for a wrong answer never quotes a line of the reference solution;
* in graded mode (:func:`assert_graded_contract`) the reference, a lambda, a def or a
  ``functools.partial`` wrapping it, a wrapper that reaches it only at run time, what
  ``resolve`` falls back to, and each declared course_utils implementation are refused,
  the solution is hidden and the hints stay; in self-study mode the reference passes.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
from collections.abc import Iterator

from course_utils.exercises import ____
from course_utils.exercises.core import is_graded, set_graded


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


@contextlib.contextmanager
def graded_mode(on: bool = True) -> Iterator[None]:
    """Switch graded mode for the ``with`` block, then restore what it was."""
    before = is_graded()
    set_graded(on)
    try:
        yield
    finally:
        set_graded(before)


def shortcuts_around(function) -> dict[str, object]:
    """Answers that hand back ``function`` without writing anything, by kind."""

    def wrapper(*args, **kwargs):
        return function(*args, **kwargs)

    module, name = function.__module__, function.__name__

    def found_at_run_time(*args, **kwargs):
        # No reference to the function in the code: only the call recording sees it.
        return getattr(sys.modules[module], name)(*args, **kwargs)

    return {"itself": function, "lambda": lambda *args, **kwargs: function(*args, **kwargs),
            "def": wrapper, "partial": functools.partial(function),
            "looked up at run time": found_at_run_time}


def assert_refused(question, answer, what: str) -> None:
    result = question.check(answer)
    assert result.status == "refused", f"{what}: {result}"
    assert not result.passed
    assert "graded copy" in result.message and "yourself" in result.message, result.message


def assert_graded_contract(question) -> None:
    """Assert that graded mode refuses every shortcut to ``question`` (module docstring)."""
    assert isinstance(question.forbidden, tuple)
    with graded_mode(False):
        assert question.check(question.reference).passed, "self-study: the reference passes"
    with graded_mode(True):
        for kind, answer in shortcuts_around(question.reference).items():
            if kind == "looked up at run time" and "." in question.reference.__qualname__:
                continue
            assert_refused(question, answer, f"the reference, {kind}")
        fallback = question.resolve(student_stub)
        assert fallback is question.reference
        assert_refused(question, lambda *args, **kwargs: fallback(*args, **kwargs),
                       "a call of what resolve() fell back to")
        for implementation in question.forbidden:
            assert_refused(question, implementation, f"{implementation!r} itself")
            assert_refused(question,
                           lambda *args, _f=implementation, **kwargs: _f(*args, **kwargs),
                           f"a lambda calling {implementation!r}")
        assert question.check(____).status == "not_attempted"
        assert question.check(student_stub).status == "not_attempted"
        assert question.check(crashes).status == "incorrect"
        assert "not available in graded copies" in repr(question.solution())
        assert "def " not in repr(question.solution())
        assert "Hint 1/" in repr(question.hint())
    with graded_mode(False):
        # The locked nbgrader test cells force graded mode whatever the notebook set.
        assert question.check(question.reference, graded=True).status == "refused"
        assert question.check(question.reference).passed


def contract_tests(questions) -> tuple:
    """The two contract tests of a lesson's questions, to assign at module level::

        test_exercise_contract, test_graded_copies_refuse_every_shortcut = \
            contract_tests(QUESTIONS)

    Each is parametrised over ``questions``, with ids such as "Exercise 2.1".
    """
    import pytest

    parametrize = pytest.mark.parametrize("question", list(questions),
                                          ids=lambda q: q.title.split(":")[0])

    @parametrize
    def test_exercise_contract(question):
        assert_exercise_contract(question)

    @parametrize
    def test_graded_copies_refuse_every_shortcut(question):
        assert_graded_contract(question)

    return test_exercise_contract, test_graded_copies_refuse_every_shortcut

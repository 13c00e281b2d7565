import pytest

from course_utils.exercises import CheckResult, Exercise, ____
from course_utils.exercises.core import expect


def reference(x):
    return 2 * x


def check_double(answer):
    expect(callable(answer), "Pass a function.")
    expect(answer(3) != 3, "Your function returns its input unchanged.")
    expect(answer(3) == 6, "Not double yet.")


exercise = Exercise("Exercise 0.1: double", check_double, reference,
                    hints=("Multiply.", "Multiply by two."))


def not_done(x):
    raise NotImplementedError()


def test_check_statuses_for_right_wrong_and_unattempted_answers():
    assert exercise.check(reference).passed
    wrong = exercise.check(lambda x: x)
    assert wrong.status == "incorrect" and "unchanged" in wrong.message
    assert exercise.check(____).status == "not_attempted"
    assert exercise.check(not_done).status == "not_attempted"
    assert not exercise.check(not_done).attempted


def test_check_turns_a_crashing_answer_into_feedback():
    result = exercise.check(lambda x: 1 / 0)
    assert result.status == "incorrect" and "ZeroDivisionError" in result.message


def test_check_result_renders_as_text_and_html():
    result = CheckResult("Exercise 0.1: double", "incorrect", "Not <double> yet.")
    assert repr(result) == "Not quite - Exercise 0.1: double: Not <double> yet."
    assert "&lt;double&gt;" in result._repr_html_()


def test_hints_in_order_and_out_of_range():
    assert "Multiply by two." in exercise.hint(2).text
    assert "1/2" in exercise.hint().text
    with pytest.raises(ValueError, match="hints 1 to 2"):
        exercise.hint(3)


def test_solution_shows_the_reference_source():
    assert "return 2 * x" in exercise.solution()._repr_markdown_()


def test_resolve_falls_back_to_reference_unless_answer_passes():
    def mine(x):
        return x + x

    assert exercise.resolve(mine) is mine
    assert exercise.resolve(____) is reference
    assert exercise.resolve(lambda x: x) is reference


def test_placeholder_called_as_function_counts_as_not_attempted():
    with pytest.raises(NotImplementedError):
        ____(1)


def test_exercise_validates_its_definition():
    with pytest.raises(TypeError, match="callable"):
        Exercise("x", "not a function", reference, hints=("h",))
    with pytest.raises(ValueError, match="at least one hint"):
        Exercise("x", check_double, reference, hints=())

import contextlib
import functools
import sys

import pytest
from exercise_contract import graded_mode

from course_utils.exercises import CheckResult, Exercise, ____, lesson01, lesson02
from course_utils.exercises.core import expect, is_graded, set_graded


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


def test_resolve_after_check_runs_the_answer_once():
    calls = []

    def mine(x):
        calls.append(x)
        return x + x

    assert exercise.check(mine).passed
    checked = len(calls)
    assert checked > 0
    assert exercise.resolve(mine) is mine
    assert len(calls) == checked  # not run again
    # another function, or the same one in another mode, is checked afresh
    def other(x):
        calls.append(x)
        return x

    assert exercise.resolve(other) is reference
    assert len(calls) > checked
    before = len(calls)
    assert exercise.check(mine, graded=not is_graded()).passed
    assert exercise.resolve(mine) is mine
    assert len(calls) > before + checked


def test_placeholder_called_as_function_counts_as_not_attempted():
    with pytest.raises(NotImplementedError):
        ____(1)


def test_exercise_validates_its_definition():
    with pytest.raises(TypeError, match="callable"):
        Exercise("x", "not a function", reference, hints=("h",))
    with pytest.raises(ValueError, match="at least one hint"):
        Exercise("x", check_double, reference, hints=())


# ------------------------------------------------------------------------ graded mode


class Doubler:
    """A stand-in for a course_utils class whose method computes the same thing."""

    def double(self, x):
        return x + x

    @staticmethod
    def twice(x):
        return 2 * x


def course_double(x):
    """A stand-in for course_utils' own implementation of the exercise."""
    return x * 2


def check_double_against_reference(answer):
    # Like the real checkers: the expected value comes from the reference itself.
    expect(answer(3) == reference(3), "Not double yet.")
    expect(answer(-1.5) == reference(-1.5), "Not double for negative numbers.")


guarded = Exercise("Exercise 0.2: double", check_double_against_reference, reference,
                   hints=("Multiply.",), forbidden=(course_double, Doubler))


def own_double(x):
    return x + x


def calls_own_helper(x):
    return own_double(x)


def calls_reference_through_a_helper(x):
    return relay(x)


def relay(x):
    return reference(x)


@pytest.fixture(autouse=True)
def _self_study_after_each_test():
    yield
    set_graded(False)


def test_set_graded_switches_the_mode_and_checks_its_argument():
    assert not is_graded()
    set_graded()
    assert is_graded()
    set_graded(False)
    assert not is_graded()
    with pytest.raises(TypeError, match="True or False"):
        set_graded("yes")


def test_self_study_mode_accepts_every_shortcut():
    for answer in (reference, course_double, lambda x: reference(x), Doubler().double):
        assert guarded.check(answer).passed


def test_graded_mode_accepts_own_work_although_the_checker_calls_the_reference():
    with graded_mode():
        assert guarded.check(own_double).passed
        assert guarded.check(calls_own_helper).passed
        assert guarded.check(lambda x: 2.0 * x).passed
        assert guarded.check(lambda x: x).status == "incorrect"


@pytest.mark.parametrize("answer", [
    reference, course_double, Doubler.twice, Doubler().double, functools.partial(reference),
    functools.partial(map, reference), functools.wraps(reference)(lambda x: 0),
    lambda x: reference(x), lambda x, _f=course_double: _f(x),
    calls_reference_through_a_helper, lambda x: Doubler().double(x),
    lambda x: Doubler.twice(x),
], ids=["reference", "course function", "static method", "bound method", "partial",
        "partial argument", "__wrapped__", "lambda", "default argument", "helper chain",
        "method of a declared class", "static method call"])
def test_graded_mode_refuses_what_is_wraps_or_names_a_forbidden_function(answer):
    with graded_mode():
        result = guarded.check(answer)
    assert result.status == "refused" and not result.passed, result
    assert "graded copy" in result.message and "yourself" in result.message


def test_graded_mode_records_calls_that_no_code_scan_can_see():
    module, function, helper = sys.modules[__name__], "course_double", "relay"

    def looked_up(x):
        return getattr(module, function)(x)

    class Callable:
        def __call__(self, x):
            return getattr(module, helper)(x)

    with graded_mode():
        for answer in (looked_up, Callable()):
            result = guarded.check(answer)
            assert result.status == "refused", result
            assert "calls" in result.message


def test_only_calls_from_inside_the_answer_count():
    computed_before = course_double(21)  # the learner may use course code elsewhere
    with graded_mode():
        assert guarded.check(own_double).passed
    assert computed_before == 42


def test_graded_mode_refuses_an_answer_that_switches_off_the_recording():
    module, function = sys.modules[__name__], "course_double"

    def sneaky(x):
        sys.setprofile(None)
        return getattr(module, function)(x)

    with graded_mode():
        result = guarded.check(sneaky)
    assert result.status == "refused" and "recording" in result.message


def test_the_recording_restores_a_previous_profile_function():
    calls = []

    def profiler(frame, event, arg):
        calls.append(event)

    sys.setprofile(profiler)
    try:
        guarded.check(own_double, graded=True)
        assert sys.getprofile() is profiler
    finally:
        sys.setprofile(None)


def test_no_false_alarm_for_a_module_attribute_named_like_a_reference():
    namespace = {"ex": lesson01, "np": __import__("numpy")}
    exec("def per_image_mse(a, b):\n"
         "    d = (np.asarray(a) - np.asarray(b)) ** 2\n"
         "    return d.reshape(len(d), -1).mean(axis=1)\n"
         "def mine(a, b):\n"
         "    assert ex is not None\n"
         "    return per_image_mse(a, b)\n", namespace)
    assert lesson01.q1.check(namespace["mine"], graded=True).passed


def test_every_exercise_module_function_is_off_limits_except_the_buggy_material():
    with graded_mode():
        other_lesson = lesson02.q1.check(lambda m, v: lesson01.per_image_mse(m, v))
        assert other_lesson.status == "refused"
        assert "lesson01.per_image_mse" in other_lesson.message
        fixed_bug = lesson02.q2.check(lambda m, v, e: lesson02.buggy_sample_z(m, 0.5 * v, e))
        assert fixed_bug.passed, fixed_bug


def test_graded_mode_hides_the_solution_and_keeps_the_hints():
    set_graded()
    assert "not available in graded copies" in exercise.solution().text
    assert "return 2 * x" not in exercise.solution().text
    assert "Multiply by two." in exercise.hint(2).text


def test_resolve_in_graded_mode_falls_back_without_a_passable_answer():
    set_graded()
    fallback = guarded.resolve(not_done)
    assert fallback is reference and fallback(4) == 8
    assert guarded.check(lambda x: fallback(x)).status == "refused"
    assert guarded.resolve(own_double) is own_double
    assert guarded.resolve(course_double) is reference


def test_locked_test_cells_check_in_graded_mode_whatever_the_switch():
    assert not is_graded()
    assert guarded.check(course_double, graded=True).status == "refused"
    set_graded()
    assert guarded.check(course_double, graded=False).passed


def test_refused_result_renders():
    result = CheckResult("Exercise 0.2: double", "refused", "Write it yourself.")
    assert repr(result).startswith("Not accepted - Exercise 0.2")
    assert "Not accepted" in result._repr_html_() and result.attempted and not result.passed


def test_forbidden_entries_must_be_functions_or_classes():
    with pytest.raises(TypeError, match="forbidden"):
        Exercise("x", check_double, reference, hints=("h",), forbidden=(42,))


def test_graded_mode_sees_through_tf_function():
    tf = pytest.importorskip("tensorflow")
    module, function = sys.modules[__name__], "course_double"
    spec = [tf.TensorSpec([], tf.float64)]
    # Traced during the check: AutoGraph calls a converted copy of course_double.
    traced_in_check = tf.function(lambda x: getattr(module, function)(x), input_signature=spec)
    named = tf.function(lambda x: course_double(x), input_signature=spec)

    def own(x):
        return x + x

    with graded_mode():
        assert guarded.check(traced_in_check).status == "refused"
        assert guarded.check(named).status == "refused"
        assert guarded.check(tf.function(own, input_signature=spec)).passed


# ---------------------------------------------------------------------- predictions

import numpy as np  # noqa: E402

from course_utils.exercises.core import Prediction  # noqa: E402


def test_prediction_of_a_choice_is_recorded_then_revealed():
    p = Prediction("Prediction 9.1: which is higher?", choices=("MNIST", "Fashion"),
                   explanation="Fashion images have more ink.")
    assert p.record(____).status == "not_attempted"
    assert p.record(" mnist ").status == "recorded"
    malformed = p.record("both")
    assert malformed.status == "incorrect" and "'MNIST', 'Fashion'" in malformed.message
    held = p.reveal("mnist", "MNIST")
    assert held.status == "held" and held.passed and "more ink" in held.message
    missed = p.reveal("Fashion", "MNIST")
    assert missed.status == "missed" and not missed.passed and "'MNIST'" in missed.message
    blank = p.reveal(____, "MNIST")
    assert blank.status == "not_attempted" and "'MNIST'" in blank.message
    assert "more ink" not in p.record("mnist").message  # the record gives nothing away


def test_prediction_of_a_number_holds_within_its_relative_tolerance():
    p = Prediction("Prediction 9.2: how many active units?", tolerance=0.25,
                   explanation=lambda measured: f"{measured:.0f} dimensions carry the code.")
    assert p.reveal(5, 4.0).status == "held"            # 25 % of 4 is 1
    assert p.reveal(np.int64(6), 4.0).status == "missed"
    assert "4 dimensions" in p.reveal(6, 4.0).message
    for bad in ("five", True, float("nan"), [4]):
        assert p.record(bad).status == "incorrect", bad
    assert p.reveal("five", 4.0).status == "incorrect"
    with pytest.raises(TypeError, match="measurement must be a number"):
        p.reveal(4, "four")


@pytest.mark.parametrize("kwargs, error", [
    ({}, ValueError), ({"choices": ("a", "b"), "tolerance": 0.1}, ValueError),
    ({"choices": ("a",)}, ValueError), ({"tolerance": 0}, ValueError),
    ({"tolerance": 0.1, "explanation": 3}, TypeError),
])
def test_prediction_rejects_a_malformed_definition(kwargs, error):
    with pytest.raises(error):
        Prediction("P", **kwargs)


def test_a_wrong_answers_library_warnings_do_not_reach_the_notebook():
    import warnings

    def checker(answer):
        warnings.warn("Gradients do not exist for variables", UserWarning, stacklevel=2)
        answer()

    exercise = Exercise("E", checker, lambda: None, hints=("h",))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = exercise.check(lambda: 1 / 0)
    assert result.status == "incorrect" and not caught


def test_as_numbers_converts_lists_and_tensors_and_advises_on_anything_else():
    import tensorflow as tf

    from course_utils.exercises.core import CheckFailed, as_numbers

    np.testing.assert_array_equal(as_numbers([1, 2], "two numbers"), [1.0, 2.0])
    converted = as_numbers(tf.Variable([[0.5]]), "one number")
    assert converted.dtype == np.float64 and converted.shape == (1, 1)
    with pytest.raises(CheckFailed, match="returned dict, not numbers: return one per image"):
        as_numbers({"a": 1}, "one per image")


# --- the common checking sequence -------------------------------------------------------

def test_expect_callable_passes_a_function_and_advises_on_anything_else():
    from course_utils.exercises.core import CheckFailed, expect_callable

    expect_callable(reference, "my_double", 1)
    with pytest.raises(CheckFailed, match=r"ex\.q1\.check\(my_double\)"):
        expect_callable(6, "my_double", 1)


def test_close_compares_as_float64_and_is_false_for_shapes_that_do_not_broadcast():
    import numpy as np

    from course_utils.exercises.core import close

    assert close(np.float32([1.0, 2.0]), [1.0, 2.0 + 1e-6])
    assert not close([1.0, 2.0], [1.0, 2.1])
    assert not close([1.0, 2.0], [1.0, 2.0, 3.0])
    assert close(1.0, 1.0005, rtol=1e-3) and not close(1.0, 1.0005, rtol=1e-4)


def test_expect_shape_names_the_expected_and_the_received_shape():
    import numpy as np

    from course_utils.exercises.core import CheckFailed, expect_shape

    expect_shape(np.zeros(3), (3,), "one number per image")
    with pytest.raises(CheckFailed, match=r"Expected one number per image, shape \(3,\); got "
                                          r"shape \(3, 2\)\. Reduce the pixels\."):
        expect_shape(np.zeros((3, 2)), (3,), "one number per image", "Reduce the pixels.")


def test_expect_finite_refuses_nan_and_inf():
    import numpy as np

    from course_utils.exercises.core import CheckFailed, expect_finite

    expect_finite(np.array([0.0, -3.0]), "finite please")
    for bad in (np.nan, np.inf):
        with pytest.raises(CheckFailed, match="finite please"):
            expect_finite([1.0, bad], "finite please")


def test_as_number_returns_one_float_and_advises_on_arrays_and_text():
    import numpy as np

    from course_utils.exercises.core import CheckFailed, as_number

    assert as_number(np.array([2.5]), "one number") == 2.5
    with pytest.raises(CheckFailed, match=r"Return one number; got an array of shape \(2,\)"):
        as_number([1.0, 2.0], "one number")
    with pytest.raises(CheckFailed, match=r"Only one sigma, not \(2,\)"):
        as_number([1.0, 2.0], "one number", "Only one sigma, not {shape}.")
    with pytest.raises(CheckFailed, match="not numbers"):
        as_number("two", "one number")


def test_reject_mistakes_raises_the_advice_of_the_first_match_only():
    from course_utils.exercises.core import CheckFailed, reject_mistakes

    mistakes = [(10.0, "ten times too large"), (20.0, "twenty"), (10.0, "never reached")]
    reject_mistakes(1.0, mistakes)  # matches none
    with pytest.raises(CheckFailed, match="^ten times too large$"):
        reject_mistakes(10.0 + 1e-6, mistakes)
    with pytest.raises(CheckFailed, match="^twenty$"):
        reject_mistakes(20.1, mistakes, rtol=0.01)


def test_compare_passes_a_right_value_and_else_names_a_mistake_or_gives_the_advice():
    from course_utils.exercises.core import CheckFailed, compare

    mistakes = [(-1.0, "wrong sign"), (1.01, "a percent off")]
    compare(1.0, 1.0, "not right", mistakes=mistakes)
    with pytest.raises(CheckFailed, match="wrong sign"):
        compare(-1.0, 1.0, "not right", mistakes=mistakes)
    with pytest.raises(CheckFailed, match="not right"):
        compare(1.0102, 1.0, "not right", mistakes=mistakes, mistake_rtol=1e-6)
    with pytest.raises(CheckFailed, match="a percent off"):
        compare(1.0102, 1.0, "not right", mistakes=mistakes, mistake_rtol=1e-2)
    with pytest.raises(CheckFailed, match="not right"):
        compare(5.0, 1.0, "not right", mistakes=mistakes)


def test_a_prediction_can_explain_each_choice_with_a_mapping():
    from course_utils.exercises.core import Prediction

    prediction = Prediction("P", choices=("up", "down"),
                            explanation={"up": "It went up.", "down": "It went down."})
    assert prediction.reveal("up", "up").message.endswith("It went up.")
    assert prediction.reveal("up", "down").message.endswith("It went down.")
    assert prediction.reveal("up", "down").status == "missed"
    silent = Prediction("P", choices=("up", "down"), explanation={"up": "It went up."})
    assert (silent.reveal("down", "down").message
            == "You predicted 'down'; the cell measured 'down'.")


class ScopedDoubler:
    """A stand-in for a course class with a context-manager method, as ``VAE`` has."""

    @contextlib.contextmanager
    def scope(self):
        yield self

    def double(self, x):
        return x + x


scoped = Exercise("Exercise 0.3: double", check_double_against_reference, reference,
                  hints=("Multiply.",), forbidden=(ScopedDoubler,))


@contextlib.contextmanager
def _own_scope():
    yield


def double_inside_a_context_manager(x):
    with _own_scope(), contextlib.suppress(KeyError):
        return x + x


def test_graded_mode_does_not_take_library_wrappers_for_the_course_implementation():
    # contextlib's helper wraps ScopedDoubler.scope and every other context manager:
    # an answer that opens one of its own is still the learner's work.
    with graded_mode():
        assert scoped.check(double_inside_a_context_manager).passed
        refused = scoped.check(lambda x: ScopedDoubler().double(x))
    assert refused.status == "refused"

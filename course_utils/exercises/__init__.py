"""Exercises with automatic checks, one module per lesson.

Use in a notebook::

    from course_utils.exercises import lesson01 as ex
    ex.q1.check(my_function)     # renders Correct / Not quite / Not attempted
    ex.q1.hint()
    ex.q1.solution()
"""

from course_utils.exercises.core import CheckFailed, CheckResult, Exercise, Prediction, ____

__all__ = ["____", "CheckFailed", "CheckResult", "Exercise", "Prediction"]

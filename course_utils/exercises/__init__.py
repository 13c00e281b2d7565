"""Exercises with automatic checks, one module per lesson.

Use in a notebook::

    from course_utils.exercises import lesson01 as ex
    ex.q1.check(my_function)     # renders Correct / Not quite / Not attempted
    ex.q1.hint()
    ex.q1.solution()

Where things live:

* ``core``: the mechanism (:class:`Exercise`, :class:`Prediction`, graded mode) and the
  common checking sequence every checker follows (``expect_callable``, ``as_numbers``,
  ``expect_shape``, ``expect_finite``, ``compare`` with the known mistakes, ...);
* ``lessonNN``: one lesson's questions: reference answers, inputs, known mistakes and
  their advice;
* ``shared`` and ``decoder_checks``: what the checkers of several lessons share.
"""

from course_utils.exercises.core import CheckFailed, CheckResult, Exercise, Prediction, ____

__all__ = ["____", "CheckFailed", "CheckResult", "Exercise", "Prediction"]

"""The exercise mechanism: ``check`` / ``hint`` / ``solution`` without globals.

An :class:`Exercise` knows its reference answer and a checker function. The learner
passes their answer to :meth:`Exercise.check` explicitly; nothing reads the
notebook's variables by name. An answer still equal to the placeholder ``____``, or
a function that raises ``NotImplementedError`` (nbgrader's student stub), counts as
"not attempted", never as a crash, and :meth:`Exercise.resolve` lets the following
cells fall back to the reference answer so the notebook runs top to bottom.
"""

from __future__ import annotations

import html
import inspect
import textwrap
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["____", "CheckFailed", "CheckResult", "Exercise", "Markdown", "expect",
           "NOT_IMPLEMENTED_MESSAGE", "PLACEHOLDER_MESSAGE"]

PLACEHOLDER_MESSAGE = "Replace the placeholder with your answer, then run this cell."
NOT_IMPLEMENTED_MESSAGE = "Your function still raises NotImplementedError: fill it in."


class _Placeholder:
    """The blank a learner replaces: ``answer = ____``."""

    def __repr__(self) -> str:
        return "____"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("replace ____ with your answer")


____ = _Placeholder()


class CheckFailed(Exception):
    """Raised by a checker with advice for the learner (which must not give the answer)."""


def expect(condition: bool, advice: str) -> None:
    """Raise :class:`CheckFailed` with ``advice`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(advice)


@dataclass(frozen=True)
class Markdown:
    """Text that renders as Markdown in Jupyter and reads plainly elsewhere."""

    text: str

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


_STATUS_TEXT = {
    "correct": ("Correct", "#1a7f37"),
    "incorrect": ("Not quite", "#b35900"),
    "not_attempted": ("Not attempted", "#57606a"),
}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of :meth:`Exercise.check`.

    Attributes
    ----------
    exercise : str
        The exercise's title.
    status : {"correct", "incorrect", "not_attempted"}
    message : str
        What was found, and a nudge that does not give the answer away.
    """

    exercise: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "correct"

    @property
    def attempted(self) -> bool:
        return self.status != "not_attempted"

    def __repr__(self) -> str:
        label, _ = _STATUS_TEXT[self.status]
        return f"{label} - {self.exercise}: {self.message}"

    def _repr_html_(self) -> str:
        label, colour = _STATUS_TEXT[self.status]
        return (f'<div style="border-left:4px solid {colour};padding:2px 8px">'
                f'<b style="color:{colour}">{label}</b> &middot; {html.escape(self.exercise)}'
                f"<br>{html.escape(self.message)}</div>")


def _is_placeholder(answer: object) -> bool:
    return answer is ____ or answer is None or answer is Ellipsis


class Exercise:
    """One exercise: a checker, hints, and a reference answer.

    Parameters
    ----------
    title : str
        E.g. ``"Exercise 1.1: per-image reconstruction error"``.
    checker : callable
        ``checker(answer)`` returns nothing when the answer is right and raises
        :class:`CheckFailed` with advice when it is wrong.
    reference : object
        The reference answer (usually a function); :meth:`solution` shows its source.
    hints : sequence of str
        Shown one at a time by :meth:`hint`, in order.
    """

    def __init__(self, title: str, checker: Callable[[Any], None], reference: Any,
                 hints: tuple[str, ...] | list[str]) -> None:
        if not callable(checker):
            raise TypeError(f"checker must be callable; got {type(checker).__name__}.")
        if not hints:
            raise ValueError("an exercise needs at least one hint.")
        self.title = title
        self._checker = checker
        self.reference = reference
        self._hints = tuple(hints)

    def __repr__(self) -> str:
        return f"Exercise({self.title!r})"

    def check(self, answer: Any) -> CheckResult:
        """Check ``answer``; never raises for a wrong or unfinished answer.

        Returns
        -------
        CheckResult
            ``.passed`` is True only for a correct answer.
        """
        if _is_placeholder(answer):
            return CheckResult(self.title, "not_attempted", PLACEHOLDER_MESSAGE)
        try:
            self._checker(answer)
        except NotImplementedError:
            return CheckResult(self.title, "not_attempted", NOT_IMPLEMENTED_MESSAGE)
        except CheckFailed as failure:
            return CheckResult(self.title, "incorrect", str(failure))
        except Exception as error:  # a learner's bug is feedback, not a crash
            return CheckResult(self.title, "incorrect",
                               f"Running your answer raised {type(error).__name__}: {error}")
        return CheckResult(self.title, "correct", "Well done.")

    def hint(self, number: int = 1) -> Markdown:
        """Return hint ``number`` (1-based); later hints say more."""
        if not 1 <= number <= len(self._hints):
            raise ValueError(f"this exercise has hints 1 to {len(self._hints)}; got {number}.")
        return Markdown(f"**Hint {number}/{len(self._hints)}:** {self._hints[number - 1]}")

    def solution(self) -> Markdown:
        """Return the reference solution as a code listing."""
        if callable(self.reference):
            code = textwrap.dedent(inspect.getsource(self.reference))
        else:
            code = repr(self.reference)
        return Markdown(f"**Solution:**\n\n```python\n{code}```")

    def resolve(self, answer: Any) -> Any:
        """Return ``answer`` if it passes the check, else the reference answer.

        Later cells call this so that a notebook with an unfinished or wrong exercise
        still runs to the end with correct values.
        """
        return answer if self.check(answer).passed else self.reference

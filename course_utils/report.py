"""Headline numbers: a notebook shows them, and ``make course`` collects them.

A headline is displayed as a normal text output, and also carries a small JSON
payload under its own MIME type, which ``tools/run_course.py`` reads back from the
executed notebook to print one summary line per lesson.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["HEADLINE_MIME", "Headline", "headline"]

HEADLINE_MIME = "application/vnd.course-headline+json"


@dataclass(frozen=True)
class Headline:
    """A named number that summarises a lesson's result."""

    name: str
    value: float
    unit: str = ""
    digits: int = 4

    def text(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.name}: {self.value:.{self.digits}g}{unit}"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        payload = {"name": self.name, "value": self.value, "unit": self.unit,
                   "text": self.text()}
        return {"text/plain": f"Headline - {self.text()}", HEADLINE_MIME: payload}


def headline(name: str, value: float, unit: str = "", *, digits: int = 4) -> Headline:
    """Make a headline to display as a cell's value.

    Parameters
    ----------
    name : str
        What the number is, e.g. ``"test reconstruction MSE"``.
    value : float
        A finite number.
    unit : str
        Optional unit, e.g. ``"nats"``.
    digits : int
        Significant digits shown.

    Returns
    -------
    Headline
        Displays as ``Headline - name: value unit`` and carries the number for
        ``make course``.
    """
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"name must be a non-empty string; got {name!r}. Pass a short "
                        "label such as 'test NLL'.")
    try:
        value = float(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"value must be a number; got {type(value).__name__}. Pass a float, "
                        "e.g. float(loss).") from error
    if not math.isfinite(value):
        raise ValueError(f"value must be finite; got {value}. A NaN loss usually means "
                         "training diverged: lower the learning rate.")
    return Headline(name.strip(), value, unit, digits)

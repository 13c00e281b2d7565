"""Fast mode versus the real course settings.

``COURSE_FAST=1`` (set by ``make test`` and CI) asks every notebook for the embedded
data subset and a few epochs, so the whole series runs in minutes. Unset (or ``0``),
notebooks use the best data available and the real course settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, TypeVar

__all__ = ["FAST_ENV", "CourseMode", "current_mode"]

FAST_ENV = "COURSE_FAST"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

T = TypeVar("T")


@dataclass(frozen=True)
class CourseMode:
    """Which settings a notebook runs with.

    Attributes
    ----------
    fast : bool
        True in fast mode (embedded data, few epochs).
    """

    fast: bool

    @property
    def name(self) -> str:
        return "fast" if self.fast else "full"

    def choose(self, *, fast: T, full: T) -> T:
        """Return ``fast`` in fast mode and ``full`` otherwise."""
        return fast if self.fast else full

    def describe(self) -> str:
        """A sentence for the top of a notebook."""
        if self.fast:
            return (f"FAST mode ({FAST_ENV}=1): embedded data subset and few epochs; "
                    "numbers are rough.")
        return f"FULL mode: best data available and the real course settings ({FAST_ENV} unset)."


def current_mode(environ: Mapping[str, str] | None = None) -> CourseMode:
    """Read the mode from ``COURSE_FAST`` in ``environ`` (default: ``os.environ``).

    Raises
    ------
    ValueError
        If ``COURSE_FAST`` holds something other than 1/0, true/false, yes/no, on/off.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(FAST_ENV, "").strip().lower()
    if value in _TRUE:
        return CourseMode(fast=True)
    if value in _FALSE:
        return CourseMode(fast=False)
    raise ValueError(
        f"{FAST_ENV} must be 1 or 0 (or true/false, yes/no, on/off); got {value!r}. "
        f"Unset it for the full course or set {FAST_ENV}=1 for fast mode."
    )

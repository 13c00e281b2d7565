"""The exercise mechanism: ``check`` / ``hint`` / ``solution`` without globals.

An :class:`Exercise` knows its reference answer and a checker function. The learner
passes their answer to :meth:`Exercise.check` explicitly; nothing reads the
notebook's variables by name. An answer still equal to the placeholder ``____``, or
a function that raises ``NotImplementedError`` (nbgrader's student stub), counts as
"not attempted", never as a crash, and :meth:`Exercise.resolve` lets the following
cells fall back to the reference answer so the notebook runs top to bottom.

Graded mode
-----------
Student and nbgrader copies of the lessons call :func:`set_graded` in their setup
cell, and nbgrader's locked test cells check with ``check(answer, graded=True)``
whatever the notebook switched. In graded mode an answer that *is*, *wraps* or
*calls* course code for the same computation is refused ("Not accepted"), so it never
counts as passed:

* the exercise's reference (``ex.qN.reference``) and every other function defined in
  an exercise module (``course_utils/exercises/lessonNN.py`` and ``shared.py``),
  except the ``buggy_*`` functions that the lessons hand out as material to study;
* the course_utils implementations the exercise declares with ``forbidden=(...)``.

Two detectors work together. Before the checker runs, the answer is unwrapped
(``functools.partial``, ``__wrapped__``, bound methods, ``tf.function``) and its code
is scanned for references to those functions (globals, attribute chains such as
``ex.per_image_mse``, closures, defaults), following the learner's own helper
functions. While the checker runs, every call of the answer is recorded with
:func:`sys.setprofile`: a call of a forbidden function made from inside the answer,
however indirectly, refuses it. The checker's own calls of the reference (to compute
expected values) happen outside the answer and do not count.

Graded mode is a guard against handing back the course's code, not a sandbox: code
that runs in the learner's kernel can read the package's source or replace the
checker itself.
"""

from __future__ import annotations

import builtins
import dis
import functools
import html
import inspect
import os
import re
import sys
import sysconfig
import textwrap
import types
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["____", "CheckFailed", "CheckResult", "Exercise", "Markdown", "Prediction",
           "as_number", "as_numbers", "close", "compare", "expect", "expect_callable",
           "expect_finite", "expect_shape", "reject_mistakes",
           "is_graded", "set_graded", "NOT_IMPLEMENTED_MESSAGE", "PLACEHOLDER_MESSAGE",
           "NO_SOLUTION_MESSAGE"]

PLACEHOLDER_MESSAGE = "Replace the placeholder with your answer, then run this cell."
NOT_IMPLEMENTED_MESSAGE = "Your function still raises NotImplementedError: fill it in."
NO_SOLUTION_MESSAGE = ("Solutions are not available in graded copies of the lessons. "
                       "The hints are: call .hint(1), .hint(2), ... on the exercise.")


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


def as_numbers(value: object, what: str) -> np.ndarray:
    """A learner's result as a float64 NumPy array, or :class:`CheckFailed` advice.

    Eager tensors and variables are converted; a symbolic tensor (inside
    ``tf.function``) raises as NumPy does, for the caller's compiled check to report.

    Parameters
    ----------
    value : object
        What the learner's function returned.
    what : str
        What it should return, for the advice, e.g. "one number per image".

    Returns
    -------
    numpy.ndarray
        ``value`` as float64, any shape.
    """
    if hasattr(value, "numpy"):
        try:
            value = value.numpy()
        except Exception:  # a symbolic tensor: reported by the caller's compiled check
            pass
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"Your function returned {type(value).__name__}, not numbers: "
                          f"return {what}.") from None


# ------------------------------------------------------- the common checking sequence
# A checker runs the answer on fixed inputs, then: is the answer a function, are its
# results numbers of the right shape and finite, do they agree with the reference, and
# if not, which known mistake do they match? These helpers are that sequence; a lesson
# module holds only its inputs, its mistakes and their advice.

def expect_callable(answer: object, name: str, number: int) -> None:
    """Advise passing the function itself unless ``answer`` is callable.

    Parameters
    ----------
    answer : object
        What the learner passed to ``ex.qN.check``.
    name : str
        The example name in the advice, e.g. ``"my_iw_bound"``.
    number : int
        The exercise's number N in ``ex.qN``.
    """
    expect(callable(answer), f"Pass your function itself, e.g. ex.q{number}.check({name}).")


def close(got: ArrayLike, want: ArrayLike, *, rtol: float = 1e-4, atol: float = 1e-8) -> bool:
    """True when ``got`` and ``want`` agree elementwise to ``rtol`` and ``atol``.

    Parameters
    ----------
    got, want : array_like
        Values of broadcastable shapes; compared as float64.
    rtol, atol : float
        Relative and absolute tolerance, as in :func:`numpy.allclose`.

    Returns
    -------
    bool
        False also when the shapes do not broadcast.
    """
    try:
        return bool(np.allclose(np.asarray(got, dtype=np.float64),
                                np.asarray(want, dtype=np.float64), rtol=rtol, atol=atol))
    except ValueError:  # shapes that do not broadcast are not close
        return False


def expect_shape(got: np.ndarray, shape: tuple[int, ...], what: str, fix: str = "") -> None:
    """Advise the expected shape unless ``got`` has ``shape``.

    The advice reads "Expected <what>, shape <shape>; got shape <got.shape>. <fix>".

    Parameters
    ----------
    got : numpy.ndarray
        The learner's result.
    shape : tuple of int
        The reference result's shape.
    what : str
        What one result holds, e.g. ``"one number per image"``.
    fix : str
        A sentence on how to get the shape right; may be empty.
    """
    shape = tuple(shape)
    tail = f" {fix}" if fix else ""
    expect(got.shape == shape, f"Expected {what}, shape {shape}; got shape {got.shape}.{tail}")


def expect_finite(got: ArrayLike, advice: str) -> None:
    """Raise :class:`CheckFailed` with ``advice`` if ``got`` holds NaN or inf."""
    expect(bool(np.all(np.isfinite(np.asarray(got, dtype=np.float64)))), advice)


def as_number(value: object, what: str, advice: str = "") -> float:
    """A learner's single number, or advice when it is not numeric or not one number.

    Parameters
    ----------
    value : object
        What the learner's function returned.
    what : str
        What it should return, for the advice, e.g. ``"one number, sigma"``.
    advice : str
        The advice for a result with more than one number; ``{shape}`` in it is
        replaced by the result's shape. By default "Return <what>; got an array of
        shape <shape>."

    Returns
    -------
    float
    """
    got = as_numbers(value, what)
    text = advice or f"Return {what}; got an array of shape {{shape}}."
    expect(got.size == 1, text.replace("{shape}", str(got.shape)))
    return float(got.reshape(()))


def reject_mistakes(got: ArrayLike, mistakes: Iterable[tuple[ArrayLike, str]], *,
                    rtol: float = 1e-4, atol: float = 1e-8) -> None:
    """Raise :class:`CheckFailed` with the advice of the first mistake ``got`` matches.

    Parameters
    ----------
    got : array_like
        The learner's result.
    mistakes : iterable of (array_like, str)
        What a typical mistake returns on the same inputs, and the advice for it, in
        the order they are tried.
    rtol, atol : float
        Tolerances of the match, as in :func:`close`.
    """
    for wrong, advice in mistakes:
        if close(got, wrong, rtol=rtol, atol=atol):
            raise CheckFailed(advice)


def compare(got: ArrayLike, want: ArrayLike, advice: str, *,
            mistakes: Iterable[tuple[ArrayLike, str]] = (), rtol: float = 1e-4,
            atol: float = 1e-8, mistake_rtol: float | None = None) -> None:
    """Pass when ``got`` is close to ``want``; else the advice of a known mistake, or ``advice``.

    Parameters
    ----------
    got, want : array_like
        The learner's result and the reference's, on the same inputs.
    advice : str
        What to say when ``got`` is wrong and matches none of ``mistakes``.
    mistakes : iterable of (array_like, str)
        Typical wrong results with their advice, see :func:`reject_mistakes`.
    rtol, atol : float
        Tolerances of every comparison, as in :func:`close`.
    mistake_rtol : float, optional
        A looser relative tolerance for matching the mistakes; by default ``rtol``.
    """
    if close(got, want, rtol=rtol, atol=atol):
        return
    reject_mistakes(got, mistakes, rtol=rtol if mistake_rtol is None else mistake_rtol,
                    atol=atol)
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
    "refused": ("Not accepted", "#cf222e"),
    "recorded": ("Prediction noted", "#0969da"),
    "held": ("Prediction held", "#1a7f37"),
    "missed": ("Prediction missed", "#8250df"),
}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of :meth:`Exercise.check`.

    Attributes
    ----------
    exercise : str
        The exercise's title.
    status : {"correct", "incorrect", "not_attempted", "refused", "recorded", "held", "missed"}
        ``"refused"``: in graded mode, the answer is or uses the course's own code.
        The last three belong to a :class:`Prediction`: written down, then confirmed
        or contradicted by the measurement.
    message : str
        What was found, and a nudge that does not give the answer away.
    """

    exercise: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status in ("correct", "held")

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


# ---------------------------------------------------------------------- graded mode

_graded = False


def set_graded(on: bool = True) -> None:
    """Switch graded mode on (or off) for every exercise in this Python process.

    Graded copies of the lessons call ``set_graded()`` in their setup cell. In graded
    mode :meth:`Exercise.check` refuses answers that are, wrap or call the course's
    own implementation, and :meth:`Exercise.solution` shows no solution.

    Parameters
    ----------
    on : bool
        True for graded mode, False for the self-study behaviour.
    """
    global _graded
    if not isinstance(on, bool):
        raise TypeError(f"on must be True or False; got {type(on).__name__}. Call "
                        "set_graded(True) or set_graded(False).")
    _graded = on


def is_graded() -> bool:
    """Return True when graded mode is on (see :func:`set_graded`)."""
    return _graded


# Functions defined at the top level of course_utils/exercises/lessonNN.py (and of
# shared.py, which holds what several lessons' checkers compute with) are off limits in
# graded answers, except the buggy_* ones the lessons hand out to study.
_EXERCISES_DIR = os.path.dirname(_is_placeholder.__code__.co_filename)
_LESSON_FILE = re.compile(r"lesson\d+\.py|shared\.py")
_MATERIAL_PREFIX = "buggy_"


def _is_exercise_module_function(code: types.CodeType) -> bool:
    """True for the code of a top-level, non-material function of an exercise module."""
    filename = code.co_filename
    in_lesson_module = (os.path.dirname(filename) == _EXERCISES_DIR
                        and _LESSON_FILE.fullmatch(os.path.basename(filename)) is not None)
    top_level = "." not in code.co_qualname and not code.co_name.startswith("<")
    return in_lesson_module and top_level and not code.co_name.startswith(_MATERIAL_PREFIX)


def _exercise_module_label(code: types.CodeType) -> str:
    module = os.path.splitext(os.path.basename(code.co_filename))[0]
    return f"course_utils.exercises.{module}.{code.co_qualname}"


def _wrapped_functions(obj: object, depth: int = 0) -> Iterator[types.FunctionType]:
    """The Python functions that calling ``obj`` runs first, unwrapping decorators.

    Follows ``functools.partial`` (and the callables among its arguments), bound
    methods, ``staticmethod`` / ``classmethod``, ``__wrapped__`` chains and
    ``tf.function``'s ``python_function``. Classes are not expanded.
    """
    if depth > 20:
        return
    if isinstance(obj, types.FunctionType):
        yield obj
    if isinstance(obj, functools.partial):
        yield from _wrapped_functions(obj.func, depth + 1)
        for argument in (*obj.args, *obj.keywords.values()):
            if callable(argument):
                yield from _wrapped_functions(argument, depth + 1)
        return
    if isinstance(obj, (types.MethodType, staticmethod, classmethod)):
        yield from _wrapped_functions(obj.__func__, depth + 1)
        return
    for attribute in ("__wrapped__", "python_function"):
        try:
            inner = inspect.getattr_static(obj, attribute)
        except AttributeError:
            continue
        if inner is not obj and callable(inner):
            yield from _wrapped_functions(inner, depth + 1)


#: The standard library's folder (``__module__`` will not do: ``functools.wraps`` copies it).
_STDLIB = os.path.abspath(sysconfig.get_paths()["stdlib"]) + os.sep
#: course_utils' own folder, wherever it is installed.
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _is_library_function(function: types.FunctionType) -> bool:
    """Whether ``function`` comes from the standard library or an installed package.

    Such code is shared by everything: ``contextlib.contextmanager``'s helper, say, wraps
    a method of ``VAE`` and also every context manager TensorFlow opens, so it never
    identifies the course's implementation.
    """
    filename = os.path.abspath(function.__code__.co_filename)
    if filename.startswith(_PACKAGE):  # the course itself, even when installed
        return False
    return (filename.startswith(_STDLIB) or "site-packages" in filename
            or "dist-packages" in filename)


def _declared_codes(obj: object) -> Iterator[types.CodeType]:
    """Code objects of a declared forbidden implementation (classes: all their methods).

    Library functions met on the way (decorators' wrappers) are left out.
    """
    if isinstance(obj, type):
        candidates: list[object] = []
        for value in vars(obj).values():
            if isinstance(value, property):
                candidates += [value.fget, value.fset, value.fdel]
            else:
                candidates.append(value)
    else:
        candidates = [obj]
    for candidate in candidates:
        for function in _wrapped_functions(candidate):
            if not _is_library_function(function):
                yield function.__code__


def _label(obj: object) -> str:
    if isinstance(obj, types.CodeType):
        return obj.co_qualname
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)
    return f"{module}.{name}" if module else str(name)


_CHAIN_STARTS = {"LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_CLASSDEREF"}
_CHAIN_LINKS = {"LOAD_ATTR", "LOAD_METHOD"}
_CHAIN_TRANSPARENT = {"EXTENDED_ARG", "NOP", "CACHE", "PUSH_NULL"}
_MISSING = object()


def _code_tree(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _code_tree(constant)


def _attribute(obj: object, name: str) -> object:
    """``obj.name`` without running properties (modules: plain ``getattr``)."""
    try:
        if isinstance(obj, types.ModuleType):
            return getattr(obj, name, _MISSING)
        return inspect.getattr_static(obj, name)
    except Exception:  # a strange object is no reference to the course's code
        return _MISSING


def _referenced_objects(function: types.FunctionType) -> Iterator[object]:
    """Objects that ``function``'s code names: globals, attribute chains, closures."""
    namespace = function.__globals__
    builtin_names = vars(builtins)
    closure = {name: cell.cell_contents
               for name, cell in zip(function.__code__.co_freevars, function.__closure__ or ())
               if _cell_is_set(cell)}
    yield from closure.values()
    yield from function.__defaults__ or ()
    yield from (function.__kwdefaults__ or {}).values()
    for code in _code_tree(function.__code__):
        current: object = _MISSING
        for instruction in dis.get_instructions(code):
            name = instruction.opname
            if name in _CHAIN_TRANSPARENT:
                continue
            if name in _CHAIN_STARTS and isinstance(instruction.argval, str):
                key = instruction.argval
                if name in ("LOAD_DEREF", "LOAD_CLASSDEREF"):
                    current = closure.get(key, _MISSING)
                else:
                    current = namespace.get(key, builtin_names.get(key, _MISSING))
            elif name in _CHAIN_LINKS and current is not _MISSING:
                current = _attribute(current, str(instruction.argval))
            else:
                current = _MISSING
            if current is not _MISSING:
                yield current


def _cell_is_set(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises ValueError
    except ValueError:
        return False
    return True


class _Shortcuts:
    """What one exercise refuses in graded mode, and the two ways of finding it."""

    def __init__(self, reference: object, forbidden: tuple[object, ...]) -> None:
        self.objects: dict[int, str] = {}
        self.codes: dict[types.CodeType, str] = {}
        reference_label = f"the reference answer of this exercise ({_label(reference)})"
        for function in _wrapped_functions(reference):
            self.codes[function.__code__] = reference_label
        self.objects[id(reference)] = reference_label
        for obj in forbidden:
            label = f"{_label(obj)}, the course's own implementation of this computation"
            self.objects[id(obj)] = label
            for code in _declared_codes(obj):
                self.codes.setdefault(code, label)
        self._keep_alive = (reference, forbidden)

    def code_label(self, code: types.CodeType) -> str | None:
        label = self.codes.get(code)
        if label is None and _is_exercise_module_function(code):
            label = f"{_exercise_module_label(code)}, from the course's exercise modules"
        return label

    def object_label(self, obj: object) -> str | None:
        label = self.objects.get(id(obj))
        if label is not None:
            return label
        for function in _wrapped_functions(obj):
            label = self.code_label(function.__code__)
            if label is not None:
                return label
        return None

    def static_use(self, answer: object) -> str | None:
        """Label of a forbidden function that ``answer`` is, wraps or names; else None."""
        label = self.object_label(answer)
        if label is None and not isinstance(answer, type):
            label = self.objects.get(id(type(answer)))
        if label is not None:
            return f"is {label}"
        roots = list(_wrapped_functions(answer))
        if not roots and callable(answer) and not isinstance(answer, type):
            call = inspect.getattr_static(type(answer), "__call__", None)
            roots = list(_wrapped_functions(call))
        own = {id(root.__globals__) for root in roots}
        queue, seen = roots, set[int]()
        while queue:
            function = queue.pop()
            if id(function) in seen or len(seen) > 200:
                continue
            seen.add(id(function))
            for obj in _referenced_objects(function):
                label = self.object_label(obj)
                if label is not None:
                    return f"uses {label}"
                # Follow the learner's own helpers (defined where the answer is).
                queue.extend(f for f in _wrapped_functions(obj)
                             if id(f.__globals__) in own and id(f) not in seen)
        return None


_DISPATCH = object()
_AUTOGRAPH_API = os.path.join("autograph", "impl", "api.py")


def _is_autograph_dispatch(code: types.CodeType) -> bool:
    """True for TensorFlow AutoGraph's ``converted_call``, which calls converted copies."""
    return code.co_name == "converted_call" and code.co_filename.endswith(_AUTOGRAPH_API)


class _CallRecorder:
    """Records calls of forbidden code made while the learner's answer runs."""

    def __init__(self, shortcuts: _Shortcuts) -> None:
        self.hits: list[str] = []
        self.tampered = False
        # A label (str), None for code that is not forbidden, or the _DISPATCH marker.
        labels: dict[types.CodeType, object] = dict(shortcuts.codes)
        lesson_prefix = _EXERCISES_DIR + os.sep
        hits = self.hits

        def hook(frame: types.FrameType, event: str, arg: object) -> None:
            if event != "call":
                return
            code = frame.f_code
            label: object = labels.get(code, _MISSING)
            if label is _MISSING:
                if _is_autograph_dispatch(code):
                    label = labels[code] = _DISPATCH
                else:
                    label = labels[code] = (shortcuts.code_label(code)
                                            if code.co_filename.startswith(lesson_prefix)
                                            else None)
            if label is _DISPATCH:
                # tf.function runs a converted copy of each function it calls (new code),
                # through converted_call(f, ...): look at the original, f.
                label = shortcuts.object_label(frame.f_locals.get("f"))
            if isinstance(label, str) and label not in hits:
                hits.append(label)

        self._hook = hook

    def call(self, answer: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        previous = sys.getprofile()
        sys.setprofile(self._hook)
        try:
            return answer(*args, **kwargs)
        finally:
            if sys.getprofile() is not self._hook:
                self.tampered = True
            sys.setprofile(previous)

    def wrap(self, answer: Callable[..., Any]) -> Callable[..., Any]:
        """A stand-in for ``answer`` that the checker calls instead."""
        def recorded(*args: Any, **kwargs: Any) -> Any:
            return self.call(answer, *args, **kwargs)

        return recorded


def _refusal(use: str) -> str:
    return (f"This is a graded copy, and your answer {use}. Write the computation "
            "yourself: answers that hand back, wrap or call the course's own "
            "implementation are not accepted here. The hints are still available.")


# ------------------------------------------------------------------------ exercises

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
    forbidden : sequence of callables or classes, optional
        course_utils implementations of the same computation. In graded mode an
        answer that is, wraps or calls one of them is refused (classes: any of their
        methods). The reference and the exercise modules' functions are always
        refused in graded mode and need not be listed.
    """

    def __init__(self, title: str, checker: Callable[[Any], None], reference: Any,
                 hints: tuple[str, ...] | list[str], *,
                 forbidden: tuple[Any, ...] | list[Any] = ()) -> None:
        if not callable(checker):
            raise TypeError(f"checker must be callable; got {type(checker).__name__}. Pass "
                            "the function that checks an answer.")
        if not hints:
            raise ValueError(f"hints must hold at least one hint; got {hints!r}. Pass a "
                             "tuple of one or more strings.")
        forbidden = tuple(forbidden)
        for obj in forbidden:
            if not isinstance(obj, type) and not any(True for _ in _wrapped_functions(obj)):
                raise TypeError(f"forbidden implementations must be Python functions, "
                                f"methods or classes; got {obj!r}. Pass the course_utils "
                                "function or class itself.")
        self.title = title
        self._checker = checker
        self.reference = reference
        self._hints = tuple(hints)
        self.forbidden = forbidden
        # The last function checked, in which mode, and its result: resolve() after
        # check() reuses it instead of running the learner's function again.
        self._last_check: tuple[Any, bool, CheckResult] | None = None
        self._shortcuts: _Shortcuts | None = None

    def __repr__(self) -> str:
        return f"Exercise({self.title!r})"

    def _graded_shortcuts(self) -> _Shortcuts:
        if self._shortcuts is None:
            self._shortcuts = _Shortcuts(self.reference, self.forbidden)
        return self._shortcuts

    def check(self, answer: Any, *, graded: bool | None = None) -> CheckResult:
        """Check ``answer``; never raises for a wrong or unfinished answer.

        Parameters
        ----------
        answer : object
            Usually the learner's function.
        graded : bool, optional
            Check in graded mode (True) or not (False); by default as set by
            :func:`set_graded`. nbgrader's test cells pass True.

        Returns
        -------
        CheckResult
            ``.passed`` is True only for a correct answer (in graded mode, one that
            does not use the course's own implementation).
        """
        if _is_placeholder(answer):
            return CheckResult(self.title, "not_attempted", PLACEHOLDER_MESSAGE)
        graded = _graded if graded is None else bool(graded)
        result = self._check_once(answer, graded)
        if isinstance(answer, types.FunctionType):
            self._last_check = (answer, graded, result)
        return result

    def _check_once(self, answer: Any, graded: bool) -> CheckResult:
        recorder = None
        subject = answer
        if graded:
            shortcuts = self._graded_shortcuts()
            use = shortcuts.static_use(answer)
            if use is not None:
                return CheckResult(self.title, "refused", _refusal(use))
            if callable(answer):
                recorder = _CallRecorder(shortcuts)
                subject = recorder.wrap(answer)
        result = self._run_checker(subject)
        if recorder is not None:
            if recorder.hits:
                return CheckResult(self.title, "refused",
                                   _refusal(f"calls {recorder.hits[0]}"))
            if recorder.tampered:
                return CheckResult(self.title, "refused",
                                   _refusal("switches off the grader's call recording"))
        return result

    def _run_checker(self, answer: Any) -> CheckResult:
        try:
            # A wrong answer's library warnings (e.g. Keras' "Gradients do not exist")
            # would only repeat, less clearly, what the checker's advice says.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
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
            count = len(self._hints)
            raise ValueError(f"number must be one of this exercise's hints 1 to {count}; "
                             f"got {number!r}. Pass a number from 1 to {count}.")
        return Markdown(f"**Hint {number}/{len(self._hints)}:** {self._hints[number - 1]}")

    def solution(self) -> Markdown:
        """Return the reference solution as a code listing (not in graded mode)."""
        if _graded:
            return Markdown(f"**Solution:** {NO_SOLUTION_MESSAGE}")
        if callable(self.reference):
            code = textwrap.dedent(inspect.getsource(self.reference))
        else:
            code = repr(self.reference)
        return Markdown(f"**Solution:**\n\n```python\n{code}```")

    def resolve(self, answer: Any) -> Any:
        """Return ``answer`` if it passes the check, else the reference answer.

        Later cells call this so that a notebook with an unfinished or wrong exercise
        still runs to the end with correct values. A function that :meth:`check` has
        just checked (the same object, in the same mode) is not run again. In graded
        mode the reference it returns stays a refused answer: an answer that calls it
        is not accepted.
        """
        last = self._last_check
        if last is not None and last[0] is answer and last[1] == _graded:
            result = last[2]  # the same function was just checked: do not run it again
        else:
            result = self.check(answer)
        return answer if result.passed else self.reference


# ---------------------------------------------------------------------- predictions

_NO_PREDICTION = ("Write your prediction in the cell above (replace ____), then run "
                  "this cell again before running the measurement.")


class Prediction:
    """A predict-then-check question: the learner writes a prediction, then a cell measures.

    The lesson asks a question whose answer a following cell measures. The learner
    writes ``my_prediction = ...`` first; :meth:`record` says whether it is a
    well-formed prediction (without judging it), and after the measurement
    :meth:`reveal` compares the two and explains the result. A blank prediction is
    never an error: the notebook runs to the end, and the reveal still shows what was
    measured. Predictions are not graded.

    Parameters
    ----------
    title : str
        E.g. ``"Prediction 4.1: which model reconstructs better?"``.
    choices : sequence of str, optional
        The prediction is one of these words (compared without case or surrounding
        spaces). Give either ``choices`` or ``tolerance``.
    tolerance : float, optional
        The prediction is a number; it holds when it lies within ``tolerance`` times
        the measured value's size of the measurement (0.25: within 25 %).
    explanation : str, callable or mapping, optional
        Why the measurement comes out as it does, shown by :meth:`reveal`; a callable
        receives the measured value and returns the text; a mapping gives the text for
        each measured choice (a choice it lacks gets none).
    """

    def __init__(self, title: str, *, choices: tuple[str, ...] | list[str] | None = None,
                 tolerance: float | None = None,
                 explanation: str | Callable[[Any], str] | Mapping[str, str] = "") -> None:
        if (choices is None) == (tolerance is None):
            given = "both" if choices is not None else "neither"
            raise ValueError(f"a Prediction must get one of choices and tolerance; got "
                             f"{given}. Pass either choices=(...) or tolerance=....")
        if choices is not None:
            choices = tuple(choices)
            if len(choices) < 2 or not all(isinstance(c, str) and c.strip() for c in choices):
                raise ValueError(f"choices must be two or more non-empty strings; got "
                                 f"{choices!r}. Pass e.g. choices=('rises', 'falls').")
        if tolerance is not None and not (isinstance(tolerance, (int, float))
                                          and 0 < tolerance < float("inf")):
            raise ValueError(f"tolerance must be a positive finite number; got "
                             f"{tolerance!r}. Pass e.g. tolerance=0.25 (within 25 %).")
        if not (isinstance(explanation, (str, Mapping)) or callable(explanation)):
            raise TypeError("explanation must be a string, a mapping from choice to text or "
                            "a function of the measured value; got "
                            f"{type(explanation).__name__}. Pass one of those.")
        self.title = title
        self.choices = choices
        self.tolerance = None if tolerance is None else float(tolerance)
        self._explanation = explanation

    def __repr__(self) -> str:
        return f"Prediction({self.title!r})"

    def _expected_form(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return "a number"

    def _normalise(self, value: Any) -> str | float | None:
        """The prediction in comparable form, or None when it is malformed."""
        if self.choices is not None:
            if not isinstance(value, str):
                return None
            folded = value.strip().lower()
            return folded if folded in (c.strip().lower() for c in self.choices) else None
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            return None
        number = float(value)
        return number if number == number and abs(number) != float("inf") else None

    def record(self, prediction: Any) -> CheckResult:
        """Say whether ``prediction`` is written down in the expected form.

        Parameters
        ----------
        prediction : str or float
            The learner's prediction (``____`` while not written).

        Returns
        -------
        CheckResult
            ``"recorded"``, ``"not_attempted"`` or ``"incorrect"`` (malformed); it
            never says whether the prediction is right.
        """
        if _is_placeholder(prediction):
            return CheckResult(self.title, "not_attempted", _NO_PREDICTION)
        if self._normalise(prediction) is None:
            return CheckResult(self.title, "incorrect",
                               f"Write your prediction as {self._expected_form()}; got "
                               f"{prediction!r}.")
        return CheckResult(self.title, "recorded",
                           f"You predicted {prediction!r}. Now run the measurement.")

    def reveal(self, prediction: Any, measured: Any) -> CheckResult:
        """Compare ``prediction`` with what the cell ``measured``.

        Parameters
        ----------
        prediction : str or float
            The learner's prediction (``____`` if none was written).
        measured : str or float
            The measurement, in the same form as the prediction.

        Returns
        -------
        CheckResult
            ``"held"`` or ``"missed"``, with the measurement and the explanation;
            ``"not_attempted"`` (still with the measurement) for a blank prediction.

        Raises
        ------
        TypeError
            If ``measured`` is not in the prediction's form (a bug in the lesson).
        """
        truth = self._normalise(measured)
        if truth is None:
            raise TypeError(f"{self.title}: the measurement must be {self._expected_form()}; "
                            f"got {measured!r}. Pass the measured value in that form.")
        shown = f"{measured:.4g}" if self.tolerance is not None else repr(measured)
        if isinstance(self._explanation, Mapping):
            explanation = self._explanation.get(measured, "")
        elif callable(self._explanation):
            explanation = self._explanation(measured)
        else:
            explanation = self._explanation
        tail = f" {explanation}" if explanation else ""
        if _is_placeholder(prediction):
            return CheckResult(self.title, "not_attempted",
                               f"You wrote no prediction. The cell measured {shown}.{tail}")
        guess = self._normalise(prediction)
        if guess is None:
            return CheckResult(self.title, "incorrect",
                               f"Your prediction {prediction!r} is not {self._expected_form()}. "
                               f"The cell measured {shown}.{tail}")
        if self.tolerance is not None:
            # with a tolerance both are numbers (see _normalise)
            held = abs(float(guess) - float(truth)) <= self.tolerance * abs(float(truth))
        else:
            held = guess == truth
        status = "held" if held else "missed"
        return CheckResult(self.title, status,
                           f"You predicted {prediction!r}; the cell measured {shown}.{tail}")


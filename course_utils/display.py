"""Show the course's own code in a notebook, so a lesson explains it without copying it.

:func:`show_source` returns the source of functions, methods, properties or classes as
a Markdown code listing, headed by where the code lives. A notebook displays the
listing as a cell's value; the code shown is always the code that runs.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import FunctionType, MethodType

__all__ = ["SourceListing", "show_source"]

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class SourceListing:
    """Source code that renders as Markdown in Jupyter and as plain text elsewhere.

    Attributes
    ----------
    markdown : str
        Headings and fenced ``python`` code blocks, one per object shown.
    code : str
        The code alone, the listings separated by a blank line.
    """

    markdown: str
    code: str

    def _repr_markdown_(self) -> str:
        return self.markdown

    def __repr__(self) -> str:
        return self.code


def _unwrap(obj: object) -> object:
    """The function behind a property, staticmethod, classmethod or bound method."""
    if isinstance(obj, property):
        if obj.fget is None:
            raise TypeError("a property must have a getter to be shown; got one without. Pass "
                            "a property defined with @property.")
        return obj.fget
    if isinstance(obj, (staticmethod, classmethod)):
        return obj.__func__
    return getattr(obj, "__func__", obj)


def _name(obj: object) -> str:
    module = getattr(obj, "__module__", None) or ""
    qualname = str(getattr(obj, "__qualname__", None) or getattr(obj, "__name__", repr(obj)))
    return f"{module}.{qualname}" if module else qualname


def _location(obj: FunctionType | MethodType | type) -> str:
    """``path/to/file.py, lines a-b``, the path relative to the repository if possible."""
    lines, start = inspect.getsourcelines(obj)
    path = Path(inspect.getsourcefile(obj) or "?").resolve()
    try:
        path = path.relative_to(_PACKAGE_ROOT)
    except ValueError:
        path = Path(path.name)
    start = max(start, 1)
    return f"{path.as_posix()}, lines {start}-{start + len(lines) - 1}"


def _without_docstring(code: str) -> str:
    """``code`` (one dedented ``def`` or ``class``) with its docstring lines removed.

    The docstring is kept when it is the whole body, so the result stays valid Python.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:  # e.g. a lambda cut out of a longer line: show it as it is
        return code
    if not tree.body or not isinstance(
            tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return code
    body = tree.body[0].body
    first = body[0]
    is_docstring = (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str))
    if not is_docstring or len(body) == 1:
        return code
    lines = code.splitlines(keepends=True)
    del lines[first.lineno - 1:first.end_lineno]
    return "".join(lines)


def _inspectable(obj: object) -> FunctionType | MethodType | type:
    """``obj``'s function or class, whose source ``inspect`` can find."""
    target = _unwrap(obj)
    if inspect.isfunction(target) or inspect.isclass(target) or inspect.ismethod(target):
        return target
    raise TypeError(f"each object for show_source must be a function, method, property or "
                    f"class; got {type(obj).__name__}. Pass the object itself, e.g. "
                    "show_source(Sampling.call), not the result of calling it.")


def _source(obj: object, docstring: bool) -> tuple[str, str]:
    target = _inspectable(obj)
    try:
        code = textwrap.dedent(inspect.getsource(target))
        location = _location(target)
    except (OSError, TypeError) as error:
        raise TypeError(f"the object must be code saved in a .py file; got {_name(target)}, "
                        "whose source is not available (built in or defined "
                        "interactively). Pass a function or class from a module.") from error
    if not docstring:
        code = _without_docstring(code)
    return f"`{_name(target)}` ({location})", code.rstrip("\n") + "\n"


def show_source(*objects: object, docstring: bool = False) -> SourceListing:
    """The source code of one or more functions, methods, properties or classes.

    Parameters
    ----------
    *objects : function, method, property or class
        What to show, in order, e.g. ``show_source(VAE.train_step, VAE.test_step)``.
        Each must be defined in a ``.py`` file.
    docstring : bool
        Keep the docstrings. By default they are left out, so the listing shows only
        the lines that compute something.

    Returns
    -------
    SourceListing
        Displays as Markdown: for each object, its full name and file location, then
        its code in a ``python`` block.

    Raises
    ------
    TypeError
        If no object is given, or one is not a function, method, property or class,
        or its source cannot be found.
    """
    if not objects:
        raise TypeError("show_source must be given at least one object; got none. Pass "
                        "one, e.g. show_source(Sampling.call).")
    parts = [_source(obj, docstring) for obj in objects]
    markdown = "\n\n".join(f"{header}\n\n```python\n{code}```" for header, code in parts)
    code = "\n".join(code for _, code in parts)
    return SourceListing(markdown=markdown, code=code)

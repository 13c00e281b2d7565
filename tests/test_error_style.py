"""One error style in course_utils: "<what> must <expected>; got <received>. <Fix.>".

Every ``TypeError(...)`` / ``ValueError(...)`` (and ``DataFileError(...)``) that the
package raises or returns is read with ``ast``: the constant text of its message
(f-string fields shown as ``{}``) must say what was expected (" must "), what was
received ("; got ") and, after that, how to fix it, as a sentence of its own. A few real
checks are also run to see the messages they print.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from course_utils import _validation

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "course_utils"
FILES = sorted(PACKAGE.rglob("*.py"))
#: The errors of bad input: TypeError, ValueError and the package's subclass of it.
CHECKED = {"TypeError", "ValueError", "DataFileError"}

#: "... must ...; got .... Fix sentence." The got-part ends at the first full stop (or
#: ! or ?) followed by a space and a capital letter, a quote, a bracket or a field; the
#: message ends with a full stop (perhaps inside a closing bracket or quote) or with a
#: field that is the whole fix sentence.
STYLE = re.compile(r" must .*?; got .*?[.!?][)\"'`]?\s+"
                   r"(\{\}|[A-Z{\"'`(].*[.!?][)\"'`]*)$", re.S)

#: Raises whose message is not a literal, with the reason each may stay so:
#: {(path relative to the repository, enclosing function): reason}.
ALLOWED: dict[tuple[str, str], str] = {}


def _text(node: ast.expr) -> str | None:
    """The constant text of a message expression, ``{}`` for each field; None if unknown."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "{}"
                       for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return None if left is None and right is None else (left or "{}") + (right or "{}")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):  # "..." % (...)
        return _text(node.left)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"):  # "...".format(...)
        text = _text(node.func.value)
        return None if text is None else re.sub(r"\{[^{}]*\}", "{}", text)
    return None


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    return {node.name: node for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _messages(node: ast.expr, scope: ast.AST, functions: dict) -> list[str] | None:
    """The possible texts of a message expression: literal, a local variable assigned
    literals, or a call of a module helper whose returns are literals; None if unknown."""
    text = _text(node)
    if text is not None:
        return [text]
    values: list[ast.expr] = []
    if isinstance(node, ast.Name):
        values = [item.value for item in ast.walk(scope) if isinstance(item, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == node.id for t in item.targets)]
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
          and node.func.id in functions):
        values = [item.value for item in ast.walk(functions[node.func.id])
                  if isinstance(item, ast.Return) and item.value is not None]
    texts = [text for text in map(_text, values) if text is not None]
    return texts if values and len(texts) == len(values) else None


def _offenders(path: Path) -> list[str]:
    return _problems(path.read_text(), path.relative_to(ROOT).as_posix())


def _problems(source: str, relative: str) -> list[str]:
    """``file:line: message`` for each TypeError/ValueError built with a message not in
    the style (raised where it is built, or returned by a helper such as ``_fail``)."""
    tree = ast.parse(source, filename=relative)
    functions = _functions(tree)
    problems = []
    scopes = [tree, *functions.values()]
    owner = {}
    for scope in scopes:  # the innermost function holding each call
        for node in ast.walk(scope):
            if isinstance(node, ast.Call):
                owner[id(node)] = scope
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Name) \
                and node.exc.id in CHECKED:
            problems.append(f"{relative}:{node.lineno}: {node.exc.id} without a message")
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in CHECKED):
            continue
        where = f"{relative}:{node.lineno}"
        scope = owner[id(node)]
        if not node.args:
            problems.append(f"{where}: {node.func.id} without a message")
            continue
        texts = _messages(node.args[0], scope, functions)
        if texts is None:
            if (relative, getattr(scope, "name", "<module>")) not in ALLOWED:
                problems.append(f"{where}: the message is not a literal text; write it "
                                "out, or add the raise to ALLOWED with a reason")
            continue
        problems += [f"{where}: {text!r}" for text in texts if not STYLE.search(text)]
    return problems


def test_the_style_pattern_accepts_the_style_and_refuses_the_others():
    good = ["k must be a whole number >= 1; got {}. Pass an int such as 100.",
            "x must hold values in [0, 1]; got min {}, max {}. {}",
            "{} must have {} dimensions; got shape {}. Reshape it (np.reshape).",
            "z must be finite; got 1.5. 'Pass' a finite value."]
    bad = ["expected k to be a whole number, got {}, fix: pass an int.",
           "k must be a whole number; got {}.",
           "k must be a whole number; got {}. pass an int.",
           "k must be a whole number, got {}. Pass an int.",
           "unknown layer type {} in the spec."]
    assert all(STYLE.search(text) for text in good)
    assert not any(STYLE.search(text) for text in bad)


def test_the_reader_follows_variables_and_helpers_and_flags_what_it_cannot_read():
    source = """
def _message(x):
    return f"x must be positive; got {x}. Pass 1."
def _bad(x):
    return f"bad x {x}"
def f(x, text):
    if x == 0:
        raise ValueError(_message(x))
    if x == 1:
        message = "x must be odd; got 1. Pass 3."
        raise TypeError(message)
    if x == 2:
        raise ValueError(_bad(x))
    if x == 3:
        raise ValueError(text)
    if x == 4:
        raise TypeError
    raise ValueError("x must be small; got " + str(x) + ". Pass 0.")
"""
    problems = _problems(source, "m.py")
    assert sorted(p.split(":")[1] for p in problems) == ["13", "15", "17"], problems


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_raise_says_what_must_be_what_was_got_and_how_to_fix_it(path):
    problems = _offenders(path)
    assert not problems, ("messages not in the style \"<what> must <expected>; got "
                          "<received>. <Fix sentence.>\":\n" + "\n".join(problems))


def test_allowed_raises_still_exist():
    for (relative, function), reason in ALLOWED.items():
        source = (ROOT / relative).read_text()
        assert f"def {function}(" in source and reason, (relative, function)


@pytest.mark.parametrize(("call", "error"), [
    (lambda: _validation.check_positive_int("3", "k"), TypeError),
    (lambda: _validation.check_positive_int(0, "k"), ValueError),
    (lambda: _validation.check_positive_number(-1.0, "learning_rate"), ValueError),
    (lambda: _validation.check_positive_number(None, "beta"), TypeError),
    (lambda: _validation.check_int_sequence("512", "hidden"), TypeError),
    (lambda: _validation.check_real_number(float("inf"), "mean"), ValueError),
    (lambda: _validation.check_vector([1.0, np.nan], "means"), ValueError),
    (lambda: _validation.check_vector([[1.0]], "means"), ValueError),
    (lambda: _validation.check_vector([], "means"), ValueError),
    (lambda: _validation.check_float_array("abc", "z", ndim=2), TypeError),
    (lambda: _validation.check_curves({}, "losses"), ValueError),
    (lambda: _validation.check_same_shape(np.zeros(2), "a", np.zeros(3), "b"), ValueError),
    (lambda: _validation.rng_from_seed(-1), ValueError),
    (lambda: _validation.check_array(np.zeros(3), "z", ndim=2), ValueError),
    (lambda: _validation.check_images(np.full((1, 4, 4), 255.0), pixels=True), ValueError),
    (lambda: _validation.check_images(np.full((1, 4, 4), np.nan), finite=True), ValueError),
    (lambda: _validation.check_images(np.zeros((1, 4, 4, 3))), ValueError),
])
def test_real_checks_print_messages_in_the_style(call, error):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert re.fullmatch(r"\S.* must .+?; got .+?[.)] [A-Z].*[.)]", message, re.S), message

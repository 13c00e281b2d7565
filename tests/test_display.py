import ast
import inspect

import pytest

from course_utils.display import SourceListing, show_source
from course_utils.elbo.losses import negative_elbo
from course_utils.models.layers import Sampling


def documented(x):
    """A docstring that should not be shown.

    It spans several lines.
    """
    doubled = 2 * x
    return doubled


def only_a_docstring():
    """Nothing but a docstring."""


def _decorator(function):
    return function


class Example:
    """A small class with the kinds of members a lesson shows."""

    def method(self, y):
        """Add one."""
        return y + 1

    @property
    def value(self):
        """The answer."""
        return 42

    @staticmethod
    def static(z):
        return z

    @_decorator
    def decorated(self):
        return "decorated"


def test_show_source_leaves_out_the_docstring_by_default():
    listing = show_source(documented)
    assert isinstance(listing, SourceListing)
    assert "doubled = 2 * x" in listing.code and "return doubled" in listing.code
    assert "docstring" not in listing.code and "several lines" not in listing.code
    ast.parse(listing.code)  # still valid Python


def test_show_source_keeps_the_docstring_on_request():
    listing = show_source(documented, docstring=True)
    assert "A docstring that should not be shown." in listing.code
    assert "It spans several lines." in listing.code


def test_show_source_keeps_a_docstring_that_is_the_whole_body():
    listing = show_source(only_a_docstring)
    assert '"""Nothing but a docstring."""' in listing.code
    ast.parse(listing.code)


def test_markdown_has_a_header_with_name_and_location_and_a_python_block():
    markdown = show_source(documented)._repr_markdown_()
    assert markdown.startswith(f"`{__name__}.documented` (")
    assert "test_display.py, lines " in markdown
    assert "```python\ndef documented(x):\n" in markdown
    assert markdown.rstrip().endswith("```")


def test_location_gives_the_first_and_last_line():
    markdown = show_source(documented).markdown
    lines, start = inspect.getsourcelines(documented)
    assert f"lines {start}-{start + len(lines) - 1})" in markdown


def test_show_source_is_dedented_for_methods_properties_statics_and_decorated():
    assert show_source(Example.method).code.startswith("def method(self, y):\n")
    assert "Add one" not in show_source(Example.method).code
    assert show_source(Example().method).code == show_source(Example.method).code
    value = show_source(Example.value).code
    assert value.startswith("@property\ndef value(self):") and "return 42" in value
    assert show_source(Example.__dict__["static"]).code.startswith("@staticmethod")
    assert show_source(Example.decorated).code.startswith("@_decorator\ndef decorated")
    for listing in (show_source(Example.method), show_source(Example.value)):
        ast.parse(listing.code)


def test_show_source_of_a_class_drops_only_the_class_docstring():
    code = show_source(Example).code
    assert code.startswith("class Example:")
    assert "A small class" not in code
    assert '"""Add one."""' in code  # methods keep theirs: only the top one goes


def test_show_source_joins_several_objects_in_order():
    listing = show_source(Example.method, documented)
    assert listing.code.index("def method") < listing.code.index("def documented")
    assert listing.markdown.count("```python") == 2


def test_show_source_works_on_the_course_code():
    listing = show_source(Sampling.call, negative_elbo)
    assert "ops.exp(0.5 * z_log_var)" in listing.code
    assert "course_utils/models/layers.py, lines " in listing.markdown
    assert "course_utils/elbo/losses.py, lines " in listing.markdown
    assert "Parameters" not in listing.code  # the numpydoc docstring is left out


def test_repr_is_the_plain_code():
    assert repr(show_source(documented)) == show_source(documented).code


@pytest.mark.parametrize("bad", [42, "documented", None, documented(1)])
def test_show_source_rejects_things_that_are_not_code(bad):
    with pytest.raises(TypeError, match="function, method, property or class"):
        show_source(bad)


def test_show_source_explains_built_ins_and_empty_calls():
    with pytest.raises(TypeError, match="function, method, property or class"):
        show_source(len)
    with pytest.raises(TypeError, match="at least one object"):
        show_source()


def test_show_source_explains_code_without_a_file():
    namespace = {}
    exec("def made_up():\n    return 1\n", namespace)
    with pytest.raises(TypeError, match="not available"):
        show_source(namespace["made_up"])

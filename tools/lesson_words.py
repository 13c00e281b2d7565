"""Count the words of prose in each lesson, the measure behind the 3,000-word limit.

A word is a whitespace-separated piece of a markdown cell, maths included (a formula
costs the reader time too), after fenced code blocks, HTML tags and images (the "Open
in Colab" badges) are removed. This is the plain count a reviewer gets by splitting
the markdown on spaces, so the limit holds by any reading.

Usage::

    python tools/lesson_words.py                  # every notebooks/[0-9]*.ipynb
    python tools/lesson_words.py NB.ipynb ...
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 3000

_REMOVE = (
    re.compile(r"```.*?```", re.DOTALL),            # fenced code
    re.compile(r"\[!\[[^\]]*\]\([^)]*\)\]\([^)]*\)"),  # linked badges
    re.compile(r"!\[[^\]]*\]\([^)]*\)"),            # images and badges
    re.compile(r"<[^>]+>"),                         # HTML tags
)


def prose_words(markdown: str) -> int:
    """Number of prose words in one markdown text (see the module docstring)."""
    for pattern in _REMOVE:
        markdown = pattern.sub(" ", markdown)
    return len(markdown.split())


def notebook_words(path: Path) -> int:
    """Prose words in the markdown cells of the notebook at ``path``."""
    notebook = nbformat.read(path, as_version=4)
    return sum(prose_words(cell.source) for cell in notebook.cells
               if cell.cell_type == "markdown")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    for path in paths:
        words = notebook_words(path)
        flag = "" if words <= LIMIT else f"   over the {LIMIT:,}-word limit"
        print(f"{words:6,d}  {path.name}{flag}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

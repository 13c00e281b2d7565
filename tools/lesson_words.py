"""Count the words of prose in each lesson, the measure behind the 3,000-word limit.

A word is a whitespace-separated piece of a markdown cell: the plainest count there
is, the one a reviewer gets by splitting all the markdown on spaces. Maths counts (a
formula costs the reader time too), and so do the few badges, tags and code lines in
markdown, so the limit holds by any reading.

Usage::

    python tools/lesson_words.py                  # every notebooks/[0-9]*.ipynb
    python tools/lesson_words.py NB.ipynb ...
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 3000

def prose_words(markdown: str) -> int:
    """Number of words in one markdown text (see the module docstring)."""
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

"""Strip notebook outputs, keeping only the small text outputs that nbval compares.

A code cell whose source contains ``# NBVAL_CHECK_OUTPUT`` keeps its text outputs
(``text/*`` representations and stdout; nbval compares which representations a
result has, so a checked result keeps its small HTML too). Every other output,
every figure, the execution counts of unchecked cells and per-cell execution
metadata are removed.

Usage::

    python tools/clean_notebooks.py notebooks/*.ipynb            # rewrite in place
    python tools/clean_notebooks.py --check notebooks/*.ipynb    # exit 1 if any is dirty
    python tools/clean_notebooks.py --execute notebooks/01_*.ipynb
        # re-run in fast mode first, so the checked outputs are fresh
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import nbformat

CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"
_TEXT_MIME = "text/plain"


def _clean_output(output: dict) -> dict | None:
    if output.get("output_type") == "stream":
        return output if output.get("name") == "stdout" else None  # stderr is log noise
    if output.get("output_type") in ("execute_result", "display_data"):
        data = output.get("data", {})
        if _TEXT_MIME not in data:
            return None
        output["data"] = {mime: value for mime, value in data.items()
                          if mime.startswith("text/")}
        output["metadata"] = {}
        return output
    return None  # errors and anything else


def clean_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return ``notebook`` with outputs stripped except in NBVAL_CHECK_OUTPUT cells."""
    for cell in notebook.cells:
        cell.get("metadata", {}).pop("execution", None)
        if cell.cell_type != "code":
            continue
        if CHECK_MARKER in cell.source:
            # nbval refuses stored outputs of a cell without an execution count
            kept = (_clean_output(output) for output in cell.outputs)
            cell.outputs = [output for output in kept if output is not None]
        else:
            cell.execution_count = None
            cell.outputs = []
    notebook.metadata.pop("widgets", None)
    return notebook


def _execute_fast(notebook: nbformat.NotebookNode, path: Path) -> nbformat.NotebookNode:
    from run_course import execute

    os.environ["COURSE_FAST"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as logs:
        error = execute(notebook, path.parent, 1800, Path(logs) / f"{path.stem}.log")
    if error:
        raise SystemExit(f"{path} failed in fast mode: {error}")
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true",
                        help="report notebooks that are not clean and exit 1; change nothing")
    parser.add_argument("--execute", action="store_true",
                        help="execute each notebook in fast mode (COURSE_FAST=1) first")
    args = parser.parse_args(argv)
    dirty = []
    for path in args.paths:
        original = path.read_text(encoding="utf-8")
        notebook = nbformat.reads(original, as_version=4)
        if args.execute:
            notebook = _execute_fast(notebook, path)
        notebook = clean_notebook(notebook)
        cleaned = nbformat.writes(notebook) + "\n"
        if cleaned != original:
            dirty.append(path)
            if not args.check:
                path.write_text(cleaned, encoding="utf-8")
    for path in dirty:
        print(f"{'not clean' if args.check else 'cleaned'}: {path}")
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())

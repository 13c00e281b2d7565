"""Run every lesson headless, in order, and render it: what ``make course`` does.

For each ``notebooks/NN_*.ipynb`` it executes the notebook in a fresh kernel, writes
the executed copy to ``build/executed/`` and an HTML rendering to ``build/html/``,
and prints one line: the lesson, its run time and its headline numbers (the outputs
of ``course_utils.report.headline``). Progress is shown cell by cell.

The mode comes from the environment: unset ``COURSE_FAST`` runs the real course
settings; ``COURSE_FAST=1`` runs the fast versions.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils.mode import current_mode  # noqa: E402
from course_utils.report import HEADLINE_MIME  # noqa: E402


def headlines(notebook: nbformat.NotebookNode) -> list[str]:
    """The texts of every headline output in an executed notebook, in order."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(HEADLINE_MIME)
            if payload:
                found.append(payload["text"])
    return found


def format_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Progress:
    """Prints which cell is running: one updating line on a terminal, else one per cell."""

    def __init__(self, name: str, n_code_cells: int) -> None:
        self.name, self.total, self.done = name, n_code_cells, 0
        self.tty = sys.stdout.isatty()

    def __call__(self, cell, cell_index, **_) -> None:
        if cell.cell_type != "code":
            return
        self.done += 1
        first_line = next((line for line in cell.source.splitlines()
                           if line.strip() and not line.startswith("#")), "")[:60]
        message = f"  {self.name}: cell {self.done}/{self.total}  {first_line}"
        if self.tty:
            print(f"\r\033[K{message}", end="", flush=True)
        else:
            print(message, flush=True)

    def finish(self) -> None:
        if self.tty:
            print("\r\033[K", end="", flush=True)


def execute(notebook: nbformat.NotebookNode, directory: Path, timeout: int,
            log_path: Path) -> str:
    """Execute ``notebook`` in place in a fresh kernel; return "" or the error's last line.

    The kernel's own stderr (TensorFlow's C++ start-up messages) goes to ``log_path``;
    Python errors in cells still reach the notebook and the returned message.
    """
    n_code = sum(cell.cell_type == "code" for cell in notebook.cells)
    progress = Progress(log_path.name.split(".")[0], n_code)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(directory)}},
                            on_cell_executed=progress)
    with open(log_path, "w") as kernel_log:
        try:
            client.execute(stderr=kernel_log)
        except CellExecutionError as failure:
            lines = re.sub(r"\x1b\[[0-9;]*m", "", str(failure)).strip().splitlines()
            return lines[-1] if lines else "error"
        finally:
            progress.finish()
    return ""


def run_notebook(path: Path, build: Path, timeout: int) -> tuple[bool, float, list[str], str]:
    """Execute one notebook and render it; return (ok, seconds, headlines, error)."""
    notebook = nbformat.read(path, as_version=4)
    for folder in ("executed", "html", "logs"):
        (build / folder).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    error = execute(notebook, path.parent, timeout, build / "logs" / f"{path.stem}.stderr.log")
    seconds = time.perf_counter() - start
    nbformat.write(notebook, build / "executed" / path.name)
    body, _ = HTMLExporter().from_notebook_node(notebook)
    (build / "html" / f"{path.stem}.html").write_text(body, encoding="utf-8")
    return not error, seconds, headlines(notebook), error


def write_index(build: Path, rows: list[tuple[str, bool, float, list[str]]], mode: str) -> None:
    items = "\n".join(
        f'<li><a href="html/{html.escape(name)}.html">{html.escape(name)}</a> '
        f"({'ok' if ok else 'FAILED'}, {format_seconds(seconds)}): "
        f"{html.escape('; '.join(numbers) or 'no headline')}</li>"
        for name, ok, seconds, numbers in rows)
    (build / "index.html").write_text(
        f"<!doctype html><meta charset='utf-8'><title>VAE course</title>"
        f"<h1>VAE course, {html.escape(mode)} mode</h1><ol>{items}</ol>\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: notebooks/[0-9]*.ipynb)")
    parser.add_argument("--build", type=Path, default=ROOT / "build")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    mode = current_mode()
    print(f"Running {len(paths)} notebooks in {mode.name} mode; output in {args.build}/",
          flush=True)
    rows = []
    for path in paths:
        ok, seconds, numbers, error = run_notebook(path, args.build, args.timeout)
        status = "ok" if ok else f"FAILED: {error}"
        print(f"{path.stem:<28} {format_seconds(seconds):>7}  "
              f"{'; '.join(numbers) or '-'}  [{status}]", flush=True)
        rows.append((path.stem, ok, seconds, numbers))
    write_index(args.build, rows, mode.name)
    failed = [name for name, ok, _, _ in rows if not ok]
    total = sum(seconds for _, _, seconds, _ in rows)
    print(f"{len(rows) - len(failed)}/{len(rows)} notebooks ran in {format_seconds(total)}; "
          f"open {args.build / 'index.html'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

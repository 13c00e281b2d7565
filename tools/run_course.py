"""Run every lesson headless, in order, and build the course website: ``make course``.

For each ``notebooks/NN_*.ipynb`` it executes the notebook in a fresh kernel, writes
the executed copy to ``build/executed/``, records its run time in
``build/executed/runs.json``, and prints one line: the lesson, its run time and its
headline numbers (the outputs of ``course_utils.report.headline``). Progress is shown
cell by cell. Then ``tools/build_site.py`` turns every executed lesson into the offline
website: ``build/index.html`` and ``build/html/``. ``python tools/build_site.py``
rebuilds the website alone, without running the lessons again.

The mode comes from the environment: unset ``COURSE_FAST`` runs the real course
settings; ``COURSE_FAST=1`` runs the fast versions.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from build_site import (
    RUNS_FILE,
    RunRecord,
    SiteError,
    build_site,
    course_site_options,
    format_seconds,
    headlines,
    load_lessons,
    write_run_record,
)
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course_utils.mode import current_mode

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["Progress", "execute", "format_seconds", "headlines", "main", "run_notebook"]


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


def run_notebook(path: Path, build: Path, timeout: int, mode: str = ""
                 ) -> tuple[bool, float, list[str], str]:
    """Execute one notebook, save it and record its run; return (ok, seconds, headlines, error).

    Parameters
    ----------
    path : Path
        The lesson.
    build : Path
        The build folder: the executed copy goes to ``executed/``, the kernel's stderr to
        ``logs/``, and the run time into ``executed/runs.json``.
    timeout : int
        Seconds allowed per cell.
    mode : str
        The course mode, stored with the run time.
    """
    notebook = nbformat.read(path, as_version=4)
    for folder in ("executed", "logs"):
        (build / folder).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    error = execute(notebook, path.parent, timeout, build / "logs" / f"{path.stem}.stderr.log")
    seconds = time.perf_counter() - start
    nbformat.write(notebook, build / "executed" / path.name)
    write_run_record(build / "executed" / RUNS_FILE, path.stem,
                     RunRecord(seconds=round(seconds, 2), ok=not error, error=error, mode=mode))
    return not error, seconds, headlines(notebook), error


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
        ok, seconds, numbers, error = run_notebook(path, args.build, args.timeout, mode.name)
        status = "ok" if ok else f"FAILED: {error}"
        print(f"{path.stem:<28} {format_seconds(seconds):>7}  "
              f"{'; '.join(numbers) or '-'}  [{status}]", flush=True)
        rows.append((path.stem, ok, seconds, numbers))
    failed = [name for name, ok, _, _ in rows if not ok]
    total = sum(seconds for _, _, seconds, _ in rows)
    print(f"{len(rows) - len(failed)}/{len(rows)} notebooks ran in {format_seconds(total)}",
          flush=True)
    try:
        lessons = load_lessons(args.build / "executed")
        pages = build_site(lessons, args.build, **course_site_options(args.build, lessons))
    except SiteError as error:
        print(f"The course website was not built: {error}", file=sys.stderr)
        return 1
    print(f"Website: {len(pages) - 1} lesson pages; open {pages[0]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

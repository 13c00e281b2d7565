"""Write the Colab/Kaggle setup cell and badges of every lesson from pyproject.toml.

The course's release, its repository address and tag, is set in one place:
pyproject.toml's ``[tool.vae-course]`` table (``repository``, ``tag``). This tool writes
it into

- every lesson's *setup cell* (``notebooks/NN_*.ipynb``, and appendices such as
  ``notebooks/03a_*.ipynb``): the first code cell, right
  after the "## Setup" heading (or after the title cell if a lesson has none). On Colab
  or Kaggle it pip-installs ``vae-course @ git+<repository>@<tag>`` when
  ``course_utils`` cannot be imported; anywhere else it does nothing;
- the "Open in Colab" and "Open in Kaggle" badges under each lesson's title;
- the table of badges in README.md, between ``<!-- colab-badges:start -->`` and
  ``<!-- colab-badges:end -->`` (inserted after the lesson table if missing).

Only those parts are touched: every other cell, output, id and metadata stays as it is.

Usage::

    python tools/sync_setup.py           # rewrite whatever is out of date
    python tools/sync_setup.py --check   # list what is out of date and exit 1; change nothing
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LESSON_GLOB = "[0-9][0-9]*_*.ipynb"  # lessons NN_* and appendices NNa_*

SETUP_MARKER = "# Setup for Google Colab and Kaggle"
SETUP_CELL_ID = "course-setup"
COLAB_BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
KAGGLE_BADGE = "[![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)]"
README_START = "<!-- colab-badges:start -->"
README_END = "<!-- colab-badges:end -->"

_TITLE = re.compile(r"# (?:Lesson (\d\d)|Appendix to lesson (\d\d)): (.+)")
_GITHUB = re.compile(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?")
_URL = re.compile(r"https://[\w.-]+(?::\d+)?(?:/[\w.~-]+)+/?")
_TAG = re.compile(r"[\w][\w.+/-]*")
_NAME = re.compile(r"[A-Za-z0-9][\w.-]*")

SETUP_TEMPLATE = '''\
{marker}: install the course's helper package
# `course_utils` from the release that matches this notebook. Anywhere else (your own
# computer, Binder) this cell does nothing.
# On Kaggle, first switch on "Internet" in the notebook's settings panel.
# (Written by tools/sync_setup.py from pyproject.toml: change the release there.)
import importlib.util
import os
import subprocess
import sys

on_colab = "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ
on_kaggle = "KAGGLE_KERNEL_RUN_TYPE" in os.environ
if (on_colab or on_kaggle) and importlib.util.find_spec("course_utils") is None:
    # pip adds only the course: TensorFlow, Keras, NumPy and the rest are already there.
    # COURSE_PACKAGE can name another source of the course, e.g. your own fork.
    package = os.environ.get(
        "COURSE_PACKAGE", "{package}")
    print("Installing", package)
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", package],
                         capture_output=True, text=True)
    if pip.returncode != 0:  # show pip's reason, e.g. no Internet
        raise RuntimeError("pip could not install the course:\\n" + pip.stderr)
    importlib.invalidate_caches()  # so that `import course_utils` finds it'''


@dataclass(frozen=True)
class Release:
    """Where the setup cells install the course from.

    Parameters
    ----------
    name : str
        The distribution name, pyproject's ``[project] name``.
    repository : str
        The repository's https address, e.g. ``https://github.com/OWNER/REPO``.
    tag : str
        The git tag of the release that the notebooks install.
    """

    name: str
    repository: str
    tag: str

    def __post_init__(self) -> None:
        # The values end up inside a Python string literal and inside URLs: keep them plain.
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"project name {self.name!r} is not a plain distribution name")
        if not _URL.fullmatch(self.repository):
            raise ValueError(f"repository {self.repository!r} is not a plain https:// address")
        if not _TAG.fullmatch(self.tag):
            raise ValueError(f"tag {self.tag!r} is not a plain git tag")

    @property
    def package(self) -> str:
        """The pip requirement that installs this release, ``NAME @ git+URL@TAG``."""
        return f"{self.name} @ git+{self.repository.rstrip('/')}@{self.tag}"

    @property
    def github(self) -> str:
        """``OWNER/REPO`` of the GitHub repository.

        Raises
        ------
        ValueError
            If the repository is not on GitHub: Colab opens notebooks from GitHub only.
        """
        match = _GITHUB.fullmatch(self.repository)
        if match is None:
            raise ValueError(f"repository {self.repository!r} is not on github.com; Colab's "
                             "and Kaggle's badges open notebooks from GitHub only")
        return f"{match.group(1)}/{match.group(2)}"


def read_release(pyproject: Path) -> Release:
    """Read the release from a pyproject.toml's ``[tool.vae-course]`` table.

    Parameters
    ----------
    pyproject : Path
        The pyproject.toml file.

    Returns
    -------
    Release
        Its project name, ``repository`` and ``tag``.

    Raises
    ------
    KeyError
        If the table, or one of its keys, is missing.
    ValueError
        If a value is not plain enough to be written into code and URLs.
    """
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    table = data["tool"]["vae-course"]
    return Release(data["project"]["name"], table["repository"], table["tag"])


def setup_cell_source(release: Release) -> str:
    """The source of every lesson's setup cell for ``release``."""
    return SETUP_TEMPLATE.format(marker=SETUP_MARKER, package=release.package)


def is_setup_cell(cell: nbformat.NotebookNode) -> bool:
    """Whether ``cell`` is a setup cell written by this tool (in any version)."""
    return cell.cell_type == "code" and cell.source.startswith(SETUP_MARKER)


def github_blob_url(release: Release, notebook_name: str) -> str:
    """The GitHub address of a lesson at the release's tag."""
    return f"https://github.com/{release.github}/blob/{release.tag}/notebooks/{notebook_name}"


def colab_url(release: Release, notebook_name: str) -> str:
    """The address that opens a lesson of the release in Google Colab."""
    return (f"https://colab.research.google.com/github/{release.github}/blob/{release.tag}"
            f"/notebooks/{notebook_name}")


def kaggle_url(release: Release, notebook_name: str) -> str:
    """The address that imports a lesson of the release into a new Kaggle notebook."""
    return f"https://kaggle.com/kernels/welcome?src={github_blob_url(release, notebook_name)}"


def badges(release: Release, notebook_name: str) -> str:
    """The "Open in Colab" and "Open in Kaggle" badges of one lesson, as Markdown."""
    return (f"{COLAB_BADGE}({colab_url(release, notebook_name)}) "
            f"{KAGGLE_BADGE}({kaggle_url(release, notebook_name)})")


def lesson_title(notebook: nbformat.NotebookNode, notebook_name: str) -> tuple[str, str]:
    """The lesson's number and title from its first cell, ``# Lesson NN: Title``.

    An appendix, ``# Appendix to lesson NN: Title``, is numbered ``"NNa"``.

    Raises
    ------
    ValueError
        If the first cell is not a markdown cell starting with that title line.
    """
    first = notebook.cells[0] if notebook.cells else None
    match = _TITLE.fullmatch(first.source.split("\n", 1)[0]) if first is not None and \
        first.cell_type == "markdown" else None
    if match is None:
        raise ValueError(f"{notebook_name}: the first cell must start with '# Lesson NN: Title' "
                         "or '# Appendix to lesson NN: Title'")
    lesson, appendix, title = match.groups()
    if lesson:
        return lesson, title.strip()
    return f"{appendix}a", f"Appendix: {title.strip()}"


def _with_badges(source: str, badge_line: str) -> str:
    """A title cell's source with ``badge_line`` (alone) right under the title line."""
    title, _, rest = source.partition("\n")
    body = [line for line in rest.split("\n")
            if not line.startswith((COLAB_BADGE, KAGGLE_BADGE))]
    text = "\n".join(body).strip("\n")
    return f"{title}\n\n{badge_line}" + (f"\n\n{text}" if text else "")


def _setup_position(cells: list[nbformat.NotebookNode]) -> int:
    """Where the setup cell goes in ``cells`` (which hold no setup cell).

    Right after a "## Setup" markdown cell that comes before the first code cell, else
    right after the title cell.
    """
    for index, cell in enumerate(cells):
        if cell.cell_type == "code":
            break
        if index > 0 and cell.source.lstrip().startswith("## Setup"):
            return index + 1
    return 1


def sync_notebook(notebook: nbformat.NotebookNode, release: Release,
                  notebook_name: str) -> list[str]:
    """Bring one lesson's badges and setup cell up to date, in place.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        The lesson; changed in place. Cells other than the title cell and the setup
        cell are left exactly as they are.
    release : Release
        The release to install and link to.
    notebook_name : str
        The lesson's file name, e.g. ``01_autoencoder_baseline.ipynb``.

    Returns
    -------
    list of str
        What was out of date (empty if nothing changed).
    """
    lesson_title(notebook, notebook_name)  # fails early on a lesson without a title
    changes = []
    title = notebook.cells[0]
    new_title = _with_badges(title.source, badges(release, notebook_name))
    if new_title != title.source:
        changes.append("badges under the title")
        title.source = new_title

    old = [(index, cell) for index, cell in enumerate(notebook.cells) if is_setup_cell(cell)]
    others = [cell for cell in notebook.cells if not is_setup_cell(cell)]
    if any(cell.get("id") == SETUP_CELL_ID for cell in others):
        raise ValueError(f"{notebook_name}: another cell already has the id {SETUP_CELL_ID!r}")
    cell = nbformat.v4.new_code_cell(setup_cell_source(release), id=SETUP_CELL_ID)
    if (notebook.nbformat, notebook.nbformat_minor) < (4, 5):
        del cell["id"]  # cell ids came with nbformat 4.5
    position = _setup_position(others)
    if not old:
        changes.append("setup cell missing")
    elif len(old) > 1:
        changes.append(f"{len(old)} setup cells instead of one")
    elif old[0][0] != position:
        changes.append("setup cell is not the first code cell after the Setup heading")
    elif old[0][1] != cell:
        changes.append("setup cell out of date")
    notebook.cells = others[:position] + [cell] + others[position:]
    return changes


def readme_block(release: Release, lessons: list[tuple[str, str, str]]) -> str:
    """The README's table of badges, markers included.

    Parameters
    ----------
    release : Release
        The release the badges open.
    lessons : list of (str, str, str)
        ``(number, title, notebook file name)`` of each lesson, in order.

    Returns
    -------
    str
        The block, from the start marker to the end marker (no final newline).
    """
    rows = [f"| [{number} {title}](notebooks/{name}) | {COLAB_BADGE}({colab_url(release, name)})"
            f" | {KAGGLE_BADGE}({kaggle_url(release, name)}) |"
            for number, title, name in lessons]
    return "\n".join([
        README_START,
        "<!-- Written by tools/sync_setup.py from pyproject.toml; edit the release there. -->",
        "",
        "| Lesson | Colab | Kaggle |",
        "| --- | --- | --- |",
        *rows,
        "",
        README_END,
    ])


def sync_readme(text: str, block: str) -> tuple[str, list[str]]:
    """Put ``block`` between the README's markers, or after its lesson table.

    Parameters
    ----------
    text : str
        The README's text.
    block : str
        What :func:`readme_block` returns.

    Returns
    -------
    tuple of (str, list of str)
        The new text and what was out of date (empty if nothing changed).

    Raises
    ------
    ValueError
        If the markers are unmatched, or missing in a README without a lesson table.
    """
    starts, ends = text.count(README_START), text.count(README_END)
    if starts == ends == 1 and text.index(README_START) < text.index(README_END):
        before, _, rest = text.partition(README_START)
        _, _, after = rest.partition(README_END)
        new = before + block + after
        return new, ([] if new == text else ["badge table out of date"])
    if starts or ends:
        raise ValueError(f"README.md: expected one {README_START} before one {README_END}")
    lines = text.split("\n")
    header = next((i for i, line in enumerate(lines) if line.startswith("| Lesson |")), None)
    if header is None:
        raise ValueError(f"README.md has no lesson table: add {README_START} and {README_END} "
                         "where the badge table should go")
    end = header
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    new_lines = lines[:end] + ["", *block.split("\n")] + lines[end:]
    return "\n".join(new_lines), ["badge table missing"]


def lesson_paths(root: Path) -> list[Path]:
    """The lessons and their appendices, ``notebooks/NN_*.ipynb`` and ``NNa_*``, in order."""
    return sorted((root / "notebooks").glob(LESSON_GLOB))


def sync(root: Path = ROOT, *, check: bool = False) -> list[str]:
    """Bring every lesson and the README up to date with pyproject.toml's release.

    Parameters
    ----------
    root : Path
        The repository's top folder.
    check : bool
        Only report what is out of date; write nothing.

    Returns
    -------
    list of str
        One line per file part that was (or, with ``check``, is) out of date.
    """
    release = read_release(root / "pyproject.toml")
    report: list[str] = []
    lessons: list[tuple[str, str, str]] = []
    for path in lesson_paths(root):
        original = path.read_text(encoding="utf-8")
        notebook = nbformat.reads(original, as_version=4)
        number, title = lesson_title(notebook, path.name)
        lessons.append((number, title, path.name))
        changes = sync_notebook(notebook, release, path.name)
        nbformat.validate(notebook)
        text = nbformat.writes(notebook) + "\n"
        if text != original:
            report.extend(f"{path.relative_to(root)}: {change}"
                          for change in changes or ["not in nbformat's layout"])
            if not check:
                path.write_text(text, encoding="utf-8")
    readme = root / "README.md"
    original = readme.read_text(encoding="utf-8")
    text, changes = sync_readme(original, readme_block(release, lessons))
    if text != original:
        report.extend(f"README.md: {change}" for change in changes)
        if not check:
            readme.write_text(text, encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the tool; return the exit status (1 if ``--check`` finds something stale)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="list what is out of date and exit 1; change nothing")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    report = sync(args.root, check=args.check)
    for line in report:
        print(f"{'out of date' if args.check else 'updated'}: {line}")
    if args.check and report:
        print("Run: python tools/sync_setup.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build the course website from executed lessons: pages that work with no network.

``tools/run_course.py`` executes the lessons and then calls :func:`build_site`; this
module can also rebuild the site alone from ``build/executed/`` without running
anything again::

    python tools/build_site.py --build build

The site is plain files, to open straight from disk (``build/index.html``) or to serve
from any web server:

- ``index.html``: every lesson with its learning objectives, run time and headline
  numbers;
- ``html/NN_name.html``: one page per lesson (nbconvert's ``lab`` template through
  ``tools/site_assets/templates/course``), with links to the previous and next
  lessons and back to the index;
- ``mathjax/``: the part of MathJax 2.7 that the pages use, copied from the PyPI package
  ``jupyter-server-mathjax`` with its licence; nbconvert's templates are written for
  MathJax 2 (``MathJax.Hub.Config``);
- ``assets/``: the site's stylesheet and any extra files a page asks for.

No page loads anything from another host: nbconvert's require.js, widget manager and
mermaid scripts are left out, remote images (such as "Open in Colab" badges) become
their alternative text, and :func:`build_site` refuses to write a page that still
refers to a remote resource. Figures stay inline as base64 PNG. A widget output needs
a live kernel, so it is replaced by HTML from a :data:`WidgetRenderer`, by default
:func:`widget_note`, which says how to run the lesson live.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from bs4 import BeautifulSoup, Tag
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune

ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(__file__).resolve().parent / "site_assets"
TEMPLATES = ASSETS / "templates"
SITE_CSS = ASSETS / "course.css"

from course_utils.report import HEADLINE_MIME  # noqa: E402

__all__ = [
    "WIDGET_MIME", "SiteError", "RunRecord", "Objectives", "Lesson", "PageAssets",
    "WidgetOutput", "WidgetRenderer", "headlines", "format_seconds", "lesson_title",
    "learning_objectives", "read_run_records", "write_run_record", "load_lessons",
    "widget_note", "replace_widget_outputs", "copy_mathjax", "mathjax_head",
    "remote_resources", "render_lesson", "render_index", "build_site", "main",
    "EXPLORER_LESSON", "explorer_bundle_source", "write_explorer_assets",
    "explorer_widget_html", "course_site_options",
]

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
RUNS_FILE = "runs.json"
LESSON_GLOB = "[0-9]*.ipynb"

#: The MathJax configuration file (MathJax 2 ships it combined) and the extension the
#: pages load; jupyter-server-mathjax ships this one (not nbconvert's default
#: ``TeX-AMS_CHTML-full``), which renders with the HTML-CSS output and STIX-Web fonts.
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
#: What the pages need from jupyter-server-mathjax's ``static/`` folder, about 2.5 MB of
#: its 12 MB: no SVG output, no accessibility explorer, English only.
MATHJAX_PARTS = (
    "MathJax.js", "LICENSE", "config/TeX-AMS-MML_HTMLorMML-full.js", "config/Safe.js",
    "extensions", "jax/input", "jax/element", "jax/output/HTML-CSS",
    "fonts/HTML-CSS/STIX-Web/woff", "localization/en",
)
MATHJAX_SKIP = ("a11y",)  # 3.7 MB, loaded only from the menu, and it names a CDN

#: Hosts of the CDNs that nbconvert's templates and widget libraries load from.
CDN_HOSTS = ("cdnjs.cloudflare.com", "unpkg.com", "cdn.jsdelivr.net", "cdn.mathjax.org",
             "ajax.googleapis.com", "fonts.googleapis.com", "fonts.gstatic.com")

_REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""", re.IGNORECASE)
_EXPLORER = re.compile(r"\b(?:LatentExplorer|latent_explorer)\b")
_COLAB = re.compile(r"https://colab\.research\.google\.com/github/[^\s)\"'<>]+")


class SiteError(RuntimeError):
    """The site cannot be built as asked: missing lessons, or a page that needs the network."""


@dataclass(frozen=True)
class RunRecord:
    """How one lesson's headless run went; stored in ``executed/runs.json``.

    Attributes
    ----------
    seconds : float
        Wall-clock time of the run.
    ok : bool
        Whether every cell ran without an error.
    error : str
        The error's last line when ``ok`` is false.
    mode : str
        ``"fast"`` or ``"full"`` (``COURSE_FAST``).
    """

    seconds: float
    ok: bool = True
    error: str = ""
    mode: str = ""


@dataclass(frozen=True)
class Objectives:
    """A lesson's learning objectives: the sentence that leads in, and the list items.

    Items are Markdown (they may contain ``$...$`` maths and ``code``).
    """

    lead: str = ""
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lesson:
    """One executed lesson, with what the site shows about it.

    Attributes
    ----------
    stem : str
        The file name without ``.ipynb``, e.g. ``"01_autoencoder_baseline"``; the page is
        ``html/<stem>.html``.
    notebook : nbformat.NotebookNode
        The executed notebook.
    title : str
        The lesson's first heading.
    objectives : Objectives
        Parsed from its "Learning objectives" paragraph.
    headlines : tuple of str
        Its headline numbers, in order.
    run : RunRecord or None
        How its run went; ``None`` when no run was recorded.
    """

    stem: str
    notebook: nbformat.NotebookNode = field(repr=False)
    title: str
    objectives: Objectives
    headlines: tuple[str, ...]
    run: RunRecord | None = None

    @property
    def page(self) -> str:
        """The lesson page's file name inside ``html/``."""
        return f"{self.stem}.html"


@dataclass(frozen=True)
class PageAssets:
    """Extra local files a lesson page loads, copied into the site's ``assets/``.

    Scripts are loaded as classic deferred scripts at the end of the page: Chromium
    refuses ES modules (``type="module"``) on pages opened from ``file://``, so a module
    must be bundled into a classic script or inlined by a :data:`WidgetRenderer`.
    """

    css: tuple[Path, ...] = ()
    scripts: tuple[Path, ...] = ()

    def files(self) -> tuple[Path, ...]:
        """Every file, stylesheets first."""
        return self.css + self.scripts


@dataclass(frozen=True)
class WidgetOutput:
    """What a :data:`WidgetRenderer` knows about one widget output it replaces.

    Attributes
    ----------
    lesson, title : str
        The lesson's stem and its title.
    cell_source : str
        The source of the code cell that displayed the widget.
    view : dict
        The output's ``application/vnd.jupyter.widget-view+json`` payload (``model_id``).
    state : dict
        The notebook's saved widget state (``metadata.widgets``), possibly empty.
    colab_url : str or None
        An "Open in Colab" address found in the lesson, if any.
    """

    lesson: str
    title: str
    cell_source: str
    view: dict
    state: dict
    colab_url: str | None = None

    @property
    def is_explorer(self) -> bool:
        """Whether the cell displays the course's latent explorer."""
        return bool(_EXPLORER.search(self.cell_source))


#: Turns a widget output into the HTML shown in its place on the page.
WidgetRenderer = Callable[[WidgetOutput], str]


# --------------------------------------------------------------------------- reading


def headlines(notebook: nbformat.NotebookNode) -> list[str]:
    """The texts of every headline output in an executed notebook, in order.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        An executed notebook.

    Returns
    -------
    list of str
        The ``text`` of every ``HEADLINE_MIME`` payload (see ``course_utils.report``).
    """
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(HEADLINE_MIME)
            if payload:
                found.append(payload["text"])
    return found


def format_seconds(seconds: float) -> str:
    """``"7s"`` or ``"2m05s"``: a run time, rounded to the second."""
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def lesson_title(notebook: nbformat.NotebookNode, default: str = "") -> str:
    """The text of the first level-1 Markdown heading, or ``default``."""
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            match = re.match(r"^#\s+(.+?)\s*#*\s*$", line)
            if match:
                return match.group(1)
    return default


_OBJECTIVES_LABEL = re.compile(
    r"^\s*(?:#{1,6}\s*Learning objectives\b[.:]?\s*$"
    r"|(?:\*\*|__)Learning objectives[.:]?(?:\*\*|__)[.:]?\s*(?P<lead>.*)$)",
    re.IGNORECASE)
_LIST_ITEM = re.compile(r"^ {0,3}(?:\d{1,3}[.)]|[-*+])\s+(?P<text>.*)$")


def learning_objectives(notebook: nbformat.NotebookNode) -> Objectives:
    """Parse the lesson's learning objectives from its Markdown.

    The objectives are a paragraph that starts with a bold ``**Learning objectives.**``
    (or a heading ``## Learning objectives``), optionally followed by a lead-in such as
    "By the end you can", then a numbered or bulleted list. List items may wrap over
    indented continuation lines.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        A lesson.

    Returns
    -------
    Objectives
        Empty when the lesson has no such paragraph.
    """
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        for index, line in enumerate(lines):
            match = _OBJECTIVES_LABEL.match(line)
            if match:
                return _parse_objectives(match.group("lead") or "", lines[index + 1:])
    return Objectives()


def _parse_objectives(lead: str, lines: list[str]) -> Objectives:
    """The lead-in and list items that follow a "Learning objectives" label."""
    lead_parts, items = [lead.strip()] if lead.strip() else [], []
    for position, line in enumerate(lines):
        item = _LIST_ITEM.match(line)
        if item:
            items.append(item.group("text").strip())
        elif not line.strip():
            if items and not _continues_list(lines[position + 1:]):
                break
        elif items and line[:1].isspace():
            items[-1] = f"{items[-1]} {line.strip()}"
        elif items:
            break
        else:
            lead_parts.append(line.strip())
    return Objectives(" ".join(lead_parts), tuple(items))


def _continues_list(rest: list[str]) -> bool:
    """Whether the list goes on after a blank line (a loose list)."""
    following = next((line for line in rest if line.strip()), "")
    return bool(_LIST_ITEM.match(following)) or following[:1].isspace()


def read_run_records(path: Path) -> dict[str, RunRecord]:
    """Read ``runs.json``: lesson stem -> :class:`RunRecord`; empty if the file is missing."""
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {stem: RunRecord(**fields) for stem, fields in raw.items()}
    except (ValueError, TypeError, AttributeError) as error:
        raise SiteError(f"{path} is not a run record written by tools/run_course.py "
                        f"({error}); delete it or run `make course` again.") from error


def write_run_record(path: Path, stem: str, record: RunRecord) -> None:
    """Add or replace one lesson's record in ``runs.json``, keeping the others."""
    records = read_run_records(path)
    records[stem] = record
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {name: vars(records[name]) for name in sorted(records)}
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


def load_lessons(executed: Path, records: Mapping[str, RunRecord] | None = None
                 ) -> list[Lesson]:
    """Read every executed lesson ``NN_*.ipynb`` in ``executed``, in order.

    Parameters
    ----------
    executed : Path
        The folder ``tools/run_course.py`` writes executed notebooks to.
    records : mapping, optional
        Run records by stem; read from ``executed/runs.json`` when not given.

    Returns
    -------
    list of Lesson

    Raises
    ------
    SiteError
        If the folder holds no lesson.
    """
    paths = sorted(executed.glob(LESSON_GLOB))
    if not paths:
        raise SiteError(f"No executed lessons ({LESSON_GLOB}) in {executed}; "
                        "run `make course` (tools/run_course.py) first.")
    if records is None:
        records = read_run_records(executed / RUNS_FILE)
    lessons = []
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        lessons.append(Lesson(
            stem=path.stem, notebook=notebook,
            title=lesson_title(notebook, default=path.stem),
            objectives=learning_objectives(notebook),
            headlines=tuple(headlines(notebook)), run=records.get(path.stem)))
    return lessons


# --------------------------------------------------------------------------- widgets


def widget_note(widget: WidgetOutput) -> str:
    """The default :data:`WidgetRenderer`: say in words how to run the widget live.

    Parameters
    ----------
    widget : WidgetOutput
        The widget output being replaced.

    Returns
    -------
    str
        An HTML note (class ``course-widget-note``).
    """
    what = "The latent explorer" if widget.is_explorer else "This interactive widget"
    notebook = html.escape(f"notebooks/{widget.lesson}.ipynb")
    colab = (f' or <a href="{html.escape(widget.colab_url)}">open the lesson on Colab</a>'
             if widget.colab_url else " or open the lesson on Colab")
    return (
        '<div class="course-widget-note" role="note">'
        f"<p><strong>{what} runs only in a live notebook.</strong> It needs a running "
        "Python kernel, which this web page does not have, so it is not shown here.</p>"
        "<p>To use it, run the lesson yourself: in the course folder run "
        "<code>make lab</code> (JupyterLab) or <code>make notebook</code> (Jupyter "
        f"Notebook 7), open <code>{notebook}</code> and run its cells from the top;"
        f"{colab} and run it there.</p></div>")


def replace_widget_outputs(notebook: nbformat.NotebookNode, render: WidgetRenderer,
                           lesson: str = "", title: str = "") -> nbformat.NotebookNode:
    """A copy of ``notebook`` whose widget outputs are HTML made by ``render``.

    The saved widget state is dropped from the copy's metadata, so nbconvert's template
    adds no widget manager script to the page.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        An executed notebook; it is not changed.
    render : WidgetRenderer
        Makes the HTML for one widget output.
    lesson, title : str
        The lesson's stem and title, passed on to ``render``.

    Returns
    -------
    nbformat.NotebookNode
        The copy; each output that had a widget view now has only ``text/html``.
    """
    copy = nbformat.from_dict(json.loads(json.dumps(notebook)))
    state = copy.metadata.pop("widgets", {}).get(WIDGET_STATE_MIME, {})
    colab_url = _colab_url(copy)
    for cell in copy.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_MIME)
            if view is None:
                continue
            widget = WidgetOutput(lesson=lesson, title=title, cell_source=cell.source,
                                  view=dict(view), state=state, colab_url=colab_url)
            output["data"] = {"text/html": render(widget)}
    return copy


def _colab_url(notebook: nbformat.NotebookNode) -> str | None:
    """The first Colab address in the lesson's Markdown (its "Open in Colab" badge)."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            match = _COLAB.search(cell.source)
            if match:
                return match.group(0)
    return None


# --------------------------------------------------------------------------- MathJax


def mathjax_source() -> Path:
    """The MathJax 2.7 folder of the installed ``jupyter-server-mathjax`` package."""
    try:
        import jupyter_server_mathjax
    except ImportError as error:
        raise SiteError("The course website needs MathJax from the PyPI package "
                        "jupyter-server-mathjax; install the environment with "
                        "`make .venv/.installed` (or pip install jupyter-server-mathjax)."
                        ) from error
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def copy_mathjax(destination: Path, source: Path | None = None) -> Path:
    """Copy the MathJax files the pages use, with MathJax's licence, to ``destination``.

    Parameters
    ----------
    destination : Path
        The site's ``mathjax/`` folder; replaced if it exists.
    source : Path, optional
        A MathJax 2.7 ``static`` folder; by default jupyter-server-mathjax's.

    Returns
    -------
    Path
        ``destination``.
    """
    source = source or mathjax_source()
    missing = [part for part in MATHJAX_PARTS if not (source / part).exists()]
    if missing:
        raise SiteError(f"MathJax in {source} lacks {', '.join(missing)}; "
                        "reinstall jupyter-server-mathjax.")
    if destination.exists():
        shutil.rmtree(destination)
    for part in MATHJAX_PARTS:
        target = destination / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if (source / part).is_dir():
            shutil.copytree(source / part, target, ignore=shutil.ignore_patterns(*MATHJAX_SKIP))
        else:
            shutil.copy2(source / part, target)
    return destination


def mathjax_head(mathjax_dir: str) -> str:
    """The ``<head>`` HTML that configures and loads the local MathJax.

    The configuration is nbconvert's own (its ``base/mathjax.html.j2``: ``$...$`` and
    ``\\(...\\)`` inline, ``$$...$$`` and ``\\[...\\]`` displayed, AMS equation numbers),
    given before MathJax loads, plus the fonts jupyter-server-mathjax ships: STIX-Web
    web fonts and never the fonts installed on the reader's machine. Two requests
    MathJax would make that fail offline are avoided: its ``about:blank`` test font
    (here) and TeX fonts for the hidden MathML it adds for screen readers (in
    ``course.css``).

    Parameters
    ----------
    mathjax_dir : str
        The relative URL of the site's ``mathjax/`` folder from the page.
    """
    return f"""<script type="text/x-mathjax-config">
MathJax.Hub.Config({{
  tex2jax: {{
    inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]],
    displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]],
    processEscapes: true,
    processEnvironments: true
  }},
  TeX: {{equationNumbers: {{autoNumber: "AMS", useLabelIds: true}}}},
  displayAlign: "center",
  messageStyle: "none",
  "HTML-CSS": {{
    availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
    linebreaks: {{automatic: true}}
  }}
}});
// HTML-CSS measures fonts against a "MathJax_Blank" font loaded from about:blank, which
// Chromium refuses on file:// pages (a console error); measuring works without it.
MathJax.Hub.Register.StartupHook("HTML-CSS Jax Config", function () {{
  delete MathJax.OutputJax["HTML-CSS"].config.styles["@font-face"];
}});
</script>
<script src="{html.escape(mathjax_dir)}/MathJax.js?config={MATHJAX_CONFIG}"></script>"""


# --------------------------------------------------------------------------- checks


def _attribute(element: Tag, name: str) -> str:
    """An attribute's value, or "" without it (a multi-valued one, such as class, joined)."""
    value = element.get(name)
    return value if isinstance(value, str) else " ".join(value or ())


def remote_resources(page: str) -> list[str]:
    """Every URL on another host that ``page`` would load (not links it merely shows).

    Looks at ``src``, ``srcset``, ``poster`` and ``data`` attributes, stylesheet and
    preload ``<link>`` elements, ``url(...)`` and ``@import`` in CSS, and the known CDN
    hosts anywhere in the text.

    Parameters
    ----------
    page : str
        An HTML page.

    Returns
    -------
    list of str
        The offending URLs, in order of appearance, without repeats.
    """
    soup = BeautifulSoup(page, "html.parser")
    found: list[str] = []
    for element in soup.find_all(True):
        for attribute in ("src", "poster", "data"):
            found.append(_attribute(element, attribute))
        for candidate in _attribute(element, "srcset").split(","):
            found.append(candidate.strip().split(" ")[0])
        if element.name == "link":
            found.append(_attribute(element, "href"))
        css = (element.string or "") if element.name == "style" else _attribute(element, "style")
        found.extend(a or b for a, b in _CSS_URL.findall(css))
    found.extend(host for host in CDN_HOSTS
                 if host in page and not any(host in url for url in found))
    remote = [url for url in found if url and (_REMOTE.match(url) or url in CDN_HOSTS)]
    return list(dict.fromkeys(remote))


def localise_remote_images(page: str) -> str:
    """Replace each ``<img>`` loaded from another host by its alternative text.

    "Open in Colab" style badges become the words of their badge, still inside their
    link; a page opened offline shows no broken image.
    """
    soup = BeautifulSoup(page, "html.parser")
    changed = False
    for image in soup.find_all("img"):
        source = _attribute(image, "src")
        if _REMOTE.match(source):
            text = soup.new_tag("span", attrs={"class": "course-offline-image"})
            text.string = _attribute(image, "alt") or "image"
            image.replace_with(text)
            changed = True
    return str(soup) if changed else page


# --------------------------------------------------------------------------- pages


def _relative(url: str, depth: int) -> str:
    return "../" * depth + url


def _nav(lessons: Sequence[Lesson], position: int) -> str:
    """Previous / index / next links for the lesson page at ``position``."""
    previous = lessons[position - 1] if position > 0 else None
    following = lessons[position + 1] if position + 1 < len(lessons) else None

    def link(lesson: Lesson | None, rel: str, arrow: str) -> str:
        if lesson is None:
            return f'<span class="course-nav-{rel} course-nav-none"></span>'
        label = f"{arrow} {html.escape(lesson.title)}" if rel == "prev" else \
            f"{html.escape(lesson.title)} {arrow}"
        return (f'<a class="course-nav-{rel}" rel="{rel}" href="{html.escape(lesson.page)}">'
                f"{label}</a>")

    return ('<nav class="course-nav" aria-label="Lessons">'
            f'{link(previous, "prev", "&larr;")}'
            '<a class="course-nav-index" rel="index" href="../index.html">All lessons</a>'
            f'{link(following, "next", "&rarr;")}</nav>')


def _run_summary(lesson: Lesson) -> str:
    """One line of HTML on how the lesson's run went."""
    run = lesson.run
    if run is None:
        return '<span class="course-run">run time not recorded</span>'
    mode = f", {html.escape(run.mode)} mode" if run.mode else ""
    if run.ok:
        return f'<span class="course-run">ran in {format_seconds(run.seconds)}{mode}</span>'
    return (f'<span class="course-run course-run-failed">stopped with an error after '
            f"{format_seconds(run.seconds)}{mode}: {html.escape(run.error)}</span>")


def render_lesson(lesson: Lesson, lessons: Sequence[Lesson], *,
                  widget_html: WidgetRenderer = widget_note,
                  assets: PageAssets = PageAssets()) -> str:
    """The HTML page of one lesson.

    Parameters
    ----------
    lesson : Lesson
        The lesson to render; it must be one of ``lessons``.
    lessons : sequence of Lesson
        All lessons in course order, for the previous/next links.
    widget_html : WidgetRenderer
        Makes the HTML that replaces each widget output.
    assets : PageAssets
        Extra stylesheets and scripts for this page (already in the site's ``assets/``).

    Returns
    -------
    str
        The page, with no reference to a remote resource.
    """
    position = next(i for i, other in enumerate(lessons) if other.stem == lesson.stem)
    notebook = replace_widget_outputs(lesson.notebook, widget_html, lesson.stem, lesson.title)
    stylesheets = [SITE_CSS.name, *(path.name for path in assets.css)]
    head = "\n".join(f'<link rel="stylesheet" href="../assets/{html.escape(name)}">'
                     for name in stylesheets)
    scripts = "\n".join(f'<script defer src="../assets/{html.escape(path.name)}"></script>'
                        for path in assets.scripts)
    nav = _nav(lessons, position)
    header = (f'{nav}<p class="course-run-line">{_run_summary(lesson)}</p>')
    exporter = HTMLExporter(template_name="course", extra_template_basedirs=[str(TEMPLATES)])
    resources = {"metadata": {"name": lesson.title},
                 "course": {"mathjax_head": mathjax_head("../mathjax"), "head": head,
                            "header": header, "footer": nav, "scripts": scripts}}
    page, _ = exporter.from_notebook_node(notebook, resources=resources)
    return localise_remote_images(page)


def _objectives_html(objectives: Objectives) -> str:
    if not objectives.items:
        return '<p class="course-muted">This lesson states no learning objectives.</p>'
    lead = objectives.lead or "By the end you can"
    items = "".join(f"<li>{_inline_markdown(item)}</li>" for item in objectives.items)
    return (f'<p class="course-objectives-lead">{_inline_markdown(lead)}</p>'
            f'<ol class="course-objectives">{items}</ol>')


def _inline_markdown(text: str) -> str:
    """Markdown to HTML without the wrapping paragraph; ``$...$`` maths is kept."""
    rendered = markdown2html_mistune(text).strip()
    return re.sub(r"^<p>(.*)</p>$", r"\1", rendered, flags=re.DOTALL)


def _lesson_card(lesson: Lesson) -> str:
    numbers = "".join(f"<li>{html.escape(text)}</li>" for text in lesson.headlines)
    headline_html = (f'<ul class="course-headlines">{numbers}</ul>' if numbers else
                     '<p class="course-muted">No headline numbers.</p>')
    page = html.escape(f"html/{lesson.page}")
    notebook = html.escape(f"executed/{lesson.stem}.ipynb")
    return f"""<li class="course-lesson" id="{html.escape(lesson.stem)}">
<h2><a href="{page}">{html.escape(lesson.title)}</a></h2>
<div class="course-lesson-body">
<div class="course-lesson-objectives">{_objectives_html(lesson.objectives)}</div>
<aside class="course-lesson-facts">
<p>{_run_summary(lesson)}</p>
<h3>Headline numbers</h3>
{headline_html}
<p class="course-links"><a href="{page}">Read the lesson</a> &middot;
<a href="{notebook}" download>Executed notebook</a></p>
</aside>
</div>
</li>"""


def render_index(lessons: Sequence[Lesson]) -> str:
    """The index page: each lesson's objectives, run time, headline numbers and links."""
    modes = sorted({lesson.run.mode for lesson in lessons if lesson.run and lesson.run.mode})
    total = sum(lesson.run.seconds for lesson in lessons if lesson.run)
    mode_text = f" in {' and '.join(modes)} mode" if modes else ""
    cards = "\n".join(_lesson_card(lesson) for lesson in lessons)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Variational autoencoders: the course</title>
<link rel="stylesheet" href="assets/{SITE_CSS.name}">
{mathjax_head("mathjax")}
</head>
<body class="course-index">
<main>
<h1>Variational autoencoders, derived, checked and built</h1>
<p class="course-intro">{len(lessons)} lessons, executed headless{mode_text} in
{format_seconds(total)} altogether and shown here with their outputs. These pages work
without a network. To run a lesson yourself, run <code>make lab</code> in the course
folder.</p>
<ol class="course-lessons">
{cards}
</ol>
<footer class="course-index-footer">Built by <code>tools/build_site.py</code> from the
executed lessons. Formulas are typeset by MathJax 2.7, included in <code>mathjax/</code>
under the <a href="mathjax/LICENSE">Apache License 2.0</a>.</footer>
</main>
</body>
</html>
"""


# ------------------------------------------------------------------ the live explorer

#: The lesson whose page runs the latent explorer with no kernel.
EXPLORER_LESSON = "06_latent_visualization"
EXPLORER_BUNDLE = "course-explorer.js"
EXPLORER_DATA = "course-explorer-data.js"
#: A cell that shows the explorer on the shipped models, which the page can run as is.
_SHIPPED_EXPLORER = re.compile(r"\bLatentExplorer\(\s*\)")
_EXPORT = re.compile(r"^export\s+(?=(?:async\s+)?(?:function|const|let|class)\b)", re.M)
_EXPORT_DEFAULT = re.compile(r"^export\s+default\s+[^;]*;\s*$", re.M)
_IMPORT = re.compile(r"^\s*import\b.*$", re.M)


def explorer_bundle_source(module: str | None = None) -> str:
    """The explorer's front end as one classic script, for pages opened from ``file://``.

    :func:`course_utils.explorer.explorer_module_source` (``decoder.js`` then
    ``explorer.js`` as one ES module) with its ``export`` keywords removed, wrapped in a
    function that exposes ``window.courseExplorer = {mountStatic, createStaticModel,
    loadDecoder, render}``. On ``DOMContentLoaded`` it mounts an explorer into every
    element with a ``data-course-explorer`` attribute, from the data that
    ``course-explorer-data.js`` put in ``window.courseExplorerData``, and marks the
    element ``data-mounted="true"`` (or ``data-mount-error`` with the reason).

    Parameters
    ----------
    module : str, optional
        The ES module source; default: the course's explorer.

    Returns
    -------
    str
        JavaScript.

    Raises
    ------
    SiteError
        If the module still imports anything or its exports are not the expected ones.
    """
    if module is None:
        from course_utils.explorer.widget import explorer_module_source
        module = explorer_module_source()
    if _IMPORT.search(module):
        raise SiteError("The explorer's module imports another module; a classic script "
                        "cannot. Bundle it first (explorer_module_source does).")
    body = _EXPORT_DEFAULT.sub("", _EXPORT.sub("", module))
    if re.search(r"^\s*export\b", body, re.M):
        raise SiteError("The explorer's module has an export this bundler does not know.")
    return (
        "/* The course's latent explorer (course_utils/explorer/js), bundled by "
        "tools/build_site.py as one classic script. */\n"
        "(function () {\n\"use strict\";\n" + body + "\n"
        "window.courseExplorer = { mountStatic, createStaticModel, loadDecoder, render };\n"
        "function mountAll() {\n"
        "  for (const el of document.querySelectorAll('[data-course-explorer]')) {\n"
        "    if (el.dataset.mounted) continue;\n"
        "    try {\n"
        "      if (!window.courseExplorerData) throw new Error('no explorer data loaded');\n"
        "      mountStatic(el, window.courseExplorerData);\n"
        "      el.dataset.mounted = 'true';\n"
        "    } catch (error) {\n"
        "      el.dataset.mountError = String(error);\n"
        "      console.error('latent explorer:', error);\n"
        "    }\n"
        "  }\n"
        "}\n"
        "if (document.readyState === 'loading') "
        "document.addEventListener('DOMContentLoaded', mountAll);\n"
        "else mountAll();\n"
        "})();\n")


def write_explorer_assets(folder: Path, data: dict | None = None) -> PageAssets:
    """Write the explorer's script and its data for the shipped models into ``folder``.

    Parameters
    ----------
    folder : Path
        Where to write ``course-explorer-data.js`` and ``course-explorer.js`` (created).
    data : dict, optional
        From :func:`course_utils.explorer.static_explorer_data`; default: the shipped
        models (loads TensorFlow and the models: a few seconds).

    Returns
    -------
    PageAssets
        The two scripts, data first, for the lesson page.
    """
    if data is None:
        from course_utils.explorer.widget import static_explorer_data
        data = static_explorer_data()
    folder.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(data, separators=(",", ":"))
    data_path = folder / EXPLORER_DATA
    data_path.write_text(f"window.courseExplorerData = {payload};\n", encoding="utf-8")
    bundle_path = folder / EXPLORER_BUNDLE
    bundle_path.write_text(explorer_bundle_source(), encoding="utf-8")
    return PageAssets(scripts=(data_path, bundle_path))


def explorer_widget_html(widget: WidgetOutput) -> str:
    """A :data:`WidgetRenderer` that runs the explorer in the page where it can.

    A cell that shows ``LatentExplorer()`` (the shipped models) becomes a working
    explorer (mounted by ``course-explorer.js``, no kernel) with a note below on how to
    run it live; every other widget output becomes :func:`widget_note`.
    """
    if not (widget.lesson == EXPLORER_LESSON and _SHIPPED_EXPLORER.search(widget.cell_source)):
        return widget_note(widget)
    notebook = html.escape(f"notebooks/{widget.lesson}.ipynb")
    colab = (f' or <a href="{html.escape(widget.colab_url)}">open the lesson on Colab</a>'
             if widget.colab_url else " or open the lesson on Colab")
    return (
        '<div class="course-explorer-static" data-course-explorer="shipped">'
        "<noscript>The latent explorer needs JavaScript.</noscript></div>"
        '<div class="course-widget-note" role="note">'
        "<p><strong>The latent explorer above runs in this page</strong>, on the course's "
        "shipped models, with no Python kernel: the decoder runs in your browser.</p>"
        "<p>To explore your own models, run the lesson yourself: in the course folder run "
        "<code>make lab</code> (JupyterLab) or <code>make notebook</code> (Jupyter "
        f"Notebook 7), open <code>{notebook}</code> and run its cells from the top;"
        f"{colab} and run it there.</p></div>")


def course_site_options(out: Path, lessons: Sequence[Lesson]) -> dict:
    """The keyword arguments of :func:`build_site` for the course website.

    When the explorer lesson is among ``lessons``, its page gets the working explorer:
    the scripts are written to ``out/assets/`` (see :func:`write_explorer_assets`).
    """
    if not any(lesson.stem == EXPLORER_LESSON for lesson in lessons):
        return {}
    assets = write_explorer_assets(out / "assets")
    return {"widget_html": explorer_widget_html, "assets": {EXPLORER_LESSON: assets}}


# --------------------------------------------------------------------------- the site


def _copy_assets(files: Iterable[Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    seen: dict[str, Path] = {}
    for path in files:
        if not path.is_file():
            raise SiteError(f"Page asset {path} does not exist.")
        if path.name in seen and seen[path.name].resolve() != path.resolve():
            raise SiteError(f"Two page assets are both called {path.name}: "
                            f"{seen[path.name]} and {path}.")
        seen[path.name] = path
        target = folder / path.name
        if not (target.exists() and target.resolve() == path.resolve()):
            shutil.copy2(path, target)


def _check_offline(name: str, page: str) -> None:
    remote = remote_resources(page)
    if remote:
        raise SiteError(f"{name} would load {', '.join(remote[:5])} from the network; "
                        "the course website must work offline. Ship the file locally "
                        "or leave it out.")


def build_site(lessons: Sequence[Lesson], out: Path, *,
               widget_html: WidgetRenderer = widget_note,
               assets: Mapping[str, PageAssets] | None = None) -> list[Path]:
    """Write the course website for ``lessons`` into ``out``.

    Parameters
    ----------
    lessons : sequence of Lesson
        Executed lessons in course order (see :func:`load_lessons`).
    out : Path
        The build folder; ``index.html``, ``html/``, ``mathjax/`` and ``assets/`` go
        there (``executed/`` is left alone).
    widget_html : WidgetRenderer
        Makes the HTML that replaces each widget output; by default a note on how to run
        the lesson live.
    assets : mapping of str to PageAssets, optional
        Extra local stylesheets and scripts per lesson stem.

    Returns
    -------
    list of Path
        The pages written: the index first, then one per lesson.

    Raises
    ------
    SiteError
        If there is no lesson, an asset is missing, or a page would load anything from
        another host.
    """
    if not lessons:
        raise SiteError("No lessons to build a site from.")
    assets = dict(assets or {})
    unknown = set(assets) - {lesson.stem for lesson in lessons}
    if unknown:
        raise SiteError(f"Page assets given for unknown lessons: {sorted(unknown)}.")
    copy_mathjax(out / "mathjax")
    _copy_assets([SITE_CSS, *(f for extra in assets.values() for f in extra.files())],
                 out / "assets")
    (out / "html").mkdir(parents=True, exist_ok=True)
    written = []
    index = render_index(lessons)
    _check_offline("index.html", index)
    (out / "index.html").write_text(index, encoding="utf-8")
    written.append(out / "index.html")
    for lesson in lessons:
        page = render_lesson(lesson, lessons, widget_html=widget_html,
                             assets=assets.get(lesson.stem, PageAssets()))
        _check_offline(f"html/{lesson.page}", page)
        path = out / "html" / lesson.page
        path.write_text(page, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Rebuild the website from the executed lessons of a build folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=ROOT / "build",
                        help="build folder with executed/ (default: build)")
    parser.add_argument("--executed", type=Path, default=None,
                        help="folder of executed lessons (default: BUILD/executed)")
    args = parser.parse_args(argv)
    try:
        lessons = load_lessons(args.executed or args.build / "executed")
        pages = build_site(lessons, args.build, **course_site_options(args.build, lessons))
    except SiteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for lesson in lessons:
        if not lesson.objectives.items:
            print(f"warning: {lesson.stem} states no learning objectives", file=sys.stderr)
    print(f"Wrote {len(pages)} pages; open {pages[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

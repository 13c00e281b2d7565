"""The course website builder (tools/build_site.py), on small synthetic lessons."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import build_site as site  # noqa: E402

from course_utils.report import headline  # noqa: E402

OBJECTIVES_CELL = """# Lesson 0{n}: Topic {n}

An introduction with maths $p(z) = \\mathcal{{N}}(0, I)$.

**Learning objectives.** By the end you can

1. derive the bound $\\log p_\\theta(x) \\ge \\mathrm{{ELBO}}$ and say what it
   gives away;
2. train a model with `fit`;
3. read a *plot*.

**Prerequisites.** Lesson 0{prev}.
"""
WIDGET_VIEW = {"version_major": 2, "version_minor": 0, "model_id": "abc123"}
WIDGET_STATE = {"application/vnd.jupyter.widget-state+json": {
    "version_major": 2, "version_minor": 0, "state": {"abc123": {"model_name": "VBoxModel"}}}}
BADGE = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
         "(https://colab.research.google.com/github/o/r/blob/v1/notebooks/x.ipynb)")
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5E"
       "rkJggg==")


def lesson_notebook(n: int, widget: bool = False) -> nbformat.NotebookNode:
    """A small executed lesson: title, objectives, a figure, a headline, maybe a widget."""
    cells = [
        new_markdown_cell(BADGE + "\n\n" + OBJECTIVES_CELL.format(n=n, prev=n - 1)),
        new_markdown_cell("## Section\n\nDisplayed maths:\n\n$$\n\\mathrm{KL}(q \\,\\|\\, p) "
                          "\\ge 0\n$$"),
        new_code_cell("plot()", execution_count=1, outputs=[new_output(
            "display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]),
        new_code_cell("headline(...)", execution_count=2, outputs=[new_output(
            "execute_result", execution_count=2,
            data=headline(f"test loss {n}", 100.0 + n, "nats")._repr_mimebundle_())]),
    ]
    notebook = new_notebook(cells=cells)
    if widget:
        notebook.cells.append(new_code_cell("explorer = LatentExplorer()\nexplorer",
                                            execution_count=3, outputs=[new_output(
                                                "execute_result", execution_count=3, data={
                                                    site.WIDGET_MIME: WIDGET_VIEW,
                                                    "text/plain": "VBox(...)"})]))
        notebook.metadata["widgets"] = WIDGET_STATE
    return notebook


def make_lessons(count: int = 3) -> list[site.Lesson]:
    lessons = []
    for n in range(1, count + 1):
        notebook = lesson_notebook(n, widget=n == count)
        stem = f"0{n}_topic"
        lessons.append(site.Lesson(
            stem=stem, notebook=notebook, title=site.lesson_title(notebook, stem),
            objectives=site.learning_objectives(notebook),
            headlines=tuple(site.headlines(notebook)),
            run=site.RunRecord(seconds=61.4 * n, ok=n != 2, error="ValueError: boom"
                               if n == 2 else "", mode="fast")))
    return lessons


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list[site.Lesson]]:
    out = tmp_path_factory.mktemp("site")
    lessons = make_lessons()
    site.build_site(lessons, out)
    return out, lessons


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# ---------------------------------------------------------------- objectives and titles


def test_objectives_keep_lead_items_and_wrapped_lines():
    objectives = site.learning_objectives(lesson_notebook(2))
    assert objectives.lead == "By the end you can"
    assert objectives.items == (
        "derive the bound $\\log p_\\theta(x) \\ge \\mathrm{ELBO}$ and say what it gives away;",
        "train a model with `fit`;",
        "read a *plot*.")


@pytest.mark.parametrize("source, items", [
    ("## Learning objectives\n\n- one\n- two\n\nAfter.", ("one", "two")),
    ("__Learning objectives:__\n* a\n  continued\n\n* b\n\n## Next", ("a continued", "b")),
    ("**Learning objectives.**\n\n1) first\n2) second\nNot an item.", ("first", "second")),
    ("# Title\n\nNo objectives here.\n\n1. a list", ()),
])
def test_objectives_formats(source, items):
    notebook = new_notebook(cells=[new_markdown_cell(source)])
    assert site.learning_objectives(notebook).items == items


def test_objectives_are_found_in_a_later_cell():
    notebook = new_notebook(cells=[new_markdown_cell("# T"), new_code_cell("x = 1"),
                                   new_markdown_cell("**Learning objectives.**\n1. x")])
    assert site.learning_objectives(notebook) == site.Objectives("", ("x",))


def test_every_course_lesson_states_its_objectives():
    for path in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        objectives = site.learning_objectives(notebook)
        assert objectives.lead == "By the end you can", path.name
        assert len(objectives.items) >= 3, path.name
        assert all(item and "\n" not in item for item in objectives.items), path.name
        title = site.lesson_title(notebook)
        assert re.match(r"(Lesson|Appendix to lesson) \d\d: ", title), path.name


def test_lesson_title_is_the_first_level_one_heading():
    notebook = new_notebook(cells=[new_markdown_cell("Intro\n## Not this\n# Lesson 9: X #")])
    assert site.lesson_title(notebook) == "Lesson 9: X"
    assert site.lesson_title(new_notebook(), default="fallback") == "fallback"


# ---------------------------------------------------------------- run records


def test_run_records_are_updated_one_lesson_at_a_time(tmp_path):
    path = tmp_path / "executed" / site.RUNS_FILE
    assert site.read_run_records(path) == {}
    site.write_run_record(path, "02_b", site.RunRecord(12.5, True, "", "fast"))
    site.write_run_record(path, "01_a", site.RunRecord(3.0, False, "boom", "full"))
    site.write_run_record(path, "02_b", site.RunRecord(14.0, True, "", "fast"))
    assert site.read_run_records(path) == {"01_a": site.RunRecord(3.0, False, "boom", "full"),
                                           "02_b": site.RunRecord(14.0, True, "", "fast")}


def test_a_corrupted_run_record_is_a_clear_error(tmp_path):
    path = tmp_path / site.RUNS_FILE
    path.write_text('{"01_a": {"seconds": 1, "colour": "red"}}')
    with pytest.raises(site.SiteError, match="runs.json"):
        site.read_run_records(path)


def test_load_lessons_reads_notebooks_and_records(tmp_path):
    for n in (2, 1):
        nbformat.write(lesson_notebook(n), tmp_path / f"0{n}_topic.ipynb")
    (tmp_path / "notes.ipynb").write_text("not a lesson")
    site.write_run_record(tmp_path / site.RUNS_FILE, "02_topic", site.RunRecord(5.0))
    lessons = site.load_lessons(tmp_path)
    assert [lesson.stem for lesson in lessons] == ["01_topic", "02_topic"]
    assert lessons[0].run is None and lessons[1].run == site.RunRecord(5.0)
    assert lessons[1].headlines == ("test loss 2: 102 nats",)
    assert lessons[1].title == "Lesson 02: Topic 2"


def test_load_lessons_without_lessons_says_what_to_run(tmp_path):
    with pytest.raises(site.SiteError, match="make course"):
        site.load_lessons(tmp_path)


# ---------------------------------------------------------------- widgets


def test_widget_outputs_become_the_renderers_html():
    notebook = lesson_notebook(3, widget=True)
    seen = []

    def render(widget: site.WidgetOutput) -> str:
        seen.append(widget)
        return "<p>custom explorer</p>"

    copy = site.replace_widget_outputs(notebook, render, "03_topic", "Lesson 03")
    assert copy.cells[-1].outputs[0].data == {"text/html": "<p>custom explorer</p>"}
    assert "widgets" not in copy.metadata
    assert site.WIDGET_MIME in notebook.cells[-1].outputs[0].data  # the original is kept
    assert "widgets" in notebook.metadata
    (widget,) = seen
    assert widget.lesson == "03_topic" and widget.view["model_id"] == "abc123"
    assert widget.state["state"]["abc123"]["model_name"] == "VBoxModel"
    assert widget.is_explorer
    assert widget.colab_url == "https://colab.research.google.com/github/o/r/blob/v1/notebooks/x.ipynb"


def test_the_default_note_says_how_to_run_the_explorer_live():
    explorer = site.WidgetOutput("06_latent", "T", "LatentExplorer()", {}, {}, None)
    note = site.widget_note(explorer)
    assert "latent explorer" in note and "make lab" in note and "make notebook" in note
    assert "notebooks/06_latent.ipynb" in note and "Colab" in note
    other = site.widget_note(site.WidgetOutput("x", "T", "IntSlider()", {}, {}, "https://c"))
    assert "interactive widget" in other and 'href="https://c"' in other


def test_lesson_page_shows_the_note_and_no_widget_machinery(built):
    out, lessons = built
    page = read(out / "html" / f"{lessons[-1].stem}.html")
    assert page.count('class="course-widget-note"') == 1
    for absent in (site.WIDGET_MIME, site.WIDGET_STATE_MIME, "embed-amd", "require.min.js",
                   "jupyter-widgets/html-manager"):
        assert absent not in page


# ---------------------------------------------------------------- navigation and index


def nav_links(page: str) -> dict[str, list[str]]:
    return {rel: re.findall(rf'<a [^>]*href="([^"]+)"[^>]*rel="{rel}"', page)
            + re.findall(rf'<a [^>]*rel="{rel}"[^>]*href="([^"]+)"', page)
            for rel in ("prev", "next", "index")}


def test_lesson_pages_link_to_neighbours_and_index(built):
    out, lessons = built
    stems = [lesson.stem for lesson in lessons]
    for position, stem in enumerate(stems):
        links = nav_links(read(out / "html" / f"{stem}.html"))
        assert links["index"] == ["../index.html"] * 2  # above and below the lesson
        assert links["prev"] == ([f"{stems[position - 1]}.html"] * 2 if position else [])
        assert links["next"] == ([f"{stems[position + 1]}.html"] * 2
                                 if position + 1 < len(stems) else [])


def test_lesson_page_title_and_run_line(built):
    out, lessons = built
    first = read(out / "html" / f"{lessons[0].stem}.html")
    assert "<title>Lesson 01: Topic 1</title>" in first
    assert "ran in 1m01s, fast mode" in first
    failed = read(out / "html" / f"{lessons[1].stem}.html")
    assert "stopped with an error after 2m03s, fast mode: ValueError: boom" in failed


def test_index_lists_every_lesson_with_objectives_times_and_numbers(built):
    out, lessons = built
    index = read(out / "index.html")
    for lesson in lessons:
        assert f'href="html/{lesson.stem}.html"' in index
        assert f'href="executed/{lesson.stem}.ipynb"' in index
        assert lesson.title in index
    assert index.count('<ol class="course-objectives">') == 3
    assert "derive the bound $\\log p_\\theta(x) \\ge \\mathrm{ELBO}$" in index
    assert "train a model with <code>fit</code>;" in index
    assert "ran in 1m01s" in index and "ran in 3m04s" in index
    assert "stopped with an error" in index and "ValueError: boom" in index
    assert "test loss 1: 101 nats" in index and "test loss 3: 103 nats" in index
    assert "in fast mode in\n6m08s altogether" in index
    assert 'href="mathjax/LICENSE"' in index and (out / "mathjax" / "LICENSE").is_file()


def test_index_without_objectives_or_records_says_so(tmp_path):
    notebook = new_notebook(cells=[new_markdown_cell("# Lesson 01: Bare")])
    lesson = site.Lesson("01_bare", notebook, "Lesson 01: Bare", site.Objectives(), (), None)
    index = site.render_index([lesson])
    assert "states no learning objectives" in index
    assert "run time not recorded" in index and "No headline numbers" in index


# ---------------------------------------------------------------- offline


def test_no_page_or_file_refers_to_a_cdn(built):
    out, _ = built
    for path in out.rglob("*"):
        if path.suffix in {".html", ".css", ".js"}:
            text = read(path)
            for host in site.CDN_HOSTS:
                assert host not in text, f"{path.relative_to(out)} names {host}"
    for page in [out / "index.html", *sorted((out / "html").glob("*.html"))]:
        assert site.remote_resources(read(page)) == [], page.name


def test_remote_badges_become_text_inside_their_link(built):
    out, lessons = built
    page = read(out / "html" / f"{lessons[0].stem}.html")
    assert "colab-badge.svg" not in page
    assert re.search(r'<a href="https://colab\.research\.google\.com/[^"]+">'
                     r'<span class="course-offline-image">Open In Colab</span></a>', page)


def test_every_page_loads_the_local_mathjax(built):
    out, lessons = built
    pages = {out / "index.html": "mathjax", **{out / "html" / f"{lesson.stem}.html":
                                               "../mathjax" for lesson in lessons}}
    for page, prefix in pages.items():
        text = read(page)
        script = f'<script src="{prefix}/MathJax.js?config={site.MATHJAX_CONFIG}"></script>'
        assert text.count(script) == 1, page.name
        assert text.index('type="text/x-mathjax-config"') < text.index(script), page.name
        assert (page.parent / prefix / "MathJax.js").is_file()
        assert 'webFont: "STIX-Web"' in text
    assert "$$" in read(out / "html" / f"{lessons[0].stem}.html")  # left for MathJax


def test_mathjax_copy_is_small_complete_and_licensed(built):
    out, _ = built
    mathjax = out / "mathjax"
    for part in site.MATHJAX_PARTS:
        assert (mathjax / part).exists(), part
    assert "Apache License" in read(mathjax / "LICENSE")
    assert (mathjax / "fonts/HTML-CSS/STIX-Web/woff").is_dir()
    assert not (mathjax / "extensions" / "a11y").exists()
    assert not (mathjax / "jax" / "output" / "SVG").exists()
    size = sum(path.stat().st_size for path in mathjax.rglob("*") if path.is_file())
    assert size < 4_000_000


def test_figures_stay_inline(built):
    out, lessons = built
    page = read(out / "html" / f"{lessons[0].stem}.html")
    assert f'src="data:image/png;base64,{PNG}"' in page


@pytest.mark.parametrize("snippet, url", [
    ('<script src="https://cdnjs.cloudflare.com/x.js"></script>', "https://cdnjs.cloudflare.com/x.js"),
    ('<link rel="stylesheet" href="//fonts.example.org/a.css">', "//fonts.example.org/a.css"),
    ('<img src="http://example.org/a.png">', "http://example.org/a.png"),
    ('<img srcset="a.png 1x, https://example.org/b.png 2x">', "https://example.org/b.png"),
    ('<style>@import "https://example.org/c.css";</style>', "https://example.org/c.css"),
    ('<div style="background: url(https://example.org/d.png)"></div>', "https://example.org/d.png"),
    ('<iframe src="https://example.org/video"></iframe>', "https://example.org/video"),
])
def test_remote_resources_finds_what_a_page_would_load(snippet, url):
    assert site.remote_resources(f"<p>x</p>{snippet}") == [url]


def test_remote_resources_ignores_links_and_local_files():
    page = ('<a href="https://github.com/o/r">repo</a><img src="data:image/png;base64,AA">'
            '<script src="../mathjax/MathJax.js"></script><link rel="stylesheet" href="a.css">')
    assert site.remote_resources(page) == []


def test_a_page_that_needs_the_network_is_refused(tmp_path):
    lessons = make_lessons(1)
    lessons[0].notebook.cells.append(new_code_cell("show()", execution_count=9, outputs=[
        new_output("display_data", data={
            "text/html": '<script src="https://cdn.example.org/plot.js"></script>'})]))
    with pytest.raises(site.SiteError, match="cdn.example.org/plot.js"):
        site.build_site(lessons, tmp_path)


# ---------------------------------------------------------------- extra page assets


def test_a_lesson_page_can_carry_its_own_assets(tmp_path):
    style, script = tmp_path / "explorer.css", tmp_path / "explorer.js"
    style.write_text(".x {}")
    script.write_text("window.x = 1;")
    lessons = make_lessons(2)
    out = tmp_path / "site"
    site.build_site(lessons, out, widget_html=lambda widget: "<div>live</div>",
                    assets={"02_topic": site.PageAssets(css=(style,), scripts=(script,))})
    page = read(out / "html" / "02_topic.html")
    soup = BeautifulSoup(page, "html.parser")
    assert [link["href"] for link in soup.select("head link[rel=stylesheet]")] == [
        "../assets/course.css", "../assets/explorer.css"]
    (loaded,) = soup.select("body script[src]")
    assert loaded["src"] == "../assets/explorer.js" and loaded.has_attr("defer")
    assert "<div>live</div>" in page
    assert "explorer" not in read(out / "html" / "01_topic.html")
    assert read(out / "assets" / "explorer.js") == "window.x = 1;"


def test_assets_for_an_unknown_lesson_are_an_error(tmp_path):
    with pytest.raises(site.SiteError, match="unknown lessons"):
        site.build_site(make_lessons(1), tmp_path, assets={"99_x": site.PageAssets()})


# ---------------------------------------------------------------- command line


def test_command_line_rebuilds_the_site_from_executed_lessons(tmp_path, capsys):
    executed = tmp_path / "executed"
    executed.mkdir()
    nbformat.write(lesson_notebook(1), executed / "01_topic.ipynb")
    assert site.main(["--build", str(tmp_path)]) == 0
    assert (tmp_path / "index.html").is_file() and (tmp_path / "html/01_topic.html").is_file()
    assert "Wrote 2 pages" in capsys.readouterr().out


def test_command_line_without_executed_lessons_fails_clearly(tmp_path, capsys):
    assert site.main(["--build", str(tmp_path)]) == 1
    assert "make course" in capsys.readouterr().err


# ------------------------------------------------------------- the explorer on the page

def _explorer_widget(source: str, lesson: str = site.EXPLORER_LESSON) -> site.WidgetOutput:
    return site.WidgetOutput(lesson=lesson, title="t", cell_source=source,
                             view=dict(WIDGET_VIEW), state={})


def test_the_shipped_explorer_becomes_a_live_explorer_with_the_note_below():
    page = site.explorer_widget_html(_explorer_widget("explorer = LatentExplorer()\nexplorer"))
    soup = BeautifulSoup(page, "html.parser")
    live = soup.select("[data-course-explorer]")
    note = soup.select(".course-widget-note")
    assert len(live) == 1 and len(note) == 1
    assert str(soup).index("data-course-explorer") < str(soup).index("course-widget-note")
    assert "make lab" in note[0].get_text() and "runs in this page" in note[0].get_text()


@pytest.mark.parametrize("source, lesson", [
    ('LatentExplorer({"mine": vae})', site.EXPLORER_LESSON),
    ("LatentExplorer()", "03_dense_vae"),
    ("interact(f, x=1)", site.EXPLORER_LESSON),
])
def test_other_widgets_keep_the_note(source, lesson):
    widget = _explorer_widget(source, lesson)
    assert site.explorer_widget_html(widget) == site.widget_note(widget)


def test_the_bundle_is_a_classic_script_exposing_the_explorer():
    bundle = site.explorer_bundle_source()
    assert not re.search(r"^\s*(import|export)\b", bundle, re.M)
    assert "window.courseExplorer = { mountStatic" in bundle
    with pytest.raises(site.SiteError, match="imports"):
        site.explorer_bundle_source('import { x } from "./y.js";\nexport function f() {}')
    with pytest.raises(site.SiteError, match="export"):
        site.explorer_bundle_source("export { f };")


def test_the_bundle_runs_as_a_classic_script_in_node(tmp_path):
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the browser tests run the bundle too")
    script = tmp_path / "run.js"
    script.write_text(
        "globalThis.window = globalThis;\n"
        "globalThis.document = {readyState: 'complete', querySelectorAll: () => []};\n"
        f"require({str(tmp_path / 'bundle.js')!r});\n"
        "const e = window.courseExplorer;\n"
        "console.log(JSON.stringify(['mountStatic', 'createStaticModel', 'loadDecoder',"
        " 'render'].map(k => typeof e[k])));\n")
    (tmp_path / "bundle.js").write_text(site.explorer_bundle_source())
    result = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '["function","function","function","function"]'


def test_the_explorer_lesson_gets_its_scripts(tmp_path):
    lessons = make_lessons(2)
    assert site.course_site_options(tmp_path, lessons) == {}
    data = {"format": "course-utils-explorer", "model_names": []}
    assets = site.write_explorer_assets(tmp_path / "assets", data)
    assert [path.name for path in assets.scripts] == ["course-explorer-data.js",
                                                      "course-explorer.js"]
    text = (tmp_path / "assets" / "course-explorer-data.js").read_text()
    assert text.startswith("window.courseExplorerData = {") and text.endswith(";\n")
    # the files are already in the site's assets/: building copies nothing over them
    site.build_site(lessons, tmp_path, assets={lessons[0].stem: assets})
    assert (tmp_path / "assets" / "course-explorer.js").read_text() == \
        site.explorer_bundle_source()
    assert 'src="../assets/course-explorer.js"' in read(
        tmp_path / "html" / lessons[0].page).replace('defer="" ', "")

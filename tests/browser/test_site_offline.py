"""The course website in a real browser, with the network blocked.

Every page (the index and each lesson) is opened from disk (``file://``, as a learner
opens ``build/index.html``) and from a local web server, with every request to another
host refused. Each page must load with no blocked or failed request and no console
error, render all its maths with the site's own MathJax (no raw ``$...$`` left in the
text), load every image, replace widget outputs by a note, and link to the right
previous and next lessons. Screenshots go to ``build/screenshots/site/``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from build_site import learning_objectives  # noqa: E402

LESSONS = [path.stem for path in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))]
PAGES = ["index", *LESSONS]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
MATHJAX_TIMEOUT_MS = 120_000

# Resolves once MathJax has typeset the page (its queue runs in order), with what it did:
# the number of maths elements, of rendered ones, and any error it reported.
MATHJAX_RESULT = """() => new Promise(resolve => MathJax.Hub.Queue(() => resolve({
  scripts: document.querySelectorAll('script[type^="math/tex"]').length,
  jax: MathJax.Hub.getAllJax().length,
  rendered: document.querySelectorAll('.MathJax, .MathJax_Display').length,
  errorElements: document.querySelectorAll('.MathJax .noError, .MathJax .merror').length,
  messages: MathJax.Hub.signal.posted
    .filter(m => Array.isArray(m) && /error|undefined control sequence/i.test(String(m[0])))
    .map(m => m.map(String).join(' ')),
})))"""

# Text a reader sees, outside code and outside what MathJax skips, that still looks like
# TeX: $...$, \\(...\\) or \\[...\\]. Checked per text block.
RAW_MATHS = r"""() => {
  const skip = 'script, style, pre, code, textarea, noscript, .tex2jax_ignore, .MathJax, '
    + '.MathJax_Display, .MathJax_Preview, .MJX_Assistive_MathML';
  const blocks = 'p, li, td, th, h1, h2, h3, h4, h5, h6, dt, dd, blockquote, summary, '
    + 'figcaption, caption';
  const tex = /\$[^$]+\$|\\\(|\\\[/;
  const found = [];
  for (const block of document.querySelectorAll(blocks)) {
    if (block.closest(skip)) continue;
    let text = '';
    const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      if (!walker.currentNode.parentElement.closest(skip)) text += walker.currentNode.data;
    }
    const match = text.match(tex);
    if (match) found.push(text.slice(Math.max(0, match.index - 30), match.index + 60));
  }
  return found;
}"""

BROKEN_IMAGES = """() => Array.from(document.images)
  .filter(image => !image.complete || image.naturalWidth === 0)
  .map(image => (image.getAttribute('src') || '').slice(0, 80))"""


def page_path(stem: str) -> str:
    """A page's path inside the site."""
    return "index.html" if stem == "index" else f"html/{stem}.html"


def markdown_has_maths(text: str) -> bool:
    return bool(re.search(r"\$[^$\n]+\$|\$\$", text))


def expected_page(site: Path, stem: str) -> dict:
    """What the page should show, from the executed lesson."""
    if stem == "index":
        objectives = [learning_objectives(nbformat.read(path, as_version=4))
                      for path in sorted((site / "executed").glob("[0-9]*.ipynb"))]
        texts = [text for found in objectives for text in (found.lead, *found.items)]
        return {"maths": any(markdown_has_maths(text) for text in texts),
                "images": 0, "widgets": 0}
    notebook = nbformat.read(site / "executed" / f"{stem}.ipynb", as_version=4)
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    return {
        "maths": any(markdown_has_maths(cell.source) for cell in notebook.cells
                     if cell.cell_type == "markdown"),
        "images": sum("image/png" in output.get("data", {}) for output in outputs),
        "widgets": sum(WIDGET_MIME in output.get("data", {}) for output in outputs),
    }


@pytest.fixture(params=["file", "http"])
def site_url(request, course_site, serve_directory) -> tuple[str, tuple[str, ...]]:
    """The site's base URL and the origins the page may load from."""
    if request.param == "file":
        return course_site.as_uri(), ()
    base = serve_directory(course_site)
    return base, (base,)


def wait_for_maths(page, log) -> dict:
    """Wait (bounded) until MathJax has typeset the page; return what it did."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function("window.MathJax && MathJax.isReady === true",
                               timeout=MATHJAX_TIMEOUT_MS)
    except PlaywrightTimeout:
        pytest.fail(f"MathJax was not ready after {MATHJAX_TIMEOUT_MS / 1000:.0f} s on "
                    f"{page.url}:\n" + "\n".join(log.problems()))
    result = page.evaluate(MATHJAX_RESULT)
    page.evaluate("document.fonts.ready.then(() => true)")
    return result


def check_links(page, stem: str, base: str) -> None:
    """The index link, and the previous/next links to the neighbouring lessons."""
    position = LESSONS.index(stem)
    hrefs = page.evaluate("""() => Object.fromEntries(['prev', 'next', 'index'].map(rel =>
        [rel, Array.from(document.querySelectorAll(`a[rel=${rel}]`)).map(a => a.href)]))""")
    assert hrefs["index"] and set(hrefs["index"]) == {f"{base}/index.html"}, hrefs
    expected = {"prev": LESSONS[position - 1] if position > 0 else None,
                "next": LESSONS[position + 1] if position + 1 < len(LESSONS) else None}
    for rel, neighbour in expected.items():
        wanted = [f"{base}/html/{neighbour}.html"] * 2 if neighbour else []
        assert hrefs[rel] == wanted, f"{rel} links on {stem}: {hrefs[rel]}"


# page_offline comes first so that a missing browser skips before the lessons run.
@pytest.mark.parametrize("stem", PAGES)
def test_page_works_offline(stem, page_offline, site_url, course_site, screenshot):
    base, origins = site_url
    expected = expected_page(course_site, stem)
    page, log = page_offline(allowed_origins=origins)
    url = f"{base}/{page_path(stem)}"
    response = page.goto(url, wait_until="load")
    assert response is None or response.ok, f"{url}: HTTP {response.status}"

    maths = wait_for_maths(page, log)
    assert maths["messages"] == [], f"MathJax reported errors: {maths['messages']}"
    assert maths["errorElements"] == 0, "some formulas show a TeX error"
    assert maths["jax"] == maths["scripts"], maths
    if expected["maths"]:
        assert maths["scripts"] > 0 and maths["rendered"] >= maths["scripts"], maths
    assert page.evaluate(RAW_MATHS) == [], "raw TeX left in the visible text"

    assert page.evaluate(BROKEN_IMAGES) == []
    assert page.locator("img").count() >= expected["images"]
    notes = page.locator(".course-widget-note")
    assert notes.count() == expected["widgets"]
    if expected["widgets"]:
        assert "make lab" in notes.first.inner_text()
        assert page.locator(".jupyter-widgets").count() == 0

    if stem == "index":
        lesson_links = page.locator(".course-lesson h2 a")
        assert lesson_links.count() == len(LESSONS)
        assert [link.get_attribute("href") for link in lesson_links.all()] == [
            f"html/{lesson}.html" for lesson in LESSONS]
        assert page.locator(".course-objectives li").count() >= len(LESSONS)
    else:
        check_links(page, stem, base)

    if base.startswith("file:"):
        screenshot(page, f"site/{stem}")
    problems = log.problems()
    assert not problems, "\n".join(problems)


def test_next_links_walk_the_course_in_order(page_offline, course_site):
    """Following "next" from the first lesson visits every lesson, then stops."""
    page, log = page_offline()
    page.goto(f"{course_site.as_uri()}/index.html", wait_until="domcontentloaded")
    page.locator(".course-lesson h2 a").first.click()
    visited = []
    for _ in LESSONS:
        page.wait_for_load_state("domcontentloaded")
        visited.append(Path(page.url).stem)
        following = page.locator("header a[rel=next]")
        if following.count() == 0:
            break
        following.click()
    assert visited == LESSONS
    page.locator("header a[rel=prev]").click()
    page.wait_for_load_state("domcontentloaded")
    assert Path(page.url).stem == LESSONS[-2]
    page.locator("header a[rel=index]").click()
    page.wait_for_load_state("domcontentloaded")
    assert page.url.endswith("/index.html")
    assert log.blocked == []

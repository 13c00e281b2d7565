"""The latent explorer on the course website's lesson 06 page: no kernel, no network.

The page is opened from disk (``file://``) and from a local web server with every
request to another host refused. The explorer must mount from the site's own scripts
(``assets/course-explorer.js`` and its data), and respond as in a notebook: arrow keys
and dragging move a slider and redraw the digit, Encode moves the sliders, Reset returns
them to 0, a click on the 2-D map sets the code, and the menu's 8-D model rebuilds the
sliders, with no console error. Screenshots: ``build/screenshots/explorer/site-*``.
"""

from __future__ import annotations

from conftest import element_screenshot, exercise_explorer

LESSON = "06_latent_visualization"


def test_the_lesson_page_runs_the_explorer_offline(page_offline, site_base, screenshot):
    base, origins, scheme = site_base
    page, log = page_offline(allowed_origins=origins)
    page.goto(f"{base}/html/{LESSON}.html", wait_until="load")
    page.wait_for_selector("[data-course-explorer][data-mounted], "
                           "[data-course-explorer][data-mount-error]", timeout=60_000)
    host = page.locator("[data-course-explorer]")
    assert host.count() == 1
    assert host.get_attribute("data-mount-error") is None, host.get_attribute(
        "data-mount-error")
    note = page.locator("[data-course-explorer] + .course-widget-note")
    assert "make lab" in note.inner_text()
    root = host.locator(".cu-explorer")

    def shot(name: str) -> None:
        element_screenshot(root, f"explorer/site-{scheme}-{name}")

    exercise_explorer(page, root, shot)
    host.scroll_into_view_if_needed()
    screenshot(page, f"explorer/site-{scheme}-page", full_page=False)
    problems = log.problems()
    assert not problems, "\n".join(problems)

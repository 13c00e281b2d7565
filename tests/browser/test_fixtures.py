"""The browser fixtures themselves: a page that breaks the rules must be caught."""

from __future__ import annotations

BAD_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="https://example.org/theme.css"></head><body>
<img src="https://example.org/badge.svg" alt="badge"><img src="missing.png" alt="gone">
<script>console.error("something broke");</script>
<script>setTimeout(() => { throw new Error("uncaught"); }, 0);</script>
</body></html>"""


def bad_site(tmp_path):
    (tmp_path / "bad.html").write_text(BAD_PAGE, encoding="utf-8")
    (tmp_path / "good.html").write_text("<!DOCTYPE html><p>fine</p>", encoding="utf-8")
    return tmp_path


def test_page_offline_blocks_and_records_everything_that_goes_wrong(tmp_path, page_offline):
    site = bad_site(tmp_path)
    page, log = page_offline()
    page.goto((site / "bad.html").as_uri(), wait_until="load")
    page.wait_for_function("document.readyState === 'complete'")
    page.wait_for_timeout(200)  # let the thrown error surface
    assert sorted(log.blocked) == ["https://example.org/badge.svg",
                                   "https://example.org/theme.css"]
    assert any("missing.png" in entry for entry in log.failed)
    assert any("something broke" in text for text in log.console_errors)
    assert any("uncaught" in text for text in log.page_errors)
    assert len(log.problems()) >= 5


def test_a_clean_page_has_no_problems_over_http(tmp_path, page_offline, serve_directory):
    base = serve_directory(bad_site(tmp_path))
    page, log = page_offline(allowed_origins=(base,))
    response = page.goto(f"{base}/good.html", wait_until="load")
    assert response.ok and page.inner_text("p") == "fine"
    assert log.problems() == []
    page.goto(f"{base}/nothing-here.html", wait_until="load")
    assert any("HTTP 404" in entry for entry in log.failed)


def test_screenshots_are_written_under_build(tmp_path, page_offline, screenshot):
    page, _ = page_offline()
    page.goto(bad_site(tmp_path).joinpath("good.html").as_uri())
    path = screenshot(page, "fixtures/good", full_page=False)
    assert path.is_file() and path.stat().st_size > 0
    assert path.parts[-4:-2] == ("build", "screenshots")

"""Shared fixtures for the browser tests: Debian's Chromium driven by Playwright.

These tests run with ``make e2e`` only (``make test`` ignores ``tests/browser``). They
use the system Chromium (``apt-get install chromium``), never a browser downloaded by
Playwright, and skip with the reason when Playwright or Chromium is missing.

Fixtures for any browser test in this folder:

- ``browser``: one headless Chromium for the session;
- ``page_offline``: opens a page whose requests to other hosts are blocked and recorded,
  together with its console errors, failed requests and uncaught exceptions
  (a :class:`PageLog`);
- ``serve_directory``: serves a folder on ``127.0.0.1`` for the test, stopped after it;
- ``screenshot``: saves a PNG of a page under ``build/screenshots/``;
- ``course_site``: the course website built from lessons executed in fast mode, once per
  session. Running the lessons takes a few minutes; to reuse lessons already executed,
  set ``COURSE_E2E_BUILD`` to a build folder holding ``executed/`` (for example one
  written by ``COURSE_FAST=1 python tools/run_course.py --build /tmp/fastbuild``): the
  site is then rebuilt from them with the current ``tools/build_site.py``.

Every wait is bounded: pages get :data:`TIMEOUT_MS` per action and navigation.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
VIEWPORT = {"width": 1024, "height": 768}
TIMEOUT_MS = 120_000  # generous: MathJax on a long lesson takes seconds on a busy CPU
COURSE_RUN_TIMEOUT_S = 3600
LOCAL_SCHEMES = ("file", "data", "blob", "about")


@dataclass
class PageLog:
    """What went wrong while a page loaded and ran.

    Attributes
    ----------
    blocked : list of str
        Requests to other hosts, which were refused.
    failed : list of str
        Local requests that failed or answered with an HTTP error.
    console_errors : list of str
        Messages the page logged with ``console.error``.
    page_errors : list of str
        Uncaught exceptions.
    """

    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Every recorded problem, one line each; empty when the page was clean."""
        return ([f"blocked request: {url}" for url in self.blocked]
                + [f"failed request: {entry}" for entry in self.failed]
                + [f"console error: {text}" for text in self.console_errors]
                + [f"page error: {text}" for text in self.page_errors])


def collect_console_errors(page, log: PageLog) -> None:
    """Record the page's ``console.error`` messages and uncaught exceptions in ``log``."""
    page.on("console", lambda message: log.console_errors.append(
        f"{message.text} ({message.location.get('url', '')})")
        if message.type == "error" else None)
    page.on("pageerror", lambda error: log.page_errors.append(str(error)))


def _is_local(url: str, allowed_origins: tuple[str, ...]) -> bool:
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return f"{parts.scheme}://{parts.netloc}" in allowed_origins


def _record_failures(page, log: PageLog) -> None:
    def failed(request) -> None:
        if request.url not in log.blocked:
            log.failed.append(f"{request.url} ({request.failure})")

    def answered(response) -> None:
        if response.status >= 400:
            log.failed.append(f"{response.url} (HTTP {response.status})")

    page.on("requestfailed", failed)
    page.on("response", answered)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The system Chromium; skips the test when it is not installed."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Chromium is not installed (on Debian: apt-get install chromium); "
                    "the browser tests use the system browser.")
    return path


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[object]:
    """Playwright's synchronous API; skips the test when Playwright is not installed."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed; run `make .venv/.installed` "
                    "(it is in the project's test extra).")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver, chromium_path) -> Iterator[object]:
    """One headless Chromium for the whole session, closed at its end."""
    launched = playwright_driver.chromium.launch(
        executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True, timeout=TIMEOUT_MS)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def page_offline(browser) -> Iterator[Callable[..., tuple[object, PageLog]]]:
    """A factory of pages that may load only local files.

    ``page_offline(allowed_origins=("http://127.0.0.1:8000",), viewport=VIEWPORT)``
    returns ``(page, log)``: a Playwright page in a fresh browser context in which every
    request except ``file:``, ``data:`` and ``blob:`` URLs and the given origins is
    aborted and recorded in ``log.blocked``; ``log`` also collects failed requests,
    HTTP errors, console errors and uncaught exceptions. Contexts close after the test.
    """
    contexts = []

    def open_page(allowed_origins: tuple[str, ...] = (), viewport: dict | None = None
                  ) -> tuple[object, PageLog]:
        context = browser.new_context(viewport=viewport or VIEWPORT, service_workers="block")
        contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        log = PageLog()

        def route(request_route) -> None:
            url = request_route.request.url
            if _is_local(url, tuple(allowed_origins)):
                request_route.continue_()
            else:
                log.blocked.append(url)
                request_route.abort("blockedbyclient")

        context.route("**/*", route)
        page = context.new_page()
        collect_console_errors(page, log)
        _record_failures(page, log)
        return page, log

    yield open_page
    for context in contexts:
        context.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def serve_directory() -> Iterator[Callable[[Path], str]]:
    """A factory that serves a folder over HTTP on 127.0.0.1; returns its base URL.

    Each server runs in a thread on a free port and is shut down after the test, also
    when the test fails.
    """
    servers: list[tuple[http.server.ThreadingHTTPServer, threading.Thread]] = []

    def serve(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def screenshot() -> Callable[..., Path]:
    """A function ``screenshot(page, "site/index", full_page=True)`` -> the PNG's path.

    Screenshots go to ``build/screenshots/<name>.png``, for people to look at.
    """

    def save(page, name: str, full_page: bool = True) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=full_page, timeout=TIMEOUT_MS)
        return path

    return save


def _rebuild_site(executed_build: Path, out: Path) -> None:
    """Copy ``executed_build/executed`` into ``out`` and build the site there."""
    source = executed_build / "executed"
    if not any(source.glob("[0-9]*.ipynb")):
        pytest.fail(f"COURSE_E2E_BUILD={executed_build} has no executed lessons in "
                    f"{source}; unset it to run the lessons.")
    shutil.copytree(source, out / "executed")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"),
                             "--build", str(out)], capture_output=True, text=True,
                            timeout=COURSE_RUN_TIMEOUT_S)
    if result.returncode:
        pytest.fail(f"tools/build_site.py failed:\n{result.stdout}\n{result.stderr}")


def _run_course_fast(out: Path) -> None:
    """Execute every lesson in fast mode into ``out`` and build the site."""
    env = {**os.environ, "COURSE_FAST": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    try:
        result = subprocess.run([sys.executable, str(ROOT / "tools" / "run_course.py"),
                                 "--build", str(out)], capture_output=True, text=True,
                                env=env, timeout=COURSE_RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"tools/run_course.py took more than {COURSE_RUN_TIMEOUT_S} s.")
    if result.returncode:
        pytest.fail("tools/run_course.py failed in fast mode:\n"
                    + "\n".join(result.stdout.splitlines()[-30:]) + "\n" + result.stderr[-3000:])


@pytest.fixture(scope="session")
def course_site(tmp_path_factory) -> Path:
    """The build folder of the course website, with lessons executed in fast mode."""
    out = tmp_path_factory.mktemp("course_site")
    reuse = os.environ.get("COURSE_E2E_BUILD")
    if reuse:
        _rebuild_site(Path(reuse), out)
    else:
        _run_course_fast(out)
    if not (out / "index.html").is_file():
        pytest.fail(f"No index.html was written to {out}.")
    return out


# ------------------------------------------------------------------ the latent explorer
# Shared by test_explorer_site.py (no kernel) and test_explorer_e2e.py (Jupyter).

#: The explorer's state in the page, read from its DOM: slider values, the model menu,
#: a checksum and ink total of the decoded canvas's pixels, and the status line.
EXPLORER_STATE = """(root) => {
  const canvas = root.querySelector('canvas.cu-image[aria-label="decoded image"]');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let checksum = 0, ink = 0;
  for (let i = 0; i < data.length; i += 4) {
    checksum = (checksum * 31 + data[i]) % 1000000007;
    ink += 255 - data[i];
  }
  const menu = root.querySelector('select');
  return {
    sliders: Array.from(root.querySelectorAll('input[type=range]')).map(s => Number(s.value)),
    model: menu ? menu.value : null,
    checksum, ink, width: canvas.width, height: canvas.height,
    status: (root.querySelector('.cu-status') || {}).textContent || '',
  };
}"""

EXPLORER_WAIT_MS = 30_000


def explorer_state(root) -> dict:
    """:data:`EXPLORER_STATE` of the explorer whose root element is the locator ``root``."""
    return root.evaluate(EXPLORER_STATE)


def wait_for_explorer(root, condition: str, arg: object = None,
                      timeout_ms: int = EXPLORER_WAIT_MS) -> dict:
    """Wait (bounded) until the JS ``condition(state, arg)`` holds; return the state.

    Fails the test with the last state seen when it does not hold in time.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    handle = root.element_handle(timeout=timeout_ms)
    try:
        handle.evaluate(f"""(root, arg) => new Promise((resolve, reject) => {{
            const read = {EXPLORER_STATE};
            const check = {condition};
            const start = performance.now();
            const poll = () => {{
              if (check(read(root), arg)) return resolve(true);
              if (performance.now() - start > {timeout_ms}) return reject(new Error('timeout'));
              requestAnimationFrame(poll);
            }};
            poll();
        }})""", arg)
    except (PlaywrightTimeout, Exception) as error:  # noqa: BLE001 - report the state
        pytest.fail(f"explorer: {condition} did not hold within {timeout_ms / 1000:.0f} s "
                    f"({error}); state: {explorer_state(root)}")
    return explorer_state(root)


def exercise_explorer(page, root, shot: Callable[[str], object]) -> None:
    """Drive an explorer as a learner would and check each step; ``shot(name)`` saves a
    screenshot of each state.

    Keyboard (focus + ArrowRight) and mouse (drag) on the first slider change the decoded
    pixels; Encode moves the sliders to the test image's code; Reset returns them to 0;
    a click on the 2-D map sets the code; the menu's 8-D model rebuilds eight sliders.
    """
    root.scroll_into_view_if_needed()
    start = wait_for_explorer(root, "(s) => s.sliders.length === 2 && s.ink > 0")
    assert start["sliders"] == [0, 0], start
    shot("1-start")

    slider = root.locator("input[type=range]").first
    slider.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    keyed = wait_for_explorer(root, "(s, before) => s.checksum !== before && s.sliders[0] > 0",
                              start["checksum"])
    assert keyed["sliders"][0] == pytest.approx(0.3, abs=1e-6), keyed
    shot("2-keyboard")

    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.55, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=4)
    page.mouse.move(box["x"] + box["width"] * 0.9, y, steps=4)
    page.mouse.up()
    dragged = wait_for_explorer(
        root, "(s, before) => s.checksum !== before && s.sliders[0] > 1.5", keyed["checksum"])
    shot("3-mouse-drag")

    root.get_by_role("button", name="Encode").click()
    encoded = wait_for_explorer(
        root, "(s, before) => JSON.stringify(s.sliders) !== JSON.stringify(before)"
              " && s.sliders.some(v => v !== 0)", dragged["sliders"])
    assert encoded["checksum"] != dragged["checksum"], encoded
    shot("4-encode")

    root.get_by_role("button", name=re.compile("^Reset")).click()
    reset = wait_for_explorer(root, "(s) => s.sliders.every(v => v === 0)")
    assert reset["checksum"] == start["checksum"], (reset, start)
    shot("5-reset")

    chart = root.locator("canvas.cu-map")
    chart.click(position={"x": 200, "y": 40})  # right and up of the centre: z1 > 0, z2 > 0
    mapped = wait_for_explorer(root, "(s) => s.sliders[0] > 1 && s.sliders[1] > 1")
    assert mapped["checksum"] != reset["checksum"], mapped
    shot("6-map-click")

    root.locator("select").select_option("mnist_dense_z8")
    rebuilt = wait_for_explorer(root, "(s) => s.sliders.length === 8 && s.ink > 0")
    assert rebuilt["sliders"] == [0] * 8, rebuilt
    assert root.locator("canvas.cu-map").count() == 0, "the 8-D model has no 2-D map"
    shot("7-model-z8")
    root.locator("input[type=range]").nth(7).focus()
    page.keyboard.press("ArrowLeft")
    wait_for_explorer(root, "(s, before) => s.checksum !== before && s.sliders[7] < 0",
                      rebuilt["checksum"])
    shot("8-z8-moved")


def element_screenshot(root, name: str) -> Path:
    """A PNG of one element under ``build/screenshots/<name>.png``."""
    path = SCREENSHOTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    root.screenshot(path=str(path), timeout=TIMEOUT_MS)
    return path


@pytest.fixture(params=["file", "http"])
def site_base(request, course_site, serve_directory) -> tuple[str, tuple[str, ...], str]:
    """The course site's base URL, the origins its pages may load from, and the scheme."""
    if request.param == "file":
        return course_site.as_uri(), (), "file"
    base = serve_directory(course_site)
    return base, (base,), "http"


# ------------------------------------------------------------------ Jupyter servers

JUPYTER_START_TIMEOUT_S = 120


@dataclass
class JupyterServer:
    """A running ``jupyter lab`` or ``jupyter notebook`` (see :func:`jupyter_server`)."""

    kind: str
    base: str
    token: str
    root: Path
    log: Path

    def url(self, path: str) -> str:
        """The address of ``path`` (such as ``lab/tree/x.ipynb``) with the token."""
        return f"{self.base}/{path}?token={self.token}"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@pytest.fixture
def jupyter_server(tmp_path) -> Iterator[Callable[[str, Path], JupyterServer]]:
    """A factory ``jupyter_server("lab" | "notebook", root)`` -> :class:`JupyterServer`.

    Starts the .venv's Jupyter on 127.0.0.1 with a free port and a token, serving
    ``root``, with ``COURSE_FAST=1`` for its kernels and the app exposed as
    ``window.jupyterapp``; waits (bounded) until it answers. Every server is stopped
    after the test, also when the test fails; its log is in the test's temp folder.
    """
    import secrets
    import time
    import urllib.request

    started: list[subprocess.Popen] = []

    def start(kind: str, root: Path) -> JupyterServer:
        port, token = _free_port(), secrets.token_hex(16)
        app = "LabApp" if kind == "lab" else "JupyterNotebookApp"
        config = tmp_path / f"jupyter-config-{kind}"
        config.mkdir(exist_ok=True)
        command = [sys.executable, "-m", "jupyter", kind, "--no-browser",
                   "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                   "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
                   f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
                   f"--{app}.expose_app_in_browser=True",
                   "--LabServerApp.workspaces_dir=" + str(config / "workspaces")]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        env = {**os.environ, "COURSE_FAST": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
               "JUPYTER_CONFIG_DIR": str(config), "PYTHONPATH": str(ROOT)}
        log = tmp_path / f"jupyter-{kind}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                       env=env, cwd=root)
        started.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + JUPYTER_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"jupyter {kind} exited with {process.returncode}:\n"
                            + log.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}",
                                            timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter {kind} did not answer within "
                            f"{JUPYTER_START_TIMEOUT_S} s:\n"
                            + log.read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        return JupyterServer(kind=kind, base=base, token=token, root=root, log=log)

    yield start
    for process in started:
        _stop(process)

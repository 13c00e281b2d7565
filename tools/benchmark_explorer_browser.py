"""Key press to new pixels: the latent explorer in JupyterLab, in headless Chromium.

A benchmark, not a test (``make benchmark`` runs it after ``benchmark_explorer.py``).
It starts the .venv's JupyterLab on 127.0.0.1 (``COURSE_FAST=1``) on a temp notebook
that shows ``LatentExplorer()`` (decoding in the page) and
``LatentExplorer(decode_in_page=False)`` (decoding in the kernel), focuses a slider and
presses arrow keys, ``--moves`` per model and mode. For each press the page records the
key event's time stamp and polls the decoded canvas until its pixels change: that
interval is the latency. Median and 90th percentile go to ``build/bench/explorer.json``
(with the load average) and are printed. Target: p90 <= 16 ms in the page.

Usage::

    python tools/benchmark_explorer_browser.py --moves 60
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "bench" / "explorer.json"
TIMEOUT_MS = 120_000

# On each keydown (capture, before the slider sees it): note the event's time and the
# canvas's pixels, then poll until they change and record the interval.
PROBE = """(root) => {
  const canvas = root.querySelector('canvas.cu-image[aria-label="decoded image"]');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  const read = () => {
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let checksum = 0;
    for (let i = 0; i < data.length; i += 4) checksum = (checksum * 31 + data[i]) % 1000000007;
    return checksum;
  };
  window.__latencies = [];
  window.__misses = 0;
  root.addEventListener('keydown', (event) => {
    const start = event.timeStamp, before = read();
    const poll = () => {
      if (read() !== before) return window.__latencies.push(performance.now() - start);
      if (performance.now() - start > 2000) { window.__misses += 1; return; }
      setTimeout(poll, 0);
    };
    setTimeout(poll, 0);
  }, true);
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_lab(root: Path, log: Path) -> tuple[subprocess.Popen, str, str]:
    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
               "--LabApp.expose_app_in_browser=True",
               f"--LabServerApp.workspaces_dir={root / '.workspaces'}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    env = {**os.environ, "COURSE_FAST": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
           "JUPYTER_CONFIG_DIR": str(root / ".jupyter")}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                return process, base, token
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("jupyter lab did not start within 120 s")


def measure(page, root, moves: int) -> dict:
    root.evaluate(PROBE)
    slider = root.locator("input[type=range]").first
    slider.focus()
    for move in range(moves):
        # 20 steps right, 20 left, ...: stays inside the range, every press moves
        page.keyboard.press("ArrowRight" if (move // 20) % 2 == 0 else "ArrowLeft")
        page.wait_for_function(f"window.__latencies.length + window.__misses > {move}",
                               timeout=10_000, polling="raf")
        page.wait_for_timeout(30)
    latencies = page.evaluate("window.__latencies")
    misses = page.evaluate("window.__misses")
    return {"moves": moves, "measured": len(latencies), "missed": misses,
            "median_ms": round(statistics.median(latencies), 2),
            "p90_ms": round(float(np.percentile(latencies, 90)), 2),
            "max_ms": round(max(latencies), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=60, help="key presses per case")
    parser.add_argument("--models", nargs="+", default=["mnist_dense", "mnist_conv"])
    args = parser.parse_args(argv)
    if args.moves < 50:
        parser.error("--moves must be at least 50")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if chromium is None:
        print("browser benchmark skipped: Chromium or Playwright is missing "
              "(apt-get install chromium)")
        return 0
    cases: dict[str, dict] = {}
    results = {"load_average": os.getloadavg(), "cpus": os.cpu_count(), "cases": cases}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        notebook = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_code_cell("from course_utils.explorer import LatentExplorer\n"
                                      "LatentExplorer()"),
            nbformat.v4.new_code_cell("LatentExplorer(decode_in_page=False)")])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                           "language": "python"}
        nbformat.write(notebook, root / "bench.ipynb")
        process, base, token = start_lab(root, root / "lab.log")
        try:
            with sync_playwright() as driver:
                browser = driver.chromium.launch(
                    executable_path=chromium, headless=True,
                    args=["--no-sandbox", "--disable-gpu"])
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    page.set_default_timeout(TIMEOUT_MS)
                    page.goto(f"{base}/lab/tree/bench.ipynb?token={token}")
                    page.wait_for_function(
                        "() => { const p = window.jupyterapp && jupyterapp.shell.currentWidget;"
                        " const k = p && p.sessionContext && p.sessionContext.session &&"
                        " p.sessionContext.session.kernel; return !!k && k.status === 'idle'; }")
                    page.evaluate("jupyterapp.commands.execute('notebook:run-all-cells')")
                    page.locator(".cu-explorer").nth(1).wait_for(timeout=TIMEOUT_MS)
                    page.wait_for_function(
                        "() => jupyterapp.shell.currentWidget.sessionContext.session"
                        ".kernel.status === 'idle'", timeout=TIMEOUT_MS)
                    for mode, nth in (("page", 0), ("kernel", 1)):
                        explorer = page.locator(".cu-explorer").nth(nth)
                        for model in args.models:
                            explorer.locator("select").select_option(model)
                            page.wait_for_timeout(1500)
                            explorer.scroll_into_view_if_needed()
                            case = measure(page, explorer, args.moves)
                            cases[f"{mode}/{model}"] = case
                            print(f"{mode:6s} {model:12s} median {case['median_ms']:6.2f} ms"
                                  f"  p90 {case['p90_ms']:6.2f} ms  max {case['max_ms']:6.2f}"
                                  f" ms  ({case['measured']}/{case['moves']} moves)",
                                  flush=True)
                finally:
                    browser.close()
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    results["load_average_after"] = os.getloadavg()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2))
    print(f"load average {results['load_average']}; written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time the latent explorer's updates and a 30 x 30 decoded grid, per shipped model.

A benchmark, not a test: it prints a table, and lesson 06 quotes its figures.

* **load**: ``load_pretrained(name)`` (hash check, build, weights), once TensorFlow
  is imported; the header gives the first load including that import.
* **kernel update**: the kernel's share of a slider move when the kernel decodes
  (``LatentExplorer(decode_in_page=False)``, the path for decoders the page cannot
  run): the page's code arrives in the synced ``code`` trait, Python decodes it,
  quantises it and stores the pixels to send. Median and 90th percentile over
  ``--updates`` updates, after a warm-up. The round trip between browser and kernel
  (25-70 ms in JupyterLab on a busy machine) comes on top and is not included.
* **page decode**: what the browser does instead for the course's decoders, one
  ``decode`` of ``explorer/js/decoder.js`` on a random code, run by node over
  ``--updates`` codes (skipped if node is missing). Drawing the 28 x 28 image adds
  well under a millisecond in a browser.
* **grid, one call**: ``decode_grid(vae, 30)``, the 900 codes in one decoder call.
* **grid, predict per point**: what classic tutorials do, one ``decoder.predict`` call
  per code, timed on ``--loop-points`` codes and extrapolated to 900, for contrast.

Usage::

    python tools/benchmark_explorer.py                    # 200 updates per model
    python tools/benchmark_explorer.py --updates 50 --models mnist_conv
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JS_DIR = ROOT / "course_utils" / "explorer" / "js"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def time_kernel_updates(explorer, updates: int, seed: int = 0) -> list[float]:
    """Seconds per kernel-side update of an explorer that decodes in the kernel, after 10
    warm-up updates: the code arrives as the page sends it, the pixels go back."""
    if explorer.decodes_in_page:
        raise RuntimeError("time an explorer made with decode_in_page=False")
    rng = np.random.default_rng(seed)
    codes = np.round(rng.uniform(-3, 3, size=(updates + 10, explorer.latent_dim)), 2)
    seconds = []
    for k, code in enumerate(codes):
        before = explorer.widget.pixels
        start = time.perf_counter()
        explorer.widget.code = [float(value) for value in code]
        elapsed = time.perf_counter() - start
        if explorer.widget.pixels is before:
            raise RuntimeError("the update did not redraw the image")
        if k >= 10:
            seconds.append(elapsed)
    return seconds


NODE_SCRIPT = """
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [modulePath, inputPath] = process.argv.slice(2);
const { loadDecoder } = await import(pathToFileURL(modulePath).href);
const { spec, codes } = JSON.parse(readFileSync(inputPath, "utf8"));
const decoder = loadDecoder(spec);
for (const code of codes.slice(0, 20)) decoder.decode(code);   // warm-up
const times = codes.map((code) => {
  const start = performance.now();
  decoder.decode(code);
  return performance.now() - start;
});
console.log(JSON.stringify(times));
"""


def time_page_decodes(spec: dict, latent_dim: int, count: int,
                      seed: int = 0) -> list[float] | None:
    """Milliseconds per decode of ``decoder.js`` in node, or None without node."""
    node = shutil.which("node")
    if node is None:
        return None
    codes = np.random.default_rng(seed).uniform(-3, 3, size=(count, latent_dim))
    with tempfile.TemporaryDirectory() as folder:
        script, data = Path(folder) / "time.mjs", Path(folder) / "data.json"
        script.write_text(NODE_SCRIPT)
        data.write_text(json.dumps({"spec": spec, "codes": codes.tolist()}))
        result = subprocess.run([node, str(script), str(JS_DIR / "decoder.js"), str(data)],
                                capture_output=True, text=True, check=True, timeout=600)
    return json.loads(result.stdout)


def time_grid(vae, n: int, repeats: int) -> float:
    from course_utils.latent.decoding import decode_grid

    decode_grid(vae, n)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        decode_grid(vae, n)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_loop(vae, n: int, points: int) -> float:
    """Seconds for an n x n grid decoded with one ``predict`` call per code (the classic
    tutorial loop), extrapolated from ``points`` codes."""
    from course_utils.latent.decoding import normal_quantile_grid

    codes = normal_quantile_grid(n).astype(np.float32)
    if vae.latent_dim > 2:
        codes = np.pad(codes, ((0, 0), (0, vae.latent_dim - 2)))
    vae.decoder.predict(codes[:1], verbose=0)  # warm-up
    start = time.perf_counter()
    for code in codes[:points]:
        vae.decoder.predict(code[None, :], verbose=0)
    return (time.perf_counter() - start) / points * len(codes)


def main(argv: list[str] | None = None) -> int:
    from course_utils.models.pretrained import PRETRAINED

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=200,
                        help="kernel updates and page decodes per model")
    parser.add_argument("--grid", type=int, default=30, help="grid points per axis")
    parser.add_argument("--repeats", type=int, default=5, help="timed grids per model")
    parser.add_argument("--loop-points", type=int, default=30,
                        help="codes decoded one by one, extrapolated to the whole grid")
    parser.add_argument("--models", nargs="+", choices=sorted(PRETRAINED),
                        default=list(PRETRAINED))
    args = parser.parse_args(argv)

    from course_utils.models.pretrained import load_pretrained

    load_before = os.getloadavg()
    start = time.perf_counter()
    load_pretrained(args.models[0])  # pays for importing TensorFlow and Keras
    first_load_s = time.perf_counter() - start

    import tensorflow as tf

    from course_utils.explorer.page_decoder import export_decoder
    from course_utils.explorer.widget import LatentExplorer

    print(f"# {datetime.date.today().isoformat()}, {platform.processor() or platform.machine()}"
          f", {os.cpu_count()} CPUs, Python {platform.python_version()}, TensorFlow "
          f"{tf.__version__}; load average before: {load_before[0]:.2f}", flush=True)
    print(f"# first load_pretrained, including importing TensorFlow: {first_load_s:.1f} s")
    print(f"{'model':<16} {'load':>6} {'kernel update':>15} {'page decode':>15} "
          f"{'grid, 1 call':>13} {'grid, predict/point':>20}")
    print(f"{'':<16} {'s':>6} {'median/p90 ms':>15} {'median/p90 ms':>15} "
          f"{f'{args.grid}x{args.grid}, ms':>13} {'(extrapolated), s':>20}")
    worst_page_p90 = 0.0
    for name in args.models:
        start = time.perf_counter()
        vae = load_pretrained(name)
        load_s = time.perf_counter() - start
        explorer = LatentExplorer({name: vae}, decode_in_page=False)
        kernel = [1000 * t for t in time_kernel_updates(explorer, args.updates)]
        spec = export_decoder(vae)
        page = time_page_decodes(spec, vae.latent_dim, args.updates) if spec else None
        page_text = "n/a" if page is None else \
            f"{statistics.median(page):.1f}/{percentile(page, 90):.1f}"
        if page is not None:
            worst_page_p90 = max(worst_page_p90, percentile(page, 90))
        grid_ms = 1000 * time_grid(vae, args.grid, args.repeats)
        loop_s = time_loop(vae, args.grid, args.loop_points)
        print(f"{name:<16} {load_s:6.2f} "
              f"{f'{statistics.median(kernel):.1f}/{percentile(kernel, 90):.1f}':>15} "
              f"{page_text:>15} {grid_ms:13.0f} {loop_s:20.1f}", flush=True)
    load_after = os.getloadavg()
    print(f"# load average after: {load_after[0]:.2f} (1 min), {load_after[1]:.2f} (5 min); "
          f"slowest page decode, 90th percentile: {worst_page_p90:.1f} ms (target: decode "
          "and draw <= 16 ms, one frame)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

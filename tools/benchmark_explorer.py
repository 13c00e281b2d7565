"""Time the latent explorer's slider updates and a 30 x 30 decoded grid, per shipped model.

A benchmark, not a test: it prints a table, and lesson 06 quotes its figures.

* **load**: ``load_pretrained(name)`` (hash check, build, weights), once TensorFlow
  is imported; the header gives the first load including that import.
* **slider update**: setting one slider's value through the widget, which runs the
  explorer's real update path (decode the code, quantise, encode a PNG, store it in
  the image widget). Median and 90th percentile over ``--updates`` updates, after a
  warm-up. In a live notebook the kernel then sends the PNG (about 2 KB) to the
  browser; that is not included.
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
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def time_slider_updates(explorer, updates: int, seed: int = 0) -> list[float]:
    """Seconds per slider update through the widget, after 10 warm-up updates."""
    rng = np.random.default_rng(seed)
    dims = rng.integers(0, explorer.latent_dim, size=updates + 10)
    values = np.round(rng.uniform(-3, 3, size=updates + 10), 2)
    seconds = []
    for k, (dim, value) in enumerate(zip(dims, values)):
        slider = explorer.sliders[dim]
        if slider.value == value:
            value = -value if value else 0.5
        before = explorer.image.value
        start = time.perf_counter()
        slider.value = float(value)
        elapsed = time.perf_counter() - start
        if explorer.image.value is before:
            raise RuntimeError("the slider did not redraw the image")
        if k >= 10:
            seconds.append(elapsed)
    return seconds


def time_grid(vae, n: int, repeats: int) -> float:
    from course_utils.latent_space import decode_grid

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
    from course_utils.latent_space import normal_quantile_grid

    codes = normal_quantile_grid(n).astype(np.float32)
    if vae.latent_dim > 2:
        codes = np.pad(codes, ((0, 0), (0, vae.latent_dim - 2)))
    vae.decoder.predict(codes[:1], verbose=0)  # warm-up
    start = time.perf_counter()
    for code in codes[:points]:
        vae.decoder.predict(code[None, :], verbose=0)
    return (time.perf_counter() - start) / points * len(codes)


def main(argv: list[str] | None = None) -> int:
    from course_utils.pretrained import PRETRAINED

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=200, help="slider updates per model")
    parser.add_argument("--grid", type=int, default=30, help="grid points per axis")
    parser.add_argument("--repeats", type=int, default=5, help="timed grids per model")
    parser.add_argument("--loop-points", type=int, default=30,
                        help="codes decoded one by one, extrapolated to the whole grid")
    parser.add_argument("--models", nargs="+", choices=sorted(PRETRAINED),
                        default=list(PRETRAINED))
    args = parser.parse_args(argv)

    from course_utils.pretrained import load_pretrained

    load_before = os.getloadavg()
    start = time.perf_counter()
    load_pretrained(args.models[0])  # pays for importing TensorFlow and Keras
    first_load_s = time.perf_counter() - start

    import tensorflow as tf

    from course_utils.explorer import LatentExplorer

    print(f"# {datetime.date.today().isoformat()}, {platform.processor() or platform.machine()}"
          f", {os.cpu_count()} CPUs, Python {platform.python_version()}, TensorFlow "
          f"{tf.__version__}; load average before: {load_before[0]:.2f}", flush=True)
    print(f"# first load_pretrained, including importing TensorFlow: {first_load_s:.1f} s")
    print(f"{'model':<16} {'load':>7} {'slider update':>21} {'grid, 1 call':>13} "
          f"{'grid, predict/point':>19}")
    print(f"{'':<16} {'s':>7} {'median / p90 ms':>21} {f'{args.grid}x{args.grid}, ms':>13} "
          f"{'(extrapolated), s':>19}")
    worst_median = 0.0
    for name in args.models:
        start = time.perf_counter()
        vae = load_pretrained(name)
        load_s = time.perf_counter() - start
        explorer = LatentExplorer({name: vae})
        updates = time_slider_updates(explorer, args.updates)
        median_ms, p90_ms = 1000 * statistics.median(updates), 1000 * percentile(updates, 90)
        worst_median = max(worst_median, median_ms)
        grid_ms = 1000 * time_grid(vae, args.grid, args.repeats)
        loop_s = time_loop(vae, args.grid, args.loop_points)
        print(f"{name:<16} {load_s:7.2f} {median_ms:11.1f} / {p90_ms:6.1f} {grid_ms:13.0f} "
              f"{loop_s:19.1f}", flush=True)
    load_after = os.getloadavg()
    print(f"# load average after: {load_after[0]:.2f} (1 min), {load_after[1]:.2f} (5 min); "
          f"slowest median slider update {worst_median:.1f} ms (target: <= 15 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

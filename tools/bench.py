"""The course's benchmark: speed and quality figures anyone can rerun (``make bench``).

A benchmark, not a test: it reports figures, prints a table and writes
``build/bench/results.json``; nothing in it passes or fails. Parts (``--parts``):

``training``
    Training images per second for the course's dense and conv VAEs
    (``build_dense_vae`` / ``build_conv_vae`` with ``vae.fit``) against the same
    architecture trained three other ways: the classic eager code of the source
    material (a ``train_step`` written by hand and ``compile(run_eagerly=True)``), and a
    hand-written ``tf.function`` loop over the same encoder, decoder, optimizer and
    batches, without and with XLA (``jit_compile=True``). Same data (the embedded MNIST
    training images), batch size, optimizer and epochs for every variant. The variants
    run interleaved, ``--repeats`` rounds of one run each, so that a change in machine
    load hits all of them alike; each run's speed is measured after its first epoch
    (which includes tracing and compiling), and the report gives per-variant medians and
    the course's ratio to each, with the ratio to the faster hand-written loop first.
``grid``
    Decoding a 30 x 30 grid of codes: one batched decoder call against one
    ``decoder.predict`` per point (timed on ``--loop-points`` points, extrapolated).
``explorer``
    Input event to new pixels in a real browser, in-page against kernel decoding:
    run by ``tools/benchmark_explorer_browser.py`` when ``chromium`` is installed, which
    writes ``build/bench/explorer.json``; without chromium an earlier file is read, or the
    part is reported as missing.
``lessons``
    Time per lesson, fast and full mode: ``tools/run_course.py`` runs every lesson in a
    fresh kernel, once with ``COURSE_FAST=1`` and once without, into ``build/bench/``.
``quality``
    The course's dense and conv VAEs at latent sizes 2 and 20, trained on the embedded
    MNIST training images (and on the full Fashion-MNIST where it is installed), scored
    on the test split: negative ELBO, the importance-weighted bound and the k where it
    has converged (the course's rule, ``converged_k``: from that k on, every further
    climb plus twice its standard error stays below ``--tolerance`` nats), and active
    units; each with its budget.

Usage::

    python tools/bench.py                          # every part (tens of minutes)
    python tools/bench.py --parts training grid --repeats 3
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
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "bench"
PARTS = ("training", "grid", "explorer", "lessons", "quality")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# ------------------------------------------------------------------------- helpers

def machine() -> dict:
    """What the figures were measured on."""
    import keras
    import numpy as np
    import tensorflow as tf

    return {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def median(values: list[float]) -> float:
    return float(statistics.median(values))


# ------------------------------------------------------------------------ training

@dataclass
class TrainingRun:
    """One training run of one variant: speed after the first epoch."""

    variant: str
    images_per_second: float
    first_epoch_seconds: float
    final_loss: float
    settings: str = ""  # the course's own choices (XLA, steps per call)
    load_average: float = 0.0  # one-minute load when the run ended


def _negative_elbo(x, logits, z_mean, z_log_var):
    """The classic example's loss, written out in TensorFlow: summed BCE + KL, batch mean.

    Shared by the classic eager model and the hand-written loop, so that both baselines
    compute the same loss and differ from the course only in how the step runs.
    """
    import tensorflow as tf

    reconstruction = tf.reduce_mean(tf.reduce_sum(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), axis=(1, 2, 3)))
    kl = tf.reduce_mean(tf.reduce_sum(
        -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var)), axis=1))
    return reconstruction + kl


def _classic_vae_class():
    """The classic Keras-example VAE: a hand-written ``train_step``, run eagerly."""
    import keras
    import tensorflow as tf

    class ClassicVAE(keras.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder, self.decoder = encoder, decoder
            self.total_loss_tracker = keras.metrics.Mean(name="loss")

        @property
        def metrics(self):
            return [self.total_loss_tracker]

        def train_step(self, data):
            with tf.GradientTape() as tape:
                z_mean, z_log_var = self.encoder(data, training=True)
                eps = tf.random.normal(tf.shape(z_mean))
                z = z_mean + tf.exp(0.5 * z_log_var) * eps
                logits = self.decoder(z, training=True)
                loss = _negative_elbo(data, logits, z_mean, z_log_var)
            grads = tape.gradient(loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(loss)
            return {"loss": self.total_loss_tracker.result()}

    return ClassicVAE


def _hand_loop_step(encoder, decoder, optimizer, *, xla: bool, seed: int):
    """A hand-written training step over ``encoder`` and ``decoder``, graph-compiled."""
    import tensorflow as tf

    variables = encoder.trainable_variables + decoder.trainable_variables
    generator = tf.random.Generator.from_seed(seed)

    @tf.function(jit_compile=xla, reduce_retracing=True)
    def step(x):
        with tf.GradientTape() as tape:
            z_mean, z_log_var = encoder(x, training=True)
            eps = generator.normal(tf.shape(z_mean))
            z = z_mean + tf.exp(0.5 * z_log_var) * eps
            logits = decoder(z, training=True)
            loss = _negative_elbo(x, logits, z_mean, z_log_var)
        grads = tape.gradient(loss, variables)
        optimizer.apply(grads, variables)
        return loss

    return step


def _epoch_batches(images, batch_size: int, epoch: int, seed: int):
    """The shuffled batches of one epoch, the same for every variant."""
    import numpy as np
    import tensorflow as tf

    order = np.random.default_rng(seed + epoch).permutation(len(images))
    shuffled = images[order]
    return [tf.constant(shuffled[i:i + batch_size]) for i in range(0, len(images), batch_size)]


def train_once(kind: str, variant: str, images, *, epochs: int, batch_size: int,
               seed: int = 0) -> TrainingRun:
    """Train a fresh ``kind`` ("dense" or "conv") VAE one way; time epochs 2..``epochs``."""
    import keras

    from course_utils.models.training import set_seed
    from course_utils.models.vae import build_conv_vae, build_dense_vae

    set_seed(seed)
    build = build_dense_vae if kind == "dense" else build_conv_vae
    course = build(latent_dim=2, seed=seed)
    optimizer = keras.optimizers.Adam(1e-3)
    epoch_seconds: list[float] = []
    loss = float("nan")
    settings = ""
    if variant in ("course", "classic eager"):
        from course_utils.models.training import EpochTimer

        model = course if variant == "course" else \
            _classic_vae_class()(course.encoder, course.decoder)
        model.compile(optimizer=optimizer, run_eagerly=variant == "classic eager")
        timer = EpochTimer()
        history = model.fit(images, epochs=epochs, batch_size=batch_size, shuffle=True,
                            verbose=0, callbacks=[timer])
        epoch_seconds = timer.seconds
        loss = float(history.history["loss"][-1])
        if variant == "course":
            settings = (f"jit_compile={model.jit_compile}, "
                        f"steps_per_execution={model.steps_per_execution}")
    else:
        step = _hand_loop_step(course.encoder, course.decoder, optimizer,
                               xla=variant == "hand loop, XLA", seed=seed)
        for epoch in range(epochs):
            batches = _epoch_batches(images, batch_size, epoch, seed)
            start = time.perf_counter()
            total = 0.0
            for batch in batches:
                value = step(batch)
            total = float(value)  # waits for the last step
            epoch_seconds.append(time.perf_counter() - start)
        loss = total
    steady = sum(epoch_seconds[1:])
    return TrainingRun(variant, (epochs - 1) * len(images) / steady, epoch_seconds[0], loss,
                       settings, round(os.getloadavg()[0], 2))


TRAINING_VARIANTS = ("course", "hand loop, graph", "hand loop, XLA", "classic eager")


def bench_training(repeats: int, epochs: int, batch_size: int, limit: int | None) -> dict:
    """Interleaved runs of every variant, per model; medians and the course's ratios."""
    from course_utils.data.datasets import load_dataset

    images = load_dataset("mnist", embedded_only=True).x_train[:limit]
    report: dict = {"data": f"embedded MNIST, {len(images)} training images",
                    "batch_size": batch_size, "epochs": epochs, "repeats": repeats,
                    "optimizer": "Adam(1e-3)", "models": {}}
    for kind in ("dense", "conv"):
        runs: dict[str, list[TrainingRun]] = {v: [] for v in TRAINING_VARIANTS}
        for round_ in range(repeats):
            order = TRAINING_VARIANTS if round_ % 2 == 0 else TRAINING_VARIANTS[::-1]
            for variant in order:
                run = train_once(kind, variant, images, epochs=epochs, batch_size=batch_size,
                                 seed=round_)
                runs[variant].append(run)
                print(f"  {kind:5} {variant:17} {run.images_per_second:9,.0f} images/s "
                      f"(first epoch {run.first_epoch_seconds:.1f} s, load "
                      f"{run.load_average:.1f}) {run.settings}", flush=True)
        speeds = {v: median([r.images_per_second for r in rs]) for v, rs in runs.items()}
        best_hand = max(speeds["hand loop, graph"], speeds["hand loop, XLA"])
        report["models"][kind] = {
            "images_per_second": {v: round(s) for v, s in speeds.items()},
            "course_vs_faster_hand_loop": round(speeds["course"] / best_hand, 3),
            "course_vs": {v: round(speeds["course"] / s, 3) for v, s in speeds.items()
                          if v != "course"},
            "runs": {v: [asdict(r) for r in rs] for v, rs in runs.items()},
        }
    return report


# ---------------------------------------------------------------------------- grid

def bench_grid(loop_points: int, repeats: int) -> dict:
    """A 30 x 30 grid: one batched call against one ``predict`` per point."""
    import numpy as np

    from course_utils.latent.decoding import decode_grid
    from course_utils.models.pretrained import load_pretrained

    report = {}
    for name in ("mnist_dense", "mnist_conv"):
        vae = load_pretrained(name)
        decode_grid(vae, 30)  # trace once
        batched = []
        for _ in range(repeats):
            start = time.perf_counter()
            decode_grid(vae, 30)
            batched.append(time.perf_counter() - start)
        codes = np.random.default_rng(0).normal(size=(loop_points, vae.latent_dim))
        vae.decoder.predict(codes[:1], verbose=0)
        start = time.perf_counter()
        for code in codes:
            vae.decoder.predict(code[None], verbose=0)
        per_point = (time.perf_counter() - start) / loop_points
        report[name] = {"one_call_ms": round(1000 * median(batched), 2),
                        "predict_per_point_ms": round(1000 * per_point * 900, 1),
                        "speedup": round(per_point * 900 / median(batched))}
    return report


# ------------------------------------------------------------------------ explorer

def bench_explorer(moves: int) -> dict:
    """Input event to new pixels in headless Chromium, in the page and in the kernel.

    Runs ``tools/benchmark_explorer_browser.py`` when ``chromium`` is on the PATH (it
    writes ``build/bench/explorer.json``); otherwise reads that file from an earlier run,
    or reports it missing.
    """
    path = OUT / "explorer.json"
    if shutil.which("chromium"):
        subprocess.run([sys.executable, str(ROOT / "tools" / "benchmark_explorer_browser.py"),
                        "--moves", str(moves)], check=False, cwd=ROOT)
    if not path.exists():
        return {"missing": f"{path.relative_to(ROOT)} not found: install chromium "
                           "(`apt-get install chromium`) and rerun, or run `make benchmark`"}
    data = json.loads(path.read_text())
    return {"source": str(path.relative_to(ROOT)), "load_average": data.get("load_average"),
            "cases": {name: {k: case[k] for k in ("median_ms", "p90_ms", "moves", "missed")
                             if k in case}
                      for name, case in data.get("cases", {}).items()}}


# ------------------------------------------------------------------------- lessons

def bench_lessons() -> dict:
    """Run every lesson in fast and in full mode (tools/run_course.py); seconds each."""
    report = {}
    for mode, fast in (("fast", "1"), ("full", "0")):
        build = OUT / f"lessons-{mode}"
        env = dict(os.environ, COURSE_FAST=fast)
        start = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "tools" / "run_course.py"),
                        "--build", str(build)], env=env, check=False, cwd=ROOT)
        runs_file = build / "executed" / "runs.json"
        records = json.loads(runs_file.read_text()) if runs_file.exists() else {}
        report[mode] = {"wall_seconds": round(time.perf_counter() - start, 1),
                        "lessons": {stem: {"seconds": rec.get("seconds"), "ok": rec.get("ok")}
                                    for stem, rec in sorted(records.items())}}
    return report


# ------------------------------------------------------------------------- quality

def converged_bound(vae, images, *, tolerance: float, k_max: int, seed: int = 0) -> dict:
    """The importance-weighted bound L_k at k = 1, 2, 4, ... ``k_max``, and where it converged.

    Every L_k is estimated from the same weights per image (``k_max`` rounded down to
    a power of 2), split into groups of ``k`` (their mean has less noise than one
    group): :func:`~course_utils.evaluation.bounds_by_k`. Where the bound converged is
    the course's rule, :func:`~course_utils.evaluation.converged_k` on the bounds of
    each image: from that k on, every further climb (its mean over images plus twice
    its standard error) stays below ``tolerance`` nats.
    """
    import math

    from course_utils.evaluation import bounds_by_k, converged_k, log_importance_weights

    ks = [2 ** i for i in range(int(math.log2(k_max)) + 1)]
    log_weights = log_importance_weights(vae, images, k=ks[-1], seed=seed)
    per_image, _ = bounds_by_k(log_weights, ks)                 # (len(ks), images)
    return {"ks": ks, "bounds": [round(float(b.mean()), 2) for b in per_image],
            "converged_at_k": converged_k(ks, per_image, tolerance),
            "bound": round(float(per_image[-1].mean()), 2)}


def bench_quality(epochs: int, test_images: int, k_max: int, tolerance: float) -> dict:
    """Train the course's dense and conv VAEs at latent 2 and 20; score the test split."""
    import keras

    from course_utils.data.datasets import load_dataset
    from course_utils.latent.usage import active_units
    from course_utils.models.training import set_seed, train_vae
    from course_utils.models.vae import build_conv_vae, build_dense_vae

    datasets = [("mnist", load_dataset("mnist", embedded_only=True))]
    try:
        fashion = load_dataset("fashion_mnist", allow_download=False)
        if fashion.source.kind != "embedded":
            datasets.append(("fashion_mnist (full)", fashion))
    except Exception as error:  # noqa: BLE001 - reported, not fatal
        datasets.append(("fashion_mnist (full)", f"not installed: {error}"))
    report = {}
    for label, data in datasets:
        if isinstance(data, str):
            report[label] = {"skipped": data}
            continue
        for kind, build in (("dense", build_dense_vae), ("conv", build_conv_vae)):
            for latent_dim in (2, 20):
                set_seed(0)
                vae = build(latent_dim=latent_dim, seed=0)
                vae.compile(optimizer=keras.optimizers.Adam(1e-3))
                start = time.perf_counter()
                train_vae(vae, data.x_train, epochs=epochs, batch_size=128, verbose=0)
                seconds = time.perf_counter() - start
                x_test = data.x_test[:test_images]
                nelbo = vae.evaluate_nelbo(x_test)
                z_mean, z_log_var = vae.encode(x_test)
                report[f"{label}/{kind}/z{latent_dim}"] = {
                    "budget": f"{len(data.x_train)} training images x {epochs} epochs, "
                              f"batch 128, Adam 1e-3 ({seconds:.0f} s)",
                    "test_images": len(x_test),
                    "negative_elbo": round(float(nelbo["loss"]), 2),
                    "importance_weighted": converged_bound(vae, x_test, tolerance=tolerance,
                                                           k_max=k_max),
                    "active_units": int(active_units(z_mean)),
                }
                print(f"  {label} {kind} z={latent_dim}: -ELBO {nelbo['loss']:.1f}", flush=True)
    report["published"] = ("See ../shared/reference/performance_anchors.md and the README: "
                           "published figures on binarised MNIST are not comparable with "
                           "these grey-level Bernoulli figures.")
    return report


# ---------------------------------------------------------------------------- main

def print_table(results: dict) -> None:
    training = results.get("training")
    if training:
        print(f"\nTraining ({training['data']}, batch {training['batch_size']}, "
              f"{training['epochs']} epochs, median of {training['repeats']} interleaved runs)")
        print(f"{'model':6} {'variant':18} {'images/s':>10} {'course ratio':>13}")
        for kind, row in training["models"].items():
            for variant, speed in row["images_per_second"].items():
                ratio = "" if variant == "course" else f"{row['course_vs'][variant]:.2f}"
                print(f"{kind:6} {variant:18} {speed:>10,} {ratio:>13}")
            print(f"{kind:6} course / faster hand loop: {row['course_vs_faster_hand_loop']:.2f}")
    grid = results.get("grid")
    if grid:
        print("\n30 x 30 grid: one batched call against one predict per point")
        for name, row in grid.items():
            print(f"{name:12} {row['one_call_ms']:8.1f} ms  {row['predict_per_point_ms']:9.0f} ms"
                  f"  x{row['speedup']:,}")
    explorer = results.get("explorer")
    if explorer:
        print("\nExplorer, input event to new pixels in chromium")
        for name, case in explorer.get("cases", {}).items():
            print(f"{name:20} median {case.get('median_ms')} ms  p90 {case.get('p90_ms')} ms")
        if "missing" in explorer:
            print(f"  {explorer['missing']}")
    lessons = results.get("lessons")
    if lessons:
        print("\nTime per lesson (s)")
        stems = sorted(set().union(*(m["lessons"] for m in lessons.values())))
        for stem in stems:
            cells = [lessons[m]["lessons"].get(stem, {}).get("seconds") for m in ("fast", "full")]
            print(f"{stem:28} " + "  ".join(f"{c if c is not None else '-':>8}" for c in cells))
    quality = results.get("quality")
    if quality:
        print("\nQuality on the test split (nats per image)")
        for name, row in quality.items():
            if isinstance(row, dict) and "negative_elbo" in row:
                iw = row["importance_weighted"]
                print(f"{name:28} -ELBO {row['negative_elbo']:8.2f}  log p >= {iw['bound']:8.2f}"
                      f" (k={iw['ks'][-1]}, converged at {iw['converged_at_k']})  "
                      f"active {row['active_units']}")


def markdown_tables(results: dict) -> str:
    """The README's benchmark tables, in Markdown, from a results.json's contents."""
    machine = results.get("machine", {})
    out = [f"Measured {machine.get('date', '?')[:10]} on {machine.get('cpus', '?')} CPU cores "
           f"({machine.get('processor', '?')}), Python {machine.get('python', '?')}, "
           f"TensorFlow {machine.get('tensorflow', '?')}, Keras {machine.get('keras', '?')}; "
           f"load average {machine.get('load_average_at_start', '?')} at the start and "
           f"{machine.get('load_average_at_end', '?')} at the end."]
    training = results.get("training")
    if training:
        out += ["", f"Training images per second ({training['data']}, batch "
                f"{training['batch_size']}, {training['epochs']} epochs with the first "
                f"untimed, median of {training['repeats']} interleaved runs):", "",
                "| model | course | hand loop, graph | hand loop, XLA | classic eager "
                "| course / faster hand loop |", "| --- | --- | --- | --- | --- | --- |"]
        for kind, row in training["models"].items():
            speeds = row["images_per_second"]
            out.append(f"| {kind} | " + " | ".join(
                f"{speeds[v]:,.0f}" for v in ("course", "hand loop, graph", "hand loop, XLA",
                                               "classic eager"))
                + f" | {row['course_vs_faster_hand_loop']:.2f} |")
    grid = results.get("grid")
    if grid:
        out += ["", "| 30 x 30 grid | one batched call | one `predict` per point | speed-up |",
                "| --- | --- | --- | --- |"]
        out += [f"| {name} | {row['one_call_ms']:.1f} ms | {row['predict_per_point_ms']:,.0f} ms "
                f"| {row['speedup']:,}x |" for name, row in grid.items()]
    explorer = results.get("explorer")
    if explorer and explorer.get("cases"):
        out += ["", "| explorer: key press to new pixels | median | p90 |", "| --- | --- | --- |"]
        out += [f"| {name} | {case['median_ms']:.1f} ms | {case['p90_ms']:.1f} ms |"
                for name, case in explorer["cases"].items()]
    lessons = results.get("lessons")
    if lessons:
        out += ["", "| lesson | fast mode | full mode |", "| --- | --- | --- |"]
        stems = sorted(set().union(*(m["lessons"] for m in lessons.values())))
        for stem in stems:
            cells = [lessons[m]["lessons"].get(stem, {}).get("seconds") for m in ("fast", "full")]
            out.append(f"| {stem} | " + " | ".join("-" if c is None else f"{c:.0f} s"
                                                    for c in cells) + " |")
        out.append("| all (wall clock) | " + " | ".join(
            f"{lessons[m]['wall_seconds']:.0f} s" for m in ("fast", "full")) + " |")
    quality = results.get("quality")
    if quality:
        out += ["", "| data / model / latent | -ELBO | log p(x) >= (k) | converged at k "
                "| active units | budget |", "| --- | --- | --- | --- | --- | --- |"]
        for name, row in quality.items():
            if isinstance(row, dict) and "negative_elbo" in row:
                iw = row["importance_weighted"]
                out.append(f"| {name} | {row['negative_elbo']:.2f} | {iw['bound']:.2f} "
                           f"({iw['ks'][-1]}) | {iw['converged_at_k'] or 'not yet'} | "
                           f"{row['active_units']} | {row['budget']} |")
            elif isinstance(row, dict) and "skipped" in row:
                out.append(f"| {name} | skipped: {row['skipped']} | | | | |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--repeats", type=int, default=3, help="interleaved training rounds")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs per run")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--limit", type=int, default=None, help="training images (default all)")
    parser.add_argument("--loop-points", type=int, default=30)
    parser.add_argument("--explorer-moves", type=int, default=60,
                        help="key presses per case in the browser benchmark")
    parser.add_argument("--quality-epochs", type=int, default=30)
    parser.add_argument("--test-images", type=int, default=500)
    parser.add_argument("--k-max", type=int, default=4096)
    parser.add_argument("--tolerance", type=float, default=0.1, help="nats")
    parser.add_argument("--out", type=Path, default=OUT / "results.json")
    parser.add_argument("--markdown", action="store_true",
                        help="print the README's tables from --out and run nothing")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown_tables(json.loads(args.out.read_text())), end="")
        return 0
    results: dict = {"machine": machine(), "parts": args.parts}
    steps: dict[str, Callable[[], dict]] = {
        "training": lambda: bench_training(args.repeats, args.epochs, args.batch_size, args.limit),
        "grid": lambda: bench_grid(args.loop_points, args.repeats),
        "explorer": lambda: bench_explorer(args.explorer_moves),
        "lessons": bench_lessons,
        "quality": lambda: bench_quality(args.quality_epochs, args.test_images, args.k_max,
                                         args.tolerance),
    }
    for part in args.parts:
        print(f"[{part}]", flush=True)
        results[part] = steps[part]()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print_table(results)
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

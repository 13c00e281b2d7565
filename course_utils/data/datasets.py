"""Load MNIST and Fashion-MNIST from the best source available, offline first.

Sources are tried in this order, and the first that has the data is used:

1. ``data_dir`` (argument, or the ``COURSE_DATA_DIR`` environment variable);
2. the Keras cache (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``);
3. the system copy of Debian's ``dataset-fashion-mnist`` (Fashion-MNIST only);
4. a download from Keras' servers, only when the network answers within seconds;
5. the small real subsets embedded in this package (always present).

A source that lacks the files is skipped and the reason recorded; a source with a
corrupted file raises :class:`DataFileError` naming the file, even when other files
of that source are missing (the files that are there are checked first). The
returned :class:`ImageDataset` says which source it came from and why the earlier
ones were skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from course_utils.data.files import DataFileError, read_idx, read_npz_splits

__all__ = [
    "DATASETS",
    "SPLITS",
    "SOURCE_ORDER",
    "DataFileError",
    "DataSource",
    "ImageDataset",
    "load_dataset",
    "keras_cache_dir",
]

DATASETS = ("mnist", "fashion_mnist")
SPLITS = ("train", "test")
SOURCE_ORDER = ("data_dir", "keras_cache", "system", "download", "embedded")

CLASS_NAMES = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion_mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
}

DATA_DIR_ENV = "COURSE_DATA_DIR"
SYSTEM_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
KERAS_DATA_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

# Keras' own checksum for mnist.npz (keras/src/datasets/mnist.py).
MNIST_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
# SHA-256 of the *uncompressed* Fashion-MNIST IDX files (Zalando's release; the
# Keras download and Debian's package recompress the same bytes differently).
FASHION_MNIST_IDX_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
FASHION_MNIST_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded"
# Written by tools/build_embedded_data.py, which reproduces these bytes exactly.
EMBEDDED_FILES = {
    "mnist": ("mnist_embedded.npz",
              "d8283aedb2b9912267314616545988bb38c1bba77e50ce6410eb2f600c069142"),
    "fashion_mnist": ("fashion_mnist_embedded.npz",
                      "d4fd74ec9bd52e5c000cd216911e7d6f2cc3892e30c4ae64b81f7399ddfe5635"),
}

PROBE_TIMEOUT_S = 3.0
DOWNLOAD_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class DataSource:
    """Where a dataset was loaded from.

    Attributes
    ----------
    kind : str
        One of :data:`SOURCE_ORDER`.
    location : str
        The directory or file the arrays were read from.
    skipped : tuple of str
        Why each earlier source in the order was not used.
    """

    kind: str
    location: str
    skipped: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for a learner: the source kind and its location."""
        labels = {
            "data_dir": "your data directory",
            "keras_cache": "the Keras cache",
            "system": "the system copy (Debian dataset-fashion-mnist)",
            "download": "a fresh download into the Keras cache",
            "embedded": "the small subset embedded in course_utils",
        }
        return f"{labels[self.kind]} ({self.location})"


@dataclass(frozen=True, repr=False)
class ImageDataset:
    """Train and test images with labels, and where they came from.

    Attributes
    ----------
    name : str
        ``"mnist"`` or ``"fashion_mnist"``.
    x_train, x_test : numpy.ndarray of shape (n, 28, 28, 1), float32 in [0, 1]
    y_train, y_test : numpy.ndarray of shape (n,), int64 class labels 0-9
    source : DataSource
    class_names : tuple of str
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: DataSource
    class_names: tuple[str, ...] = field(default=())

    def split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(images, labels)`` of ``"train"`` or ``"test"``."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}; got {split!r}. Pass 'train' or "
                             "'test'.")
        return (self.x_train, self.y_train) if split == "train" else (self.x_test, self.y_test)

    def summary(self) -> str:
        """A short description: name, sizes and source."""
        return (
            f"{self.name}: {len(self.x_train)} train / {len(self.x_test)} test images "
            f"of shape {self.x_train.shape[1:]}, from {self.source.describe()}"
        )

    def __repr__(self) -> str:
        return f"ImageDataset({self.summary()})"


def keras_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Return the folder where Keras caches datasets (``$KERAS_HOME/datasets``)."""
    environ = os.environ if environ is None else environ
    home = environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


# --- reading one source -----------------------------------------------------------------

class _Missing(Exception):
    """The source does not hold this dataset (a reason to skip it, not an error)."""


def _read_mnist_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise _Missing(f"{path} not found")
    if not path.is_file():
        raise DataFileError(f"Data file {path} must be a regular file; got a folder or "
                            "another non-file. Delete it and fetch mnist.npz again.")
    return read_npz_splits(path, MNIST_NPZ_SHA256)


def _find_idx(folder: Path, stem: str) -> Path | None:
    """The IDX file ``stem`` in ``folder``, gzipped or not; None if neither exists."""
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.exists():
            return candidate
    return None


def _read_fashion_dir(folder: Path) -> dict[str, np.ndarray]:
    """Read the four Fashion-MNIST IDX files of ``folder``.

    Every file that is there is verified first, and only then is a missing one a
    reason to skip the folder: a damaged file raises :class:`DataFileError` naming it,
    whatever else the folder lacks, so the loader never falls back to other data.
    """
    if not folder.is_dir():
        raise _Missing(f"{folder} not found")
    arrays = {}
    missing = []
    for split, (image_stem, label_stem) in FASHION_MNIST_STEMS.items():
        for key, stem in ((f"x_{split}", image_stem), (f"y_{split}", label_stem)):
            path = _find_idx(folder, stem)
            if path is None:
                missing.append(f"{stem}[.gz]")
                continue
            if not path.is_file():
                raise DataFileError(f"Data file {path} must be a regular file; got a folder "
                                    "or another non-file. Delete it and fetch the file "
                                    "again.")
            arrays[key] = read_idx(path, FASHION_MNIST_IDX_SHA256[stem])
    if missing:
        raise _Missing(f"{folder} lacks {', '.join(missing)}")
    return arrays


def _read_from_folder(name: str, folder: Path) -> dict[str, np.ndarray]:
    """Read a dataset laid out as in the Keras cache: mnist.npz or fashion-mnist/."""
    if name == "mnist":
        return _read_mnist_npz(folder / "mnist.npz")
    reasons = []
    for candidate in (folder / "fashion-mnist", folder):
        try:
            return _read_fashion_dir(candidate)
        except _Missing as reason:
            reasons.append(str(reason))
    raise _Missing(f"no complete set of Fashion-MNIST IDX files ({'; '.join(reasons)})")


def _network_answers(url: str, timeout: float) -> bool:
    parsed = urllib.parse.urlparse(url)
    if parsed.hostname is None:  # a file:// URL, as used by the tests
        return True
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _download(url: str, destination: Path, timeout: float) -> None:
    """Download ``url`` to ``destination`` atomically (no partial file is left)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=destination.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                shutil.copyfileobj(response, out)
        os.replace(temp_name, destination)
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)


def _download_into_cache(name: str, cache: Path, base_url: str, timeout: float) -> dict:
    if not _network_answers(base_url, PROBE_TIMEOUT_S):
        raise _Missing(f"network unreachable (no answer within {PROBE_TIMEOUT_S:.0f} s)")
    if name == "mnist":
        files = [cache / "mnist.npz"]
    else:
        files = [cache / "fashion-mnist" / f"{stem}.gz"
                 for stems in FASHION_MNIST_STEMS.values() for stem in stems]
    try:
        for path in files:
            if not path.is_file():
                _download(base_url + path.name, path, timeout)
    except OSError as error:
        raise _Missing(f"download failed ({type(error).__name__}: {error})") from error
    return _read_from_folder(name, cache)


def _read_embedded(name: str) -> dict[str, np.ndarray]:
    filename, digest = EMBEDDED_FILES[name]
    path = EMBEDDED_DIR / filename
    if not path.is_file():
        raise DataFileError(
            f"Data file {path} must ship with the package; got none: it is missing from the "
            "installed package. Reinstall course_utils (pip install -e .) or rebuild it with "
            "tools/build_embedded_data.py."
        )
    return read_npz_splits(path, digest)


# --- the public loader ------------------------------------------------------------------

def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, one of {DATASETS}; got "
                        f"{type(name).__name__}. Pass a name such as 'mnist'.")
    key = name.lower().replace("-", "_")
    if key not in DATASETS:
        raise ValueError(f"name must be one of {DATASETS}; got {name!r}. Pick one of those "
                         "names.")
    return key


def _check_limit(limit: object) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)):
        raise TypeError(f"limit must be a whole number or None; got {type(limit).__name__}. "
                        "Pass an int such as 1000, or None for all images.")
    if limit < 0:
        raise ValueError(f"limit must be >= 0 (images per split) or None for all; got {limit}. "
                         "Pass 0 or more.")
    return int(limit)


def _resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    if data_dir is None:
        data_dir = os.environ.get(DATA_DIR_ENV) or None
        origin = f"the {DATA_DIR_ENV} environment variable"
    else:
        origin = "data_dir"
    if data_dir is None:
        return None
    folder = Path(data_dir).expanduser()
    if not folder.is_dir():
        raise ValueError(
            f"{origin} must be an existing directory; got {str(folder)!r}. Pass a folder "
            "holding mnist.npz or the Fashion-MNIST IDX files, or unset it."
        )
    return folder


def _balanced_head(labels: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the first ``limit`` images, taken round-robin across classes."""
    rank = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rank[members] = np.arange(len(members))
    order = np.lexsort((np.arange(len(labels)), labels, rank))
    return np.sort(order[:limit])


def _to_float_images(images: np.ndarray) -> np.ndarray:
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]


def load_dataset(
    name: str = "mnist",
    *,
    limit: int | None = None,
    data_dir: str | os.PathLike | None = None,
    embedded_only: bool = False,
    allow_download: bool = True,
    system_dir: str | os.PathLike = SYSTEM_FASHION_MNIST_DIR,
    keras_cache: str | os.PathLike | None = None,
    download_url: str = KERAS_DATA_URL,
) -> ImageDataset:
    """Load MNIST or Fashion-MNIST as float32 images in [0, 1].

    Parameters
    ----------
    name : {"mnist", "fashion_mnist"}
        Which dataset. ``"fashion-mnist"`` is accepted too.
    limit : int, optional
        At most this many images per split, balanced across classes. ``None``: all.
    data_dir : path, optional
        A folder holding ``mnist.npz`` or the four Fashion-MNIST IDX files. Defaults to
        the ``COURSE_DATA_DIR`` environment variable; if neither is set, it is skipped.
    embedded_only : bool
        Use only the subset embedded in the package (what fast mode does).
    allow_download : bool
        Try Keras' servers when nothing local is found.
    system_dir, keras_cache, download_url
        Locations of the other sources; the defaults are the standard ones.

    Returns
    -------
    ImageDataset
        ``x_train``/``x_test`` of shape ``(n, 28, 28, 1)``, float32 in [0, 1];
        ``y_train``/``y_test`` of shape ``(n,)``, int64; and ``source``.

    Raises
    ------
    ValueError
        Unknown name, negative limit, or a data directory that does not exist.
    DataFileError
        A file that exists is corrupted or truncated (it is named in the message).
    """
    key = _check_name(name)
    limit = _check_limit(limit)
    folder = None if embedded_only else _resolve_data_dir(data_dir)
    cache = Path(keras_cache) if keras_cache is not None else keras_cache_dir()

    attempts: list[tuple[str, str, Callable[[], dict]]] = []
    if not embedded_only:
        if folder is not None:
            attempts.append(("data_dir", str(folder), lambda: _read_from_folder(key, folder)))
        attempts.append(("keras_cache", str(cache), lambda: _read_from_folder(key, cache)))
        if key == "fashion_mnist":
            system = Path(system_dir)
            attempts.append(("system", str(system), lambda: _read_fashion_dir(system)))
        if allow_download:
            attempts.append(("download", download_url, lambda: _download_into_cache(
                key, cache, download_url, DOWNLOAD_TIMEOUT_S)))
    embedded_path = str(EMBEDDED_DIR / EMBEDDED_FILES[key][0])
    attempts.append(("embedded", embedded_path, lambda: _read_embedded(key)))

    skipped: list[str] = []
    for kind, location, read in attempts:
        try:
            arrays = read()
        except _Missing as reason:
            skipped.append(f"{kind}: {reason}")
            continue
        location = str(cache) if kind == "download" else location
        return _make_dataset(key, arrays, DataSource(kind, location, tuple(skipped)), limit)
    raise AssertionError("the embedded source always answers or raises")  # pragma: no cover


def _make_dataset(key: str, arrays: dict, source: DataSource, limit: int | None) -> ImageDataset:
    splits = {}
    for split in SPLITS:
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.shape[1:] != (28, 28) or len(images) != len(labels):
            raise DataFileError(
                f"Data from {source.location} must hold images of shape (n, 28, 28) and n "
                f"labels; got images of shape {images.shape} and {len(labels)} labels for "
                f"the {split} split. Check the files at that location, or delete them and "
                "fetch them again."
            )
        if limit is not None and limit < len(labels):
            keep = _balanced_head(labels, limit)
            images, labels = images[keep], labels[keep]
        splits[split] = (_to_float_images(images), labels.astype(np.int64))
    return ImageDataset(
        name=key,
        x_train=splits["train"][0], y_train=splits["train"][1],
        x_test=splits["test"][0], y_test=splits["test"][1],
        source=source, class_names=CLASS_NAMES[key],
    )


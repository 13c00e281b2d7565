"""Tests for course_utils.data.files: IDX and .npz readers, checksums, deterministic writer.

Every file here is built by the test itself (struct + gzip + numpy), so the expected
arrays and SHA-256 values never come from the code under test.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import struct
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from course_utils.data.files import (
    DataFileError,
    read_idx,
    read_npz_splits,
    sha256_of_file,
    write_npz_deterministic,
)

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array: 0, 0, 0x08, ndim, big-endian dims, data."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        struct.pack(">I", dim) for dim in array.shape
    )
    return header + array.tobytes()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)


@pytest.fixture
def splits() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    return {
        "x_train": rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8),
        "y_train": np.arange(6, dtype=np.uint8),
        "x_test": rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8),
        "y_test": np.array([9, 8, 7], dtype=np.uint8),
    }


# ------------------------------------------------------------------------- read_idx


def test_read_idx_reads_raw_image_file(tmp_path, images):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(_idx_bytes(images))
    result = read_idx(path)
    assert result.dtype == np.uint8
    assert result.shape == (5, 28, 28)
    np.testing.assert_array_equal(result, images)


def test_read_idx_reads_gzipped_label_file(tmp_path):
    labels = np.array([3, 1, 4, 1, 5, 9, 2, 6], dtype=np.uint8)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_bytes(labels)))
    result = read_idx(str(path))  # str paths are accepted too
    assert result.dtype == np.uint8
    assert result.shape == (8,)
    np.testing.assert_array_equal(result, labels)


def test_read_idx_checks_hash_of_uncompressed_bytes(tmp_path, images):
    raw = _idx_bytes(images)
    digest = _sha(raw)
    plain = tmp_path / "images-idx3-ubyte"
    plain.write_bytes(raw)
    # Two different compressions of the same bytes: both pass the same checksum.
    fast = tmp_path / "fast-idx3-ubyte.gz"
    fast.write_bytes(gzip.compress(raw, compresslevel=1, mtime=0))
    best = tmp_path / "best-idx3-ubyte.gz"
    best.write_bytes(gzip.compress(raw, compresslevel=9, mtime=12345))
    assert fast.read_bytes() != best.read_bytes()
    for path in (plain, fast, best):
        np.testing.assert_array_equal(read_idx(path, digest), images)


def test_read_idx_wrong_hash_raises_naming_file(tmp_path, images):
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_bytes(images)))
    wrong = _sha(b"something else")
    with pytest.raises(DataFileError, match=re.escape(str(path))) as info:
        read_idx(path, wrong)
    message = str(info.value)
    assert "SHA-256" in message
    assert wrong in message
    assert _sha(_idx_bytes(images)) in message  # the actual hash, to help diagnose


def test_read_idx_data_file_error_is_value_error():
    assert issubclass(DataFileError, ValueError)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\x00",
        b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + b"\x00\x00\x00\x00",  # float32 type
        b"\x01\x00\x08\x01" + struct.pack(">I", 2) + b"\x01\x02",  # first byte not zero
        b"PK\x03\x04 this is a zip, not IDX",
    ],
    ids=["empty", "two-bytes", "float-type", "bad-magic", "zip"],
)
def test_read_idx_bad_header_raises(tmp_path, content):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=r"IDX header") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_truncated_header_raises(tmp_path):
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">I", 2) + struct.pack(">I", 28))
    with pytest.raises(DataFileError, match=r"truncated inside its header"):
        read_idx(path)


def test_read_idx_size_header_mismatch_raises(tmp_path, images):
    raw = _idx_bytes(images)
    missing_one_image = raw[: -28 * 28]
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(missing_one_image)
    with pytest.raises(DataFileError, match=r"header announces shape \(5, 28, 28\)") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert str(len(missing_one_image)) in str(info.value)


def test_read_idx_trailing_bytes_raise(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(_idx_bytes(np.array([1, 2, 3], dtype=np.uint8)) + b"\x07")
    with pytest.raises(DataFileError, match=r"header announces shape \(3,\)"):
        read_idx(path)


def test_read_idx_truncated_gz_raises_naming_file(tmp_path, images):
    compressed = gzip.compress(_idx_bytes(images))
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(DataFileError, match=re.escape(str(path))) as info:
        read_idx(path)
    assert "truncated" in str(info.value)


def test_read_idx_gz_that_is_not_gzip_raises(tmp_path, images):
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(_idx_bytes(images))  # raw bytes under a .gz name
    with pytest.raises(DataFileError, match=re.escape(str(path))):
        read_idx(path)


def test_read_idx_gz_with_bad_crc_raises(tmp_path, images):
    compressed = bytearray(gzip.compress(_idx_bytes(images)))
    compressed[-8] ^= 0xFF  # the CRC-32 in the gzip trailer
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(bytes(compressed))
    with pytest.raises(DataFileError, match=re.escape(str(path))):
        read_idx(path)


def test_read_idx_gz_with_corrupted_deflate_data_raises(tmp_path, images):
    compressed = bytearray(gzip.compress(_idx_bytes(images), mtime=0))
    # gzip.compress writes a 10-byte header; byte 10 starts the deflate stream.
    # 0x07 = final block with the reserved block type 3: "invalid block type".
    compressed[10] = 0x07
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(bytes(compressed))
    with pytest.raises(DataFileError, match=re.escape(str(path))):
        read_idx(path)


# ------------------------------------------------------------------ read_npz_splits


def test_read_npz_splits_reads_all_four_arrays(tmp_path, splits):
    path = tmp_path / "data.npz"
    np.savez_compressed(path, **splits)
    result = read_npz_splits(path, _sha(path.read_bytes()))
    assert set(result) == {"x_train", "y_train", "x_test", "y_test"}
    for key, expected in splits.items():
        assert result[key].dtype == np.uint8
        np.testing.assert_array_equal(result[key], expected)


def test_read_npz_splits_missing_keys_raise(tmp_path, splits):
    path = tmp_path / "data.npz"
    np.savez(path, x_train=splits["x_train"], y_train=splits["y_train"])
    with pytest.raises(DataFileError, match=r"lacks the arrays") as info:
        read_npz_splits(path)
    message = str(info.value)
    assert str(path) in message
    assert "x_test" in message and "y_test" in message


def test_read_npz_splits_wrong_hash_raises_before_parsing(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"not an npz at all")
    wrong = _sha(b"expected content")
    with pytest.raises(DataFileError, match=r"SHA-256") as info:
        read_npz_splits(path, wrong)
    assert str(path) in str(info.value)
    assert wrong in str(info.value)
    assert _sha(b"not an npz at all") in str(info.value)


def test_read_npz_splits_truncated_file_raises(tmp_path, splits):
    path = tmp_path / "data.npz"
    np.savez_compressed(path, **splits)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(DataFileError, match=re.escape(str(path))):
        read_npz_splits(path)


def test_read_npz_splits_non_npz_file_raises(tmp_path):
    path = tmp_path / "data.npz"
    path.write_text("x_train,y_train\n1,2\n")
    with pytest.raises(DataFileError, match=re.escape(str(path))):
        read_npz_splits(path)


def test_read_npz_splits_npy_file_raises(tmp_path, images):
    path = tmp_path / "data.npz"
    with open(path, "wb") as handle:
        np.save(handle, images)  # a valid .npy, not an .npz archive
    with pytest.raises(DataFileError, match=re.escape(str(path))):
        read_npz_splits(path)


def test_read_npz_splits_corrupted_member_raises(tmp_path):
    path = tmp_path / "data.npz"
    payload = np.random.default_rng(3).integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
    with zipfile.ZipFile(path, "w") as archive:
        # x_train first, so we know where its deflate stream starts in the file.
        info = zipfile.ZipInfo("x_train.npy", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, payload.tobytes())
        for key in ("y_train", "x_test", "y_test"):
            archive.writestr(f"{key}.npy", b"")
    content = bytearray(path.read_bytes())
    start = 30 + len("x_train.npy")  # local file header + name, no extra field
    content[start] = 0x07  # first deflate byte: reserved block type
    path.write_bytes(bytes(content))
    with pytest.raises(DataFileError, match=re.escape(str(path))):
        read_npz_splits(path)


# ------------------------------------------------------------------ sha256_of_file


def test_sha256_of_file_matches_hashlib_across_chunks(tmp_path):
    data = np.random.default_rng(5).bytes((1 << 20) * 2 + 12345)  # spans 3 chunks
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert sha256_of_file(path) == _sha(data)
    assert sha256_of_file(str(path)) == _sha(data)


def test_sha256_of_file_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert sha256_of_file(path) == EMPTY_SHA256


# ---------------------------------------------------------- write_npz_deterministic


def test_write_npz_deterministic_is_byte_identical_twice(tmp_path, splits, monkeypatch):
    first = tmp_path / "first.npz"
    second = tmp_path / "second.npz"
    digest_one = write_npz_deterministic(first, splits)
    # A clock one year later must not change the bytes (zip members carry timestamps).
    later = time.time() + 365 * 24 * 3600
    monkeypatch.setattr(time, "time", lambda: later)
    reordered = {key: splits[key] for key in reversed(list(splits))}
    digest_two = write_npz_deterministic(second, reordered)
    assert first.read_bytes() == second.read_bytes()
    assert digest_one == digest_two == _sha(first.read_bytes())


def test_write_npz_deterministic_round_trips(tmp_path, splits):
    path = tmp_path / "data.npz"
    write_npz_deterministic(path, splits)
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(splits)
        for key, expected in splits.items():
            assert archive[key].dtype == expected.dtype
            np.testing.assert_array_equal(archive[key], expected)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == sorted(f"{key}.npy" for key in splits)
    assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in infos)


def test_write_npz_deterministic_differs_for_different_data(tmp_path, splits):
    changed = dict(splits, y_test=np.array([9, 8, 6], dtype=np.uint8))
    one = write_npz_deterministic(tmp_path / "one.npz", splits)
    two = write_npz_deterministic(tmp_path / "two.npz", changed)
    assert one != two


def test_write_npz_deterministic_output_is_readable_by_read_npz_splits(tmp_path, splits):
    path = Path(tmp_path / "data.npz")
    digest = write_npz_deterministic(path, splits)
    result = read_npz_splits(path, digest)
    for key, expected in splits.items():
        np.testing.assert_array_equal(result[key], expected)


def test_readers_name_a_missing_file_as_missing_not_truncated(tmp_path):
    missing = tmp_path / "nowhere" / "train-images-idx3-ubyte.gz"
    with pytest.raises(DataFileError, match=re.escape(str(missing)) + r" must exist; got nothing"):
        read_idx(missing)
    with pytest.raises(DataFileError, match=re.escape(str(tmp_path / "m.npz")) +
                       r" must exist; got nothing"):
        read_npz_splits(tmp_path / "m.npz", "0" * 64)

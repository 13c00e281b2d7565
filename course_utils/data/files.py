"""Read and verify the image files the course's datasets come in.

Three formats are supported:

* Keras' ``mnist.npz`` (and the course's embedded subsets, which use the same keys);
* the IDX format of the original MNIST / Fashion-MNIST distributions, gzipped or not;
* nothing else: an unknown file is an error, never a guess.

Every file with a known content is checked against its SHA-256. A file that fails
the check, or that cannot be parsed, raises :class:`DataFileError` naming the file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "DataFileError",
    "sha256_of_file",
    "read_idx",
    "read_npz_splits",
    "write_npz_deterministic",
]

_IDX_DTYPE_CODE = 0x08  # unsigned byte, the only type MNIST-style files use


class DataFileError(ValueError):
    """A data file exists but is corrupted, truncated or not what its name says."""


def sha256_of_file(path: str | Path) -> str:
    """Return the hexadecimal SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fail(path: Path, expected: str, got: str, fix: str) -> DataFileError:
    """``Data file <path> must <expected>; got <got>. <fix>``, the package's error style."""
    return DataFileError(f"Data file {path} must {expected}; got {got}. {fix}")


def _require_file(path: Path) -> None:
    """Raise :class:`DataFileError` if ``path`` is not an existing regular file."""
    if not path.exists():
        raise _fail(path, "exist", "nothing at that path", "Check the path, or fetch the file.")
    if not path.is_file():
        raise _fail(path, "be a regular file", "a folder or another non-file",
                    "Point at the file itself.")


def _read_idx_bytes(path: Path) -> bytes:
    """Return the raw IDX bytes of ``path``, decompressing ``.gz`` files."""
    _require_file(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError
        raise _fail(
            path, "be readable", f"{type(error).__name__}: {error}",
            "It is probably truncated; delete it and fetch it again.",
        ) from error


def read_idx(path: str | Path, expected_sha256: str | None = None) -> np.ndarray:
    """Read an IDX file (the MNIST file format) into a uint8 array.

    Parameters
    ----------
    path : str or Path
        An ``*-idx1-ubyte`` (labels) or ``*-idx3-ubyte`` (images) file, optionally
        gzipped (``.gz``).
    expected_sha256 : str, optional
        SHA-256 of the *uncompressed* IDX bytes. The same content is shipped gzipped
        with different compressors, so the uncompressed bytes are what is checked.

    Returns
    -------
    numpy.ndarray of dtype uint8
        Shape ``(n,)`` for a label file, ``(n, rows, cols)`` for an image file.

    Raises
    ------
    DataFileError
        If the file does not exist, the checksum does not match or the header and
        size disagree.
    """
    path = Path(path)
    raw = _read_idx_bytes(path)
    if expected_sha256 is not None:
        actual = hashlib.sha256(raw).hexdigest()
        if actual != expected_sha256:
            raise _fail(
                path, f"have the SHA-256 (uncompressed) {expected_sha256}",
                f"{actual}: the wrong content",
                "It is corrupted or a different file; delete it and fetch it again.",
            )
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _IDX_DTYPE_CODE:
        raise _fail(
            path, "start with an unsigned-byte IDX header", "other bytes",
            "Point at an MNIST-style IDX file; check that it is the right file.",
        )
    n_dims = raw[3]
    header_size = 4 + 4 * n_dims
    if len(raw) < header_size:
        raise _fail(path, "hold a whole IDX header", "a file truncated inside its header",
                    "Delete it and fetch it again.")
    shape = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims)
    )
    expected_size = header_size + int(np.prod(shape))
    if len(raw) != expected_size:
        raise _fail(
            path, f"hold {expected_size} bytes, as its header announces shape {shape}",
            f"{len(raw)} bytes", "It is truncated or corrupted; delete it and fetch it again.",
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def read_npz_splits(
    path: str | Path, expected_sha256: str | None = None
) -> dict[str, np.ndarray]:
    """Read an ``.npz`` file with the arrays ``x_train, y_train, x_test, y_test``.

    Parameters
    ----------
    path : str or Path
        Keras' ``mnist.npz`` or one of the course's embedded subsets.
    expected_sha256 : str, optional
        SHA-256 of the file's bytes; checked before anything is parsed.

    Returns
    -------
    dict of str to numpy.ndarray
        ``x_*`` of shape ``(n, 28, 28)`` and ``y_*`` of shape ``(n,)``, all uint8.

    Raises
    ------
    DataFileError
        If the file does not exist, the checksum does not match, the archive is
        unreadable, or keys are missing.
    """
    path = Path(path)
    _require_file(path)
    if expected_sha256 is not None:
        actual = sha256_of_file(path)
        if actual != expected_sha256:
            raise _fail(
                path, f"have the SHA-256 {expected_sha256}", f"{actual}: the wrong content",
                "It is corrupted or truncated; delete it and fetch it again "
                "(for the embedded subsets: reinstall the package).",
            )
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise _fail(path, "be an .npz archive of arrays", "a single array",
                        "Pass a file in Keras' mnist.npz layout: x_train, y_train, x_test, "
                        "y_test.")
        with loaded as archive:
            missing = [key for key in _NPZ_KEYS if key not in archive.files]
            if missing:
                raise _fail(
                    path, f"hold the arrays {list(_NPZ_KEYS)}",
                    f"{sorted(archive.files)}, which lacks the arrays {missing}",
                    "Pass a file in Keras' mnist.npz layout.",
                )
            return {key: np.asarray(archive[key]) for key in _NPZ_KEYS}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as error:
        if isinstance(error, DataFileError):
            raise
        raise _fail(
            path, "be readable as an .npz archive", f"{type(error).__name__}: {error}",
            "It is probably truncated; delete it and fetch it again.",
        ) from error


def write_npz_deterministic(path: str | Path, arrays: dict[str, np.ndarray]) -> str:
    """Write arrays to a compressed ``.npz`` whose bytes depend only on the arrays.

    ``numpy.savez_compressed`` stamps each member with the current time, so the same
    data gives a new checksum on every run. This writer fixes the timestamps and the
    member order, so a rebuilt file has the same SHA-256.

    Returns
    -------
    str
        The SHA-256 of the written file.
    """
    path = Path(path)
    with zipfile.ZipFile(path, "w") as archive:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[key]),
                                      allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue(), compresslevel=9)
    return sha256_of_file(path)

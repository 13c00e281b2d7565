"""Data: the course's datasets and the files they come from.

``load_dataset`` gives MNIST or Fashion-MNIST as float images in [0, 1], from a local
copy, Keras's cache, a download, or the real subsets embedded in ``data/embedded/``.
``files`` reads and writes those files and checks their hashes.
"""

from course_utils.data.datasets import (
    DATASETS,
    SOURCE_ORDER,
    SPLITS,
    DataFileError,
    DataSource,
    ImageDataset,
    keras_cache_dir,
    load_dataset,
)
from course_utils.data.files import (
    read_idx,
    read_npz_splits,
    sha256_of_file,
    write_npz_deterministic,
)

__all__ = [
    "DATASETS",
    "SPLITS",
    "SOURCE_ORDER",
    "DataFileError",
    "DataSource",
    "ImageDataset",
    "load_dataset",
    "keras_cache_dir",
    "sha256_of_file",
    "read_idx",
    "read_npz_splits",
    "write_npz_deterministic",
]

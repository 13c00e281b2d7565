"""Data: the course's datasets and the files they come from.

``load_dataset`` gives MNIST or Fashion-MNIST as float images in [0, 1], from a local
copy, Keras's cache, a download, or the real subsets embedded in ``data/embedded/``.
``files`` reads and writes those files and checks their hashes.
"""

from course_utils.data import datasets, files
from course_utils.data.datasets import *
from course_utils.data.files import *

# Every public name of the modules above; each module's __all__ is the one list.
__all__ = sorted({
    *datasets.__all__,
    *files.__all__,
})

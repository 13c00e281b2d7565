"""Small VAEs trained in advance, shipped with the package, checked by SHA-256.

They let the latent-space lesson and the latent explorer work without training
first. Each was trained by ``tools/train_shipped_models.py`` on the embedded data
subsets only (4,000 training images), with fixed seeds, and is stored in
``course_utils/models/shipped/`` as an ``.npz`` of float16 weights plus a JSON
description (architecture, training settings, test metrics). The bytes of a file
depend only on its weights, so a retrain that reproduces the weights reproduces the
file, and the SHA-256 below checks that a file arrived intact.

Typical use::

    vae = load_pretrained("mnist_conv")        # a compiled course_utils.models.vae.VAE
    info = pretrained_metadata("mnist_conv")   # training settings and test metrics

Weights are rounded to float16 to keep the files small (2.2 MB for all four) and
loaded back as float32. The training script checks how much that moves a decoded
pixel probability (under 0.001 for the shipped models; it refuses more than 0.01),
and the metrics it stores are those of the rounded model.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from course_utils.data.files import DataFileError, sha256_of_file

if TYPE_CHECKING:
    from course_utils.models.vae import VAE

__all__ = [
    "MODELS_DIR",
    "PRETRAINED",
    "DataFileError",
    "PretrainedModel",
    "load_pretrained",
    "pretrained_metadata",
    "pretrained_path",
]

MODELS_DIR = Path(__file__).resolve().parent / "shipped"
FORMAT_VERSION = 1
CONFIG_KEY = "config"
_BUILDERS = ("dense", "conv")


@dataclass(frozen=True)
class PretrainedModel:
    """One shipped model: where its file is, what it should hash to, what it is.

    Attributes
    ----------
    name : str
        The key in :data:`PRETRAINED`.
    filename : str
        File inside :data:`MODELS_DIR`.
    sha256 : str
        Expected SHA-256 of the file's bytes.
    dataset : {"mnist", "fashion_mnist"}
        The data it was trained on (embedded training subset).
    builder : {"dense", "conv"}
        ``build_dense_vae`` or ``build_conv_vae``.
    latent_dim : int
    hidden : tuple of int
        Hidden widths of a dense model (empty for a conv model).
    description : str
        One line for a menu.
    """

    name: str
    filename: str
    sha256: str
    dataset: str
    builder: str
    latent_dim: int
    hidden: tuple[int, ...]
    description: str


# Written by tools/train_shipped_models.py, which prints these hashes.
PRETRAINED: dict[str, PretrainedModel] = {
    "mnist_dense": PretrainedModel(
        "mnist_dense", "mnist_dense.npz",
        "baf334de6f0597db8f37d745d989e55ecb7156980bec82954da7f4af24b0a25c",
        "mnist", "dense", 2, (256, 128), "MNIST, dense VAE, 2-D latent space"),
    "mnist_conv": PretrainedModel(
        "mnist_conv", "mnist_conv.npz",
        "186c372788f6a993faf120abc050fa16ef9a7b8f2621751fcd8bbb5d6112a68f",
        "mnist", "conv", 2, (), "MNIST, convolutional VAE, 2-D latent space"),
    "fashion_conv": PretrainedModel(
        "fashion_conv", "fashion_conv.npz",
        "d07460b184e01001f771c0cad8fd7fd32df9ff6b6c04ba4452b338ba3538cb0e",
        "fashion_mnist", "conv", 2, (), "Fashion-MNIST, convolutional VAE, 2-D latent space"),
    "mnist_dense_z8": PretrainedModel(
        "mnist_dense_z8", "mnist_dense_z8.npz",
        "db2b134bc48793f39c81c6710841e559a63bcc4b6da2e9ab8a32ca967e47360a",
        "mnist", "dense", 8, (256, 128), "MNIST, dense VAE, 8-D latent space"),
}


def _entry(name: object) -> PretrainedModel:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, one of {sorted(PRETRAINED)}; got "
                        f"{type(name).__name__}. Pass one of those names.")
    if name not in PRETRAINED:
        raise ValueError(f"name must be one of the shipped models {sorted(PRETRAINED)}; got "
                         f"{name!r}. Pass one of those names.")
    return PRETRAINED[name]


def pretrained_path(name: str) -> Path:
    """The path of a shipped model's file (which may be missing or damaged)."""
    return MODELS_DIR / _entry(name).filename


def _read_verified(entry: PretrainedModel, path: Path) -> tuple[dict[str, Any],
                                                                 dict[str, np.ndarray]]:
    """Check ``path`` against the registry's SHA-256 and return (config, weights)."""
    if not path.is_file():
        raise DataFileError(f"Model file {path} of the shipped model {entry.name!r} must "
                            "exist; got no file there (it is missing). Reinstall the package "
                            "(pip install -e .), or run tools/train_shipped_models.py to "
                            "rebuild it.")
    actual = sha256_of_file(path)
    if actual != entry.sha256:
        raise DataFileError(f"Model file {path} must have the SHA-256 {entry.sha256} of "
                            f"{entry.name!r}; got {actual}, so it is corrupted or from "
                            "another version. Reinstall the package or rebuild it with "
                            "tools/train_shipped_models.py.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: np.asarray(archive[key]) for key in archive.files}
        config = json.loads(arrays.pop(CONFIG_KEY).tobytes().decode("utf-8"))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise DataFileError(f"Model file {path} must be an npz archive with a JSON "
                            f"config; got {type(error).__name__}: {error}, although its "
                            "checksum matches the registry. Rebuild it with "
                            "tools/train_shipped_models.py.") from error
    if config.get("format") != FORMAT_VERSION:
        raise DataFileError(f"Model file {path} must have format {FORMAT_VERSION}, the one "
                            f"this version of course_utils reads; got format "
                            f"{config.get('format')!r}. Install the course_utils version "
                            "that wrote it, or rebuild it with tools/train_shipped_models.py.")
    return config, arrays


def pretrained_metadata(name: str, *, path: str | Path | None = None) -> dict[str, Any]:
    """The description stored in a shipped model's file, after checking its hash.

    Parameters
    ----------
    name : str
        A key of :data:`PRETRAINED`.
    path : str or Path, optional
        Read this file instead of the shipped one (it must have the same hash).

    Returns
    -------
    dict
        ``builder``, ``latent_dim``, ``hidden``, ``dataset``, ``training`` (seed,
        epochs, batch size, learning rate, data), ``metrics`` (negative ELBO of the
        rounded model on the embedded train and test sets, in nats per image, and
        the largest pixel change caused by float16 storage) and ``weights`` (the
        variable names, in order).
    """
    entry = _entry(name)
    config, _ = _read_verified(entry, Path(path) if path is not None else pretrained_path(name))
    return config


def build_from_config(config: dict[str, Any], *, seed: int | None = 0):
    """Build the (untrained) VAE a model file describes; used by the loader and trainer."""
    from course_utils.models.vae import build_conv_vae, build_dense_vae

    builder = config["builder"]
    if builder not in _BUILDERS:
        raise ValueError(f"builder must be one of {_BUILDERS}; got {builder!r}. Fix the "
                         "model's entry.")
    if builder == "dense":
        return build_dense_vae(config["latent_dim"], hidden=tuple(config["hidden"]), seed=seed)
    return build_conv_vae(config["latent_dim"], seed=seed)


def weight_arrays(vae) -> dict[str, np.ndarray]:
    """The encoder's and decoder's weights by name (``encoder/<layer>/<variable>``)."""
    return {f"{part}/{variable.path}": np.asarray(variable.numpy())
            for part in ("encoder", "decoder")
            for variable in getattr(vae, part).weights}


def assign_weights(vae, arrays: dict[str, np.ndarray], path: Path | str = "<memory>") -> None:
    """Set every encoder and decoder weight of ``vae`` from ``arrays`` (names as above)."""
    variables = {f"{part}/{variable.path}": variable
                 for part in ("encoder", "decoder") for variable in getattr(vae, part).weights}
    if set(variables) != set(arrays):
        raise DataFileError(f"Model file {path} must hold the weights {sorted(variables)} "
                            f"of the model it describes; got {sorted(arrays)}. Rebuild it "
                            "with tools/train_shipped_models.py.")
    for key, variable in variables.items():
        if tuple(arrays[key].shape) != tuple(variable.shape):
            raise DataFileError(f"Model file {path}: weight {key} must have shape "
                                f"{tuple(variable.shape)}; got {arrays[key].shape}. Rebuild "
                                "it with tools/train_shipped_models.py.")
        variable.assign(arrays[key].astype(np.float32))


def load_pretrained(name: str, *, path: str | Path | None = None,
                    compile: bool = True) -> VAE:
    """Load a shipped VAE, after checking its file's SHA-256.

    Parameters
    ----------
    name : str
        One of :data:`PRETRAINED`: ``"mnist_dense"``, ``"mnist_conv"``,
        ``"fashion_conv"`` (2-D latent spaces) or ``"mnist_dense_z8"`` (8-D).
    path : str or Path, optional
        Read this file instead of the shipped one (it must have the same hash).
    compile : bool
        Compile with Adam (learning rate 1e-3), so that ``evaluate_nelbo`` and further
        training work straight away.

    Returns
    -------
    course_utils.models.vae.VAE
        Input ``(batch, 28, 28, 1)``, weights as shipped (float32).

    Raises
    ------
    ValueError
        If ``name`` is not a shipped model (the message lists them).
    DataFileError
        If the file is missing, or its bytes do not match the registered SHA-256
        (the message names the file).
    """
    entry = _entry(name)
    path = Path(path) if path is not None else pretrained_path(name)
    config, arrays = _read_verified(entry, path)
    vae = build_from_config(config)
    assign_weights(vae, arrays, path)
    if compile:
        import keras

        vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    return vae

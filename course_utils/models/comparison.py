"""Comparing trained models side by side: size, arithmetic, time and test loss.

A :class:`RunResult` collects what one training run produced; :func:`compare_runs`
lays several of them out as a :class:`ComparisonTable`, which reads as aligned text
and renders as an HTML table in a notebook. :func:`multiply_adds` counts the
arithmetic of one forward pass, which explains why a model with fewer parameters can
still be slower. Typical use::

    runs = [RunResult.from_training("dense VAE", dense_vae, dense_history,
                                    dense_vae.evaluate_nelbo(x_test)),
            RunResult.from_training("conv VAE", conv_vae, conv_history,
                                    conv_vae.evaluate_nelbo(x_test))]
    compare_runs(runs)          # displays the table
"""

from __future__ import annotations

import html
import math
import statistics
from dataclasses import dataclass
from typing import Mapping, Sequence

import keras

__all__ = ["ComparisonTable", "RunResult", "compare_runs", "multiply_adds"]

LOSS_KEYS = ("loss", "reconstruction_loss", "kl_loss")

COLUMNS = ("model", "parameters", "multiply-adds / image", "epochs", "s / epoch",
           "test -ELBO (nats)", "reconstruction", "KL")


# ------------------------------------------------------------------ multiply-adds

def _spatial(shape: Sequence[int | None], layer: keras.layers.Layer) -> int:
    """Product of the spatial dimensions (everything between batch and channels)."""
    dims = tuple(shape)[1:-1]
    if any(d is None for d in dims):
        raise ValueError(f"layer {layer.name!r} must have a known spatial size; got "
                         f"{tuple(shape)}. Build the model from keras.Input(shape=...) with a "
                         "fixed image size.")
    return math.prod(d for d in dims if d is not None)


def _layer_multiply_adds(layer: keras.layers.Layer) -> int:
    if isinstance(layer, keras.Model):
        return multiply_adds(layer)
    if isinstance(layer, keras.layers.Dense):
        return int(layer.input.shape[-1]) * int(layer.units)
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
        kernel = math.prod(layer.kernel_size)
        in_channels = int(layer.input.shape[-1]) // getattr(layer, "groups", 1)
        per_position = kernel * in_channels * int(layer.filters)
        if isinstance(layer, keras.layers.Conv2D):
            # One kernel application per OUTPUT position.
            return _spatial(layer.output.shape, layer) * per_position
        # A transposed convolution spreads every INPUT position over a k x k patch.
        return _spatial(layer.input.shape, layer) * per_position
    if layer.weights:
        raise ValueError(f"a layer with weights must be Dense, Conv2D, Conv2DTranspose or a "
                         f"nested model for multiply_adds; got layer {layer.name!r} of type "
                         f"{type(layer).__name__}. Count that layer's work by hand.")
    return 0  # Flatten, Reshape, InputLayer, Sampling, activations: no weights, no products


def multiply_adds(model: keras.Model) -> int:
    """Multiply-add operations of one forward pass for ONE input example.

    Counts the products with weights in Dense, Conv2D and Conv2DTranspose layers,
    recursing into nested models (a VAE's encoder and decoder). Biases, activations
    and reshapes are not counted. A backward pass costs roughly twice as much again.

    * Dense, ``n_in -> n_out``: ``n_in * n_out``.
    * Conv2D: ``output_height * output_width * k_h * k_w * c_in * c_out``.
    * Conv2DTranspose: ``input_height * input_width * k_h * k_w * c_in * c_out``.

    Parameters
    ----------
    model : keras.Model
        A built model whose layers have known input and output shapes (functional
        models, or subclassed models made of them such as :class:`course_utils.models.vae.VAE`).

    Returns
    -------
    int
        Multiply-adds per example.

    Raises
    ------
    TypeError
        If ``model`` is not a keras.Model.
    ValueError
        If a layer with weights is of a type the count does not know.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model; got {type(model).__name__}. Pass a "
                        "built Keras model.")
    return sum(_layer_multiply_adds(layer) for layer in model.layers)


# --------------------------------------------------------------------- run results

def _finite_number(value: object, name: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number; got {type(value).__name__}. Pass a "
                        "float.") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite; got {number}. A NaN loss usually means "
                         "training diverged.")
    return number


@dataclass(frozen=True)
class RunResult:
    """What one training run produced, for :func:`compare_runs`.

    Attributes
    ----------
    name : str
        Label of the row, e.g. ``"conv VAE"``.
    parameters : int
        Trainable and non-trainable parameters (``model.count_params()``).
    multiply_adds : int
        Multiply-adds of one forward pass per image (:func:`multiply_adds`).
    epoch_seconds : tuple of float
        Wall-clock seconds of each training epoch, in order.
    test_losses : mapping of str to float
        ``"loss"`` (the test negative ELBO), ``"reconstruction_loss"`` and ``"kl_loss"``,
        in nats per image, as returned by ``VAE.evaluate_nelbo``.
    """

    name: str
    parameters: int
    multiply_adds: int
    epoch_seconds: tuple[float, ...]
    test_losses: Mapping[str, float]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise TypeError(f"name must be a non-empty string; got {self.name!r}. Pass e.g. "
                            "'dense'.")
        for field_name in ("parameters", "multiply_adds"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{field_name} must be a whole number >= 0; got {value!r}. "
                                 "Pass an int.")
        if isinstance(self.epoch_seconds, (str, bytes)) or \
                not isinstance(self.epoch_seconds, Sequence):
            raise TypeError(f"epoch_seconds must be a sequence of seconds, one per epoch; got "
                            f"{type(self.epoch_seconds).__name__}. Pass history.epoch_seconds "
                            "from course_utils.models.training.train_vae.")
        seconds = tuple(_finite_number(s, "each of epoch_seconds") for s in self.epoch_seconds)
        if not seconds or min(seconds) <= 0:
            raise ValueError(f"epoch_seconds must hold one positive time per epoch; got "
                             f"{self.epoch_seconds!r}. Pass history.epoch_seconds.")
        object.__setattr__(self, "epoch_seconds", seconds)
        if not isinstance(self.test_losses, Mapping):
            raise TypeError(f"test_losses must be a mapping of {list(LOSS_KEYS)} to numbers; "
                            f"got {type(self.test_losses).__name__}. Pass the dict that "
                            "vae.evaluate_nelbo(x_test) returns.")
        missing = [key for key in LOSS_KEYS if key not in self.test_losses]
        if missing:
            raise ValueError(f"test_losses must hold {missing}; got {sorted(self.test_losses)}. "
                             "Pass the dict that vae.evaluate_nelbo(x_test) returns.")
        losses = {key: _finite_number(self.test_losses[key], f"test_losses[{key!r}]")
                  for key in LOSS_KEYS}
        object.__setattr__(self, "test_losses", losses)

    @property
    def epochs(self) -> int:
        """Number of training epochs."""
        return len(self.epoch_seconds)

    @property
    def seconds_per_epoch(self) -> float:
        """Median seconds of an epoch, leaving out the first when there are others.

        The first epoch also traces and compiles the training graph, so it is slower;
        the median resists the odd slow epoch on a busy machine.
        """
        steady = self.epoch_seconds[1:] or self.epoch_seconds
        return float(statistics.median(steady))

    @property
    def test_nelbo(self) -> float:
        """Test negative ELBO in nats per image."""
        return self.test_losses["loss"]

    @classmethod
    def from_training(cls, name: str, model: keras.Model, history: object,
                      test_losses: Mapping[str, float]) -> RunResult:
        """Collect a run from its model, its training History and its test losses.

        Parameters
        ----------
        name : str
            Label of the row.
        model : keras.Model
            The trained model (parameters and multiply-adds are read from it).
        history : keras.callbacks.History
            As returned by :func:`course_utils.models.training.train_vae`, with ``epoch_seconds``.
        test_losses : mapping of str to float
            ``vae.evaluate_nelbo(x_test)``.

        Returns
        -------
        RunResult
        """
        seconds = getattr(history, "epoch_seconds", None)
        if seconds is None:
            raise TypeError("history must have epoch_seconds; got a History without them. Train "
                            "with course_utils.models.training.train_vae, which records them.")
        return cls(name, int(model.count_params()), multiply_adds(model), tuple(seconds),
                   dict(test_losses))


# ------------------------------------------------------------------------- table

@dataclass(frozen=True)
class ComparisonTable:
    """A small table of formatted cells: text in a terminal, HTML in a notebook.

    Attributes
    ----------
    columns : tuple of str
        Column headers.
    rows : tuple of tuple of str
        One tuple of formatted cells per run, in the order given.
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def text(self) -> str:
        """The table as aligned plain text: a header line, a rule, one line per row."""
        widths = [max(len(cell) for cell in column)
                  for column in zip(self.columns, *self.rows)]
        lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                           for i, (cell, w) in enumerate(zip(line, widths))).rstrip()
                 for line in (self.columns, *self.rows)]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        header = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f'<td style="text-align:{"left" if i == 0 else "right"}">'
                             f"{html.escape(cell)}</td>" for i, cell in enumerate(row))
            + "</tr>" for row in self.rows)
        return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def compare_runs(runs: Sequence[RunResult]) -> ComparisonTable:
    """Lay out training runs side by side, one row per run.

    Columns: model, parameters, multiply-adds per image, epochs, median seconds per
    epoch (see :attr:`RunResult.seconds_per_epoch`), and the test negative ELBO with
    its reconstruction and KL parts, in nats per image.

    Parameters
    ----------
    runs : sequence of RunResult
        At least one run; names must differ.

    Returns
    -------
    ComparisonTable
        Displays as an HTML table in a notebook and as aligned text elsewhere.

    Raises
    ------
    TypeError
        If ``runs`` is not a sequence or an entry is not a :class:`RunResult`.
    ValueError
        If ``runs`` is empty or two runs share a name.
    """
    if isinstance(runs, RunResult) or not isinstance(runs, Sequence):
        raise TypeError(f"runs must be a list of RunResult; got {type(runs).__name__}. For "
                        "one run, pass [run].")
    runs = list(runs)
    if not runs:
        raise ValueError("runs must hold at least one RunResult; got none. Pass "
                         "RunResult.from_training(...) results.")
    for run in runs:
        if not isinstance(run, RunResult):
            raise TypeError(f"each run must be a RunResult; got {type(run).__name__}. "
                            "Make one with RunResult.from_training(...).")
    names = [run.name for run in runs]
    if len(set(names)) != len(names):
        raise ValueError(f"run names must differ, to tell the rows apart; got {names}. "
                         "Give each run its own name.")
    rows = tuple(
        (run.name, f"{run.parameters:,}", f"{run.multiply_adds:,}", str(run.epochs),
         f"{run.seconds_per_epoch:.2f}", f"{run.test_nelbo:.1f}",
         f"{run.test_losses['reconstruction_loss']:.1f}", f"{run.test_losses['kl_loss']:.2f}")
        for run in runs)
    return ComparisonTable(COLUMNS, rows)

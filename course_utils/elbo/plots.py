"""Figures for lesson 02: the ELBO against ``log p(x)``, and gradient-estimator spreads.

Like :mod:`course_utils.plotting`, every function takes ``ax=None`` and returns the
:class:`matplotlib.figure.Figure` it drew on; none calls ``plt.show()``. Figures are
built with :class:`matplotlib.figure.Figure`, not ``pyplot``, so no global figure
manager keeps them alive.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from course_utils._validation import (
    check_curves,
    check_positive_int,
    check_real_number,
    check_vector,
)
from course_utils.plotting import figure_and_axes

__all__ = [
    "plot_elbo_versus_mean",
    "plot_estimator_histograms",
    "plot_pixel_losses",
]


def _number(value: object, name: str) -> float:
    """``value`` (a number or a 0-d array) as a finite float."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    return check_real_number(value, name)


def _curves_along(positions: np.ndarray, curves: object, name: str, per: str
                  ) -> dict[str, np.ndarray]:
    """``curves`` checked by ``check_curves``, each with one value per position."""
    checked = check_curves(curves, name)
    for label, values in checked.items():
        if values.shape != positions.shape:
            raise ValueError(f"{name}[{label!r}] must have one value per {per} "
                             f"({len(positions)}); got {len(values)}. Evaluate it at every "
                             f"{per}.")
    return checked


def plot_elbo_versus_mean(means: ArrayLike, elbos: Mapping[str, ArrayLike],
                          log_evidence: float, *, best_mean: float | None = None,
                          ax: Axes | None = None, xlabel: str = "mean of q",
                          title: str = "The ELBO never exceeds log p(x)") -> Figure:
    """Draw ELBO curves as a function of one mean parameter of ``q``, under ``log p(x)``.

    Parameters
    ----------
    means : array_like, shape (n,)
        The values of the mean parameter of ``q`` (the x axis), at least 2.
    elbos : dict of str to array_like of shape (n,)
        One curve per family of ``q`` (e.g. per variance), keyed by its legend label.
    log_evidence : float
        The exact ``log p(x)``, drawn as a dashed horizontal line.
    best_mean : float, optional
        Where the exact posterior's mean lies, drawn as a dotted vertical line.
    ax : matplotlib Axes, optional
        Axes to draw on; by default a new figure is made.
    xlabel, title : str
        Axis label and title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding ``ax``: one line per curve, then the ``log p(x)`` line.

    Raises
    ------
    TypeError
        If an input is not numeric or ``ax`` is not an Axes.
    ValueError
        If ``elbos`` is empty, a curve's length differs from ``means``, or a value is
        not finite.
    """
    means = check_vector(means, "means", min_len=2)
    curves = _curves_along(means, elbos, "elbos", "mean")
    log_evidence = _number(log_evidence, "log_evidence")
    figure, ax = figure_and_axes(ax, (6, 3.8))
    for label, values in curves.items():
        ax.plot(means, values, label=label)
    ax.axhline(log_evidence, color="black", linestyle="--", linewidth=1,
               label=r"$\log p(x)$")
    if best_mean is not None:
        ax.axvline(_number(best_mean, "best_mean"), color="grey", linestyle=":",
                   linewidth=1, label="posterior mean")
    ax.set(xlabel=xlabel, ylabel="nats", title=title)
    ax.legend(fontsize=8, loc="lower center")
    return figure


def plot_estimator_histograms(estimates: Mapping[str, ArrayLike], exact: float, *,
                              bins: int = 80, ax: Axes | None = None,
                              xlabel: str = "gradient estimate",
                              title: str = "One-sample gradient estimates") -> Figure:
    """Overlay density histograms of several gradient estimators, with the exact value.

    All histograms share one set of bins spanning the 0.5 % to 99.5 % quantiles of the
    pooled estimates, so a few extreme values do not squash the picture; the legend
    gives each estimator's sample mean and variance over *all* its estimates.

    Parameters
    ----------
    estimates : dict of str to array_like of shape (n_estimates,)
        Independent estimates from each estimator, keyed by its legend label.
    exact : float
        The true gradient, drawn as a vertical line.
    bins : int
        Number of bins, at least 2.
    ax : matplotlib Axes, optional
    xlabel, title : str
        As in :func:`plot_elbo_versus_mean`.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding ``ax``: one histogram per estimator and the exact value.

    Raises
    ------
    TypeError
        If an input is not numeric, ``bins`` is not an int, or ``ax`` is not an Axes.
    ValueError
        If ``estimates`` is empty, an estimator has fewer than 2 estimates, a value is
        not finite, or ``bins`` < 2.
    """
    if not isinstance(estimates, Mapping) or not estimates:
        raise ValueError(f"estimates must be a non-empty dict of label -> estimates; got "
                         f"{estimates!r}. Pass e.g. {{'pathwise': values}}.")
    bins = check_positive_int(bins, "bins", minimum=2)
    samples = {str(label): check_vector(values, f"estimates[{label!r}]", min_len=2)
               for label, values in estimates.items()}
    exact = _number(exact, "exact")
    pooled = np.concatenate(list(samples.values()))
    low, high = np.quantile(pooled, [0.005, 0.995])
    low, high = min(low, exact), max(high, exact)
    if high <= low:  # every estimate equal: give the single bar some width
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, int(bins) + 1)
    figure, ax = figure_and_axes(ax, (6, 3.8))
    for label, values in samples.items():
        ax.hist(values, bins=edges.tolist(), density=True, histtype="stepfilled", alpha=0.45,
                label=f"{label}: mean {values.mean():.3g}, variance {values.var(ddof=1):.3g}")
    ax.axvline(exact, color="black", linestyle="--", linewidth=1,
               label=f"exact gradient {exact:.3g}")
    ax.set(xlabel=xlabel, ylabel="density", title=title)
    ax.legend(fontsize=8, loc="upper left")
    return figure


def plot_pixel_losses(predictions: ArrayLike, losses: Mapping[str, ArrayLike], *,
                      target: float | None = None, ax: Axes | None = None,
                      title: str = "Loss of one pixel") -> Figure:
    """Draw per-pixel losses as functions of the predicted value.

    Parameters
    ----------
    predictions : array_like of shape (m,)
        The predicted pixel values (x axis).
    losses : dict of str to array_like of shape (m,)
        One curve per loss, keyed by its legend label.
    target : float, optional
        The target pixel value, drawn as a dotted vertical line.
    ax : matplotlib Axes, optional
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    predictions = check_vector(predictions, "predictions")
    curves = _curves_along(predictions, losses, "losses", "prediction")
    figure, ax = figure_and_axes(ax, (6, 3.5))
    for label, values in curves.items():
        ax.plot(predictions, values, label=label)
    if target is not None:
        target = _number(target, "target")
        ax.axvline(target, color="grey", linestyle=":", label=f"target {target:g}")
    ax.set(xlabel="predicted pixel value", ylabel="loss (nats)", title=title)
    ax.legend(fontsize=8)
    return figure

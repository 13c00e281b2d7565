"""Figures of a latent space for lesson 06: decoded grids with their codes on the axes.

Like :mod:`course_utils.plotting`, each function takes ``ax=None`` and returns the
:class:`matplotlib.figure.Figure`; none calls ``plt.show()``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from course_utils._validation import check_array, check_curves, check_positive_int
from course_utils.plotting import figure_and_axes

__all__ = [
    "plot_decoded_grid",
    "plot_latent_scatter",
    "plot_kl_per_dimension",
]


def plot_decoded_grid(picture: ArrayLike, axis_values: ArrayLike, *, ax: Axes | None = None,
                      title: str = "Decoded grid", labels: tuple[str, str] = ("$z_1$", "$z_2$"),
                      max_ticks: int = 7) -> Figure:
    """Show a tiled grid of decoded images with the code of each column and row.

    Parameters
    ----------
    picture : array-like of shape (n * h, n * w)
        The tiled images (``decode_grid(..., tile=True)``): column ``j`` decoded with
        the first coordinate ``axis_values[j]``, row ``i`` with the second coordinate
        ``axis_values[n - 1 - i]`` (so it grows upwards, as on a scatter plot).
    axis_values : array-like of shape (n,)
        The coordinate values of the grid, increasing.
    ax : matplotlib Axes, optional
    title : str
    labels : (str, str)
        Names of the horizontal and vertical coordinates.
    max_ticks : int
        At most this many labelled ticks per axis.

    Returns
    -------
    matplotlib.figure.Figure
    """
    picture = check_array(picture, "picture", ndim=2, min_len=1, noun="row", finite=True)
    values = check_array(axis_values, "axis_values", ndim=1, min_len=2, finite=True)
    max_ticks = check_positive_int(max_ticks, "max_ticks", minimum=2)
    n = len(values)
    if picture.shape[0] % n or picture.shape[1] % n:
        raise ValueError(f"picture must be {n} x {n} tiles (one per axis value); got shape "
                         f"{picture.shape}, which does not divide into {n} rows and "
                         "columns. Pass the grid that decode_grid returned.")
    figure, ax = figure_and_axes(ax, (6, 6))
    height, width = picture.shape[0] // n, picture.shape[1] // n
    ax.imshow(picture, cmap="gray_r", vmin=0.0, vmax=1.0)
    chosen = np.unique(np.linspace(0, n - 1, min(n, max_ticks)).round().astype(int))
    ax.set_xticks(chosen * width + (width - 1) / 2, [f"{values[j]:.2f}" for j in chosen])
    ax.set_yticks(chosen * height + (height - 1) / 2,
                  [f"{values[n - 1 - i]:.2f}" for i in chosen])
    ax.set(xlabel=labels[0], ylabel=labels[1], title=title)
    return figure


def plot_latent_scatter(codes: ArrayLike, labels: ArrayLike | None = None, *,
                        class_names: Sequence[str] | None = None,
                        extra_points: Mapping[str, np.ndarray] | None = None,
                        ax: Axes | None = None, title: str = "Codes of test images",
                        point_size: float = 4.0) -> Figure:
    """Scatter 2-D codes, coloured by class, with optional extra point sets on top.

    Parameters
    ----------
    codes : numpy.ndarray of shape (n, 2)
    labels : numpy.ndarray of shape (n,), optional
        Integer classes 0-9, used for the colours and the legend.
    class_names : sequence of str, optional
        Names for the legend, indexed by label.
    extra_points : dict of str to numpy.ndarray of shape (m, 2), optional
        More points to overlay (for example samples), each set with its own marker.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    codes = check_array(codes, "codes", ndim=2, min_len=1)
    if codes.shape[1] != 2:
        raise ValueError(f"codes must be 2-D points, shape (n, 2); got {codes.shape}. "
                         "Project higher-dimensional codes to 2-D first (e.g. with PCA).")
    labels = None if labels is None else np.asarray(labels)
    if labels is not None and len(labels) != len(codes):
        raise ValueError(f"labels must have one entry per code ({len(codes)}); "
                         f"got {len(labels)}. Pass the labels of the encoded images.")
    figure, ax = figure_and_axes(ax, (6, 5))
    if labels is None:
        ax.scatter(codes[:, 0], codes[:, 1], s=point_size, alpha=0.6, color="tab:blue")
    else:
        colours = [f"C{i}" for i in range(10)]
        for label in np.unique(labels):
            chosen = labels == label
            name = class_names[int(label)] if class_names is not None else str(label)
            ax.scatter(codes[chosen, 0], codes[chosen, 1], s=point_size, alpha=0.6,
                       color=colours[int(label) % 10], label=name)
    for marker, (name, points) in zip("xP*^", (extra_points or {}).items()):
        points = check_array(points, f"extra_points[{name!r}]", ndim=2)
        ax.scatter(points[:, 0], points[:, 1], s=30, marker=marker, color="black",
                   label=name)
    ax.set(xlabel="$z_1$", ylabel="$z_2$", title=title)
    if labels is not None or extra_points:
        ax.legend(markerscale=2, fontsize=8, loc="best")
    return figure


def plot_kl_per_dimension(kl_by_model: Mapping[str, ArrayLike], *, sort: bool = True,
                          ax: Axes | None = None,
                          title: str = "KL per latent dimension") -> Figure:
    """Grouped bars: the average KL of each latent dimension, one colour per model.

    Parameters
    ----------
    kl_by_model : dict of str to array_like of shape (latent_dim,)
        E.g. from :func:`course_utils.latent.usage.kl_per_dimension`; every model must
        have the same ``latent_dim``.
    sort : bool
        Sort each model's dimensions from largest to smallest KL (dimensions have no
        natural order, and sorting makes unused ones line up on the right).
    ax : matplotlib Axes, optional
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        One bar container per model, in the order given.
    """
    curves = check_curves(kl_by_model, "kl_by_model")
    sizes = {len(values) for values in curves.values()}
    if len(sizes) != 1:
        raise ValueError(f"every model must have the same latent_dim; got sizes "
                         f"{sorted(sizes)}. Compare models of one latent_dim.")
    latent_dim = sizes.pop()
    figure, ax = figure_and_axes(ax, (7, 3.5))
    width = 0.8 / len(curves)
    positions = np.arange(latent_dim)
    for i, (label, values) in enumerate(curves.items()):
        shown = np.sort(values)[::-1] if sort else values
        ax.bar(positions + (i - (len(curves) - 1) / 2) * width, shown, width, label=label)
    ax.set_xticks(positions)
    ax.set_xticklabels([str(i + 1) for i in positions])
    ax.set(xlabel="latent dimension" + (" (sorted by KL)" if sort else ""),
           ylabel="KL (nats per image)", title=title)
    ax.legend(fontsize=8)
    return figure

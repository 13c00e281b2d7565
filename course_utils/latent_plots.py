"""Figures of a latent space for lesson 06: decoded grids with their codes on the axes.

Like :mod:`course_utils.plotting`, each function takes ``ax=None`` and returns the
:class:`matplotlib.figure.Figure`; none calls ``plt.show()``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_utils._validation import check_array, check_positive_int
from course_utils.plotting import figure_and_axes

__all__ = ["plot_decoded_grid"]


def plot_decoded_grid(picture: object, axis_values: object, *, ax: Axes | None = None,
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
                         f"{picture.shape}, which does not divide into {n} rows and columns.")
    figure, ax = figure_and_axes(ax, (6, 6))
    height, width = picture.shape[0] // n, picture.shape[1] // n
    ax.imshow(picture, cmap="gray_r", vmin=0.0, vmax=1.0)
    chosen = np.unique(np.linspace(0, n - 1, min(n, max_ticks)).round().astype(int))
    ax.set_xticks(chosen * width + (width - 1) / 2, [f"{values[j]:.2f}" for j in chosen])
    ax.set_yticks(chosen * height + (height - 1) / 2,
                  [f"{values[n - 1 - i]:.2f}" for i in chosen])
    ax.set(xlabel=labels[0], ylabel=labels[1], title=title)
    return figure

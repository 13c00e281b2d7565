"""Rate and distortion of trained VAEs, and the rate-distortion plot (lesson 07).

The negative ELBO of an image splits into a **distortion** ``D``, the expected
reconstruction term ``E_q[-log p(x|z)]``, and a **rate** ``R``, the KL term
``KL(q(z|x) || p(z))`` (Alemi et al., 2018). Averaged over images, ``D + R`` is the
negative ELBO, and training on ``D + beta R`` picks one point of the trade-off.

* :func:`rate_distortion_point`: ``R``, ``D``, the KL per dimension and the active
  units of one VAE on a set of images, with seeded noise so the numbers repeat;
* :func:`plot_rate_distortion`: the points of a sweep, rate on x, distortion on y.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from course_utils._validation import check_array, check_positive_int
from course_utils.latent.usage import active_units, kl_per_dimension
from course_utils.models.inference import batched_call
from course_utils.models.vae import VAE, as_model_images
from course_utils.plotting import figure_and_axes

__all__ = ["plot_rate_distortion", "rate_distortion_point"]


def rate_distortion_point(vae: VAE, images: ArrayLike, *, samples: int = 1, seed: int = 0,
                          batch_size: int = 256) -> dict:
    """Rate, distortion, KL per dimension and active units of ``vae`` on ``images``.

    Parameters
    ----------
    vae : course_utils.models.vae.VAE
    images : array of shape (n, 28, 28, 1) or (n, 28, 28)
        Pixels in [0, 1] (the shape follows the VAE's ``image_shape``).
    samples : int
        Codes ``z ~ q(z|x)`` drawn per image for the distortion (a Monte Carlo mean).
    seed : int
        Seed of the NumPy generator drawing the noise: same seed, same numbers.
    batch_size : int
        Images per forward pass.

    Returns
    -------
    dict
        ``"rate"``: average KL in nats (the sum of ``"kl_per_dimension"``);
        ``"distortion"``: average ``-log p(x|z)`` in nats under the VAE's likelihood
        (summed over pixels); ``"negative_elbo"``: their sum; ``"kl_per_dimension"``:
        array of shape (latent_dim,); ``"active_units"``: int (Burda et al.'s 0.01).

    Raises
    ------
    TypeError
        If ``vae`` is not a course_utils VAE.
    ValueError
        For images of the wrong shape or range, or a non-positive ``samples``.
    """
    samples = check_positive_int(samples, "samples")
    seed = check_positive_int(seed, "seed", minimum=0)
    batch_size = check_positive_int(batch_size, "batch_size")
    x = as_model_images(vae, images, "images")
    z_mean, z_log_var = vae.encode(x, batch_size=batch_size)
    rng = np.random.default_rng(seed)
    distortion = np.zeros(len(x))
    for _ in range(samples):
        noise = rng.standard_normal(z_mean.shape).astype(np.float32)
        z = (z_mean + np.exp(0.5 * z_log_var) * noise).astype(np.float32)
        distortion += batched_call(
            lambda rows, codes: vae.reconstruction_nll(rows, vae.decoder(codes, training=False)),
            x, z, batch_size=batch_size)
    kl = kl_per_dimension(z_mean, z_log_var)
    rate = float(kl.sum())
    mean_distortion = float(distortion.mean() / samples)
    return {"rate": rate, "distortion": mean_distortion,
            "negative_elbo": rate + mean_distortion, "kl_per_dimension": kl,
            "active_units": active_units(z_mean)}


def plot_rate_distortion(rates: ArrayLike, distortions: ArrayLike,
                         labels: Sequence[str] | None = None, *, ax: Axes | None = None,
                         elbo_lines: bool = True,
                         title: str = "Rate and distortion") -> Figure:
    """Draw models as points, rate on x and distortion on y, joined in the given order.

    Parameters
    ----------
    rates, distortions : array_like of shape (m,)
        Each model's average KL and reconstruction term, in nats.
    labels : sequence of str, optional
        One label per point (e.g. ``"beta = 4"``), written next to it.
    ax : matplotlib Axes, optional
    elbo_lines : bool
        Also draw dotted lines of equal negative ELBO, ``D + R = const``, through the
        points with the lowest and the highest ``D + R``: on them the ELBO is the same.
    title : str

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For rates or distortions that are not finite, of different lengths, or a
        negative rate; ``labels`` of the wrong length.
    """
    rate = check_array(rates, "rates", ndim=1, min_len=1, dtype=np.float64, finite=True)
    distortion = check_array(distortions, "distortions", ndim=1, min_len=1,
                             dtype=np.float64, finite=True)
    if rate.shape != distortion.shape:
        raise ValueError(f"rates and distortions must have one entry per model each; got "
                         f"{len(rate)} and {len(distortion)}. Pass the two lists of the same "
                         "sweep.")
    if np.any(rate < -1e-6):
        raise ValueError(f"rates must be >= 0 (a rate is an average KL); got "
                         f"{rate.min():.4g}. Pass the KL terms, not the losses.")
    if labels is not None and len(labels) != len(rate):
        raise ValueError(f"labels must have one entry per model ({len(rate)}); got "
                         f"{len(labels)}. Pass one label per rate, or none.")
    figure, ax = figure_and_axes(ax, (5.5, 4))
    ax.plot(rate, distortion, "o-", color="C0", zorder=3)
    if labels is not None:
        for r, d, label in zip(rate, distortion, labels):
            ax.annotate(str(label), (r, d), textcoords="offset points", xytext=(6, 4),
                        fontsize=9)
    if elbo_lines:
        totals = rate + distortion
        span = np.array([0.0, max(rate.max(), 1e-3) * 1.1])
        for total in sorted({float(totals.min()), float(totals.max())}):
            ax.plot(span, total - span, ":", color="grey", zorder=1,
                    label=f"D + R = {total:.1f}")
        ax.legend(fontsize=8, title="equal negative ELBO", title_fontsize=8)
    ax.set(xlabel="rate R: average KL (nats)",
           ylabel="distortion D: reconstruction term (nats)", title=title)
    low, high = distortion.min(), distortion.max()
    margin = 0.08 * (high - low) if high > low else 1.0
    ax.set_ylim(low - margin, high + margin)
    ax.set_xlim(left=min(0.0, rate.min()) - 0.5)
    return figure

"""How good is a VAE? The bound's convergence, the inference gaps, and reading the number.

Lesson 08 asks how far a VAE's ELBO is from ``log p(x)`` and why. With the
importance-weighted bound ``L_k`` (:mod:`course_utils.elbo.likelihoods`) as the best
available estimate of ``log p(x)``, the distance splits into (Cremer et al., 2018)

* the **approximation gap** ``log p(x) - ELBO(q*)``, where ``q*`` is the best
  diagonal Gaussian for this one image: what the family of ``q`` cannot express;
* the **amortisation gap** ``ELBO(q*) - ELBO(q_encoder)``: what the encoder loses by
  computing ``q`` for every image with one network instead of optimising it.

This module holds what the lesson needs for that on a Keras VAE: log weights under
any diagonal Gaussian ``q`` (:func:`log_weights_for_q`), ``q*`` found by gradient
ascent per image (:func:`optimise_q`), the ``k`` at which a ladder of bounds has
converged (:func:`converged_k`), bits per dimension (:func:`bits_per_dim`), a table
row for any model (:func:`likelihood_row`, :func:`likelihood_table`), and for
anomaly scores the probability that one set scores above another
(:func:`score_above_probability`) with a histogram (:func:`plot_score_histograms`).

:func:`log_mean_exp` lives in :mod:`course_utils.elbo.likelihoods` and is re-exported here
for the lesson.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from course_utils._validation import check_array, check_positive_int, check_positive_number
from course_utils.elbo.losses import LOG_2PI
from course_utils.evaluation.importance_weighting import (
    bounds_by_k,
    log_importance_weights,
    log_mean_exp,
    scoring_log_sigma,
    scoring_nll,
)
from course_utils.models.inference import batched_call
from course_utils.models.vae import VAE, as_model_images
from course_utils.plotting import figure_and_axes

__all__ = [
    "bits_per_dim",
    "converged_k",
    "likelihood_row",
    "likelihood_table",
    "log_weights_for_q",
    "optimise_q",
    "plot_score_histograms",
    "score_above_probability",
]


def _q_arrays(vae: VAE, n: int, q_mean: ArrayLike,
              q_log_var: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    layout = f"(n, latent_dim) = ({n}, {vae.latent_dim})"
    mean = check_array(q_mean, "q_mean", ndim=(2,), dtype=np.float64, finite=True,
                       layout=layout)
    log_var = check_array(q_log_var, "q_log_var", ndim=(2,), dtype=np.float64, finite=True,
                          layout=layout)
    for array, name in ((mean, "q_mean"), (log_var, "q_log_var")):
        if array.shape != (n, vae.latent_dim):
            raise ValueError(f"{name} must have shape {layout}; got {array.shape}. Pass one "
                             "row per image, one column per latent dimension.")
    return mean, log_var


def log_weights_for_q(vae: VAE, images: ArrayLike, q_mean: ArrayLike, q_log_var: ArrayLike,
                      k: int, *, seed: int = 0, chunk_rows: int = 8192,
                      sigma: float | None = None,
                      widths: Sequence[float] = (1.0,)) -> np.ndarray:
    """Log importance weights ``log p(x|z) + log p(z) - log q(z)`` under a given ``q``.

    Like :func:`~course_utils.evaluation.importance_weighting.log_importance_weights`, but
    the proposal is
    ``q = N(q_mean, diag(exp(q_log_var)))`` given by the caller (for instance the
    per-image optimum of :func:`optimise_q`) instead of the encoder's output.

    With several ``widths`` the proposal is the equal mixture of
    ``N(q_mean, width**2 diag(exp(q_log_var)))`` over the widths (a *defensive*
    mixture: a wide component keeps the weights bounded where ``q`` is too narrow).
    Each draw picks its component at random, so every block of weights is an unbiased
    estimate of ``p(x)`` and
    :func:`~course_utils.evaluation.importance_weighting.bounds_by_k` applies.

    Parameters
    ----------
    vae : course_utils.models.vae.VAE
    images : array_like, shape (n, 28, 28, 1)
        Pixels in [0, 1].
    q_mean, q_log_var : array_like, shape (n, latent_dim)
    k : int
        Samples per image.
    seed : int
        Seed of the NumPy generator for the noise.
    chunk_rows : int
        At most this many decoder rows per call; the result does not depend on it.
    sigma : float or None
        None: the VAE's own likelihood. A positive number: score with the Gaussian
        ``N(x; sigmoid(logits), sigma**2 I)``, as
        :func:`~course_utils.evaluation.importance_weighting.log_importance_weights` does.
    widths : sequence of float
        Positive factors on ``q``'s standard deviations, one mixture component each;
        the default ``(1.0,)`` is ``q`` itself.

    Returns
    -------
    numpy.ndarray, shape (n, k)
        In nats, float64. With ``widths=(1.0,)`` their row means estimate the ELBO of
        ``q``.
    """
    k = check_positive_int(k, "k")
    chunk_rows = check_positive_int(chunk_rows, "chunk_rows")
    log_sigma = scoring_log_sigma(sigma)
    scales = _widths(widths)
    x = as_model_images(vae, images, "images")
    mean, log_var = _q_arrays(vae, len(x), q_mean, q_log_var)
    rng = np.random.default_rng(check_positive_int(seed, "seed", minimum=0))
    eps = rng.standard_normal((len(x), k, vae.latent_dim))
    if len(scales) > 1:  # one component per draw; the default keeps the plain noise
        eps = eps * scales[rng.integers(len(scales), size=(len(x), k))][..., None]
    z = mean[:, None, :] + np.exp(0.5 * log_var)[:, None, :] * eps     # (n, k, K)
    flat_z = z.reshape(-1, vae.latent_dim).astype(np.float32)
    flat_x = np.repeat(x, k, axis=0)
    nll = np.asarray(batched_call(
        lambda rows, codes: scoring_nll(vae, rows, vae.decoder(codes, training=False),
                                        log_sigma=log_sigma),
        flat_x, flat_z, batch_size=chunk_rows), dtype=np.float64)
    log_prior = -0.5 * np.sum(z**2 + LOG_2PI, axis=-1)
    # log q of the mixture: log of the mean over components of N(eps; 0, width**2 I).
    dims = vae.latent_dim
    log_components = np.stack([-0.5 * np.sum((eps / c) ** 2, axis=-1) - dims * math.log(c)
                               for c in scales])
    log_q = (log_mean_exp(log_components, axis=0)
             - 0.5 * np.sum(log_var + LOG_2PI, axis=-1)[:, None])
    return -nll.reshape(len(x), k) + log_prior - log_q


def _widths(widths: object) -> np.ndarray:
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise TypeError(f"widths must be a sequence of positive numbers; got "
                        f"{type(widths).__name__}. Pass e.g. (1.0, 2.0).")
    scales = [check_positive_number(w, "every width", example="2.0") for w in widths]
    if not scales:
        raise ValueError("widths must hold at least one width; got an empty sequence. Pass "
                         "e.g. (1.0,).")
    return np.asarray(scales, dtype=np.float64)


def optimise_q(vae: VAE, images: ArrayLike, *, steps: int = 300, samples: int = 16,
               learning_rate: float = 0.02, seed: int = 0,
               sigma: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The best diagonal Gaussian ``q`` of each image, by gradient ascent on its ELBO.

    Starts from the encoder's ``(mean, log_var)`` and runs Adam on them, image by image
    (the images share nothing), maximising a Monte Carlo ELBO with ``samples``
    reparameterised draws per step (fresh noise each step) and the closed-form KL.
    The decoder is not changed. With ``sigma`` the ELBO is the one under the Gaussian
    ``N(x; sigmoid(logits), sigma**2 I)``, so ``q`` fits the posterior of that
    likelihood (a proposal for :func:`log_weights_for_q` with the same ``sigma``).

    Parameters
    ----------
    vae : course_utils.models.vae.VAE
    images : array_like, shape (n, 28, 28, 1)
    steps : int
        Adam steps.
    samples : int
        Draws of ``z`` per image and step.
    learning_rate : float
        Adam's step size.
    seed : int
        Seed of the noise.
    sigma : float or None
        None: the VAE's own likelihood; a positive number: the Gaussian above.

    Returns
    -------
    mean, log_var : numpy.ndarray, shape (n, latent_dim)
        float64.
    """
    import keras
    import tensorflow as tf

    steps = check_positive_int(steps, "steps")
    samples = check_positive_int(samples, "samples")
    learning_rate = check_positive_number(learning_rate, "learning_rate", example="0.05")
    log_sigma = scoring_log_sigma(sigma)
    x = as_model_images(vae, images, "images")
    start_mean, start_log_var = vae.encode(x)
    mean = tf.Variable(np.asarray(start_mean, np.float32))
    log_var = tf.Variable(np.asarray(start_log_var, np.float32))
    x_rep = tf.constant(np.repeat(x, samples, axis=0))
    optimizer = keras.optimizers.Adam(learning_rate)
    generator = tf.random.Generator.from_seed(check_positive_int(seed, "seed", minimum=0))
    n, latent = x.shape[0], vae.latent_dim

    @tf.function
    def step() -> None:
        eps = generator.normal((n, samples, latent))
        with tf.GradientTape() as tape:
            z = mean[:, None, :] + tf.exp(0.5 * log_var)[:, None, :] * eps
            logits = vae.decoder(tf.reshape(z, (n * samples, latent)), training=False)
            nll = tf.reduce_mean(tf.reshape(scoring_nll(vae, x_rep, logits,
                                                        log_sigma=log_sigma),
                                            (n, samples)), axis=1)
            kl = 0.5 * tf.reduce_sum(tf.square(mean) + tf.exp(log_var) - 1.0 - log_var,
                                     axis=1)
            loss = tf.reduce_sum(nll + kl)
        gradients = tape.gradient(loss, [mean, log_var])
        optimizer.apply_gradients(zip(gradients, [mean, log_var]))

    for _ in range(steps):
        step()
    return (np.asarray(mean.numpy(), np.float64), np.asarray(log_var.numpy(), np.float64))


def converged_k(ks: Sequence[int], bounds: ArrayLike, tolerance: float = 0.1) -> int | None:
    """The first ``k`` of a ladder from which the bound climbs by less than ``tolerance``.

    The course's one convergence rule for importance-weighted bounds (lessons 05 and
    08, ``make bench``). ``bounds[j]`` is ``L_k`` at ``ks[j]`` (increasing ``ks``):
    either its mean over images, or one value per image as :func:`bounds_by_k`
    returns them. ``k = ks[j]`` counts as converged when the climb from it to every
    later rung stays below ``tolerance`` nats; with one value per image the climb is
    its mean over the images plus twice its standard error. This only says the bound
    stopped moving within the ladder: a lower bound can level off below ``log p(x)``
    when ``q`` misses part of the posterior.

    Parameters
    ----------
    ks : sequence of int, increasing
    bounds : array_like, shape (len(ks),) or (len(ks), n)
        Mean bound at each ``k``, or the bound of each of ``n >= 2`` images, in nats.
    tolerance : float
        In nats, positive.

    Returns
    -------
    int or None
        None when even the second-to-last rung has not converged.

    Raises
    ------
    TypeError
        If a ``k`` is not a whole number or ``tolerance`` not a number.
    ValueError
        If ``ks`` is not increasing, the shapes do not match or ``tolerance <= 0``.
    """
    ks = [check_positive_int(k, "k") for k in ks]
    values = check_array(bounds, "bounds", ndim=(1, 2), dtype=np.float64, finite=True,
                         layout="(len(ks),) or (len(ks), n)")
    if len(ks) != len(values) or len(ks) < 2:
        raise ValueError(f"ks and bounds must hold at least two rungs, one bound per k; got "
                         f"{len(ks)} ks and {len(values)} bounds. Pass matching sequences.")
    if any(b <= a for a, b in zip(ks, ks[1:])):
        raise ValueError(f"ks must be increasing; got {ks}. Sort them.")
    if values.ndim == 2 and values.shape[1] < 2:
        raise ValueError(f"bounds must hold at least two images per k for a standard "
                         f"error; got shape {values.shape}. Pass more images, or the mean "
                         f"bound per k.")
    tolerance = check_positive_number(tolerance, "tolerance", example="0.1")
    for j in range(len(ks) - 1):
        if all(_climb(values[j], values[m]) < tolerance for m in range(j + 1, len(ks))):
            return ks[j]
    return None


def _climb(low: np.ndarray, high: np.ndarray) -> float:
    """The climb from rung ``low`` to ``high``: with one value per image, mean + 2 s.e."""
    rise = high - low
    if rise.ndim == 0:
        return float(rise)
    return float(rise.mean() + 2 * (rise.std(ddof=1) / math.sqrt(len(rise))))


def bits_per_dim(nats_per_image: ArrayLike, dims: int, *, levels: int | None = None) -> np.ndarray:
    """Convert ``-log p(x)`` in nats per image to bits per dimension.

    ``bpd = (nll + dims * log(levels)) / (dims * log 2)``. Without ``levels`` the number
    is a probability of discrete (e.g. binarised) data and only the units change. With
    ``levels`` (e.g. 256), ``nll`` is minus a *density* on ``[0, 1]^dims`` of dequantised
    pixels, and ``dims * log(levels)`` converts it to a probability of the ``levels``
    grey values of each pixel: a uniform density (``nll = 0``) then gives
    ``log2(levels)`` bits.

    Parameters
    ----------
    nats_per_image : array_like
        ``-log p(x)`` (or its upper bound ``-L_k``) of each image, in nats.
    dims : int
        Pixels per image, e.g. 784.
    levels : int, optional
        Grey levels per pixel of the data a density was fitted to (dequantised).

    Returns
    -------
    numpy.ndarray, same shape as ``nats_per_image``
    """
    nll = check_array(nats_per_image, "nats_per_image", dtype=np.float64, finite=True)
    dims = check_positive_int(dims, "dims")
    offset = 0.0 if levels is None else dims * math.log(check_positive_int(levels, "levels",
                                                                           minimum=2))
    return (nll + offset) / (dims * math.log(2.0))


def likelihood_row(name: str, vae: VAE, images: ArrayLike, *, data: str, k: int = 1000,
                   seed: int = 0) -> dict[str, object]:
    """One row of the lesson's comparison table, for any VAE (yours too).

    Parameters
    ----------
    name : str
        The model's name in the table.
    vae : course_utils.models.vae.VAE
    images : array_like, shape (n, 28, 28, 1)
        The test images scored.
    data : str
        How they were prepared, e.g. ``"grey levels"`` or ``"binarised (x > 0.5)"``:
        numbers on different data variants are not comparable.
    k : int
        Importance samples per image.
    seed : int
        Seed of the importance samples.

    Returns
    -------
    dict
        ``model``, ``data``, ``images``, ``k``, ``elbo`` (mean ``L_1`` over the k
        samples), ``bound`` (mean ``L_k``), ``bound_se`` (its standard error over
        images), ``nll_nats`` (``-bound``, an upper bound on ``-log p(x)``) and ``bpd``
        (bits per dimension of ``nll_nats``, no dequantisation term).
    """
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"name must be a non-empty string; got {name!r}. Pass e.g. "
                        "'my VAE'.")
    if not isinstance(data, str) or not data.strip():
        raise TypeError(f"data must be a non-empty string describing the images; got "
                        f"{data!r}. Pass e.g. 'grey levels'.")
    log_w = log_importance_weights(vae, images, k, seed=seed)
    (elbo, bound), errors = bounds_by_k(log_w, (1, k))
    dims = int(np.prod(vae.image_shape))
    return {"model": name.strip(), "data": data.strip(), "images": len(log_w), "k": k,
            "elbo": float(elbo.mean()), "bound": float(bound.mean()),
            "bound_se": float(errors[1]), "nll_nats": float(-bound.mean()),
            "bpd": float(bits_per_dim(-bound.mean(), dims))}


_COLUMNS = (("model", "model", "{}"), ("data", "data", "{}"), ("images", "images", "{}"),
            ("k", "k", "{}"), ("elbo", "ELBO (nats)", "{:.2f}"),
            ("bound", "L_k (nats)", "{:.2f}"), ("bound_se", "± s.e.", "{:.2f}"),
            ("bpd", "bits/dim", "{:.4f}"))


def likelihood_table(rows: Sequence[Mapping[str, object]]) -> str:
    """Rows of :func:`likelihood_row` as a Markdown table (display it with ``Markdown``).

    Parameters
    ----------
    rows : sequence of dict
        Each with the keys that :func:`likelihood_row` returns.

    Returns
    -------
    str
    """
    if isinstance(rows, Mapping) or not rows:
        raise ValueError(f"rows must be a non-empty list of rows from likelihood_row; got "
                         f"{rows!r}. Pass [likelihood_row(...), ...].")
    lines = ["| " + " | ".join(title for _, title, _ in _COLUMNS) + " |",
             "|" + "---|" * len(_COLUMNS)]
    for row in rows:
        missing = [key for key, _, _ in _COLUMNS if key not in row]
        if missing:
            raise ValueError(f"rows must come from likelihood_row; got one without "
                             f"{missing}. Build rows with likelihood_row.")
        lines.append("| " + " | ".join(fmt.format(row[key]) for key, _, fmt in _COLUMNS)
                     + " |")
    return "\n".join(lines)


def score_above_probability(higher: ArrayLike, lower: ArrayLike) -> float:
    """The probability that a random entry of ``higher`` exceeds one of ``lower``.

    Ties count one half. This is the area under the ROC curve of a detector that calls
    an image "normal" when its score is high: 1 separates the two sets perfectly, 0.5
    is chance, below 0.5 the sets are ranked the wrong way round.

    Parameters
    ----------
    higher, lower : array_like, shape (n,) and (m,)
        Scores, e.g. ``L_k`` of in-distribution and of foreign images.

    Returns
    -------
    float
    """
    a = check_array(higher, "higher", ndim=(1,), min_len=1, dtype=np.float64, finite=True)
    b = check_array(lower, "lower", ndim=(1,), min_len=1, dtype=np.float64, finite=True)
    greater = np.sum(a[:, None] > b[None, :])
    ties = np.sum(a[:, None] == b[None, :])
    return float((greater + 0.5 * ties) / (len(a) * len(b)))


def plot_score_histograms(scores: Mapping[str, ArrayLike], *, ax: Axes | None = None,
                          title: str = "Scores", xlabel: str = "L_k (nats)",
                          bins: int = 30) -> Figure:
    """Overlaid histograms of per-image scores, one per set of images.

    Parameters
    ----------
    scores : dict of str to array_like, shape (n,)
        Label to scores.
    ax : matplotlib Axes, optional
    title, xlabel : str
    bins : int

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(scores, Mapping) or not scores:
        raise ValueError(f"scores must be a non-empty dict of label -> scores; got "
                         f"{scores!r}. Pass e.g. {{'MNIST': scores}}.")
    arrays = {str(label): check_array(values, f"scores[{label!r}]", ndim=(1,), min_len=1,
                                      dtype=np.float64, finite=True)
              for label, values in scores.items()}
    bins = check_positive_int(bins, "bins")
    fig, ax = figure_and_axes(ax, figsize=(6, 3.5))
    edges = np.histogram_bin_edges(np.concatenate(list(arrays.values())), bins=bins)
    for label, values in arrays.items():
        ax.hist(values, bins=edges.tolist(), alpha=0.5, label=f"{label} (n={len(values)})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("images")
    ax.set_title(title)
    ax.legend()
    return fig

"""What the checkers of several lessons share: float64 formulas and known mistakes.

* :func:`bce_from_logits`: the binary cross-entropy of each value from its logit
  (lessons 03 and 04 compute expected and wrong losses with it);
* :func:`kl_per_dimension`: the KL of each diagonal Gaussian dimension to N(0, 1)
  (lessons 04 and 07);
* :func:`log_mean_exp_mistakes`: the typical wrong importance-weighted bounds
  ``log((1/k) sum_i exp(log_w_i))`` and the advice for each (lessons 05 and 08, which
  both ask for that bound).

Like the lesson modules' functions, these are refused in graded answers (see
:mod:`course_utils.exercises.core`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["bce_from_logits", "kl_per_dimension", "log_mean_exp_mistakes"]


def bce_from_logits(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Binary cross-entropy of each value from its logit, overflow-free.

    Parameters
    ----------
    x : numpy.ndarray
        Targets in [0, 1].
    logits : numpy.ndarray, same shape as ``x``
        Logits of the predicted probabilities.

    Returns
    -------
    numpy.ndarray, same shape as ``x``
    """
    return np.maximum(logits, 0.0) - logits * x + np.log1p(np.exp(-np.abs(logits)))


def kl_per_dimension(mean: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """KL( N(mean, exp(log_var)) || N(0, 1) ) of each entry.

    Parameters
    ----------
    mean, log_var : numpy.ndarray, shape (n, latent_dim)
        Means and log-variances of diagonal Gaussians.

    Returns
    -------
    numpy.ndarray, shape (n, latent_dim)
    """
    return 0.5 * (mean**2 + np.exp(log_var) - 1.0 - log_var)


def log_mean_exp_mistakes(log_w: np.ndarray, want: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """What the typical wrong bounds give on ``log_w``, with the advice for each.

    Parameters
    ----------
    log_w : numpy.ndarray, shape (n, k)
        The log weights the answer was run on, k per row.
    want : numpy.ndarray, shape (n,)
        The right bounds of the rows.

    Returns
    -------
    list of (numpy.ndarray, str)
        Wrong values of shape (n,) and their advice, for
        :func:`course_utils.exercises.core.compare`.
    """
    k = log_w.shape[1]
    return [
        (log_w.mean(axis=1),
         "You averaged the log weights: that estimates the ELBO (the bound for k = 1 "
         "sample at a time). The bound is the log of the average of the weights "
         "themselves."),
        (want + math.log(k),
         f"Your values are log({k}) too high: that is the log of the sum of the weights. "
         "The bound averages the k weights, it does not add them up."),
        (want - math.log(k),
         f"Your values are log({k}) too low: divide the sum of the weights by k once."),
        (log_w.max(axis=1),
         "You returned the largest log weight of each row. All k weights count: take the "
         "log of their average."),
    ]

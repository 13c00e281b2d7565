"""Checks shared by the two log-mean-exp exercises (lessons 05 and 08).

Both lessons ask for the importance-weighted bound ``L_k`` of each row of log weights,
``log((1/k) sum_i exp(log_w_i))``; the typical wrong answers, and the advice for them,
are the same in both, so they live here once.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["log_mean_exp_mistakes"]


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

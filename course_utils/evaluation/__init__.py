"""Evaluation: how good a trained VAE is, in numbers a learner can trust.

* ``reconstruction``: the mean squared reconstruction error;
* ``importance_weighting``: the importance-weighted bound on ``log p(x)`` and its
  convergence in ``k``;
* ``inference_gaps``: the amortisation and approximation gaps, bits per dimension;
* ``rate_distortion``: a trained VAE as a point on the rate-distortion plane.
"""

from course_utils.evaluation.importance_weighting import (
    bounds_by_k,
    importance_weighted_bound,
    log_importance_weights,
    log_mean_exp,
    scoring_log_sigma,
    scoring_nll,
)
from course_utils.evaluation.inference_gaps import (
    bits_per_dim,
    converged_k,
    likelihood_row,
    likelihood_table,
    log_weights_for_q,
    optimise_q,
    plot_score_histograms,
    score_above_probability,
)
from course_utils.evaluation.rate_distortion import plot_rate_distortion, rate_distortion_point
from course_utils.evaluation.reconstruction import reconstruction_mse

__all__ = [
    "importance_weighted_bound",
    "log_importance_weights",
    "bounds_by_k",
    "log_mean_exp",
    "scoring_nll",
    "scoring_log_sigma",
    "bits_per_dim",
    "converged_k",
    "likelihood_row",
    "likelihood_table",
    "log_weights_for_q",
    "optimise_q",
    "plot_score_histograms",
    "score_above_probability",
    "plot_rate_distortion",
    "rate_distortion_point",
    "reconstruction_mse",
]

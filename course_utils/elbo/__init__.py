"""ELBO maths: the loss terms, their estimators and the likelihood behind them.

* ``losses``: KL to the standard normal, Bernoulli and Gaussian negative
  log-likelihoods, the negative ELBO;
* ``estimators``: Monte Carlo KL, score-function and pathwise gradients;
* ``toy_models``: a linear-Gaussian model whose evidence and posterior are exact;
* ``likelihoods``: the weights and floors hidden in BCE and MSE losses;
* ``plots``: figures of the ELBO, estimator spreads and per-pixel losses.
"""

from course_utils.elbo.estimators import (
    Gradient,
    analytic_gradient,
    expected_squared_distance,
    kl_monte_carlo,
    pathwise_gradient,
    score_function_gradient,
)
from course_utils.elbo.likelihoods import (
    bernoulli_entropy_floor,
    continuous_bernoulli_log_norm,
    implied_kl_weight,
    implied_sigma_squared,
    max_likelihood_sigma,
)
from course_utils.elbo.losses import (
    bernoulli_nll_from_logits,
    gaussian_nll,
    kl_divergence_standard_normal,
    negative_elbo,
)
from course_utils.elbo.plots import (
    plot_elbo_versus_mean,
    plot_estimator_histograms,
    plot_pixel_losses,
)
from course_utils.elbo.toy_models import LinearGaussianModel, diagonal_covariance, gaussian_kl

__all__ = [
    "Gradient",
    "kl_monte_carlo",
    "expected_squared_distance",
    "analytic_gradient",
    "score_function_gradient",
    "pathwise_gradient",
    "implied_sigma_squared",
    "implied_kl_weight",
    "max_likelihood_sigma",
    "bernoulli_entropy_floor",
    "continuous_bernoulli_log_norm",
    "kl_divergence_standard_normal",
    "bernoulli_nll_from_logits",
    "gaussian_nll",
    "negative_elbo",
    "plot_elbo_versus_mean",
    "plot_estimator_histograms",
    "plot_pixel_losses",
    "LinearGaussianModel",
    "gaussian_kl",
    "diagonal_covariance",
]

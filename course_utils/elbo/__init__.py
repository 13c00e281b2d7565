"""ELBO maths: the loss terms, their estimators and the likelihood behind them.

* ``losses``: KL to the standard normal, Bernoulli and Gaussian negative
  log-likelihoods, the negative ELBO;
* ``estimators``: Monte Carlo KL, score-function and pathwise gradients;
* ``toy_models``: a linear-Gaussian model whose evidence and posterior are exact;
* ``likelihoods``: the weights and floors hidden in BCE and MSE losses;
* ``plots``: figures of the ELBO, estimator spreads and per-pixel losses.
"""

from course_utils.elbo import estimators, likelihoods, losses, plots, toy_models
from course_utils.elbo.estimators import *
from course_utils.elbo.likelihoods import *
from course_utils.elbo.losses import *
from course_utils.elbo.plots import *
from course_utils.elbo.toy_models import *

# Every public name of the modules above; each module's __all__ is the one list.
__all__ = sorted({
    *estimators.__all__,
    *likelihoods.__all__,
    *losses.__all__,
    *plots.__all__,
    *toy_models.__all__,
})

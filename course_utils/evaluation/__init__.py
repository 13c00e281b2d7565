"""Evaluation: how good a trained VAE is, in numbers a learner can trust.

* ``reconstruction``: the mean squared reconstruction error;
* ``importance_weighting``: the importance-weighted bound on ``log p(x)`` and its
  convergence in ``k``;
* ``inference_gaps``: the amortisation and approximation gaps, bits per dimension;
* ``rate_distortion``: a trained VAE as a point on the rate-distortion plane.
"""

from course_utils.evaluation import (
    importance_weighting,
    inference_gaps,
    rate_distortion,
    reconstruction,
)
from course_utils.evaluation.importance_weighting import *
from course_utils.evaluation.inference_gaps import *
from course_utils.evaluation.rate_distortion import *
from course_utils.evaluation.reconstruction import *

# Every public name of the modules above; each module's __all__ is the one list.
__all__ = sorted({
    *importance_weighting.__all__,
    *inference_gaps.__all__,
    *rate_distortion.__all__,
    *reconstruction.__all__,
})

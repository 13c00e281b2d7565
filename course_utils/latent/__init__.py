"""Latent-space tools: sampling codes, decoding them, how codes are used, and plots.

* ``sampling``: codes from the prior, the aggregate posterior, a box or a fitted
  Gaussian, and how many fall in holes;
* ``decoding``: decoding codes, grids of normal quantiles, interpolation, PCA;
* ``usage``: KL per latent dimension and active units;
* ``plots``: scatter plots of codes, decoded grids and KL per dimension.
"""

from course_utils.latent import decoding, plots, sampling, usage
from course_utils.latent.decoding import *
from course_utils.latent.plots import *
from course_utils.latent.sampling import *
from course_utils.latent.usage import *

# Every public name of the modules above; each module's __all__ is the one list.
__all__ = sorted({
    *decoding.__all__,
    *plots.__all__,
    *sampling.__all__,
    *usage.__all__,
})

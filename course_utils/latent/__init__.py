"""Latent-space tools: sampling codes, decoding them, how codes are used, and plots.

* ``sampling``: codes from the prior, the aggregate posterior, a box or a fitted
  Gaussian, and how many fall in holes;
* ``decoding``: decoding codes, grids of normal quantiles, interpolation, PCA;
* ``usage``: KL per latent dimension and active units;
* ``plots``: scatter plots of codes, decoded grids and KL per dimension.
"""

from course_utils.latent.decoding import (
    PCAProjection,
    decode_codes,
    decode_grid,
    decode_point,
    interpolate,
    normal_quantile_grid,
    normal_quantiles,
    pca_2d,
    tile_images,
)
from course_utils.latent.plots import plot_decoded_grid, plot_kl_per_dimension, plot_latent_scatter
from course_utils.latent.sampling import (
    hole_fraction,
    nearest_code_distance,
    sample_aggregate_posterior,
    sample_box,
    sample_fitted_gaussian,
    sample_prior,
)
from course_utils.latent.usage import (
    ACTIVE_THRESHOLD,
    active_units,
    kl_per_dimension,
    latent_activity,
)

__all__ = [
    "PCAProjection",
    "decode_codes",
    "decode_grid",
    "decode_point",
    "interpolate",
    "normal_quantile_grid",
    "normal_quantiles",
    "pca_2d",
    "tile_images",
    "plot_decoded_grid",
    "plot_latent_scatter",
    "plot_kl_per_dimension",
    "sample_prior",
    "sample_aggregate_posterior",
    "sample_box",
    "sample_fitted_gaussian",
    "nearest_code_distance",
    "hole_fraction",
    "ACTIVE_THRESHOLD",
    "kl_per_dimension",
    "latent_activity",
    "active_units",
]

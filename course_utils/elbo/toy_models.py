"""A latent-variable model whose evidence is exact: the linear-Gaussian model.

    z ~ N(0, I_k),    x | z ~ N(W z + b, sigma**2 I_d)

Everything about it has a closed form, so lesson 02 can check numerically that

* ``ELBO(q) <= log p(x)`` for every Gaussian ``q(z|x)``,
* ``log p(x) = ELBO(q) + KL(q || p(z|x))`` for every ``q`` (:func:`gaussian_kl`),
* the ELBO equals ``log p(x)`` when ``q`` is the exact posterior.

Design choice: ``q(z|x) = N(m, diag(exp(log_var)))`` is diagonal, as in a VAE encoder.
The exact posterior has covariance ``(I + W^T W / sigma**2)^-1``, which is diagonal
exactly when the columns of ``W`` are orthogonal. :meth:`LinearGaussianModel.random`
builds such a ``W`` by default, so the best diagonal ``q`` is the exact posterior
(:meth:`LinearGaussianModel.posterior_diagonal`). With a general ``W`` the posterior
(:meth:`LinearGaussianModel.posterior`) has full covariance, no diagonal ``q`` reaches
it and the ELBO stays strictly below ``log p(x)``: the gap is the KL, which
:func:`gaussian_kl` computes for full covariances.

All arrays are float64 NumPy arrays; random draws use ``numpy.random.default_rng``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from course_utils._validation import (
    check_float_array,
    check_positive_int,
    check_real_number,
    check_same_shape,
    rng_from_seed,
)
from course_utils.elbo.losses import LOG_2PI

__all__ = ["LinearGaussianModel", "gaussian_kl", "diagonal_covariance"]


def diagonal_covariance(log_var: ArrayLike) -> np.ndarray:
    """Covariance matrices ``diag(exp(log_var))``, one per row.

    Parameters
    ----------
    log_var : array_like, shape (batch, k)
        Log-variances.

    Returns
    -------
    ndarray, shape (batch, k, k)
        Diagonal covariance matrices.
    """
    log_var = check_float_array(log_var, "log_var", ndim=2)
    return np.exp(log_var)[:, :, None] * np.eye(log_var.shape[1])


def gaussian_kl(mean_q: ArrayLike, cov_q: ArrayLike, mean_p: ArrayLike,
                cov_p: ArrayLike) -> np.ndarray:
    """KL( N(mean_q, cov_q) || N(mean_p, cov_p) ) for full covariance matrices.

    ``0.5 * (tr(cov_p^-1 cov_q) + d^T cov_p^-1 d - k + log det cov_p - log det cov_q)``
    with ``d = mean_p - mean_q``. Leading (batch) axes broadcast against each other.

    Parameters
    ----------
    mean_q, mean_p : array_like, shape (batch, k) or (k,)
        Means.
    cov_q, cov_p : array_like, shape (batch, k, k) or (k, k)
        Symmetric positive-definite covariance matrices.

    Returns
    -------
    ndarray, shape (batch,), or shape () when every input is unbatched
        The KL divergence in nats.

    Raises
    ------
    TypeError
        If an input is not numeric.
    ValueError
        If shapes disagree or a covariance is not symmetric positive definite.
    """
    means = [_mean_vectors(mean_q, "mean_q"), _mean_vectors(mean_p, "mean_p")]
    covs = [_covariances(cov_q, "cov_q"), _covariances(cov_p, "cov_p")]
    k = means[0].shape[-1]
    names = ("mean_q", "mean_p", "cov_q", "cov_p")
    for array, name in zip(means + covs, names, strict=True):
        if array.shape[-1] != k:
            raise ValueError(f"{name} must have last dimension {k} (the size of mean_q); "
                             f"got shape {array.shape}. Use Gaussians of the same "
                             "dimension.")
    try:
        batch = np.broadcast_shapes(*(m.shape[:-1] for m in means),
                                    *(c.shape[:-2] for c in covs))
    except ValueError as error:
        raise ValueError(f"the batch shapes must broadcast; got means "
                         f"{[m.shape for m in means]} and covariances "
                         f"{[c.shape for c in covs]}. Pass the same batch size or "
                         "unbatched arrays.") from error
    mean_q, mean_p = (np.broadcast_to(m, (*batch, k)) for m in means)
    cov_q, cov_p = (np.broadcast_to(c, (*batch, k, k)) for c in covs)
    diff = (mean_p - mean_q)[..., None]
    trace = np.trace(np.linalg.solve(cov_p, cov_q), axis1=-2, axis2=-1)
    quadratic = np.sum(diff * np.linalg.solve(cov_p, diff), axis=(-2, -1))
    log_det_ratio = _log_det(cov_p) - _log_det(cov_q)
    return 0.5 * (trace + quadratic - k + log_det_ratio)


def _mean_vectors(value: ArrayLike, name: str) -> np.ndarray:
    return check_float_array(value, name, ndim=2 if np.ndim(value) == 2 else 1)


def _covariances(value: ArrayLike, name: str) -> np.ndarray:
    array = check_float_array(value, name, ndim=3 if np.ndim(value) == 3 else 2)
    if array.shape[-1] != array.shape[-2]:
        raise ValueError(f"{name} must hold square matrices; got shape {array.shape}. "
                         "Pass shape (k, k) or (batch, k, k).")
    if not np.allclose(array, np.swapaxes(array, -1, -2), rtol=1e-10, atol=1e-12):
        raise ValueError(f"{name} must be symmetric; got a non-symmetric matrix. "
                         "Symmetrise it with 0.5 * (c + c.T).")
    try:
        np.linalg.cholesky(array)
    except np.linalg.LinAlgError as error:
        raise ValueError(f"{name} must be positive definite; got a matrix with a "
                         "non-positive eigenvalue. Add a small multiple of the "
                         "identity.") from error
    return array


def _log_det(covariance: np.ndarray) -> np.ndarray:
    """log det of symmetric positive-definite matrices, via Cholesky."""
    chol = np.linalg.cholesky(covariance)
    return 2.0 * np.sum(np.log(np.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)


@dataclass(frozen=True)
class LinearGaussianModel:
    """``z ~ N(0, I_k)``, ``x | z ~ N(weights @ z + bias, noise_std**2 I_d)``.

    Parameters
    ----------
    weights : array_like, shape (data_dim, latent_dim)
        The matrix ``W``. Orthogonal columns make the exact posterior diagonal.
    bias : array_like, shape (data_dim,)
        The offset ``b``.
    noise_std : float
        The observation noise ``sigma`` > 0.

    Notes
    -----
    The arrays are stored as read-only float64 copies. Batches of data ``x`` have
    shape (n, data_dim); means and log-variances of ``q(z|x)`` have shape
    (n, latent_dim), one row per row of ``x``.
    """

    weights: np.ndarray
    bias: np.ndarray
    noise_std: float

    def __post_init__(self) -> None:
        weights = check_float_array(self.weights, "weights", ndim=2).copy()
        bias = check_float_array(self.bias, "bias", ndim=1).copy()
        if bias.shape[0] != weights.shape[0]:
            raise ValueError(f"bias must have shape ({weights.shape[0]},) to match weights "
                             f"of shape {weights.shape}; got shape {bias.shape}. Give bias "
                             "one entry per row of weights.")
        noise_std = check_real_number(self.noise_std, "noise_std")
        if noise_std <= 0:
            raise ValueError(f"noise_std must be > 0; got {noise_std}. Pass a positive "
                             "standard deviation such as 0.5.")
        weights.setflags(write=False)
        bias.setflags(write=False)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "bias", bias)
        object.__setattr__(self, "noise_std", noise_std)

    @classmethod
    def random(cls, data_dim: int = 5, latent_dim: int = 2, *, noise_std: float = 0.5,
               orthogonal: bool = True, seed: int | None = 0) -> LinearGaussianModel:
        """A model with random ``W`` and ``b``.

        Parameters
        ----------
        data_dim, latent_dim : int
            ``d`` and ``k``. ``orthogonal=True`` needs ``data_dim >= latent_dim``.
        noise_std : float
            ``sigma``.
        orthogonal : bool
            True: ``W`` has orthogonal columns of distinct lengths in [0.5, 2], so the
            exact posterior is diagonal. False: ``W`` has independent N(0, 1) entries.
        seed : int or None
            Seed for ``numpy.random.default_rng``.

        Returns
        -------
        LinearGaussianModel
            ``weights`` of shape (data_dim, latent_dim), ``bias`` of shape (data_dim,).
        """
        data_dim = check_positive_int(data_dim, "data_dim")
        latent_dim = check_positive_int(latent_dim, "latent_dim")
        if orthogonal and data_dim < latent_dim:
            raise ValueError(f"data_dim must be >= latent_dim for orthogonal columns; got "
                             f"data_dim={data_dim}, latent_dim={latent_dim}. Raise data_dim "
                             "or pass orthogonal=False.")
        rng = rng_from_seed(seed)
        gaussian = rng.standard_normal((data_dim, latent_dim))
        if orthogonal:
            q, _ = np.linalg.qr(gaussian)
            weights = q * np.linspace(0.5, 2.0, latent_dim)[rng.permutation(latent_dim)]
        else:
            weights = gaussian
        return cls(weights, rng.standard_normal(data_dim), noise_std)

    @property
    def data_dim(self) -> int:
        """``d``, the size of ``x``."""
        return self.weights.shape[0]

    @property
    def latent_dim(self) -> int:
        """``k``, the size of ``z``."""
        return self.weights.shape[1]

    # ----------------------------------------------------------------- sampling

    def sample(self, n: int, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` pairs from the joint ``p(z) p(x|z)``.

        Parameters
        ----------
        n : int
            Number of pairs.
        seed : int or None
            Seed for ``numpy.random.default_rng``.

        Returns
        -------
        x : ndarray, shape (n, data_dim)
        z : ndarray, shape (n, latent_dim)
        """
        rng = rng_from_seed(seed)
        z = rng.standard_normal((check_positive_int(n, "n"), self.latent_dim))
        noise = rng.standard_normal((z.shape[0], self.data_dim))
        return z @ self.weights.T + self.bias + self.noise_std * noise, z

    # -------------------------------------------------------------- exact parts

    def marginal(self) -> tuple[np.ndarray, np.ndarray]:
        """The distribution of ``x``: ``N(b, W W^T + sigma**2 I)``.

        Returns
        -------
        mean : ndarray, shape (data_dim,)
        covariance : ndarray, shape (data_dim, data_dim)
        """
        covariance = self.weights @ self.weights.T + self.noise_std**2 * np.eye(self.data_dim)
        return self.bias.copy(), covariance

    def log_evidence(self, x: ArrayLike) -> np.ndarray:
        """Exact ``log p(x)``, the log-density of the marginal at each row of ``x``.

        Parameters
        ----------
        x : array_like, shape (n, data_dim)

        Returns
        -------
        ndarray, shape (n,)
        """
        x = self._data(x)
        mean, covariance = self.marginal()
        chol = np.linalg.cholesky(covariance)
        whitened = np.linalg.solve(chol, (x - mean).T)  # (data_dim, n)
        log_det = 2.0 * np.sum(np.log(np.diag(chol)))
        return -0.5 * (np.sum(whitened**2, axis=0) + log_det + self.data_dim * LOG_2PI)

    def posterior(self, x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """The exact posterior ``p(z|x) = N(mean, covariance)``.

        ``covariance = (I + W^T W / sigma**2)^-1`` (the same for every ``x``) and
        ``mean = covariance W^T (x - b) / sigma**2``.

        Parameters
        ----------
        x : array_like, shape (n, data_dim)

        Returns
        -------
        mean : ndarray, shape (n, latent_dim)
        covariance : ndarray, shape (latent_dim, latent_dim)
        """
        x = self._data(x)
        variance = self.noise_std**2
        precision = np.eye(self.latent_dim) + self.weights.T @ self.weights / variance
        covariance = np.linalg.inv(precision)
        covariance = 0.5 * (covariance + covariance.T)
        mean = (x - self.bias) @ self.weights @ covariance / variance
        return mean, covariance

    def posterior_diagonal(self, x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """The exact posterior as a diagonal Gaussian ``q``: ``(mean, log_var)``.

        Only possible when the posterior covariance is diagonal (orthogonal columns of
        ``W``, the default of :meth:`random`). ``x`` is as in :meth:`posterior`.

        Returns
        -------
        mean : ndarray, shape (n, latent_dim)
            As in :meth:`posterior`.
        log_var : ndarray, shape (n, latent_dim)
            The same row repeated for every example.

        Raises
        ------
        ValueError
            If the posterior covariance is not diagonal.
        """
        mean, covariance = self.posterior(x)
        off_diagonal = covariance - np.diag(np.diag(covariance))
        if np.max(np.abs(off_diagonal)) > 1e-10 * np.max(np.abs(covariance)):
            raise ValueError("the posterior covariance must be diagonal (W with orthogonal "
                             "columns); got off-diagonal entries. Build the model with "
                             "LinearGaussianModel.random(..., orthogonal=True) or use "
                             "posterior() for the full covariance.")
        log_var = np.broadcast_to(np.log(np.diag(covariance)), mean.shape).copy()
        return mean, log_var

    # --------------------------------------------------------------------- ELBO

    def log_joint(self, x: ArrayLike, z: ArrayLike) -> np.ndarray:
        """``log p(x, z) = log p(x|z) + log p(z)``.

        Parameters
        ----------
        x : array_like, shape (n, data_dim)
        z : array_like, shape (n, latent_dim) or (n_samples, n, latent_dim)
            One code per row of ``x``, or several (leading sample axis).

        Returns
        -------
        ndarray, shape (n,) or (n_samples, n)
        """
        x = self._data(x)
        z = check_float_array(z, "z", ndim=3 if np.ndim(z) == 3 else 2)
        if z.shape[-2:] != (x.shape[0], self.latent_dim):
            raise ValueError(f"z must have shape (..., {x.shape[0]}, {self.latent_dim}); "
                             f"got shape {z.shape}. Pass one code per row of x.")
        variance = self.noise_std**2
        residual = x - (z @ self.weights.T + self.bias)
        log_likelihood = -0.5 * (np.sum(residual**2, axis=-1) / variance
                                 + self.data_dim * (LOG_2PI + math.log(variance)))
        log_prior = -0.5 * (np.sum(z**2, axis=-1) + self.latent_dim * LOG_2PI)
        return log_likelihood + log_prior

    def elbo(self, x: ArrayLike, q_mean: ArrayLike, q_log_var: ArrayLike) -> np.ndarray:
        """Closed-form ELBO of ``q(z|x) = N(q_mean, diag(exp(q_log_var)))``.

        ``ELBO = E_q[log p(x|z)] - KL(q || N(0, I))`` with
        ``E_q[log p(x|z)] = -(|x - W m - b|**2 + sum_j v_j |W[:, j]|**2) / (2 sigma**2)
        - (d / 2) log(2 pi sigma**2)``, where ``v = exp(q_log_var)``.

        Parameters
        ----------
        x : array_like, shape (n, data_dim)
        q_mean, q_log_var : array_like, shape (n, latent_dim)

        Returns
        -------
        ndarray, shape (n,)
        """
        x, q_mean, q_log_var = self._data_and_q(x, q_mean, q_log_var)
        variance = self.noise_std**2
        q_var = np.exp(q_log_var)
        residual = x - (q_mean @ self.weights.T + self.bias)
        spread = q_var @ np.sum(self.weights**2, axis=0)  # tr(W diag(v) W^T)
        expected_log_likelihood = -0.5 * ((np.sum(residual**2, axis=-1) + spread) / variance
                                          + self.data_dim * (LOG_2PI + math.log(variance)))
        kl_to_prior = 0.5 * np.sum(q_mean**2 + q_var - 1.0 - q_log_var, axis=-1)
        return expected_log_likelihood - kl_to_prior

    def elbo_monte_carlo(self, x: ArrayLike, q_mean: ArrayLike, q_log_var: ArrayLike,
                         n_samples: int = 1000,
                         seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
        """Monte Carlo ELBO: the mean of ``log p(x, z) - log q(z|x)`` over ``z ~ q``.

        Samples are reparameterized: ``z = q_mean + exp(0.5 * q_log_var) * eps``.

        Parameters
        ----------
        x : array_like, shape (n, data_dim)
        q_mean, q_log_var : array_like, shape (n, latent_dim)
        n_samples : int
            Samples per example, at least 2.
        seed : int or None
            Seed for ``numpy.random.default_rng``.

        Returns
        -------
        estimate : ndarray, shape (n,)
        standard_error : ndarray, shape (n,)
        """
        x, q_mean, q_log_var = self._data_and_q(x, q_mean, q_log_var)
        n_samples = check_positive_int(n_samples, "n_samples", minimum=2)
        eps = rng_from_seed(seed).standard_normal((n_samples, *q_mean.shape))
        z = q_mean + np.exp(0.5 * q_log_var) * eps
        log_q = -0.5 * np.sum(eps**2 + q_log_var + LOG_2PI, axis=-1)
        terms = self.log_joint(x, z) - log_q  # (n_samples, n)
        return terms.mean(axis=0), terms.std(axis=0, ddof=1) / math.sqrt(n_samples)

    # ------------------------------------------------- importance weights, gaps

    def log_importance_weights(self, x: ArrayLike, q_mean: ArrayLike, q_log_var: ArrayLike,
                               k: int, seed: int | None = 0) -> np.ndarray:
        """``k`` log importance weights ``log p(x, z_i) - log q(z_i|x)`` per row of ``x``.

        ``z_i = q_mean + exp(0.5 * q_log_var) * eps_i`` with ``eps_i ~ N(0, I)``. The mean
        of a row estimates the ELBO of ``q``; the log of the mean of its ``exp`` is the
        importance-weighted bound ``L_k`` (Burda et al., 2015), whose expectation tends to
        :meth:`log_evidence` as ``k`` grows.

        Parameters
        ----------
        x : array_like, shape (n, data_dim)
        q_mean, q_log_var : array_like, shape (n, latent_dim)
        k : int
            Samples per row.
        seed : int or None
            Seed for ``numpy.random.default_rng``.

        Returns
        -------
        ndarray, shape (n, k)
            In nats.
        """
        x, q_mean, q_log_var = self._data_and_q(x, q_mean, q_log_var)
        k = check_positive_int(k, "k")
        eps = rng_from_seed(seed).standard_normal((x.shape[0], k, self.latent_dim))
        eps = eps.transpose(1, 0, 2)
        z = q_mean + np.exp(0.5 * q_log_var) * eps          # (k, n, latent_dim)
        log_q = -0.5 * np.sum(eps**2 + q_log_var + LOG_2PI, axis=-1)
        return (self.log_joint(x, z) - log_q).T

    def best_diagonal_q(self, x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """The diagonal Gaussian ``q`` with the highest ELBO, for any ``W``.

        Minimising ``KL(q || p(z|x))`` over diagonal ``q`` against a Gaussian posterior
        with precision ``Lambda = I + W^T W / sigma**2`` gives the posterior mean and the
        variances ``1 / Lambda_jj`` (not the posterior's marginal variances, which are
        larger when ``W``'s columns are not orthogonal).

        Parameters
        ----------
        x : array_like, shape (n, data_dim)

        Returns
        -------
        mean, log_var : ndarray, shape (n, latent_dim)
        """
        mean, _ = self.posterior(x)
        log_var = -np.log(np.diag(self._posterior_precision()))
        return mean, np.broadcast_to(log_var, mean.shape).copy()

    def approximation_gap(self) -> float:
        """``log p(x) - ELBO(best diagonal q)``, the same for every ``x``, in nats.

        It is ``KL(q* || p(z|x)) = 0.5 * (sum_j log Lambda_jj - log det Lambda)``, zero
        exactly when the posterior precision ``Lambda`` is diagonal.

        Returns
        -------
        float
        """
        precision = self._posterior_precision()
        return float(0.5 * (np.sum(np.log(np.diag(precision))) - _log_det(precision)))

    def columnwise_encoder(self, x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """An amortised encoder that treats each latent dimension on its own.

        ``mean_j = w_j^T (x - b) / (sigma**2 + |w_j|**2)`` and
        ``var_j = sigma**2 / (sigma**2 + |w_j|**2)``: the exact posterior when the columns
        ``w_j`` of ``W`` are orthogonal, and a deliberately imperfect encoder otherwise
        (it ignores how the columns overlap), so it has an amortisation gap. Its
        argument and results are those of :meth:`best_diagonal_q`.
        """
        x = self._data(x)
        variance = self.noise_std**2
        norms = np.sum(self.weights**2, axis=0)
        mean = (x - self.bias) @ self.weights / (variance + norms)
        log_var = np.log(variance / (variance + norms))
        return mean, np.broadcast_to(log_var, mean.shape).copy()

    def _posterior_precision(self) -> np.ndarray:
        return np.eye(self.latent_dim) + self.weights.T @ self.weights / self.noise_std**2

    # ------------------------------------------------------------------ checks

    def _data(self, x: object) -> np.ndarray:
        x = check_float_array(x, "x", ndim=2)
        if x.shape[1] != self.data_dim:
            raise ValueError(f"x must have shape (n, {self.data_dim}); got shape {x.shape}. "
                             f"Pass rows of length data_dim={self.data_dim}.")
        return x

    def _data_and_q(self, x: object, q_mean: object,
                    q_log_var: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = self._data(x)
        q_mean = check_float_array(q_mean, "q_mean", ndim=2)
        q_log_var = check_float_array(q_log_var, "q_log_var", ndim=2)
        check_same_shape(q_mean, "q_mean", q_log_var, "q_log_var")
        if q_mean.shape != (x.shape[0], self.latent_dim):
            raise ValueError(f"q_mean must have shape ({x.shape[0]}, {self.latent_dim}); "
                             f"got shape {q_mean.shape}. Pass one row per row of x.")
        return x, q_mean, q_log_var

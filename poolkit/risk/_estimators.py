r"""Covariance estimators beyond the sample: semicovariance, structured shrinkage, denoising.

:func:`semicovariance` is public; the rest are the private engines behind the options of
:func:`poolkit.risk.covariance`: Ledoit-Wolf shrinkage towards the single-index target
(Ledoit & Wolf 2003) and the constant-correlation target (Ledoit & Wolf 2004), the
Marchenko-Pastur denoising of a correlation matrix by the constant-residual-eigenvalue
method and its detoning (López de Prado 2020, ch. 2). Every engine works on plain
arrays; the public functions check and label. scipy is imported inside the function that
needs it, so ``import poolkit.risk`` stays light.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from poolkit._numerics import (
    corr_to_cov,
    cov_to_corr,
    per_period_rate,
    portfolio_variance,
    resolve_periods_per_year,
)
from poolkit.exceptions import CovarianceError, DataError, ParameterError, PoolkitWarning
from poolkit.risk._common import _checked

#: Targets of Ledoit-Wolf shrinkage, the values of ``covariance(..., shrinkage_target=...)``.
SHRINKAGE_TARGETS = ("identity", "single_index", "constant_correlation")
#: Bandwidth of the Gaussian kernel density of the eigenvalues in the Marchenko-Pastur fit
#: (López de Prado 2020, snippet 2.4; skfolio and Riskfolio-Lib use the same).
MP_BANDWIDTH = 0.01
#: Points of the Marchenko-Pastur support where the two densities are compared (ibid.).
MP_POINTS = 1000


# --------------------------------------------------------------------------- semicovariance
def semicovariance(
    returns: pd.DataFrame,
    threshold: float = 0.0,
    *,
    annualize: bool = False,
    periods_per_year: float | None = None,
    nan_policy: str = "raise",
) -> pd.DataFrame:
    r"""Estimate the downside semicovariance matrix: co-movements below a threshold return.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic simple returns, indexed by date; columns are assets.
    threshold : float, default 0.0
        The benchmark return :math:`\tau` below which a return counts as downside, an
        **annual** rate converted per period as :math:`B = (1 + \tau)^{1/p} - 1` (the
        package's rule for rates; with 0, no ``periods_per_year`` is needed).
    annualize : bool, default False
        Multiply by ``periods_per_year`` (inferred from the dates when omitted).
    periods_per_year : float, optional
        Used to convert a non-zero ``threshold`` and with ``annualize=True``.
    nan_policy : {"raise", "drop"}, default "raise"
        ``"drop"`` keeps the dates where every asset is observed. ``"pairwise"`` is
        refused: it would lose the positive semi-definiteness.

    Returns
    -------
    DataFrame of shape (n_assets, n_assets)
        Index = columns = asset names, per period unless ``annualize=True``;
        ``attrs["threshold_per_period"]`` holds :math:`B`.

    Raises
    ------
    TypeError
        For a Series (one asset has a downside deviation, not a matrix).
    ParameterError
        For a threshold that is not an annual fraction (2 reads as 2 %), or
        ``nan_policy="pairwise"``.
    DataError, InsufficientDataError
        For NaNs (policy ``"raise"``) or fewer than two dates.

    Notes
    -----
    Markowitz's (1959) semivariance extended to pairs by Estrada (2007), with the
    divisor :math:`T` (every date counts, as in
    :func:`~poolkit.risk.downside_deviation`):

    .. math:: \Sigma^{-}_{ij} = \frac{1}{T} \sum_{t=1}^{T}
              \min(r_{it} - B, 0)\, \min(r_{jt} - B, 0)
              = \frac{1}{T} D^\top D, \qquad D_{ti} = \min(r_{ti} - B, 0) .

    As a Gram matrix :math:`D^\top D / T` it is positive semi-definite by construction,
    and its diagonal is the squared downside deviation per period,
    :math:`\Sigma^{-}_{ii} = DD_i^2` (``downside_deviation(returns, target=threshold,
    annualize=False) ** 2``). Returns are not demeaned: :math:`B` is the benchmark.
    PyPortfolioOpt's ``risk_models.semicovariance(returns, returns_data=True,
    benchmark=B, frequency=p)`` is the same matrix times :math:`p` (it annualises by
    default, with :math:`B = 1.02^{1/252} - 1`, poolkit's ``threshold=0.02`` on daily data).

    References
    ----------
    .. [1] Markowitz, H. M. (1959). *Portfolio Selection: Efficient Diversification of
       Investments*, Wiley, ch. IX.
    .. [2] Estrada, J. (2007). Mean-semivariance behavior: downside risk and capital
       asset pricing. Int. Rev. Econ. Finance 16(2), 169-185.

    Examples
    --------
    >>> r = pd.DataFrame({"A": [0.01, -0.02, 0.03, -0.01], "B": [-0.01, -0.01, 0.02, 0.0]})
    >>> (semicovariance(r) * 1e4).round(6).values.tolist()  # (0.02^2 + 0.01^2) / 4 = 1.25e-4 ...
    [[1.25, 0.5], [0.5, 0.5]]
    """
    if isinstance(returns, pd.Series):
        raise TypeError(
            "`returns` must be a DataFrame of dates x assets to estimate a semicovariance matrix; "
            "for one asset use poolkit.risk.downside_deviation."
        )
    if nan_policy == "pairwise":
        raise ParameterError(
            "nan_policy='pairwise' is not supported by semicovariance (the matrix would not be positive "
            "semi-definite); use nan_policy='drop' to keep the dates where every asset is observed."
        )
    frame, _ = _checked(returns, min_obs=2, nan_policy=nan_policy)
    bench = per_period_rate(threshold, periods_per_year, frame.index, name="threshold")
    low = np.minimum(frame.to_numpy() - bench, 0.0)
    mat = (low.T @ low) / low.shape[0]
    mat = (mat + mat.T) / 2.0
    if annualize:
        mat = mat * resolve_periods_per_year(periods_per_year, frame.index)
    out = pd.DataFrame(mat, index=frame.columns.copy(), columns=frame.columns.copy())
    out.attrs.update({"method": "semicovariance", "threshold_per_period": bench})
    return out


# --------------------------------------------------------------------------- Ledoit-Wolf targets
def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    r"""Return the demeaned data, their ``ddof=0`` covariance, the squares, and Ledoit-Wolf's :math:`\hat\pi`.

    :math:`\hat\pi = \sum_{ij} \frac{1}{T}\sum_t (x_{it} x_{jt} - s_{ij})^2
    = \frac{1}{T}\sum_t (\sum_i x_{it}^2)^2 - \sum_{ij} s_{ij}^2` (one pass over the data).
    """
    t = x.shape[0]
    xc = x - x.mean(axis=0)
    s = (xc.T @ xc) / t
    s = (s + s.T) / 2.0
    sq = xc * xc
    pi = float(np.square(sq.sum(axis=1)).sum()) / t - float(np.square(s).sum())
    return xc, s, sq, pi


def _intensity(pi: float, rho: float, gamma: float, t: int, scale: float) -> float:
    r"""Ledoit-Wolf intensity :math:`\max(0, \min(1, \hat\kappa / T))`, :math:`\hat\kappa = (\hat\pi - \hat\rho)/\hat\gamma`.

    A target equal to the sample (:math:`\hat\gamma = 0`, e.g. one asset, or two assets
    for the constant correlation) leaves nothing to shrink: intensity 0.
    """
    if gamma <= 1e-28 * max(scale, 1e-300):
        return 0.0
    return float(min(1.0, max(0.0, (pi - rho) / gamma / t)))


def _ledoit_wolf_single_index(x: np.ndarray) -> tuple[np.ndarray, float]:
    r"""Shrinkage towards the single-index (market-model) covariance (Ledoit & Wolf 2003).

    The market is the equal-weighted average of the assets' (demeaned) returns, as in the
    authors' published code ``covMarket.m`` and PyPortfolioOpt. Every term of
    :math:`\hat\rho` is a sum over dates of products already at hand, so after the one
    matrix product :math:`X^\top X` the intensity costs :math:`O(TN)`.
    """
    t, n = x.shape
    xc, s, sq, pi = _moments(x)
    m = xc.mean(axis=1)
    s00 = float(m @ m) / t
    if n == 1:
        return s, 0.0
    if s00 <= 0.0:
        raise DataError(
            "The single-index target is undefined: the equal-weighted market of these assets is constant "
            "(zero variance). Use shrinkage_target='identity' or 'constant_correlation'."
        )
    s0 = (xc.T @ m) / t  # covariance of each asset with the market
    var = np.diag(s).copy()
    f = np.outer(s0, s0) / s00
    np.fill_diagonal(f, var)
    # rho = sum_i pi_ii + sum_{i != j} (1/T) sum_t r_ijt  (Ledoit & Wolf 2003, appendix B)
    rho_diag = float(np.square(sq).sum()) / t - float(np.square(var).sum())
    xs0 = xc @ s0
    cube_s0 = (sq * xc) @ s0
    a_all = float(np.sum(sq.sum(axis=1) * m * xs0)) / t  # sum_ij A_ij s_j0, A_ij = E[x_i^2 x_j m]
    a_diag = float(np.sum(m * cube_s0)) / t
    b_all = float(np.sum(m * m * xs0 * xs0)) / t  # sum_ij B_ij s_i0 s_j0, B_ij = E[m^2 x_i x_j]
    b_diag = float(np.sum(m * m * (sq @ (s0 * s0)))) / t
    sss = float(portfolio_variance(s0, s)) - float(np.sum(s0 * s0 * var))  # sum_{i != j} s_i0 s_j0 s_ij
    roff1 = (a_all - a_diag) / s00 - sss / s00
    roff3 = (b_all - b_diag) / s00**2 - sss / s00
    rho = rho_diag + 2.0 * roff1 - roff3
    gamma = float(np.square(f - s).sum())
    shrink = _intensity(pi, rho, gamma, t, float(np.square(s).sum()))
    return shrink * f + (1.0 - shrink) * s, shrink


def _ledoit_wolf_constant_correlation(x: np.ndarray, columns: pd.Index) -> tuple[np.ndarray, float]:
    r"""Shrinkage towards the constant-correlation covariance (Ledoit & Wolf 2004, "Honey").

    Same divisor :math:`T` everywhere, as the authors' published code ``covCor.m``.
    """
    t, n = x.shape
    xc, s, sq, pi = _moments(x)
    if n == 1:
        return s, 0.0
    var = np.diag(s).copy()
    const = (np.ptp(x, axis=0) == 0) | (var <= 0)
    if const.any():
        names = columns[const].tolist()
        raise DataError(
            f"The constant-correlation target is undefined for {names[:5]}: constant returns have no "
            f"correlation. Drop constant columns first."
        )
    sd, corr = cov_to_corr(s)
    r_bar = (float(corr.sum()) - n) / (n * (n - 1))  # the average correlation
    f = corr_to_cov(sd, np.full((n, n), r_bar))
    np.fill_diagonal(f, var)
    fourth = float(np.square(sq).sum()) / t
    pi_diag = fourth - float(np.square(var).sum())
    # sum_{i != j} sqrt(s_jj / s_ii) theta_ii,ij with theta_ii,ij = E[x_i^3 x_j] - s_ii s_ij
    c_all = float(np.sum(((sq * xc) @ (1.0 / sd)) * (xc @ sd))) / t
    theta = (c_all - fourth) - (float(portfolio_variance(sd, s)) - float(np.square(var).sum()))
    rho = pi_diag + r_bar * theta
    gamma = float(np.square(f - s).sum())
    shrink = _intensity(pi, rho, gamma, t, float(np.square(s).sum()))
    return shrink * f + (1.0 - shrink) * s, shrink


# --------------------------------------------------------------------------- denoising, detoning
def _ewma_effective_obs(n: int, halflife: float) -> float:
    r"""Kish's effective number of observations of EWMA weights, :math:`(\sum w)^2 / \sum w^2`.

    With :math:`w_t = \lambda^{n-t}`: :math:`\frac{(1 - \lambda^n)(1 + \lambda)}{(1 - \lambda)(1 + \lambda^n)}`.
    """
    lam = 0.5 ** (1.0 / halflife)
    ln = lam**n
    return float((1.0 - ln) * (1.0 + lam) / ((1.0 - lam) * (1.0 + ln)))


def _sorted_eigh(mat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues in decreasing order and their eigenvectors (columns)."""
    vals, vecs = np.linalg.eigh(mat)
    return vals[::-1], vecs[:, ::-1]


def _marchenko_pastur_pdf(var: float, q: float, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate the Marchenko-Pastur density on ``points`` equally spaced points of its support."""
    root = math.sqrt(1.0 / q)
    lo, hi = var * (1.0 - root) ** 2, var * (1.0 + root) ** 2
    grid = np.linspace(lo, hi, points)
    with np.errstate(divide="ignore", invalid="ignore"):
        pdf = q / (2.0 * np.pi * var * grid) * np.sqrt(np.maximum((hi - grid) * (grid - lo), 0.0))
    return grid, np.nan_to_num(pdf, nan=0.0, posinf=0.0)


def _gaussian_kde(obs: np.ndarray, grid: np.ndarray, bandwidth: float) -> np.ndarray:
    r"""Gaussian kernel density of ``obs`` at the points of an equally spaced ``grid``.

    :math:`\hat f(g) = \frac{1}{n h \sqrt{2\pi}} \sum_i e^{-(g - e_i)^2 / 2h^2}`. Each
    observation adds its kernel to the grid points within :math:`9h` of it (beyond,
    :math:`e^{-40.5} < 10^{-17}` of the kernel's peak), in one ``bincount``: the cost is
    :math:`O(n \cdot 18h / \Delta g)` instead of :math:`O(n \cdot \text{points})`.
    """
    norm = 1.0 / (bandwidth * math.sqrt(2.0 * math.pi) * obs.size)
    points = grid.size
    step = (grid[-1] - grid[0]) / (points - 1) if points > 1 else 0.0
    reach = 9.0 * bandwidth
    half = int(math.ceil(reach / step)) if step > 0 else points
    if 2 * half + 2 >= points:
        z = (grid[:, None] - obs[None, :]) / bandwidth
        return np.asarray(norm * np.exp(-0.5 * z * z).sum(axis=1))
    near = (obs >= grid[0] - reach - step) & (obs <= grid[-1] + reach + step)
    o = obs[near]
    first = np.floor((o - reach - grid[0]) / step).astype(np.int64)
    idx = first[:, None] + np.arange(2 * half + 3)[None, :]
    inside = (idx >= 0) & (idx < points)
    idx = np.clip(idx, 0, points - 1)
    z = (grid[idx] - o[:, None]) / bandwidth
    w = np.where(inside & (np.abs(z) <= 9.0), np.exp(-0.5 * z * z), 0.0)
    return np.bincount(idx.ravel(), weights=w.ravel(), minlength=points) * norm


def _fit_marchenko_pastur(
    eigenvalues: np.ndarray, q: float, bandwidth: float = MP_BANDWIDTH, points: int = MP_POINTS
) -> tuple[float, bool]:
    r"""Fit the noise variance :math:`\sigma^2` of the Marchenko-Pastur law to correlation eigenvalues.

    López de Prado (2020), snippets 2.2-2.4: minimise over :math:`\sigma^2 \in [10^{-5}, 1 - 10^{-5}]`,
    from 0.5 (L-BFGS-B), the sum of squared differences between the Marchenko-Pastur density and
    a Gaussian kernel density estimate (bandwidth 0.01) of the eigenvalues, both evaluated on
    1000 points of the law's support. Returns ``(sigma2, converged)``; the book uses
    :math:`\sigma^2 = 1` when the optimiser fails.
    """
    from scipy.optimize import minimize

    e = np.asarray(eigenvalues, dtype="float64")

    def sse(v: np.ndarray) -> float:
        grid, mp = _marchenko_pastur_pdf(float(v[0]), q, points)
        return float(np.square(_gaussian_kde(e, grid, bandwidth) - mp).sum())

    res = minimize(sse, np.array([0.5]), bounds=((1e-5, 1.0 - 1e-5),))
    if res.success:
        return float(res.x[0]), True
    return 1.0, False


def _denoise_correlation(corr: np.ndarray, q: float) -> tuple[np.ndarray, dict[str, float]]:
    r"""Constant-residual-eigenvalue denoising of a correlation matrix (López de Prado 2020, §2.5).

    Eigenvalues at or above :math:`\lambda_+ = \sigma^2 (1 + \sqrt{1/q})^2` are kept, the others
    replaced by their average (which keeps the trace), the matrix rebuilt from the same
    eigenvectors and re-scaled to a unit diagonal. Returns the matrix and what was fitted.
    """
    vals, vecs = _sorted_eigh(corr)
    var, converged = _fit_marchenko_pastur(vals, q)
    if not converged:
        warnings.warn(
            "The Marchenko-Pastur fit of the correlation eigenvalues did not converge; the noise "
            "variance is set to 1 (the pure-noise edge, as in López de Prado's code), which replaces "
            "the most eigenvalues. Check the result, or use a longer history.",
            PoolkitWarning,
            stacklevel=3,
        )
    lam_plus = var * (1.0 + math.sqrt(1.0 / q)) ** 2
    rebuilt, k = _constant_residual(vals, vecs, lam_plus)
    _, out = cov_to_corr(rebuilt)
    info = {"q": float(q), "noise_variance": var, "lambda_plus": lam_plus, "n_factors": k}
    return out, info


def _constant_residual(vals: np.ndarray, vecs: np.ndarray, lam_plus: float) -> tuple[np.ndarray, int]:
    r"""Rebuild :math:`W 	ilde\Lambda W^	op` with the eigenvalues below ``lam_plus`` set to their mean.

    ``vals`` are in decreasing order. Returns the matrix (before re-scaling to a unit
    diagonal: its eigenvalues at or above :math:`\lambda_+` and its trace are those of the
    input) and the number :math:`k` of eigenvalues kept.
    """
    n = vals.size
    k = n - int(np.searchsorted(vals[::-1], lam_plus))  # eigenvalues >= lambda_plus
    new = vals.copy()
    if k < n:
        new[k:] = vals[k:].sum() / (n - k)
    rebuilt = (vecs * new) @ vecs.T
    return (rebuilt + rebuilt.T) / 2.0, k


def _detone_correlation(corr: np.ndarray, n_components: int, columns: pd.Index) -> np.ndarray:
    r"""Remove the ``n_components`` largest principal components and re-scale to a unit diagonal.

    :math:`C_D = C - W_M \Lambda_M W_M^\top`, then :math:`C_D / \sqrt{\operatorname{diag} C_D
    \operatorname{diag} C_D^\top}` (López de Prado 2020, §2.6). The result is singular
    (rank :math:`N - k`).
    """
    vals, vecs = _sorted_eigh(corr)
    top = vecs[:, :n_components]
    rest = corr - (top * vals[:n_components]) @ top.T
    rest = (rest + rest.T) / 2.0
    diag = np.diag(rest)
    bad = diag <= 1e-12
    if bad.any():
        raise CovarianceError(
            f"Detoning leaves no variance to {columns[bad].tolist()[:5]}: the removed market "
            f"component(s) explain all of their variation. Detone fewer components or drop them."
        )
    _, out = cov_to_corr(rest)
    return out


def _check_detone(detone: object, n_assets: int) -> int:
    """Return the number of market components to remove: False/0 none, True 1, or an int below n."""
    if isinstance(detone, (bool, np.bool_)):
        k = int(detone)
    elif isinstance(detone, (int, np.integer)) and detone >= 0:
        k = int(detone)
    else:
        raise ParameterError(
            f"`detone` must be True/False or a number of market components to remove (1, 2, ...), "
            f"got {detone!r}."
        )
    if k and k >= n_assets:
        raise ParameterError(
            f"`detone={detone!r}` would remove {k} components of a {n_assets}-asset correlation matrix; "
            f"at least one must remain (detone fewer, or use more assets)."
        )
    return k


def _clean(
    mat: np.ndarray, *, denoise: bool, detone: int, n_obs: float, columns: pd.Index
) -> tuple[np.ndarray, dict[str, float] | None]:
    """Denoise and/or detone the correlation of ``mat``; keep its variances."""
    vols, corr = cov_to_corr(mat)
    info = None
    if denoise and mat.shape[0] > 1:
        corr, info = _denoise_correlation(corr, n_obs / mat.shape[0])
    if detone:
        corr = _detone_correlation(corr, detone, columns)
    out = corr_to_cov(vols, corr)
    return (out + out.T) / 2.0, info

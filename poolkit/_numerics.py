r"""Private formulas shared by risk, allocation and pooling, each implemented once.

One home per number: the portfolio variance :math:`w^\top \Sigma w` and what derives
from it (volatility, marginal risk, Euler risk contributions, the diversification
ratio), the conversion between covariances and correlations, the correlation
distance and the clustering tree built on it, and the two conventions every
annualised number depends on: what ``periods_per_year`` means
(:func:`resolve_periods_per_year`) and how an annual rate becomes a per-period one
(:func:`per_period_rate`). The public functions of :mod:`poolkit.risk`,
:mod:`poolkit.allocation` and :mod:`poolkit.pooling` check and label their inputs,
then call these on plain arrays.

Weights are arrays of shape ``(n_assets,)`` for one portfolio or ``(n_assets, k)``
for ``k`` portfolios side by side (one per column); a covariance is an
``(n_assets, n_assets)`` array. Per-portfolio results have shape ``()`` or ``(k,)``.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple, TypeGuard

import numpy as np
import pandas as pd

from poolkit.exceptions import ParameterError

__all__ = [
    "CORRELATION_DISTANCES",
    "DAYS_PER_YEAR",
    "EulerRisk",
    "PerPeriod",
    "Rate",
    "accrual_rates",
    "annual_rate",
    "asset_volatilities",
    "check_annual_rate",
    "corr_to_cov",
    "correlation_distance",
    "correlation_tree",
    "cov_to_corr",
    "diversification_ratio",
    "euler_risk",
    "linkage_tree",
    "per_period_rate",
    "portfolio_variance",
    "rate_text",
    "portfolio_volatility",
    "resolve_periods_per_year",
    "standalone_volatility",
    "variance_contributions",
    "year_fractions",
]

#: Correlation distances known to :func:`correlation_distance`.
CORRELATION_DISTANCES = ("correlation", "abs_correlation")


# --------------------------------------------------------------------------- portfolio variance
#: Weights whose largest size lies outside [1/WEIGHT_RESCALE, WEIGHT_RESCALE] are rescaled
#: before :math:`w^\top \Sigma w` is formed, so the product cannot overflow or underflow.
WEIGHT_RESCALE = 1e100


def _weight_scale(weights: np.ndarray) -> np.ndarray:
    """Largest size of each portfolio's weights when it is extreme (else 1): shape () or (k,)."""
    w = np.asarray(weights, dtype="float64")
    big = np.max(np.abs(w), axis=0) if w.size else np.asarray(1.0)
    extreme = (big > WEIGHT_RESCALE) | ((big > 0) & (big < 1.0 / WEIGHT_RESCALE))
    return np.asarray(np.where(extreme, big, 1.0))


def _sigma_w(weights: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Return :math:`(\Sigma w,\; w \odot \Sigma w)`: the one product every portfolio formula uses."""
    w = np.asarray(weights, dtype="float64")
    sw = np.asarray(cov, dtype="float64") @ w
    return sw, w * sw


def variance_contributions(weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    r"""Split the portfolio variance into one term per asset, :math:`c_i = w_i (\Sigma w)_i`.

    Parameters
    ----------
    weights : ndarray of shape (n_assets,) or (n_assets, k)
        Holdings of one portfolio, or of ``k`` portfolios (one per column).
    cov : ndarray of shape (n_assets, n_assets)
        Covariance of asset returns.

    Returns
    -------
    ndarray
        Same shape as ``weights``; each column sums to :math:`w^\top \Sigma w`.

    Notes
    -----
    .. math:: c_i = w_i (\Sigma w)_i = \sum_j w_i w_j \Sigma_{ij}, \qquad
              \sum_i c_i = w^\top \Sigma w = \sigma_P^2 .

    References
    ----------
    .. [1] Markowitz, H. (1952). Portfolio selection. J. Finance 7(1), 77-91.

    Examples
    --------
    >>> cov = np.array([[0.04, 0.0], [0.0, 0.01]])
    >>> variance_contributions(np.array([0.5, 0.5]), cov).tolist()  # 0.25 * 0.04, 0.25 * 0.01
    [0.01, 0.0025]
    """
    return _sigma_w(weights, cov)[1]


def portfolio_variance(weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    r"""Variance of portfolios, :math:`\sigma_P^2 = w^\top \Sigma w`.

    Parameters
    ----------
    weights : ndarray of shape (n_assets,) or (n_assets, k)
        Holdings of one portfolio, or of ``k`` portfolios (one per column).
    cov : ndarray of shape (n_assets, n_assets)
        Covariance of asset returns, in the period unit wanted for the variance.

    Returns
    -------
    ndarray of shape () or (k,)
        :math:`w^\top \Sigma w` of each portfolio (``float(...)`` for one portfolio).

    Notes
    -----
    .. math:: \sigma_P^2 = w^\top \Sigma w = \sum_i \sum_j w_i w_j \rho_{ij} \sigma_i \sigma_j ,

    the sum of :func:`variance_contributions`.

    References
    ----------
    .. [1] Markowitz, H. (1952). Portfolio selection. J. Finance 7(1), 77-91.

    Examples
    --------
    >>> cov = np.array([[0.04, 0.0], [0.0, 0.04]])
    >>> float(portfolio_variance(np.array([0.5, 0.5]), cov))  # two uncorrelated 20 % assets
    0.02
    """
    return np.asarray(variance_contributions(weights, cov).sum(axis=0))


def portfolio_volatility(weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    r"""Volatility of portfolios, :math:`\sigma_P = \sqrt{w^\top \Sigma w}`.

    Parameters
    ----------
    weights : ndarray of shape (n_assets,) or (n_assets, k)
        Holdings of one portfolio, or of ``k`` portfolios (one per column).
    cov : ndarray of shape (n_assets, n_assets)
        Covariance of asset returns.

    Returns
    -------
    ndarray of shape () or (k,)
        :math:`\sigma_P`, in the units of ``cov``'s square root. A variance that rounding
        makes slightly negative (a PSD matrix within tolerance) counts as 0.

    Notes
    -----
    .. math:: \sigma_P = \sqrt{\max(w^\top \Sigma w, 0)} \le \sum_i |w_i| \sigma_i .

    References
    ----------
    .. [1] Markowitz, H. (1952). Portfolio selection. J. Finance 7(1), 77-91.

    Examples
    --------
    >>> cov = np.array([[0.04, 0.0], [0.0, 0.04]])
    >>> round(float(portfolio_volatility(np.array([0.5, 0.5]), cov)), 4)
    0.1414
    """
    w = np.asarray(weights, dtype="float64")
    scale = _weight_scale(w)  # sigma is homogeneous of degree 1: sigma(s w) = s sigma(w)
    return np.asarray(scale * np.sqrt(np.maximum(portfolio_variance(w / scale, cov), 0.0)))


class EulerRisk(NamedTuple):
    """Euler decomposition of portfolio volatility (see :func:`euler_risk`)."""

    volatility: np.ndarray
    marginal: np.ndarray
    contribution: np.ndarray
    share: np.ndarray


def euler_risk(weights: np.ndarray, cov: np.ndarray) -> EulerRisk:
    r"""Decompose portfolio volatility into marginal risks, risk contributions and their shares.

    Parameters
    ----------
    weights : ndarray of shape (n_assets,) or (n_assets, k)
        Holdings of one portfolio, or of ``k`` portfolios (one per column).
    cov : ndarray of shape (n_assets, n_assets)
        Covariance of asset returns.

    Returns
    -------
    EulerRisk
        ``volatility`` :math:`\sigma_P` (shape () or (k,)); ``marginal``
        :math:`\partial\sigma_P/\partial w_i`, ``contribution`` :math:`RC_i` (summing to
        :math:`\sigma_P`) and ``share`` :math:`RC_i/\sigma_P` (summing to 1; also the share
        of the variance), each shaped like ``weights``. Where :math:`\sigma_P = 0` they are
        undefined (inf or NaN): callers check ``volatility > 0`` and name the problem.

    Notes
    -----
    Volatility is homogeneous of degree one in the weights, so Euler's theorem splits it
    exactly:

    .. math:: \frac{\partial \sigma_P}{\partial w_i} = \frac{(\Sigma w)_i}{\sigma_P}, \qquad
              RC_i = w_i \frac{(\Sigma w)_i}{\sigma_P}, \qquad
              \sum_i RC_i = \sigma_P, \qquad
              \text{share}_i = \frac{RC_i}{\sigma_P} = \frac{w_i (\Sigma w)_i}{w^\top \Sigma w} .

    References
    ----------
    .. [1] Tasche, D. (1999). Risk contributions and performance measurement.
       Working paper, TU München.
    .. [2] Roncalli, T. (2013). *Introduction to Risk Parity and Budgeting*, ch. 2.

    Examples
    --------
    >>> cov = np.array([[0.04, 0.0], [0.0, 0.01]])
    >>> split = euler_risk(np.array([0.5, 0.5]), cov)
    >>> split.share.round(6).tolist()  # 0.01 and 0.0025 of a variance of 0.0125
    [0.8, 0.2]
    """
    w = np.asarray(weights, dtype="float64")
    scale = _weight_scale(w)  # extreme weights: split w / s, then scale sigma and RC back by s
    sw, c = _sigma_w(w / scale, cov)
    var = c.sum(axis=0)
    sigma = np.sqrt(np.maximum(var, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return EulerRisk(np.asarray(sigma * scale), sw / sigma, c / sigma * scale, c / var)


# --------------------------------------------------------------------------- diversification
def asset_volatilities(cov: np.ndarray) -> np.ndarray:
    r"""Volatility of each asset, :math:`\sigma_i = \sqrt{\Sigma_{ii}}` (a negative rounding error counts as 0).

    Examples
    --------
    >>> asset_volatilities(np.array([[0.04, 0.0], [0.0, 0.09]])).tolist()
    [0.2, 0.3]
    """
    return np.sqrt(np.clip(np.diag(np.asarray(cov, dtype="float64")), 0.0, None))


def standalone_volatility(weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    r"""Volatility a pool would have if nothing diversified, :math:`\sum_i |w_i| \sigma_i`.

    Parameters
    ----------
    weights : ndarray of shape (n_assets,) or (n_assets, k)
        Holdings of one portfolio, or of ``k`` portfolios (one per column).
    cov : ndarray of shape (n_assets, n_assets)
        Covariance of asset returns (only its diagonal is used).

    Returns
    -------
    ndarray of shape () or (k,)
        The weighted sum of the assets' volatilities: the pooled volatility when every
        correlation is 1.

    Examples
    --------
    >>> cov = np.array([[0.04, 0.0], [0.0, 0.09]])
    >>> round(float(standalone_volatility(np.array([0.5, -0.5]), cov)), 6)  # 0.5 * 0.2 + 0.5 * 0.3
    0.25
    """
    return np.asarray(np.abs(np.asarray(weights, dtype="float64")).T @ asset_volatilities(cov))


def diversification_ratio(weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    r"""Diversification ratio of portfolios: standalone risk over pooled risk.

    Parameters
    ----------
    weights : ndarray of shape (n_assets,) or (n_assets, k)
        Holdings of one portfolio, or of ``k`` portfolios (one per column).
    cov : ndarray of shape (n_assets, n_assets)
        Covariance of asset returns (any period unit: the ratio has none).

    Returns
    -------
    ndarray of shape () or (k,)
        :math:`DR \ge 1` for long-only pools; NaN where the pool has zero volatility
        (callers name that case).

    Notes
    -----
    .. math:: DR(w) = \frac{\sum_i |w_i| \sigma_i}{\sqrt{w^\top \Sigma w}} .

    For :math:`N` equal-volatility assets held equally with a common correlation
    :math:`\rho`, :math:`DR = 1/\sqrt{\rho + (1 - \rho)/N}`.

    References
    ----------
    .. [1] Choueifaty, Y. and Coignard, Y. (2008). Toward maximum diversification.
       J. Portfolio Management 35(1), 40-51.

    Examples
    --------
    >>> cov = np.array([[0.04, 0.0], [0.0, 0.04]])
    >>> round(float(diversification_ratio(np.array([0.5, 0.5]), cov)), 4)  # sqrt(2)
    1.4142
    """
    w = np.asarray(weights, dtype="float64")
    big = np.max(np.abs(w), axis=0) if w.size else np.asarray(1.0)
    w = w / np.where(big > 0, big, 1.0)  # the ratio has no unit: weights of any size give the same DR
    standalone = standalone_volatility(w, cov)
    pooled = portfolio_volatility(w, cov)
    return np.asarray(np.divide(standalone, pooled, out=np.full(np.shape(pooled), np.nan), where=pooled > 0))


# --------------------------------------------------------------------------- correlation
def cov_to_corr(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Split a covariance matrix into volatilities and correlations, :math:`\Sigma = D R D`.

    Parameters
    ----------
    cov : ndarray of shape (n_assets, n_assets)
        Covariance matrix.

    Returns
    -------
    vols : ndarray of shape (n_assets,)
        :math:`\sigma_i = \sqrt{\Sigma_{ii}}` (:func:`asset_volatilities`).
    corr : ndarray of shape (n_assets, n_assets)
        :math:`\rho_{ij} = \Sigma_{ij} / (\sigma_i \sigma_j)`, clipped to [-1, 1], ones on the
        diagonal; an asset with zero variance gets zero correlations (callers that need
        them defined refuse zero variances first).

    Notes
    -----
    .. math:: R = D^{-1} \Sigma D^{-1}, \qquad D = \operatorname{diag}(\sigma_1, \dots, \sigma_n) .

    Examples
    --------
    >>> vols, corr = cov_to_corr(np.array([[0.04, 0.006], [0.006, 0.01]]))
    >>> vols.tolist(), round(float(corr[0, 1]), 6)  # 0.006 / (0.2 * 0.1)
    ([0.2, 0.1], 0.3)
    """
    mat = np.asarray(cov, dtype="float64")
    vols = asset_volatilities(mat)
    inv = np.divide(1.0, vols, out=np.zeros_like(vols), where=vols > 0)
    corr = mat * inv[:, None] * inv[None, :]
    np.fill_diagonal(corr, 1.0)
    return vols, np.clip(corr, -1.0, 1.0)


def corr_to_cov(vols: np.ndarray, corr: np.ndarray) -> np.ndarray:
    r"""Build a covariance matrix from volatilities and correlations, :math:`\Sigma = D R D`.

    Notes
    -----
    .. math:: \Sigma_{ij} = \rho_{ij}\, \sigma_i \sigma_j .

    Examples
    --------
    >>> corr_to_cov(np.array([0.2, 0.1]), np.array([[1.0, 0.5], [0.5, 1.0]])).round(6).tolist()
    [[0.04, 0.01], [0.01, 0.01]]
    """
    v = np.asarray(vols, dtype="float64")
    return np.asarray(v[:, None] * np.asarray(corr, dtype="float64") * v[None, :])


def correlation_distance(corr: np.ndarray, kind: str = "correlation") -> np.ndarray:
    r"""Distance between assets from their correlations.

    Parameters
    ----------
    corr : ndarray of shape (n_assets, n_assets)
        Correlation matrix.
    kind : {"correlation", "abs_correlation"}, default "correlation"
        ``"correlation"``: :math:`d_{ij} = \sqrt{(1 - \rho_{ij})/2}`, in [0, 1] (0 for
        :math:`\rho = 1`, 1 for :math:`\rho = -1`); ``"abs_correlation"``:
        :math:`d_{ij} = \sqrt{1 - |\rho_{ij}|}`, which puts strongly negatively correlated
        assets close together.

    Returns
    -------
    ndarray of shape (n_assets, n_assets)
        Symmetric distances with a zero diagonal.

    Notes
    -----
    :math:`\sqrt{(1-\rho_{ij})/2}` is, up to a constant, the Euclidean distance between the
    standardised return series, so it is a metric and Ward's criterion is defined on it.

    References
    ----------
    .. [1] Mantegna, R. N. (1999). Hierarchical structure in financial markets.
       Eur. Phys. J. B 11, 193-197.

    Examples
    --------
    >>> correlation_distance(np.array([[1.0, -1.0], [-1.0, 1.0]])).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    rho = np.asarray(corr, dtype="float64")
    if kind == "correlation":
        d = np.sqrt(np.clip(0.5 * (1.0 - rho), 0.0, None))
    elif kind == "abs_correlation":
        d = np.sqrt(np.clip(1.0 - np.abs(rho), 0.0, None))
    else:
        raise ParameterError(f"`distance` must be one of {list(CORRELATION_DISTANCES)}, got {kind!r}.")
    np.fill_diagonal(d, 0.0)
    return d


def linkage_tree(dist: np.ndarray, method: str) -> np.ndarray:
    """Agglomerative clustering tree (scipy's linkage matrix) of a square distance matrix.

    Parameters
    ----------
    dist : ndarray of shape (n_assets, n_assets)
        Symmetric distances with a zero diagonal (e.g. :func:`correlation_distance`).
    method : str
        Linkage of :func:`scipy.cluster.hierarchy.linkage` ("single", "complete",
        "average", "weighted", "centroid", "median", "ward").

    Returns
    -------
    ndarray of shape (n_assets - 1, 4)
        The linkage matrix, leaves numbered in the order of ``dist``.

    Examples
    --------
    >>> d = correlation_distance(np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.0], [0.0, 0.0, 1.0]]))
    >>> linkage_tree(d, "single")[0, :2].tolist()  # the two correlated assets merge first
    [0.0, 1.0]
    """
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    return np.asarray(linkage(squareform(np.asarray(dist, dtype="float64"), checks=False), method=method))


def correlation_tree(
    corr: np.ndarray, method: str, kind: str = "correlation"
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(distance matrix, linkage matrix)`` of assets clustered by correlation distance.

    :func:`correlation_distance` of ``corr`` (``kind``) then :func:`linkage_tree` (``method``).

    Examples
    --------
    >>> dist, tree = correlation_tree(np.eye(3), "average")
    >>> tree.shape, round(float(dist[0, 1]), 6)  # uncorrelated: distance sqrt(1/2)
    ((2, 4), 0.707107)
    """
    dist = correlation_distance(corr, kind)
    return dist, linkage_tree(dist, method)


# --------------------------------------------------------------------------- periods and rates
def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def resolve_periods_per_year(
    periods_per_year: float | None, dates: pd.Index | None, *, why: str = "to annualise"
) -> float:
    r"""Return the periods per year :math:`p` of the inputs: the one rule behind every ``periods_per_year``.

    Every ``periods_per_year`` argument of poolkit means the number of periods of the
    inputs that make one year (252 daily trading days, 52 weekly, 12 monthly, 4
    quarterly, 1 annual) and is resolved here:

    - **given**: used as it is (any positive number, e.g. 365 for assets that trade every
      calendar day), even when dates would suggest another;
    - **None, inputs with dates** (returns): inferred from the spacing of the dates by
      :func:`poolkit.data.periods_per_year`; returns indexed by something other than
      dates are refused (:class:`~poolkit.exceptions.ParameterError` asking for it);
    - **None, inputs without dates** (expected returns and covariances, ``dates=None``):
      the inputs are taken as annual, :math:`p = 1`, the unit of every rate poolkit takes,
      so an annual ``risk_free`` is used as it is and nothing is annualised; per-period
      estimates (e.g. daily) need ``periods_per_year=252``.

    :math:`p` is asked for only where it is used: to annualise (a mean times :math:`p`, a
    volatility times :math:`\sqrt p`) or to turn a non-zero annual rate into a per-period
    one (:func:`per_period_rate`); a rate of 0 needs no :math:`p`.

    Parameters
    ----------
    periods_per_year : float or None
        The caller's argument.
    dates : Index or None
        The dates of the inputs (the index of the returns), or None for inputs that carry
        no dates (expected returns, covariance matrices).
    why : str, default "to annualise"
        What :math:`p` is needed for, quoted in the error message.

    Returns
    -------
    float
        :math:`p > 0`.

    Raises
    ------
    ParameterError
        If ``periods_per_year`` is not a positive finite number, or is None for returns
        that are not indexed by dates.
    InsufficientDataError, DataError
        From :func:`poolkit.data.periods_per_year` (fewer than two dates, mixed frequencies).

    Examples
    --------
    >>> resolve_periods_per_year(None, pd.date_range("2024-01-31", periods=6, freq="ME"))
    12.0
    >>> resolve_periods_per_year(None, None)  # expected returns / covariance: annual
    1.0
    >>> resolve_periods_per_year(52, None)
    52.0
    """
    if periods_per_year is not None:
        if not _is_number(periods_per_year) or not np.isfinite(periods_per_year) or periods_per_year <= 0:
            raise ParameterError(
                f"`periods_per_year` must be a positive number such as 252, got {periods_per_year!r}."
            )
        return float(periods_per_year)
    if dates is None:
        return 1.0
    if not isinstance(dates, pd.DatetimeIndex):
        raise ParameterError(
            f"`periods_per_year` is needed {why} but cannot be inferred because the returns are not "
            f"indexed by dates (index type {type(dates).__name__}); pass it explicitly, e.g. "
            f"periods_per_year=252 for daily returns, 12 for monthly."
        )
    from poolkit.data import periods_per_year as infer

    return float(infer(dates))


class PerPeriod:
    r"""A rate given per period of the inputs, used as it is: ``risk_free=PerPeriod(0.0001)``.

    Every rate argument of poolkit (``risk_free``, ``target``) is an annual fraction
    unless it is wrapped in ``PerPeriod``: then it is already the rate of one period of
    the returns (one day for daily returns, one month for monthly ones), and
    :func:`per_period_rate` returns it unchanged, with no ``periods_per_year`` needed.
    This replaces the ``periods_per_year=1`` trick, which also changes the annualisation.

    Parameters
    ----------
    rate : float
        The rate of one period as a fraction (0.0001 = 1 basis point a period), above -1.

    Raises
    ------
    ParameterError
        If ``rate`` is not a finite number above -1, or looks like a percentage (above 1).

    Examples
    --------
    >>> per_period_rate(PerPeriod(0.0001), None)  # one basis point a day, used as it is
    0.0001
    >>> PerPeriod(0.0001)
    PerPeriod(0.0001)
    """

    __slots__ = ("rate",)

    def __init__(self, rate: float) -> None:
        if isinstance(rate, PerPeriod):
            rate = rate.rate
        if not _is_number(rate) or not np.isfinite(rate):
            raise ParameterError(f"`PerPeriod` takes a per-period rate such as 0.0001, got {rate!r}.")
        value = float(rate)
        if value <= -1.0:
            raise ParameterError(f"`PerPeriod` rate must be above -1 (-100 %), got {rate!r}.")
        if value > 1.0:
            raise ParameterError(
                f"`PerPeriod` takes a rate as a fraction; got {rate!r}. Did you mean {value / 100:g} ({value:g} %)?"
            )
        self.rate = value

    def __repr__(self) -> str:
        return f"PerPeriod({self.rate:g})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PerPeriod) and other.rate == self.rate

    def __hash__(self) -> int:
        return hash(("PerPeriod", self.rate))


#: A rate argument: an annual fraction, or a :class:`PerPeriod` rate.
Rate = float | PerPeriod


def rate_text(rate: object) -> str:
    """Show a rate argument: ``0.02`` for an annual rate, ``PerPeriod(0.0001)`` for a per-period one."""
    return repr(rate) if isinstance(rate, PerPeriod) else f"{float(rate):g}"  # type: ignore[arg-type]


def check_annual_rate(rate: object, *, name: str = "risk_free") -> float:
    """Check an annual rate given as a fraction (0.02 = 2 %) and return it as a float.

    Raises
    ------
    ParameterError
        If ``rate`` is not a finite number, is at or below -1 (-100 %), or is above 1,
        which reads as a percentage: 2 gets "Did you mean 0.02 (2 %)?".

    Examples
    --------
    >>> check_annual_rate(0.02)
    0.02
    """
    if isinstance(rate, PerPeriod):
        raise ParameterError(
            f"`{name}` must be an annual rate here (nothing per period to convert it against), got {rate!r}."
        )
    if not _is_number(rate) or not np.isfinite(rate):
        raise ParameterError(f"`{name}` must be an annual rate such as 0.02 (2 %), got {rate!r}.")
    value = float(rate)
    if value <= -1.0:
        raise ParameterError(f"`{name}` must be an annual rate above -1 (-100 %), got {rate!r}.")
    if value > 1.0:
        raise ParameterError(
            f"`{name}` is an annual rate as a fraction; got {rate!r}. Did you mean {value / 100:g} ({value:g} %)?"
        )
    return value


def per_period_rate(
    rate: object,
    periods_per_year: float | None,
    dates: pd.Index | None = None,
    *,
    name: str = "risk_free",
) -> float:
    r"""Turn an annual rate into the rate of one period, compounding: :math:`(1 + r)^{1/p} - 1`.

    Every rate argument of poolkit (``risk_free``, ``target``) is an annual rate as a
    fraction and is converted here, with :math:`p` from :func:`resolve_periods_per_year`
    (``periods_per_year`` and ``dates`` mean what they mean there) — unless it is given
    per period, wrapped in :class:`PerPeriod`: then it is returned as it is.

    Parameters
    ----------
    rate : float or PerPeriod
        Annual rate, a fraction (0.02 = 2 %), checked by :func:`check_annual_rate`; or a
        :class:`PerPeriod` rate, used unchanged.
    periods_per_year : float or None
        Periods per year of the inputs, or None (see :func:`resolve_periods_per_year`).
    dates : Index, optional
        Dates of the returns, or None for inputs without dates (then None means annual).
    name : str, default "risk_free"
        Argument name used in messages.

    Returns
    -------
    float
        :math:`r^{(p)}`; 0 for a rate of 0 (no :math:`p` needed).

    Raises
    ------
    ParameterError
        For a rate that is not a fraction above -1 (a percentage gets "did you mean"), or
        when :math:`p` is needed and cannot be resolved.

    Notes
    -----
    .. math:: r^{(p)} = (1 + r)^{1/p} - 1, \qquad (1 + r^{(p)})^p = 1 + r ,

    so :math:`p` periods at :math:`r^{(p)}` compound to one year at :math:`r`
    (:func:`annual_rate` is the inverse).

    References
    ----------
    .. [1] Bacon, C. R. (2008). *Practical Portfolio Performance Measurement and
       Attribution*, 2nd ed., Wiley, ch. 2.

    Examples
    --------
    >>> round(per_period_rate(0.1, 12), 8)  # 10 % a year is 0.797 % a month
    0.00797414
    >>> per_period_rate(0.02, None)  # expected returns / covariance without dates: annual
    0.02
    >>> per_period_rate(PerPeriod(0.0001), 252)  # already per period: unchanged
    0.0001
    """
    if isinstance(rate, PerPeriod):
        return rate.rate
    value = check_annual_rate(rate, name=name)
    if value == 0.0:
        return 0.0
    p = resolve_periods_per_year(
        periods_per_year, dates, why=f"to turn the annual `{name}` into a per-period rate"
    )
    if p == 1.0:
        return value
    return float((1.0 + value) ** (1.0 / p) - 1.0)


def annual_rate(per_period: np.ndarray, periods_per_year: float) -> np.ndarray:
    r"""Compound per-period rates into annual ones, :math:`(1 + r^{(p)})^p - 1` (inverse of :func:`per_period_rate`).

    Examples
    --------
    >>> round(float(annual_rate(np.array(0.00797414), 12)), 6)
    0.1
    """
    return np.asarray(np.power(1.0 + np.asarray(per_period, dtype="float64"), periods_per_year) - 1.0)


# --------------------------------------------------------------------------- day count
#: Days per year of the actual/365 (fixed) day count used for fee accruals and XIRR.
DAYS_PER_YEAR = 365.0


def year_fractions(dates: pd.DatetimeIndex, start: pd.Timestamp) -> np.ndarray:
    r"""Return actual/365 year fractions :math:`(d_k - d_0) / 365` of ``dates`` from ``start``."""
    days = (dates - start) / pd.Timedelta(days=1)
    return np.asarray(days, dtype="float64") / DAYS_PER_YEAR


def accrual_rates(annual_rate: float, days: np.ndarray) -> np.ndarray:
    r"""Return per-period fee rates from an annual rate: simple accrual, actual/365.

    .. math:: m_t = a \, \frac{d_t - d_{t-1}}{365}

    The simple (pro rata temporis) convention of fund administrators: a fee of
    :math:`a` per year charged on a constant net asset value :math:`N` costs
    :math:`a N` over 365 days, whatever the valuation frequency.
    """
    return float(annual_rate) * np.asarray(days, dtype="float64") / DAYS_PER_YEAR

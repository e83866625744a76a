"""Tail losses: value at risk, conditional value at risk (expected shortfall), tail ratio."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import overload

import numpy as np
import pandas as pd

from poolkit._typing import DataFrameLike, SeriesLike
from poolkit._validation import check_choice, check_level
from poolkit.risk._common import _count, _mean, _prepare, _std, _undefined, _wrap
from poolkit.risk._moments import _central_moments, _kurt_from, _no_constant, _skew_from

VAR_METHODS = ("historical", "gaussian", "cornish_fisher")


def _hist_cut(n: np.ndarray, level: float) -> np.ndarray:
    """Count the worst returns averaged by historical CVaR: floor((n - 1)(1 - level)) + 1."""
    return np.floor((n - 1) * (1.0 - level) + 1e-12).astype(int) + 1


def _tail_mean_hist(x: np.ndarray, has_nan: bool, level: float) -> np.ndarray:
    """Mean of the k smallest returns per column (NaNs sort last)."""
    n = _count(x, has_nan)
    k = _hist_cut(n, level)
    if not has_nan:
        kk = int(k[0])
        part = np.partition(x, kk - 1, axis=0)[:kk]
        return part.mean(axis=0)
    xs = np.sort(x, axis=0)  # NaN last
    rows = np.arange(x.shape[0])[:, None]
    take = rows < k[None, :]
    return np.where(take, xs, 0.0).sum(axis=0) / k


def _normal_ppf(p: float) -> float:
    """Return the standard normal quantile (stdlib, Wichura's AS241, about 1e-16 relative)."""
    return NormalDist().inv_cdf(p)


def _normal_pdf(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _cornish_fisher_z(z: float, s: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Cornish-Fisher quantile of a standardised return with skewness s, excess kurtosis k."""
    return z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36


def _cornish_fisher_tail_mean(c: float, s: np.ndarray, k: np.ndarray) -> np.ndarray:
    r"""E[q(Z) | Z <= c] for the Cornish-Fisher polynomial q, from truncated normal moments."""
    phi, big_phi = _normal_pdf(c), NormalDist().cdf(c)
    m0 = big_phi  # int_{-inf}^c z^j phi(z) dz, j = 0..3
    m1 = -phi
    m2 = -c * phi + m0
    m3 = -(c**2 + 2.0) * phi
    # q(z) = a0 + a1 z + a2 z^2 + a3 z^3
    a0 = -s / 6
    a1 = 1 - 3 * k / 24 + 5 * s**2 / 36
    a2 = s / 6
    a3 = k / 24 - 2 * s**2 / 36
    return (a0 * m0 + a1 * m1 + a2 * m2 + a3 * m3) / big_phi


def _parametric_loss(
    mu: np.ndarray,
    sd: np.ndarray,
    level: float,
    want: str,
    s: np.ndarray | None = None,
    k: np.ndarray | None = None,
) -> np.ndarray:
    """Gaussian VaR/ES (``s is None``) or Cornish-Fisher with skewness ``s``, excess kurtosis ``k``."""
    z = _normal_ppf(1.0 - level)  # negative
    if s is None or k is None:
        if want == "var":
            return -(mu + sd * z)
        return -mu + sd * _normal_pdf(z) / (1.0 - level)
    zz = _cornish_fisher_z(z, s, k) if want == "var" else _cornish_fisher_tail_mean(z, s, k)
    return -(mu + sd * zz)


def _var_es(
    returns: object, level: float, method: str, nan_policy: str, *, want: str
) -> tuple[pd.DataFrame, bool, np.ndarray]:
    level = check_level(level)
    check_choice(method, VAR_METHODS, name="method")
    min_obs = {"historical": 2, "gaussian": 2, "cornish_fisher": 4}[method]
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=min_obs)
    if method == "historical":
        if want == "var":
            q = np.nanquantile(x, 1.0 - level, axis=0) if has_nan else np.quantile(x, 1.0 - level, axis=0)
            return frame, was_series, -q
        return frame, was_series, -_tail_mean_hist(x, has_nan, level)
    mu = _mean(x, has_nan)
    sd = _std(x, has_nan, 1)
    if method == "gaussian":
        return frame, was_series, _parametric_loss(mu, sd, level, want)
    n, m2, m3, m4 = _central_moments(x, has_nan)
    _no_constant(m2, frame, "The Cornish-Fisher VaR")
    s = _skew_from(n, m2, m3, False)
    k = _kurt_from(n, m2, m4, False)
    return frame, was_series, _parametric_loss(mu, sd, level, want, s, k)


@overload
def value_at_risk(
    returns: DataFrameLike,
    level: float = ...,
    method: str = ...,
    *,
    nan_policy: str = ...,
) -> pd.Series: ...


@overload
def value_at_risk(
    returns: SeriesLike,
    level: float = ...,
    method: str = ...,
    *,
    nan_policy: str = ...,
) -> float: ...


def value_at_risk(
    returns: pd.DataFrame | pd.Series,
    level: float = 0.95,
    method: str = "historical",
    *,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Value at risk: the loss not exceeded with probability ``level`` over one period.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    level : float, default 0.95
        Confidence level in (0.5, 1).
    method : {"historical", "gaussian", "cornish_fisher"}, default "historical"
        Empirical quantile, normal distribution, or normal corrected for skewness
        and kurtosis.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"value_at_risk"``: a positive loss per period (fraction
        of value).

    Raises
    ------
    ParameterError
        For a level outside (0.5, 1) (``95`` gets "did you mean 0.95?") or an unknown
        method.
    DataError, InsufficientDataError
        For NaNs (policy ``"raise"``) or too few observations.

    Notes
    -----
    Losses are **positive** numbers: a VaR of 0.03 means a loss of 3 % of value
    over one period (the returns' frequency; not annualised). With :math:`\alpha`
    = ``level`` and :math:`z_{\alpha} = \Phi^{-1}(\alpha)`:

    - historical: the empirical quantile (linear interpolation, as
      ``numpy.quantile``) :math:`VaR = -Q_{1-\alpha}(r)`; CVaR is the mean of the
      :math:`\lfloor (N-1)(1-\alpha) \rfloor + 1` worst returns (empyrical's rule);
    - gaussian: :math:`VaR = -\mu + \sigma z_\alpha`,
      :math:`CVaR = -\mu + \sigma\, \varphi(z_\alpha) / (1 - \alpha)`;
    - cornish_fisher: :math:`z_\alpha` is replaced by the Cornish-Fisher quantile
      :math:`\tilde z = z + (z^2 - 1)\frac{S}{6} + (z^3 - 3z)\frac{K}{24}
      - (2z^3 - 5z)\frac{S^2}{36}` (with :math:`z = z_{1-\alpha}`, sample skewness
      :math:`S` and excess kurtosis :math:`K`, ``bias=False``), and CVaR is the mean
      of that quantile over the tail, :math:`\frac{1}{1-\alpha}\int_\alpha^1 VaR_u\,du`,
      computed exactly from truncated normal moments. With :math:`S = K = 0` both
      equal the Gaussian values.

    :math:`\mu` and :math:`\sigma` (``ddof=1``) are per-period mean and volatility.

    References
    ----------
    .. [1] McNeil, A. J., Frey, R. & Embrechts, P. (2015). *Quantitative Risk
       Management*, rev. ed., Princeton, sections 2.3 and 2.2.4 (normal VaR and ES).
    .. [2] Zangari, P. (1996). A VaR methodology for portfolios that include options.
       RiskMetrics Monitor, Q1, 4-12 (Cornish-Fisher VaR).

    Examples
    --------
    >>> r = pd.Series([-0.05, -0.03, -0.01, 0.0, 0.01, 0.02, 0.03, 0.04, 0.05])
    >>> round(value_at_risk(r, level=0.875), 6)  # the 12.5 % quantile: 2nd worst
    0.03
    """
    frame, was_series, v = _var_es(returns, level, method, nan_policy, want="var")
    return _wrap(v, frame, was_series, "value_at_risk")


@overload
def conditional_value_at_risk(
    returns: DataFrameLike,
    level: float = ...,
    method: str = ...,
    *,
    nan_policy: str = ...,
) -> pd.Series: ...


@overload
def conditional_value_at_risk(
    returns: SeriesLike,
    level: float = ...,
    method: str = ...,
    *,
    nan_policy: str = ...,
) -> float: ...


def conditional_value_at_risk(
    returns: pd.DataFrame | pd.Series,
    level: float = 0.95,
    method: str = "historical",
    *,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Conditional value at risk (expected shortfall): the mean loss beyond the VaR.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    level : float, default 0.95
        Confidence level in (0.5, 1).
    method : {"historical", "gaussian", "cornish_fisher"}, default "historical"
        As in :func:`value_at_risk`.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"conditional_value_at_risk"``: a positive loss per period,
        never below the VaR of the same method and level.

    Raises
    ------
    ParameterError
        For a level outside (0.5, 1) or an unknown method.
    DataError, InsufficientDataError
        For NaNs (policy ``"raise"``) or too few observations.

    Notes
    -----
    Losses are **positive** numbers: a VaR of 0.03 means a loss of 3 % of value
    over one period (the returns' frequency; not annualised). With :math:`\alpha`
    = ``level`` and :math:`z_{\alpha} = \Phi^{-1}(\alpha)`:

    - historical: the empirical quantile (linear interpolation, as
      ``numpy.quantile``) :math:`VaR = -Q_{1-\alpha}(r)`; CVaR is the mean of the
      :math:`\lfloor (N-1)(1-\alpha) \rfloor + 1` worst returns (empyrical's rule);
    - gaussian: :math:`VaR = -\mu + \sigma z_\alpha`,
      :math:`CVaR = -\mu + \sigma\, \varphi(z_\alpha) / (1 - \alpha)`;
    - cornish_fisher: :math:`z_\alpha` is replaced by the Cornish-Fisher quantile
      :math:`\tilde z = z + (z^2 - 1)\frac{S}{6} + (z^3 - 3z)\frac{K}{24}
      - (2z^3 - 5z)\frac{S^2}{36}` (with :math:`z = z_{1-\alpha}`, sample skewness
      :math:`S` and excess kurtosis :math:`K`, ``bias=False``), and CVaR is the mean
      of that quantile over the tail, :math:`\frac{1}{1-\alpha}\int_\alpha^1 VaR_u\,du`,
      computed exactly from truncated normal moments. With :math:`S = K = 0` both
      equal the Gaussian values.

    :math:`\mu` and :math:`\sigma` (``ddof=1``) are per-period mean and volatility.

    References
    ----------
    .. [1] McNeil, A. J., Frey, R. & Embrechts, P. (2015). *Quantitative Risk
       Management*, rev. ed., Princeton, example 2.14 (ES of the normal).
    .. [2] Acerbi, C. & Tasche, D. (2002). On the coherence of expected shortfall.
       J. Banking & Finance 26(7), 1487-1503.

    Examples
    --------
    >>> r = pd.Series([-0.05, -0.03, -0.01, 0.0, 0.01, 0.02, 0.03, 0.04, 0.05])
    >>> round(conditional_value_at_risk(r, level=0.875), 6)  # mean of the 2 worst
    0.04
    """
    frame, was_series, v = _var_es(returns, level, method, nan_policy, want="es")
    return _wrap(v, frame, was_series, "conditional_value_at_risk")


@overload
def tail_ratio(returns: DataFrameLike, level: float = ..., *, nan_policy: str = ...) -> pd.Series: ...


@overload
def tail_ratio(returns: SeriesLike, level: float = ..., *, nan_policy: str = ...) -> float: ...


def tail_ratio(
    returns: pd.DataFrame | pd.Series, level: float = 0.95, *, nan_policy: str = "raise"
) -> pd.Series | float:
    r"""Tail ratio: size of the right tail over the size of the left tail.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    level : float, default 0.95
        Upper quantile; the lower one is ``1 - level``.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"tail_ratio"`` (above 1: big gains are larger than big losses).

    Raises
    ------
    DataError
        If the lower quantile is zero (the ratio is undefined).

    Notes
    -----
    .. math:: TR = \frac{|Q_{\alpha}(r)|}{|Q_{1-\alpha}(r)|}

    (empyrical's definition; quantiles by linear interpolation).

    References
    ----------
    .. [1] Konstantinov, G., Chorus, A. & Rebmann, J. (2020). A network and machine
       learning approach to factor, asset, and blended allocation. J. Portfolio
       Management 46(6) (tail ratio as reported by pyfolio).

    Examples
    --------
    >>> r = pd.Series([-0.02, -0.01, 0.0, 0.01, 0.04])
    >>> round(tail_ratio(r, level=0.75), 6)  # |0.01| / |-0.01|
    1.0
    """
    level = check_level(level)
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=2)
    qf = np.nanquantile if has_nan else np.quantile
    q = qf(x, [level, 1.0 - level], axis=0)
    low = np.abs(q[1])
    _undefined(
        low,
        low <= 0,
        frame,
        statistic="The tail ratio",
        why=f"the {1 - level:.0%} quantile of returns is zero",
        fix="Use a higher `level` or longer history.",
    )
    return _wrap(np.abs(q[0]) / low, frame, was_series, "tail_ratio")

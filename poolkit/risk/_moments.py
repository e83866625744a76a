"""Higher moments of returns: skewness and excess kurtosis."""

from __future__ import annotations

from typing import overload

import numpy as np
import pandas as pd

from poolkit._typing import DataFrameLike, SeriesLike
from poolkit.risk._common import _count, _mean, _prepare, _undefined, _wrap


def _central_moments(x: np.ndarray, has_nan: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (n, m2, m3, m4): counts and biased central moments per column."""
    n = _count(x, has_nan)
    d = x - _mean(x, has_nan)
    d2 = d * d
    if has_nan:
        m2 = np.nanmean(d2, axis=0)
        m3 = np.nanmean(d2 * d, axis=0)
        m4 = np.nanmean(d2 * d2, axis=0)
    else:
        m2, m3, m4 = d2.mean(axis=0), (d2 * d).mean(axis=0), (d2 * d2).mean(axis=0)
    return n, m2, m3, m4


def _skew_from(n: np.ndarray, m2: np.ndarray, m3: np.ndarray, bias: bool) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        g1 = m3 / m2**1.5
        if not bias:
            g1 = g1 * np.sqrt(n * (n - 1)) / (n - 2)
    return g1


def _kurt_from(n: np.ndarray, m2: np.ndarray, m4: np.ndarray, bias: bool) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        g2 = m4 / m2**2 - 3.0
        if not bias:
            g2 = ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3))
    return g2


def _no_constant(m2: np.ndarray, frame: pd.DataFrame, statistic: str) -> None:
    _undefined(
        m2,
        m2 <= 0,
        frame,
        statistic=statistic,
        why="the returns are constant (zero volatility)",
        fix="Drop constant columns first.",
    )


@overload
def skewness(returns: DataFrameLike, *, bias: bool = ..., nan_policy: str = ...) -> pd.Series: ...


@overload
def skewness(returns: SeriesLike, *, bias: bool = ..., nan_policy: str = ...) -> float: ...


def skewness(
    returns: pd.DataFrame | pd.Series, *, bias: bool = False, nan_policy: str = "raise"
) -> pd.Series | float:
    r"""Skewness of returns (asymmetry; negative = a longer left tail of losses).

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    bias : bool, default False
        False: the adjusted Fisher-Pearson estimator :math:`G_1` (pandas, Excel);
        True: the moment estimator :math:`g_1` (``scipy.stats.skew`` default).
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"skewness"`` (no unit).

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``) or a constant column (skewness undefined).
    InsufficientDataError
        With fewer than three observations.

    Notes
    -----
    .. math:: g_1 = \frac{m_3}{m_2^{3/2}}, \quad m_k = \frac{1}{N}\sum_t (r_t - \bar r)^k,
              \qquad G_1 = g_1 \frac{\sqrt{N(N-1)}}{N-2} .

    References
    ----------
    .. [1] Joanes, D. N. & Gill, C. A. (1998). Comparing measures of sample skewness
       and kurtosis. J. Royal Stat. Soc. D 47(1), 183-189.

    Examples
    --------
    >>> round(skewness(pd.Series([0.0, 0.0, 0.0, 0.04]), bias=True), 6)  # m3 / m2^1.5
    1.154701
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=3)
    n, m2, m3, _ = _central_moments(x, has_nan)
    _no_constant(m2, frame, "Skewness")
    return _wrap(_skew_from(n, m2, m3, bias), frame, was_series, "skewness")


@overload
def kurtosis(returns: DataFrameLike, *, bias: bool = ..., nan_policy: str = ...) -> pd.Series: ...


@overload
def kurtosis(returns: SeriesLike, *, bias: bool = ..., nan_policy: str = ...) -> float: ...


def kurtosis(
    returns: pd.DataFrame | pd.Series, *, bias: bool = False, nan_policy: str = "raise"
) -> pd.Series | float:
    r"""Excess kurtosis of returns (fat tails; 0 for a normal distribution).

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    bias : bool, default False
        False: the adjusted estimator :math:`G_2` (pandas, Excel); True: the moment
        estimator :math:`g_2` (``scipy.stats.kurtosis`` default).
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"kurtosis"`` (excess, no unit).

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``) or a constant column (kurtosis undefined).
    InsufficientDataError
        With fewer than four observations.

    Notes
    -----
    .. math:: g_2 = \frac{m_4}{m_2^2} - 3, \qquad
              G_2 = \frac{N-1}{(N-2)(N-3)} \left[(N+1) g_2 + 6\right] .

    References
    ----------
    .. [1] Joanes, D. N. & Gill, C. A. (1998). Comparing measures of sample skewness
       and kurtosis. J. Royal Stat. Soc. D 47(1), 183-189.

    Examples
    --------
    >>> round(kurtosis(pd.Series([-0.01, 0.01, -0.01, 0.01]), bias=True), 6)  # two-point law
    -2.0
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=4)
    n, m2, _, m4 = _central_moments(x, has_nan)
    _no_constant(m2, frame, "Kurtosis")
    return _wrap(_kurt_from(n, m2, m4, bias), frame, was_series, "kurtosis")

"""Risk-adjusted ratios: downside deviation, Sharpe, Sortino and Omega."""

from __future__ import annotations

import math
from typing import overload

import numpy as np
import pandas as pd

from poolkit._numerics import Rate, per_period_rate, resolve_periods_per_year
from poolkit._typing import DataFrameLike, SeriesLike
from poolkit.risk._common import (
    _check_ddof,
    _mean,
    _prepare,
    _std,
    _undefined,
    _wrap,
)


@overload
def downside_deviation(
    returns: DataFrameLike,
    target: Rate = ...,
    *,
    periods_per_year: float | None = ...,
    annualize: bool = ...,
    nan_policy: str = ...,
) -> pd.Series: ...


@overload
def downside_deviation(
    returns: SeriesLike,
    target: Rate = ...,
    *,
    periods_per_year: float | None = ...,
    annualize: bool = ...,
    nan_policy: str = ...,
) -> float: ...


def downside_deviation(
    returns: pd.DataFrame | pd.Series,
    target: Rate = 0.0,
    *,
    periods_per_year: float | None = None,
    annualize: bool = True,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Downside deviation: root mean square of returns below a target.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    target : float or PerPeriod, default 0.0
        Minimum acceptable return, an **annual** rate converted per period as
        :math:`(1 + \tau)^{1/p} - 1` (a :class:`PerPeriod` rate is used as it is).
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    annualize : bool, default True
        Multiply by :math:`\sqrt{p}`.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"downside_deviation"``; a fraction per year when annualised.

    Raises
    ------
    DataError, InsufficientDataError
        For NaNs (policy ``"raise"``) or fewer than two observations.

    Notes
    -----
    Every date counts in the mean (divisor :math:`N`, as in empyrical):

    .. math:: DD = \sqrt{\frac{1}{N}\sum_t \min(r_t - \tau_p, 0)^2}\; \sqrt{p} .

    References
    ----------
    .. [1] Sortino, F. A. & Price, L. N. (1994). Performance measurement in a downside
       risk framework. J. Investing 3(3), 59-64.

    Examples
    --------
    >>> r = pd.Series([0.02, -0.02, 0.01, -0.04])
    >>> round(downside_deviation(r, annualize=False), 6)  # sqrt((0.02^2 + 0.04^2) / 4)
    0.022361
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=2)
    t = per_period_rate(target, periods_per_year, frame.index, name="target")
    low = np.minimum(x - t, 0.0)
    dd = np.sqrt(_mean(low * low, has_nan))
    if annualize:
        dd = dd * math.sqrt(resolve_periods_per_year(periods_per_year, frame.index))
    return _wrap(dd, frame, was_series, "downside_deviation")


@overload
def sharpe_ratio(
    returns: DataFrameLike,
    risk_free: Rate = ...,
    *,
    periods_per_year: float | None = ...,
    annualize: bool = ...,
    ddof: int = ...,
    nan_policy: str = ...,
) -> pd.Series: ...


@overload
def sharpe_ratio(
    returns: SeriesLike,
    risk_free: Rate = ...,
    *,
    periods_per_year: float | None = ...,
    annualize: bool = ...,
    ddof: int = ...,
    nan_policy: str = ...,
) -> float: ...


def sharpe_ratio(
    returns: pd.DataFrame | pd.Series,
    risk_free: Rate = 0.0,
    *,
    periods_per_year: float | None = None,
    annualize: bool = True,
    ddof: int = 1,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Sharpe ratio: mean excess return per unit of volatility, annualised by :math:`\sqrt{p}`.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    risk_free : float or PerPeriod, default 0.0
        **Annual** risk-free rate, converted per period as :math:`(1 + r_f)^{1/p} - 1`; a
        rate wrapped in :class:`PerPeriod` is already per period and used as it is.
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    annualize : bool, default True
        Multiply the per-period ratio by :math:`\sqrt{p}`.
    ddof : {1, 0}, default 1
        Divisor of the standard deviation, as in :func:`volatility`.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"sharpe_ratio"`` (no unit; per year when annualised).

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``), or a constant column: with zero volatility the
        Sharpe ratio is undefined (not infinite).
    ParameterError
        For a risk-free rate that looks like a percentage (e.g. 2 instead of 0.02).

    Notes
    -----
    .. math:: SR = \frac{\overline{r - r_f^{(p)}}}{\sigma(r - r_f^{(p)})}\sqrt{p},
              \qquad r_f^{(p)} = (1 + r_f)^{1/p} - 1 .

    References
    ----------
    .. [1] Sharpe, W. F. (1994). The Sharpe ratio. J. Portfolio Management 21(1), 49-58.

    Examples
    --------
    >>> r = pd.Series([0.01, 0.03, 0.01, 0.03])
    >>> round(sharpe_ratio(r, annualize=False), 6)  # 0.02 / 0.011547
    1.732051
    """
    ddof = _check_ddof(ddof)
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=2)
    rf = per_period_rate(risk_free, periods_per_year, frame.index, name="risk_free")
    ex = x - rf if rf else x
    sd = _std(ex, has_nan, ddof)
    _undefined(
        sd,
        sd <= 0,
        frame,
        statistic="The Sharpe ratio",
        why="the returns are constant, so the volatility is zero and mean/volatility has no value",
        fix="Drop constant columns (e.g. cash) before computing ratios.",
    )
    sr = _mean(ex, has_nan) / sd
    if annualize:
        sr = sr * math.sqrt(resolve_periods_per_year(periods_per_year, frame.index))
    return _wrap(sr, frame, was_series, "sharpe_ratio")


@overload
def sortino_ratio(
    returns: DataFrameLike,
    target: Rate = ...,
    *,
    periods_per_year: float | None = ...,
    annualize: bool = ...,
    nan_policy: str = ...,
) -> pd.Series: ...


@overload
def sortino_ratio(
    returns: SeriesLike,
    target: Rate = ...,
    *,
    periods_per_year: float | None = ...,
    annualize: bool = ...,
    nan_policy: str = ...,
) -> float: ...


def sortino_ratio(
    returns: pd.DataFrame | pd.Series,
    target: Rate = 0.0,
    *,
    periods_per_year: float | None = None,
    annualize: bool = True,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Sortino ratio: mean return above a target per unit of downside deviation.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    target : float, default 0.0
        Minimum acceptable return (often the risk-free rate), an **annual** rate
        converted per period as :math:`(1 + \tau)^{1/p} - 1` (a :class:`PerPeriod`
        rate is used as it is).
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    annualize : bool, default True
        Multiply the per-period ratio by :math:`\sqrt{p}`.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"sortino_ratio"``.

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``), or an asset that never falls below the target
        (zero downside deviation: the ratio is undefined, not infinite).

    Notes
    -----
    .. math:: S = \frac{\overline{r - \tau_p}\; p}{DD(\tau)\sqrt{p}}
              = \frac{\overline{r - \tau_p}}{\sqrt{\tfrac{1}{N}\sum_t \min(r_t - \tau_p, 0)^2}}\sqrt{p}

    (the convention of empyrical's ``sortino_ratio``).

    References
    ----------
    .. [1] Sortino, F. A. & Price, L. N. (1994). Performance measurement in a downside
       risk framework. J. Investing 3(3), 59-64.

    Examples
    --------
    >>> r = pd.Series([0.02, -0.02, 0.03, -0.01])
    >>> round(sortino_ratio(r, annualize=False), 6)  # 0.005 / sqrt(0.0005 / 4)
    0.447214
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=2)
    t = per_period_rate(target, periods_per_year, frame.index, name="target")
    ex = x - t if t else x
    low = np.minimum(ex, 0.0)
    dd = np.sqrt(_mean(low * low, has_nan))
    _undefined(
        dd,
        dd <= 0,
        frame,
        statistic="The Sortino ratio",
        why="no return falls below the target, so the downside deviation is zero",
        fix="Use a longer history or a higher `target`.",
    )
    s = _mean(ex, has_nan) / dd
    if annualize:
        s = s * math.sqrt(resolve_periods_per_year(periods_per_year, frame.index))
    return _wrap(s, frame, was_series, "sortino_ratio")


@overload
def omega_ratio(
    returns: DataFrameLike,
    target: Rate = ...,
    *,
    periods_per_year: float | None = ...,
    nan_policy: str = ...,
) -> pd.Series: ...


@overload
def omega_ratio(
    returns: SeriesLike,
    target: Rate = ...,
    *,
    periods_per_year: float | None = ...,
    nan_policy: str = ...,
) -> float: ...


def omega_ratio(
    returns: pd.DataFrame | pd.Series,
    target: Rate = 0.0,
    *,
    periods_per_year: float | None = None,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Omega ratio: gains above a target divided by losses below it.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    target : float, default 0.0
        Threshold return, an **annual** rate converted per period as
        :math:`(1 + \tau)^{1/p} - 1` (as empyrical's ``required_return``); a
        :class:`PerPeriod` rate is used as it is.
    periods_per_year : float, optional
        Inferred from the dates when omitted (needed only for a non-zero target).
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"omega_ratio"`` (no unit; 1 = gains equal losses).

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``), or an asset with no return below the target
        (the ratio is undefined, not infinite).

    Notes
    -----
    .. math:: \Omega(\tau) = \frac{\sum_t \max(r_t - \tau_p, 0)}{\sum_t \max(\tau_p - r_t, 0)} .

    References
    ----------
    .. [1] Keating, C. & Shadwick, W. F. (2002). A universal performance measure.
       J. Performance Measurement 6(3), 59-84.

    Examples
    --------
    >>> round(omega_ratio(pd.Series([0.03, -0.01, 0.01, -0.02])), 6)  # 0.04 / 0.03
    1.333333
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=2)
    t = per_period_rate(target, periods_per_year, frame.index, name="target")
    ex = x - t if t else x
    if has_nan:
        ex = np.nan_to_num(ex, nan=0.0)
    up = np.maximum(ex, 0.0).sum(axis=0)
    down = np.maximum(-ex, 0.0).sum(axis=0)
    _undefined(
        down,
        down <= 0,
        frame,
        statistic="The Omega ratio",
        why="no return falls below the target, so the denominator is zero",
        fix="Use a longer history or a higher `target`.",
    )
    return _wrap(up / down, frame, was_series, "omega_ratio")

"""Compounded growth and drawdowns: CAGR, drawdown path, maximum drawdown, Calmar ratio."""

from __future__ import annotations

from typing import overload

import numpy as np
import pandas as pd

from poolkit._numerics import resolve_periods_per_year
from poolkit._typing import DataFrameLike, SeriesLike
from poolkit._validation import check_positive_int
from poolkit.exceptions import DataError
from poolkit.risk._common import _count, _prepare, _undefined, _wrap


def _path_values(x: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
    """Prepare returns for compounding: missing dates (pairwise) are flat; r < -1 is refused."""
    if np.isnan(x).any():
        x = np.nan_to_num(x, nan=0.0)
    if (x < -1.0).any():
        i, j = np.argwhere(x < -1.0)[0]
        raise DataError(
            f"`returns` column {frame.columns[j]!r} has a return of {x[i, j]:.4g} at {frame.index[i]!r}, "
            f"below -100 %; simple returns cannot fall below -1 (are these log returns or prices?)."
        )
    return x


def _drawdown_values(x: np.ndarray) -> np.ndarray:
    wealth = np.cumprod(1.0 + x, axis=0)
    peak = np.maximum(np.maximum.accumulate(wealth, axis=0), 1.0)  # the start (wealth 1) is a peak
    return wealth / peak - 1.0


def _cagr(xp: np.ndarray, n: np.ndarray, ppy: float) -> np.ndarray:
    """Compound annual growth of returns ``xp`` (from :func:`_path_values`) over ``n`` periods each."""
    final = np.prod(1.0 + xp, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(final > 0, np.power(np.maximum(final, 1e-300), ppy / n) - 1.0, -1.0)


@overload
def annual_return(
    returns: DataFrameLike,
    *,
    periods_per_year: float | None = ...,
    nan_policy: str = ...,
) -> pd.Series: ...


@overload
def annual_return(
    returns: SeriesLike,
    *,
    periods_per_year: float | None = ...,
    nan_policy: str = ...,
) -> float: ...


def annual_return(
    returns: pd.DataFrame | pd.Series,
    *,
    periods_per_year: float | None = None,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Compound annual growth rate (CAGR) of returns.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic simple returns, indexed by date; columns are assets.
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        ``"pairwise"`` compounds each asset over its observed dates.

    Returns
    -------
    Series or float
        Per asset, named ``"annual_return"``, a fraction per year (-1 after a total loss).

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``) or a return below -100 %.

    Notes
    -----
    .. math:: \text{CAGR} = \Big(\prod_{t=1}^{N} (1 + r_t)\Big)^{p/N} - 1 .

    References
    ----------
    .. [1] Bacon, C. R. (2008). *Practical Portfolio Performance Measurement and
       Attribution*, 2nd ed., Wiley, ch. 2.

    Examples
    --------
    >>> r = pd.Series([0.1, 0.1])
    >>> round(annual_return(r, periods_per_year=1), 6)
    0.1
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=1)
    ppy = resolve_periods_per_year(periods_per_year, frame.index)
    cagr = _cagr(_path_values(x, frame), _count(x, has_nan), ppy)
    return _wrap(cagr, frame, was_series, "annual_return")


@overload
def drawdowns(returns: DataFrameLike, *, nan_policy: str = ...) -> pd.DataFrame: ...


@overload
def drawdowns(returns: SeriesLike, *, nan_policy: str = ...) -> pd.Series: ...


def drawdowns(returns: pd.DataFrame | pd.Series, *, nan_policy: str = "raise") -> pd.DataFrame | pd.Series:
    r"""Drawdown path: how far the compounded value sits below its running peak.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic simple returns, indexed by date; columns are assets.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        ``"pairwise"`` treats an asset's missing dates as flat (no return).

    Returns
    -------
    DataFrame or Series
        Same index and columns as ``returns``; values in [-1, 0] (``-0.3`` = 30 %
        below the peak). The starting value 1 counts as a peak.

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``) or a return below -100 %.

    Notes
    -----
    .. math:: W_t = \prod_{s \le t} (1 + r_s), \qquad
              DD_t = \frac{W_t}{\max(1, \max_{s \le t} W_s)} - 1 .

    References
    ----------
    .. [1] Magdon-Ismail, M. & Atiya, A. (2004). Maximum drawdown. Risk 17(10), 99-102.

    Examples
    --------
    >>> drawdowns(pd.Series([0.1, -0.5, 0.2])).round(6).tolist()
    [0.0, -0.5, -0.4]
    """
    frame, was_series, x, _ = _prepare(returns, nan_policy=nan_policy, min_obs=1)
    dd = _drawdown_values(_path_values(x, frame))
    if was_series:
        return pd.Series(dd[:, 0], index=frame.index.copy(), name=frame.columns[0])
    out = pd.DataFrame(dd, index=frame.index.copy(), columns=frame.columns.copy())
    return out


@overload
def max_drawdown(returns: DataFrameLike, *, nan_policy: str = ...) -> pd.Series: ...


@overload
def max_drawdown(returns: SeriesLike, *, nan_policy: str = ...) -> float: ...


def max_drawdown(returns: pd.DataFrame | pd.Series, *, nan_policy: str = "raise") -> pd.Series | float:
    r"""Maximum drawdown: the worst fall from a peak, as a negative fraction.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic simple returns, indexed by date; columns are assets.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        ``"pairwise"`` treats an asset's missing dates as flat (no return).

    Returns
    -------
    Series or float
        Per asset, named ``"max_drawdown"``, in [-1, 0] (``-0.55`` = lost 55 % from
        the peak; the sign of empyrical and quantstats).

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``) or a return below -100 %.

    Notes
    -----
    .. math:: MDD = \min_t DD_t = \min_t \left(\frac{W_t}{\max_{s \le t} W_s} - 1\right).

    References
    ----------
    .. [1] Magdon-Ismail, M. & Atiya, A. (2004). Maximum drawdown. Risk 17(10), 99-102.

    Examples
    --------
    >>> round(max_drawdown(pd.Series([0.1, -0.5, 0.2])), 6)
    -0.5
    """
    frame, was_series, x, _ = _prepare(returns, nan_policy=nan_policy, min_obs=1)
    mdd = _drawdown_values(_path_values(x, frame)).min(axis=0)
    return _wrap(mdd, frame, was_series, "max_drawdown")


@overload
def calmar_ratio(
    returns: DataFrameLike,
    *,
    periods_per_year: float | None = ...,
    nan_policy: str = ...,
) -> pd.Series: ...


@overload
def calmar_ratio(
    returns: SeriesLike,
    *,
    periods_per_year: float | None = ...,
    nan_policy: str = ...,
) -> float: ...


def calmar_ratio(
    returns: pd.DataFrame | pd.Series,
    *,
    periods_per_year: float | None = None,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Calmar ratio: compound annual return divided by the size of the maximum drawdown.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic simple returns, indexed by date; columns are assets.
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"calmar_ratio"``.

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``), or an asset that never fell (zero drawdown:
        the ratio is undefined, not infinite).

    Notes
    -----
    .. math:: \text{Calmar} = \frac{\text{CAGR}}{|MDD|}

    over the whole sample (empyrical's convention; the original uses 36 months).

    References
    ----------
    .. [1] Young, T. W. (1991). Calmar ratio: a smoother tool. Futures 20(1), 40.

    Examples
    --------
    >>> r = pd.Series([0.5, -0.2, 0.1, 0.1])
    >>> round(calmar_ratio(r, periods_per_year=4), 6)  # CAGR 0.452 over |MDD| 0.2
    2.26
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=2)
    ppy = resolve_periods_per_year(periods_per_year, frame.index)
    xp = _path_values(x, frame)
    cagr = _cagr(xp, _count(x, has_nan), ppy)
    mdd = _drawdown_values(xp).min(axis=0)
    _undefined(
        mdd,
        mdd >= 0,
        frame,
        statistic="The Calmar ratio",
        why="the value never fell below a previous peak (maximum drawdown is zero)",
        fix="Use a longer history.",
    )
    return _wrap(cagr / np.abs(mdd), frame, was_series, "calmar_ratio")


def drawdown_table(returns: pd.Series | pd.DataFrame, top: int = 5) -> pd.DataFrame:
    r"""List the deepest drawdown episodes of one return series.

    Parameters
    ----------
    returns : Series or one-column DataFrame
        Periodic simple returns of one asset or pool, indexed by date.
    top : int, default 5
        How many episodes to list, deepest first.

    Returns
    -------
    DataFrame
        One row per episode (index ``1..top``) with columns ``"peak"`` (last date at
        the high; the first date if the fall starts at once), ``"trough"``,
        ``"recovery"`` (first date back at the peak; ``NaT`` if not yet recovered),
        ``"depth"`` (negative fraction), ``"to trough (periods)"``,
        ``"length (periods)"`` (peak to recovery, or to the last date) and
        ``"recovered"`` (bool).

    Raises
    ------
    DataError
        For NaNs, a return below -100 %, or several columns.
    ParameterError
        For ``top`` < 1.

    Notes
    -----
    An episode starts when the value :math:`W_t` falls below its running peak and
    ends when it regains it; its depth is :math:`\min_t W_t / \text{peak} - 1`.

    References
    ----------
    .. [1] Bacon, C. R. (2008). *Practical Portfolio Performance Measurement and
       Attribution*, 2nd ed., Wiley, ch. 4.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=5, freq="D")
    >>> t = drawdown_table(pd.Series([0.1, -0.5, 1.0, -0.1, 0.0], index=idx))
    >>> t[["depth", "recovered"]].round(6).values.tolist()
    [[-0.5, True], [-0.1, False]]
    """
    top = check_positive_int(top, name="top")
    frame, _, x, _ = _prepare(returns, nan_policy="raise", min_obs=1)
    if frame.shape[1] != 1:
        raise DataError(
            f"`drawdown_table` takes one return series, got {frame.shape[1]} columns; "
            f"pass returns['{frame.columns[0]}'] or a pool's returns."
        )
    dd = _drawdown_values(_path_values(x, frame))[:, 0]
    under = dd < 0
    cols = ["peak", "trough", "recovery", "depth", "to trough (periods)", "length (periods)", "recovered"]
    if not under.any():
        return pd.DataFrame(columns=cols).astype({"depth": "float64", "recovered": "bool"})
    # episode id: increments at each date where the series goes under water
    starts = under & ~np.r_[False, under[:-1]]
    ep = np.cumsum(starts)
    ep[~under] = 0
    ids = np.arange(1, int(ep.max()) + 1)
    start_pos = np.flatnonzero(starts)
    # trough of each episode: sort by (episode, drawdown) and take each episode's first row
    order = np.lexsort((dd, ep))
    trough_pos = order[np.searchsorted(ep[order], ids)]
    # recovery: first date after the start that is back at the peak
    not_under = np.flatnonzero(~under)
    rec_idx = np.searchsorted(not_under, start_pos)
    recovered = rec_idx < len(not_under)
    rec_pos = (
        not_under[np.minimum(rec_idx, len(not_under) - 1)] if len(not_under) else np.zeros_like(start_pos)
    )
    dates = frame.index
    recovery = pd.Series(dates[rec_pos]).where(recovered)
    table = pd.DataFrame(
        {
            "peak": dates[np.maximum(start_pos - 1, 0)],
            "trough": dates[trough_pos],
            "recovery": recovery.to_numpy(),
            "depth": dd[trough_pos],
            "to trough (periods)": trough_pos - start_pos + 1,
            "length (periods)": np.where(recovered, rec_pos, len(dd) - 1) - start_pos + 1,
            "recovered": recovered,
        }
    )
    table = table.sort_values("depth", kind="stable").head(top).reset_index(drop=True)
    table.index = pd.RangeIndex(1, len(table) + 1, name="episode")
    return table

"""Statistics of the compounded path: ulcer index, average drawdown, stability of the growth."""

from __future__ import annotations

from typing import overload

import numpy as np
import pandas as pd

from poolkit._typing import DataFrameLike, SeriesLike
from poolkit.exceptions import DataError
from poolkit.risk._common import _prepare, _undefined, _wrap
from poolkit.risk._drawdowns import _drawdown_values, _path_values


def _observed_mean(values: np.ndarray, x: np.ndarray, has_nan: bool) -> np.ndarray:
    """Mean over each asset's observed dates (all dates without NaNs)."""
    if not has_nan:
        return np.asarray(values.mean(axis=0))
    seen = ~np.isnan(x)
    return np.asarray(np.where(seen, values, 0.0).sum(axis=0) / seen.sum(axis=0))


@overload
def ulcer_index(returns: DataFrameLike, *, nan_policy: str = ...) -> pd.Series: ...


@overload
def ulcer_index(returns: SeriesLike, *, nan_policy: str = ...) -> float: ...


def ulcer_index(returns: pd.DataFrame | pd.Series, *, nan_policy: str = "raise") -> pd.Series | float:
    r"""Ulcer index: the root mean square of the drawdowns, depth and duration in one number.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic simple returns, indexed by date; columns are assets.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        ``"pairwise"`` uses each asset's observed dates (its own path).

    Returns
    -------
    Series or float
        Per asset, named ``"ulcer_index"``: a non-negative fraction (0.05 = 5 %; Martin
        quotes percent points, 5.0).

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``) or a return below -100 %.

    Notes
    -----
    With the drawdowns :math:`DD_t \le 0` of :func:`~poolkit.risk.drawdowns` (the start
    counts as a peak),

    .. math:: UI = \sqrt{\frac{1}{T} \sum_{t=1}^{T} DD_t^2} ,

    Martin & McCann's definition (divisor :math:`T`), the same as Riskfolio-Lib's
    ``UCI_Rel``. quantstats' ``ulcer_index`` divides by :math:`T - 1`: it is
    :math:`UI \sqrt{T / (T - 1)}`. Always :math:`|\overline{DD}| \le UI \le |MDD|`
    (average and maximum drawdown). Not a scale-free number: doubling every return
    more than doubles a deep drawdown, so the index grows faster than the returns.

    References
    ----------
    .. [1] Martin, P. G. & McCann, B. B. (1989). *The Investor's Guide to Fidelity
       Funds*, Wiley, ch. 5 (the Ulcer Index).

    Examples
    --------
    >>> round(ulcer_index(pd.Series([0.1, -0.5, 0.2])), 6)  # sqrt((0 + 0.5^2 + 0.4^2) / 3)
    0.369685
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=1)
    dd = _drawdown_values(_path_values(x, frame))
    ui = np.sqrt(_observed_mean(dd * dd, x, has_nan))
    return _wrap(ui, frame, was_series, "ulcer_index")


@overload
def average_drawdown(returns: DataFrameLike, *, nan_policy: str = ...) -> pd.Series: ...


@overload
def average_drawdown(returns: SeriesLike, *, nan_policy: str = ...) -> float: ...


def average_drawdown(returns: pd.DataFrame | pd.Series, *, nan_policy: str = "raise") -> pd.Series | float:
    r"""Average drawdown: how far below its running peak the value sat, on average over the dates.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic simple returns, indexed by date; columns are assets.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        ``"pairwise"`` uses each asset's observed dates (its own path).

    Returns
    -------
    Series or float
        Per asset, named ``"average_drawdown"``, in [-1, 0] (negative, like
        :func:`~poolkit.risk.max_drawdown`).

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``) or a return below -100 %.

    Notes
    -----
    The mean of the compounded drawdown path over every date (dates at a peak count
    as 0):

    .. math:: \overline{DD} = \frac{1}{T} \sum_{t=1}^{T} DD_t
              = \frac{1}{T} \sum_{t=1}^{T} \left(\frac{W_t}{\max(1, \max_{s \le t} W_s)} - 1\right),

    the conditional drawdown at risk at level 0 of Chekhlov, Uryasev & Zabarankin,
    and minus Riskfolio-Lib's ``ADD_Rel`` (which reports it positive). It is the
    :math:`L^1` counterpart of the :math:`L^2` :func:`ulcer_index`. (Not the mean
    depth of the drawdown episodes, quantstats' "Avg. Drawdown", which ignores time
    spent at a peak.)

    References
    ----------
    .. [1] Chekhlov, A., Uryasev, S. & Zabarankin, M. (2005). Drawdown measure in
       portfolio optimization. Int. J. Theor. Appl. Finance 8(1), 13-58.

    Examples
    --------
    >>> round(average_drawdown(pd.Series([0.1, -0.5, 0.2])), 6)  # (0 - 0.5 - 0.4) / 3
    -0.3
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=1)
    dd = _drawdown_values(_path_values(x, frame))
    return _wrap(_observed_mean(dd, x, has_nan), frame, was_series, "average_drawdown")


def _log_returns(x: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
    r"""Return :math:`\ln(1 + r_t)` (missing dates flat); refuse a total loss by name."""
    xp = _path_values(x, frame)
    if (xp <= -1.0).any():
        i, j = np.argwhere(xp <= -1.0)[0]
        raise DataError(
            f"`returns` column {frame.columns[j]!r} loses 100 % at {frame.index[i]!r}: its log wealth is "
            f"-infinity from there on, so the stability of its growth is undefined. Drop that asset."
        )
    return np.log1p(xp)


def _r_squared_on_time(y: np.ndarray, seen: np.ndarray | None) -> np.ndarray:
    """R^2 of each column of ``y`` regressed on 0, 1, 2, ... (over the ``seen`` rows only)."""
    if seen is None:
        t = np.arange(y.shape[0], dtype="float64")[:, None]
        w = np.ones_like(y)
    else:
        w = seen.astype("float64")
        t = np.cumsum(w, axis=0) - 1.0
    n = w.sum(axis=0)
    tc = (t - (w * t).sum(axis=0) / n) * w
    yc = (y - (w * y).sum(axis=0) / n) * w
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.square((tc * yc).sum(axis=0)) / ((tc * tc).sum(axis=0) * (yc * yc).sum(axis=0)))


def _flat(y: np.ndarray, seen: np.ndarray | None) -> np.ndarray:
    """Columns whose observed values are all equal (exactly)."""
    if seen is None:
        return np.asarray(np.ptp(y, axis=0) == 0)
    return np.asarray(np.where(seen, y, -np.inf).max(axis=0) == np.where(seen, y, np.inf).min(axis=0))


@overload
def stability(returns: DataFrameLike, *, nan_policy: str = ...) -> pd.Series: ...


@overload
def stability(returns: SeriesLike, *, nan_policy: str = ...) -> float: ...


def stability(returns: pd.DataFrame | pd.Series, *, nan_policy: str = "raise") -> pd.Series | float:
    r"""Stability of the growth: the :math:`R^2` of the cumulative log return regressed on time.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic simple returns, indexed by date; columns are assets.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        ``"pairwise"`` uses each asset's observed dates, numbered 0, 1, 2, ...
        (empyrical drops missing values the same way).

    Returns
    -------
    Series or float
        Per asset, named ``"stability"``, in [0, 1]: 1 for a steady exponential growth
        (or decline), near 0 for a path that wanders.

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``), a return below -100 % or a total loss (the log
        wealth is :math:`-\infty`), or a flat log wealth (every return after the first
        is 0: the :math:`R^2` is 0/0).

    Notes
    -----
    With :math:`y_t = \sum_{s \le t} \ln(1 + r_s)` and :math:`t = 0, 1, \dots, T - 1`,

    .. math:: R^2 = \frac{\left(\sum_t (t - \bar t)(y_t - \bar y)\right)^2}
                         {\sum_t (t - \bar t)^2 \, \sum_t (y_t - \bar y)^2}
              = \operatorname{corr}(t, y)^2 ,

    empyrical's ``stability_of_timeseries`` (pyfolio's "Stability"). It measures how
    straight the log-wealth line is, not its slope: a steady loss scores as high as a
    steady gain. It is unchanged when every log return is multiplied by the same
    :math:`c \ne 0` (:math:`y \to c y`), but scaling the *simple* returns changes it
    (compounding is not linear).

    References
    ----------
    .. [1] Quantopian (2015). pyfolio / empyrical, ``stability_of_timeseries``:
       :math:`R^2` of an ordinary least-squares fit of the cumulative log returns.

    Examples
    --------
    >>> round(stability(pd.Series([0.01, 0.01, 0.01, 0.01])), 6)  # a straight log-wealth line
    1.0
    >>> round(stability(pd.Series([0.02, -0.02, 0.02, -0.02])), 6)
    0.216072
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=2)
    seen = ~np.isnan(x) if has_nan else None
    y = np.cumsum(_log_returns(x, frame), axis=0)
    flat = _flat(y, seen)
    _undefined(
        flat,
        flat,
        frame,
        statistic="Stability",
        why="the log wealth is flat (no return after the first), so its R^2 on time is 0/0",
        fix="Drop that asset or use a longer history.",
    )
    return _wrap(_r_squared_on_time(y, seen), frame, was_series, "stability")

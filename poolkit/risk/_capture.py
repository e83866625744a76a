"""Statistics on the benchmark's up and down periods: capture ratios and up- and down-market beta."""

from __future__ import annotations

from typing import overload

import numpy as np
import pandas as pd

from poolkit._numerics import resolve_periods_per_year
from poolkit._typing import DataFrameLike, SeriesLike
from poolkit.exceptions import DataError, InsufficientDataError
from poolkit.risk._benchmark import _beta_values, _with_benchmark
from poolkit.risk._common import _wrap
from poolkit.risk._drawdowns import _cagr, _path_values

_SIDES = {"up": "rose (benchmark return > 0)", "down": "fell (benchmark return < 0)"}


def _market_periods(x: np.ndarray, b: np.ndarray, side: str) -> np.ndarray:
    """Mask of the periods where the benchmark rose (``"up"``) or fell (``"down"``); ties at 0 are in neither."""
    with np.errstate(invalid="ignore"):
        sel = (b > 0) if side == "up" else (b < 0)
    return np.asarray(sel & ~np.isnan(x))


def _too_few(n: np.ndarray, need: int, frame: pd.DataFrame, side: str, statistic: str) -> None:
    bad = n < need
    if bad.any():
        names = frame.columns[bad].tolist()
        raise InsufficientDataError(
            f"{statistic} needs at least {need} period(s) where the benchmark {_SIDES[side]}; "
            f"{names[:5]}{'...' if len(names) > 5 else ''} have {int(n[bad].min())}. Use a longer history."
        )


def _capture_values(
    frame: pd.DataFrame, x: np.ndarray, b: np.ndarray, side: str, ppy: float, statistic: str
) -> np.ndarray:
    """Annualised geometric mean of the asset over that of the benchmark, on one side's periods."""
    sel = _market_periods(x, b, side)
    n = sel.sum(axis=0)
    _too_few(n, 1, frame, side, statistic)
    if (np.nan_to_num(b) < -1.0).any():
        raise DataError("`benchmark` has a return below -100 %; simple returns cannot fall below -1.")
    xs = _path_values(np.where(sel, x, 0.0), frame)
    bs = np.where(sel, b, 0.0)
    return np.asarray(_cagr(xs, n, ppy) / _cagr(bs, n, ppy))


def _regime_beta(frame: pd.DataFrame, x: np.ndarray, b: np.ndarray, side: str, statistic: str) -> np.ndarray:
    """Beta on one side's periods only (the others are set aside as missing)."""
    sel = _market_periods(x, b, side)
    _too_few(sel.sum(axis=0), 2, frame, side, statistic)
    return _beta_values(np.where(sel, x, np.nan), np.where(sel, b, np.nan), True, frame)


@overload
def up_capture(
    returns: DataFrameLike,
    benchmark: pd.Series,
    *,
    periods_per_year: float | None = ...,
    nan_policy: str = ...,
) -> pd.Series: ...


@overload
def up_capture(
    returns: SeriesLike, benchmark: pd.Series, *, periods_per_year: float | None = ..., nan_policy: str = ...
) -> float: ...


def up_capture(
    returns: pd.DataFrame | pd.Series,
    benchmark: pd.Series,
    *,
    periods_per_year: float | None = None,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Up-market capture ratio: how much of the benchmark's rises the asset caught.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic simple returns, indexed by date; columns are assets.
    benchmark : Series
        Benchmark returns indexed by date, covering every date of ``returns``.
    periods_per_year : float, optional
        Inferred from the dates when omitted (both means are annualised).
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        ``"pairwise"`` uses, for each asset, the dates where it and the benchmark are
        observed.

    Returns
    -------
    Series or float
        Per asset, named ``"up_capture"`` (no unit; 1.1 = 110 % of the rises).

    Raises
    ------
    AlignmentError
        If the benchmark lacks dates of ``returns``.
    InsufficientDataError
        If the benchmark never rose (on an asset's dates).
    DataError
        For NaNs (policy ``"raise"``) or a return below -100 %.

    Notes
    -----
    On the periods :math:`U` where the benchmark rose (:math:`r_{b,t} > 0`; a
    benchmark return of exactly 0 is in neither set), with :math:`n = |U|` periods and
    :math:`p` periods per year,

    .. math:: \text{up capture} = \frac{\left(\prod_{t \in U} (1 + r_t)\right)^{p/n} - 1}
                                    {\left(\prod_{t \in U} (1 + r_{b,t})\right)^{p/n} - 1} ,

    the ratio of annualised geometric mean returns (Morningstar's definition, and
    empyrical's ``up_capture``). 1 means the asset moved like the benchmark;
    above 1, it gained more than the benchmark when the market rose. Multiplying the asset's returns by :math:`c` multiplies the ratio by about
    :math:`c` (exactly only for one period: compounding is not linear).

    References
    ----------
    .. [1] Morningstar (2021). *Upside/Downside Capture Ratio*, Morningstar Methodology.
    .. [2] Bacon, C. R. (2008). *Practical Portfolio Performance Measurement and
       Attribution*, 2nd ed., Wiley, ch. 4.

    Examples
    --------
    >>> b = pd.Series([0.01, -0.02, 0.03, -0.01])
    >>> round(up_capture(2 * b, b, periods_per_year=2), 6)  # (1.02 * 1.06 - 1) / (1.01 * 1.03 - 1)
    2.014888
    """
    frame, was_series, x, b, _ = _with_benchmark(returns, benchmark, nan_policy)
    ppy = resolve_periods_per_year(periods_per_year, frame.index)
    out = _capture_values(frame, x, b, "up", ppy, "The up capture ratio")
    return _wrap(out, frame, was_series, "up_capture")


@overload
def down_capture(
    returns: DataFrameLike,
    benchmark: pd.Series,
    *,
    periods_per_year: float | None = ...,
    nan_policy: str = ...,
) -> pd.Series: ...


@overload
def down_capture(
    returns: SeriesLike, benchmark: pd.Series, *, periods_per_year: float | None = ..., nan_policy: str = ...
) -> float: ...


def down_capture(
    returns: pd.DataFrame | pd.Series,
    benchmark: pd.Series,
    *,
    periods_per_year: float | None = None,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Down-market capture ratio: how much of the benchmark's falls the asset suffered.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic simple returns, indexed by date; columns are assets.
    benchmark : Series
        Benchmark returns indexed by date, covering every date of ``returns``.
    periods_per_year : float, optional
        Inferred from the dates when omitted (both means are annualised).
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        ``"pairwise"`` uses, for each asset, the dates where it and the benchmark are
        observed.

    Returns
    -------
    Series or float
        Per asset, named ``"down_capture"`` (no unit; 0.8 = 80 % of the falls; a
        negative value means the asset rose while the market fell).

    Raises
    ------
    AlignmentError
        If the benchmark lacks dates of ``returns``.
    InsufficientDataError
        If the benchmark never fell (on an asset's dates).
    DataError
        For NaNs (policy ``"raise"``) or a return below -100 %.

    Notes
    -----
    On the periods :math:`U` where the benchmark fell (:math:`r_{b,t} < 0`; a
    benchmark return of exactly 0 is in neither set), with :math:`n = |U|` periods and
    :math:`p` periods per year,

    .. math:: \text{down capture} = \frac{\left(\prod_{t \in U} (1 + r_t)\right)^{p/n} - 1}
                                    {\left(\prod_{t \in U} (1 + r_{b,t})\right)^{p/n} - 1} ,

    the ratio of annualised geometric mean returns (Morningstar's definition, and
    empyrical's ``down_capture``). 1 means the asset moved like the benchmark;
    below 1, it lost less than the benchmark when the market fell. Multiplying the asset's returns by :math:`c` multiplies the ratio by about
    :math:`c` (exactly only for one period: compounding is not linear).

    References
    ----------
    .. [1] Morningstar (2021). *Upside/Downside Capture Ratio*, Morningstar Methodology.
    .. [2] Bacon, C. R. (2008). *Practical Portfolio Performance Measurement and
       Attribution*, 2nd ed., Wiley, ch. 4.

    Examples
    --------
    >>> b = pd.Series([0.01, -0.02, 0.03, -0.01])
    >>> round(down_capture(b / 2, b, periods_per_year=2), 6)  # (0.99 * 0.995 - 1) / (0.98 * 0.99 - 1)
    0.501678
    """
    frame, was_series, x, b, _ = _with_benchmark(returns, benchmark, nan_policy)
    ppy = resolve_periods_per_year(periods_per_year, frame.index)
    out = _capture_values(frame, x, b, "down", ppy, "The down capture ratio")
    return _wrap(out, frame, was_series, "down_capture")


@overload
def up_beta(returns: DataFrameLike, benchmark: pd.Series, *, nan_policy: str = ...) -> pd.Series: ...


@overload
def up_beta(returns: SeriesLike, benchmark: pd.Series, *, nan_policy: str = ...) -> float: ...


def up_beta(
    returns: pd.DataFrame | pd.Series, benchmark: pd.Series, *, nan_policy: str = "raise"
) -> pd.Series | float:
    r"""Up-market beta: the slope of the asset's returns on the benchmark's, when the benchmark rose.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    benchmark : Series
        Benchmark returns indexed by date, covering every date of ``returns``.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns (in either input).

    Returns
    -------
    Series or float
        Per asset, named ``"up_beta"`` (no unit).

    Raises
    ------
    AlignmentError
        If the benchmark lacks dates of ``returns``.
    InsufficientDataError
        If the benchmark rose on fewer than two dates.
    DataError
        For NaNs (policy ``"raise"``) or a benchmark constant on its up periods.

    Notes
    -----
    The ordinary beta of :func:`~poolkit.risk.beta` computed on the periods :math:`U`
    where the benchmark rose (:math:`r_{b,t} > 0`; exactly 0 is in neither set):

    .. math:: \beta^{+}_i = \frac{\sum_{t \in U} (r_{it} - \bar r_i^U)(r_{bt} - \bar r_b^U)}
                                  {\sum_{t \in U} (r_{bt} - \bar r_b^U)^2} ,

    the means taken over :math:`U` (empyrical's ``up_alpha_beta``). A defensive
    asset has :math:`\beta^- < \beta^+`. Multiplying the asset's returns by :math:`c`
    multiplies it by :math:`c`; multiplying the benchmark's by :math:`c > 0` divides it
    by :math:`c` (the up and down periods stay the same).

    References
    ----------
    .. [1] Bawa, V. S. & Lindenberg, E. B. (1977). Capital market equilibrium in a
       mean-lower partial moment framework. J. Financ. Econ. 5(2), 189-200.
    .. [2] Ang, A., Chen, J. & Xing, Y. (2006). Downside risk. Rev. Financ. Stud. 19(4),
       1191-1239.

    Examples
    --------
    >>> b = pd.Series([0.01, -0.02, 0.03, -0.01])
    >>> r = b.where(b < 0, 1.5 * b)  # 1.5 times the rises, 1 times the falls
    >>> round(up_beta(r, b), 6), round(down_beta(r, b), 6)
    (1.5, 1.0)
    """
    frame, was_series, x, b, _ = _with_benchmark(returns, benchmark, nan_policy)
    return _wrap(_regime_beta(frame, x, b, "up", "Up beta"), frame, was_series, "up_beta")


@overload
def down_beta(returns: DataFrameLike, benchmark: pd.Series, *, nan_policy: str = ...) -> pd.Series: ...


@overload
def down_beta(returns: SeriesLike, benchmark: pd.Series, *, nan_policy: str = ...) -> float: ...


def down_beta(
    returns: pd.DataFrame | pd.Series, benchmark: pd.Series, *, nan_policy: str = "raise"
) -> pd.Series | float:
    r"""Down-market beta: the slope of the asset's returns on the benchmark's, when the benchmark fell.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    benchmark : Series
        Benchmark returns indexed by date, covering every date of ``returns``.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns (in either input).

    Returns
    -------
    Series or float
        Per asset, named ``"down_beta"`` (no unit).

    Raises
    ------
    AlignmentError
        If the benchmark lacks dates of ``returns``.
    InsufficientDataError
        If the benchmark fell on fewer than two dates.
    DataError
        For NaNs (policy ``"raise"``) or a benchmark constant on its down periods.

    Notes
    -----
    The ordinary beta of :func:`~poolkit.risk.beta` computed on the periods :math:`U`
    where the benchmark fell (:math:`r_{b,t} < 0`; exactly 0 is in neither set):

    .. math:: \beta^{-}_i = \frac{\sum_{t \in U} (r_{it} - \bar r_i^U)(r_{bt} - \bar r_b^U)}
                                  {\sum_{t \in U} (r_{bt} - \bar r_b^U)^2} ,

    the means taken over :math:`U` (empyrical's ``down_alpha_beta``). A defensive
    asset has :math:`\beta^- < \beta^+`. Multiplying the asset's returns by :math:`c`
    multiplies it by :math:`c`; multiplying the benchmark's by :math:`c > 0` divides it
    by :math:`c` (the up and down periods stay the same).

    References
    ----------
    .. [1] Bawa, V. S. & Lindenberg, E. B. (1977). Capital market equilibrium in a
       mean-lower partial moment framework. J. Financ. Econ. 5(2), 189-200.
    .. [2] Ang, A., Chen, J. & Xing, Y. (2006). Downside risk. Rev. Financ. Stud. 19(4),
       1191-1239.

    Examples
    --------
    >>> b = pd.Series([0.01, -0.02, 0.03, -0.01])
    >>> round(down_beta(b.where(b > 0, 0.5 * b), b), 6)  # half of every fall
    0.5
    """
    frame, was_series, x, b, _ = _with_benchmark(returns, benchmark, nan_policy)
    return _wrap(_regime_beta(frame, x, b, "down", "Down beta"), frame, was_series, "down_beta")

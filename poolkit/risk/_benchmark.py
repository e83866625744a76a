"""Statistics against a benchmark: beta, Jensen's alpha, tracking error, information ratio."""

from __future__ import annotations

import math
from typing import overload

import numpy as np
import pandas as pd

from poolkit._numerics import Rate, annual_rate, per_period_rate, resolve_periods_per_year
from poolkit._typing import DataFrameLike, SeriesLike
from poolkit._validation import NAN_POLICIES, check_choice, check_returns
from poolkit.exceptions import AlignmentError, DataError, InsufficientDataError
from poolkit.risk._common import _checked, _mean, _std, _undefined, _wrap


def _with_benchmark(
    returns: object, benchmark: object, nan_policy: str
) -> tuple[pd.DataFrame, bool, np.ndarray, np.ndarray, bool]:
    """Align returns and a benchmark on the returns' dates.

    Both go through the shared check (dates in order, simple returns, fractions). A date
    of ``returns`` that the benchmark lacks is a missing benchmark value: refused under
    ``nan_policy="raise"``, dropped under ``"drop"``, and left out of each asset's pairs
    under ``"pairwise"``.

    Returns (frame, was_series, x, b2, has_nan) with ``b2`` broadcast to x's shape and
    pairwise-missing values set to NaN in both.
    """
    check_choice(nan_policy, NAN_POLICIES, name="nan_policy")
    frame, was_series = _checked(returns, name="returns", min_obs=1, nan_policy="pairwise")
    if isinstance(benchmark, pd.DataFrame):
        if benchmark.shape[1] != 1:
            raise DataError(
                f"`benchmark` must be one return series, got {benchmark.shape[1]} columns; pass one column."
            )
        benchmark = benchmark.iloc[:, 0]
    if not isinstance(benchmark, pd.Series):
        raise TypeError(
            f"`benchmark` must be a pandas Series of returns indexed by date, got {type(benchmark).__name__}."
        )
    bench, _ = _checked(benchmark, name="benchmark", min_obs=1, nan_policy="pairwise")
    missing = frame.index.difference(bench.index)
    if len(missing) and nan_policy == "raise":
        raise AlignmentError(
            f"`benchmark` lacks {len(missing)} of the {len(frame)} dates of `returns` (first missing: "
            f"{missing[0]!r}). Restrict both to common dates (poolkit.data.align_returns(returns, benchmark) "
            f"compounds the returns of dates one side lacks), or pass nan_policy='drop' or 'pairwise' to "
            f"treat the benchmark as missing there."
        )
    key = "benchmark"
    while key in frame.columns:
        key = "_" + key
    b_values = bench.iloc[:, 0].reindex(frame.index).to_numpy()
    columns = pd.Index([*frame.columns, key], tupleize_cols=False)  # flat, whatever the assets' labels
    combined = pd.DataFrame(np.column_stack([frame.to_numpy(), b_values]), index=frame.index, columns=columns)
    checked, _ = check_returns(combined, name="returns and benchmark", min_obs=2, nan_policy=nan_policy)
    b = checked.iloc[:, -1].to_numpy()
    checked = pd.DataFrame(checked.iloc[:, :-1].to_numpy(), index=checked.index, columns=frame.columns)
    x = checked.to_numpy()
    b2 = np.broadcast_to(b[:, None], x.shape)
    has_nan = bool(nan_policy == "pairwise" and (np.isnan(x).any() or np.isnan(b).any()))
    if has_nan:
        both = ~np.isnan(x) & ~np.isnan(b2)
        x = np.where(both, x, np.nan)
        b2 = np.where(both, b2, np.nan)
        if both.sum(axis=0).min() < 2:
            j = int(np.argmin(both.sum(axis=0)))
            raise InsufficientDataError(
                f"Asset {checked.columns[j]!r} shares fewer than two dates with the benchmark."
            )
    return checked, was_series, x, np.array(b2), has_nan


def _beta_values(x: np.ndarray, b: np.ndarray, has_nan: bool, frame: pd.DataFrame) -> np.ndarray:
    bc = b - _mean(b, has_nan)
    xc = x - _mean(x, has_nan)
    var_b = _mean(bc * bc, has_nan)
    _undefined(
        var_b,
        var_b <= 0,
        frame,
        statistic="Beta",
        why="the benchmark returns are constant (zero variance) on these dates",
        fix="Check the benchmark.",
    )
    return _mean(xc * bc, has_nan) / var_b


@overload
def beta(returns: DataFrameLike, benchmark: pd.Series, *, nan_policy: str = ...) -> pd.Series: ...


@overload
def beta(returns: SeriesLike, benchmark: pd.Series, *, nan_policy: str = ...) -> float: ...


def beta(
    returns: pd.DataFrame | pd.Series, benchmark: pd.Series, *, nan_policy: str = "raise"
) -> pd.Series | float:
    r"""Beta of each asset to a benchmark: the slope of asset returns on benchmark returns.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    benchmark : Series
        Benchmark returns of the same frequency, indexed by date; it must cover
        every date of ``returns`` (extra dates are ignored), unless ``nan_policy`` is
        ``"drop"`` or ``"pairwise"``: a date it lacks is then a missing value.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns (in either input).

    Returns
    -------
    Series or float
        Per asset, named ``"beta"`` (no unit).

    Raises
    ------
    AlignmentError
        If the benchmark lacks dates of ``returns`` (with ``nan_policy="raise"``).
    DataError
        For NaNs (policy ``"raise"``) or a constant benchmark.

    Notes
    -----
    .. math:: \beta_i = \frac{\operatorname{cov}(r_i, r_b)}{\operatorname{var}(r_b)} .

    A constant risk-free rate does not change beta.

    References
    ----------
    .. [1] Sharpe, W. F. (1964). Capital asset prices. J. Finance 19(3), 425-442.

    Examples
    --------
    >>> b = pd.Series([0.01, -0.02, 0.03, 0.0])
    >>> round(beta(2 * b + 0.001, b), 6)
    2.0
    """
    frame, was_series, x, b, has_nan = _with_benchmark(returns, benchmark, nan_policy)
    return _wrap(_beta_values(x, b, has_nan, frame), frame, was_series, "beta")


@overload
def alpha(
    returns: DataFrameLike,
    benchmark: pd.Series,
    risk_free: Rate = ...,
    *,
    periods_per_year: float | None = ...,
    nan_policy: str = ...,
) -> pd.Series: ...


@overload
def alpha(
    returns: SeriesLike,
    benchmark: pd.Series,
    risk_free: Rate = ...,
    *,
    periods_per_year: float | None = ...,
    nan_policy: str = ...,
) -> float: ...


def alpha(
    returns: pd.DataFrame | pd.Series,
    benchmark: pd.Series,
    risk_free: Rate = 0.0,
    *,
    periods_per_year: float | None = None,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Jensen's alpha: the return not explained by beta to the benchmark, annualised.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    benchmark : Series
        Benchmark returns indexed by date, covering every date of ``returns`` (with
        ``nan_policy="drop"`` or ``"pairwise"``, a date it lacks is a missing value).
    risk_free : float or PerPeriod, default 0.0
        **Annual** risk-free rate, converted per period as :math:`(1 + r_f)^{1/p} - 1`; a
        rate wrapped in :class:`PerPeriod` is already per period and used as it is.
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"alpha"``, an annual rate (compounded).

    Raises
    ------
    AlignmentError
        If the benchmark lacks dates of ``returns`` (with ``nan_policy="raise"``).
    DataError
        For NaNs (policy ``"raise"``) or a constant benchmark.

    Notes
    -----
    With per-period excess returns :math:`\tilde r = r - r_f^{(p)}`:

    .. math:: \alpha = \left(1 + \overline{\tilde r_i - \beta_i \tilde r_b}\right)^{p} - 1

    (annualised by compounding, as empyrical's ``alpha``).

    References
    ----------
    .. [1] Jensen, M. C. (1968). The performance of mutual funds in the period
       1945-1964. J. Finance 23(2), 389-416.

    Examples
    --------
    >>> b = pd.Series([0.01, -0.02, 0.03, 0.0])
    >>> round(alpha(b + 0.001, b, periods_per_year=1), 6)  # 0.001 per period above beta 1
    0.001
    """
    frame, was_series, x, b, has_nan = _with_benchmark(returns, benchmark, nan_policy)
    rf = per_period_rate(risk_free, periods_per_year, frame.index, name="risk_free")
    ppy = resolve_periods_per_year(periods_per_year, frame.index)
    bt = _beta_values(x, b, has_nan, frame)
    a = _mean((x - rf) - bt * (b - rf), has_nan)
    return _wrap(annual_rate(a, ppy), frame, was_series, "alpha")


@overload
def tracking_error(
    returns: DataFrameLike,
    benchmark: pd.Series,
    *,
    periods_per_year: float | None = ...,
    annualize: bool = ...,
    nan_policy: str = ...,
) -> pd.Series: ...


@overload
def tracking_error(
    returns: SeriesLike,
    benchmark: pd.Series,
    *,
    periods_per_year: float | None = ...,
    annualize: bool = ...,
    nan_policy: str = ...,
) -> float: ...


def tracking_error(
    returns: pd.DataFrame | pd.Series,
    benchmark: pd.Series,
    *,
    periods_per_year: float | None = None,
    annualize: bool = True,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Tracking error: volatility of the return difference to a benchmark.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    benchmark : Series
        Benchmark returns indexed by date, covering every date of ``returns`` (with
        ``nan_policy="drop"`` or ``"pairwise"``, a date it lacks is a missing value).
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    annualize : bool, default True
        Multiply by :math:`\sqrt{p}`.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"tracking_error"``, a fraction per year when annualised.

    Raises
    ------
    AlignmentError
        If the benchmark lacks dates of ``returns`` (with ``nan_policy="raise"``).

    Notes
    -----
    .. math:: TE = \sigma(r_i - r_b)\sqrt{p} \quad (\text{ddof} = 1).

    References
    ----------
    .. [1] Grinold, R. C. & Kahn, R. N. (2000). *Active Portfolio Management*,
       2nd ed., McGraw-Hill, ch. 5.

    Examples
    --------
    >>> b = pd.Series([0.01, -0.02, 0.03, 0.0])
    >>> round(tracking_error(b + pd.Series([0.01, -0.01, 0.01, -0.01]), b, annualize=False), 6)
    0.011547
    """
    frame, was_series, x, b, has_nan = _with_benchmark(returns, benchmark, nan_policy)
    te = _std(x - b, has_nan, 1)
    if annualize:
        te = te * math.sqrt(resolve_periods_per_year(periods_per_year, frame.index))
    return _wrap(te, frame, was_series, "tracking_error")


@overload
def information_ratio(
    returns: DataFrameLike,
    benchmark: pd.Series,
    *,
    periods_per_year: float | None = ...,
    annualize: bool = ...,
    nan_policy: str = ...,
) -> pd.Series: ...


@overload
def information_ratio(
    returns: SeriesLike,
    benchmark: pd.Series,
    *,
    periods_per_year: float | None = ...,
    annualize: bool = ...,
    nan_policy: str = ...,
) -> float: ...


def information_ratio(
    returns: pd.DataFrame | pd.Series,
    benchmark: pd.Series,
    *,
    periods_per_year: float | None = None,
    annualize: bool = True,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Information ratio: mean active return per unit of tracking error.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    benchmark : Series
        Benchmark returns indexed by date, covering every date of ``returns`` (with
        ``nan_policy="drop"`` or ``"pairwise"``, a date it lacks is a missing value).
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    annualize : bool, default True
        Multiply the per-period ratio by :math:`\sqrt{p}`.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"information_ratio"``.

    Raises
    ------
    AlignmentError
        If the benchmark lacks dates of ``returns`` (with ``nan_policy="raise"``).
    DataError
        If an asset tracks the benchmark exactly (zero tracking error: undefined).

    Notes
    -----
    .. math:: IR = \frac{\overline{r_i - r_b}}{\sigma(r_i - r_b)}\sqrt{p}

    (empyrical's ``excess_sharpe`` times :math:`\sqrt{p}`).

    References
    ----------
    .. [1] Grinold, R. C. & Kahn, R. N. (2000). *Active Portfolio Management*,
       2nd ed., McGraw-Hill, ch. 5.

    Examples
    --------
    >>> b = pd.Series([0.01, -0.02, 0.03, 0.0])
    >>> r = b + pd.Series([0.02, 0.0, 0.02, 0.0])
    >>> round(information_ratio(r, b, annualize=False), 6)  # 0.01 / 0.011547
    0.866025
    """
    frame, was_series, x, b, has_nan = _with_benchmark(returns, benchmark, nan_policy)
    act = x - b
    te = _std(act, has_nan, 1)
    _undefined(
        te,
        te <= 0,
        frame,
        statistic="The information ratio",
        why="the asset tracks the benchmark exactly (zero tracking error)",
        fix="Drop that asset.",
    )
    ir = _mean(act, has_nan) / te
    if annualize:
        ir = ir * math.sqrt(resolve_periods_per_year(periods_per_year, frame.index))
    return _wrap(ir, frame, was_series, "information_ratio")

"""Crises found from the data: contiguous regimes of high turbulence or tight coupling."""

from __future__ import annotations

import numpy as np
import pandas as pd

from poolkit._numerics import cov_to_corr
from poolkit._validation import (
    check_aligned,
    check_choice,
    check_fraction,
    check_positive_int,
    check_time_index,
)
from poolkit.exceptions import AlignmentError, DataError, ParameterError
from poolkit.pooling._indicators import _checked, absorption_ratio, average_correlation, turbulence

__all__ = ["CRISIS_INDICATORS", "find_crises"]

#: Indicators :func:`find_crises` can compute itself.
CRISIS_INDICATORS = ("turbulence", "absorption_ratio", "average_correlation")
_COLUMNS = ["start", "end", "length", "peak", "peak_date", "pool_return", "max_drawdown", "average_correlation"]


def _indicator_series(
    frame: pd.DataFrame, indicator: object, window: int | None, n_components: int | None
) -> tuple[pd.Series, str]:
    if isinstance(indicator, pd.Series):
        series = indicator.astype("float64")
        check_time_index(series.index, name="indicator")
        outside = series.index[~series.index.isin(frame.index)]
        if len(outside):
            raise AlignmentError(
                f"`indicator` has dates that `returns` lacks (the first is {outside[0]!r}); compute it from the "
                f"same returns."
            )
        if series.isna().any() or not np.isfinite(series.to_numpy()).all():
            raise DataError("`indicator` has missing or infinite values; drop them first (`indicator.dropna()`).")
        return series, str(series.name or "indicator")
    name = check_choice(indicator, CRISIS_INDICATORS, name="indicator")
    if name == "turbulence":
        return turbulence(frame, window), name
    w = 252 if window is None else window
    if name == "absorption_ratio":
        return absorption_ratio(frame, w, n_components), name
    return average_correlation(frame, w), name


def _runs(mask: np.ndarray, max_gap: int, min_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end positions (inclusive) of the runs of True, gaps of at most ``max_gap`` merged."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    if len(starts) == 0:
        return starts, ends
    apart = (starts[1:] - ends[:-1] - 1) > max_gap
    starts, ends = starts[np.r_[True, apart]], ends[np.r_[apart, True]]
    long = (ends - starts + 1) >= min_length
    return starts[long], ends[long]


def find_crises(
    returns: pd.DataFrame,
    indicator: str | pd.Series = "turbulence",
    *,
    weights: pd.Series | None = None,
    quantile: float = 0.9,
    smooth: int = 21,
    min_length: int = 21,
    max_gap: int = 21,
    window: int | None = None,
    n_components: int | None = None,
) -> pd.DataFrame:
    r"""Find the crises in a history of returns: contiguous regimes where a systemic indicator runs high.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, sorted unique dates, no missing values, at least two assets.
    indicator : {"turbulence", "absorption_ratio", "average_correlation"} or Series, default "turbulence"
        The indicator computed from ``returns`` (:func:`turbulence`, :func:`absorption_ratio`,
        :func:`average_correlation`), or a precomputed Series indexed by dates of ``returns``.
    weights : Series, optional
        Holdings of the pool whose return and drawdown are reported; equal weights by default.
    quantile : float, default 0.9
        A date is in a high regime when the smoothed indicator exceeds this quantile of its own
        history (0.9: the top 10 % of dates).
    smooth : int, default 21
        Trailing mean of the indicator over this many periods before thresholding (about a
        month of days; 1 = none), so that a single wild day is not a crisis.
    min_length : int, default 21
        Fewest periods a regime must last (from its first to its last date) to be kept.
    max_gap : int, default 21
        Two high regimes separated by at most this many periods are one crisis.
    window : int, optional
        Window of the indicator: turbulence uses the full history when omitted (see
        :func:`turbulence`), the others 252 periods.
    n_components : int, optional
        Components of the absorption ratio (default one fifth of the assets).

    Returns
    -------
    DataFrame
        One row per crisis, in time order, index ``crisis`` = 1, 2, ...; columns ``start`` and
        ``end`` (dates, both included), ``length`` (periods), ``peak`` (highest smoothed
        indicator) and ``peak_date``, ``pool_return`` (compounded return of the pool over the
        crisis), ``max_drawdown`` (worst fall from a peak inside it, negative) and
        ``average_correlation`` (mean pairwise correlation of the assets inside it). ``attrs``
        hold ``indicator``, ``threshold``, ``quantile``, ``smooth``. Empty (same columns) when
        nothing crosses the threshold for long enough. A row feeds
        :func:`poolkit.pooling.crisis_comparison` in one call:
        ``crisis_comparison(returns, *crises.loc[1, ["start", "end"]])``.

    Raises
    ------
    ParameterError
        For an unknown indicator, ``quantile`` outside (0, 1) or non-positive lengths.
    AlignmentError
        If a precomputed indicator has dates that ``returns`` lacks.
    DataError, CovarianceError, InsufficientDataError
        From the indicator (shuffled or duplicated dates, NaNs, a singular covariance).

    Notes
    -----
    With :math:`\tilde x_t = \frac{1}{s}\sum_{j<s} x_{t-j}` the trailing mean of the indicator
    and :math:`\tau = \hat Q_{\tilde x}(q)` its :math:`q`-quantile, the crises are the maximal runs
    of :math:`\tilde x_t > \tau` once runs less than ``max_gap`` periods apart are joined and
    runs shorter than ``min_length`` dropped. The threshold uses the whole history (and
    turbulence, by default, the full-sample covariance): the table classifies the past; it is
    not a forecast. The trailing mean flags a regime up to ``smooth`` periods after its first
    wild day and keeps it up to ``smooth`` periods after the last. Over a crisis the pool
    return is :math:`\prod_t (1 + w^\top r_t) - 1`.

    References
    ----------
    .. [1] Kritzman, M. and Li, Y. (2010). Skulls, financial turbulence, and risk management.
       Financial Analysts Journal 66(5), 30-41.
    .. [2] Kritzman, M., Page, S. and Turkington, D. (2012). Regime shifts: implications for
       dynamic strategies. Financial Analysts Journal 68(3), 22-39.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> dates = pd.bdate_range("2020-01-01", periods=600, name="date")
    >>> vol = np.where((np.arange(600) >= 300) & (np.arange(600) < 360), 0.04, 0.01)
    >>> r = pd.DataFrame(rng.normal(0, 1, (600, 4)) * vol[:, None], index=dates, columns=list("ABCD"))
    >>> crises = find_crises(r)
    >>> len(crises), bool(crises.loc[1, "start"] >= dates[300] and crises.loc[1, "start"] < dates[330])
    (1, True)
    """
    frame = _checked(returns, min_obs=3)
    q = check_fraction(quantile, name="quantile", low=0.0, high=1.0, low_open=True, high_open=True)
    s = check_positive_int(smooth, name="smooth")
    min_len = check_positive_int(min_length, name="min_length")
    gap = check_positive_int(max_gap, name="max_gap", minimum=0)
    n = frame.shape[1]
    w = np.full(n, 1.0 / n) if weights is None else check_aligned(weights, frame.columns, name="weights").to_numpy()
    series, name = _indicator_series(frame, indicator, window, n_components)
    if s > len(series):
        raise ParameterError(f"`smooth` ({s}) is longer than the indicator's history ({len(series)} dates).")
    smoothed = series.rolling(s).mean().iloc[s - 1 :]
    values = smoothed.to_numpy()
    threshold = float(np.quantile(values, q))
    starts, ends = _runs(values > threshold, gap, min_len)
    dates = smoothed.index
    pool = pd.Series(frame.to_numpy() @ w, index=frame.index, name="pool")
    rows = []
    from poolkit.risk import max_drawdown

    for a, b in zip(starts, ends, strict=True):  # one pass per crisis found, not per date
        lo, hi = dates[a], dates[b]
        inside = frame.loc[lo:hi]
        peak = int(np.argmax(values[a : b + 1])) + a
        x = inside.to_numpy()
        xc = x - x.mean(axis=0)
        corr = cov_to_corr(xc.T @ xc)[1]
        rows.append(
            {
                "start": lo,
                "end": hi,
                "length": len(inside),
                "peak": float(values[peak]),
                "peak_date": dates[peak],
                "pool_return": float(np.prod(1.0 + pool.loc[lo:hi].to_numpy()) - 1.0),
                "max_drawdown": float(max_drawdown(pool.loc[lo:hi])),
                "average_correlation": float(corr[np.triu_indices(n, k=1)].mean()),
            }
        )
    out = pd.DataFrame(rows, columns=_COLUMNS)
    if out.empty:
        out = out.astype({"start": "datetime64[ns]", "end": "datetime64[ns]", "peak_date": "datetime64[ns]",
                          "length": "int64", "peak": "float64", "pool_return": "float64",
                          "max_drawdown": "float64", "average_correlation": "float64"})
    out.index = pd.RangeIndex(1, len(out) + 1, name="crisis")
    out.attrs.update(indicator=name, threshold=threshold, quantile=q, smooth=s, min_length=min_len, max_gap=gap)
    return out

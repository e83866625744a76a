"""Returns from prices, and two sets of returns aligned on the dates both cover."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from poolkit._validation import check_choice
from poolkit.exceptions import DataError, InsufficientDataError, PoolkitWarning

_KINDS = ("simple", "log")


def to_returns(prices: pd.DataFrame | pd.Series, kind: str = "simple") -> pd.DataFrame | pd.Series:
    r"""Turn prices into periodic returns (simple or log).

    Parameters
    ----------
    prices : DataFrame (n_dates, n_assets) or Series
        Positive prices sorted by date, without missing values.
    kind : {"simple", "log"}, default "simple"
        Simple returns :math:`P_t / P_{t-1} - 1` or log returns :math:`\ln(P_t / P_{t-1})`.

    Returns
    -------
    DataFrame or Series
        Returns with the same columns (or name); one row fewer than ``prices``
        (the first date has no previous price).

    Raises
    ------
    DataError
        If a price is missing, zero or negative (the message names column and date), or
        the dates are out of order or repeated.
    InsufficientDataError
        If there are fewer than two dates.
    ParameterError
        If ``kind`` is unknown.

    Notes
    -----
    .. math:: R_t = \frac{P_t}{P_{t-1}} - 1, \qquad r_t = \ln\frac{P_t}{P_{t-1}} = \ln(1 + R_t).

    Simple returns add across assets (a portfolio's return is the weighted sum
    of its assets' simple returns); log returns add across time.

    References
    ----------
    .. [1] Campbell, J. Y., Lo, A. W. and MacKinlay, A. C. (1997). The Econometrics of
       Financial Markets, ch. 1.4. Princeton University Press.

    Examples
    --------
    >>> p = pd.Series([100.0, 110.0, 99.0], index=pd.date_range("2024-01-01", periods=3))
    >>> to_returns(p).round(4).tolist()
    [0.1, -0.1]
    """
    check_choice(kind, _KINDS, name="kind")
    if not isinstance(prices, (pd.DataFrame, pd.Series)):
        raise TypeError(
            f"`prices` must be a pandas DataFrame (dates x assets) or Series, got {type(prices).__name__}."
        )
    frame = prices.to_frame() if isinstance(prices, pd.Series) else prices
    try:
        values = frame.to_numpy(dtype="float64")
    except (TypeError, ValueError) as exc:
        raise DataError(f"`prices` must hold numbers only: {exc}. Convert with pd.to_numeric.") from exc
    if values.shape[0] < 2:
        raise InsufficientDataError(
            f"`prices` has {values.shape[0]} date(s); at least 2 are needed for one return."
        )
    from poolkit._validation import check_time_index

    check_time_index(frame.index, name="prices")
    bad = np.isnan(values) | (values <= 0) | np.isinf(values)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        what = "missing" if np.isnan(values[r, c]) else f"{values[r, c]:g}"
        raise DataError(
            f"`prices` column {frame.columns[c]!r} has a {'missing' if what == 'missing' else 'non-positive or infinite'} "
            f"price ({what}) at {frame.index[r]!s}; prices must be positive numbers. Fill or drop missing prices "
            f"(load with missing='ffill' or 'drop'), or pass returns directly if these are returns."
        )
    ratio = values[1:] / values[:-1]
    out_values = ratio - 1.0 if kind == "simple" else np.log(ratio)
    out = pd.DataFrame(out_values, index=frame.index[1:].copy(), columns=frame.columns.copy())
    out.attrs = dict(prices.attrs, kind="returns", returns_kind=kind)
    if isinstance(prices, pd.Series):
        series = out.iloc[:, 0]
        series.name = prices.name
        return series
    return out


def _aggregate_onto(
    frame: pd.DataFrame, common: pd.DatetimeIndex, after: pd.Timestamp | None, kind: str
) -> tuple[pd.DataFrame, int, int]:
    """Compound (or, for log returns, add) the returns of ``frame`` onto the common dates.

    Rows dated after ``after`` (the common date before ``common[0]``, if any) and up to
    ``common[-1]`` are kept; each goes to the first common date on or after it. Returns
    the aggregated frame indexed by ``common``, the number of rows merged into a later
    date, and the number of rows dropped.
    """
    dates = frame.index.to_numpy()
    keep = dates <= common[-1].to_datetime64()
    if after is not None:
        keep &= dates > after.to_datetime64()
    groups = np.searchsorted(common.to_numpy(), dates[keep], side="left")  # sorted runs
    starts = np.searchsorted(groups, np.arange(len(common)), side="left")
    values = frame.to_numpy()[keep]
    logs = values if kind == "log" else np.log1p(values)
    summed = np.add.reduceat(logs, starts, axis=0)
    out = summed if kind == "log" else np.expm1(summed)
    single = np.diff(np.append(starts, len(values))) == 1
    out[single] = values[starts[single]]  # a return with nothing to merge is kept exactly
    kept = int(keep.sum())
    return pd.DataFrame(out, index=common, columns=frame.columns.copy()), kept - len(common), len(dates) - kept


def align_returns(
    returns: pd.DataFrame | pd.Series,
    other: pd.DataFrame | pd.Series | None,
) -> tuple[pd.DataFrame | pd.Series, pd.DataFrame | pd.Series | None]:
    r"""Put two sets of returns on the dates both cover, each return over the same interval.

    Parameters
    ----------
    returns : DataFrame or Series
        Periodic returns indexed by date (sorted, unique), e.g. the assets.
    other : DataFrame, Series or None
        Returns to align with, e.g. a benchmark; None returns ``(returns, None)``.

    Returns
    -------
    tuple
        ``(returns, other)`` of the same types as given, both indexed by the common
        dates, labels and ``attrs`` kept.

    Raises
    ------
    DataError
        If a date index is not a sorted, unique DatetimeIndex, or a value is missing.
    InsufficientDataError
        If fewer than two dates are common.

    Warns
    -----
    PoolkitWarning
        When dates only one side has were merged into the next common date, or dates
        before the first (after the last) common date were dropped.

    Notes
    -----
    Keeping only the common dates is not enough: if the benchmark lacks date
    :math:`t`, its return on the next date :math:`t'` spans two periods while an
    asset's spans one. Each side's returns between two common dates
    :math:`c_{k-1} < t \le c_k` are therefore compounded onto :math:`c_k`,

    .. math:: R_{c_k} = \prod_{c_{k-1} < t \le c_k} (1 + R_t) - 1
              \qquad (	ext{log returns add: } r_{c_k} = \sum r_t),

    so both returns at :math:`c_k` measure the move from :math:`c_{k-1}` to
    :math:`c_k`. The first common date is kept only when both series start there
    (their first returns then cover the same interval); otherwise the series start
    at the second common date. Log returns (``attrs["returns_kind"] == "log"``)
    are added instead of compounded.

    Examples
    --------
    >>> idx = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
    >>> stock = pd.DataFrame({"A": [0.01, 0.10, -0.10, 0.02]}, index=idx)
    >>> index = pd.Series([0.02, 0.01, 0.03], index=idx[[0, 2, 3]], name="INDEX")  # no 3 January
    >>> with warnings.catch_warnings(record=True) as notes:  # 3 January merged: a warning
    ...     a, b = align_returns(stock, index)
    >>> len(notes)
    1
    >>> [round(x, 4) for x in a["A"]]  # 1.10 * 0.90 - 1 = -0.01 on 4 January
    [0.01, -0.01, 0.02]
    >>> b.tolist()
    [0.02, 0.01, 0.03]
    """
    if other is None:
        return returns, None
    sides = []
    for value, name in ((returns, "returns"), (other, "other")):
        frame, was_series = _checked_returns(value, name)
        sides.append((frame, was_series, value))
    first, second = sides[0][0], sides[1][0]
    common = first.index.intersection(second.index)
    after = None
    if len(common) and not (first.index[0] == common[0] == second.index[0]):
        after, common = common[0], common[1:]  # the first common returns span different intervals
    if len(common) < 2:
        raise InsufficientDataError(
            f"`returns` ({first.index[0].date()} to {first.index[-1].date()}) and `other` "
            f"({second.index[0].date()} to {second.index[-1].date()}) share {len(common)} aligned date(s); "
            f"at least 2 are needed. Load both over the same period."
        )
    out = []
    notes = []
    for (frame, was_series, value), name in zip(sides, ("returns", "other"), strict=True):
        kind = "log" if value.attrs.get("returns_kind") == "log" else "simple"
        aligned, merged, dropped = _aggregate_onto(frame, common, after, kind)
        if merged:
            notes.append(f"{merged} date(s) of `{name}` that the other lacks were compounded into the next common date")
        if dropped:
            notes.append(f"{dropped} date(s) of `{name}` outside the common dates were dropped")
        aligned.index.name = "date"
        result: pd.DataFrame | pd.Series = aligned.iloc[:, 0] if was_series else aligned
        if was_series:
            result.name = value.name
        result.attrs = dict(value.attrs)
        out.append(result)
    if notes:
        warnings.warn(
            f"align_returns: {'; '.join(notes)} ({len(common)} common dates from {common[0].date()} "
            f"to {common[-1].date()}).",
            PoolkitWarning,
            stacklevel=2,
        )
    return out[0], out[1]


def _checked_returns(value: object, name: str) -> tuple[pd.DataFrame, bool]:
    """Return a float frame of ``value`` (kind kept) after the shared check: dates sorted, unique, no NaN."""
    from poolkit._validation import check_returns

    frame, was_series = check_returns(value, name=name, min_obs=1, convert_log=False)
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"`{name}` must be indexed by date (a DatetimeIndex), got {type(frame.index).__name__}.")
    return frame, was_series

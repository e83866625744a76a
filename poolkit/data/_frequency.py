"""Frequency and calendar: periods per year, calendar gaps, resampling with compounding."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from poolkit._validation import check_choice, check_positive_int, did_you_mean
from poolkit.data._returns import _KINDS
from poolkit.exceptions import DataError, InsufficientDataError, ParameterError

#: Accepted ``frequency`` names -> (pandas resample rule, periods per year).
FREQUENCIES: dict[str, tuple[str, int]] = {
    "daily": ("D", 252),
    "weekly": ("W-FRI", 52),
    "monthly": ("ME", 12),
    "quarterly": ("QE", 4),
    "annual": ("YE", 1),
}
_FREQ_ALIASES = {
    "d": "daily",
    "b": "daily",
    "day": "daily",
    "w": "weekly",
    "week": "weekly",
    "m": "monthly",
    "me": "monthly",
    "month": "monthly",
    "q": "quarterly",
    "qe": "quarterly",
    "quarter": "quarterly",
    "a": "annual",
    "y": "annual",
    "ye": "annual",
    "year": "annual",
    "yearly": "annual",
    "annually": "annual",
}
_PPY_NAME = {252: "daily", 365: "daily", 52: "weekly", 12: "monthly", 4: "quarterly", 1: "annual"}


def _gap_buckets(gaps: np.ndarray) -> dict[str, int]:
    return {
        "daily": int(((gaps >= 1) & (gaps <= 5)).sum()),
        "weekly": int(((gaps >= 6) & (gaps <= 10)).sum()),
        "monthly": int(((gaps >= 25) & (gaps <= 35)).sum()),
        "quarterly": int(((gaps >= 80) & (gaps <= 100)).sum()),
        "annual": int(((gaps >= 355) & (gaps <= 375)).sum()),
    }


_BUCKET_EDGES = np.array([5.0, 17.0, 60.0, 200.0])  # largest gap (days) of daily, weekly, monthly, quarterly
_BUCKET_NAMES = np.array(["daily", "weekly", "monthly", "quarterly", "annual"])


def _buckets_of(gaps: np.ndarray) -> np.ndarray:
    """Frequency name of each gap in days (<= 5 daily, <= 17 weekly, <= 60 monthly, <= 200 quarterly)."""
    return _BUCKET_NAMES[np.searchsorted(_BUCKET_EDGES, gaps, side="left")]


def _check_single_frequency(index: pd.DatetimeIndex, label: str) -> str:
    """Return the frequency name of ``index``; raise if it mixes frequencies."""
    local = index.tz_localize(None) if index.tz is not None else index  # wall-clock dates
    days = np.sort(local.to_numpy().astype("datetime64[D]"))
    spacing = np.diff(days.astype("int64"))
    gaps = spacing[spacing > 0]
    if gaps.size == 0:
        raise InsufficientDataError(
            f"{label}: a single date; at least two dates are needed to tell the frequency."
        )
    main = str(_buckets_of(np.median(gaps)))
    counts = _gap_buckets(gaps)
    threshold = max(6, int(0.02 * gaps.size))
    others = {k: v for k, v in counts.items() if k != main and v >= threshold}
    # a short file can change frequency too: two gaps in a row of another frequency than
    # the main one (one long gap alone is a hole in the data, reported by calendar_gaps)
    kinds = _buckets_of(gaps)
    switch = (kinds[1:] == kinds[:-1]) & (kinds[1:] != main)
    if switch.any() and not others:
        other = str(kinds[1:][switch][0])
        others = {other: int((kinds == other).sum())}
    if others:
        other = max(others, key=lambda k: others[k])
        in_other = _buckets_of(spacing) == other
        first_other = pd.Timestamp(days[1:][in_other][0]).date() if in_other.any() else "?"
        raise DataError(
            f"{label}: mixed frequencies: mostly {main} dates but {others[other]} {other} gaps "
            f"(the first ends {first_other}). Split the file by frequency, or convert it to one frequency "
            f"first (poolkit.data.resample_returns or `frequency=`)."
        )
    return main


#: Calendars known to :func:`calendar_gaps` without an extra package (exchange codes such as
#: "XNYS" need ``exchange_calendars``).
CALENDARS = ("weekdays",)
#: Longest run of consecutive missing weekdays taken for market holidays (9/11 closed the NYSE for 4).
MAX_CLOSED_DAYS = 4


def calendar_gaps(
    index: pd.Index | pd.DataFrame | pd.Series,
    *,
    calendar: str | None = "weekdays",
    max_closed: int | None = None,
) -> pd.DataFrame:
    r"""List the runs of dates missing from a calendar between the first and last date.

    Parameters
    ----------
    index : DatetimeIndex, or DataFrame / Series indexed by dates
        Observation dates (sorted or not).
    calendar : str or None, default "weekdays"
        The dates expected. Daily data: every weekday (Monday to Friday), or every day
        when the data hold weekends; or, given an exchange code such as ``"XNYS"`` (New
        York), ``"XLON"``, ``"XSHG"`` (Shanghai), every trading session of that exchange
        (holidays and closures known; needs the ``exchange_calendars`` package, installed
        with ``poolkit[calendars]``). Weekly, monthly, quarterly and annual data: every
        calendar week (ending Friday), month, quarter or year must hold a date. None
        skips the check (an empty table).
    max_closed : int, optional
        For daily data, runs of at most this many consecutive missing days are not
        listed. Default 4 for ``"weekdays"`` (it knows no holidays: single-day holidays,
        or the four days the New York Stock Exchange closed after 11 September 2001), 0
        for an exchange calendar. Lower frequencies tolerate no missing period.

    Returns
    -------
    DataFrame
        One row per gap (index ``gap``, from 1): ``first`` and ``last`` missing date (or
        period end), ``missing`` (how many dates or periods), ``dates`` (the missing dates,
        ISO strings) and ``after`` (the last date observed before the gap: the return on
        the next date spans the whole gap). ``attrs["calendar"]`` and ``attrs["frequency"]``
        say what was checked.

    Raises
    ------
    TypeError
        If ``index`` holds no dates.
    ParameterError
        For an unknown ``calendar`` (nearest names suggested), an exchange calendar
        without ``exchange_calendars`` installed or outside its dates, or a negative
        ``max_closed``.
    DataError, InsufficientDataError
        From :func:`periods_per_year` (mixed frequencies, fewer than two dates).

    Notes
    -----
    A price series missing :math:`k` trading days gives one return :math:`P_{t+k+1}/P_t - 1`
    that spans :math:`k + 1` days but is counted as one day: its variance is about
    :math:`k + 1` times that of a daily return, which inflates volatility and VaR. The
    weekday calendar knows no holidays; ``max_closed`` is the tolerance that stands in for
    them, so a gap of up to ``max_closed`` weekdays passes unreported.

    Examples
    --------
    >>> days = pd.bdate_range("2024-01-01", "2024-02-29")
    >>> held = days[(days < "2024-01-15") | (days > "2024-02-02")]  # three weeks missing
    >>> gaps = calendar_gaps(held)
    >>> gaps[["first", "last", "missing"]].astype(str).values.tolist()
    [['2024-01-15', '2024-02-02', '15']]
    """
    if isinstance(index, (pd.DataFrame, pd.Series)):
        index = index.index
    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError(f"calendar_gaps needs a DatetimeIndex (or a frame indexed by dates), got {type(index).__name__}.")
    columns = ["first", "last", "missing", "dates", "after"]
    empty = pd.DataFrame(columns=columns).rename_axis("gap")
    if calendar is None or (isinstance(calendar, str) and not calendar.strip()):
        return empty
    if not isinstance(calendar, str):
        raise ParameterError(f"`calendar` must be 'weekdays', an exchange code such as 'XNYS', or None; got {calendar!r}.")
    exchange = calendar not in CALENDARS
    if max_closed is None:
        max_closed = 0 if exchange else MAX_CLOSED_DAYS
    max_closed = check_positive_int(max_closed, name="max_closed", minimum=0)
    dates = pd.DatetimeIndex(np.unique(index.tz_localize(None).normalize() if index.tz is not None else index.normalize()))
    if len(dates) < 2:
        return empty
    ppy = periods_per_year(dates)
    name = _PPY_NAME.get(ppy, "daily")
    if name == "daily" and exchange:
        expected = _exchange_sessions(calendar, dates[0], dates[-1])
        missing = expected.difference(dates)
        step = pd.offsets.BDay(1)
        tolerance = max_closed
    elif name == "daily":
        expected = pd.date_range(dates[0], dates[-1], freq="D" if ppy == 365 else "B")
        missing = expected.difference(dates)
        step = pd.Timedelta(days=1) if ppy == 365 else pd.offsets.BDay(1)
        tolerance = max_closed
    else:
        rule = {"weekly": "W-FRI", "monthly": "M", "quarterly": "Q", "annual": "Y"}[name]
        have = dates.to_period(rule)
        want = pd.period_range(have[0], have[-1], freq=rule)
        missing = want.difference(have).to_timestamp(how="end").normalize()
        step = None
        tolerance = 0
    if len(missing) == 0:
        out = empty
    else:
        if step is None:
            positions = np.searchsorted(pd.period_range(have[0], have[-1], freq=rule).to_timestamp(how="end").normalize(), missing)
        else:
            positions = np.searchsorted(expected, missing)
        breaks = np.flatnonzero(np.diff(positions) != 1) + 1
        runs = np.split(np.arange(len(missing)), breaks)
        rows = []
        for run in runs:  # a loop over gaps, not over days
            if len(run) <= tolerance:
                continue
            block = missing[run]
            before = dates[dates < block[0]]
            rows.append(
                {
                    "first": block[0],
                    "last": block[-1],
                    "missing": len(block),
                    "dates": [d.date().isoformat() for d in block],
                    "after": before[-1] if len(before) else pd.NaT,
                }
            )
        out = pd.DataFrame(rows, columns=columns) if rows else empty
        out.index = pd.RangeIndex(1, len(out) + 1, name="gap")
    out.attrs.update({"calendar": calendar, "frequency": name, "max_closed": tolerance})
    return out


def _exchange_sessions(code: str, first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    """Trading sessions of exchange ``code`` from ``first`` to ``last`` (exchange_calendars, imported here)."""
    try:
        import exchange_calendars as xcals
    except ImportError as exc:
        raise ParameterError(
            f"calendar={code!r} needs the exchange_calendars package (pip install exchange_calendars, or "
            f"poolkit[calendars]); calendar='weekdays' needs nothing."
        ) from exc
    names = xcals.get_calendar_names(include_aliases=True)
    if code not in names:
        raise ParameterError(
            f"unknown calendar {code!r}.{did_you_mean(code, names)} Use 'weekdays' or an exchange code "
            f"such as 'XNYS', 'XLON', 'XSHG' (exchange_calendars.get_calendar_names())."
        )
    try:
        with warnings.catch_warnings():  # the library's own deprecation notices about pandas
            warnings.simplefilter("ignore")
            cal = xcals.get_calendar(code, start=first, end=last)
            sessions = cal.sessions_in_range(first, last)
    except Exception as exc:  # its own errors for dates outside the calendar's bounds
        raise ParameterError(
            f"calendar {code!r} cannot cover {first.date()} to {last.date()}: {exc}. Use calendar='weekdays'."
        ) from exc
    return pd.DatetimeIndex(sessions).tz_localize(None).normalize()


def _gap_note(gaps: pd.DataFrame, what: str) -> str:
    """One sentence naming the gaps of a calendar (first three) for a warning."""
    shown = [
        f"{g.first.date()} to {g.last.date()} ({g.missing})" if g.missing > 1 else f"{g.first.date()}"
        for g in gaps.head(3).itertuples()
    ]
    more = f" and {len(gaps) - 3} more" if len(gaps) > 3 else ""
    unit = "trading day(s)" if gaps.attrs.get("frequency") == "daily" else f"{gaps.attrs.get('frequency')} period(s)"
    return (
        f"{what}: {int(gaps['missing'].sum())} {unit} missing from the {gaps.attrs.get('calendar')} calendar in "
        f"{len(gaps)} gap(s): {', '.join(shown)}{more}; the return after a gap spans all of it. Check the source, "
        f"see poolkit.data.quality_report(...).attrs['calendar_gaps'], or pass calendar=None to skip this check."
    )


def periods_per_year(index: pd.Index | pd.DataFrame | pd.Series, *, override: int | None = None) -> int:
    r"""Return the number of periods per year implied by the dates: 252, 52, 12, 4 or 1.

    Parameters
    ----------
    index : DatetimeIndex, or DataFrame / Series with one
        Observation dates (sorted or not).
    override : int, optional
        A value to use instead of the inferred one (checked to be a positive
        integer), e.g. 365 for assets that trade every calendar day.

    Returns
    -------
    int
        252 for daily (trading-day) data, 365 for daily data that include
        weekends, 52 weekly, 12 monthly, 4 quarterly, 1 annual.

    Raises
    ------
    InsufficientDataError
        If there are fewer than two distinct dates.
    DataError
        If the dates mix frequencies (e.g. monthly, then daily).
    TypeError
        If ``index`` holds no dates.

    Notes
    -----
    The frequency is read from the median gap :math:`\tilde g` in calendar days
    between consecutive dates: :math:`\tilde g \le 5` daily, :math:`\le 17`
    weekly, :math:`\le 60` monthly, :math:`\le 200` quarterly, else annual.
    Annualising a per-period mean multiplies by this number :math:`m`, a
    volatility by :math:`\sqrt{m}` (for independent returns).

    Examples
    --------
    >>> periods_per_year(pd.date_range("2024-01-31", periods=6, freq="ME"))
    12
    """
    if override is not None:
        return check_positive_int(override, name="periods_per_year")
    if isinstance(index, (pd.DataFrame, pd.Series)):
        index = index.index
    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError(
            f"periods_per_year needs a DatetimeIndex (or a frame indexed by dates), got {type(index).__name__}; "
            f"pass periods_per_year=... explicitly or index the data by date."
        )
    name = _check_single_frequency(index, "dates")
    if name == "daily":
        weekend = np.asarray(index.day_of_week >= 5)
        return 365 if weekend.mean() > 0.1 else 252
    return FREQUENCIES[name][1]


def _frequency_name(frequency: str) -> str:
    if not isinstance(frequency, str):
        raise ParameterError(f"`frequency` must be a string such as 'monthly', got {frequency!r}.")
    key = frequency.strip().lower()
    key = _FREQ_ALIASES.get(key, key)
    return check_choice(key, list(FREQUENCIES), name="frequency")


def _resample_rule(frame: pd.DataFrame, frequency: str, what: str) -> tuple[str, str]:
    target = _frequency_name(frequency)
    current = _PPY_NAME.get(periods_per_year(frame.index), "daily")
    if FREQUENCIES[target][1] > FREQUENCIES[current][1]:
        raise ParameterError(
            f"cannot resample {current} {what} to {target}: only a lower frequency can be built from the data. "
            f"Use frequency={current!r} or lower ({[k for k, v in FREQUENCIES.items() if v[1] <= FREQUENCIES[current][1]]})."
        )
    if target == current:
        return target, ""  # already at that frequency: nothing to do
    return target, FREQUENCIES[target][0]


def _raise_on_empty_periods(out: pd.DataFrame, what: str) -> None:
    empty = out.isna().all(axis=1).to_numpy()
    if empty.any():
        first = out.index[empty][0]
        raise DataError(
            f"{what}: no observation at all in the period ending {first.date()} ({int(empty.sum())} empty period(s)); "
            f"the data have a gap there. Load a range without the gap, or use a lower frequency."
        )


def _label_by_last_date(out: pd.DataFrame, index: pd.DatetimeIndex, rule: str) -> pd.DataFrame:
    """Label each resampled period by the last date observed in it (not a calendar date past the data)."""
    last = index.to_series().resample(rule).max()
    out = out.copy()
    out.index = pd.DatetimeIndex(last.reindex(out.index).to_numpy(), name="date")
    return out


def _resample_prices(frame: pd.DataFrame, rule: str, name: str) -> pd.DataFrame:
    if not rule:
        return frame
    out = frame.resample(rule).last()
    _raise_on_empty_periods(out, name)
    return _label_by_last_date(out, frame.index, rule)


def resample_returns(
    returns: pd.DataFrame | pd.Series, frequency: str, *, kind: str | None = None
) -> pd.DataFrame | pd.Series:
    r"""Compound periodic returns into returns of a lower frequency.

    Parameters
    ----------
    returns : DataFrame (n_dates, n_assets) or Series
        Periodic returns indexed by date (a DatetimeIndex), no missing values.
    frequency : {"weekly", "monthly", "quarterly", "annual"}
        Target frequency (aliases "W", "M", "Q", "A"/"Y" accepted). Calendar
        periods: weeks ending on Friday, months, quarters, years. The first
        and last periods may be partial (they hold the data there are).
    kind : {"simple", "log"}, optional
        Whether ``returns`` are simple or log returns; the result is of the same kind.
        By default the kind the returns are tagged with (``attrs["returns_kind"]``, as
        :func:`load_returns` sets it), else simple. A kind that contradicts the tag is
        refused.

    Returns
    -------
    DataFrame or Series
        One row per period, labelled by the last date observed in the period
        (so no label lies beyond the data), same columns (or name) as ``returns``.

    Raises
    ------
    DataError
        If ``returns`` has dates out of order or repeated, a missing value, a simple
        return at or below -100 %, values that look like percents, or a period with
        no observation.
    ParameterError
        If ``frequency`` or ``kind`` is unknown, ``kind`` contradicts the tag, or the
        frequency is higher than the data's.
    TypeError
        If ``returns`` is not indexed by dates.

    Notes
    -----
    Simple returns compound by multiplication, log returns add up:

    .. math:: 1 + R_{t_0 \to t_n} = \prod_{k=1}^{n} (1 + R_k), \qquad
              r_{t_0 \to t_n} = \sum_{k=1}^{n} r_k .

    Summing simple returns instead overstates gains and understates losses:
    +10 % then -10 % is -1 %, not 0 %.

    References
    ----------
    .. [1] Campbell, J. Y., Lo, A. W. and MacKinlay, A. C. (1997). The Econometrics of
       Financial Markets, ch. 1.4. Princeton University Press.

    Examples
    --------
    >>> r = pd.Series([0.10, -0.10], index=pd.to_datetime(["2024-01-15", "2024-01-31"]))
    >>> round(float(resample_returns(r, "monthly").iloc[0]), 6)
    -0.01
    """
    from poolkit._validation import check_return_units, check_time_index, returns_kind

    if not isinstance(returns, (pd.DataFrame, pd.Series)):
        raise TypeError(f"`returns` must be a pandas DataFrame or Series, got {type(returns).__name__}.")
    tagged = returns_kind(returns) if "returns_kind" in returns.attrs else None
    if kind is None:
        kind = tagged or "simple"
    check_choice(kind, _KINDS, name="kind")
    if tagged is not None and kind != tagged:
        raise ParameterError(
            f"`returns` are tagged as {tagged} returns (attrs['returns_kind'] == {tagged!r}) but kind={kind!r} "
            f"was given; leave `kind` out to use the tag, or correct the tag if it is wrong."
        )
    if not isinstance(returns.index, pd.DatetimeIndex):
        raise TypeError("`returns` must be indexed by dates (DatetimeIndex); use poolkit.data.load_returns.")
    frame = returns.to_frame() if isinstance(returns, pd.Series) else returns
    check_time_index(frame.index, name="returns")
    try:
        values = frame.to_numpy(dtype="float64")
    except (TypeError, ValueError) as exc:
        raise DataError(f"`returns` must hold numbers only: {exc}. Convert with pd.to_numeric.") from exc
    if np.isnan(values).any():
        r, c = np.argwhere(np.isnan(values))[0]
        raise DataError(
            f"`returns` has a missing value in column {frame.columns[c]!r} at {frame.index[r].date()}; compounding "
            f"would silently treat it as 0. Fill or drop missing values first (load with missing='drop'/'ffill')."
        )
    if kind == "simple" and (values <= -1).any():
        r, c = np.argwhere(values <= -1)[0]
        raise DataError(
            f"`returns` column {frame.columns[c]!r} has a simple return of {values[r, c]:g} at {frame.index[r].date()} "
            f"(at or below -100 %); simple returns must be > -1. Were these log returns (kind='log') or percents?"
        )
    if np.isinf(values).any():
        r, c = np.argwhere(np.isinf(values))[0]
        raise DataError(
            f"`returns` has an infinite value in column {frame.columns[c]!r} at {frame.index[r].date()}; "
            f"check the prices behind it."
        )
    check_return_units(
        np.expm1(values) if kind == "log" else values, frame, fractions=returns.attrs.get("units") == "fraction"
    )
    target, rule = _resample_rule(frame, frequency, "returns")
    growth = np.log1p(frame.astype("float64")) if kind == "simple" else frame.astype("float64")
    if rule:
        summed = growth.resample(rule).sum(min_count=1)
        _raise_on_empty_periods(summed, "`returns`")
        summed = _label_by_last_date(summed, growth.index, rule)
    else:
        summed = growth
    out = np.expm1(summed) if kind == "simple" else summed
    out.index.name = frame.index.name if frame.index.name is not None else "date"
    out.attrs = dict(returns.attrs, kind="returns", returns_kind=kind, frequency=target)
    if isinstance(returns, pd.Series):
        series = out.iloc[:, 0]
        series.name = returns.name
        return series
    return out

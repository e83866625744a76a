"""Loading prices, returns and a benchmark from a sample, a file or a frame, checked."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from poolkit._validation import check_choice, check_positive_int, did_you_mean
from poolkit.data._frequency import (
    _check_single_frequency,
    _gap_note,
    _resample_prices,
    _resample_rule,
    calendar_gaps,
    resample_returns,
)
from poolkit.data._parsing import _frame_from_raw, _Where
from poolkit.data._returns import _KINDS, align_returns, to_returns
from poolkit.data._sources import _SAMPLES, _read_raw, _read_sample, _sample_key, source_path
from poolkit.exceptions import DataError, InsufficientDataError, ParameterError, PoolkitWarning

_MISSING = ("raise", "drop", "ffill")
_VALUES = ("auto", "prices", "returns")


def _detect_kind(frame: pd.DataFrame) -> tuple[str, str]:
    """Guess prices or returns from the values; return (kind, reason)."""
    values = frame.to_numpy()
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return "prices", "no values"
    negative = float((finite < 0).mean())
    inside = float((np.abs(finite) < 1).mean())
    if negative > 0 and inside >= 0.9:
        return "returns", f"{negative:.0%} of values negative and {inside:.0%} within (-1, 1)"
    if negative == 0:
        return "prices", "all values non-negative"
    return "prices", f"{negative:.0%} of values negative but only {inside:.0%} within (-1, 1)"


def _as_list(assets: object) -> list[str] | None:
    if assets is None:
        return None
    if isinstance(assets, str):
        return [assets] if assets else None
    if isinstance(assets, Iterable):
        items = [str(a) for a in assets]
        if len(set(items)) != len(items):
            dup = sorted({a for a in items if items.count(a) > 1})
            raise ParameterError(f"`assets` names {dup} more than once; list each asset once.")
        return items or None
    raise ParameterError(f"`assets` must be a list of asset names, got {assets!r}.")


def _as_date(value: object, name: str) -> pd.Timestamp | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        raise ParameterError(f"`{name}` must be a date such as '2015-01-31', got the number {value!r}.")
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`{name}` must be a date such as '2015-01-31', got {value!r} ({exc}).") from exc
    if stamp is pd.NaT:
        raise ParameterError(f"`{name}` must be a date such as '2015-01-31', got {value!r}.")
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def _read_source(source: object, date_column: str | None) -> tuple[pd.DataFrame, str, str, str | None]:
    """Return (frame, label, source path, known kind) for a sample, a file or a frame."""
    if isinstance(source, (pd.DataFrame, pd.Series)):
        raw = source.to_frame() if isinstance(source, pd.Series) else source
        if isinstance(raw.index, pd.DatetimeIndex) and not date_column:
            body = raw.copy()
            body.columns = [str(c) for c in body.columns]
            where = _Where("`source` frame", 0, False)
            frame = _frame_from_raw(body.reset_index(names="__date__"), "__date__", where)
        else:
            raw = raw.reset_index(drop=not (raw.index.name is not None)) if not date_column else raw
            raw = raw.copy()
            raw.columns = [str(c) for c in raw.columns]
            frame = _frame_from_raw(raw, date_column, _Where("`source` frame", 0, False))
        known = source.attrs.get("kind") if source.attrs.get("kind") in ("prices", "returns") else None
        return frame, "`source` frame", str(source.attrs.get("source", "<DataFrame>")), known
    if not isinstance(source, (str, Path)):
        raise TypeError(
            f"`source` must be a path, a sample name or a DataFrame, got {type(source).__name__}."
        )
    key = _sample_key(source.strip()) if isinstance(source, str) else None
    path = source_path(source)
    if key is not None:
        frame = _read_sample(key).copy()
        return frame, f"sample {str(source).strip()!r}", str(path), _SAMPLES[key][2]
    raw, first_row = _read_raw(path)
    where = _Where(f"file {str(path)!r}", first_row, True)
    return _frame_from_raw(raw, date_column, where), where.label, str(path), None


def _apply_missing(
    frame: pd.DataFrame, missing: str, limit: int | None, kind: str, label: str
) -> pd.DataFrame:
    mask = frame.isna().to_numpy()
    if not mask.any():
        return frame
    total = int(mask.sum())
    if missing == "raise":
        r, c = np.argwhere(mask)[0]
        raise DataError(
            f"{label}: {total} missing value(s); the first is in column {frame.columns[c]!r} at "
            f"{frame.index[r].date()}. Choose a policy: missing='drop' (drop those dates) or missing='ffill' "
            f"(carry the last price forward, up to `limit` periods), or restrict `assets`/`start`."
        )
    if missing == "drop":
        keep = ~mask.any(axis=1)
        out = frame.loc[keep]
        warnings.warn(
            f"{label}: dropped {int((~keep).sum())} date(s) with a missing value (missing='drop').",
            PoolkitWarning,
            stacklevel=4,
        )
        return out
    # ffill: prices carry the last value; returns fill with 0 (the same thing: the price did not move)
    started = ~np.logical_and.accumulate(mask, axis=0)  # after the first observation
    filled = (
        frame.ffill(limit=limit)
        if kind == "prices"
        else frame.mask(frame.isna() & frame.ffill(limit=limit).notna(), 0.0)
    )
    left = filled.isna().to_numpy()
    inner_left = left & started
    if inner_left.any():
        r, c = np.argwhere(inner_left)[0]
        raise DataError(
            f"{label}: column {frame.columns[c]!r} has a gap longer than limit={limit} at {frame.index[r].date()}; "
            f"forward-filling it would invent data. Raise `limit`, use missing='drop', or drop the asset."
        )
    if left.any():
        r, c = np.argwhere(left)[0]
        first_valid = frame.iloc[:, c].first_valid_index()
        raise DataError(
            f"{label}: column {frame.columns[c]!r} starts later ({first_valid.date() if first_valid is not None else 'never'}) "
            f"than the other assets ({frame.index[0].date()}); nothing to carry forward before it. "
            f"Pass start='{first_valid.date() if first_valid is not None else ''}' or missing='drop'."
        )
    warnings.warn(
        f"{label}: filled {int((mask & ~left).sum())} missing value(s) (missing='ffill', limit={limit}).",
        PoolkitWarning,
        stacklevel=4,
    )
    return filled


def _load(
    source: object,
    *,
    assets: object,
    start: object,
    end: object,
    date_column: str | None,
    missing: str,
    limit: int | None,
    values: str,
    calendar: str | None = "weekdays",
) -> pd.DataFrame:
    check_choice(missing, _MISSING, name="missing")
    check_choice(values, _VALUES, name="values")
    if limit is not None:
        limit = check_positive_int(limit, name="limit")
    wanted = _as_list(assets)
    t0, t1 = _as_date(start, "start"), _as_date(end, "end")
    if t0 is not None and t1 is not None and t0 > t1:
        raise ParameterError(f"`start` ({t0.date()}) is after `end` ({t1.date()}); swap them.")
    frame, label, path, known = _read_source(source, date_column or None)

    empty = frame.columns[frame.isna().all().to_numpy()]
    if wanted is not None:
        unknown = [a for a in wanted if a not in frame.columns]
        if unknown:
            cols = list(frame.columns)
            raise DataError(
                f"{label}: asset {unknown[0]!r} is not in the data.{did_you_mean(unknown[0], cols)} "
                f"Available ({len(cols)}): {cols[:25]}{'...' if len(cols) > 25 else ''}."
            )
        frame = frame[wanted]
    if len(empty) and (wanted is None or set(empty) & set(wanted)):
        col = next(c for c in frame.columns if c in set(empty))
        raise DataError(
            f"{label}: column {col!r} is entirely empty (no values); drop it or leave it out of `assets`."
        )

    if not frame.index.is_monotonic_increasing:
        order = np.argsort(frame.index.values, kind="stable")
        frame = frame.iloc[order]
        warnings.warn(f"{label}: dates were not in order; sorted them.", PoolkitWarning, stacklevel=3)

    kind = values if values != "auto" else known
    if kind is None:
        kind, reason = _detect_kind(frame)
        warnings.warn(
            f"{label}: read the values as {kind} ({reason}); pass values={kind!r} to state it.",
            PoolkitWarning,
            stacklevel=3,
        )

    first, last = frame.index[0], frame.index[-1]
    if t0 is not None and t0 > last:
        raise DataError(
            f"{label}: start={t0.date()} is after the last date of the data ({last.date()}); the data cover {first.date()} to {last.date()}."
        )
    if t1 is not None and t1 < first:
        raise DataError(
            f"{label}: end={t1.date()} is before the first date of the data ({first.date()}); the data cover {first.date()} to {last.date()}."
        )
    if t0 is not None or t1 is not None:
        frame = frame.loc[t0:t1]  # type: ignore[misc]
    if frame.shape[0] == 0:
        raise InsufficientDataError(
            f"{label}: no dates between start={t0} and end={t1}; the data cover {first.date()} to {last.date()}."
        )

    if len(frame.index) >= 2:
        _check_single_frequency(frame.index, label)
        gaps = calendar_gaps(frame.index, calendar=calendar)
        if len(gaps):
            warnings.warn(_gap_note(gaps, label), PoolkitWarning, stacklevel=3)
    frame = _apply_missing(frame, missing, limit, kind, label)
    arr = frame.to_numpy()
    if kind == "prices" and (arr <= 0).any():
        r, c = np.argwhere(arr <= 0)[0]
        hint = (
            " The values look like returns: pass values='returns'."
            if _detect_kind(frame)[0] == "returns"
            else " If these are returns in percent, divide them by 100 and pass values='returns'."
            if (arr < 0).any()
            else " Blank the cell (missing) and choose a `missing` policy, or drop the asset."
        )
        raise DataError(
            f"{label}: non-positive price {arr[r, c]:g} in column {frame.columns[c]!r} at {frame.index[r].date()}.{hint}"
        )
    if kind == "returns" and (arr <= -1).any():
        r, c = np.argwhere(arr <= -1)[0]
        raise DataError(
            f"{label}: return {arr[r, c]:g} in column {frame.columns[c]!r} at {frame.index[r].date()} is at or below "
            f"-100 %. Returns must be decimals (0.01 = 1 %): divide percents by 100, or pass values='prices'."
        )
    frame = frame.copy()
    frame.index.name = "date"
    frame.columns.name = None
    frame.attrs = {
        "source": path,
        "name": str(source) if isinstance(source, (str, Path)) else label,
        "kind": kind,
    }
    return frame


def _resample_loaded_prices(frame: pd.DataFrame, frequency: str) -> pd.DataFrame:
    """Resample a loaded price panel to ``frequency``, recording it in ``attrs``."""
    target, rule = _resample_rule(frame, frequency, "prices")
    attrs = frame.attrs
    out = _resample_prices(frame, rule, attrs["name"])
    out.attrs = dict(attrs, frequency=target)
    return out


def _check_loaded_rows(n_rows: int, min_obs: object, name: str, what: str) -> None:
    """Raise InsufficientDataError when fewer than ``min_obs`` rows were loaded."""
    minimum = check_positive_int(min_obs, name="min_obs")
    if n_rows < minimum:
        raise InsufficientDataError(
            f"{name}: {n_rows} {what} loaded but at least {minimum} are needed; widen start/end or "
            f"use a higher frequency."
        )


def load_prices(
    source: str | Path | pd.DataFrame = "sample",
    *,
    assets: Sequence[str] | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    date_column: str | None = None,
    frequency: str | None = None,
    missing: str = "raise",
    limit: int | None = 5,
    values: str = "auto",
    min_obs: int = 2,
    calendar: str | None = "weekdays",
) -> pd.DataFrame:
    r"""Load a price panel (dates x assets) from a sample, a file or a frame.

    Parameters
    ----------
    source : str, Path or DataFrame, default "sample"
        A bundled sample (``"sample"`` = ``"sample:sp500"``, ``"sample:sp500_index"``,
        ``"sample:factor_etfs"``, ``"sample:ff_portfolios"``, ``"sample:ff_factors"``),
        a ``.csv``/``.csv.gz``/``.parquet``/``.xlsx`` file in wide layout (a date
        column, one column per asset) or long layout (date, asset, value), or a frame.
    assets : list of str, optional
        Assets to keep, in this order; None or ``[]`` keeps every asset.
    start, end : str or Timestamp, optional
        First and last date kept (inclusive, ISO strings); None or ``""`` = no bound.
    date_column : str, optional
        Name of the date column; by default a column named like ``date`` or the first column.
    frequency : str, optional
        Resample to ``"weekly"``, ``"monthly"``, ``"quarterly"`` or ``"annual"``,
        keeping the last price of each period, dated by its last observed
        date; None or ``""`` keeps the file's.
    missing : {"raise", "drop", "ffill"}, default "raise"
        What to do with missing values: raise naming the first, drop every date
        with one, or carry the last price forward (at most ``limit`` periods).
        Dropping or filling warns with the count.
    limit : int, default 5
        Longest run of missing values ``missing="ffill"`` may fill.
    values : {"auto", "prices", "returns"}, default "auto"
        What the file holds. ``"auto"`` detects it (prices are never negative;
        returns are mostly within (-1, 1) and some are negative) and warns with
        what it found. A returns file becomes a growth-of-1 index.
    min_obs : int, default 2
        Fewest dates the result may have.
    calendar : str or None, default "weekdays"
        Calendar the dates are checked against (:func:`calendar_gaps`): missing trading
        days (runs of more than 4 weekdays, so holidays pass; or every missing session of
        an exchange such as ``"XNYS"``) or missing weeks, months... are warned about
        (PoolkitWarning) with their dates; None skips the check.

    Returns
    -------
    DataFrame
        float64 prices, sorted DatetimeIndex named ``date``, one column per
        asset; ``attrs`` holds ``source`` (file path), ``name`` and ``kind``.

    Raises
    ------
    DataError
        Missing, empty or unreadable file; unknown format; no date column;
        unparseable or duplicated dates; non-numeric cell; non-positive price;
        an empty column; an unknown asset (nearest names suggested); start or
        end outside the data; missing values under ``missing="raise"``; mixed
        frequencies. Each message names the file, column and row or date.
    InsufficientDataError
        Fewer than ``min_obs`` dates remain.
    ParameterError
        Start after end, an unknown option.

    Notes
    -----
    A returns file is turned into the value of 1 invested just before its first
    date, :math:`V_t = \prod_{k \le t} (1 + R_k)`, with a
    :class:`~poolkit.exceptions.PoolkitWarning`. Unsorted dates are sorted, with a warning.

    Examples
    --------
    >>> prices = load_prices("sample", assets=["AAPL", "MSFT"], end="1990-01-05")
    >>> float(prices.loc["1990-01-02", "MSFT"])
    0.384
    """
    frame = _load(
        source,
        assets=assets,
        start=start,
        end=end,
        date_column=date_column,
        missing=missing,
        limit=limit,
        values=values,
        calendar=calendar,
    )
    if frame.attrs["kind"] == "returns":
        warnings.warn(
            f"{frame.attrs['name']} holds returns; returning the growth of 1 invested before its first date.",
            PoolkitWarning,
            stacklevel=2,
        )
        attrs = frame.attrs
        frame = np.exp(np.log1p(frame).cumsum())
        frame.attrs = dict(attrs, kind="prices")
    if frequency:
        frame = _resample_loaded_prices(frame, frequency)
    _check_loaded_rows(len(frame), min_obs, frame.attrs["name"], "date(s)")
    return frame


def load_returns(
    source: str | Path | pd.DataFrame = "sample",
    *,
    kind: str = "simple",
    frequency: str | None = None,
    assets: Sequence[str] | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    date_column: str | None = None,
    missing: str = "raise",
    limit: int | None = 5,
    values: str = "auto",
    min_obs: int = 2,
    align_to: pd.DataFrame | pd.Series | None = None,
    calendar: str | None = "weekdays",
) -> pd.DataFrame:
    r"""Load periodic returns (dates x assets) from a sample, a file or a frame.

    A file of prices is turned into returns; a file of returns (decimal simple
    returns, 0.01 = 1 %) is used as it is. See :func:`load_prices` for the
    accepted sources, layouts and the errors raised.

    Parameters
    ----------
    source : str, Path or DataFrame, default "sample"
        Sample name, file path or frame (see :func:`load_prices`).
    kind : {"simple", "log"}, default "simple"
        Simple returns :math:`P_t/P_{t-1} - 1` or log returns :math:`\ln(P_t/P_{t-1})`.
    frequency : str, optional
        ``"weekly"``, ``"monthly"``, ``"quarterly"`` or ``"annual"``: prices are
        sampled at period ends, returns are compounded (:func:`resample_returns`).
    assets, start, end, date_column, missing, limit, values, calendar
        As in :func:`load_prices`. ``start`` and ``end`` bound the dates read:
        with prices, the first return is that of the second date kept.
        ``missing="ffill"`` on a returns file fills with 0 (an unchanged price).
    min_obs : int, default 2
        Fewest returns the result may have.
    align_to : DataFrame or Series, optional
        Returns of a benchmark (or any series) to align to: only the dates both cover
        are kept, a return on a date ``align_to`` lacks being compounded into the next
        common date (see :func:`align_returns`, which aligns both sides at once).

    Returns
    -------
    DataFrame
        float64 returns, sorted DatetimeIndex named ``date``, one column per
        asset; ``attrs``: ``source``, ``name``, ``kind="returns"``, ``returns_kind``.

    Raises
    ------
    DataError, InsufficientDataError, ParameterError
        As in :func:`load_prices`; InsufficientDataError when fewer than
        ``min_obs`` returns remain (or fewer than 2 dates are shared with ``align_to``).

    Notes
    -----
    .. math:: R_t = \frac{P_t}{P_{t-1}} - 1, \qquad r_t = \ln(1 + R_t).

    Examples
    --------
    >>> r = load_returns("sample:ff_factors", assets=["MktRF"], end="1949-03-01")
    >>> r["MktRF"].tolist()
    [0.0023, -0.0293, 0.0404]
    """
    check_choice(kind, _KINDS, name="kind")
    frame = _load(
        source,
        assets=assets,
        start=start,
        end=end,
        date_column=date_column,
        missing=missing,
        limit=limit,
        values=values,
        calendar=calendar,
    )
    attrs = frame.attrs
    if attrs["kind"] == "prices":
        if frequency:
            frame = _resample_loaded_prices(frame, frequency)
            attrs = frame.attrs
        if len(frame) < 2:
            raise InsufficientDataError(
                f"{attrs['name']}: {len(frame)} price date(s) loaded; at least 2 are needed for a return. "
                f"Widen start/end or use a higher frequency."
            )
        out = to_returns(frame, kind=kind)
    else:
        out = frame
        if frequency:
            out = resample_returns(out, frequency)
            attrs = dict(attrs, frequency=out.attrs["frequency"])
        if kind == "log":
            out = np.log1p(out)
    assert isinstance(out, pd.DataFrame)
    out.index.name = "date"
    out.attrs = dict(attrs, kind="returns", returns_kind=kind)
    if align_to is not None:
        out, _ = align_returns(out, align_to)
    _check_loaded_rows(len(out), min_obs, attrs["name"], "return(s)")
    return out


def load_benchmark(
    source: str | Path | pd.DataFrame | None,
    *,
    column: str | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    frequency: str | None = None,
    values: str = "auto",
) -> pd.Series | None:
    r"""Load the returns of one benchmark (a market index, a peer fund) as a Series.

    Parameters
    ----------
    source : str, Path, DataFrame or None
        As in :func:`load_returns` (e.g. ``"sample:sp500_index"``); ``""`` or None
        means no benchmark (the notebooks' sentinel) and gives None.
    column : str, optional
        The column to use when the source holds several series; required then.
    start, end, frequency, values
        As in :func:`load_returns`.

    Returns
    -------
    Series or None
        Simple returns named after the column, DatetimeIndex named ``date``; None when
        ``source`` is empty.

    Raises
    ------
    ParameterError
        If the source holds several series and ``column`` is not given.
    DataError, InsufficientDataError
        As in :func:`load_returns` (an unknown ``column`` is named with the nearest).

    Notes
    -----
    A benchmark is one series :math:`r_{b,t}`; taking "the first column" of a file of
    several would silently pick one, so the column must be named.

    Examples
    --------
    >>> bench = load_benchmark("sample:sp500_index", end="1990-01-05")
    >>> bench.name, len(bench)
    ('SP500', 3)
    >>> load_benchmark("") is None
    True
    """
    if source is None or (isinstance(source, str) and not source.strip()):
        return None
    frame = load_returns(source, assets=[column] if column else None, start=start, end=end,
                         frequency=frequency, values=values)
    if frame.shape[1] != 1:
        raise ParameterError(
            f"benchmark {frame.attrs['name']!r} holds {frame.shape[1]} series {list(frame.columns)[:10]}; "
            f"name the one to use with `column=`."
        )
    out = frame.iloc[:, 0]
    out.attrs = dict(frame.attrs)
    return out

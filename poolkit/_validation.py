"""Private input checks shared by every poolkit module.

Each check either returns a clean copy of its input (float, labelled, never the
caller's object changed in place) or raises a :class:`~poolkit.exceptions.PoolkitError`
subclass whose message names the argument, what was expected, what was received
and how to fix it.
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from poolkit.exceptions import (
    AlignmentError,
    CovarianceError,
    DataError,
    InsufficientDataError,
    ParameterError,
)

NAN_POLICIES = ("raise", "drop", "pairwise")


def nearest_names(name: object, candidates: Iterable[object], n: int = 3) -> list[str]:
    """Return up to ``n`` candidate names closest to ``name`` (for "did you mean")."""
    pool = [str(c) for c in candidates]
    found = difflib.get_close_matches(str(name), pool, n=n, cutoff=0.5)
    if not found:
        lower = {p.lower(): p for p in pool}
        found = [lower[m] for m in difflib.get_close_matches(str(name).lower(), list(lower), n=n, cutoff=0.5)]
    return found


def did_you_mean(name: object, candidates: Iterable[object]) -> str:
    """Return ``" Did you mean 'X'?"`` or an empty string."""
    close = nearest_names(name, candidates)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


def check_choice(value: object, choices: Sequence[str], *, name: str) -> str:
    """Check that ``value`` is one of ``choices`` (strings) and return it."""
    if not isinstance(value, str) or value not in choices:
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        raise ParameterError(f"`{name}` must be one of {list(choices)}, got {value!r}.{hint}")
    return value


def check_nan_policy(nan_policy: object, allowed: Sequence[str] = NAN_POLICIES, *, where: str = "") -> str:
    """Check a ``nan_policy`` among the policies a function supports and return it.

    ``"raise"`` names the first missing value, ``"drop"`` drops every date with one, and
    ``"pairwise"`` (where meaningful) uses, per asset or pair, the dates it is observed.
    A known policy the function does not support is refused with the reason.
    """
    check_choice(nan_policy, NAN_POLICIES, name="nan_policy")
    if nan_policy not in allowed:
        raise ParameterError(
            f"{where or 'this function'} supports nan_policy {' or '.join(repr(a) for a in allowed)}, not "
            f"{nan_policy!r}: its result needs every asset on the same dates. Use nan_policy='drop' to keep "
            f"the dates where every asset is observed."
        )
    return str(nan_policy)


def check_level(level: object, *, name: str = "level") -> float:
    """Check a confidence level in the open interval (0.5, 1) and return it as float."""
    if isinstance(level, bool) or not isinstance(level, numbers.Real):
        raise ParameterError(f"`{name}` must be a number in (0.5, 1) such as 0.95, got {level!r}.")
    value = float(level)
    if not 0.5 < value < 1.0:
        hint = ""
        if 50.0 < value < 100.0:
            hint = f" Did you mean {value / 100:g}?"
        raise ParameterError(f"`{name}` must be in (0.5, 1), got {value:g}.{hint}")
    return value


def check_fraction(
    value: object,
    *,
    name: str,
    low: float = 0.0,
    high: float = 1.0,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Check a scalar rate or probability within [low, high] (ends open on request).

    Values that look like percentages (e.g. 6 for 6 %) get a hint.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"`{name}` must be a number, got {value!r}.")
    x = float(value)
    below = x <= low if low_open else x < low
    above = x >= high if high_open else x > high
    if not np.isfinite(x) or below or above:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        hint = ""
        if high == 1.0 and 1.0 < x <= 100.0:
            hint = f" Did you mean {x:g} % = {x / 100:g}?"
        raise ParameterError(f"`{name}` must be in {left}{low:g}, {high:g}{right}, got {x:g}.{hint}")
    return x


def check_positive_int(value: object, *, name: str, minimum: int = 1) -> int:
    """Check an integer >= ``minimum`` and return it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ParameterError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    if int(value) < minimum:
        raise ParameterError(f"`{name}` must be an integer >= {minimum}, got {value}.")
    return int(value)


def as_frame(data: object, *, name: str = "returns") -> tuple[pd.DataFrame, bool]:
    """Return ``(frame, was_series)`` for a DataFrame or Series of numbers.

    The frame is a float copy; a Series becomes a one-column frame named after it.
    """
    if isinstance(data, pd.Series):
        col = data.name if data.name is not None else name
        frame = data.to_frame(name=col)
        was_series = True
    elif isinstance(data, pd.DataFrame):
        frame = data
        was_series = False
    else:
        raise TypeError(
            f"`{name}` must be a pandas DataFrame (dates x assets) or Series, got {type(data).__name__}. "
            f"Wrap arrays with pd.DataFrame(array, index=dates, columns=assets)."
        )
    if frame.shape[1] == 0:
        raise DataError(f"`{name}` has no columns (assets).")
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()].unique().tolist()
        raise DataError(f"`{name}` has duplicated asset columns {dup}; give each asset a unique name.")
    bad = [
        (c, dtype)
        for c, dtype in frame.dtypes.items()
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    ]
    if bad:
        raise DataError(
            f"`{name}` column {bad[0][0]!r} is not numeric (dtype {bad[0][1]}); "
            f"convert it with pd.to_numeric or drop it."
        )
    return frame.astype("float64"), was_series


#: What ``attrs["returns_kind"]`` may say about returns (absent = "simple").
RETURNS_KINDS = ("simple", "log")
#: Largest size of a simple return accepted (100,000,000 % in one period): beyond it the
#: values are not returns, and their squares and products overflow.
MAX_ABS_RETURN = 1e6
#: Smallest size of a column of non-zero returns accepted: below it fourth powers underflow.
MIN_ABS_RETURN = 1e-50
#: The percent check: a column reads as percents when its median absolute return exceeds
#: ``PERCENT_BOUND / sqrt(p)`` (a typical move of 150 % a year), ``p`` its periods per year.
PERCENT_BOUND = 1.5
#: Columns with fewer observations use the frequency-free bound: a median absolute return of 1 (100 %).
PERCENT_MIN_OBS = 20
#: The percent check's prefilter keeps a column whose sum of squares exceeds this share of
#: ``n bound^2`` (half, less a margin for rounding), before it counts the returns above the bound.
PERCENT_SQUARES_SHARE = 0.5 * (1.0 - 1e-9)

_ORDERED_INDEXES = (pd.DatetimeIndex, pd.PeriodIndex, pd.TimedeltaIndex)


def _show(label: object) -> str:
    """Show a date as 'YYYY-MM-DD' (with the time only when there is one), other labels as repr."""
    if isinstance(label, pd.Timestamp):
        return label.date().isoformat() if label == label.normalize() else str(label)
    if label is pd.NaT:
        return "NaT"
    return repr(label)


def check_time_index(index: pd.Index, *, name: str = "returns") -> None:
    """Refuse rows that are not in time order: unsorted, duplicated or missing dates.

    The one order check of poolkit, applied to every time series that comes in (by
    :func:`check_returns` and the risk functions' fast path). Dates, periods and numbers
    must increase strictly from row to row; an index of other labels (text) cannot be
    checked and is let through.

    Raises
    ------
    DataError
        Naming the first date out of order (or repeated, or missing) and the fix:
        ``returns.sort_index()`` or dropping the duplicates.
    """
    if index.is_monotonic_increasing and index.is_unique:
        return
    ordered = isinstance(index, _ORDERED_INDEXES) or (
        pd.api.types.is_numeric_dtype(index.dtype) and not pd.api.types.is_bool_dtype(index.dtype)
    )
    if not ordered:
        return
    what = "dates" if isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex)) else "row labels"
    if index.hasnans:
        pos = int(np.argmax(np.asarray(index.isna())))
        raise DataError(
            f"`{name}` has a missing date (NaT) at position {pos + 1} of its index; every row needs its date. "
            f"Drop it with `{name} = {name}[{name}.index.notna()]`."
        )
    codes = index.asi8 if hasattr(index, "asi8") and index.asi8 is not None else np.asarray(index, dtype="float64")
    step = np.diff(codes)
    n_dup = int(index.duplicated().sum())
    dup_note = (
        f" It also repeats {n_dup} date(s): keep one row per date with "
        f"`{name} = {name}[~{name}.index.duplicated(keep='last')]`."
        if n_dup
        else ""
    )
    if (step < 0).any():
        k = int(np.argmax(step < 0)) + 1
        raise DataError(
            f"`{name}` {what} are not sorted: {_show(index[k])} (position {k + 1}) comes after "
            f"{_show(index[k - 1])} (position {k}); {int((step < 0).sum())} step(s) go back in time. "
            f"A time series must run forward: sort it with `{name} = {name}.sort_index()`.{dup_note}"
        )
    k = int(np.argmax(step == 0)) + 1
    first = index[k]
    where = np.flatnonzero(np.asarray(index == first))[:3] + 1
    raise DataError(
        f"`{name}` has {what[:-1] if what == 'dates' else 'row label'} {_show(first)} "
        f"{int((index == first).sum())} times (positions {', '.join(map(str, where))}); {n_dup} duplicated "
        f"{what} in all. Keep one row per date: `{name} = {name}[~{name}.index.duplicated(keep='last')]`."
    )


def returns_kind(returns: object, *, name: str = "returns") -> str:
    """Return what ``returns.attrs`` says the values are: ``"simple"`` (the default) or ``"log"``.

    The loaders tag their output (``attrs["kind"]``, ``attrs["returns_kind"]``); a frame
    tagged as prices is refused, since a price is not a return.
    """
    attrs = getattr(returns, "attrs", None) or {}
    if attrs.get("kind") == "prices":
        raise DataError(
            f"`{name}` holds prices (attrs['kind'] == 'prices'), not returns; turn them into returns first "
            f"with poolkit.data.to_returns({name}) or load them with poolkit.data.load_returns."
        )
    kind = attrs.get("returns_kind", "simple")
    if kind not in RETURNS_KINDS:
        raise DataError(
            f"`{name}`.attrs['returns_kind'] must be one of {list(RETURNS_KINDS)}, got {kind!r}."
        )
    return str(kind)


def _periods_per_year_estimate(index: pd.Index) -> float:
    """Rough periods per year from the date span (no error for mixed or odd dates); 1 without dates."""
    if isinstance(index, pd.DatetimeIndex) and len(index) >= 2:
        span = (index[-1] - index[0]) / pd.Timedelta(days=1)
        if span > 0:
            return float(min(max((len(index) - 1) * 365.25 / span, 1.0), 366.0))
    return 1.0


def check_return_units(
    values: np.ndarray, frame: pd.DataFrame, *, name: str = "returns", fractions: bool = False,
    finite: bool = False, extremes: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    r"""Refuse simple returns that cannot be fractions: below -100 %, percents, overflow, underflow.

    The one unit check of poolkit, run on every returns frame that comes in (after log
    returns are turned into simple ones). ``values`` are the simple returns of ``frame``
    (NaN allowed; ``finite=True`` tells that the caller has found none, and ``extremes``
    may then give the columns' least and largest values it has already). In order:

    1. a size above ``MAX_ABS_RETURN`` (1e6) is not a return and would overflow;
    2. a simple return below -1 is impossible (more than everything lost): refused, with
       "did you mean" the value divided by 100, or a hint to tag log returns (a return of
       exactly -1, a total loss, is allowed);
    3. a column whose returns are all, in size, below ``MIN_ABS_RETURN`` (1e-50) but not
       zero would underflow;
    4. percents: a column with at least ``PERCENT_MIN_OBS`` (20) observations whose median
       absolute return exceeds :math:`1.5/\sqrt{p}` (a typical move of 150 % a year, with
       :math:`p` the periods per year estimated from the date span, 1 without dates), or a
       shorter column whose median absolute return exceeds 1 (100 % per period). Genuinely
       huge returns pass when the frame states ``attrs["units"] = "fraction"`` (``fractions=True``).

    Raises
    ------
    DataError
        Naming the column, the date and the value, with the fix.
    """
    if values.size == 0:
        return
    if extremes is not None and finite:
        low, high = extremes
    else:
        with np.errstate(invalid="ignore"):
            low = np.fmin.reduce(values, axis=0)
            high = np.fmax.reduce(values, axis=0)
    size = np.fmax(np.abs(low), np.abs(high))
    if (size > MAX_ABS_RETURN).any():
        j = int(np.argmax(size > MAX_ABS_RETURN))
        i = int(np.nanargmax(np.abs(values[:, j])))
        raise DataError(
            f"`{name}` column {frame.columns[j]!r} has a return of {float(values[i, j]):.6g} at "
            f"{_show(frame.index[i])}: no return is that large (more than {MAX_ABS_RETURN:g} times the money in "
            f"one period), and squaring it overflows. Check the data: prices or amounts are not returns "
            f"(poolkit.data.to_returns turns prices into returns)."
        )
    if (low < -1.0).any():
        j = int(np.argmax(low < -1.0))
        i = int(np.argmax(values[:, j] < -1.0))
        v = float(values[i, j])
        raise DataError(
            f"`{name}` column {frame.columns[j]!r} has a simple return of {v:g} at {_show(frame.index[i])}, "
            f"below -1 (-100 %): no asset can lose more than everything. Returns are fractions"
            f"{f': did you mean {v / 100:g} ({v:g} %)? Divide percents by 100 (`{name} / 100`)' if v >= -100 else ''}. "
            f"If these are log returns, "
            f"load them with kind='log' or tag them: `{name}.attrs['returns_kind'] = 'log'`."
        )
    tiny = (size > 0) & (size < MIN_ABS_RETURN)
    if tiny.any():
        j = int(np.argmax(tiny))
        raise DataError(
            f"`{name}` column {frame.columns[j]!r} has returns no larger than {float(size[j]):.3g} in size: "
            f"below {MIN_ABS_RETURN:g}, their squares and fourth powers underflow to 0. These are not returns "
            f"as fractions; rescale them, or set them to 0 if the asset never moves."
        )
    if fractions:
        return
    p = _periods_per_year_estimate(frame.index)
    bound = PERCENT_BOUND / float(np.sqrt(p))
    candidates = np.flatnonzero(size > min(bound, 1.0))
    if candidates.size and finite and values.shape[0] >= PERCENT_MIN_OBS:
        # a necessary condition, one pass without a temporary: more than half of the n
        # returns above the bound in size put the column's sum of squares above n bound^2 / 2
        cols = values if 2 * candidates.size > values.shape[1] else values[:, candidates]
        squares = np.einsum("ij,ij->j", cols, cols)
        squares = squares[candidates] if cols is values else squares
        candidates = candidates[squares > PERCENT_SQUARES_SHARE * values.shape[0] * bound * bound]
    if candidates.size == 0:
        return
    if 2 * candidates.size > values.shape[1]:
        # most columns: read them all in place (the others cannot pass the limits below)
        candidates = np.arange(values.shape[1])
        sub = np.abs(values)
    else:
        sub = np.abs(values[:, candidates])
    n_obs = np.full(sub.shape[1], sub.shape[0]) if finite else (~np.isnan(sub)).sum(axis=0)
    limit = np.where(n_obs >= PERCENT_MIN_OBS, bound, 1.0)
    with np.errstate(invalid="ignore"):
        share = (sub > limit).sum(axis=0) / np.maximum(n_obs, 1)
    bad = share > 0.5
    if bad.any():
        k = int(np.argmax(bad))
        j = int(candidates[k])
        med = float(np.nanmedian(sub[:, k]))
        i = int(np.nanargmax(sub[:, k]))
        v = float(values[i, j])
        rule = (
            f"{limit[k]:.3g} (a typical move of {PERCENT_BOUND:.0%} a year at about {p:.0f} periods a year)"
            if n_obs[k] >= PERCENT_MIN_OBS
            else "1 (100 % per period)"
        )
        raise DataError(
            f"`{name}` column {frame.columns[j]!r} looks like percents, not fractions: its median absolute "
            f"return is {med:.4g} per period, above {rule}; e.g. {v:g} at {_show(frame.index[i])}. Did you mean "
            f"{v / 100:g} ({v:g} %)? Divide percents by 100 (`{name} / 100`); prices become returns with "
            f"poolkit.data.to_returns. If these really are fractions this large, state it: "
            f"`{name}.attrs['units'] = 'fraction'`."
        )


def check_returns(
    returns: object,
    *,
    name: str = "returns",
    min_obs: int = 2,
    nan_policy: str = "raise",
    convert_log: bool = True,
) -> tuple[pd.DataFrame, bool]:
    """Check a returns frame or series and return ``(float_frame, was_series)``.

    The one time-series check of poolkit: every function that reads returns over time
    goes through it (the risk functions through a fast path with the same rules), so a
    new function cannot forget it. It enforces:

    - **order**: dates sorted and unique (:func:`check_time_index`) for every function,
      whether or not its statistic depends on the order (a volatility does not, a
      drawdown does): data with dates out of order are wrong data;
    - **kind**: simple returns. Log returns tagged by the loaders
      (``attrs["returns_kind"] == "log"``) are converted here, :math:`R = e^{r} - 1`, so every
      statistic is that of the simple returns, whichever kind was loaded; untagged
      returns are simple. A frame tagged as prices is refused;
    - **units**: fractions (:func:`check_return_units`: nothing below -100 %, no percents,
      no overflow);
    - **values**: numbers, no infinity, missing values by ``nan_policy``.

    Parameters
    ----------
    returns : DataFrame or Series
        Periodic returns, dates x assets.
    name : str
        Argument name used in messages.
    min_obs : int
        Fewest rows (after the NaN policy) allowed.
    nan_policy : {"raise", "drop", "pairwise"}
        ``"raise"`` names the first NaN; ``"drop"`` drops every date with a NaN;
        ``"pairwise"`` leaves NaNs for the caller to handle column by column.
    convert_log : bool, default True
        Return log returns converted to simple ones (False keeps them, for the data
        functions that keep the kind they are given, e.g. :func:`poolkit.data.align_returns`).
    """
    kind = returns_kind(returns, name=name)
    frame, was_series = as_frame(returns, name=name)
    check_choice(nan_policy, NAN_POLICIES, name="nan_policy")
    check_time_index(frame.index, name=name)
    values = frame.to_numpy()
    if np.isinf(values).any():
        row, col = np.argwhere(np.isinf(values))[0]
        raise DataError(
            f"`{name}` holds an infinite value in column {frame.columns[col]!r} at {_show(frame.index[row])}; "
            f"check the prices behind it (a zero price gives an infinite return)."
        )
    mask = np.isnan(values)
    if mask.any():
        if nan_policy == "raise":
            row, col = np.argwhere(mask)[0]
            raise DataError(
                f"`{name}` has {int(mask.sum())} missing value(s); the first is in column "
                f"{frame.columns[col]!r} at {_show(frame.index[row])}. Fill or drop them first, or pass "
                f"nan_policy='drop' (drop dates with any NaN) or 'pairwise' where supported."
            )
        if nan_policy == "drop":
            frame = frame.loc[~mask.any(axis=1)]
    counts = frame.notna().sum().to_numpy()
    if (counts == 0).any():
        first = frame.columns[int(np.argmax(counts == 0))]
        raise DataError(f"`{name}` column {first!r} is entirely empty (all NaN); drop it.")
    n_obs = int(counts.min())
    if n_obs < min_obs:
        raise InsufficientDataError(
            f"`{name}` has {n_obs} usable observation(s) but at least {min_obs} are needed; "
            f"load a longer history (earlier `start`) or use a lower frequency/shorter window."
        )
    values = frame.to_numpy()
    simple = np.expm1(values) if kind == "log" else values
    attrs = dict(getattr(returns, "attrs", None) or {})
    check_return_units(simple, frame, name=name, fractions=attrs.get("units") == "fraction")
    if kind == "log" and convert_log:
        frame = pd.DataFrame(simple, index=frame.index, columns=frame.columns)
        attrs["returns_kind"] = "simple"
    frame.attrs = attrs
    return frame, was_series


def check_aligned(weights: object, columns: pd.Index, *, name: str = "weights") -> pd.Series:
    """Return ``weights`` as a float Series ordered like ``columns``; raise if the labels differ."""
    if isinstance(weights, dict):
        weights = pd.Series(weights, dtype="float64")
    if not isinstance(weights, pd.Series):
        raise TypeError(
            f"`{name}` must be a pandas Series indexed by asset, got {type(weights).__name__}. "
            f"Use pd.Series(values, index=asset_names)."
        )
    if weights.index.duplicated().any():
        dup = weights.index[weights.index.duplicated()].unique().tolist()
        raise AlignmentError(f"`{name}` names asset(s) {dup} more than once.")
    missing = [c for c in columns if c not in weights.index]
    extra = [c for c in weights.index if c not in columns]
    if missing or extra:
        raise AlignmentError(
            f"`{name}` must have exactly one entry per asset; missing {missing}, "
            f"not in the data {extra}. Try `{name}.reindex(cov.columns, fill_value=0.0)`."
        )
    try:
        out = weights.reindex(columns).astype("float64")
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`{name}` must hold numbers: {exc}") from exc
    if out.isna().any() or not np.isfinite(out.to_numpy()).all():
        bad = out.index[~np.isfinite(out.to_numpy())].tolist()
        raise ParameterError(f"`{name}` has missing or infinite values for {bad}.")
    return out


def check_covariance(cov: object, *, name: str = "cov", psd_tol: float = 1e-10) -> pd.DataFrame:
    r"""Check a labelled covariance matrix: square, same labels, finite, symmetric, PSD.

    Returns a float copy. Symmetry and positive semi-definiteness are tested on the
    correlation matrix :math:`R = D^{-1} \Sigma D^{-1}` (assets of zero variance aside, whose
    covariances must be 0), so the tolerances do not depend on the scale of the variances:
    asymmetries up to 1e-10 in correlation and eigenvalues of :math:`R` down to
    ``-psd_tol * max(1, largest eigenvalue of R)`` (rounding noise) are accepted.
    """
    if not isinstance(cov, pd.DataFrame):
        raise TypeError(
            f"`{name}` must be a pandas DataFrame indexed and labelled by asset, got {type(cov).__name__}. "
            f"Build one with poolkit.risk.covariance(returns)."
        )
    if cov.shape[0] != cov.shape[1] or cov.shape[0] == 0:
        raise CovarianceError(f"`{name}` must be a non-empty square matrix, got shape {cov.shape}.")
    if not cov.index.equals(cov.columns):
        raise AlignmentError(
            f"`{name}` must have the same asset labels on its index and columns, in the same order; "
            f"got index {list(cov.index)[:5]}... and columns {list(cov.columns)[:5]}..."
        )
    if cov.columns.duplicated().any():
        raise AlignmentError(f"`{name}` has duplicated asset labels {cov.columns[cov.columns.duplicated()].tolist()}.")
    try:
        mat = cov.to_numpy(dtype="float64")
    except (TypeError, ValueError) as exc:
        raise CovarianceError(f"`{name}` must hold numbers: {exc}") from exc
    if not np.isfinite(mat).all():
        i, j = np.argwhere(~np.isfinite(mat))[0]
        raise CovarianceError(
            f"`{name}` has a missing or infinite entry at ({cov.index[i]!r}, {cov.columns[j]!r}); "
            f"estimate it from complete data."
        )
    diag = np.diag(mat).copy()
    if (diag < 0).any():
        k = int(np.argmin(diag))
        raise CovarianceError(f"`{name}` has a negative variance {diag[k]:.6g} for {cov.index[k]!r}.")
    # Every test below is made on the scale of the entries (the correlation matrix), so a
    # covariance of variances 1e-10 is held to the same standard as one of variances 1.
    vols = np.sqrt(diag)
    inv = np.divide(1.0, vols, out=np.zeros_like(vols), where=vols > 0)
    corr = mat * inv[:, None] * inv[None, :]
    asym = np.abs(corr - corr.T)
    if asym.max() > 1e-10:
        i, j = np.unravel_index(int(asym.argmax()), asym.shape)
        raise CovarianceError(
            f"`{name}` is not symmetric: entry ({cov.index[i]!r}, {cov.columns[j]!r}) = {mat[i, j]:.6g} but "
            f"({cov.index[j]!r}, {cov.columns[i]!r}) = {mat[j, i]:.6g}. Use (cov + cov.T) / 2."
        )
    zero = vols == 0
    if zero.any():
        # an asset that never moves covaries with nothing: any other entry in its row is not PSD
        off = np.abs(mat[zero]).max(axis=1) if mat[zero].size else np.zeros(0)
        if (off > 0).any():
            k = int(np.flatnonzero(zero)[int(np.argmax(off > 0))])
            raise CovarianceError(
                f"`{name}` is not positive semi-definite: {cov.index[k]!r} has zero variance but a non-zero "
                f"covariance with another asset (|cov| <= sqrt(var_i var_j) fails)."
            )
    live = ~zero
    sub = (corr[np.ix_(live, live)] + corr[np.ix_(live, live)].T) / 2.0
    eig = np.linalg.eigvalsh(sub) if sub.size else np.zeros(1)
    if not np.isfinite(eig).all():
        raise CovarianceError(f"`{name}` cannot be decomposed (its eigenvalues are not finite); check its entries.")
    if eig[0] < -psd_tol * max(1.0, float(eig[-1])):
        raise CovarianceError(
            f"`{name}` is not positive semi-definite: its correlation matrix has the eigenvalue {eig[0]:.6g} "
            f"(a valid one has none below 0, whatever the scale of the variances). Estimate it from complete "
            f"data, use a shrinkage estimator (poolkit.risk.covariance(returns, method='ledoit_wolf')) or "
            f"repair it (clip eigenvalues at 0)."
        )
    return pd.DataFrame((mat + mat.T) / 2.0, index=cov.index.copy(), columns=cov.columns.copy())


def frame_like(values: np.ndarray, like: pd.DataFrame) -> pd.DataFrame:
    """Wrap a 2-D array in the index and columns of ``like``."""
    return pd.DataFrame(values, index=like.index.copy(), columns=like.columns.copy())


def series_or_float(values: np.ndarray, columns: pd.Index, was_series: bool, *, name: str | None = None) -> Any:
    """Return a float when the input was a Series, else a Series indexed by asset named ``name``."""
    arr = np.asarray(values, dtype="float64").reshape(-1)
    if was_series:
        return float(arr[0])
    return pd.Series(arr, index=columns.copy(), name=name)

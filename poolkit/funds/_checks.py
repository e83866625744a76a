"""Private input checks and conventions of poolkit.funds: dates, flows, fee rates, day count.

Every check collects *all* the problems it finds and raises one error listing
them, so a user fixes a flow table in one pass. Problems with the data (dates,
flows, valuations) raise :class:`~poolkit.exceptions.DataError`; problems with
parameters (fee rates, choices) raise :class:`~poolkit.exceptions.ParameterError`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from poolkit._validation import check_choice, check_fraction
from poolkit.exceptions import DataError, ParameterError, PoolkitError

#: Relative tolerance under which a redemption equal to the holding is a full redemption.
FULL_REDEMPTION_RTOL = 1e-9

_MAX_LISTED = 12


def raise_all(problems: Sequence[str], *, what: str, error: type[PoolkitError] = DataError) -> None:
    """Raise ``error`` listing every problem (at most a dozen shown in full), or do nothing."""
    if not problems:
        return
    shown = list(problems[:_MAX_LISTED])
    more = len(problems) - len(shown)
    lines = "\n".join(f"  - {p}" for p in shown)
    tail = f"\n  ... and {more} more." if more > 0 else ""
    raise error(f"{what}: {len(problems)} problem(s):\n{lines}{tail}")


def fee_rate(value: object, *, name: str, problems: list[str]) -> float:
    """Check an annual fee rate in [0, 1) (a fraction, 0.02 = 2 %); record the problem instead of raising."""
    try:
        return check_fraction(value, name=name, low=0.0, high=1.0, high_open=True)
    except ParameterError as exc:
        problems.append(str(exc))
        return 0.0


def choice(value: object, choices: Sequence[str], *, name: str, problems: list[str]) -> str:
    """Check a string choice; record the problem instead of raising."""
    try:
        return check_choice(value, choices, name=name)
    except ParameterError as exc:
        problems.append(str(exc))
        return choices[0]


def sorted_labels(labels: Sequence[Hashable]) -> list[Any]:
    """Return unique labels sorted (by their text when they cannot be compared)."""
    unique = list(dict.fromkeys(labels))
    try:
        return sorted(unique)  # type: ignore[type-var]
    except TypeError:
        return sorted(unique, key=lambda x: (type(x).__name__, str(x)))


def valuation_dates(index: object, *, name: str, problems: list[str]) -> pd.DatetimeIndex:
    """Check the dates of a valuation series: a DatetimeIndex, no missing, sorted, unique."""
    if not isinstance(index, pd.DatetimeIndex):
        problems.append(
            f"`{name}` must be indexed by valuation dates (a DatetimeIndex), got {type(index).__name__}; "
            f"use `{name}.index = pd.to_datetime({name}.index)`."
        )
        return pd.DatetimeIndex([])
    if index.hasnans:
        problems.append(f"`{name}` has {int(index.isna().sum())} missing date(s) (NaT); drop them.")
        return pd.DatetimeIndex([])
    if index.duplicated().any():
        dup = [f"{d:%Y-%m-%d}" for d in index[index.duplicated()].unique()[:5]]
        problems.append(f"`{name}` has duplicated dates {dup}; keep one valuation per date.")
    if not index.is_monotonic_increasing:
        problems.append(f"`{name}` dates are not sorted; use `{name}.sort_index()` after checking why.")
    if len(index) < 2:
        problems.append(f"`{name}` needs at least two valuation dates, got {len(index)}.")
    return index


def one_series(data: object, *, name: str, problems: list[str]) -> pd.Series | None:
    """Return ``data`` as a float Series (a one-column frame is accepted), or record why not."""
    if isinstance(data, pd.DataFrame):
        if data.shape[1] != 1:
            problems.append(
                f"`{name}` must be one series for the whole pool, got {data.shape[1]} columns; pass the pool's "
                f"own series, e.g. `returns.mean(axis=1)` for an equal-weight pool or `returns @ weights`."
            )
            return None
        data = data.iloc[:, 0]
    if not isinstance(data, pd.Series):
        problems.append(f"`{name}` must be a pandas Series indexed by date, got {type(data).__name__}.")
        return None
    if not pd.api.types.is_numeric_dtype(data.dtype) or pd.api.types.is_bool_dtype(data.dtype):
        problems.append(f"`{name}` must hold numbers, got dtype {data.dtype}; convert with pd.to_numeric.")
        return None
    return data.astype("float64")


def _dates_text(dates: pd.Series | pd.DatetimeIndex, n: int = 5) -> str:
    items = [f"{d:%Y-%m-%d}" for d in list(dates)[:n]]
    more = len(dates) - len(items)
    return ", ".join(items) + (f" (+{more} more)" if more > 0 else "")


@dataclass(frozen=True)
class Flows:
    """A checked flow table: one row per (date, investor), dealt on valuation dates."""

    position: np.ndarray  # (n_rows,) index of the valuation date
    investor: np.ndarray  # (n_rows,) code into `investors`
    amount: np.ndarray  # (n_rows,) cash (NaN when given in units)
    units: np.ndarray  # (n_rows,) units (NaN when given as cash)
    redeem_all: np.ndarray  # (n_rows,) bool: -inf given, the whole holding leaves
    investors: list[Any]  # investor labels, sorted


FLOW_COLUMNS = ("date", "investor", "amount", "units")


def check_flow_table(
    flows: object,
    dates: pd.DatetimeIndex,
    *,
    problems: list[str],
) -> Flows | None:
    """Check a flow table against the valuation dates; record every problem found.

    Rules: one row per (date, investor); each row gives ``amount`` (cash: + subscription,
    - redemption) or ``units`` (+ issued, - redeemed), not both; ``-inf`` redeems the
    whole holding; dates must be valuation dates (flows are never moved to another date);
    an investor's first flow must be a subscription.
    """
    if not isinstance(flows, pd.DataFrame):
        problems.append(
            f"`flows` must be a DataFrame with columns date, investor and amount (or units), got "
            f"{type(flows).__name__}. Build one with pd.DataFrame({{'date': [...], 'investor': [...], 'amount': [...]}})."
        )
        return None
    frame = flows.reset_index() if "date" not in flows.columns and flows.index.name == "date" else flows
    missing = [c for c in ("date", "investor") if c not in frame.columns]
    if missing:
        problems.append(f"`flows` lacks column(s) {missing}; it has {list(frame.columns)}.")
    if "amount" not in frame.columns and "units" not in frame.columns:
        problems.append("`flows` needs an `amount` column (cash) or a `units` column, or both.")
    unknown = [c for c in frame.columns if c not in FLOW_COLUMNS]
    if unknown:
        problems.append(f"`flows` has unexpected column(s) {unknown}; expected {list(FLOW_COLUMNS)}.")
    if missing or ("amount" not in frame.columns and "units" not in frame.columns):
        return None
    n = len(frame)
    row_no = np.arange(n)

    def numbers(col: str) -> np.ndarray:
        if col not in frame.columns:
            return np.full(n, np.nan)
        raw = frame[col]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = np.flatnonzero(np.isnan(values) & raw.notna().to_numpy())
        if bad.size:
            problems.append(f"`flows.{col}` is not a number in row(s) {bad[:5].tolist()}: {raw.iloc[bad[:3]].tolist()}.")
        return values

    amount, units = numbers("amount"), numbers("units")
    dates_col = pd.to_datetime(frame["date"], errors="coerce")
    bad_date = dates_col.isna().to_numpy()
    if bad_date.any():
        problems.append(
            f"`flows.date` is missing or not a date in row(s) {row_no[bad_date][:5].tolist()}: "
            f"{frame['date'][bad_date].head(3).tolist()}."
        )
    who = frame["investor"]
    if who.isna().any():
        problems.append(f"`flows.investor` is missing in row(s) {row_no[who.isna().to_numpy()][:5].tolist()}.")
    has_amount, has_units = ~np.isnan(amount), ~np.isnan(units)
    both, neither = has_amount & has_units, ~has_amount & ~has_units
    if both.any():
        problems.append(f"`flows` rows {row_no[both][:5].tolist()} give both `amount` and `units`; give one per row.")
    if neither.any():
        problems.append(f"`flows` rows {row_no[neither][:5].tolist()} give neither `amount` nor `units`.")
    value = np.where(has_amount, amount, units)
    if np.isposinf(value).any():
        problems.append(f"`flows` rows {row_no[np.isposinf(value)][:5].tolist()} subscribe +inf; only -inf (redeem all) is allowed.")
    ok = ~bad_date & who.notna().to_numpy() & ~(both | neither) & ~np.isposinf(value)

    # dates: valuation dates only, none before the first
    d = pd.DatetimeIndex(dates_col.to_numpy())
    pos = dates.get_indexer(d)
    first = dates[0]
    before = ok & (d < first)
    if before.any():
        problems.append(
            f"{int(before.sum())} flow(s) dated before the first valuation date {first:%Y-%m-%d} "
            f"({_dates_text(d[before])}); the fund cannot deal before it is valued: start the valuation earlier "
            f"or move those flows to {first:%Y-%m-%d}."
        )
    off = ok & ~before & (pos < 0)
    if off.any():
        nxt = dates.searchsorted(d[off])
        hints = [
            f"{x:%Y-%m-%d} -> next valuation {dates[k]:%Y-%m-%d}" if k < len(dates) else f"{x:%Y-%m-%d} -> after the last valuation"
            for x, k in zip(list(d[off])[:5], nxt[:5], strict=True)
        ]
        problems.append(
            f"{int(off.sum())} flow(s) on dates that are not valuation dates ({'; '.join(hints)}). Flows deal only at "
            f"a valuation date's NAV (forward pricing); move each order to the valuation date it deals at, e.g. "
            f"flows['date'] = poolkit.funds.dealing_dates(flows['date'], valuation_dates)."
        )
    ok &= pos >= 0

    labels = sorted_labels(who[who.notna()].tolist())
    codes = pd.Index(labels).get_indexer(who.tolist()) if labels else np.full(n, -1)
    # one row per (date, investor)
    keys = pd.DataFrame({"pos": pos, "inv": codes})[ok]
    dup = keys.duplicated(keep=False).to_numpy()
    if dup.any():
        rows = keys.index[dup]
        pairs = sorted({(f"{d[i]:%Y-%m-%d}", str(who.iloc[i])) for i in rows})[:5]
        problems.append(
            f"{len(rows)} rows share a (date, investor) pair {pairs}; give one net flow per investor and date "
            f"(e.g. flows.groupby(['date', 'investor'], as_index=False)['amount'].sum())."
        )
    # an investor's first flow must be a subscription (an unknown investor cannot redeem)
    okf = keys.assign(value=value[ok], row=np.flatnonzero(ok)).sort_values(["inv", "pos"], kind="stable")
    first_rows = okf.drop_duplicates("inv", keep="first")
    unknown_red = first_rows[first_rows["value"] < 0]
    if len(unknown_red):
        names = [f"{who.iloc[r]!r} on {d[r]:%Y-%m-%d}" for r in unknown_red["row"][:5]]
        problems.append(
            f"{len(unknown_red)} redemption(s) by investor(s) with no earlier subscription (unknown investors): "
            f"{', '.join(names)}. Check the investor names or add their subscriptions."
        )
    if not labels:
        problems.append("`flows` holds no flow; the fund needs at least one subscription.")
    keep = ok & ~np.isin(np.arange(n), keys.index[dup])
    order = np.lexsort((codes[keep], pos[keep]))
    val = value[keep][order]
    return Flows(
        position=pos[keep][order],
        investor=codes[keep][order],
        amount=np.where(has_amount[keep][order], val, np.nan),
        units=np.where(has_units[keep][order], val, np.nan),
        redeem_all=np.isneginf(val),
        investors=labels,
    )

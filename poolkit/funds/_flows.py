"""Build flow tables: orders from parallel lists (e.g. notebook parameters), dealt at the next valuation date."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from poolkit.exceptions import DataError, ParameterError
from poolkit.funds._checks import raise_all

__all__ = ["dealing_dates", "flow_table"]


def dealing_dates(dates: Sequence[Any] | pd.Series | pd.DatetimeIndex, valuation_dates: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Return the valuation date at which each order deals: the first one on or after the order's date.

    Parameters
    ----------
    dates : sequence of dates
        Dates the orders are received (anything :func:`pandas.to_datetime` reads).
    valuation_dates : DatetimeIndex
        The fund's valuation (dealing) dates, sorted.

    Returns
    -------
    DatetimeIndex
        One dealing date per order, named ``date``.

    Raises
    ------
    DataError
        Listing every order that is unreadable or received after the last valuation date.

    Notes
    -----
    Forward pricing: an order received on a valuation date deals at that day's
    NAV; one received between valuation dates deals at the next. This is the
    explicit step :func:`fund_ledger` asks for: it never moves a flow itself.

    Examples
    --------
    >>> v = pd.to_datetime(["2024-01-31", "2024-02-29", "2024-03-28"])
    >>> dealing_dates(["2024-01-31", "2024-02-10", "2024-03-01"], v).strftime("%Y-%m-%d").tolist()
    ['2024-01-31', '2024-02-29', '2024-03-28']
    """
    if not isinstance(valuation_dates, pd.DatetimeIndex) or not valuation_dates.is_monotonic_increasing or len(valuation_dates) == 0:
        raise DataError("`valuation_dates` must be a non-empty sorted DatetimeIndex of the fund's valuation dates.")
    asked = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(dates), dtype=object), errors="coerce"))
    problems = []
    if asked.hasnans:
        problems.append(f"{int(asked.isna().sum())} order date(s) are missing or not dates.")
    pos = valuation_dates.searchsorted(asked)
    late = ~asked.isna() & (pos >= len(valuation_dates))
    if late.any():
        problems.append(
            f"{int(late.sum())} order(s) after the last valuation date {valuation_dates[-1]:%Y-%m-%d} "
            f"({', '.join(f'{d:%Y-%m-%d}' for d in asked[late][:5])}): they would deal after the data ends."
        )
    raise_all(problems, what="dealing_dates")
    return pd.DatetimeIndex(valuation_dates[pos], name="date")


def flow_table(
    dates: Sequence[Any],
    investors: Sequence[Any],
    amounts: Sequence[float],
    *,
    redeem_all: Mapping[Any, Any] | None = None,
    valuation_dates: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """Return a flow table for :func:`fund_ledger` from parallel lists of orders.

    Parameters
    ----------
    dates, investors, amounts : sequences of equal length
        Each order's date, investor and cash amount (+ subscription, - redemption).
    redeem_all : mapping, optional
        Investor -> date of a redemption of their whole holding.
    valuation_dates : DatetimeIndex, optional
        When given, each order deals at the first valuation date on or after its
        date (:func:`dealing_dates`), and one investor's orders that deal on the
        same date are added into one net order (a full redemption absorbs the
        others: the investor leaves); otherwise dates are kept as they are (and
        :func:`fund_ledger` refuses those that are not valuation dates).

    Returns
    -------
    DataFrame
        Columns ``date``, ``investor``, ``amount`` (``-inf`` for a full redemption),
        sorted by date and investor.

    Raises
    ------
    ParameterError
        If the lists differ in length or an amount is not a finite number.
    DataError
        As :func:`dealing_dates`.

    Examples
    --------
    >>> v = pd.to_datetime(["2024-01-31", "2024-02-29", "2024-03-28"])
    >>> flow_table(["2024-01-31", "2024-02-05", "2024-02-20"], ["Ann", "Ben", "Ben"], [100.0, 50.0, -20.0],
    ...            redeem_all={"Ann": "2024-03-01"}, valuation_dates=v)
            date investor  amount
    0 2024-01-31      Ann   100.0
    1 2024-02-29      Ben    30.0
    2 2024-03-28      Ann    -inf
    """
    problems = []
    if not len(dates) == len(investors) == len(amounts):
        problems.append(
            f"`dates`, `investors` and `amounts` must have the same length, got {len(dates)}, {len(investors)} "
            f"and {len(amounts)}."
        )
    values = pd.to_numeric(pd.Series(list(amounts), dtype=object), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    if not np.isfinite(values).all():
        problems.append("`amounts` must be finite numbers (use `redeem_all` for a full redemption).")
    raise_all(problems, what="flow_table", error=ParameterError)
    leave = dict(redeem_all or {})
    all_dates = [*dates, *leave.values()]
    table = pd.DataFrame(
        {
            "date": list(all_dates),
            "investor": [*investors, *leave.keys()],
            "amount": np.concatenate([values, np.full(len(leave), -np.inf)]),
        }
    )
    if valuation_dates is None:
        table["date"] = pd.to_datetime(table["date"])
        return table.sort_values(["date", "investor"], kind="stable").reset_index(drop=True)
    table["date"] = dealing_dates(all_dates, valuation_dates)
    # orders of one investor dealt together net out; -inf (leave) dominates the sum
    return table.groupby(["date", "investor"], as_index=False, sort=True)["amount"].sum()

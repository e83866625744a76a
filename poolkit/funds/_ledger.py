r"""Unit accounting of a pooled fund: units, NAV per unit, investors' values and shares, fees.

A pooled fund divides one pool of assets among many investors by *units*. Each
subscription buys units at the NAV per unit of its dealing date and each
redemption sells them back at that price, so money coming in or going out never
changes what the other investors own. Investor :math:`i` then owns the value
:math:`V_i = u_i P` and the share :math:`w_i = V_i / \sum_j V_j` of the pool, the
value weight of the source document (FAQ 6.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from poolkit._numerics import accrual_rates
from poolkit.exceptions import DataError, ParameterError
from poolkit.funds._checks import (
    FULL_REDEMPTION_RTOL,
    Flows,
    check_flow_table,
    choice,
    fee_rate,
    one_series,
    raise_all,
    valuation_dates,
)

__all__ = ["FundLedger", "fund_ledger", "statement"]

CRYSTALLISATION = ("year", "half-year", "quarter", "month", "never")
_PERIOD = {"year": "Y", "quarter": "Q", "month": "M"}

STATEMENT_COLUMNS = [
    "flow",
    "units_dealt",
    "fee_units",
    "units",
    "nav_per_unit",
    "gross_value",
    "accrued_performance_fee",
    "value",
    "management_fee",
    "performance_fee",
    "high_water_mark",
    "share",
]


@dataclass(frozen=True)
class FundLedger:
    r"""The accounts of a pooled fund, one row per valuation date.

    Built by :func:`fund_ledger`. Every wide table is indexed by the valuation
    dates (``date``) with one column per investor (``investor``, sorted);
    amounts are in the currency of the flows, after each date's dealing.

    Attributes
    ----------
    fund : DataFrame
        One row per date: ``gross_return`` (the pool's return into the date),
        ``nav_per_unit`` (:math:`P_t`, the dealing price), ``assets_before_flows``
        (the pool's value after the day's return, before fees and flows),
        ``management_fee``, ``performance_fee`` (crystallised that day),
        ``subscriptions``, ``redemptions`` (cash paid out, negative), ``net_flow``,
        ``units``, ``gross_value`` (:math:`\sum_i u_i P_t`), ``accrued_performance_fee``,
        ``value`` (net asset value = gross value - accrued performance fees),
        ``investors`` (number holding units) and ``crystallisation`` (bool).
    nav_per_unit : Series
        :math:`P_t`, named ``nav_per_unit``.
    units, values, shares : DataFrame
        :math:`u_{i,t}`, the net value :math:`V_{i,t} = u_{i,t} P_t - F_{i,t}` and the
        share :math:`w_{i,t} = V_{i,t} / \sum_j V_{j,t}` (0 while the fund is empty).
    flows : DataFrame
        Cash dealt: + subscription paid in, - redemption paid out (after its fee).
    units_dealt, fee_units : DataFrame
        Units issued (+) or redeemed (-) by the flows, and units cancelled (-) to pay
        the performance fee at crystallisation.
    management_fees, performance_fees : DataFrame
        Fees charged to each investor on each date (performance fees when they crystallise).
    accrued_performance_fees, high_water_marks : DataFrame
        :math:`F_{i,t}` (a liability deducted from the value until it crystallises) and
        :math:`H_{i,t}`, each investor's high-water mark in currency.
    management_fee, performance_fee : float
        The annual management fee rate and the performance fee rate used.
    crystallisation : str
        The performance period.
    """

    fund: pd.DataFrame
    units: pd.DataFrame
    values: pd.DataFrame
    shares: pd.DataFrame
    flows: pd.DataFrame
    units_dealt: pd.DataFrame
    fee_units: pd.DataFrame
    management_fees: pd.DataFrame
    performance_fees: pd.DataFrame
    accrued_performance_fees: pd.DataFrame
    high_water_marks: pd.DataFrame
    management_fee: float
    performance_fee: float
    crystallisation: str
    unit_price: float

    @property
    def nav_per_unit(self) -> pd.Series:
        """NAV per unit :math:`P_t` on each valuation date (the dealing price)."""
        return self.fund["nav_per_unit"].copy()

    @property
    def cash_flows(self) -> pd.DataFrame:
        """The cash dealt as a long table (``date``, ``investor``, ``amount``: + in, - out), one row per flow."""
        long = self.flows.stack().rename("amount").reset_index()
        return long[long["amount"] != 0.0].reset_index(drop=True)

    @property
    def investors(self) -> pd.Index:
        """The investors, in column order."""
        return self.units.columns.copy()

    def statement(self, investor: Any, freq: str | None = None) -> pd.DataFrame:
        """Return one investor's statement; see :func:`statement`."""
        return statement(self, investor, freq=freq)

    def fees(self) -> pd.DataFrame:
        r"""Return each investor's fees and standing at the last valuation date.

        Columns: ``management_fee`` and ``performance_fee`` paid over the whole history,
        ``accrued_performance_fee`` :math:`F_{i,T}` not yet crystallised, ``high_water_mark``
        :math:`H_{i,T}` and the net ``value`` :math:`V_{i,T}`; one row per investor.

        Examples
        --------
        >>> idx = pd.bdate_range("2024-01-01", periods=3)
        >>> flows = pd.DataFrame({"date": [idx[0]], "investor": ["A"], "amount": [100.0]})
        >>> book = fund_ledger(flows, returns=pd.Series([0.0, 0.1, 0.0], index=idx))
        >>> book.fees().loc["A", "value"].round(2)
        np.float64(110.0)
        """
        return pd.DataFrame(
            {
                "management_fee": self.management_fees.sum(),
                "performance_fee": self.performance_fees.sum(),
                "accrued_performance_fee": self.accrued_performance_fees.iloc[-1],
                "high_water_mark": self.high_water_marks.iloc[-1],
                "value": self.values.iloc[-1],
            }
        ).rename_axis("investor")

    def history(self, freq: str = "YE") -> pd.DataFrame:
        """Return the fund's table (NAV per unit, units, values, investors) at the last date of each ``freq`` period.

        Examples
        --------
        >>> idx = pd.bdate_range("2024-12-30", periods=3)
        >>> flows = pd.DataFrame({"date": [idx[0]], "investor": ["A"], "amount": [100.0]})
        >>> fund_ledger(flows, returns=pd.Series([0.0, 0.1, 0.0], index=idx)).history("YE")["units"].tolist()
        [1.0, 1.0]
        """
        return self.fund.resample(freq).last().dropna(how="all")


def _crystallisation_dates(dates: pd.DatetimeIndex, period: str) -> np.ndarray:
    """Boolean mask: the last valuation date of each performance period.

    A date crystallises when the next valuation date falls in another period; the
    last valuation date crystallises only if it is the last calendar day of its period.
    """
    out = np.zeros(len(dates), dtype=bool)
    if period == "never" or len(dates) == 0:
        return out
    if period == "half-year":
        label = dates.year * 2 + (dates.month > 6)
        last = dates[-1]
        end_of_last = pd.Timestamp(last.year, 6, 30) if last.month <= 6 else pd.Timestamp(last.year, 12, 31)
    else:
        periods = dates.to_period(_PERIOD[period])
        label = periods.asi8
        end_of_last = periods[-1].end_time.normalize()
    label = np.asarray(label)
    out[:-1] = label[1:] != label[:-1]
    out[-1] = dates[-1].normalize() == end_of_last
    return out


def fund_ledger(
    flows: pd.DataFrame,
    *,
    returns: pd.Series | None = None,
    values: pd.Series | None = None,
    management_fee: float = 0.0,
    performance_fee: float = 0.0,
    crystallisation: str = "year",
    unit_price: float = 100.0,
) -> FundLedger:
    r"""Return the unit accounts of a pooled fund: units, NAV per unit, values, shares and fees.

    Parameters
    ----------
    flows : DataFrame
        One row per investor and dealing date, columns ``date``, ``investor`` and
        ``amount`` (cash: + subscription, - redemption) or ``units`` (+ issued,
        - redeemed), one of the two per row; ``-inf`` redeems the whole holding.
        Row order does not matter. Every date must be a valuation date (see Notes).
    returns : Series, optional
        The pool's gross simple returns (0.01 = 1 %) on each valuation date, from
        the previous one, before fees; indexed by the sorted valuation dates. The
        first date is the fund's launch: its return is not used.
    values : Series, optional
        Instead of ``returns``: the pool's total asset value on each valuation
        date after the day's return and before that day's fees and flows (0 on
        the launch date). Give exactly one of ``returns`` and ``values``.
    management_fee : float, default 0.0
        Annual rate (0.01 = 1 % a year), accrued on each valuation date on the
        value after the day's return (simple accrual, actual/365 days).
    performance_fee : float, default 0.0
        Share of each investor's gain above their own high-water mark (0.2 = 20 %).
    crystallisation : {"year", "half-year", "quarter", "month", "never"}, default "year"
        The performance period: accrued performance fees are paid on its last
        valuation date (and on the redeemed part of a holding at each redemption).
    unit_price : float, default 100.0
        NAV per unit at launch.

    Returns
    -------
    FundLedger
        Fund-level and per-investor tables, one row per valuation date (see
        :class:`FundLedger`); :func:`statement` gives one investor's statement.

    Raises
    ------
    ParameterError
        Listing every bad parameter: both or neither of ``returns``/``values``,
        fee rates outside [0, 1) (a percent such as 2 gets "did you mean 0.02?"),
        an unknown ``crystallisation``, a non-positive ``unit_price``.
    DataError
        Listing every problem of the valuation and of the flow table: unsorted,
        duplicated or missing dates; missing or infinite values; returns
        :math:`\le -1` or negative values (a negative NAV); a value where the
        fund holds nothing; flows dated before the first valuation date or on a
        date that is not a valuation date; two rows for one investor and date;
        a row with both or neither of amount and units; redemptions by investors
        who never subscribed. A second check during the accounting lists every
        redemption larger than the holding (and redemptions of empty holdings).

    Notes
    -----
    **Dealing (forward pricing).** Orders deal at the NAV per unit of their
    valuation date, computed after that day's return and fees and before the
    flows; an order dated between valuation dates is refused, never moved.
    On each date :math:`t` with gross return :math:`r_t`, :math:`\Delta_t` days
    after :math:`t-1`:

    .. math::
        P_t = P_{t-1} (1 + r_t)(1 - m_t), \qquad m_t = a \, \frac{\Delta_t}{365},
        \qquad \Delta u_{i,t} = \frac{C_{i,t}}{P_t},

    with :math:`a` the annual management fee and :math:`C_{i,t}` the cash dealt.
    The management fee charged to investor :math:`i` is
    :math:`u_{i,t-1} P_{t-1}(1 + r_t) m_t`. While the fund holds no units its NAV
    per unit stays constant (no return, no fee). With ``values`` :math:`A_t`, the
    return is :math:`r_t = A_t / (\sum_i u_{i,t-1} P_{t-1}) - 1`.

    **Performance fee: per-investor high-water mark (partnership method, in
    units).** Units are priced at the value before performance fees, so gains
    and losses are shared pro rata to units, and each investor's fee is computed
    on their own account, as in partnership (capital-account) accounting [1]_.
    Investor :math:`i`'s high-water mark :math:`H_i` (in currency) starts at
    what they paid in, rises by each subscription and falls pro rata with each
    redemption. The fee accrues at every valuation,

    .. math:: F_{i,t} = k \, \max(0,\; u_{i,t} P_t - H_{i,t}),

    and is deducted from the investor's value :math:`V_{i,t} = u_{i,t} P_t - F_{i,t}`.
    On the last valuation date of each performance period it *crystallises*:
    :math:`F_{i,t} / P_t` units are cancelled (the manager is paid) and
    :math:`H_{i,t}` becomes the value after the fee, :math:`u_{i,t} P_t - F_{i,t}`.
    A redemption of a fraction :math:`\phi` of a holding pays out
    :math:`\phi V_{i,t}` and crystallises :math:`\phi F_{i,t}`. An investor who
    subscribes after a gain pays no fee on gains made before, one who subscribes
    after a loss gets no free ride on the others' recovery, and other investors'
    flows never change what an investor pays: the aims of equalisation and
    series accounting [1]_, [2]_, reached here by keeping one NAV per unit and
    settling each investor's fee in units. Crystallisation at most once a year is
    what ESMA's guidelines expect of retail funds [3]_.

    Invariants (tested): :math:`\sum_i u_{i,t} P_t` equals the fund's gross
    value; :math:`\sum_i V_{i,t}` its net asset value; an investor who never
    trades ends with what they would have in the fund alone; the NAV per unit
    does not depend on the flows.

    References
    ----------
    .. [1] K&L Gates, *Understanding hedge fund fees: implications for hedge fund
       managers* (slides "Partnership accounting", "Monthly series accounting",
       "Equalization accounting").
    .. [2] Goetzmann, W. N., Ingersoll, J. E. and Ross, S. A. (2003). High-water
       marks and hedge fund management contracts. J. Finance 58(4), 1685-1718.
    .. [3] ESMA (2020). Guidelines on performance fees in UCITS and certain types
       of AIFs, ESMA34-39-992.

    Examples
    --------
    A pool gains 20 % in 2021 and loses 10 % in 2022. Ann invests 1,000 at
    launch; Ben invests 1,000 after the gain, at a NAV per unit of 120. With a
    20 % performance fee crystallised each year, Ann pays 20 % of her 200 gain
    in 2021 (1/3 of a unit) and Ben pays nothing on gains made before he came:

    >>> r = pd.Series([0.0, 0.20, -0.10], index=pd.to_datetime(["2020-12-31", "2021-12-31", "2022-12-31"]))
    >>> flows = pd.DataFrame({"date": ["2020-12-31", "2021-12-31"], "investor": ["Ann", "Ben"],
    ...                       "amount": [1000.0, 1000.0]})
    >>> ledger = fund_ledger(flows, returns=r, performance_fee=0.2)
    >>> ledger.nav_per_unit.round(2).tolist()
    [100.0, 120.0, 108.0]
    >>> ledger.units.round(4)
    investor        Ann     Ben
    date
    2020-12-31  10.0000  0.0000
    2021-12-31   9.6667  8.3333
    2022-12-31   9.6667  8.3333
    >>> ledger.values.iloc[-1].round(2).tolist()  # both lost 10 % since they were last charged
    [1044.0, 900.0]
    """
    params: list[str] = []
    if (returns is None) == (values is None):
        params.append("give exactly one of `returns` (the pool's gross returns) and `values` (its asset values).")
    a = fee_rate(management_fee, name="management_fee", problems=params)
    k = fee_rate(performance_fee, name="performance_fee", problems=params)
    period = choice(crystallisation, CRYSTALLISATION, name="crystallisation", problems=params)
    if isinstance(unit_price, bool) or not isinstance(unit_price, (int, float)) or not np.isfinite(unit_price) or unit_price <= 0:
        params.append(f"`unit_price` must be a positive number, got {unit_price!r}.")
    raise_all(params, what="fund_ledger parameters", error=ParameterError)

    problems: list[str] = []
    name = "returns" if returns is not None else "values"
    series = one_series(returns if returns is not None else values, name=name, problems=problems)
    dates = valuation_dates(series.index if series is not None else None, name=name, problems=problems)
    data = np.zeros(0)
    if series is not None and len(dates) and not problems:
        data = series.to_numpy()
        bad = ~np.isfinite(data)
        if returns is not None:
            bad[0] = False  # the launch date's return is not used
        if bad.any():
            problems.append(f"`{name}` has {int(bad.sum())} missing or infinite value(s), first on {dates[bad][0]:%Y-%m-%d}.")
        if returns is not None:
            low = np.zeros(len(data), dtype=bool)
            low[1:] = data[1:] <= -1.0
            if low.any():
                problems.append(
                    f"`returns` of -100 % or less on {int(low.sum())} date(s) (first {dates[low][0]:%Y-%m-%d}) would "
                    f"make the NAV zero or negative; returns must be simple returns in fractions above -1."
                )
            big = np.abs(data[1:][np.isfinite(data[1:])])
            if big.size and np.median(big) > 1.0:
                problems.append("`returns` look like percentages (median |r| > 100 %); divide by 100.")
        else:
            if (data < 0).any():
                problems.append(
                    f"`values` are negative on {int((data < 0).sum())} date(s) (first {dates[data < 0][0]:%Y-%m-%d}); "
                    f"a pool's asset value (and its NAV) cannot be negative."
                )
            if np.isfinite(data[0]) and data[0] != 0:
                problems.append(
                    f"`values` on the launch date {dates[0]:%Y-%m-%d} must be 0 (the fund holds nothing before its "
                    f"first subscriptions), got {data[0]:g}; give existing holdings as subscriptions on that date."
                )
    table = check_flow_table(flows, dates, problems=problems) if len(dates) else None
    raise_all(problems, what="fund_ledger input", error=DataError)
    assert table is not None
    return _account(table, dates, data, from_values=values is not None, a=a, k=k, period=period,
                    unit_price=float(unit_price))


def _account(table: Flows, dates: pd.DatetimeIndex, data: np.ndarray, *, from_values: bool, a: float, k: float,
             period: str, unit_price: float) -> FundLedger:
    """Run the per-date recursion (sequential in dates, vectorised across investors)."""
    n_dates, n_inv = len(dates), len(table.investors)
    days = np.zeros(n_dates)
    days[1:] = np.asarray((dates[1:] - dates[:-1]) / pd.Timedelta(days=1), dtype="float64")
    m = accrual_rates(a, days)
    if (m >= 1.0).any():
        raise ParameterError(
            f"`management_fee` {a:g} a year over {days.max():g} days between valuations charges 100 % or more; "
            f"check the rate (a fraction, 0.01 = 1 %) and the valuation dates."
        )
    crystal = _crystallisation_dates(dates, period) if k > 0 else np.zeros(n_dates, dtype=bool)
    bounds = np.searchsorted(table.position, np.arange(n_dates + 1))

    shape = (n_dates, n_inv)
    units_h, hwm_h, acc_h = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    flow_h, dealt_h, feeu_h = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    mfee_h, pfee_h = np.zeros(shape), np.zeros(shape)
    nav, ret, assets = np.zeros(n_dates), np.zeros(n_dates), np.zeros(n_dates)
    problems: list[str] = []

    u, hwm = np.zeros(n_inv), np.zeros(n_inv)
    price = unit_price
    for t in range(n_dates):  # sequential in NAV; every step is vectorised across investors
        held = u.sum() > 0
        if t > 0 and held:
            before = u.sum() * price
            r = data[t] / before - 1.0 if from_values else data[t]
            if from_values and r <= -1.0:
                problems.append(f"`values` is {data[t]:g} on {dates[t]:%Y-%m-%d} while the fund holds units: a zero NAV.")
                r = 0.0
            gross = price * (1.0 + r)
            mfee_h[t] = u * gross * m[t]
            price = gross * (1.0 - m[t])
            ret[t], assets[t] = r, before * (1.0 + r)
        elif t > 0 and from_values and data[t] != 0:
            problems.append(f"`values` is {data[t]:g} on {dates[t]:%Y-%m-%d} but the fund holds no units; it must be 0.")
        nav[t] = price
        if crystal[t] and held:
            fee = k * np.maximum(0.0, u * price - hwm)
            pfee_h[t] = fee
            feeu_h[t] = -fee / price
            u = u + feeu_h[t]
            hwm = np.where(fee > 0, u * price, hwm)
        lo, hi = bounds[t], bounds[t + 1]
        if hi > lo:
            j = table.investor[lo:hi]
            cash = np.where(np.isnan(table.amount[lo:hi]), table.units[lo:hi] * price, table.amount[lo:hi])
            sub = cash > 0
            if sub.any():
                js, cs = j[sub], cash[sub]
                u[js] += cs / price
                hwm[js] += cs
                flow_h[t, js] = cs
                dealt_h[t, js] = cs / price
            red = cash < 0
            if red.any():
                jr = j[red]
                gross_i = u[jr] * price
                acc_i = k * np.maximum(0.0, gross_i - hwm[jr])
                net_i = gross_i - acc_i
                by_units = ~np.isnan(table.units[lo:hi][red])
                want = np.where(by_units, -table.units[lo:hi][red], -table.amount[lo:hi][red])
                have = np.where(by_units, u[jr], net_i)
                with np.errstate(divide="ignore", invalid="ignore"):
                    phi = np.where(table.redeem_all[lo:hi][red], 1.0, want / have)
                empty = have <= 0
                too_big = ~empty & (phi > 1.0 + FULL_REDEMPTION_RTOL)
                for flag, text in ((empty, "redeems {w:,.6g} {unit} but holds nothing"),
                                   (too_big, "redeems {w:,.6g} {unit} but holds {h:,.6g}")):
                    for idx in np.flatnonzero(flag):
                        who = table.investors[jr[idx]]
                        unit = "units" if by_units[idx] else "in cash"
                        problems.append(f"{who!r} on {dates[t]:%Y-%m-%d} " + text.format(w=want[idx], h=have[idx], unit=unit))
                phi = np.where(empty, 0.0, np.clip(phi, 0.0, 1.0))
                phi = np.where(phi > 1.0 - FULL_REDEMPTION_RTOL, np.where(empty, 0.0, 1.0), phi)
                flow_h[t, jr] = -phi * net_i
                pfee_h[t, jr] += phi * acc_i
                dealt_h[t, jr] = -phi * u[jr]
                u[jr] = np.where(phi >= 1.0, 0.0, u[jr] * (1.0 - phi))
                hwm[jr] = np.where(phi >= 1.0, 0.0, hwm[jr] * (1.0 - phi))
        units_h[t], hwm_h[t] = u, hwm
        acc_h[t] = k * np.maximum(0.0, u * price - hwm)
    raise_all(problems, what="fund_ledger flows", error=DataError)
    return _ledger(dates, table.investors, nav, ret, assets, units_h, hwm_h, acc_h, flow_h, dealt_h, feeu_h,
                   mfee_h, pfee_h, crystal, a=a, k=k, period=period, unit_price=unit_price)


def _ledger(dates: pd.DatetimeIndex, investors: list[Any], nav: np.ndarray, ret: np.ndarray, assets: np.ndarray,
            units: np.ndarray, hwm: np.ndarray, acc: np.ndarray, flow: np.ndarray, dealt: np.ndarray,
            feeu: np.ndarray, mfee: np.ndarray, pfee: np.ndarray, crystal: np.ndarray, *, a: float, k: float,
            period: str, unit_price: float) -> FundLedger:
    index = pd.DatetimeIndex(dates, name="date")
    columns = pd.Index(investors, name="investor")

    def wide(x: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(x, index=index, columns=columns)

    gross = units * nav[:, None]
    value = gross - acc
    total = value.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total[:, None] > 0, value / total[:, None], 0.0)
    fund = pd.DataFrame(
        {
            "gross_return": ret,
            "nav_per_unit": nav,
            "assets_before_flows": assets,
            "management_fee": mfee.sum(axis=1),
            "performance_fee": pfee.sum(axis=1),
            "subscriptions": np.where(flow > 0, flow, 0.0).sum(axis=1),
            "redemptions": np.where(flow < 0, flow, 0.0).sum(axis=1),
            "net_flow": flow.sum(axis=1),
            "units": units.sum(axis=1),
            "gross_value": gross.sum(axis=1),
            "accrued_performance_fee": acc.sum(axis=1),
            "value": total,
            "investors": (units > 0).sum(axis=1),
            "crystallisation": crystal,
        },
        index=index,
    )
    return FundLedger(
        fund=fund,
        units=wide(units),
        values=wide(value),
        shares=wide(share),
        flows=wide(flow),
        units_dealt=wide(dealt),
        fee_units=wide(feeu),
        management_fees=wide(mfee),
        performance_fees=wide(pfee),
        accrued_performance_fees=wide(acc),
        high_water_marks=wide(hwm),
        management_fee=a,
        performance_fee=k,
        crystallisation=period,
        unit_price=unit_price,
    )


def statement(ledger: FundLedger, investor: Any, *, freq: str | None = None) -> pd.DataFrame:
    r"""Return one investor's statement: flows, units, NAV per unit, value, fees and share by date.

    Parameters
    ----------
    ledger : FundLedger
        From :func:`fund_ledger`.
    investor : label
        One of ``ledger.investors``.
    freq : str, optional
        A pandas period alias (``"ME"`` month ends, ``"QE"``, ``"YE"``) to show one
        row per period: flows and fees are summed over the period, holdings are
        those of its last valuation date. None (default) shows every valuation
        date from the investor's first flow.

    Returns
    -------
    DataFrame
        Indexed by ``date``, columns ``flow`` (cash: + in, - out), ``units_dealt``,
        ``fee_units`` (units cancelled for performance fees), ``units``,
        ``nav_per_unit``, ``gross_value`` (:math:`u P`), ``accrued_performance_fee``,
        ``value`` (:math:`V = uP - F`), ``management_fee``, ``performance_fee``,
        ``high_water_mark`` and ``share`` (:math:`w_i = V_i / \sum_j V_j`).

    Raises
    ------
    KeyError
        If ``investor`` is not in the ledger (the message lists the close names).
    ParameterError
        If ``freq`` is not a pandas frequency.

    Notes
    -----
    Each row satisfies :math:`\text{gross\_value} = \text{units} \times \text{nav\_per\_unit}`
    and :math:`\text{value} = \text{gross\_value} - \text{accrued\_performance\_fee}`.

    Examples
    --------
    >>> r = pd.Series([0.0, 0.10], index=pd.to_datetime(["2024-01-31", "2024-02-29"]))
    >>> flows = pd.DataFrame({"date": ["2024-01-31"], "investor": ["Ann"], "amount": [500.0]})
    >>> statement(fund_ledger(flows, returns=r), "Ann")[["flow", "units", "nav_per_unit", "value", "share"]]
                 flow  units  nav_per_unit  value  share
    date
    2024-01-31  500.0    5.0         100.0  500.0    1.0
    2024-02-29    0.0    5.0         110.0  550.0    1.0
    """
    from poolkit._validation import did_you_mean

    if investor not in ledger.units.columns:
        raise KeyError(f"investor {investor!r} is not in the ledger.{did_you_mean(investor, ledger.units.columns)}")
    nav = ledger.fund["nav_per_unit"]
    table = pd.DataFrame(
        {
            "flow": ledger.flows[investor],
            "units_dealt": ledger.units_dealt[investor],
            "fee_units": ledger.fee_units[investor],
            "units": ledger.units[investor],
            "nav_per_unit": nav,
            "gross_value": ledger.units[investor] * nav,
            "accrued_performance_fee": ledger.accrued_performance_fees[investor],
            "value": ledger.values[investor],
            "management_fee": ledger.management_fees[investor],
            "performance_fee": ledger.performance_fees[investor],
            "high_water_mark": ledger.high_water_marks[investor],
            "share": ledger.shares[investor],
        },
        index=ledger.units.index,
    )
    active = (table["flow"] != 0).to_numpy()
    table = table.iloc[int(np.argmax(active)):] if active.any() else table.iloc[0:0]
    if freq is not None:
        try:
            grouped = table.resample(freq)
        except (ValueError, TypeError) as exc:
            raise ParameterError(f"`freq` must be a pandas frequency such as 'ME' or 'YE', got {freq!r}: {exc}") from exc
        summed = ["flow", "units_dealt", "fee_units", "management_fee", "performance_fee"]
        last = grouped.last()
        last[summed] = grouped[summed].sum()
        table = last[STATEMENT_COLUMNS].dropna(subset=["units"])
        table.index.name = "date"
    return table

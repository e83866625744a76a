r"""Returns that flows cannot distort (time-weighted) and returns that flows make (money-weighted).

The *time-weighted return* (TWR) chain-links the returns of the sub-periods
between flows, so it measures the pool and its manager whatever investors do.
The *money-weighted return* (the internal rate of return of dated cash flows,
XIRR) measures one investor's experience, including the timing of their flows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from poolkit._numerics import DAYS_PER_YEAR, year_fractions
from poolkit.exceptions import DataError, IRRError
from poolkit.funds._checks import raise_all
from poolkit.funds._ledger import FundLedger

__all__ = ["IRRError", "investor_returns", "money_weighted_return", "time_weighted_return", "xirr"]

#: Half-width of the scan, in log growth over the whole horizon: growth factors e^-60 .. e^60.
_SCAN = 60.0
_GRID = 6001


def _cash_flow_series(cash_flows: object, name: str) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
    """Aggregate dated cash flows by date; return (year fractions, amounts, dates) without zero dates."""
    if not isinstance(cash_flows, pd.Series):
        raise TypeError(f"`{name}` must be a pandas Series of amounts indexed by date, got {type(cash_flows).__name__}.")
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(cash_flows.index))
    except (ValueError, TypeError) as exc:
        raise DataError(f"`{name}` must be indexed by dates: {exc}") from exc
    values = pd.to_numeric(cash_flows, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    problems = []
    if dates.hasnans:
        problems.append(f"`{name}` has {int(dates.isna().sum())} missing date(s).")
    if not np.isfinite(values).all():
        problems.append(f"`{name}` has {int((~np.isfinite(values)).sum())} missing or infinite amount(s).")
    raise_all(problems, what=name)
    total = pd.Series(values, index=dates).groupby(level=0).sum()
    total = total[total != 0.0]
    if total.empty:
        raise IRRError(f"`{name}` holds no non-zero cash flow; there is no rate of return.")
    idx = pd.DatetimeIndex(total.index)
    return year_fractions(idx, idx[0]), total.to_numpy(), idx


def _npv_in_log_growth(s: np.ndarray, tau: np.ndarray, c: np.ndarray) -> np.ndarray:
    r"""NPV :math:`\sum_k c_k e^{-s \tau_k}` on a grid of :math:`s = T \ln(1 + r)`."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.exp(-np.outer(s, tau)) @ c


def xirr(cash_flows: pd.Series) -> float:
    r"""Return the internal rate of return of dated cash flows (annual, actual/365), like Excel's XIRR.

    Parameters
    ----------
    cash_flows : Series
        Amounts indexed by date, from the investor's side: money paid in negative,
        money received (and the final value held) positive. Several flows on one
        date are added; the order of the rows does not matter.

    Returns
    -------
    float
        The annual effective rate :math:`r > -1` that makes the net present value zero.

    Raises
    ------
    IRRError
        If no rate solves the equation (e.g. every flow has the same sign, or all
        flows fall on one date) or if several do; ``err.roots`` lists those found.
    DataError
        If a date or an amount is missing or infinite.
    TypeError
        If ``cash_flows`` is not a Series.

    Notes
    -----
    Solves, with :math:`t_k = (d_k - d_0) / 365` (actual/365, as Excel's XIRR),

    .. math:: \sum_k \frac{C_k}{(1 + r)^{t_k}} = 0 .

    In :math:`s = T \ln(1 + r)`, with :math:`T` the horizon in years, the NPV is
    :math:`\sum_k C_k e^{-s \tau_k}` with :math:`\tau_k = t_k / T \in [0, 1]`. By
    Descartes' rule of signs (which holds for real exponents) the number of
    roots is at most the number of sign changes of the time-ordered flows. With
    one sign change there is exactly one root, bracketed and refined by Brent's
    method; otherwise every sign change of the NPV on a grid of 6,001 points of
    :math:`s \in [-60, 60]` (growth factors :math:`e^{\pm 60}` over the horizon) is
    bracketed and refined, and the error names the roots when there are several
    (the classic pump of Lorie and Savage has two, 25 % and 400 %).

    References
    ----------
    .. [1] Microsoft, *XIRR function* (Excel documentation; worked example 0.373362535).
    .. [2] Lorie, J. H. and Savage, L. J. (1955). Three problems in rationing capital.
       J. Business 28(4), 229-239.
    .. [3] Brent, R. P. (1973). *Algorithms for Minimization without Derivatives*, ch. 4.

    Examples
    --------
    >>> flows = pd.Series([-10000.0, 2750.0, 4250.0, 3250.0, 2750.0],
    ...                   index=pd.to_datetime(["2008-01-01", "2008-03-01", "2008-10-30", "2009-02-15", "2009-04-01"]))
    >>> round(xirr(flows), 7)  # Excel's documented example: 0.373362535 (to Excel's 1e-8)
    0.3733625
    """
    tau, c, dates = _cash_flow_series(cash_flows, "cash_flows")
    return _irr(tau, c, f"{dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}")


def _irr(tau: np.ndarray, c: np.ndarray, span: str) -> float:
    """Solve for the IRR of flows ``c`` at sorted distinct year fractions ``tau`` (from 0), all non-zero."""
    from scipy.optimize import brentq

    if len(c) < 2 or (c > 0).all() or (c < 0).all():
        raise IRRError(
            "no rate of return: the cash flows need money paid in (negative) and money received (positive) "
            f"on at least two dates; got {len(c)} date(s) with signs {sorted(set(np.sign(c).astype(int).tolist()))}."
        )
    horizon = tau[-1]
    tau = tau / horizon
    c = c / np.abs(c).max()
    changes = int((np.diff(np.sign(c)) != 0).sum())

    def f(s: float) -> float:
        return float(_npv_in_log_growth(np.array([s]), tau, c)[0])

    if changes == 1:
        lo, hi = -1.0, 1.0
        while np.sign(f(lo)) == np.sign(f(hi)) and hi < 700.0:  # f(-inf) ~ c_last, f(+inf) = c_0: opposite signs
            lo, hi = 2.0 * lo, 2.0 * hi
        grid_roots = [brentq(f, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500)]
    else:
        s = np.concatenate([[-700.0, -300.0], np.linspace(-_SCAN, _SCAN, _GRID), [300.0, 700.0]])
        v = _npv_in_log_growth(s, tau, c)
        sign = np.sign(v)
        grid_roots = [float(s[i]) for i in np.flatnonzero(sign == 0)]
        cross = np.flatnonzero(sign[:-1] * sign[1:] < 0)
        grid_roots += [brentq(f, s[i], s[i + 1], xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500) for i in cross]
    rates = sorted(float(np.expm1(root / horizon)) for root in grid_roots)
    if len(rates) == 1:
        return rates[0]
    if not rates:
        raise IRRError(f"no rate of return solves NPV = 0 for the cash flows from {span} (the NPV never changes sign).")
    shown = ", ".join(f"{r:.6g}" for r in rates)
    raise IRRError(
        f"{len(rates)} rates of return solve NPV = 0 for the cash flows from {span}: {shown}. The IRR is not "
        f"defined; use the time-weighted return, or an NPV at a chosen discount rate.",
        roots=rates,
    )


def _check_values(values: object, name: str) -> pd.Series:
    from poolkit.funds._checks import one_series, valuation_dates

    problems: list[str] = []
    series = one_series(values, name=name, problems=problems)
    if series is not None:
        valuation_dates(series.index, name=name, problems=problems)
        arr = series.to_numpy()
        if not np.isfinite(arr).all():
            problems.append(f"`{name}` has {int((~np.isfinite(arr)).sum())} missing or infinite value(s).")
        elif (arr < 0).any():
            problems.append(f"`{name}` is negative on {int((arr < 0).sum())} date(s); a value (and a NAV) cannot be negative.")
    raise_all(problems, what=name)
    assert series is not None
    return series


def _sub_period_returns(values: np.ndarray, flows: np.ndarray, scale: float) -> tuple[np.ndarray, list[int]]:
    """Return r_t = (V_t - F_t) / V_{t-1} - 1 (0 when V_{t-1} = 0) and the dates where that is inconsistent."""
    start = values[:-1]
    end = values[1:] - flows[1:]
    held = start > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(held, end / np.where(held, start, 1.0) - 1.0, 0.0)
    bad = np.flatnonzero(~held & (np.abs(end) > 1e-9 * scale)) + 1
    return r, bad.tolist()


def time_weighted_return(values: pd.Series, flows: pd.Series | None = None, *, annualise: bool = False) -> float:
    r"""Return the time-weighted return of a pool: sub-period returns between flows, chain-linked.

    Parameters
    ----------
    values : Series
        The pool's value on each valuation date *after* that date's flows (e.g.
        ``ledger.fund["value"]``, or one investor's ``ledger.values[name]``),
        indexed by sorted unique dates; never negative.
    flows : Series, optional
        External flows on valuation dates (+ money in, - money out; fees are not
        flows), indexed by dates of ``values``; missing dates mean no flow.
    annualise : bool, default False
        Return :math:`(1 + R)^{365 / D} - 1` instead of :math:`R`, with :math:`D`
        the days from the first date with a positive value to the last date.

    Returns
    -------
    float
        :math:`R`, the cumulative TWR (or its annual rate).

    Raises
    ------
    DataError
        If dates are unsorted, duplicated or missing, a value is negative or
        missing, a flow falls on a date without a valuation, or the value moves
        from zero without a flow.

    Notes
    -----
    With flows :math:`F_t` dealt at the end of day :math:`t` (the value
    :math:`V_t` already includes them),

    .. math:: R = \prod_{t=1}^{T} \frac{V_t - F_t}{V_{t-1}} - 1 .

    Adding a flow that deals at the same NAV scales every later value and
    leaves each factor, hence :math:`R`, unchanged: this is the measure of the
    pool itself that GIPS requires [1]_, [2]_.

    References
    ----------
    .. [1] CFA Institute (2019). *Global Investment Performance Standards (GIPS)
       for Firms*, 2020 edition, provision 2.A.
    .. [2] Bacon, C. R. (2008). *Practical Portfolio Performance Measurement and
       Attribution*, 2nd ed., Wiley, ch. 2.

    Examples
    --------
    The classic case: a pool gains 50 % and then loses 50 %. Bob invests 100,
    then adds 1,000 just before the fall. His time-weighted return is the pool's,
    -25 % over two years; his money-weighted return (:func:`xirr`) is far worse:

    >>> d = pd.to_datetime(["2021-01-01", "2022-01-01", "2023-01-01"])
    >>> bob = pd.Series([100.0, 1150.0, 575.0], index=d)          # value after flows
    >>> bob_flows = pd.Series([100.0, 1000.0], index=d[:2])
    >>> round(time_weighted_return(bob, bob_flows), 4)
    -0.25
    >>> round(time_weighted_return(bob, bob_flows, annualise=True), 4)
    -0.134
    >>> round(xirr(pd.Series([-100.0, -1000.0, 575.0], index=d)), 4)
    -0.4547
    """
    series = _check_values(values, "values")
    v = series.to_numpy()
    f = np.zeros(len(v))
    if flows is not None:
        flow = _check_flows_on(flows, series.index)
        f = flow.to_numpy()
    scale = max(float(np.abs(v).max()), float(np.abs(f).max()), 1.0)
    r, bad = _sub_period_returns(v, f, scale)
    if bad:
        dates = ", ".join(f"{series.index[i]:%Y-%m-%d}" for i in bad[:5])
        raise DataError(
            f"`values` rise from zero without a flow on {len(bad)} date(s) ({dates}); give the flows that "
            f"brought the money in (a sub-period return from zero is undefined)."
        )
    growth = float(np.prod(1.0 + r))
    if not annualise:
        return growth - 1.0
    pos = np.flatnonzero(v > 0)
    if pos.size == 0:
        raise DataError("`values` are all zero; there is no return to annualise.")
    days = (series.index[-1] - series.index[pos[0]]) / pd.Timedelta(days=1)
    if days <= 0:
        raise DataError("`values` cover a single date; there is no return to annualise.")
    return growth ** (DAYS_PER_YEAR / days) - 1.0


def _check_flows_on(flows: object, index: pd.DatetimeIndex) -> pd.Series:
    if not isinstance(flows, pd.Series):
        raise TypeError(f"`flows` must be a pandas Series of amounts indexed by date, got {type(flows).__name__}.")
    idx = pd.DatetimeIndex(pd.to_datetime(flows.index))
    problems = []
    if idx.duplicated().any():
        problems.append(f"`flows` has duplicated dates {[f'{d:%Y-%m-%d}' for d in idx[idx.duplicated()][:5]]}; add them up first.")
    off = ~idx.isin(index)
    if off.any():
        problems.append(
            f"`flows` on {int(off.sum())} date(s) without a valuation ({', '.join(f'{d:%Y-%m-%d}' for d in idx[off][:5])}); "
            f"a time-weighted return needs the value on every flow date."
        )
    vals = pd.to_numeric(flows, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    if not np.isfinite(vals).all():
        problems.append("`flows` has missing or infinite amounts.")
    raise_all(problems, what="flows")
    return pd.Series(vals, index=idx).reindex(index, fill_value=0.0)


def money_weighted_return(ledger: FundLedger, investors: list[Any] | None = None) -> pd.Series:
    r"""Return each investor's money-weighted return: the XIRR of their flows and final value.

    Parameters
    ----------
    ledger : FundLedger
        From :func:`poolkit.funds.fund_ledger`.
    investors : list, optional
        Investors to include (default every investor of the ledger).

    Returns
    -------
    Series
        Annual rate per investor (actual/365), indexed by investor, named
        ``money_weighted_return``.

    Raises
    ------
    IRRError
        Naming every investor whose flows have no rate of return or several.
    KeyError
        If an investor is not in the ledger.

    Notes
    -----
    Each investor's cash flows are their subscriptions (negative), redemptions
    (positive, after fees) and their net value :math:`V_{i,T}` on the last date,
    as if redeemed then; :func:`xirr` solves
    :math:`\sum_k C_k (1 + r)^{-(d_k - d_0)/365} = 0`.

    References
    ----------
    .. [1] Bacon, C. R. (2008). *Practical Portfolio Performance Measurement and
       Attribution*, 2nd ed., Wiley, ch. 2 (money-weighted returns).

    Examples
    --------
    >>> d = pd.to_datetime(["2021-01-01", "2022-01-01", "2023-01-01"])
    >>> r = pd.Series([0.0, 0.5, -0.5], index=d)
    >>> flows = pd.DataFrame({"date": [d[0], d[0], d[1]], "investor": ["Ann", "Bob", "Bob"],
    ...                       "amount": [100.0, 100.0, 1000.0]})
    >>> from poolkit.funds import fund_ledger
    >>> money_weighted_return(fund_ledger(flows, returns=r)).round(4)
    investor
    Ann   -0.1340
    Bob   -0.4547
    Name: money_weighted_return, dtype: float64
    """
    names = list(ledger.units.columns) if investors is None else list(investors)
    missing = [n for n in names if n not in ledger.units.columns]
    if missing:
        raise KeyError(f"investor(s) {missing} are not in the ledger; it holds {list(ledger.units.columns)}.")
    index = ledger.values.index
    years = year_fractions(index, index[0])
    columns = ledger.units.columns.get_indexer(names)
    flows = -ledger.flows.to_numpy()[:, columns]  # the investor's side: paid in negative
    flows[-1] += ledger.values.to_numpy()[-1, columns]  # the final value, as if redeemed on the last date
    rates, failures = [], []
    for k, name in enumerate(names):  # one small root-finding problem per investor, in numpy
        pos = np.flatnonzero(flows[:, k] != 0.0)
        try:
            if pos.size == 0:
                raise IRRError("no non-zero cash flow; there is no rate of return.")
            span = f"{index[pos[0]]:%Y-%m-%d} to {index[pos[-1]]:%Y-%m-%d}"
            rates.append(_irr(years[pos] - years[pos[0]], flows[pos, k], span))
        except IRRError as exc:
            rates.append(np.nan)
            failures.append(f"{name!r}: {exc}")
    if failures:
        raise IRRError("money-weighted return undefined for " + "; ".join(failures))
    return pd.Series(rates, index=pd.Index(names, name="investor"), name="money_weighted_return")


def investor_returns(ledger: FundLedger) -> pd.DataFrame:
    r"""Return what each investor paid in, took out, paid in fees and earned, by TWR and by IRR.

    Parameters
    ----------
    ledger : FundLedger
        From :func:`poolkit.funds.fund_ledger`.

    Returns
    -------
    DataFrame
        Indexed by investor, columns ``first_date``, ``last_date`` (of the holding),
        ``paid_in``, ``paid_out``, ``final_value``, ``gain``
        (:math:`\text{paid\_out} + \text{final\_value} - \text{paid\_in}`),
        ``management_fees``, ``performance_fees``, ``time_weighted_return``
        (annual rate over the holding, net of the investor's fees),
        ``money_weighted_return`` (XIRR) and ``fund_time_weighted_return`` (annual
        rate of the NAV per unit over the same dates, before performance fees).

    Raises
    ------
    IRRError
        If an investor's money-weighted return is undefined.

    Notes
    -----
    The investor's TWR chain-links :math:`(V_{i,t} - C_{i,t}) / V_{i,t-1}` over the
    dates they hold units; the fund's is :math:`P_{\text{end}} / P_{\text{start}}`.
    The two differ only by the investor's performance fees. The money-weighted
    return also weighs each period by the money at stake, so it differs from the
    TWR when flows are timed well or badly.

    References
    ----------
    .. [1] Bacon, C. R. (2008). *Practical Portfolio Performance Measurement and
       Attribution*, 2nd ed., Wiley, ch. 2.

    Examples
    --------
    >>> d = pd.to_datetime(["2021-01-01", "2022-01-01", "2023-01-01"])
    >>> r = pd.Series([0.0, 0.5, -0.5], index=d)
    >>> flows = pd.DataFrame({"date": [d[0], d[0], d[1]], "investor": ["Ann", "Bob", "Bob"],
    ...                       "amount": [100.0, 100.0, 1000.0]})
    >>> from poolkit.funds import fund_ledger
    >>> t = investor_returns(fund_ledger(flows, returns=r))
    >>> t[["paid_in", "gain"]]
              paid_in   gain
    investor
    Ann         100.0  -25.0
    Bob        1100.0 -525.0
    >>> t[["time_weighted_return", "money_weighted_return"]].round(4)
              time_weighted_return  money_weighted_return
    investor
    Ann                     -0.134                -0.1340
    Bob                     -0.134                -0.4547
    """
    mwr = money_weighted_return(ledger)
    index = ledger.values.index
    nav = ledger.fund["nav_per_unit"].to_numpy()
    flows, values = ledger.flows.to_numpy(), ledger.values.to_numpy()
    n_dates = len(index)
    active = flows != 0.0
    first = active.argmax(axis=0)
    last = np.where(ledger.units.to_numpy()[-1] > 0, n_dates - 1, n_dates - 1 - active[::-1].argmax(axis=0))
    # sub-period returns of every investor at once; they are 0 while an investor holds nothing,
    # so the product over all dates is the product over each investor's holding period
    prev, end = values[:-1], values[1:] - flows[1:]
    held = prev > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = np.prod(np.where(held, end / np.where(held, prev, 1.0), 1.0), axis=0)
    days = np.asarray((index[last] - index[first]) / pd.Timedelta(days=1), dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        per_year = np.where(days > 0, DAYS_PER_YEAR / np.where(days > 0, days, 1.0), 0.0)
    paid_in = np.where(flows > 0, flows, 0.0).sum(axis=0)
    paid_out = -np.where(flows < 0, flows, 0.0).sum(axis=0) + 0.0
    final = values[-1]
    return pd.DataFrame(
        {
            "first_date": index[first],
            "last_date": index[last],
            "paid_in": paid_in,
            "paid_out": paid_out,
            "final_value": final,
            "gain": paid_out + final - paid_in,
            "management_fees": ledger.management_fees.sum().to_numpy(),
            "performance_fees": ledger.performance_fees.sum().to_numpy(),
            "time_weighted_return": growth**per_year - 1.0,
            "money_weighted_return": mwr.to_numpy(),
            "fund_time_weighted_return": (nav[last] / nav[first]) ** per_year - 1.0,
        },
        index=pd.Index(ledger.units.columns, name="investor"),
    )

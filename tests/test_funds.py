"""poolkit.funds unit accounting and returns: hand-worked references, invariants, refusals."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import poolkit as pk
from poolkit.exceptions import DataError, ParameterError, PoolkitError, SolverError
from poolkit.funds import IRRError

ROOT = Path(__file__).resolve().parents[1]
REF = Path(__file__).resolve().parent / "reference"


def _ref(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name, comment="#")


# --------------------------------------------------------------------------- fixtures

def _hand_worked() -> tuple[pd.Series, pd.DataFrame]:
    """The example of tests/reference/funds_performance_fee_example.csv."""
    dates = pd.to_datetime(["2020-12-31", "2021-12-31", "2022-12-31", "2023-06-30", "2023-12-31"])
    returns = pd.Series([0.0, 0.20, -0.10, 0.10, 0.25], index=dates)
    flows = pd.DataFrame(
        {
            "date": ["2020-12-31", "2021-12-31", "2022-12-31", "2022-12-31", "2023-06-30", "2023-12-31"],
            "investor": ["Alice", "Bob", "Carol", "Bob", "Carol", "Dan"],
            "amount": [1000.0, 1160.0, 1044.0, -522.0, -np.inf, 500.0],
        }
    )
    return returns, flows


@pytest.fixture(scope="module")
def hand_ledger() -> pk.funds.FundLedger:
    returns, flows = _hand_worked()
    return pk.funds.fund_ledger(flows, returns=returns, performance_fee=0.2, crystallisation="year")


def _random_case(seed: int, n_dates: int = 120, n_inv: int = 5) -> tuple[pd.Series, pd.DataFrame]:
    """Daily returns and a flow table in which the founder never trades and no redemption exceeds a holding."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2021-01-04", periods=n_dates)
    returns = pd.Series(rng.normal(0.0005, 0.012, n_dates), index=dates)
    rows = [(dates[0], "founder", 1000.0)]
    for i in range(n_inv):
        name = f"inv{i}"
        start = int(rng.integers(0, n_dates // 2))
        rows.append((dates[start], name, float(rng.uniform(100, 5000))))
        later = np.sort(rng.choice(np.arange(start + 1, n_dates), size=3, replace=False))
        rows.append((dates[later[0]], name, float(rng.uniform(50, 500))))
        rows.append((dates[later[1]], name, -float(rng.uniform(10, 80))))  # small: never above the holding
        if rng.random() < 0.5:
            rows.append((dates[later[2]], name, -np.inf))
    return returns, pd.DataFrame(rows, columns=["date", "investor", "amount"])


FEES = {"management_fee": 0.015, "performance_fee": 0.2, "crystallisation": "quarter"}


# --------------------------------------------------------------------------- hand-worked references

def test_hand_worked_ledger_matches_reference(hand_ledger):
    ref = _ref("funds_performance_fee_example.csv")
    for row in ref.itertuples():
        date = pd.Timestamp(row.date)
        got = {
            "flow": hand_ledger.flows.at[date, row.investor],
            "units": hand_ledger.units.at[date, row.investor],
            "value": hand_ledger.values.at[date, row.investor],
            "performance_fee": hand_ledger.performance_fees.at[date, row.investor],
            "high_water_mark": hand_ledger.high_water_marks.at[date, row.investor],
        }
        for key, value in got.items():
            assert value == pytest.approx(getattr(row, key), abs=1e-8), (row.date, row.investor, key)


def test_hand_worked_fund_totals(hand_ledger):
    fund = hand_ledger.fund
    np.testing.assert_allclose(fund["nav_per_unit"], [100.0, 120.0, 108.0, 118.8, 148.5], rtol=1e-12)
    assert fund["performance_fee"].sum() == pytest.approx(40 + 20.88 + 55.1 + 27.55, abs=1e-9)
    assert fund["value"].iloc[-1] == pytest.approx(1380.4 + 690.2 + 500.0, abs=1e-9)
    assert fund["crystallisation"].tolist() == [True, True, True, False, True]  # 2020-12-31 ends 2020 (nothing held)
    # the launch date's (unused) return and the first value
    assert fund["gross_return"].iloc[0] == 0.0 and fund["assets_before_flows"].iloc[0] == 0.0


def test_late_investor_pays_no_fee_on_gains_made_before_and_gets_no_free_ride(hand_ledger):
    # Bob subscribed at 120 after the 2021 gain: no fee in 2021. Carol subscribed at 108, below Alice's and
    # Bob's marks: she pays on her own gain from 1044 when she leaves, while they pay nothing until 1160/580.
    assert hand_ledger.performance_fees.loc["2021-12-31", "Bob"] == 0.0
    assert hand_ledger.accrued_performance_fees.loc["2023-06-30", ["Alice", "Bob"]].tolist() == [0.0, 0.0]
    assert hand_ledger.performance_fees.loc["2023-06-30", "Carol"] == pytest.approx(20.88)


def test_management_fee_is_simple_actual_365():
    dates = pd.to_datetime(["2024-01-01", "2024-01-11"])  # 10 days
    flows = pd.DataFrame({"date": [dates[0]], "investor": ["A"], "amount": [1000.0]})
    ledger = pk.funds.fund_ledger(flows, returns=pd.Series([0.0, 0.0], index=dates), management_fee=0.0365)
    # m = 0.0365 x 10 / 365 = 0.001 of the value after the day's return
    assert ledger.management_fees.iloc[-1, 0] == pytest.approx(1.0, abs=1e-12)
    assert ledger.nav_per_unit.iloc[-1] == pytest.approx(99.9, abs=1e-12)


def test_management_fee_over_a_year_of_daily_accruals():
    dates = pd.date_range("2023-01-01", periods=366, freq="D")  # 365 one-day accruals
    flows = pd.DataFrame({"date": [dates[0]], "investor": ["A"], "amount": [1000.0]})
    ledger = pk.funds.fund_ledger(flows, returns=pd.Series(0.0, index=dates), management_fee=0.02)
    final = 1000.0 * (1 - 0.02 / 365) ** 365  # each day charges 0.02/365 of that day's value
    assert ledger.values.iloc[-1, 0] == pytest.approx(final, rel=1e-12)
    assert ledger.management_fees.sum().sum() == pytest.approx(1000.0 - final, rel=1e-10)


def test_fee_is_accrued_on_value_after_the_return():
    dates = pd.to_datetime(["2024-01-01", "2024-12-31"])  # 365 days
    flows = pd.DataFrame({"date": [dates[0]], "investor": ["A"], "amount": [100.0]})
    ledger = pk.funds.fund_ledger(flows, returns=pd.Series([0.0, 0.10], index=dates), management_fee=0.01)
    assert ledger.management_fees.iloc[-1, 0] == pytest.approx(110.0 * 0.01, abs=1e-12)
    assert ledger.nav_per_unit.iloc[-1] == pytest.approx(100 * 1.10 * 0.99, abs=1e-12)


def test_units_flows_and_redeem_all():
    dates = pd.to_datetime(["2024-01-31", "2024-02-29", "2024-03-31"])
    r = pd.Series([0.0, 0.25, 0.0], index=dates)
    flows = pd.DataFrame(
        {"date": [dates[0], dates[1], dates[2]], "investor": ["A", "A", "A"], "units": [10.0, -4.0, -np.inf]}
    )
    ledger = pk.funds.fund_ledger(flows, returns=r)
    assert ledger.flows["A"].tolist() == [1000.0, -500.0, -750.0]  # 10 x 100, 4 x 125, 6 x 125
    assert ledger.units["A"].tolist() == [10.0, 6.0, 0.0]


def test_crystallisation_periods_and_last_date_rule():
    from poolkit.funds._ledger import _crystallisation_dates

    dates = pd.to_datetime(["2023-03-30", "2023-03-31", "2023-06-29", "2023-07-03", "2023-12-29"])
    assert _crystallisation_dates(dates, "quarter").tolist() == [False, True, True, True, False]
    assert _crystallisation_dates(dates, "half-year").tolist() == [False, False, True, False, False]
    assert _crystallisation_dates(dates, "year").tolist() == [False] * 5  # 2023-12-29 is not the year's last day
    assert _crystallisation_dates(dates, "month").tolist() == [False, True, True, True, False]
    assert not _crystallisation_dates(dates, "never").any()
    assert _crystallisation_dates(pd.to_datetime(["2023-06-30", "2023-12-31"]), "year").tolist() == [False, True]


def test_empty_fund_keeps_its_nav_per_unit():
    dates = pd.bdate_range("2024-01-01", periods=6)
    r = pd.Series([0.0, 0.1, 0.5, -0.3, 0.2, 0.1], index=dates)
    flows = pd.DataFrame({"date": [dates[0], dates[1], dates[4]], "investor": ["A", "A", "B"],
                          "amount": [100.0, -np.inf, 50.0]})
    ledger = pk.funds.fund_ledger(flows, returns=r, management_fee=0.01)
    nav = ledger.nav_per_unit
    assert nav.iloc[2] == nav.iloc[3] == nav.iloc[4] == nav.iloc[1]  # no units, no return, no fee
    assert nav.iloc[5] < nav.iloc[4] * 1.1  # B's holding earns the return, less the fee
    assert ledger.fund["investors"].tolist() == [1, 0, 0, 0, 1, 1]


def test_statement_columns_and_monthly_view(hand_ledger):
    st_ = pk.funds.statement(hand_ledger, "Bob")
    assert list(st_.columns) == [
        "flow", "units_dealt", "fee_units", "units", "nav_per_unit", "gross_value",
        "accrued_performance_fee", "value", "management_fee", "performance_fee", "high_water_mark", "share",
    ]
    assert st_.index[0] == pd.Timestamp("2021-12-31")  # from the first flow
    np.testing.assert_allclose(st_["gross_value"], st_["units"] * st_["nav_per_unit"], rtol=1e-12)
    np.testing.assert_allclose(st_["value"], st_["gross_value"] - st_["accrued_performance_fee"], rtol=1e-12)
    yearly = hand_ledger.statement("Bob", freq="YE")
    assert yearly["flow"].tolist() == [1160.0, -522.0, 0.0]
    assert yearly["performance_fee"].iloc[-1] == pytest.approx(27.55)
    with pytest.raises(KeyError, match="Did you mean 'Bob'"):
        pk.funds.statement(hand_ledger, "bob")
    with pytest.raises(ParameterError, match="freq"):
        pk.funds.statement(hand_ledger, "Bob", freq="fortnightly")


# --------------------------------------------------------------------------- invariants

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_accounting_identities(seed):
    returns, flows = _random_case(seed)
    ledger = pk.funds.fund_ledger(flows, returns=returns, **FEES)
    f = ledger.fund
    nav = f["nav_per_unit"].to_numpy()
    gross = ledger.units.to_numpy() * nav[:, None]
    # units x NAV per unit = fund value, every day; investors' values add up to the fund's net value
    np.testing.assert_allclose(gross.sum(axis=1), f["gross_value"], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(ledger.units.sum(axis=1) * nav, f["gross_value"], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(ledger.values.sum(axis=1), f["value"], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(f["gross_value"] - f["accrued_performance_fee"], f["value"], rtol=1e-12, atol=1e-9)
    # money is conserved: yesterday's assets grown by the return, less fees paid, plus net flows
    prev = np.r_[0.0, f["gross_value"].to_numpy()[:-1]]
    expected = prev * (1 + f["gross_return"]) - f["management_fee"] - f["performance_fee"] + f["net_flow"]
    np.testing.assert_allclose(expected, f["gross_value"], rtol=1e-10, atol=1e-8)
    shares = ledger.shares.to_numpy()
    assert np.all(shares >= -1e-15) and np.all(shares <= 1 + 1e-12)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, rtol=1e-12)
    # values as input give the same accounts
    again = pk.funds.fund_ledger(flows, values=f["assets_before_flows"], **FEES)
    np.testing.assert_allclose(again.values, ledger.values, rtol=1e-9, atol=1e-8)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_investor_who_never_trades_earns_the_same_as_alone(seed):
    returns, flows = _random_case(seed)
    ledger = pk.funds.fund_ledger(flows, returns=returns, **FEES)
    alone = pk.funds.fund_ledger(flows[flows["investor"] == "founder"], returns=returns, **FEES)
    np.testing.assert_allclose(ledger.values["founder"], alone.values["founder"], rtol=1e-12)
    # and the NAV per unit (hence the fund's TWR) does not depend on the other investors' flows
    np.testing.assert_allclose(ledger.nav_per_unit, alone.nav_per_unit, rtol=1e-12)


def test_buy_and_hold_investor_earns_the_funds_net_return_without_performance_fee():
    returns, flows = _random_case(7)
    ledger = pk.funds.fund_ledger(flows, returns=returns, management_fee=0.01)
    nav = ledger.nav_per_unit
    fund_return = nav.iloc[-1] / nav.iloc[0] - 1
    founder = ledger.values["founder"]
    assert founder.iloc[-1] / founder.iloc[0] - 1 == pytest.approx(fund_return, rel=1e-12)
    twr = pk.funds.time_weighted_return(founder, ledger.flows["founder"])
    assert twr == pytest.approx(fund_return, rel=1e-12)
    table = pk.funds.investor_returns(ledger)
    assert table.at["founder", "time_weighted_return"] == pytest.approx(table.at["founder", "money_weighted_return"], rel=1e-9)
    assert table.at["founder", "time_weighted_return"] == pytest.approx(table.at["founder", "fund_time_weighted_return"], rel=1e-12)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), data=st.data())
def test_relabelling_investors_and_permuting_rows_change_nothing(seed, data):
    returns, flows = _random_case(seed)
    ledger = pk.funds.fund_ledger(flows, returns=returns, **FEES)
    names = sorted(flows["investor"].unique())
    new = data.draw(st.permutations([f"z{i}" for i in range(len(names))]))
    mapping = dict(zip(names, new, strict=True))
    order = data.draw(st.permutations(range(len(flows))))
    shuffled = flows.iloc[list(order)].assign(investor=lambda f: f["investor"].map(mapping))
    other = pk.funds.fund_ledger(shuffled, returns=returns, **FEES)
    renamed = other.values.rename(columns={v: k for k, v in mapping.items()})[ledger.values.columns]
    np.testing.assert_allclose(renamed, ledger.values, rtol=1e-12, atol=1e-12)
    pd.testing.assert_frame_equal(other.fund, ledger.fund, rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    rets=st.lists(st.floats(-0.5, 0.5), min_size=3, max_size=12),
    units=st.lists(st.floats(0.0, 1e4), min_size=3, max_size=12),
)
def test_twr_does_not_change_when_flows_deal_at_the_same_nav(rets, units):
    n = min(len(rets), len(units))
    dates = pd.bdate_range("2024-01-01", periods=n)
    price = 100 * np.cumprod(1 + np.r_[0.0, rets[1:n]])
    u = np.maximum(np.asarray(units[:n]), 1.0)  # units held after each date's flows (never empty)
    values = pd.Series(u * price, index=dates)
    flows = pd.Series(np.r_[u[0], np.diff(u)] * price, index=dates)  # every flow at that date's NAV
    twr = pk.funds.time_weighted_return(values, flows)
    assert twr == pytest.approx(price[-1] / price[0] - 1, rel=1e-9, abs=1e-9)  # V - F cancels: 1e-9 of growth
    no_flows = pk.funds.time_weighted_return(pd.Series(price, index=dates))
    assert twr == pytest.approx(no_flows, rel=1e-9, abs=1e-9)


# --------------------------------------------------------------------------- TWR and XIRR references

@pytest.mark.parametrize("case", ["excel", "classic", "simple", "two_years"])
def test_xirr_reference_values(case):
    ref = _ref("funds_xirr.csv")
    rows = ref[ref["case"] == case]
    flows = pd.Series(rows["amount"].to_numpy(dtype=float), index=pd.to_datetime(rows["date"]))
    assert pk.funds.xirr(flows) == pytest.approx(rows["expected"].iloc[0], abs=rows["tolerance"].iloc[0])
    # the order of the rows does not matter, and flows on one date add up
    assert pk.funds.xirr(flows.iloc[::-1]) == pytest.approx(rows["expected"].iloc[0], abs=rows["tolerance"].iloc[0])


def test_xirr_flows_on_the_same_date_add_up():
    d = pd.to_datetime(["2021-01-01", "2021-01-01", "2022-01-01"])
    assert pk.funds.xirr(pd.Series([-60.0, -40.0, 110.0], index=d)) == pytest.approx(0.10, abs=1e-12)


def test_xirr_pump_problem_has_two_roots():
    # Lorie and Savage (1955): -1,600 now, +10,000 in a year, -10,000 in two: IRR 25 % and 400 %
    d = pd.to_datetime(["2021-01-01", "2022-01-01", "2023-01-01"])
    with pytest.raises(IRRError, match="2 rates of return") as info:
        pk.funds.xirr(pd.Series([-1600.0, 10000.0, -10000.0], index=d))
    np.testing.assert_allclose(info.value.roots, [0.25, 4.0], rtol=1e-10)
    assert isinstance(info.value, SolverError) and isinstance(info.value, PoolkitError)


@pytest.mark.parametrize(
    ("amounts", "dates", "match"),
    [
        ([-100.0, -50.0], ["2021-01-01", "2022-01-01"], "no rate of return"),
        ([-100.0, 100.0], ["2021-01-01", "2021-01-01"], "no non-zero cash flow"),
        ([-100.0, 120.0], ["2021-01-01", "2021-01-01"], "at least two dates"),
        ([0.0, 0.0], ["2021-01-01", "2022-01-01"], "no non-zero cash flow"),
    ],
)
def test_xirr_without_a_rate_is_named(amounts, dates, match):
    with pytest.raises(IRRError, match=match):
        pk.funds.xirr(pd.Series(amounts, index=pd.to_datetime(dates)))


def test_xirr_with_several_sign_changes_but_one_root():
    # -100, +50, -20, +100 (a year apart): two sign changes on the way, one root; bisection by hand
    d = pd.Timestamp("2021-01-01") + pd.to_timedelta([0, 365, 730, 1095], unit="D")
    c = np.array([-100.0, 50.0, -20.0, 100.0])

    def npv(r: float) -> float:
        return float(sum(c / (1 + r) ** np.arange(4)))

    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if npv(mid) > 0 else (lo, mid)
    assert pk.funds.xirr(pd.Series(c, index=d)) == pytest.approx(lo, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    outlay=st.floats(1.0, 1e6),
    receipts=st.lists(st.floats(0.0, 1e6), min_size=1, max_size=6),
)
def test_xirr_matches_polynomial_roots_on_annual_flows(outlay, receipts):
    # an independent solver: with flows 365 days apart, NPV is a polynomial in v = 1 / (1 + r)
    c = np.array([-outlay, *[x if x >= 1e-3 else 0.0 for x in receipts]])
    if c[1:].sum() <= 1e-6 * outlay:
        return
    d = pd.Timestamp("2021-01-01") + pd.to_timedelta(365 * np.arange(len(c)), unit="D")
    roots = np.roots(c[::-1])  # c_0 + c_1 v + ... + c_n v^n = 0
    v = roots[(np.abs(roots.imag) < 1e-9) & (roots.real > 0)].real
    assert v.size == 1  # one sign change: exactly one positive root
    expected = 1.0 / v[0] - 1.0
    assert pk.funds.xirr(pd.Series(c, index=d)) == pytest.approx(expected, rel=1e-7, abs=1e-9)


def test_classic_twr_vs_irr_example():
    # Bacon (2008), ch. 2: the same pool, two investors; Bob adds money just before the fall
    d = pd.to_datetime(["2021-01-01", "2022-01-01", "2023-01-01"])
    r = pd.Series([0.0, 0.5, -0.5], index=d)
    flows = pd.DataFrame({"date": [d[0], d[0], d[1]], "investor": ["Ann", "Bob", "Bob"], "amount": [100.0, 100.0, 1000.0]})
    table = pk.funds.investor_returns(pk.funds.fund_ledger(flows, returns=r))
    twr = math.sqrt(0.75) - 1  # 1.5 x 0.5 over two 365-day years
    assert table["time_weighted_return"].tolist() == pytest.approx([twr, twr], rel=1e-12)
    assert table.at["Ann", "money_weighted_return"] == pytest.approx(twr, rel=1e-10)
    assert table.at["Bob", "money_weighted_return"] == pytest.approx((math.sqrt(1_230_000) - 1000) / 200 - 1, rel=1e-10)
    assert table.at["Bob", "gain"] == pytest.approx(575 - 1100)


def test_money_weighted_return_names_investors_without_a_rate():
    dates = pd.bdate_range("2024-01-01", periods=3)
    flows = pd.DataFrame({"date": [dates[0], dates[2]], "investor": ["A", "Late"], "amount": [100.0, 50.0]})
    ledger = pk.funds.fund_ledger(flows, returns=pd.Series([0.0, 0.01, 0.01], index=dates))
    with pytest.raises(IRRError, match="'Late'"):
        pk.funds.money_weighted_return(ledger)
    assert pk.funds.money_weighted_return(ledger, ["A"]).index.tolist() == ["A"]
    with pytest.raises(KeyError, match="Nobody"):
        pk.funds.money_weighted_return(ledger, ["Nobody"])


def test_time_weighted_return_refusals():
    d = pd.bdate_range("2024-01-01", periods=3)
    with pytest.raises(DataError, match="negative"):
        pk.funds.time_weighted_return(pd.Series([1.0, -1.0, 2.0], index=d))
    with pytest.raises(DataError, match="not sorted"):
        pk.funds.time_weighted_return(pd.Series([1.0, 1.0, 2.0], index=d[::-1]))
    with pytest.raises(DataError, match="without a valuation"):
        pk.funds.time_weighted_return(pd.Series([1.0, 1.0, 2.0], index=d), pd.Series([1.0], index=[pd.Timestamp("2030-01-01")]))
    with pytest.raises(DataError, match="rise from zero without a flow"):
        pk.funds.time_weighted_return(pd.Series([0.0, 5.0, 6.0], index=d))
    # with the flow that brought the money in, the same values are fine
    assert pk.funds.time_weighted_return(pd.Series([0.0, 5.0, 6.0], index=d), pd.Series([5.0], index=[d[1]])) == pytest.approx(0.2)


# --------------------------------------------------------------------------- bad input, every problem at once

def test_every_static_flow_problem_is_listed_at_once():
    dates = pd.bdate_range("2024-01-01", periods=5)
    r = pd.Series(0.0, index=dates)
    flows = pd.DataFrame(
        {
            "date": ["2023-12-29", "2024-01-06", "2024-01-02", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-01"],
            "investor": ["Early", "Weekend", "Dup", "Dup", "Ghost", "Both", "A"],
            "amount": [100.0, 100.0, 50.0, 60.0, -10.0, 5.0, 100.0],
            "units": [np.nan, np.nan, np.nan, np.nan, np.nan, 1.0, np.nan],
        }
    )
    with pytest.raises(DataError) as info:
        pk.funds.fund_ledger(flows, returns=r)
    msg = str(info.value)
    assert "5 problem(s)" in msg
    assert "before the first valuation date 2024-01-01" in msg
    assert "not valuation dates (2024-01-06 -> after the last valuation)" in msg or "2024-01-06 -> next valuation" in msg
    assert "share a (date, investor) pair [('2024-01-02', 'Dup')]" in msg
    assert "no earlier subscription (unknown investors): 'Ghost' on 2024-01-03" in msg
    assert "give both `amount` and `units`" in msg


def test_off_date_flow_names_its_next_valuation_date():
    dates = pd.to_datetime(["2024-01-31", "2024-02-29", "2024-03-31"])
    flows = pd.DataFrame({"date": ["2024-01-31", "2024-02-15"], "investor": ["A", "A"], "amount": [10.0, 5.0]})
    with pytest.raises(DataError, match="2024-02-15 -> next valuation 2024-02-29"):
        pk.funds.fund_ledger(flows, returns=pd.Series(0.0, index=dates))


def test_every_redemption_larger_than_the_holding_is_listed():
    dates = pd.bdate_range("2024-01-01", periods=4)
    flows = pd.DataFrame(
        {
            "date": [dates[0], dates[0], dates[1], dates[2], dates[3]],
            "investor": ["A", "B", "A", "B", "A"],
            "amount": [100.0, 100.0, -150.0, -100.0000001, -5.0],
        }
    )
    with pytest.raises(DataError) as info:
        pk.funds.fund_ledger(flows, returns=pd.Series(0.0, index=dates))
    msg = str(info.value)
    assert "'A' on 2024-01-02 redeems 150 in cash but holds 100" in msg
    assert "'A' on 2024-01-04 redeems 5 in cash but holds nothing" in msg  # A was cut to zero
    assert "'B'" not in msg  # within 1e-9 of the holding: a full redemption
    assert "2 problem(s)" in msg


def test_negative_and_bad_valuations_are_refused():
    dates = pd.bdate_range("2024-01-01", periods=4)
    flows = pd.DataFrame({"date": [dates[0]], "investor": ["A"], "amount": [100.0]})
    with pytest.raises(DataError, match="negative on 1 date"):
        pk.funds.fund_ledger(flows, values=pd.Series([0.0, 100.0, -5.0, 90.0], index=dates))
    with pytest.raises(DataError, match="-100 % or less"):
        pk.funds.fund_ledger(flows, returns=pd.Series([0.0, 0.1, -1.2, 0.0], index=dates))
    with pytest.raises(DataError, match="must be 0"):
        pk.funds.fund_ledger(flows, values=pd.Series([50.0, 100.0, 100.0, 90.0], index=dates))
    with pytest.raises(DataError, match="percentages"):
        pk.funds.fund_ledger(flows, returns=pd.Series([0.0, 1.5, -2.0, 3.0], index=dates))
    with pytest.raises(DataError, match="not sorted"):
        pk.funds.fund_ledger(flows, returns=pd.Series([0.0, 0.1, 0.1, 0.0], index=dates[::-1]))
    with pytest.raises(DataError, match="missing or infinite"):
        pk.funds.fund_ledger(flows, returns=pd.Series([0.0, np.nan, 0.1, 0.0], index=dates))
    with pytest.raises(DataError, match="one series for the whole pool"):
        pk.funds.fund_ledger(flows, returns=pd.DataFrame({"x": 0.0, "y": 0.0}, index=dates))
    empty_value = pd.Series([0.0, 100.0, 0.0, 7.0], index=dates)
    flows2 = pd.DataFrame({"date": [dates[0], dates[1]], "investor": ["A", "A"], "amount": [100.0, -np.inf]})
    with pytest.raises(DataError, match="holds no units"):
        pk.funds.fund_ledger(flows2, values=empty_value)


def test_every_bad_parameter_is_listed_with_percent_hints():
    dates = pd.bdate_range("2024-01-01", periods=3)
    flows = pd.DataFrame({"date": [dates[0]], "investor": ["A"], "amount": [100.0]})
    r = pd.Series(0.0, index=dates)
    with pytest.raises(ParameterError) as info:
        pk.funds.fund_ledger(flows, returns=r, management_fee=2, performance_fee=20, crystallisation="yearly", unit_price=0)
    msg = str(info.value)
    assert "4 problem(s)" in msg
    assert "Did you mean 2 % = 0.02?" in msg and "Did you mean 20 % = 0.2?" in msg
    assert "Did you mean 'year'" in msg and "`unit_price`" in msg
    with pytest.raises(ParameterError, match="exactly one of `returns`"):
        pk.funds.fund_ledger(flows, returns=r, values=r)
    with pytest.raises(ParameterError, match="exactly one of `returns`"):
        pk.funds.fund_ledger(flows)


def test_flow_table_shape_problems():
    dates = pd.bdate_range("2024-01-01", periods=3)
    r = pd.Series(0.0, index=dates)
    with pytest.raises(DataError, match="lacks column"):
        pk.funds.fund_ledger(pd.DataFrame({"date": [dates[0]], "amount": [1.0]}), returns=r)
    with pytest.raises(DataError, match="must be a DataFrame"):
        pk.funds.fund_ledger([("2024-01-01", "A", 1.0)], returns=r)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"not a number in row\(s\) \[0\]"):
        pk.funds.fund_ledger(pd.DataFrame({"date": [dates[0]], "investor": ["A"], "amount": ["ten"]}), returns=r)
    with pytest.raises(DataError, match=r"subscribe \+inf"):
        pk.funds.fund_ledger(pd.DataFrame({"date": [dates[0]], "investor": ["A"], "amount": [np.inf]}), returns=r)


def test_errors_are_value_errors_too():
    assert issubclass(IRRError, ValueError)


# --------------------------------------------------------------------------- layering

def test_funds_never_imports_upward_or_heavy_modules_at_top_level():
    upward = re.compile(r"^\s*(from|import)\s+poolkit\.(plotting|widgets|reporting|cli|batch)\b|"
                        r"^\s*from\s+poolkit\s+import\s+[^\n]*\b(plotting|widgets|reporting|cli|batch)\b", re.M)
    heavy_top = re.compile(r"^(from|import)\s+(matplotlib|papermill|ipywidgets|scipy|sklearn|dask)\b", re.M)
    for path in sorted((ROOT / "poolkit" / "funds").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not upward.search(text), f"{path.name} imports a presentation module"
        assert not heavy_top.search(text), f"{path.name} imports a heavy module at top level"
    code = "import sys, poolkit.funds; print(sorted(m for m in ('scipy', 'matplotlib', 'papermill') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- building flow tables

def test_dealing_dates_roll_forward_and_refuse_orders_after_the_data():
    v = pd.to_datetime(["2024-01-31", "2024-02-29", "2024-03-28"])
    got = pk.funds.dealing_dates(["2024-01-31", "2024-02-01", "2024-02-29", "2024-03-28"], v)
    assert got.strftime("%Y-%m-%d").tolist() == ["2024-01-31", "2024-02-29", "2024-02-29", "2024-03-28"]
    with pytest.raises(DataError) as info:
        pk.funds.dealing_dates(["2024-04-02", "not a date", "2024-05-01"], v)
    msg = str(info.value)
    assert "2 problem(s)" in msg and "2 order(s) after the last valuation date 2024-03-28" in msg


def test_flow_table_feeds_the_ledger():
    v = pd.bdate_range("2024-01-01", periods=10)
    flows = pk.funds.flow_table(["2024-01-01", "2024-01-06"], ["Ann", "Ben"], [100.0, 50.0],
                                redeem_all={"Ann": "2024-01-10"}, valuation_dates=v)
    assert flows["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-01-08", "2024-01-10"]
    ledger = pk.funds.fund_ledger(flows, returns=pd.Series(0.001, index=v))
    assert ledger.units.loc["2024-01-10", "Ann"] == 0.0 and ledger.flows.loc["2024-01-10", "Ann"] < -100.0
    # orders of one investor dealt on the same date net out; leaving absorbs the rest
    merged = pk.funds.flow_table(["2024-01-06", "2024-01-07", "2024-01-08"], ["Ben", "Ben", "Ann"], [50.0, -20.0, 9.0],
                                 redeem_all={"Ann": "2024-01-07"}, valuation_dates=v)
    assert merged.to_dict("list") == {"date": [pd.Timestamp("2024-01-08")] * 2, "investor": ["Ann", "Ben"],
                                      "amount": [-np.inf, 30.0]}
    with pytest.raises(ParameterError) as info:
        pk.funds.flow_table(["2024-01-01"], ["Ann", "Ben"], [float("nan")])
    assert "2 problem(s)" in str(info.value)


def test_investor_returns_agree_with_the_generic_functions_even_after_a_re_entry():
    returns, flows = _random_case(3)
    d = returns.index
    extra = pd.DataFrame({"date": [d[10], d[40], d[90]], "investor": ["back", "back", "back"], "amount": [500.0, -np.inf, 800.0]})
    ledger = pk.funds.fund_ledger(pd.concat([flows, extra]), returns=returns, **FEES)
    table = pk.funds.investor_returns(ledger)
    for name in ledger.investors:
        flow, value = ledger.flows[name], ledger.values[name]
        first = flow.ne(0).idxmax()
        last = d[-1] if ledger.units[name].iloc[-1] > 0 else flow[flow != 0].index[-1]
        years = (last - first).days / 365
        twr = pk.funds.time_weighted_return(value.loc[first:last], flow.loc[first:last])
        assert table.at[name, "time_weighted_return"] == pytest.approx((1 + twr) ** (1 / years) - 1, rel=1e-10)
        assert table.at[name, "first_date"] == first and table.at[name, "last_date"] == last
    own = ledger.cash_flows.query("investor == 'back'").set_index("date")["amount"]
    investor_side = pd.concat([-own, pd.Series([ledger.values["back"].iloc[-1]], index=[d[-1]])])
    assert table.at["back", "money_weighted_return"] == pytest.approx(pk.funds.xirr(investor_side), rel=1e-12)

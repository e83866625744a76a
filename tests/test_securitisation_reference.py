"""Reference values of the waterfall: Fabozzi & Jones (2019) chapter 30, and hand-worked deals.

The CSV files in tests/reference/ carry their source, table and tolerance in their headers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import poolkit.credit as C

REF = Path(__file__).resolve().parent / "reference"
# the $400 million 7.5 % pass-through of the chapter: WAC 8.125 %, WAM 357 (three months seasoned)
POOL = {"balance": 400e6, "coupon": 0.08125, "term": 360, "age": 3, "net_coupon": 0.075}


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name, comment="#")


def _wal(cf: pd.DataFrame, column: str = "principal") -> float:
    return C.weighted_average_life(cf, column=column)


@pytest.fixture(scope="module")
def at_165():
    return C.pool_cashflows(POOL["balance"], POOL["coupon"], POOL["term"], age=POOL["age"],
                            net_coupon=POOL["net_coupon"], prepayment="165 PSA")


def test_pac_schedule_matches_fabozzi_table_30_7():
    ref = _read("securitisation_fabozzi_pac_schedule.csv").set_index("month")
    sched = C.pac_schedule(C.load_deal("fabozzi_cmo3"))
    np.testing.assert_allclose(sched.loc[ref.index, "lower"], ref["at_90_psa"], atol=0.01)
    np.testing.assert_allclose(sched.loc[ref.index, "upper"], ref["at_300_psa"], atol=0.01)
    np.testing.assert_allclose(sched.loc[ref.index, "scheduled_payment"], ref["pac_schedule"], atol=0.01)
    # the PAC is paid off in month 349 and the schedule adds up to its balance
    assert sched["scheduled_payment"].sum() == pytest.approx(243.8e6, abs=1e-6)
    assert sched["scheduled_balance"].loc[348] > 0 == sched["scheduled_balance"].loc[349]


def test_average_lives_match_fabozzi_tables():
    ref = _read("securitisation_fabozzi_average_life.csv")
    speeds = sorted(ref["psa"].unique())
    cf = C.speed_scenarios(POOL["balance"], POOL["coupon"], POOL["term"], speeds, age=POOL["age"],
                           net_coupon=POOL["net_coupon"])
    results = {deal: C.run_waterfall(C.load_deal(f"fabozzi_{deal}"), cf) for deal in ("cmo1", "cmo2", "cmo3")}
    for row in ref.itertuples():
        label = f"{row.psa} PSA"
        if row.deal == "collateral":
            ours = _wal(cf.xs(label, axis=1, level="scenario"))
        else:
            ours = _wal(results[row.deal].tranche_cashflows(row.tranche, label))
        assert abs(ours - row.average_life) <= row.tolerance, (row.deal, row.tranche, row.psa, ours)


def test_sequential_and_accrual_cash_flows_match_fabozzi_text(at_165):
    ref = _read("securitisation_fabozzi_cmo_cash_flows.csv")
    results = {deal: C.run_waterfall(C.load_deal(f"fabozzi_{deal}"), at_165) for deal in ("cmo1", "cmo2")}
    for row in ref.itertuples():
        res = results[row.deal]
        if row.tranche == "collateral":
            value = at_165.loc[row.month, row.field]
        elif row.field in ("first_month", "last_month"):
            value = res.arrays[row.field][0, list(res.tranches).index(row.tranche)]
        else:
            value = res.tranche_cashflows(row.tranche).loc[row.month, row.field]
        assert abs(value - row.value) <= row.tolerance, (row.deal, row.tranche, row.field, row.month, value)


def test_hand_worked_waterfalls():
    ref = _read("securitisation_hand_worked.csv")
    for case, rows in ref.groupby("case"):
        deal = C.Deal(
            name=f"hand {case}", collateral=C.Collateral(balance=1000.0),
            tranches=(C.Tranche("A", balance=700.0, coupon=0.06, seniority=1),
                      C.Tranche("B", balance=200.0, coupon=0.12, seniority=2),
                      C.Tranche("C", balance=100.0, coupon=0.24, seniority=3)),
            excess_spread="release" if case == "release" else "cover_losses",
        )
        interest = [8.0, 7.0, 3.0] if case == "release" else [8.0, 9.0, 3.0]
        flows = {"interest": interest, "principal": [100.0, 50.0, 820.0], "principal_loss": [0.0, 30.0, 0.0]}
        res = C.run_waterfall(deal, flows)
        residual = res.deal_cashflows(0)["residual"]
        for row in rows.itertuples():
            if row.tranche == "residual":
                assert residual[row.month] == pytest.approx(row.interest, abs=1e-9)
                continue
            got = res.tranche_cashflows(row.tranche, 0).loc[row.month]
            for field in ("interest", "principal", "writedown", "balance", "interest_shortfall"):
                assert got[field] == pytest.approx(getattr(row, field), abs=1e-9), (case, row.month, row.tranche, field)


def test_shifting_interest_split_worked_by_hand():
    # Senior S 900, subordinate J 100 of a 1000 pool: senior percentage SP = 0.9. Month 1 pays 20 of
    # scheduled principal and 50 of prepayments. The seniors receive SP x 20 + SPP x 50 with
    # SPP = SP + s (1 - SP): s = 100 % -> 18 + 50 = 68; s = 70 % -> 18 + 0.97 x 50 = 66.5; s = 0 -> 63.
    flows = {"interest": [5.0, 4.0], "principal": [70.0, 930.0], "voluntary_prepayments": [50.0, 0.0]}
    for shift, senior in ((1.0, 68.0), (0.7, 66.5), (0.0, 63.0)):
        deal = C.Deal("shift", C.Collateral(balance=1000.0),
                      (C.Tranche("S", balance=900.0, coupon=0.0, type="senior", seniority=1),
                       C.Tranche("J", balance=100.0, coupon=0.0, type="subordinate", seniority=2)),
                      shifting_interest=C.ShiftingInterest(schedule=(shift,)))
        res = C.run_waterfall(deal, flows)
        assert res.tranche_cashflows("S", 0).loc[1, "principal"] == pytest.approx(senior, abs=1e-12)
        assert res.tranche_cashflows("J", 0).loc[1, "principal"] == pytest.approx(70.0 - senior, abs=1e-12)


def test_standard_shifting_interest_schedule_by_deal_year():
    # months 1-60: 100 %, then 70, 60, 40, 20 % for years 6-9, 0 from year 10 (Fabozzi, Handbook of MBS)
    assert C.STANDARD_SHIFTING_INTEREST == (1.0, 1.0, 1.0, 1.0, 1.0, 0.7, 0.6, 0.4, 0.2, 0.0)
    months = 132
    flows = {"interest": np.zeros(months), "principal": np.full(months, 1.0),
             "voluntary_prepayments": np.full(months, 1.0)}
    deal = C.Deal("std", C.Collateral(balance=1000.0),
                  (C.Tranche("S", balance=900.0, type="senior", seniority=1),
                   C.Tranche("J", balance=100.0, type="subordinate", seniority=2)))
    res = C.run_waterfall(deal, flows)
    b = res.balances(0)
    sub_paid = res.tranche_cashflows("J", 0)["principal"]
    for month, shift in ((1, 1.0), (60, 1.0), (61, 0.7), (73, 0.6), (85, 0.4), (97, 0.2), (109, 0.0), (132, 0.0)):
        sp = b.loc[month - 1, "S"] / (1000.0 - (month - 1))
        assert sub_paid[month] == pytest.approx((1 - sp) * (1 - shift), abs=1e-12), month

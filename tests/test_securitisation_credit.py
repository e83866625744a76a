"""Tranche measures, prospectus tables and the credit side: loan-level Monte Carlo through the waterfall."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import poolkit.credit as C
from poolkit.exceptions import DataError, ParameterError

PD, LGD, RHO = 0.05, 0.6, 0.15


@pytest.fixture(scope="module")
def credit_deal():
    # senior 15-100 %, mezzanine 5-15 %, equity 0-5 %: losses in reverse seniority, no excess spread
    return C.Deal("credit", C.Collateral(balance=100.0, coupon=0.06, net_coupon=0.06, term=60),
                  (C.Tranche("senior", share=0.85, coupon=0.05, seniority=1),
                   C.Tranche("mezz", share=0.10, coupon=0.06, seniority=2),
                   C.Tranche("equity", share=0.05, coupon=0.06, seniority=3)), excess_spread="release")


# ----------------------------------------------------------------------------- simulated pools


def test_simulated_pools_account_for_every_unit_of_principal():
    sims = C.simulate_pool_cashflows(1000.0, 0.07, 120, n_loans=300, pd=0.1, lgd=0.4, rho=0.2, prepayment="200 PSA",
                                     recovery_lag=6, n_sims=3000, seed=11)
    assert sims.principal.shape == (3000, 120)
    total = sims.principal.sum(axis=1) + sims.principal_loss.sum(axis=1)
    np.testing.assert_allclose(total, 1000.0, rtol=1e-12)
    # the balance each month is the one before less principal and losses (SF accounting)
    step = sims.beginning_balance[:, :-1] - sims.principal[:, :-1] - sims.principal_loss[:, :-1]
    np.testing.assert_allclose(sims.beginning_balance[:, 1:], step, atol=1e-9)
    # losses are lgd x defaulted balance: at most lgd x the share of loans that defaulted
    assert (sims.principal_loss.sum(axis=1) <= 0.4 * sims.default_fraction * 1000.0 + 1e-9).all()
    # the defaults come from the one-factor model: their mean is pd (prepayments aside)
    assert sims.default_fraction.mean() == pytest.approx(0.1, abs=0.01)


def test_without_defaults_the_simulation_is_the_standard_recursion():
    sims = C.simulate_pool_cashflows(1000.0, 0.07, 120, n_loans=10, pd=1e-12, lgd=0.4, rho=0.0, net_coupon=0.065,
                                     prepayment="150 PSA", n_sims=3, seed=1)
    cf = C.pool_cashflows(1000.0, 0.07, 120, net_coupon=0.065, prepayment="150 PSA")
    for ours, theirs in (("principal", "principal"), ("interest", "interest"),
                         ("voluntary_prepayments", "voluntary_prepayments")):
        np.testing.assert_allclose(getattr(sims, ours)[0], cf[theirs].to_numpy(), atol=1e-9)


def test_simulation_refuses_bad_input_by_name():
    with pytest.raises(ParameterError, match="by name"):
        C.simulate_pool_cashflows(100.0, 0.06, 60, 100, 0.02, 0.4, 0.1)  # type: ignore[misc]
    with pytest.raises(ParameterError, match="Did you mean 2 % = 0.02"):
        C.simulate_pool_cashflows(100.0, 0.06, 60, n_loans=100, pd=2, lgd=0.4, rho=0.1)
    with pytest.raises(ParameterError, match="`timing`"):
        C.simulate_pool_cashflows(100.0, 0.06, 60, n_loans=100, pd=0.02, lgd=0.4, rho=0.1, timing="late")
    with pytest.raises(ParameterError, match="n_loans"):
        C.simulate_pool_cashflows(100.0, 0.06, 60, n_loans=10.0, pd=0.02, lgd=0.4, rho=0.1)


# ----------------------------------------------------------------------------- Monte Carlo vs the Vasicek view


def test_waterfall_losses_are_tranche_losses_of_the_pool_loss(credit_deal):
    # all defaults at closing and losses in reverse seniority: each tranche loses
    # min(max(L - a, 0), d - a) / (d - a) of the pool loss L, scenario by scenario
    sims = C.simulate_pool_cashflows(100.0, 0.06, 60, n_loans=200, pd=PD, lgd=LGD, rho=RHO, timing="start",
                                     n_sims=5000, seed=3)
    losses = C.tranche_loss_distribution(credit_deal, sims, chunk=1500)
    points = C.attachment_points(credit_deal)
    assert points.loc["mezz", ["attachment", "detachment"]].tolist() == pytest.approx([0.05, 0.15])
    np.testing.assert_allclose(losses["pool"], LGD * losses["default_fraction"], atol=1e-12)
    for name, row in points.iterrows():
        expected = C.tranche_loss(losses["pool"].to_numpy(), row["attachment"], row["detachment"])
        np.testing.assert_allclose(losses[name].to_numpy(), expected, atol=1e-9, err_msg=name)


@pytest.mark.slow
def test_tranche_losses_approach_the_large_pool_vasicek_view(credit_deal):
    n_sims = 30_000
    gaps = {}
    for n in (30, 20_000):
        sims = C.simulate_pool_cashflows(100.0, 0.06, 60, n_loans=n, pd=PD, lgd=LGD, rho=RHO, timing="start",
                                         n_sims=n_sims, seed=2024)
        losses = C.tranche_loss_distribution(credit_deal, sims, chunk=10_000)
        table = C.tranche_loss_table(losses, credit_deal, pd=PD, lgd=LGD, rho=RHO)
        se = losses[table.index].std() / np.sqrt(n_sims)
        gaps[n] = ((table["expected_loss"] - table["vasicek_expected_loss"]).abs(), se)
    small_gap, _ = gaps[30]
    large_gap, se = gaps[20_000]
    assert (large_gap <= 4 * se + 1e-5).all(), (large_gap, se)  # within Monte Carlo error of Vasicek
    assert small_gap["mezz"] > 5 * large_gap["mezz"]  # a small pool is far from the limit


def test_loss_table_needs_both_pd_and_rho(credit_deal):
    losses = pd.DataFrame({"senior": [0.0], "mezz": [0.5], "equity": [1.0]})
    with pytest.raises(ParameterError, match="both `pd` and `rho`"):
        C.tranche_loss_table(losses, credit_deal, pd=0.02)
    table = C.tranche_loss_table(losses, credit_deal)
    assert table.loc["equity", "prob_wiped_out"] == 1.0 and table.loc["mezz", "expected_loss"] == 0.5
    with pytest.raises(DataError, match="PoolScenarios"):
        C.tranche_loss_distribution(credit_deal, losses)  # type: ignore[arg-type]


def test_subordination_protects_the_seniors_in_reverse_order():
    deal = C.load_deal("senior_sub", collateral={"term": 240})
    sims = C.simulate_pool_cashflows(100e6, 0.08, 240, n_loans=500, pd=0.12, lgd=0.45, rho=0.2, net_coupon=0.075,
                                     prepayment="150 PSA", recovery_lag=12, n_sims=2000, seed=5)
    table = C.tranche_loss_table(C.tranche_loss_distribution(deal, sims), deal)
    el = table["expected_loss"]
    assert el["B2"] >= el["B1"] >= el["M2"] >= el["M1"] >= el["A2"] >= el["A1"]
    assert el["B2"] > 0.3 and el["A1"] < 1e-3


# ----------------------------------------------------------------------------- tranche measures


def test_yield_at_a_price_and_price_at_a_yield_are_inverse():
    cf = C.pool_cashflows(400e6, 0.08125, 360, age=3, net_coupon=0.075, prepayment="165 PSA")
    res = C.run_waterfall(C.load_deal("fabozzi_cmo1"), cf)
    prices = {"A": 101.0, "B": 99.5, "C": 98.0, "D": 95.0}
    by_price = C.tranche_summary(res, price=prices, delay_days=24)
    by_yield = C.tranche_summary(res, yield_rate=by_price["yield"].to_dict(), delay_days=24)
    np.testing.assert_allclose(by_yield["price"], pd.Series(prices)[by_yield.index], rtol=1e-10)
    np.testing.assert_allclose(by_yield["modified_duration"], by_price["modified_duration"], rtol=1e-10)
    # one home per number: the measures are the pool analytics on the tranche's cash flows
    a = res.tranche_cashflows("A")
    y = C.cash_flow_yield(a, 101.0, delay_days=24)
    assert by_price.loc["A", "yield"] == y
    assert by_price.loc["A", "modified_duration"] == C.modified_duration(a, y, delay_days=24)
    assert by_price.loc["A", "average_life"] == C.weighted_average_life(a, delay_days=24)
    # at par and a coupon equal to its yield (monthly pay), each tranche yields about its coupon
    par = C.tranche_summary(res)
    assert (par["yield"] - 0.075).abs().max() < 0.0025
    with pytest.raises(ParameterError, match="not both"):
        C.tranche_summary(res, price=100.0, yield_rate=0.07)
    with pytest.raises(ParameterError, match="missing \\['D'\\]"):
        C.tranche_summary(res, price={"A": 100.0, "B": 100.0, "C": 100.0})


def test_prospectus_table_by_speed():
    deal = C.load_deal("fabozzi_cmo1")
    table = C.prospectus_table(deal, [0, 100, 165, 400], price=100.0)
    assert list(table.columns) == ["0 PSA", "100 PSA", "165 PSA", "400 PSA"]
    assert set(table.index.get_level_values("measure")) == set(C._tranches.PROSPECTUS_MEASURES)
    wal = table.xs("average_life", level="measure")
    assert (wal.diff(axis=1).iloc[:, 1:] < 0).all().all()  # faster prepayments shorten every tranche
    assert table.loc[("A", "last_month"), "165 PSA"] == 81 and table.loc[("D", "last_month"), "165 PSA"] == 357
    assert (table.xs("loss", level="measure") == 0).all().all()
    with pytest.raises(ParameterError, match="needs a coupon and a term"):
        C.prospectus_table(C.Deal("x", C.Collateral(balance=1.0), (C.Tranche("A", balance=1.0),)))


def test_losses_by_default_speed_go_to_the_juniors_first():
    deal = C.load_deal("senior_sub")
    table = C.prospectus_table(deal, [100], default="400 SDA", severity=0.5, recovery_lag=12)
    loss = table.xs("loss", level="measure")["100 PSA"]
    assert loss["B2"] == 1.0 and loss["B2"] >= loss["B1"] >= loss["M2"] > loss["M1"] == loss["A2"] == loss["A1"] == 0


def test_attachment_points_count_overcollateralisation_and_ties():
    points = C.attachment_points(C.load_deal("excess_spread_oc"))
    assert points["attachment"].tolist() == pytest.approx([0.20, 0.10, 0.04])
    assert points.loc["B", "detachment"] == pytest.approx(0.10)
    tied = C.Deal("tied", C.Collateral(balance=100.0),
                  (C.Tranche("A1", balance=45.0, seniority=1), C.Tranche("A2", balance=45.0, seniority=1),
                   C.Tranche("B", balance=10.0, seniority=2)))
    pts = C.attachment_points(tied)
    assert pts.loc["A1", ["attachment", "detachment"]].tolist() == pytest.approx([0.10, 1.0])
    assert pts.loc["A2", "attachment"] == pts.loc["A1", "attachment"]

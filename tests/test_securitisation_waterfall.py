"""Invariants of the waterfall (poolkit.credit.run_waterfall) and its refusals of bad cash flows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import poolkit.credit as C
from poolkit.exceptions import DataError, ParameterError

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POOL = {"balance": 400e6, "coupon": 0.08125, "term": 360, "age": 3, "net_coupon": 0.075}


def _pool(term: int = 120, **kw) -> pd.DataFrame:
    return C.pool_cashflows(1000.0, 0.08, term, net_coupon=0.075, **kw)


def _cash_residual(res: C.WaterfallResult) -> np.ndarray:
    """Cash in - (fees + interest + principal + residual + change of the reserve), every scenario and month."""
    a = res.arrays
    start = res.deal.reserve.initial * res.deal.collateral.balance if res.deal.reserve else 0.0
    reserve = a["deal_reserve"]
    before = np.concatenate([np.full((reserve.shape[0], 1), start), reserve[:, :-1]], axis=1)
    out = (a["deal_fees"] + a["tranche_interest"].sum(axis=2) + a["tranche_principal"].sum(axis=2)
           + a["deal_residual"] + reserve - before)
    return a["deal_interest_in"] + a["deal_principal_in"] - out


def _principal_residual(res: C.WaterfallResult) -> np.ndarray:
    """Principal paid + written down + left - (original + accreted), per scenario and tranche."""
    a = res.arrays
    orig = np.array([res.deal.balance_of(t) for t in res.deal.tranches])
    return a["total_principal"] + a["total_writedown"] + a["final_balance"] * (orig > 0) - orig - a["total_accrued_interest"]


# ----------------------------------------------------------------------------- random deals


@st.composite
def deals(draw):
    """Random valid deals on a 1000 pool: sequential, pro rata, Z, senior/subordinate, OC, reserve, triggers."""
    kind = draw(st.sampled_from(["sequential", "pro_rata", "z", "senior_sub", "oc"]))
    n = draw(st.integers(2, 5))
    weights = np.array(draw(st.lists(st.floats(0.1, 1.0), min_size=n, max_size=n)))
    oc = draw(st.sampled_from([0.0, 0.02, 0.05])) if kind == "oc" else None
    shares = weights / weights.sum() * (1.0 - (oc or 0.0))
    coupons = draw(st.lists(st.floats(0.0, 0.09), min_size=n, max_size=n))
    tranches = []
    for i in range(n):
        ttype = {"sequential": "sequential", "pro_rata": "pro_rata", "oc": "sequential",
                 "z": "z" if i == n - 1 else "sequential",
                 "senior_sub": "senior" if i < max(1, n // 2) else "subordinate"}[kind]
        tranches.append(C.Tranche(f"T{i}", share=float(shares[i]), coupon=float(coupons[i]), type=ttype, seniority=i + 1))
    reserve = C.Reserve(initial=0.01, target=0.02, floor=0.005) if draw(st.booleans()) else None
    triggers = ()
    if kind in ("oc", "sequential") and draw(st.booleans()):
        triggers = (C.Trigger("overcollateralisation", "T0", draw(st.floats(1.0, 1.5))),
                    C.Trigger("interest_coverage", f"T{n - 2}", draw(st.floats(1.0, 2.0))))
    return C.Deal(
        name=f"random {kind}", collateral=C.Collateral(balance=1000.0, coupon=0.08, net_coupon=0.075, term=120),
        tranches=tuple(tranches), fees={"trustee": draw(st.sampled_from([0.0, 0.001]))},
        overcollateralisation=oc, reserve=reserve, triggers=triggers,
        excess_spread=draw(st.sampled_from(["cover_losses", "release"])),
    )


@FAST
@given(deal=deals(), psa=st.sampled_from([0, 100, 400]), sda=st.sampled_from([0, 200, 1000]),
       severity=st.floats(0.0, 0.8), lag=st.sampled_from([0, 6]))
def test_cash_and_principal_are_conserved_every_month(deal, psa, sda, severity, lag):
    cf = _pool(prepayment=f"{psa} PSA", default=f"{sda} SDA", severity=severity, recovery_lag=lag)
    res = C.run_waterfall(deal, cf)
    # every month: cash paid out + change of the reserve = cash in
    np.testing.assert_allclose(_cash_residual(res), 0.0, atol=1e-9)
    # per tranche: principal paid + written down (+ left) = original balance + accreted interest
    np.testing.assert_allclose(_principal_residual(res), 0.0, atol=1e-9)
    a = res.arrays
    for field in ("tranche_interest", "tranche_principal", "tranche_writedown", "tranche_balance",
                  "deal_residual", "deal_reserve", "deal_fees"):
        assert (a[field] >= -1e-9).all(), field
    # losses never exceed what the pool lost (overcollateralisation and excess spread absorb first)
    assert a["total_writedown"].sum() <= cf["principal_loss"].sum() + 1e-9
    # the bonds are paid off when the pool is, unless the pool's losses wrote them down
    assert np.abs(a["final_balance"]).max() < 1e-9


def test_a_one_tranche_deal_is_the_pass_through():
    for kw in ({"prepayment": "165 PSA"}, {"prepayment": "300 PSA", "default": "200 SDA", "severity": 0.4,
                                            "recovery_lag": 12}):
        cf = C.pool_cashflows(POOL["balance"], POOL["coupon"], POOL["term"], age=POOL["age"],
                              net_coupon=POOL["net_coupon"], **kw)
        deal = C.Deal("pass-through", C.Collateral(balance=POOL["balance"]),
                      (C.Tranche("PT", balance=POOL["balance"], coupon=POOL["net_coupon"]),))
        t = C.run_waterfall(deal, cf).tranche_cashflows("PT")
        scale = POOL["balance"]
        for ours, theirs in (("interest", "interest"), ("principal", "principal"), ("writedown", "principal_loss"),
                             ("balance", "balance"), ("beginning_balance", "beginning_balance")):
            np.testing.assert_allclose(t[ours], cf[theirs], rtol=0, atol=1e-10 * scale, err_msg=ours)
        assert C.weighted_average_life(t) == pytest.approx(C.weighted_average_life(cf), rel=1e-12)


def test_io_plus_po_is_the_pass_through():
    speeds = [0, 100, 300, 700]
    cf = C.speed_scenarios(POOL["balance"], POOL["coupon"], POOL["term"], speeds, age=POOL["age"],
                           net_coupon=POOL["net_coupon"], default="100 SDA", severity=0.3)
    res = C.run_waterfall(C.load_deal("fabozzi_strips"), cf)
    for label in res.scenarios:
        io, po = res.tranche_cashflows("IO", label), res.tranche_cashflows("PO", label)
        pool = cf.xs(label, axis=1, level="scenario")
        np.testing.assert_allclose(io["cash_flow"] + po["cash_flow"], pool["cash_flow"], atol=1e-10 * POOL["balance"])
        assert (io["principal"] == 0).all() and (po["interest"] == 0).all()
        np.testing.assert_allclose(io["beginning_balance"], pool["beginning_balance"], atol=1e-10 * POOL["balance"])
    # the IO wants slow prepayments, the PO fast ones: at the same price, opposite yields
    summary = {s: C.tranche_summary(res, s, price={"IO": 30.0, "PO": 70.0}) for s in ("100 PSA", "700 PSA")}
    assert summary["700 PSA"].loc["PO", "yield"] > summary["100 PSA"].loc["PO", "yield"]
    assert summary["700 PSA"].loc["IO", "yield"] < summary["100 PSA"].loc["IO", "yield"]


def _pac(speed: float) -> pd.DataFrame:
    cf = C.pool_cashflows(POOL["balance"], POOL["coupon"], POOL["term"], age=POOL["age"],
                          net_coupon=POOL["net_coupon"], prepayment=f"{speed!r} PSA")
    return C.run_waterfall(C.load_deal("fabozzi_cmo3"), cf).tranche_cashflows("P")


@FAST
@given(speed=st.floats(90.0, 300.0))
def test_pac_average_life_is_the_same_at_every_speed_inside_its_collar(speed):
    at_90, at_speed = _pac(90.0), _pac(speed)
    np.testing.assert_allclose(at_speed["principal"], at_90["principal"], atol=1e-6)
    assert C.weighted_average_life(at_speed) == pytest.approx(C.weighted_average_life(at_90), abs=1e-9)


def test_pac_average_life_breaks_outside_the_collar():
    cf = C.speed_scenarios(POOL["balance"], POOL["coupon"], POOL["term"], [50, 150, 500], age=POOL["age"],
                           net_coupon=POOL["net_coupon"])
    res = C.run_waterfall(C.load_deal("fabozzi_cmo3"), cf)
    wal = {s: C.weighted_average_life(res.tranche_cashflows("P", s)) for s in res.scenarios}
    assert wal["50 PSA"] > wal["150 PSA"] + 1 and wal["500 PSA"] < wal["150 PSA"] - 1


@FAST
@given(order=st.permutations(range(6)), sda=st.sampled_from([0, 300]))
def test_listing_order_changes_nothing(order, sda):
    cf = _pool(360 if sda else 120, prepayment="200 PSA", default=f"{sda} SDA", severity=0.5, recovery_lag=6)
    base = C.load_deal("senior_sub", collateral={"balance": 1000.0, "term": 360 if sda else 120})
    # equal seniority for the two seniors: they share pro rata, whatever the order of listing
    tranches = [t if t.name != "A2" else C.Tranche("A2", share=t.share, coupon=t.coupon, type="senior", seniority=1)
                for t in base.tranches]
    deal = C.Deal(base.name, base.collateral, tuple(tranches), shifting_interest=base.shifting_interest,
                  excess_spread=base.excess_spread)
    shuffled = C.Deal(deal.name, deal.collateral, tuple(deal.tranches[i] for i in order),
                      shifting_interest=deal.shifting_interest, excess_spread=deal.excess_spread)
    a, b = C.run_waterfall(deal, cf), C.run_waterfall(shuffled, cf)
    for name in deal.names:
        pd.testing.assert_frame_equal(a.tranche_cashflows(name), b.tranche_cashflows(name), rtol=1e-12, atol=1e-9)
    pd.testing.assert_frame_equal(a.deal_cashflows(), b.deal_cashflows(), rtol=1e-12, atol=1e-9)


def test_listing_order_of_a_deal_file_changes_nothing(tmp_path):
    import yaml

    data = yaml.safe_load((C.load_deal.__globals__["DEALS_DIR"] / "excess_spread_oc.yaml").read_text())
    data["tranches"] = data["tranches"][::-1]
    data["triggers"] = data["triggers"][::-1]
    (tmp_path / "reversed.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    cf = C.pool_cashflows(100e6, 0.08, 360, net_coupon=0.075, prepayment="150 PSA", default="1500 SDA",
                          severity=0.6, recovery_lag=12)
    a = C.run_waterfall(C.load_deal("excess_spread_oc"), cf)
    b = C.run_waterfall(C.load_deal(tmp_path / "reversed.yaml"), cf)
    assert a.deal_cashflows()["trigger_failed"].sum() > 0  # the triggers do fire in this scenario
    pd.testing.assert_frame_equal(a.losses(), b.losses()[a.losses().columns])
    pd.testing.assert_frame_equal(a.deal_cashflows(), b.deal_cashflows(), rtol=1e-12, atol=1e-6)


@pytest.mark.parametrize("scale", [1e-3, 1e6])
def test_results_scale_with_the_currency_unit(scale):
    deal = C.load_deal("excess_spread_oc")
    cf = C.pool_cashflows(100e6, 0.08, 360, net_coupon=0.075, prepayment="150 PSA", default="400 SDA",
                          severity=0.45, recovery_lag=12)
    scaled = C.load_deal("excess_spread_oc", collateral={"balance": 100e6 * scale})
    cf_scaled = C.pool_cashflows(100e6 * scale, 0.08, 360, net_coupon=0.075, prepayment="150 PSA", default="400 SDA",
                                 severity=0.45, recovery_lag=12)
    a, b = C.run_waterfall(deal, cf), C.run_waterfall(scaled, cf_scaled)
    pd.testing.assert_frame_equal(a.losses(), b.losses(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.balances().to_numpy() / scale, a.balances().to_numpy(), rtol=1e-9, atol=1e-6)


def test_pro_rata_tranches_share_principal_and_seniority_shares_losses():
    deal = C.Deal("pro rata", C.Collateral(balance=1000.0),
                  (C.Tranche("A", balance=600.0, type="pro_rata", seniority=1),
                   C.Tranche("B", balance=300.0, type="pro_rata", seniority=2),
                   C.Tranche("C", balance=100.0, type="sequential", seniority=3)))
    flows = {"interest": [0.0, 0.0], "principal": [100.0, 800.0], "principal_loss": [0.0, 100.0]}
    res = C.run_waterfall(deal, flows)
    month1 = {n: res.tranche_cashflows(n, 0).loc[1, "principal"] for n in "ABC"}
    assert month1 == pytest.approx({"A": 100 * 600 / 900, "B": 100 * 300 / 900, "C": 0.0})
    # the 100 of losses hit C first (reverse seniority), whatever the principal rule
    assert res.losses().loc[0].to_dict() == pytest.approx({"A": 0.0, "B": 0.0, "C": 1.0})


def test_accrual_bond_accretes_then_is_paid():
    cf = C.pool_cashflows(POOL["balance"], POOL["coupon"], POOL["term"], age=POOL["age"],
                          net_coupon=POOL["net_coupon"], prepayment="165 PSA")
    res = C.run_waterfall(C.load_deal("fabozzi_cmo2"), cf)
    z = res.tranche_cashflows("Z")
    first_paid = int(z.index[z["principal"] > 0][0])
    # before: no cash, the balance grows by 7.5 % / 12 a month; after: interest in cash on the balance
    np.testing.assert_allclose(z.loc[: first_paid - 1, "accrued_interest"],
                               z.loc[: first_paid - 1, "beginning_balance"] * 0.075 / 12, rtol=1e-12)
    assert (z.loc[: first_paid - 1, "interest"] == 0).all()
    assert z.loc[first_paid + 1, "interest"] == pytest.approx(z.loc[first_paid + 1, "beginning_balance"] * 0.075 / 12)
    assert z["principal"].sum() == pytest.approx(73e6 + z["accrued_interest"].sum(), rel=1e-12)


def test_floating_coupon_follows_its_index_within_cap_and_floor():
    index = [0.01, 0.03, 0.08, 0.12]
    deal = C.Deal("floater", C.Collateral(balance=1200.0),
                  (C.Tranche("F", balance=1200.0, coupon=C.Floater(index=tuple(index), margin=0.01, cap=0.10,
                                                                   floor=0.025)),))
    flows = {"interest": [20.0] * 4, "principal": [0.0, 0.0, 0.0, 1200.0]}
    paid = C.run_waterfall(deal, flows).tranche_cashflows("F", 0)["interest"].to_numpy()
    np.testing.assert_allclose(paid, 1200.0 * np.array([0.025, 0.04, 0.09, 0.10]) / 12)


def test_triggers_divert_interest_to_the_seniors():
    deal = C.load_deal("excess_spread_oc")
    cf = C.pool_cashflows(100e6, 0.08, 360, net_coupon=0.075, prepayment="150 PSA", default="1500 SDA",
                          severity=0.6, recovery_lag=12)
    res = C.run_waterfall(deal, cf)
    flows = res.deal_cashflows()
    failed = (flows["trigger_failed"] > 0).to_numpy()
    assert failed.any()
    no_triggers = C.run_waterfall(C.Deal(deal.name, deal.collateral, deal.tranches, fees=deal.fees,
                                         overcollateralisation=deal.overcollateralisation, reserve=deal.reserve), cf)
    # while a test fails the juniors' interest goes to the seniors as principal
    junior = {r: x.tranche_cashflows("B")["interest"].to_numpy()[failed].sum() for r, x in (("with", res),
                                                                                           ("without", no_triggers))}
    assert junior["with"] < junior["without"]
    senior = {r: C.weighted_average_life(x.tranche_cashflows("A")) for r, x in (("with", res), ("without", no_triggers))}
    assert senior["with"] < senior["without"]  # diverted cash pays the seniors down sooner


def test_reserve_covers_interest_shortfalls_first():
    deal = C.Deal("reserve", C.Collateral(balance=1000.0),
                  (C.Tranche("A", balance=1000.0, coupon=0.12),), reserve=C.Reserve(initial=0.01, target=0.01))
    flows = {"interest": [4.0, 10.0], "principal": [0.0, 1000.0]}
    res = C.run_waterfall(deal, flows)
    a, d = res.tranche_cashflows("A", 0), res.deal_cashflows(0)
    assert a.loc[1, "interest"] == pytest.approx(10.0) and d.loc[1, "reserve_draw"] == pytest.approx(6.0)
    assert d.loc[1, "reserve"] == pytest.approx(4.0) and d.loc[1, "residual"] == 0  # below target: kept
    assert d.loc[2, "reserve"] == 0 and d.loc[2, "residual"] == pytest.approx(4.0)  # pool repaid: released


# ----------------------------------------------------------------------------- inputs


def test_every_kind_of_pool_cash_flows_drives_the_waterfall():
    deal = C.load_deal("sequential_four", collateral={"balance": 400.0, "term": 240})
    loans = pd.DataFrame({"balance": [100.0, 300.0], "rate": [0.08, 0.08], "remaining_term": [240, 240],
                          "age": [0, 0], "net_rate": [0.075, 0.075]})
    pool = C.pool_from_loans(loans, prepayment="150 PSA")
    single = C.pool_cashflows(400.0, 0.08, 240, net_coupon=0.075, prepayment="150 PSA")
    arrays = {k: single[k].to_numpy() for k in ("interest", "principal", "principal_loss", "voluntary_prepayments")}
    results = [C.run_waterfall(deal, x) for x in (pool, single, arrays)]
    for res in results[1:]:
        np.testing.assert_allclose(res.arrays["tranche_principal"], results[0].arrays["tranche_principal"], atol=1e-9)


def test_bad_cash_flows_are_refused_by_name():
    deal = C.load_deal("sequential_four")
    cf = C.pool_cashflows(100e6, 0.08, 360, net_coupon=0.075, prepayment="150 PSA")
    with pytest.raises(DataError, match=r"start from a pool balance of 50,000,000.00.*collateral=\{'balance': 50000000\}"):
        C.run_waterfall(deal, C.pool_cashflows(50e6, 0.08, 360, net_coupon=0.075))
    with pytest.raises(DataError, match="indexed by projection month 1, 2, 3"):
        C.run_waterfall(deal, cf.iloc[::-1])
    bad = cf.copy()
    bad.loc[5, "interest"] = np.nan
    with pytest.raises(DataError, match="'interest' holds a missing"):
        C.run_waterfall(deal, bad)
    with pytest.raises(DataError, match="needs at least 'interest' and 'principal'"):
        C.run_waterfall(deal, {"interest": np.ones(10)})
    with pytest.raises(DataError, match="Did you mean 'principal'"):
        C.run_waterfall(deal, {"interest": np.ones(10), "principle": np.ones(10)})
    with pytest.raises(DataError, match="more principal and losses than its balance"):
        C.run_waterfall(deal, {"interest": np.ones(2), "principal": np.array([60e6, 60e6])})
    with pytest.raises(DataError, match="negative"):
        C.run_waterfall(deal, {"interest": -np.ones(2), "principal": np.array([50e6, 50e6])})
    with pytest.raises(ParameterError, match="'full' or 'summary'"):
        C.run_waterfall(deal, cf, record="everything")
    huge = {"interest": np.ones((3000, 360)), "principal": np.full((3000, 360), 100e6 / 360)}
    with pytest.raises(ParameterError, match="use record='summary'"):
        C.run_waterfall(deal, huge)
    res = C.run_waterfall(deal, huge, record="summary")
    with pytest.raises(ParameterError, match="record='full'"):
        res.tranche_cashflows("A", 0)
    with pytest.raises(ParameterError, match="holds 2 scenarios"):
        C.run_waterfall(deal, {k: v[:2, :] for k, v in huge.items()}).balances()
    with pytest.raises(ParameterError, match="Did you mean 'A'"):
        C.run_waterfall(deal, cf).tranche_cashflows("a")


def test_an_io_strip_on_a_tranche_notional_follows_that_tranche():
    # a PAC-IO: 1 % a year on the PAC's balance, paid before the bonds (seniority 1)
    deal = C.Deal("pac io", C.Collateral(balance=POOL["balance"], coupon=POOL["coupon"], net_coupon=POOL["net_coupon"],
                                         term=POOL["term"], age=POOL["age"]),
                  (C.Tranche("P", balance=243.8e6, coupon=0.065, type="pac", collar=(90, 300), seniority=2),
                   C.Tranche("S", balance=156.2e6, coupon=0.065, type="support", seniority=3),
                   C.Tranche("PIO", coupon=0.01, type="io", notional=("P",), seniority=1)))
    cf = C.pool_cashflows(POOL["balance"], POOL["coupon"], POOL["term"], age=POOL["age"],
                          net_coupon=POOL["net_coupon"], prepayment="165 PSA")
    res = C.run_waterfall(deal, cf)
    p, io = res.tranche_cashflows("P"), res.tranche_cashflows("PIO")
    np.testing.assert_allclose(io["beginning_balance"], p["beginning_balance"])
    np.testing.assert_allclose(io["interest"], p["beginning_balance"] * 0.01 / 12, rtol=1e-12)
    assert io["principal"].sum() == 0 and C.tranche_summary(res).loc["PIO", "average_life"] == pytest.approx(
        C.weighted_average_life(p), rel=1e-12)  # an IO's life is its notional's
    np.testing.assert_allclose(_cash_residual(res), 0.0, atol=1e-6)


def test_unknown_rule_names_get_the_nearest_one():
    with pytest.raises(DataError, match="unknown rule 'cover_loss'.*Did you mean 'cover_losses'"):
        C.Deal("x", C.Collateral(balance=1.0), (C.Tranche("A", balance=1.0),), excess_spread="cover_loss")

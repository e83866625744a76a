"""Constraints everywhere: every method by name, backtests, pools of pools, the explorer, tail LPs, mandates."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import poolkit as pk
from poolkit import allocation as al
from poolkit.exceptions import AlignmentError, InfeasibleError, ParameterError

TOL = 1e-9
ENERGY = ("CVX", "XOM", "RRC")


@pytest.fixture(scope="module")
def sample(returns):
    return returns.loc["2015":"2022"]


@pytest.fixture(scope="module")
def mandate_groups(sample):
    """Two overlapping groupings of the sample: a sector (energy) and four correlation pools."""
    pools = pk.pooling.build_pools(sample, "cluster", 4)
    sector = pd.Series({a: ("Energy" if a in ENERGY else None) for a in sample.columns})
    return pd.DataFrame({"sector": sector, "pool": pools.map(lambda p: f"pool {p}")}), pools


def _check_mandate(w: pd.Series, groups: pd.DataFrame, max_weight: float, energy: float, pool_min: float) -> None:
    assert abs(w.sum() - 1) <= TOL and (w >= -TOL).all() and (w <= max_weight + TOL).all()
    assert w[list(ENERGY)].sum() <= energy + TOL
    assert (w.groupby(groups["pool"]).sum() >= pool_min - TOL).all()


# --------------------------------------------------------------------------- the mandate, every method


@pytest.mark.parametrize("method", al.METHODS)
def test_mandate_gives_valid_weights_from_every_method(sample, mandate_groups, method):
    # "no asset above 8 %, energy <= 10 %, each pool >= 15 %": energy and the pools overlap
    groups, pools = mandate_groups
    gb = {"Energy": (0.0, 0.10), **{f"pool {p}": (0.15, 1.0) for p in pools.unique()}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "ignored" warning any more
        w = al.allocate(sample, method, bounds=(0.0, 0.08), groups=groups, group_bounds=gb)
    _check_mandate(w, groups, 0.08, 0.10, 0.15)


@pytest.mark.parametrize("method", al.METHODS)
def test_issue_mandate_is_a_named_infeasibility_on_twenty_assets(sample, mandate_groups, method):
    # "no asset above 5 %, energy <= 10 %": the 17 other assets can hold at most 85 %, so no
    # portfolio meets it; every method says which constraint
    groups, pools = mandate_groups
    gb = {"Energy": (0.0, 0.10), **{f"pool {p}": (0.15, 1.0) for p in pools.unique()}}
    with pytest.raises(InfeasibleError, match=r"'Energy': 0.1.*at most 0.95"):
        al.allocate(sample, method, bounds=(0.0, 0.05), groups=groups, group_bounds=gb)


def test_overlapping_groups_that_cannot_hold_together_are_named(sample):
    # each grouping alone is feasible; together "A+B >= 0.9" and "B+C <= 0.1" with A <= 0.5 are not
    names = list(sample.columns[:6])
    r = sample[names]
    groups = pd.DataFrame({"g1": {names[0]: "AB", names[1]: "AB"}, "g2": {names[1]: "BC", names[2]: "BC"}},
                          index=names)
    gb = {"AB": (0.9, 1.0), "BC": (0.0, 0.1)}
    with pytest.raises(InfeasibleError, match=r"\{'AB': \(0.9, 1.0\), 'BC': \(0.0, 0.1\)\} cannot hold together"):
        al.allocate(r, "hrp", bounds=(0.0, 0.5), groups=groups, group_bounds=gb)
    with pytest.raises(ParameterError, match="both 'g1' and 'g2'"):
        al.min_variance(pk.risk.covariance(r), groups=pd.DataFrame({"g1": {names[0]: "X"}, "g2": {names[1]: "X"}},
                                                                   index=names), group_bounds={"X": (0, 1)})


# --------------------------------------------------------------------------- heuristics by hand


def test_heuristics_scale_and_clip_by_hand():
    cov = pd.DataFrame(np.diag([0.01, 0.04, 0.16]), index=list("ABC"), columns=list("ABC"))
    # inverse volatility 1/0.1 : 1/0.2 : 1/0.4 = 4 : 2 : 1 -> 4/7, 2/7, 1/7; A capped at 0.5 ->
    # B and C share 0.5 in the ratio 2 : 1
    w = al.inverse_volatility(cov, bounds=(0.0, 0.5))
    np.testing.assert_allclose(w.to_numpy(), [0.5, 1 / 3, 1 / 6], rtol=1e-12)
    # inverse variance 16 : 4 : 1; C at least 0.2 -> A and B share 0.8 as 16 : 4
    w = al.inverse_variance(cov, bounds={"C": (0.2, 1.0)})
    np.testing.assert_allclose(w.to_numpy(), [0.64, 0.16, 0.2], rtol=1e-12)
    # equal weights with a group cap: A + B <= 0.4 -> 0.2, 0.2, 0.6
    w = al.equal_weights(["A", "B", "C"], groups={"A": "g", "B": "g"}, group_bounds={"g": (0.0, 0.4)})
    np.testing.assert_allclose(w.to_numpy(), [0.2, 0.2, 0.6], rtol=1e-9)


# --------------------------------------------------------------------------- by name: registry, backtests


def test_registry_says_how_each_method_meets_constraints():
    rules = {m: al.method_spec(m).constraint_rule for m in al.METHODS}
    assert all(al.method_spec(m).constrained for m in al.METHODS)
    assert rules["min_variance"] == "optimised" and rules["min_cdar"] == "optimised"
    assert rules["risk_parity"] == "risk budgeting"
    assert rules["hrp"] == rules["herc"] == "inside the splits"
    assert rules["equal"] == rules["inverse_volatility"] == "closest feasible"
    spec = al.method_spec("hrp")
    assert spec.inputs_for({"risk_measure": "cvar"}) == ("returns",) and spec.inputs_for({}) == ("cov",)


def test_allocate_passes_risk_measures_and_constraints(sample):
    w = al.allocate(sample, "risk_parity", risk_measure="cvar", bounds=(0.0, 0.07))
    pd.testing.assert_series_equal(w, al.risk_parity(sample, risk_measure="cvar", bounds=(0.0, 0.07)))
    w = al.allocate(sample, "herc", risk_measure="cdar", cov_method="ledoit_wolf", bounds=(0.0, 0.07))
    ref = al.herc(sample, risk_measure="cdar", cov_method="ledoit_wolf", bounds=(0.0, 0.07))
    pd.testing.assert_series_equal(w, ref)


def test_issue_example_risk_parity_bounds_hold(sample):
    # issue 16: allocate(returns, "risk_parity", bounds=(0, 0.06)) warned "ignored" and returned 6.9 %
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = al.allocate(sample, "risk_parity", bounds=(0, 0.06))
    assert w.max() <= 0.06 + TOL and abs(w.sum() - 1) <= TOL


def test_backtests_respect_the_constraints_at_every_rebalance(sample):
    window = sample.loc["2019":"2022"]
    methods = ["equal", "inverse_volatility", "risk_parity", "hrp", "herc", "min_cdar"]
    results = al.backtest_many(window, methods, lookback=252, rebalance="Q", bounds=(0.0, 0.07),
                               groups={a: "energy" for a in ENERGY}, group_bounds={"energy": (0.0, 0.1)})
    for name, res in results.items():
        wts = res.weights
        assert (wts.to_numpy() <= 0.07 + TOL).all(), name
        assert (wts[list(ENERGY)].sum(axis=1) <= 0.1 + TOL).all(), name
        np.testing.assert_allclose(wts.sum(axis=1), 1.0, atol=TOL)
    single = al.backtest(window, "hrp", lookback=252, rebalance="Q", bounds=(0.0, 0.07))
    assert (single.weights.to_numpy() <= 0.07 + TOL).all()


# --------------------------------------------------------------------------- pool of pools


def test_two_level_mandate_inner_and_outer(sample, mandate_groups):
    groups, pools = mandate_groups
    w = pk.pooling.two_level_allocation(
        sample, pools, "inverse_volatility", "risk_parity", bounds=(0.0, 0.08),
        groups=groups["sector"].dropna(), group_bounds={"Energy": (0.0, 0.1)}, pool_bounds=(0.15, 1.0),
    )
    _check_mandate(w, groups, 0.08, 0.10, 0.15)
    assert w.attrs["pool_weights"] == pytest.approx(pk.pooling.pool_weights(w, pools).to_dict())
    # inner bounds are relative to each pool, outer bounds (by pool) to the portfolio
    w = pk.pooling.two_level_allocation(sample, pools, "equal", "equal", inner_params={"bounds": (0.0, 0.3)},
                                        outer_params={"bounds": {"P1": (0.4, 1.0)}})
    assert pk.pooling.pool_weights(w, pools)["P1"] >= 0.4 - TOL
    inside = w / w.groupby(pools).transform("sum")
    assert (inside <= 0.3 + TOL).all()
    with pytest.raises(ParameterError, match="give the pool bounds once"):
        pk.pooling.two_level_allocation(sample, pools, pool_bounds=(0.1, 1.0), outer_params={"bounds": (0.1, 1.0)})


def test_two_level_pool_that_cannot_hold_its_minimum_is_named(sample):
    pools = {a: ("solo" if a == "AAPL" else "rest") for a in sample.columns}
    with pytest.raises(InfeasibleError, match="pool 'solo' must hold between 0.3 and 0.1"):
        pk.pooling.two_level_allocation(sample, pools, bounds=(0.0, 0.1), pool_bounds=(0.3, 1.0))


def test_two_level_backtest_under_a_mandate(sample):
    window = sample.loc["2020":"2022"]
    res = pk.pooling.two_level_backtest(window, "cluster", "inverse_volatility", "equal", lookback=252,
                                        rebalance="Q", n_pools=3, bounds=(0.0, 0.12), pool_bounds=(0.2, 1.0))
    assert (res.weights.to_numpy() <= 0.12 + TOL).all()
    with pytest.raises(ParameterError, match="rebuilt from each window"):
        pk.pooling.two_level_backtest(window, "cluster", pool_bounds={"P1": (0.2, 1.0)})


# --------------------------------------------------------------------------- the explorer


@pytest.mark.parametrize("method", ["hrp", "risk_parity", "min_cdar", "inverse_volatility"])
def test_explorer_mandate_applies_to_every_method(sample, method):
    from poolkit import widgets as W

    recent = sample.loc["2020":]
    assets = list(recent.columns[:8])
    view = W.allocation_view(recent, assets, method, "sample", (0.0, 0.2), assets[:3], 0.3)
    w = view["weights"]
    assert (w <= 0.2 + TOL).all() and w[assets[:3]].sum() <= 0.3 + TOL and abs(w.sum() - 1) <= TOL
    assert view["rule"] == al.method_spec(method).constraint_rule
    assert abs(view["unconstrained"].sum() - 1) <= TOL


# --------------------------------------------------------------------------- tail LPs


def test_min_cdar_by_hand_and_with_a_target():
    # A and B trade off exactly: half in each never draws down
    idx = pd.date_range("2024-01-01", periods=6, freq="D", name="date")
    r = pd.DataFrame({"A": [0.02, -0.02, 0.02, -0.02, 0.01, 0.0], "B": [-0.02, 0.02, -0.02, 0.02, 0.0, 0.01]}, index=idx)
    np.testing.assert_allclose(al.min_cdar(r, level=0.8).to_numpy(), [0.5, 0.5], atol=1e-9)
    # both assets earn 0.01 / 6 a period on average: a target of 0.01 is above any portfolio's mean
    # and is refused by name
    with pytest.raises(InfeasibleError, match="target_return"):
        al.min_cdar(r, level=0.8, target_return=0.01)


def test_min_cdar_matches_pyportfolioopt(sample):
    pypfopt = pytest.importorskip("pypfopt")
    window = sample.iloc[-500:]
    mu = window.mean()
    ef = pypfopt.EfficientCDaR(mu, window, beta=0.95, weight_bounds=(0, 0.15))
    ef.min_cdar()
    ref = pd.Series(ef.weights, index=window.columns)
    w = al.min_cdar(window, 0.95, bounds=(0.0, 0.15))
    from poolkit.allocation._measures import risk_model

    model, _ = risk_model(window, "cdar")
    ours, theirs = float(model.value(w.to_numpy())), float(model.value(ref.to_numpy()))
    assert ours <= theirs * (1 + 1e-7)  # at least as low, and the two minima agree
    assert ours == pytest.approx(theirs, rel=1e-5)
    assert (w <= 0.15 + TOL).all()


def test_min_cvar_with_a_target_return_matches_an_independent_lp(sample):
    cp = pytest.importorskip("cvxpy")
    window = sample.iloc[-500:]
    x = window.to_numpy()
    mu = x.mean(axis=0)
    target = float(np.quantile(mu, 0.8))
    w = al.min_cvar(window, 0.95, target_return=target, bounds=(0.0, 0.2))
    assert w.to_numpy() @ mu >= target - 1e-12
    v, alpha, u = cp.Variable(x.shape[1]), cp.Variable(), cp.Variable(x.shape[0])
    obj = alpha + cp.sum(u) / (0.05 * x.shape[0])
    cons = [u >= -x @ v - alpha, u >= 0, cp.sum(v) == 1, v >= 0, v <= 0.2, mu @ v >= target]
    prob = cp.Problem(cp.Minimize(obj), cons)
    prob.solve(solver="CLARABEL")
    from poolkit.allocation._measures import historical_cvar

    assert historical_cvar(x @ w.to_numpy(), 0.95) == pytest.approx(prob.value, rel=1e-6)
    with pytest.raises(InfeasibleError, match="above the highest mean return"):
        al.min_cvar(window, 0.95, target_return=float(mu.max()) * 2, bounds=(0.0, 0.2))


def test_tail_lps_take_the_mandate_by_name(sample):
    with pytest.raises(AlignmentError, match="not in the data"):
        al.min_cdar(sample, bounds={"NOPE": (0, 0.1)})

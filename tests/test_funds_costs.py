"""poolkit.funds cost savings: whole shares (brute force), fixed and minimum costs, netting; figures."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import poolkit as pk
from poolkit.exceptions import AlignmentError, DataError, ParameterError


def _brute_force(capital: float, w: np.ndarray, lot_value: np.ndarray) -> float:
    """Smallest L1 distance from the target values over every affordable whole-lot allocation."""
    ranges = [range(int(capital // v) + 1) for v in lot_value]
    best = np.inf
    for n in itertools.product(*ranges):
        x = np.asarray(n) * lot_value
        if x.sum() <= capital + 1e-9:
            best = min(best, float(np.abs(x - w * capital).sum()))
    return best


@settings(max_examples=60, deadline=None)
@given(
    n_assets=st.integers(1, 3),
    seed=st.integers(0, 100_000),
    capital=st.floats(50.0, 2_000.0),
)
def test_integer_allocation_is_optimal_by_brute_force(n_assets, seed, capital):
    rng = np.random.default_rng(seed)
    names = [f"a{i}" for i in range(n_assets)]
    raw = rng.random(n_assets + 1)
    w = pd.Series(raw[:n_assets] / raw.sum() if rng.random() < 0.5 else raw[:n_assets] / raw[:n_assets].sum(), index=names)
    prices = pd.Series(rng.uniform(20.0, 400.0, n_assets).round(2), index=names)
    lots = pd.Series(rng.choice([1, 2, 5], n_assets), index=names)
    alloc = pk.funds.integer_allocation(capital, w, prices, lots)
    value = alloc["value"].to_numpy()
    assert value.sum() <= capital * (1 + 1e-12)
    assert np.array_equal(alloc["lots"], np.round(alloc["lots"])) and (alloc["lots"] >= 0).all()
    np.testing.assert_allclose(alloc["shares"], alloc["lots"] * lots)
    ours = float(np.abs(value - w.to_numpy() * capital).sum())
    assert ours == pytest.approx(_brute_force(capital, w.to_numpy(), (prices * lots).to_numpy()), abs=1e-7)


def test_the_milp_search_runs_when_rounding_breaks_the_budget_and_stays_optimal(monkeypatch):
    import scipy.optimize

    calls = []
    real = scipy.optimize.milp
    monkeypatch.setattr(scipy.optimize, "milp", lambda *a, **k: calls.append(1) or real(*a, **k))
    rng = np.random.default_rng(11)
    checked = 0
    for _ in range(200):
        w = rng.dirichlet(np.ones(3))
        v = rng.uniform(20.0, 300.0, 3).round(2)
        capital = float(rng.uniform(100.0, 1500.0))
        nearest = np.round(w * capital / v)
        if nearest @ v <= capital:
            continue  # the shortcut case, tested above
        before = len(calls)
        alloc = pk.funds.integer_allocation(capital, pd.Series(w, index=list("abc")), pd.Series(v, index=list("abc")))
        assert len(calls) == before + 1
        ours = float(np.abs(alloc["value"].to_numpy() - w * capital).sum())
        assert ours == pytest.approx(_brute_force(capital, w, v), abs=1e-7)
        checked += 1
    assert checked >= 20


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 100_000), perm=st.permutations(range(4)))
def test_integer_allocation_does_not_depend_on_asset_order_or_names(seed, perm):
    rng = np.random.default_rng(seed)
    names = list("ABCD")
    w = pd.Series(rng.dirichlet(np.ones(4)), index=names)
    prices = pd.Series(rng.uniform(10, 300, 4), index=names)
    capital = float(rng.uniform(200, 3000))
    base = pk.funds.integer_allocation(capital, w, prices)
    order = [names[i] for i in perm]
    renamed = {n: f"x_{n}" for n in names}
    other = pk.funds.integer_allocation(capital, w[order].rename(renamed), prices[order].rename(renamed))
    assert other.index.tolist() == [renamed[n] for n in order]  # labels kept, in the order given
    dist = lambda a: float(np.abs(a["value"] - a["target_weight"] * capital).sum())  # noqa: E731
    assert dist(other) == pytest.approx(dist(base), abs=1e-7)  # the optimum (ties may differ in shares)


def test_integer_allocation_hand_example_and_large_capital():
    w = pd.Series({"A": 0.5, "B": 0.5})
    px = pd.Series({"A": 300.0, "B": 70.0})
    alloc = pk.funds.integer_allocation(1000.0, w, px)
    assert alloc["shares"].tolist() == [1.0, 7.0]  # 300 + 490: 210 off target; 2 A + 5 B would be 250 off
    # 10,000: 17 A + 70 B uses the whole budget (100 + 100 off target) though 16 A + 71 B is each nearer one target
    assert pk.funds.integer_allocation(10_000.0, w, px)["shares"].tolist() == [17.0, 70.0]
    # board lots of 100 shares (30,000 and 7,000): 1 A + 2 B = 44,000 is 5,000 + 11,000 off target;
    # 1 A + 3 B would cost 51,000 > 50,000, and 0 A + 4 B is 25,000 + 3,000 off
    lots = pk.funds.integer_allocation(50_000.0, w, px, pd.Series({"A": 100, "B": 100}))
    assert lots["lots"].tolist() == [1.0, 2.0] and lots["shares"].tolist() == [100.0, 200.0]
    big = pk.funds.integer_allocation(1e9, w, px)
    assert np.abs(big["weight"] - 0.5).max() < 1e-6


def test_whole_share_comparison_by_hand():
    caps = pd.Series({"Ann": 1000.0, "Ben": 4000.0})
    w = pd.Series({"A": 0.5, "B": 0.5})
    px = pd.Series({"A": 300.0, "B": 70.0})
    cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.09]], index=["A", "B"], columns=["A", "B"])
    table = pk.funds.whole_share_comparison(caps, w, px, cov=cov)
    # alone: Ann 1 A + 7 B (210 off), Ben 7 A + 27 B (100 + 110 off); pooled 5,000: 8 A + 36 B (100 + 20 off)
    assert table["alone_deviation"].tolist() == pytest.approx([210 / 1000, 210 / 4000])
    assert table["pooled_deviation"].tolist() == pytest.approx([120 / 5000] * 2)
    dw = np.array([300 / 1000 - 0.5, 490 / 1000 - 0.5])
    assert table.at["Ann", "alone_tracking_error"] == pytest.approx(np.sqrt(dw @ cov.to_numpy() @ dw))
    assert table.at["Ann", "alone_cash"] == pytest.approx(0.21)
    assert list(table.columns[:5]) == ["capital", "alone_deviation", "pooled_deviation", "alone_cash", "pooled_cash"]


def test_whole_share_curve_alone_equals_pooled_for_one_investor_and_shrinks_with_capital(prices):
    px = prices.iloc[-1]
    w = pd.Series(1 / len(px), index=px.index)
    one = pk.funds.whole_share_curve([2000.0, 50_000.0], w, px, n_investors=1)
    np.testing.assert_allclose(one["alone_deviation"], one["pooled_deviation"])
    curve = pk.funds.whole_share_curve([2000.0, 20_000.0], w, px, n_investors=10)
    # pooled at 2,000 each is the same allocation as one investor with 20,000
    assert curve["pooled_deviation"].iloc[0] == pytest.approx(curve["alone_deviation"].iloc[1])
    assert curve["pooled_deviation"].iloc[0] < curve["alone_deviation"].iloc[0] / 5
    assert curve.index.name == "capital"


def test_whole_share_inputs_are_checked():
    w = pd.Series({"A": 50.0, "B": 50.0})
    px = pd.Series({"A": 10.0, "B": 10.0})
    with pytest.raises(ParameterError, match="divide by 100"):
        pk.funds.integer_allocation(1000.0, w, px)
    with pytest.raises(AlignmentError, match=r"not in the data \['C'\]"):
        pk.funds.integer_allocation(1000.0, pd.Series({"A": 0.5, "B": 0.5}), pd.Series({"A": 1.0, "B": 1.0, "C": 1.0}))
    with pytest.raises(ParameterError) as info:
        pk.funds.integer_allocation(-5, pd.Series({"A": -0.1, "B": 0.5}), pd.Series({"A": 0.0, "B": 1.0}), 0)
    msg = str(info.value)
    assert all(s in msg for s in ("`capital` must be positive", "long-only", "`prices` must be positive", "`lot_sizes` must be positive"))
    with pytest.raises(ParameterError, match="n_investors"):
        pk.funds.whole_share_curve([1000.0], pd.Series({"A": 1.0}), pd.Series({"A": 1.0}), n_investors=0)
    with pytest.raises(ParameterError, match="capitals"):
        pk.funds.whole_share_curve([], pd.Series({"A": 1.0}), pd.Series({"A": 1.0}))


def test_trading_cost_curve_by_hand():
    w = pd.Series({"A": 0.5, "B": 0.3, "C": 0.2})
    curve = pk.funds.trading_cost_curve(
        [1000.0, 100_000.0], w, fixed_cost=2.0, proportional_cost=0.001, minimum_fee=5.0, minimum_ticket=250.0,
        n_investors=4,
    )
    # C = 1,000: A (500) and B (300) reach the 250 ticket, C (200) does not; each trade 2 + max(5, 0.1 % x v)
    assert curve["alone_cost"].iloc[0] == pytest.approx((2 + 5) * 2 / 1000)
    assert curve["alone_unreachable"].iloc[0] == pytest.approx(0.2)
    # pooled 4,000: all three reach the ticket; fees 2 + 5 each (0.1 % of 2,000 = 2 < 5)
    assert curve["pooled_cost"].iloc[0] == pytest.approx(3 * 7 / 4000)
    assert curve["pooled_unreachable"].iloc[0] == 0.0
    # C = 100,000: proportional fees dominate: 3 x 2 + 0.1 % x 100,000 (B: 30,000 x 0.1 % = 30 > 5)
    assert curve["alone_cost"].iloc[1] == pytest.approx((6 + 100.0) / 100_000)


def test_trading_cost_inputs_are_checked():
    w = pd.Series({"A": 1.0})
    with pytest.raises(ParameterError, match="Did you mean 0.05"):
        pk.funds.trading_cost_curve([1000.0], w, proportional_cost=5)
    with pytest.raises(ParameterError) as info:
        pk.funds.trading_cost_curve([1000.0], w, fixed_cost=-1, minimum_fee=-2, minimum_ticket=float("nan"))
    assert "3 problem(s)" in str(info.value)


def test_netting_by_hand_and_alone_never_below_pooled():
    flows = pd.DataFrame(
        {
            "date": ["2024-01-02", "2024-01-02", "2024-01-02", "2024-01-03", "2024-01-03"],
            "investor": ["A", "B", "C", "A", "B"],
            "amount": [1000.0, -600.0, 100.0, 200.0, 300.0],
        }
    )
    w = pd.Series({"X": 0.6, "Y": 0.4})
    table = pk.funds.netting_savings(flows, weights=w, fixed_cost=1.0, proportional_cost=0.01, minimum_fee=2.0)
    assert table["alone_volume"].tolist() == [1700.0, 500.0]
    assert table["pooled_volume"].tolist() == [500.0, 500.0]  # same-sign flows do not net
    assert table["alone_trades"].tolist() == [6.0, 4.0] and table["pooled_trades"].tolist() == [2.0, 2.0]
    # 2024-01-02 alone: per asset trades 600/400, 360/240, 60/40 -> 1 + max(2, 1 % v)
    alone = sum(1 + max(2.0, 0.01 * v) for v in (600, 400, 360, 240, 60, 40))
    assert table["alone_cost"].iloc[0] == pytest.approx(alone)
    assert table["pooled_cost"].iloc[0] == pytest.approx((1 + 3.0) + (1 + 2.0))  # 300 and 200 traded
    # the row order does not matter
    pd.testing.assert_frame_equal(pk.funds.netting_savings(flows.iloc[::-1], weights=w, fixed_cost=1.0,
                                                           proportional_cost=0.01, minimum_fee=2.0), table)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 30))
def test_netting_never_trades_more_than_alone(seed, n):
    sim = pk.funds.simulate_flows(n, pd.bdate_range("2024-01-01", periods=40), probability=0.3, seed=seed)
    table = pk.funds.netting_savings(sim, fixed_cost=1.0, proportional_cost=0.001)
    assert (table["pooled_volume"] <= table["alone_volume"] + 1e-9).all()
    assert (table["pooled_cost"] <= table["alone_cost"] + 1e-9).all()
    assert table["alone_volume"].sum() == pytest.approx(sim["amount"].abs().sum())


def test_simulate_flows_is_seeded():
    dates = pd.bdate_range("2024-01-01", periods=60)
    a = pk.funds.simulate_flows(["x", "y", "z"], dates, seed=4)
    pd.testing.assert_frame_equal(a, pk.funds.simulate_flows(["x", "y", "z"], dates, seed=4))
    assert not a.equals(pk.funds.simulate_flows(["x", "y", "z"], dates, seed=5))
    assert list(a.columns) == ["date", "investor", "amount"]
    assert (a[a["date"] == dates[0]]["amount"] == 10_000).all() and a["date"].isin(dates).all()
    with pytest.raises(ParameterError) as info:
        pk.funds.simulate_flows(0, dates, probability=5, size=-1)
    assert "3 problem(s)" in str(info.value) and "Did you mean 5 % = 0.05?" in str(info.value)


def test_netting_needs_cash_amounts():
    units_only = pd.DataFrame({"date": ["2024-01-02"], "investor": ["A"], "units": [3.0]})
    with pytest.raises(DataError, match="cash amounts"):
        pk.funds.netting_savings(units_only)
    with pytest.raises(DataError, match="cash amounts"):
        pk.funds.netting_savings(pd.DataFrame({"date": ["2024-01-02"], "investor": ["A"], "amount": [-np.inf]}))


# --------------------------------------------------------------------------- figures

@pytest.fixture(scope="module")
def ledger() -> pk.funds.FundLedger:
    d = pd.to_datetime(["2021-01-01", "2022-01-01", "2023-01-01"])
    r = pd.Series([0.0, 0.5, -0.5], index=d)
    flows = pd.DataFrame({"date": [d[0], d[0], d[1]], "investor": ["Ann", "Bob", "Bob"], "amount": [100.0, 100.0, 1000.0]})
    return pk.funds.fund_ledger(flows, returns=r)


def test_figures_take_pandas_and_an_ax_and_return_it(ledger):
    import matplotlib.pyplot as plt

    w = pd.Series({"A": 0.5, "B": 0.5})
    px = pd.Series({"A": 300.0, "B": 70.0})
    cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.09]], index=["A", "B"], columns=["A", "B"])
    sim = pk.funds.simulate_flows(5, pd.bdate_range("2024-01-01", periods=20), seed=0)
    calls = [
        lambda ax: pk.plotting.fund_values_chart(ledger.values, ax=ax),
        lambda ax: pk.plotting.fund_values_chart(ledger.values, shares=True, ax=ax),
        lambda ax: pk.plotting.fund_returns_chart(pk.funds.investor_returns(ledger), ax=ax),
        lambda ax: pk.plotting.whole_share_chart(pk.funds.whole_share_curve([1e3, 1e4], w, px, cov=cov),
                                                 measure="tracking_error", ax=ax),
        lambda ax: pk.plotting.trading_cost_chart(pk.funds.trading_cost_curve([1e3, 1e4], w, fixed_cost=1.0), ax=ax),
        lambda ax: pk.plotting.netting_chart(pk.funds.netting_savings(sim, fixed_cost=1.0), measure="cost", ax=ax),
    ]
    try:
        for call in calls:
            fig, ax = plt.subplots()
            assert call(ax) is ax
            assert ax.has_data()
            plt.close(fig)
        assert pk.plotting.fund_values_chart(ledger.values).figure is not None  # a new figure without ax
    finally:
        plt.close("all")


def test_figures_refuse_the_wrong_table(ledger):
    with pytest.raises(DataError, match="investor_returns"):
        pk.plotting.fund_returns_chart(ledger.fund)
    with pytest.raises(DataError, match="with cov="):
        pk.plotting.whole_share_chart(pd.DataFrame({"alone_deviation": [1.0], "pooled_deviation": [1.0]}),
                                      measure="tracking_error")
    with pytest.raises(ParameterError, match="measure"):
        pk.plotting.netting_chart(pd.DataFrame(), measure="turnover")
    with pytest.raises(TypeError, match="ledger.values"):
        pk.plotting.fund_values_chart(ledger.values["Ann"])  # type: ignore[arg-type]


def test_netting_leaves_a_cash_target_untraded():
    flows = pd.DataFrame({"date": ["2024-01-02", "2024-01-02"], "investor": ["A", "B"], "amount": [1000.0, -400.0]})
    table = pk.funds.netting_savings(flows, weights=pd.Series({"X": 0.5, "Y": 0.3, "Z": 0.0}))  # 20 % cash
    assert table["alone_volume"].iloc[0] == pytest.approx(0.8 * 1400.0)
    assert table["pooled_volume"].iloc[0] == pytest.approx(0.8 * 600.0)
    assert table["alone_trades"].iloc[0] == 4.0 and table["pooled_trades"].iloc[0] == 2.0


def test_integer_allocation_solves_an_instance_that_hits_a_presolve_error():
    # HiGHS's presolve ends this 4-asset instance in "Solve error"; the answer (0, 7, 3, 6 lots)
    # is the brute-force optimum of sum |n_j v_j - w_j C| within the budget.
    capital = 2738.4735688196765
    w = np.array([0.06126872, 0.26144379, 0.23842822, 0.43885926])
    prices = np.array([272.72866981, 109.09565182, 217.58677185, 205.30689205])
    weights = pd.Series(w / w.sum(), index=list("abcd"))
    out = pk.funds.integer_allocation(capital, weights, pd.Series(prices, index=list("abcd")))
    grid = np.stack(np.meshgrid(*[np.arange(0, 11)] * 4, indexing="ij"), -1).reshape(-1, 4)
    cost = np.abs(grid * prices - weights.to_numpy() * capital).sum(axis=1)
    cost[grid @ prices > capital] = np.inf
    best = grid[np.argmin(cost)]
    lots_column = [c for c in out.columns if "lot" in c.lower()][0]
    np.testing.assert_array_equal(out[lots_column].to_numpy(), best)

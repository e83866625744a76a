"""Tests of poolkit.allocation: closed forms, hand-worked examples, peers, invariants, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import poolkit as pk
from poolkit import allocation as al
from poolkit.exceptions import (
    AlignmentError,
    InfeasibleError,
    InsufficientDataError,
    ParameterError,
    PoolkitError,
)

WEIGHT_TOL = 1e-9


def _cov(mat, names=None) -> pd.DataFrame:
    mat = np.asarray(mat, dtype=float)
    names = names or [f"A{i}" for i in range(mat.shape[0])]
    return pd.DataFrame(mat, index=names, columns=names)


def _valid(w: pd.Series, lower=0.0, upper=1.0) -> None:
    assert isinstance(w, pd.Series)
    assert np.isfinite(w.to_numpy()).all()
    assert abs(w.sum() - 1.0) <= WEIGHT_TOL
    assert (w >= np.asarray(lower) - WEIGHT_TOL).all() and (w <= np.asarray(upper) + WEIGHT_TOL).all()


@pytest.fixture(scope="module")
def sample(returns):
    """Sample covariance and mean returns of the bundled sample (2013-2022, daily)."""
    r = returns.loc["2015":"2022"]
    return r, pk.risk.covariance(r), al.expected_returns(r)


def _ru_cvar(losses, beta: float) -> float:
    """Historical CVaR of losses by the Rockafellar-Uryasev formula, written out here as a reference.

    alpha = the ceil(beta T)-th smallest loss (the beta-quantile); CVaR = alpha + sum (L - alpha)^+ / ((1 - beta) T).
    """
    loss = np.asarray(losses, dtype=float)
    alpha = np.sort(loss)[int(np.ceil(beta * len(loss))) - 1]
    return float(alpha + np.maximum(loss - alpha, 0).sum() / ((1 - beta) * len(loss)))


@pytest.fixture()
def two_uncorrelated():
    # assets A (20 % vol) and B (10 % vol), correlation 0
    return _cov([[0.04, 0.0], [0.0, 0.01]], ["A", "B"])


# --------------------------------------------------------------------------- closed forms


def test_unconstrained_min_variance_is_closed_form(sample):
    _, cov, _ = sample
    s = cov.to_numpy()
    x = np.linalg.solve(s, np.ones(len(s)))
    ref = x / x.sum()  # Sigma^-1 1 / 1' Sigma^-1 1 (Merton 1972)
    w = al.min_variance(cov, bounds=(-5.0, 5.0))
    np.testing.assert_allclose(w.to_numpy(), ref, atol=1e-9)
    assert w.index.equals(cov.columns) and w.name == "min_variance"


def test_unconstrained_max_sharpe_is_tangency_closed_form(sample):
    _, cov, mu = sample
    rf_annual = 0.02
    rf = (1 + rf_annual) ** (1 / 252) - 1
    x = np.linalg.solve(cov.to_numpy(), mu.to_numpy() - rf)
    ref = x / x.sum()  # Sigma^-1 (mu - rf) / 1' Sigma^-1 (mu - rf)
    w = al.max_sharpe(mu, cov, risk_free=rf_annual, periods_per_year=252, bounds=(-5.0, 5.0))
    np.testing.assert_allclose(w.to_numpy(), ref, atol=1e-8)


def test_two_uncorrelated_assets_by_hand(two_uncorrelated):
    cov = two_uncorrelated
    mu = pd.Series({"A": 0.10, "B": 0.05})
    # min variance: w_A = s_B^2 / (s_A^2 + s_B^2) = 0.01 / 0.05
    assert al.min_variance(cov).tolist() == pytest.approx([0.2, 0.8], abs=1e-12)
    # risk parity / inverse vol / max diversification: w ~ 1/sigma = (5, 10)
    for func in (al.risk_parity, al.inverse_volatility, al.max_diversification):
        assert func(cov).tolist() == pytest.approx([1 / 3, 2 / 3], abs=1e-10)
    # max Sharpe: w ~ Sigma^-1 mu = (0.10/0.04, 0.05/0.01) = (2.5, 5)
    assert al.max_sharpe(mu, cov).tolist() == pytest.approx([1 / 3, 2 / 3], abs=1e-10)
    # HRP, HERC and inverse variance with two assets: w ~ 1/sigma^2
    for func in (al.hrp, al.herc, al.inverse_variance):
        assert func(cov).tolist() == pytest.approx([0.2, 0.8], abs=1e-12)
    # target return 0.07 = 0.10 w + 0.05 (1 - w) -> w = 0.4 (above the min-var return 0.06)
    assert al.mean_variance(mu, cov, target_return=0.07).tolist() == pytest.approx([0.4, 0.6], abs=1e-10)
    # risk aversion 10: w_A = argmax 0.10w + 0.05(1-w) - 5(0.04w^2 + 0.01(1-w)^2) -> 0.05 - 0.4w + 0.1(1-w) = 0
    assert al.mean_variance(mu, cov, risk_aversion=10.0)["A"] == pytest.approx(0.3, abs=1e-10)


def test_target_volatility_lands_on_the_target(two_uncorrelated):
    mu = pd.Series({"A": 0.10, "B": 0.05})
    w = al.mean_variance(mu, two_uncorrelated, target_volatility=0.15)
    vol = np.sqrt(w.to_numpy() @ two_uncorrelated.to_numpy() @ w.to_numpy())
    assert vol == pytest.approx(0.15, abs=1e-9)
    # by hand: 0.04 w^2 + 0.01 (1-w)^2 = 0.0225 <=> 0.05 w^2 - 0.02 w - 0.0125 = 0
    assert w["A"] == pytest.approx((0.02 + np.sqrt(0.0004 + 4 * 0.05 * 0.0125)) / 0.1, abs=1e-9)


@pytest.mark.parametrize("n", [4, 8])
def test_equal_vol_equal_corr_gives_one_over_n(n):
    vol, rho = 0.2, 0.3
    cov = _cov(vol**2 * (rho * np.ones((n, n)) + (1 - rho) * np.eye(n)))
    mu = pd.Series(0.05, index=cov.columns)
    results = {
        "min_variance": al.min_variance(cov),
        "max_sharpe": al.max_sharpe(mu, cov),
        "mean_variance": al.mean_variance(mu, cov, risk_aversion=3.0),
        "max_diversification": al.max_diversification(cov),
        "risk_parity": al.risk_parity(cov),
        "inverse_volatility": al.inverse_volatility(cov),
        "inverse_variance": al.inverse_variance(cov),
        "hrp": al.hrp(cov),  # halves are equal when n is a power of two
    }
    for name, w in results.items():
        np.testing.assert_allclose(w.to_numpy(), 1.0 / n, atol=1e-9, err_msg=name)


def test_value_weights_follow_the_seed_formula():
    # w_i = V_i / sum V: 50 / 200, 150 / 200
    w = al.value_weights(pd.Series({"X": 50.0, "Y": 150.0}))
    assert w.tolist() == [0.25, 0.75] and w.name == "value"
    with pytest.raises(ParameterError, match="non-negative"):
        al.value_weights({"X": -1.0, "Y": 2.0})


def test_herc_two_blocks_by_hand():
    # two clusters {A1, A2} and {B1, B2}: rho 0.9 inside, 0 across
    vols = np.array([0.1, 0.2, 0.3, 0.3])
    corr = np.array([[1, 0.9, 0, 0], [0.9, 1, 0, 0], [0, 0, 1, 0.9], [0, 0, 0.9, 1]])
    cov = _cov(np.outer(vols, vols) * corr, ["A1", "A2", "B1", "B2"])
    w = al.herc(cov, n_clusters=2)
    s = cov.to_numpy()
    wa = np.array([1 / 0.01, 1 / 0.04]) / (1 / 0.01 + 1 / 0.04)  # inverse variance in block A
    wb = np.array([0.5, 0.5])
    va, vb = wa @ s[:2, :2] @ wa, wb @ s[2:, 2:] @ wb
    alpha = 1 - va / (va + vb)
    np.testing.assert_allclose(w.to_numpy(), np.concatenate([alpha * wa, (1 - alpha) * wb]), atol=1e-12)


def test_min_cvar_perfect_hedge_and_empirical_cvar(sample):
    r, _, _ = sample
    w = al.min_cvar(r, level=0.95)
    _valid(w)
    # the optimum beats (or ties) every single asset and equal weights, on the same empirical CVaR
    losses = -(r.to_numpy() @ w.to_numpy())
    best = _ru_cvar(losses, 0.95)  # mean of the worst 5 % (T * 0.05 is not an integer: RU formula)
    assert best <= _ru_cvar(-(r.to_numpy() @ np.full(r.shape[1], 1 / r.shape[1])), 0.95) + 1e-12
    assert best <= min(_ru_cvar(-r[c].to_numpy(), 0.95) for c in r.columns) + 1e-12


# --------------------------------------------------------------------------- risk parity


def test_risk_parity_contributions_are_equal_to_1e10(sample):
    _, cov, _ = sample
    w = al.risk_parity(cov)
    rc = pk.risk.risk_contributions(w, cov)["share"]
    assert np.max(np.abs(rc.to_numpy() * len(w) - 1.0)) <= 1e-10
    _valid(w)


def test_risk_budgets_are_met(sample):
    _, cov, _ = sample
    b = pd.Series(np.arange(1, len(cov) + 1, dtype=float), index=cov.columns)
    w = al.risk_parity(cov, budgets=b)
    share = pk.risk.risk_contributions(w, cov)["share"].to_numpy()
    np.testing.assert_allclose(share, (b / b.sum()).to_numpy(), rtol=1e-10)
    with pytest.raises(ParameterError, match="budgets"):
        al.risk_parity(cov, budgets=b * 0)


# --------------------------------------------------------------------------- constraints


def test_bounds_and_groups_hold(sample):
    _, cov, mu = sample
    groups = {
        "AAPL": "Tech",
        "MSFT": "Tech",
        "AMD": "Tech",
        "JNJ": "Health",
        "PFE": "Health",
        "MRK": "Health",
    }
    gb = {"Tech": (0.25, 0.3), "Health": (0.0, 0.1)}
    for w in (
        al.min_variance(cov, bounds=(0.01, 0.15), groups=groups, group_bounds=gb),
        al.max_sharpe(mu, cov, bounds=(0.01, 0.15), groups=groups, group_bounds=gb),
        al.max_diversification(cov, bounds=(0.01, 0.15), groups=groups, group_bounds=gb),
        al.mean_variance(mu, cov, risk_aversion=2.0, bounds=(0.01, 0.15), groups=groups, group_bounds=gb),
    ):
        _valid(w, 0.01, 0.15)
        tech = w[["AAPL", "MSFT", "AMD"]].sum()
        assert 0.25 - WEIGHT_TOL <= tech <= 0.3 + WEIGHT_TOL
        assert w[["JNJ", "PFE", "MRK"]].sum() <= 0.1 + WEIGHT_TOL


def test_per_asset_bounds_and_shorts(sample):
    _, cov, mu = sample
    w = al.min_variance(cov, bounds={"KO": (0.2, 0.25), "PG": (0.0, 0.01)})
    assert 0.2 - WEIGHT_TOL <= w["KO"] <= 0.25 + WEIGHT_TOL and w["PG"] <= 0.01 + WEIGHT_TOL
    lower = pd.Series(-0.1, index=cov.columns)
    w = al.max_sharpe(mu, cov, bounds=(lower, 0.4))
    _valid(w, -0.1, 0.4)
    assert (w < -1e-6).any()  # shorts are used when allowed


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bounds": (0.0, 0.04)}, "upper bounds sum to 0.8"),
        ({"bounds": (0.06, 1.0)}, "lower bounds sum to 1.2"),
        (
            {"bounds": (0.0, 0.2), "groups": {"AAPL": "T", "MSFT": "T"}, "group_bounds": {"T": (0.5, 1.0)}},
            r"group_bounds\['T'\]",
        ),
        (
            {"groups": {"AAPL": "T"}, "group_bounds": (0.0, 0.0), "bounds": {"AAPL": (0.1, 1.0)}},
            r"group_bounds\['T'\]",
        ),
    ],
)
def test_infeasible_constraints_are_named(sample, kwargs, match):
    _, cov, _ = sample
    with pytest.raises(InfeasibleError, match=match):
        al.min_variance(cov, **kwargs)


def test_group_totals_that_cannot_reach_one_are_named():
    cov = _cov(np.eye(4) * 0.04, ["A", "B", "C", "D"])
    groups = {"A": "g1", "B": "g1", "C": "g2", "D": "g2"}
    with pytest.raises(InfeasibleError, match="group maxima"):
        al.min_variance(cov, groups=groups, group_bounds={"g1": (0, 0.4), "g2": (0, 0.4)})


def test_max_sharpe_without_excess_return_is_infeasible(two_uncorrelated):
    mu = pd.Series({"A": 0.01, "B": 0.015})
    with pytest.raises(InfeasibleError, match="risk-free"):
        al.max_sharpe(mu, two_uncorrelated, risk_free=0.02)


def test_unreachable_targets_are_infeasible(two_uncorrelated):
    mu = pd.Series({"A": 0.10, "B": 0.05})
    with pytest.raises(InfeasibleError, match="target_return"):
        al.mean_variance(mu, two_uncorrelated, target_return=0.2)
    with pytest.raises(InfeasibleError, match="target_volatility"):
        al.mean_variance(mu, two_uncorrelated, target_volatility=0.05)  # min-var vol is 0.0894
    with pytest.raises(ParameterError, match="exactly one"):
        al.mean_variance(mu, two_uncorrelated, target_return=0.07, risk_aversion=1.0)


def test_misaligned_inputs_are_named(two_uncorrelated):
    with pytest.raises(AlignmentError, match="ZZZ"):
        al.max_sharpe(pd.Series({"A": 0.1, "ZZZ": 0.1}), two_uncorrelated)
    with pytest.raises(AlignmentError, match="not in the data"):
        al.min_variance(two_uncorrelated, groups={"Q": "g"}, group_bounds=(0, 1))


# --------------------------------------------------------------------------- frontier


def test_efficient_frontier_is_monotone_and_bracketed(sample):
    _, cov, mu = sample
    front = al.efficient_frontier(mu, cov, n_points=20, risk_free=0.01, periods_per_year=252)
    assert list(front.columns[:3]) == ["return", "volatility", "sharpe"]
    weights = front[cov.columns]
    assert np.abs(weights.sum(axis=1) - 1).max() <= WEIGHT_TOL and (weights.to_numpy() >= -WEIGHT_TOL).all()
    assert (np.diff(front["return"]) > 0).all() and (np.diff(front["volatility"]) > -1e-12).all()
    w0 = al.min_variance(cov)
    np.testing.assert_allclose(weights.iloc[0].to_numpy(), w0.to_numpy(), atol=1e-8)
    # long-only top = the best single asset (the last point sits 1e-9 below it, see _top)
    assert front["return"].iloc[-1] == pytest.approx(mu.max() * 252, rel=1e-8)
    tangent = al.max_sharpe(mu, cov, risk_free=0.01, periods_per_year=252)
    rf = 1.01 ** (1 / 252) - 1
    best = (tangent @ mu - rf) / np.sqrt(tangent @ cov @ tangent) * np.sqrt(252)
    assert front["sharpe"].max() <= best + 1e-9  # no frontier point beats the tangency portfolio


# --------------------------------------------------------------------------- solver path


def _kkt_residuals(w: np.ndarray, grad: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """Stationarity and sign residuals of min f(w) s.t. sum w = 1, lo <= w <= hi, relative to |grad|.

    At the optimum grad_i = lambda on assets strictly inside their bounds, grad_i >= lambda at the
    lower bound and grad_i <= lambda at the upper bound (Karush-Kuhn-Tucker).
    """
    inside = (w > lo + 1e-9) & (w < hi - 1e-9)
    lam = float(np.median(grad[inside]))
    scale = float(np.abs(grad).max())
    stationarity = float(np.abs(grad[inside] - lam).max()) / scale
    low_ok = grad[w <= lo + 1e-9] - lam
    high_ok = lam - grad[w >= hi - 1e-9]
    sign = float(-min(0.0, *low_ok, *high_ok)) / scale
    return stationarity, sign


def test_large_problems_reach_the_optimum():
    # 150 assets (above the size where the solver works on a subset of them): every solution
    # must meet the optimality (KKT) conditions of the full problem, checked here by hand
    rng = np.random.default_rng(7)
    n, t = 150, 400
    x = rng.standard_normal((t, 4)) @ rng.standard_normal((4, n)) * 0.01 + rng.standard_normal((t, n)) * 0.01
    cov = _cov(np.cov(x, rowvar=False))
    s = cov.to_numpy()
    mu = pd.Series(rng.normal(0.0005, 0.0005, n), index=cov.columns)
    for hi in (1.0, 0.02):  # long-only, then at most 2 % per asset
        w = al.min_variance(cov, bounds=(0.0, hi)).to_numpy()
        _valid(pd.Series(w), 0.0, hi)
        assert 0 < (w > 1e-9).sum() < n  # a real subset problem: some assets held, some not
        stationarity, sign = _kkt_residuals(w, s @ w, 0.0, hi)
        assert stationarity < 1e-7 and sign < 1e-7, hi
    # max Sharpe (rf = 0): the tangency weights solve min y'Sy s.t. mu'y = 1, y >= 0, so
    # (S w)_i = c mu_i on held assets and (S w)_i >= c mu_i on the others, c = w'Sw / mu'w
    w = al.max_sharpe(mu, cov).to_numpy()
    c = float(w @ s @ w) / float(mu.to_numpy() @ w)
    resid = s @ w - c * mu.to_numpy()
    scale = float(np.abs(s @ w).max())
    assert np.abs(resid[w > 1e-9]).max() < 1e-7 * scale and resid[w <= 1e-9].min() > -1e-7 * scale
    cp = pytest.importorskip("cvxpy")  # an independent solver agrees on the minimum variance
    y = cp.Variable(n)
    problem = cp.Problem(cp.Minimize(cp.quad_form(y, cp.psd_wrap(s))), [cp.sum(y) == 1, y >= 0, y <= 0.02])
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-14, tol_gap_rel=1e-12, tol_feas=1e-12)
    w = al.min_variance(cov, bounds=(0.0, 0.02)).to_numpy()
    # ours is at least as low, and the two minima agree (the weights themselves may differ where
    # the variance is flat: they are not compared)
    assert w @ s @ w <= problem.value * (1 + 1e-7)
    assert w @ s @ w == pytest.approx(problem.value, rel=1e-5)


# --------------------------------------------------------------------------- invariants


@st.composite
def covariances(draw):
    n = draw(st.integers(2, 9))
    k = draw(st.integers(1, n))
    seed = draw(st.integers(0, 2**31 - 1))
    ridge = draw(st.sampled_from([0.0, 1e-14, 1e-8, 1e-3]))
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((n, k)) * rng.uniform(0.05, 0.5, size=(n, 1))
    mat = f @ f.T + ridge * np.eye(n) + np.diag(rng.uniform(0, 1e-4, n)) * draw(st.sampled_from([0.0, 1.0]))
    mu = rng.normal(0.05, 0.1, n)
    return _cov(mat), pd.Series(mu, index=[f"A{i}" for i in range(n)])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(covariances(), st.sampled_from([(0.0, 1.0), (0.0, 0.5), (-0.3, 0.6)]))
def test_every_method_gives_valid_weights_or_a_named_error(data, bounds):
    cov, mu = data
    lower, upper = bounds
    calls = [
        lambda: al.min_variance(cov, bounds=bounds),
        lambda: al.max_sharpe(mu, cov, bounds=bounds),
        lambda: al.mean_variance(mu, cov, risk_aversion=2.0, bounds=bounds),
        lambda: al.max_diversification(cov, bounds=bounds),
        lambda: al.efficient_frontier(mu, cov, n_points=3, bounds=bounds).iloc[-1][cov.columns],
    ]
    # with feasible box bounds and a well-conditioned covariance the problem is well posed: the
    # methods must then succeed, not merely fail politely. Condition limits found by search:
    # risk parity finds its portfolio up to condition numbers of 1e12 (its check allows for the
    # rounding error of Sigma w); the frontier is held to 1e6 (it refused feasible targets near
    # cond 7e7).
    cond = np.linalg.cond(cov.to_numpy())
    feasible = lower * len(cov) <= 1 <= upper * len(cov)
    positive = bool((mu > 0).all())  # every asset beats rf = 0: max Sharpe / mean-variance well posed
    limits = [1e8, 1e8 if positive else 0.0, 1e8 if positive else 0.0, 1e8, 1e6 if positive else 0.0]
    for call, limit in zip(calls, limits, strict=True):
        try:
            w = call()
        except PoolkitError as exc:
            assert not (feasible and cond < limit), f"refused a well-posed problem (cond {cond:.3g}): {exc}"
            continue
        _valid(w, lower, upper)
    for call, limit in ((lambda: al.risk_parity(cov), 1e12), (lambda: al.hrp(cov), 1e8), (lambda: al.herc(cov), 1e8)):
        try:
            w = call()
        except PoolkitError as exc:
            assert not cond < limit, f"refused a well-conditioned covariance (cond {cond:.3g}): {exc}"
            continue
        _valid(w)


# --------------------------------------------------------------------------- peers


def test_min_variance_and_max_sharpe_match_pyportfolioopt(sample):
    pypfopt = pytest.importorskip("pypfopt")
    _, cov, mu = sample
    ann_cov, ann_mu = cov * 252, mu * 252
    ef = pypfopt.EfficientFrontier(ann_mu, ann_cov, weight_bounds=(0, 1))
    ef.min_volatility()
    ref = np.asarray(ef.weights)
    w = al.min_variance(cov)
    s = ann_cov.to_numpy()
    assert w.to_numpy() @ s @ w.to_numpy() == pytest.approx(ref @ s @ ref, rel=1e-6)
    np.testing.assert_allclose(w.to_numpy(), ref, atol=1e-4)

    ef = pypfopt.EfficientFrontier(ann_mu, ann_cov, weight_bounds=(0, 1))
    ef.max_sharpe(risk_free_rate=0.02)
    ref = np.asarray(ef.weights)
    w = al.max_sharpe(ann_mu, ann_cov, risk_free=0.02)

    def sharpe(x):
        return (x @ ann_mu.to_numpy() - 0.02) / np.sqrt(x @ s @ x)

    assert sharpe(w.to_numpy()) == pytest.approx(sharpe(ref), rel=1e-6)
    assert sharpe(w.to_numpy()) >= sharpe(ref) - 1e-12
    np.testing.assert_allclose(w.to_numpy(), ref, atol=1e-4)


def test_hrp_matches_pyportfolioopt(sample):
    pypfopt = pytest.importorskip("pypfopt")
    _, cov, _ = sample
    for method in ("single", "ward", "average"):
        ref = pd.Series(pypfopt.HRPOpt(cov_matrix=cov).optimize(linkage_method=method))
        w = al.hrp(cov, linkage=method)
        np.testing.assert_allclose(w.to_numpy(), ref.reindex(cov.columns).to_numpy(), atol=1e-10)


def test_risk_parity_herc_and_min_cvar_match_skfolio(sample):
    pytest.importorskip("skfolio")
    from skfolio import RiskMeasure
    from skfolio.cluster import HierarchicalClustering, LinkageMethod
    from skfolio.optimization import (
        HierarchicalEqualRiskContribution,
        MeanRisk,
        ObjectiveFunction,
        RiskBudgeting,
    )

    r, _, _ = sample
    cov = pd.DataFrame(np.cov(r.to_numpy(), rowvar=False), index=r.columns, columns=r.columns)
    ref = RiskBudgeting(risk_measure=RiskMeasure.VARIANCE).fit(r).weights_
    w = al.risk_parity(cov)
    np.testing.assert_allclose(w.to_numpy(), ref, atol=1e-4)

    for k in (3, 5):
        model = HierarchicalEqualRiskContribution(
            risk_measure=RiskMeasure.VARIANCE,
            hierarchical_clustering_estimator=HierarchicalClustering(
                linkage_method=LinkageMethod.WARD, max_clusters=k
            ),
        ).fit(r)
        np.testing.assert_allclose(al.herc(cov, "ward", n_clusters=k).to_numpy(), model.weights_, atol=1e-8)
    model = HierarchicalEqualRiskContribution(risk_measure=RiskMeasure.VARIANCE).fit(
        r
    )  # its own cluster count
    np.testing.assert_allclose(al.herc(cov, "ward").to_numpy(), model.weights_, atol=1e-8)

    tail = r.iloc[-750:]  # three years of scenarios keep the peer's conic solve short
    model = MeanRisk(
        objective_function=ObjectiveFunction.MINIMIZE_RISK, risk_measure=RiskMeasure.CVAR, cvar_beta=0.95
    ).fit(tail)
    w = al.min_cvar(tail, level=0.95)
    ours = _ru_cvar(-(tail.to_numpy() @ w.to_numpy()), 0.95)
    theirs = _ru_cvar(-(tail.to_numpy() @ model.weights_), 0.95)
    assert ours == pytest.approx(theirs, rel=1e-6)
    assert ours <= theirs + 1e-12


# --------------------------------------------------------------------------- expected returns, allocate


def test_expected_returns_match_definitions(sample):
    r, _, _ = sample
    pd.testing.assert_series_equal(al.expected_returns(r), r.mean().rename("expected_return"), rtol=1e-12)
    ewm = r.ewm(halflife=20.0).mean().iloc[-1]  # pandas: weights 2^(-age/h), adjust=True
    np.testing.assert_allclose(
        al.expected_returns(r, "ewma", halflife=20.0).to_numpy(), ewm.to_numpy(), rtol=1e-10
    )
    m = r.mean(axis=1)
    beta = r.apply(lambda c: np.cov(c, m)[0, 1] / np.var(m, ddof=1))
    rf = 1.03 ** (1 / 252) - 1
    capm = al.expected_returns(r, "capm", risk_free=0.03)
    np.testing.assert_allclose(capm.to_numpy(), rf + beta.to_numpy() * (m.mean() - rf), rtol=1e-10)


def test_allocate_runs_every_method_by_name(sample):
    r, _, _ = sample
    table = al.allocate_many(r.iloc[-504:], list(al.METHODS))
    assert list(table.columns) == list(al.METHODS)
    assert np.abs(table.sum() - 1).max() <= WEIGHT_TOL and (table.to_numpy() >= -WEIGHT_TOL).all()
    w = al.allocate(r, "min_variance", cov_method="ledoit_wolf", bounds=(0, 0.1))
    _valid(w, 0, 0.1)
    np.testing.assert_allclose(
        w, al.min_variance(pk.risk.covariance(r, method="ledoit_wolf"), bounds=(0, 0.1))
    )
    with pytest.raises(ParameterError, match="min_variance"):
        al.allocate(r, "min_varaince")
    # every method takes the constraints: no warning, weights inside the bounds
    _valid(al.allocate(r, "hrp", bounds=(0, 0.1)), 0, 0.1)


def test_registry_declares_every_method_once(sample):
    r, cov, mu = sample
    window = r.iloc[-504:]
    assert al.METHODS == tuple(al.method_spec(m).name for m in al.METHODS)
    estimates = {
        "assets": window.columns,
        "cov": pk.risk.covariance(window),
        "expected_returns": al.expected_returns(window),
        "returns": window,
    }
    for name in al.METHODS:
        spec = al.method_spec(name)
        assert set(spec.inputs) <= set(estimates), name
        # allocate() estimates exactly what the registry says and calls the registered function
        w = spec.weights(**{k: estimates[k] for k in spec.inputs}, periods_per_year=252)
        pd.testing.assert_series_equal(al.allocate(window, name), w, rtol=1e-12, obj=name)
        assert w.name == name
    # the declared inputs are the function's leading arguments: the registry calls it as documented
    w = al.method_spec("max_sharpe").weights(expected_returns=mu, cov=cov, risk_free=0.02, periods_per_year=252)
    pd.testing.assert_series_equal(w, al.max_sharpe(mu, cov, risk_free=0.02, periods_per_year=252))
    # mean-variance without a target uses the documented risk aversion 2.5
    w = al.method_spec("mean_variance").weights(expected_returns=mu, cov=cov)
    pd.testing.assert_series_equal(w, al.mean_variance(mu, cov, risk_aversion=2.5))
    # the function's own name of "equal" is accepted too
    assert al.method_spec("equal_weights") is al.method_spec("equal")


def test_registry_refuses_unknown_names_and_parameters(sample):
    r, cov, _ = sample
    with pytest.raises(ParameterError, match=r"got 'hrpp'\. Did you mean 'hrp'"):
        al.method_spec("hrpp")
    with pytest.raises(ParameterError, match=r"`inner` must be one of .*Did you mean 'risk_parity'"):
        al.method_spec("risk_party", argument="inner")
    with pytest.raises(ParameterError, match=r"'hrp' does not take parameter\(s\) \['linkag'\].*Did you mean 'linkage'"):
        al.allocate(r, "hrp", linkag="ward")
    with pytest.raises(ParameterError, match="'equal'.*takes no parameter"):
        al.allocate(r, "equal", level=0.9)
    with pytest.raises(ParameterError, match="needs `expected_returns`"):
        al.method_spec("max_sharpe").weights(cov=cov)
    w = al.method_spec("risk_parity").weights(cov=cov, bounds=(0.0, 0.1))
    pd.testing.assert_series_equal(w, al.risk_parity(cov, bounds=(0.0, 0.1)))  # the bounds are taken
    _valid(w, 0.0, 0.1)


# --------------------------------------------------------------------------- backtest


def test_backtest_by_hand():
    idx = pd.bdate_range("2024-01-01", "2024-03-29", name="date")
    r = pd.DataFrame({"A": 0.10, "B": 0.0}, index=idx)
    r.attrs["units"] = "fraction"  # 10 % a day: stated, not a percent
    res = al.backtest(r, "equal", rebalance="M", lookback=5, costs=0.01)
    first = res.weights.index[0]
    assert first == pd.Timestamp("2024-01-31")  # first month end with 5 days of history
    # day 1 after the rebalance: 0.5 * 10 % minus the initial cost 1 % x turnover 1
    assert res.returns.iloc[0] == pytest.approx(0.05 - 0.01, abs=1e-12)
    # day 2: holdings drift to 0.55 / 0.5, return = 0.055 / 1.05
    assert res.returns.iloc[1] == pytest.approx(0.055 / 1.05, abs=1e-12)
    # next rebalance (Feb 29): A grew by 1.1^k over the k = 21 February days -> drift weight
    k = len(pd.bdate_range("2024-02-01", "2024-02-29"))
    drift_a = 0.5 * 1.1**k / (0.5 * 1.1**k + 0.5)
    assert res.turnover.iloc[1] == pytest.approx(2 * (drift_a - 0.5), rel=1e-12)
    assert res.costs.iloc[1] == pytest.approx(0.01 * res.turnover.iloc[1], rel=1e-12)
    assert (
        res.returns.index[0] == pd.Timestamp("2024-02-01") and len(res.returns) == (idx >= "2024-02-01").sum()
    )


def test_backtest_with_a_callable_method_by_hand():
    idx = pd.bdate_range("2024-01-01", "2024-03-29", name="date")
    r = pd.DataFrame({"A": 0.10, "B": 0.0}, index=idx)
    r.attrs["units"] = "fraction"  # 10 % a day: stated, not a percent
    seen = []

    def quarter_in_a(window, share):
        seen.append(window)
        return pd.Series({"B": 1.0 - share, "A": share})  # any asset order

    res = al.backtest(r, quarter_in_a, rebalance="M", lookback=5, costs=0.01, share=0.25)
    assert res.method == "quarter_in_a" and res.returns.name == "quarter_in_a"
    # the callable sees exactly the 5 dates ending at each rebalance date
    assert [w.index[-1] for w in seen] == res.weights.index.tolist() and {len(w) for w in seen} == {5}
    np.testing.assert_allclose(res.weights.to_numpy(), [[0.25, 0.75]] * len(res.weights))
    # day 1: 0.25 x 10 % minus 1 % x turnover 1; day 2: holdings 0.275 / 0.75 -> 0.0275 / 1.025
    assert res.returns.iloc[0] == pytest.approx(0.025 - 0.01, abs=1e-12)
    assert res.returns.iloc[1] == pytest.approx(0.0275 / 1.025, abs=1e-12)
    k = len(pd.bdate_range("2024-02-01", "2024-02-29"))
    drift_a = 0.25 * 1.1**k / (0.25 * 1.1**k + 0.75)
    assert res.turnover.iloc[1] == pytest.approx(2 * (drift_a - 0.25), rel=1e-12)
    # a callable giving equal weights is the named method "equal", period by period
    ref = al.backtest(r, "equal", rebalance="M", lookback=5, costs=0.01)
    mine = al.backtest(r, lambda window: pd.Series(0.5, index=window.columns), rebalance="M", lookback=5, costs=0.01)
    pd.testing.assert_series_equal(mine.returns.rename("equal"), ref.returns)
    pd.testing.assert_series_equal(mine.turnover, ref.turnover)


def test_backtest_rejects_bad_callable_weights():
    idx = pd.bdate_range("2024-01-01", "2024-03-29", name="date")
    r = pd.DataFrame({"A": 0.01, "B": 0.0}, index=idx)
    with pytest.raises(ParameterError, match="sum to 1"):
        al.backtest(r, lambda window: pd.Series({"A": 0.5, "B": 0.6}), lookback=5)
    with pytest.raises(AlignmentError, match="C"):
        al.backtest(r, lambda window: pd.Series({"A": 0.5, "C": 0.5}), lookback=5)

    def twin():
        def f(window):
            return pd.Series(0.5, index=window.columns)

        return f

    with pytest.raises(ParameterError, match="own __name__"):
        al.backtest_many(r, [twin(), twin()], lookback=5)


def test_backtest_comparison_table(sample):
    r, _, _ = sample
    results = al.backtest_many(
        r.loc["2019":"2020"], ["equal", "min_variance", "hrp"], lookback=126, costs=0.001
    )
    table = al.compare(results)
    assert table.index.tolist() == ["equal", "min_variance", "hrp"]
    assert {"mean_turnover", "cost_drag"} <= set(table.columns)
    for res in results.values():
        assert np.abs(res.weights.sum(axis=1) - 1).max() <= WEIGHT_TOL
        assert res.returns.notna().all()
    ref = pk.risk.summary(results["hrp"].returns.to_frame())
    assert table.loc["hrp", "annual volatility"] == pytest.approx(float(ref["annual volatility"].iloc[0]))
    with pytest.raises(InsufficientDataError, match="lookback"):
        al.backtest(r.iloc[:100], "equal", lookback=252)


# --------------------------------------------------------------------------- notebook


@pytest.mark.notebook
def test_allocation_notebook_with_groups_and_shorts(notebooks_dir, tmp_path):
    import json

    from poolkit.reporting import run_notebook

    out = tmp_path / "out"
    groups = {"AAPL": "Tech", "MSFT": "Tech", "AMD": "Tech", "JPM": "Banks", "BAC": "Banks"}
    params = {
        "start": "2019-01-01",
        "methods": ["equal", "min_variance", "max_sharpe", "hrp"],
        "min_weight": -0.05,
        "max_weight": 0.3,
        "groups": groups,
        "group_max": 0.2,
        "rebalance": "Q",
        "out_dir": str(out),
    }
    run_notebook(notebooks_dir / "03_allocation.ipynb", tmp_path / "03.ipynb", params)
    weights = pd.read_csv(out / "weights.csv", index_col=0)
    for method in ("min_variance", "max_sharpe"):
        w = weights[method]
        assert abs(w.sum() - 1) <= 1e-9 and w.min() >= -0.05 - 1e-9 and w.max() <= 0.3 + 1e-9
        assert w[["AAPL", "MSFT", "AMD"]].sum() <= 0.2 + 1e-9 and w[["JPM", "BAC"]].sum() <= 0.2 + 1e-9
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best_backtest_sharpe_method"] in params["methods"]
    backtest = pd.read_csv(out / "backtest_summary.csv", index_col=0)
    assert backtest.index.tolist() == params["methods"]


# --------------------------------------------------------------------------- solver regressions
def _dense_universe(n: int, t: int = 600, k: int = 10) -> pd.DataFrame:
    """The dense-optimum generator: k common factors plus idiosyncratic noise of the same size."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((t, k)) * 0.01 @ rng.standard_normal((k, n)) + rng.standard_normal((t, n)) * 0.015
    return pd.DataFrame(x, index=pd.bdate_range("2010-01-01", periods=t), columns=[f"a{i}" for i in range(n)])


def test_min_variance_dense_optimum_meets_kkt_by_hand():
    # long-only, fully invested: (Σw)_i equals one multiplier where w_i > 0 and is not below it elsewhere
    cov = pk.risk.covariance(_dense_universe(300))
    w = al.min_variance(cov).to_numpy()
    grad = cov.to_numpy() @ w
    held = w > 1e-9
    assert held.sum() > 100  # a dense optimum
    lam = float(w @ grad)  # Σ w_i (Σw)_i = λ Σ w_i
    assert np.abs(grad[held] - lam).max() <= 1e-9 * lam
    assert grad[~held].min() >= lam * (1 - 1e-9)
    assert w.min() >= 0 and abs(w.sum() - 1) <= WEIGHT_TOL


def test_max_sharpe_only_equal_weights_fit():
    # caps of 1/2 on two assets leave only (0.5, 0.5), whose Sharpe ratio is positive: not infeasible
    cov = _cov([[4.0, 2.0], [2.0, 1.0]], ["A", "B"])
    w = al.max_sharpe(pd.Series([-0.048, 0.053], index=["A", "B"]), cov, bounds=(0, 0.5))
    np.testing.assert_allclose(w.to_numpy(), [0.5, 0.5], atol=1e-12)


@pytest.mark.parametrize("n", [3, 7, 25])
def test_min_variance_and_max_sharpe_with_caps_of_one_over_n(n):
    cov = _cov(np.eye(n) * 0.04 + 0.01)
    mu = pd.Series(np.linspace(0.02, 0.06, n), index=cov.index)
    for w in (al.min_variance(cov, bounds=(0, 1 / n)), al.max_sharpe(mu, cov, bounds=(0, 1 / n))):
        np.testing.assert_allclose(w.to_numpy(), np.full(n, 1 / n), atol=1e-12)


@pytest.mark.parametrize("n", [94, 120])
def test_unconstrained_ratios_without_false_solver_errors(n):
    # no bounds: the max-Sharpe portfolio is Σ^{-1} mu / 1'Σ^{-1} mu (closed form); infinite bounds must
    # never enter the KKT check's products
    rng = np.random.default_rng(94)
    f = rng.standard_normal((n, 5)) * 0.1
    s = f @ f.T + np.diag(rng.uniform(1e-4, 1e-3, n))
    cov = _cov(s)
    mu = pd.Series(np.abs(rng.normal(0.01, 0.02, n)), index=cov.index)
    w = al.max_sharpe(mu, cov, bounds=(None, None))
    x = np.linalg.solve(s, mu.to_numpy())
    np.testing.assert_allclose(w.to_numpy(), x / x.sum(), rtol=1e-8, atol=1e-10)
    d = al.max_diversification(cov, bounds=(None, None))
    x = np.linalg.solve(s, np.sqrt(np.diag(s)))
    np.testing.assert_allclose(d.to_numpy(), x / x.sum(), rtol=1e-8, atol=1e-10)


def test_max_diversification_diagonal_with_a_huge_volatility_ratio():
    # uncorrelated assets: the most diversified portfolio is w ∝ 1/σ, whatever the volatility spread (8e5)
    vols = np.geomspace(1e-3, 8e2, 7)
    cov = _cov(np.diag(vols**2))
    w = al.max_diversification(cov)
    np.testing.assert_allclose(w.to_numpy(), (1 / vols) / (1 / vols).sum(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("rho", [-0.99999999, 0.0, 0.99999])
def test_risk_parity_two_assets_closed_form_near_singular(rho):
    # two assets: equal risk contributions for any correlation at w ∝ 1/σ
    s = np.array([0.2, 0.1])
    cov = _cov(np.outer(s, s) * np.array([[1.0, rho], [rho, 1.0]]), ["A", "B"])
    w = al.risk_parity(cov)
    np.testing.assert_allclose(w.to_numpy(), [1 / 3, 2 / 3], rtol=1e-12)


def test_risk_parity_diagonal_closed_form():
    vols = np.geomspace(1e-3, 8e2, 7)
    budgets = np.arange(1.0, 8.0)
    cov = _cov(np.diag(vols**2))
    w = al.risk_parity(cov, pd.Series(budgets, index=cov.index))
    x = np.sqrt(budgets) / vols  # w_i^2 σ_i^2 ∝ b_i
    np.testing.assert_allclose(w.to_numpy(), x / x.sum(), rtol=1e-12)


def test_risk_parity_dense_universe():
    # a few hundred correlated assets: equal risk contributions, within few Newton iterations
    cov = pk.risk.covariance(_dense_universe(400))
    w = al.risk_parity(cov, max_iter=40)
    rc = w.to_numpy() * (cov.to_numpy() @ w.to_numpy())
    assert np.abs(rc / rc.sum() * len(w) - 1).max() <= 1e-9


# ------------------------------------------------------------------ solver regressions (fuzzed cases)
def _regressions() -> list[dict]:
    import json
    from pathlib import Path

    path = Path(__file__).parent / "reference" / "allocation_solver_regressions.json"
    return json.loads(path.read_text())["cases"]


def _regression_inputs(rec: dict) -> tuple[pd.DataFrame, pd.Series, dict, np.ndarray, np.ndarray]:
    n = len(rec["mu"])
    names = [f"A{i}" for i in range(n)]
    cov = pd.DataFrame(rec["cov"], index=names, columns=names)
    mu = pd.Series(rec["mu"], index=names)
    lo = np.array([-np.inf if v is None else v for v in rec["lower"]])
    hi = np.array([np.inf if v is None else v for v in rec["upper"]])
    kw: dict = {"bounds": {a: (rec["lower"][i], rec["upper"][i]) for i, a in enumerate(names)}}
    if rec["groups"] is not None:
        kw["groups"] = {a: f"g{g}" for a, g in zip(names, rec["groups"], strict=True) if g >= 0}
        kw["group_bounds"] = {f"g{g}": (lo_g, hi_g) for g, (lo_g, hi_g) in
                              enumerate(zip(rec["group_lo"], rec["group_hi"], strict=True))}
    if rec["budget"] != 1.0:
        kw["budget"] = rec["budget"]
    if rec["gross"] is not None:
        kw["gross_exposure"] = rec["gross"]
    return cov, mu, kw, lo, hi


def _check_regression_weights(rec: dict, w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """Every constraint of the case, checked here to 1e-9 of the portfolio's size."""
    tol = WEIGHT_TOL * max(1.0, abs(rec["budget"]), float(np.abs(w).sum()))
    assert np.isfinite(w).all()
    assert abs(w.sum() - rec["budget"]) <= tol
    assert (w >= lo - tol).all() and (w <= hi + tol).all()
    if rec["groups"] is not None:
        labels = np.array(rec["groups"])
        for g, (lo_g, hi_g) in enumerate(zip(rec["group_lo"], rec["group_hi"], strict=True)):
            total = w[labels == g].sum()
            assert lo_g - tol <= total <= hi_g + tol
    if rec["gross"] is not None:
        assert np.abs(w).sum() <= rec["gross"] + tol


@pytest.mark.parametrize("rec", _regressions(), ids=lambda r: f"{r['method']}-{r['case']}")
def test_solver_regressions_from_the_fuzz(rec):
    """Cases where the solvers once failed falsely or returned weights outside their constraints.

    Near-singular covariances with groups (the ratio search stalled at a ridged face), a
    gross cap met only to 2e-9, a risk aversion of 8e-10, a frontier point off its bound by
    1e-6, a rho of 0.99999999: each answer must meet every constraint and match the
    reference value of an independent solver (Clarabel, stored with the case) to 1e-7 of the
    objective's scale.
    """
    cov, mu, kw, lo, hi = _regression_inputs(rec)
    s = cov.to_numpy()
    method = rec["method"]
    if method == "max_sharpe":
        w = al.max_sharpe(mu, cov, **kw).to_numpy()
        e = mu.to_numpy()
    elif method == "max_diversification":
        w = al.max_diversification(cov, **kw).to_numpy()
        e = np.sqrt(np.diag(s))
    elif method == "mean_variance":
        w = al.mean_variance(mu, cov, risk_aversion=rec["kwargs"]["risk_aversion"], **kw).to_numpy()
    elif method == "mean_variance_target":
        w = al.mean_variance(mu, cov, target_return=rec["kwargs"]["target"], **kw).to_numpy()
    else:
        front = al.efficient_frontier(mu, cov, n_points=4, **kw)
        # two assets fully invested: the return fixes the portfolio, and the efficient one is the
        # least variance among the allowed portfolios with at least that return (a 1-D grid here)
        lo1, hi1 = max(lo[0], rec["budget"] - hi[1]), min(hi[0], rec["budget"] - lo[1])
        grid = np.linspace(lo1, hi1, 200_001)
        pts = np.column_stack([grid, rec["budget"] - grid])
        rets, var = pts @ mu.to_numpy(), np.einsum("ij,jk,ik->i", pts, s, pts)
        for w in front[list(cov.index)].to_numpy():
            _check_regression_weights(rec, w, lo, hi)
            ok = rets >= w @ mu.to_numpy() - 1e-12 * float(np.abs(mu).max())
            assert w @ s @ w <= var[ok].min() * (1 + 1e-7) + 1e-300
        return
    _check_regression_weights(rec, w, lo, hi)
    scale = float(np.abs(w) @ np.sqrt(np.diag(s))) ** 2
    if method in ("max_sharpe", "max_diversification"):
        value, scale = float(w @ s @ w) / float(e @ w) ** 2, scale / float(e @ w) ** 2
    elif method == "mean_variance":
        delta = rec["kwargs"]["risk_aversion"]
        value = 0.5 * delta * float(w @ s @ w) - float(mu @ w)
        scale = 0.5 * delta * scale + float(np.abs(mu) @ np.abs(w))
    else:
        value = float(w @ s @ w)
    # the scale: the larger undiversified variance (sum_i |w_i| sigma_i)^2 of the two portfolios
    scale = max(scale, rec.get("reference_scale", 0.0))
    assert value <= rec["reference"] + 1e-7 * max(abs(rec["reference"]), scale, 1e-300)


def test_rounding_level_gross_excess_is_brought_back_to_the_cap():
    """A gross exposure over its cap by rounding is repaired keeping the budget; a real excess is left alone."""
    from poolkit.allocation._core import _within_gross

    w = np.array([0.6, 0.4000000015, -0.5, -0.5000000015])  # sum |w| = 2.000000003, budget 0
    out = _within_gross(w, 2.0, 0.0, 1e-6)
    assert np.abs(out).sum() == pytest.approx(2.0, abs=1e-15)
    assert out.sum() == pytest.approx(0.0, abs=1e-15)
    assert np.all(np.sign(out) == np.sign(w)) and np.abs(out - w).max() < 2e-9
    far = np.array([0.6, 0.5, -0.5, -0.6])  # 2.2 > 2: not rounding, refused later by the final check
    assert np.array_equal(_within_gross(far, 2.0, 0.0, 1e-6), far)

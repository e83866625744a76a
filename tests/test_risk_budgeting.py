"""Risk budgeting under constraints: closed forms, an independent solver, peers, invariants, near-singular inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import poolkit as pk
from poolkit import allocation as al
from poolkit.exceptions import AlignmentError, CovarianceError, InfeasibleError, ParameterError

TOL = 1e-9


def _cov(mat, names=None) -> pd.DataFrame:
    mat = np.asarray(mat, dtype=float)
    names = names or [f"A{i}" for i in range(mat.shape[0])]
    return pd.DataFrame(mat, index=names, columns=names)


def _valid(w: pd.Series, lower=0.0, upper=1.0) -> None:
    assert np.isfinite(w.to_numpy()).all() and abs(w.sum() - 1.0) <= TOL
    assert (w >= np.asarray(lower) - TOL).all() and (w <= np.asarray(upper) + TOL).all()


@pytest.fixture(scope="module")
def sample(returns):
    r = returns.loc["2015":"2022"]
    return r, pk.risk.covariance(r)


# --------------------------------------------------------------------------- closed forms


def test_diagonal_budgets_by_hand():
    # uncorrelated assets: RC_i = w_i^2 s_i^2 = b_i V, so w_i ~ sqrt(b_i) / s_i (Roncalli 2013, sec. 2.2);
    # the same budgets given per pool ({A0}: 0.5, {A1, A2}: 0.5 split 3:2), and bounds that do not bind
    vols = np.array([0.1, 0.2, 0.4])
    b = np.array([0.5, 0.3, 0.2])
    ref = np.sqrt(b) / vols
    cov = _cov(np.diag(vols**2))
    w = al.risk_parity(cov, budgets=dict(zip(["A0", "A1", "A2"], b, strict=True)))
    np.testing.assert_allclose(w.to_numpy(), ref / ref.sum(), rtol=1e-12)
    w = al.risk_parity(cov, budgets={"A0": 1.0, "A1": 3.0, "A2": 2.0}, pools={"A0": "p", "A1": "q", "A2": "q"},
                       pool_budgets={"p": 0.5, "q": 0.5}, bounds=(0.0, 0.8))
    np.testing.assert_allclose(w.to_numpy(), ref / ref.sum(), rtol=1e-12)


def test_two_assets_near_minus_one_correlation_is_inverse_volatility():
    # two assets: equal contributions give w ~ 1/sigma whatever rho; at rho = -0.99999999 the
    # covariance is near singular (issue 15: this raised SolverError)
    s1, s2, rho = 0.3, 0.05, -0.99999999
    cov = _cov([[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]])
    w = al.risk_parity(cov)
    np.testing.assert_allclose(w.to_numpy(), np.array([1 / s1, 1 / s2]) / (1 / s1 + 1 / s2), rtol=1e-10)


def test_two_assets_with_budgets_closed_form():
    # in correlation units y_i (C y)_i = b_i; with t = y1/y2 and B = b1/b2:
    # t (t + rho) = B (1 + rho t)  =>  t = (-rho (1 - B) + sqrt(rho^2 (1 - B)^2 + 4B)) / 2,
    # down to correlations of -1 + 1e-8 (near singular)
    s1, s2, b1, b2 = 0.25, 0.1, 0.7, 0.3
    big_b = b1 / b2
    for rho in (-0.99999999, -0.9, 0.0, 0.6, 0.99999999):
        t = (-rho * (1 - big_b) + np.sqrt(rho**2 * (1 - big_b) ** 2 + 4 * big_b)) / 2
        x = np.array([t / s1, 1 / s2])
        cov = _cov([[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]])
        w = al.risk_parity(cov, budgets={"A0": b1, "A1": b2})
        np.testing.assert_allclose(w.to_numpy(), x / x.sum(), rtol=1e-9, err_msg=f"rho={rho}")


def test_capped_asset_leaves_the_others_proportional_to_their_budgets():
    # diagonal, A0 capped at 0.2: the free assets keep RC_i = lambda b_i, i.e.
    # w_i = sqrt(lambda b_i) / s_i with sqrt(lambda) = (1 - 0.2) / sum_free sqrt(b_i) / s_i
    vols = np.array([0.05, 0.2, 0.3])
    b = np.array([0.6, 0.25, 0.15])
    cov = _cov(np.diag(vols**2))
    names = list(cov.columns)
    w = al.risk_parity(cov, budgets=dict(zip(names, b, strict=True)), bounds={"A0": (0.0, 0.2)})
    free = np.sqrt(b[1:]) / vols[1:]
    np.testing.assert_allclose(w.to_numpy(), np.concatenate([[0.2], 0.8 * free / free.sum()]), rtol=1e-12)
    rc = w.to_numpy() ** 2 * vols**2
    assert rc[1] / rc[2] == pytest.approx(b[1] / b[2], rel=1e-12)  # proportional to the budgets
    assert rc[0] / rc.sum() < b[0]  # the capped asset contributes less than its budget


def test_pool_budgets_give_each_pool_its_risk_share(sample):
    _, cov = sample
    names = list(cov.columns)
    pools = {a: ("big" if i < 15 else "small") for i, a in enumerate(names)}
    w = al.risk_parity(cov, pools=pools, pool_budgets={"big": 0.5, "small": 0.5})
    shares = al.risk_contribution_table(w, cov).iloc[:, 0]
    share = shares.groupby(pd.Series(pools)).sum()
    assert share["big"] == pytest.approx(0.5, abs=1e-10) and share["small"] == pytest.approx(0.5, abs=1e-10)
    # within a pool the budget is split equally: 0.5 / 15 and 0.5 / 5
    np.testing.assert_allclose(shares[names[:15]], 0.5 / 15, rtol=1e-9)
    np.testing.assert_allclose(shares[names[15:]], 0.1, rtol=1e-9)
    with pytest.raises(AlignmentError, match="missing"):
        al.risk_parity(cov, pools=pools, pool_budgets={"big": 1.0})


# --------------------------------------------------------------------------- the constrained problem


def _rr_reference(s: np.ndarray, b: np.ndarray, lower, upper, gmat=None, glo=None, ghi=None) -> np.ndarray:
    """Richard & Roncalli's constrained problem solved independently: cvxpy/Clarabel for each lambda,
    bisection on lambda until the minimiser is fully invested."""
    import warnings

    cp = pytest.importorskip("cvxpy")
    warnings.filterwarnings("ignore", message="Solution may be inaccurate")
    n = len(b)

    def solve(lam: float) -> np.ndarray:
        w = cp.Variable(n)
        cons = [w >= np.maximum(lower, 0), w <= upper]
        if gmat is not None:
            cons += [gmat @ w <= ghi, gmat @ w >= glo]
        prob = cp.Problem(cp.Minimize(0.5 * cp.quad_form(w, cp.psd_wrap(s)) - lam * b @ cp.log(w)), cons)
        prob.solve(solver="CLARABEL", tol_gap_abs=1e-14, tol_gap_rel=1e-14, tol_feas=1e-14)
        return np.asarray(w.value)

    lo, hi = 1e-12, 1.0
    while solve(hi).sum() < 1:
        hi *= 10
    for _ in range(80):
        mid = np.sqrt(lo * hi)
        if solve(mid).sum() > 1:
            hi = mid
        else:
            lo = mid
    return solve(np.sqrt(lo * hi))


def test_bounds_and_groups_match_an_independent_solver(sample):
    _, cov = sample
    s = cov.to_numpy()
    names = list(cov.columns)
    groups = {a: ("g1" if i < 7 else "g2" if i < 14 else "g3") for i, a in enumerate(names)}
    gb = {"g1": (0.0, 0.3), "g2": (0.35, 1.0)}
    w = al.risk_parity(cov, bounds=(0.02, 0.07), groups=groups, group_bounds=gb)
    _valid(w, 0.02, 0.07)
    gw = w.groupby(pd.Series(groups)).sum()
    assert gw["g1"] <= 0.3 + TOL and gw["g2"] >= 0.35 - TOL
    gmat = np.array([[groups[a] == g for a in names] for g in ("g1", "g2")], dtype=float)
    ref = _rr_reference(s, np.full(20, 1 / 20), np.full(20, 0.02), np.full(20, 0.07), gmat,
                        np.array([0.0, 0.35]), np.array([0.3, 1.0]))
    np.testing.assert_allclose(w.to_numpy(), ref, atol=2e-7)  # the reference's own accuracy


def test_free_assets_keep_contributions_proportional_to_budgets(sample):
    _, cov = sample
    rng = np.random.default_rng(3)
    b = pd.Series(rng.uniform(0.5, 2.0, 20), index=cov.columns)
    w = al.risk_parity(cov, budgets=b, bounds=(0.0, 0.06))
    rc = w * (cov @ w)
    free = (w < 0.06 - 1e-9) & (w > 1e-9)
    ratio = rc[free] / b[free]
    assert free.sum() >= 5 and ratio.max() / ratio.min() - 1 < 1e-8
    capped = ~free
    assert (rc[capped] / b[capped] < ratio.min()).all()  # a capped asset contributes less than its share


def test_non_binding_constraints_give_the_unconstrained_portfolio(sample):
    _, cov = sample
    w0 = al.risk_parity(cov)
    w = al.risk_parity(cov, bounds=(0.0, 0.5), groups={cov.columns[0]: "g"}, group_bounds={"g": (0.0, 0.9)})
    pd.testing.assert_series_equal(w, w0, rtol=0, atol=1e-15)


def test_infeasible_constraints_are_named_like_min_variance(sample):
    _, cov = sample
    for kwargs, match in [
        ({"bounds": (0.0, 0.04)}, "upper bounds sum to 0.8"),
        ({"bounds": (0.06, 1.0)}, "lower bounds sum to 1.2"),
        ({"groups": {"AAPL": "T", "MSFT": "T"}, "group_bounds": {"T": (0.0, 0.01)}, "bounds": (0.01, 1)},
         r"group_bounds\['T'\]"),
    ]:
        with pytest.raises(InfeasibleError, match=match):
            al.min_variance(cov, **kwargs)
        with pytest.raises(InfeasibleError, match=match):
            al.risk_parity(cov, **kwargs)


def test_single_feasible_point_is_returned():
    # bounds (0, 1/n): only equal weights fit
    cov = _cov(np.diag([0.01, 0.04, 0.09, 0.16]))
    w = al.risk_parity(cov, bounds=(0.0, 0.25))
    np.testing.assert_allclose(w.to_numpy(), 0.25, atol=1e-15)


# --------------------------------------------------------------------------- risk measures


@pytest.mark.parametrize("measure", ["semi_variance", "cvar", "cdar"])
def test_risk_measures_match_skfolio(sample, measure):
    pytest.importorskip("skfolio")
    from skfolio import RiskMeasure
    from skfolio.optimization import RiskBudgeting

    r, _ = sample
    window = r.iloc[-750:]
    rm = {"semi_variance": RiskMeasure.SEMI_VARIANCE, "cvar": RiskMeasure.CVAR, "cdar": RiskMeasure.CDAR}[measure]
    ref = RiskBudgeting(risk_measure=rm).fit(window).weights_
    w = al.risk_parity(window, risk_measure=measure)
    np.testing.assert_allclose(w.to_numpy(), ref, atol=1e-5)  # skfolio's conic solver tolerance
    _valid(w)


@pytest.mark.parametrize("measure", ["semi_variance", "cvar", "cdar"])
def test_risk_measure_contributions_sum_to_the_measure(sample, measure):
    r, _ = sample
    window = r.iloc[-500:]
    w = al.risk_parity(window, risk_measure=measure, bounds=(0.0, 0.07))
    _valid(w, 0.0, 0.07)
    from poolkit.allocation._measures import risk_model

    model, _ = risk_model(window, measure)
    rc = model.contributions(w.to_numpy())
    assert rc.sum() == pytest.approx(float(model.value(w.to_numpy())), rel=1e-12)
    table = al.risk_contribution_table(w, window, risk_measure=measure)
    assert table.iloc[:, 0].sum() == pytest.approx(1.0, abs=1e-12)


def test_semi_variance_by_hand():
    # two dates below the mean out of four: SV = sum min(r - mean, 0)^2 / (T - 1)
    idx = pd.date_range("2024-01-01", periods=4, freq="D", name="date")
    r = pd.DataFrame({"A": [0.02, -0.02, 0.02, -0.02], "B": [0.01, 0.01, -0.01, -0.01]}, index=idx)
    w = pd.Series({"A": 0.5, "B": 0.5})
    port = r.to_numpy() @ w.to_numpy()
    sv = (np.minimum(port - port.mean(), 0) ** 2).sum() / 3
    from poolkit.allocation._measures import risk_model

    model, _ = risk_model(r, "semi_variance")
    assert float(model.value(w.to_numpy())) == pytest.approx(sv, rel=1e-14)


def test_covariance_with_a_returns_measure_is_refused(sample):
    _, cov = sample
    with pytest.raises(ParameterError, match="computed from returns"):
        al.risk_parity(cov, risk_measure="cvar")


# --------------------------------------------------------------------------- invariants


def _conditioned(seed: int, n: int, cond: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    ev = np.logspace(0, -np.log10(cond), n)
    corr = (q * ev) @ q.T
    d = np.sqrt(np.diag(corr))
    corr = corr / np.outer(d, d)
    vols = rng.uniform(0.05, 0.6, n)
    return _cov(corr * np.outer(vols, vols))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**31 - 1), st.integers(2, 40), st.floats(0, 12))
def test_returns_the_solution_up_to_condition_number_1e12(seed, n, log_cond):
    # issue 15: near-singular covariances have a risk-parity portfolio; it must be found, and
    # its contributions equal up to the rounding error of evaluating Sigma w
    cov = _conditioned(seed, n, 10.0**log_cond)
    w = al.risk_parity(cov)
    _valid(w)
    s = cov.to_numpy()
    x = w.to_numpy()
    rc = x * (s @ x)
    slack = 64 * n * np.finfo(float).eps * x * (np.abs(s) @ x)
    assert (np.abs(rc - rc.mean()) <= 1e-8 * rc.mean() + slack).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.permutations(range(6)), st.sampled_from([1e-6, 1.0, 1e6]), st.integers(0, 1000))
def test_invariant_to_order_labels_and_scale(perm, scale, seed):
    cov = _conditioned(seed, 6, 1e3)
    cap = 0.25
    ref = al.risk_parity(cov, bounds=(0.0, cap))
    moved = cov.iloc[list(perm), list(perm)] * scale
    moved.index = moved.columns = [f"X{c}" for c in moved.columns]  # relabelled too
    w = al.risk_parity(moved, bounds=(0.0, cap))
    np.testing.assert_allclose(w.to_numpy(), ref.to_numpy()[list(perm)], atol=1e-10)


def test_zero_variance_long_only_combination_is_refused():
    # correlation exactly -1: a long-only portfolio has zero variance, no budget can be met
    cov = _cov([[0.04, -0.02], [-0.02, 0.01]])
    with pytest.raises(CovarianceError, match="zero variance"):
        al.risk_parity(cov)


def _hedged_factor_cov(seed: int, n: int = 50) -> pd.DataFrame:
    # three factors and idiosyncratic noise 1e5 times smaller (condition number ~1e13): long-only
    # combinations within the bounds almost hedge the factors, so the optimum's risk is ~1e-10 of
    # the start's (this raised SolverError: the iterations stopped at the start's precision)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 3)) @ rng.normal(size=(3, n)) * 0.01 + rng.normal(size=(60, n)) * 1e-7
    return _cov(np.cov(x.T))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_near_singular_covariance_under_bounds_and_groups(seed):
    cov = _hedged_factor_cov(seed)
    n, cap = cov.shape[0], 0.03
    groups = {a: f"g{i % 4}" for i, a in enumerate(cov.columns)}
    s = cov.to_numpy()
    for kw in ({}, {"groups": groups, "group_bounds": (0.0, 0.3)}):
        w = al.risk_parity(cov, bounds=(0.0, cap), **kw)
        _valid(w, 0.0, cap)
        x = w.to_numpy()
        rc = x * (s @ x)
        slack = 64 * n * np.finfo(float).eps * x * (np.abs(s) @ x)
        free = (x < cap - 1e-9) & (x > 1e-9)
        if kw:
            gw = w.groupby(pd.Series(groups)).sum()
            assert (gw <= 0.3 + TOL).all()
            tight = set(gw.index[gw >= 0.3 - 1e-9])
            free &= ~np.array([groups[a] in tight for a in cov.columns])
        assert free.sum() >= 5
        level = np.median(rc[free])
        # KKT (Richard & Roncalli 2019): free assets' contributions are equal, capped ones lower
        assert (np.abs(rc[free] - level) <= 1e-8 * level + slack[free]).all()
        assert (rc[~free] <= level * (1 + 1e-8) + slack[~free]).all()


@pytest.mark.parametrize("cov_method", ["sample", "ledoit_wolf", "oas", "ewma", "factor"])
def test_a_covariance_estimated_from_returns_is_not_factorised_again_when_a_gram_matrix(monkeypatch, returns,
                                                                                           cov_method):
    # hrp from returns: a covariance poolkit estimates as a Gram matrix (or its shrinkage) is
    # positive semi-definite by construction, so its check skips the Cholesky factorisation; the
    # factor model's is still proven; either way the weights equal those from the covariance
    # itself (checked in full), under their own labels
    import scipy.linalg

    from poolkit.allocation._core import GRAM_METHODS

    factorised: list[int] = []
    cho = scipy.linalg.cho_factor

    def recording(*args, **kwargs):
        factorised.append(1)
        return cho(*args, **kwargs)

    monkeypatch.setattr(scipy.linalg, "cho_factor", recording)
    w = pk.allocation.hrp(returns, cov_method=cov_method)
    assert bool(factorised) == (cov_method not in GRAM_METHODS)
    ref = pk.allocation.hrp(pk.risk.covariance(returns, method=cov_method))
    assert w.index.equals(returns.columns)
    assert np.abs(w - ref).max() <= 1e-15

"""HRP and HERC: bounds inside the splits, group bounds by the closest feasible weights, risk measures, inputs."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import poolkit as pk
from poolkit import allocation as al
from poolkit.exceptions import AlignmentError, InfeasibleError, ParameterError

TOL = 1e-9
MEASURES = ["variance", "semi_variance", "cvar", "cdar"]


def _cov(mat, names=None) -> pd.DataFrame:
    mat = np.asarray(mat, dtype=float)
    names = names or [f"A{i}" for i in range(mat.shape[0])]
    return pd.DataFrame(mat, index=names, columns=names)


@pytest.fixture(scope="module")
def sample(returns):
    r = returns.loc["2015":"2022"]
    return r, pk.risk.covariance(r)


# --------------------------------------------------------------------------- by hand


def test_two_assets_cap_inside_the_split():
    # inverse variance gives B 0.8; its cap 0.7 clips the split: alpha in [1 - 0.7, 1] -> A gets 0.3
    cov = _cov([[0.04, 0.0], [0.0, 0.01]], ["A", "B"])
    assert al.hrp(cov, bounds=(0.0, 0.7)).round(12).tolist() == [0.3, 0.7]
    assert al.herc(cov, bounds=(0.0, 0.7)).round(12).tolist() == [0.3, 0.7]
    assert al.hrp(cov, bounds={"A": (0.25, 1.0)}).round(12).tolist() == [0.25, 0.75]


def test_four_assets_bisection_by_hand():
    # uncorrelated, variances 1, 1, 4, 4 in leaf order (A0 A1 | A2 A3 after clustering ties: the
    # diagonal has every distance equal, so check with the leaf order the method used).
    # Halves: V = 1/2 (inverse-variance pair of variance 1) and 2; alpha = 1 - 0.5/2.5 = 0.8 -> 0.4 each
    # for A0, A1 and 0.1 each for A2, A3. With caps of 0.3: alpha clipped to 0.6 -> 0.3, 0.3, 0.2, 0.2.
    cov = _cov(np.diag([1.0, 1.0, 4.0, 4.0]) + 1e-3 * np.array(
        [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]))  # pairs slightly correlated: leaves A0 A1 | A2 A3
    w = al.hrp(cov)
    v = 1.001 / 2  # variance of the inverse-variance pair (1, 1) with covariance 1e-3
    v2 = 4.001 / 2
    alpha = 1 - v / (v + v2)
    np.testing.assert_allclose(w.to_numpy(), [alpha / 2, alpha / 2, (1 - alpha) / 2, (1 - alpha) / 2], rtol=1e-12)
    w = al.hrp(cov, bounds=(0.0, 0.3))
    np.testing.assert_allclose(w.to_numpy(), [0.3, 0.3, 0.2, 0.2], rtol=1e-12)


# --------------------------------------------------------------------------- peers


@pytest.mark.parametrize("measure", MEASURES)
def test_hrp_with_bounds_matches_skfolio(sample, measure):
    pytest.importorskip("skfolio")
    from skfolio import RiskMeasure
    from skfolio.cluster import HierarchicalClustering, LinkageMethod
    from skfolio.optimization import HierarchicalRiskParity

    try:
        from skfolio.seriation import HierarchicalSeriation
    except ImportError:  # pragma: no cover - older skfolio
        pytest.skip("skfolio without seriation estimators")
    r, _ = sample
    rm = {"variance": RiskMeasure.VARIANCE, "semi_variance": RiskMeasure.SEMI_VARIANCE,
          "cvar": RiskMeasure.CVAR, "cdar": RiskMeasure.CDAR}[measure]
    for lo, hi in [(0.0, 1.0), (0.02, 0.07)]:
        ser = HierarchicalSeriation(
            hierarchical_clustering_estimator=HierarchicalClustering(linkage_method=LinkageMethod.SINGLE),
            optimal_ordering=False,
        )
        ref = HierarchicalRiskParity(risk_measure=rm, min_weights=lo, max_weights=hi, seriation_estimator=ser).fit(r)
        w = al.hrp(r, "single", risk_measure=measure, bounds=(lo, hi))
        np.testing.assert_allclose(w.to_numpy(), ref.weights_, atol=1e-12)


@pytest.mark.parametrize("measure", MEASURES)
def test_herc_risk_measures_match_skfolio(sample, measure):
    pytest.importorskip("skfolio")
    from skfolio import RiskMeasure
    from skfolio.cluster import HierarchicalClustering, LinkageMethod
    from skfolio.optimization import HierarchicalEqualRiskContribution

    r, _ = sample
    rm = {"variance": RiskMeasure.VARIANCE, "semi_variance": RiskMeasure.SEMI_VARIANCE,
          "cvar": RiskMeasure.CVAR, "cdar": RiskMeasure.CDAR}[measure]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ref = HierarchicalEqualRiskContribution(
            risk_measure=rm,
            hierarchical_clustering_estimator=HierarchicalClustering(linkage_method=LinkageMethod.WARD, max_clusters=5),
        ).fit(r)
    np.testing.assert_allclose(al.herc(r, "ward", n_clusters=5, risk_measure=measure).to_numpy(), ref.weights_,
                               atol=1e-12)


# --------------------------------------------------------------------------- invariants


@pytest.mark.parametrize("method", [al.hrp, al.herc])
@pytest.mark.parametrize("bounds", [(0.0, 0.07), (0.03, 0.06), {"JNJ": (0.0, 0.02), "AMD": (0.1, 0.2)}])
def test_every_bound_holds(sample, method, bounds):
    _, cov = sample
    w = method(cov, bounds=bounds)
    assert abs(w.sum() - 1) <= TOL
    if isinstance(bounds, dict):
        for a, (lo, hi) in bounds.items():
            assert lo - TOL <= w[a] <= hi + TOL
    else:
        assert (w >= bounds[0] - TOL).all() and (w <= bounds[1] + TOL).all()


@pytest.mark.parametrize("method", [al.hrp, al.herc])
def test_group_bounds_by_the_closest_feasible_weights(sample, method):
    cp = pytest.importorskip("cvxpy")
    _, cov = sample
    names = list(cov.columns)
    groups = {a: ("energy" if a in ("CVX", "XOM", "RRC") else "staples" if a in ("KO", "PEP", "PG", "WMT") else "rest")
              for a in names}
    gb = {"energy": (0.0, 0.05), "staples": (0.0, 0.2)}
    free = method(cov)
    w = method(cov, bounds=(0.0, 0.09), groups=groups, group_bounds=gb)
    g = w.groupby(pd.Series(groups)).sum()
    assert g["energy"] <= 0.05 + TOL and g["staples"] <= 0.2 + TOL and (w <= 0.09 + TOL).all()
    # independent: the chi-square projection of the hierarchical weights (with the bounds inside the
    # splits first) solved by Clarabel
    base = method(cov, bounds=(0.0, 0.09)).to_numpy()
    x = cp.Variable(len(names))
    gm = {k: np.array([groups[a] == k for a in names], dtype=float) for k in gb}
    cons = [cp.sum(x) == 1, x >= 0, x <= 0.09] + [gm[k] @ x <= gb[k][1] for k in gb]
    cp.Problem(cp.Minimize(cp.sum(cp.multiply(1 / base, cp.square(x - base)))), cons).solve(solver="CLARABEL")
    np.testing.assert_allclose(w.to_numpy(), x.value, atol=1e-6)
    # the assets no constraint stops keep the hierarchical ratios
    rest = [a for a in names if groups[a] == "rest" and w[a] < 0.09 - 1e-9]
    ratio = w[rest] / pd.Series(base, index=names)[rest]
    assert ratio.max() / ratio.min() - 1 < 1e-9
    assert not np.allclose(w.to_numpy(), free.to_numpy())


def _random_cov(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((n, 3)) * rng.uniform(0.05, 0.4, (n, 1))
    return _cov(f @ f.T + np.diag(rng.uniform(0.01, 0.05, n) ** 2))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.permutations(range(7)), st.sampled_from([1e-6, 1.0, 1e4]))
def test_invariant_to_order_labels_and_scale(seed, perm, scale):
    # HERC splits along the tree, so the order of the assets does not matter; HRP halves the leaf
    # order, whose mirror images depend on the input order (as in the original algorithm), so it is
    # checked for relabelling and rescaling only
    cov = _random_cov(seed, 7)
    moved = cov.iloc[list(perm), list(perm)] * scale
    moved.index = moved.columns = [f"Z{c}" for c in moved.columns]
    ref = al.herc(cov, bounds=(0.05, 0.25)).to_numpy()[list(perm)]
    np.testing.assert_allclose(al.herc(moved, bounds=(0.05, 0.25)).to_numpy(), ref, atol=1e-12)
    scaled = cov * scale
    scaled.index = scaled.columns = [f"Z{c}" for c in cov.columns]
    np.testing.assert_allclose(al.hrp(scaled, bounds=(0.05, 0.25)).to_numpy(),
                               al.hrp(cov, bounds=(0.05, 0.25)).to_numpy(), atol=1e-12)


# --------------------------------------------------------------------------- inputs (issue 14)


def test_covariance_with_reordered_rows_is_a_covariance(sample):
    _, cov = sample
    three = cov.loc[["AAPL", "JPM", "MSFT"], ["AAPL", "JPM", "MSFT"]]
    shuffled = three.loc[["MSFT", "AAPL", "JPM"], :]
    for method in (al.hrp, al.herc):
        pd.testing.assert_series_equal(method(shuffled), method(three))
    with pytest.raises(AlignmentError, match="not a covariance"):
        al.hrp(cov.loc[["MSFT", "AAPL", "JPM"], :])  # 3 rows of a 20-asset covariance


def test_one_asset_and_too_many_clusters(sample):
    _, cov = sample
    one = cov.iloc[:1, :1]
    assert al.hrp(one).tolist() == [1.0] and al.herc(one).tolist() == [1.0]
    with pytest.raises(ParameterError, match="more than the 20 assets"):
        al.herc(cov, n_clusters=21)


@pytest.mark.parametrize("layout", ["C", "F"])
def test_cluster_variances_equal_the_direct_quadratic_forms(layout):
    # each run's inverse-variance portfolio w (w_i proportional to 1 / s_ii over the run) has
    # variance w' S w, computed here directly, for runs that split the order and for runs that overlap
    from poolkit.allocation._hierarchical import _Segments
    from poolkit.allocation._measures import risk_model

    rng = np.random.default_rng(7)
    x = rng.standard_normal((80, 6)) @ rng.standard_normal((6, 30)) + rng.standard_normal((80, 30))
    mat = np.asarray(np.cov(x, rowvar=False), order=layout)
    model, _ = risk_model(_cov(mat))
    order = rng.permutation(30)
    seg = _Segments(model, order)
    a, b = np.array([0, 3, 4, 17, 0, 10]), np.array([3, 4, 17, 30, 30, 25])
    direct = []
    for lo, hi in zip(a, b, strict=True):
        idx = order[lo:hi]
        w = 1.0 / np.diag(mat)[idx]
        w /= w.sum()
        direct.append(w @ mat[np.ix_(idx, idx)] @ w)
    np.testing.assert_allclose(seg.risk(a, b), direct, rtol=1e-12)


def test_chain_like_tree_needs_no_recursion():
    # single linkage on an AR(1)-like correlation makes a chain of depth n - 1
    n = 1300
    idx = np.arange(n)
    corr = 0.999 ** np.abs(idx[:, None] - idx[None, :])
    vols = np.linspace(0.1, 0.3, n)
    cov = _cov(corr * np.outer(vols, vols))
    start = time.perf_counter()
    w = al.herc(cov, linkage="single", n_clusters=1200)
    assert abs(w.sum() - 1) <= TOL and (w >= 0).all()
    assert time.perf_counter() - start < 120  # a hang guard, not a speed test
    assert abs(al.hrp(cov, linkage="single", bounds=(0.0, 0.01)).sum() - 1) <= TOL


def test_chain_with_equal_risks_underflows_to_zero_weights_not_nan():
    # the reproduction with equal volatilities: every split of the chain peels one asset
    # off the rest, giving it 1 - 1/m of the run's weight (cluster risks r and (m - 1) r), so the
    # k-th asset down the chain holds about 1200^-k: below the smallest float from k ~ 100 on
    # (this returned NaN weights and raised "invalid weights"); those weights are 0 in float64
    n = 1200
    idx = np.arange(n)
    cov = _cov(1e-4 * 0.999 ** np.abs(idx[:, None] - idx[None, :]))
    w = al.herc(cov, linkage="single", n_clusters=n)
    assert np.isfinite(w.to_numpy()).all() and (w >= 0).all() and abs(w.sum() - 1) <= TOL
    assert w.max() == pytest.approx((n - 1) / n, rel=1e-12)
    assert (w == 0).sum() > n // 2
    capped = al.herc(cov, linkage="single", n_clusters=n, bounds=(0.0, 0.01))
    assert abs(capped.sum() - 1) <= TOL and capped.max() <= 0.01 + TOL


def test_infeasible_bounds_are_named(sample):
    _, cov = sample
    with pytest.raises(InfeasibleError, match="upper bounds sum to 0.8"):
        al.hrp(cov, bounds=(0.0, 0.04))
    with pytest.raises(InfeasibleError, match=r"group_bounds\['T'\]"):
        al.herc(cov, groups={"AAPL": "T", "MSFT": "T"}, group_bounds={"T": (0.5, 1.0)}, bounds=(0.0, 0.2))


def test_allocate_refuses_a_covariance_given_as_returns(sample):
    # allocate takes returns: a covariance (or its rows for some assets) would be read as three
    # or twenty "dates" and give plausible weights
    _, cov = sample
    for frame in (cov, cov.loc[["MSFT", "AAPL", "JPM"], :]):
        for call in (lambda f: al.allocate(f, "hrp"), lambda f: al.expected_returns(f)):
            with pytest.raises(AlignmentError, match="looks like a covariance"):
                call(frame)

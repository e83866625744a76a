"""Tests of poolkit.pooling: closed forms, hand-worked examples, peers and bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import poolkit as pk
from poolkit.exceptions import (
    AlignmentError,
    CovarianceError,
    InsufficientDataError,
    ParameterError,
    PoolkitWarning,
)

pp = pk.pooling

# The seed document's three assets (section 4.1): expected return and risk (volatility).
SEED = [
    {"name": "资产1", "return": 0.10, "risk": 0.20},
    {"name": "资产2", "return": 0.15, "risk": 0.30},
    {"name": "资产3", "return": 0.12, "risk": 0.25},
]


def _equal_assets(n: int, vol: float, rho: float) -> pd.DataFrame:
    names = [f"A{i}" for i in range(n)]
    corr = np.full((n, n), rho)
    np.fill_diagonal(corr, 1.0)
    return pd.DataFrame(vol * vol * corr, index=names, columns=names)


def _blocks(n_blocks: int = 3, per_block: int = 10, t: int = 1500, noise: float = 0.3, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    factors = rng.normal(0.0, 0.01, size=(t, n_blocks))
    truth = np.repeat(np.arange(n_blocks), per_block)
    x = factors[:, truth] + noise * 0.01 * rng.normal(size=(t, n_blocks * per_block))
    cols = [f"S{i:02d}" for i in range(n_blocks * per_block)]
    perm = rng.permutation(len(cols))  # shuffle so blocks are not contiguous
    frame = pd.DataFrame(x[:, perm], index=pd.bdate_range("2015-01-01", periods=t, name="date"), columns=cols)
    return frame, truth[perm]


# ---------------------------------------------------------------- the seed example


def test_seed_example_by_hand():
    pool = pp.from_assumptions(SEED, corr=0.3)
    # mu_P = (0.10 + 0.15 + 0.12) / 3 = 0.123333...
    assert pool.expected_return == pytest.approx(0.37 / 3, abs=1e-12)
    # sigma_P^2 = (1/9) [0.04 + 0.09 + 0.0625 + 2 * 0.3 * (0.2*0.3 + 0.2*0.25 + 0.3*0.25)]
    #           = (1/9) [0.1925 + 0.6 * 0.185] = 0.3035 / 9
    assert pool.volatility == pytest.approx(math.sqrt(0.3035 / 9), abs=1e-12)
    table = pool.summary()
    assert table.index.tolist() == ["资产1", "资产2", "资产3", "pool"]
    assert table.loc["pool", "standalone_volatility"] == pytest.approx(0.75 / 3)  # (0.2 + 0.3 + 0.25) / 3
    assert table["risk_share"].iloc[:3].sum() == pytest.approx(1.0)


def test_seed_uncorrelated_and_value_weights():
    # corr 0: sigma_P = sqrt(0.1925) / 3
    assert pp.from_assumptions(SEED, corr=0.0).volatility == pytest.approx(math.sqrt(0.1925) / 3)
    # value weights w_i = V_i / sum V (the seed's formula 3): values 1, 1, 2 -> 0.25, 0.25, 0.5
    table = pd.DataFrame(SEED).assign(value=[1.0, 1.0, 2.0])
    pool = pp.from_assumptions(table, corr=0.0)
    assert pool.weights.tolist() == [0.25, 0.25, 0.5]
    assert pool.expected_return == pytest.approx(0.25 * 0.10 + 0.25 * 0.15 + 0.5 * 0.12)


def test_seed_faq_6_2_strong_correlation_cannot_lower_risk():
    pool = pp.from_assumptions(SEED, corr=1.0)
    assert pool.volatility == pytest.approx(pool.standalone_volatility, abs=1e-12)  # = 0.25
    curve = pp.diversification_curve(pool.weights, pool.cov, rhos=[0.0, 0.5, 0.9, 1.0])
    assert curve["relative_benefit"].is_monotonic_decreasing
    assert curve.loc[1.0, "absolute_benefit"] == pytest.approx(0.0, abs=1e-12)
    assert curve.loc[1.0, "diversification_ratio"] == pytest.approx(1.0)


def test_from_assumptions_class_blocks():
    table = pd.DataFrame(
        {"return": [0.1, 0.1, 0.05], "risk": [0.2, 0.2, 0.1], "asset_class": ["eq", "eq", "bond"]},
        index=["E1", "E2", "B1"],
    )
    pool = pp.from_assumptions(table, corr={"within": 0.8, "between": -0.2})
    assert pool.cov.loc["E1", "E2"] == pytest.approx(0.8 * 0.2 * 0.2)
    assert pool.cov.loc["E1", "B1"] == pytest.approx(-0.2 * 0.2 * 0.1)
    by_class = pd.DataFrame([[0.8, -0.2], [-0.2, 1.0]], index=["eq", "bond"], columns=["eq", "bond"])
    pd.testing.assert_frame_equal(pp.from_assumptions(table, corr=by_class).cov, pool.cov)


def test_from_assumptions_bad_correlations_are_named():
    with pytest.raises(CovarianceError, match=r"\('资产1', '资产2'\).*\[-1, 1\]"):
        pp.from_assumptions(SEED, corr=np.array([[1, 1.2, 0], [1.2, 1, 0], [0, 0, 1]]))
    bad = np.array([[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]])
    with pytest.raises(CovarianceError, match=r"smallest eigenvalue is -"):
        pp.from_assumptions(SEED, corr=bad)
    with pytest.raises(ParameterError, match="corr"):
        pp.from_assumptions(SEED, corr=1.5)
    with pytest.raises(pk.exceptions.DataError, match="'volatility'"):
        pp.from_assumptions([{"name": "x", "return": 0.1}], corr=0.0)


# ---------------------------------------------------------------- closed forms


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.7, 1.0])
def test_equal_assets_common_correlation_closed_form(rho):
    n, vol = 5, 0.2
    cov = _equal_assets(n, vol, rho)
    w = pd.Series(1.0 / n, index=cov.columns)
    factor = math.sqrt(rho + (1 - rho) / n)  # Elton & Gruber (1977)
    assert pk.risk.pooled_volatility(w, cov) == pytest.approx(vol * factor)
    assert pp.diversification_ratio(w, cov) == pytest.approx(1.0 / factor)
    benefit = pp.diversification_benefit(w, cov)
    assert benefit["standalone"] == pytest.approx(vol)
    assert benefit["relative"] == pytest.approx(1.0 - factor, abs=1e-12)


def test_diversification_curve_matches_closed_form():
    n, vol = 8, 0.3
    cov = _equal_assets(n, vol, 0.4)
    w = pd.Series(1.0 / n, index=cov.columns)
    rhos = np.linspace(0, 1, 11)
    curve = pp.diversification_curve(w, cov, rhos)
    np.testing.assert_allclose(curve["pooled_volatility"], vol * np.sqrt(rhos + (1 - rhos) / n), rtol=1e-12)
    np.testing.assert_allclose(curve["diversification_ratio"], 1 / np.sqrt(rhos + (1 - rhos) / n), rtol=1e-12)
    assert curve.attrs["implied_correlation"] == pytest.approx(0.4)


def test_no_benefit_at_correlation_one_for_unequal_assets():
    cov = pk.risk.covariance_from(pd.Series({"A": 0.1, "B": 0.3, "C": 0.2}), 1.0)
    w = pd.Series({"A": 0.5, "B": 0.2, "C": 0.3})
    assert pp.diversification_ratio(w, cov) == pytest.approx(1.0)
    assert pp.diversification_benefit(w, cov)["absolute"] == pytest.approx(0.0, abs=1e-12)


def test_effective_number_of_assets():
    assert pp.effective_number_of_assets(pd.Series(0.25, index=list("ABCD"))) == pytest.approx(4.0)
    assert pp.effective_number_of_assets(pd.Series({"A": 1.0, "B": 0.0})) == pytest.approx(1.0)


@pytest.mark.parametrize("method", ["minimum_torsion", "pca"])
def test_enb_is_n_for_uncorrelated_equal_risk(method):
    vols = pd.Series({"A": 0.1, "B": 0.2, "C": 0.3, "D": 0.4})
    cov = pk.risk.covariance_from(vols, 0.0)
    w = (1 / vols) / (1 / vols).sum()  # risk parity of uncorrelated assets: w_i proportional to 1/sigma_i
    assert pp.effective_number_of_bets(w, cov, method=method) == pytest.approx(4.0, rel=1e-9)
    one = pd.Series({"A": 1.0, "B": 0.0, "C": 0.0, "D": 0.0})
    assert pp.effective_number_of_bets(one, cov, method=method) == pytest.approx(1.0)


@pytest.mark.parametrize("rho", [-0.5, 0.2, 0.8])
def test_minimum_torsion_two_equal_assets_closed_form(rho):
    # By symmetry the diagonal scaling stays equal, so the exact solution is
    # t = c_11 C^{-1/2} with c = C^{1/2}, c_11 = (sqrt(1+rho) + sqrt(1-rho)) / 2,
    # C^{-1/2} = [[a, b], [b, a]], a = (1/sqrt(1+rho) + 1/sqrt(1-rho)) / 2, b = (1/sqrt(1+rho) - 1/sqrt(1-rho)) / 2.
    cov = _equal_assets(2, 0.2, rho)
    t = pp.minimum_torsion(cov).to_numpy()
    c11 = (math.sqrt(1 + rho) + math.sqrt(1 - rho)) / 2
    a = (1 / math.sqrt(1 + rho) + 1 / math.sqrt(1 - rho)) / 2
    b = (1 / math.sqrt(1 + rho) - 1 / math.sqrt(1 - rho)) / 2
    np.testing.assert_allclose(t, c11 * np.array([[a, b], [b, a]]), atol=1e-9)


def test_minimum_torsion_factors_are_uncorrelated_and_closest(returns):
    cov = pk.risk.covariance(returns)
    sigma = np.sqrt(np.diag(cov.to_numpy()))
    tracking = {}
    for method in ("exact", "approximate"):
        t = pp.minimum_torsion(cov, method=method).to_numpy()
        f_cov = t @ cov.to_numpy() @ t.T
        off = f_cov - np.diag(np.diag(f_cov))
        assert np.abs(off).max() < 1e-8 * np.abs(f_cov).max()
        d = t - np.eye(len(t))
        tracking[method] = float(np.sum(np.diag(d @ cov.to_numpy() @ d.T) / sigma**2))
    assert tracking["exact"] <= tracking["approximate"] + 1e-12


def test_enb_between_one_and_n_on_real_data(returns):
    cov = pk.risk.covariance(returns)
    w = pd.Series(1 / returns.shape[1], index=returns.columns)
    for method in ("minimum_torsion", "pca"):
        enb = pp.effective_number_of_bets(w, cov, method=method)
        assert 1.0 <= enb <= returns.shape[1]


# ---------------------------------------------------------------- building pools


@pytest.mark.parametrize("linkage", ["ward", "average"])
def test_cluster_pools_recover_planted_blocks(linkage):
    metrics = pytest.importorskip("sklearn.metrics")
    frame, truth = _blocks()
    given = pp.cluster_pools(frame, n_pools=3, linkage=linkage)
    assert metrics.adjusted_rand_score(truth, given.astype(str)) == 1.0
    for criterion in ("quality", "silhouette"):
        chosen = pp.cluster_pools(frame, linkage=linkage, criterion=criterion)
        assert chosen.attrs["criterion"] == criterion and chosen.attrs["n_pools"] == 3
        assert sorted(chosen.attrs["scores"]) == list(range(2, 11))
        assert metrics.adjusted_rand_score(truth, chosen.astype(str)) == 1.0
    assert given.index.equals(frame.columns)


def test_silhouette_scores_match_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    frame, _ = _blocks(n_blocks=4, per_block=6, noise=1.5, seed=3)
    scores = pp.pool_count_scores(frame, max_pools=6)["silhouette"]
    dist = np.sqrt(np.clip(0.5 * (1 - frame.corr().to_numpy()), 0, None))
    np.fill_diagonal(dist, 0.0)
    for k, value in scores.items():
        labels = pp.cluster_pools(frame, n_pools=k).astype(str)
        assert value == pytest.approx(metrics.silhouette_score(dist, labels, metric="precomputed"), abs=1e-10)
    samples = metrics.silhouette_samples(dist, pp.cluster_pools(frame, n_pools=4).astype(str), metric="precomputed")
    assert pp.pool_count_scores(frame, max_pools=6).loc[4, "quality"] == pytest.approx(samples.mean() / samples.std())


def test_cluster_tree_matches_scipy_on_correlation_distance():
    hierarchy = pytest.importorskip("scipy.cluster.hierarchy")
    from scipy.spatial.distance import squareform

    frame, _ = _blocks(n_blocks=2, per_block=4, seed=5)
    dist = np.sqrt(np.clip(0.5 * (1 - frame.corr().to_numpy()), 0, None))
    np.fill_diagonal(dist, 0.0)
    ref = hierarchy.linkage(squareform(dist, checks=False), method="average")
    np.testing.assert_allclose(pp.cluster_tree(frame, linkage="average"), ref, atol=1e-10)


def test_pools_by_volatility_terciles_match_pandas(returns):
    pools = pp.pools_by(returns, by="volatility", bins=3)
    ref = pd.qcut(returns.std(), 3, labels=["low", "medium", "high"])
    assert pools.astype(str).tolist() == ref.astype(str).tolist()
    assert list(pools.cat.categories) == ["low", "medium", "high"]


def test_pools_by_table_columns():
    table = pd.DataFrame(
        {"return": [0.1, 0.15, 0.12, 0.05], "risk": [0.2, 0.3, 0.25, 0.05], "horizon": [5, 10, 3, 1],
         "asset_class": ["eq", "eq", "eq", "bond"]},
        index=["a", "b", "c", "d"],
    )
    assert pp.pools_by(table, by="asset_class").tolist() == ["eq", "eq", "eq", "bond"]
    assert pp.pools_by(table, by="horizon", bins=[0, 4, 20], labels=["short", "long"]).tolist() == [
        "long", "long", "short", "short"]
    assert pp.pools_by(table, by="expected_return", bins=2).tolist() == ["low", "high", "high", "low"]


def test_pools_by_empty_bin_is_named():
    table = pd.DataFrame({"risk": [0.2, 0.3, 0.25]}, index=["a", "b", "c"])
    with pytest.raises(ParameterError, match=r"pool 'mid'.*no asset"):
        pp.pools_by(table, by="volatility", bins=[0.0, 0.22, 0.24, 0.5], labels=["low", "mid", "high"])
    with pytest.raises(ParameterError, match="outside every pool"):
        pp.pools_by(table, by="volatility", bins=[0.0, 0.22])


def test_build_pools_is_cluster_pools_or_pools_by(returns):
    clustered = pp.build_pools(returns, "cluster", 4, linkage="average")
    pd.testing.assert_series_equal(clustered, pp.cluster_pools(returns, n_pools=4, linkage="average"))
    assert clustered.attrs["method"] == "cluster" and clustered.attrs["n_pools"] == 4
    chosen = pp.build_pools(returns)  # n_pools None: chosen from the data, as cluster_pools does
    assert chosen.attrs["n_pools"] == pp.cluster_pools(returns).attrs["n_pools"]
    by_vol = pp.build_pools(returns, "volatility", 0)  # 0 = three quantile bins for a criterion
    pd.testing.assert_series_equal(by_vol, pp.pools_by(returns, by="volatility", bins=3))
    assert by_vol.attrs["method"] == "volatility"
    table = pd.DataFrame({"horizon": [5, 10, 3, 1]}, index=["a", "b", "c", "d"])
    got = pp.build_pools(table, "horizon", bins=[0, 4, 20], labels=["short", "long"])
    assert got.tolist() == ["long", "long", "short", "short"]


def test_build_pools_refuses_mixed_or_unknown_options(returns):
    with pytest.raises(ParameterError, match=r"\['bins'\] only apply to pools built by a criterion"):
        pp.build_pools(returns, "cluster", bins=3)
    with pytest.raises(ParameterError, match="not both"):
        pp.build_pools(returns, "volatility", 2, bins=[0.0, 0.3, 1.0])
    with pytest.raises(ParameterError, match=r"`method` must be one of .*Did you mean 'volatility'"):
        pp.build_pools(returns, "volatilty")


# ---------------------------------------------------------------- allocating with pools


def test_pool_returns_equal_is_group_mean(returns):
    pools = pp.pools_by(returns, by="volatility", bins=3)
    got = pp.pool_returns(returns, pools)
    ref = returns.T.groupby(pools.astype(str)).mean().T
    for label in ["low", "medium", "high"]:
        np.testing.assert_allclose(got[label].to_numpy(), ref[label].to_numpy(), rtol=1e-12)
    assert got.index.equals(returns.index)


def test_two_level_equal_equal_in_one_pool_is_one_level(returns):
    one = pd.Series("all", index=returns.columns)
    w = pp.two_level_allocation(returns, one, inner="equal", outer="equal")
    np.testing.assert_allclose(w.to_numpy(), 1 / returns.shape[1])
    assert w.attrs["pool_weights"] == {"all": 1.0}


def test_two_level_equal_equal_gives_each_pool_one_kth(returns):
    pools = {"a": list(returns.columns[:2]), "b": list(returns.columns[2:5]), "c": list(returns.columns[5:])}
    w = pp.two_level_allocation(returns, pools)
    sizes = {"a": 2, "b": 3, "c": returns.shape[1] - 5}
    expected = [1 / (3 * sizes[p]) for a in returns.columns for p, m in pools.items() if a in m]
    np.testing.assert_allclose(w.to_numpy(), expected)
    assert w.sum() == pytest.approx(1.0)
    assert pp.pool_weights(w, pools).to_dict() == pytest.approx(w.attrs["pool_weights"])


def test_two_level_inverse_volatility_in_one_pool_closed_form(returns):
    one = pd.Series("all", index=returns.columns)
    w = pp.two_level_allocation(returns, one, inner="inverse_volatility")
    inv = 1 / returns.std()
    np.testing.assert_allclose(w.to_numpy(), (inv / inv.sum()).to_numpy(), rtol=1e-10)


@pytest.mark.parametrize("method", pk.allocation.METHODS)
def test_two_level_one_pool_equals_allocation_module(returns, method):
    # every pooling step goes through the allocation registry: one pool = the flat method
    r = returns.iloc[-300:]
    one = pd.Series("all", index=r.columns)
    w = pp.two_level_allocation(r, one, inner=method)
    ref = pk.allocation.allocate(r, method)
    np.testing.assert_allclose(w.to_numpy(), ref.reindex(r.columns).to_numpy(), atol=1e-12)
    assert w.attrs["inner"] == method


def test_unknown_pooling_methods_are_named_before_any_work(returns):
    with pytest.raises(ParameterError, match=r"`inner` must be one of .*Did you mean 'risk_parity'"):
        pp.two_level_allocation(returns, pd.Series("all", index=returns.columns), inner="risk_party")
    with pytest.raises(ParameterError, match=r"`outer` must be one of"):
        pp.two_level_backtest(returns, "cluster", outer="nope")
    with pytest.raises(ParameterError, match=r"`within` must be one of .*Did you mean 'min_variance'"):
        pp.pool_returns(returns, pd.Series("all", index=returns.columns), within="min_varianse")
    with pytest.raises(ParameterError, match="`pools` must be one of"):
        pp.two_level_backtest(returns, "clusters")


# ---------------------------------------------------------------- summary, stress, crisis


def test_pool_summary_against_pandas(returns):
    cols = returns.columns
    pools = {"solo": [cols[0]], "pair": list(cols[1:3]), "rest": list(cols[3:])}
    table = pp.pool_summary(returns, pools, level=0.95, periods_per_year=252)
    assert table.index.tolist() == ["solo", "pair", "rest", "portfolio"]
    assert table.loc["solo", "single_asset"] and not table.loc["pair", "single_asset"]
    assert table.loc["solo", "diversification_ratio"] == pytest.approx(1.0)
    assert np.isnan(table.loc["solo", "average_correlation"])
    pair = returns[list(cols[1:3])]
    assert table.loc["pair", "average_correlation"] == pytest.approx(pair.corr().iloc[0, 1])
    assert table.loc["pair", "volatility"] == pytest.approx(pair.mean(axis=1).std() * math.sqrt(252))
    assert table.loc["solo", "volatility"] == pytest.approx(returns[cols[0]].std() * math.sqrt(252))
    assert table["risk_share"].iloc[:3].sum() == pytest.approx(1.0)
    assert table.loc["portfolio", "weight"] == pytest.approx(1.0)
    assert (table["var_95"] <= table["cvar_95"]).all()
    port = returns.mean(axis=1)
    assert table.loc["portfolio", "var_95"] == pytest.approx(pk.risk.value_at_risk(port, level=0.95))


def test_correlation_stress_modes():
    cov = pk.risk.covariance_from(pd.Series({"A": 0.1, "B": 0.2, "C": 0.3}), 0.2)
    vols = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(pp.correlation_stress(cov, to=1.0).to_numpy(), np.outer(vols, vols), atol=1e-12)
    shifted = pp.correlation_stress(cov, shift=0.3)
    np.testing.assert_allclose(np.diag(shifted), vols**2)
    assert shifted.loc["A", "B"] == pytest.approx(0.5 * 0.1 * 0.2)
    half = pp.correlation_stress(cov, to=1.0, blend=0.5)
    assert half.loc["A", "C"] == pytest.approx(0.6 * 0.1 * 0.3)  # halfway from 0.2 to 1.0
    with pytest.warns(PoolkitWarning, match="repaired"):
        fixed = pp.correlation_stress(cov, to=-0.9)  # below -1/(N-1): not PSD
    assert fixed.attrs["repaired"] and fixed.attrs["min_eigenvalue"] == pytest.approx(1 - 2 * 0.9)
    assert np.linalg.eigvalsh(fixed.to_numpy())[0] >= -1e-12
    np.testing.assert_allclose(np.diag(fixed), vols**2)
    with pytest.raises(ParameterError, match="exactly one"):
        pp.correlation_stress(cov, to=1.0, shift=0.1)


def test_correlation_stress_regime_uses_window_correlations(returns):
    cov = pk.risk.covariance(returns)
    window = returns.loc["2020-02-15":"2020-04-30"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PoolkitWarning)  # a real crisis window needs no repair
        stressed = pp.correlation_stress(cov, regime=window)
    vols = np.sqrt(np.diag(stressed.to_numpy()))
    np.testing.assert_allclose(vols, np.sqrt(np.diag(cov.to_numpy())))
    np.testing.assert_allclose(stressed.to_numpy() / np.outer(vols, vols), window.corr().to_numpy(), atol=1e-10)


def test_correlation_stress_regime_with_a_flat_asset_is_refused_by_name(returns):
    cov = pk.risk.covariance(returns)
    window = returns.loc["2020-02-15":"2020-04-30"].copy()
    window[cov.columns[1]] = 0.0  # not traded in the window
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused before any numpy division by zero
        with pytest.raises(InsufficientDataError, match=rf"\[{cov.columns[1]!r}\] do not move over its"):
            pp.correlation_stress(cov, regime=window)


def test_crisis_comparison_2008_on_sample():
    r = pk.data.load_returns("sample", start="2006-01-01", end="2010-12-31")
    table = pp.crisis_comparison(r, "2008-09-01", "2009-03-31")
    assert table.index.tolist() == ["calm", "crisis", "calm vols, crisis correlations"]
    assert table.loc["crisis", "average_correlation"] > table.loc["calm", "average_correlation"]
    assert table.loc["crisis", "pooled_volatility"] > table.loc["calm", "pooled_volatility"]
    assert table.loc["calm vols, crisis correlations", "standalone_volatility"] == pytest.approx(
        table.loc["calm", "standalone_volatility"])
    crisis = r.loc["2008-09-01":"2009-03-31"]
    assert table.loc["crisis", "pooled_volatility"] == pytest.approx(crisis.mean(axis=1).std() * math.sqrt(252))


# ---------------------------------------------------------------- bad input


def test_bad_pools_are_named(returns):
    cols = list(returns.columns)
    with pytest.raises(ParameterError, match="pool 'empty' has no assets"):
        pp.pool_summary(returns, {"all": cols, "empty": []})
    cat = pd.Series(pd.Categorical(["x"] * len(cols), categories=["x", "y"]), index=cols)
    with pytest.raises(ParameterError, match="pool 'y' has no assets"):
        pp.pool_returns(returns, cat)
    wrong = pd.Series("x", index=[*cols[1:], "NOT_AN_ASSET"])
    with pytest.raises(AlignmentError, match=r"missing \['" + cols[0] + r"'\], not in the data \['NOT_AN_ASSET'\]"):
        pp.two_level_allocation(returns, wrong)
    with pytest.raises(AlignmentError, match="more than one pool"):
        pp.pool_returns(returns, {"a": cols, "b": cols[:1]})


def test_n_pools_larger_than_assets(returns):
    with pytest.raises(ParameterError, match=r"`n_pools`=25 is more than the 20 assets"):
        pp.cluster_pools(returns, n_pools=25)
    with pytest.raises(InsufficientDataError):
        pp.cluster_pools(returns.iloc[:, :2])


def test_bad_parameters_are_named(returns):
    cov = pk.risk.covariance(returns)
    w = pd.Series(1 / 20, index=returns.columns)
    with pytest.raises(ParameterError, match="linkage"):
        pp.cluster_pools(returns, linkage="wardd")
    with pytest.raises(ParameterError, match="method"):
        pp.effective_number_of_bets(w, cov, method="pcaa")
    with pytest.raises(ParameterError, match=r"rhos.*-0\.5"):
        pp.diversification_curve(w, cov, rhos=[-0.5, 0.0])
    with pytest.raises(ParameterError, match="level"):
        pp.pool_summary(returns, pd.Series("a", index=returns.columns), level=95)


def test_inputs_are_not_mutated(returns):
    before = returns.copy()
    pools = pp.cluster_pools(returns, n_pools=4)
    pp.two_level_allocation(returns, pools, inner="inverse_volatility")
    pp.pool_summary(returns, pools)
    pd.testing.assert_frame_equal(returns, before)


@pytest.mark.parametrize("method", ["equal", "inverse_volatility"])
def test_two_level_backtest_with_one_pool_matches_allocation_backtest(returns, method):
    r = returns.loc["2019-01-01":"2021-12-31"]
    one = pd.Series("all", index=r.columns)
    ours = pp.two_level_backtest(r, one, inner=method, lookback=126, costs=0.001)
    ref = pk.allocation.backtest(r, method, lookback=126, costs=0.001)
    np.testing.assert_allclose(ours.returns.to_numpy(), ref.returns.to_numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.turnover.to_numpy(), ref.turnover.to_numpy(), atol=1e-12)
    assert ours.returns.index.equals(ref.returns.index)


def test_two_level_backtest_fixed_pools_against_a_day_by_day_simulation(returns):
    r = returns.loc["2020-01-01":"2021-06-30"].iloc[:, :6]
    pools = dict(zip(r.columns, ["x", "x", "x", "y", "y", "z"], strict=True))
    res = pp.two_level_backtest(r, pools, inner="inverse_volatility", lookback=63, rebalance="Q", costs=0.002)
    assert res.returns.name == "two_level(inverse_volatility/equal)"
    # each target is the two-level allocation of the 63 dates ending at the rebalance date
    for date, row in res.weights.iterrows():
        window = r.loc[:date].iloc[-63:]
        expected = pp.two_level_allocation(window, pools, inner="inverse_volatility")
        np.testing.assert_allclose(row.to_numpy(), expected.to_numpy(), atol=1e-12)
    # hold the dollar amounts day by day, trading to the targets at each rebalance close
    held, out, turnover, pending = np.zeros(r.shape[1]), [], [], 0.0
    targets = dict(zip(res.weights.index, res.weights.to_numpy(), strict=True))
    for date, day in zip(r.index, r.to_numpy(), strict=True):
        if held.any():
            value = held.sum()
            held = held * (1.0 + day)
            out.append(held.sum() / value - 1.0 - pending)
            pending = 0.0
        if date in targets:
            drift = held / held.sum() if held.any() else held
            turnover.append(np.abs(targets[date] - drift).sum())
            pending = 0.002 * turnover[-1]
            held = targets[date].copy()
    out = out[: len(res.returns)]
    np.testing.assert_allclose(res.returns.to_numpy(), out, atol=1e-12)
    np.testing.assert_allclose(res.turnover.to_numpy(), turnover, atol=1e-12)


def test_two_level_backtest_reclusters_without_look_ahead(returns):
    r = returns.loc["2020-01-01":"2021-12-31"]
    res = pp.two_level_backtest(r, "cluster", n_pools=3, lookback=126, rebalance="Q")
    np.testing.assert_allclose(res.weights.sum(axis=1), 1.0)
    # the first decision uses only the first 126 dates: recompute it by hand
    first = r.iloc[:126] if res.weights.index[0] == r.index[125] else r.loc[: res.weights.index[0]].iloc[-126:]
    expected = pp.two_level_allocation(first, pp.cluster_pools(first, n_pools=3))
    np.testing.assert_allclose(res.weights.iloc[0].to_numpy(), expected.to_numpy())


def test_two_level_backtest_rebuilds_criterion_pools_in_each_window(returns):
    r = returns.loc["2019-01-01":"2020-12-31"]
    res = pp.two_level_backtest(r, "volatility", "inverse_volatility", n_pools=2, lookback=126, rebalance="Q")
    assert res.params["pools"] == "volatility"
    for date, row in res.weights.iterrows():  # each decision sees only its own lookback window
        window = r.loc[:date].iloc[-126:]
        expected = pp.two_level_allocation(window, pp.pools_by(window, by="volatility", bins=2), inner="inverse_volatility")
        np.testing.assert_allclose(row.to_numpy(), expected.to_numpy(), atol=1e-12)


@pytest.mark.parametrize("n, rho", [(5, 0.3), (10, 0.8)])
def test_enb_of_equal_weights_on_equicorrelated_assets(n, rho):
    cov = _equal_assets(n, 0.2, rho)
    w = pd.Series(1.0 / n, index=cov.columns)
    # Exchangeable assets: by symmetry every minimum-torsion bet carries 1/N of the variance -> ENB = N.
    assert pp.effective_number_of_bets(w, cov) == pytest.approx(n, rel=1e-8)
    # Principal components: w is the top eigenvector (eigenvalue 1 + (N-1) rho), so one bet.
    assert pp.effective_number_of_bets(w, cov, method="pca") == pytest.approx(1.0, rel=1e-8)


@pytest.mark.notebook
@pytest.mark.slow
def test_pooling_notebook_with_criterion_pools(tmp_path, notebooks_dir):
    import json

    from poolkit.reporting import run_notebook

    params = {"pool_by": "volatility", "n_pools": 2, "start": "2006-01-01", "end": "2012-12-31",
              "lookback": 126, "out_dir": str(tmp_path / "out")}
    out = run_notebook(notebooks_dir / "04_pooling.ipynb", tmp_path / "04.ipynb", params)
    executed = json.loads(out.read_text(encoding="utf-8"))
    errors = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    figures = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert figures["n_pools"] == 2
    assert figures["crisis_relative_benefit"] < figures["calm_relative_benefit"]
    table = pd.read_csv(tmp_path / "out" / "pool_summary.csv", index_col=0)
    assert table.index.tolist() == ["low", "high", "portfolio"]


@pytest.mark.parametrize("method", ["inverse_volatility", "inverse_variance"])
def test_closed_form_inner_methods_match_allocation_module(returns, method):
    one = pd.Series("all", index=returns.columns)
    ours = pp.two_level_allocation(returns, one, inner=method)
    ref = pk.allocation.allocate(returns, method)
    np.testing.assert_allclose(ours.to_numpy(), ref.reindex(returns.columns).to_numpy(), rtol=1e-10)
    # and both are the closed form on the sample variances (ddof=1): w_i ~ sigma_i^-1 or sigma_i^-2
    power = 1.0 if method == "inverse_volatility" else 2.0
    raw = returns.std(ddof=1) ** -power
    np.testing.assert_allclose(ours.to_numpy(), (raw / raw.sum()).to_numpy(), rtol=1e-10)


def test_pooling_plots_return_axes_and_colour_leaves_by_pool(returns):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pools = pp.cluster_pools(returns, n_pools=3)
    ax = pk.plotting.pool_dendrogram(returns, pools)
    colours = {t.get_text(): t.get_color() for t in ax.get_xticklabels()}
    assert set(colours) == set(returns.columns)
    for a in returns.columns:  # same pool <=> same colour
        for b in returns.columns:
            assert (colours[a] == colours[b]) == (pools[a] == pools[b])
    table = pp.pool_summary(returns, pools)
    assert len(pk.plotting.pooled_vs_standalone(table).patches) == 2 * len(table)
    assert len(pk.plotting.pool_risk_contributions(table).patches) == 2 * 3
    w = pd.Series(1 / 20, index=returns.columns)
    curve = pp.diversification_curve(w, pk.risk.covariance(returns, annualize=True))
    assert pk.plotting.diversification_curve(curve).get_xlabel() == "common correlation ρ"
    plt.close("all")

"""Tests of what pooling cannot remove: systematic decomposition, the diversification floor,
systemic-risk indicators and the crises found from the data.

Closed forms (one factor, equal loadings), direct numpy computations window by window
(plain loops, as an independent reference), the 2008 and 2020 crises on the bundled
sample, and invariance to the order, scale and names of the assets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import poolkit as pk
from poolkit.exceptions import (
    AlignmentError,
    CovarianceError,
    DataError,
    InsufficientDataError,
    ParameterError,
)
from poolkit.pooling import _indicators
from poolkit.risk import FactorModel

pp = pk.pooling


def _one_factor_model(n: int, beta: float, f_vol: float, e_vol: float) -> FactorModel:
    names = pd.Index([f"A{i:02d}" for i in range(n)])
    fac = pd.Index(["MKT"], name="factor")
    dates = pd.bdate_range("2020-01-01", periods=3, name="date")
    return FactorModel(
        loadings=pd.DataFrame(beta, index=names, columns=fac),
        factor_cov=pd.DataFrame([[f_vol**2]], index=fac, columns=fac),
        specific_variance=pd.Series(e_vol**2, index=names),
        intercept=pd.Series(0.0, index=names),
        r_squared=pd.Series(beta**2 * f_vol**2 / (beta**2 * f_vol**2 + e_vol**2), index=names),
        factor_returns=pd.DataFrame(0.0, index=dates, columns=fac),
        kind="regression",
        pca="",
        n_obs=3,
    )


def _universe(t: int = 600, n: int = 8, seed: int = 0, freq: str = "B") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = rng.normal(0.0, 0.01, (t, 1))
    x = common * rng.uniform(0.5, 1.5, n) + rng.normal(0.0, 1.0, (t, n)) * rng.uniform(0.005, 0.02, n)
    return pd.DataFrame(x, index=pd.date_range("2010-01-01", periods=t, freq=freq, name="date"),
                        columns=[f"S{i:02d}" for i in range(n)])


@pytest.fixture(scope="module")
def sample():
    """The whole bundled sample: 20 US stocks, daily, 1990-2022."""
    return pk.data.load_returns("sample")


# ---------------------------------------------------------------- closed forms


def test_one_factor_equal_loadings_closed_form():
    # sigma_P^2(N) = beta^2 s_f^2 + s_e^2 / N (equal weights): the systematic share and the floor
    n, beta, f_vol, e_vol = 25, 1.2, 0.15, 0.30
    model = _one_factor_model(n, beta, f_vol, e_vol)
    split = pp.systematic_decomposition(model=model, pools={f"A{i:02d}": "low" if i < 10 else "high" for i in range(n)})
    sys_var = beta**2 * f_vol**2  # 0.0324
    port = split.pools.loc["portfolio"]
    assert port["systematic"] == pytest.approx(sys_var, rel=1e-12)
    assert port["idiosyncratic"] == pytest.approx(e_vol**2 / n, rel=1e-12)
    assert port["systematic_share"] == pytest.approx(sys_var / (sys_var + e_vol**2 / n), rel=1e-12)
    assert port["floor_volatility"] == pytest.approx(beta * f_vol, rel=1e-12)
    low = split.pools.loc["low"]  # 10 assets held equally inside the pool
    assert low["variance"] == pytest.approx(sys_var + e_vol**2 / 10, rel=1e-12)
    assert split.assets["systematic_share"].to_numpy() == pytest.approx(sys_var / (sys_var + e_vol**2))
    curve = split.floor
    sizes = curve.index.to_numpy()
    np.testing.assert_allclose(curve["model_volatility"], np.sqrt(sys_var + e_vol**2 / sizes), rtol=1e-12)
    np.testing.assert_allclose(curve["floor_volatility"], beta * f_vol, rtol=1e-12)
    assert "empirical_volatility" not in curve.columns  # no returns, no empirical draws
    np.testing.assert_allclose(split.factor_contributions.loc["MKT"], sys_var, rtol=1e-12)


def test_floor_closed_form_at_full_universe_is_equal_weight_variance():
    r = _universe(n=10)
    model = pk.risk.factor_model(r, n_factors=2)
    curve = pp.diversification_floor(r, model=model)
    w = np.full(10, 0.1)
    cov = model.covariance.to_numpy()
    assert curve.loc[10, "model_volatility"] ** 2 == pytest.approx(w @ cov @ w, rel=1e-12)
    assert curve.attrs["universe_variance"] == pytest.approx(w @ cov @ w, rel=1e-12)
    # the empirical pool of all assets is the same pool in every draw: its sample variance
    assert curve.loc[10, "empirical_volatility"] ** 2 == pytest.approx(w @ r.cov().to_numpy() @ w, rel=1e-10)
    assert curve.loc[10, "empirical_p05"] == pytest.approx(curve.loc[10, "empirical_p95"])


def test_empirical_floor_averages_random_pools():
    # E over random n-subsets of the equal-weight sample variance = s_off + (s_diag - s_off) / n exactly
    r = _universe(n=12, seed=4)
    curve = pp.diversification_floor(r, n_factors=1, n_draws=4000, seed=1)
    s = r.cov().to_numpy()
    diag, off = np.trace(s) / 12, (s.sum() - np.trace(s)) / (12 * 11)
    expected = off + (diag - off) / curve.index.to_numpy()
    np.testing.assert_allclose(curve["empirical_volatility"] ** 2, expected, rtol=0.03)
    assert (curve["empirical_p05"] <= curve["empirical_volatility"]).all()
    assert curve["model_volatility"].is_monotonic_decreasing
    # same seed and assets in another order: the same draws
    again = pp.diversification_floor(r[r.columns[::-1]], n_factors=1, n_draws=4000, seed=1)
    pd.testing.assert_frame_equal(curve, again)


def test_decomposition_parts_add_up(sample):
    r = sample.loc["2015":]
    pools = pp.cluster_pools(r, n_pools=4)
    w = pd.Series(np.linspace(1.0, 2.0, r.shape[1]), index=r.columns)
    w /= w.sum()
    split = pp.systematic_decomposition(w, r, pools=pools, annualize=True)
    for table in (split.assets, split.pools):
        np.testing.assert_allclose(table["systematic"] + table["idiosyncratic"], table["variance"], rtol=1e-12)
        np.testing.assert_allclose(table["systematic_share"] + table["idiosyncratic_share"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(split.factor_contributions.sum(), split.pools["systematic"], rtol=1e-10)
    np.testing.assert_allclose(split.factor_shares.sum(), 1.0, rtol=1e-10)
    # the portfolio's variance is w' (B Sigma_f B' + D) w, annualised by 252
    cov = split.model.covariance.to_numpy() * 252
    assert split.pools.loc["portfolio", "variance"] == pytest.approx(w @ cov @ w, rel=1e-12)
    # each asset's variance is its annualised sample variance (the model keeps them)
    np.testing.assert_allclose(split.assets["variance"], r.var() * 252, rtol=1e-10)
    np.testing.assert_allclose(split.assets["systematic_share"], split.model.r_squared, rtol=1e-10)
    assert split.pools.index.tolist()[-1] == "portfolio"
    assert split.pools.loc["portfolio", "weight"] == pytest.approx(1.0)
    # pooling lowers the idiosyncratic share: the portfolio keeps less of it than its average asset
    assert split.pools.loc["portfolio", "idiosyncratic_share"] < split.assets["idiosyncratic_share"].mean()


def test_fama_french_decomposition_on_monthly_sample(prices):
    monthly = pk.data.resample_returns(pk.data.to_returns(prices), "monthly")
    ff = pk.data.load_returns("sample:ff_factors")
    split = pp.systematic_decomposition(returns=monthly, factors=ff, risk_free="RF", annualize=True)
    assert list(split.factor_contributions.index) == ["MktRF", "SMB", "HML", "Mom"]
    # the market carries most of the portfolio's systematic risk
    contrib = split.factor_contributions["portfolio"]
    assert contrib["MktRF"] > 0.8 * contrib.sum()
    assert split.floor.attrs["annualized"] is True


def test_decomposition_refuses_mixed_inputs(sample):
    r = sample.iloc[-300:]
    model = pk.risk.factor_model(r, n_factors=2)
    with pytest.raises(ParameterError, match="not both"):
        pp.systematic_decomposition(returns=r, model=model, n_factors=3)
    with pytest.raises(ParameterError, match="give `returns`"):
        pp.systematic_decomposition()
    with pytest.raises(AlignmentError, match="other assets"):
        pp.systematic_decomposition(returns=r.iloc[:, :5], model=model)
    with pytest.raises(AlignmentError, match="NOT_AN_ASSET"):
        pp.systematic_decomposition(pd.Series(1.0, index=[*r.columns[:-1], "NOT_AN_ASSET"]), r)
    with pytest.raises(ParameterError, match="sizes"):
        pp.diversification_floor(r, sizes=[0, 5])


# ---------------------------------------------------------------- indicators against direct numpy


def _reference(x: np.ndarray, w: int, k: int):
    """Plain loops over windows: average correlation, absorption ratios, trailing turbulence."""
    t, n = x.shape
    avg, ar_cov, ar_corr, turb, turb_pinv = [], [], [], [], []
    for end in range(w, t + 1):
        win = x[end - w : end]
        corr = np.corrcoef(win, rowvar=False)
        avg.append(corr[np.triu_indices(n, 1)].mean())
        lam = np.linalg.eigvalsh(np.cov(win, rowvar=False))
        ar_cov.append(lam[-k:].sum() / lam.sum())
        lam = np.linalg.eigvalsh(corr)
        ar_corr.append(lam[-k:].sum() / lam.sum())
    for day in range(w, t):
        win = x[day - w : day]
        d = x[day] - win.mean(axis=0)
        c = np.cov(win, rowvar=False)
        turb_pinv.append(d @ np.linalg.pinv(c) @ d)
        if w > n:
            turb.append(d @ np.linalg.solve(c, d))
    return [np.array(v) for v in (avg, ar_cov, ar_corr, turb, turb_pinv)]


@pytest.mark.parametrize(
    ("t", "n", "w", "chunk"),
    [(300, 8, 40, None), (700, 8, 40, 600), (300, 70, 100, None), (150, 30, 20, None), (150, 30, 20, 3000)],
    ids=["windows-longer-than-assets", "many-blocks", "wide-matrices", "fewer-dates-than-assets", "gram-blocks"],
)
def test_rolling_indicators_match_a_plain_loop(monkeypatch, t, n, w, chunk):
    if chunk:
        monkeypatch.setattr(_indicators, "_CHUNK", chunk)  # many blocks, refreshes of the rolling sums
    r = _universe(t=t, n=n, seed=n)
    x = r.to_numpy()
    k = 3
    avg, ar_cov, ar_corr, turb, turb_pinv = _reference(x, w, k)
    np.testing.assert_allclose(pp.average_correlation(r, w), avg, atol=1e-12)
    np.testing.assert_allclose(pp.absorption_ratio(r, w, k), ar_cov, atol=1e-12)
    np.testing.assert_allclose(pp.absorption_ratio(r, w, k, on="correlation"), ar_corr, atol=1e-12)
    np.testing.assert_allclose(pp.turbulence(r, w, singular="pinv"), turb_pinv, rtol=1e-9)
    if w > n:
        np.testing.assert_allclose(pp.turbulence(r, w), turb, rtol=1e-9)
    out = pp.absorption_ratio(r, w, k)
    assert out.index.equals(r.index[w - 1 :]) and out.name == "absorption_ratio"
    assert pp.turbulence(r, w, singular="pinv").index.equals(r.index[w:])


def test_full_history_turbulence_matches_numpy_and_its_exact_mean():
    r = _universe(t=500, n=6)
    x = r.to_numpy()
    d = x - x.mean(axis=0)
    ref = np.einsum("ti,ij,tj->t", d, np.linalg.inv(np.cov(x, rowvar=False)), d)
    ours = pp.turbulence(r)
    np.testing.assert_allclose(ours, ref, rtol=1e-10)
    # sum_t d_t = tr(S^-1 sum_t dx dx') = N (T - 1) exactly, in sample
    assert ours.mean() == pytest.approx(6 * 499 / 500, rel=1e-10)


def test_absorption_ratio_reads_the_coupling():
    rng = np.random.default_rng(5)
    idx = pd.bdate_range("2020-01-01", periods=2000, name="date")
    loose = pd.DataFrame(rng.normal(size=(2000, 10)), index=idx)
    tight = loose + 3.0 * rng.normal(size=(2000, 1))
    # no common factor: k / N = 0.2, plus the noise of sample eigenvalues, which stay below the
    # Marchenko-Pastur edge (1 + sqrt(N / T))^2 = 1.146 each
    assert 0.2 < pp.absorption_ratio(loose, 2000, 2).iloc[0] < 0.2 * (1 + np.sqrt(10 / 2000)) ** 2
    assert pp.absorption_ratio(tight, 2000, 2).iloc[0] > 0.9
    # one factor of variance 9 + unit noise: average correlation 9 / 10
    assert pp.average_correlation(tight, 2000).iloc[0] == pytest.approx(0.9, abs=0.01)


def test_singular_covariance_is_named_or_pseudo_inverted():
    r = _universe(t=400, n=5)
    dup = r.assign(COPY=r["S01"])
    with pytest.raises(CovarianceError, match="singular"):
        pp.turbulence(dup)
    with pytest.raises(CovarianceError, match="singular"):
        pp.turbulence(dup, 100)
    with pytest.raises(CovarianceError, match="window > 5"):
        pp.turbulence(r, 5)
    # an exact copy adds no direction: the pseudo-inverse distance equals the one without it
    np.testing.assert_allclose(pp.turbulence(dup, singular="pinv"), pp.turbulence(r), rtol=1e-8)
    np.testing.assert_allclose(pp.turbulence(dup, 100, singular="pinv"), pp.turbulence(r, 100), rtol=1e-7)


def test_indicator_inputs_are_checked():
    r = _universe(t=300, n=5)
    with pytest.raises(DataError, match="not sorted"):
        pp.absorption_ratio(r.sample(frac=1.0, random_state=1), 50)
    with pytest.raises(DataError, match="duplicated dates"):
        pp.turbulence(pd.concat([r, r.iloc[[5]]]).sort_index())
    with pytest.raises(DataError, match="zero volatility.*S02"):
        pp.average_correlation(r.assign(S02=np.r_[np.zeros(100), r["S02"].to_numpy()[100:]]), 50)
    with pytest.raises(InsufficientDataError, match="window"):
        pp.average_correlation(r, 500)
    with pytest.raises(ParameterError, match="below the number of assets"):
        pp.absorption_ratio(r, 50, 5)
    with pytest.raises(ParameterError, match="rank"):
        pp.absorption_ratio(_universe(t=300, n=30), 10, 10)
    with pytest.raises(TypeError, match="DataFrame"):
        pp.turbulence(r["S00"])
    with pytest.raises(ParameterError, match="`q`"):
        pp.tail_dependence(r, q=5)


def test_systemic_indicators_share_dates():
    r = _universe(t=300, n=5)
    both = pp.systemic_indicators(r, window=60, turbulence_window=80)
    assert list(both.columns) == ["average_correlation", "absorption_ratio", "turbulence"]
    assert both.index.equals(r.index[80:])
    pd.testing.assert_series_equal(both["absorption_ratio"], pp.absorption_ratio(r, 60).loc[both.index])
    assert not both.isna().any().any()


# ---------------------------------------------------------------- tail dependence


def test_tail_dependence_limits_and_pools():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(20000, 1))
    r = pd.DataFrame({"A": z[:, 0], "B": 2 * z[:, 0], "C": -z[:, 0], "D": rng.normal(size=20000)},
                     index=pd.bdate_range("1950-01-02", periods=20000, name="date"))
    lam = pp.tail_dependence(r, q=0.05)
    assert lam.loc["A", "B"] == pytest.approx(1.0)  # comonotone: they always crash together
    assert lam.loc["A", "C"] == 0.0  # countermonotone: never
    assert lam.loc["A", "D"] == pytest.approx(0.05, abs=0.015)  # independent: q
    np.testing.assert_allclose(np.diag(lam), 1.0, atol=1e-3)
    pools = {"A": "x", "B": "x", "C": "y", "D": "y"}
    by_pool = pp.tail_dependence(r, q=0.05, pools=pools)
    ref = pp.tail_dependence(pp.pool_returns(r, pools), q=0.05)
    np.testing.assert_allclose(by_pool.to_numpy(), ref.to_numpy())
    assert list(by_pool.index) == ["x", "y"]
    assert pp.co_exceedance(r, q=0.05).mean() == pytest.approx(0.05, abs=1e-3)


# ---------------------------------------------------------------- crises found from the data


def _overlaps(crises: pd.DataFrame, lo: str, hi: str) -> bool:
    return bool(((crises["start"] <= pd.Timestamp(hi)) & (crises["end"] >= pd.Timestamp(lo))).any())


def test_2008_and_2020_crises_are_found_without_being_told(sample):
    crises = pp.find_crises(sample)
    assert _overlaps(crises, "2008-09-15", "2008-12-31"), crises  # Lehman Brothers to the year end
    assert _overlaps(crises, "2020-02-24", "2020-04-30"), crises  # the Covid crash
    assert not _overlaps(crises, "2004-01-01", "2006-12-31")  # the calm mid-2000s are not a crisis
    row = crises[(crises["start"] <= "2008-12-31") & (crises["end"] >= "2008-09-15")].iloc[0]
    assert row["max_drawdown"] < -0.25 and row["average_correlation"] > 0.4
    assert (crises["length"] >= 21).all() and crises.index.name == "crisis"
    assert crises["start"].is_monotonic_increasing
    # the absorption ratio and the average correlation see the same two crises
    for indicator in ("absorption_ratio", "average_correlation"):
        found = pp.find_crises(sample, indicator)
        assert _overlaps(found, "2008-10-01", "2009-03-31") and _overlaps(found, "2020-03-01", "2020-06-30"), indicator


def test_a_crisis_row_feeds_crisis_comparison_in_one_call(sample):
    crises = pp.find_crises(sample)
    k = crises.index[(crises["start"] <= "2008-12-31") & (crises["end"] >= "2008-09-15")][0]
    table = pp.crisis_comparison(sample, *crises.loc[k, ["start", "end"]])
    assert table.loc["crisis", "periods"] == crises.loc[k, "length"]
    assert table.loc["crisis", "average_correlation"] > table.loc["calm", "average_correlation"]
    assert table.loc["crisis", "average_correlation"] == pytest.approx(crises.loc[k, "average_correlation"])


def test_planted_crisis_and_precomputed_indicator():
    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2020-01-01", periods=900, name="date")
    vol = np.where((np.arange(900) >= 400) & (np.arange(900) < 480), 0.04, 0.01)
    r = pd.DataFrame(rng.normal(0.0, 1.0, (900, 5)) * vol[:, None], index=dates, columns=list("ABCDE"))
    crises = pp.find_crises(r)
    assert len(crises) == 1
    assert dates[400] <= crises.loc[1, "start"] <= dates[421]  # the trailing mean flags it within a month
    assert dates[479] <= crises.loc[1, "end"] <= dates[500]
    same = pp.find_crises(r, pp.turbulence(r))
    pd.testing.assert_frame_equal(same, crises)
    quiet = pp.find_crises(r, pd.Series(1.0, index=dates, name="flat"))
    assert quiet.empty and list(quiet.columns) == list(crises.columns)
    with pytest.raises(AlignmentError, match="dates that `returns` lacks"):
        pp.find_crises(r.iloc[:500], pp.turbulence(r))
    with pytest.raises(ParameterError, match="quantile"):
        pp.find_crises(r, quantile=90)
    with pytest.raises(ParameterError, match="indicator"):
        pp.find_crises(r, "turbulance")


# ---------------------------------------------------------------- invariants


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(perm=st.permutations(range(6)), scale=st.sampled_from([1e-4, 1.0, 100.0]))
def test_indicators_ignore_order_scale_and_names(perm, scale):
    r = _universe(t=260, n=6, seed=9)
    moved = (r.iloc[:, list(perm)] * scale).rename(columns=lambda c: f"new_{c}")
    for func in (
        lambda x: pp.average_correlation(x, 60),
        lambda x: pp.absorption_ratio(x, 60, 2),
        lambda x: pp.absorption_ratio(x, 60, 2, on="correlation"),
        lambda x: pp.turbulence(x),
        lambda x: pp.turbulence(x, 60),
        lambda x: pp.co_exceedance(x, 0.1),
    ):
        pd.testing.assert_series_equal(func(moved), func(r), rtol=1e-8)
    back = {f"new_{c}": c for c in r.columns}
    lam = pp.tail_dependence(moved, 0.1).rename(index=back, columns=back).loc[r.columns, r.columns]
    pd.testing.assert_frame_equal(lam, pp.tail_dependence(r, 0.1))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(perm=st.permutations(range(8)), scale=st.sampled_from([1e-3, 1.0, 30.0]))
def test_decomposition_ignores_order_and_names_and_scales_by_c_squared(perm, scale):
    r = _universe(t=400, n=8, seed=2)
    pools = {c: ("a" if i % 2 else "b") for i, c in enumerate(r.columns)}
    base = pp.systematic_decomposition(returns=r, pools=pools, n_factors=2)
    moved = (r.iloc[:, list(perm)] * scale).rename(columns=lambda c: f"z{c}")
    split = pp.systematic_decomposition(returns=moved, pools={f"z{k}": v for k, v in pools.items()}, n_factors=2)
    assets = split.assets.rename(index=lambda c: c[1:]).loc[r.columns]
    for col in ("variance", "systematic", "idiosyncratic"):
        np.testing.assert_allclose(assets[col], scale**2 * base.assets[col], rtol=1e-8)
        np.testing.assert_allclose(split.pools.loc[base.pools.index, col], scale**2 * base.pools[col], rtol=1e-8)
    np.testing.assert_allclose(assets["systematic_share"], base.assets["systematic_share"], rtol=1e-8)
    np.testing.assert_allclose(split.floor["model_volatility"], scale * base.floor["model_volatility"], rtol=1e-8)
    np.testing.assert_allclose(split.floor["empirical_volatility"], scale * base.floor["empirical_volatility"], rtol=1e-8)


def test_shuffled_dates_are_refused_everywhere():
    r = _universe(t=300, n=5)
    shuffled = r.sample(frac=1.0, random_state=3)
    for call in (
        lambda: pp.average_correlation(shuffled, 50),
        lambda: pp.turbulence(shuffled),
        lambda: pp.tail_dependence(shuffled),
        lambda: pp.co_exceedance(shuffled),
        lambda: pp.find_crises(shuffled),
        lambda: pp.systematic_decomposition(returns=shuffled),
        lambda: pp.diversification_floor(shuffled),
    ):
        with pytest.raises(DataError, match="not sorted"):
            call()


# ---------------------------------------------------------------- figures


def test_figures_draw(sample):
    import matplotlib.pyplot as plt

    r = sample.loc["2019":]
    split = pp.systematic_decomposition(returns=r, pools=pp.cluster_pools(r, n_pools=3), annualize=True)
    ax = pk.plotting.diversification_floor_chart(split.floor)
    assert len(ax.lines) >= 3
    ax = pk.plotting.factor_risk_chart(split)
    assert len(ax.patches) == (split.factor_shares.shape[0]) * split.factor_shares.shape[1]
    crises = pp.find_crises(sample)
    fig = pk.plotting.systemic_indicators_chart(pp.systemic_indicators(sample), crises)
    assert len(fig.axes) == 3
    plt.close("all")

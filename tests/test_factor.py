"""Tests of poolkit.risk.factor_model and covariance(method="factor").

Planted factor models (seeded simulations) whose loadings and specific variances must be
recovered within their sampling error, a peer cross-check with scikit-learn, the bundled
Fama-French factors aligned by period, and the inputs that must be refused by name.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import poolkit as pk
from poolkit.exceptions import AlignmentError, CovarianceError, DataError, ParameterError

T, N, K = 4000, 12, 2


def _planted(t: int = T, n: int = N, k: int = K, seed: int = 3, freq: str = "B"):
    """r = alpha + f B' + e with known B, factor volatilities and specific variances."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2001-01-01", periods=t, freq=freq, name="date")
    b = np.column_stack([rng.uniform(0.5, 1.5, n), rng.normal(0.0, 0.7, (n, k - 1))])
    f_vol = np.array([0.01] + [0.006] * (k - 1))
    d = rng.uniform(0.005, 0.015, n) ** 2
    f = rng.normal(0.0, 1.0, (t, k)) * f_vol
    e = rng.normal(0.0, 1.0, (t, n)) * np.sqrt(d)
    alpha = rng.normal(0.0, 1e-4, n)
    names = [f"S{i:02d}" for i in range(n)]
    fnames = ["MKT"] + [f"F{j}" for j in range(1, k)]
    returns = pd.DataFrame(alpha + f @ b.T + e, index=dates, columns=names)
    factors = pd.DataFrame(f, index=dates, columns=fnames)
    truth = {"B": pd.DataFrame(b, index=names, columns=fnames), "d": pd.Series(d, index=names), "alpha": alpha}
    return returns, factors, truth


@pytest.fixture(scope="module")
def planted():
    return _planted()


# ---------------------------------------------------------------- regression on given factors


def test_planted_loadings_and_specific_variances_are_recovered(planted):
    returns, factors, truth = planted
    model = pk.risk.factor_model(returns, factors)
    assert model.kind == "regression" and model.n_obs == T
    # OLS standard error of a loading: sqrt(d_i / (T var(f_k))) (factors independent)
    f_var = factors.var().to_numpy()
    se_b = np.sqrt(truth["d"].to_numpy()[:, None] / (T * f_var[None, :]))
    err_b = np.abs(model.loadings.to_numpy() - truth["B"].to_numpy()) / se_b
    assert err_b.max() < 5.0
    # a variance estimate of T Gaussian draws has standard error d sqrt(2 / T)
    err_d = np.abs(model.specific_variance - truth["d"]) / (truth["d"] * np.sqrt(2.0 / T))
    assert err_d.max() < 5.0
    assert model.loadings.index.equals(returns.columns) and list(model.loadings.columns) == ["MKT", "F1"]


def test_regression_matches_scikit_learn(planted):
    linear = pytest.importorskip("sklearn.linear_model")
    returns, factors, _ = planted
    model = pk.risk.factor_model(returns, factors)
    ref = linear.LinearRegression().fit(factors.to_numpy(), returns.to_numpy())
    np.testing.assert_allclose(model.loadings.to_numpy(), ref.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.intercept.to_numpy(), ref.intercept_, rtol=1e-9, atol=1e-12)
    resid = returns.to_numpy() - ref.predict(factors.to_numpy())
    np.testing.assert_allclose(model.specific_variance.to_numpy(), resid.var(axis=0, ddof=1), rtol=1e-9)


def test_implied_covariance_is_psd_and_keeps_every_sample_variance(planted):
    returns, factors, _ = planted
    for model in (pk.risk.factor_model(returns, factors), pk.risk.factor_model(returns, n_factors=2)):
        cov = model.covariance
        assert cov.index.equals(returns.columns) and cov.columns.equals(returns.columns)
        np.testing.assert_allclose(np.diag(cov), returns.var(ddof=1), rtol=1e-10)
        assert np.linalg.eigvalsh(cov.to_numpy())[0] > 0
        np.testing.assert_allclose(model.r_squared, 1 - model.specific_variance / returns.var(ddof=1), rtol=1e-10)
        b = model.loadings.to_numpy()
        np.testing.assert_allclose(
            cov.to_numpy(), b @ model.factor_cov.to_numpy() @ b.T + np.diag(model.specific_variance), atol=1e-15
        )


# ---------------------------------------------------------------- statistical factors


def test_statistical_factors_span_the_planted_factors_and_are_counted():
    # principal components estimate the factors' span consistently as N grows (Bai & Ng 2002);
    # 40 assets are enough here
    returns, _, truth = _planted(n=40)
    model = pk.risk.factor_model(returns, pca="covariance")
    assert model.kind == "statistical" and model.pca == "covariance"
    assert model.loadings.shape[1] == K  # the Marchenko-Pastur edge finds the two planted factors
    assert list(model.loadings.columns) == ["PC1", "PC2"]
    # principal angles between span(B) and span(B_hat): cosines near 1
    q1, _ = np.linalg.qr(truth["B"].to_numpy())
    q2, _ = np.linalg.qr(model.loadings.to_numpy())
    cosines = np.linalg.svd(q1.T @ q2, compute_uv=False)
    assert cosines.min() > 0.99
    assert (model.loadings["PC1"] > 0).all()  # sign: PC1 loads positively, like the market


def test_statistical_factors_are_the_principal_components(planted):
    decomposition = pytest.importorskip("sklearn.decomposition")
    returns, _, _ = planted
    z = (returns - returns.mean()) / returns.std(ddof=1)
    model = pk.risk.factor_model(returns, n_factors=3)
    ref = decomposition.PCA(n_components=3).fit(z.to_numpy())
    # PCA's explained variance (ddof=1) = the eigenvalues of the correlation matrix = Sigma_f
    np.testing.assert_allclose(np.diag(model.factor_cov), ref.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(model.factor_returns.var(ddof=1), ref.explained_variance_, rtol=1e-9)
    # the loadings are those of an OLS of the returns on the component series (the scores of
    # standardised returns are unitless, larger than 1: scaled down to pass as factor returns)
    refit = pk.risk.factor_model(returns, model.factor_returns / 100, align="date")
    np.testing.assert_allclose(refit.loadings.to_numpy() / 100, model.loadings.to_numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(refit.specific_variance, model.specific_variance, rtol=1e-8)


def test_one_factor_equal_loadings_by_hand():
    # r_i = f + e_i with var f = s_f^2 and var e_i = s_e^2: R^2 = s_f^2 / (s_f^2 + s_e^2) = 0.8 here
    rng = np.random.default_rng(11)
    t, n = 20000, 5
    f = rng.normal(0.0, 0.02, (t, 1))
    r = pd.DataFrame(f + rng.normal(0.0, 0.01, (t, n)), columns=list("ABCDE"),
                     index=pd.bdate_range("1990-01-01", periods=t, name="date"))
    model = pk.risk.factor_model(r, pd.DataFrame({"F": f[:, 0]}, index=r.index))
    np.testing.assert_allclose(model.r_squared, 0.8, atol=0.01)
    np.testing.assert_allclose(model.loadings["F"], 1.0, atol=0.01)


# ---------------------------------------------------------------- the bundled Fama-French factors


@pytest.fixture(scope="module")
def monthly(prices):
    return pk.data.resample_returns(pk.data.to_returns(prices), "monthly")


@pytest.fixture(scope="module")
def ff():
    return pk.data.load_returns("sample:ff_factors")


def test_fama_french_factors_align_by_month(monthly, ff):
    model = pk.risk.factor_model(monthly, ff, risk_free="RF")
    # the stocks start in January 1990, the factors end in March 2017: 327 common months
    assert model.n_obs == 327
    assert model.factor_returns.index[0] == monthly.index[0]  # the returns' month-end dates are kept
    assert list(model.factors) == ["MktRF", "SMB", "HML", "Mom"]
    assert model.loadings["MktRF"].between(0.3, 2.5).all()  # every stock has a market beta
    # excess returns: the same fit as regressing r - RF on the four factors by hand
    months = monthly.index.to_period("M")
    rf = ff["RF"].set_axis(ff.index.to_period("M")).reindex(months).set_axis(monthly.index).dropna()
    by_hand = pk.risk.factor_model(
        monthly.loc[rf.index].sub(rf, axis=0),
        ff.drop(columns="RF").set_axis(ff.index.to_period("M")).reindex(rf.index.to_period("M")).set_axis(rf.index),
        align="date",
    )
    np.testing.assert_allclose(model.loadings.to_numpy(), by_hand.loadings.to_numpy(), rtol=1e-10)


def test_daily_returns_against_monthly_factors_are_refused(returns, ff):
    with pytest.raises(AlignmentError, match=r"daily.*monthly.*resample_returns"):
        pk.risk.factor_model(returns, ff, risk_free="RF")


def test_month_start_and_month_end_dates_need_period_alignment(monthly, ff):
    with pytest.raises(AlignmentError, match="align='period'"):
        pk.risk.factor_model(monthly, ff, risk_free="RF", align="date")


def test_no_common_dates_are_named(monthly, ff):
    with pytest.raises(AlignmentError, match="no monthly period in common"):
        pk.risk.factor_model(monthly.loc["2018":], ff, risk_free="RF")


def test_a_risk_free_column_is_never_silently_a_factor(monthly, ff):
    with pytest.raises(ParameterError, match="risk_free='RF'"):
        pk.risk.factor_model(monthly, ff)
    with pytest.raises(AlignmentError, match="does not have"):
        pk.risk.factor_model(monthly, ff, risk_free="RISKFREE")


def test_factors_in_percent_are_refused(monthly, ff):
    with pytest.raises(DataError, match="percentages"):
        pk.risk.factor_model(monthly, ff * 100, risk_free="RF")


# ---------------------------------------------------------------- bad input


def test_shuffled_or_duplicated_dates_are_refused(planted):
    returns, factors, _ = planted
    with pytest.raises(DataError, match="not sorted"):
        pk.risk.factor_model(returns.sample(frac=1.0, random_state=0))
    with pytest.raises(DataError, match="duplicated dates"):
        pk.risk.factor_model(pd.concat([returns.iloc[:10], returns.iloc[9:]]))
    with pytest.raises(DataError, match="`factors` dates are not sorted"):
        pk.risk.factor_model(returns, factors.iloc[::-1])


def test_collinear_factors_are_refused(planted):
    returns, factors, _ = planted
    with pytest.raises(CovarianceError, match="collinear"):
        pk.risk.factor_model(returns, factors.assign(TWICE=2 * factors["MKT"]))


def test_component_counts_are_checked(planted):
    returns, factors, _ = planted
    with pytest.raises(ParameterError, match="select their columns"):
        pk.risk.factor_model(returns, factors, n_factors=1)
    with pytest.raises(ParameterError, match="below the number of assets"):
        pk.risk.factor_model(returns, n_factors=N)
    with pytest.raises(ParameterError, match="pca"):
        pk.risk.factor_model(returns, pca="svd")


def test_constant_asset_is_named(planted):
    returns, factors, _ = planted
    with pytest.raises(DataError, match="S00"):
        pk.risk.factor_model(returns.assign(S00=0.001), factors)


# ---------------------------------------------------------------- covariance(method="factor")


def test_covariance_factor_method_delegates(planted):
    returns, factors, _ = planted
    ours = pk.risk.covariance(returns, method="factor")
    pd.testing.assert_frame_equal(ours, pk.risk.factor_model(returns).covariance)
    annual = pk.risk.covariance(returns, method="factor", n_factors=1, annualize=True, periods_per_year=252)
    np.testing.assert_allclose(annual, 252 * pk.risk.factor_model(returns, n_factors=1).covariance.to_numpy())
    given_f = pk.risk.covariance(returns, method="factor", factors=factors)
    pd.testing.assert_frame_equal(given_f, pk.risk.factor_model(returns, factors).covariance)
    with pytest.raises(ParameterError, match="method='factor' only"):
        pk.risk.covariance(returns, method="sample", n_factors=2)


def test_every_allocation_method_takes_the_factor_covariance(returns):
    recent = returns.iloc[-500:]
    for method in pk.allocation.METHODS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = pk.allocation.allocate(recent, method, cov_method="factor")
        assert w.index.equals(recent.columns)
        assert w.sum() == pytest.approx(1.0, abs=1e-8) and (w >= -1e-9).all(), method


# ---------------------------------------------------------------- invariants


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(perm=st.permutations(range(N)), scale=st.sampled_from([1e-3, 1.0, 50.0]), pca=st.sampled_from(["correlation", "covariance"]))
def test_order_scale_and_labels_do_not_matter(planted, perm, scale, pca):
    returns, factors, _ = planted
    base_reg = pk.risk.factor_model(returns, factors)
    base_pca = pk.risk.factor_model(returns, n_factors=2, pca=pca)
    shuffled = returns.iloc[:, list(perm)] * scale
    relabelled = shuffled.rename(columns=lambda c: f"x_{c}")
    reg = pk.risk.factor_model(relabelled, factors)
    stat = pk.risk.factor_model(relabelled, n_factors=2, pca=pca)
    back = {f"x_{c}": c for c in returns.columns}
    for ours, base in ((reg, base_reg), (stat, base_pca)):
        cov = ours.covariance.rename(index=back, columns=back).loc[returns.columns, returns.columns]
        np.testing.assert_allclose(cov.to_numpy(), scale**2 * base.covariance.to_numpy(), rtol=1e-8, atol=1e-18)
        r2 = ours.r_squared.rename(index=back).loc[returns.columns]
        np.testing.assert_allclose(r2, base.r_squared, rtol=1e-8)
    np.testing.assert_allclose(
        reg.loadings.rename(index=back).loc[returns.columns], scale * base_reg.loadings, rtol=1e-8
    )

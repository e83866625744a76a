"""Tests of poolkit.risk: closed forms, hand-worked examples, peers, invariants, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import poolkit as pk
from poolkit.exceptions import (
    AlignmentError,
    CovarianceError,
    DataError,
    InsufficientDataError,
    ParameterError,
)

risk = pk.risk

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sample(returns):
    """Last ten years of the bundled sample, first eight assets (fast)."""
    return returns.iloc[:, :8]


@pytest.fixture(scope="module")
def sp500():
    """The bundled S&P 500 index returns as a Series."""
    b = pk.data.load_returns("sample:sp500_index")
    return b.iloc[:, 0] if isinstance(b, pd.DataFrame) else b


@pytest.fixture()
def small():
    idx = pd.bdate_range("2024-01-01", periods=8, name="date")
    return pd.DataFrame(
        {
            "A": [0.01, -0.02, 0.015, 0.0, -0.01, 0.02, 0.005, -0.005],
            "B": [0.02, -0.01, 0.0, 0.01, -0.03, 0.01, 0.02, 0.0],
        },
        index=idx,
    )


# --------------------------------------------------------------------------- closed forms


# Normal VaR and ES of N(0, 1): VaR_a = z_a, ES_a = phi(z_a) / (1 - a)
# (McNeil, Frey & Embrechts, Quantitative Risk Management, rev. ed. 2015, eq. 2.24 and ex. 2.14):
# a = 0.95: 1.644854, 2.062713; a = 0.975: 1.959964, 2.337803; a = 0.99: 2.326348, 2.665214.
GAUSS = [(0.95, 1.644854, 2.062713), (0.975, 1.959964, 2.337803), (0.99, 2.326348, 2.665214)]


def _standardised(n: int = 2000, seed: int = 0) -> pd.Series:
    """Symmetric sample scaled to mean 0 and sample std (ddof=1) exactly 1."""
    x = np.random.default_rng(seed).standard_normal(n)
    x = np.r_[x, -x]
    x = (x - x.mean()) / x.std(ddof=1)
    return pd.Series(x, name="Z")


@pytest.mark.parametrize(("level", "var", "es"), GAUSS)
def test_gaussian_var_es_match_closed_form(level, var, es):
    # returns of 1 % volatility (a return of N(0, 1) can fall below -100 %): VaR and ES scale with it
    z = 0.01 * _standardised()
    assert risk.value_at_risk(z, level, "gaussian") == pytest.approx(0.01 * var, abs=1e-8)
    assert risk.conditional_value_at_risk(z, level, "gaussian") == pytest.approx(0.01 * es, abs=1e-8)


def _zero_skew_zero_kurtosis(n: int = 4000) -> pd.Series:
    """Symmetric sample with sample skewness 0 and adjusted excess kurtosis G2 = 0, mean 0, std 1.

    Normal quantiles at (i - 1/2)/n (symmetric, so skewness 0) raised to the power p, sign kept;
    p is solved so that pandas' adjusted excess kurtosis is 0 (p = 1 gives slightly thin tails).
    """
    from scipy import optimize, stats

    q = stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)

    def shaped(p: float) -> pd.Series:
        x = np.sign(q) * np.abs(q) ** p
        return pd.Series((x - x.mean()) / x.std(ddof=1), name="Z")

    p = optimize.brentq(lambda p: shaped(p).kurt(), 0.8, 1.5, xtol=1e-14)
    return shaped(p)


@pytest.mark.parametrize(("level", "var", "es"), GAUSS)
def test_cornish_fisher_is_gaussian_at_zero_skew_and_kurtosis(level, var, es):
    # With S = K = 0 the Cornish-Fisher quantile is the normal one, so VaR and ES are the
    # closed forms of N(0, 1) above (mean 0, std 1 by construction).
    z = 0.01 * _zero_skew_zero_kurtosis()  # 1 % volatility, as above
    assert abs(z.skew()) < 1e-12 and abs(z.kurt()) < 1e-10
    assert risk.value_at_risk(z, level, "cornish_fisher") == pytest.approx(0.01 * var, abs=1e-8)
    assert risk.conditional_value_at_risk(z, level, "cornish_fisher") == pytest.approx(0.01 * es, abs=1e-8)


@pytest.mark.parametrize("level", [0.95, 0.975, 0.99])
def test_cornish_fisher_es_is_the_tail_mean_of_the_cf_quantile(sample, level):
    # ES = 1/(1-a) * integral_a^1 VaR_u du, with VaR_u the Cornish-Fisher VaR at level u written
    # out by hand (Zangari 1996) and the integral taken by numerical quadrature (scipy).
    from scipy import integrate, stats

    r = sample.iloc[:, 0]
    mu, sd, s, k = r.mean(), r.std(), r.skew(), r.kurt()  # pandas: ddof=1, adjusted G1 and G2
    assert abs(s) > 0.1 and k > 1.0  # a sample whose tails matter

    def var_u(u):
        z = stats.norm.ppf(1 - u)
        zcf = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
        return -(mu + sd * zcf)

    quad, _ = integrate.quad(var_u, level, 1.0, limit=200, epsabs=0.0, epsrel=1e-12)
    assert risk.conditional_value_at_risk(r, level, "cornish_fisher") == pytest.approx(
        quad / (1 - level), rel=1e-8
    )


def test_cornish_fisher_var_matches_hand_formula(sample):
    r = sample.iloc[:, 0]
    z = -1.6448536269514729  # Phi^-1(0.05)
    s, k = r.skew(), r.kurt()  # pandas: adjusted G1, G2
    zcf = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
    expected = -(r.mean() + r.std() * zcf)
    assert risk.value_at_risk(r, 0.95, "cornish_fisher") == pytest.approx(expected, rel=1e-10)


# --------------------------------------------------------------------------- hand-worked


def test_volatility_ddof_and_annualisation(small):
    a = small["A"].to_numpy()
    dev = a - a.mean()
    by_hand0 = math.sqrt((dev**2).sum() / 8)  # the seed's 1/N formula
    by_hand1 = math.sqrt((dev**2).sum() / 7)
    assert risk.volatility(small["A"], annualize=False, ddof=0) == pytest.approx(by_hand0, rel=1e-12)
    assert risk.volatility(small["A"], annualize=False) == pytest.approx(by_hand1, rel=1e-12)
    assert risk.volatility(small, periods_per_year=12)["A"] == pytest.approx(
        by_hand1 * math.sqrt(12), rel=1e-12
    )
    # business-day dates -> 252 periods a year
    assert risk.volatility(small)["A"] == pytest.approx(by_hand1 * math.sqrt(252), rel=1e-12)


def test_risk_free_is_converted_geometrically(small):
    rf_p = 1.05 ** (1 / 252) - 1
    ex = small["A"] - rf_p
    expected = ex.mean() / ex.std() * math.sqrt(252)
    assert risk.sharpe_ratio(small["A"], risk_free=0.05) == pytest.approx(expected, rel=1e-12)


def test_historical_var_and_cvar_by_hand():
    r = pd.Series([-0.05, -0.04, -0.03, -0.02, -0.01, 0.0, 0.01, 0.02, 0.03, 0.04, 0.05])
    # 10 % quantile at position (n-1)*0.1 = 1.0 -> -0.04 ; CVaR = mean of floor(1.0)+1 = 2 worst
    assert risk.value_at_risk(r, 0.9) == pytest.approx(0.04)
    assert risk.conditional_value_at_risk(r, 0.9) == pytest.approx(0.045)


def test_max_drawdown_and_table_by_hand():
    idx = pd.bdate_range("2024-01-01", periods=6, name="date")
    r = pd.Series([0.10, -0.20, 0.10, 0.20, -0.05, 0.0], index=idx)
    # wealth 1.1, .88, .968, 1.1616, 1.10352, 1.10352 ; peaks 1.1, 1.1, 1.1, 1.1616, ...
    dd = risk.drawdowns(r)
    np.testing.assert_allclose(
        dd.to_numpy(), [0, 0.88 / 1.1 - 1, 0.968 / 1.1 - 1, 0, -0.05, -0.05], atol=1e-12
    )
    assert risk.max_drawdown(r) == pytest.approx(-0.2)
    table = risk.drawdown_table(r)
    assert (
        table.loc[1, "peak"] == idx[0]
        and table.loc[1, "trough"] == idx[1]
        and table.loc[1, "recovery"] == idx[3]
    )
    assert table.loc[1, "depth"] == pytest.approx(-0.2) and table.loc[1, "length (periods)"] == 3
    assert not table.loc[2, "recovered"] and pd.isna(table.loc[2, "recovery"])
    assert table.loc[2, "depth"] == pytest.approx(-0.05)


def test_beta_alpha_te_ir_by_hand():
    idx = pd.bdate_range("2024-01-01", periods=5, name="date")
    b = pd.Series([0.01, -0.02, 0.03, 0.0, 0.01], index=idx)
    noise = pd.Series([0.001, -0.001, 0.0, 0.001, -0.001], index=idx)  # orthogonal to b? check below
    r = 1.5 * b + 0.002 + noise
    expected_beta = np.cov(r, b)[0, 1] / np.var(b, ddof=1)
    assert risk.beta(r, b) == pytest.approx(expected_beta, rel=1e-12)
    resid = r - expected_beta * b
    assert risk.alpha(r, b, periods_per_year=252) == pytest.approx((1 + resid.mean()) ** 252 - 1, rel=1e-10)
    act = r - b
    assert risk.tracking_error(r, b, periods_per_year=252) == pytest.approx(act.std() * math.sqrt(252))
    assert risk.information_ratio(r, b, annualize=False) == pytest.approx(act.mean() / act.std())


def test_covariance_from_and_pooled_volatility_two_assets():
    vols = pd.Series({"A": 0.2, "B": 0.2})
    w = pd.Series({"A": 0.5, "B": 0.5})
    # sigma_P^2 = w1^2 s1^2 + w2^2 s2^2 + 2 w1 w2 rho s1 s2
    for rho in (-1.0, 0.0, 0.3, 1.0):
        expected = math.sqrt(0.25 * 0.04 * 2 + 2 * 0.25 * rho * 0.04)
        assert risk.pooled_volatility(w, risk.covariance_from(vols, rho)) == pytest.approx(
            expected, abs=1e-12
        )


def test_marginal_and_contributions_by_hand():
    cov = pd.DataFrame([[0.04, 0.006], [0.006, 0.01]], index=["A", "B"], columns=["A", "B"])
    w = pd.Series({"B": 0.4, "A": 0.6})  # order differs from cov on purpose
    sw = np.array([0.04 * 0.6 + 0.006 * 0.4, 0.006 * 0.6 + 0.01 * 0.4])
    sigma = math.sqrt(0.6 * sw[0] + 0.4 * sw[1])
    mr = risk.marginal_risk(w, cov)
    np.testing.assert_allclose(mr.to_numpy(), sw / sigma, rtol=1e-12)
    rc = risk.risk_contributions(w, cov)
    assert list(rc.columns) == ["contribution", "share"] and list(rc.index) == ["A", "B"]
    np.testing.assert_allclose(rc["contribution"].to_numpy(), [0.6, 0.4] * sw / sigma, rtol=1e-12)


def test_omega_and_tail_ratio_by_hand():
    r = pd.Series([0.03, -0.01, 0.01, -0.02, 0.02])
    assert risk.omega_ratio(r) == pytest.approx(0.06 / 0.03)
    q = np.quantile(r, [0.9, 0.1])
    assert risk.tail_ratio(r, 0.9) == pytest.approx(abs(q[0]) / abs(q[1]))


def test_skew_kurtosis_match_scipy(sample):
    from scipy import stats

    for bias in (True, False):
        np.testing.assert_allclose(
            risk.skewness(sample, bias=bias), stats.skew(sample, bias=bias), rtol=1e-10
        )
        np.testing.assert_allclose(
            risk.kurtosis(sample, bias=bias), stats.kurtosis(sample, bias=bias), rtol=1e-10
        )


def test_correlation_methods_match_pandas(sample):
    for method in ("pearson", "spearman", "kendall"):
        ours = risk.correlation(sample.iloc[:600, :4], method=method)
        ref = sample.iloc[:600, :4].corr(method=method)
        np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=1e-10, atol=1e-12)


def test_sample_covariance_matches_pandas_and_annualises(sample):
    np.testing.assert_allclose(risk.covariance(sample).to_numpy(), sample.cov().to_numpy(), rtol=1e-10)
    ann = risk.covariance(sample, annualize=True)
    np.testing.assert_allclose(ann.to_numpy(), sample.cov().to_numpy() * 252, rtol=1e-10)


def test_ewma_covariance_matches_pandas_ewm(sample):
    x = sample.iloc[-500:, :5]
    ours = risk.covariance(x, "ewma", halflife=30)
    ref = x.ewm(halflife=30).cov().loc[x.index[-1]]
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=1e-9)
    default = risk.covariance(x, "ewma")  # RiskMetrics lambda = 0.94
    ref94 = x.ewm(alpha=0.06).cov().loc[x.index[-1]]
    np.testing.assert_allclose(default.to_numpy(), ref94.to_numpy(), rtol=1e-9)


# --------------------------------------------------------------------------- peers


@pytest.mark.parametrize("method", ["ledoit_wolf", "oas"])
def test_shrinkage_matches_sklearn(returns, method):
    skcov = pytest.importorskip("sklearn.covariance")
    ours = risk.covariance(returns, method)
    ref, shrink = getattr(skcov, method)(returns.to_numpy())  # same convention: demeaned, ddof=0
    np.testing.assert_allclose(ours.to_numpy(), ref, rtol=1e-10)
    assert ours.attrs["shrinkage"] == pytest.approx(shrink, rel=1e-10)
    # more assets than dates: shrinkage matters most there
    short = returns.iloc[-15:]
    ref_s, _ = getattr(skcov, method)(short.to_numpy())
    np.testing.assert_allclose(risk.covariance(short, method).to_numpy(), ref_s, rtol=1e-10)


def test_empyrical_ratios_and_drawdown(sample):
    ep = pytest.importorskip("empyrical")
    rf_annual = 0.03
    rf_p = (1 + rf_annual) ** (1 / 252) - 1  # empyrical takes a per-period risk-free rate
    for col in sample.columns[:4]:
        r = sample[col]
        assert risk.sharpe_ratio(r, rf_annual) == pytest.approx(ep.sharpe_ratio(r, risk_free=rf_p), rel=1e-10)
        assert risk.sortino_ratio(r) == pytest.approx(ep.sortino_ratio(r), rel=1e-10)
        assert risk.sortino_ratio(r, rf_annual) == pytest.approx(
            ep.sortino_ratio(r, required_return=rf_p), rel=1e-10
        )
        assert risk.downside_deviation(r) == pytest.approx(ep.downside_risk(r), rel=1e-10)
        assert risk.max_drawdown(r) == pytest.approx(ep.max_drawdown(r), rel=1e-10)
        assert risk.annual_return(r) == pytest.approx(ep.annual_return(r), rel=1e-10)
        assert risk.calmar_ratio(r) == pytest.approx(ep.calmar_ratio(r), rel=1e-10)
        assert risk.omega_ratio(r, 0.05) == pytest.approx(ep.omega_ratio(r, required_return=0.05), rel=1e-10)
        assert risk.tail_ratio(r) == pytest.approx(ep.tail_ratio(r), rel=1e-10)
        assert risk.volatility(r) == pytest.approx(ep.annual_volatility(r), rel=1e-10)
        # empyrical reports VaR / CVaR as (negative) returns; poolkit reports positive losses
        assert risk.value_at_risk(r, 0.95) == pytest.approx(-ep.value_at_risk(r, cutoff=0.05), rel=1e-10)
        assert risk.conditional_value_at_risk(r, 0.95) == pytest.approx(
            -ep.conditional_value_at_risk(r, cutoff=0.05), rel=1e-10
        )


def test_empyrical_benchmark_statistics(sample, sp500):
    ep = pytest.importorskip("empyrical")
    b = sp500.reindex(sample.index)
    rf_p = 1.02 ** (1 / 252) - 1
    for col in sample.columns[:3]:
        r = sample[col]
        assert risk.beta(r, b) == pytest.approx(ep.beta(r, b), rel=1e-10)
        assert risk.alpha(r, b, 0.02) == pytest.approx(ep.alpha(r, b, risk_free=rf_p), rel=1e-10)
        assert risk.information_ratio(r, b) == pytest.approx(
            ep.excess_sharpe(r, b) * math.sqrt(252), rel=1e-10
        )


# --------------------------------------------------------------------------- invariants


def test_contributions_sum_to_pooled_volatility(sample):
    cov = risk.covariance(sample, annualize=True)
    w = pd.Series(np.linspace(-0.2, 0.5, sample.shape[1]), index=sample.columns)
    rc = risk.risk_contributions(w, cov)
    assert rc["contribution"].sum() == pytest.approx(risk.pooled_volatility(w, cov), rel=1e-12)
    assert rc["share"].sum() == pytest.approx(1.0, rel=1e-12)


def test_pooled_volatility_bounded_by_weighted_sum(sample):
    cov = risk.covariance(sample, annualize=True)
    vols = risk.volatility(sample)
    w = pd.Series(1 / sample.shape[1], index=sample.columns)
    pooled = risk.pooled_volatility(w, cov)
    assert pooled < (w.abs() * vols).sum()
    # perfectly correlated: no diversification, equality
    one = risk.covariance_from(vols, 1.0)
    assert risk.pooled_volatility(w, one) == pytest.approx((w * vols).sum(), rel=1e-12)


def test_var_below_cvar_on_sample(sample):
    for method in ("historical", "gaussian", "cornish_fisher"):
        for level in (0.9, 0.95, 0.99):
            var = risk.value_at_risk(sample, level, method)
            es = risk.conditional_value_at_risk(sample, level, method)
            assert (var <= es + 1e-15).all(), (method, level)


@settings(max_examples=60, deadline=None)
@given(
    x=arrays(
        np.float64,
        st.tuples(st.integers(5, 60), st.integers(1, 4)),
        elements=st.floats(-0.2, 0.2, allow_nan=False, allow_subnormal=False),
    ),
    level=st.floats(0.51, 0.995),
)
def test_historical_and_gaussian_var_never_exceed_cvar(x, level):
    frame = pd.DataFrame(x)
    size = np.abs(x).max(axis=0)
    if ((size > 0) & (size < 1e-50)).any():  # returns that underflow are refused by name
        with pytest.raises(DataError, match="underflow"):
            risk.value_at_risk(frame, level, "historical")
        return
    for method in ("historical", "gaussian"):
        var = risk.value_at_risk(frame, level, method)
        es = risk.conditional_value_at_risk(frame, level, method)
        assert (var.to_numpy() <= es.to_numpy() + 1e-12).all()


@settings(max_examples=40, deadline=None)
@given(
    vols=arrays(np.float64, 4, elements=st.floats(0.01, 1.0)),
    w=arrays(np.float64, 4, elements=st.floats(-1.0, 1.0)),
    rho=st.floats(-0.3, 1.0),
)
def test_pool_invariants_hold_for_any_weights(vols, w, rho):
    names = list("ABCD")
    cov = risk.covariance_from(pd.Series(vols, index=names), rho)
    ws = pd.Series(w, index=names)
    pooled = risk.pooled_volatility(ws, cov)
    assert pooled <= float(np.abs(w) @ vols) * (1 + 1e-12) + 1e-15
    if pooled > 1e-6:
        assert risk.risk_contributions(ws, cov)["contribution"].sum() == pytest.approx(pooled, rel=1e-9)


def test_statistics_keep_labels_and_series_give_floats(sample):
    shuffled = sample[sample.columns[::-1]]
    funcs = [
        risk.volatility,
        risk.sharpe_ratio,
        risk.sortino_ratio,
        risk.max_drawdown,
        risk.skewness,
        risk.kurtosis,
        risk.value_at_risk,
        risk.conditional_value_at_risk,
        risk.calmar_ratio,
        risk.omega_ratio,
        risk.tail_ratio,
        risk.downside_deviation,
        risk.annual_return,
    ]
    for func in funcs:
        out = func(shuffled)
        assert out.index.equals(shuffled.columns), func.__name__
        assert isinstance(func(sample.iloc[:, 0]), float), func.__name__
    cov = risk.covariance(shuffled)
    assert cov.index.equals(shuffled.columns) and cov.columns.equals(shuffled.columns)


PER_ASSET_STATISTICS = [
    "volatility", "downside_deviation", "sharpe_ratio", "sortino_ratio", "omega_ratio", "skewness",
    "kurtosis", "annual_return", "max_drawdown", "calmar_ratio", "value_at_risk",
    "conditional_value_at_risk", "tail_ratio", "beta", "alpha", "tracking_error", "information_ratio",
]


@pytest.mark.parametrize("name", [*PER_ASSET_STATISTICS, "drawdowns", "rolling"])
def test_type_overloads_state_the_contract(name):
    # the types a checker sees: DataFrame in -> Series out, Series in -> float out
    # (drawdowns and rolling: DataFrame -> DataFrame, Series -> Series)
    import typing

    from poolkit._typing import DataFrameLike, SeriesLike

    func = getattr(risk, name)
    seen = {}
    for stub in typing.get_overloads(func):
        hints = typing.get_type_hints(stub)
        seen[hints["returns"]] = hints["return"]
    if name in PER_ASSET_STATISTICS:
        assert seen == {DataFrameLike: pd.Series, SeriesLike: float}
    else:
        assert seen == {DataFrameLike: pd.DataFrame, SeriesLike: pd.Series}


def test_inputs_are_not_mutated(small):
    before = small.copy()
    risk.summary(small)
    risk.rolling(small, 4, "max_drawdown")
    pd.testing.assert_frame_equal(small, before)


# --------------------------------------------------------------------------- rolling


ROLLING_CASES = [
    ("volatility", {}, lambda w: risk.volatility(w)),
    ("volatility", {"ddof": 0, "annualize": False}, lambda w: risk.volatility(w, ddof=0, annualize=False)),
    ("sharpe_ratio", {"risk_free": 0.02}, lambda w: risk.sharpe_ratio(w, 0.02)),
    ("sortino_ratio", {}, lambda w: risk.sortino_ratio(w)),
    ("downside_deviation", {}, lambda w: risk.downside_deviation(w)),
    ("omega_ratio", {}, lambda w: risk.omega_ratio(w)),
    ("skewness", {}, lambda w: risk.skewness(w)),
    ("kurtosis", {}, lambda w: risk.kurtosis(w)),
    ("max_drawdown", {}, lambda w: risk.max_drawdown(w)),
    ("value_at_risk", {"level": 0.9}, lambda w: risk.value_at_risk(w, 0.9)),
    ("value_at_risk", {"method": "gaussian"}, lambda w: risk.value_at_risk(w, 0.95, "gaussian")),
    ("value_at_risk", {"method": "cornish_fisher"}, lambda w: risk.value_at_risk(w, 0.95, "cornish_fisher")),
    ("conditional_value_at_risk", {}, lambda w: risk.conditional_value_at_risk(w)),
    (
        "conditional_value_at_risk",
        {"method": "cornish_fisher"},
        lambda w: risk.conditional_value_at_risk(w, 0.95, "cornish_fisher"),
    ),
    ("tail_ratio", {}, lambda w: risk.tail_ratio(w)),
]


@pytest.mark.parametrize(
    ("stat", "params", "direct"), ROLLING_CASES, ids=lambda c: c if isinstance(c, str) else ""
)
def test_rolling_equals_statistic_on_each_window(sample, stat, params, direct):
    x = sample.iloc[-90:, :3]
    w = 40
    rolled = risk.rolling(x, w, stat, periods_per_year=252, **params)
    assert rolled.index.equals(x.index[w - 1 :]) and rolled.columns.equals(x.columns)
    for end in (w, w + 17, len(x)):  # a few windows checked against the statistic itself
        window = x.iloc[end - w : end]
        np.testing.assert_allclose(rolled.iloc[end - w].to_numpy(), direct(window).to_numpy(), rtol=1e-8)


@pytest.mark.parametrize("stat", ["beta", "alpha", "tracking_error", "information_ratio"])
def test_rolling_benchmark_statistics(sample, sp500, stat):
    x = sample.iloc[-80:, :2]
    w = 30
    rolled = risk.rolling(x, w, stat, benchmark=sp500)
    func = getattr(risk, stat)
    for end in (w, len(x)):
        window = x.iloc[end - w : end]
        np.testing.assert_allclose(rolled.iloc[end - w].to_numpy(), func(window, sp500).to_numpy(), rtol=1e-8)


def test_rolling_volatility_matches_pandas(sample):
    ours = risk.rolling(sample, 63, "volatility", annualize=False)
    ref = sample.rolling(63).std().dropna()
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=1e-8)


def test_rolling_bad_input(small):
    with pytest.raises(InsufficientDataError, match="fewer than the window"):
        risk.rolling(small, 20)
    with pytest.raises(ParameterError, match="needs `benchmark`"):
        risk.rolling(small, 4, "beta")
    with pytest.raises(ParameterError, match="Did you mean 'volatility'"):
        risk.rolling(small, 4, "volatilty")
    with pytest.raises(ParameterError, match="unknown \\['level'\\]"):
        risk.rolling(small, 4, "volatility", level=0.9)


# --------------------------------------------------------------------------- summary


def test_summary_table(sample, sp500):
    table = risk.summary(sample, benchmark=sp500, risk_free=0.02, level=0.99)
    assert table.index.equals(sample.columns)
    assert "VaR 99% (per period)" in table.columns and "beta" in table.columns
    assert table.attrs["periods_per_year"] == 252 and set(table.attrs["units"]) == set(table.columns)
    assert table["Sharpe ratio"].to_numpy() == pytest.approx(risk.sharpe_ratio(sample, 0.02).to_numpy())
    assert table["beta"].to_numpy() == pytest.approx(risk.beta(sample, sp500).to_numpy())


# --------------------------------------------------------------------------- bad input


def test_nan_policies(small):
    bad = small.copy()
    bad.iloc[2, 0] = np.nan
    with pytest.raises(DataError, match="column 'A'"):
        risk.volatility(bad)
    dropped = risk.volatility(bad, nan_policy="drop")
    assert dropped["B"] == pytest.approx(risk.volatility(small.drop(small.index[2]))["B"])
    pair = risk.volatility(bad, nan_policy="pairwise")
    assert pair["B"] == pytest.approx(risk.volatility(small)["B"])
    assert pair["A"] == pytest.approx(risk.volatility(small["A"].drop(small.index[2])))
    cov = risk.covariance(bad, nan_policy="pairwise")
    assert cov.loc["B", "B"] == pytest.approx(small["B"].var())
    with pytest.raises(ParameterError, match="only supported by method='sample'"):
        risk.covariance(bad, "ledoit_wolf", nan_policy="pairwise")


def test_constant_column_has_no_sharpe(small):
    const = small.assign(CASH=0.001)
    with pytest.raises(DataError, match=r"Sharpe ratio is undefined for \['CASH'\]"):
        risk.sharpe_ratio(const)
    with pytest.raises(DataError, match="CASH"):
        risk.summary(const)


def test_too_few_observations():
    with pytest.raises(InsufficientDataError, match="at least 2"):
        risk.volatility(
            pd.Series([0.01], index=pd.bdate_range("2024-01-01", periods=1)), periods_per_year=252
        )
    with pytest.raises(InsufficientDataError, match="at least 4"):
        risk.kurtosis(pd.Series([0.01, 0.02, 0.0]))


@pytest.mark.parametrize(
    ("level", "hint"), [(95, "Did you mean 0.95"), (97.5, "Did you mean 0.975"), (0.3, "")]
)
def test_level_outside_range(small, level, hint):
    with pytest.raises(ParameterError, match=r"\(0.5, 1\)" + (".*" + hint if hint else "")):
        risk.value_at_risk(small, level)


def test_risk_free_in_percent_is_caught(small):
    with pytest.raises(ParameterError, match="Did you mean 0.02"):
        risk.sharpe_ratio(small, risk_free=2)


def test_misaligned_weights_are_named(sample):
    cov = risk.covariance(sample)
    w = pd.Series(0.5, index=[sample.columns[0], "NOT_AN_ASSET"])
    with pytest.raises(AlignmentError, match=r"not in the data \['NOT_AN_ASSET'\]"):
        risk.pooled_volatility(w, cov)
    with pytest.raises(AlignmentError, match=f"missing \\[.*'{sample.columns[1]}'"):
        risk.risk_contributions(w, cov)


def test_non_symmetric_and_non_psd_covariance():
    labels = ["A", "B"]
    w = pd.Series({"A": 0.5, "B": 0.5})
    asym = pd.DataFrame([[0.04, 0.01], [0.02, 0.04]], index=labels, columns=labels)
    with pytest.raises(CovarianceError, match="not symmetric"):
        risk.pooled_volatility(w, asym)
    # correlation 1.5: the correlation matrix has eigenvalues 1 +- 1.5 -> smallest -0.5
    not_psd = pd.DataFrame([[0.04, 0.06], [0.06, 0.04]], index=labels, columns=labels)
    with pytest.raises(CovarianceError, match="correlation matrix has the eigenvalue -0.5"):
        risk.marginal_risk(w, not_psd)
    with pytest.raises(CovarianceError, match="-1/\\(n-1\\)"):
        risk.covariance_from(pd.Series({"A": 0.1, "B": 0.1, "C": 0.1}), -0.9)


def test_benchmark_missing_dates(small):
    b = small["B"].iloc[2:]
    with pytest.raises(AlignmentError, match="lacks 2 of the 8 dates"):
        risk.beta(small, b)


def test_unknown_methods_suggest(small):
    with pytest.raises(ParameterError, match="Did you mean 'ledoit_wolf'"):
        risk.covariance(small, "ledoitwolf")
    with pytest.raises(ParameterError, match="Did you mean 'cornish_fisher'"):
        risk.value_at_risk(small, 0.95, "cornish-fisher")


def test_periods_per_year_needed_without_dates():
    r = pd.Series([0.01, -0.01, 0.02])
    with pytest.raises(ParameterError, match="periods_per_year"):
        risk.volatility(r)
    assert risk.volatility(r, periods_per_year=12) == pytest.approx(r.std() * math.sqrt(12))


def test_import_does_not_load_scipy():
    import subprocess
    import sys

    code = "import sys, poolkit.risk; print('scipy' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]

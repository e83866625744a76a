"""Tests of the path and market-regime statistics: ulcer index, average drawdown, stability,
up/down capture ratios and up/down-market beta.

Hand-worked closed forms, peers (empyrical, quantstats, Riskfolio-Lib, scipy; skipped when
absent), invariants, relabelling and rescaling, NaN policies, rolling windows and the summary.
"""

from __future__ import annotations

import math
import typing

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import poolkit as pk
from poolkit._typing import DataFrameLike, SeriesLike
from poolkit.exceptions import AlignmentError, DataError, InsufficientDataError, ParameterError

risk = pk.risk

PATH_STATS = ["ulcer_index", "average_drawdown", "stability"]
REGIME_STATS = ["up_capture", "down_capture", "up_beta", "down_beta"]


@pytest.fixture(scope="module")
def sample(returns):
    """Last ten years of the bundled sample, first eight assets."""
    return returns.iloc[:, :8]


@pytest.fixture(scope="module")
def sp500(sample):
    """The bundled S&P 500 index returns on the sample's dates."""
    b = pk.data.load_returns("sample:sp500_index")
    b = b.iloc[:, 0] if isinstance(b, pd.DataFrame) else b
    return b.reindex(sample.index)


@pytest.fixture()
def path():
    """Wealth 1 -> 1.1 -> 0.55 -> 0.66 -> 0.726 -> 1.21 (a new peak) on business days."""
    idx = pd.bdate_range("2024-01-01", periods=5, name="date")
    return pd.Series([0.1, -0.5, 0.2, 0.1, 2 / 3], index=idx, name="P")


# --------------------------------------------------------------------------- closed forms


def test_ulcer_and_average_drawdown_by_hand(path):
    # peaks 1.1, 1.1, 1.1, 1.1, 1.21: drawdowns 0, -0.5, -0.4, -0.34, 0 (Martin & McCann: divisor T = 5)
    dd = np.array([0.0, -0.5, -0.4, -0.34, 0.0])
    assert risk.ulcer_index(path) == pytest.approx(math.sqrt((dd**2).sum() / 5), rel=1e-12)
    assert risk.average_drawdown(path) == pytest.approx(dd.mean(), rel=1e-12)
    # the start counts as a peak: a first-day loss is a drawdown
    first = pd.Series([-0.2, 0.1], index=path.index[:2])
    assert risk.average_drawdown(first) == pytest.approx((-0.2 + (0.8 * 1.1 - 1)) / 2, rel=1e-12)
    # never below a peak: both are 0
    up = pd.Series([0.01, 0.0, 0.02], index=path.index[:3])
    assert risk.ulcer_index(up) == 0.0 and risk.average_drawdown(up) == 0.0


def test_stability_by_hand(path):
    # log wealth y = cumsum(ln(1 + r)) regressed on t = 0..T-1: R^2 = corr(t, y)^2
    y = np.cumsum(np.log1p(path.to_numpy()))
    t = np.arange(len(y))
    r2 = np.corrcoef(t, y)[0, 1] ** 2
    assert risk.stability(path) == pytest.approx(r2, rel=1e-12)
    steady = pd.Series([0.01] * 6, index=pd.bdate_range("2024-01-01", periods=6))
    assert risk.stability(steady) == pytest.approx(1.0, rel=1e-12)
    # a steady loss is as stable as a steady gain
    assert risk.stability(-steady) == pytest.approx(1.0, rel=1e-12)
    two = pd.Series([0.05, -0.03], index=steady.index[:2])
    assert risk.stability(two) == pytest.approx(1.0, rel=1e-12)  # two points lie on a line


def test_capture_ratios_by_hand():
    idx = pd.bdate_range("2024-01-01", periods=6, name="date")
    b = pd.Series([0.01, -0.02, 0.03, 0.0, -0.01, 0.02], index=idx)
    r = pd.Series([0.02, -0.01, 0.01, 0.05, -0.03, 0.0], index=idx)
    p = 252  # business dates
    # up periods (b > 0): dates 0, 2, 5; down periods (b < 0): 1, 4; b = 0 (date 3) is in neither
    up_r, up_b = (1.02 * 1.01 * 1.0) ** (p / 3) - 1, (1.01 * 1.03 * 1.02) ** (p / 3) - 1
    dn_r, dn_b = (0.99 * 0.97) ** (p / 2) - 1, (0.98 * 0.99) ** (p / 2) - 1
    assert risk.up_capture(r, b) == pytest.approx(up_r / up_b, rel=1e-12)
    assert risk.down_capture(r, b) == pytest.approx(dn_r / dn_b, rel=1e-12)
    # with one period a year the annualisation exponent is 3 / 3 = 1: plain compounded returns
    assert risk.up_capture(r, b, periods_per_year=3) == pytest.approx(
        (1.02 * 1.01 - 1) / (1.01 * 1.03 * 1.02 - 1), rel=1e-12
    )
    # one up period and one period a year: the capture is r / b, so scaling r by c scales it by c exactly
    one = pd.Series([0.02, -0.01], index=idx[:2])
    bench1 = pd.Series([0.04, -0.03], index=idx[:2])
    for c in (0.5, 3.0):
        assert risk.up_capture(c * one, bench1, periods_per_year=1) == pytest.approx(c * 0.02 / 0.04, rel=1e-12)
    # the benchmark captures exactly all of itself
    assert risk.up_capture(b, b) == pytest.approx(1.0, rel=1e-14)
    assert risk.down_capture(b, b) == pytest.approx(1.0, rel=1e-14)


def test_up_and_down_beta_by_hand():
    rng = np.random.default_rng(1)
    idx = pd.bdate_range("2020-01-01", periods=300, name="date")
    b = pd.Series(rng.normal(0.0, 0.01, 300), index=idx)
    # a convex payoff: 1.4 times the rises, 0.6 times the falls, plus a constant
    r = pd.Series(np.where(b > 0, 1.4 * b, 0.6 * b) + 0.0002, index=idx)
    assert risk.up_beta(r, b) == pytest.approx(1.4, rel=1e-12)
    assert risk.down_beta(r, b) == pytest.approx(0.6, rel=1e-12)
    # the usual beta mixes both regimes
    assert 0.6 < risk.beta(r, b) < 1.4
    # by the definition: the covariance over the variance on the up dates only
    up = b > 0
    noisy = r + rng.normal(0, 0.003, 300)
    ref = np.cov(noisy[up], b[up])[0, 1] / b[up].var()
    assert risk.up_beta(noisy, b) == pytest.approx(ref, rel=1e-12)


# --------------------------------------------------------------------------- peers


def test_stability_matches_empyrical_and_scipy(sample):
    from scipy import stats

    ep = pytest.importorskip("empyrical")
    ours = risk.stability(sample)
    for col in sample.columns[:4]:
        r = sample[col]
        assert ours[col] == pytest.approx(ep.stability_of_timeseries(r), rel=1e-10)
        y = np.log1p(r.to_numpy()).cumsum()
        assert ours[col] == pytest.approx(stats.linregress(np.arange(len(y)), y).rvalue ** 2, rel=1e-10)


def test_capture_and_regime_beta_match_empyrical(sample, sp500):
    ep = pytest.importorskip("empyrical")
    up_c, down_c = risk.up_capture(sample, sp500), risk.down_capture(sample, sp500)
    up_b, down_b = risk.up_beta(sample, sp500), risk.down_beta(sample, sp500)
    for col in sample.columns[:4]:
        r = sample[col]
        # empyrical: annual_return (CAGR, 252 periods) of the asset over the benchmark's, on b > 0 / b < 0
        assert up_c[col] == pytest.approx(ep.up_capture(r, sp500), rel=1e-10)
        assert down_c[col] == pytest.approx(ep.down_capture(r, sp500), rel=1e-10)
        assert up_b[col] == pytest.approx(ep.up_alpha_beta(r, sp500)[1], rel=1e-10)
        assert down_b[col] == pytest.approx(ep.down_alpha_beta(r, sp500)[1], rel=1e-10)


def test_ulcer_and_average_drawdown_match_riskfolio(sample):
    rp = pytest.importorskip("riskfolio")
    ui, add = risk.ulcer_index(sample), risk.average_drawdown(sample)
    for col in sample.columns[:4]:
        x = sample[col].to_numpy()
        # Riskfolio-Lib: compounded wealth from 1 (the start is a peak), divisor T; ADD reported positive
        assert ui[col] == pytest.approx(rp.RiskFunctions.UCI_Rel(x), rel=1e-10)
        assert add[col] == pytest.approx(-rp.RiskFunctions.ADD_Rel(x), rel=1e-10)


def test_ulcer_index_matches_quantstats(sample):
    qs = pytest.importorskip("quantstats")
    ui = risk.ulcer_index(sample)
    t = len(sample)
    for col in sample.columns[:3]:
        # quantstats divides the sum of squared drawdowns by T - 1 (Martin & McCann: T)
        ref = qs.stats.ulcer_index(sample[col]) * math.sqrt((t - 1) / t)
        assert ui[col] == pytest.approx(ref, rel=1e-10)


# --------------------------------------------------------------------------- invariants


def test_drawdown_measures_are_ordered(sample):
    add, ui, mdd = risk.average_drawdown(sample), risk.ulcer_index(sample), risk.max_drawdown(sample)
    # |mean| <= root mean square <= max of |DD_t|
    assert ((-add <= ui + 1e-15) & (ui <= -mdd + 1e-15)).all()
    assert (add <= 0).all() and ((risk.stability(sample) >= 0) & (risk.stability(sample) <= 1)).all()


returns_arrays = arrays(
    np.float64,
    st.tuples(st.integers(6, 60), st.integers(1, 4)),
    elements=st.floats(-0.3, 0.3, allow_nan=False, allow_subnormal=False),
)


@settings(max_examples=60, deadline=None)
@given(x=returns_arrays, data=st.data())
def test_path_statistics_relabel_with_assets(x, data):
    assume((np.abs(x[1:]).max(axis=0) > 1e-9).all())  # the log wealth moves after the start
    names = [f"A{i}" for i in range(x.shape[1])]
    frame = pd.DataFrame(x, columns=names, index=pd.bdate_range("2024-01-01", periods=len(x)))
    perm = list(data.draw(st.permutations(range(x.shape[1]))))
    for name in PATH_STATS:
        func = getattr(risk, name)
        base, moved = func(frame), func(frame.iloc[:, perm])
        assert moved.index.equals(frame.columns[perm]) and moved.name == name
        np.testing.assert_allclose(moved[names].to_numpy(), base.to_numpy(), rtol=1e-12, atol=1e-15)
        assert isinstance(func(frame.iloc[:, 0]), float)


@settings(max_examples=60, deadline=None)
@given(x=returns_arrays, c=st.sampled_from([-3.0, -1.0, 0.01, 0.5, 2.0, 10.0]))
def test_stability_is_unchanged_by_rescaling_the_log_returns(x, c):
    # R^2 depends on the shape of the log-wealth line, not its scale or sign: ln(1 + r') = c ln(1 + r)
    assume((np.abs(x[1:]).max(axis=0) > 1e-6).all())  # the log wealth moves after the start
    frame = pd.DataFrame(x, index=pd.bdate_range("2024-01-01", periods=len(x)))
    rescaled = np.expm1(c * np.log1p(frame))
    np.testing.assert_allclose(
        risk.stability(rescaled).to_numpy(), risk.stability(frame).to_numpy(), rtol=1e-8, atol=1e-12
    )


@settings(max_examples=60, deadline=None)
@given(
    b=arrays(np.float64, 30, elements=st.floats(-0.05, 0.05, allow_nan=False, allow_subnormal=False)),
    beta_up=st.floats(-2.0, 3.0),
    beta_down=st.floats(-2.0, 3.0),
    c=st.floats(0.1, 10.0),
)
def test_regime_betas_recover_a_piecewise_linear_payoff(b, beta_up, beta_down, c):
    assume((b > 0).sum() >= 2 and (b < 0).sum() >= 2)
    assume(np.ptp(b[b > 0]) > 1e-4 and np.ptp(b[b < 0]) > 1e-4)
    idx = pd.bdate_range("2024-01-01", periods=len(b))
    bench = pd.Series(b, index=idx)
    r = pd.DataFrame({"X": np.where(b > 0, beta_up * b, beta_down * b) + 0.001}, index=idx)
    assert risk.up_beta(r, bench)["X"] == pytest.approx(beta_up, rel=1e-8, abs=1e-10)
    assert risk.down_beta(r, bench)["X"] == pytest.approx(beta_down, rel=1e-8, abs=1e-10)
    # scaling the asset by c scales the betas by c; scaling the benchmark by c divides them
    assert risk.up_beta(r * c, bench)["X"] == pytest.approx(c * beta_up, rel=1e-8, abs=1e-9)
    assert risk.down_beta(r, bench * c)["X"] == pytest.approx(beta_down / c, rel=1e-8, abs=1e-9)
    # capture of the benchmark by itself is 1; a one-period year makes capture a ratio of growths
    assert risk.up_capture(bench, bench) == pytest.approx(1.0, rel=1e-12)
    assert risk.down_capture(bench, bench) == pytest.approx(1.0, rel=1e-12)


# --------------------------------------------------------------------------- NaN policies and errors


def test_pairwise_uses_each_assets_own_dates(sample, sp500):
    bad = sample.iloc[-300:, :3].copy()
    bad.iloc[5:40, 1] = np.nan
    bench = sp500.reindex(bad.index)
    for name in PATH_STATS:
        func = getattr(risk, name)
        pair = func(bad, nan_policy="pairwise")
        assert pair.iloc[1] == pytest.approx(func(bad.iloc[:, 1].dropna()), rel=1e-12)
        assert pair.iloc[0] == pytest.approx(func(bad.iloc[:, 0]), rel=1e-12)
        with pytest.raises(DataError, match="missing"):
            func(bad)
        dropped = func(bad, nan_policy="drop")
        assert dropped.iloc[0] == pytest.approx(func(bad.iloc[:, 0].drop(bad.index[5:40])), rel=1e-12)
    for name in REGIME_STATS:
        func = getattr(risk, name)
        pair = func(bad, bench, nan_policy="pairwise")
        own = bad.iloc[:, 1].dropna()
        assert pair.iloc[1] == pytest.approx(func(own, bench.reindex(own.index)), rel=1e-12)


def test_regime_statistics_bad_input(sample, sp500):
    rising = pd.Series(0.01, index=sample.index[:10]) + np.linspace(0, 0.01, 10)
    r = sample.iloc[:10]
    with pytest.raises(InsufficientDataError, match="benchmark fell"):
        risk.down_capture(r, rising)
    with pytest.raises(InsufficientDataError, match=r"at least 2 period\(s\) where the benchmark fell"):
        risk.down_beta(r, rising.where(rising.index != rising.index[3], -0.01))
    with pytest.raises(AlignmentError, match="lacks"):
        risk.up_capture(sample, sp500.iloc[5:])
    with pytest.raises(TypeError, match="benchmark"):
        risk.up_beta(sample, sp500.to_numpy())
    flat_up = pd.Series([0.01, -0.01, 0.01, -0.02, 0.01], index=sample.index[:5])
    with pytest.raises(DataError, match="constant"):
        risk.up_beta(sample.iloc[:5], flat_up)


def test_path_statistics_bad_input(path):
    with pytest.raises(DataError, match="below -100 %"):
        risk.ulcer_index(pd.Series([0.1, -1.5], index=path.index[:2]))
    with pytest.raises(DataError, match="loses 100 %"):
        risk.stability(pd.Series([0.1, -1.0, 0.2], index=path.index[:3]))
    with pytest.raises(DataError, match=r"Stability is undefined for \['P'\]"):
        risk.stability(pd.DataFrame({"P": [0.05, 0.0, 0.0, 0.0]}, index=path.index[:4]))
    with pytest.raises(InsufficientDataError, match="at least 2"):
        risk.stability(path.iloc[:1])


@pytest.mark.parametrize("name", PATH_STATS + REGIME_STATS)
def test_type_overloads_state_the_contract(name):
    seen = {}
    for stub in typing.get_overloads(getattr(risk, name)):
        hints = typing.get_type_hints(stub)
        seen[hints["returns"]] = hints["return"]
    assert seen == {DataFrameLike: pd.Series, SeriesLike: float}


def test_new_statistics_are_exported():
    for name in [*PATH_STATS, *REGIME_STATS, "semicovariance"]:
        assert name in risk.__all__ and callable(getattr(risk, name))


# --------------------------------------------------------------------------- rolling and summary


@pytest.mark.parametrize("stat", PATH_STATS)
def test_rolling_path_statistics_equal_each_window(sample, stat):
    x = sample.iloc[-90:, :3]
    w = 40
    rolled = risk.rolling(x, w, stat)
    assert rolled.index.equals(x.index[w - 1 :]) and rolled.columns.equals(x.columns)
    func = getattr(risk, stat)
    for end in (w, w + 17, len(x)):
        window = x.iloc[end - w : end]
        np.testing.assert_allclose(
            rolled.iloc[end - w].to_numpy(), func(window).to_numpy(), rtol=1e-9, atol=1e-14
        )


@pytest.mark.parametrize("stat", REGIME_STATS)
def test_rolling_regime_statistics_equal_each_window(sample, sp500, stat):
    x = sample.iloc[-90:, :3]
    w = 40
    rolled = risk.rolling(x, w, stat, benchmark=sp500)
    func = getattr(risk, stat)
    for end in (w, w + 17, len(x)):
        window = x.iloc[end - w : end]
        np.testing.assert_allclose(
            rolled.iloc[end - w].to_numpy(), func(window, sp500).to_numpy(), rtol=1e-9, atol=1e-14
        )


def test_rolling_regime_statistics_refuse_windows_without_falls(sample):
    idx = sample.index[:12]
    b = pd.Series([0.01, 0.02, 0.01, 0.03, 0.02, 0.01, -0.01, -0.02, 0.01, 0.02, 0.01, 0.02], index=idx)
    with pytest.raises(DataError, match="Rolling down_capture is undefined .* the benchmark never fell"):
        risk.rolling(sample.iloc[:12, :2], 4, "down_capture", benchmark=b)
    with pytest.raises(ParameterError, match="needs `benchmark`"):
        risk.rolling(sample.iloc[:12, :2], 4, "up_beta")


def test_summary_includes_the_new_statistics(sample, sp500):
    table = risk.summary(sample, benchmark=sp500)
    assert set(table.attrs["units"]) == set(table.columns)
    expected = {
        "ulcer index": risk.ulcer_index(sample),
        "average drawdown": risk.average_drawdown(sample),
        "stability": risk.stability(sample),
        "up capture": risk.up_capture(sample, sp500),
        "down capture": risk.down_capture(sample, sp500),
        "up beta": risk.up_beta(sample, sp500),
        "down beta": risk.down_beta(sample, sp500),
    }
    for col, ref in expected.items():
        np.testing.assert_allclose(table[col].to_numpy(), ref.to_numpy(), rtol=1e-12)
    assert "up capture" not in risk.summary(sample).columns

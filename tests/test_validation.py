"""Inputs that cannot fool the numbers: row order, log returns, units (issue 14).

Every function that reads a time series goes through one shared check
(``poolkit._validation.check_returns``, and the same rules in the risk functions' fast
path). These tests hold each rule on every public entry point, reproduce the reported
cases, and check with hypothesis that permuting rows is refused, that rescaling units
gives a rescaled result or a refusal, and that relabelling assets carries the labels.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import poolkit as pk
from poolkit.exceptions import DataError, ParameterError, PoolkitError

warnings.simplefilter("ignore", pk.exceptions.PoolkitWarning)


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    """Four stocks, 2019-2021 daily simple returns of the bundled sample."""
    r = pk.data.load_returns("sample", assets=["AAPL", "MSFT", "JPM", "XOM"], start="2019-01-01", end="2021-12-31")
    return r


@pytest.fixture(scope="module")
def bench(small: pd.DataFrame) -> pd.Series:
    b = pk.data.load_benchmark("sample:sp500_index", start="2019-01-01", end="2021-12-31")
    return b.loc[small.index]


def _time_series_calls(bench: pd.Series) -> dict[str, Callable[[pd.DataFrame], object]]:
    """Every public function that reads returns over time, as a call on a returns frame."""
    rk, al, po = pk.risk, pk.allocation, pk.pooling
    pools = pd.Series({"AAPL": "tech", "MSFT": "tech", "JPM": "other", "XOM": "other"})
    w = pd.Series(0.25, index=["AAPL", "MSFT", "JPM", "XOM"])
    return {
        "volatility": rk.volatility,
        "downside_deviation": rk.downside_deviation,
        "sharpe_ratio": rk.sharpe_ratio,
        "sortino_ratio": rk.sortino_ratio,
        "omega_ratio": rk.omega_ratio,
        "skewness": rk.skewness,
        "kurtosis": rk.kurtosis,
        "value_at_risk": rk.value_at_risk,
        "conditional_value_at_risk": rk.conditional_value_at_risk,
        "tail_ratio": rk.tail_ratio,
        "annual_return": rk.annual_return,
        "drawdowns": rk.drawdowns,
        "max_drawdown": rk.max_drawdown,
        "calmar_ratio": rk.calmar_ratio,
        "drawdown_table": lambda r: rk.drawdown_table(r["AAPL"]),
        "covariance": rk.covariance,
        "covariance_ewma": lambda r: rk.covariance(r, "ewma"),
        "covariance_lw": lambda r: rk.covariance(r, "ledoit_wolf"),
        "correlation": rk.correlation,
        "rolling_volatility": lambda r: rk.rolling(r, 21),
        "rolling_max_drawdown": lambda r: rk.rolling(r, 21, "max_drawdown"),
        "rolling_beta": lambda r: rk.rolling(r, 21, "beta", benchmark=bench),
        "beta": lambda r: rk.beta(r, bench),
        "alpha": lambda r: rk.alpha(r, bench),
        "tracking_error": lambda r: rk.tracking_error(r, bench),
        "information_ratio": lambda r: rk.information_ratio(r, bench),
        "summary": rk.summary,
        "expected_returns": al.expected_returns,
        "expected_returns_ewma": lambda r: al.expected_returns(r, "ewma"),
        "allocate_min_variance": lambda r: al.allocate(r, "min_variance"),
        "allocate_hrp": lambda r: al.allocate(r, "hrp"),
        "allocate_many": lambda r: al.allocate_many(r, ["equal", "inverse_volatility"]),
        "backtest": lambda r: al.backtest(r, "min_variance", lookback=126),
        "backtest_many": lambda r: al.backtest_many(r, ["equal", "risk_parity"], lookback=126),
        "cluster_pools": lambda r: po.cluster_pools(r, n_pools=2),
        "cluster_tree": po.cluster_tree,
        "build_pools": lambda r: po.build_pools(r, "volatility", 2),
        "pool_returns": lambda r: po.pool_returns(r, pools),
        "two_level_allocation": lambda r: po.two_level_allocation(r, pools),
        "pool_summary": lambda r: po.pool_summary(r, pools),
        "two_level_backtest": lambda r: po.two_level_backtest(r, lookback=126, n_pools=2),
        "crisis_comparison": lambda r: po.crisis_comparison(r, "2020-02-19", "2020-04-30", w),
        "resample_returns": lambda r: pk.data.resample_returns(r, "monthly"),
        "align_returns": lambda r: pk.data.align_returns(r, bench),
        "drawdown_chart": pk.plotting.drawdown_chart,
        "backtest_chart": pk.plotting.backtest_chart,
    }


CALLS = list(_time_series_calls(pd.Series(dtype=float)))


@pytest.fixture(scope="module")
def calls(bench: pd.Series) -> dict[str, Callable[[pd.DataFrame], object]]:
    return _time_series_calls(bench)


# --------------------------------------------------------------------------- 1. row order


@pytest.mark.parametrize("name", CALLS)
def test_every_time_series_function_refuses_shuffled_dates(name, calls, small):
    shuffled = small.sample(frac=1, random_state=0)
    with pytest.raises(DataError, match=r"not sorted: \d{4}-\d\d-\d\d \(position \d+\) comes after .*sort_index\(\)"):
        calls[name](shuffled)


@pytest.mark.parametrize("name", CALLS)
def test_every_time_series_function_refuses_duplicated_dates(name, calls, small):
    doubled = pd.concat([small.iloc[:300], small.iloc[299:]])  # 2020-03-12 twice, in order
    day = small.index[299].date().isoformat()
    with pytest.raises(DataError, match=rf"{day} 2 times .*duplicated"):
        calls[name](doubled)


def test_issue_backtest_on_shuffled_dates_is_refused():
    r = pk.data.load_returns("sample")
    with pytest.raises(DataError, match=r"not sorted: 2001-06-18 \(position 4\) comes after 2008-10-13"):
        pk.allocation.backtest(r.sample(frac=1, random_state=0), "min_variance", lookback=126)
    with pytest.raises(DataError, match="not sorted"):
        pk.risk.max_drawdown(r.sample(frac=1, random_state=0))


def test_sorted_input_is_not_refused_and_benchmark_order_is_checked(small, bench):
    assert pk.risk.max_drawdown(small.sort_index()).equals(pk.risk.max_drawdown(small))
    with pytest.raises(DataError, match="`benchmark` dates are not sorted"):
        pk.risk.beta(small, bench.sample(frac=1, random_state=1))


def test_missing_date_in_index_is_refused(small):
    idx = small.index.tolist()
    idx[5] = pd.NaT
    bad = small.set_axis(pd.DatetimeIndex(idx), axis=0)
    with pytest.raises(DataError, match=r"missing date \(NaT\) at position 6"):
        pk.risk.volatility(bad)


def test_shuffled_integer_index_is_refused_too():
    r = pd.Series([0.01, -0.02, 0.03, 0.0, 0.01]).sample(frac=1, random_state=2)
    with pytest.raises(DataError, match="row labels are not sorted"):
        pk.risk.max_drawdown(r)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(perm=st.permutations(range(30)))
def test_permuting_rows_is_refused_or_changes_nothing(perm, small):
    frame = small.iloc[:30]
    shuffled = frame.iloc[list(perm)]
    for func in (pk.risk.volatility, pk.risk.max_drawdown, pk.risk.covariance, pk.allocation.expected_returns):
        if list(perm) == sorted(perm):
            pd.testing.assert_frame_equal(
                pd.DataFrame(func(shuffled)), pd.DataFrame(func(frame)), check_exact=True
            )
        else:
            with pytest.raises(DataError, match="not sorted"):
                func(shuffled)


# --------------------------------------------------------------------------- 2. log returns


@pytest.fixture(scope="module")
def aapl_prices() -> pd.Series:
    return pk.data.load_prices("sample", assets=["AAPL"])["AAPL"]


def test_log_returns_resample_to_the_price_return(aapl_prices):
    logs = pk.data.load_returns("sample", assets=["AAPL"], kind="log")
    assert logs.attrs["returns_kind"] == "log"
    monthly = pk.data.resample_returns(logs, "monthly")  # stays log, like its input
    assert monthly.attrs["returns_kind"] == "log"
    # independent reference: month-end prices of the sample, 31 Jan 2020 over 31 Dec 2019
    by_prices = aapl_prices.loc["2020-01-31"] / aapl_prices.loc["2019-12-31"] - 1.0
    assert by_prices == pytest.approx(0.054008, abs=1e-6)
    assert np.expm1(float(monthly.loc["2020-01-31", "AAPL"])) == pytest.approx(by_prices, rel=1e-12)
    with pytest.raises(ParameterError, match=r"tagged as log returns .* kind='simple'"):
        pk.data.resample_returns(logs, "monthly", kind="simple")


def test_log_returns_compound_like_prices(aapl_prices):
    logs = pk.data.load_returns("sample", assets=["AAPL"], kind="log", start="2019-12-31", end="2020-12-31")
    p = aapl_prices.loc["2019-12-31":"2020-12-31"]
    dd_prices = float((p / p.cummax() - 1.0).min())  # worst fall from a running peak of the prices
    assert dd_prices == pytest.approx(-0.314277, abs=1e-6)
    assert pk.risk.max_drawdown(logs)["AAPL"] == pytest.approx(dd_prices, rel=1e-12)
    years = len(logs) / 252
    cagr = (p.iloc[-1] / p.iloc[0]) ** (1.0 / years) - 1.0
    assert pk.risk.annual_return(logs, periods_per_year=252)["AAPL"] == pytest.approx(cagr, rel=1e-12)
    path = pk.risk.drawdowns(logs)["AAPL"]
    assert path.to_numpy() == pytest.approx((p / p.cummax() - 1.0).iloc[1:].to_numpy(), abs=1e-12)


@pytest.mark.parametrize(
    "name",
    ["max_drawdown", "annual_return", "calmar_ratio", "volatility", "value_at_risk", "covariance", "summary",
     "beta", "rolling_max_drawdown", "expected_returns", "backtest", "allocate_min_variance",
     "pool_summary", "two_level_backtest"],
)
def test_results_do_not_depend_on_the_kind_loaded(name, calls, small):
    logs = np.log1p(small)
    logs.attrs = dict(small.attrs, returns_kind="log")
    a, b = calls[name](small), calls[name](logs)
    if hasattr(a, "returns") and not isinstance(a, pd.DataFrame):
        a, b = a.returns, b.returns
    pd.testing.assert_frame_equal(pd.DataFrame(b), pd.DataFrame(a), rtol=1e-9, atol=1e-12)


def test_prices_are_not_returns(aapl_prices):
    prices = pk.data.load_prices("sample", assets=["AAPL", "MSFT"], start="2020-01-01")
    with pytest.raises(DataError, match="holds prices"):
        pk.risk.volatility(prices)


# --------------------------------------------------------------------------- 3. units


def test_issue_percent_returns_are_refused_with_a_hint(small):
    pct = small * 100
    with pytest.raises(DataError, match=r"below -1 \(-100 %\).*did you mean -0\.0\d+"):
        pk.allocation.backtest(pct, "equal", lookback=126)
    with pytest.raises(DataError, match="did you mean"):
        pk.risk.value_at_risk(pct)
    with pytest.raises(DataError, match="did you mean"):
        pk.risk.covariance(pct)


def test_positive_percents_are_caught_by_their_size():
    # the monthly risk-free rate of the Fama-French sample, in percent: never below -1
    rf = pk.data.load_returns("sample:ff_factors", assets=["RF"]) * 100
    rf = rf.loc["1970":"1990"]
    assert (rf > -1).all().all()
    with pytest.raises(DataError, match=r"looks like percents.*median absolute return is 0\.\d+"):
        pk.risk.volatility(rf)
    assert pk.risk.volatility(rf / 100)["RF"] > 0  # the fractions pass


@settings(max_examples=80, deadline=None)
@given(n=st.integers(20, 61), shift=st.integers(-2, 2), excess=st.floats(1e-12, 2.0), rest=st.floats(0.0, 1.0),
       seed=st.integers(0, 2**16))
def test_percents_are_refused_exactly_when_most_returns_exceed_the_bound(n, shift, excess, rest, seed):
    # without dates the bound is 1.5 per period; a column is refused when more than half of
    # its returns exceed it in size, however close to half and to the bound they are (just
    # above it and the rest near zero, its sum of squares is barely above n bound^2 / 2)
    bound, rng = 1.5, np.random.default_rng(seed)
    columns = {}
    for k, name in enumerate("ABC"):
        above = min(n, max(0, n // 2 + 1 + shift - k))
        high = bound * (1 + excess * rng.uniform(0, 1, above)) + 1e-12
        low = rng.uniform(-0.99 * rest, bound * rest, n - above)
        columns[name] = rng.permutation(np.concatenate([high, low]))
    frame = pd.DataFrame(columns)
    most = [name for name in frame if (frame[name].abs() > bound).sum() > n / 2]
    if most:
        with pytest.raises(DataError, match=f"column {most[0]!r} looks like percents"):
            pk.risk.volatility(frame, annualize=False)
    else:
        assert pk.risk.volatility(frame, annualize=False).notna().all()


def test_huge_returns_pass_when_stated():
    idx = pd.date_range("2024-01-01", periods=30, freq="B")
    r = pd.DataFrame({"X": np.tile([0.5, -0.3], 15)}, index=idx)  # 50 % a day: not a real stock
    with pytest.raises(DataError, match="looks like percents"):
        pk.risk.volatility(r)
    r.attrs["units"] = "fraction"
    assert pk.risk.volatility(r, annualize=False)["X"] == pytest.approx(np.std(r["X"], ddof=1))


@pytest.mark.parametrize("value", [1e300, 1e7])
def test_overflowing_returns_are_refused(value, small):
    big = small.copy()
    big.iloc[10, 1] = value
    big.attrs["units"] = "fraction"  # even when stated
    with pytest.raises(DataError, match="no return is that large"):
        pk.risk.volatility(big)
    with pytest.raises(DataError, match="no return is that large"):
        pk.risk.covariance(small * value)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scale=st.sampled_from([1e-60, 1e-6, 1e-3, 1.0, 100.0, 1e300]), perm=st.permutations(range(4)))
def test_rescaled_returns_rescale_the_result_or_are_refused(scale, perm, small):
    frame = small.iloc[:, list(perm)] * scale
    try:
        vol = pk.risk.volatility(frame, annualize=False)
        var = pk.risk.value_at_risk(frame)
    except DataError as exc:
        assert scale in (1e-60, 100.0, 1e300)
        assert any(word in str(exc) for word in ("did you mean", "underflow", "no return is that large"))
        return
    assert scale in (1e-6, 1e-3, 1.0)
    assert list(vol.index) == list(frame.columns)  # labels carried in their new order
    ref = pk.risk.volatility(small, annualize=False)[frame.columns] * scale
    pd.testing.assert_series_equal(vol, ref, rtol=1e-10)
    pd.testing.assert_series_equal(var, pk.risk.value_at_risk(small)[frame.columns] * scale, rtol=1e-10)


def test_all_refusals_are_poolkit_errors(small):
    assert issubclass(DataError, PoolkitError) and issubclass(DataError, ValueError)


# --------------------------------------------------------------------------- 6. scale


def _labelled(mat: np.ndarray, names: str = "ABC") -> pd.DataFrame:
    cols = list(names[: mat.shape[0]])
    return pd.DataFrame(mat, index=cols, columns=cols)


NOT_PSD_CALLS = {
    "risk_parity": lambda c: pk.allocation.risk_parity(c),
    "risk_contributions": lambda c: pk.risk.risk_contributions(pd.Series(0.5, index=c.columns), c),
    "diversification_ratio": lambda c: pk.pooling.diversification_ratio(pd.Series(0.5, index=c.columns), c),
    "pooled_volatility": lambda c: pk.risk.pooled_volatility(pd.Series(0.5, index=c.columns), c),
    "min_variance": lambda c: pk.allocation.min_variance(c),
}


@pytest.mark.parametrize("name", list(NOT_PSD_CALLS))
@pytest.mark.parametrize("scale", [1e-10, 1.0, 1e10])
def test_a_correlation_above_one_is_refused_at_any_scale(name, scale):
    # correlation 1.8: the correlation matrix has the eigenvalue 1 - 1.8 = -0.8
    bad = _labelled(np.array([[1.0, 1.8], [1.8, 1.0]]) * scale)
    with pytest.raises(pk.exceptions.CovarianceError, match=r"eigenvalue -0\.8"):
        NOT_PSD_CALLS[name](bad)


def test_an_asymmetry_is_judged_on_the_scale_of_the_entries():
    bad = _labelled(np.array([[1.0, 0.5], [0.4, 1.0]]) * 1e-10)
    with pytest.raises(pk.exceptions.CovarianceError, match="not symmetric"):
        pk.risk.pooled_volatility(pd.Series(0.5, index=bad.columns), bad)
    flat = _labelled(np.array([[0.0, 1e-30], [1e-30, 0.04]]))  # no variance but a covariance
    with pytest.raises(pk.exceptions.CovarianceError, match="zero variance"):
        pk.risk.pooled_volatility(pd.Series(0.5, index=flat.columns), flat)


@settings(max_examples=30, deadline=None)
@given(
    scale=st.sampled_from([1e-150, 1e-10, 1.0, 1e10, 1e150]),
    wscale=st.sampled_from([1e-300, 1e-6, 1.0, 1e300]),
    perm=st.permutations(range(3)),
)
def test_pool_measures_are_invariant_to_units_and_order(scale, wscale, perm):
    assume(-290 < np.log10(wscale) + 0.5 * np.log10(scale) < 290)  # a pooled volatility that a float can hold
    names = list("XYZ")
    cov = _labelled(np.array([[0.04, 0.006, -0.002], [0.006, 0.09, 0.01], [-0.002, 0.01, 0.0225]]), "XYZ")
    w = pd.Series([0.5, 0.3, 0.2], index=names)
    order = [names[i] for i in perm]
    c2, w2 = cov.loc[order, order] * scale, w[order] * wscale
    dr = pk.pooling.diversification_ratio(w2, c2)
    assert dr == pytest.approx(pk.pooling.diversification_ratio(w, cov), rel=1e-12)
    vol = pk.risk.pooled_volatility(w2, c2)
    assert vol == pytest.approx(pk.risk.pooled_volatility(w, cov) * wscale * np.sqrt(scale), rel=1e-12)
    rc = pk.risk.risk_contributions(w2, c2)
    assert list(rc.index) == order  # labels carried
    ref = pk.risk.risk_contributions(w, cov).loc[order]
    np.testing.assert_allclose(rc["share"], ref["share"], rtol=1e-10)
    rp = pk.allocation.risk_parity(c2)
    pd.testing.assert_series_equal(
        rp.sort_index(), pk.allocation.risk_parity(cov).sort_index(), rtol=1e-6, check_names=False
    )


# --------------------------------------------------------------------------- 10. long layout


@pytest.mark.parametrize(
    ("cell", "pattern"),
    [
        ("2024-01-03,BBB,abc", r"non-numeric value 'abc' for asset 'BBB' in column 'close' at row 5"),
        ("2024-13-03,BBB,20.1", r"could not parse '2024-13-03' as a date in column 'date' at row 5 for asset 'BBB'"),
    ],
)
def test_long_layout_errors_name_the_row_and_the_asset(cell, pattern, tmp_path):
    rows = ["date,ticker,close", "2024-01-02,AAA,10.0", "2024-01-02,BBB,20.0", "2024-01-03,AAA,10.5", cell,
            "2024-01-04,AAA,10.7", "2024-01-04,BBB,20.5"]
    path = tmp_path / "long.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=pattern):
        pk.data.load_prices(path, values="prices")


# --------------------------------------------------------------------------- 9. missing data, per-period rates


def _with_holes(small: pd.DataFrame) -> pd.DataFrame:
    holed = small.copy()
    holed.iloc[[20, 21], 0] = np.nan
    holed.iloc[40, 2] = np.nan
    return holed


NAN_CALLS = {
    "expected_returns": lambda r, p: pk.allocation.expected_returns(r, nan_policy=p),
    "allocate": lambda r, p: pk.allocation.allocate(r, "min_variance", nan_policy=p),
    "backtest": lambda r, p: pk.allocation.backtest(r, "equal", lookback=126, nan_policy=p).returns,
    "rolling": lambda r, p: pk.risk.rolling(r, 21, nan_policy=p),
    "pool_returns": lambda r, p: pk.pooling.pool_returns(r, {"AAPL": "a", "MSFT": "a", "JPM": "b", "XOM": "b"},
                                                         nan_policy=p),
    "two_level_allocation": lambda r, p: pk.pooling.two_level_allocation(
        r, {"AAPL": "a", "MSFT": "a", "JPM": "b", "XOM": "b"}, nan_policy=p),
    "pool_summary": lambda r, p: pk.pooling.pool_summary(r, {"AAPL": "a", "MSFT": "a", "JPM": "b", "XOM": "b"},
                                                         nan_policy=p),
    "two_level_backtest": lambda r, p: pk.pooling.two_level_backtest(r, lookback=126, n_pools=2,
                                                                     nan_policy=p).returns,
    "cluster_pools": lambda r, p: pk.pooling.cluster_pools(r, n_pools=2, nan_policy=p),
}


@pytest.mark.parametrize("name", list(NAN_CALLS))
def test_one_nan_policy_everywhere_a_time_series_comes_in(name, small):
    holed = _with_holes(small)
    with pytest.raises(DataError, match="missing value"):
        NAN_CALLS[name](holed, "raise")
    dropped = NAN_CALLS[name](holed, "drop")
    clean = NAN_CALLS[name](holed.dropna(), "raise")
    pd.testing.assert_frame_equal(pd.DataFrame(dropped), pd.DataFrame(clean))


def test_pairwise_where_meaningful_refused_by_name_elsewhere(small):
    holed = _with_holes(small)
    mu = pk.allocation.expected_returns(holed, nan_policy="pairwise")
    assert mu["AAPL"] == pytest.approx(holed["AAPL"].mean(), rel=1e-12)  # each asset on its own dates
    with pytest.raises(ParameterError, match="supports nan_policy 'raise' or 'drop', not 'pairwise'"):
        pk.allocation.allocate(holed, "min_variance", nan_policy="pairwise")


def test_benchmark_lacking_a_date_is_a_missing_value_under_pairwise(small, bench):
    holed = small.copy()
    holed.iloc[30, :] = np.nan  # the returns are missing on that date anyway
    short = bench.drop(bench.index[30])  # and the benchmark lacks it
    with pytest.raises(pk.exceptions.AlignmentError, match="nan_policy='drop' or 'pairwise'"):
        pk.risk.beta(holed, short)
    both = pk.risk.beta(holed, short, nan_policy="pairwise")
    ref = pk.risk.beta(small.drop(small.index[30]), bench.drop(bench.index[30]))
    pd.testing.assert_series_equal(both, ref, rtol=1e-12)
    pd.testing.assert_series_equal(pk.risk.beta(holed, short, nan_policy="drop"), ref, rtol=1e-12)
    roll = pk.risk.rolling(holed, 21, "beta", benchmark=short, nan_policy="drop")
    assert len(roll) == len(small) - 1 - 20


def test_per_period_rates_need_no_periods_per_year_trick(small):
    daily = pk.risk.PerPeriod(0.0001)  # one basis point a day
    annual = 1.0001**252 - 1.0  # the same rate, compounded over the 252 days of a year
    s1 = pk.risk.sharpe_ratio(small, risk_free=daily)
    s2 = pk.risk.sharpe_ratio(small, risk_free=annual, periods_per_year=252)
    pd.testing.assert_series_equal(s1, s2, rtol=1e-10)
    # by hand: mean excess over its standard deviation, times sqrt(252) read from the dates
    ex = small - 0.0001
    by_hand = ex.mean() / ex.std(ddof=1) * np.sqrt(252)
    np.testing.assert_allclose(s1.to_numpy(), by_hand.to_numpy(), rtol=1e-12)
    for func in (pk.risk.sortino_ratio, pk.risk.omega_ratio, pk.risk.downside_deviation):
        pd.testing.assert_series_equal(func(small, daily), func(small, annual, periods_per_year=252), rtol=1e-10)
    table = pk.risk.summary(small, risk_free=daily)
    assert "PerPeriod(0.0001)" in table.attrs["units"]["Sharpe ratio"]
    w1 = pk.allocation.allocate(small, "max_sharpe", risk_free=daily)
    w2 = pk.allocation.allocate(small, "max_sharpe", risk_free=annual)
    pd.testing.assert_series_equal(w1, w2, atol=1e-8)
    with pytest.raises(ParameterError, match=r"Did you mean 0\.05"):
        pk.risk.PerPeriod(5)


# --------------------------------------------------------------------------- 7. missing dates


@pytest.fixture()
def gappy_file(tmp_path) -> tuple[str, pd.DatetimeIndex]:
    prices = pk.data.load_prices("sample", assets=["AAPL", "MSFT"], start="2020-01-01", end="2020-06-30")
    cut = prices.index[40:55]  # 15 trading days: 2020-03-02 to 2020-03-20
    path = tmp_path / "gappy.csv"
    prices.drop(cut).to_csv(path)
    return str(path), cut


def test_missing_trading_days_are_warned_about_and_listed(gappy_file):
    path, cut = gappy_file
    assert (cut[0].date().isoformat(), cut[-1].date().isoformat()) == ("2020-03-02", "2020-03-20")
    with pytest.warns(pk.exceptions.PoolkitWarning, match=r"15 trading day\(s\) missing .* 2020-03-02 to 2020-03-20 \(15\)"):
        prices = pk.data.load_prices(path, values="prices")
    report = pk.data.quality_report(prices)
    assert report["missing_dates"].tolist() == [15, 15]
    assert report.loc["AAPL", "gaps"] == "2020-03-02 to 2020-03-20 (15)"
    listed = report.attrs["calendar_gaps"].loc[1, "dates"]
    assert listed == [d.date().isoformat() for d in cut]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pk.data.load_prices(path, values="prices", calendar=None)  # the check can be turned off


def test_the_bundled_sample_has_no_calendar_gap():
    for name in ("sample", "sample:sp500_index", "sample:factor_etfs", "sample:ff_factors"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            frame = pk.data.load_prices(name) if "ff" not in name else pk.data.load_returns(name)
        assert pk.data.quality_report(frame)["missing_dates"].sum() == 0


def test_missing_months_are_listed():
    r = pk.data.load_returns("sample:ff_factors", assets=["MktRF"], end="1951-12-31")
    holed = r.drop(r.index[10:13])
    gaps = pk.data.calendar_gaps(holed)
    assert gaps["missing"].tolist() == [3]
    assert gaps.loc[1, "dates"] == ["1949-11-30", "1949-12-31", "1950-01-31"]


def test_mixed_frequencies_are_refused_even_in_a_short_file(tmp_path):
    daily = pd.bdate_range("2024-01-02", periods=12)
    monthly = pd.date_range("2024-02-29", periods=5, freq="ME")
    idx = daily.append(monthly)
    path = tmp_path / "mixed.csv"
    pd.DataFrame({"A": np.linspace(100, 110, len(idx))}, index=idx.rename("date")).to_csv(path)
    with pytest.raises(DataError, match="mixed frequencies"):
        pk.data.load_prices(path, values="prices")


def test_an_exchange_calendar_finds_every_missing_session(gappy_file):
    pytest.importorskip("exchange_calendars")
    path, cut = gappy_file
    prices = pk.data.load_prices(path, values="prices", calendar=None)
    gaps = pk.data.calendar_gaps(prices, calendar="XNYS")
    assert gaps["missing"].tolist() == [15]  # Good Friday (10 April 2020) is a NYSE holiday, not a gap
    one = prices.drop(pd.Timestamp("2020-05-13"))  # a single lost trading day
    assert pk.data.calendar_gaps(one, calendar="weekdays")["missing"].tolist() == [15]  # tolerated there
    assert pk.data.calendar_gaps(one, calendar="XNYS")["missing"].tolist() == [15, 1]
    whole = pk.data.load_prices("sample", calendar="XNYS")  # the sample has every NYSE session
    assert pk.data.quality_report(whole, calendar="XNYS")["missing_dates"].sum() == 0
    with pytest.raises(ParameterError, match="unknown calendar 'XNYC'.*Did you mean 'XNYS'"):
        pk.data.calendar_gaps(prices, calendar="XNYC")


# --------------------------------------------------------------------------- 11. foreign exceptions


def _variants() -> dict[str, object]:
    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2020-01-01", periods=120, name="date")
    base = pd.DataFrame(rng.normal(0.0005, 0.01, (120, 3)), index=idx, columns=["A", "B", "C"])
    return {
        "clean": base,
        "empty_rows": base.iloc[:0],
        "one_row": base.iloc[:1],
        "three_rows": base.iloc[:3],
        "one_column": base[["A"]],
        "no_columns": base.iloc[:, :0],
        "all_nan": base * np.nan,
        "nan_column": base.assign(C=np.nan),
        "object_columns": base.astype(object),
        "string_columns": base.astype(str),  # pandas 3: the str dtype
        "plus_inf": base.mask(base > 0.015, np.inf),
        "minus_inf": base.mask(base < -0.015, -np.inf),
        "huge": base * 1e300,
        "tiny": base * 1e-300,
        "percent": base * 100,
        "constant": base * 0 + 0.001,
        "zeros": base * 0,
        "bool_columns": base > 0,
        "tz_utc": base.tz_localize("UTC"),
        "tz_new_york": base.tz_localize("America/New_York"),
        "text_index": base.set_axis(idx.strftime("%Y-%m-%d"), axis=0),
        "period_index": base.set_axis(idx.to_period("D"), axis=0),
        "integer_index": base.reset_index(drop=True),
        "shuffled": base.sample(frac=1, random_state=0),
        "duplicated_dates": pd.concat([base.iloc[:60], base.iloc[59:]]),
        "duplicated_columns": base.set_axis(["A", "A", "B"], axis=1),
        "two_level_columns": base.set_axis(pd.MultiIndex.from_tuples([("x", "A"), ("x", "B"), ("y", "C")]), axis=1),
        "series": base["A"],
        "ndarray": base.to_numpy(),
        "none": None,
    }


VARIANTS = _variants()


def _sweep_calls() -> dict[str, Callable[[object], object]]:
    rk, al, po, da = pk.risk, pk.allocation, pk.pooling, pk.data
    bench = VARIANTS["clean"]["A"].rename("bench")  # type: ignore[index]
    pools = {"A": "x", "B": "x", "C": "y"}
    return {
        "volatility": rk.volatility, "sharpe_ratio": rk.sharpe_ratio, "sortino_ratio": rk.sortino_ratio,
        "omega_ratio": rk.omega_ratio, "skewness": rk.skewness, "kurtosis": rk.kurtosis,
        "value_at_risk_cf": lambda r: rk.value_at_risk(r, method="cornish_fisher"),
        "conditional_value_at_risk": rk.conditional_value_at_risk, "tail_ratio": rk.tail_ratio,
        "annual_return": rk.annual_return, "max_drawdown": rk.max_drawdown, "calmar_ratio": rk.calmar_ratio,
        "drawdown_table": rk.drawdown_table, "covariance_lw": lambda r: rk.covariance(r, "ledoit_wolf"),
        "covariance_ewma": lambda r: rk.covariance(r, "ewma"), "correlation_kendall": lambda r: rk.correlation(r, "kendall"),
        "rolling": lambda r: rk.rolling(r, 20, "max_drawdown"), "summary": rk.summary,
        "beta": lambda r: rk.beta(r, bench), "beta_of_benchmark": lambda r: rk.beta(VARIANTS["clean"], r),
        "expected_returns_capm": lambda r: al.expected_returns(r, "capm"),
        "allocate_max_sharpe": lambda r: al.allocate(r, "max_sharpe"), "allocate_min_cvar": lambda r: al.allocate(r, "min_cvar"),
        "allocate_risk_parity": lambda r: al.allocate(r, "risk_parity"),
        "backtest": lambda r: al.backtest(r, "min_variance", lookback=20),
        "cluster_pools": po.cluster_pools, "build_pools": lambda r: po.build_pools(r, "volatility", 2),
        "pool_summary": lambda r: po.pool_summary(r, pools), "two_level_allocation": lambda r: po.two_level_allocation(r, pools),
        "crisis_comparison": lambda r: po.crisis_comparison(r, "2020-03-01", "2020-04-30"),
        "to_returns": da.to_returns, "resample_returns": lambda r: da.resample_returns(r, "monthly"),
        "quality_report": da.quality_report, "overview": da.overview, "calendar_gaps": da.calendar_gaps,
        "align_returns": lambda r: da.align_returns(r, bench), "load_returns": lambda r: da.load_returns(r, values="returns"),
        "time_weighted_return": lambda r: pk.funds.time_weighted_return(r),
    }


SWEEP = _sweep_calls()


@settings(max_examples=250, deadline=None)
@given(call=st.sampled_from(sorted(SWEEP)), variant=st.sampled_from(sorted(VARIANTS)))
def test_bad_input_never_escapes_as_a_foreign_exception(call, variant):
    """Every failure is a PoolkitError, or a TypeError poolkit raises itself for the wrong kind of object."""
    import traceback

    import matplotlib

    matplotlib.use("Agg")
    try:
        SWEEP[call](VARIANTS[variant])
    except PoolkitError:
        pass
    except TypeError as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1].filename
        assert "/poolkit/" in where and "site-packages" not in where, f"foreign TypeError from {where}: {exc}"


def test_issue_cluster_pools_on_huge_returns_is_named(small):
    with pytest.raises(DataError, match="no return is that large"):
        pk.pooling.cluster_pools(small * 1e300)
    with pytest.raises(DataError, match="never moves"):
        pk.pooling.cluster_pools(small * 0 + 0.001)  # constant: was pandas' "Encountered all NA values"


def test_time_zones_are_handled_where_dates_are_compared(small):
    w = pd.Series(0.25, index=small.columns)
    naive = pk.pooling.crisis_comparison(small, "2020-02-19", "2020-04-30", w)
    aware = pk.pooling.crisis_comparison(small.tz_localize("UTC"), "2020-02-19", "2020-04-30", w)
    pd.testing.assert_frame_equal(aware, naive)


# --------------------------------------------------------------------------- properties of the other classes


@settings(max_examples=25, deadline=None)
@given(
    x=st.lists(st.floats(-0.05, 0.05, allow_nan=False), min_size=30, max_size=60),  # daily moves of up to 5 %
    perm=st.permutations(range(3)),
)
def test_log_or_simple_gives_the_same_numbers_whatever_the_asset_order(x, perm):
    idx = pd.bdate_range("2021-01-04", periods=len(x), name="date")
    arr = np.column_stack([np.asarray(x), np.asarray(x[::-1]), 0.5 * np.asarray(x)])
    simple = pd.DataFrame(arr, index=idx, columns=["A", "B", "C"]).iloc[:, list(perm)]
    logs = np.log1p(simple)
    logs.attrs["returns_kind"] = "log"
    for func in (pk.risk.max_drawdown, pk.risk.annual_return, pk.risk.volatility):
        a, b = func(simple), func(logs)
        assert list(b.index) == list(simple.columns)
        np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(start=st.integers(5, 80), length=st.integers(1, 20))
def test_a_run_of_missing_weekdays_is_reported_exactly_when_longer_than_holidays(start, length):
    days = pd.bdate_range("2022-01-03", periods=120)
    held = days.delete(slice(start, start + length))
    gaps = pk.data.calendar_gaps(held)
    if length > pk.data.MAX_CLOSED_DAYS:
        assert gaps["missing"].tolist() == [length]
        assert gaps.loc[1, "dates"] == [d.date().isoformat() for d in days[start : start + length]]
    else:
        assert gaps.empty


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(holes=st.sets(st.tuples(st.integers(0, 199), st.integers(0, 3)), min_size=1, max_size=12),
       perm=st.permutations(range(4)))
def test_drop_policy_equals_dropping_first_and_labels_follow(holes, perm, small):
    frame = small.iloc[:200, list(perm)]
    values = frame.to_numpy().copy()
    for i, j in holes:
        values[i, j] = np.nan
    frame = pd.DataFrame(values, index=frame.index, columns=frame.columns)
    clean = frame.dropna()
    def min_variance(r: pd.DataFrame, nan_policy: str) -> pd.Series:
        return pk.allocation.allocate(r, "min_variance", nan_policy=nan_policy)

    for func in (pk.allocation.expected_returns, pk.risk.volatility, min_variance):
        dropped = func(frame, nan_policy="drop")
        assert list(dropped.index) == list(frame.columns)  # labels carried in the permuted order
        pd.testing.assert_series_equal(dropped, func(clean, nan_policy="raise"))


@settings(max_examples=15, deadline=None)
@given(names=st.lists(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=6), min_size=2, max_size=2,
                      unique=True))
def test_long_layout_names_whichever_asset_holds_the_bad_value(names, tmp_path_factory):
    first, second = names
    rows = ["date,ticker,close", f"2024-01-02,{first},10.0", f"2024-01-02,{second},20.0",
            f"2024-01-03,{first},10.5", f"2024-01-03,{second},oops"]
    path = tmp_path_factory.mktemp("long") / "long.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=rf"'oops' for asset '{second}' in column 'close' at row 5"):
        pk.data.load_prices(path, values="prices")


def test_long_layout_keeps_tickers_that_read_like_missing_markers(tmp_path):
    # "NA" and "NULL" are tickers in the asset column; in a value column "NA" still means missing
    rows = ["date,ticker,close", "2024-01-02,NA,10.0", "2024-01-02,NULL,20.0", "2024-01-03,NA,11.0",
            "2024-01-03,NULL,NA", "2024-01-04,NA,12.1", "2024-01-04,NULL,21.0"]
    path = tmp_path / "long.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.warns(pk.exceptions.PoolkitWarning, match="dropped 1 date"):
        prices = pk.data.load_prices(path, values="prices", missing="drop")
    assert list(prices.columns) == ["NA", "NULL"]
    np.testing.assert_array_equal(prices.to_numpy(), [[10.0, 20.0], [12.1, 21.0]])
    assert list(prices.index) == list(pd.to_datetime(["2024-01-02", "2024-01-04"]))
    blank = tmp_path / "blank.csv"
    blank.write_text("date,ticker,close\n2024-01-02,NA,10.0\n2024-01-02, ,20.0\n")
    with pytest.raises(DataError, match="empty asset name in column 'ticker' at row 3"):
        pk.data.load_prices(blank, values="prices")

"""Tests of poolkit._numerics: each shared formula by hand, and the public callers that use it."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import poolkit as pk
from poolkit import _numerics as nx
from poolkit.exceptions import InfeasibleError, ParameterError

ROOT = Path(__file__).resolve().parents[1]

# A two-asset pool worked by hand: sigma_A = 0.2, sigma_B = 0.1, rho = 0.3, w = (0.6, 0.4).
# Sigma w = (0.04*0.6 + 0.006*0.4, 0.006*0.6 + 0.01*0.4) = (0.0264, 0.0076)
# w * Sigma w = (0.01584, 0.00304), w' Sigma w = 0.01888.
COV = np.array([[0.04, 0.006], [0.006, 0.01]])
W = np.array([0.6, 0.4])
SW = np.array([0.0264, 0.0076])
C = np.array([0.01584, 0.00304])
VAR = 0.01888
LABELS = ["A", "B"]


def _frame(mat: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(mat, index=LABELS, columns=LABELS)


@pytest.fixture(scope="module")
def sample(returns):
    """Eight assets of the bundled daily sample, 2018-2022."""
    return returns.loc["2018":"2022"].iloc[:, :8]


# --------------------------------------------------------------------------- portfolio variance


def test_variance_contributions_and_portfolio_variance_by_hand():
    np.testing.assert_allclose(nx.variance_contributions(W, COV), C, rtol=1e-14)
    assert float(nx.portfolio_variance(W, COV)) == pytest.approx(VAR, rel=1e-14)
    assert float(nx.portfolio_volatility(W, COV)) == pytest.approx(math.sqrt(VAR), rel=1e-14)
    # several portfolios side by side, one per column: (0.6, 0.4), all A, all B
    many = np.column_stack([W, [1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(nx.portfolio_variance(many, COV), [VAR, 0.04, 0.01], rtol=1e-14)
    np.testing.assert_allclose(nx.portfolio_volatility(many, COV), [math.sqrt(VAR), 0.2, 0.1], rtol=1e-14)


def test_a_rounding_negative_variance_counts_as_zero_volatility():
    # correlation -1 between equal assets held equally: w' Sigma w = 0 up to rounding
    cov = np.array([[0.04, -0.04], [-0.04, 0.04]]) * (1 + 1e-16)
    assert float(nx.portfolio_volatility(np.array([0.5, 0.5]), cov)) == pytest.approx(0.0, abs=1e-9)


def test_euler_split_by_hand():
    sigma = math.sqrt(VAR)
    split = nx.euler_risk(W, COV)
    assert float(split.volatility) == pytest.approx(sigma, rel=1e-14)
    np.testing.assert_allclose(split.marginal, SW / sigma, rtol=1e-14)  # d sigma / d w_i
    np.testing.assert_allclose(split.contribution, C / sigma, rtol=1e-14)
    np.testing.assert_allclose(split.share, C / VAR, rtol=1e-14)  # 0.838983..., 0.161017...
    assert split.contribution.sum() == pytest.approx(sigma, rel=1e-14)  # Euler: sums to sigma_P
    assert split.share.sum() == pytest.approx(1.0, rel=1e-14)


def test_euler_split_by_finite_differences(sample):
    # marginal risk is the gradient of sigma_P(w): check against central differences
    cov = pk.risk.covariance(sample).to_numpy()
    w = np.linspace(0.05, 0.2, cov.shape[0])
    h = 1e-7
    grad = [
        (float(nx.portfolio_volatility(w + h * e, cov)) - float(nx.portfolio_volatility(w - h * e, cov))) / (2 * h)
        for e in np.eye(len(w))
    ]
    np.testing.assert_allclose(nx.euler_risk(w, cov).marginal, grad, rtol=1e-6)


# --------------------------------------------------------------------------- diversification


def test_standalone_volatility_and_diversification_ratio_by_hand():
    np.testing.assert_allclose(nx.asset_volatilities(COV), [0.2, 0.1], rtol=1e-15)
    # sum |w_i| sigma_i: 0.6 * 0.2 + 0.4 * 0.1 = 0.16; a short position counts by its size
    assert float(nx.standalone_volatility(W, COV)) == pytest.approx(0.16, rel=1e-14)
    assert float(nx.standalone_volatility(np.array([0.6, -0.4]), COV)) == pytest.approx(0.16, rel=1e-14)
    assert float(nx.diversification_ratio(W, COV)) == pytest.approx(0.16 / math.sqrt(VAR), rel=1e-14)


@pytest.mark.parametrize(("n", "rho"), [(2, 0.0), (4, 0.25), (10, 0.6), (5, 1.0)])
def test_diversification_ratio_of_equal_assets_matches_closed_form(n, rho):
    # N equal-volatility assets held equally, common correlation rho: DR = 1 / sqrt(rho + (1 - rho)/N)
    # (Choueifaty & Coignard 2008)
    corr = np.full((n, n), rho)
    np.fill_diagonal(corr, 1.0)
    cov = nx.corr_to_cov(np.full(n, 0.3), corr)
    dr = float(nx.diversification_ratio(np.full(n, 1.0 / n), cov))
    assert dr == pytest.approx(1.0 / math.sqrt(rho + (1 - rho) / n), rel=1e-12)


def test_diversification_ratio_of_a_riskless_pool_is_nan_not_inf():
    cov = np.array([[0.04, -0.04], [-0.04, 0.04]])
    assert np.isnan(nx.diversification_ratio(np.array([0.5, 0.5]), cov))
    ratios = nx.diversification_ratio(np.column_stack([[0.5, 0.5], [1.0, 0.0]]), cov)
    assert np.isnan(ratios[0]) and ratios[1] == pytest.approx(1.0)


# --------------------------------------------------------------------------- correlation


def test_cov_to_corr_and_back_by_hand():
    vols, corr = nx.cov_to_corr(COV)
    np.testing.assert_allclose(vols, [0.2, 0.1], rtol=1e-15)
    np.testing.assert_allclose(corr, [[1.0, 0.3], [0.3, 1.0]], rtol=1e-14)  # 0.006 / (0.2 * 0.1)
    np.testing.assert_allclose(nx.corr_to_cov(vols, corr), COV, rtol=1e-14)


def test_cov_to_corr_gives_zero_correlation_to_a_riskless_asset():
    vols, corr = nx.cov_to_corr(np.array([[0.04, 0.0], [0.0, 0.0]]))
    assert vols.tolist() == [0.2, 0.0] and corr.tolist() == [[1.0, 0.0], [0.0, 1.0]]


@pytest.mark.parametrize(
    ("rho", "kind", "expected"),
    [
        (1.0, "correlation", 0.0),
        (0.0, "correlation", math.sqrt(0.5)),
        (-1.0, "correlation", 1.0),
        (0.5, "correlation", 0.5),  # sqrt((1 - 0.5) / 2)
        (-1.0, "abs_correlation", 0.0),
        (0.36, "abs_correlation", 0.8),  # sqrt(1 - 0.36)
    ],
)
def test_correlation_distance_by_hand(rho, kind, expected):
    d = nx.correlation_distance(np.array([[1.0, rho], [rho, 1.0]]), kind)
    assert d[0, 1] == pytest.approx(expected, abs=1e-15) and d[0, 0] == 0.0 and d[1, 1] == 0.0


def test_unknown_distance_is_named():
    with pytest.raises(ParameterError, match="abs_correlation"):
        nx.correlation_distance(np.eye(2), "euclid")


@pytest.mark.parametrize(("method", "second_height"), [("single", 0.4), ("complete", 0.5), ("average", 0.45)])
def test_linkage_tree_by_hand(method, second_height):
    # d(0,1) = 0.1, d(0,2) = 0.5, d(1,2) = 0.4: 0 and 1 merge first at 0.1, then cluster {0,1}
    # joins 2 at min (single), max (complete) or mean (average) of 0.5 and 0.4
    dist = np.array([[0.0, 0.1, 0.5], [0.1, 0.0, 0.4], [0.5, 0.4, 0.0]])
    tree = nx.linkage_tree(dist, method)
    np.testing.assert_allclose(tree, [[0, 1, 0.1, 2], [2, 3, second_height, 3]], atol=1e-15)


# --------------------------------------------------------------------------- periods and rates


@pytest.mark.parametrize(("freq", "expected"), [("B", 252.0), ("W-FRI", 52.0), ("ME", 12.0), ("QE", 4.0)])
def test_periods_per_year_are_read_from_the_dates(freq, expected):
    dates = pd.date_range("2020-01-01", periods=30, freq=freq)
    assert nx.resolve_periods_per_year(None, dates) == expected


def test_periods_per_year_given_wins_and_is_checked():
    dates = pd.bdate_range("2020-01-01", periods=30)
    assert nx.resolve_periods_per_year(365, dates) == 365.0  # e.g. assets trading every day
    assert nx.resolve_periods_per_year(12, None) == 12.0
    for bad in (0, -12, float("nan"), float("inf"), True, "252"):
        with pytest.raises(ParameterError, match="positive number such as 252"):
            nx.resolve_periods_per_year(bad, dates)  # type: ignore[arg-type]


def test_periods_per_year_rule_without_dates():
    # returns without dates: refused by name; estimates without dates (mu, cov): annual
    with pytest.raises(ParameterError, match=r"periods_per_year.*not indexed by dates.*RangeIndex"):
        nx.resolve_periods_per_year(None, pd.RangeIndex(30))
    assert nx.resolve_periods_per_year(None, None) == 1.0


def test_per_period_rate_by_hand():
    # (1 + 10 %)^(1/12) - 1 = 0.797414042890...% a month
    assert nx.per_period_rate(0.10, 12) == pytest.approx(1.1 ** (1 / 12) - 1, rel=1e-15)
    assert nx.per_period_rate(0.10, 12) == pytest.approx(0.00797414042890374, rel=1e-12)
    dates = pd.bdate_range("2020-01-01", periods=30)
    assert nx.per_period_rate(0.05, None, dates) == pytest.approx(1.05 ** (1 / 252) - 1, rel=1e-15)
    assert nx.per_period_rate(0.02, None) == 0.02  # inputs without dates are annual: unchanged
    assert nx.per_period_rate(0.02, 1) == 0.02
    assert nx.annual_rate(np.array(nx.per_period_rate(0.10, 12)), 12) == pytest.approx(0.10, rel=1e-13)


def test_a_zero_rate_needs_no_periods():
    assert nx.per_period_rate(0.0, None, pd.RangeIndex(5)) == 0.0
    with pytest.raises(ParameterError, match="needed to turn the annual `target` into a per-period rate"):
        nx.per_period_rate(0.03, None, pd.RangeIndex(5), name="target")


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        (2, r"Did you mean 0.02 \(2 %\)"),
        (5.5, r"Did you mean 0.055 \(5.5 %\)"),
        (-1.0, "above -1"),
        (float("nan"), "annual rate such as 0.02"),
        (True, "annual rate such as 0.02"),
        ("0.02", "annual rate such as 0.02"),
    ],
)
def test_bad_rates_are_named(rate, message):
    with pytest.raises(ParameterError, match=message):
        nx.per_period_rate(rate, 252)


@settings(max_examples=50, deadline=None)
@given(rate=st.floats(-0.99, 1.0), periods=st.sampled_from([1, 4, 12, 52, 252, 365]))
def test_rate_conversion_round_trips(rate, periods):
    back = float(nx.annual_rate(np.array(nx.per_period_rate(rate, periods)), periods))
    assert back == pytest.approx(rate, rel=1e-9, abs=1e-12)


# --------------------------------------------------------------------------- public callers agree


def test_risk_pool_functions_call_the_shared_formulas():
    w, cov = pd.Series(W, index=LABELS), _frame(COV)
    split = nx.euler_risk(W, COV)
    assert pk.risk.pooled_volatility(w, cov) == pytest.approx(math.sqrt(VAR), rel=1e-14)
    np.testing.assert_allclose(pk.risk.marginal_risk(w, cov).to_numpy(), split.marginal, rtol=1e-14)
    rc = pk.risk.risk_contributions(w, cov)
    np.testing.assert_allclose(rc["contribution"].to_numpy(), split.contribution, rtol=1e-14)
    np.testing.assert_allclose(rc["share"].to_numpy(), split.share, rtol=1e-14)
    np.testing.assert_allclose(
        pk.risk.covariance_from(pd.Series([0.2, 0.1], index=LABELS), _frame(nx.cov_to_corr(COV)[1])).to_numpy(),
        COV,
        rtol=1e-14,
    )


def test_allocation_functions_call_the_shared_formulas():
    w, cov = pd.Series(W, index=LABELS, name="p"), _frame(COV)
    table = pk.allocation.risk_contribution_table(w, cov)
    np.testing.assert_allclose(table["p"].to_numpy(), C / VAR, rtol=1e-14)
    mu = pd.Series([0.001, 0.0005], index=LABELS)
    stats = pk.allocation.portfolio_stats(w, mu, cov, risk_free=0.02, periods_per_year=252)
    rf = 1.02 ** (1 / 252) - 1
    assert stats.loc["p", "volatility"] == pytest.approx(math.sqrt(VAR * 252), rel=1e-14)
    assert stats.loc["p", "sharpe"] == pytest.approx((W @ mu - rf) / math.sqrt(VAR) * math.sqrt(252), rel=1e-12)


def test_pooling_functions_call_the_shared_formulas(sample):
    w, cov = pd.Series(W, index=LABELS), _frame(COV)
    assert pk.pooling.diversification_ratio(w, cov) == pytest.approx(0.16 / math.sqrt(VAR), rel=1e-14)
    benefit = pk.pooling.diversification_benefit(w, cov)
    assert benefit["standalone"] == pytest.approx(0.16) and benefit["pooled"] == pytest.approx(math.sqrt(VAR))
    pool = pk.pooling.from_assumptions(
        pd.DataFrame({"expected_return": [0.1, 0.05], "volatility": [0.2, 0.1]}, index=LABELS), corr=0.3, weights=w
    )
    assert pool.standalone_volatility == pytest.approx(0.16) and pool.volatility == pytest.approx(math.sqrt(VAR))
    # pool summary: the portfolio row is the whole pool under the annualised sample covariance
    pools = dict(zip(sample.columns, ["x"] * 4 + ["y"] * 4, strict=True))
    summary = pk.pooling.pool_summary(sample, pools)
    ann = pk.risk.covariance(sample).to_numpy() * 252
    eq = np.full(sample.shape[1], 1 / sample.shape[1])
    row = summary.loc["portfolio"]
    assert row["volatility"] == pytest.approx(float(nx.portfolio_volatility(eq, ann)), rel=1e-12)
    assert row["diversification_ratio"] == pytest.approx(float(nx.diversification_ratio(eq, ann)), rel=1e-12)
    shares = nx.euler_risk(eq, ann).share
    assert summary.loc["x", "risk_share"] == pytest.approx(shares[:4].sum(), rel=1e-12)


def test_every_correlation_tree_is_the_shared_one(sample):
    from scipy.cluster.hierarchy import leaves_list

    corr = pk.risk.correlation(sample).to_numpy()
    _, ward = nx.correlation_tree(corr, "ward")
    np.testing.assert_allclose(pk.pooling.cluster_tree(sample), ward, rtol=1e-10)
    _, avg = nx.correlation_tree(corr, "average")
    ax = pk.plotting.correlation_heatmap(sample)
    try:
        assert ax.poolkit_order == list(sample.columns[leaves_list(avg)])
    finally:
        import matplotlib.pyplot as plt

        plt.close(ax.figure)


def test_returns_without_dates_need_periods_per_year_everywhere(sample):
    undated = sample.reset_index(drop=True)
    for call in (
        lambda: pk.risk.volatility(undated),
        lambda: pk.risk.sharpe_ratio(undated, risk_free=0.02),
        lambda: pk.pooling.pool_summary(undated, {c: "x" for c in undated.columns}),
        lambda: pk.allocation.expected_returns(undated, "capm", risk_free=0.03),
    ):
        with pytest.raises(ParameterError, match="`periods_per_year` is needed .* not indexed by dates"):
            call()
    # given explicitly, the same numbers as with the dates
    assert pk.risk.volatility(undated, periods_per_year=252).equals(pk.risk.volatility(sample))
    # a zero rate needs no periods per year
    capm = pk.allocation.expected_returns(undated, "capm")
    pd.testing.assert_series_equal(capm, pk.allocation.expected_returns(sample, "capm"))


def test_the_rate_rule_is_the_same_in_risk_and_allocation(sample):
    r = sample.iloc[:, 0]
    rf_p = nx.per_period_rate(0.03, None, sample.index)
    ex = r - rf_p
    assert pk.risk.sharpe_ratio(r, risk_free=0.03) == pytest.approx(ex.mean() / ex.std() * math.sqrt(252), rel=1e-12)
    m = sample.mean(axis=1)
    beta = sample.apply(lambda c: np.cov(c, m)[0, 1] / np.var(m, ddof=1))
    capm = pk.allocation.expected_returns(sample, "capm", risk_free=0.03)
    np.testing.assert_allclose(capm.to_numpy(), rf_p + beta.to_numpy() * (m.mean() - rf_p), rtol=1e-10)
    with pytest.raises(ParameterError, match="Did you mean 0.03"):
        pk.allocation.max_sharpe(sample.mean(), pk.risk.covariance(sample), risk_free=3, periods_per_year=252)
    with pytest.raises(ParameterError, match="Did you mean 0.03"):
        pk.risk.sharpe_ratio(r, risk_free=3)


def test_estimates_without_dates_are_annual_unless_told(sample):
    mu_d, cov_d = pk.allocation.expected_returns(sample), pk.risk.covariance(sample)
    rf_d = nx.per_period_rate(0.02, 252)
    daily = pk.allocation.max_sharpe(mu_d, cov_d, risk_free=0.02, periods_per_year=252)
    # the same problem stated in annual units (None = annual): same tangency portfolio
    annual = pk.allocation.max_sharpe(mu_d * 252, cov_d * 252, risk_free=rf_d * 252)
    np.testing.assert_allclose(daily.to_numpy(), annual.to_numpy(), atol=1e-7)
    pd.testing.assert_series_equal(
        annual, pk.allocation.max_sharpe(mu_d * 252, cov_d * 252, risk_free=rf_d * 252, periods_per_year=1)
    )
    # allocate reads the periods per year from the dates of its returns
    by_name = pk.allocation.allocate(sample, "max_sharpe", risk_free=0.02)
    np.testing.assert_allclose(by_name.to_numpy(), daily.to_numpy(), atol=1e-9)
    # daily estimates with an annual rate and no periods_per_year: the message says what to pass
    with pytest.raises(InfeasibleError, match="periods_per_year"):
        pk.allocation.max_sharpe(mu_d, cov_d, risk_free=0.5)


# --------------------------------------------------------------------------- one home per formula

# Spellings of the shared formulas, in code with its spaces, strings and comments removed;
# outside poolkit/_numerics.py none may appear again.
DUPLICATES = {
    "w' Sigma w": r"(\w+)@(s|cov|mat|sigma)@\1\b|\*\((s|cov|mat)@\w+\)",
    "asset volatilities": r"sqrt\(np\.diag\(",
    "cov -> corr": r"np\.outer\((sd|sigma|vols?),",
    "correlation distance": r"1(\.0)?-(corr|rho)\b",
    "linkage tree": r"squareform\(|hierarchy\.linkage\(|hierarchyimportlinkage(\b|as|,)",
    "annual -> per-period rate": r"\*\*\(1(\.0)?/(ppy|periods_per_year|p)\)",
    "periods-per-year inference": r"def(_infer_periods|infer_periods|_periods|_rf_per_period)\(",
}


def _code_lines(path: Path) -> dict[int, str]:
    """The code of each line of a file without spaces, strings (docstrings, messages) or comments."""
    import io
    import tokenize

    lines: dict[int, str] = {}
    skip = (tokenize.STRING, tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
        if tok.type not in skip:
            lines[tok.start[0]] = lines.get(tok.start[0], "") + tok.string
    return lines


def test_code_lines_leave_strings_out(tmp_path):
    src = tmp_path / "m.py"
    src.write_text(
        '"""sqrt(np.diag(x)) and 1 - corr"""\n'
        "v = np.sqrt(np.diag(c))  # sqrt(np.diag(\n"
        'msg = f"{1 - corr}"\n'
        "d = w * (s @ w)\n"
        "from scipy.cluster.hierarchy import linkage as scipy_linkage\n"
    )
    hits = {
        name: [n for n, code in _code_lines(src).items() if re.search(pattern, code)]
        for name, pattern in DUPLICATES.items()
    }
    assert hits["asset volatilities"] == [2] and hits["correlation distance"] == []
    assert hits["w' Sigma w"] == [4] and hits["linkage tree"] == [5]


@pytest.mark.parametrize("formula", sorted(DUPLICATES))
def test_each_shared_formula_has_one_home(formula):
    pattern = re.compile(DUPLICATES[formula])
    found = [
        f"{path.relative_to(ROOT)}:{number}: {code}"
        for path in sorted((ROOT / "poolkit").rglob("*.py"))
        if path.name != "_numerics.py"
        for number, code in _code_lines(path).items()
        if pattern.search(code)
    ]
    assert not found, f"{formula} is implemented again outside poolkit/_numerics.py:\n" + "\n".join(found)

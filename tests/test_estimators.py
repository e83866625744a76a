"""Tests of the covariance estimators: semicovariance, Ledoit-Wolf targets, denoising and detoning.

Each estimator is checked against its published formula worked out element by element
(exact rational arithmetic where no square root is involved), against a transcription of
the published code, against the peers that implement it (optional test dependencies:
PyPortfolioOpt, skfolio, Riskfolio-Lib, scikit-learn), and by invariants under
relabelling and rescaling.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import poolkit as pk
from poolkit.exceptions import CovarianceError, DataError, ParameterError, PoolkitWarning
from poolkit.risk import _estimators

risk = pk.risk


# --------------------------------------------------------------------------- data


def factor_returns(n_assets: int, n_days: int, seed: int, n_factors: int = 3) -> pd.DataFrame:
    """Seeded daily returns with a few common factors plus noise (a structure to find)."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(0.0, 1.0, (n_assets, n_factors)) * np.array([1.0, 0.5, 0.3][:n_factors])
    loadings[:, 0] += 1.0  # a market factor
    factors = rng.normal(0.0, 0.01, (n_days, n_factors))
    noise = rng.normal(0.0, 0.012, (n_days, n_assets))
    idx = pd.bdate_range("2015-01-01", periods=n_days, name="date")
    cols = [f"S{i:03d}" for i in range(n_assets)]
    return pd.DataFrame(factors @ loadings.T + noise, index=idx, columns=cols)


@pytest.fixture(scope="module")
def sample(returns):
    """The bundled sample, last 1500 days, 20 stocks."""
    return returns.iloc[-1500:]


@pytest.fixture(scope="module")
def seeded():
    """60 assets x 600 days with 3 factors: q = 10."""
    return factor_returns(60, 600, seed=7)


def small_case() -> pd.DataFrame:
    """12 dates x 3 assets in whole basis points (exact as fractions); shrinkage strictly inside (0, 1)."""
    rng = np.random.default_rng(4)
    x = rng.integers(-300, 300, (12, 3))
    x[:, 1] += x[:, 0] // 2
    x[:, 2] += x[:, 0]
    return pd.DataFrame(x / 10000, columns=["A", "B", "C"])


def psd_min_eig(mat: pd.DataFrame) -> float:
    return float(np.linalg.eigvalsh(mat.to_numpy())[0])


# --------------------------------------------------------------------------- semicovariance


def test_semicovariance_by_hand():
    # D = min(r - 0, 0): A = [0, -0.02, 0, -0.01], B = [-0.01, -0.01, 0, 0]; divisor T = 4
    # AA = (0.02^2 + 0.01^2) / 4 = 1.25e-4; AB = (0.02 * 0.01) / 4 = 5e-5; BB = 2 * 0.01^2 / 4 = 5e-5
    idx = pd.bdate_range("2024-01-01", periods=4, name="date")
    r = pd.DataFrame({"A": [0.01, -0.02, 0.03, -0.01], "B": [-0.01, -0.01, 0.02, 0.0]}, index=idx)
    semi = risk.semicovariance(r)
    expected = np.array([[1.25e-4, 5e-5], [5e-5, 5e-5]])
    np.testing.assert_allclose(semi.to_numpy(), expected, rtol=1e-12)
    assert semi.index.equals(r.columns) and semi.columns.equals(r.columns)
    # a threshold of 0.1 % a period (annual 1.001^252 - 1 = 28.7 % on daily dates); B's 0.0 falls below it
    tau = 1.001**252 - 1
    semi1 = risk.semicovariance(r, threshold=tau)  # periods per year read from the business dates
    assert semi1.attrs["threshold_per_period"] == pytest.approx(0.001, rel=1e-12)
    low_a = np.array([0.0, -0.021, 0.0, -0.011])
    low_b = np.array([-0.011, -0.011, 0.0, -0.001])
    assert semi1.loc["A", "B"] == pytest.approx(low_a @ low_b / 4, rel=1e-9)
    assert semi1.loc["B", "B"] == pytest.approx(low_b @ low_b / 4, rel=1e-9)
    annual = risk.semicovariance(r, annualize=True, periods_per_year=252)
    np.testing.assert_allclose(annual.to_numpy(), expected * 252, rtol=1e-12)


def test_semicovariance_diagonal_is_the_squared_downside_deviation(sample):
    for tau in (0.0, 0.05):
        semi = risk.semicovariance(sample, threshold=tau)
        dd = risk.downside_deviation(sample, target=tau, annualize=False)
        np.testing.assert_allclose(np.diag(semi.to_numpy()), dd.to_numpy() ** 2, rtol=1e-12)
    assert psd_min_eig(semi) >= -1e-18


def test_semicovariance_matches_pypfopt(sample):
    rm = pytest.importorskip("pypfopt.risk_models")
    # same definition and divisor T; PyPortfolioOpt takes the per-period benchmark B and annualises
    # by `frequency`: its default B = 1.02^(1/252) - 1 is poolkit's annual threshold 0.02 on daily data
    ours = risk.semicovariance(sample, threshold=0.02, annualize=True, periods_per_year=252)
    bench = 1.02 ** (1 / 252) - 1
    ref = rm.semicovariance(sample, returns_data=True, benchmark=bench, frequency=252)
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=1e-12)
    per_period = risk.semicovariance(sample, threshold=0.02)
    ref1 = rm.semicovariance(sample, returns_data=True, benchmark=bench, frequency=1)
    np.testing.assert_allclose(per_period.to_numpy(), ref1.to_numpy(), rtol=1e-12)


def test_semicovariance_bad_input(sample):
    with pytest.raises(TypeError, match="downside_deviation"):
        risk.semicovariance(sample.iloc[:, 0])
    with pytest.raises(ParameterError, match="pairwise"):
        risk.semicovariance(sample, nan_policy="pairwise")
    with pytest.raises(ParameterError, match="Did you mean 0.02"):
        risk.semicovariance(sample, threshold=2)
    bad = sample.copy()
    bad.iloc[3, 1] = np.nan
    with pytest.raises(DataError, match="missing"):
        risk.semicovariance(bad)
    dropped = risk.semicovariance(bad, nan_policy="drop")
    pd.testing.assert_frame_equal(dropped, risk.semicovariance(sample.drop(sample.index[3])))
    no_dates = sample.reset_index(drop=True)
    with pytest.raises(ParameterError, match="periods_per_year"):
        risk.semicovariance(no_dates, threshold=0.02)


@settings(max_examples=40, deadline=None)
@given(
    x=arrays(
        np.float64,
        st.tuples(st.integers(3, 40), st.integers(1, 5)),
        elements=st.floats(-0.2, 0.2, allow_nan=False, allow_subnormal=False),
    ),
    data=st.data(),
    scale=st.sampled_from([1e-4, 0.5, 1.0, 30.0]),
)
def test_semicovariance_relabels_with_assets_and_scales_with_units(x, data, scale):
    names = [f"A{i}" for i in range(x.shape[1])]
    frame = pd.DataFrame(x, columns=names)
    perm = list(data.draw(st.permutations(range(x.shape[1]))))
    base = risk.semicovariance(frame)
    moved = risk.semicovariance(frame.iloc[:, perm])
    assert moved.index.equals(frame.columns[perm]) and moved.columns.equals(frame.columns[perm])
    np.testing.assert_allclose(moved.loc[names, names].to_numpy(), base.to_numpy(), rtol=1e-12, atol=0)
    # with threshold 0, c r (c > 0) falls below 0 on the same dates: the matrix scales by c^2
    np.testing.assert_allclose(
        risk.semicovariance(frame * scale).to_numpy(), base.to_numpy() * scale**2, rtol=1e-12, atol=0
    )
    assert psd_min_eig(base) >= -1e-15


# --------------------------------------------------------------------------- Ledoit-Wolf targets


def _lw_single_index_by_hand(r: pd.DataFrame) -> tuple[Fraction, list[list[Fraction]]]:
    """Ledoit & Wolf (2003), section 2 and appendix B, element by element in exact arithmetic.

    The market y_0t is the equal-weighted average of the assets (the authors' covMarket.m).
    """
    y = [[Fraction(round(v * 10000), 10000) for v in row] for row in r.to_numpy()]
    t, n = len(y), len(y[0])
    m = [sum(row) / n for row in y]
    ybar = [sum(y[k][i] for k in range(t)) / t for i in range(n)]
    mbar = sum(m) / t
    x = [[y[k][i] - ybar[i] for i in range(n)] for k in range(t)]
    x0 = [m[k] - mbar for k in range(t)]
    s = [[sum(x[k][i] * x[k][j] for k in range(t)) / t for j in range(n)] for i in range(n)]
    s0 = [sum(x[k][i] * x0[k] for k in range(t)) / t for i in range(n)]
    s00 = sum(v * v for v in x0) / t
    f = [[s[i][i] if i == j else s0[i] * s0[j] / s00 for j in range(n)] for i in range(n)]
    pi = {
        (i, j): sum((x[k][i] * x[k][j] - s[i][j]) ** 2 for k in range(t)) / t
        for i in range(n)
        for j in range(n)
    }
    rho = Fraction(0)
    for i in range(n):
        for j in range(n):
            if i == j:
                rho += pi[i, i]
                continue
            r_ij = Fraction(0)
            for k in range(t):
                lead = s0[j] * s00 * x[k][i] + s0[i] * s00 * x[k][j] - s0[i] * s0[j] * x0[k]
                r_ij += lead * x0[k] * x[k][i] * x[k][j] / s00**2 - f[i][j] * s[i][j]
            rho += r_ij / t
    gamma = sum((f[i][j] - s[i][j]) ** 2 for i in range(n) for j in range(n))
    kappa = (sum(pi.values()) - rho) / gamma
    delta = max(Fraction(0), min(Fraction(1), kappa / t))
    shrunk = [[delta * f[i][j] + (1 - delta) * s[i][j] for j in range(n)] for i in range(n)]
    return delta, shrunk


def _lw_constant_correlation_by_hand(r: pd.DataFrame) -> tuple[float, np.ndarray]:
    """Ledoit & Wolf (2004, "Honey"), appendix A, element by element (floats: square roots)."""
    y = r.to_numpy()
    t, n = y.shape
    x = y - y.mean(axis=0)
    s = [[sum(x[k, i] * x[k, j] for k in range(t)) / t for j in range(n)] for i in range(n)]
    r_bar = sum(s[i][j] / math.sqrt(s[i][i] * s[j][j]) for i in range(n) for j in range(n) if i < j)
    r_bar *= 2 / ((n - 1) * n)
    f = [[s[i][i] if i == j else r_bar * math.sqrt(s[i][i] * s[j][j]) for j in range(n)] for i in range(n)]
    pi = [[sum((x[k, i] * x[k, j] - s[i][j]) ** 2 for k in range(t)) / t for j in range(n)] for i in range(n)]

    def theta(a: int, i: int, j: int) -> float:  # theta_{aa,ij}
        return sum((x[k, a] ** 2 - s[a][a]) * (x[k, i] * x[k, j] - s[i][j]) for k in range(t)) / t

    rho = sum(pi[i][i] for i in range(n))
    for i in range(n):
        for j in range(n):
            if i != j:
                rho += (
                    r_bar
                    / 2
                    * (
                        math.sqrt(s[j][j] / s[i][i]) * theta(i, i, j)
                        + math.sqrt(s[i][i] / s[j][j]) * theta(j, i, j)
                    )
                )
    gamma = sum((f[i][j] - s[i][j]) ** 2 for i in range(n) for j in range(n))
    kappa = (sum(map(sum, pi)) - rho) / gamma
    delta = max(0.0, min(1.0, kappa / t))
    return delta, delta * np.array(f) + (1 - delta) * np.array(s)


def test_single_index_target_matches_the_published_formula_exactly():
    r = small_case()
    delta, shrunk = _lw_single_index_by_hand(r)
    assert 0 < delta < 1  # the case exercises the formula, not the clipping
    ours = risk.covariance(r, "ledoit_wolf", shrinkage_target="single_index")
    assert ours.attrs["shrinkage"] == pytest.approx(float(delta), rel=1e-12)
    np.testing.assert_allclose(ours.to_numpy(), np.array(shrunk, dtype=float), rtol=1e-12)
    assert ours.attrs["shrinkage_target"] == "single_index"


def test_constant_correlation_target_matches_the_published_formula():
    r = small_case()
    delta, shrunk = _lw_constant_correlation_by_hand(r)
    assert 0 < delta < 1
    ours = risk.covariance(r, "ledoit_wolf", shrinkage_target="constant_correlation")
    assert ours.attrs["shrinkage"] == pytest.approx(delta, rel=1e-10)
    np.testing.assert_allclose(ours.to_numpy(), shrunk, rtol=1e-10)


def test_single_index_target_matches_pypfopt(sample):
    rm = pytest.importorskip("pypfopt.risk_models")
    pytest.importorskip("sklearn")
    # same convention: demeaned, ddof=0, equal-weighted market of the assets (covMarket.m)
    cs = rm.CovarianceShrinkage(sample, returns_data=True, frequency=1)
    ref = cs.ledoit_wolf(shrinkage_target="single_factor")
    ours = risk.covariance(sample, "ledoit_wolf", shrinkage_target="single_index")
    assert ours.attrs["shrinkage"] == pytest.approx(cs.delta, rel=1e-10)
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=1e-10)


def test_constant_correlation_target_matches_pypfopt(sample):
    rm = pytest.importorskip("pypfopt.risk_models")
    pytest.importorskip("sklearn")
    # PyPortfolioOpt builds the target and the intensity from the ddof=1 covariance (pandas .cov())
    # but divides its fourth moments by T; Ledoit & Wolf's covCor.m, and poolkit, use ddof=0 throughout.
    # With its covariance set to the ddof=0 one, the two agree to rounding ...
    cs = rm.CovarianceShrinkage(sample, returns_data=True, frequency=1)
    cs.S = sample.cov(ddof=0).to_numpy()
    ref = cs.ledoit_wolf(shrinkage_target="constant_correlation")
    ours = risk.covariance(sample, "ledoit_wolf", shrinkage_target="constant_correlation")
    assert ours.attrs["shrinkage"] == pytest.approx(cs.delta, rel=1e-10)
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=1e-10)
    # ... and as it ships, the matrices differ by the factor T / (T - 1) and an O(1/T) intensity shift
    cs0 = rm.CovarianceShrinkage(sample, returns_data=True, frequency=1)
    ref0 = cs0.ledoit_wolf(shrinkage_target="constant_correlation")
    t = len(sample)
    assert abs(cs0.delta - ours.attrs["shrinkage"]) < 2 / t
    np.testing.assert_allclose(ours.to_numpy(), ref0.to_numpy(), rtol=2 / t)


def test_identity_target_is_the_default(sample):
    default = risk.covariance(sample, "ledoit_wolf")
    explicit = risk.covariance(sample, "ledoit_wolf", shrinkage_target="identity")
    pd.testing.assert_frame_equal(default, explicit)
    assert default.attrs["shrinkage_target"] == "identity"


@pytest.mark.parametrize("target", ["single_index", "constant_correlation"])
def test_structured_targets_keep_variances_and_stay_psd(sample, target):
    ours = risk.covariance(sample, "ledoit_wolf", shrinkage_target=target)
    # both targets carry the sample variances (ddof=0), so the shrunk diagonal is the sample's
    np.testing.assert_allclose(np.diag(ours.to_numpy()), sample.var(ddof=0).to_numpy(), rtol=1e-12)
    assert 0 <= ours.attrs["shrinkage"] <= 1
    assert psd_min_eig(ours) > 0
    # shrinking pulls every off-diagonal entry between the sample's and the target's
    s = sample.cov(ddof=0).to_numpy()
    assert not np.allclose(ours.to_numpy(), s)


def test_two_assets_constant_correlation_is_the_sample():
    # with two assets the average correlation is their correlation: F = S, nothing to shrink
    r = small_case()[["A", "B"]]
    ours = risk.covariance(r, "ledoit_wolf", shrinkage_target="constant_correlation")
    assert ours.attrs["shrinkage"] == 0.0
    np.testing.assert_allclose(ours.to_numpy(), r.cov(ddof=0).to_numpy(), rtol=1e-12)
    one = risk.covariance(r[["A"]], "ledoit_wolf", shrinkage_target="single_index")
    assert one.iloc[0, 0] == pytest.approx(r["A"].var(ddof=0), rel=1e-12)


def test_shrinkage_target_bad_input(sample):
    with pytest.raises(ParameterError, match="applies to method='ledoit_wolf' only"):
        risk.covariance(sample, "oas", shrinkage_target="single_index")
    with pytest.raises(ParameterError, match="Did you mean 'constant_correlation'"):
        risk.covariance(sample, "ledoit_wolf", shrinkage_target="constant_corr")
    with pytest.raises(DataError, match=r"constant-correlation target is undefined for \['CASH'\]"):
        risk.covariance(sample.assign(CASH=0.0001), "ledoit_wolf", shrinkage_target="constant_correlation")
    hedged = pd.DataFrame({"A": sample.iloc[:, 0], "B": -sample.iloc[:, 0]})
    with pytest.raises(DataError, match="market of these assets is constant"):
        risk.covariance(hedged, "ledoit_wolf", shrinkage_target="single_index")


returns_arrays = arrays(
    np.float64,
    st.tuples(st.integers(8, 40), st.integers(3, 6)),
    elements=st.floats(-0.2, 0.2, allow_nan=False, allow_subnormal=False),
)


@settings(max_examples=40, deadline=None)
@given(x=returns_arrays, data=st.data(), scale=st.sampled_from([1e-4, 1.0, 50.0]))
def test_shrinkage_relabels_with_assets_and_scales_with_units(x, data, scale):
    assume((x.std(axis=0) > 1e-3).all())
    assume(np.abs(x.mean(axis=1) - x.mean()).max() > 1e-3)  # a market that moves
    names = [f"A{i}" for i in range(x.shape[1])]
    frame = pd.DataFrame(x, columns=names)
    perm = data.draw(st.permutations(range(x.shape[1])))
    for target in ("identity", "single_index", "constant_correlation"):
        base = risk.covariance(frame, "ledoit_wolf", shrinkage_target=target)
        shuffled = risk.covariance(frame.iloc[:, list(perm)], "ledoit_wolf", shrinkage_target=target)
        assert shuffled.index.equals(frame.columns[list(perm)])
        np.testing.assert_allclose(
            shuffled.loc[names, names].to_numpy(), base.to_numpy(), rtol=1e-9, atol=1e-15
        )
        scaled = risk.covariance(frame * scale, "ledoit_wolf", shrinkage_target=target)
        # c r has covariance c^2 S and the same intensity: the target and the errors scale alike
        assert scaled.attrs["shrinkage"] == pytest.approx(base.attrs["shrinkage"], rel=1e-7, abs=1e-9)
        np.testing.assert_allclose(
            scaled.to_numpy(), base.to_numpy() * scale**2, rtol=1e-7, atol=1e-15 * scale**2
        )
        assert psd_min_eig(base) >= -1e-12 * float(np.trace(base.to_numpy()))


# --------------------------------------------------------------------------- denoising: the book's code


def _cov2corr(cov: np.ndarray) -> np.ndarray:
    std = np.sqrt(np.diag(cov))
    corr = cov / np.outer(std, std)
    corr[corr < -1], corr[corr > 1] = -1, 1  # numerical error
    return corr


def _book_denoise(cov0: np.ndarray, q: float, b_width: float = 0.01) -> tuple[np.ndarray, int, float]:
    """López de Prado (2020), Machine Learning for Asset Managers, snippets 2.1-2.5, transcribed."""
    from scipy.optimize import minimize
    from sklearn.neighbors import KernelDensity

    def mp_pdf(var: float, pts: int) -> pd.Series:
        e_min, e_max = var * (1 - (1.0 / q) ** 0.5) ** 2, var * (1 + (1.0 / q) ** 0.5) ** 2
        e_val = np.linspace(e_min, e_max, pts)
        pdf = q / (2 * np.pi * var * e_val) * ((e_max - e_val) * (e_val - e_min)) ** 0.5
        return pd.Series(pdf, index=e_val)

    def get_pca(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e_val, e_vec = np.linalg.eigh(matrix)
        indices = e_val.argsort()[::-1]
        return np.diagflat(e_val[indices]), e_vec[:, indices]

    def fit_kde(obs: np.ndarray, x: np.ndarray) -> pd.Series:
        kde = KernelDensity(kernel="gaussian", bandwidth=b_width).fit(obs.reshape(-1, 1))
        return pd.Series(np.exp(kde.score_samples(x.reshape(-1, 1))), index=x.flatten())

    def err_pdfs(var: np.ndarray, e_val: np.ndarray) -> float:
        pdf0 = mp_pdf(float(var[0]), 1000)
        pdf1 = fit_kde(e_val, pdf0.index.values)
        return float(np.sum((pdf1.to_numpy() - pdf0.to_numpy()) ** 2))

    corr0 = _cov2corr(cov0)
    e_val0, e_vec0 = get_pca(corr0)
    out = minimize(err_pdfs, 0.5, args=(np.diag(e_val0),), bounds=((1e-5, 1 - 1e-5),))
    var0 = out["x"][0] if out["success"] else 1.0
    e_max0 = var0 * (1 + (1.0 / q) ** 0.5) ** 2
    n_facts0 = e_val0.shape[0] - np.diag(e_val0)[::-1].searchsorted(e_max0)
    e_val_ = np.diag(e_val0).copy()
    e_val_[n_facts0:] = e_val_[n_facts0:].sum() / float(e_val_.shape[0] - n_facts0)
    corr1 = _cov2corr(e_vec0 @ np.diag(e_val_) @ e_vec0.T)
    std0 = np.sqrt(np.diag(cov0))
    return corr1 * np.outer(std0, std0), int(n_facts0), float(var0)


def _book_detone(cov: np.ndarray, n_market: int = 1) -> np.ndarray:
    """Section 2.6: C_2 = C_1 - W_M Lambda_M W_M', re-scaled to a correlation matrix."""
    corr = _cov2corr(cov)
    e_val, e_vec = np.linalg.eigh(corr)
    order = e_val.argsort()[::-1][:n_market]
    w_m, l_m = e_vec[:, order], np.diag(e_val[order])
    c2 = _cov2corr(corr - w_m @ l_m @ w_m.T)
    std = np.sqrt(np.diag(cov))
    return c2 * np.outer(std, std)


def test_denoise_matches_the_book(seeded):
    pytest.importorskip("sklearn")
    t, n = seeded.shape
    ref, n_facts, var = _book_denoise(seeded.cov().to_numpy(), t / n)
    ours = risk.covariance(seeded, denoise=True)
    info = ours.attrs["denoise"]
    assert info["q"] == pytest.approx(t / n)
    assert info["n_factors"] == n_facts and 1 <= n_facts < n  # found some signal, not all
    assert info["noise_variance"] == pytest.approx(var, rel=1e-5)
    np.testing.assert_allclose(ours.to_numpy(), ref, rtol=1e-9, atol=1e-15)


def test_detone_matches_the_book(seeded):
    pytest.importorskip("sklearn")
    t, n = seeded.shape
    denoised, _, _ = _book_denoise(seeded.cov().to_numpy(), t / n)
    ours = risk.covariance(seeded, denoise=True, detone=True)
    np.testing.assert_allclose(ours.to_numpy(), _book_detone(denoised), rtol=1e-9, atol=1e-15)
    only = risk.covariance(seeded, detone=2)
    np.testing.assert_allclose(
        only.to_numpy(), _book_detone(seeded.cov().to_numpy(), 2), rtol=1e-9, atol=1e-15
    )
    assert only.attrs["detone"] == 2 and "denoise" not in only.attrs


# --------------------------------------------------------------------------- denoising: invariants


def test_denoise_invariants(seeded):
    cov = risk.covariance(seeded)
    den = risk.covariance(seeded, denoise=True)
    c, d = cov.to_numpy(), den.to_numpy()
    # the variances are the method's: diagonal (hence the trace) unchanged
    np.testing.assert_allclose(np.diag(d), np.diag(c), rtol=1e-12)
    assert np.trace(d) == pytest.approx(np.trace(c), rel=1e-12)
    np.testing.assert_allclose(d, d.T, rtol=0, atol=0)
    assert psd_min_eig(den) > 0
    # before re-scaling to a unit diagonal: the signal eigenvalues (>= lambda_+) and the trace are kept,
    # the noise ones are all equal to their mean
    _, corr = pk._numerics.cov_to_corr(c)
    vals, vecs = _estimators._sorted_eigh(corr)
    lam_plus = den.attrs["denoise"]["lambda_plus"]
    rebuilt, k = _estimators._constant_residual(vals, vecs, lam_plus)
    assert (
        k == den.attrs["denoise"]["n_factors"]
        and (vals[:k] >= lam_plus).all()
        and (vals[k:] < lam_plus).all()
    )
    new_vals = np.linalg.eigvalsh(rebuilt)[::-1]
    np.testing.assert_allclose(new_vals[:k], vals[:k], rtol=1e-10)
    np.testing.assert_allclose(new_vals[k:], vals[k:].mean(), rtol=1e-10)
    assert np.trace(rebuilt) == pytest.approx(len(vals), rel=1e-12)
    # denoising conditions the matrix: the smallest eigenvalue of the correlation rises
    _, corr_d = pk._numerics.cov_to_corr(d)
    assert np.linalg.eigvalsh(corr_d)[0] > 1.5 * vals[-1]


def test_denoise_applies_on_top_of_any_method(seeded):
    for method in ("ledoit_wolf", "oas", "ewma"):
        base = risk.covariance(seeded, method)
        den = risk.covariance(seeded, method, denoise=True)
        np.testing.assert_allclose(np.diag(den.to_numpy()), np.diag(base.to_numpy()), rtol=1e-12)
        assert den.attrs["method"] == method and psd_min_eig(den) > 0
    # EWMA: q uses Kish's effective number of dates (sum w)^2 / sum w^2
    lam = 0.5 ** (1 / 60)
    w = lam ** np.arange(len(seeded) - 1, -1, -1)
    n_eff = w.sum() ** 2 / (w**2).sum()
    ew = risk.covariance(seeded, "ewma", halflife=60, denoise=True)
    assert ew.attrs["denoise"]["q"] == pytest.approx(n_eff / seeded.shape[1], rel=1e-12)
    # annualising after denoising multiplies the whole matrix
    ann = risk.covariance(seeded, denoise=True, annualize=True, periods_per_year=252)
    np.testing.assert_allclose(
        ann.to_numpy(), risk.covariance(seeded, denoise=True).to_numpy() * 252, rtol=1e-12
    )
    sf = risk.covariance(seeded, "ledoit_wolf", shrinkage_target="single_index", denoise=True, detone=True)
    assert sf.attrs["shrinkage_target"] == "single_index" and sf.attrs["detone"] == 1


def test_detone_is_singular_with_the_same_variances(seeded):
    det = risk.covariance(seeded, denoise=True, detone=True)
    d = det.to_numpy()
    np.testing.assert_allclose(np.diag(d), seeded.var().to_numpy(), rtol=1e-12)
    _, corr = pk._numerics.cov_to_corr(d)
    eig = np.linalg.eigvalsh(corr)
    assert abs(eig[0]) < 1e-10 and eig[1] > 1e-3  # rank n - 1: the market direction is gone
    # the market (the average asset) no longer moves the others together: mean correlation near 0
    off = corr[~np.eye(len(corr), dtype=bool)]
    assert abs(off.mean()) < 0.05 < risk.correlation(seeded).to_numpy()[~np.eye(len(corr), dtype=bool)].mean()


def test_denoise_and_detone_bad_input(seeded, sample):
    with pytest.raises(ParameterError, match="pairwise"):
        risk.covariance(sample, denoise=True, nan_policy="pairwise")
    with pytest.raises(ParameterError, match="`denoise` must be True or False"):
        risk.covariance(sample, denoise="yes")
    with pytest.raises(ParameterError, match="`detone` must be"):
        risk.covariance(sample, detone=-1)
    with pytest.raises(ParameterError, match="at least one must remain"):
        risk.covariance(sample.iloc[:, :3], detone=3)
    twin = pd.DataFrame({"A": sample.iloc[:, 0], "B": sample.iloc[:, 0] * 2})
    with pytest.raises(CovarianceError, match=r"no variance to \['A', 'B'\]"):
        risk.covariance(twin, detone=True)
    one = risk.covariance(sample.iloc[:, :1], denoise=True)  # one asset: nothing to denoise
    assert one.iloc[0, 0] == pytest.approx(sample.iloc[:, 0].var())


def test_failed_marchenko_pastur_fit_warns_and_uses_unit_variance(seeded, monkeypatch):
    import scipy.optimize

    def failing(fun, x0, **kwargs):
        return scipy.optimize.OptimizeResult(x=np.array([0.3]), success=False, message="ABNORMAL")

    monkeypatch.setattr(scipy.optimize, "minimize", failing)
    with pytest.warns(PoolkitWarning, match="did not converge"):
        den = risk.covariance(seeded, denoise=True)
    q = seeded.shape[0] / seeded.shape[1]
    assert den.attrs["denoise"]["noise_variance"] == 1.0
    assert den.attrs["denoise"]["lambda_plus"] == pytest.approx((1 + (1 / q) ** 0.5) ** 2)


def test_kde_on_the_grid_equals_the_dense_sum():
    rng = np.random.default_rng(0)
    e = np.r_[rng.uniform(0.2, 1.5, 300), rng.uniform(2, 40, 5)]
    for var, q in [(0.7, 5.0), (0.9, 75.0), (0.5, 1.0), (0.99, 0.5)]:
        grid, _ = _estimators._marchenko_pastur_pdf(var, q, 1000)
        z = (grid[:, None] - e[None, :]) / 0.01
        dense = np.exp(-0.5 * z * z).sum(axis=1) / (0.01 * math.sqrt(2 * math.pi) * e.size)
        np.testing.assert_allclose(_estimators._gaussian_kde(e, grid, 0.01), dense, rtol=0, atol=1e-14)


@settings(max_examples=10, deadline=None)
@given(perm=st.permutations(range(12)), scale=st.sampled_from([1e-3, 1.0, 100.0]))
def test_denoise_relabels_with_assets_and_scales_with_units(perm, scale):
    r = factor_returns(12, 240, seed=3)
    base = risk.covariance(r, denoise=True, detone=True)
    moved = risk.covariance(r.iloc[:, list(perm)] * scale, denoise=True, detone=True)
    assert moved.index.equals(r.columns[list(perm)])
    np.testing.assert_allclose(
        moved.loc[r.columns, r.columns].to_numpy(),
        base.to_numpy() * scale**2,
        rtol=1e-8,
        atol=1e-14 * scale**2,
    )


# --------------------------------------------------------------------------- denoising: peers


def test_denoise_and_detone_match_skfolio(sample, seeded):
    cov_mod = pytest.importorskip("skfolio.moments")
    for r in (sample, seeded):
        # skfolio: same fit (L-BFGS-B from 0.5, KDE bandwidth 0.01, 1000 points), q = T / N; its default
        # projection to the nearest positive-definite matrix is turned off to compare the estimates
        est = cov_mod.DenoiseCovariance(covariance_estimator=cov_mod.EmpiricalCovariance(), nearest=False)
        ref = est.fit(r.to_numpy()).covariance_
        np.testing.assert_allclose(risk.covariance(r, denoise=True).to_numpy(), ref, rtol=1e-9, atol=1e-15)
        det = cov_mod.DetoneCovariance(covariance_estimator=cov_mod.EmpiricalCovariance(), nearest=False)
        ref_d = det.fit(r.to_numpy()).covariance_
        np.testing.assert_allclose(risk.covariance(r, detone=True).to_numpy(), ref_d, rtol=1e-9, atol=1e-15)


def test_denoise_matches_riskfolio(sample, seeded):
    rp = pytest.importorskip("riskfolio")
    for r in (sample, seeded):
        # Riskfolio-Lib's denoiseCov(kind="fixed") is the book's constant-residual method. (Its detone
        # option subtracts the market component without re-scaling to a unit diagonal, so the
        # variances change: a different convention, not compared.)
        ref = rp.AuxFunctions.denoiseCov(r.cov(), r.shape[0] / r.shape[1], kind="fixed", bWidth=0.01)
        np.testing.assert_allclose(
            risk.covariance(r, denoise=True).to_numpy(), np.asarray(ref), rtol=1e-9, atol=1e-15
        )

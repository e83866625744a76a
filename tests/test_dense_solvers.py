"""The large-universe paths of the optimisers: mixed-precision factors, lagged Newton steps, degenerate faces.

Each fast path is compared with the plain double-precision path it replaces (the same
problem solved with the fast path switched off) and with a formula: the answers must
agree to rounding, so the speed costs no accuracy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import poolkit as pk
from poolkit.allocation import _budgeting, _linalg, _mean_variance, _measures, _qp, _qp_ipm


def _factor_cov(n_assets: int, n_days: int, seed: int, *, noise: float = 0.015) -> pd.DataFrame:
    """Sample covariance of k = 10 common factors plus noise (the dense universe of the benchmark)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_days, 10)) * 0.01 @ rng.standard_normal((10, n_assets))
    x = x + rng.standard_normal((n_days, n_assets)) * noise
    names = [f"a{i}" for i in range(n_assets)]
    return pd.DataFrame(np.cov(x, rowvar=False), index=names, columns=names)


# --------------------------------------------------------------------------- mixed precision
def test_single_precision_factor_solves_to_double_precision():
    rng = np.random.default_rng(1)
    g = rng.standard_normal((400, 300))
    a = g.T @ g / 400 + 0.1 * np.eye(300)  # condition number about 1e2
    b = rng.standard_normal((300, 3))
    exact = np.linalg.solve(a, b)
    x = _linalg.Cholesky(a, single=True).solve(b)
    assert np.abs(x - exact).max() <= 1e-13 * np.abs(exact).max()
    # the diagonal shift is applied without forming the shifted matrix
    d = rng.uniform(0.5, 2.0, 300)
    xs = _linalg.Cholesky(a, single=True, shift=d).solve(b[:, 0])
    ref = np.linalg.solve(a + np.diag(d), b[:, 0])
    assert np.abs(xs - ref).max() <= 1e-13 * np.abs(ref).max()
    # a hand-worked 2 x 2: [[4, 2], [2, 3]] x = [2, 1] -> x = [1/2, 0]
    np.testing.assert_allclose(_linalg.Cholesky(np.array([[4.0, 2.0], [2.0, 3.0]]), single=True)
                               .solve(np.array([2.0, 1.0])), [0.5, 0.0], atol=1e-15)


def test_ill_conditioned_single_precision_factor_is_refused():
    # a condition number of 1e10: single precision cannot be refined, so the caller must go to double
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    a = (q * np.logspace(0, -10, 200)) @ q.T
    a = (a + a.T) / 2
    try:
        chol = _linalg.Cholesky(a, single=True)
    except np.linalg.LinAlgError:
        return  # the single-precision factorisation itself fails: also a refusal
    if chol.well_conditioned():
        with pytest.raises(_linalg.Imprecise):
            chol.solve(rng.standard_normal(200))


def test_min_variance_with_single_precision_faces_matches_double(monkeypatch):
    cov = _factor_cov(1300, 2000, seed=3)
    fast = pk.allocation.min_variance(cov)
    monkeypatch.setattr(_qp, "MIXED_MIN", 10**9)
    slow = pk.allocation.min_variance(cov)
    assert fast.index.equals(cov.columns)
    assert np.abs(fast - slow).max() <= 1e-9
    s = cov.to_numpy()
    assert abs(fast @ s @ fast - slow @ s @ slow) <= 1e-12 * (slow @ s @ slow)


# --------------------------------------------------------------------------- lagged Newton for risk parity
def test_risk_parity_with_lagged_factors_matches_exact_newton(monkeypatch):
    cov = _factor_cov(700, 500, seed=4)  # more assets than days: a singular covariance
    fast = pk.allocation.risk_parity(cov)
    monkeypatch.setattr(_budgeting, "_LAGGED_MIN", 10**9)
    slow = pk.allocation.risk_parity(cov)
    np.testing.assert_allclose(fast.to_numpy(), slow.to_numpy(), rtol=1e-9)
    rc = fast.to_numpy() * (cov.to_numpy() @ fast.to_numpy())
    assert rc.max() / rc.min() - 1.0 <= 1e-8  # equal risk contributions


def test_drift_bounds_the_preconditioned_condition_number():
    # (C + D0)^-1 (C + D): its eigenvalues lie between min(1, d/d0) and max(1, d/d0)
    rng = np.random.default_rng(5)
    g = rng.standard_normal((30, 20))
    c = g.T @ g / 30
    d0, d = rng.uniform(0.1, 1.0, 20), rng.uniform(0.1, 1.0, 20)
    ev = np.linalg.eigvals(np.linalg.solve(c + np.diag(d0), c + np.diag(d))).real
    assert ev.max() / ev.min() <= _budgeting._drift(d, d0) * (1 + 1e-12)


# --------------------------------------------------------------------------- degenerate faces
def _pdas_failures(monkeypatch) -> list[Exception]:
    """Record every way PDAS gives up (the exceptions it raises) while the test runs."""
    failures: list[Exception] = []
    pdas = _qp._pdas

    def recording(*args, **kwargs):
        try:
            return pdas(*args, **kwargs)
        except _qp._Failed as exc:
            failures.append(exc)
            raise

    monkeypatch.setattr(_qp, "_pdas", recording)
    return failures


def test_min_variance_on_more_assets_than_days_is_verified_and_optimal(monkeypatch):
    # 1000 assets, 500 days: the active set swings between singular and regular faces; PDAS gives
    # way to the interior point, whose answer is checked (KKT) and must not be beaten by the
    # plain sequence (PDAS until it stalls, then the interior point)
    cov = _factor_cov(1000, 500, seed=6)
    failures = _pdas_failures(monkeypatch)
    w = pk.allocation.min_variance(cov)
    assert "PDAS returns to singular faces" in [str(exc) for exc in failures]  # the case this test is about
    assert (w >= 0).all() and abs(w.sum() - 1) <= 1e-12
    s = cov.to_numpy()
    monkeypatch.setattr(_qp, "SINGULAR_ABORT_MIN", 10**9)
    ref = pk.allocation.min_variance(cov)
    scale = float(np.diag(s).max())
    assert float(w @ s @ w) <= float(ref @ s @ ref) + 1e-9 * scale


def test_standalone_risk_is_each_asset_alone(returns):
    r = returns.iloc[:300, :6]
    for measure in ("variance", "semi_variance", "cvar", "cdar"):
        model, _ = _measures.risk_model(r, measure)
        np.testing.assert_allclose(model.standalone(), model.value(np.eye(model.n)), rtol=1e-14, atol=0)


# --------------------------------------------------------------------------- interior point in mixed precision
def test_pivots_are_judged_relative_to_their_own_diagonal():
    # a well-conditioned correlation matrix plus an interior point's barrier: a few diagonal
    # entries 1e8 times the others. Scaled to unit diagonal it is as well-conditioned as before,
    # so the single-precision factor is kept, and its solves still reach double precision.
    rng = np.random.default_rng(8)
    g = rng.standard_normal((600, 300))
    a = np.corrcoef(g, rowvar=False)
    shift = np.zeros(300)
    shift[:5] = 1e8
    chol = _linalg.Cholesky(a, single=True, shift=shift)
    piv = chol.pivots
    assert piv.min() < _linalg.SINGLE_PIVOT_SPREAD * piv.max()  # the raw spread alone would refuse it
    assert chol.well_conditioned()
    b = rng.standard_normal(300)
    ref = np.linalg.solve(a + np.diag(shift), b)
    assert np.abs(chol.solve(b) - ref).max() <= 1e-12 * np.abs(ref).max()


def _scaled_min_variance(cov: pd.DataFrame) -> _qp._Scaled:
    n = cov.shape[0]
    return _qp._scale(cov.to_numpy(), np.zeros(n), np.zeros(n), np.full(n, np.inf),
                      np.ones((1, n)), np.ones(1), np.ones(1))


def test_interior_point_in_single_precision_matches_double(monkeypatch):
    # the same interior point with single-precision factors (the whole Newton system refined in
    # double precision) and with double-precision factors: the same minimiser to rounding, and the
    # factors stay single to the last iteration (the barrier's growth does not force double ones)
    cov = _factor_cov(300, 600, seed=9)
    p = _scaled_min_variance(cov)
    kinds: list[bool] = []
    newton = _qp_ipm._Newton

    class Recording(newton):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            kinds.append(self.single)

    monkeypatch.setattr(_qp_ipm, "_Newton", Recording)
    monkeypatch.setattr(_qp_ipm, "MIXED_MIN", 100)
    x32, _, z32 = _qp_ipm.ipm(p)
    assert kinds and all(kinds)
    monkeypatch.setattr(_qp_ipm, "MIXED_MIN", 10**9)
    x64, _, _ = _qp_ipm.ipm(p)
    assert np.abs(x32 - x64).max() <= 1e-8 * np.abs(x64).max()
    h = p.h
    assert abs(x32 @ h @ x32 - x64 @ h @ x64) <= 1e-12 * (x64 @ h @ x64)
    assert abs(float((p.a @ x32)[0]) - float(p.a_lo[0])) <= 1e-12 * abs(float(p.a_lo[0]))  # the budget holds
    assert x32.min() >= 0 and z32.max() <= 0  # long only; the multipliers push only against the lower bounds


def test_crossover_from_a_verified_interior_point_stops_at_a_singular_face(monkeypatch):
    # more assets than days (1000 x 500), large blocks taken in single precision: the crossover
    # from the interior point meets a singular face and keeps the interior point's verified
    # answer instead of ridged factorisations; that answer is no worse than the plain sequence
    cov = _factor_cov(1000, 500, seed=6)
    s = cov.to_numpy()
    ref = pk.allocation.min_variance(cov)  # blocks below MIXED_MIN: double precision, no shortcut
    failures = _pdas_failures(monkeypatch)
    monkeypatch.setattr(_qp, "MIXED_MIN", 200)
    w = pk.allocation.min_variance(cov)
    assert any(isinstance(exc, _qp._SingularFace) for exc in failures)  # the case this test is about
    assert w.index.equals(cov.columns)
    assert (w >= 0).all() and abs(w.sum() - 1) <= 1e-12
    scale = float(np.diag(s).max())
    assert float(w @ s @ w) <= float(ref @ s @ ref) + 1e-9 * scale
    # relabelled and reordered assets: the same least variance, the weights under their own labels
    order = np.random.default_rng(12).permutation(cov.shape[0])
    shuffled = cov.iloc[order, order].rename(index=lambda a: f"x{a}", columns=lambda a: f"x{a}")
    w2 = pk.allocation.min_variance(shuffled)
    assert w2.index.equals(shuffled.columns)
    s2 = shuffled.to_numpy()
    assert abs(float(w2 @ s2 @ w2) - float(w @ s @ w)) <= 1e-9 * scale


def test_crossover_from_a_verified_interior_point_is_cut_after_its_faces(monkeypatch):
    # the same degenerate problem with the crossover cut after one face (POLISH_FACES): PDAS is
    # refused at the interior point's verified answer, which is returned (in bounds, on budget)
    # with the least variance of the plain sequence; the cut applies only to that crossover
    cov = _factor_cov(1000, 500, seed=6)
    s = cov.to_numpy()
    ref = pk.allocation.min_variance(cov)
    calls: list[dict] = []
    pdas = _qp._pdas

    def recording(*args, **kwargs):
        calls.append(kwargs)
        return pdas(*args, **kwargs)

    monkeypatch.setattr(_qp, "_pdas", recording)
    monkeypatch.setattr(_qp, "MIXED_MIN", 200)
    monkeypatch.setattr(_qp, "POLISH_FACES", 1)
    result = _qp.solve_qp(s, np.zeros(1000), np.zeros(1000), np.full(1000, np.inf), np.ones((1, 1000)),
                          np.ones(1), np.ones(1), guess=1.0 / np.diag(s))
    assert [c.get("max_iter", 100) for c in calls] == [100, 1]  # guessed PDAS, then the cut crossover
    assert result.method == "ipm"
    w = result.x
    assert w.min() >= 0 and abs(w.sum() - 1) <= 1e-12
    assert float(w @ s @ w) <= float(ref @ s @ ref) + 1e-9 * float(np.diag(s).max())


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("where", [(0, 1), (1, 1499), (1400, 20), (1499, 1450), (255, 256), (300, 300)])
def test_blockwise_asymmetry_equals_the_plain_definition(where, layout):
    # 1500 assets: 6 x 6 tiles of 256 (the last ones partial); one pair is broken anywhere in the
    # matrix, in a tile on the diagonal, above it or below it, at a tile's edge, or on the diagonal
    from poolkit.allocation._core import _asymmetry

    rng = np.random.default_rng(11)
    g = rng.standard_normal((1500, 1500))
    m = np.asarray(g + g.T, order=layout)
    assert _asymmetry(m) == 0.0
    i, j = where
    m[i, j] += 3e-7
    expected = 0.0 if i == j else pytest.approx(3e-7, rel=1e-6)
    assert _asymmetry(m) == np.abs(m - m.T).max() == expected


# --------------------------------------------------------------------------- implied bounds, singular starts
def _scaled(h: np.ndarray, lower, upper, a, b) -> _qp._Scaled:
    n = h.shape[0]
    a = np.asarray(a, dtype=float).reshape(-1, n)
    b = np.asarray(b, dtype=float)
    return _qp._scale(h, np.zeros(n), np.asarray(lower, float), np.asarray(upper, float), a, b, b)


def test_implied_upper_bounds_are_those_the_budget_and_the_floors_force():
    # w >= 0, sum(w) = 1: every cap of 1 or more is implied, a cap of 0.5 is not; floors of 0.1
    # on the others imply w_i <= 1 - 0.1 (n - 1); a variable without a floor implies no other's cap
    n = 5
    eye = np.eye(n)
    p = _scaled(eye, np.zeros(n), [1.0, 2.0, 0.5, np.inf, 1.0 - 1e-9], np.ones(n), [1.0])
    assert _qp_ipm._implied_upper(p, np.array([0])).tolist() == [True, True, False, True, False]
    p = _scaled(eye, np.full(n, 0.1), [0.6, 0.61, 0.59, 1.0, 0.6], np.ones(n), [1.0])
    assert _qp_ipm._implied_upper(p, np.array([0])).tolist() == [True, True, False, True, True]
    p = _scaled(eye, [-np.inf, 0, 0, 0, 0], np.ones(n), np.ones(n), [1.0])
    assert _qp_ipm._implied_upper(p, np.array([0])).tolist() == [True, False, False, False, False]
    p = _scaled(eye, np.zeros(n), np.ones(n), -np.ones(n), [-1.0])  # the same row turned round
    assert _qp_ipm._implied_upper(p, np.array([0])).all()
    p = _scaled(eye, np.zeros(n), np.ones(n), [1.0, 1.0, 1.0, 1.0, -1.0], [1.0])  # mixed signs
    assert not _qp_ipm._implied_upper(p, np.array([0])).any()


def test_interior_point_without_implied_caps_keeps_the_feasible_set():
    # 400 assets, each 1.5 times the first plus noise: the least variance is all in the first one
    # (w_0 = 1, its implied cap active). The interior point leaves the far caps out and must
    # still end on the cap, inside every bound.
    n = 400
    beta = np.r_[1.0, np.full(n - 1, 1.5)]
    h = np.outer(beta, beta) + np.diag(np.r_[0.0, np.linspace(0.1, 1.0, n - 1)])
    p = _scaled(h, np.zeros(n), np.ones(n), np.ones(n), [1.0])
    assert _qp_ipm._implied_upper(p, np.array([0])).all()
    x, y, z = _qp_ipm.ipm(p)
    w = x * p.d
    assert abs(w[0] - 1.0) <= 1e-9 and np.abs(w[1:]).max() <= 1e-9
    assert w.min() >= 0.0 and w.max() <= 1.0 + 1e-12
    ok, msg = _qp._verified(p, x, y, z, _qp.KKT_TOL)
    assert ok, msg


def _verified_ipm_runs(monkeypatch, p: _qp._Scaled, setting: str, values) -> list[tuple[int, float, float]]:
    """Run the interior point once per value of the module constant ``setting``: every answer is
    verified and long-only where bounded below; return (Newton systems, x'Hx, sum |x|) per run."""
    newton = _qp_ipm._Newton
    systems: list[int] = []

    class Counting(newton):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            systems.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(_qp_ipm, "_Newton", Counting)
    runs = []
    for value in values:
        monkeypatch.setattr(_qp_ipm, setting, value)
        systems.clear()
        x, y, z = _qp_ipm.ipm(p)
        assert _qp._verified(p, x, y, z, _qp.KKT_TOL)[0]
        assert (x[np.isfinite(p.lower)] >= p.lower[np.isfinite(p.lower)]).all()
        runs.append((len(systems), float(x @ p.h @ x), float(np.abs(x).sum())))
    return runs


def test_interior_point_starts_centred_when_caps_are_far(monkeypatch):
    # min variance over 600 assets with caps of 1: the caps are implied and left out, so the
    # barrier starts centred; with them in, the start is off centre and takes more iterations
    # (the same least variance either way)
    cov = _factor_cov(600, 400, seed=4)
    n = cov.shape[0]
    p = _qp._scale(cov.to_numpy(), np.zeros(n), np.zeros(n), np.ones(n), np.ones((1, n)), np.ones(1), np.ones(1))
    runs = _verified_ipm_runs(monkeypatch, p, "FAR_BOUND", (_qp_ipm.FAR_BOUND, np.inf))
    (left_out, f_out, size), (kept, f_kept, _) = runs
    assert left_out < kept
    assert abs(f_out - f_kept) <= 1e-10 * size**2  # unit diagonal: |x' H x| <= (sum |x|)^2


@pytest.mark.parametrize("problem", ["min_variance", "max_sharpe"])
def test_centrality_correctors_take_fewer_iterations_to_the_same_optimum(monkeypatch, problem):
    # Gondzio's correctors on a degenerate problem (600 assets, 400 days), made "large" by lowering
    # CORRECTED_MIN: fewer Newton systems than the plain predictor-corrector, both answers verified
    # and with the same objective; min variance with its budget, and the homogenised max Sharpe
    # (min y'Sy with excess'y = 1, y >= 0) whose start is off its equality row
    cov = _factor_cov(600, 400, seed=17)
    n = cov.shape[0]
    if problem == "min_variance":
        p = _scaled_min_variance(cov)
    else:
        excess = np.random.default_rng(17).normal(0.0004, 0.0004, n)
        p = _qp._scale(cov.to_numpy(), np.zeros(n), np.zeros(n), np.full(n, np.inf), excess[None, :],
                       np.ones(1), np.ones(1))
    (corrected, f_c, size), (plain, f_p, _) = _verified_ipm_runs(monkeypatch, p, "CORRECTED_MIN", (100, 10**9))
    assert corrected < plain
    assert abs(f_c - f_p) <= 1e-10 * size**2  # unit diagonal: x'Hx <= (sum |x|)^2


def test_an_imprecise_corrector_is_dropped_without_a_double_precision_factor(monkeypatch):
    # correctors whose solve does not refine (simulated: every single-precision one raises) are left
    # out; the iterations keep their single-precision factors and end at the verified optimum
    cov = _factor_cov(600, 400, seed=17)
    p = _scaled_min_variance(cov)
    kinds: list[bool] = []
    newton, direction = _qp_ipm._Newton, _qp_ipm._direction
    refused: list[int] = []

    class Recording(newton):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            kinds.append(self.single)

    def imprecise_correctors(system, state, *args):
        if system.single and not np.any(state[6]) and not np.any(state[7]):  # zero dual, primal sides
            refused.append(1)
            raise _linalg.Imprecise("simulated")
        return direction(system, state, *args)

    monkeypatch.setattr(_qp_ipm, "_Newton", Recording)
    monkeypatch.setattr(_qp_ipm, "_direction", imprecise_correctors)
    monkeypatch.setattr(_qp_ipm, "MIXED_MIN", 100)
    monkeypatch.setattr(_qp_ipm, "CORRECTED_MIN", 100)
    x, y, z = _qp_ipm.ipm(p)
    assert refused and kinds and all(kinds)
    assert _qp._verified(p, x, y, z, _qp.KKT_TOL)[0]


def test_a_singular_whole_problem_whose_next_face_is_singular_goes_to_the_interior_point(monkeypatch):
    # 1500 assets, 700 days (rank 699): the whole problem and PDAS's next face are singular even
    # in single precision, so PDAS gives way at once; the answer is verified and no worse than
    # PDAS's own, taken through every singular face
    cov = _factor_cov(1500, 700, seed=3)
    s = cov.to_numpy()
    failures = _pdas_failures(monkeypatch)
    w = pk.allocation.min_variance(cov)
    assert any(isinstance(exc, _qp._SingularFace) for exc in failures)
    assert (w >= 0).all() and abs(w.sum() - 1) <= 1e-12
    monkeypatch.setattr(_qp, "SINGULAR_ABORT_MIN", 10**9)
    failures.clear()
    ref = pk.allocation.min_variance(cov)
    assert not failures  # PDAS alone reaches it, face by face
    scale = float(np.diag(s).max())
    assert float(w @ s @ w) <= float(ref @ s @ ref) + 1e-9 * scale


def _face_sizes(monkeypatch) -> list[int]:
    sizes: list[int] = []
    factor = _qp._Face._factor

    def recording(self, free, *, double=False):
        sizes.append(int(free.size))
        return factor(self, free, double=double)

    monkeypatch.setattr(_qp._Face, "_factor", recording)
    return sizes


@pytest.mark.parametrize("method", ["min_variance", "max_sharpe"])
@pytest.mark.parametrize("score", ["inverse variance", "reversed"])
def test_a_guessed_first_face_gives_the_cold_start_answer(monkeypatch, method, score):
    # 500 assets, 2520 days: the optimum holds a few of them. PDAS starts from the tenth with the
    # best score (1/variance, or excess return/variance), not from the whole problem; a wrong
    # guess (its reverse) costs faces, not the answer; relabelled, reordered assets get theirs
    rng = np.random.default_rng(5)
    n = 500
    loads = 1.0 + 0.5 * rng.standard_normal((3, n))  # a market factor and two others, noise of 0.5-4 %
    x = rng.standard_normal((2520, 3)) * 0.01 @ loads + rng.standard_normal((2520, n)) * rng.uniform(0.005, 0.04, n)
    names = [f"a{i}" for i in range(n)]
    cov = pd.DataFrame(np.cov(x, rowvar=False), index=names, columns=names)
    mu = pd.Series(x.mean(axis=0) + 2e-4, index=names)

    def solve(c: pd.DataFrame) -> pd.Series:
        if method == "min_variance":
            return pk.allocation.min_variance(c)
        return pk.allocation.max_sharpe(mu.reindex(c.columns), c)

    monkeypatch.setattr(_qp, "GUESS_MIN", 10**9)
    cold = solve(cov)
    monkeypatch.setattr(_qp, "GUESS_MIN", 300)
    if score == "reversed":
        monkeypatch.setattr(_mean_variance, "_inverse_variance", lambda h: np.diag(h).copy())
    sizes = _face_sizes(monkeypatch)
    w = solve(cov)
    assert sizes[0] == 50 < cov.shape[0]
    assert (w > 1e-9).sum() < 0.5 * cov.shape[0]  # a sparse optimum: the case the guess is for
    assert np.abs(w - cold).max() <= 1e-9
    order = np.random.default_rng(16).permutation(n)
    shuffled = cov.iloc[order, order].rename(index=lambda a: f"x{a}", columns=lambda a: f"x{a}")
    mu = mu.rename(lambda a: f"x{a}")
    w2 = solve(shuffled)
    assert w2.index.equals(shuffled.columns)
    assert np.abs(w2.rename(lambda a: a[1:]).reindex(w.index) - w).max() <= 1e-9


@pytest.mark.parametrize("single", [True, False])
def test_triangular_solves_match_a_direct_solve_and_the_factor_stays_in_its_buffer(single):
    # the solves go through two triangular solves (not LAPACK's potrs): one and several right-hand
    # sides give the direct solution; a single-precision factor is written into the buffer given
    rng = np.random.default_rng(14)
    g = rng.standard_normal((300, 600))
    a = g @ g.T / 600 + np.eye(300)
    b1, b3, b5 = rng.standard_normal(300), rng.standard_normal((300, 3)), rng.standard_normal((300, 5))
    buf = np.empty((300, 300), dtype=np.float32, order="F") if single else None
    chol = _linalg.Cholesky(a, single=single, a32=a.astype(np.float32) if single else None, out=buf)
    if single:
        assert np.shares_memory(chol.factor[0], buf)
    for b in (b1, b3, b5):  # trsv, trsv column by column, trsm
        ref = np.linalg.solve(a, b)
        assert np.abs(chol.solve(b) - ref).max() <= 1e-12 * np.abs(ref).max()
        raw = chol.apply_inverse(b)
        assert raw.shape == b.shape and raw.dtype == np.float64
        assert np.abs(raw - ref).max() <= (1e-5 if single else 1e-12) * np.abs(ref).max()


@pytest.mark.parametrize("layout", ["C", "F"])
def test_symmetric_product_reads_one_triangle_and_equals_the_general_one(layout):
    # the interior point's residual products read one triangle (BLAS symv) on large matrices: the
    # same product to rounding in either layout; the other triangle is never read
    n = _linalg.MIXED_MIN + 10
    rng = np.random.default_rng(15)
    g = rng.standard_normal((n, n))
    a = np.array((g + g.T) / 2, order=layout)
    x = rng.standard_normal(n)
    ref = a @ x
    assert np.abs(_linalg.symmetric_times(a, x) - ref).max() <= 1e-13 * (np.abs(a) @ np.abs(x)).max()
    lower = np.tril(a) + np.triu(np.full((n, n), np.nan), 1)  # the triangle symv reads, NaN elsewhere
    lower = np.array(lower, order="F")
    assert np.isfinite(_linalg.symmetric_times(lower, x)).all()

"""min_cdar: the structured interior point against an independent LP (HiGHS on the running-peak form).

The reference is built here from the paper's formulation (Chekhlov, Uryasev & Zabarankin
2005): running peaks ``u_t >= P_t w``, ``u_t >= u_{t-1}``, ``u_0 = 0``, on the cumulative
returns ``P`` — not the drawdown recursion poolkit solves — and handed to HiGHS.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poolkit import allocation as al
from poolkit.allocation._measures import RiskModel
from poolkit.exceptions import InfeasibleError, SolverError

TOL = 1e-9


def _cdar(frame: pd.DataFrame, w: pd.Series, level: float) -> float:
    r = frame.to_numpy()
    model = RiskModel("cdar", frame.columns, np.vstack([np.zeros((1, r.shape[1])), np.cumsum(r, axis=0)]), level)
    return float(model.value(w.reindex(frame.columns).to_numpy()))


def _reference(frame: pd.DataFrame, level: float, lower: float, upper: float, groups: np.ndarray | None = None,
               group_bounds: tuple[float, float] | None = None, target: float | None = None) -> float:
    """Least CDaR by HiGHS on the running-peak LP: variables (w, alpha, u, d)."""
    from scipy import sparse
    from scipy.optimize import linprog

    r = frame.to_numpy()
    t, n = r.shape
    path = np.cumsum(r, axis=0)
    eye = sparse.identity(t, format="csr")
    step = (sparse.eye(t, t, k=-1) - eye).tocsr()[1:]  # u_{t-1} - u_t <= 0
    rows = [
        sparse.hstack([sparse.csr_matrix(path), sparse.csr_matrix((t, 1)), -eye, sparse.csr_matrix((t, t))]),
        sparse.hstack([sparse.csr_matrix((t - 1, n + 1)), step, sparse.csr_matrix((t - 1, t))]),
        sparse.hstack([sparse.csr_matrix(-path), sparse.csr_matrix(-np.ones((t, 1))), eye, -eye]),
    ]
    rhs = [np.zeros(t), np.zeros(t - 1), np.zeros(t)]
    if groups is not None and group_bounds is not None:
        pad = sparse.csr_matrix((groups.shape[0], 1 + 2 * t))
        rows += [sparse.hstack([sparse.csr_matrix(groups), pad]), sparse.hstack([sparse.csr_matrix(-groups), pad])]
        rhs += [np.full(groups.shape[0], group_bounds[1]), np.full(groups.shape[0], -group_bounds[0])]
    if target is not None:
        rows.append(sparse.hstack([sparse.csr_matrix(-r.mean(axis=0)[None, :]), sparse.csr_matrix((1, 1 + 2 * t))]))
        rhs.append(np.array([-target]))
    c = np.concatenate([np.zeros(n), [1.0], np.zeros(t), np.full(t, 1.0 / ((1.0 - level) * t))])
    bounds = [(lower, upper)] * n + [(None, None)] + [(0.0, None)] * (2 * t)
    res = linprog(c, A_ub=sparse.vstack(rows).tocsc(), b_ub=np.concatenate(rhs),
                  A_eq=np.concatenate([np.ones(n), np.zeros(1 + 2 * t)])[None, :], b_eq=[1.0], bounds=bounds,
                  method="highs", options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
    assert res.status == 0, res.message
    return float(res.fun)


@pytest.fixture(scope="module")
def window(returns):
    return returns.loc["2019":"2022"]


@pytest.mark.parametrize("level", [0.6, 0.95, 0.99])
@pytest.mark.parametrize("case", ["long only", "cap", "groups", "target", "long-short"])
def test_min_cdar_is_the_least_cdar_of_an_independent_lp(window, case, level):
    n = window.shape[1]
    lower, upper, kw = 0.0, 1.0, {}
    groups = group_bounds = target = None
    if case in ("cap", "groups"):
        upper = 0.12
        kw["bounds"] = (lower, upper)
    if case == "groups":
        labels = {a: f"g{i % 4}" for i, a in enumerate(window.columns)}
        groups = np.array([[1.0 if i % 4 == g else 0.0 for i in range(n)] for g in range(4)])
        group_bounds = (0.15, 0.35)
        kw.update(groups=labels, group_bounds=group_bounds)
    if case == "target":
        target = float(np.quantile(window.mean().to_numpy(), 0.75))
        kw["target_return"] = target
    if case == "long-short":
        lower, upper = -0.2, 0.5
        kw["bounds"] = (lower, upper)
    w = al.min_cdar(window, level, **kw)
    ref = _reference(window, level, lower, upper, groups, group_bounds, target)
    assert _cdar(window, w, level) == pytest.approx(ref, rel=TOL)
    assert abs(w.sum() - 1) <= TOL and (w >= lower - TOL).all() and (w <= upper + TOL).all()
    if groups is not None:
        totals = groups @ w.to_numpy()
        assert (totals >= 0.15 - TOL).all() and (totals <= 0.35 + TOL).all()
    if target is not None:
        assert float(window.mean() @ w) >= target - 1e-12


@pytest.mark.slow
def test_min_cdar_at_100_assets_and_2520_days_matches_highs():
    # ten years of a 100-asset universe with three factors: the benchmark's size
    rng = np.random.default_rng(2520)
    t, n = 2520, 100
    factors = rng.standard_t(5, size=(t, 3)) * 0.008
    loads = rng.uniform(0.3, 1.2, size=(3, n))
    r = factors @ loads + rng.standard_t(5, size=(t, n)) * 0.01 + 0.0002
    frame = pd.DataFrame(r, index=pd.bdate_range("2015-01-01", periods=t, name="date"),
                         columns=[f"A{i:03d}" for i in range(n)])
    w = al.min_cdar(frame, 0.95)
    ref = _reference(frame, 0.95, 0.0, 1.0)
    assert _cdar(frame, w, 0.95) == pytest.approx(ref, rel=1e-8)
    assert abs(w.sum() - 1) <= TOL and (w >= -TOL).all()


def test_min_cdar_falls_back_to_highs_with_the_same_answer(window, monkeypatch):
    import poolkit.allocation._cdar as cdar

    direct = al.min_cdar(window, 0.9, bounds=(0.0, 0.15))

    def stalled(*args, **kwargs):
        raise SolverError("min_cdar: stalled")

    monkeypatch.setattr(cdar, "solve_cdar_lp", stalled)
    fallback = al.min_cdar(window, 0.9, bounds=(0.0, 0.15))
    assert _cdar(window, fallback, 0.9) == pytest.approx(_cdar(window, direct, 0.9), rel=TOL)


def test_min_cdar_of_assets_that_move_together():
    # two identical assets leave the Schur complement a direction without curvature
    idx = pd.date_range("2024-01-01", periods=60, freq="D", name="date")
    rng = np.random.default_rng(3)
    base = rng.normal(0.0, 0.01, size=(60, 1))
    frame = pd.DataFrame(np.hstack([base, base, rng.normal(0.0, 0.01, size=(60, 2))]), index=idx,
                         columns=["A", "A2", "B", "C"])
    w = al.min_cdar(frame, 0.9)
    assert _cdar(frame, w, 0.9) == pytest.approx(_reference(frame, 0.9, 0.0, 1.0), rel=TOL)


def test_min_cdar_refuses_an_impossible_mandate(window):
    cols = list(window.columns)
    with pytest.raises(InfeasibleError, match="group_bounds"):
        al.min_cdar(window, 0.95, bounds=(0.0, 0.1), groups={cols[0]: "x", cols[1]: "x"},
                    group_bounds={"x": (0.5, 1.0)})


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scale=st.floats(0.05, 1.5), seed=st.integers(0, 10_000))
def test_min_cdar_ignores_units_and_labels(window, scale, seed):
    # CDaR is positively homogeneous in the returns: rescaled returns (halved, leveraged) give the
    # same weights, and relabelled, reordered assets give the same weight to each asset
    frame = window.iloc[-300:]
    w = al.min_cdar(frame, 0.9)
    order = np.random.default_rng(seed).permutation(frame.shape[1])
    moved = (frame * scale).iloc[:, order]
    moved.columns = [f"x{c}" for c in moved.columns]
    w2 = al.min_cdar(moved, 0.9)
    assert list(w2.index) == list(moved.columns)
    back = pd.Series(w2.to_numpy(), index=[c[1:] for c in w2.index]).reindex(w.index)
    assert _cdar(frame, back, 0.9) == pytest.approx(_cdar(frame, w, 0.9), rel=1e-8)

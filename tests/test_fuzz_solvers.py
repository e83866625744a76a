"""Fuzz test of the allocation solvers against an independent solver (Clarabel through cvxpy).

Seeded covariances of 2-200 assets (mostly small): factor models, near-singular and
rank-deficient matrices, condition numbers up to 1e12, huge volatility ratios, duplicated
assets, two assets at correlation -0.99999999, units from 1e-8 to 1e2; each method gets
its own random constraint set (long-only, caps down to exactly 1/n, floors, shorts, no
bounds at all, groups, market-neutral budgets with a gross cap, L2 penalties). Every
returned portfolio is checked by the test itself (budget, bounds, groups, gross cap to
1e-9) and compared with the reference:

- QPs (min_variance, mean_variance, frontier points): the objective of poolkit's weights
  may not exceed the reference's by more than 1e-7 of the objective's scale, the larger
  of |reference| and the variance the portfolio would have without diversification
  (sum_i |w_i| sigma_i)^2 (for a singular covariance the least variance may be 0, where
  a relative comparison means nothing; weights are never compared: they need not be
  unique). The reference counts as accurate only when it is itself feasible to 1e-7;
  poolkit doing better than the reference by more than the tolerance is counted as a
  reference inaccuracy, not a failure.
- max_sharpe / max_diversification: the ratio's squared inverse (variance per squared
  excess return) is compared the same way; a reference value ~0 means the ratio is
  infinite, where poolkit must refuse with UnboundedError.
- Feasibility is decided independently by an LP (HiGHS through scipy, written here):
  an InfeasibleError on a feasible set is a failure; a SolverError on a problem the
  reference solves is a failure.
- risk_parity (unique solution) is compared with the log-barrier problem of Spinu
  (exponential cone) by weights; hrp with a plain recursive implementation of
  Lopez de Prado's algorithm written here.

References are solved in batches: the problems of one chunk are stacked into one
block-separable cvxpy problem (each block normalised to unit scale) and solved once.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from poolkit import allocation as al
from poolkit.exceptions import InfeasibleError, PoolkitError, SolverError, UnboundedError

cp = pytest.importorskip("cvxpy")
pytest.importorskip("clarabel")
sparse = pytest.importorskip("scipy.sparse")

pytestmark = pytest.mark.slow

N_CHUNKS = 4
PER_CHUNK = int(os.environ.get("POOLKIT_FUZZ_PER_CHUNK", "250"))  # 4 chunks: 1000 covariances per method
OBJ_TOL = 1e-7
FEAS_TOL = 1e-9
REF_FEAS_TOL = 1e-7
CLARABEL = {"tol_gap_abs": 1e-14, "tol_gap_rel": 1e-13, "tol_feas": 1e-12, "max_iter": 400}
CLARABEL_EXP = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-11, "tol_feas": 1e-11, "max_iter": 400}


# --------------------------------------------------------------------------- problems
@dataclass
class Case:
    """One fuzzed covariance with expected returns and the constraint set drawn for one method."""

    cov: np.ndarray
    mu: np.ndarray
    label: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    groups: np.ndarray | None = None  # group index per asset, -1 = none
    group_lo: np.ndarray | None = None
    group_hi: np.ndarray | None = None
    budget: float = 1.0
    gross: float | None = None
    l2: float = 0.0

    @property
    def n(self) -> int:
        return len(self.mu)

    @property
    def names(self) -> list[str]:
        return [f"A{i}" for i in range(self.n)]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.cov, index=self.names, columns=self.names)

    def series(self) -> pd.Series:
        return pd.Series(self.mu, index=self.names)

    def hmat(self) -> np.ndarray:
        s = self.cov.copy()
        if self.l2:
            s[np.diag_indices_from(s)] += self.l2 * np.trace(s) / self.n
        return s


def _psd(mat: np.ndarray) -> np.ndarray:
    mat = (mat + mat.T) / 2
    return mat


def _size(rng: np.random.Generator) -> int:
    """Mostly small problems (where the edge cases live and the reference is cheap), a few larger ones."""
    u = rng.random()
    if u < 0.7:
        return int(rng.integers(2, 11))
    if u < 0.97:
        return int(rng.integers(11, 41))
    return int(rng.choice([60, 94]))


def fuzz_cov(rng: np.random.Generator, n: int) -> tuple[np.ndarray, str]:
    kind = rng.choice(
        ["factor", "near_singular", "rank_deficient", "ill", "diagonal", "duplicate", "equal_corr", "two_extreme"],
        p=[0.24, 0.14, 0.14, 0.16, 0.08, 0.08, 0.08, 0.08],
    )
    if kind == "two_extreme":
        n = 2
        rho = float(rng.choice([-0.99999999, -0.9999, 0.9999, 0.99999999, 0.0]))
        vols = np.array([1.0, 10 ** rng.uniform(-3, 3)])
        mat = np.outer(vols, vols) * np.array([[1, rho], [rho, 1]])
    elif kind == "factor":
        k = int(rng.integers(1, max(2, n // 3) + 1))
        b = rng.standard_normal((n, k)) * rng.uniform(0.05, 0.5, (n, 1))
        mat = b @ b.T + np.diag(rng.uniform(0.01, 0.3, n) ** 2)
    elif kind == "near_singular":
        k = int(rng.integers(1, max(2, n)))
        b = rng.standard_normal((n, k))
        mat = b @ b.T
        mat += float(rng.choice([1e-14, 1e-12, 1e-10, 1e-8])) * np.trace(mat) / n * np.eye(n)
    elif kind == "rank_deficient":
        t = int(rng.integers(2, max(3, n)))
        x = rng.standard_normal((t, n)) @ np.diag(rng.uniform(0.5, 2.0, n))
        x -= x.mean(axis=0)
        mat = x.T @ x / max(t - 1, 1)
    elif kind == "ill":
        q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        eig = np.logspace(0, -rng.uniform(4, 12), n)
        mat = (q * eig) @ q.T
    elif kind == "diagonal":
        vols = np.logspace(0, rng.uniform(0, 6), n)
        rng.shuffle(vols)
        mat = np.diag(vols**2)
    elif kind == "duplicate":
        m = max(1, n - int(rng.integers(1, max(2, n // 2) + 1)))
        b = rng.standard_normal((m, 2)) * 0.3
        base = b @ b.T + np.diag(rng.uniform(0.01, 0.1, m))
        pick = np.concatenate([np.arange(m), rng.integers(0, m, n - m)])
        mat = base[np.ix_(pick, pick)]
    else:  # equal correlation
        rho = rng.uniform(-1.0 / max(n - 1, 1) + 1e-3, 0.99)
        vols = rng.uniform(0.1, 0.5, n)
        mat = np.outer(vols, vols) * (rho + (1 - rho) * np.eye(n))
    mat = _psd(mat) * 10 ** rng.uniform(-8, 2)
    return mat, str(kind)


def fuzz_mu(rng: np.random.Generator, cov: np.ndarray) -> np.ndarray:
    sig = np.sqrt(np.diag(cov))
    u = rng.random()
    if u < 0.15:
        return -np.abs(rng.normal(0.0, 1.0, len(sig))) * sig * 0.1  # nothing beats the risk-free rate
    return rng.normal(0.2, 0.5, len(sig)) * sig * rng.uniform(0.01, 1.0)


def draw_constraints(rng: np.random.Generator, case: Case, method: str) -> None:
    """Draw the method's constraint set into ``case`` (bounds, groups, budget, gross, l2)."""
    n = case.n
    kinds = ["default", "cap", "exact_cap", "floor_cap", "short", "half_open", "groups"]
    if method in ("min_variance", "max_sharpe", "max_diversification", "mean_variance", "mean_variance_target",
                  "frontier"):
        kinds += ["unbounded"]
    if method in ("max_sharpe", "mean_variance", "mean_variance_target"):
        kinds += ["neutral", "gross"]
    if method in ("min_variance", "max_sharpe", "mean_variance"):
        kinds += ["l2"]
    kind = str(rng.choice(kinds))
    lo, hi = np.zeros(n), np.ones(n)
    if kind == "cap":
        hi[:] = rng.uniform(1.0 / n, 1.0) * 1.2 if n > 1 else 1.0
        hi = np.maximum(hi, 1.0 / n)
    elif kind == "exact_cap":
        hi[:] = 1.0 / n  # only equal weights fit
    elif kind == "floor_cap":
        lo[:] = rng.uniform(0, 1.0 / n)
        hi[:] = rng.uniform(1.0 / n, 1.0)
    elif kind == "short":
        lo[:] = -rng.uniform(0.05, 1.0)
        hi[:] = rng.uniform(max(1.0 / n, 0.2), 1.5)
    elif kind == "half_open":
        hi[:] = np.inf
    elif kind == "unbounded":
        lo[:], hi[:] = -np.inf, np.inf
    elif kind == "neutral":
        case.budget = 0.0
        case.gross = float(rng.choice([1.0, 2.0]))
        if rng.random() < 0.5:
            lo[:], hi[:] = -np.inf, np.inf
        else:
            lo[:], hi[:] = -0.5, 0.5
    elif kind == "gross":
        case.gross = float(rng.uniform(1.1, 2.0))
        lo[:], hi[:] = -1.0, 1.0
    elif kind == "l2":
        case.l2 = float(rng.choice([0.01, 0.1, 1.0]))
    elif kind == "groups" and n >= 3:
        k = int(rng.integers(2, min(4, n) + 1))
        labels = rng.integers(-1, k, n)
        labels[:k] = np.arange(k)
        glo = np.zeros(k)
        ghi = np.ones(k)
        for g in range(k):
            ghi[g] = rng.uniform(0.2, 0.8)
            glo[g] = rng.uniform(0, ghi[g]) if rng.random() < 0.3 else 0.0
        if rng.random() < 0.3:
            hi[:] = rng.uniform(1.0 / n, 0.6) * 1.5
        case.groups, case.group_lo, case.group_hi = labels, glo, ghi
    case.lower, case.upper = lo, hi
    case.label += f"/{kind}"


def call_kwargs(case: Case) -> dict[str, Any]:
    lo = [None if np.isneginf(v) else float(v) for v in case.lower]
    hi = [None if np.isposinf(v) else float(v) for v in case.upper]
    if len(set(lo)) == 1 and len(set(hi)) == 1:
        bounds: Any = (lo[0], hi[0])
    else:
        bounds = {a: (lo[i], hi[i]) for i, a in enumerate(case.names)}
    out: dict[str, Any] = {"bounds": bounds}
    if case.groups is not None:
        out["groups"] = {a: f"g{g}" for a, g in zip(case.names, case.groups, strict=True) if g >= 0}
        out["group_bounds"] = {f"g{g}": (float(case.group_lo[g]), float(case.group_hi[g])) for g in range(len(case.group_lo))}
    if case.budget != 1.0:
        out["budget"] = case.budget
    if case.gross is not None:
        out["gross_exposure"] = case.gross
    if case.l2:
        out["l2"] = case.l2
    return out


# --------------------------------------------------------------------------- independent checks
def group_matrix(case: Case) -> np.ndarray:
    if case.groups is None:
        return np.zeros((0, case.n))
    k = len(case.group_lo)
    return np.array([(case.groups == g).astype(float) for g in range(k)])


def feasible_lp(case: Case) -> bool:
    """Exact-enough feasibility of the constraint set by HiGHS (w = p - q when a gross cap is given)."""
    from scipy.optimize import linprog

    n = case.n
    g = group_matrix(case)
    if case.gross is None:
        a_ub = np.vstack([g, -g]) if len(g) else None
        b_ub = np.concatenate([case.group_hi, -case.group_lo]) if len(g) else None
        res = linprog(np.zeros(n), A_ub=a_ub, b_ub=b_ub, A_eq=np.ones((1, n)), b_eq=[case.budget],
                      bounds=list(zip(case.lower, case.upper, strict=True)), method="highs")
        return res.status == 0
    split = np.hstack([np.eye(n), -np.eye(n)])
    rows = [np.ones(2 * n)] + ([r @ split for r in g] + [-r @ split for r in g] if len(g) else [])
    rhs = [case.gross] + (list(case.group_hi) + list(-case.group_lo) if len(g) else [])
    bnds = list(zip(np.maximum(case.lower, 0), np.maximum(case.upper, 0), strict=True)) + list(
        zip(np.maximum(-case.upper, 0), np.maximum(-case.lower, 0), strict=True)
    )
    res = linprog(np.zeros(2 * n), A_ub=np.array(rows), b_ub=rhs, A_eq=np.ones((1, n)) @ split, b_eq=[case.budget],
                  bounds=bnds, method="highs")
    return res.status == 0


def check_valid(case: Case, w: np.ndarray) -> str | None:
    """Return what is wrong with the returned weights, or None."""
    if not np.isfinite(w).all():
        return "non-finite weights"
    size = max(1.0, abs(case.budget), float(np.abs(w).sum()))
    tol = FEAS_TOL * size
    if abs(w.sum() - case.budget) > tol:
        return f"budget {w.sum()!r}"
    if (w < case.lower - tol).any() or (w > case.upper + tol).any():
        return "bounds"
    g = group_matrix(case)
    if len(g) and ((g @ w < case.group_lo - tol).any() or (g @ w > case.group_hi + tol).any()):
        return "groups"
    if case.gross is not None and np.abs(w).sum() > case.gross + tol:
        return "gross"
    return None


def diversification_free_variance(case: Case, w: np.ndarray) -> float:
    return float(np.abs(w) @ np.sqrt(np.diag(case.hmat()))) ** 2


# --------------------------------------------------------------------------- stacked reference problems
def _stack_constraints(cases: list[Case], x: Any, offsets: np.ndarray, scale_var: Any | None) -> list[Any]:
    """Bounds, budget, groups and gross caps of every case on the stacked variable ``x``.

    With ``scale_var`` (one kappa per case), every right-hand side is multiplied by it: the
    homogenised constraint set of a ratio problem.
    """
    cons: list[Any] = []
    lo_idx, lo_val, lo_case, hi_idx, hi_val, hi_case = [], [], [], [], [], []
    rows_b, cols_b = [], []
    g_rows, g_cols, g_lo, g_hi, g_case = [], [], [], [], []
    gross_rows, gross_cols, gross_val, gross_case = [], [], [], []
    grow = 0
    for j, c in enumerate(cases):
        o = offsets[j]
        fin_lo = np.flatnonzero(np.isfinite(c.lower))
        fin_hi = np.flatnonzero(np.isfinite(c.upper))
        lo_idx += list(o + fin_lo)
        lo_val += list(c.lower[fin_lo])
        lo_case += [j] * fin_lo.size
        hi_idx += list(o + fin_hi)
        hi_val += list(c.upper[fin_hi])
        hi_case += [j] * fin_hi.size
        rows_b += [j] * c.n
        cols_b += list(range(o, o + c.n))
        gm = group_matrix(c)
        for k in range(len(gm)):
            members = np.flatnonzero(gm[k])
            g_rows += [grow] * members.size
            g_cols += list(o + members)
            g_lo.append(c.group_lo[k])
            g_hi.append(c.group_hi[k])
            g_case.append(j)
            grow += 1
        if c.gross is not None:
            gross_rows += [len(gross_val)] * c.n
            gross_cols += list(range(o, o + c.n))
            gross_val.append(c.gross)
            gross_case.append(j)
    total = int(offsets[-1])
    m = len(cases)

    def rhs(values: list[float], which: list[int]) -> Any:
        vals = np.array(values, dtype=float)
        if scale_var is None:
            return vals
        sel = sparse.csr_matrix((np.ones(len(which)), (np.arange(len(which)), which)), shape=(len(which), m))
        return sparse.diags(vals) @ sel @ scale_var

    if lo_idx:
        cons.append(x[np.array(lo_idx)] >= rhs(lo_val, lo_case))
    if hi_idx:
        cons.append(x[np.array(hi_idx)] <= rhs(hi_val, hi_case))
    budget = sparse.csr_matrix((np.ones(len(rows_b)), (rows_b, cols_b)), shape=(m, total))
    cons.append(budget @ x == rhs([c.budget for c in cases], list(range(m))))
    if g_rows:
        gmat = sparse.csr_matrix((np.ones(len(g_rows)), (g_rows, g_cols)), shape=(grow, total))
        cons.append(gmat @ x >= rhs(g_lo, g_case))
        cons.append(gmat @ x <= rhs(g_hi, g_case))
    if gross_rows:
        gmat = sparse.csr_matrix((np.ones(len(gross_rows)), (gross_rows, gross_cols)), shape=(len(gross_val), total))
        cons.append(gmat @ cp.abs(x) <= rhs(gross_val, gross_case))
    return cons


def _norm(case: Case) -> float:
    """Unit scale of a case's covariance (its mean variance)."""
    return float(np.trace(case.hmat())) / case.n or 1.0


def _solve_stacked(problem: Any, params: dict[str, Any]) -> str:
    try:
        problem.solve(solver="CLARABEL", **params)
    except Exception as exc:  # the reference failing is recorded, not raised
        return f"error: {exc}"
    return str(problem.status)


def _bisect(cases: list[Any], solve: Any) -> list[dict[str, Any]]:
    """Solve a batch; when it fails (one bad block spoils the whole), split it in halves until alone."""
    if not cases:
        return []
    out = solve(cases)
    if out is not None:
        return out
    if len(cases) == 1:
        return [{"status": "failed"}]
    half = len(cases) // 2
    return _bisect(cases[:half], solve) + _bisect(cases[half:], solve)


def reference_qp(cases: list[Case], kind: str) -> list[dict[str, Any]]:
    """Reference optima of min-variance-type problems, stacked (a failing batch is bisected)."""
    return _bisect(cases, lambda cs: _reference_qp_batch(cs, kind))


def _reference_qp_batch(cases: list[Case], kind: str) -> list[dict[str, Any]] | None:
    sizes = np.array([c.n for c in cases])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    x = cp.Variable(int(offsets[-1]))
    norms = [_norm(c) for c in cases]
    p = sparse.block_diag([c.hmat() / nm for c, nm in zip(cases, norms, strict=True)]).tocsc()
    obj = 0.5 * cp.quad_form(x, cp.psd_wrap(p))
    cons = _stack_constraints(cases, x, offsets, None)
    if kind == "risk_aversion":
        lin = np.concatenate([-c.mu / (c.kwargs["risk_aversion"] * nm) for c, nm in zip(cases, norms, strict=True)])
        obj = obj + lin @ x
    elif kind == "target":
        rows, cols, vals, rhs = [], [], [], []
        for j, c in enumerate(cases):
            rows += [j] * c.n
            cols += list(range(offsets[j], offsets[j + 1]))
            vals += list(c.mu)
            rhs.append(c.kwargs["target"])
        tmat = sparse.csr_matrix((vals, (rows, cols)), shape=(len(cases), int(offsets[-1])))
        cons.append(tmat @ x >= np.array(rhs))
    problem = cp.Problem(cp.Minimize(obj), cons)
    status = _solve_stacked(problem, CLARABEL)
    if status not in ("optimal", "optimal_inaccurate") or x.value is None:
        return None
    out = []
    for j, c in enumerate(cases):
        w = np.asarray(x.value[offsets[j] : offsets[j + 1]])
        out.append({"status": status, "w": w, "objective": objective(c, w, kind)})
    return out


def objective(case: Case, w: np.ndarray, kind: str) -> float:
    h = case.hmat()
    if kind == "risk_aversion":
        delta = case.kwargs["risk_aversion"]
        return float(0.5 * delta * w @ h @ w - case.mu @ w)
    return float(w @ h @ w)


def reference_ratio(cases: list[Case], numerators: list[np.ndarray]) -> list[dict[str, Any]]:
    """min y'Hy s.t. e'y = 1, y in the cone of the constraint set: the ratio's squared inverse."""
    pairs = list(zip(cases, numerators, strict=True))
    return _bisect(pairs, lambda ps: _reference_ratio_batch([c for c, _ in ps], [e for _, e in ps]))


def _reference_ratio_batch(cases: list[Case], numerators: list[np.ndarray]) -> list[dict[str, Any]] | None:
    sizes = np.array([c.n for c in cases])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    y = cp.Variable(int(offsets[-1]))
    kappa = cp.Variable(len(cases), nonneg=True)
    norms = [_norm(c) for c in cases]
    escale = [max(float(np.abs(e).max()), 1e-300) for e in numerators]
    p = sparse.block_diag([c.hmat() / nm for c, nm in zip(cases, norms, strict=True)]).tocsc()
    rows, cols, vals = [], [], []
    for j, e in enumerate(numerators):
        rows += [j] * len(e)
        cols += list(range(offsets[j], offsets[j + 1]))
        vals += list(e / escale[j])
    emat = sparse.csr_matrix((vals, (rows, cols)), shape=(len(cases), int(offsets[-1])))
    cons = [emat @ y == 1] + _stack_constraints(cases, y, offsets, kappa)
    problem = cp.Problem(cp.Minimize(cp.quad_form(y, cp.psd_wrap(p))), cons)
    status = _solve_stacked(problem, CLARABEL)
    if status not in ("optimal", "optimal_inaccurate") or y.value is None:
        return None
    out = []
    for j, c in enumerate(cases):
        yj = np.asarray(y.value[offsets[j] : offsets[j + 1]])
        # y'Hy / (e'y)^2 in the case's own units
        value = float(yj @ c.hmat() @ yj) / (escale[j] ** 2)
        # kappa ~ 0: the best ratio is reached only at unbounded positions (a sup, not a max)
        at_infinity = c.budget != 0 and float(kappa.value[j]) <= 1e-4 * float(np.abs(yj).sum())
        out.append({"status": status, "value": value, "y": yj, "at_infinity": at_infinity})
    return out


def reference_risk_parity(cases: list[Case]) -> list[np.ndarray | None]:
    """Spinu's log-barrier problem min y'Cy/2 - sum b ln y on the correlation matrix, stacked.

    A batch that fails is split in halves until the failing problems are alone. Clarabel's
    exponential cone stops near 1e-7; each answer is then polished by Newton steps on
    C y = b / y (written here) and kept only if its risk contributions match to 1e-12.
    """
    if not cases:
        return []
    sizes = np.array([c.n for c in cases])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    blocks, b = [], []
    for c in cases:
        s = np.sqrt(np.diag(c.cov))
        blocks.append(c.cov / np.outer(s, s))
        b.append(np.full(c.n, 1.0 / c.n))
    y = cp.Variable(int(offsets[-1]))
    p = sparse.block_diag(blocks).tocsc()
    problem = cp.Problem(cp.Minimize(0.5 * cp.quad_form(y, cp.psd_wrap(p)) - np.concatenate(b) @ cp.log(y)))
    status = _solve_stacked(problem, CLARABEL_EXP)
    if status not in ("optimal", "optimal_inaccurate") or y.value is None:
        if len(cases) == 1:
            return [None]
        half = len(cases) // 2
        return reference_risk_parity(cases[:half]) + reference_risk_parity(cases[half:])
    out: list[np.ndarray | None] = []
    for j, c in enumerate(cases):
        yj = _polish_erc(blocks[j], b[j], np.asarray(y.value[offsets[j] : offsets[j + 1]]))
        if yj is None:
            out.append(None)
            continue
        x = yj / np.sqrt(np.diag(c.cov))
        x = x / x.sum()
        out.append(x if rc_error(x, c.cov) <= 1e-12 else None)
    return out


def _polish_erc(corr: np.ndarray, b: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Newton steps on the gradient C y - b / y = 0 of Spinu's convex objective, staying positive."""
    if not np.all(np.isfinite(y)) or (y <= 0).any():
        return None
    for _ in range(30):
        g = corr @ y - b / y
        jac = corr + np.diag(b / y**2)
        try:
            step = np.linalg.solve(jac, g)
        except np.linalg.LinAlgError:
            return None
        t = 1.0
        while (y - t * step <= 0).any():
            t /= 2
            if t < 1e-12:
                return None
        y = y - t * step
        if np.abs(step).max() <= 1e-15 * np.abs(y).max():
            break
    return y


def rc_error(w: np.ndarray, cov: np.ndarray) -> float:
    """Largest relative deviation of the risk contributions w_i (Sigma w)_i from an equal share."""
    if not np.all(np.isfinite(w)) or (w <= 0).any():
        return np.inf
    rc = w * (cov @ w)
    return float(np.max(np.abs(rc / rc.sum() * len(w) - 1.0)))


def reference_hrp(cov: np.ndarray) -> np.ndarray | None:
    """Hierarchical risk parity as written in Lopez de Prado (2016), recursive, single linkage."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    sd = np.sqrt(np.diag(cov))
    corr = np.clip(cov / np.outer(sd, sd), -1.0, 1.0)
    dist = np.sqrt(np.clip((1.0 - corr) / 2.0, 0.0, None))
    np.fill_diagonal(dist, 0.0)
    link = linkage(squareform(dist, checks=False), "single")
    heights = np.sort(link[:, 2])
    if np.any(np.diff(heights) <= 1e-9 * max(float(heights[-1]), 1e-300)):
        return None  # tied merge heights: the leaf order, hence HRP, depends on how ties are broken
    order = list(leaves_list(link))
    w = np.ones(len(cov))

    def cluster_var(items: list[int]) -> float:
        sub = cov[np.ix_(items, items)]
        ivp = 1.0 / np.diag(sub)
        ivp /= ivp.sum()
        return float(ivp @ sub @ ivp)

    clusters = [order]
    while clusters:
        clusters = [c[i:j] for c in clusters for i, j in ((0, len(c) // 2), (len(c) // 2, len(c))) if len(c) > 1]
        for i in range(0, len(clusters), 2):
            left, right = clusters[i], clusters[i + 1]
            vl, vr = cluster_var(left), cluster_var(right)
            alpha = 1.0 - vl / (vl + vr)
            w[left] *= alpha
            w[right] *= 1.0 - alpha
    return w


# --------------------------------------------------------------------------- the fuzz loop
METHODS = ["min_variance", "max_sharpe", "max_diversification", "mean_variance", "mean_variance_target",
           "frontier", "risk_parity", "hrp"]


def build_cases(chunk: int, method: str) -> list[Case]:
    rng = np.random.default_rng([15, chunk, METHODS.index(method)])
    cases = []
    for i in range(PER_CHUNK):
        n = _size(rng)
        cov, kind = fuzz_cov(rng, n)
        mu = fuzz_mu(rng, cov)
        case = Case(cov, mu, f"chunk{chunk}#{i}:{kind}(n={len(mu)})")
        draw_constraints(rng, case, method)
        cases.append(case)
    if chunk == 0:
        cases += issue_cases(method)
    return cases


def issue_cases(method: str) -> list[Case]:
    """The reproductions of issue 15, added to the first chunk of every method."""
    out = []
    cov_ab = np.array([[4.0, 2.0], [2.0, 1.0]])
    c = Case(cov_ab, np.array([-0.048, 0.053]), "issue: max_sharpe 0.5/0.5")
    c.lower, c.upper = np.zeros(2), np.full(2, 0.5)
    out.append(c)
    vols = np.geomspace(1e-3, 8e2, 7)
    c = Case(np.diag(vols**2), np.linspace(0.01, 0.05, 7) * vols, "issue: diagonal, vol ratio 8e5")
    c.lower, c.upper = np.zeros(7), np.ones(7)
    out.append(c)
    rho = -0.99999999
    c = Case(np.array([[0.04, rho * 0.02], [rho * 0.02, 0.01]]), np.array([0.05, 0.03]), "issue: rho -0.99999999")
    c.lower, c.upper = np.zeros(2), np.ones(2)
    out.append(c)
    rng = np.random.default_rng(94)
    for n in (94, 120):
        f = rng.standard_normal((n, 5)) * 0.1
        cov = f @ f.T + np.diag(rng.uniform(1e-4, 1e-3, n))
        c = Case(cov, rng.normal(0.01, 0.02, n), f"issue: unconstrained n={n}")
        c.lower, c.upper = np.full(n, -np.inf), np.full(n, np.inf)
        out.append(c)
    for n in (3, 7, 25):
        c = Case(np.eye(n) * 0.04 + 0.01, np.linspace(0.02, 0.06, n), f"issue: bounds (0, 1/{n})")
        c.lower, c.upper = np.zeros(n), np.full(n, 1.0 / n)
        out.append(c)
    return out


@dataclass
class Tally:
    method: str
    cases: int = 0
    solved: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)  # risk_parity failures left to its rewrite
    reference_inaccurate: int = 0
    reference_failed: int = 0

    def refuse(self, exc: Exception) -> None:
        key = type(exc).__name__
        self.refused[key] = self.refused.get(key, 0) + 1

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "cases": self.cases,
            "solved": self.solved,
            "refused": self.refused,
            "failures": len(self.failures),
            "known_risk_parity_failures": len(self.known),
            "reference_inaccurate": self.reference_inaccurate,
            "reference_failed": self.reference_failed,
        }


def run_method(case: Case, method: str) -> Any:
    cov, mu, kw = case.frame(), case.series(), call_kwargs(case)
    if method == "min_variance":
        return al.min_variance(cov, **kw).to_numpy()
    if method == "max_sharpe":
        return al.max_sharpe(mu, cov, **kw).to_numpy()
    if method == "max_diversification":
        return al.max_diversification(cov, **kw).to_numpy()
    if method == "mean_variance":
        return al.mean_variance(mu, cov, risk_aversion=case.kwargs["risk_aversion"], **kw).to_numpy()
    if method == "mean_variance_target":
        return al.mean_variance(mu, cov, target_return=case.kwargs["target"], **kw).to_numpy()
    if method == "frontier":
        front = al.efficient_frontier(mu, cov, n_points=4, **kw)
        return front[case.names].to_numpy()
    if method == "risk_parity":
        return al.risk_parity(cov).to_numpy()
    return al.hrp(cov).to_numpy()


def _prepare(case: Case, method: str, rng: np.random.Generator) -> None:
    if method == "mean_variance":
        case.kwargs["risk_aversion"] = float(10 ** rng.uniform(-1, 1.5)) / _norm(case)
    if method == "mean_variance_target":
        # a target between the two ends: somewhere among the assets' own returns
        case.kwargs["target"] = float(np.quantile(case.mu, rng.uniform(0.1, 0.9))) * (case.budget or 1.0)
    if method in ("risk_parity", "hrp"):
        case.lower, case.upper = np.zeros(case.n), np.ones(case.n)
        case.groups = None
        case.budget, case.gross, case.l2 = 1.0, None, 0.0


def _close(ours: float, ref: float, scale: float) -> tuple[bool, bool]:
    """(ok, poolkit better than the reference beyond the tolerance)."""
    tol = OBJ_TOL * max(abs(ref), scale)
    return ours <= ref + tol, ours < ref - tol


def fuzz(method: str, chunk: int) -> Tally:
    rng = np.random.default_rng([16, chunk, METHODS.index(method)])
    tally = Tally(method)
    cases = build_cases(chunk, method)
    results: list[tuple[Case, Any, Exception | None]] = []
    for case in cases:
        _prepare(case, method, rng)
        tally.cases += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                results.append((case, run_method(case, method), None))
        except PoolkitError as exc:
            results.append((case, None, exc))
    if method in ("risk_parity", "hrp"):
        _compare_black_box(method, results, tally)
        return tally
    # independent feasibility (an LP written here) and the reference solves, batched
    feasible = [feasible_lp(c) for c, _, _ in results]
    for (case, w, exc), ok in zip(results, feasible, strict=True):
        if ok:
            continue
        if exc is not None:
            tally.refuse(exc)
            if not isinstance(exc, InfeasibleError | PoolkitError):
                tally.failures.append(f"{case.label}: infeasible set, foreign error {exc!r}")
        else:  # weights for an infeasible set must still meet it to the tolerance
            bad = check_valid(case, w if w.ndim == 1 else w[0])
            if bad:
                tally.failures.append(f"{case.label}: weights for an infeasible set ({bad})")
    todo = [(i, r) for i, r in enumerate(results) if feasible[i]]
    if method in ("max_sharpe", "max_diversification"):
        _compare_ratio(method, todo, tally)
    elif method == "frontier":
        _compare_frontier(todo, tally)
    else:
        _compare_qp(method, todo, tally)
    return tally


def _record_error(tally: Tally, case: Case, exc: Exception, ref_ok: bool) -> None:
    tally.refuse(exc)
    if isinstance(exc, SolverError) and ref_ok:
        tally.failures.append(f"{case.label}: false SolverError: {exc}")


def _compare_qp(method: str, todo: list[tuple[int, tuple[Case, Any, Exception | None]]], tally: Tally) -> None:
    kind = "risk_aversion" if method == "mean_variance" else "target" if method == "mean_variance_target" else "minvar"
    rows = [r for _, r in todo]
    if kind == "target":  # a target above the highest return is infeasible: it must be refused
        reachable = []
        for case, w, exc in rows:
            best = max_excess_lp(case, case.mu)
            if case.kwargs["target"] > best + 1e-9 * max(1.0, abs(best)):
                if exc is None:
                    tally.failures.append(f"{case.label}: returned weights for a target above the best {best:.6g}")
                else:
                    tally.refuse(exc)
                    if not isinstance(exc, InfeasibleError):
                        tally.failures.append(f"{case.label}: unreachable target refused by {exc!r}")
            else:
                reachable.append((case, w, exc))
        rows = reachable
    # problems that may be unbounded (risk aversion, unbounded weights) are solved one by one
    loose = [kind == "risk_aversion" and not np.isfinite(c.upper).all() and c.gross is None for c, _, _ in rows]
    batch = [r for r, lo in zip(rows, loose, strict=True) if not lo]
    single = [r for r, lo in zip(rows, loose, strict=True) if lo]
    refs = reference_qp([c for c, _, _ in batch], kind)
    for c, _, _ in single:
        got = _reference_qp_batch([c], kind)
        refs.append(got[0] if got else {"status": _single_status(c, kind)})
    for (case, w, exc), ref in zip(batch + single, refs, strict=True):
        ref_ok = ref.get("status") in ("optimal", "optimal_inaccurate") and check_ref(case, ref["w"])
        if ref_ok and (exc is not None or objective(case, w, kind) > ref["objective"]):
            alone = _reference_qp_batch([case], kind)  # a suspicion: solve this block alone, tighter
            if alone is not None and check_ref(case, alone[0]["w"]):
                ref = alone[0]
        ref_unbounded = str(ref.get("status", "")).startswith(("unbounded", "infeasible"))  # dual infeasible
        if exc is not None:
            if isinstance(exc, InfeasibleError) and ref_ok:
                tally.failures.append(f"{case.label}: false InfeasibleError: {exc}")
            elif isinstance(exc, UnboundedError) and ref_ok and np.abs(ref["w"]).max() < 1e6:
                tally.failures.append(f"{case.label}: false UnboundedError (reference bounded): {exc}")
            if not ref_ok:
                tally.reference_failed += 1
            _record_error(tally, case, exc, ref_ok)
            continue
        bad = check_valid(case, w)
        if bad:
            tally.failures.append(f"{case.label}: invalid weights ({bad})")
            continue
        if ref_unbounded and kind == "risk_aversion":
            tally.failures.append(f"{case.label}: weights returned for an unbounded problem ({ref['status']})")
            continue
        tally.solved += 1
        if not ref_ok:
            tally.reference_failed += 1
            continue
        ours = objective(case, w, kind)
        # both portfolios' undiversified variances: either may be 0 (e.g. w = 0 on a market-neutral set)
        scale = max(diversification_free_variance(case, w), diversification_free_variance(case, ref["w"]))
        if kind == "risk_aversion":
            scale = 0.5 * case.kwargs["risk_aversion"] * scale + float(np.abs(case.mu) @ np.abs(w))
        ok, better = _close(ours, ref["objective"], scale)
        if not ok:
            tally.failures.append(f"{case.label}: objective {ours:.12g} vs reference {ref['objective']:.12g}")
        elif better:
            tally.reference_inaccurate += 1


def _single_status(case: Case, kind: str) -> str:
    """Status of one reference solve that gave no solution (e.g. 'unbounded')."""
    x = cp.Variable(case.n)
    nm = _norm(case)
    obj = 0.5 * cp.quad_form(x, cp.psd_wrap(case.hmat() / nm)) - (case.mu / (case.kwargs["risk_aversion"] * nm)) @ x
    cons = _stack_constraints([case], x, np.array([0, case.n]), None)
    return _solve_stacked(cp.Problem(cp.Minimize(obj), cons), CLARABEL)


def check_ref(case: Case, w: np.ndarray) -> bool:
    size = max(1.0, abs(case.budget), float(np.abs(w).sum()))
    tol = REF_FEAS_TOL * size
    if abs(w.sum() - case.budget) > tol or (w < case.lower - tol).any() or (w > case.upper + tol).any():
        return False
    g = group_matrix(case)
    if len(g) and ((g @ w < case.group_lo - tol).any() or (g @ w > case.group_hi + tol).any()):
        return False
    return not (case.gross is not None and np.abs(w).sum() > case.gross + tol)


def _compare_ratio(method: str, todo: list[tuple[int, tuple[Case, Any, Exception | None]]], tally: Tally) -> None:
    cases = [r for _, r in todo]
    nums = []
    for c, _, _ in cases:
        if method == "max_sharpe":
            nums.append(c.mu.copy())
        else:
            nums.append(np.sqrt(np.diag(c.cov)))
    # no allowed portfolio with a positive numerator (an LP written here): the method must refuse
    keep = []
    for (case, w, exc), e in zip(cases, nums, strict=True):
        best = max_excess_lp(case, e)
        level = float(np.abs(e).max()) * max(1.0, abs(case.budget))
        if best > 1e-8 * level or case.budget == 0:
            keep.append(((case, w, exc), e))
            continue
        if best > 1e-10 * level:  # too close to zero to call: either answer is right if it is valid
            tally.refuse(exc) if exc is not None else None
            if exc is None and (check_valid(case, w) or float(e @ w) <= 0):
                tally.failures.append(f"{case.label}: invalid weights near a zero best ratio")
            continue
        if exc is None:
            tally.failures.append(f"{case.label}: weights returned although no portfolio has a positive ratio")
        else:
            tally.refuse(exc)
            if not isinstance(exc, InfeasibleError):
                tally.failures.append(f"{case.label}: no positive ratio, refused by {exc!r}")
    cases = [k[0] for k in keep]
    nums = [k[1] for k in keep]
    refs = reference_ratio([c for c, _, _ in cases], nums)
    for (case, w, exc), e, ref in zip(cases, nums, refs, strict=True):
        ref_ok = ref.get("status") in ("optimal", "optimal_inaccurate")
        if exc is not None or (ref_ok and _ratio_value(case, w, e) > ref["value"] * (1 + OBJ_TOL)):
            # a suspicion: the batch's global tolerance may be loose for this block; solve it alone
            alone = _reference_ratio_batch([case], [e])
            if alone is not None:
                ref, ref_ok = alone[0], True
        best_num = None
        if exc is not None:
            tally.refuse(exc)
            msg = str(exc)
            if isinstance(exc, SolverError) and ref_ok:
                tally.failures.append(f"{case.label}: false SolverError: {exc}")
            elif isinstance(exc, InfeasibleError) and ref_ok and ref["value"] < 1e12 and "positive ratio" not in msg:
                tally.failures.append(f"{case.label}: false InfeasibleError: {exc}")
            elif isinstance(exc, InfeasibleError) and "positive ratio" in msg:
                best_num = max_excess_lp(case, e)
                if best_num > 1e-9 * float(np.abs(e).max()) * max(1.0, abs(case.budget)):
                    tally.failures.append(f"{case.label}: false 'no positive ratio' (best {best_num:.3g}): {exc}")
            elif isinstance(exc, UnboundedError) and ref_ok:
                # the reference must agree: the ratio is (numerically) infinite - its square above 1e8 of
                # the best single asset's - or reached only at infinite positions
                d = np.diag(case.hmat())
                single = float(np.max(np.where(d > 0, e**2 / np.where(d > 0, d, 1.0), 0.0)))
                infinite = ref["value"] * float(np.abs(e).max()) ** 2 <= 1e-8 / max(single, 1e-300) * float(np.abs(e).max()) ** 2
                if not infinite and not ref["at_infinity"]:
                    if _certifies_infinite(case, e, single):
                        tally.reference_inaccurate += 1
                    else:
                        tally.failures.append(f"{case.label}: false UnboundedError (ref value {ref['value']:.3g}): {exc}")
            if not ref_ok:
                tally.reference_failed += 1
            continue
        bad = check_valid(case, w)
        if bad:
            tally.failures.append(f"{case.label}: invalid weights ({bad})")
            continue
        tally.solved += 1
        if not ref_ok:
            tally.reference_failed += 1
            continue
        num = float(e @ w)
        if num <= 0:
            tally.failures.append(f"{case.label}: returned a portfolio with a non-positive numerator {num:.3g}")
            continue
        ours = _ratio_value(case, w, e)
        scale = diversification_free_variance(case, w) / num**2
        ok, better = _close(ours, ref["value"], scale)
        if not ok:
            tally.failures.append(f"{case.label}: ratio^-2 {ours:.12g} vs reference {ref['value']:.12g}")
        elif better:
            tally.reference_inaccurate += 1


def _certifies_infinite(case: Case, e: np.ndarray, single: float) -> bool:
    """Whether the least-variance allowed portfolio, checked here, has a squared ratio of 1e8 single's.

    On covariances with condition numbers near 1e12 the reference can stop 1000x short of the
    best ratio; the refusal is then confirmed by a certificate this test verifies itself: a
    portfolio meeting every constraint (checked here) whose ratio (computed here) is that large.
    """
    try:
        w = al.min_variance(case.frame(), **call_kwargs(case)).to_numpy()
    except PoolkitError:
        return False
    num = float(e @ w)
    var = float(w @ case.hmat() @ w)
    return check_valid(case, w) is None and num > 0 and var <= 1e-8 * num * num / max(single, 1e-300)


def _ratio_value(case: Case, w: Any, e: np.ndarray) -> float:
    """Squared inverse ratio w'Hw / (e'w)^2 of returned weights (inf when there are none)."""
    if w is None or not float(e @ w) > 0:
        return np.inf
    return float(w @ case.hmat() @ w) / float(e @ w) ** 2


def max_excess_lp(case: Case, e: np.ndarray) -> float:
    from scipy.optimize import linprog

    n = case.n
    g = group_matrix(case)
    if case.gross is not None:
        split = np.hstack([np.eye(n), -np.eye(n)])
        rows = [np.ones(2 * n)] + ([r @ split for r in g] + [-r @ split for r in g] if len(g) else [])
        rhs = [case.gross] + (list(case.group_hi) + list(-case.group_lo) if len(g) else [])
        bnds = list(zip(np.maximum(case.lower, 0), np.maximum(case.upper, 0), strict=True)) + list(
            zip(np.maximum(-case.upper, 0), np.maximum(-case.lower, 0), strict=True))
        res = linprog(-e @ split / np.abs(e).max(), A_ub=np.array(rows), b_ub=rhs, A_eq=np.ones((1, n)) @ split, b_eq=[case.budget],
                      bounds=bnds, method="highs")
    else:
        a_ub = np.vstack([g, -g]) if len(g) else None
        b_ub = np.concatenate([case.group_hi, -case.group_lo]) if len(g) else None
        res = linprog(-e / np.abs(e).max(), A_ub=a_ub, b_ub=b_ub, A_eq=np.ones((1, n)), b_eq=[case.budget],
                      bounds=list(zip(case.lower, case.upper, strict=True)), method="highs")
    if res.status == 3:
        return np.inf
    return float(-res.fun) * float(np.abs(e).max()) if res.status == 0 else -np.inf


def _compare_frontier(todo: list[tuple[int, tuple[Case, Any, Exception | None]]], tally: Tally) -> None:
    flat: list[Case] = []
    owners: list[tuple[int, int]] = []
    for k, (_, (case, front, exc)) in enumerate(todo):
        if exc is not None or front is None:
            continue
        for p, w in enumerate(front):
            target = float(case.mu @ w)  # the same target: the returned point meets it (to rounding)
            c = Case(case.cov, case.mu, case.label + f"/point{p}", {"target": target}, case.lower,
                     case.upper, case.groups, case.group_lo, case.group_hi, case.budget, case.gross, case.l2)
            flat.append(c)
            owners.append((k, p))
    refs = reference_qp(flat, "target")
    ref_by = dict(zip(owners, refs, strict=True))
    for k, (_, (case, front, exc)) in enumerate(todo):
        if exc is not None:
            loose = not (np.isfinite(case.upper).all() and np.isfinite(case.lower).all()) and case.gross is None
            if isinstance(exc, UnboundedError) and loose:
                tally.refuse(exc)  # unbounded weights: the frontier has no top, a correct refusal
                continue
            _record_error(tally, case, exc, True)
            if isinstance(exc, InfeasibleError | UnboundedError):
                tally.failures.append(f"{case.label}: false {type(exc).__name__}: {exc}")
            continue
        tally.solved += 1
        for p, w in enumerate(front):
            bad = check_valid(case, w)
            if bad:
                tally.failures.append(f"{case.label}/point{p}: invalid weights ({bad})")
                continue
            ref = ref_by[(k, p)]
            if ref.get("status") not in ("optimal", "optimal_inaccurate") or not check_ref(case, ref["w"]):
                tally.reference_failed += 1
                continue
            ours = float(w @ case.hmat() @ w)
            if ours > ref["objective"]:
                alone = _reference_qp_batch([flat[owners.index((k, p))]], "target")
                if alone is not None and check_ref(case, alone[0]["w"]):
                    ref = alone[0]
            scale = max(diversification_free_variance(case, w), diversification_free_variance(case, ref["w"]))
            ok, better = _close(ours, ref["objective"], scale)
            if not ok:
                tally.failures.append(f"{case.label}/point{p}: variance {ours:.12g} vs reference {ref['objective']:.12g}")
            elif better:
                tally.reference_inaccurate += 1


def _compare_black_box(method: str, results: list[tuple[Case, Any, Exception | None]], tally: Tally) -> None:
    refs: list[Any]
    if method == "risk_parity":
        refs = reference_risk_parity([c for c, _, _ in results])
    else:
        refs = [reference_hrp(c.cov) if np.all(np.diag(c.cov) > 0) else None for c, _, _ in results]
    for (case, w, exc), ref in zip(results, refs, strict=True):
        if exc is not None:
            tally.refuse(exc)
            if ref is not None:
                (tally.known if method == "risk_parity" else tally.failures).append(
                    f"{case.label}: {type(exc).__name__} although the reference solved: {exc}"
                )
            continue
        bad = check_valid(case, w)
        if bad:
            tally.failures.append(f"{case.label}: invalid weights ({bad})")
            continue
        tally.solved += 1
        if ref is None:
            tally.reference_failed += 1
            continue
        gap = float(np.abs(w - ref).max())
        tol = 1e-9 if method == "risk_parity" else 1e-10
        if gap > tol:
            (tally.known if method == "risk_parity" else tally.failures).append(f"{case.label}: |w - reference| = {gap:.3g}")


# --------------------------------------------------------------------------- the tests
def _report(tally: Tally, chunk: int) -> None:
    out = os.environ.get("POOLKIT_FUZZ_REPORT")
    if out:
        path = Path(out)
        path.mkdir(parents=True, exist_ok=True)
        (path / f"{tally.method}-{chunk}.json").write_text(json.dumps(
            {**tally.summary(), "failures_list": tally.failures[:50], "known_list": tally.known[:50]}, indent=1))


@pytest.mark.parametrize("chunk", range(N_CHUNKS))
@pytest.mark.parametrize("method", [m for m in METHODS if m != "risk_parity"])
def test_fuzz_against_clarabel(method: str, chunk: int) -> None:
    tally = fuzz(method, chunk)
    _report(tally, chunk)
    assert tally.cases >= PER_CHUNK
    assert not tally.failures, "\n".join(tally.failures[:20])


@pytest.mark.parametrize("chunk", range(N_CHUNKS))
def test_fuzz_risk_parity_against_clarabel(chunk: int) -> None:
    tally = fuzz("risk_parity", chunk)
    _report(tally, chunk)
    assert not tally.failures, "\n".join(tally.failures[:20])
    if tally.known:
        pytest.xfail(
            f"{len(tally.known)} of {tally.cases} risk_parity cases fail (near-singular covariances): left to the "
            f"risk-parity rewrite of issue 16 (constraints and risk measures). First: {tally.known[0]}"
        )

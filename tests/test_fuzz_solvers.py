"""Fuzz test of the allocation solvers against an independent solver (Clarabel, called directly).

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

Each reference problem is handed to Clarabel as it is (``clarabel.DefaultSolver`` with
scipy CSC matrices, the covariance normalised to unit mean variance): one small solve per
problem, no modelling layer. The test is skipped when clarabel is not installed.
"""

from __future__ import annotations

import contextlib
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

clarabel = pytest.importorskip("clarabel")
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


# --------------------------------------------------------------------------- reference problems (Clarabel)
def _system(case: Case, *, homogenise: bool = False, target: float | None = None,
            numerator: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Constraint set of a case as Clarabel's ``A v + s = b``: equalities first, then inequalities.

    Variables ``v = [w (n), t (n, only with a gross cap: t >= |w|), kappa (only homogenised)]``.
    Homogenised (a ratio problem over the cone of the set), every right-hand side is
    multiplied by ``kappa >= 0`` and ``numerator' w = 1`` is added. Returns ``(A, b, n_eq, n_var)``.
    """
    n = case.n
    gross = case.gross is not None
    nv = n + (n if gross else 0) + (1 if homogenise else 0)
    k = nv - 1
    eq: list[tuple[np.ndarray, float]] = []
    ineq: list[tuple[np.ndarray, float]] = []

    def row(coef_x: np.ndarray | None = None, coef_t: np.ndarray | None = None) -> np.ndarray:
        r = np.zeros(nv)
        if coef_x is not None:
            r[:n] = coef_x
        if coef_t is not None:
            r[n:2 * n] = coef_t
        return r

    def add(target_list: list[tuple[np.ndarray, float]], r: np.ndarray, rhs: float) -> None:
        if homogenise:
            r[k] -= rhs
            rhs = 0.0
        target_list.append((r, rhs))

    add(eq, row(np.ones(n)), case.budget)
    eye = np.eye(n)
    for i in np.flatnonzero(np.isfinite(case.upper)):
        add(ineq, row(eye[i]), float(case.upper[i]))
    for i in np.flatnonzero(np.isfinite(case.lower)):
        add(ineq, row(-eye[i]), float(-case.lower[i]))
    for j, g in enumerate(group_matrix(case)):
        add(ineq, row(g), float(case.group_hi[j]))
        add(ineq, row(-g), float(-case.group_lo[j]))
    if gross:
        for i in range(n):
            ineq.append((row(eye[i], -eye[i]), 0.0))
            ineq.append((row(-eye[i], -eye[i]), 0.0))
        add(ineq, row(None, np.ones(n)), float(case.gross))
    if target is not None:
        add(ineq, row(-case.mu), -target)
    if homogenise and numerator is not None:
        eq.append((row(numerator), 1.0))
        r = np.zeros(nv)
        r[k] = -1.0
        ineq.append((r, 0.0))
    rows = eq + ineq
    a = np.array([r for r, _ in rows])
    b = np.array([v for _, v in rows])
    return a, b, len(eq), nv


def _clarabel(p: np.ndarray, q: np.ndarray, a: np.ndarray, b: np.ndarray, n_eq: int,
              settings: dict[str, Any], cones: list[Any] | None = None) -> tuple[str, np.ndarray | None]:
    """Solve ``min v'Pv/2 + q'v`` s.t. ``A v + s = b`` (zero cone, then nonnegative) by Clarabel directly."""
    s = clarabel.DefaultSettings()
    s.verbose = False
    for key, value in settings.items():
        setattr(s, key, value)
    if cones is None:
        cones = [clarabel.ZeroConeT(n_eq), clarabel.NonnegativeConeT(a.shape[0] - n_eq)]
    pu = sparse.csc_matrix(np.triu(p))
    try:
        sol = clarabel.DefaultSolver(pu, q, sparse.csc_matrix(a), b, cones, s).solve()
    except Exception as exc:  # the reference failing is recorded, not raised
        return f"error: {exc}", None
    status = str(sol.status)
    named = {"Solved": "optimal", "AlmostSolved": "optimal_inaccurate", "PrimalInfeasible": "infeasible",
             "AlmostPrimalInfeasible": "infeasible_inaccurate", "DualInfeasible": "unbounded",
             "AlmostDualInfeasible": "unbounded_inaccurate"}.get(status, status)
    x = np.asarray(sol.x, dtype=float)
    return named, (x if named.startswith("optimal") and np.isfinite(x).all() else None)


def _norm(case: Case) -> float:
    """Unit scale of a case's covariance (its mean variance)."""
    return float(np.trace(case.hmat())) / case.n or 1.0


def _padded(case: Case, nv: int, scale: float) -> np.ndarray:
    p = np.zeros((nv, nv))
    p[: case.n, : case.n] = case.hmat() / scale
    return p


def reference_qp(cases: list[Case], kind: str) -> list[dict[str, Any]]:
    """Reference optima of min-variance-type problems, one Clarabel solve each."""
    out = []
    for c in cases:
        target = c.kwargs["target"] if kind == "target" else None
        a, b, n_eq, nv = _system(c, target=target)
        nm = _norm(c)
        q = np.zeros(nv)
        if kind == "risk_aversion":
            q[: c.n] = -c.mu / (c.kwargs["risk_aversion"] * nm)
        status, v = _clarabel(_padded(c, nv, nm), q, a, b, n_eq, CLARABEL)
        if v is None:
            out.append({"status": status})
            continue
        w = v[: c.n]
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
    out = []
    for c, e in zip(cases, numerators, strict=True):
        escale = max(float(np.abs(e).max()), 1e-300)
        a, b, n_eq, nv = _system(c, homogenise=True, numerator=e / escale)
        status, v = _clarabel(_padded(c, nv, _norm(c)) * 2.0, np.zeros(nv), a, b, n_eq, CLARABEL)
        if v is None:
            out.append({"status": status})
            continue
        y, kappa = v[: c.n], float(v[-1])
        value = float(y @ c.hmat() @ y) / (escale**2)  # y'Hy / (e'y)^2 in the case's own units
        # kappa ~ 0: the best ratio is reached only at unbounded positions (a sup, not a max)
        at_infinity = c.budget != 0 and kappa <= 1e-4 * float(np.abs(y).sum())
        out.append({"status": status, "value": value, "y": y, "at_infinity": at_infinity})
    return out


def reference_risk_parity(cases: list[Case]) -> list[np.ndarray | None]:
    """Spinu's log-barrier problem min y'Cy/2 - sum b ln y on the correlation matrix (exponential cones).

    Variables ``[y, t]`` with ``(t_i, 1, y_i)`` in the exponential cone (``t_i <= ln y_i``).
    Clarabel's exponential cone stops near 1e-7; each answer is then polished by Newton
    steps on C y = b / y (written here) and kept only if its risk contributions match to 1e-12.
    """
    out: list[np.ndarray | None] = []
    for c in cases:
        n = c.n
        s = np.sqrt(np.diag(c.cov))
        corr = c.cov / np.outer(s, s)
        bvec = np.full(n, 1.0 / n)
        p = np.zeros((2 * n, 2 * n))
        p[:n, :n] = corr
        q = np.concatenate([np.zeros(n), -bvec])
        a = np.zeros((3 * n, 2 * n))
        b = np.zeros(3 * n)
        idx = np.arange(n)
        a[3 * idx, n + idx] = -1.0  # s1 = t_i
        b[3 * idx + 1] = 1.0  # s2 = 1
        a[3 * idx + 2, idx] = -1.0  # s3 = y_i
        cones = [clarabel.ExponentialConeT()] * n
        _, v = _clarabel(p, q, a, b, 0, CLARABEL_EXP, cones)
        if v is None:
            out.append(None)
            continue
        yj = _polish_erc(corr, bvec, v[:n])
        if yj is None:
            out.append(None)
            continue
        x = yj / s
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


def _one_blas_thread() -> Any:
    """Single-threaded BLAS for the run (threadpoolctl, when installed).

    Every pytest-xdist worker owns one core; multi-threaded BLAS on a busy machine makes the
    factorisations of these small problems up to 80x slower (threads spin waiting on each other).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def fuzz(method: str, chunk: int) -> Tally:
    with _one_blas_thread():
        return _fuzz(method, chunk)


def _fuzz(method: str, chunk: int) -> Tally:
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
    # independent feasibility (an LP written here), needed only where poolkit refused: returned
    # weights are checked against every constraint (and their reference compared) anyway
    feasible = [exc is None or feasible_lp(c) for c, _, exc in results]
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
    refs = reference_qp([c for c, _, _ in rows], kind)
    for (case, w, exc), ref in zip(rows, refs, strict=True):
        ref_ok = ref.get("status") in ("optimal", "optimal_inaccurate") and check_ref(case, ref["w"])
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

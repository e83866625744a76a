r"""A primal-dual interior-point solver for the log-barrier problems of risk budgeting.

It solves

.. math:: \min_x \; \tfrac12 x^\top Q x + c^\top x - \lambda \sum_{i \le n} b_i \ln x_i
          \quad\text{s.t.}\quad G x \le h,\; l \le x \le u ,

where the first :math:`n` variables are the (scaled) asset weights and the others are
auxiliary variables of a lifted risk measure (the tail and drawdown variables of CVaR
and CDaR, the shortfalls of the semi-variance). With ``budget=a`` the multiplier
:math:`\lambda` is an unknown too, fixed by :math:`a^\top x_{1..n} = 1`: that is the
constrained risk-budgeting problem of Richard & Roncalli (2019), solved in one
path-following run instead of a search over :math:`\lambda`.

The method is Mehrotra's predictor-corrector on the perturbed KKT conditions, with
an infeasible start (residuals of :math:`Gx + s = h` and of the bounds are driven to
zero together with the complementarity gap), one step length for primal and dual
variables (the objective is nonlinear), and the fraction-to-the-boundary rule that
also keeps the weights positive. Variables are split into a dense block (the weights
and any variable that couples every scenario, such as the VaR level) and a sparse
block; each Newton system is solved by the Schur complement of the sparse block
(diagonal or banded), so a CVaR problem of :math:`T` scenarios and :math:`n` assets
costs :math:`O(T n^2 + n^3)` per iteration.

References
----------
.. [1] Mehrotra, S. (1992). On the implementation of a primal-dual interior point method.
       SIAM J. Optimization 2(4), 575-601.
.. [2] Nocedal, J., Wright, S. J. (2006). *Numerical Optimization*, 2nd ed., ch. 16 and 19.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from poolkit.exceptions import SolverError

if TYPE_CHECKING:
    from scipy import sparse

__all__ = ["BarrierProblem", "BarrierSolution", "solve_barrier"]


@dataclass
class BarrierProblem:
    """Data of the problem above; ``x = (dense block (p), sparse block (q))``, the log on the first ``n``."""

    n: int
    b: np.ndarray
    c: np.ndarray
    gd: np.ndarray  # (m, p) dense columns of G
    h: np.ndarray  # (m,)
    lb: np.ndarray  # (p + q,), -inf allowed
    ub: np.ndarray  # (p + q,), +inf allowed
    qd: np.ndarray | None = None  # (p, p) Hessian of the dense block
    gs: sparse.csr_matrix | None = None  # (m, q) sparse columns of G
    qs: np.ndarray | None = None  # (q,) diagonal Hessian of the sparse block
    budget: np.ndarray | None = None  # (n,): a'x[:n] = 1 with lambda free
    lam: float = 1.0  # lambda (the start value when ``budget`` is given)
    aeq: np.ndarray | None = None  # (k, p + q) equality rows aeq x = beq (few, dense)
    beq: np.ndarray | None = None

    @property
    def p(self) -> int:
        return self.gd.shape[1]

    @property
    def q(self) -> int:
        return 0 if self.gs is None else self.gs.shape[1]


@dataclass
class BarrierSolution:
    """Solution: variables, lambda, multipliers of the rows and of the bounds, iterations."""

    x: np.ndarray
    lam: float
    z: np.ndarray
    zl: np.ndarray
    zu: np.ndarray
    iterations: int
    info: dict[str, float] = field(default_factory=dict)


def _max_step(v: np.ndarray, dv: np.ndarray) -> float:
    """Largest t in (0, 1] with v + t dv >= 0 (v > 0)."""
    neg = dv < 0
    if not neg.any():
        return 1.0
    return float(min(1.0, np.min(-v[neg] / dv[neg])))


@dataclass
class _Point:
    """Primal-dual iterate: variables, lambda, row slacks and duals, bound slacks and duals."""

    x: np.ndarray
    lam: float
    s: np.ndarray
    z: np.ndarray
    sl: np.ndarray
    zl: np.ndarray
    su: np.ndarray
    zu: np.ndarray
    y: np.ndarray  # multipliers of the equality rows

    def moved(self, d: _Point, t: float) -> _Point:
        return _Point(
            self.x + t * d.x, self.lam + t * d.lam, self.s + t * d.s, self.z + t * d.z,
            self.sl + t * d.sl, self.zl + t * d.zl, self.su + t * d.su, self.zu + t * d.zu, self.y + t * d.y,
        )


class _Problem:
    """The problem's data with the products the iterations need."""

    def __init__(self, prob: BarrierProblem) -> None:
        from scipy import sparse

        self.prob = prob
        self.n, self.p, self.q = prob.n, prob.p, prob.q
        self.nv = self.p + self.q
        self.m = prob.h.size
        self.gs = sparse.csr_matrix((self.m, 0)) if prob.gs is None else prob.gs.tocsr()
        self.gs_t = self.gs.T.tocsr()
        self.b = np.asarray(prob.b, dtype="float64")
        self.c = np.asarray(prob.c, dtype="float64")
        has_l = np.isfinite(prob.lb)
        has_l[: self.n] &= prob.lb[: self.n] > 0  # a weight's bound at or below 0 never binds (log)
        self.il = np.flatnonzero(has_l)
        self.iu = np.flatnonzero(np.isfinite(prob.ub))
        self.lb = prob.lb[self.il]
        self.ub = prob.ub[self.iu]
        self.fused = prob.budget is not None
        self.a = np.zeros(self.nv)
        if prob.budget is not None:
            self.a[: self.n] = prob.budget
        self.aeq = np.zeros((0, self.nv)) if prob.aeq is None else np.asarray(prob.aeq, dtype="float64")
        self.beq = np.zeros(0) if prob.beq is None else np.asarray(prob.beq, dtype="float64")
        # the border of the Newton system: lambda's column b / x (when fused) and the equality rows
        self.border_rows = np.vstack([self.a[None, :], self.aeq]) if self.fused else self.aeq
        self.n_comp = max(self.m + self.il.size + self.iu.size, 1)
        self.scale_h = 1.0 + np.abs(prob.h)
        # sparse columns that appear in exactly one row, alone among the sparse columns of that
        # row, are eliminated in closed form (stably: no difference of large numbers)
        csc = self.gs.tocsc()
        col_counts = np.diff(csc.indptr)
        single = np.flatnonzero(col_counts == 1)
        rows_of = csc.indices[csc.indptr[single]]
        row_counts = np.diff(self.gs.indptr)
        keep = row_counts[rows_of] == 1
        _, first = np.unique(rows_of[keep], return_index=True)
        self.e_cols = single[keep][first]
        self.e_rows = rows_of[keep][first]
        self.e_g = np.asarray(csc[self.e_rows, self.e_cols]).ravel() if self.e_cols.size else np.zeros(0)
        rest = np.setdiff1d(np.arange(self.q), self.e_cols)
        self.r_cols = rest
        self.gs_r = csc[:, rest].tocsr()
        self.gs_r_t = self.gs_r.T.tocsr()
        self.gd_e = np.ascontiguousarray(prob.gd[self.e_rows])  # the eliminated rows, dense and sparse parts
        self.gs_r_e = self.gs_r[self.e_rows]

    def gx(self, x: np.ndarray) -> np.ndarray:
        out = self.prob.gd @ x[: self.p]
        return out + self.gs @ x[self.p :] if self.q else out

    def gtz(self, z: np.ndarray) -> np.ndarray:
        top = self.prob.gd.T @ z
        return np.concatenate([top, self.gs_t @ z]) if self.q else top

    def grad(self, x: np.ndarray, lam: float) -> np.ndarray:
        out = self.c.copy()
        if self.prob.qd is not None:
            out[: self.p] += self.prob.qd @ x[: self.p]
        if self.prob.qs is not None:
            out[self.p :] += self.prob.qs * x[self.p :]
        out[: self.n] -= lam * self.b / x[: self.n]
        return out

    def residuals(self, pt: _Point) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return the residuals: dual, rows, lower and upper bounds, border (budget, equalities)."""
        rd = self.grad(pt.x, pt.lam) + self.gtz(pt.z) + self.aeq.T @ pt.y
        np.subtract.at(rd, self.il, pt.zl)
        np.add.at(rd, self.iu, pt.zu)
        rp = self.gx(pt.x) + pt.s - self.prob.h
        rl = pt.x[self.il] - pt.sl - self.lb
        ru = pt.x[self.iu] + pt.su - self.ub
        req = self.aeq @ pt.x - self.beq
        rb = np.concatenate([[self.a @ pt.x - 1.0], req]) if self.fused else req
        return rd, rp, rl, ru, rb


class _Newton:
    """The Newton matrix of one iterate, factored by block elimination.

    Sparse variables that sit alone in one row (the tail and shortfall variables) are
    eliminated in closed form, which turns that row's weight :math:`z_r/s_r` into
    :math:`w_r d_j / (w_r g_j^2 + d_j)`; the other sparse variables (e.g. the running peaks
    of CDaR, a banded block) by a sparse LU and the Schur complement on the dense block.
    """

    def __init__(self, pr: _Problem, pt: _Point, what: str) -> None:
        from scipy.linalg import cho_factor, lu_factor

        prob, p, n = pr.prob, pr.p, pr.n
        self.pr = pr
        w = pt.z / pt.s
        diag = np.zeros(pr.nv)
        diag[:n] += pt.lam * pr.b / pt.x[:n] ** 2
        np.add.at(diag, pr.il, pt.zl / pt.sl)
        np.add.at(diag, pr.iu, pt.zu / pt.su)
        if prob.qs is not None:
            diag[p:] += prob.qs
        dq = diag[p:]
        self.w = w
        self.diag = diag
        self.de = dq[pr.e_cols] + w[pr.e_rows] * pr.e_g**2
        wt = w.copy()
        wt[pr.e_rows] = w[pr.e_rows] * dq[pr.e_cols] / self.de
        md = prob.qd.copy() if prob.qd is not None else np.zeros((p, p))
        if prob.gd.shape[0]:
            md += (prob.gd.T * wt) @ prob.gd
        md[np.diag_indices(p)] += diag[:p]
        self.p = p
        self.nr = pr.r_cols.size
        self.lu = None
        if self.nr:
            from scipy import sparse
            from scipy.sparse.linalg import splu

            gsw = sparse.diags(wt) @ pr.gs_r
            ms = (pr.gs_r_t @ gsw + sparse.diags(dq[pr.r_cols])).tocsc()
            self.mds = np.asarray((gsw.T @ prob.gd).T)  # (p, nr)
            self.lu = splu(ms)
            self.xinv = self.lu.solve(np.ascontiguousarray(self.mds.T))
            schur = md - self.mds @ self.xinv
        else:
            schur = md
        if self.nr:
            schur = (schur + schur.T) / 2.0
        self.refine = bool(self.nr or pr.e_cols.size)  # block elimination subtracts large terms
        self.chol = True
        try:
            self.fac = cho_factor(schur, check_finite=False)
        except np.linalg.LinAlgError:
            self.chol = False
            try:
                self.fac = lu_factor(schur, check_finite=False)
            except (np.linalg.LinAlgError, ValueError) as exc:
                raise SolverError(f"{what}: the interior-point Newton system is singular.") from exc

    def _dense(self, r: np.ndarray) -> np.ndarray:
        from scipy.linalg import cho_solve, lu_solve

        if self.chol:
            return np.asarray(cho_solve(self.fac, r, check_finite=False))
        return np.asarray(lu_solve(self.fac, r, check_finite=False))

    def matvec(self, v: np.ndarray) -> np.ndarray:
        """Multiply ``v`` by the Newton matrix, term by term (no cancellation)."""
        pr = self.pr
        out = self.diag * v + pr.gtz(self.w * pr.gx(v))
        if pr.prob.qd is not None:
            out[: self.p] += pr.prob.qd @ v[: self.p]
        return out

    def solve(self, r: np.ndarray) -> np.ndarray:
        """Solve, then refine twice on the residual (the block elimination loses digits)."""
        x = self._solve(r)
        scale = float(np.abs(r).max())
        for _ in range(2 if self.refine else 0):
            res = r - self.matvec(x)
            if float(np.abs(res).max()) <= 1e-13 * scale:
                break
            x = x + self._solve(res)
        return x

    def _solve(self, r: np.ndarray) -> np.ndarray:
        pr, p = self.pr, self.p
        out = np.zeros(pr.nv)
        r_e = r[p + pr.e_cols]
        coef = self.w[pr.e_rows] * pr.e_g / self.de  # per eliminated row
        row_term = np.zeros(pr.m)
        row_term[pr.e_rows] = coef * r_e
        rd = r[:p] - pr.prob.gd.T @ row_term
        if self.nr:
            rs = r[p + pr.r_cols] - pr.gs_r_t @ row_term
            assert self.lu is not None
            tmp = self.lu.solve(rs)
            xd = self._dense(rd - self.mds @ tmp)
            xs = tmp - self.xinv @ xd
            out[p + pr.r_cols] = xs
        else:
            xd = self._dense(rd)
        out[:p] = xd
        if pr.e_cols.size:
            g_rest = pr.gd_e @ xd
            if self.nr:
                g_rest = g_rest + pr.gs_r_e @ out[p + pr.r_cols]
            out[p + pr.e_cols] = (r_e - pr.e_g * self.w[pr.e_rows] * g_rest) / self.de
        return out


def _direction(
    pr: _Problem,
    pt: _Point,
    newton: _Newton,
    res: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    v: np.ndarray | None,
    tau: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> _Point:
    r"""Newton direction towards the complementarity targets ``tau`` (rows, lower, upper).

    ``v`` holds :math:`M^{-1}` times the border columns (:math:`b/x` for :math:`\lambda`, minus the
    equality rows for their multipliers); their unknowns solve the small border system.
    """
    rd, rp, rl, ru, rb = res
    t_row, t_l, t_u = tau
    rhs = -rd - pr.gtz((t_row - pt.s * pt.z + pt.z * rp) / pt.s)
    np.add.at(rhs, pr.il, (t_l - pt.sl * pt.zl - pt.zl * rl) / pt.sl)
    np.subtract.at(rhs, pr.iu, (t_u - pt.su * pt.zu + pt.zu * ru) / pt.su)
    dx = newton.solve(rhs)
    dlam = 0.0
    dy = np.zeros(pr.aeq.shape[0])
    if v is not None:
        theta = np.linalg.solve(pr.border_rows @ v, -rb - pr.border_rows @ dx)
        dx = dx + v @ theta
        if pr.fused:
            dlam, dy = float(theta[0]), theta[1:]
        else:
            dy = theta
    ds = -rp - pr.gx(dx)
    dz = (t_row - pt.s * pt.z - pt.z * ds) / pt.s
    dsl = dx[pr.il] + rl
    dzl = (t_l - pt.sl * pt.zl - pt.zl * dsl) / pt.sl
    dsu = -ru - dx[pr.iu]
    dzu = (t_u - pt.su * pt.zu - pt.zu * dsu) / pt.su
    return _Point(dx, dlam, ds, dz, dsl, dzl, dsu, dzu, dy)


def _step(pr: _Problem, pt: _Point, d: _Point) -> float:
    """Largest step in (0, 1] that keeps slacks, duals and lambda positive and no weight below half.

    The weights carry the log term, whose Newton model is poor far from the current point: a
    step that shrinks a weight more than twofold is cut (as damped Newton does on a
    self-concordant function), so a bound that binds is approached without collapsing.
    """
    t = min(
        _max_step(pt.x[: pr.n], 2.0 * d.x[: pr.n]),
        _max_step(pt.s, d.s), _max_step(pt.sl, d.sl), _max_step(pt.su, d.su),
        _max_step(pt.z, d.z), _max_step(pt.zl, d.zl), _max_step(pt.zu, d.zu),
    )
    if pr.fused and d.lam < 0:
        t = min(t, -0.5 * pt.lam / d.lam)
    return min(t, 1.0)


def _gap(pt: _Point, n_comp: int) -> float:
    return float(pt.s @ pt.z + pt.sl @ pt.zl + pt.su @ pt.zu) / n_comp


def solve_barrier(
    prob: BarrierProblem,
    x0: np.ndarray,
    *,
    tol: float = 1e-11,
    max_iter: int = 200,
    what: str = "risk budgeting",
) -> BarrierSolution:
    """Solve ``prob`` from ``x0`` (positive weights; need not be feasible otherwise)."""
    pr = _Problem(prob)
    x = np.asarray(x0, dtype="float64").copy()
    s = np.maximum(prob.h - pr.gx(x), 1e-2 * pr.scale_h)
    sl = np.maximum(x[pr.il] - pr.lb, 1e-2 * (1.0 + np.abs(pr.lb)))
    su = np.maximum(pr.ub - x[pr.iu], 1e-2 * (1.0 + np.abs(pr.ub)))
    mu0 = max(1e-2, float(np.abs(pr.grad(x, prob.lam)).mean())) * 0.1
    pt = _Point(x, float(prob.lam), s, mu0 / s, sl, mu0 / sl, su, mu0 / su, np.zeros(pr.aeq.shape[0]))
    scale_obj = max(1.0, float(np.abs(pr.c).max()) if pr.c.size else 1.0,
                    prob.lam * float(pr.b.max()) if pr.b.size else 0.0)
    info: dict[str, float] = {}
    start_err = start_mu = 0.0
    for it in range(1, max_iter + 1):
        res = pr.residuals(pt)
        rd, rp, rl, ru, rb = res
        mu = _gap(pt, pr.n_comp)
        err_p = max(
            float(np.abs(rp).max() / pr.scale_h.max()) if pr.m else 0.0,
            float(np.abs(rl).max()) if rl.size else 0.0,
            float(np.abs(ru).max()) if ru.size else 0.0,
            float(np.abs(rb).max()) if rb.size else 0.0,
        )
        info = {"dual": float(np.abs(rd).max()) / scale_obj, "primal": err_p, "mu": mu / scale_obj}
        err = max(info["dual"], err_p)
        if it == 1:
            start_err, start_mu = max(err, 1e-300), mu
        if info["dual"] <= tol and err_p <= tol and info["mu"] <= 1e-3 * tol:
            return BarrierSolution(pt.x, pt.lam, pt.z, _full(pt.zl, pr.il, pr.nv), _full(pt.zu, pr.iu, pr.nv),
                                   it, info)
        newton = _Newton(pr, pt, what)
        v = None
        if pr.border_rows.shape[0]:
            cols = [-pr.aeq.T]
            if pr.fused:
                beta = np.zeros(pr.nv)
                beta[: pr.n] = pr.b / pt.x[: pr.n]
                cols.insert(0, beta[:, None])
            v = np.column_stack([newton.solve(c) for c in np.hstack(cols).T])
        zeros = (np.zeros(pr.m), np.zeros(pr.il.size), np.zeros(pr.iu.size))
        aff = _direction(pr, pt, newton, res, v, zeros)  # predictor (affine scaling)
        mu_aff = _gap(pt.moved(aff, _step(pr, pt, aff)), pr.n_comp)
        target = min(1.0, (mu_aff / mu) ** 3) * mu if mu > 0 else 0.0
        # stay in the neighbourhood where the gap falls no faster than the residuals: a gap
        # that reaches zero while the dual residual does not would block every later step
        target = max(target, 0.1 * start_mu * min(1.0, err / start_err))
        # corrector with Mehrotra's second-order term
        d = _direction(pr, pt, newton, res, v,
                       (target - aff.s * aff.z, target - aff.sl * aff.zl, target - aff.su * aff.zu))
        t = _step(pr, pt, d)
        pt = pt.moved(d, 0.995 * t if t < 1.0 else 1.0)
        if not (np.isfinite(pt.x).all() and np.isfinite(pt.lam) and pt.lam > 0 and (pt.x[: pr.n] > 0).all()):
            break
    raise SolverError(
        f"{what}: the interior-point method did not converge (dual residual {info.get('dual', np.nan):.2e}, "
        f"primal residual {info.get('primal', np.nan):.2e}, gap {info.get('mu', np.nan):.2e}). The risk "
        f"model may be degenerate: try a shrinkage covariance or a longer history."
    )


def _full(values: np.ndarray, idx: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros(size)
    out[idx] = values
    return out

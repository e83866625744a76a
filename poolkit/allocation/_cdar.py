r"""A structured interior-point method for the minimum-CDaR linear programme.

With scaled returns :math:`r_t` (rows of :math:`R`, :math:`T \times n`), weights :math:`w`, the
VaR level :math:`\alpha`, the drawdowns :math:`v_t` and the tail excesses :math:`d_t`, the
programme of Chekhlov, Uryasev & Zabarankin (2005) written in drawdowns (the running peak is
:math:`u_t = v_t + P_t^\top w`) is

.. math:: \min_{w,\alpha,v,d} \; \alpha + \kappa \sum_t d_t \quad\text{s.t.}\quad
          v_{t-1} - v_t - r_t^\top w \le 0 \;(v_0 = 0),\quad v_t - \alpha - d_t \le 0,\quad
          G w \le g,\quad \mathbf 1^\top w = b,\quad l \le w \le h,\quad v, d \ge 0 ,

with :math:`\kappa = 1 / ((1-\beta) T)`: the first rows are the peak recursion
:math:`u_t \ge u_{t-1}`, the bound :math:`v_t \ge 0` is :math:`u_t \ge P_t^\top w`. Mehrotra's
predictor-corrector solves it. Each Newton system :math:`(A^\top W A + D)\,\Delta x = r`
is reduced without forming anything of size :math:`T \times T`:

- each :math:`d_t` sits in one row: it is eliminated in closed form, which leaves the row
  :math:`v_t - \alpha` the weight :math:`\tilde W_c = W_c D_d / (W_c + D_d)`;
- the drawdowns then form a tridiagonal block :math:`M = B^\top W_b B + \tilde W_c + D_v`
  (:math:`B` the bidiagonal difference of the recursion), factored by banded Cholesky
  (LAPACK ``pbtrf``) in :math:`O(T)`: in a drawdown the heavy weights :math:`W_b` chain the
  dates back to the last peak, where the bound :math:`v_t \ge 0` grounds them, so the pivots
  stay well away from zero;
- the Schur complement on :math:`(w, \alpha)` is
  :math:`S = A_{dd} - Y^\top Y` with :math:`Y = L^{-1} C`, :math:`C = [-B^\top W_b R,\; -\tilde W_c]`
  the coupling of the drawdowns to the dense block and :math:`L` the factor of :math:`M`;
  the budget row borders :math:`S`. The elimination subtracts large terms near the optimum,
  so each solve is refined on the residual of the unreduced system (products with
  :math:`A` only).

An iteration costs :math:`O(T n^2 + n^3)` flops in a few BLAS and banded LAPACK calls
(no loop over dates or assets); the solution is verified by its caller.

References
----------
.. [1] Chekhlov, A., Uryasev, S., Zabarankin, M. (2005). Drawdown measure in portfolio
       optimization. Int. J. Theoretical and Applied Finance 8(1), 13-58.
.. [2] Mehrotra, S. (1992). On the implementation of a primal-dual interior point method.
       SIAM J. Optimization 2(4), 575-601.
.. [3] Wright, S. J. (1997). *Primal-Dual Interior-Point Methods*. SIAM, ch. 10-11.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from poolkit.exceptions import SolverError

__all__ = ["CdarLP", "highs_cdar_lp", "solve_cdar_lp"]



@dataclass
class CdarLP:
    """Data of the programme above (returns already scaled)."""

    r: np.ndarray  # (T, n) returns
    kappa: float  # 1 / ((1 - beta) T)
    g: np.ndarray  # (k, n) rows G w <= h
    h: np.ndarray  # (k,)
    lower: np.ndarray  # (n,), -inf allowed
    upper: np.ndarray  # (n,), +inf allowed
    budget: float = 1.0


def _diff(v: np.ndarray) -> np.ndarray:
    """:math:`B v`: ``(v_{t-1} - v_t)_t`` with ``v_0 = 0`` (along the first axis)."""
    out = -v.copy()
    out[1:] += v[:-1]
    return out


def _diff_t(y: np.ndarray) -> np.ndarray:
    r""":math:`B^\top y`: ``(y_{t+1} - y_t)_t`` with ``y_{T+1} = 0`` (along the first axis)."""
    out = -y.copy()
    out[:-1] += y[1:]
    return out


def _tri_factor(diag: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Banded Cholesky (lower, LAPACK pbtrf) of the SPD tridiagonal matrix with ``diag`` and ``off``."""
    from scipy.linalg import lapack

    ab = np.zeros((2, diag.size), order="F")
    ab[0] = diag
    ab[1, :-1] = off
    fac, info = lapack.dpbtrf(ab, lower=1)
    if info != 0:
        raise SolverError("min_cdar: a tridiagonal block of the interior-point system is not positive definite.")
    return np.asarray(fac)


def _tri_half(fac: np.ndarray, b: np.ndarray, trans: str = "N") -> np.ndarray:
    """Solve ``L x = b`` (``trans="N"``) or ``L' x = b`` (``trans="T"``) with the banded factor ``L``."""
    from scipy.linalg import lapack

    x, info = lapack.dtbtrs(fac, b, uplo="L", trans=trans)
    if info != 0:
        raise SolverError("min_cdar: a banded triangular solve failed.")
    return np.asarray(x)


def _tri_solve(fac: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``L L' x = b``."""
    return _tri_half(fac, _tri_half(fac, b), trans="T")


@dataclass
class _State:
    """Primal-dual iterate (rows b, c, g with slacks s and duals z; bounds of w, v, d)."""

    w: np.ndarray
    a: float
    v: np.ndarray
    d: np.ndarray
    s: np.ndarray  # row slacks (2T + k)
    z: np.ndarray  # row duals
    sl: np.ndarray  # slacks / duals of the finite lower and upper bounds of w
    zl: np.ndarray
    su: np.ndarray
    zu: np.ndarray
    zv: np.ndarray  # duals of v >= 0 and d >= 0
    zd: np.ndarray
    y: float  # dual of the budget


class _Solver:
    def __init__(self, lp: CdarLP) -> None:
        self.lp = lp
        self.t_obs, self.n = lp.r.shape
        self.k = lp.g.shape[0]
        self.il = np.flatnonzero(np.isfinite(lp.lower))
        self.iu = np.flatnonzero(np.isfinite(lp.upper))
        self.m = 2 * self.t_obs + self.k
        self.r_f = np.asfortranarray(lp.r)
        self.hrow = np.concatenate([np.zeros(2 * self.t_obs), lp.h])
        self.n_comp = self.m + self.il.size + self.iu.size + 2 * self.t_obs

    # ---------------------------------------------------------------- products with A
    def ax(self, w: np.ndarray, a: float, v: np.ndarray, d: np.ndarray) -> np.ndarray:
        lp = self.lp
        return np.concatenate([_diff(v) - lp.r @ w, v - a - d, lp.g @ w])

    def aty(self, z: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
        t = self.t_obs
        zb, zc, zg = z[:t], z[t : 2 * t], z[2 * t :]
        gw = -(self.lp.r.T @ zb) + self.lp.g.T @ zg
        return gw, -float(zc.sum()), _diff_t(zb) + zc, -zc

    # ---------------------------------------------------------------- residuals
    def residuals(self, st: _State) -> tuple[np.ndarray, ...]:
        lp = self.lp
        gw, ga, gv, gd = self.aty(st.z)
        rw = gw + st.y
        rw[self.il] -= st.zl
        rw[self.iu] += st.zu
        ra = np.array([1.0 + ga])
        rv = gv - st.zv
        rd = lp.kappa + gd - st.zd
        rp = self.ax(st.w, st.a, st.v, st.d) + st.s - self.hrow
        rl = st.w[self.il] - st.sl - lp.lower[self.il]
        ru = st.w[self.iu] + st.su - lp.upper[self.iu]
        re = float(st.w.sum()) - lp.budget
        return rw, ra, rv, rd, rp, rl, ru, np.array([re])

    def gap(self, st: _State) -> float:
        return float(st.s @ st.z + st.sl @ st.zl + st.su @ st.zu + st.v @ st.zv + st.d @ st.zd) / self.n_comp


class _Newton:
    """The reduced Newton matrix of one iterate (see the module's notes), factored."""

    def __init__(self, sv: _Solver, st: _State) -> None:
        from scipy.linalg import cho_factor
        from scipy.linalg.blas import dsyrk

        lp, t = sv.lp, sv.t_obs
        self.sv = sv
        wrow = st.z / st.s
        self.wb, self.wc, self.wg = wrow[:t], wrow[t : 2 * t], wrow[2 * t :]
        self.dw = np.zeros(sv.n)
        np.add.at(self.dw, sv.il, st.zl / st.sl)
        np.add.at(self.dw, sv.iu, st.zu / st.su)
        self.dv = st.zv / st.v
        self.dd = st.zd / st.d
        self.wcd = self.wc + self.dd
        self.wct = self.wc * self.dd / self.wcd  # W~c
        delta = self.wct + self.dv
        # M = B'WbB + W~c + Dv (tridiagonal)
        mdiag = self.wb + delta
        mdiag[:-1] += self.wb[1:]
        self.mfac = _tri_factor(mdiag, -self.wb[1:])
        # S = A_dd - C' M^-1 C, C = [-B'Wb R, -W~c]: Y = L^-1 C, S = A_dd - Y'Y
        cmat = np.empty((t, sv.n + 1), order="F")  # column-major: LAPACK's layout, no copies
        weighted = self.wb[:, None] * sv.r_f
        cmat[:, : sv.n] = weighted
        cmat[:-1, : sv.n] -= weighted[1:]
        cmat[:, sv.n] = -self.wct
        ymat = _tri_half(self.mfac, cmat)
        xmat = np.sqrt(self.wb)[:, None] * sv.r_f
        schur = -np.asarray(dsyrk(1.0, ymat, trans=1))
        schur[: sv.n, : sv.n] += np.asarray(dsyrk(1.0, xmat, trans=1))
        schur = np.triu(schur) + np.triu(schur, 1).T
        if sv.k:
            schur[: sv.n, : sv.n] += (lp.g.T * self.wg) @ lp.g
        idx = np.arange(sv.n)
        schur[idx, idx] += self.dw
        schur[sv.n, sv.n] += float(self.wct.sum())
        # the elimination subtracts large terms: a rounding-level negative pivot is lifted by a
        # tiny shift of the diagonal, else the eigenvalues below rounding are raised to it (two
        # assets that always move together leave a direction without curvature); the refinement
        # on the unreduced system removes the effect of either
        top = float(np.abs(np.diag(schur)).max())
        self.eig: tuple[np.ndarray, np.ndarray] | None = None
        for shift in (0.0, 1e-14, 1e-12):
            try:
                self.fac = cho_factor(schur + shift * top * np.eye(sv.n + 1), check_finite=False)
                break
            except np.linalg.LinAlgError:
                continue
        else:
            vals, vecs = np.linalg.eigh(schur)
            floor = 1e-12 * max(float(np.abs(vals).max()), 1e-300)
            self.eig = (np.maximum(vals, floor), vecs)
        e_d = np.zeros(sv.n + 1)
        e_d[: sv.n] = 1.0
        self.u2 = self._dense(e_d)
        self.e_s = float(self.u2[: sv.n].sum())

    def matvec(self, x: tuple[np.ndarray, float, np.ndarray, np.ndarray]) -> tuple[np.ndarray, float, np.ndarray,
                                                                                 np.ndarray]:
        r"""Multiply by :math:`A^\top W A + D`, term by term."""
        sv = self.sv
        w, a, v, d = x
        ax = sv.ax(w, a, v, d)
        t = sv.t_obs
        ax[:t] *= self.wb
        ax[t : 2 * t] *= self.wc
        ax[2 * t :] *= self.wg
        gw, ga, gv, gd = sv.aty(ax)
        return gw + self.dw * w, ga, gv + self.dv * v, gd + self.dd * d

    def _solve(self, r: tuple[np.ndarray, float, np.ndarray, np.ndarray], e_rhs: float) -> tuple[
            tuple[np.ndarray, float, np.ndarray, np.ndarray], float]:
        """Solve ``H x + 1_w y = r``, ``1_w' x = e_rhs`` (the budget row borders the dense block)."""
        sv, lp = self.sv, self.sv.lp
        rw, ra, rv, rd = r
        # eliminate d
        q = self.wc * rd / self.wcd
        rv1 = rv + q
        ra1 = ra - float(q.sum())
        # eliminate v: top = r_dense - C' M^-1 rv1 with C = [-B'Wb R, -W~c]
        mr = _tri_solve(self.mfac, rv1)
        bm = _diff(mr) * self.wb  # Wb B M^-1 rv1
        top = np.concatenate([rw + lp.r.T @ bm, [ra1 + float(self.wct @ mr)]])
        u1 = self._dense(top)
        y = (float(u1[: sv.n].sum()) - e_rhs) / self.e_s
        xd = u1 - y * self.u2
        xw, xa = xd[: sv.n], float(xd[sv.n])
        cx = -_diff_t(self.wb * (lp.r @ xw)) - self.wct * xa  # C x_d
        xv = _tri_solve(self.mfac, rv1 - cx)
        xdd = (rd + self.wc * (xv - xa)) / self.wcd
        return (xw, xa, xv, xdd), y

    def solve(self, r: tuple[np.ndarray, float, np.ndarray, np.ndarray], e_rhs: float) -> tuple[
            tuple[np.ndarray, float, np.ndarray, np.ndarray], float]:
        """Solve the bordered system, then refine on its residual while that is above rounding."""
        x, y = self._solve(r, e_rhs)
        scale = max(float(np.abs(r[0]).max(initial=0.0)), abs(r[1]), float(np.abs(r[2]).max()),
                    float(np.abs(r[3]).max()), abs(e_rhs), 1e-300)
        for _ in range(3):
            hx = self.matvec(x)
            res = (r[0] - hx[0] - y, r[1] - hx[1], r[2] - hx[2], r[3] - hx[3])
            res_e = e_rhs - float(x[0].sum())
            err = max(float(np.abs(res[0]).max(initial=0.0)), abs(res[1]), float(np.abs(res[2]).max()),
                      float(np.abs(res[3]).max()), abs(res_e))
            if err <= 1e-13 * scale:
                break
            dx, dy = self._solve(res, res_e)
            x = (x[0] + dx[0], x[1] + dx[1], x[2] + dx[2], x[3] + dx[3])
            y += dy
        return x, y

    def _dense(self, b: np.ndarray) -> np.ndarray:
        from scipy.linalg import cho_solve

        if self.eig is not None:
            vals, vecs = self.eig
            return np.asarray(vecs @ ((vecs.T @ b) / vals))
        return np.asarray(cho_solve(self.fac, b, check_finite=False))


@dataclass
class _Direction:
    w: np.ndarray
    a: float
    v: np.ndarray
    d: np.ndarray
    s: np.ndarray
    z: np.ndarray
    sl: np.ndarray
    zl: np.ndarray
    su: np.ndarray
    zu: np.ndarray
    zv: np.ndarray
    zd: np.ndarray
    y: float


def _direction(sv: _Solver, st: _State, nt: _Newton, res: tuple[np.ndarray, ...],
               tau: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> _Direction:
    """Newton direction towards the complementarity targets ``tau`` (rows, lower, upper, v, d)."""
    rw, ra, rv, rd, rp, rl, ru, re = res
    t_row, t_l, t_u, t_v, t_d = tau
    gw, ga, gv, gd = sv.aty((t_row - st.s * st.z + st.z * rp) / st.s)
    bw = -rw - gw
    bw[sv.il] += (t_l - st.sl * st.zl - st.zl * rl) / st.sl
    bw[sv.iu] -= (t_u - st.su * st.zu + st.zu * ru) / st.su
    ba = -float(ra[0]) - ga
    bv = -rv - gv + (t_v - st.v * st.zv) / st.v
    bd = -rd - gd + (t_d - st.d * st.zd) / st.d
    (dw, da, dv, dd), dy = nt.solve((bw, ba, bv, bd), -float(re[0]))
    ds = -rp - sv.ax(dw, da, dv, dd)
    dz = (t_row - st.s * st.z - st.z * ds) / st.s
    dsl = dw[sv.il] + rl
    dzl = (t_l - st.sl * st.zl - st.zl * dsl) / st.sl
    dsu = -ru - dw[sv.iu]
    dzu = (t_u - st.su * st.zu - st.zu * dsu) / st.su
    dzv = (t_v - st.v * st.zv - st.zv * dv) / st.v
    dzd = (t_d - st.d * st.zd - st.zd * dd) / st.d
    return _Direction(dw, da, dv, dd, ds, dz, dsl, dzl, dsu, dzu, dzv, dzd, dy)


def _max_step(v: np.ndarray, dv: np.ndarray) -> float:
    neg = dv < 0
    if not neg.any():
        return 1.0
    return float(min(1.0, np.min(-v[neg] / dv[neg])))


def _steps(st: _State, d: _Direction) -> tuple[float, float]:
    tp = min(_max_step(st.s, d.s), _max_step(st.sl, d.sl), _max_step(st.su, d.su),
             _max_step(st.v, d.v), _max_step(st.d, d.d))
    td = min(_max_step(st.z, d.z), _max_step(st.zl, d.zl), _max_step(st.zu, d.zu),
             _max_step(st.zv, d.zv), _max_step(st.zd, d.zd))
    return tp, td


def _moved(st: _State, d: _Direction, tp: float, td: float) -> _State:
    return _State(
        st.w + tp * d.w, st.a + tp * d.a, st.v + tp * d.v, st.d + tp * d.d, st.s + tp * d.s, st.z + td * d.z,
        st.sl + tp * d.sl, st.zl + td * d.zl, st.su + tp * d.su, st.zu + td * d.zu, st.zv + td * d.zv,
        st.zd + td * d.zd, st.y + td * d.y,
    )


def _start(sv: _Solver, w0: np.ndarray) -> _State:
    """Return an interior start around the drawdowns of ``w0`` (a feasible portfolio of the bounds)."""
    lp, t = sv.lp, sv.t_obs
    path = np.cumsum(lp.r @ w0)
    draw = np.maximum.accumulate(np.maximum(path, 0.0)) - path
    a0 = float(np.quantile(draw, 1.0 - 1.0 / (lp.kappa * t)))
    spread = max(float(draw.std()), 1e-2)
    v0 = draw + spread
    d0 = np.maximum(draw - a0, 0.0) + spread
    s = np.maximum(sv.hrow - sv.ax(w0, a0, v0, d0), spread)
    s[2 * t :] = np.maximum(s[2 * t :], 1e-2 * (1.0 + np.abs(lp.h)))
    sl = np.maximum(w0[sv.il] - lp.lower[sv.il], 1e-2)
    su = np.maximum(lp.upper[sv.iu] - w0[sv.iu], 1e-2)
    mu0 = max(lp.kappa, 1.0 / t) * spread
    return _State(w0.copy(), a0, v0, d0, s, mu0 / s, sl, mu0 / sl, su, mu0 / su, mu0 / v0, mu0 / d0, 0.0)


def solve_cdar_lp(lp: CdarLP, w0: np.ndarray, *, tol: float = 1e-11, accept: float = 1e-9, max_iter: int = 150,
                  trace: Callable[[int, str], None] | None = None) -> tuple[np.ndarray, float, int]:
    """Solve ``lp`` from the weights ``w0``; return ``(w, objective, iterations)``.

    Stops when the relative primal and dual residuals and the relative duality gap are all
    below ``tol``. Near the optimum the Newton systems lose digits; if the iterates stop
    improving for 10 iterations, the best one is returned when its largest error is below
    ``accept``. ``trace(iteration, residuals)`` is called at every iteration when given.

    Raises :class:`SolverError` when the method does not converge (the caller then solves
    the programme another way).
    """
    sv = _Solver(lp)
    st = _start(sv, np.asarray(w0, dtype="float64"))
    scale_h = 1.0 + float(np.abs(sv.hrow).max(initial=0.0)) + abs(lp.budget)
    info = ""
    best: tuple[float, np.ndarray, float, int] = (np.inf, st.w, np.inf, 0)
    it = 0
    for it in range(1, max_iter + 1):
        res = sv.residuals(st)
        rw, ra, rv, rd, rp, rl, ru, re = res
        mu = sv.gap(st)
        err_d = max(float(np.abs(rw).max()), abs(float(ra[0])), float(np.abs(rv).max()),
                    float(np.abs(rd).max())) / (1.0 + lp.kappa)
        err_p = max(float(np.abs(rp).max()), float(np.abs(rl).max(initial=0.0)),
                    float(np.abs(ru).max(initial=0.0)), abs(float(re[0]))) / scale_h
        pobj = st.a + lp.kappa * float(st.d.sum())
        dobj = (-float(lp.h @ st.z[2 * sv.t_obs :]) - lp.budget * st.y + float(lp.lower[sv.il] @ st.zl)
                - float(lp.upper[sv.iu] @ st.zu))
        rel_gap = abs(pobj - dobj) / max(abs(pobj), 1e-2)
        info = f"dual residual {err_d:.2e}, primal residual {err_p:.2e}, gap {rel_gap:.2e}"
        if trace is not None:
            trace(it, info)
        score = max(err_d, err_p, rel_gap)
        if score < best[0]:
            best = (score, st.w, pobj, it)
        if score <= tol:
            return st.w, pobj, it
        if it - best[3] >= 10:
            break
        nt = _Newton(sv, st)
        zero = (np.zeros(sv.m), np.zeros(sv.il.size), np.zeros(sv.iu.size), np.zeros(sv.t_obs),
                np.zeros(sv.t_obs))
        aff = _direction(sv, st, nt, res, zero)
        tp, td = _steps(st, aff)
        mu_aff = sv.gap(_moved(st, aff, tp, td))
        sigma = min(1.0, (mu_aff / mu) ** 3) if mu > 0 else 0.0
        target = sigma * mu
        tau = (target - aff.s * aff.z, target - aff.sl * aff.zl, target - aff.su * aff.zu,
               target - aff.v * aff.zv, target - aff.d * aff.zd)
        d = _direction(sv, st, nt, res, tau)
        tp, td = _steps(st, d)
        st = _moved(st, d, min(1.0, 0.999 * tp), min(1.0, 0.999 * td))
        if not (np.isfinite(st.w).all() and np.isfinite(st.a) and np.isfinite(st.y)):
            break
    if best[0] <= accept:
        return best[1], best[2], it
    raise SolverError(f"min_cdar: the structured interior-point method did not converge ({info}).")


def highs_cdar_lp(lp: CdarLP) -> tuple[np.ndarray, float]:
    """Solve ``lp`` with HiGHS on its sparse matrix (the independent route); return ``(w, objective)``.

    Raises :class:`InfeasibleError` when no portfolio meets the constraints.
    """
    from scipy import sparse

    from poolkit.allocation._core import solve_lp

    t, n = lp.r.shape
    eye = sparse.identity(t, format="csr")
    diff = sparse.eye(t, t, k=-1, format="csr") - eye  # B: v_{t-1} - v_t
    none = sparse.csr_matrix((t, t))
    a_ub = sparse.vstack([
        sparse.hstack([sparse.csr_matrix(-lp.r), sparse.csr_matrix((t, 1)), diff, none]),
        sparse.hstack([sparse.csr_matrix((t, n)), sparse.csr_matrix(-np.ones((t, 1))), eye, -eye]),
        sparse.hstack([sparse.csr_matrix(lp.g), sparse.csr_matrix((lp.g.shape[0], 1 + 2 * t))]),
    ]).tocsr()
    c = np.concatenate([np.zeros(n), [1.0], np.zeros(t), np.full(t, lp.kappa)])
    lo = np.concatenate([lp.lower, [-np.inf], np.zeros(2 * t)])
    hi = np.concatenate([lp.upper, [np.inf], np.full(2 * t, np.inf)])
    a_eq = sparse.csr_matrix(np.concatenate([np.ones(n), np.zeros(1 + 2 * t)])[None, :])
    x = solve_lp(c, lo, hi, a_ub=a_ub, b_ub=np.concatenate([np.zeros(2 * t), lp.h]), a_eq=a_eq,
                 b_eq=np.array([lp.budget]), what="min_cdar", method="highs-ipm")
    return x[:n], float(c @ x)

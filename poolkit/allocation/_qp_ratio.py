r"""The highest ratio of a linear to a square-root quadratic form (Sharpe, diversification) by a parametric QP path."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poolkit.allocation._qp import (
    FREE,
    KKT_TOL,
    LOWER,
    UPPER,
    QPResult,
    _bound_z,
    _Face,
    _Failed,
    _Inconsistent,
    _initial_state,
    _pdas,
    _scale,
    _Scaled,
    _verified,
    solve_qp,
)
from poolkit.exceptions import SolverError

__all__ = ["RatioResult", "solve_ratio"]


# ------------------------------------------------------------------------------------ parametric ratio
@dataclass
class RatioResult:
    """Solution of :func:`solve_ratio`: ``x`` (caller's units), the parameter ``t`` and the QP answer at ``t``."""

    x: np.ndarray
    t: float
    qp: QPResult


def solve_ratio(
    h: np.ndarray,
    e: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    a: np.ndarray,
    a_lo: np.ndarray,
    a_hi: np.ndarray,
    *,
    what: str = "the allocation",
    tol: float = KKT_TOL,
) -> RatioResult:
    r"""Maximise :math:`e^\top x / \sqrt{x^\top H x}` over the polyhedron by a parametric QP.

    The maximiser solves :math:`P(t): \min \tfrac12 x^\top H x - t\, e^\top x` for the
    :math:`t^*` at which :math:`\psi(t) = t\, e^\top x(t) - x(t)^\top H x(t) = 0` (the
    KKT conditions of the ratio). Along the path :math:`x(t)` of :math:`P(t)`,
    :math:`d(x^\top H x)/dt = 2t\, d(e^\top x)/dt`, so the ratio increases while
    :math:`\psi < 0` and decreases after: :math:`\psi` changes sign once. On one face
    (one active set) :math:`x(t)` is affine and :math:`\psi` quadratic, so each step
    solves :math:`\psi = 0` exactly on the current face and re-solves :math:`P(t)` there
    by PDAS (warm); a bracket on :math:`t` keeps the steps safe. It stops on the face
    that is optimal at its own root: the answer is exact and is verified (the KKT
    conditions of :math:`P(t^*)` and :math:`\psi(t^*) = 0`). The caller makes sure that
    some feasible :math:`x` has :math:`e^\top x > 0` and that the least
    :math:`x^\top H x` is positive.
    """
    h = np.asarray(h, dtype="float64")
    n = h.shape[0]
    a = np.asarray(a, dtype="float64").reshape(-1, n)
    p = _scale(h, np.zeros(n), np.asarray(lower, float), np.asarray(upper, float), a,
               np.asarray(a_lo, float), np.asarray(a_hi, float))
    es = np.asarray(e, dtype="float64") * p.d
    face = _Face(p)
    st, rst = _initial_state(p, None, None)

    def at(t: float, st: np.ndarray, rst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """P(t) by warm PDAS, else by the whole engine; the answer in scaled units."""
        fvec = -t * es
        try:
            x, y, st2, rst2, _ = _pdas(p, face, st, rst, f=fvec)
        except (_Failed, _Inconsistent):
            res = solve_qp(h, -t * np.asarray(e, float), lower, upper, a, a_lo, a_hi, what=what, tol=tol)
            return res.x / p.d, res.y / p.r, res.state, res.rstate
        return x, y, st2, rst2

    def accept(t: float, xs: np.ndarray, ys: np.ndarray, st: np.ndarray, rst: np.ndarray) -> RatioResult | None:
        fvec = -t * es
        z = _bound_z(p, xs, ys, st, fvec)
        ok, _ = _verified(replace_f(p, fvec), xs, ys, z, tol)
        xhx = float(xs @ (p.h @ xs))
        if not float(es @ xs) > 1e-12 * float(np.abs(es) @ np.abs(xs)):
            return None  # the ratio is wanted where the numerator is positive
        psi = t * float(es @ xs) - xhx
        # psi against the size of its terms (x'Hx may be a tiny difference of large ones)
        terms = t * float(np.abs(es) @ np.abs(xs)) + float(np.abs(xs).sum()) ** 2
        if ok and abs(psi) <= 1e-9 * (terms + 1e-300):
            qp = QPResult(x=xs * p.d, y=ys * p.r, z=z / p.d, state=st, rstate=rst, method="parametric",
                          ridge=face.ridge, info={"factorisations": face.factorisations})
            return RatioResult(xs * p.d, float(t), qp)
        return None

    x, y, st, rst = at(0.0, st, rst)
    t_lo, t_hi = 0.0, np.inf
    q0 = float(x @ p.h @ x)
    r0 = float(es @ x)
    # a first scale for t: variance over excess return (at the least-variance point when it earns one)
    t_guess = q0 / r0 if r0 > 0 else (q0 + float(x @ x)) / max(float(np.abs(es) @ np.abs(x)), 1e-300)
    for _ in range(400):
        root = None
        try:  # the affine path x(t) = xa + t xb on the current face, and its multipliers
            xa, ya = face.solve(np.zeros(n), st, rst)
            x1, y1 = face.solve(-es, st, rst)
        except (_Failed, _Inconsistent):
            pass
        else:
            xb, yb = x1 - xa, y1 - ya
            ga = p.h @ xa + p.a.T @ ya
            gb = p.h @ xb - es + p.a.T @ yb
            lo_t, hi_t = _validity(p, st, rst, xa, xb, ya, yb, ga, gb)
            hb = p.h @ xb
            a2 = float(es @ xb - xb @ hb)
            a1 = float(es @ xa - 2.0 * (xa @ hb))
            a0 = float(-(xa @ (p.h @ xa)))
            root = _upward_root(a2, a1, a0, max(t_lo, 0.0))
            if root is not None and lo_t <= root <= hi_t and t_lo <= root * (1 + 1e-12) and root <= t_hi * (1 + 1e-12):
                done = accept(root, xa + root * xb, ya + root * yb, st, rst)
                if done is not None:
                    return done
        # next trial parameter: the face's root when it is inside the bracket, else bisect or expand
        if root is not None and t_lo < root * (1 - 1e-12) and root < t_hi:
            t_next = root
        elif np.isfinite(t_hi):
            t_next = 0.5 * (t_lo + t_hi)
        else:
            t_next = max(8.0 * t_lo, t_guess)
            t_guess = 0.0
        narrow = np.isfinite(t_hi) and t_hi - t_lo <= 1e-12 * t_hi
        if narrow or not (t_lo < t_next < t_hi):
            # the root sits on a breakpoint: both neighbouring faces give (nearly) the same point
            for t_end in (t_hi, t_lo):
                if np.isfinite(t_end) and t_end > 0:
                    xe, ye, ste, rste = at(t_end, st, rst)
                    done = accept(t_end, xe, ye, ste, rste)
                    if done is not None:
                        return done
            break
        x, y, st, rst = at(t_next, st, rst)
        psi = t_next * float(es @ x) - float(x @ (p.h @ x))
        if psi < 0:
            t_lo = t_next
        else:
            t_hi = t_next
    raise SolverError(
        f"The parametric search of {what} did not settle on an optimal face (bracket [{t_lo:.3g}, {t_hi:.3g}]). "
        f"The covariance may be ill-conditioned: try a shrinkage estimator (cov_method='ledoit_wolf')."
    )


def replace_f(p: _Scaled, f: np.ndarray) -> _Scaled:
    """Return the same scaled problem with another linear term."""
    return _Scaled(p.h, f, p.lower, p.upper, p.a, p.a_lo, p.a_hi, p.d, p.r)


def _upward_root(a2: float, a1: float, a0: float, t_min: float) -> float | None:
    """Smallest root >= t_min of a2 t^2 + a1 t + a0 at which the quadratic crosses from - to + (or touches)."""
    scale = abs(a2) + abs(a1) + abs(a0)
    if scale == 0:
        return None
    if abs(a2) <= 1e-14 * scale:
        if a1 <= 0:
            return None
        r = -a0 / a1
        return r if r >= t_min else None
    disc = a1 * a1 - 4 * a2 * a0
    if disc < 0:
        return None
    sq = np.sqrt(disc)
    # numerically stable pair of roots
    qq = -0.5 * (a1 + np.copysign(sq, a1))
    roots = sorted(r for r in ((qq / a2) if a2 else np.inf, (a0 / qq) if qq else np.inf) if np.isfinite(r))
    for r in roots:
        if r >= t_min and 2 * a2 * r + a1 >= -1e-12 * scale:
            return float(r)
    return None


def _validity(
    p: _Scaled,
    st: np.ndarray,
    rst: np.ndarray,
    xa: np.ndarray,
    xb: np.ndarray,
    ya: np.ndarray,
    yb: np.ndarray,
    ga: np.ndarray,
    gb: np.ndarray,
) -> tuple[float, float]:
    """Interval of t on which the face (st, rst) stays optimal for min x'Hx/2 - t e'x."""
    c0_list: list[np.ndarray] = []
    c1_list: list[np.ndarray] = []
    tol_scale: list[np.ndarray] = []
    free = st == FREE
    xs = max(float(np.abs(xa).max(initial=0.0)), float(np.abs(xb).max(initial=0.0)), 1e-300)
    for bound, sign in ((p.lower, 1.0), (p.upper, -1.0)):
        m = free & np.isfinite(bound)
        c0_list.append(sign * (xa[m] - bound[m]))
        c1_list.append(sign * xb[m])
        tol_scale.append(np.full(int(m.sum()), xs))
    gs = max(float(np.abs(ga).max(initial=0.0)), float(np.abs(gb).max(initial=0.0)), 1e-300)
    for side, sign in ((LOWER, 1.0), (UPPER, -1.0)):
        m = (st == side) & (p.lower != p.upper)
        c0_list.append(sign * ga[m])
        c1_list.append(sign * gb[m])
        tol_scale.append(np.full(int(m.sum()), gs))
    ina = rst == FREE
    axa, axb = p.a @ xa, p.a @ xb
    for bound, sign in ((p.a_lo, 1.0), (p.a_hi, -1.0)):
        m = ina & np.isfinite(bound)
        c0_list.append(sign * (axa[m] - bound[m]))
        c1_list.append(sign * axb[m])
        tol_scale.append(np.full(int(m.sum()), xs))
    ys = max(float(np.abs(ya).max(initial=0.0)), float(np.abs(yb).max(initial=0.0)), 1e-300)
    for side, sign in ((LOWER, -1.0), (UPPER, 1.0)):
        m = rst == side
        c0_list.append(sign * ya[m])
        c1_list.append(sign * yb[m])
        tol_scale.append(np.full(int(m.sum()), ys))
    c0 = np.concatenate(c0_list)
    c1 = np.concatenate(c1_list)
    tl = 1e-10 * np.concatenate(tol_scale)
    lo_t, hi_t = -np.inf, np.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        up = c1 > 0
        dn = c1 < 0
        if up.any():
            lo_t = float(np.max(-(c0[up] + tl[up]) / c1[up]))
        if dn.any():
            hi_t = float(np.min(-(c0[dn] + tl[dn]) / c1[dn]))
    flat = c1 == 0
    if flat.any() and (c0[flat] < -tl[flat]).any():
        return np.inf, -np.inf
    return lo_t, hi_t

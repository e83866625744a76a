"""The solver space of the mean-variance family: weights in the variables the QP engine solves, and the LPs and QPs on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from poolkit._numerics import (
    portfolio_variance,
)
from poolkit.allocation import _qp
from poolkit.allocation._core import (
    Bounds,
    Constraints,
    parse_constraints,
    qp_constraints,
    solve_lp,
)
from poolkit.exceptions import InfeasibleError, PoolkitError, UnboundedError

Groups: TypeAlias = Mapping[Any, Any] | pd.Series | None
GroupBounds: TypeAlias = Mapping[Any, Any] | tuple[float, float] | None

# --------------------------------------------------------------------------------------- the solver space
@dataclass
class _Space:
    """The solver's variables for the weights: ``w`` itself, or ``w = p - q`` under a gross cap."""

    cons: Constraints
    lower: np.ndarray
    upper: np.ndarray
    a: np.ndarray
    a_lo: np.ndarray
    a_hi: np.ndarray
    idx: np.ndarray | None = None  # asset of each solver variable (split only)
    sign: np.ndarray | None = None  # +1 for a long part, -1 for a short part

    @property
    def split(self) -> bool:
        return self.idx is not None

    def h(self, hmat: np.ndarray) -> np.ndarray:
        if self.idx is None or self.sign is None:
            return hmat
        return hmat[np.ix_(self.idx, self.idx)] * np.outer(self.sign, self.sign)

    def vec(self, v: np.ndarray) -> np.ndarray:
        if self.idx is None or self.sign is None:
            return v
        return v[self.idx] * self.sign

    def weights(self, x: np.ndarray) -> np.ndarray:
        if self.idx is None or self.sign is None:
            return x
        w = np.zeros(self.cons.n)
        np.add.at(w, self.idx, x * self.sign)
        return w

    def rows(self, extra: tuple[np.ndarray, float, float] | None = None) -> tuple[np.ndarray, ...]:
        a, lo, hi = self.a, self.a_lo, self.a_hi
        if extra is not None:
            row, elo, ehi = extra
            r = self.vec(row)
            if a.shape[0] and lo[0] == hi[0] and bool(np.all(a[0] == 1.0)):
                # on the budget's hyperplane 1'w = b, r'w = (r - c)'w + c b: the row is centred
                # (c its mean), so that returns which differ little do not make it a near copy
                # of the budget row (nearly dependent rows are ill-conditioned for any solver)
                c = float(r.mean())
                r, elo, ehi = r - c, elo - c * lo[0], ehi - c * lo[0]
            a = np.vstack([a, r[None, :]])
            lo = np.concatenate([lo, [elo]])
            hi = np.concatenate([hi, [ehi]])
        return a, lo, hi


def _space(cons: Constraints) -> _Space:
    lower, upper, a, a_lo, a_hi = qp_constraints(cons)
    if cons.gross is None:
        return _Space(cons, lower, upper, a, a_lo, a_hi)
    pos = np.flatnonzero(upper > 0)
    neg = np.flatnonzero(lower < 0)
    idx = np.concatenate([pos, neg])
    sign = np.concatenate([np.ones(pos.size), -np.ones(neg.size)])
    lo_v = np.concatenate([np.maximum(lower[pos], 0.0), np.maximum(-upper[neg], 0.0)])
    hi_v = np.concatenate([upper[pos], -lower[neg]])
    a_v = np.vstack([a[:, idx] * sign[None, :], np.ones((1, idx.size))])
    return _Space(
        cons, lo_v, hi_v, a_v, np.concatenate([a_lo, [-np.inf]]), np.concatenate([a_hi, [cons.gross]]), idx, sign
    )


def _solve(
    space: _Space,
    hmat: np.ndarray,
    f: np.ndarray | None = None,
    *,
    extra: tuple[np.ndarray, float, float] | None = None,
    warm: _qp.QPResult | None = None,
    guess: np.ndarray | None = None,
    what: str,
    cache: dict[str, Any] | None = None,
) -> tuple[np.ndarray, _qp.QPResult]:
    """Minimise ``w'Hw/2 + f'w`` over the constraint set (and an extra row); return ``(w, QP answer)``.

    ``guess``: a per-asset score for a cold start (see :func:`poolkit.allocation._qp.solve_qp`).
    """
    h = space.h(hmat)
    fv = np.zeros(h.shape[0]) if f is None else space.vec(f)
    a, lo, hi = space.rows(extra)
    state = rstate = None
    if warm is not None and warm.state.shape == (h.shape[0],):
        state = warm.state
        if warm.rstate.shape == (a.shape[0],):
            rstate = warm.rstate
    if not space.cons.bounded and f is not None:
        _refuse_unbounded(h, fv, space.lower, space.upper, a, lo, hi, what=what)
    try:
        res = _qp.solve_qp(h, fv, space.lower, space.upper, a, lo, hi, state=state, rstate=rstate,
                           guess=guess if guess is None or space.idx is None else guess[space.idx],
                           what=what, cache=cache)
    except _qp.UnboundedQP:
        raise UnboundedError(_UNBOUNDED.format(what=what)) from None
    return space.weights(res.x), res


_UNBOUNDED = (
    "{what} has no finite optimum: with unbounded weights, some combination of the assets has no variance "
    "but a positive expected return, so the objective improves without limit. Give finite bounds or a "
    "`gross_exposure` cap, add `l2` regularisation, or use a shrinkage covariance."
)


def _refuse_unbounded(
    h: np.ndarray,
    f: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    a: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    what: str,
) -> None:
    r"""Raise :class:`UnboundedError` when :math:`\tfrac12 x^\top Hx + f^\top x` is unbounded below.

    It is iff a recession direction :math:`d` of the constraint set (``d_i >= 0`` where
    only the lower bound is finite, ``<= 0`` where only the upper one is, 0 where both
    are; the rows likewise) has :math:`Hd = 0` and :math:`f^\top d < 0`: an LP over the
    null space of :math:`H` (eigenvalues below :math:`10^{-12}` of the largest).
    """
    from scipy.linalg import eigh

    loose = ~(np.isfinite(lower) & np.isfinite(upper))
    if not loose.any():
        return
    idx = np.flatnonzero(loose)
    block = h[np.ix_(idx, idx)]
    vals, vecs = eigh(block)
    top = max(float(vals[-1]), 0.0)
    z = vecs[:, vals <= 1e-12 * max(top, 1e-300) * len(idx)] if top > 0 else vecs
    if z.shape[1] == 0:
        return
    k = z.shape[1]
    rows_ub: list[np.ndarray] = []
    rows_eq: list[np.ndarray] = []
    lo_i, hi_i = lower[idx], upper[idx]
    for j in range(len(idx)):  # sign conditions of the direction, one row per half-bounded variable
        if np.isfinite(lo_i[j]):
            rows_ub.append(-z[j])
        elif np.isfinite(hi_i[j]):
            rows_ub.append(z[j])
    az = a[:, idx] @ z
    for r in range(a.shape[0]):
        if np.isfinite(lo[r]) and np.isfinite(hi[r]):
            rows_eq.append(az[r])
        elif np.isfinite(lo[r]):
            rows_ub.append(-az[r])
        elif np.isfinite(hi[r]):
            rows_ub.append(az[r])
    c = f[idx] @ z
    if not np.any(c):
        return
    x = solve_lp(
        c,
        -np.ones(k),
        np.ones(k),
        a_ub=np.array(rows_ub) if rows_ub else None,
        b_ub=np.zeros(len(rows_ub)) if rows_ub else None,
        a_eq=np.array(rows_eq) if rows_eq else None,
        b_eq=np.zeros(len(rows_eq)) if rows_eq else None,
        what=f"the unboundedness check of {what}",
    )
    if float(c @ x) < -1e-9 * float(np.abs(c).sum()):
        raise UnboundedError(_UNBOUNDED.format(what=what))


def _space_lp(
    c: np.ndarray, space: _Space, *, extra_eq: np.ndarray | None = None, what: str
) -> tuple[np.ndarray, Any]:
    """Solve ``min c'x`` over the solver space's bounds and rows (plus ``extra_eq x = 0``) by HiGHS."""
    from scipy.optimize import linprog

    a, lo, hi = space.a, space.a_lo, space.a_hi
    eq = lo == hi
    ub_rows = [a[~eq & np.isfinite(hi)], -a[~eq & np.isfinite(lo)]]
    ub_rhs = [hi[~eq & np.isfinite(hi)], -lo[~eq & np.isfinite(lo)]]
    a_eq, b_eq = a[eq], lo[eq]
    if extra_eq is not None and extra_eq.size:
        a_eq = np.vstack([a_eq, extra_eq])
        b_eq = np.concatenate([b_eq, np.zeros(extra_eq.shape[0])])
    a_ub = np.vstack(ub_rows)
    cmax = float(np.abs(c).max(initial=0.0))
    res = linprog(
        c / cmax if cmax > 0 else c,  # unit-scaled objective (marginals are then relative to 1)
        A_ub=a_ub if a_ub.size else None,
        b_ub=np.concatenate(ub_rhs) if a_ub.size else None,
        A_eq=a_eq if a_eq.size else None,
        b_eq=b_eq if a_eq.size else None,
        bounds=np.column_stack([space.lower, space.upper]),
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if res.status != 0 or res.x is None:
        raise InfeasibleError(f"No portfolio meets every constraint of {what} (LP status {res.status}).")
    return np.asarray(res.x, dtype="float64"), res


def _top(mu: np.ndarray, hmat: np.ndarray, space: _Space, *, what: str) -> np.ndarray:
    """Least-variance portfolio among those of the highest expected return.

    The highest-return portfolios form a face of the constraint set: an LP (HiGHS) gives
    one of them and its dual solution, and by complementary slackness every optimal
    portfolio keeps at their bound the variables whose reduced cost is not zero and
    holds the rows whose multiplier is not zero. The least variance is then a QP on that
    face, where those sides are pinned: no thin target row is ever solved against. When
    the face is a single point, that point is the answer.
    """
    mv = space.vec(mu)
    x_lp, res = _space_lp(-mv, space, what=what)
    scale = 1.0  # the LP's objective is unit-scaled
    lower, upper = space.lower.copy(), space.upper.copy()
    pin_lo = np.abs(res.lower.marginals) > 1e-9 * scale
    pin_hi = np.abs(res.upper.marginals) > 1e-9 * scale
    upper[pin_lo] = lower[pin_lo]
    lower[pin_hi] = upper[pin_hi]
    a, lo, hi = space.a, space.a_lo.copy(), space.a_hi.copy()
    eq = lo == hi
    n_hi = int((~eq & np.isfinite(space.a_hi)).sum())
    marg = res.ineqlin.marginals if res.ineqlin is not None and res.ineqlin.marginals is not None else np.zeros(0)
    rows_hi = np.flatnonzero(~eq & np.isfinite(space.a_hi))
    rows_lo = np.flatnonzero(~eq & np.isfinite(space.a_lo))
    for j, m in zip(rows_hi, marg[:n_hi], strict=True):
        if abs(m) > 1e-9 * scale:
            lo[j] = hi[j]
    for j, m in zip(rows_lo, marg[n_hi:], strict=True):
        if abs(m) > 1e-9 * scale:
            hi[j] = lo[j]
    if np.all(lower == upper):
        return space.weights(x_lp)
    face = _Space(space.cons, lower, upper, a, lo, hi, space.idx, space.sign)
    try:
        w, _ = _solve(face, hmat, what=what)
    except PoolkitError:  # a face pinned by rounding-level multipliers: its LP vertex is still a top
        return space.weights(x_lp)
    w_lp = space.weights(x_lp)
    if float(portfolio_variance(w_lp, hmat)) <= float(portfolio_variance(w, hmat)):
        return w_lp
    return w


def _constraints(
    assets: pd.Index,
    bounds: Bounds,
    groups: Groups,
    group_bounds: GroupBounds,
    budget: float,
    gross_exposure: float | None,
) -> Constraints:
    return parse_constraints(assets, bounds, groups, group_bounds, budget=budget, gross_exposure=gross_exposure)

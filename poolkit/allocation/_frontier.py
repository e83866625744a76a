r"""The efficient frontier as a parametric QP: the critical line algorithm on the QP engine's faces.

The frontier portfolios solve, for each target return :math:`r`,

.. math:: \min_x \tfrac12 x^\top H x \quad\text{s.t.}\quad l \le x \le u,\quad
          a_{lo} \le A x \le a_{hi},\quad \mu^\top x \ge r,

in the solver space of :mod:`poolkit.allocation._space` (the weights, or their long and
short parts under a gross cap), scaled as :mod:`poolkit.allocation._qp` scales them (unit
diagonal, unit rows). On a *face* (a fixed set :math:`F` of free variables, the others held
at a bound, and a fixed set :math:`R` of active rows, the return row among them) the KKT
conditions are the linear system

.. math:: \begin{pmatrix} H_{FF} & A_{RF}^\top \\ A_{RF} & 0 \end{pmatrix}
          \begin{pmatrix} x_F \\ y_R \end{pmatrix} =
          \begin{pmatrix} -H_{FB} x_B \\ b_R - A_{RB} x_B + r\, e_\mu \end{pmatrix},

whose matrix does not depend on :math:`r`: the solution, the bound multipliers
:math:`z_B = -(H_{BF} x_F + H_{BB} x_B + A_{RB}^\top y_R)` and the inactive rows are all
affine in :math:`r`, :math:`x(r) = x(r_0) + (r - r_0)\,\dot x`. The face stays optimal until
a free variable reaches a bound, a held variable's multiplier or an active inequality's
multiplier changes sign, or an inactive row (a group limit, the gross cap) reaches a side:
the next *breakpoint*, where the face changes by those indices and the walk goes on
(Markowitz's critical line algorithm [1]_, [2]_). Every target between two breakpoints is
read off the affine solution at the cost of a matrix-vector product.

The free block enters only through :math:`H_{FF}^{-1}`, kept up to date as variables enter
(a bordered inverse) and leave (a Schur complement), each :math:`O(|F|^2)`; it is rebuilt
from a Cholesky factorisation every :data:`REFRESH` updates, after larger changes, or when
the face residuals are above rounding. The rows enter by their Schur complement
:math:`A_{RF} H_{FF}^{-1} A_{RF}^\top` (a few rows).

The walk starts at the top (the highest-return portfolio of an LP, :math:`\lambda \to \infty` in
the risk-aversion form :math:`\min \tfrac12 x^\top Hx - \lambda\mu^\top x`, whose face
system has :math:`\lambda\mu_F` in its right-hand side instead of the return row) and goes
down to the minimum variance (:math:`\lambda = 0`): :func:`descend`, Markowitz's own order.
It needs no QP, so a large sparse universe never pays the minimum-variance QP (whose first
factorisation holds every asset). Where it cannot start or go on (a gross cap, a face it
cannot continue, more free assets than the QPs would cost) the walk goes up from the
minimum-variance QP instead: :func:`trace_frontier`.

Every point read off the path is verified by the KKT check of the QP engine
(:func:`poolkit.allocation._qp.kkt_violation`: stationarity, feasibility of bounds, rows and
target, signs of all multipliers) on the same problem the per-point QP solves. A point that
fails is solved by the per-point QP instead, and the walk restarts from that QP's active set.
The walk also hands over to the per-point QP (warm-started, then restarting the walk) where
the face system is singular or ill-conditioned (a singular covariance whose free block is
singular, both parts of one asset free under a gross cap, active rows that the free
variables cannot move), and where ties at a breakpoint do not resolve (the same face comes
back without progress). Those cases cost speed, never exactness.

The walk crosses about one to two breakpoints per asset held at the minimum variance, each
costing an :math:`O(n|F|)` product and an :math:`O(|F|^2)` update: on dense optima (hundreds
of assets held for 50 points) that is more than one warm-started QP per point, whose few
factorisations run at BLAS-3 speed. :data:`METHOD` ``"auto"`` therefore walks only when the
minimum-variance portfolio holds at most :data:`AUTO_FREE` assets per target; otherwise each
point is a QP warm-started from the active set extrapolated from the last two points (the
sides their solutions and multipliers, affine between breakpoints, would cross by the next
target), which saves about a third of the factorisations of a plain warm start.

References
----------
.. [1] Markowitz, H. (1956). The optimization of a quadratic function subject to linear
       constraints. Naval Research Logistics Quarterly 3(1-2), 111-133.
.. [2] Niedermayer, A., Niedermayer, D. (2010). Applying Markowitz's critical line algorithm.
       In Handbook of Portfolio Construction (J. B. Guerard, ed.), Springer, 383-400.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from poolkit.allocation import _qp
from poolkit.allocation._qp import EQUAL, FREE, KKT_TOL, LOWER, UPPER, kkt_violation
from poolkit.allocation._space import _solve, _Space

__all__ = ["Descent", "descend", "trace_frontier"]

#: How the interior frontier points are computed: "path" (the critical line walk: down from the
#: top, else up from the minimum variance), "up" (only up), "qp" (one warm-started QP per point,
#: the reference the walk is tested against) or "auto": the walk unless the optimum holds more
#: than :data:`AUTO_FREE` assets per target point.
METHOD = "auto"
#: The walk crosses about one to two breakpoints per asset held at the minimum variance (measured
#: on the benchmark universes) and a breakpoint costs a third to a quarter of a warm-started QP:
#: beyond two held assets per target point the QPs are cheaper (e.g. dense optima of 500 assets).
AUTO_FREE = 2.0
#: Warm-start each per-point QP from the active set extrapolated from the last two points
#: (False: from the previous point's, as before the walk; kept for the benchmark).
PREDICT = True
#: Fewest assets for which "auto" walks down from the top. The descent saves the minimum-variance
#: QP, whose first factorisation holds every asset (0.3-0.5 s at N = 2000, a few ms at N = 500),
#: and may spend up to AUTO_FREE faces per point before it gives up on a dense optimum (about
#: 0.2 s at N = 500, where it then costs the dense frontier a third more): measured on the
#: benchmark universes, the saving outweighs that risk from about a thousand assets.
DESCENT_MIN = 1000
#: Low-rank updates of the inverse free block between two rebuilds from a factorisation.
REFRESH = 1000
#: Breakpoints without progress in the target return before the walk hands over to a QP.
STALL = 60
#: Faces between two measurements of the face residuals (when many variables are free).
CHECK = 8


class _Degenerate(Exception):
    """The walk cannot continue exactly from this face: the next point is solved as a QP."""


# --------------------------------------------------------------------------------------- the free block
class _Block:
    """Inverse of the free block :math:`H_{FF}` of the scaled matrix, updated as ``free`` changes.

    The inverse lives in the leading ``k x k`` corner of a larger buffer, so that a variable
    leaves by a swap with the last one and a rank-one downdate, and enters by a bordering
    step, each in place (two passes over the block, no copy).
    """

    def __init__(self, h: np.ndarray, free: np.ndarray) -> None:
        self.h = h
        self.free = np.asarray(free, dtype=np.intp)
        self.buf = np.zeros((0, 0))
        self.updates = 0
        self.rebuilds = 0
        self.rebuild()

    @property
    def inv(self) -> np.ndarray:
        k = self.free.size
        return self.buf[:k, :k]

    def rebuild(self) -> None:
        from scipy.linalg import LinAlgError, cho_factor, cho_solve

        self.updates = 0
        k = self.free.size
        if k == 0:
            self.buf = np.zeros((8, 8))
            return
        self.rebuilds += 1
        hf = self.h[np.ix_(self.free, self.free)]
        try:
            c, low = cho_factor(hf, lower=True, check_finite=False, overwrite_a=True)
        except LinAlgError:
            raise _Degenerate("the free block is singular") from None
        piv = np.abs(np.diag(c))
        if piv.min() <= 1e-6 * piv.max():  # condition number above ~1e12: leave it to the QP engine
            raise _Degenerate("the free block is numerically singular")
        self.buf = np.zeros((k + 8, k + 8))
        self.buf[:k, :k] = cho_solve((c, low), np.eye(k), check_finite=False)

    def _add(self, j: int) -> None:
        k = self.free.size
        b = self.h[self.free, j]
        inv = self.buf[:k, :k]
        u = inv @ b
        s = float(self.h[j, j] - b @ u)
        if not s > 1e-10 * max(float(self.h[j, j]), 1e-300):
            raise _Degenerate("an entering variable makes the free block singular")
        if k + 1 > self.buf.shape[0]:
            grown = np.zeros((k + 1 + k // 2 + 8,) * 2)
            grown[:k, :k] = inv
            self.buf = grown
            inv = self.buf[:k, :k]
        inv += np.outer(u / s, u)
        self.buf[:k, k] = -u / s
        self.buf[k, :k] = -u / s
        self.buf[k, k] = 1.0 / s
        self.free = np.append(self.free, j)

    def _remove(self, j: int) -> None:
        k = self.free.size
        q = int(np.flatnonzero(self.free == j)[0])
        last = k - 1
        if q != last:  # swap the leaving variable to the last place
            buf = self.buf
            buf[[q, last], :k] = buf[[last, q], :k]
            buf[:k, [q, last]] = buf[:k, [last, q]]
            self.free[[q, last]] = self.free[[last, q]]
        col = self.buf[:last, last].copy()
        piv = float(self.buf[last, last])
        self.buf[:last, :last] -= np.outer(col / piv, col)
        self.free = self.free[:last]

    def update(self, free: np.ndarray) -> None:
        """Make the block that of ``free`` (as a set), by low-rank updates or a rebuild."""
        old = set(self.free.tolist())
        new = set(np.asarray(free).tolist())
        gone, come = old - new, new - old
        changes = len(gone) + len(come)
        if changes == 0:
            return
        if self.updates + changes > REFRESH or changes > max(4, len(new) // 8):
            self.free = np.asarray(sorted(new), dtype=np.intp)
            self.rebuild()
            return
        for j in sorted(gone):
            self._remove(j)
        for j in sorted(come):
            self._add(j)
        self.updates += changes


# --------------------------------------------------------------------------------------- one face
@dataclasses.dataclass
class _Affine:
    """A face's solution at ``r0`` and its derivative in the target return (all scaled)."""

    r0: float
    x: np.ndarray
    dx: np.ndarray
    y: np.ndarray  # full row multipliers (zero on inactive rows)
    dy: np.ndarray
    g: np.ndarray  # gradient H x + A'y (z = -g on held variables)
    dg: np.ndarray


def _face(p: Any, blk: _Block, state: np.ndarray, rstate: np.ndarray, r0: float, *, check: bool = True,
          mu_s: np.ndarray | None = None) -> _Affine:
    """Solve the face KKT system at ``r0`` and for the derivative in ``r`` (the return row is last).

    With ``check`` the residuals of the system are measured (refined, or the block rebuilt, when
    above rounding); they come free when few variables are free. Without it, and many free
    variables, only the held variables' gradient is computed: the residuals are then checked by
    the caller every few faces, and every point read off the face is verified anyway.
    """
    h, n, m = p.h, p.n, p.m
    free = blk.free
    xb = np.zeros(n)
    at_lo, at_hi = state == LOWER, state == UPPER
    xb[at_lo] = p.lower[at_lo]
    xb[at_hi] = p.upper[at_hi]
    held = np.flatnonzero((state != FREE) & (xb != 0))
    rows = np.flatnonzero(rstate != FREE)
    side = np.where(rstate[rows] == UPPER, p.a_hi[rows], p.a_lo[rows])
    if mu_s is None:
        side[-1] = p.r[-1] * r0  # the return row is the last row and always active
    af = p.a[np.ix_(rows, free)]
    r1 = np.zeros((free.size, 2))
    r2 = np.zeros((rows.size, 2))
    hb = h[:, held] @ xb[held] if held.size else np.zeros(n)
    r1[:, 0] = -hb[free]
    if mu_s is not None:  # the risk-aversion form: the parameter s = -lambda multiplies mu
        r1[:, 0] -= r0 * mu_s[free]
        r1[:, 1] = -mu_s[free]
    r2[:, 0] = side - (p.a[np.ix_(rows, held)] @ xb[held] if held.size else 0.0)
    if mu_s is None:
        r2[-1, 1] = p.r[-1]
    inv = blk.inv
    kr = rows.size
    both = inv @ np.hstack([af.T, r1])  # one pass over the inverse for the rows and both right-hand sides
    ha = both[:, :kr]
    schur = af @ ha
    ev = np.linalg.eigvalsh(schur) if kr else np.ones(1)
    if not ev[0] > 1e-11 * max(float(ev[-1]), 1e-300):
        raise _Degenerate("the active rows are dependent on the free variables")

    def finish(hr: np.ndarray, q2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        yy = np.linalg.solve(schur, af @ hr - q2)
        return hr - ha @ yy, yy

    xf, yr = finish(both[:, kr:], r2)
    arows = p.a[rows]
    xfull = np.zeros((n, 2))
    if not check and 3 * free.size > n:
        # many free variables: only the held ones' gradient is needed (for their multipliers)
        xfull[free] = xf
        fixed = np.flatnonzero(state != FREE)
        hx = np.zeros((n, 2))
        hx[fixed] = h[fixed] @ xfull
    else:
        scale1 = np.abs(xf).sum(axis=0) + np.abs(af.T) @ np.abs(yr) + np.abs(r1) + 1e-300
        rterms = np.zeros((kr, 2))
        if held.size:
            rterms[:, 0] = np.abs(p.a[np.ix_(rows, held)]) @ np.abs(xb[held])
        # H x over every variable: from the free rows (contiguous, h is symmetric) when they are few,
        # else one product with the whole matrix (no gather)
        hrows = h[free] if 3 * free.size <= n else None
        for attempt in range(4):
            if hrows is not None:
                hx = hrows.T @ xf
            else:
                xfull[free] = xf
                hx = h @ xfull
            res1 = r1 - hx[free] - af.T @ yr
            res2 = r2 - af @ xf
            err1 = float(np.max(np.abs(res1) / scale1, initial=0.0))
            # each row against its own terms, at least a thousandth of the largest row's (a row whose
            # free part must vanish is met to rounding of the others)
            den = np.abs(r2) + np.abs(af) @ np.abs(xf) + rterms
            floor = np.maximum(1e-3 * den.max(axis=0, initial=0.0), 1e-6 * float(den.max(initial=0.0)))
            err2 = float(np.max(np.abs(res2) / (np.maximum(den, floor) + 1e-300), initial=0.0))
            if max(err1, err2) <= 1e-11:
                break
            if attempt == 1 and blk.updates:
                blk.rebuild()  # drifted low-rank updates: start again from a factorisation
                return _face(p, blk, state, rstate, r0, check=True, mu_s=mu_s)
            if attempt == 3:
                if max(err1, err2) > 1e-9:
                    raise _Degenerate("the face system is ill-conditioned")
                break
            dxf, dyr = finish(inv @ res1, res2)
            xf, yr = xf + dxf, yr + dyr
    if mu_s is not None and free.size <= kr:
        xf[:, 1] = 0.0  # the rows pin the free variables, which then do not move with s (only rounding would)
    x = np.tile(xb[:, None], (1, 2))
    x[:, 1] = 0.0
    x[free] = xf
    g = hx + arows.T @ yr
    g[:, 0] += hb
    if mu_s is not None:
        g[:, 0] += r0 * mu_s
        g[:, 1] += mu_s
    y = np.zeros((m, 2))
    y[rows] = yr
    return _Affine(r0, x[:, 0], x[:, 1], y[:, 0], y[:, 1], g[:, 0], g[:, 1])


def _next_break(p: Any, fa: _Affine, state: np.ndarray, rstate: np.ndarray,
                floor: float = 0.0) -> tuple[float, list[tuple[str, np.ndarray, np.ndarray]]]:
    """Return the step in ``r`` to the next breakpoint of the face and, per kind, each index's step.

    Steps below ``floor`` count as ``floor`` (0: the face is left at once; -inf for a face
    that holds from minus infinity, whose first breakpoint is the least step).
    """
    inf = np.inf
    fixed_for_good = p.lower == p.upper
    free = state == FREE
    dx, x = fa.dx, fa.x
    tx = 1e-12 * float(np.abs(dx).max(initial=0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        s_up = np.where(free & (dx > tx) & np.isfinite(p.upper), (p.upper - x) / dx, inf)
        s_lo = np.where(free & (dx < -tx) & np.isfinite(p.lower), (p.lower - x) / dx, inf)
        tg = 1e-12 * (float(np.abs(dx).sum()) + float((np.abs(p.a).T @ np.abs(fa.dy)).max(initial=0.0)))
        release = ~free & ~fixed_for_good
        s_rel = np.where(release & (state == LOWER) & (fa.dg < -tg), -fa.g / fa.dg, inf)
        s_rel = np.where(release & (state == UPPER) & (fa.dg > tg), -fa.g / fa.dg, s_rel)
        ty = 1e-12 * float(np.abs(fa.dy).max(initial=0.0))
        s_ry = np.where((rstate == LOWER) & (fa.dy > ty), -fa.y / fa.dy, inf)
        s_ry = np.where((rstate == UPPER) & (fa.dy < -ty), -fa.y / fa.dy, s_ry)
        ax, dax = p.a @ x, p.a @ dx
        ta = 1e-12 * (np.abs(p.a) @ np.abs(dx))
        s_rh = np.where((rstate == FREE) & (dax > ta) & np.isfinite(p.a_hi), (p.a_hi - ax) / dax, inf)
        s_rl = np.where((rstate == FREE) & (dax < -ta) & np.isfinite(p.a_lo), (p.a_lo - ax) / dax, inf)
    steps = [np.maximum(s, floor) for s in (s_up, s_lo, s_rel, s_ry, s_rh, s_rl)]
    s_end = min(float(s.min(initial=inf)) for s in steps)
    kinds = ["up", "lo", "release", "row_off", "row_hi", "row_lo"]
    return s_end, list(zip(kinds, steps, [np.empty(0)] * 6, strict=True))


def _apply(
    s_end: float, events: list[tuple[str, np.ndarray, np.ndarray]], state: np.ndarray, rstate: np.ndarray, tie: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return the face after the breakpoint: every index whose event falls within ``tie`` of ``s_end`` changes side."""
    state, rstate = state.copy(), rstate.copy()
    limit = s_end + tie
    for kind, steps, _ in events:
        hit = steps <= limit
        if kind == "up":
            state[hit] = UPPER
        elif kind == "lo":
            state[hit] = LOWER
        elif kind == "release":
            state[hit] = FREE
        elif kind == "row_off":
            rstate[hit] = FREE
        elif kind == "row_hi":
            rstate[hit] = UPPER
        else:
            rstate[hit] = LOWER
    return state, rstate


# --------------------------------------------------------------------------------------- the walk
def _verify(p: Any, fa: _Affine, state: np.ndarray, target: float) -> np.ndarray | None:
    """Return the scaled point of the face at ``target`` if it passes the KKT check of the per-point QP, else None."""
    s = target - fa.r0
    x = fa.x + s * fa.dx
    y = fa.y + s * fa.dy
    z = np.where(state == FREE, 0.0, -(fa.g + s * fa.dg))
    lo = p.a_lo.copy()
    hi = p.a_hi.copy()
    lo[-1], hi[-1] = p.r[-1] * target, np.inf  # the per-point problem: mu'x >= target
    stat, primal, comp = kkt_violation(dataclasses.replace(p, a_lo=lo, a_hi=hi), x, y, z)
    return x if max(stat, primal, comp) <= KKT_TOL else None


def _walk(
    p: Any, state: np.ndarray, rstate: np.ndarray, r0: float, targets: np.ndarray, k: int, out: list[np.ndarray | None],
    stats: dict[str, int],
) -> int:
    """Walk the critical line from a face optimal at ``r0``; fill ``out`` from ``targets[k]``; return the next k.

    Raises :class:`_Degenerate` (after filling what it could) when the next point needs a QP.
    """
    span = max(float(targets[-1] - r0), 1e-300)
    tie = 1e-11 * span
    blk = _Block(p.h, np.flatnonzero(state == FREE))
    seen: set[bytes] = set()
    stalls = 0
    faces = 0
    r = r0
    while k < targets.size:
        fa = _face(p, blk, state, rstate, r, check=faces % CHECK == 0)
        faces += 1
        s_end, events = _next_break(p, fa, state, rstate)
        r_end = r + s_end
        while k < targets.size and targets[k] <= r_end + tie:
            x = _verify(p, fa, state, float(targets[k]))
            if x is None:
                stats["rejected"] += 1
                raise _Degenerate("a point of the path failed its KKT check")
            out[k] = x
            stats["path"] += 1
            k += 1
        if k == targets.size:
            break
        if not np.isfinite(s_end):
            raise _Degenerate("the face has no breakpoint below the remaining targets")
        stats["breakpoints"] += 1
        state, rstate = _apply(s_end, events, state, rstate, tie)
        # no progress in r: the same face must not come back
        stalls = _tie_guard(state, rstate, seen, stalls, tied=s_end <= tie)
        blk.update(np.flatnonzero(state == FREE))
        r = r_end
    stats["rebuilds"] += blk.rebuilds
    return k


def _tie_guard(state: np.ndarray, rstate: np.ndarray, seen: set[bytes], stalls: int, *, tied: bool) -> int:
    """Count a breakpoint crossed without progress (``tied``) and refuse a face met twice or too many stalls.

    Returns the new stall count (0 after a breakpoint that made progress, which also forgets
    the faces seen); raises :class:`_Degenerate` when ties at a breakpoint do not resolve.
    """
    if not tied:
        seen.clear()
        return 0
    key = state.tobytes() + rstate.tobytes()
    if key in seen or stalls + 1 > STALL:
        raise _Degenerate("ties at a breakpoint do not resolve")
    seen.add(key)
    return stalls + 1


def _predicted(space: _Space, before: tuple[float, _qp.QPResult], last: tuple[float, _qp.QPResult],
               t: float) -> _qp.QPResult:
    """Return a warm start for the QP at ``t``: the active set of the last two points' solutions extrapolated to ``t``.

    Between breakpoints the solution and multipliers are affine in the target, so the sides
    they would cross by ``t`` are predicted to change (as the walk would change them).
    """
    (r1, q1), (r2, q2) = before, last
    if not r2 > r1:
        return q2
    c = (t - r2) / (r2 - r1)
    x = q2.x + c * (q2.x - q1.x)
    z = q2.z + c * (q2.z - q1.z)
    y = q2.y + c * (q2.y - q1.y)
    state = q2.state.copy()
    free = state == FREE
    fixed_for_good = space.lower == space.upper
    state[free & (x < space.lower)] = LOWER
    state[free & (x > space.upper)] = UPPER
    state[(q2.state == LOWER) & (z > 0) & ~fixed_for_good] = FREE
    state[(q2.state == UPPER) & (z < 0) & ~fixed_for_good] = FREE
    rstate = q2.rstate.copy()
    rstate[(q2.rstate == LOWER) & (y > 0)] = FREE
    rstate[(q2.rstate == UPPER) & (y < 0)] = FREE
    rstate[-1] = q2.rstate[-1]
    return dataclasses.replace(q2, state=state, rstate=rstate)


def trace_frontier(
    space: _Space,
    hmat: np.ndarray,
    mu: np.ndarray,
    targets: np.ndarray,
    start: _qp.QPResult,
    r0: float,
    *,
    cache: dict[str, Any] | None = None,
    what: str = "efficient_frontier",
) -> tuple[np.ndarray, dict[str, int]]:
    r"""Least-variance weights at each target return, by the critical line walk from the minimum variance.

    ``targets`` (increasing, above ``r0``, below the highest return) are solved as the per-point
    QP :math:`\min w^\top\Sigma w` s.t. :math:`\mu^\top w \ge r_k` and the constraints of ``space``;
    ``start`` is the minimum-variance QP answer (return ``r0``) whose active set starts the walk.
    Returns the weights (one row per target, in asset space) and counts of how each point was
    found (``path``, ``qp``, ``rejected``, ``breakpoints``, ``rebuilds``, ``descent`` = 0). With
    :data:`METHOD` ``"qp"``, or ``"auto"`` when the minimum variance holds more than
    :data:`AUTO_FREE` assets per target, every point is a QP warm-started from the active set
    extrapolated from the last two points (:data:`PREDICT`).
    """
    targets = np.asarray(targets, dtype="float64")
    stats = {"path": 0, "qp": 0, "rejected": 0, "breakpoints": 0, "rebuilds": 0, "descent": 0}
    out: list[np.ndarray | None] = [None] * targets.size
    weights = np.empty((targets.size, space.cons.n))
    h = space.h(hmat)
    mv = space.vec(mu)
    a = np.vstack([space.a, mv[None, :]])
    p = _qp._scale(h, np.zeros(h.shape[0]), space.lower, space.upper, a, np.concatenate([space.a_lo, [r0]]),
                   np.concatenate([space.a_hi, [np.inf]]), cache)
    res = start
    state = start.state
    rstate = np.concatenate([start.rstate, [EQUAL]]).astype(np.int8)
    r = r0
    k = 0
    walk = METHOD in ("path", "up") or METHOD == "auto" and int((state == FREE).sum()) <= AUTO_FREE * targets.size
    prev: tuple[float, _qp.QPResult] | None = None
    while k < targets.size:
        if walk:
            try:
                k = _walk(p, state, rstate, r, targets, k, out, stats)
            except _Degenerate:
                k = next((i for i in range(k, targets.size) if out[i] is None), targets.size)
            if k == targets.size:
                break
        warm = res if res.rstate.size == a.shape[0] else dataclasses.replace(res, rstate=rstate)
        t = float(targets[k])
        if PREDICT and prev is not None and prev[1].rstate.size == res.rstate.size:
            warm = _predicted(space, prev, (r, res), t)
        prev = (r, res)
        w, res = _solve(space, hmat, extra=(mu, t, np.inf), warm=warm, what=f"{what} point {k + 1}", cache=cache)
        weights[k] = w
        stats["qp"] += 1
        state = res.state
        rstate = res.rstate.copy()
        rstate[-1] = EQUAL
        r = t
        k += 1
    for i, x in enumerate(out):
        if x is not None:
            weights[i] = space.weights(x * p.d)
    return weights, stats


# --------------------------------------------------------------------------------------- from the top down
@dataclasses.dataclass
class Descent:
    r"""The critical line walked down from the highest return to the minimum variance (scaled faces).

    ``segments`` hold, from the top down, ``(s_from, s_to, face, state)`` with the parameter
    :math:`s = -\lambda` of the risk-aversion form :math:`\min \tfrac12 x^\top Hx - \lambda\mu^\top x`;
    ``r0`` is the minimum variance's expected return and ``w0`` its weights (asset space).
    """

    space: _Space
    p: Any  # the scaled problem with the return row last
    mu_s: np.ndarray
    segments: list[tuple[float, float, _Affine, np.ndarray]]
    r0: float
    w0: np.ndarray
    stats: dict[str, int]
    r_to: np.ndarray  # the return at the lower end of each segment

    def _ret(self, fa: _Affine, s: float) -> float:
        return float(self.mu_s @ (fa.x + (s - fa.r0) * fa.dx))

    def point(self, target: float) -> np.ndarray | None:
        """Weights (asset space) of the least-variance portfolio at ``target``, or None if unverified."""
        below = np.flatnonzero(self.r_to <= target + 1e-12 * abs(target) + 1e-300)
        for s_from, s_to, fa, state in self.segments[int(below[0]) if below.size else len(self.segments):]:
            slope = float(self.mu_s @ fa.dx)
            s = s_to if not slope < 0 else fa.r0 + (target - self._ret(fa, fa.r0)) / slope
            s = min(max(s, s_from), s_to)
            x = _verify_risk(self.p, fa, state, s, target)
            if x is not None:
                self.stats["path"] += 1
                return self.space.weights(x * self.p.d)
            break
        self.stats["rejected"] += 1
        return None


def _verify_risk(p: Any, fa: _Affine, state: np.ndarray, s: float, target: float) -> np.ndarray | None:
    """Return the scaled point of a risk-form face at ``s`` if it passes the per-point QP's KKT check at ``target``."""
    step = s - fa.r0
    x = fa.x + step * fa.dx
    y = np.concatenate([fa.y + step * fa.dy, [s / p.r[-1]]])  # -lambda mu'x: the return row's multiplier
    z = np.where(state == FREE, 0.0, -(fa.g + step * fa.dg))
    lo = p.a_lo.copy()
    hi = p.a_hi.copy()
    lo[-1], hi[-1] = p.r[-1] * target, np.inf
    stat, primal, comp = kkt_violation(dataclasses.replace(p, a_lo=lo, a_hi=hi), x, y, z)
    return x if max(stat, primal, comp) <= KKT_TOL else None


def _through_vertex(p: Any, state: np.ndarray, rstate: np.ndarray, before: np.ndarray, seen: set[bytes]) -> np.ndarray:
    """Keep free one member of each active row that the breakpoint left without a free member.

    Free variables reaching their bounds together can meet a row exactly at a vertex (e.g.
    twenty weights at a 5 % cap): the walk goes on through it with one of them free, the
    critical line algorithm's rule. A choice whose face is left at once is in ``seen``, so the
    next member is tried; when none is left, the face is singular and the walk hands over.
    """
    movable = p.lower < p.upper
    for j in np.flatnonzero(rstate != FREE):
        member = (p.a[j] != 0) & movable
        if (member & (state == FREE)).any():
            continue
        for c in np.flatnonzero(member & (before == FREE)):
            trial = state.copy()
            trial[c] = FREE
            if trial.tobytes() + rstate.tobytes() not in seen:
                state = trial
                break
    return state


def descend(
    space: _Space, hmat: np.ndarray, mu: np.ndarray, w_top: np.ndarray, *, limit: int,
    cache: dict[str, Any] | None = None,
) -> Descent | None:
    r"""Walk the critical line from the top portfolio ``w_top`` down to the minimum variance.

    In the risk-aversion form :math:`\min \tfrac12 w^\top\Sigma w - \lambda\mu^\top w` the top is the
    face of :math:`\lambda \to \infty` and the minimum variance that of :math:`\lambda = 0`; the
    walk needs no QP at all (the minimum-variance QP of a large universe starts from every asset
    free). Returns None, for the caller to take the minimum-variance QP and walk up instead,
    below :data:`DESCENT_MIN` assets (with :data:`METHOD` ``"auto"``), under a gross cap,
    when the walk meets a face it cannot continue exactly, when more than
    ``limit`` assets become free (a dense optimum: see :data:`AUTO_FREE`) or when the
    minimum-variance point fails its KKT check.
    """
    if space.split or METHOD in ("qp", "up") or METHOD == "auto" and space.cons.n < DESCENT_MIN:
        return None
    stats = {"path": 0, "qp": 0, "rejected": 0, "breakpoints": 0, "rebuilds": 0, "descent": 1}
    h = space.h(hmat)
    mv = space.vec(mu)
    p_risk = _qp._scale(h, np.zeros(h.shape[0]), space.lower, space.upper, space.a, space.a_lo, space.a_hi, cache)
    a = np.vstack([space.a, mv[None, :]])
    p = _qp._scale(h, np.zeros(h.shape[0]), space.lower, space.upper, a, np.concatenate([space.a_lo, [0.0]]),
                   np.concatenate([space.a_hi, [np.inf]]), cache)
    mu_s = mv * p_risk.d
    x = w_top / p_risk.d
    size = max(float(np.abs(x).max(initial=0.0)), 1e-300)
    state = np.full(p_risk.n, FREE, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        state[np.abs(x - p_risk.lower) <= 1e-9 * size] = LOWER
        state[np.abs(x - p_risk.upper) <= 1e-9 * size] = UPPER
    ax = p_risk.a @ x
    rsize = np.abs(p_risk.a) @ np.abs(x) + 1e-300
    rstate = np.full(p_risk.m, FREE, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        rstate[np.abs(ax - p_risk.a_lo) <= 1e-9 * rsize] = LOWER
        rstate[np.abs(ax - p_risk.a_hi) <= 1e-9 * rsize] = UPPER
    rstate[p_risk.a_lo == p_risk.a_hi] = EQUAL
    # an active row with no free member (the top is a vertex: e.g. the budget met by assets at
    # their caps) gets its marginal member freed, as the critical line algorithm starts: the last
    # one filled (least return per unit of the row among those at a cap), else the best at a floor
    movable = p_risk.lower < p_risk.upper
    for j in np.flatnonzero(rstate != FREE):
        member = (p_risk.a[j] != 0) & movable
        if (member & (state == FREE)).any():
            continue
        capped = np.flatnonzero(member & (state == UPPER))
        floored = np.flatnonzero(member & (state == LOWER))
        ratio = mu_s / np.where(member, p_risk.a[j], 1.0)  # return per unit of the row
        if capped.size:
            state[capped[np.argmin(ratio[capped])]] = FREE
        elif floored.size:
            state[floored[np.argmax(ratio[floored])]] = FREE
    segments: list[tuple[float, float, _Affine, np.ndarray]] = []
    try:
        blk = _Block(p_risk.h, np.flatnonzero(state == FREE))
        s_cur = -np.inf
        seen: set[bytes] = set()
        stalls = faces = 0
        while True:
            anchor = 0.0 if faces == 0 else s_cur
            fa = _face(p_risk, blk, state, rstate, anchor, check=faces % CHECK == 0, mu_s=mu_s)
            if faces == 0 and float(np.abs(fa.dx).max(initial=0.0)) > 1e-9 * size:
                raise _Degenerate("the top face moves with the risk aversion")
            s_step, events = _next_break(p_risk, fa, state, rstate, floor=-np.inf if faces == 0 else 0.0)
            faces += 1
            s_end = anchor + s_step
            if not s_end < 0:  # the minimum variance (lambda = 0) lies on this face
                segments.append((s_cur, 0.0, fa, state))
                break
            segments.append((s_cur, s_end, fa, state))
            stats["breakpoints"] += 1
            tie = 1e-11 * abs(s_end)
            before = state
            # left at once: this face must not come back
            stalls = _tie_guard(state, rstate, seen, stalls, tied=s_cur > -np.inf and s_end - s_cur <= tie)
            state, rstate = _apply(s_step, events, state, rstate, tie)
            state = _through_vertex(p_risk, state, rstate, before, seen)
            free = np.flatnonzero(state == FREE)
            if free.size > limit:
                raise _Degenerate("a dense optimum")
            blk.update(free)
            s_cur = s_end
        stats["rebuilds"] += blk.rebuilds
    except _Degenerate:
        return None
    fa, state = segments[-1][2], segments[-1][3]
    r0_s = float(mu_s @ (fa.x - fa.r0 * fa.dx))
    x0 = _verify_risk(p, fa, state, 0.0, r0_s)
    if x0 is None:
        return None
    w0 = space.weights(x0 * p.d)
    r_to = np.array([float(mu_s @ (f.x + (s_to - f.r0) * f.dx)) for _, s_to, f, _ in segments])
    return Descent(space, p, mu_s, segments, float(mu @ w0), w0, stats, r_to)

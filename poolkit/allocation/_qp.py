r"""The dense convex QP engine behind every mean-variance method.

Solves

.. math:: \min_x \tfrac12 x^\top H x + f^\top x \quad\text{s.t.}\quad
          l \le x \le u,\quad a_{lo} \le A x \le a_{hi},

with :math:`H` symmetric positive semi-definite (possibly singular), bounds that may be
infinite, and a few general rows (the budget, group limits, a return target), rows with
``a_lo == a_hi`` being equalities.

Strategy (chosen from measurements on dense and sparse universes, see
``benchmarks/results.md``):

1. **Scaling.** Variables are scaled by :math:`1/\sqrt{H_{ii}}` (unit diagonal, so a
   covariance becomes a correlation matrix) and rows to unit largest coefficient. Every
   test below is made on the scaled problem, component by component, so no asset's
   conditions are judged on another asset's scale.
2. **Primal-dual active set** (PDAS; Hintermüller, Ito & Kunisch 2002, the semismooth
   Newton method on the KKT conditions). Given a guess of which bounds and rows hold with
   equality, the equality-constrained QP on the free block is solved exactly (a Cholesky
   factorisation of the free block of :math:`H` and a Schur complement for the rows);
   every free variable that leaves its bounds and every fixed one whose multiplier has
   the wrong sign changes side, all at once. When no index changes, the KKT conditions
   hold exactly. On dense long-only problems it needs 3-9 factorisations of a shrinking
   block where a one-index-per-iteration active set needs thousands; warm starts (a
   previous solution's sets) usually need one or two. A cold start on
   :data:`GUESS_MIN` variables or more begins with the caller's guess (e.g. the tenth of
   lowest variance free, the others at 0), so a sparse optimum is reached through small
   faces instead of the whole problem's.
3. **Interior point** (Mehrotra's predictor-corrector; Gondzio's centrality correctors on
   large problems) when PDAS oscillates, which it can
   do on degenerate problems (e.g. a sample covariance of more assets than half the
   number of observations, where the least variance is nearly zero and thousands of
   multipliers nearly vanish). Its iteration count does not depend on the degeneracy;
   its answer is then polished by a PDAS crossover from its predicted active set, or
   kept as it is when the crossover does not settle. PDAS hands over early, as soon as
   a regular face leads back to a singular one (on 600 variables or more): that swing is
   the mark of a degenerate problem, e.g. more assets than observations. From a guessed
   face, or when the whole problem is singular, the first later face of
   :data:`~poolkit.allocation._linalg.MIXED_MIN` variables or more that is singular even
   in single precision hands over at once (before its ridged double-precision factor):
   the optimum is then denser than the covariance's rank. When the
   interior point's own answer passes the verification below, the crossover stops at
   the first large face that is singular (it could only reach another minimiser of the
   same degenerate problem, at the price of ridged double-precision factors), and after
   :data:`POLISH_FACES` faces.
4. **DAQP** (the dual active-set solver, exact on small strictly convex problems) as a
   last resort on problems of a few hundred variables.

Blocks of :data:`~poolkit.allocation._linalg.MIXED_MIN` variables or more are factorised
in single precision when their pivots allow it, and every solve with such a factor is
refined to double precision (:mod:`poolkit.allocation._linalg`); a refinement that stalls
sends the block to a double-precision factor. In the interior point the single-precision
factor of :math:`H + D` is applied unrefined and the whole Newton system (with its rows)
is refined instead, each pass one triangular solve and one product with :math:`H`, to a
relative residual of :math:`10^{-3}` of the iterate's own residuals (inexact Newton;
Dembo, Eisenstat & Steihaug 1982; :mod:`._qp_ipm`).

A singular free block (a singular covariance: more assets than observations, or assets
that are exact combinations of others) is factorised with a ridge
:math:`\delta = 10^{-12}\ldots 10^{-8}` (relative to the unit diagonal) added only when
the plain factorisation fails (a block that fails in single precision goes to the ridge
at once): the face problem then has many minimisers and the ridge
picks the one of (nearly) least norm, changing the objective by at most
:math:`\tfrac{\delta}{2}\|x\|^2` in scaled units.

Every answer is **verified** before it is returned: stationarity
:math:`Hx + f + A^\top y + z = 0` component by component relative to the size of that
component's terms, primal feasibility relative to the size of each row's terms, and
complementarity by sign and side (a multiplier that pushes against a bound requires the
variable at that bound; against an infinite bound it must vanish: an infinite bound is
never multiplied by anything). A failure raises :class:`~poolkit.exceptions.SolverError`.

References
----------
.. [1] Hintermüller, M., Ito, K., Kunisch, K. (2002). The primal-dual active set strategy
       as a semismooth Newton method. SIAM J. Optim. 13(3), 865-888.
.. [2] Mehrotra, S. (1992). On the implementation of a primal-dual interior point method.
       SIAM J. Optim. 2(4), 575-601.
.. [3] Arnström, D., Bemporad, A., Axehill, D. (2022). A dual active-set solver for
       embedded quadratic programming using recursive LDL updates. IEEE TAC 67(8).
.. [4] Dembo, R. S., Eisenstat, S. C., Steihaug, T. (1982). Inexact Newton methods. SIAM J.
       Numer. Anal. 19(2), 400-408.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poolkit.allocation._linalg import MIXED_MIN, Cholesky, Imprecise
from poolkit.exceptions import SolverError

__all__ = ["KKT_TOL", "QPResult", "UnboundedQP", "solve_qp"]

#: Relative tolerance of the KKT verification (each component against its own terms).
KKT_TOL = 1e-8
#: Ridges tried in turn on a free block whose Cholesky factorisation fails (unit diagonal).
RIDGES = (1e-12, 1e-10, 1e-8)
#: Largest problem handed to DAQP as a last resort.
DAQP_MAX = 400
#: Smallest problem on which PDAS gives up as soon as it swings back to a singular face.
SINGULAR_ABORT_MIN = 600
#: Smallest problem whose cold start follows the caller's guess (see :func:`_guessed_state`).
GUESS_MIN = 300
#: Most faces of the crossover from a verified interior point on a large problem: the answer is
#: in hand, and on a degenerate problem PDAS can cycle between faces of thousands of variables
#: (seen at N = 5000: eight faces of 2383-2486 variables, 5 s, without settling).
POLISH_FACES = 4

FREE, LOWER, UPPER, EQUAL = 0, -1, 1, 2


class UnboundedQP(Exception):
    """The objective decreases without bound over the feasible set (raised to the caller)."""


class _Failed(Exception):
    """One method did not reach a verified answer; the next one is tried."""


class _SingularFace(_Failed):
    """A large face is singular even in single precision: a degenerate problem for PDAS."""


class _Inconsistent(Exception):
    """The active rows cannot be met by the free variables of a face (``rows`` says which)."""

    def __init__(self, rows: np.ndarray) -> None:
        super().__init__("face rows cannot be met")
        self.rows = rows


@dataclass
class QPResult:
    """Solution of :func:`solve_qp` in the caller's (unscaled) units.

    ``x`` the solution, ``y`` the row multipliers, ``z`` the bound multipliers (so that
    ``H x + f + A' y + z = 0``), ``state`` / ``rstate`` the sides of the bounds and rows
    that hold (usable as a warm start), ``method`` which method answered, ``ridge`` the
    ridge used on the last factorisation (0 when none).
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    state: np.ndarray
    rstate: np.ndarray
    method: str
    ridge: float = 0.0
    iterations: int = 0
    info: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ scaling
@dataclass
class _Scaled:
    h: np.ndarray
    f: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    a: np.ndarray
    a_lo: np.ndarray
    a_hi: np.ndarray
    d: np.ndarray  # x = d * x_scaled
    r: np.ndarray  # scaled row = r * row

    @property
    def n(self) -> int:
        return self.h.shape[0]

    @property
    def m(self) -> int:
        return self.a.shape[0]


def _scale(
    h: np.ndarray,
    f: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    a: np.ndarray,
    a_lo: np.ndarray,
    a_hi: np.ndarray,
    cache: dict[str, Any] | None = None,
) -> _Scaled:
    """Scale variables to unit diagonal and rows to unit largest coefficient.

    ``cache`` (a dict owned by one caller solving several QPs with the same, unchanged
    ``h`` object, e.g. the points of a frontier) keeps the scaled matrix between calls.
    """
    if cache is not None and cache.get("h") is h:
        d, hs = cache["d"], cache["hs"]
    else:
        diag = np.diag(h).copy()
        pos = diag[diag > 0]
        typical = float(np.median(pos)) if pos.size else 1.0
        tiny = diag <= 1e-10 * typical
        d = 1.0 / np.sqrt(np.where(tiny, typical, diag))
        hs = h * d[:, None]
        hs *= d[None, :]
        hs[np.diag_indices_from(hs)] = np.where(tiny, diag * d * d, 1.0)
        if cache is not None:
            cache.update(h=h, d=d, hs=hs)
    with np.errstate(invalid="ignore"):
        ls = lower / d
        us = upper / d
    ascaled = a * d[None, :]
    rowmax = np.abs(ascaled).max(axis=1) if a.size else np.zeros(a.shape[0])
    r = 1.0 / np.where(rowmax > 0, rowmax, 1.0)
    return _Scaled(hs, f * d, ls, us, ascaled * r[:, None], a_lo * r, a_hi * r, d, r)


# ------------------------------------------------------------------------------------ face solves
class _Face:
    """Exact solves of the equality-constrained QP on a face, with the free block's factor cached."""

    def __init__(self, p: _Scaled) -> None:
        self.p = p
        self.key: bytes | None = None
        self.factor: Any = None
        self.ridge = 0.0
        self.factorisations = 0
        self.hf: np.ndarray | None = None
        self.h32: np.ndarray | None = None
        # from this factorisation on, give up (raise _SingularFace) on a block of MIXED_MIN
        # variables or more that is not even positive definite in single precision
        self.bail_from: int | None = None

    def _factor(self, free: np.ndarray, *, double: bool = False) -> None:
        from scipy.linalg import LinAlgError

        key = free.tobytes()
        if key == self.key and (not double or not self.factor.single):
            return
        p = self.p
        whole = free.size == p.n
        self.factorisations += 1
        ridges: tuple[float, ...] = (0.0, *RIDGES)
        if free.size >= MIXED_MIN and not double:
            # large blocks: a single-precision factor refined to double precision, when its
            # pivots promise a refinement that converges (else the double path below); the
            # block is gathered in single precision and the residuals use the whole matrix
            if self.h32 is None:
                self.h32 = p.h.astype(np.float32)
            hf32 = self.h32 if whole else self.h32[np.ix_(free, free)]

            def times(v: np.ndarray) -> np.ndarray:
                full = np.zeros((p.n, *v.shape[1:]))
                full[free] = v
                return (p.h @ full)[free]

            try:
                chol = Cholesky(hf32, single=True, overwrite=not whole, times=times)
            except LinAlgError:
                if self.bail_from is not None and self.factorisations >= self.bail_from:
                    raise _SingularFace("a singular face") from None
                # not positive definite even in single precision (a condition number over
                # about 1e7, most often a singular block): the double factor starts ridged
                ridges = RIDGES
            else:
                if chol.well_conditioned():
                    self.factor, self.ridge, self.key, self.hf = chol, 0.0, key, None
                    return
        hf = p.h if whole else p.h[np.ix_(free, free)]
        for ridge in ridges:
            try:
                work = hf
                if ridge != 0.0:
                    work = hf.copy()
                    work[np.diag_indices(free.size)] += ridge
                chol = Cholesky(work, single=False, overwrite=ridge != 0.0)
            except LinAlgError:
                continue
            piv = chol.pivots
            if piv.size and piv.min() <= 1e-7 * piv.max() and ridge == 0.0:
                continue  # numerically singular: the ridge picks the least-norm face minimiser
            self.factor, self.ridge, self.key = chol, ridge, key
            # a ridged or ill-conditioned factor (pivots spread over more than 1e4, a condition
            # number over 1e8) leaves residuals far above rounding: keep the block for refinement
            ill = ridge != 0.0 or (piv.size > 0 and piv.min() <= 1e-4 * piv.max())
            self.hf = hf if ill else None
            return
        raise _Failed("free block not factorisable")

    def _backsolve(self, free: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        """Solve with the free block's factor; a single-precision one that stalls is redone in double."""
        try:
            return self.factor.solve(rhs)
        except Imprecise:
            self._factor(free, double=True)
            return self.factor.solve(rhs)

    def solve(
        self, f: np.ndarray, state: np.ndarray, rstate: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(x, y)``: the face minimiser and the active rows' multipliers."""
        p = self.p
        free = np.flatnonzero(state == FREE)
        fixed = np.flatnonzero(state != FREE)
        x = np.zeros(p.n)
        x[state == LOWER] = p.lower[state == LOWER]
        x[state == UPPER] = p.upper[state == UPPER]
        rows = np.flatnonzero(rstate != FREE)
        b = np.where(rstate[rows] == UPPER, p.a_hi[rows], p.a_lo[rows])
        y = np.zeros(p.m)
        if not np.isfinite(x[fixed]).all() or not np.isfinite(b).all():
            raise _Failed("a fixed side is infinite")
        held = fixed[x[fixed] != 0]  # variables fixed at a nonzero bound (most sit at 0)
        rhs = -f[free] - p.h[np.ix_(free, held)] @ x[held]
        s = b - p.a[np.ix_(rows, held)] @ x[held]
        if free.size == 0:
            if rows.size and np.abs(s).max() > 1e-12 * max(1.0, float(np.abs(b).max())):
                raise _Inconsistent(rows[np.abs(s) > 1e-12 * max(1.0, float(np.abs(b).max()))])
            return x, y
        self._factor(free)
        af = p.a[np.ix_(rows, free)]
        ha = self._backsolve(free, af.T) if rows.size else None
        schur = af @ ha if ha is not None else None

        def kkt(r1: np.ndarray, r2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """One solve of [[Hf, Af'], [Af, 0]] [x; y] = [r1; r2] with the (ridged) factor."""
            hr = self._backsolve(free, r1)
            if ha is None or schur is None:
                return hr, np.zeros(0)
            yy, *_ = np.linalg.lstsq(schur, af @ hr - r2, rcond=1e-13)
            return hr - ha @ yy, yy

        xf, yw = kkt(rhs, s)
        if self.hf is not None:
            xf, yw = self._refine(kkt, self.hf, af, rhs, s, xf, yw)
        elif ha is not None and schur is not None:
            # an exact factor: only the active rows are brought to rounding (stationarity is kept),
            # which is cheap (no product with the free block)
            resid = af @ xf - s
            for _ in range(2):
                if not np.abs(resid).max(initial=0.0) > 1e-15 * max(1.0, float(np.abs(s).max())):
                    break
                dy, *_ = np.linalg.lstsq(schur, resid, rcond=1e-13)
                xf = xf - ha @ dy
                yw = yw + dy
                resid = af @ xf - s
        if rows.size:
            resid = af @ xf - s
            if np.abs(resid).max() > 1e-9 * max(1.0, float(np.abs(s).max()), float(np.abs(af).max() * np.abs(xf).max())):
                raise _Inconsistent(rows[np.abs(resid) > 1e-9 * max(1.0, float(np.abs(s).max()))])
            y[rows] = yw
        x[free] = xf
        return x, y


    @staticmethod
    def _refine(
        kkt: Any, hf: np.ndarray, af: np.ndarray, rhs: np.ndarray, s: np.ndarray, xf: np.ndarray, yw: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Refine a face solution computed with a ridged or ill-conditioned factor.

        These are proximal-point steps towards the exact face minimiser: the ridge alone leaves
        stationarity off by up to ~1e-7 relative, too much for the KKT check. A step is kept
        only while it shrinks the residuals (an inconsistent face system makes them grow).
        """
        size1 = float(np.abs(rhs).max(initial=0.0))
        size2 = max(1.0, float(np.abs(s).max(initial=0.0)))
        amax = float(np.abs(af).max(initial=0.0))

        def residuals(xv: np.ndarray, yv: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
            aty = af.T @ yv
            r1 = rhs - hf @ xv - aty
            r2 = s - af @ xv
            scale1 = size1 + float(np.abs(xv).sum()) + float(np.abs(aty).max(initial=0.0))
            err = max(float(np.abs(r1).max(initial=0.0)) / (scale1 + 1e-300),
                      float(np.abs(r2).max(initial=0.0)) / (size2 + amax * float(np.abs(xv).max(initial=0.0))))
            return r1, r2, err

        r1, r2, err = residuals(xf, yw)
        for _ in range(8):
            if err <= 1e-15:
                break
            dx, dy = kkt(r1, r2)
            x2, y2 = xf + dx, yw + dy
            r1b, r2b, err2 = residuals(x2, y2)
            if not err2 < err:
                break
            xf, yw, r1, r2, err = x2, y2, r1b, r2b, err2
        return xf, yw


def _support(x: np.ndarray) -> np.ndarray | None:
    """Return the indices of the nonzero entries of ``x`` when they are few (a quarter or less), else None."""
    nz = np.flatnonzero(x)
    return nz if 4 * nz.size <= x.size else None


def _hx(h: np.ndarray, x: np.ndarray, *, absolute: bool = False) -> np.ndarray:
    """``H x`` (or ``|H| |x|``) reading only the columns of the nonzero entries when x is sparse."""
    nz = _support(x)
    if nz is None:
        return np.abs(h) @ np.abs(x) if absolute else h @ x
    cols = h[:, nz]
    return np.abs(cols) @ np.abs(x[nz]) if absolute else cols @ x[nz]


def _gradient(p: _Scaled, x: np.ndarray, y: np.ndarray, f: np.ndarray) -> np.ndarray:
    return _hx(p.h, x) + f + p.a.T @ y


# ------------------------------------------------------------------------------------ PDAS
def _pdas(
    p: _Scaled,
    face: _Face,
    state: np.ndarray,
    rstate: np.ndarray,
    *,
    f: np.ndarray | None = None,
    max_iter: int = 100,
    patience: int = 3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Primal-dual active set iterations from ``state``; raise :class:`_Failed` if they do not settle."""
    f = p.f if f is None else f
    bail_from = face.bail_from
    try:
        return _pdas_loop(p, face, state, rstate, f, max_iter, patience)
    finally:
        face.bail_from = bail_from


def _pdas_loop(
    p: _Scaled, face: _Face, state: np.ndarray, rstate: np.ndarray, f: np.ndarray, max_iter: int, patience: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    fixed_for_good = p.lower == p.upper
    eq = rstate == EQUAL
    best = np.inf
    strikes = 0
    seen: set[bytes] = set()
    regular_seen = False
    for it in range(1, max_iter + 1):
        try:
            whole = bool((state == FREE).all())
            x, y = face.solve(f, state, rstate)
            if p.n > SINGULAR_ABORT_MIN and (state == FREE).any():
                # on a degenerate problem (e.g. more assets than observations, where the least
                # variance is nearly zero) PDAS swings between singular faces and regular ones;
                # once a regular face has led back to a singular one, the interior point is cheaper
                singular = face.ridge > 0 or face.hf is not None
                if singular and regular_seen:
                    raise _Failed("PDAS returns to singular faces")
                regular_seen = regular_seen or not singular
                if it == 1 and whole and singular and face.bail_from is None:
                    # a singular whole problem whose next face is singular too: PDAS would
                    # crawl down through singular faces (one double-precision factor each)
                    face.bail_from = face.factorisations + 1
        except _Inconsistent as exc:
            # an active row no free variable can move: release it if it is an inequality,
            # else free the members held at a bound, and take the face again
            state, rstate = state.copy(), rstate.copy()
            for j in exc.rows:
                if rstate[j] in (LOWER, UPPER):
                    rstate[j] = FREE
                else:
                    member = (p.a[j] != 0) & (state != FREE) & ~fixed_for_good
                    if not member.any():
                        raise _Failed("an equality row cannot be met") from None
                    state[member] = FREE
            key = state.tobytes() + rstate.tobytes()
            if key in seen:
                raise _Failed("PDAS cycles") from None
            seen.add(key)
            continue
        g = _gradient(p, x, y, f)
        ax = p.a @ x
        free = state == FREE
        tol_x = 1e-13 * np.maximum(1.0, np.abs(x))
        new = state.copy()
        new[free & (x < p.lower - tol_x)] = LOWER
        new[free & (x > p.upper + tol_x)] = UPPER
        # a fixed variable whose multiplier pushes inward is released
        # |H_ij| <= 1 (unit diagonal, PSD), so |x|_1 bounds every row of |H||x|
        gscale = 1e-14 * (float(np.abs(x).sum()) + np.abs(f) + np.abs(p.a.T) @ np.abs(y) + 1e-300)
        new[(state == LOWER) & (g < -gscale) & ~fixed_for_good] = FREE
        new[(state == UPPER) & (g > gscale) & ~fixed_for_good] = FREE
        rnew = rstate.copy()
        inactive = rstate == FREE
        tol_r = 1e-13 * np.maximum(1.0, np.abs(ax))
        rnew[inactive & (ax < p.a_lo - tol_r)] = LOWER
        rnew[inactive & (ax > p.a_hi + tol_r)] = UPPER
        rnew[(rstate == LOWER) & (y > 0)] = FREE
        rnew[(rstate == UPPER) & (y < 0)] = FREE
        rnew[eq] = EQUAL
        changes = int((new != state).sum() + (rnew != rstate).sum())
        if changes == 0:
            return x, y, state, rstate, it
        key = new.tobytes() + rnew.tobytes()
        if key in seen:
            raise _Failed("PDAS cycles")
        seen.add(key)
        if changes < best:
            best, strikes = changes, 0
        else:
            strikes += 1
            if strikes > patience:
                raise _Failed("PDAS does not settle")
        state, rstate = new, rnew
    raise _Failed("PDAS iteration limit")


def _guessed_state(p: _Scaled, guess: np.ndarray) -> np.ndarray:
    """PDAS's first face from a score: the best tenth (at least 50 variables) free.

    The others start at their lower bounds where those are finite (else free). On sparse
    optima (most variables at 0) this replaces PDAS's first, largest faces with small ones;
    PDAS then frees every variable whose multiplier has the wrong sign at once.
    """
    k = min(p.n, max(50, p.n // 10))
    state = np.full(p.n, LOWER, dtype=np.int8)
    state[np.argsort(-guess, kind="stable")[:k]] = FREE
    state[~np.isfinite(p.lower)] = FREE
    return state


def _initial_state(p: _Scaled, state: np.ndarray | None, rstate: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if state is None:
        state = np.full(p.n, FREE, dtype=np.int8)
    else:
        state = np.asarray(state, dtype=np.int8).copy()
        state[(state == LOWER) & ~np.isfinite(p.lower)] = FREE
        state[(state == UPPER) & ~np.isfinite(p.upper)] = FREE
    state[p.lower == p.upper] = LOWER
    eq = p.a_lo == p.a_hi
    if rstate is None:
        rstate = np.where(eq, EQUAL, FREE).astype(np.int8)
    else:
        rstate = np.asarray(rstate, dtype=np.int8).copy()
        rstate[(rstate == LOWER) & ~np.isfinite(p.a_lo)] = FREE
        rstate[(rstate == UPPER) & ~np.isfinite(p.a_hi)] = FREE
        rstate[eq] = EQUAL
        rstate[~eq & (rstate == EQUAL)] = FREE
    return state, rstate


def _state_from(p: _Scaled, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predict the active sides from an interior solution (scaled distance vs scaled multiplier)."""
    xs = max(float(np.abs(x).max()), 1e-300)
    g = np.abs(p.h) @ np.abs(x) + np.abs(p.f)
    zs = max(float(g.max()), 1e-300)
    state = np.full(p.n, FREE, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        at_lo = np.isfinite(p.lower) & (z < 0) & ((x - p.lower) / xs < -z / zs)
        at_hi = np.isfinite(p.upper) & (z > 0) & ((p.upper - x) / xs < z / zs)
    state[at_lo] = LOWER
    state[at_hi] = UPPER
    ax = p.a @ x
    eq = p.a_lo == p.a_hi
    rstate = np.where(eq, EQUAL, FREE).astype(np.int8)
    ys = max(float(np.abs(y).max()), 1e-300)
    axs = max(float(np.abs(ax).max()), 1e-300)
    with np.errstate(invalid="ignore"):
        r_lo = ~eq & np.isfinite(p.a_lo) & (y < 0) & ((ax - p.a_lo) / axs < -y / ys)
        r_hi = ~eq & np.isfinite(p.a_hi) & (y > 0) & ((p.a_hi - ax) / axs < y / ys)
    rstate[r_lo] = LOWER
    rstate[r_hi] = UPPER
    return state, rstate


# ------------------------------------------------------------------------------------ verification
def kkt_violation(
    p: _Scaled, x: np.ndarray, y: np.ndarray, z: np.ndarray
) -> tuple[float, float, float]:
    """Relative (stationarity, primal feasibility, complementarity) violations of a scaled solution.

    Each variable's stationarity residual is compared with the sum of the absolute values
    of the terms of its own equation; each row's feasibility with its own terms; a
    multiplier is significant when it exceeds the tolerance of its equation, and then the
    side it pushes against must be finite and active.
    """
    hx = _hx(p.h, x)
    aty = p.a.T @ y
    resid = hx + p.f + aty + z
    terms = _hx(p.h, x, absolute=True) + np.abs(p.f) + np.abs(p.a.T) @ np.abs(y) + np.abs(z)
    floor = 1e-12 * float(terms.max(initial=0.0)) + 1e-300
    stat = float(np.max(np.abs(resid) / np.maximum(terms, floor), initial=0.0))
    # distances to the bounds are measured on the scale of the whole solution (an interior
    # point's dust is far from its bound relative to itself, not relative to the portfolio)
    xs = max(float(np.abs(x).max(initial=0.0)), 1e-300)
    lo_f = np.isfinite(p.lower)
    hi_f = np.isfinite(p.upper)
    lo_gap = np.where(lo_f, (np.where(lo_f, p.lower, 0.0) - x) / xs, 0.0)
    hi_gap = np.where(hi_f, (x - np.where(hi_f, p.upper, 0.0)) / xs, 0.0)
    ax = p.a @ x
    # a row's distance to its sides is measured on its own terms, at least on the solution's scale
    rterms = np.maximum(np.abs(p.a) @ np.abs(x), xs)
    lo_r = np.isfinite(p.a_lo)
    hi_r = np.isfinite(p.a_hi)
    r_lo = np.where(lo_r, (np.where(lo_r, p.a_lo, 0.0) - ax) / rterms, 0.0)
    r_hi = np.where(hi_r, (ax - np.where(hi_r, p.a_hi, 0.0)) / rterms, 0.0)
    primal = float(max(np.max(lo_gap, initial=0.0), np.max(hi_gap, initial=0.0), np.max(r_lo, initial=0.0), np.max(r_hi, initial=0.0), 0.0))
    # complementarity: z < 0 needs x at a finite lower bound, z > 0 at a finite upper bound
    zt = np.abs(z) / np.maximum(terms, floor)
    dist_lo = np.where(lo_f, -lo_gap, np.inf)
    dist_hi = np.where(hi_f, -hi_gap, np.inf)
    comp_b = np.where(z < 0, zt * np.minimum(dist_lo, 1.0), np.where(z > 0, zt * np.minimum(dist_hi, 1.0), 0.0))
    yt = np.abs(y) * np.abs(p.a).max(axis=1, initial=0.0) * float(np.abs(x).max(initial=0.0)) / max(float(terms.max(initial=0.0)), 1e-300)
    rdist_lo = np.where(lo_r, -r_lo, np.inf)
    rdist_hi = np.where(hi_r, -r_hi, np.inf)
    eq = p.a_lo == p.a_hi
    comp_r = np.where(eq, 0.0, np.where(y < 0, yt * np.minimum(rdist_lo, 1.0), np.where(y > 0, yt * np.minimum(rdist_hi, 1.0), 0.0)))
    comp = float(max(np.max(comp_b, initial=0.0), np.max(comp_r, initial=0.0)))
    return stat, primal, comp


def _verified(p: _Scaled, x: np.ndarray, y: np.ndarray, z: np.ndarray, tol: float) -> tuple[bool, str]:
    stat, primal, comp = kkt_violation(p, x, y, z)
    ok = stat <= tol and primal <= tol and comp <= tol
    return ok, f"KKT stationarity {stat:.1e}, feasibility {primal:.1e}, complementarity {comp:.1e}"


# ------------------------------------------------------------------------------------ driver
def solve_qp(
    h: np.ndarray,
    f: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    a: np.ndarray,
    a_lo: np.ndarray,
    a_hi: np.ndarray,
    *,
    state: np.ndarray | None = None,
    rstate: np.ndarray | None = None,
    guess: np.ndarray | None = None,
    what: str = "the allocation",
    tol: float = KKT_TOL,
    cache: dict[str, Any] | None = None,
) -> QPResult:
    r"""Solve :math:`\min \tfrac12 x^\top H x + f^\top x` s.t. ``lower <= x <= upper``, ``a_lo <= a x <= a_hi``.

    ``state`` / ``rstate`` (from a previous :class:`QPResult`) warm-start the active set;
    without them, ``guess`` (a score per variable, higher for variables more likely to be held,
    e.g. :math:`1/\sigma_i^2` for the least variance) starts PDAS on problems of
    :data:`GUESS_MIN` variables or more from the face of the best tenth, the others at their
    lower bounds (see :func:`_guessed_state`);
    ``cache`` is handed to the scaling (see :func:`_scale`).
    Raises :class:`~poolkit.exceptions.SolverError` when no method reaches a verified
    solution and :class:`UnboundedQP` when the interior-point iterates diverge (the
    objective has no finite minimum).
    """
    h = np.asarray(h, dtype="float64")
    a = np.asarray(a, dtype="float64").reshape(-1, h.shape[0])
    p = _scale(
        h,
        np.asarray(f, dtype="float64"),
        np.asarray(lower, dtype="float64"),
        np.asarray(upper, dtype="float64"),
        a,
        np.asarray(a_lo, dtype="float64"),
        np.asarray(a_hi, dtype="float64"),
        cache,
    )
    guessed = state is None and guess is not None and p.n >= GUESS_MIN
    st, rst = _initial_state(p, _guessed_state(p, np.asarray(guess)) if guessed else state, rstate)
    face = _Face(p)
    # PDAS iterations cost a factorisation each: on small problems they are cheap, so let PDAS
    # run longer before the interior point takes over; on large ones give up early
    patience = 30 if p.n <= 600 else 3
    notes: list[str] = []
    result: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, str, int] | None = None
    # from a guessed face, a large singular face ends PDAS at once (a dense optimum on more assets
    # than the covariance's rank: the interior point's ground, see test_dense_solvers)
    face.bail_from = 2 if guessed and p.n > SINGULAR_ABORT_MIN else None
    try:
        x, y, st2, rst2, its = _pdas(p, face, st, rst, patience=patience)
        z = _bound_z(p, x, y, st2)
        ok, msg = _verified(p, x, y, z, tol)
        if ok:
            result = (x, y, z, st2, rst2, "pdas", its)
        else:
            notes.append(f"PDAS: {msg}")
    except _Failed as exc:
        notes.append(f"PDAS: {exc}")
    face.bail_from = None
    # a stale warm start, or a wrong guess on a small problem: once more from scratch (on a
    # large one PDAS from scratch would begin with the whole problem's factor: the interior
    # point comes first)
    again = state is not None or (guessed and p.n <= SINGULAR_ABORT_MIN)
    if result is None and again:
        try:
            st0, rst0 = _initial_state(p, None, None)
            x, y, st2, rst2, its = _pdas(p, face, st0, rst0, patience=patience)
            z = _bound_z(p, x, y, st2)
            ok, msg = _verified(p, x, y, z, tol)
            if ok:
                result = (x, y, z, st2, rst2, "pdas", its)
        except _Failed as exc:
            notes.append(f"PDAS (cold): {exc}")
    if result is None:
        try:
            from poolkit.allocation._qp_ipm import ipm

            xi, yi, zi = ipm(p)
            sti, rsti = _state_from(p, xi, yi, zi)
            ipm_ok, ipm_msg = _verified(p, xi, yi, zi, tol)
            # crossover: exact face solution from the predicted active set; when the interior
            # point's answer already holds, a singular large face ends it (its answer is kept)
            in_hand = ipm_ok and p.n > SINGULAR_ABORT_MIN
            face.bail_from = face.factorisations + 1 if in_hand else None
            try:
                x, y, st2, rst2, its = _pdas(p, face, sti, rsti, max_iter=POLISH_FACES if in_hand else 8, patience=2)
                z = _bound_z(p, x, y, st2)
                ok, msg = _verified(p, x, y, z, tol)
                if ok:
                    result = (x, y, z, st2, rst2, "ipm+pdas", its)
            except _Failed:
                pass
            face.bail_from = None
            if result is None:
                if ipm_ok:
                    result = (xi, yi, zi, sti, rsti, "ipm", 0)
                else:
                    notes.append(f"IPM: {ipm_msg}")
        except _Failed as exc:
            notes.append(f"IPM: {exc}")
    if result is None and p.n <= DAQP_MAX:
        try:
            from poolkit.allocation._qp_daqp import solve_daqp

            x, y, z = solve_daqp(p)
            ok, msg = _verified(p, x, y, z, tol)
            if ok:
                s2, r2 = _state_from(p, x, y, z)
                result = (x, y, z, s2, r2, "daqp", 0)
            else:
                notes.append(f"DAQP: {msg}")
        except _Failed as exc:
            notes.append(f"DAQP: {exc}")
    if result is None:
        raise SolverError(
            f"The QP of {what} did not reach a verified solution ({'; '.join(notes)}). The covariance may be "
            f"ill-conditioned: try a shrinkage estimator (cov_method='ledoit_wolf')."
        )
    x, y, z, st2, rst2, method, its = result
    return QPResult(
        x=x * p.d,
        y=y * p.r,
        z=z / p.d,
        state=st2,
        rstate=rst2,
        method=method,
        ridge=face.ridge if method.endswith("pdas") else 0.0,
        iterations=its,
        info={"factorisations": face.factorisations, "notes": notes},
    )


def _bound_z(
    p: _Scaled, x: np.ndarray, y: np.ndarray, state: np.ndarray, f: np.ndarray | None = None
) -> np.ndarray:
    """Bound multipliers of a face solution: minus the gradient on fixed variables, 0 on free ones."""
    g = _gradient(p, x, y, p.f if f is None else f)
    return np.where(state == FREE, 0.0, -g)

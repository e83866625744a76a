r"""The QP engine's interior point: Mehrotra's predictor-corrector on the scaled problem (see :mod:`._qp`).

Each iteration factorises :math:`H + D` (:math:`D` the barrier's diagonal) and a small Schur
complement of the rows. From :data:`~poolkit.allocation._linalg.MIXED_MIN` variables up the
factor is computed in single precision and applied unrefined, while the whole Newton system
(rows included) is refined with double-precision residuals, each pass one triangular solve
and one product with :math:`H`, to a relative residual of :math:`10^{-3}` of the iterate's
own residuals (inexact Newton), at least :data:`NEWTON_TARGET`; a refinement that stalls
above :data:`NEWTON_ENOUGH` sends the iteration to a double-precision factor. Upper bounds
that an equality row and the lower bounds imply, and that start far away, are left out
(:func:`_implied_upper`, :data:`FAR_BOUND`): the barrier then starts centred. From
:data:`CORRECTED_MIN` variables up, Gondzio's centrality correctors (:func:`_centred`)
lengthen the short steps, each for one more solve with the iteration's factor: at N = 5000
on the dense universe of 2520 days (a singular covariance), max Sharpe takes 12 iterations
instead of 16 and min variance 13 instead of 14.

References
----------
.. [1] Mehrotra, S. (1992). On the implementation of a primal-dual interior point method.
       SIAM J. Optim. 2(4), 575-601.
.. [2] Dembo, R. S., Eisenstat, S. C., Steihaug, T. (1982). Inexact Newton methods. SIAM J.
       Numer. Anal. 19(2), 400-408.
.. [3] Andersen, E. D., Andersen, K. D. (1995). Presolving in linear programming. Math.
       Program. 71(2), 221-245.
.. [4] Gondzio, J. (1996). Multiple centrality corrections in a primal-dual method for linear
       programming. Comput. Optim. Appl. 6(2), 137-156.
"""

from __future__ import annotations

import numpy as np

from poolkit.allocation._linalg import MIXED_MIN, Cholesky, Imprecise, symmetric_times
from poolkit.allocation._qp import UnboundedQP, _Failed, _Scaled

__all__ = ["CORRECTED_MIN", "CORRECTORS", "NEWTON_ENOUGH", "NEWTON_TARGET", "ipm"]

#: Relative residual of an interior-point Newton direction at which its refinement stops (the
#: iterations stop at residuals of 1e-11), and the largest accepted when refinement stalls.
NEWTON_TARGET = 1e-14
NEWTON_ENOUGH = 1e-12
#: An implied upper bound (see :func:`_implied_upper`) farther than this from the starting
#: point, in the scaled units where the start sits one unit inside its bounds, is left out.
FAR_BOUND = 100.0
#: Most centrality correctors per iteration (each one solve with the iteration's factor), and
#: the smallest problem that gets them: where a factorisation costs as much as dozens of solves.
CORRECTORS = 2
CORRECTED_MIN = MIXED_MIN
#: A step at least this long gets no corrector (at most a tenth of the step to gain, for a solve).
LONG_STEP = 0.9


class _Newton:
    """One interior-point Newton system: ``(H + D) dv - C' dy = r1``, ``C dv = r2`` for v = (x, slacks).

    With a single-precision factor of ``H + D`` (``h32`` given), each solve with it is left
    unrefined and the whole system is refined instead, with its residuals in double precision:
    one pass costs one triangular solve and one product with ``H``, where refining every inner
    solve would cost several of each. :class:`Imprecise` is raised when that refinement stalls
    above rounding (the caller then factorises in double precision).
    """

    def __init__(
        self, h: np.ndarray, dvec: np.ndarray, c_x: np.ndarray, c_s: np.ndarray, reg: float,
        *, h32: np.ndarray | None = None, out: np.ndarray | None = None,
    ) -> None:
        from scipy.linalg import LinAlgError

        n = h.shape[0]
        shift = dvec[:n] + reg
        self.factor: Cholesky | None = None
        if h32 is not None:  # a single-precision factor (see _linalg), the system refined as a whole
            try:
                chol = Cholesky(h, single=True, shift=shift, a32=h32, out=out)
                if chol.well_conditioned():
                    self.factor = chol
                    self.kc = chol.apply_inverse(c_x.T)
            except LinAlgError:
                self.factor = None
        if self.factor is None:
            try:
                self.factor = Cholesky(h, single=False, shift=shift)
            except LinAlgError:
                raise _Failed("IPM factorisation failed") from None
            self.kc = self.factor.solve(c_x.T)
        self.n = n
        self.h = h
        self.dvec = dvec
        self.ds = dvec[n:] + reg
        self.c_x, self.c_s = c_x, c_s
        schur = c_x @ self.kc + (c_s / self.ds) @ c_s.T
        # rows equilibrated (some may have tiny pivots when their variables sit at bounds), then
        # inverted exactly; a numerically singular complement (dependent rows) falls back to lstsq
        sc = 1.0 / np.sqrt(np.maximum(np.abs(np.diag(schur)), 1e-300)) if schur.size else np.ones(0)
        scaled = schur * np.outer(sc, sc)
        try:
            inv = np.linalg.inv(scaled) if scaled.size else scaled
            if not np.isfinite(inv).all():
                raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            inv = np.linalg.pinv(scaled, rcond=1e-15, hermitian=True)
        self.schur_inv = inv * np.outer(sc, sc)

    @property
    def single(self) -> bool:
        return self.factor is not None and self.factor.single

    def _once(self, r1: np.ndarray, r2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = self.n
        assert self.factor is not None
        inner = self.factor.apply_inverse if self.factor.single else self.factor.solve
        k1 = np.concatenate([inner(r1[:n]), r1[n:] / self.ds])
        dy = self.schur_inv @ (r2 - self.c_x @ k1[:n] - self.c_s @ k1[n:])
        dv = k1 + np.concatenate([self.kc @ dy, (self.c_s.T @ dy) / self.ds])
        return dv, dy

    def _residual(
        self, r1: np.ndarray, r2: np.ndarray, dv: np.ndarray, dy: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Residuals of the unregularised system and their size against the terms that make them."""
        n = self.n
        hv = symmetric_times(self.h, dv[:n])
        cty = np.concatenate([self.c_x.T @ dy, self.c_s.T @ dy])
        dterm = self.dvec * dv
        e1 = r1 - (np.concatenate([hv, np.zeros(dv.size - n)]) + dterm - cty)
        cv = self.c_x @ dv[:n] + self.c_s @ dv[n:]
        e2 = r2 - cv
        size1 = max(float(np.abs(hv).max(initial=0.0)), float(np.abs(dterm).max(initial=0.0)),
                    float(np.abs(cty).max(initial=0.0)), float(np.abs(r1).max(initial=0.0)))
        size2 = max(float((np.abs(self.c_x) @ np.abs(dv[:n])).max(initial=0.0)),
                    float((np.abs(self.c_s) @ np.abs(dv[n:])).max(initial=0.0)), float(np.abs(r2).max(initial=0.0)))
        err = max(float(np.abs(e1).max(initial=0.0)) / (size1 + 1e-300), float(np.abs(e2).max(initial=0.0)) / (size2 + 1e-300))
        return e1, e2, err

    def solve(self, r1: np.ndarray, r2: np.ndarray, target: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Solve the Newton system, refined on the unregularised system.

        With a double-precision factor: one step of refinement. With a single-precision one:
        until the relative residual is below ``target`` (at least :data:`NEWTON_TARGET`).
        """
        dv, dy = self._once(r1, r2)
        if not self.single:
            e1, e2, _ = self._residual(r1, r2, dv, dy)
            cv, cy = self._once(e1, e2)
            return dv + cv, dy + cy
        prev = np.inf
        best = (dv, dy)
        target = max(target, NEWTON_TARGET)
        for _ in range(12):
            e1, e2, err = self._residual(r1, r2, dv, dy)
            if err <= target:
                return dv, dy
            if not err < 0.5 * prev:  # no more progress: done if near rounding, else refused
                if prev <= NEWTON_ENOUGH:
                    return best
                break
            prev, best = err, (dv, dy)
            cv, cy = self._once(e1, e2)
            dv, dy = dv + cv, dy + cy
        raise Imprecise("refinement of the interior-point system stalled")


def _longest_step(state: tuple[np.ndarray, ...], dv: np.ndarray, dzl: np.ndarray, dzu: np.ndarray) -> float:
    """Largest step in (0, 1] keeping the slacks to the bounds and their multipliers nonnegative."""
    sl, su, zl, zu, hl, hu = state[:6]
    step = 1.0
    for cur, delta, has in ((sl, dv, hl), (su, -dv, hu), (zl, dzl, hl), (zu, dzu, hu)):
        neg = has & (delta < 0)
        if neg.any():
            step = min(step, float(np.min(-cur[neg] / delta[neg])))
    return step


def _products(
    state: tuple[np.ndarray, ...], step: float, dv: np.ndarray, dzl: np.ndarray, dzu: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Complementarity products (slack times multiplier) of the lower and upper bounds after ``step``."""
    sl, su, zl, zu, hl, hu = state[:6]
    return (np.where(hl, (sl + step * dv) * (zl + step * dzl), 0.0),
            np.where(hu, (su - step * dv) * (zu + step * dzu), 0.0))


def _direction(
    system: _Newton, state: tuple[np.ndarray, ...], target: float, cl: np.ndarray, cu: np.ndarray,
    accuracy: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Newton direction aiming at complementarity ``target`` with Mehrotra corrections ``cl``, ``cu``.

    ``accuracy``: the relative residual the direction is solved to (see :meth:`_Newton.solve`).
    """
    sl, su, zl, zu, hl, hu, rd, rp = state
    rl = np.where(hl, (target - zl * sl - cl) / sl, 0.0)
    ru = np.where(hu, (target - zu * su - cu) / su, 0.0)
    dv, dy = system.solve(-rd + rl - ru, -rp, accuracy)
    return dv, dy, np.where(hl, rl - zl / sl * dv, 0.0), np.where(hu, ru + zu / su * dv, 0.0)


def _centred(
    system: _Newton, state: tuple[np.ndarray, ...], direction: tuple[np.ndarray, ...], target: float,
    accuracy: float,
) -> tuple[np.ndarray, ...]:
    """Gondzio's multiple centrality correctors: lengthen the step by evening out the products.

    At a trial step a little longer than the direction allows, complementarity products
    outside ``[0.1, 10]`` times ``target`` are pulled back into that range by a corrector
    (one more solve with the same factor, zero primal and dual right-hand sides); a
    corrector is kept while it lengthens the step by at least a tenth of the trial's
    extension (Gondzio 1996). A step of :data:`LONG_STEP` or more is left as it is, and a
    corrector whose solve does not refine to the iteration's accuracy is dropped.
    """
    sl, su, zl, zu, hl, hu, rd, rp = state
    zero = (sl, su, zl, zu, hl, hu, np.zeros_like(rd), np.zeros_like(rp))
    dv, dy, dzl, dzu = direction
    step = _longest_step(state, dv, dzl, dzu)
    for _ in range(CORRECTORS):
        if step >= LONG_STEP:
            break
        trial = min(1.0, 1.5 * step + 0.1)
        pl, pu = _products(state, trial, dv, dzl, dzu)
        lo, hi = 0.1 * target, 10.0 * target
        tl = np.where(hl, np.maximum(np.clip(pl, lo, hi) - pl, -hi), 0.0)
        tu = np.where(hu, np.maximum(np.clip(pu, lo, hi) - pu, -hi), 0.0)
        try:
            cv, cy, czl, czu = _direction(system, zero, 0.0, -zl * sl - tl, -zu * su - tu, accuracy)
        except Imprecise:  # a corrector is optional: not worth a double-precision factor
            break
        new = (dv + cv, dy + cy, dzl + czl, dzu + czu)
        new_step = _longest_step(state, new[0], new[2], new[3])
        if not new_step >= step + 0.1 * (trial - step):
            break
        (dv, dy, dzl, dzu), step = new, new_step
    return dv, dy, dzl, dzu


def ipm(p: _Scaled, *, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mehrotra predictor-corrector on the scaled problem (see :func:`_ipm_iterations`).

    Barrier terms of variables pressed against a bound overflow or vanish in the last
    iterations; such iterates are caught (non-finite values end the iterations, the best
    earlier one is kept) without floating-point warnings.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _ipm_iterations(p, max_iter=max_iter)


def _ipm_iterations(p: _Scaled, *, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(x, y, z)`` in the engine's signs.

    Inequality rows get slack variables ``s = A_i x`` bounded by the row's sides, so the
    problem becomes ``min x'Hx/2 + f'x`` s.t. ``C v = b``, bounds on ``v = (x, s)``; each
    iteration factorises ``H + D`` (D the barrier's diagonal) and a small Schur complement
    of the rows, with one step of iterative refinement (double-precision factors) or
    refinement of the whole system to the accuracy the iterate needs (single-precision
    factors, see :class:`_Newton`). The variables and the objective
    are first rescaled so that the solution and the objective's terms are of order one.
    Stops when the primal and dual residuals are below 1e-11 of their own terms and the
    complementarity gap below 1e-12 of the objective's terms; when rounding stalls the
    progress first, the best iterate is returned and the KKT check decides.
    """
    n = p.n
    eq = p.a_lo == p.a_hi
    ineq = ~eq & (np.isfinite(p.a_lo) | np.isfinite(p.a_hi))
    rows_e = np.flatnonzero(eq)
    rows_i = np.flatnonzero(ineq)
    ne, ni = rows_e.size, rows_i.size
    c_x = np.vstack([p.a[rows_e], p.a[rows_i]])
    c_s = np.vstack([np.zeros((ne, ni)), -np.eye(ni)])
    # the size of the solution (the least-norm point of the equality rows, else the bounds)
    x_ln = np.zeros(n)
    if ne:
        x_ln, *_ = np.linalg.lstsq(c_x[:ne], p.a_lo[rows_e], rcond=None)
    finite = np.concatenate([p.lower[np.isfinite(p.lower)], p.upper[np.isfinite(p.upper)]])
    xs = float(np.abs(x_ln).max(initial=0.0))
    if not xs > 0:
        nz = np.abs(finite[finite != 0])
        xs = float(np.median(nz)) if nz.size else 1.0
    hdiag = float(np.abs(np.diag(p.h)).max(initial=0.0))
    cs = max(xs * xs * hdiag, xs * float(np.abs(p.f).max(initial=0.0)), 1e-300)
    hh = p.h * (xs * xs / cs)
    ff = p.f * (xs / cs)
    bvec = np.concatenate([p.a_lo[rows_e] / xs, np.zeros(ni)])
    lo = np.concatenate([p.lower, p.a_lo[rows_i]]) / xs
    hi = np.concatenate([p.upper, p.a_hi[rows_i]]) / xs
    hl, hu = np.isfinite(lo), np.isfinite(hi)
    # starting point: the least-norm point pushed inside the bounds
    u0 = x_ln / xs
    v = np.concatenate([u0, p.a[rows_i] @ u0 if ni else np.zeros(0)])
    width = np.where(hl & hu, hi - lo, np.inf)
    margin = np.minimum(0.25 * width, 1.0)
    v = np.where(hl, np.maximum(v, np.where(hl, lo, 0.0) + margin), v)
    v = np.where(hu, np.minimum(v, np.where(hu, hi, 0.0) - margin), v)
    v = np.where(hl & hu & (width <= 0), lo, v)
    # an upper bound that the equality rows imply and that starts far off (w <= 1 beside
    # sum(w) = 1 over thousands of assets) is left out: it would start the barrier off centre
    far = np.zeros(n + ni, dtype=bool)
    far[:n] = _implied_upper(p, rows_e) & (hi[:n] - v[:n] > FAR_BOUND)
    hi[far] = np.inf
    hu = np.isfinite(hi)
    zl = np.where(hl, 1.0, 0.0)
    zu = np.where(hu, 1.0, 0.0)
    y = np.zeros(ne + ni)
    nb = max(int(hl.sum() + hu.sum()), 1)
    fv = np.concatenate([ff, np.zeros(ni)])
    size0 = float(np.abs(v).max(initial=0.0)) + 1.0
    best: tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
    stall = 0
    single = n >= MIXED_MIN
    hh32: np.ndarray | None = None
    buf: np.ndarray | None = None  # the single-precision factor, rewritten in place every iteration

    def unscaled(v: np.ndarray, y: np.ndarray, zl: np.ndarray, zu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = cs / xs
        return v[:n] * xs, _row_multipliers(p, rows_e, rows_i, y) * k, (zu[:n] - zl[:n]) * k

    for _ in range(max_iter):
        if not (np.isfinite(v).all() and np.isfinite(y).all() and np.isfinite(zl).all() and np.isfinite(zu).all()):
            break
        sl = np.where(hl, np.maximum(v - np.where(hl, lo, 0.0), 1e-300), 1.0)
        su = np.where(hu, np.maximum(np.where(hu, hi, 0.0) - v, 1e-300), 1.0)
        hx = symmetric_times(hh, v[:n])
        cty = np.concatenate([c_x.T @ y, c_s.T @ y])
        rd = np.concatenate([hx, np.zeros(ni)]) + fv - cty - zl + zu
        rp = c_x @ v[:n] + c_s @ v[n:] - bvec
        mu = float(zl @ np.where(hl, sl, 0.0) + zu @ np.where(hu, su, 0.0)) / nb
        absv = np.abs(v[:n])
        dterms = np.concatenate([np.full(n, float(absv.sum()) * (xs * xs / cs) * hdiag), np.zeros(ni)])
        dterms = dterms + np.abs(fv) + np.abs(cty) + np.abs(zl) + np.abs(zu)
        pterms = np.abs(c_x) @ absv + np.abs(c_s) @ np.abs(v[n:]) + np.abs(bvec)
        obj_terms = float(absv.sum()) ** 2 * (xs * xs / cs) * hdiag + float(np.abs(ff) @ absv)
        # each residual against its own terms, with a floor at 1e-6 of the largest (a row whose
        # terms all vanish, e.g. a group held at zero, is judged on the problem's scale)
        dual_res = float(np.max(np.abs(rd) / np.maximum(dterms, 1e-6 * dterms.max(initial=0.0) + 1e-300), initial=0.0))
        primal_res = float(np.max(np.abs(rp) / np.maximum(pterms, 1e-6 * pterms.max(initial=0.0) + 1e-300), initial=0.0))
        gap = mu * nb / max(obj_terms, 1e-300)
        if dual_res <= 1e-11 and primal_res <= 1e-11 and gap <= 1e-12:
            return unscaled(v, y, zl, zu)
        merit = max(dual_res, primal_res, gap)
        if best is None or merit < 0.5 * best[0]:
            best, stall = (merit, v.copy(), y.copy(), zl.copy(), zu.copy()), 0
        else:
            stall += 1
            if stall >= 6:
                break
        if float(np.abs(v).max()) > 1e12 * size0 and primal_res <= 1e-6:
            raise UnboundedQP
        dvec = np.where(hl, zl / sl, 0.0) + np.where(hu, zu / su, 0.0)
        state = (sl, su, zl, zu, hl, hu, rd, rp)
        # inexact Newton: a direction need only be accurate to a fraction of the residuals it
        # is to remove (they are recomputed from scratch at every iteration)
        accuracy = 1e-3 * merit
        while True:  # single-precision factors while their refinement converges, then double
            if single and hh32 is None:
                hh32 = hh.astype(np.float32)
                buf = np.empty_like(hh32, order="F")  # LAPACK's layout: factorised in place
            system = _Newton(hh, dvec, c_x, c_s, 1e-13, h32=hh32 if single else None, out=buf)
            single = system.single
            try:
                dv, dy, dzl, dzu = _direction(system, state, 0.0, np.zeros_like(v), np.zeros_like(v), accuracy)
                a_aff = _longest_step(state, dv, dzl, dzu)
                mu_aff = float(sum(pr.sum() for pr in _products(state, a_aff, dv, dzl, dzu))) / nb
                sigma = min(1.0, (mu_aff / mu) ** 3) if mu > 0 else 0.0
                dv, dy, dzl, dzu = _direction(
                    system, state, sigma * mu, np.where(hl, dzl * dv, 0.0), np.where(hu, -dzu * dv, 0.0), accuracy
                )
                if n >= CORRECTED_MIN:
                    dv, dy, dzl, dzu = _centred(system, state, (dv, dy, dzl, dzu), sigma * mu, accuracy)
            except Imprecise:
                single = False
                continue
            break
        step = min(1.0, 0.995 * _longest_step(state, dv, dzl, dzu))
        v = v + step * dv
        y = y + step * dy
        zl = zl + step * dzl
        zu = zu + step * dzu
    if best is not None and best[0] <= 1e-7:
        return unscaled(*best[1:])
    raise _Failed("IPM did not converge")


def _implied_upper(p: _Scaled, rows_e: np.ndarray) -> np.ndarray:
    r"""Which upper bounds an equality row and the lower bounds imply.

    For a row :math:`a^\top x = b` with :math:`a \ge 0` (a budget, a group held at a level;
    a row with :math:`a \le 0` is turned round), the others' lower bounds give
    :math:`a_i x_i = b - \sum_{j \ne i} a_j x_j \le b - \sum_{j \ne i} a_j l_j`, so for
    :math:`a_i > 0` the bound :math:`x_i \le (b - \sum_{j \ne i} a_j l_j) / a_i` holds on the
    whole feasible set; an upper bound at least that wide (to :math:`10^{-12}` relative) is
    implied. Leaving such bounds out keeps the feasible set: only lower bounds imply, and
    they are all kept. This is the activity-based bound tightening of presolve (Andersen &
    Andersen 1995).
    """
    out = np.zeros(p.n, dtype=bool)
    for r in rows_e:
        a, b = p.a[r], float(p.a_lo[r])
        if (a <= 0).all():
            a, b = -a, -b
        if not (a >= 0).all():
            continue
        part = a * np.where(a > 0, p.lower, 0.0)
        bad = ~np.isfinite(part)  # -inf: a variable of the row without a lower bound
        if bad.sum() > 1:
            continue
        total = float(part[~bad].sum())
        rest = np.where(bad, total, total - part if not bad.any() else np.inf)
        pos = a > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            implied = np.where(pos, (b - rest) / np.where(pos, a, 1.0), np.inf)
        slack = 1e-12 * (np.abs(implied) + abs(b) / np.where(pos, a, 1.0) + 1.0)
        out |= pos & np.isfinite(implied) & (p.upper >= implied - slack)
    return out


def _row_multipliers(p: _Scaled, rows_e: np.ndarray, rows_i: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.zeros(p.m)
    # IPM convention H x + f - C'y - z = 0; ours H x + f + A'y + z = 0
    out[rows_e] = -y[: rows_e.size]
    out[rows_i] = -y[rows_e.size :]
    return out

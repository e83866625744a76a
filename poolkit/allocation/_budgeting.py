r"""Risk budgeting under constraints: the solver behind :func:`~poolkit.allocation.risk_parity`.

The constrained risk-budgeting portfolio (Richard & Roncalli 2019) is

.. math:: w^\star = \arg\min_{w \in \Omega} \; \tfrac1k\,\rho(w) - \lambda^\star \sum_i b_i \ln w_i ,
          \qquad \mathbf 1^\top w^\star = 1 ,

with :math:`\Omega` the asset bounds and group bounds (*without* the budget
:math:`\mathbf 1^\top w = 1`), :math:`\rho` a risk measure homogeneous of degree :math:`k`
(:mod:`poolkit.allocation._measures`) and :math:`\lambda^\star > 0` the value at which the
minimiser is fully invested. Without constraints the minimiser for any :math:`\lambda` is a
multiple of the risk-budgeting portfolio, so this is the usual "solve, then normalise"
(Spinu 2013); with constraints, normalising after the fact would break them, so the scale is
set by :math:`\lambda^\star` instead. Its KKT conditions say what is guaranteed:

.. math:: RC_i(w^\star) = \lambda^\star b_i - w_i^\star \nu_i ,

where :math:`\nu_i` collects the multipliers of the bounds of asset :math:`i` and of the
group bounds it is part of. Every asset at none of its bounds and in no group at a bound gets
a risk contribution exactly proportional to its budget; when no constraint binds, every
contribution equals its budget share exactly.

Numerics: the variables are the weights scaled by each asset's stand-alone risk, so the
problem does not depend on the units of the returns. Unconstrained variance budgeting is a
damped Newton method on Spinu's convex problem in the correlation matrix; everything else
(constraints that bind, the semi-variance, CVaR and CDaR) is solved by the interior-point
method of :mod:`poolkit.allocation._ipm`, with :math:`\lambda` found in the same run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from poolkit.allocation._core import WEIGHT_TOL, Constraints, finalize
from poolkit.allocation._ipm import BarrierProblem, solve_barrier
from poolkit.allocation._linalg import Cholesky
from poolkit.allocation._measures import RiskModel
from poolkit.allocation._projection import within_limits
from poolkit.exceptions import AlignmentError, CovarianceError, InfeasibleError, ParameterError, SolverError

__all__ = ["budget_vector", "solve_risk_budgeting"]

#: Relative tolerance of the risk-contribution check (on top of the rounding error of
#: evaluating the contributions, which grows with the conditioning of the covariance).
RC_TOL = 1e-9
_EPS = np.finfo(float).eps


def budget_vector(
    assets: pd.Index,
    budgets: Any = None,
    pools: Any = None,
    pool_budgets: Any = None,
) -> np.ndarray:
    """Return the risk budgets (positive, summing to 1) of ``assets``.

    ``budgets`` gives each asset's budget (default equal); with ``pools`` (asset -> pool)
    and ``pool_budgets`` (pool -> its total risk share) the pool's share is split among
    its members in proportion to ``budgets``.
    """
    from poolkit.allocation._core import vector

    n = len(assets)
    if budgets is None:
        a = np.ones(n)
    else:
        a = vector(budgets, assets, name="budgets")
        if not (a > 0).all():
            bad = assets[~(a > 0)].tolist()
            raise ParameterError(f"`budgets` must be positive for every asset; got non-positive for {bad}.")
    if pools is None and pool_budgets is None:
        return a / a.sum()
    if pools is None or pool_budgets is None:
        raise ParameterError(
            "`pools` and `pool_budgets` go together: pools={asset: pool} and pool_budgets={pool: risk share}."
        )
    labels = pd.Series(pools) if isinstance(pools, Mapping) else pools
    if not isinstance(labels, pd.Series):
        raise ParameterError(f"`pools` must map asset -> pool (dict or Series), got {type(pools).__name__}.")
    missing = [x for x in assets if x not in labels.index]
    extra = [x for x in labels.index if x not in assets]
    if missing or extra:
        raise AlignmentError(
            f"`pools` must name every asset once; missing {missing}, not in the data {extra}."
        )
    labels = labels.reindex(assets)
    pb = pd.Series(pool_budgets, dtype="float64") if isinstance(pool_budgets, Mapping) else pool_budgets
    if not isinstance(pb, pd.Series):
        raise ParameterError(f"`pool_budgets` must map pool -> risk share, got {type(pool_budgets).__name__}.")
    pool_names = pd.unique(labels.to_numpy())
    lacking = [p for p in pool_names if p not in pb.index]
    unknown = [p for p in pb.index if p not in set(pool_names)]
    if lacking or unknown:
        raise AlignmentError(
            f"`pool_budgets` must give one risk share per pool; missing {lacking}, unknown pools {unknown}."
        )
    shares = pb.reindex(pool_names).to_numpy(dtype="float64")
    if not (np.isfinite(shares).all() and (shares > 0).all()):
        raise ParameterError(f"`pool_budgets` must be positive numbers, got {pb.to_dict()}.")
    shares = shares / shares.sum()
    code = pd.Index(pool_names).get_indexer(labels.to_numpy())
    within = a / np.bincount(code, weights=a)[code]
    return shares[code] * within


# --------------------------------------------------------------------------------------------
# unconstrained variance budgeting: Newton on Spinu's problem


def _erc_newton(corr: np.ndarray, b: np.ndarray, *, max_iter: int) -> np.ndarray:
    r"""Minimise :math:`F(y) = \tfrac12 y^\top C y - b^\top \ln y` by Newton steps with backtracking.

    :math:`F` is strictly convex; its minimiser solves :math:`y_i (Cy)_i = b_i`. The step
    is halved until the iterate stays positive and :math:`F` decreases (Armijo); it stops
    when the Newton decrement reaches rounding level. If a long-only combination of the
    assets has zero variance, :math:`F` is unbounded below and the iterates grow without
    bound: that is refused by name. Close to the minimiser (scaled Newton decrement below
    1/4) the full step is taken: the decrease of :math:`F` is then below its rounding error,
    so Armijo's test would stall.
    """
    zero_var = CovarianceError(
        "risk_parity: a long-only combination of the assets has zero variance, so risk contributions "
        "cannot be matched (e.g. two assets with correlation -1). Drop one of the offsetting assets or "
        "use a shrinkage covariance (cov_method='ledoit_wolf')."
    )

    def objective(y: np.ndarray) -> float:
        return float(0.5 * y @ (corr @ y) - b @ np.log(y))

    quad = float(b @ corr @ b)
    y = b / np.sqrt(quad) if quad > 0 else b.copy()
    f = objective(y)
    last = np.inf
    newton = _LaggedNewton(corr)
    for _ in range(max_iter):
        cy = corr @ y
        grad = cy - b / y
        # the tolerance of an inexact step shrinks with the gradient (quadratic convergence is kept)
        eta = min(1e-2, max(1e-13, float(np.linalg.norm(grad) / np.linalg.norm(b / y))))
        try:
            step = newton.step(grad, b / y**2, eta)
        except np.linalg.LinAlgError as exc:
            raise zero_var from exc
        dec2 = float(grad @ step)
        if not np.isfinite(dec2):
            raise zero_var
        # converged: the step is at rounding level, or the decrement stalls at rounding level
        if dec2 <= 1e-26 or np.max(np.abs(step) / y) <= 1e-14 or (dec2 < 1e-6 * float(b.min()) and dec2 > 0.25 * last):
            return y - step if dec2 > 0 and (y - step > 0).all() else y
        last = dec2
        t = 1.0
        neg = step > 0
        if neg.any():
            t = min(1.0, 0.99 * float(np.min(y[neg] / step[neg])))
        # F / min(b) is self-concordant: with its Newton decrement below 1/4 the full step is
        # safe and converges quadratically; above, backtrack (Armijo) from the largest positive step
        full = dec2 / float(b.min()) < 0.0625
        while True:
            y_new = y - t * step
            f_new = objective(y_new)
            if full or f_new <= f - 1e-4 * t * dec2:
                break
            t *= 0.5
            if t < 1e-12:
                return y  # no decrease possible within rounding: y is the minimiser to machine precision
        y, f = y_new, f_new
        if y.max() > 1e12 * max(1.0, float(b.max() / np.sqrt(max(quad, 1e-300)))) or not np.isfinite(f):
            raise zero_var
    raise SolverError(
        f"risk_parity: Newton's method did not converge in {max_iter} iterations; raise `max_iter` "
        f"or use a shrinkage covariance (cov_method='ledoit_wolf')."
    )


#: Smallest problem on which Newton's steps reuse an older factor (through preconditioned CG).
_LAGGED_MIN = 400


class _LaggedNewton:
    r"""Newton steps for Hessians :math:`C + \operatorname{diag}(d)` whose diagonal alone changes.

    On large problems a factor is kept while the diagonal drifts little and each step is
    found by conjugate gradients preconditioned by it (O(n^2) per iteration against the
    O(n^3) of a factorisation): preconditioned by the factored Hessian, the condition
    number is at most the drift of the diagonal (:func:`_drift`). Far from the solution,
    where a rough step is enough, a larger drift is allowed. New factors are computed in
    single precision (twice as fast); the steps stay double-precision solutions of the
    double-precision system, because the residuals of conjugate gradients are. A single
    precision factor that fails (or preconditions too poorly) is replaced by a double one.
    """

    def __init__(self, corr: np.ndarray) -> None:
        self.corr = corr
        self.n = len(corr)
        self.lagged = self.n > _LAGGED_MIN
        self.single = self.lagged
        self.corr32 = corr.astype(np.float32) if self.single else None
        self.chol: Cholesky | None = None
        self.dh_factor = np.ones(self.n)

    def _factorise(self, dh: np.ndarray) -> Cholesky:
        from scipy.linalg import LinAlgError

        self.dh_factor = dh
        if self.single:
            try:
                self.chol = Cholesky(self.corr, single=True, shift=dh, a32=self.corr32)
                return self.chol
            except LinAlgError:
                self.single = False
        self.chol = Cholesky(self.corr, single=False, shift=dh)
        return self.chol

    def step(self, grad: np.ndarray, dh: np.ndarray, eta: float) -> np.ndarray:
        r"""Solve :math:`(C + \operatorname{diag}(d))\, s = g` to the relative residual ``eta``."""
        if not self.lagged:
            return self._factorise(dh).solve(grad)

        def matvec(v: np.ndarray) -> np.ndarray:
            return self.corr @ v + dh * v

        if self.chol is not None and _drift(dh, self.dh_factor) <= (32.0 if eta > 1e-6 else 4.0):
            out = _pcg(matvec, grad, self.chol.apply_inverse, rtol=eta)
            if out is not None:
                return out
        out = _pcg(matvec, grad, self._factorise(dh).apply_inverse, rtol=eta)
        if out is None and self.single:
            self.single = False
            out = _pcg(matvec, grad, self._factorise(dh).apply_inverse, rtol=eta)
        return out if out is not None else self._factorise(dh).solve(grad)


def _drift(dh: np.ndarray, dh_factor: np.ndarray) -> float:
    r"""Bound on the condition number of :math:`(C + D_0)^{-1}(C + D)` for diagonal :math:`D, D_0 > 0`, C PSD.

    The Rayleigh quotient :math:`(x^\top C x + x^\top D x) / (x^\top C x + x^\top D_0 x)` lies
    between :math:`\min(1, \min_i d_i / d_{0,i})` and :math:`\max(1, \max_i d_i / d_{0,i})`.
    """
    ratio = dh / dh_factor
    return max(1.0, float(ratio.max())) / min(1.0, float(ratio.min()))


def _pcg(
    matvec: Callable[[np.ndarray], np.ndarray],
    rhs: np.ndarray,
    precond: Callable[[np.ndarray], np.ndarray],
    *,
    max_iter: int = 20,
    rtol: float = 1e-12,
) -> np.ndarray | None:
    """Preconditioned conjugate gradients for a symmetric positive definite system; None if too slow.

    Stops when the residual is below ``rtol`` of the right-hand side (rounding level, so
    the answer is the exact Newton step); returns None after ``max_iter`` iterations, when
    the preconditioner has drifted too far from the matrix and a new factor is cheaper.
    """
    x = np.zeros_like(rhs)
    r = rhs.copy()
    z = precond(r)
    d = z.copy()
    rz = float(r @ z)
    target = rtol * float(np.linalg.norm(rhs))
    for _ in range(max_iter):
        q = matvec(d)
        dq = float(d @ q)
        if not dq > 0:
            return None
        alpha = rz / dq
        x += alpha * d
        r -= alpha * q
        if float(np.linalg.norm(r)) <= target:
            return x
        z = precond(r)
        rz_new = float(r @ z)
        d = z + (rz_new / rz) * d
        rz = rz_new
    return None


def _check_rc(y: np.ndarray, grad: np.ndarray, absgrad: np.ndarray, lam: float, b: np.ndarray,
              free: np.ndarray, what: str, n_terms: int) -> None:
    r"""Check :math:`y_i g_i = \\lambda b_i` on the free assets, up to the rounding error of ``g``.

    ``absgrad`` bounds the terms summed into each gradient entry (e.g. :math:`|C||y|`), so
    ``n * eps * y * absgrad`` bounds the rounding error of the contribution.
    """
    if not free.any():
        return
    rc = y * grad
    target = lam * b
    slack = RC_TOL * target + 16.0 * n_terms * _EPS * y * absgrad
    err = np.abs(rc - target)[free] - slack[free]
    if (err > 0).any():
        i = int(np.argmax(err))
        rel = float(np.abs(rc - target)[free][i] / target[free][i])
        raise SolverError(
            f"{what}: the risk contributions do not meet the budgets (relative error {rel:.2e}). The "
            f"covariance may be too ill-conditioned: try a shrinkage estimator (cov_method='ledoit_wolf')."
        )


# --------------------------------------------------------------------------------------------
# lifted problems for the interior-point method


def _scales(model: RiskModel) -> np.ndarray:
    """Per-asset scale: the stand-alone risk (its square root for the variances)."""
    alone = model.standalone()
    return np.sqrt(alone) if model.degree == 2 else alone


def _lift(model: RiskModel, scale: np.ndarray, x0: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
    """Objective and rows of the risk measure in scaled weights ``x = scale * w``, and a start.

    Returns the keyword arguments of :class:`BarrierProblem` for the measure (``c``, ``qd``,
    ``qs``, the dense and sparse rows, ``h``, bounds of the auxiliary variables) and the full
    starting vector (``x0`` followed by auxiliary variables).
    """
    from scipy import sparse

    n = model.n
    if model.measure == "variance":
        qd = model.data / np.outer(scale, scale)
        return {"c": np.zeros(n), "qd": qd, "gd": np.zeros((0, n)), "h": np.zeros(0),
                "lb_aux": np.zeros(0), "ub_aux": np.zeros(0), "gs": None, "qs": None}, x0
    data = model.data / scale
    if model.measure == "semi_variance":
        t_obs = data.shape[0]
        # s_t >= -X_t x, s >= 0; objective 1/2 sum s^2
        gd = -data
        gs = -sparse.identity(t_obs, format="csr")
        s0 = np.maximum(-(data @ x0), 0.0)
        return {"c": np.zeros(n + t_obs), "qd": None, "qs": np.ones(t_obs), "gd": gd, "gs": gs,
                "h": np.zeros(t_obs), "lb_aux": np.zeros(t_obs), "ub_aux": np.full(t_obs, np.inf)}, \
            np.concatenate([x0, s0])
    beta = model.level
    if model.measure == "cvar":
        loss = -data
        t_obs = loss.shape[0]
        # dense (x, alpha), sparse u: L_t x - alpha - u_t <= 0, u >= 0
        gd = np.hstack([loss, -np.ones((t_obs, 1))])
        gs = -sparse.identity(t_obs, format="csr")
        lx = loss @ x0
        alpha0 = float(np.quantile(lx, beta))
        u0 = np.maximum(lx - alpha0, 0.0)
        c = np.concatenate([np.zeros(n), [1.0], np.full(t_obs, 1.0 / ((1.0 - beta) * t_obs))])
        return {"c": c, "qd": None, "qs": None, "gd": gd, "gs": gs, "h": np.zeros(t_obs),
                "lb_aux": np.concatenate([[-np.inf], np.zeros(t_obs)]),
                "ub_aux": np.full(1 + t_obs, np.inf)}, np.concatenate([x0, [alpha0], u0])
    # CDaR: dense (x, alpha), sparse (u_1..u_T, d_1..d_T)
    path = data[1:]
    t_obs = path.shape[0]
    eye = sparse.identity(t_obs, format="csr")
    zero_t = sparse.csr_matrix((t_obs, t_obs))
    shift = sparse.diags([np.ones(t_obs - 1)], [-1], shape=(t_obs, t_obs), format="csr")  # picks u_{t-1}
    rows_peak = sparse.hstack([-eye, zero_t])  # P_t x - u_t <= 0
    rows_mono = sparse.hstack([(shift - eye)[1:], sparse.csr_matrix((t_obs - 1, t_obs))])  # u_{t-1} - u_t <= 0
    rows_dd = sparse.hstack([eye, -eye])  # u_t - P_t x - alpha - d_t <= 0
    gs = sparse.vstack([rows_peak, rows_mono, rows_dd]).tocsr()
    gd = np.vstack([
        np.hstack([path, np.zeros((t_obs, 1))]),
        np.zeros((t_obs - 1, n + 1)),
        np.hstack([-path, -np.ones((t_obs, 1))]),
    ])
    px = path @ x0
    u0 = np.maximum.accumulate(np.maximum(px, 0.0))
    dd = u0 - px
    alpha0 = float(np.quantile(dd, beta))
    d0 = np.maximum(dd - alpha0, 0.0)
    c = np.concatenate([np.zeros(n), [1.0], np.zeros(t_obs), np.full(t_obs, 1.0 / ((1.0 - beta) * t_obs))])
    lb_aux = np.concatenate([[-np.inf], np.zeros(t_obs), np.zeros(t_obs)])  # u_1 >= u_0 = 0 and u >= 0 implied
    return {"c": c, "qd": None, "qs": None, "gd": gd, "gs": gs, "h": np.zeros(3 * t_obs - 1),
            "lb_aux": lb_aux, "ub_aux": np.full(1 + 2 * t_obs, np.inf)}, np.concatenate([x0, [alpha0], u0, d0])


def _barrier(
    model: RiskModel,
    b: np.ndarray,
    scale: np.ndarray,
    w0: np.ndarray,
    cons: Constraints | None,
    *,
    what: str,
) -> tuple[np.ndarray, float]:
    r"""Solve the (constrained) problem by the interior-point method; return weights and lambda.

    Units: the risk model is expressed in ``scale``-d weights (every asset of stand-alone risk
    1), times :math:`\kappa = \rho(w_0)^{-1/k}` so that the start ``w0`` has risk 1 and
    :math:`\lambda = 1` there: every quantity of the iterations is of order one.
    """
    from scipy import sparse

    n = model.n
    kappa = float(model.value(w0)) ** (-1.0 / model.degree)
    unit = kappa * scale  # x = unit * w
    lifted, start = _lift(model, scale, unit * w0)
    p_extra = 0 if lifted["qd"] is not None or model.measure == "semi_variance" else 1  # alpha is dense
    p = n + p_extra
    gd = lifted["gd"]
    gs = lifted["gs"]
    h = lifted["h"]
    lb = np.concatenate([np.zeros(n), lifted["lb_aux"]])
    ub = np.concatenate([np.full(n, np.inf), lifted["ub_aux"]])
    budget = None
    if cons is not None:
        lb[:n] = np.where(cons.lower > 0, cons.lower * unit, 0.0)
        ub[:n] = np.where(cons.upper < 1.0, cons.upper * unit, np.inf)
        rows, rhs = [], []
        for k in range(len(cons.group_names)):
            g = cons.group_matrix[k] / unit
            if cons.group_upper[k] < 1.0:
                rows.append(g)
                rhs.append(cons.group_upper[k])
            if cons.group_lower[k] > 0.0:
                rows.append(-g)
                rhs.append(-cons.group_lower[k])
        if rows:
            extra = np.zeros((len(rows), p))
            extra[:, :n] = np.vstack(rows)
            gd = np.vstack([gd, extra]) if gd.size else extra
            h = np.concatenate([h, rhs])
            if gs is not None:
                gs = sparse.vstack([gs, sparse.csr_matrix((len(rows), gs.shape[1]))]).tocsr()
        budget = 1.0 / unit
    if gd.shape[1] != p:
        gd = np.hstack([gd, np.zeros((gd.shape[0], p - gd.shape[1]))]) if gd.shape[0] else np.zeros((0, p))
    prob = BarrierProblem(
        n=n, b=b, c=lifted["c"], gd=gd, h=h, lb=lb, ub=ub, qd=lifted["qd"], gs=gs, qs=lifted["qs"],
        budget=budget, lam=1.0,
    )
    sol = solve_barrier(prob, start, what=what)
    x, lam = sol.x[:n], sol.lam
    if budget is not None and model.measure == "variance":
        x, lam = _polish(prob, x, lam, sol.z, what=what)
    w = x / unit
    if budget is None:
        w = w / w.sum()
    return w, lam / kappa**model.degree


def _polish(prob: BarrierProblem, x: np.ndarray, lam: float, z: np.ndarray, *, what: str) -> tuple[np.ndarray, float]:
    r"""Finish an interior-point solution of variance budgeting on its active set, by Newton steps.

    Interior points approach a binding bound only to within :math:`\mu/z`. Here the bounds
    and group rows that the interior-point solution holds at (slack below :math:`10^{-7}`)
    are imposed as equalities, and Newton's method solves the remaining KKT system
    :math:`(Qx)_F - \lambda b_F/x_F + G_F^\top\nu = 0`, :math:`G x = h`, :math:`a^\top x = 1`
    for the free weights, :math:`\lambda` and the row multipliers, to machine precision.
    The result is kept only if it is feasible, its multipliers have the right signs and its
    residual is smaller; otherwise the interior-point solution stands.
    """
    q = prob.qd
    assert q is not None and prob.budget is not None
    n = x.size
    b, a = prob.b, prob.budget
    lo = np.where(np.isfinite(prob.lb[:n]) & (prob.lb[:n] > 0), prob.lb[:n], -np.inf)
    hi = prob.ub[:n]
    tol_act = 1e-7 * np.maximum(1.0, np.abs(x))
    at_lo = x - lo <= tol_act
    at_hi = hi - x <= tol_act
    fixed = at_lo | at_hi
    rows = np.flatnonzero(prob.h - prob.gd @ x <= 1e-7 * (1.0 + np.abs(prob.h))) if prob.h.size else np.zeros(0, int)
    g_act = prob.gd[rows][:, :n]
    free = np.flatnonzero(~fixed)
    if free.size == 0:
        return x, lam
    xp = x.copy()
    xp[at_lo] = lo[at_lo]
    xp[at_hi] = hi[at_hi]
    k = rows.size
    nu = z[rows].copy() if k else np.zeros(0)
    lp = lam

    def kkt(xv: np.ndarray, lv: float, nv: np.ndarray) -> np.ndarray:
        grad = q @ xv - lv * b / xv + g_act.T @ nv
        return np.concatenate([grad[free], g_act @ xv - prob.h[rows], [a @ xv - 1.0]])

    res0 = float(np.abs(kkt(xp, lp, nu)).max())
    for _ in range(8):
        r = kkt(xp, lp, nu)
        if np.abs(r).max() <= 1e-15 * max(1.0, lp):
            break
        jac = np.zeros((free.size + k + 1, free.size + k + 1))
        jac[: free.size, : free.size] = q[np.ix_(free, free)] + np.diag(lp * b[free] / xp[free] ** 2)
        jac[: free.size, free.size] = -b[free] / xp[free]
        jac[: free.size, free.size + 1 :] = g_act[:, free].T
        jac[free.size : free.size + k, : free.size] = g_act[:, free]
        jac[-1, : free.size] = a[free]
        try:
            step = np.linalg.solve(jac, -r)
        except np.linalg.LinAlgError:
            return x, lam
        xp[free] += step[: free.size]
        lp += float(step[free.size])
        nu = nu + step[free.size + 1 :]
        if not (xp[free] > 0).all() or lp <= 0:
            return x, lam
    grad = q @ xp - lp * b / xp + g_act.T @ nu
    ok = (
        float(np.abs(kkt(xp, lp, nu)).max()) <= max(res0, 1e-12 * max(1.0, lp))
        and (nu >= -1e-12 * max(1.0, lp)).all()
        and (grad[at_hi] <= 1e-12 * max(1.0, lp)).all()
        and (grad[at_lo & ~at_hi] >= -1e-12 * max(1.0, lp)).all()
        and (xp <= hi + 1e-15).all() and (xp >= np.where(np.isfinite(lo), lo, 0.0) - 1e-15).all()
        and (prob.gd[:, :n] @ xp <= prob.h + 1e-13 * (1.0 + np.abs(prob.h))).all()
    )
    return (xp, lp) if ok else (x, lam)


def solve_risk_budgeting(
    model: RiskModel,
    b: np.ndarray,
    cons: Constraints,
    *,
    what: str = "risk_parity",
    max_iter: int = 200,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Return the constrained risk-budgeting weights of ``model`` and how they were found.

    The unconstrained solution is computed first; if it meets every constraint it is the
    answer (no constraint binds). Otherwise the constrained problem is solved.
    """
    scale = _scales(model)
    n = model.n
    if model.measure == "variance":
        corr = model.data / np.outer(scale, scale)
        y = _erc_newton(corr, b, max_iter=max_iter)
        cy = corr @ y
        _check_rc(y, cy, np.abs(corr) @ y, float(y @ cy), b, np.ones(n, dtype=bool), what, n)
        w0 = (y / scale) / (y / scale).sum()
    else:
        w0, _ = _barrier(model, b, scale, np.full(n, 1.0 / n) / scale / np.sum(1.0 / scale), None, what=what)
    if within_limits(w0, cons):
        return w0, {"binding": False}
    # a single feasible point: every weight at its upper (lower) bound
    if cons.upper.sum() <= 1.0 + WEIGHT_TOL and within_limits(cons.upper / cons.upper.sum(), cons):
        return cons.upper / cons.upper.sum(), {"binding": True}
    if cons.lower.sum() >= 1.0 - WEIGHT_TOL and within_limits(cons.lower / cons.lower.sum(), cons):
        return cons.lower / cons.lower.sum(), {"binding": True}
    # start from the closest weights that meet the constraints (bounds: scale and clip)
    from poolkit.allocation._projection import scale_and_clip

    start = scale_and_clip(w0, np.maximum(cons.lower, 0.0), cons.upper)
    start = 0.5 * start + 0.5 * w0 if not np.isfinite(start).all() else start
    for attempt in range(2):
        try:
            w, lam = _barrier(model, b, scale, start, cons, what=what)
        except SolverError:
            _diagnose(model, scale, cons, what)
            raise
        w = finalize(w, cons, name=what, what=what).to_numpy()
        try:
            _check_constrained_rc(model, scale, w, lam, b, cons, what)
            break
        except SolverError:
            if attempt:
                raise
            # the optimum's risk can be orders of magnitude below the start's (a near-singular
            # covariance whose bounded combinations almost hedge each other), beyond the
            # precision of iterations in the start's units: solve again in the optimum's units
            start = (1.0 - 1e-3) * w + 1e-3 * start
    return w, {"binding": True, "lambda": lam}


def _check_constrained_rc(
    model: RiskModel, scale: np.ndarray, w: np.ndarray, lam: float, b: np.ndarray, cons: Constraints, what: str
) -> None:
    """Variance budgeting: every asset at no bound and in no group at a bound has RC_i = lambda b_i."""
    if model.measure != "variance":
        return
    x = scale * w
    corr = model.data / np.outer(scale, scale)
    free = (w - cons.lower > 1e-10) & (cons.upper - w > 1e-10)
    if cons.group_names:
        g = cons.group_matrix @ w
        tight = (g - cons.group_lower <= 1e-10) | (cons.group_upper - g <= 1e-10)
        free &= ~(cons.group_matrix[tight].sum(axis=0) > 0)
    _check_rc(x, corr @ x, np.abs(corr) @ x, lam, b, free, what, model.n)


def _diagnose(model: RiskModel, scale: np.ndarray, cons: Constraints, what: str) -> None:
    """Raise InfeasibleError when no lambda makes the minimiser fully invested.

    That happens only when the minimum weights force holdings whose least-risk completion
    (the minimiser of the risk over the bounds and groups, without the budget) already
    invests more than everything, e.g. a forced position hedged by an asset of very low risk.
    """
    if model.measure != "variance" or (cons.lower <= 0).all() and (cons.group_lower <= 0).all():
        return
    from poolkit.allocation._core import solve_qp

    a_rows = cons.group_matrix
    try:
        x = solve_qp(
            model.data, np.zeros(model.n), cons.lower, cons.upper, a_rows, cons.group_lower, cons.group_upper,
            n_eq=0, what=f"{what} (least-risk holdings of the minimum weights)",
        )
    except (SolverError, InfeasibleError):
        return
    if x.sum() > 1.0 + 1e-9:
        raise InfeasibleError(
            f"{what}: no fully invested risk-budgeting portfolio meets these constraints: the minimum "
            f"weights force holdings whose least-risk completion already invests {x.sum():.4g} > 1 "
            f"(a forced position hedged by other assets). Lower the minimum weights, or use min_variance."
        )

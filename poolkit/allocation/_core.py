"""Constraints, the quadratic/linear solver layer and solution checks shared by every method.

Every optimiser in :mod:`poolkit.allocation` goes through this file: the constraint
parser (bounds, groups, group bounds) with exact feasibility checks that name the
constraint at fault, the dense QP solver (DAQP, a dual active-set method, exact on
problems of a few hundred assets), the LP solver (HiGHS through scipy), the KKT check
of every QP solution, and the final check that turns a solution vector into a weights
Series that sums to 1 and respects every bound.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from poolkit._validation import check_aligned, check_covariance, did_you_mean
from poolkit.exceptions import AlignmentError, InfeasibleError, ParameterError, PoolkitError, SolverError

#: Tolerance on the budget (sum of weights) and on the bounds of every returned portfolio.
WEIGHT_TOL = 1e-9
#: Relative KKT residual accepted from the QP solver before a solution is returned.
KKT_TOL = 1e-7

Bounds = Any  # (lo, hi) scalars or per-asset Series/dicts, or a mapping asset -> (lo, hi)


@dataclass(frozen=True)
class Constraints:
    """Parsed linear constraints of a fully invested portfolio ``1'w = 1``."""

    assets: pd.Index
    lower: np.ndarray
    upper: np.ndarray
    group_names: list[str]
    group_matrix: np.ndarray  # (n_groups, n_assets) of 0/1
    group_lower: np.ndarray
    group_upper: np.ndarray

    @property
    def n(self) -> int:
        return len(self.assets)

    @property
    def long_only(self) -> bool:
        return bool((self.lower >= 0).all())

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(A, lo, hi)`` of the general rows: budget first, then bounded groups."""
        a = np.vstack([np.ones((1, self.n)), self.group_matrix])
        lo = np.concatenate([[1.0], self.group_lower])
        hi = np.concatenate([[1.0], self.group_upper])
        return a, lo, hi


def _pair(value: Any, *, name: str) -> tuple[Any, Any]:
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return value[0], value[1]
    raise ParameterError(
        f"`{name}` must be a pair (lower, upper) such as (0, 1) or (0.0, 0.3), got {value!r}."
    )


def _side(value: Any, assets: pd.Index, *, name: str) -> np.ndarray:
    if isinstance(value, (pd.Series, dict)):
        return check_aligned(value, assets, name=name).to_numpy(dtype="float64")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(
            f"`{name}` must be a number or a per-asset Series/dict of numbers, got {value!r}. "
            f"Bounds must be finite: use e.g. (-1, 1) to allow short positions."
        )
    return np.full(len(assets), float(value))


def parse_bounds(bounds: Bounds, assets: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Return per-asset ``(lower, upper)`` arrays from any accepted form of ``bounds``."""
    n = len(assets)
    if bounds is None:
        bounds = (0.0, 1.0)
    if isinstance(bounds, (dict, pd.Series)) and all(
        isinstance(v, (tuple, list))
        for v in (bounds.values() if isinstance(bounds, dict) else bounds.to_numpy())
    ):
        lower, upper = np.zeros(n), np.ones(n)
        unknown = [k for k in bounds.keys() if k not in assets]
        if unknown:
            raise AlignmentError(
                f"`bounds` names asset(s) {unknown} that are not in the data.{did_you_mean(unknown[0], assets)}"
            )
        pos = assets.get_indexer(list(bounds.keys()))
        for p, (lo, hi) in zip(
            pos, [_pair(v, name=f"bounds[{k!r}]") for k, v in bounds.items()], strict=True
        ):
            lower[p], upper[p] = float(lo), float(hi)
    else:
        lo, hi = _pair(bounds, name="bounds")
        lower = _side(lo, assets, name="bounds[0] (lower)")
        upper = _side(hi, assets, name="bounds[1] (upper)")
    if not (np.isfinite(lower).all() and np.isfinite(upper).all()):
        raise ParameterError("`bounds` must be finite numbers; use e.g. (-1, 1) to allow short positions.")
    bad = np.flatnonzero(lower > upper)
    if bad.size:
        i = bad[0]
        raise InfeasibleError(
            f"`bounds` of asset {assets[i]!r} are empty: lower {lower[i]:g} > upper {upper[i]:g}. "
            f"Give every asset lower <= upper."
        )
    return lower, upper


def parse_constraints(
    assets: pd.Index,
    bounds: Bounds = (0.0, 1.0),
    groups: Mapping[Any, Any] | pd.Series | None = None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
) -> Constraints:
    """Parse and check the constraints of a fully invested portfolio.

    Raises :class:`InfeasibleError` naming the constraint when no portfolio can meet
    them all: asset bounds summing to more (less) than 1, a group whose bounds cannot
    be met by its assets' bounds, or group bounds whose totals cannot reach 1. For a
    partition of the assets into groups these checks are exact.
    """
    assets = pd.Index(assets)
    if isinstance(groups, pd.DataFrame):  # several groupings (e.g. sectors and pools)
        return parse_grouped_constraints(assets, bounds, groups, group_bounds)
    lower, upper = parse_bounds(bounds, assets)
    if lower.sum() > 1.0 + WEIGHT_TOL:
        raise InfeasibleError(
            f"`bounds`: the lower bounds sum to {lower.sum():.6g} > 1, so no fully invested portfolio "
            f"meets them. Lower some minimum weights."
        )
    if upper.sum() < 1.0 - WEIGHT_TOL:
        raise InfeasibleError(
            f"`bounds`: the upper bounds sum to {upper.sum():.6g} < 1 (e.g. {len(assets)} assets x max "
            f"{upper.max():.6g}), so the weights cannot sum to 1. Raise the maximum weight to at least "
            f"{1.0 / len(assets):.6g}."
        )
    names: list[str] = []
    gmat = np.zeros((0, len(assets)))
    glo = np.zeros(0)
    ghi = np.zeros(0)
    if groups is not None and len(groups) > 0:
        gser = pd.Series(groups) if isinstance(groups, Mapping) else groups
        if not isinstance(gser, pd.Series):
            raise ParameterError(
                f"`groups` must map asset -> group name (dict or Series), got {type(groups).__name__}."
            )
        unknown = [a for a in gser.index if a not in assets]
        if unknown:
            raise AlignmentError(
                f"`groups` names asset(s) {unknown} that are not in the data.{did_you_mean(unknown[0], assets)}"
            )
        labels = gser.astype(str).reindex(assets)
        all_groups = sorted(labels.dropna().unique().tolist())
        if group_bounds is None:
            raise ParameterError(
                "`groups` is given without `group_bounds`; pass e.g. group_bounds={'Tech': (0, 0.3)}."
            )
        if isinstance(group_bounds, (tuple, list)):
            gb = dict.fromkeys(all_groups, tuple(group_bounds))
        elif isinstance(group_bounds, Mapping):
            gb = {str(k): v for k, v in group_bounds.items()}
        else:
            raise ParameterError(f"`group_bounds` must map group -> (lower, upper), got {group_bounds!r}.")
        unknown_g = [g for g in gb if g not in all_groups]
        if unknown_g:
            raise AlignmentError(
                f"`group_bounds` names group(s) {unknown_g} that no asset belongs to; groups are {all_groups}."
                f"{did_you_mean(unknown_g[0], all_groups)}"
            )
        rows, los, his = [], [], []
        for g, pair in gb.items():
            lo, hi = _pair(pair, name=f"group_bounds[{g!r}]")
            lo, hi = float(lo), float(hi)
            member = (labels == g).to_numpy()
            cap_lo, cap_hi = lower[member].sum(), upper[member].sum()
            if lo > hi:
                raise InfeasibleError(f"`group_bounds[{g!r}]` is empty: lower {lo:g} > upper {hi:g}.")
            if lo > cap_hi + WEIGHT_TOL:
                raise InfeasibleError(
                    f"`group_bounds[{g!r}]` asks for at least {lo:g} but its assets' upper bounds sum to "
                    f"{cap_hi:.6g}. Lower the group minimum or raise its assets' maximum weights."
                )
            if hi < cap_lo - WEIGHT_TOL:
                raise InfeasibleError(
                    f"`group_bounds[{g!r}]` allows at most {hi:g} but its assets' lower bounds sum to "
                    f"{cap_lo:.6g}. Raise the group maximum or lower its assets' minimum weights."
                )
            rows.append(member.astype("float64"))
            los.append(lo)
            his.append(hi)
            names.append(g)
        gmat = np.vstack(rows) if rows else gmat
        glo, ghi = np.array(los), np.array(his)
        # exact total check: groups partition the assets (ungrouped assets keep their own bounds)
        member_any = gmat.sum(axis=0) > 0
        tot_lo = np.maximum(glo, gmat @ lower).sum() + lower[~member_any].sum()
        tot_hi = np.minimum(ghi, gmat @ upper).sum() + upper[~member_any].sum()
        if tot_hi < 1.0 - WEIGHT_TOL:
            raise InfeasibleError(
                f"`group_bounds`: the group maxima {dict(zip(names, his, strict=True))} (with the asset bounds) "
                f"allow at most {tot_hi:.6g} in total, less than 1. Raise a group maximum or the asset bounds."
            )
        if tot_lo > 1.0 + WEIGHT_TOL:
            raise InfeasibleError(
                f"`group_bounds`: the group minima {dict(zip(names, los, strict=True))} (with the asset bounds) "
                f"require at least {tot_lo:.6g} in total, more than 1. Lower a group minimum."
            )
    elif group_bounds:
        raise ParameterError("`group_bounds` is given without `groups`; pass groups={asset: group_name}.")
    return Constraints(assets, lower, upper, names, gmat, glo, ghi)


def cov_array(cov: Any, *, name: str = "cov") -> tuple[pd.DataFrame, np.ndarray]:
    r"""Check ``cov`` and return it with its float array.

    Fast path: labels, finiteness and symmetry are checked directly and positive
    semi-definiteness by a Cholesky factorisation of :math:`\Sigma + 10^{-10}\,\bar\sigma^2 I`
    (which succeeds only if the smallest eigenvalue exceeds about :math:`-10^{-10}\bar\sigma^2`);
    any failure goes to the full shared check, which names the problem.
    """
    if (
        isinstance(cov, pd.DataFrame)
        and cov.shape[0] == cov.shape[1] > 0
        and cov.index.equals(cov.columns)
        and not cov.columns.duplicated().any()
    ):
        try:
            mat = cov.to_numpy(dtype="float64", copy=True)
        except (TypeError, ValueError):
            mat = None
        if mat is not None and np.isfinite(mat).all():
            diag = np.diag(mat)
            scale = max(1.0, float(np.abs(mat).max()))
            if (diag >= 0).all() and float(np.abs(mat - mat.T).max()) <= 1e-10 * scale:
                mat = (mat + mat.T) / 2.0
                jitter = 1e-10 * max(float(diag.mean()), 1e-300)
                try:
                    np.linalg.cholesky(mat + jitter * np.eye(len(diag)))
                except np.linalg.LinAlgError:
                    pass
                else:
                    return pd.DataFrame(mat, index=cov.index.copy(), columns=cov.columns.copy()), mat
    frame = check_covariance(cov, name=name)
    return frame, frame.to_numpy()


def vector(values: Any, assets: pd.Index, *, name: str) -> np.ndarray:
    """Return a per-asset vector aligned with ``assets`` (Series or dict)."""
    return check_aligned(values, assets, name=name).to_numpy(dtype="float64")


# ---------------------------------------------------------------------------------------------
# solvers


#: Below this many assets the QP goes to DAQP whole; above it, through a working set.
WORKING_SET_MIN = 80


class _SubInfeasible(Exception):
    """A working-set subproblem is infeasible (the full problem may not be)."""


def _daqp(
    h: np.ndarray,
    f: np.ndarray,
    bl: np.ndarray,
    bu: np.ndarray,
    a: np.ndarray,
    n_eq: int,
    start: np.ndarray | None,
    what: str,
) -> tuple[np.ndarray, np.ndarray]:
    """One DAQP call on ``min x'Hx/2 + f'x`` with bounds then rows ``bl <= [x; Ax] <= bu``."""
    import daqp

    n, m = h.shape[0], a.shape[0]
    sense = np.zeros(n + m, dtype=np.intc)
    sense[n : n + n_eq] = 5
    bl = np.where(np.isneginf(bl), -1e30, bl)
    bu = np.where(np.isposinf(bu), 1e30, bu)
    kwargs: dict[str, Any] = {"primal_tol": 1e-10, "iter_limit": 100 * (n + m) + 1000, "eps_prox": 0.0}
    if start is not None:
        kwargs["primal_start"] = np.ascontiguousarray(start, dtype="float64")
    x, _fval, flag, info = daqp.solve(
        np.ascontiguousarray(h),
        np.ascontiguousarray(f),
        np.ascontiguousarray(a, dtype="float64"),
        np.ascontiguousarray(bu, dtype="float64"),
        np.ascontiguousarray(bl, dtype="float64"),
        sense,
        **kwargs,
    )
    x = np.asarray(x, dtype="float64")
    if flag == -1:
        raise _SubInfeasible
    if flag not in (1, 2) or not np.isfinite(x).all():
        raise SolverError(
            f"The QP solver (DAQP) failed on {what} with exit flag {flag}. The covariance may be "
            f"ill-conditioned: try a shrinkage estimator (cov_method='ledoit_wolf')."
        )
    return x, np.asarray(info["lam"], dtype="float64")


def solve_qp(
    h: np.ndarray,
    f: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    a: np.ndarray,
    a_lo: np.ndarray,
    a_hi: np.ndarray,
    *,
    n_eq: int = 0,
    start: np.ndarray | None = None,
    priority: np.ndarray | None = None,
    what: str = "the allocation",
) -> np.ndarray:
    r"""Solve :math:`\min \tfrac12 x^\top H x + f^\top x` s.t. bounds and ``a_lo <= A x <= a_hi``.

    The first ``n_eq`` rows of ``A`` are equalities. DAQP (a dual active-set method)
    solves the problem exactly. Long-only portfolios of many assets hold few of them, so
    above :data:`WORKING_SET_MIN` variables a working set is used: variables outside it
    are fixed at a bound, the QP over the working set is solved, and every fixed
    variable whose KKT multiplier has the wrong sign joins the set, until none does
    (finite; each round lowers the objective). ``priority`` (higher = more likely held)
    or ``start`` (a previous solution) seeds the set. The KKT conditions of the full
    problem are checked before the answer is returned; a failure raises
    :class:`SolverError`.
    """
    n = h.shape[0]
    scale = float(np.mean(np.abs(np.diag(h)))) or 1.0
    hs = h / scale
    fs = f / scale
    last: PoolkitError | None = None
    for ridge in RIDGES:
        try:
            h_r = hs + ridge * np.eye(n) if ridge else hs
            return _solve_scaled(h_r, fs, lower, upper, a, a_lo, a_hi, n_eq, start, priority, what)
        except (SolverError, InfeasibleError) as exc:  # a singular Hessian can fake infeasibility
            last = exc
    assert last is not None
    raise last


#: Ridges tried in turn (relative to the mean variance) when a QP fails or does not verify:
#: a singular covariance has many minimisers; the ridge picks the one of least norm and
#: changes the objective by at most ``ridge * mean variance * |w|^2``.
RIDGES = (0.0, 1e-10, 1e-8)


def _solve_scaled(
    hs: np.ndarray,
    fs: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    a: np.ndarray,
    a_lo: np.ndarray,
    a_hi: np.ndarray,
    n_eq: int,
    start: np.ndarray | None,
    priority: np.ndarray | None,
    what: str,
) -> np.ndarray:
    n = hs.shape[0]
    m = a.shape[0]
    bl = np.concatenate([lower, a_lo]).astype("float64")
    bu = np.concatenate([upper, a_hi]).astype("float64")
    fixable = np.isfinite(lower)
    if n < WORKING_SET_MIN or (priority is None and start is None) or fixable.sum() < n // 2:
        try:
            x, lam = _daqp(hs, fs, bl, bu, a, n_eq, start, what)
        except _SubInfeasible:
            raise InfeasibleError(
                f"No portfolio meets every constraint of {what}; relax the bounds or targets."
            ) from None
        _check_kkt(hs, fs, x, lam, a, bl, bu, n_eq, what)
        return x
    if start is not None:
        work = ~fixable | (start > lower + 1e-12)
        xfix = np.where(fixable, lower, 0.0)
    else:
        k = min(n, max(WORKING_SET_MIN, n // 5))
        work = ~fixable
        work[np.argsort(-np.asarray(priority), kind="stable")[:k]] = True
        xfix = np.where(fixable, lower, 0.0)
    tol = 1e-10
    x = np.zeros(n)
    lam_rows = np.zeros(m)
    for _ in range(4 * n):
        idx = np.flatnonzero(work)
        fixed = np.flatnonzero(~work)
        x = xfix.copy()
        sub_f = fs[idx] + hs[np.ix_(idx, fixed)] @ xfix[fixed]
        shift = a[:, fixed] @ xfix[fixed]
        sub_bl = np.concatenate([lower[idx], a_lo - shift])
        sub_bu = np.concatenate([upper[idx], a_hi - shift])
        try:
            xw, lam = _daqp(hs[np.ix_(idx, idx)], sub_f, sub_bl, sub_bu, a[:, idx], n_eq, None, what)
        except _SubInfeasible:
            if work.all():
                raise InfeasibleError(
                    f"No portfolio meets every constraint of {what}; relax the bounds or targets."
                ) from None
            grow = np.flatnonzero(~work)
            if priority is not None:
                grow = grow[np.argsort(-np.asarray(priority)[grow], kind="stable")]
            work[grow[: max(len(idx), 1)]] = True
            continue
        x[idx] = xw
        lam_rows = lam[len(idx) :]
        g = hs @ x + fs + a.T @ lam_rows
        viol = (~work) & (g < -tol * max(1.0, float(np.abs(g).max())))
        if not viol.any():
            break
        work |= viol
    else:  # pragma: no cover - finite by construction
        raise SolverError(f"The working-set QP of {what} did not converge.")
    lam_full = np.concatenate([-(hs @ x + fs + a.T @ lam_rows), lam_rows])
    lam_full[np.flatnonzero(work)] = lam[: len(idx)]
    _check_kkt(hs, fs, x, lam_full, a, bl, bu, n_eq, what)
    return x


def _check_kkt(
    h: np.ndarray,
    f: np.ndarray,
    x: np.ndarray,
    lam: np.ndarray,
    a: np.ndarray,
    bl: np.ndarray,
    bu: np.ndarray,
    n_eq: int,
    what: str,
) -> None:
    """Check stationarity, primal feasibility and complementarity of a QP solution."""
    n = x.size
    bl = np.where(np.isneginf(bl), -1e30, bl)
    bu = np.where(np.isposinf(bu), 1e30, bu)
    grad = h @ x + f
    residual = grad + lam[:n] + a.T @ lam[n:]
    scale = max(1.0, float(np.abs(grad).max()), float(np.abs(f).max()), float(np.abs(lam).max()))
    stationarity = float(np.abs(residual).max()) / scale
    ax = np.concatenate([x, a @ x])
    width = np.maximum(1.0, np.abs(ax))
    primal = float(np.max(np.maximum(bl - ax, ax - bu) / width))
    # a positive multiplier needs its upper side active, a negative one its lower side
    free = np.ones_like(lam, dtype=bool)
    free[n : n + n_eq] = False
    gap_up = np.where(lam > 0, (bu - ax) * lam, 0.0)
    gap_lo = np.where(lam < 0, (ax - bl) * -lam, 0.0)
    comp = float(np.max(np.abs(np.where(free, gap_up + gap_lo, 0.0)))) / scale
    if stationarity > KKT_TOL or primal > 1e-7 or comp > KKT_TOL:
        raise SolverError(
            f"The solution of {what} does not verify (KKT stationarity {stationarity:.2e}, "
            f"feasibility {primal:.2e}, complementarity {comp:.2e}). The covariance may be "
            f"ill-conditioned: try a shrinkage estimator (cov_method='ledoit_wolf')."
        )


def solve_lp(
    c: np.ndarray,
    c_lo: np.ndarray,
    c_hi: np.ndarray,
    *,
    a_ub: Any = None,
    b_ub: np.ndarray | None = None,
    a_eq: Any = None,
    b_eq: np.ndarray | None = None,
    what: str = "the allocation",
    method: str = "highs",
) -> np.ndarray:
    """Solve ``min c'x`` with HiGHS (scipy.optimize.linprog); raise a named error on failure."""
    from scipy.optimize import linprog

    res = linprog(
        c,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=np.column_stack([c_lo, c_hi]),
        method=method,
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if res.status == 2:
        raise InfeasibleError(f"No portfolio meets every constraint of {what}; relax the bounds or targets.")
    if res.status != 0 or res.x is None:
        raise SolverError(f"The LP solver (HiGHS) failed on {what}: {res.message}")
    return np.asarray(res.x, dtype="float64")


def constraint_lp_rows(cons: Constraints) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(A_ub, b_ub, A_eq, b_eq)`` of the group rows and the budget for linprog."""
    a_ub = np.vstack([cons.group_matrix, -cons.group_matrix])
    b_ub = np.concatenate([cons.group_upper, -cons.group_lower])
    return a_ub, b_ub, np.ones((1, cons.n)), np.array([1.0])


def max_return(mu: np.ndarray, cons: Constraints) -> tuple[float, np.ndarray]:
    """Highest expected return a feasible portfolio reaches (an LP), and that portfolio.

    With asset bounds only, the LP is solved exactly by filling the assets from the
    highest expected return down (a fractional knapsack); with groups, by HiGHS.
    """
    if not cons.group_names:
        order = np.argsort(-mu, kind="stable")
        room = (cons.upper - cons.lower)[order]
        budget = 1.0 - cons.lower.sum()
        before = np.cumsum(room) - room
        x = cons.lower.copy()
        x[order] += np.clip(budget - before, 0.0, room)
        return float(mu @ x), x
    a_ub, b_ub, a_eq, b_eq = constraint_lp_rows(cons)
    x = solve_lp(
        -mu,
        cons.lower,
        cons.upper,
        a_ub=a_ub if a_ub.size else None,
        b_ub=b_ub if a_ub.size else None,
        a_eq=a_eq,
        b_eq=b_eq,
        what="the highest-return portfolio",
    )
    return float(mu @ x), x


# ---------------------------------------------------------------------------------------------
# final checks


def finalize(x: np.ndarray, cons: Constraints, *, name: str, what: str) -> pd.Series:
    """Turn a solution into weights: clip rounding-level bound violations, restore the budget, re-check.

    Raises :class:`SolverError` if the solution is off by more than rounding, so a
    returned Series always sums to 1 within 1e-9 and respects every bound.
    """
    w = np.asarray(x, dtype="float64").copy()
    if w.shape != (cons.n,) or not np.isfinite(w).all():
        raise SolverError(f"{what} produced missing or infinite weights; check the covariance and inputs.")
    viol = max(float(np.max(cons.lower - w)), float(np.max(w - cons.upper)), abs(float(w.sum()) - 1.0))
    if viol > 1e-6:
        raise SolverError(f"{what} produced weights that break a bound or the budget by {viol:.2e}.")
    w = np.clip(w, cons.lower, cons.upper)
    for _ in range(3):
        gap = 1.0 - w.sum()
        if abs(gap) <= 1e-15:
            break
        room = (cons.upper - w) if gap > 0 else (w - cons.lower)
        if room.sum() <= 0:
            break
        w = np.clip(w + gap * room / room.sum(), cons.lower, cons.upper)
    check_weights(w, cons, what=what)
    return pd.Series(w, index=cons.assets.copy(), name=name)


def check_weights(w: np.ndarray, cons: Constraints, *, what: str) -> None:
    """Raise :class:`SolverError` unless ``w`` sums to 1 and respects bounds and groups (1e-9)."""
    if not np.isfinite(w).all():
        raise SolverError(f"{what} produced missing or infinite weights.")
    if abs(w.sum() - 1.0) > WEIGHT_TOL:
        raise SolverError(f"{what} produced weights summing to {w.sum():.12g}, not 1.")
    if (w < cons.lower - WEIGHT_TOL).any() or (w > cons.upper + WEIGHT_TOL).any():
        raise SolverError(f"{what} produced weights outside the bounds.")
    if cons.group_names:
        g = cons.group_matrix @ w
        if (g < cons.group_lower - WEIGHT_TOL).any() or (g > cons.group_upper + WEIGHT_TOL).any():
            raise SolverError(f"{what} produced weights that break a group bound.")


# ---------------------------------------------------------------------------------------------
# several groupings at once


def parse_grouped_constraints(
    assets: pd.Index,
    bounds: Bounds,
    groups: pd.DataFrame,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None,
) -> Constraints:
    """Parse the constraints of several groupings at once (a frame: assets x groupings).

    Each column maps the assets to the groups of one grouping (e.g. a sector and a pool per
    asset; missing = in no group of that grouping). Group labels must differ across the
    groupings; ``group_bounds`` maps labels to ``(lower, upper)`` (or is one pair for every
    group). Every grouping is checked exactly on its own, as :func:`parse_constraints` checks
    one; groups of different groupings overlap, so their joint feasibility is checked by a
    linear programme, and when it fails a smallest set of group bounds that cannot hold
    together is found (by dropping the bounds one by one while the rest stay infeasible)
    and named.
    """
    if groups.columns.duplicated().any():
        raise ParameterError(f"`groups` has duplicated grouping columns {groups.columns[groups.columns.duplicated()].tolist()}.")
    unknown = [a for a in groups.index if a not in assets]
    if unknown:
        raise AlignmentError(
            f"`groups` names asset(s) {unknown} that are not in the data.{did_you_mean(unknown[0], assets)}"
        )
    frame = groups.reindex(assets)
    labels = {col: sorted(frame[col].dropna().astype(str).unique().tolist()) for col in frame.columns}
    seen: dict[str, Any] = {}
    for col, names in labels.items():
        for g in names:
            if g in seen:
                raise ParameterError(
                    f"`groups`: the label {g!r} is a group of both {seen[g]!r} and {col!r}; give the groups of "
                    f"different groupings different names."
                )
            seen[g] = col
    if group_bounds is None:
        raise ParameterError("`groups` is given without `group_bounds`; pass e.g. group_bounds={'Tech': (0, 0.3)}.")
    if isinstance(group_bounds, Mapping):
        gb = {str(k): v for k, v in group_bounds.items()}
        missing = [g for g in gb if g not in seen]
        if missing:
            raise AlignmentError(
                f"`group_bounds` names group(s) {missing} that no asset belongs to; groups are {sorted(seen)}."
                f"{did_you_mean(missing[0], list(seen))}"
            )
    else:
        gb = dict.fromkeys(seen, group_bounds)
    parts = []
    for col in frame.columns:
        sub = {g: gb[g] for g in labels[col] if g in gb}
        if sub:
            parts.append(parse_constraints(assets, bounds, frame[col].dropna().astype(str), sub))
    if not parts:
        return parse_constraints(assets, bounds)
    first = parts[0]
    cons = Constraints(
        assets,
        first.lower,
        first.upper,
        [g for c in parts for g in c.group_names],
        np.vstack([c.group_matrix for c in parts]),
        np.concatenate([c.group_lower for c in parts]),
        np.concatenate([c.group_upper for c in parts]),
    )
    if len(parts) > 1:
        _check_joint_groups(cons)
    return cons


def _groups_feasible(cons: Constraints, rows: np.ndarray) -> bool:
    """Return True when some fully invested portfolio meets the bounds and the group ``rows``."""
    from scipy.optimize import linprog

    g = cons.group_matrix[rows]
    a_ub = np.vstack([g, -g]) if rows.size else None
    b_ub = np.concatenate([cons.group_upper[rows], -cons.group_lower[rows]]) if rows.size else None
    res = linprog(
        np.zeros(cons.n), A_ub=a_ub, b_ub=b_ub, A_eq=np.ones((1, cons.n)), b_eq=[1.0],
        bounds=np.column_stack([cons.lower, cons.upper]), method="highs",
    )
    return bool(res.status == 0)


def _check_joint_groups(cons: Constraints) -> None:
    """Raise InfeasibleError naming a smallest conflicting set of group bounds, if any."""
    rows = np.arange(len(cons.group_names))
    if _groups_feasible(cons, rows):
        return
    keep = rows.copy()
    for r in rows:  # deletion filter: what remains is an irreducible infeasible set
        trial = keep[keep != r]
        if not _groups_feasible(cons, trial):
            keep = trial
    named = {cons.group_names[r]: (float(cons.group_lower[r]), float(cons.group_upper[r])) for r in keep}
    raise InfeasibleError(
        f"`group_bounds`: the bounds {named} cannot hold together (with the asset bounds and a fully invested "
        f"portfolio), although each grouping can be met on its own. Relax one of them."
    )


"""Constraints, the solver front and solution checks shared by every method.

Every optimiser in :mod:`poolkit.allocation` goes through this file: the constraint
parser (bounds that may be None or infinite, groups, group bounds, the budget, a
gross-exposure cap) whose feasibility checks are exact and separate from any
optimisation, the presolve that pins constraint sets of zero width, the QP front (the
engine itself, with its KKT verification, is :mod:`poolkit.allocation._qp`), the LP
solver (HiGHS through scipy), and the final check that turns a solution vector into a
weights Series that meets the budget and every bound.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from poolkit._validation import check_aligned, check_covariance, did_you_mean
from poolkit.allocation import _qp
from poolkit.exceptions import (
    AlignmentError,
    InfeasibleError,
    ParameterError,
    SolverError,
    UnboundedError,
)

#: Tolerance on the budget (sum of weights), the bounds and the group limits of every returned
#: portfolio, relative to ``max(1, |budget|, sum |w|)``; also how nearly a constraint set may be
#: empty and still count as feasible (its weights then meet every constraint to this tolerance).
WEIGHT_TOL = 1e-9
#: Covariance methods of poolkit.risk.covariance whose estimate is a Gram matrix (weighted outer
#: products of the returns) or its shrinkage towards mu I: positive semi-definite by construction.
GRAM_METHODS = ("sample", "ledoit_wolf", "oas", "ewma")
#: Relative KKT tolerance of every QP solution (see :mod:`poolkit.allocation._qp`).
KKT_TOL = _qp.KKT_TOL

Bounds = Any  # (lo, hi) scalars, None or +-inf, or per-asset Series/dicts, or a mapping asset -> (lo, hi)


@dataclass(frozen=True)
class Constraints:
    """Parsed linear constraints of a portfolio: bounds, group limits, budget and gross exposure.

    ``lower`` / ``upper`` may hold -inf / +inf (no bound). The budget is ``1'w = budget``
    (1 for a fully invested portfolio, 0 for a market-neutral one); ``gross`` caps
    ``sum |w_i|`` when not None.
    """

    assets: pd.Index
    lower: np.ndarray
    upper: np.ndarray
    group_names: list[str]
    group_matrix: np.ndarray  # (n_groups, n_assets) of 0/1
    group_lower: np.ndarray
    group_upper: np.ndarray
    budget: float = 1.0
    gross: float | None = None

    @property
    def n(self) -> int:
        return len(self.assets)

    @property
    def long_only(self) -> bool:
        return bool((self.lower >= 0).all())

    @property
    def bounded(self) -> bool:
        """True when every weight is bounded (finite bounds, or a gross-exposure cap)."""
        return self.gross is not None or bool(np.isfinite(self.lower).all() and np.isfinite(self.upper).all())

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(A, lo, hi)`` of the general rows: the budget first, then the groups."""
        a = np.vstack([np.ones((1, self.n)), self.group_matrix])
        lo = np.concatenate([[self.budget], self.group_lower])
        hi = np.concatenate([[self.budget], self.group_upper])
        return a, lo, hi

    def tol(self, w: np.ndarray | None = None) -> float:
        """Absolute weight tolerance: :data:`WEIGHT_TOL` times ``max(1, |budget|, sum |w|)``."""
        size = max(1.0, abs(self.budget), float(np.abs(w).sum()) if w is not None else 0.0)
        return WEIGHT_TOL * size


def _pair(value: Any, *, name: str) -> tuple[Any, Any]:
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return value[0], value[1]
    raise ParameterError(
        f"`{name}` must be a pair (lower, upper) such as (0, 1), (0.0, 0.3) or (None, None) for no "
        f"bound, got {value!r}."
    )


def _number(value: Any, *, name: str, missing: float) -> float:
    """Return a bound: a real number, +-inf, or None (no bound: ``missing``)."""
    if value is None:
        return missing
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(
            f"`{name}` must be a number, +-inf or None (no bound), got {value!r}. Per-asset bounds are "
            f"a Series or dict of numbers."
        )
    v = float(value)
    if np.isnan(v):
        raise ParameterError(f"`{name}` is NaN; use None, -np.inf or np.inf for no bound.")
    return v


def _side(value: Any, assets: pd.Index, *, name: str, missing: float) -> np.ndarray:
    if isinstance(value, (pd.Series, dict)):
        ser = pd.Series(value, dtype="object") if isinstance(value, dict) else value
        ser = check_aligned(ser, assets, name=name)
        return np.array([_number(v, name=f"{name}[{k!r}]", missing=missing) for k, v in ser.items()], dtype="float64")
    return np.full(len(assets), _number(value, name=name, missing=missing))


def parse_bounds(bounds: Bounds, assets: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Return per-asset ``(lower, upper)`` arrays from any accepted form of ``bounds``.

    A side that is None (or -inf / +inf) means no bound; ``bounds=None`` as a whole means
    the long-only default ``(0, 1)``.
    """
    n = len(assets)
    if bounds is None:
        bounds = (0.0, 1.0)
    if isinstance(bounds, (dict, pd.Series)) and len(bounds) > 0 and all(
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
        for p, (k, v) in zip(pos, bounds.items(), strict=True):
            lo, hi = _pair(v, name=f"bounds[{k!r}]")
            lower[p] = _number(lo, name=f"bounds[{k!r}][0]", missing=-np.inf)
            upper[p] = _number(hi, name=f"bounds[{k!r}][1]", missing=np.inf)
    else:
        lo, hi = _pair(bounds, name="bounds")
        lower = _side(lo, assets, name="bounds[0] (lower)", missing=-np.inf)
        upper = _side(hi, assets, name="bounds[1] (upper)", missing=np.inf)
    if np.isposinf(lower).any() or np.isneginf(upper).any():
        raise ParameterError("`bounds`: a lower bound of +inf or an upper bound of -inf leaves no weight possible.")
    bad = np.flatnonzero(lower > upper)
    if bad.size:
        i = bad[0]
        raise InfeasibleError(
            f"`bounds` of asset {assets[i]!r} are empty: lower {lower[i]:g} > upper {upper[i]:g}. "
            f"Give every asset lower <= upper."
        )
    return lower, upper


def _fsum(values: np.ndarray) -> float:
    """Correctly rounded sum (so that e.g. ten bounds of 0.1 sum to exactly 1)."""
    return math.fsum(values.tolist())


def parse_constraints(
    assets: pd.Index,
    bounds: Bounds = (0.0, 1.0),
    groups: Mapping[Any, Any] | pd.Series | None = None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
    *,
    budget: float = 1.0,
    gross_exposure: float | None = None,
) -> Constraints:
    r"""Parse the constraints of a portfolio and decide exactly whether any portfolio meets them.

    Raises :class:`InfeasibleError` naming the constraint when no portfolio can meet
    them all: asset bounds summing to more (less) than the budget, a group whose bounds
    cannot be met by its assets' bounds, group bounds whose totals cannot reach the
    budget, or a gross-exposure cap below the least gross exposure the other constraints
    allow. Groups partition the assets (each asset in at most one group), so these
    checks are exact: the feasible totals of group :math:`g` form the interval
    :math:`[\max(L_g, \sum_{i\in g} l_i), \min(U_g, \sum_{i\in g} u_i)]` and the budget
    must lie in the sum of these intervals (sums correctly rounded, tolerance
    :data:`WEIGHT_TOL`). The least gross exposure is a linear programme (HiGHS).
    """
    assets = pd.Index(assets)
    if isinstance(groups, pd.DataFrame):  # several groupings (e.g. sectors and pools)
        return parse_grouped_constraints(assets, bounds, groups, group_bounds)
    lower, upper = parse_bounds(bounds, assets)
    budget = _check_budget(budget)
    tol = WEIGHT_TOL * max(1.0, abs(budget))
    if _fsum(np.where(np.isfinite(lower), lower, 0.0)) > budget + tol and np.isfinite(lower).all():
        raise InfeasibleError(
            f"`bounds`: the lower bounds sum to {_fsum(lower):.6g} > {budget:g} (the budget), so no portfolio "
            f"meets them. Lower some minimum weights."
        )
    if np.isfinite(upper).all() and _fsum(upper) < budget - tol:
        raise InfeasibleError(
            f"`bounds`: the upper bounds sum to {_fsum(upper):.6g} < {budget:g} (e.g. {len(assets)} assets x max "
            f"{upper.max():.6g}), so the weights cannot sum to {budget:g}. Raise the maximum weight to at least "
            f"{budget / len(assets):.6g}."
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
            lo_, hi_ = _pair(pair, name=f"group_bounds[{g!r}]")
            lo = _number(lo_, name=f"group_bounds[{g!r}][0]", missing=-np.inf)
            hi = _number(hi_, name=f"group_bounds[{g!r}][1]", missing=np.inf)
            member = (labels == g).to_numpy()
            cap_lo, cap_hi = _fsum(lower[member]), _fsum(upper[member])
            if lo > hi:
                raise InfeasibleError(f"`group_bounds[{g!r}]` is empty: lower {lo:g} > upper {hi:g}.")
            if lo > cap_hi + tol:
                raise InfeasibleError(
                    f"`group_bounds[{g!r}]` asks for at least {lo:g} but its assets' upper bounds sum to "
                    f"{cap_hi:.6g}. Lower the group minimum or raise its assets' maximum weights."
                )
            if hi < cap_lo - tol:
                raise InfeasibleError(
                    f"`group_bounds[{g!r}]` allows at most {hi:g} but its assets' lower bounds sum to "
                    f"{cap_lo:.6g}. Raise the group maximum or lower its assets' minimum weights."
                )
            rows.append(member.astype("float64"))
            los.append(lo)
            his.append(hi)
            names.append(g)
        gmat = np.vstack(rows) if rows else gmat
        glo, ghi = np.array(los, dtype="float64"), np.array(his, dtype="float64")
        # exact total check: groups partition the assets (ungrouped assets keep their own bounds)
        tot_lo, tot_hi = _group_totals(lower, upper, gmat, glo, ghi)
        if tot_hi < budget - tol:
            raise InfeasibleError(
                f"`group_bounds`: the group maxima {dict(zip(names, his, strict=True))} (with the asset bounds) "
                f"allow at most {tot_hi:.6g} in total, less than the budget {budget:g}. Raise a group maximum or "
                f"the asset bounds."
            )
        if tot_lo > budget + tol:
            raise InfeasibleError(
                f"`group_bounds`: the group minima {dict(zip(names, los, strict=True))} (with the asset bounds) "
                f"require at least {tot_lo:.6g} in total, more than the budget {budget:g}. Lower a group minimum."
            )
    elif group_bounds:
        raise ParameterError("`group_bounds` is given without `groups`; pass groups={asset: group_name}.")
    gross = _check_gross(gross_exposure, budget)
    cons = Constraints(assets, lower, upper, names, gmat, glo, ghi, budget, gross)
    if gross is not None:
        least = least_gross_exposure(cons)
        if least > gross + WEIGHT_TOL * max(1.0, gross):
            raise InfeasibleError(
                f"`gross_exposure` {gross:g} is below the least gross exposure sum |w_i| = {least:.6g} that the "
                f"bounds, groups and budget allow. Raise `gross_exposure` or relax the bounds."
            )
    return cons


def _group_totals(
    lower: np.ndarray, upper: np.ndarray, gmat: np.ndarray, glo: np.ndarray, ghi: np.ndarray
) -> tuple[float, float]:
    """Least and greatest budget a partition into groups allows (correctly rounded sums)."""
    member_any = gmat.sum(axis=0) > 0
    cap_lo = np.array([_fsum(lower[row > 0]) for row in gmat]) if gmat.size else np.zeros(0)
    cap_hi = np.array([_fsum(upper[row > 0]) for row in gmat]) if gmat.size else np.zeros(0)
    tot_lo = _fsum(np.concatenate([np.maximum(glo, cap_lo), lower[~member_any]]))
    tot_hi = _fsum(np.concatenate([np.minimum(ghi, cap_hi), upper[~member_any]]))
    return tot_lo, tot_hi


def _check_budget(budget: object) -> float:
    if isinstance(budget, bool) or not isinstance(budget, numbers.Real) or not math.isfinite(float(budget)):
        raise ParameterError(
            f"`budget` must be a finite number (1 = fully invested, 0 = market-neutral), got {budget!r}."
        )
    return float(budget)


def _check_gross(gross: object, budget: float) -> float | None:
    if gross is None:
        return None
    if isinstance(gross, bool) or not isinstance(gross, numbers.Real) or not math.isfinite(float(gross)) or float(gross) <= 0:
        raise ParameterError(
            f"`gross_exposure` must be a positive finite number (the cap on sum |w_i|, e.g. 2 for 100 % long "
            f"and 100 % short), got {gross!r}."
        )
    if gross < abs(budget) - WEIGHT_TOL * max(1.0, abs(budget)):
        raise InfeasibleError(
            f"`gross_exposure` {gross:g} is below |budget| = {abs(budget):g}: the weights sum to the budget, so "
            f"their absolute values sum to at least that. Raise `gross_exposure`."
        )
    return float(gross)


def least_gross_exposure(cons: Constraints) -> float:
    r"""Least :math:`\sum_i |w_i|` over the bounds, groups and budget (an LP in :math:`w = p - q`)."""
    n = cons.n
    pos_hi = np.maximum(cons.upper, 0.0)
    neg_hi = np.maximum(-cons.lower, 0.0)
    lo_p = np.maximum(cons.lower, 0.0)
    lo_q = np.maximum(-cons.upper, 0.0)
    c = np.ones(2 * n)
    split = np.hstack([np.eye(n), -np.eye(n)])
    a_eq = np.ones((1, 2 * n)) * np.concatenate([np.ones(n), -np.ones(n)])
    a_ub, b_ub = [], []
    for k in range(len(cons.group_names)):
        row = cons.group_matrix[k] @ split
        if np.isfinite(cons.group_upper[k]):
            a_ub.append(row)
            b_ub.append(cons.group_upper[k])
        if np.isfinite(cons.group_lower[k]):
            a_ub.append(-row)
            b_ub.append(-cons.group_lower[k])
    x = solve_lp(
        c,
        np.concatenate([lo_p, lo_q]),
        np.concatenate([pos_hi, neg_hi]),
        a_ub=np.array(a_ub) if a_ub else None,
        b_ub=np.array(b_ub) if b_ub else None,
        a_eq=a_eq,
        b_eq=np.array([cons.budget]),
        what="the least gross exposure",
    )
    return float(x.sum())


def qp_constraints(cons: Constraints) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bounds and rows ``(lower, upper, A, a_lo, a_hi)`` to hand to the QP solver.

    When the budget can only be met with every group (or asset) at one extreme - the
    upper (lower) bounds or group maxima (minima) sum to the budget within
    :data:`WEIGHT_TOL` - those sides are pinned and the budget row, then implied, is
    dropped: no solver is asked to find a point in a set of (almost) zero width, such as
    bounds ``(0, 1/n)`` where only equal weights fit.
    """
    tol = WEIGHT_TOL * max(1.0, abs(cons.budget))
    lower, upper = cons.lower.copy(), cons.upper.copy()
    a, a_lo, a_hi = cons.rows()
    gm = cons.group_matrix
    member_any = gm.sum(axis=0) > 0 if gm.size else np.zeros(cons.n, dtype=bool)
    tot_lo, tot_hi = _group_totals(lower, upper, gm, cons.group_lower, cons.group_upper)
    for side, total in (("hi", tot_hi), ("lo", tot_lo)):
        if not (np.isfinite(total) and abs(total - cons.budget) <= tol):
            continue
        bound = upper if side == "hi" else lower
        for k, row in enumerate(gm):
            member = row > 0
            cap = _fsum(bound[member])
            limit = cons.group_upper[k] if side == "hi" else cons.group_lower[k]
            if (side == "hi" and cap <= limit) or (side == "lo" and cap >= limit):
                lower[member] = upper[member] = bound[member]
            else:
                a_lo[1 + k] = a_hi[1 + k] = limit
        lower[~member_any] = upper[~member_any] = bound[~member_any]
        keep = np.arange(a.shape[0]) != 0
        return lower, upper, a[keep], a_lo[keep], a_hi[keep]
    return lower, upper, a, a_lo, a_hi


#: Side of the square tiles in which the symmetry of a covariance is checked.
ASYMMETRY_TILE = 256


def _asymmetry(mat: np.ndarray) -> float:
    """Largest :math:`|a_{ij} - a_{ji}|`, by square tiles of the upper triangle against their mirrors.

    A tile of ``ASYMMETRY_TILE`` rows and columns (512 kB) and its mirror stay in the cache
    while the mirror is read across the grain: 2.4 to 10 times as fast as whole row blocks
    against their transposed columns (at N = 5000 to 500), with no n × n temporary.
    """
    n = mat.shape[0]
    t = ASYMMETRY_TILE
    out = 0.0
    for i in range(0, n, t):
        for j in range(i, n, t):
            out = max(out, float(np.abs(mat[i : i + t, j : j + t] - mat[j : j + t, i : i + t].T).max(initial=0.0)))
    return out


def cov_array(cov: Any, *, name: str = "cov", gram: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    r"""Check ``cov`` and return it with its float array.

    Fast path: labels, finiteness and symmetry are checked directly and positive
    semi-definiteness by a Cholesky factorisation of :math:`\Sigma + 10^{-10}\,\bar\sigma^2 I`
    (which succeeds only if the smallest eigenvalue exceeds about :math:`-10^{-10}\bar\sigma^2`);
    any failure goes to the full shared check, which names the problem. ``gram=True``: ``cov``
    was just estimated by poolkit from returns as a weighted sum of outer products of the
    returns, or a shrinkage of one towards :math:`\mu I` (``GRAM_METHODS``), positive
    semi-definite by construction: the factorisation is skipped (at N = 2000 it is 80 ms),
    the other checks are not.
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
        if mat is not None:
            lo, hi = float(mat.min()), float(mat.max())  # NaN and infinities carry into the extremes
        if mat is not None and np.isfinite(lo) and np.isfinite(hi):
            from scipy.linalg import LinAlgError, cho_factor

            from poolkit.allocation._linalg import _fortran

            diag = np.diag(mat).copy()
            scale = max(1.0, hi, -lo)
            asym = _asymmetry(mat)
            if (diag >= 0).all() and asym <= 1e-10 * scale:
                if asym > 0:
                    mat = (mat + mat.T) / 2.0
                proven = gram
                if not proven:
                    work = mat.copy(order="K")  # its own layout: a straight copy, not a transposing one
                    work[np.diag_indices_from(work)] += 1e-10 * max(float(diag.mean()), 1e-300)
                    try:
                        cho_factor(_fortran(work), lower=True, overwrite_a=True, check_finite=False)  # in place
                        proven = True
                    except LinAlgError:
                        pass
                if proven:  # the frame shares the checked array (already a private copy)
                    return pd.DataFrame(mat, index=cov.index.copy(), columns=cov.columns.copy(), copy=False), mat
    frame = check_covariance(cov, name=name)
    return frame, frame.to_numpy()


def vector(values: Any, assets: pd.Index, *, name: str) -> np.ndarray:
    """Return a per-asset vector aligned with ``assets`` (Series or dict)."""
    return check_aligned(values, assets, name=name).to_numpy(dtype="float64")


# ---------------------------------------------------------------------------------------------
# solvers


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
    what: str = "the allocation",
) -> np.ndarray:
    r"""Solve :math:`\min \tfrac12 x^\top H x + f^\top x` s.t. bounds and ``a_lo <= A x <= a_hi``; return x.

    A thin front of :func:`poolkit.allocation._qp.solve_qp` (the active-set /
    interior-point engine, every answer KKT-verified). Rows whose two sides are equal
    are equalities; ``n_eq`` forces the first ``n_eq`` rows to be equalities at
    ``a_lo``. Bounds may be infinite. Raises
    :class:`InfeasibleError` when the problem has no finite optimum because the
    objective is unbounded below, :class:`SolverError` when no verified solution is
    found.
    """
    a = np.asarray(a, dtype="float64").reshape(-1, len(f))
    a_lo = np.asarray(a_lo, dtype="float64").copy()
    a_hi = np.asarray(a_hi, dtype="float64").copy()
    a_hi[:n_eq] = a_lo[:n_eq]
    try:
        return _qp.solve_qp(h, f, lower, upper, a, a_lo, a_hi, what=what).x
    except _qp.UnboundedQP:
        raise InfeasibleError(f"{what} has no finite optimum (the objective is unbounded below).") from None


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
    """Solve ``min c'x`` with HiGHS (scipy.optimize.linprog); raise a named error on failure.

    Bounds may be infinite. An unbounded LP raises :class:`UnboundedError`.
    """
    from scipy.optimize import linprog

    cmax = float(np.abs(c).max(initial=0.0))
    res = linprog(
        c / cmax if cmax > 0 else c,  # unit-scaled objective: HiGHS stalls on tiny coefficients
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=np.column_stack([np.where(np.isfinite(c_lo), c_lo, -np.inf), np.where(np.isfinite(c_hi), c_hi, np.inf)]),
        method=method,
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if res.status == 2:
        raise InfeasibleError(f"No portfolio meets every constraint of {what}; relax the bounds or targets.")
    if res.status == 3:
        raise UnboundedError(f"{what} is unbounded: the constraints let it grow without limit.")
    if res.status != 0 or res.x is None:
        raise SolverError(f"The LP solver (HiGHS) failed on {what}: {res.message}")
    return np.asarray(res.x, dtype="float64")


def constraint_lp_rows(cons: Constraints) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(A_ub, b_ub, A_eq, b_eq)`` of the group rows and the budget for linprog (finite sides only)."""
    up = np.isfinite(cons.group_upper)
    lo = np.isfinite(cons.group_lower)
    a_ub = np.vstack([cons.group_matrix[up], -cons.group_matrix[lo], np.zeros((0, cons.n))])
    b_ub = np.concatenate([cons.group_upper[up], -cons.group_lower[lo]])
    return a_ub, b_ub, np.ones((1, cons.n)), np.array([cons.budget])


def max_return(mu: np.ndarray, cons: Constraints) -> tuple[float, np.ndarray]:
    """Highest expected return a feasible portfolio reaches (an LP), and that portfolio.

    With asset bounds only (and no gross-exposure cap), the LP is solved exactly by
    filling the assets from the highest expected return down (a fractional knapsack);
    otherwise by HiGHS (weights split into long and short parts under a gross cap).
    Returns ``(inf, ...)`` when the return is unbounded (infinite bounds).
    """
    lower, upper, a, a_lo, a_hi = qp_constraints(cons)
    if cons.gross is None and a.shape[0] <= 1:
        if not (np.isfinite(lower).all() and np.isfinite(upper).all()):
            return _max_return_lp(mu, cons)
        order = np.argsort(-mu, kind="stable")
        room = (upper - lower)[order]
        budget = cons.budget - _fsum(lower)
        before = np.cumsum(room) - room
        x = lower.copy()
        x[order] += np.clip(budget - before, 0.0, room)
        return float(mu @ x), x
    return _max_return_lp(mu, cons)


def _max_return_lp(mu: np.ndarray, cons: Constraints) -> tuple[float, np.ndarray]:
    n = cons.n
    a_ub, b_ub, a_eq, b_eq = constraint_lp_rows(cons)
    if cons.gross is None:
        try:
            x = solve_lp(-mu, cons.lower, cons.upper, a_ub=a_ub if a_ub.size else None,
                         b_ub=b_ub if a_ub.size else None, a_eq=a_eq, b_eq=b_eq, what="the highest-return portfolio")
        except UnboundedError:
            return np.inf, np.full(n, np.nan)
        return float(mu @ x), x
    split = np.hstack([np.eye(n), -np.eye(n)])
    rows = [r @ split for r in a_ub] + [np.ones(2 * n)]
    rhs = np.concatenate([b_ub, [cons.gross]])
    x2 = solve_lp(
        np.concatenate([-mu, mu]),
        np.concatenate([np.maximum(cons.lower, 0.0), np.maximum(-cons.upper, 0.0)]),
        np.concatenate([np.maximum(cons.upper, 0.0), np.maximum(-cons.lower, 0.0)]),
        a_ub=np.vstack(rows),
        b_ub=rhs,
        a_eq=a_eq @ split,
        b_eq=b_eq,
        what="the highest-return portfolio",
    )
    x = x2[:n] - x2[n:]
    return float(mu @ x), x


# ---------------------------------------------------------------------------------------------
# final checks


def finalize(x: np.ndarray, cons: Constraints, *, name: str, what: str) -> pd.Series:
    """Turn a solution into weights: clip rounding-level bound violations, restore the budget, re-check.

    Raises :class:`SolverError` if the solution is off by more than rounding, so a
    returned Series always meets the budget, the bounds, the group limits and the
    gross-exposure cap within :data:`WEIGHT_TOL` (relative to ``max(1, |budget|, sum |w|)``).
    """
    w = np.asarray(x, dtype="float64").copy()
    if w.shape != (cons.n,) or not np.isfinite(w).all():
        raise SolverError(f"{what} produced missing or infinite weights; check the covariance and inputs.")
    scale = cons.tol(w) / WEIGHT_TOL
    viol = max(float(np.max(cons.lower - w)), float(np.max(w - cons.upper)), abs(float(w.sum()) - cons.budget))
    if viol > 1e-6 * scale:
        raise SolverError(f"{what} produced weights that break a bound or the budget by {viol:.2e}.")
    w = np.clip(w, cons.lower, cons.upper)
    for _ in range(3):
        gap = cons.budget - _fsum(w)
        if abs(gap) <= 1e-15 * scale:
            break
        room = (cons.upper - w) if gap > 0 else (w - cons.lower)
        room = np.where(np.isfinite(room), room, 1.0)
        if room.sum() <= 0:
            break
        w = np.clip(w + gap * room / room.sum(), cons.lower, cons.upper)
    if cons.gross is not None:
        w = _within_gross(w, cons.gross, cons.budget, 1e-6 * scale)
    check_weights(w, cons, what=what)
    return pd.Series(w, index=cons.assets.copy(), name=name)


def _within_gross(w: np.ndarray, cap: float, budget: float, slack: float) -> np.ndarray:
    r"""Bring a rounding-level excess of :math:`\sum_i |w_i|` over ``cap`` back to the cap, keeping the budget.

    The long part :math:`P = \sum_i w_i^+` and the short part :math:`Q = \sum_i w_i^-` are
    scaled by :math:`a = (L + b) / 2P` and :math:`c = (L - b) / 2Q`, so :math:`aP - cQ = b`
    (the budget) and :math:`aP + cQ = L` (the cap). Only an excess up to ``slack`` is
    repaired (and only by shrinking); anything larger is left for :func:`check_weights` to refuse.
    """
    pos = np.maximum(w, 0.0)
    neg = np.maximum(-w, 0.0)
    p_sum, q_sum = _fsum(pos), _fsum(neg)
    excess = p_sum + q_sum - cap
    if not 0.0 < excess <= slack or p_sum <= 0.0 or q_sum <= 0.0:
        return w
    a = (cap + budget) / (2.0 * p_sum)
    c = (cap - budget) / (2.0 * q_sum)
    if not (0.0 < a <= 1.0 and 0.0 < c <= 1.0):
        return w
    return pos * a - neg * c


def check_weights(w: np.ndarray, cons: Constraints, *, what: str) -> None:
    """Raise :class:`SolverError` unless ``w`` meets the budget, bounds, groups and gross cap (:data:`WEIGHT_TOL`)."""
    if not np.isfinite(w).all():
        raise SolverError(f"{what} produced missing or infinite weights.")
    tol = cons.tol(w)
    if abs(_fsum(w) - cons.budget) > tol:
        raise SolverError(f"{what} produced weights summing to {w.sum():.12g}, not {cons.budget:g}.")
    if (w < cons.lower - tol).any() or (w > cons.upper + tol).any():
        raise SolverError(f"{what} produced weights outside the bounds.")
    if cons.group_names:
        g = cons.group_matrix @ w
        if (g < cons.group_lower - tol).any() or (g > cons.group_upper + tol).any():
            raise SolverError(f"{what} produced weights that break a group bound.")
    if cons.gross is not None and _fsum(np.abs(w)) > cons.gross + tol:
        raise SolverError(f"{what} produced weights of gross exposure {np.abs(w).sum():.12g} > {cons.gross:g}.")


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


r"""The smallest relative change that brings a rule's weights inside the constraints.

Rules that do not optimise (equal weights, inverse volatility or variance, the hierarchical
methods, the two-level pool of pools) produce target weights :math:`\tilde w > 0` that may
break a mandate. They all meet it the same way: by the feasible portfolio closest to
:math:`\tilde w` in relative terms,

.. math:: w = \arg\min_{w \in \Omega,\ \mathbf 1^\top w = 1} \;
          \sum_i \frac{(w_i - \tilde w_i)^2}{\tilde w_i} ,

a chi-square distance. Its KKT conditions give :math:`w_i = \tilde w_i\,(\kappa - \nu_i)`: every
asset at none of its bounds and in no group at a bound is scaled by the same factor
:math:`\kappa`, so the ratios between unconstrained weights are kept (what is taken from a
capped asset is shared in proportion to the others' weights). With asset bounds only the
solution is :math:`w_i = \min(\max(\kappa \tilde w_i, l_i), u_i)` with :math:`\kappa` such that
the weights sum to 1, found exactly from the sorted breakpoints; with group bounds it is a
quadratic programme solved by the shared QP layer.
"""

from __future__ import annotations

import numpy as np

from poolkit.allocation._core import WEIGHT_TOL, Constraints, solve_qp
from poolkit.exceptions import InfeasibleError

__all__ = ["project", "scale_and_clip"]


def scale_and_clip(target: np.ndarray, lower: np.ndarray, upper: np.ndarray, total: float = 1.0) -> np.ndarray:
    r"""Return :math:`\min(\max(\kappa\,t_i, l_i), u_i)` summing to ``total`` (``t > 0``; :math:`\sum l \le` total :math:`\le \sum u`).

    The sum is piecewise linear and non-decreasing in :math:`\kappa`, with breakpoints at
    :math:`l_i/t_i` and :math:`u_i/t_i`; the segment holding ``total`` is found by sorting
    them, and :math:`\kappa` solved on it in closed form.

    Examples
    --------
    >>> scale_and_clip(np.array([0.5, 0.3, 0.2]), np.zeros(3), np.full(3, 0.4)).round(4).tolist()
    [0.4, 0.36, 0.24]
    """
    t = np.asarray(target, dtype="float64")
    lo = np.asarray(lower, dtype="float64")
    hi = np.asarray(upper, dtype="float64")
    if t.size == 0:
        return t.copy()
    # S(k) = sum clip(k t_i, l_i, u_i): slope t_i between l_i / t_i and u_i / t_i
    a = lo / t
    bnd = hi / t
    fin = np.isfinite(bnd)
    kinks = np.concatenate([a, bnd[fin]])
    dslope = np.concatenate([t, -t[fin]])
    order = np.argsort(kinks, kind="stable")
    kinks, dslope = kinks[order], dslope[order]
    slope = np.cumsum(dslope)  # slope just after each kink
    s_at = lo.sum() + np.concatenate([[0.0], np.cumsum(slope[:-1] * np.diff(kinks))])  # S at each kink
    j = int(np.searchsorted(s_at, total, side="right")) - 1
    if j < 0:
        kappa = float(kinks[0])
    elif slope[j] > 0:
        kappa = float(kinks[j] + (total - s_at[j]) / slope[j])
    else:
        kappa = float(kinks[j])
    w = np.clip(kappa * t, lo, hi)
    gap = total - w.sum()
    if gap != 0.0:  # rounding: land exactly on the total among the free assets
        free = (w > lo) & (w < hi)
        if free.any():
            w[free] += gap * t[free] / t[free].sum()
    return w


def project(target: np.ndarray, cons: Constraints, *, what: str) -> np.ndarray:
    """Return the feasible weights closest to ``target`` in the chi-square sense (see the module).

    ``target`` must be positive. Raises :class:`InfeasibleError` when no portfolio meets the
    constraints (the parser has already named a single constraint that cannot hold).
    """
    t = np.asarray(target, dtype="float64")
    t = t / t.sum()
    if _inside(t, cons):
        return t
    w = scale_and_clip(t, cons.lower, cons.upper)
    if not cons.group_names or _inside(w, cons):
        return w
    a, lo, hi = cons.rows()
    try:
        x = solve_qp(
            np.diag(1.0 / t), -np.ones(t.size), cons.lower, cons.upper, a, lo, hi, n_eq=1,
            what=f"{what} (the closest weights that meet the constraints)",
        )
    except InfeasibleError as exc:
        raise InfeasibleError(
            f"{what}: no portfolio meets the bounds and group bounds together: {exc} Relax a group bound "
            f"or an asset bound."
        ) from exc
    return np.asarray(x)


def within_limits(w: np.ndarray, cons: Constraints) -> bool:
    """Tell whether ``w`` meets the asset bounds and group bounds within :data:`WEIGHT_TOL` (not the budget)."""
    if (w < cons.lower - WEIGHT_TOL).any() or (w > cons.upper + WEIGHT_TOL).any():
        return False
    if cons.group_names:
        g = cons.group_matrix @ w
        if (g < cons.group_lower - WEIGHT_TOL).any() or (g > cons.group_upper + WEIGHT_TOL).any():
            return False
    return True


def _inside(w: np.ndarray, cons: Constraints) -> bool:
    return abs(w.sum() - 1.0) <= WEIGHT_TOL and within_limits(w, cons)

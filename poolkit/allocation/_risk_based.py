r"""Heuristic and risk-based weights: value, equal, inverse volatility/variance, risk parity.

The heuristics take the same constraints as the optimisers: their rule gives target weights
:math:`\tilde w`, and when those break a bound or a group bound the closest feasible weights
in relative terms are returned, :math:`\min_w \sum_i (w_i - \tilde w_i)^2/\tilde w_i`
(:mod:`poolkit.allocation._projection`): with asset bounds only,
:math:`w_i = \min(\max(\kappa\tilde w_i, l_i), u_i)`, so the assets that no bound stops keep
the rule's ratios.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from poolkit._numerics import (
    asset_volatilities,
)
from poolkit.allocation._core import (
    Bounds,
    cov_array,
    finalize,
    parse_constraints,
)
from poolkit.exceptions import CovarianceError, ParameterError

__all__ = [
    "equal_weights",
    "inverse_variance",
    "inverse_volatility",
    "risk_parity",
    "value_weights",
]

#: Largest relative risk-contribution error accepted from :func:`risk_parity`.
RC_TOL = 1e-10


def value_weights(values: pd.Series | Mapping[Any, float]) -> pd.Series:
    r"""Weight each asset by its value: :math:`w_i = V_i / \sum_j V_j`.

    Parameters
    ----------
    values : Series or dict of shape (n_assets,)
        Market (or book) value of each holding, indexed by asset; non-negative, not all zero.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"value"``, summing to 1.

    Raises
    ------
    ParameterError
        If a value is negative, missing or infinite, or all are zero.

    Notes
    -----
    .. math:: w_i = \frac{V_i}{\sum_{j=1}^{n} V_j}

    is the capitalisation (value) weighting of an asset pool: what a holder of
    every asset in proportion to its size owns.

    References
    ----------
    .. [1] Sharpe, W. F. (1991). The arithmetic of active management. Financial Analysts
           Journal 47(1), 7-9.

    Examples
    --------
    >>> value_weights({"A": 300.0, "B": 100.0}).tolist()
    [0.75, 0.25]
    """
    ser = pd.Series(values, dtype="float64") if isinstance(values, Mapping) else values
    if not isinstance(ser, pd.Series):
        raise TypeError(f"`values` must be a Series or dict indexed by asset, got {type(values).__name__}.")
    v = ser.to_numpy(dtype="float64")
    if v.size == 0:
        raise ParameterError("`values` is empty; give one value per asset.")
    if not np.isfinite(v).all() or (v < 0).any():
        bad = ser.index[~np.isfinite(v) | (v < 0)].tolist()
        raise ParameterError(f"`values` must be finite and non-negative; check {bad}.")
    if v.sum() <= 0:
        raise ParameterError("`values` are all zero; at least one asset must have a positive value.")
    w = v / v.sum()  # sums to 1 within n * machine epsilon
    return pd.Series(w, index=ser.index.copy(), name="value")


def _constrained_rule(
    target: np.ndarray,
    assets: pd.Index,
    name: str,
    bounds: Bounds,
    groups: Mapping[Any, Any] | pd.Series | pd.DataFrame | None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None,
) -> pd.Series:
    """Weights of a rule's positive ``target`` within the constraints (closest in relative terms)."""
    from poolkit.allocation._projection import project

    cons = parse_constraints(assets, bounds, groups, group_bounds)
    w = project(target, cons, what=name)
    return finalize(w, cons, name=name, what=name)


def equal_weights(
    assets: Iterable[Any] | pd.Index | pd.DataFrame,
    *,
    bounds: Bounds = (0.0, 1.0),
    groups: Mapping[Any, Any] | pd.Series | pd.DataFrame | None = None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
) -> pd.Series:
    r"""Weight every asset equally: :math:`w_i = 1/N`, or as equally as the constraints allow.

    Parameters
    ----------
    assets : iterable of asset names, Index, or a DataFrame (its columns are used)
        The assets of the pool.
    bounds, groups, group_bounds
        Constraints, as in :func:`min_variance`.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"equal"``.

    Raises
    ------
    ParameterError
        If there is no asset or a name repeats.
    InfeasibleError
        If the constraints cannot all hold (the message names which).

    Notes
    -----
    .. math:: w_i = 1/N

    The naive diversification that DeMiguel et al. found hard to beat out of sample:
    it estimates nothing, so it has no estimation error, but ignores risk differences.
    Under constraints the weights are the feasible ones closest to :math:`1/N`
    (:math:`\min \sum_i (w_i - 1/N)^2`): capped assets sit at their cap and the others
    share the rest equally.

    References
    ----------
    .. [1] DeMiguel, V., Garlappi, L., Uppal, R. (2009). Optimal versus naive diversification:
           how inefficient is the 1/N portfolio strategy? Rev. Financial Studies 22(5), 1915-1953.

    Examples
    --------
    >>> equal_weights(["A", "B", "C", "D"]).tolist()
    [0.25, 0.25, 0.25, 0.25]
    >>> equal_weights(["A", "B", "C"], bounds={"A": (0.5, 1.0)}).tolist()  # A at least half
    [0.5, 0.25, 0.25]
    """
    idx = pd.Index(assets.columns if isinstance(assets, pd.DataFrame) else list(assets))
    if len(idx) == 0:
        raise ParameterError("`assets` is empty; give at least one asset name.")
    if idx.duplicated().any():
        raise ParameterError(f"`assets` repeats {idx[idx.duplicated()].unique().tolist()}.")
    return _constrained_rule(np.full(len(idx), 1.0 / len(idx)), idx, "equal", bounds, groups, group_bounds)


def _positive_vars(frame: pd.DataFrame, s: np.ndarray, what: str) -> np.ndarray:
    var = np.diag(s).copy()
    if (var <= 0).any():
        bad = frame.columns[var <= 0].tolist()
        raise CovarianceError(f"{what}: asset(s) {bad} have zero variance; drop them (or use equal_weights).")
    return var


def inverse_volatility(
    cov: pd.DataFrame,
    *,
    bounds: Bounds = (0.0, 1.0),
    groups: Mapping[Any, Any] | pd.Series | pd.DataFrame | None = None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
) -> pd.Series:
    r"""Weight each asset by the inverse of its volatility, within the constraints.

    Parameters
    ----------
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns (only the diagonal is used).
    bounds, groups, group_bounds
        Constraints, as in :func:`min_variance`.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"inverse_volatility"``.

    Raises
    ------
    CovarianceError
        If an asset has zero variance or ``cov`` is invalid.
    InfeasibleError
        If the constraints cannot all hold (the message names which).

    Notes
    -----
    .. math:: w_i = \frac{1/\sigma_i}{\sum_j 1/\sigma_j}

    Every asset then contributes the same stand-alone volatility :math:`w_i\sigma_i`;
    it equals risk parity when all correlations are equal, and ignores correlations.
    Under constraints: the closest feasible weights in relative terms (module notes).

    References
    ----------
    .. [1] Maillard, S., Roncalli, T., Teiletche, J. (2010). The properties of equally weighted
           risk contribution portfolios. J. Portfolio Management 36(4), 60-70.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> inverse_volatility(cov).round(4).tolist()
    [0.3333, 0.6667]
    >>> inverse_volatility(cov, bounds=(0.0, 0.6)).round(4).tolist()
    [0.4, 0.6]
    """
    frame, s = cov_array(cov)
    _positive_vars(frame, s, "inverse_volatility")
    inv = 1.0 / asset_volatilities(s)
    return _constrained_rule(inv / inv.sum(), frame.columns.copy(), "inverse_volatility", bounds, groups,
                             group_bounds)


def inverse_variance(
    cov: pd.DataFrame,
    *,
    bounds: Bounds = (0.0, 1.0),
    groups: Mapping[Any, Any] | pd.Series | pd.DataFrame | None = None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
) -> pd.Series:
    r"""Weight each asset by the inverse of its variance, within the constraints.

    Parameters
    ----------
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns (only the diagonal is used).
    bounds, groups, group_bounds
        Constraints, as in :func:`min_variance`.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"inverse_variance"``.

    Raises
    ------
    CovarianceError
        If an asset has zero variance or ``cov`` is invalid.
    InfeasibleError
        If the constraints cannot all hold (the message names which).

    Notes
    -----
    .. math:: w_i = \frac{1/\sigma_i^2}{\sum_j 1/\sigma_j^2}

    the minimum-variance portfolio when assets are uncorrelated (and the intra-cluster
    allocation of hierarchical risk parity). Under constraints: the closest feasible
    weights in relative terms (module notes).

    References
    ----------
    .. [1] Lopez de Prado, M. (2016). Building diversified portfolios that outperform out of
           sample. J. Portfolio Management 42(4), 59-69.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> inverse_variance(cov).round(4).tolist()
    [0.2, 0.8]
    """
    frame, s = cov_array(cov)
    inv = 1.0 / _positive_vars(frame, s, "inverse_variance")
    return _constrained_rule(inv / inv.sum(), frame.columns.copy(), "inverse_variance", bounds, groups,
                             group_bounds)


def risk_parity(
    returns_or_cov: pd.DataFrame,
    budgets: pd.Series | Mapping[Any, float] | None = None,
    *,
    risk_measure: str = "variance",
    level: float = 0.95,
    cov_method: str = "sample",
    pools: pd.Series | Mapping[Any, Any] | None = None,
    pool_budgets: pd.Series | Mapping[Any, float] | None = None,
    bounds: Bounds = (0.0, 1.0),
    groups: Mapping[Any, Any] | pd.Series | pd.DataFrame | None = None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
    max_iter: int = 200,
) -> pd.Series:
    r"""Find the portfolio whose risk contributions match the risk budgets, within constraints.

    Parameters
    ----------
    returns_or_cov : DataFrame
        A covariance (assets x assets; a square frame whose index and columns hold the same
        labels, in any order) for ``risk_measure="variance"``, or returns (dates x assets,
        no NaN) for any measure (the covariance is then estimated with ``cov_method``).
    budgets : Series or dict of shape (n_assets,), optional
        Positive risk budget of each asset (normalised to sum to 1). None gives equal
        risk contribution (ERC). With ``pools`` they split each pool's share.
    risk_measure : {"variance", "semi_variance", "cvar", "cdar"}, default "variance"
        The risk that is budgeted (see Notes); the last three need returns.
    level : float, default 0.95
        Confidence level :math:`\beta` of CVaR and CDaR.
    cov_method : str, default "sample"
        Covariance estimator of :func:`poolkit.risk.covariance` when returns are given.
    pools : mapping asset -> pool, optional
        Pool of each asset, for ``pool_budgets``.
    pool_budgets : mapping pool -> float, optional
        Total risk share of each pool (normalised to sum to 1), split among its members in
        proportion to ``budgets`` (equally by default).
    bounds, groups, group_bounds
        Constraints, as in :func:`min_variance`. A lower bound at or below 0 never binds
        (risk budgeting holds every asset).
    max_iter : int, default 200
        Newton iterations allowed to the unconstrained variance solver.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"risk_parity"``, summing to 1, all positive,
        inside every bound and group bound.

    Raises
    ------
    ParameterError
        If a budget is not positive, a pool lacks a budget, or ``risk_measure`` is unknown
        or needs returns that were not given.
    InfeasibleError
        If the bounds or group bounds cannot all hold (the message names which), or if
        minimum weights leave no fully invested risk-budgeting portfolio.
    CovarianceError
        If an asset has no risk on its own, ``cov`` is invalid, or a long-only combination
        of the assets has zero risk (then no portfolio can match the budgets).
    SolverError
        If the solution does not verify (risk contributions, KKT conditions).

    Notes
    -----
    With a risk measure :math:`\rho` homogeneous of degree :math:`k` (2 for the
    variance :math:`w^\top\Sigma w` and the semi-variance below the mean, 1 for the
    historical CVaR and CDaR), the Euler risk contributions
    :math:`RC_i = \tfrac1k w_i\,\partial_i \rho(w)` sum to :math:`\rho(w)`. The budgeted
    portfolio solves :math:`RC_i = b_i\,\rho(w)`; without constraints it is the normalised
    minimiser of the strictly convex problem

    .. math:: \min_{w > 0} \; \tfrac1k \rho(w) - \sum_i b_i \ln w_i

    (Spinu 2013; in the correlation matrix for the variance, solved by Newton steps).
    Constraints :math:`\Omega` (bounds, group bounds) are not invariant to rescaling, so
    the constrained portfolio is defined, after Richard & Roncalli (2019), as

    .. math:: w^\star = \arg\min_{w \in \Omega} \; \tfrac1k \rho(w) - \lambda^\star \sum_i b_i \ln w_i
              \quad\text{with } \lambda^\star > 0 \text{ such that } \mathbf 1^\top w^\star = 1 ,

    solved by a primal-dual interior-point method that finds :math:`\lambda^\star` in the
    same run. Guarantees: the weights sum to 1 and meet every constraint; when no constraint
    binds, :math:`RC_i = b_i\,\rho(w)` exactly (it is then the unconstrained portfolio); when
    some bind, :math:`RC_i = \lambda^\star b_i - w_i\nu_i` with :math:`\nu_i` the multipliers
    of the constraints on asset :math:`i`, so every asset at no bound and in no group at a
    bound keeps a risk contribution proportional to its budget, and :math:`w^\star` is the
    optimum of the stated convex problem. The pool budgets set
    :math:`b_i = B_{k(i)}\, a_i / \sum_{j \in k(i)} a_j`, so a pool's total contribution is
    :math:`B_k\,\rho(w)` when no constraint binds. Each result is verified: the variance
    contributions to :math:`10^{-9}` relative, plus the rounding error of evaluating
    :math:`\Sigma w` (which grows with the condition number); the interior-point solutions
    by their KKT residuals.

    References
    ----------
    .. [1] Maillard, S., Roncalli, T., Teiletche, J. (2010). The properties of equally weighted
           risk contribution portfolios. J. Portfolio Management 36(4), 60-70.
    .. [2] Spinu, F. (2013). An algorithm for computing risk parity weights. SSRN 2297383.
    .. [3] Richard, J.-C., Roncalli, T. (2019). Constrained risk budgeting portfolios: theory,
           algorithms, applications & puzzles. arXiv:1902.05710.
    .. [4] Roncalli, T. (2013). *Introduction to Risk Parity and Budgeting*. Chapman & Hall.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> risk_parity(cov).round(4).tolist()  # uncorrelated: w ~ 1 / sigma
    [0.3333, 0.6667]
    >>> risk_parity(cov, bounds=(0.0, 0.6)).round(4).tolist()  # B capped: A takes the rest
    [0.4, 0.6]
    """
    from poolkit.allocation._budgeting import budget_vector, solve_risk_budgeting
    from poolkit.allocation._measures import risk_model

    model, _ = risk_model(returns_or_cov, risk_measure, level=level, cov_method=cov_method, what="risk_parity")
    cons = parse_constraints(model.assets, bounds, groups, group_bounds)
    b = budget_vector(model.assets, budgets, pools, pool_budgets)
    if model.n == 1:
        return finalize(np.ones(1), cons, name="risk_parity", what="risk_parity")
    if model.measure == "variance":
        _positive_vars(pd.DataFrame(model.data, index=model.assets, columns=model.assets), model.data, "risk_parity")
    w, _ = solve_risk_budgeting(model, b, cons, what="risk_parity", max_iter=max_iter)
    return finalize(w, cons, name="risk_parity", what="risk_parity")


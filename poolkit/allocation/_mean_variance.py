"""Mean-variance family: minimum variance, maximum Sharpe, targets, the efficient frontier, max diversification."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from poolkit._numerics import (
    asset_volatilities,
    per_period_rate,
    portfolio_volatility,
    resolve_periods_per_year,
)
from poolkit.allocation._core import (
    Bounds,
    Constraints,
    cov_array,
    finalize,
    max_return,
    parse_constraints,
    solve_qp,
    vector,
)
from poolkit.exceptions import CovarianceError, InfeasibleError, ParameterError

__all__ = [
    "efficient_frontier",
    "max_diversification",
    "max_sharpe",
    "mean_variance",
    "min_variance",
]


def _annual_stats(
    w: np.ndarray, mu: np.ndarray, s: np.ndarray, rf: float, periods_per_year: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Annualised return, volatility and Sharpe ratio of each weight column of ``w`` (assets x k).

    ``mu``, ``s`` and ``rf`` are per period; the Sharpe ratio is NaN for a zero-volatility column.
    """
    ret = mu @ w
    vol = portfolio_volatility(w, s)
    ppy = resolve_periods_per_year(periods_per_year, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = np.where(vol > 0, (ret - rf) / vol * np.sqrt(ppy), np.nan)
    return ret * ppy, vol * np.sqrt(ppy), sharpe


def _min_var_qp(
    s: np.ndarray,
    cons: Constraints,
    *,
    f: np.ndarray | None = None,
    min_return: tuple[np.ndarray, float] | None = None,
    start: np.ndarray | None = None,
    what: str,
) -> np.ndarray:
    """Minimise ``w'Sw/2 + f'w`` over the constraint set (optionally ``mu'w >= target``)."""
    a, lo, hi = cons.rows()
    if min_return is not None:
        mu, target = min_return
        a = np.vstack([a, mu[None, :]])
        lo = np.concatenate([lo, [target]])
        hi = np.concatenate([hi, [np.inf]])
    f = np.zeros(cons.n) if f is None else f
    priority = 1.0 / np.maximum(np.diag(s), 1e-300)
    return solve_qp(
        s, f, cons.lower, cons.upper, a, lo, hi, n_eq=1, start=start, priority=priority, what=what
    )


def _top(
    mu: np.ndarray, s: np.ndarray, cons: Constraints, best: float, x_lp: np.ndarray, *, what: str
) -> np.ndarray:
    """Least-variance portfolio among those of (almost) the highest expected return.

    The target sits a hair (1e-9 of the return range) below the LP optimum so that
    rounding cannot make it infeasible; if it still is, the LP vertex itself is used.
    """
    spread = max(abs(best), float(np.abs(mu).max()), 1e-300)
    try:
        return _min_var_qp(s, cons, min_return=(mu, best - 1e-9 * spread), start=x_lp, what=what)
    except InfeasibleError:
        return x_lp


def min_variance(
    cov: pd.DataFrame,
    *,
    bounds: Bounds = (0.0, 1.0),
    groups: Mapping[Any, Any] | pd.Series | None = None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
) -> pd.Series:
    r"""Find the fully invested portfolio of least variance.

    Parameters
    ----------
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, indexed and labelled by asset.
    bounds : pair or mapping, default (0, 1)
        Per-asset weight bounds: a pair ``(lower, upper)`` whose sides are numbers or
        per-asset Series/dicts, or a mapping ``asset -> (lower, upper)`` (assets left out
        keep ``(0, 1)``). ``(0, 1)`` is long-only; a negative lower bound allows shorts.
    groups : mapping asset -> group, optional
        Group membership (e.g. sector) of the assets that have one.
    group_bounds : mapping group -> (lower, upper), or a pair for every group, optional
        Bounds on the total weight of each group, e.g. ``{"Tech": (0, 0.3)}``.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"min_variance"``, summing to 1.

    Raises
    ------
    InfeasibleError
        If the bounds or group bounds cannot all hold (the message names which).
    CovarianceError, AlignmentError
        If ``cov`` is not a valid labelled covariance matrix.
    SolverError
        If the solution fails its KKT check.

    Notes
    -----
    Solves the quadratic programme

    .. math:: \min_w \; w^\top \Sigma w \quad \text{s.t.} \quad \mathbf 1^\top w = 1,\;
              l \le w \le u,\; L_g \le \textstyle\sum_{i \in g} w_i \le U_g ,

    whose unconstrained solution is :math:`w = \Sigma^{-1}\mathbf 1 / \mathbf 1^\top \Sigma^{-1}\mathbf 1`.
    It needs no expected returns, which makes it robust to their estimation error.

    References
    ----------
    .. [1] Markowitz, H. (1952). Portfolio selection. J. Finance 7(1), 77-91.
    .. [2] Clarke, R., de Silva, H., Thorley, S. (2006). Minimum-variance portfolios in the
           U.S. equity market. J. Portfolio Management 33(1), 10-24.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> min_variance(cov).round(4).tolist()  # weights proportional to 1 / variance
    [0.2, 0.8]
    """
    frame, s = cov_array(cov)
    cons = parse_constraints(frame.columns, bounds, groups, group_bounds)
    x = _min_var_qp(s, cons, what="min_variance")
    return finalize(x, cons, name="min_variance", what="min_variance")


def _max_ratio(excess: np.ndarray, s: np.ndarray, cons: Constraints, *, what: str) -> np.ndarray:
    r"""Maximise ``excess'w / sqrt(w'Sw)`` through the convex reformulation in ``y = kappa w``.

    ``min y'Sy`` s.t. ``excess'y = 1`` and ``y`` in the cone of the constraint set:
    ``l_i 1'y <= y_i <= u_i 1'y`` and ``L_g 1'y <= G_g y <= U_g 1'y``.
    """
    n = cons.n
    scale = float(np.max(np.abs(excess)))
    e = excess / scale
    long_only = cons.long_only
    ones = np.ones(n)
    rows = [e[None, :]]
    lo_rows = [np.array([1.0])]
    hi_rows = [np.array([1.0])]
    lb = np.full(n, -np.inf)
    ub = np.full(n, np.inf)
    # lower bounds: y_i - l_i 1'y >= 0 (a simple bound y_i >= 0 when l_i == 0)
    zero_lo = cons.lower == 0
    lb[zero_lo] = 0.0
    idx = np.flatnonzero(~zero_lo)
    if idx.size:
        rows.append(np.eye(n)[idx] - cons.lower[idx, None] * ones)
        lo_rows.append(np.zeros(idx.size))
        hi_rows.append(np.full(idx.size, np.inf))
    # upper bounds: u_i 1'y - y_i >= 0 (redundant when long-only and u_i >= 1)
    idx = np.flatnonzero(~(long_only & (cons.upper >= 1.0)))
    if idx.size:
        rows.append(cons.upper[idx, None] * ones - np.eye(n)[idx])
        lo_rows.append(np.zeros(idx.size))
        hi_rows.append(np.full(idx.size, np.inf))
    for k in range(len(cons.group_names)):
        g = cons.group_matrix[k]
        if not (long_only and cons.group_lower[k] <= 0):
            rows.append((g - cons.group_lower[k] * ones)[None, :])
            lo_rows.append(np.zeros(1))
            hi_rows.append(np.full(1, np.inf))
        if not (long_only and cons.group_upper[k] >= 1):
            rows.append((cons.group_upper[k] * ones - g)[None, :])
            lo_rows.append(np.zeros(1))
            hi_rows.append(np.full(1, np.inf))
    a = np.vstack(rows)
    priority = e / np.maximum(np.diag(s), 1e-300)
    y = solve_qp(
        s,
        np.zeros(n),
        lb,
        ub,
        a,
        np.concatenate(lo_rows),
        np.concatenate(hi_rows),
        n_eq=1,
        priority=priority,
        what=what,
    )
    kappa = y.sum()
    if not kappa > 0:
        raise InfeasibleError(f"{what}: no fully invested portfolio has a positive ratio; check the inputs.")
    return y / kappa


def max_sharpe(
    expected_returns: pd.Series,
    cov: pd.DataFrame,
    *,
    risk_free: float = 0.0,
    periods_per_year: float | None = None,
    bounds: Bounds = (0.0, 1.0),
    groups: Mapping[Any, Any] | pd.Series | None = None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
) -> pd.Series:
    r"""Find the tangency portfolio: the highest Sharpe ratio under the constraints.

    Parameters
    ----------
    expected_returns : Series of shape (n_assets,)
        Expected return of each asset, in the period unit of ``cov``.
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, indexed and labelled by asset.
    risk_free : float, default 0.0
        Annual risk-free rate; converted to :math:`(1+r_f)^{1/p}-1` per period when
        ``periods_per_year`` :math:`p` is given.
    periods_per_year : float, optional
        Periods per year of ``expected_returns`` and ``cov`` (252 for daily); None means
        they are annual already, like every input without dates (README, *Conventions*).
    bounds, groups, group_bounds
        Constraints, as in :func:`min_variance`.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"max_sharpe"``, summing to 1.

    Raises
    ------
    InfeasibleError
        If no feasible portfolio earns more than ``risk_free`` (the Sharpe ratio has no
        positive maximum), or if the constraints cannot hold.
    SolverError
        If the solution fails its KKT check.

    Notes
    -----
    The ratio :math:`(\mu^\top w - r_f) / \sqrt{w^\top \Sigma w}` is not concave, but with
    :math:`y = \kappa w`, :math:`\kappa = 1/(\mu - r_f)^\top w > 0` it becomes the convex QP

    .. math:: \min_y \; y^\top \Sigma y \quad \text{s.t.} \quad (\mu - r_f \mathbf 1)^\top y = 1,\;
              l_i \mathbf 1^\top y \le y_i \le u_i \mathbf 1^\top y ,

    (group bounds scale the same way), and :math:`w = y / \mathbf 1^\top y`. The answer
    is very sensitive to :math:`\mu`: small errors in expected returns move the weights a lot.

    References
    ----------
    .. [1] Cornuejols, G., Tutuncu, R. (2007). Optimization Methods in Finance, section 8.2.
           Cambridge University Press.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.04]], index=["A", "B"], columns=["A", "B"])
    >>> mu = pd.Series({"A": 0.10, "B": 0.05})
    >>> max_sharpe(mu, cov).round(4).tolist()  # uncorrelated, equal risk: w ~ mu
    [0.6667, 0.3333]
    """
    frame, s = cov_array(cov)
    mu = vector(expected_returns, frame.columns, name="expected_returns")
    rf = per_period_rate(risk_free, periods_per_year)
    cons = parse_constraints(frame.columns, bounds, groups, group_bounds)
    best, _ = max_return(mu, cons)
    if best <= rf + 1e-12 * max(1.0, abs(rf)):
        raise InfeasibleError(
            f"max_sharpe: the highest expected return any allowed portfolio reaches is {best:.6g} per period, "
            f"not above the risk-free rate {rf:.6g} per period, so no portfolio has a positive Sharpe ratio. "
            f"Lower `risk_free`, check `expected_returns` (units, sign; per-period estimates need "
            f"periods_per_year, e.g. 252 for daily) or use min_variance."
        )
    x = _max_ratio(mu - rf, s, cons, what="max_sharpe")
    return finalize(x, cons, name="max_sharpe", what="max_sharpe")


def max_diversification(
    cov: pd.DataFrame,
    *,
    bounds: Bounds = (0.0, 1.0),
    groups: Mapping[Any, Any] | pd.Series | None = None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
) -> pd.Series:
    r"""Find the most diversified portfolio: the highest diversification ratio.

    Parameters
    ----------
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, indexed and labelled by asset.
    bounds, groups, group_bounds
        Constraints, as in :func:`min_variance`.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"max_diversification"``, summing to 1.

    Raises
    ------
    CovarianceError
        If an asset has zero variance.
    InfeasibleError, SolverError
        As in :func:`min_variance`.

    Notes
    -----
    The diversification ratio is the weighted average volatility over the pooled one,

    .. math:: D(w) = \frac{w^\top \sigma}{\sqrt{w^\top \Sigma w}} \ge 1 ,

    maximised as a maximum-Sharpe problem with :math:`\sigma` in place of
    :math:`\mu - r_f`. With equal volatilities it is the minimum-correlation portfolio;
    it ignores expected returns and may concentrate in low-correlation assets.

    References
    ----------
    .. [1] Choueifaty, Y., Coignard, Y. (2008). Toward maximum diversification.
           J. Portfolio Management 35(1), 40-51.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> max_diversification(cov).round(4).tolist()  # uncorrelated: w ~ 1 / sigma
    [0.3333, 0.6667]
    """
    frame, s = cov_array(cov)
    sigma = asset_volatilities(s)
    if (sigma <= 0).any():
        bad = frame.columns[sigma <= 0].tolist()
        raise CovarianceError(f"max_diversification: asset(s) {bad} have zero variance; drop them.")
    cons = parse_constraints(frame.columns, bounds, groups, group_bounds)
    x = _max_ratio(sigma, s, cons, what="max_diversification")
    return finalize(x, cons, name="max_diversification", what="max_diversification")


def mean_variance(
    expected_returns: pd.Series,
    cov: pd.DataFrame,
    *,
    target_return: float | None = None,
    target_volatility: float | None = None,
    risk_aversion: float | None = None,
    bounds: Bounds = (0.0, 1.0),
    groups: Mapping[Any, Any] | pd.Series | None = None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
) -> pd.Series:
    r"""Find a Markowitz-efficient portfolio for one target or risk aversion.

    Give exactly one of ``target_return``, ``target_volatility`` or ``risk_aversion``.

    Parameters
    ----------
    expected_returns : Series of shape (n_assets,)
        Expected return of each asset, in the period unit of ``cov``.
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, indexed and labelled by asset.
    target_return : float, optional
        Least variance for an expected return of at least this (per period).
    target_volatility : float, optional
        Highest expected return for a volatility of at most this (per period).
    risk_aversion : float, optional
        :math:`\delta > 0` of the utility :math:`\mu^\top w - \tfrac{\delta}{2} w^\top \Sigma w`.
    bounds, groups, group_bounds
        Constraints, as in :func:`min_variance`.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"mean_variance"``, summing to 1.

    Raises
    ------
    ParameterError
        If not exactly one of the three objectives is given, or it is out of range.
    InfeasibleError
        If ``target_return`` is above the highest achievable return, or
        ``target_volatility`` below the minimum-variance volatility.
    SolverError
        If a solution fails its KKT check.

    Notes
    -----
    .. math:: \min_w w^\top\Sigma w \;\text{s.t.}\; \mu^\top w \ge r^*, \qquad
              \max_w \mu^\top w \;\text{s.t.}\; \sqrt{w^\top\Sigma w} \le \sigma^*, \qquad
              \max_w \mu^\top w - \tfrac{\delta}{2} w^\top \Sigma w ,

    each with :math:`\mathbf 1^\top w = 1` and the bounds. The volatility target is met
    by root-finding along the efficient frontier, where volatility grows with return.

    References
    ----------
    .. [1] Markowitz, H. (1952). Portfolio selection. J. Finance 7(1), 77-91.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> mu = pd.Series({"A": 0.10, "B": 0.04})
    >>> mean_variance(mu, cov, target_return=0.07).round(4).tolist()
    [0.5, 0.5]
    """
    given = {
        k: v
        for k, v in {
            "target_return": target_return,
            "target_volatility": target_volatility,
            "risk_aversion": risk_aversion,
        }.items()
        if v is not None
    }
    if len(given) != 1:
        raise ParameterError(
            f"mean_variance needs exactly one of target_return, target_volatility or risk_aversion; got "
            f"{sorted(given) or 'none'}."
        )
    ((kind, value),) = given.items()
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ParameterError(f"`{kind}` must be a finite number, got {value!r}.")
    frame, s = cov_array(cov)
    mu = vector(expected_returns, frame.columns, name="expected_returns")
    cons = parse_constraints(frame.columns, bounds, groups, group_bounds)
    what = f"mean_variance({kind}={value:g})"
    if kind == "risk_aversion":
        if value <= 0:
            raise ParameterError(f"`risk_aversion` must be > 0 (e.g. 1 to 10), got {value:g}.")
        x = _min_var_qp(value * s, cons, f=-mu, what=what)
    elif kind == "target_return":
        best, x_best = max_return(mu, cons)
        if value > best + 1e-12 * max(1.0, abs(best)):
            raise InfeasibleError(
                f"`target_return` {value:.6g} is above the highest expected return any allowed portfolio "
                f"reaches ({best:.6g} per period). Lower the target or relax the bounds."
            )
        if value >= best - 1e-9 * max(abs(best), float(np.abs(mu).max())):
            x = _top(mu, s, cons, best, x_best, what=what)
        else:
            x = _min_var_qp(s, cons, min_return=(mu, float(value)), what=what)
    else:
        x = _target_volatility(mu, s, cons, float(value), what=what)
    return finalize(x, cons, name="mean_variance", what=what)


def _target_volatility(
    mu: np.ndarray, s: np.ndarray, cons: Constraints, target: float, *, what: str
) -> np.ndarray:
    from scipy.optimize import brentq

    if target <= 0:
        raise ParameterError(f"`target_volatility` must be > 0 (per period), got {target:g}.")
    w0 = _min_var_qp(s, cons, what=what)
    vol0 = float(portfolio_volatility(w0, s))
    if target < vol0 * (1 - 1e-9):
        raise InfeasibleError(
            f"`target_volatility` {target:.6g} is below the lowest volatility any allowed portfolio reaches "
            f"({vol0:.6g} per period, the minimum-variance portfolio). Raise the target."
        )
    r0 = float(mu @ w0)
    best, x_best = max_return(mu, cons)
    top = _top(mu, s, cons, best, x_best, what=what)
    top_vol = float(portfolio_volatility(top, s))
    if top_vol <= target or best - r0 <= 1e-14 * max(1.0, abs(best)):
        return top if top_vol <= target else w0
    upper = float(mu @ top)
    state = {"x": w0}

    def solve(r: float) -> np.ndarray:
        if r >= upper:
            return top
        return _min_var_qp(s, cons, min_return=(mu, r), start=state["x"], what=what)

    def gap(r: float) -> float:
        if r >= upper:
            return top_vol - target
        state["x"] = solve(r)
        return float(portfolio_volatility(state["x"], s)) - target

    r = brentq(gap, r0, upper, xtol=1e-13 * max(1.0, abs(best)), rtol=1e-12)
    return solve(r)


def efficient_frontier(
    expected_returns: pd.Series,
    cov: pd.DataFrame,
    n_points: int = 50,
    *,
    risk_free: float = 0.0,
    periods_per_year: float | None = None,
    bounds: Bounds = (0.0, 1.0),
    groups: Mapping[Any, Any] | pd.Series | None = None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
) -> pd.DataFrame:
    r"""Trace the efficient frontier from the minimum-variance to the highest-return portfolio.

    Parameters
    ----------
    expected_returns : Series of shape (n_assets,)
        Expected return of each asset, in the period unit of ``cov``.
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, indexed and labelled by asset.
    n_points : int, default 50
        Number of frontier portfolios, evenly spaced in expected return.
    risk_free : float, default 0.0
        Annual risk-free rate for the Sharpe column.
    periods_per_year : float, optional
        Periods per year :math:`p` of the inputs; when given, the columns are annualised:
        ``return`` :math:`\times p`, ``volatility`` :math:`\times\sqrt p`, ``sharpe``
        :math:`= (\mu_P - r_{f,p})/\sigma_P \times \sqrt p` with the per-period rate
        :math:`r_{f,p} = (1+r_f)^{1/p}-1`.
    bounds, groups, group_bounds
        Constraints, as in :func:`min_variance`.

    Returns
    -------
    DataFrame
        One row per point (index ``point``), columns ``return``, ``volatility``,
        ``sharpe``, then one weight column per asset.

    Raises
    ------
    InfeasibleError, SolverError
        As in :func:`min_variance`.

    Notes
    -----
    Each point solves :math:`\min w^\top\Sigma w` s.t. :math:`\mu^\top w \ge r_k`, with
    :math:`r_k` from :math:`\mu^\top w_{\min var}` to :math:`\max_w \mu^\top w`, warm-started
    from the previous point's active set. Sharpe :math:`= (r - r_f)/\sigma`.

    References
    ----------
    .. [1] Markowitz, H. (1952). Portfolio selection. J. Finance 7(1), 77-91.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> mu = pd.Series({"A": 0.10, "B": 0.04})
    >>> front = efficient_frontier(mu, cov, n_points=3)
    >>> front[["A", "B"]].round(4).to_numpy().tolist()[-1]  # the top is all in A
    [1.0, 0.0]
    """
    from poolkit._validation import check_positive_int

    n_points = check_positive_int(n_points, name="n_points", minimum=2)
    frame, s = cov_array(cov)
    mu = vector(expected_returns, frame.columns, name="expected_returns")
    rf = per_period_rate(risk_free, periods_per_year)
    cons = parse_constraints(frame.columns, bounds, groups, group_bounds)
    w0 = _min_var_qp(s, cons, what="efficient_frontier (minimum variance)")
    r0 = float(mu @ w0)
    best, x_best = max_return(mu, cons)
    targets = np.linspace(r0, max(best, r0), n_points)
    weights = np.empty((n_points, cons.n))
    weights[0] = finalize(w0, cons, name="", what="efficient_frontier").to_numpy()
    x = w0
    for k in range(1, n_points):
        if k == n_points - 1 and best > r0:
            x = _top(mu, s, cons, best, x_best, what=f"efficient_frontier point {k}")
        else:
            x = _min_var_qp(
                s, cons, min_return=(mu, float(targets[k])), start=x, what=f"efficient_frontier point {k}"
            )
        weights[k] = finalize(x, cons, name="", what=f"efficient_frontier point {k}").to_numpy()
    ann_r, ann_v, sharpe = _annual_stats(weights.T, mu, s, rf, periods_per_year)
    out = pd.DataFrame(weights, columns=frame.columns.copy())
    out.insert(0, "sharpe", sharpe)
    out.insert(0, "volatility", ann_v)
    out.insert(0, "return", ann_r)
    out.index = pd.RangeIndex(n_points, name="point")
    return out

r"""Mean-variance family: minimum variance, maximum Sharpe, targets, the efficient frontier, max diversification.

Every method takes the same constraints: per-asset ``bounds`` (a side may be None or
infinite: no bound), ``groups`` with ``group_bounds``, a ``budget`` (the sum of the
weights: 1 fully invested, 0 market-neutral) and a ``gross_exposure`` cap on
:math:`\sum_i |w_i|`, plus an ``l2`` penalty. Each problem is a convex QP solved by
:mod:`poolkit.allocation._qp` (an active-set method with an interior-point fallback,
every answer KKT-verified); a gross-exposure cap splits the weights into long and short
parts, :math:`w = p - q`, :math:`p, q \ge 0`, :math:`\mathbf 1^\top (p + q) \le L`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import pandas as pd

from poolkit._numerics import (
    asset_volatilities,
    per_period_rate,
    portfolio_variance,
    portfolio_volatility,
    resolve_periods_per_year,
)
from poolkit.allocation import _qp
from poolkit.allocation._core import (
    Bounds,
    Constraints,
    cov_array,
    finalize,
    max_return,
    vector,
)
from poolkit.allocation._frontier import AUTO_FREE, descend, trace_frontier
from poolkit.allocation._qp_ratio import solve_ratio
from poolkit.allocation._space import (
    _UNBOUNDED,
    GroupBounds,
    Groups,
    _constraints,
    _solve,
    _Space,
    _space,
    _space_lp,
    _top,
)
from poolkit.exceptions import CovarianceError, InfeasibleError, ParameterError, UnboundedError

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
        sharpe = np.where(vol > 0, (ret - rf * w.sum(axis=0)) / vol * np.sqrt(ppy), np.nan)
    return ret * ppy, vol * np.sqrt(ppy), sharpe


def _regularised(s: np.ndarray, l2: object) -> np.ndarray:
    r"""Return :math:`\Sigma + \gamma \bar\sigma^2 I` with :math:`\bar\sigma^2 = \operatorname{tr}\Sigma / n`."""
    if isinstance(l2, bool) or not isinstance(l2, numbers.Real) or not math.isfinite(float(l2)) or float(l2) < 0:
        raise ParameterError(f"`l2` must be a finite number >= 0 (e.g. 0.1), got {l2!r}.")
    if l2 == 0:
        return s
    out = s.copy()
    out[np.diag_indices_from(out)] += float(l2) * float(np.trace(s)) / len(s)
    return out


# --------------------------------------------------------------------------------------- minimum variance
def _inverse_variance(hmat: np.ndarray) -> np.ndarray:
    """:math:`1 / H_{ii}` (infinite for a riskless asset): the cold-start score of the least-variance QPs."""
    with np.errstate(divide="ignore"):
        return 1.0 / np.diag(hmat)


def min_variance(
    cov: pd.DataFrame,
    *,
    bounds: Bounds = (0.0, 1.0),
    groups: Groups = None,
    group_bounds: GroupBounds = None,
    budget: float = 1.0,
    gross_exposure: float | None = None,
    l2: float = 0.0,
) -> pd.Series:
    r"""Find the portfolio of least variance.

    Parameters
    ----------
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, indexed and labelled by asset. It may be singular
        (e.g. more assets than observations).
    bounds : pair or mapping, default (0, 1)
        Per-asset weight bounds: a pair ``(lower, upper)`` whose sides are numbers,
        None (no bound; also ``-np.inf`` / ``np.inf``) or per-asset Series/dicts, or a
        mapping ``asset -> (lower, upper)`` (assets left out keep ``(0, 1)``). ``(0, 1)``
        is long-only; ``(None, None)`` allows any long or short position.
    groups : mapping asset -> group, optional
        Group membership (e.g. sector) of the assets that have one.
    group_bounds : mapping group -> (lower, upper), or a pair for every group, optional
        Bounds on the total weight of each group, e.g. ``{"Tech": (0, 0.3)}``; a side may
        be None (no bound).
    budget : float, default 1.0
        Sum of the weights, :math:`\mathbf 1^\top w = b`: 1 for a fully invested
        portfolio, 0.8 to keep 20 % in cash, 0 for a market-neutral (dollar-neutral) one
        (not for this method: see Raises).
    gross_exposure : float, optional
        Cap :math:`L \ge |b|` on the gross exposure :math:`\sum_i |w_i|` (e.g. 2 for
        100 % long and 100 % short, 1.6 for a 130/30 fund). None: no cap.
    l2 : float, default 0.0
        L2 regularisation :math:`\gamma \ge 0`: :math:`\gamma\,\bar\sigma^2 \|w\|^2`
        is added to the variance, with :math:`\bar\sigma^2 = \operatorname{tr}\Sigma / n`
        the average variance, so :math:`\gamma` is unit-free and the weights do not
        change when ``cov`` is rescaled. Equivalently :math:`\Sigma` is replaced by
        :math:`\Sigma + \gamma\bar\sigma^2 I` (shrinkage towards the identity), which
        spreads the weights over more assets [3]_; PyPortfolioOpt's
        ``add_objective(L2_reg, gamma=g)`` on ``min_volatility`` (objective
        :math:`w^\top\Sigma w + g\|w\|^2`) is :math:`\gamma = g / \bar\sigma^2`.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"min_variance"``, summing to ``budget``.

    Raises
    ------
    InfeasibleError
        If the bounds, group bounds, budget or gross cap cannot all hold (the message
        names which).
    ParameterError
        If ``budget`` is 0: the least-variance market-neutral portfolio is the empty one
        (use :func:`mean_variance` or :func:`max_sharpe`).
    CovarianceError, AlignmentError
        If ``cov`` is not a valid labelled covariance matrix.
    SolverError
        If no solution passes its KKT check.

    Notes
    -----
    Solves the quadratic programme

    .. math:: \min_w \; w^\top (\Sigma + \gamma\bar\sigma^2 I) w \quad \text{s.t.} \quad
              \mathbf 1^\top w = b,\; l \le w \le u,\; L_g \le \textstyle\sum_{i \in g} w_i \le U_g,
              \; \textstyle\sum_i |w_i| \le L ,

    whose unconstrained solution (:math:`b = 1`, :math:`\gamma = 0`) is
    :math:`w = \Sigma^{-1}\mathbf 1 / \mathbf 1^\top \Sigma^{-1}\mathbf 1`. It needs no
    expected returns, which makes it robust to their estimation error. When
    :math:`\Sigma` is singular the least variance may be reached by many portfolios;
    one of them is returned (the solver picks the one of nearly least norm).

    References
    ----------
    .. [1] Markowitz, H. (1952). Portfolio selection. J. Finance 7(1), 77-91.
    .. [2] Clarke, R., de Silva, H., Thorley, S. (2006). Minimum-variance portfolios in the
           U.S. equity market. J. Portfolio Management 33(1), 10-24.
    .. [3] DeMiguel, V., Garlappi, L., Nogales, F. J., Uppal, R. (2009). A generalized
           approach to portfolio optimization: improving performance by constraining
           portfolio norms. Management Science 55(5), 798-812.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> min_variance(cov).round(4).tolist()  # weights proportional to 1 / variance
    [0.2, 0.8]
    >>> min_variance(cov, l2=1.0).round(4).tolist()  # (0.04 + 0.025, 0.01 + 0.025)^-1
    [0.35, 0.65]
    """
    frame, s = cov_array(cov)
    cons = _constraints(frame.columns, bounds, groups, group_bounds, budget, gross_exposure)
    if cons.budget == 0:
        raise ParameterError(
            "min_variance with budget=0 is the empty portfolio (zero weights have zero variance). For a "
            "market-neutral portfolio use mean_variance(..., budget=0, gross_exposure=...) or max_sharpe."
        )
    hmat = _regularised(s, l2)
    w, _ = _solve(_space(cons), hmat, guess=_inverse_variance(hmat), what="min_variance")
    return finalize(w, cons, name="min_variance", what="min_variance")


# --------------------------------------------------------------------------------------- ratios
def _max_ratio(
    excess: np.ndarray,
    hmat: np.ndarray,
    cons: Constraints,
    *,
    what: str,
    numerator: str,
) -> np.ndarray:
    r"""Maximise ``excess'w / sqrt(w'Hw)`` over the constraint set (see :func:`max_sharpe`'s Notes)."""
    n = cons.n
    if not np.any(np.diag(hmat) > 0):
        raise CovarianceError(
            f"{what}: the covariance is zero, so every portfolio has zero variance and the ratio "
            f"{numerator} / volatility is undefined. Check the covariance's units and data."
        )
    if cons.budget == 0:
        return _market_neutral_ratio(excess, hmat, cons, what=what, numerator=numerator)
    if cons.budget < 0:
        raise ParameterError(f"{what} needs a positive `budget` (or 0 for market-neutral), got {cons.budget:g}.")
    best, _ = max_return(excess, cons)
    if not best > 1e-9 * float(np.abs(excess).max()) * max(1.0, abs(cons.budget)):
        raise InfeasibleError(
            f"{what}: the highest {numerator} any allowed portfolio reaches is {best:.6g} per period, not above "
            f"0 (the risk-free rate), so no portfolio has a positive ratio. Lower `risk_free`, check "
            f"`expected_returns` (units, sign; per-period estimates need periods_per_year, e.g. 252 for daily) "
            f"or use min_variance."
        )
    space = _space(cons)
    if np.all(space.lower == space.upper):  # one portfolio meets the constraints
        return space.weights(space.lower)
    simple = (
        cons.gross is None
        and not cons.group_names
        and bool(np.all((cons.lower == 0) | np.isneginf(cons.lower)))
        and bool(np.all(np.isposinf(cons.upper) | ((cons.upper >= cons.budget) & (cons.lower == 0))))
        and bool(np.all(cons.lower == 0) or np.all(np.isposinf(cons.upper)))
    )
    if simple:
        # homogenised: min y'Hy s.t. excess'y = 1, y_i >= 0 where l_i = 0; then w = b y / 1'y
        lo = np.where(cons.lower == 0, 0.0, -np.inf)
        try:
            res = _qp.solve_qp(
                hmat, np.zeros(n), lo, np.full(n, np.inf), excess[None, :], np.ones(1), np.ones(1),
                guess=excess * _inverse_variance(hmat), what=what,
            )
        except _qp.UnboundedQP:
            raise UnboundedError(_UNBOUNDED.format(what=what)) from None
        y = res.x
        _refuse_riskless(y, hmat, excess, what=what, numerator=numerator)
        kappa = float(y.sum())
        if not kappa > 1e-12 * float(np.abs(y).sum()):
            raise UnboundedError(
                f"{what}: the best ratio is approached only by portfolios whose positions grow without limit "
                f"(the unconstrained tangency portfolio has weights summing to {kappa:.3g}, not a positive "
                f"number). Give finite bounds or a `gross_exposure` cap."
            )
        return cons.budget * y / kappa
    h = space.h(hmat)
    ev = space.vec(excess)
    # least variance first: a riskless allowed portfolio with a positive ratio makes the ratio infinite
    w0, _ = _solve(space, hmat, guess=_inverse_variance(hmat), what=what)
    _refuse_riskless(w0, hmat, excess, what=what, numerator=numerator)
    if _riskless(w0, hmat):
        # riskless portfolios exist: the best excess return among them (an LP on the null space of H)
        from scipy.linalg import eigh

        vals, vecs = eigh(h)
        rng = vecs[:, vals > 1e-12 * max(float(vals[-1]), 1e-300) * len(vals)].T
        x_free, _ = _space_lp(-ev, space, extra_eq=rng, what=what)
        _refuse_riskless(space.weights(x_free), hmat, excess, what=what, numerator=numerator)
    ratio = solve_ratio(h, ev, space.lower, space.upper, space.a, space.a_lo, space.a_hi, what=what)
    return space.weights(ratio.x)


def _riskless(w: np.ndarray, hmat: np.ndarray) -> bool:
    """Tell whether ``w`` has (numerically) zero variance: below 1e-13 of its undiversified variance."""
    var = float(portfolio_variance(w, hmat))
    scale = float(np.abs(np.diag(hmat)).max()) * float(np.abs(w).sum()) ** 2
    return var <= 1e-13 * scale


def _refuse_riskless(w: np.ndarray, hmat: np.ndarray, excess: np.ndarray, *, what: str, numerator: str) -> None:
    r"""Raise when the ratio of ``w`` is (numerically) infinite.

    That is when its squared ratio :math:`(e^\top w)^2 / w^\top H w` exceeds
    :math:`10^{10}` times the best single asset's :math:`\max_i e_i^2 / H_{ii}` (or an
    asset has no variance and a positive numerator): a riskless combination earns a
    positive excess, which a singular covariance allows.
    """
    num = float(excess @ w)
    if not num > 1e-12 * float(np.abs(excess) @ np.abs(w)):
        return
    diag = np.diag(hmat)
    free_lunch = (diag <= 0) & (excess > 0) & (w != 0)
    var = float(portfolio_variance(w, hmat))
    with np.errstate(divide="ignore", invalid="ignore"):
        single = float(np.max(np.where(diag > 0, excess**2 / diag, 0.0)))
    if free_lunch.any() or var <= 1e-10 * num * num / max(single, 1e-300):
        raise UnboundedError(
            f"{what}: an allowed portfolio has (numerically) zero variance and a positive {numerator}, so the "
            f"ratio is infinite (its square is over 1e10 times the best single asset's). The covariance is "
            f"singular along allowed combinations (e.g. more assets than observations): use a shrinkage "
            f"estimator (cov_method='ledoit_wolf') or `l2` regularisation."
        )


def _market_neutral_ratio(
    excess: np.ndarray, hmat: np.ndarray, cons: Constraints, *, what: str, numerator: str
) -> np.ndarray:
    r"""Best ratio with weights summing to 0: the direction of the homogenised QP, scaled as large as allowed.

    The ratio is scale-free, so only the direction matters: ``min y'Hy`` s.t.
    ``excess'y = 1``, ``1'y = 0`` and the cones of the constraints at zero (``y_i >= 0``
    where ``l_i = 0``, ``<= 0`` where ``u_i = 0``; groups likewise). The weights are
    ``s y`` with the largest ``s`` the bounds, group limits and gross cap allow.
    """
    n = cons.n
    lo, hi = cons.lower, cons.upper
    if (lo > 0).any() or (hi < 0).any():
        raise ParameterError(
            f"{what} with budget=0 needs every asset's bounds to allow a zero weight (lower <= 0 <= upper)."
        )
    glo, ghi = cons.group_lower, cons.group_upper
    if (glo > 0).any() or (ghi < 0).any():
        raise ParameterError(f"{what} with budget=0 needs every group's bounds to allow a zero total.")
    ylo = np.where(lo == 0, 0.0, -np.inf)
    yhi = np.where(hi == 0, 0.0, np.inf)
    rows = [excess, np.ones(n)]
    rlo = [1.0, 0.0]
    rhi = [1.0, 0.0]
    for k in range(len(cons.group_names)):
        if glo[k] == 0 or ghi[k] == 0:
            rows.append(cons.group_matrix[k])
            rlo.append(0.0 if glo[k] == 0 else -np.inf)
            rhi.append(0.0 if ghi[k] == 0 else np.inf)
    bounded = cons.gross is not None or bool(np.isfinite(lo).all() and np.isfinite(hi).all())
    if not bounded:
        raise ParameterError(
            f"{what} with budget=0 is defined only up to its size (the ratio does not change when every weight "
            f"is doubled): give a `gross_exposure` cap (e.g. 2) or finite bounds to fix the size."
        )
    a = np.array(rows)
    if np.linalg.matrix_rank(a[:2]) < 2:
        raise InfeasibleError(
            f"{what} with budget=0: every asset has the same {numerator}, so every market-neutral portfolio has "
            f"a {numerator} of 0 and no positive ratio."
        )
    try:
        res = _qp.solve_qp(hmat, np.zeros(n), ylo, yhi, a, np.array(rlo), np.array(rhi), what=what)
    except _qp.UnboundedQP:
        raise UnboundedError(_UNBOUNDED.format(what=what)) from None
    y = res.x
    _refuse_riskless(y, hmat, excess, what=what, numerator=numerator)
    # the largest multiple of y inside the bounds, the group limits and the gross cap
    limits = [np.inf]
    with np.errstate(divide="ignore", invalid="ignore"):
        limits.append(float(np.min(np.where(y > 0, hi / y, np.inf))))
        limits.append(float(np.min(np.where(y < 0, lo / y, np.inf))))
        gy = cons.group_matrix @ y
        if gy.size:
            limits.append(float(np.min(np.where(gy > 0, ghi / gy, np.inf))))
            limits.append(float(np.min(np.where(gy < 0, glo / gy, np.inf))))
    if cons.gross is not None:
        limits.append(cons.gross / float(np.abs(y).sum()))
    scale = min(limits)
    if not np.isfinite(scale):
        raise ParameterError(f"{what} with budget=0: give a `gross_exposure` cap or finite bounds to fix the size.")
    return scale * y


def max_sharpe(
    expected_returns: pd.Series,
    cov: pd.DataFrame,
    *,
    risk_free: float = 0.0,
    periods_per_year: float | None = None,
    bounds: Bounds = (0.0, 1.0),
    groups: Groups = None,
    group_bounds: GroupBounds = None,
    budget: float = 1.0,
    gross_exposure: float | None = None,
    l2: float = 0.0,
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
    bounds, groups, group_bounds, budget, gross_exposure, l2
        Constraints and regularisation, as in :func:`min_variance`. With ``budget=0``
        the ratio does not depend on the portfolio's size: the market-neutral
        portfolio of highest Sharpe ratio is returned at the largest size the bounds,
        group limits and ``gross_exposure`` allow.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"max_sharpe"``, summing to ``budget``.

    Raises
    ------
    InfeasibleError
        If no allowed portfolio earns more than ``risk_free`` (the Sharpe ratio has no
        positive maximum), or if the constraints cannot hold.
    UnboundedError
        If an allowed portfolio has zero variance and a positive excess return (the
        ratio is infinite), or the best ratio is reached only with unbounded positions.
    CovarianceError
        If ``cov`` is zero (every variance is 0: the ratio is undefined).
    ParameterError
        If ``budget`` is negative, or 0 with neither a gross cap nor finite bounds.
    SolverError
        If the solution fails its KKT check.

    Notes
    -----
    With :math:`e = \mu - r_f\mathbf 1`, the maximiser of
    :math:`e^\top w / \sqrt{w^\top \Sigma w}` over the constraint set :math:`C` solves
    the mean-variance problem

    .. math:: P(t):\quad \min_{w \in C} \tfrac12 w^\top \Sigma w - t\, e^\top w

    at the :math:`t^*` where :math:`t^*\, e^\top w = w^\top \Sigma w` (the KKT conditions
    of the ratio). Along the solutions :math:`w(t)` of :math:`P(t)` the ratio rises
    until that point and falls after it, and on each active set :math:`w(t)` is affine,
    so :math:`t^*` is found exactly on the optimal active set (a parametric QP,
    warm-started). When the bounds are :math:`0` or :math:`\pm\infty` only (long-only
    without caps, or unconstrained), the equivalent convex QP in :math:`y = \kappa w`,
    :math:`\kappa = 1/e^\top w`,

    .. math:: \min_y \; y^\top \Sigma y \quad \text{s.t.} \quad e^\top y = 1,\; y_i \ge 0 \;(l_i = 0),

    is solved instead and :math:`w = b\, y / \mathbf 1^\top y`. The answer is very
    sensitive to :math:`\mu`: small errors in expected returns move the weights a lot.

    References
    ----------
    .. [1] Cornuejols, G., Tutuncu, R. (2007). Optimization Methods in Finance, section 8.2.
           Cambridge University Press.
    .. [2] Jacobs, B. I., Levy, K. N., Starer, D. (1998). On the optimality of long-short
           strategies. Financial Analysts Journal 54(2), 40-51.
    .. [3] Fan, J., Zhang, J., Yu, K. (2012). Vast portfolio selection with gross-exposure
           constraints. J. American Statistical Association 107(498), 592-606.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.04]], index=["A", "B"], columns=["A", "B"])
    >>> mu = pd.Series({"A": 0.10, "B": 0.05})
    >>> max_sharpe(mu, cov).round(4).tolist()  # uncorrelated, equal risk: w ~ mu
    [0.6667, 0.3333]
    >>> max_sharpe(mu, cov, budget=0, gross_exposure=2, bounds=(None, None)).round(4).tolist()
    [1.0, -1.0]
    """
    frame, s = cov_array(cov)
    mu = vector(expected_returns, frame.columns, name="expected_returns")
    rf = per_period_rate(risk_free, periods_per_year)
    cons = _constraints(frame.columns, bounds, groups, group_bounds, budget, gross_exposure)
    x = _max_ratio(mu - rf, _regularised(s, l2), cons, what="max_sharpe", numerator="expected excess return")
    return finalize(x, cons, name="max_sharpe", what="max_sharpe")


def max_diversification(
    cov: pd.DataFrame,
    *,
    bounds: Bounds = (0.0, 1.0),
    groups: Groups = None,
    group_bounds: GroupBounds = None,
    budget: float = 1.0,
    gross_exposure: float | None = None,
    l2: float = 0.0,
) -> pd.Series:
    r"""Find the most diversified portfolio: the highest diversification ratio.

    Parameters
    ----------
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, indexed and labelled by asset.
    bounds, groups, group_bounds, budget, gross_exposure, l2
        Constraints and regularisation, as in :func:`min_variance` and :func:`max_sharpe`.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"max_diversification"``, summing to ``budget``.

    Raises
    ------
    CovarianceError
        If an asset has zero variance.
    InfeasibleError, UnboundedError, SolverError
        As in :func:`max_sharpe`.

    Notes
    -----
    The diversification ratio is the weighted average volatility over the pooled one,

    .. math:: D(w) = \frac{w^\top \sigma}{\sqrt{w^\top \Sigma w}} \ge 1 ,

    maximised as a maximum-Sharpe problem with :math:`\sigma` in place of
    :math:`\mu - r_f`. The solver works on :math:`\sigma_i w_i`, where :math:`\Sigma`
    becomes the correlation matrix, so assets whose volatilities differ by many orders
    of magnitude are solved (and checked) on equal terms: with uncorrelated assets the
    answer is the closed form :math:`w_i \propto 1/\sigma_i`. With equal volatilities it
    is the minimum-correlation portfolio; it ignores expected returns and may
    concentrate in low-correlation assets.

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
    cons = _constraints(frame.columns, bounds, groups, group_bounds, budget, gross_exposure)
    x = _max_ratio(sigma, _regularised(s, l2), cons, what="max_diversification", numerator="average volatility")
    return finalize(x, cons, name="max_diversification", what="max_diversification")


# --------------------------------------------------------------------------------------- targets
def mean_variance(
    expected_returns: pd.Series,
    cov: pd.DataFrame,
    *,
    target_return: float | None = None,
    target_volatility: float | None = None,
    risk_aversion: float | None = None,
    bounds: Bounds = (0.0, 1.0),
    groups: Groups = None,
    group_bounds: GroupBounds = None,
    budget: float = 1.0,
    gross_exposure: float | None = None,
    l2: float = 0.0,
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
    bounds, groups, group_bounds, budget, gross_exposure, l2
        Constraints and regularisation, as in :func:`min_variance`; ``budget=0`` with a
        ``gross_exposure`` cap gives market-neutral portfolios.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"mean_variance"``, summing to ``budget``.

    Raises
    ------
    ParameterError
        If not exactly one of the three objectives is given, or it is out of range.
    InfeasibleError
        If ``target_return`` is above the highest achievable return, or
        ``target_volatility`` below the minimum-variance volatility.
    UnboundedError
        If, with unbounded weights, the utility has no finite maximum (an asset
        combination of zero variance and positive expected return).
    SolverError
        If a solution fails its KKT check.

    Notes
    -----
    With :math:`\Sigma_\gamma = \Sigma + \gamma\bar\sigma^2 I` (``l2``),

    .. math:: \min_w w^\top\Sigma_\gamma w \;\text{s.t.}\; \mu^\top w \ge r^*, \qquad
              \max_w \mu^\top w \;\text{s.t.}\; \sqrt{w^\top\Sigma_\gamma w} \le \sigma^*, \qquad
              \max_w \mu^\top w - \tfrac{\delta}{2} w^\top \Sigma_\gamma w ,

    each with :math:`\mathbf 1^\top w = b`, the bounds, the group limits and the gross
    cap. The volatility target is met by root-finding along the efficient frontier,
    where volatility grows with return.

    References
    ----------
    .. [1] Markowitz, H. (1952). Portfolio selection. J. Finance 7(1), 77-91.
    .. [2] Fan, J., Zhang, J., Yu, K. (2012). Vast portfolio selection with gross-exposure
           constraints. J. American Statistical Association 107(498), 592-606.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> mu = pd.Series({"A": 0.10, "B": 0.04})
    >>> mean_variance(mu, cov, target_return=0.07).round(4).tolist()
    [0.5, 0.5]
    >>> w = mean_variance(mu, cov, risk_aversion=1, budget=0, gross_exposure=1, bounds=(None, None))
    >>> w.round(4).tolist()  # long A, short B: sum 0, the cap sum |w| <= 1 binds
    [0.5, -0.5]
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
    cons = _constraints(frame.columns, bounds, groups, group_bounds, budget, gross_exposure)
    hmat = _regularised(s, l2)
    space = _space(cons)
    what = f"mean_variance({kind}={value:g})"
    if kind == "risk_aversion":
        if value <= 0:
            raise ParameterError(f"`risk_aversion` must be > 0 (e.g. 1 to 10), got {value:g}.")
        x, _ = _solve(space, float(value) * hmat, -mu, what=what)
    elif kind == "target_return":
        best, x_best = max_return(mu, cons)
        if value > best + 1e-12 * max(1.0, abs(best)):
            raise InfeasibleError(
                f"`target_return` {value:.6g} is above the highest expected return any allowed portfolio "
                f"reaches ({best:.6g} per period). Lower the target or relax the bounds."
            )
        if np.isfinite(best) and value >= best - 1e-9 * max(abs(best), float(np.abs(mu).max())):
            x = _top(mu, hmat, space, what=what)
        else:
            x, _ = _solve(space, hmat, extra=(mu, float(value), np.inf), what=what)
    else:
        x = _target_volatility(mu, hmat, space, float(value), what=what)
    return finalize(x, cons, name="mean_variance", what=what)


def _target_volatility(mu: np.ndarray, hmat: np.ndarray, space: _Space, target: float, *, what: str) -> np.ndarray:
    from scipy.optimize import brentq

    if target <= 0:
        raise ParameterError(f"`target_volatility` must be > 0 (per period), got {target:g}.")
    cons = space.cons
    w0, res0 = _solve(space, hmat, what=what)
    vol0 = float(portfolio_volatility(w0, hmat))
    if target < vol0 * (1 - 1e-9):
        raise InfeasibleError(
            f"`target_volatility` {target:.6g} is below the lowest volatility any allowed portfolio reaches "
            f"({vol0:.6g} per period, the minimum-variance portfolio). Raise the target."
        )
    r0 = float(mu @ w0)
    best, x_best = max_return(mu, cons)
    state: dict[str, Any] = {"res": res0}

    def solve(r: float) -> np.ndarray:
        w, res = _solve(space, hmat, extra=(mu, r, np.inf), warm=state["res"], what=what)
        state["res"] = res
        return w

    if np.isfinite(best):
        top = _top(mu, hmat, space, what=what)
        top_vol = float(portfolio_volatility(top, hmat))
        if top_vol <= target or best - r0 <= 1e-14 * max(1.0, abs(best)):
            return top if top_vol <= target else w0
        upper = float(mu @ top)
    else:  # unbounded weights: the frontier rises for ever; bracket the target
        step = max(abs(r0), float(np.abs(mu).max()) * abs(cons.budget or 1.0), 1e-12)
        upper = r0 + step
        while float(portfolio_volatility(solve(upper), hmat)) <= target:
            step *= 4.0
            upper = r0 + step
            if step > 1e12 * max(abs(r0), 1e-300):
                raise UnboundedError(_UNBOUNDED.format(what=what))

    def gap(r: float) -> float:
        if np.isfinite(best) and r >= upper:
            return float(portfolio_volatility(top, hmat)) - target
        return float(portfolio_volatility(solve(r), hmat)) - target

    r = brentq(gap, r0, upper, xtol=1e-13 * max(1.0, abs(upper)), rtol=1e-12)
    return top if np.isfinite(best) and r >= upper else solve(r)


# --------------------------------------------------------------------------------------- frontier
def efficient_frontier(
    expected_returns: pd.Series,
    cov: pd.DataFrame,
    n_points: int = 50,
    *,
    risk_free: float = 0.0,
    periods_per_year: float | None = None,
    bounds: Bounds = (0.0, 1.0),
    groups: Groups = None,
    group_bounds: GroupBounds = None,
    budget: float = 1.0,
    gross_exposure: float | None = None,
    l2: float = 0.0,
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
        :math:`= (\mu_P - b\, r_{f,p})/\sigma_P \times \sqrt p` with the per-period rate
        :math:`r_{f,p} = (1+r_f)^{1/p}-1` and the budget :math:`b`.
    bounds, groups, group_bounds, budget, gross_exposure, l2
        Constraints and regularisation, as in :func:`min_variance` (``volatility`` is
        that of :math:`\Sigma`, without the ``l2`` term).

    Returns
    -------
    DataFrame
        One row per point (index ``point``), columns ``return``, ``volatility``,
        ``sharpe``, then one weight column per asset.

    Raises
    ------
    UnboundedError
        If the weights are unbounded (infinite bounds and no gross cap): the frontier
        then has no highest-return end.
    InfeasibleError, SolverError
        As in :func:`min_variance`.

    Notes
    -----
    Each point solves :math:`\min w^\top\Sigma_\gamma w` s.t. :math:`\mu^\top w \ge r_k`
    and the constraints, with :math:`r_k` evenly spaced from :math:`\mu^\top w_{\min var}`
    to :math:`\max_w \mu^\top w` (an LP; the top point is the least-variance portfolio of
    that LP's optimal face). The interior points are read off the critical line [1]_ [3]_
    (a parametric QP [2]_):
    on a face of the constraints (which weights are free, which bounds and group limits
    hold) the KKT system

    .. math:: \begin{pmatrix} \Sigma_{FF} & A_{RF}^\top \\ A_{RF} & 0 \end{pmatrix}
              \begin{pmatrix} w_F \\ y \end{pmatrix} =
              \begin{pmatrix} -\Sigma_{FB} w_B \\ b_R - A_{RB} w_B + r\, e_\mu \end{pmatrix}

    (rows :math:`R`: the budget, the active group limits and :math:`\mu^\top w = r`) has a
    matrix that does not depend on :math:`r`, so :math:`w(r) = w_a + r\, w_b` is affine until
    the next breakpoint, where a free weight reaches a bound, a held weight's or a group
    limit's multiplier changes sign, or a group limit (or the gross cap) starts to bind.
    From a thousand assets up, the walk starts at the top, in the risk-aversion form
    :math:`\min \tfrac12 w^\top\Sigma w - \lambda\mu^\top w` (the top is
    :math:`\lambda\to\infty`, the minimum variance :math:`\lambda = 0`, and the right-hand
    side is affine in :math:`\lambda` instead), and goes down one face per segment,
    updating the inverse of :math:`\Sigma_{FF}` as weights enter and leave; every target is
    then read off its segment. It needs no QP at all (the minimum-variance QP of a large
    universe is the dearest part of a sparse frontier); with a singular covariance it ends
    at the efficient end of the minimum-variance set (the highest return among the
    least-variance portfolios). Every point is verified by its KKT conditions (the check of
    the QP engine); a point that fails is solved as a QP. On smaller universes, and where
    the descent cannot go on exactly (a gross cap, a singular face, an exact vertex of the
    bounds, ties that do not resolve), the walk goes up from the minimum-variance QP
    instead, and hands any such face to a warm-started QP from whose active set it
    restarts. When the optimum holds more than two assets per point (dense optima: the walk
    then crosses about as many breakpoints as held assets, each costing a third of a QP),
    each point is one QP instead, warm-started from the active set extrapolated from the
    last two points. Sharpe :math:`= (r - b\,r_f)/\sigma`.

    References
    ----------
    .. [1] Markowitz, H. (1956). The optimization of a quadratic function subject to linear
           constraints. Naval Research Logistics Quarterly 3(1-2), 111-133.
    .. [2] Best, M. J. (1996). An algorithm for the solution of the parametric quadratic
           programming problem. In Applied Mathematics and Parallel Computing, 57-76.
    .. [3] Niedermayer, A., Niedermayer, D. (2010). Applying Markowitz's critical line
           algorithm. In Handbook of Portfolio Construction (J. B. Guerard, ed.), 383-400.

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
    cons = _constraints(frame.columns, bounds, groups, group_bounds, budget, gross_exposure)
    hmat = _regularised(s, l2)
    space = _space(cons)
    best, x_best = max_return(mu, cons)
    if not np.isfinite(best):
        raise UnboundedError(
            "efficient_frontier: with unbounded weights (infinite bounds, no gross_exposure cap) the expected "
            "return has no maximum, so the frontier has no top. Give finite bounds or a `gross_exposure` cap."
        )
    cache: dict[str, Any] = {}  # the scaled covariance, shared by the walk and every QP (hmat is not changed)
    w_top = _top(mu, hmat, space, what="efficient_frontier (top)")
    # the walk from the top down needs no QP; it gives way to the minimum-variance QP and a walk up
    # (or one QP per point) on dense optima and faces it cannot continue exactly
    down = descend(space, hmat, mu, w_top, limit=int(AUTO_FREE * (n_points - 2)), cache=cache)
    if down is not None:
        w0, res, r0 = down.w0, None, down.r0
    else:
        w0, res = _solve(space, hmat, what="efficient_frontier (minimum variance)", cache=cache)
        r0 = float(mu @ w0)
    targets = np.linspace(r0, max(best, r0), n_points)
    weights = np.empty((n_points, cons.n))
    weights[0] = finalize(w0, cons, name="", what="efficient_frontier").to_numpy()
    top_close = best - 1e-9 * max(abs(best), float(np.abs(mu).max()))
    at_top = np.array([k == n_points - 1 and best > r0 or targets[k] >= top_close for k in range(n_points)])
    at_top[0] = False
    inner = np.flatnonzero(~at_top)[1:]
    if inner.size and down is not None:
        path = np.empty((inner.size, cons.n))
        missing = []
        for i, k in enumerate(inner):
            w = down.point(float(targets[k]))
            if w is None:
                missing.append(i)
            else:
                path[i] = w
        if missing:  # points that failed their check: the QP, warm-started along the way
            down.stats["qp"] += len(missing)
            _, res = _solve(space, hmat, what="efficient_frontier (minimum variance)", cache=cache)
            for i in missing:
                t = float(targets[inner[i]])
                path[i], res = _solve(space, hmat, extra=(mu, t, np.inf), warm=res, cache=cache,
                                      what=f"efficient_frontier point {inner[i]}")
    elif inner.size and res is not None:
        path, _ = trace_frontier(space, hmat, mu, targets[inner], res, r0, cache=cache, what="efficient_frontier")
    for i, k in enumerate(inner):
        weights[k] = finalize(path[i], cons, name="", what=f"efficient_frontier point {k}").to_numpy()
    if at_top.any():
        weights[at_top] = finalize(w_top, cons, name="", what="efficient_frontier (top)").to_numpy()
    ann_r, ann_v, sharpe = _annual_stats(weights.T, mu, s, rf, periods_per_year)
    out = pd.DataFrame(weights, columns=frame.columns.copy())
    out.insert(0, "sharpe", sharpe)
    out.insert(0, "volatility", ann_v)
    out.insert(0, "return", ann_r)
    out.index = pd.RangeIndex(n_points, name="point")
    return out


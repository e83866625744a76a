"""Heuristic and risk-based weights: value, equal, inverse volatility/variance, risk parity, min CVaR."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from poolkit._numerics import (
    asset_volatilities,
    cov_to_corr,
    euler_risk,
    portfolio_variance,
    variance_contributions,
)
from poolkit._validation import check_level, check_returns
from poolkit.allocation._core import (
    Bounds,
    constraint_lp_rows,
    cov_array,
    finalize,
    parse_constraints,
    solve_lp,
    vector,
)
from poolkit.exceptions import CovarianceError, DataError, ParameterError, SolverError

__all__ = [
    "equal_weights",
    "inverse_variance",
    "inverse_volatility",
    "min_cvar",
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


def equal_weights(assets: Iterable[Any] | pd.Index | pd.DataFrame) -> pd.Series:
    r"""Weight every asset equally: :math:`w_i = 1/N`.

    Parameters
    ----------
    assets : iterable of asset names, Index, or a DataFrame (its columns are used)
        The assets of the pool.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"equal"``.

    Raises
    ------
    ParameterError
        If there is no asset or a name repeats.

    Notes
    -----
    .. math:: w_i = 1/N

    The naive diversification that DeMiguel et al. found hard to beat out of sample:
    it estimates nothing, so it has no estimation error, but ignores risk differences.

    References
    ----------
    .. [1] DeMiguel, V., Garlappi, L., Uppal, R. (2009). Optimal versus naive diversification:
           how inefficient is the 1/N portfolio strategy? Rev. Financial Studies 22(5), 1915-1953.

    Examples
    --------
    >>> equal_weights(["A", "B", "C", "D"]).tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    idx = pd.Index(assets.columns if isinstance(assets, pd.DataFrame) else list(assets))
    if len(idx) == 0:
        raise ParameterError("`assets` is empty; give at least one asset name.")
    if idx.duplicated().any():
        raise ParameterError(f"`assets` repeats {idx[idx.duplicated()].unique().tolist()}.")
    return pd.Series(np.full(len(idx), 1.0 / len(idx)), index=idx, name="equal")


def _positive_vars(frame: pd.DataFrame, s: np.ndarray, what: str) -> np.ndarray:
    var = np.diag(s).copy()
    if (var <= 0).any():
        bad = frame.columns[var <= 0].tolist()
        raise CovarianceError(f"{what}: asset(s) {bad} have zero variance; drop them (or use equal_weights).")
    return var


def inverse_volatility(cov: pd.DataFrame) -> pd.Series:
    r"""Weight each asset by the inverse of its volatility.

    Parameters
    ----------
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns (only the diagonal is used).

    Returns
    -------
    Series
        Weights indexed by asset, named ``"inverse_volatility"``.

    Raises
    ------
    CovarianceError
        If an asset has zero variance or ``cov`` is invalid.

    Notes
    -----
    .. math:: w_i = \frac{1/\sigma_i}{\sum_j 1/\sigma_j}

    Every asset then contributes the same stand-alone volatility :math:`w_i\sigma_i`;
    it equals risk parity when all correlations are equal, and ignores correlations.

    References
    ----------
    .. [1] Maillard, S., Roncalli, T., Teiletche, J. (2010). The properties of equally weighted
           risk contribution portfolios. J. Portfolio Management 36(4), 60-70.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> inverse_volatility(cov).round(4).tolist()
    [0.3333, 0.6667]
    """
    frame, s = cov_array(cov)
    _positive_vars(frame, s, "inverse_volatility")
    inv = 1.0 / asset_volatilities(s)
    return pd.Series(inv / inv.sum(), index=frame.columns.copy(), name="inverse_volatility")


def inverse_variance(cov: pd.DataFrame) -> pd.Series:
    r"""Weight each asset by the inverse of its variance.

    Parameters
    ----------
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns (only the diagonal is used).

    Returns
    -------
    Series
        Weights indexed by asset, named ``"inverse_variance"``.

    Raises
    ------
    CovarianceError
        If an asset has zero variance or ``cov`` is invalid.

    Notes
    -----
    .. math:: w_i = \frac{1/\sigma_i^2}{\sum_j 1/\sigma_j^2}

    the minimum-variance portfolio when assets are uncorrelated (and the intra-cluster
    allocation of hierarchical risk parity).

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
    return pd.Series(inv / inv.sum(), index=frame.columns.copy(), name="inverse_variance")


def risk_parity(
    cov: pd.DataFrame,
    budgets: pd.Series | Mapping[Any, float] | None = None,
    *,
    max_iter: int = 200,
) -> pd.Series:
    r"""Find the long-only portfolio whose risk contributions match the budgets.

    Parameters
    ----------
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, indexed and labelled by asset.
    budgets : Series or dict of shape (n_assets,), optional
        Positive risk budget of each asset (normalised to sum to 1). None gives equal
        risk contribution (ERC).
    max_iter : int, default 100
        Newton iterations allowed (convergence usually takes 5-15).

    Returns
    -------
    Series
        Weights indexed by asset, named ``"risk_parity"``, summing to 1.

    Raises
    ------
    ParameterError
        If a budget is not positive.
    CovarianceError
        If an asset has zero variance or ``cov`` is invalid.
    SolverError
        If the relative risk-contribution error does not fall below 1e-10.

    Notes
    -----
    The risk contribution of asset :math:`i` is :math:`RC_i = w_i (\Sigma w)_i`, and
    :math:`\sum_i RC_i = w^\top\Sigma w`. The budgeted portfolio solves
    :math:`RC_i / w^\top\Sigma w = b_i`. With the correlation matrix :math:`C` and
    :math:`y_i = w_i\sigma_i`, the strictly convex log-barrier problem

    .. math:: \min_{y > 0} \; \tfrac12 y^\top C y - \sum_i b_i \ln y_i

    has the unique solution :math:`y_i (C y)_i = b_i`, found by damped Newton steps
    (quadratic convergence); :math:`w = (y/\sigma) / \mathbf 1^\top (y/\sigma)`. Each
    result is checked: :math:`\max_i |RC_i / (b_i\, w^\top\Sigma w) - 1| \le 10^{-10}`.

    References
    ----------
    .. [1] Maillard, S., Roncalli, T., Teiletche, J. (2010). The properties of equally weighted
           risk contribution portfolios. J. Portfolio Management 36(4), 60-70.
    .. [2] Spinu, F. (2013). An algorithm for computing risk parity weights. SSRN 2297383.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> risk_parity(cov).round(4).tolist()  # uncorrelated: w ~ 1 / sigma
    [0.3333, 0.6667]
    """
    frame, s = cov_array(cov)
    var = _positive_vars(frame, s, "risk_parity")
    n = len(var)
    if budgets is None:
        b = np.full(n, 1.0 / n)
    else:
        b = vector(budgets, frame.columns, name="budgets")
        if (b <= 0).any():
            bad = frame.columns[b <= 0].tolist()
            raise ParameterError(f"`budgets` must be positive for every asset; got non-positive for {bad}.")
        b = b / b.sum()
    sigma, corr = cov_to_corr(s)
    y = _erc_newton(corr, b, max_iter=max_iter)
    x = y / sigma
    w = x / x.sum()
    err = risk_contribution_error(w, s, b)
    if not err <= RC_TOL:
        raise SolverError(
            f"risk_parity did not converge: relative risk-contribution error {err:.2e} > {RC_TOL:g}. "
            f"The covariance may be ill-conditioned: try cov_method='ledoit_wolf'."
        )
    from poolkit.allocation._core import WEIGHT_TOL

    if abs(w.sum() - 1.0) > WEIGHT_TOL or (w <= 0).any():
        raise SolverError("risk_parity produced weights off the simplex.")
    return pd.Series(w, index=frame.columns.copy(), name="risk_parity")


def risk_contribution_error(w: np.ndarray, s: np.ndarray, b: np.ndarray) -> float:
    r"""Largest relative error ``|RC_i / (b_i * total) - 1|`` beyond what rounding allows.

    :math:`(\Sigma w)_i` is a sum of terms that may cancel (a near-singular covariance):
    computed in floating point it carries a relative error of about
    :math:`\epsilon\,(|\Sigma||w|)_i / |(\Sigma w)_i|`, and the total
    :math:`\epsilon\,|w|^\top|\Sigma||w| / w^\top\Sigma w`. That floor (times
    :math:`8\sqrt n`) is subtracted from each asset's error: the check asks for the
    accuracy the data carry, not more.
    """
    eps = 8.0 * np.sqrt(len(w)) * np.finfo(float).eps
    sw = s @ w
    terms = np.abs(s) @ np.abs(w)
    total = float(w @ sw)
    floor = eps * (terms / np.maximum(np.abs(sw), 1e-300) + float(np.abs(w) @ terms) / max(abs(total), 1e-300))
    err = np.abs(euler_risk(w, s).share / b - 1.0) - floor
    return float(np.max(np.maximum(err, 0.0)))


def _erc_newton(corr: np.ndarray, b: np.ndarray, *, max_iter: int) -> np.ndarray:
    """Damped Newton on ``y'Cy/2 - b'ln y`` (self-concordant, so the damped step keeps y > 0)."""
    from scipy.linalg import cho_factor, cho_solve

    zero_var = CovarianceError(
        "risk_parity: a long-only combination of the assets has (almost) zero variance, so risk "
        "contributions cannot be matched (e.g. two assets with correlation -1). Drop one of the "
        "offsetting assets or use a shrinkage covariance (cov_method='ledoit_wolf')."
    )
    quad = float(portfolio_variance(b, corr))
    if not quad > 1e-14:
        raise zero_var
    y = b / np.sqrt(quad)
    settled = 0
    for _ in range(max_iter):
        cy = corr @ y
        grad = cy - b / y
        hess = corr + np.diag(b / y**2)
        try:
            step = cho_solve(cho_factor(hess, check_finite=False), grad, check_finite=False)
        except np.linalg.LinAlgError as exc:
            raise zero_var from exc
        decrement = float(np.sqrt(max(grad @ step, 0.0)))
        alpha = 1.0 / (1.0 + decrement) if decrement > 0.25 else 1.0
        # exact damped steps keep y > 0; a near-singular C makes the computed step inexact,
        # so the step is also cut to stay inside the positive orthant (fraction to boundary)
        reach = float(np.max(step / y))
        if alpha * reach >= 1.0:
            alpha = 0.9 / reach
        y = y - alpha * step
        if not np.isfinite(y).all() or y.max() > 1e8 * y.min() or y.max() > 1e12:
            raise zero_var
        y = np.maximum(y, 1e-300)  # cannot bind in exact arithmetic; guards against rounding
        if decrement < 1e-13:
            if np.max(np.abs(variance_contributions(y, corr) / b - 1.0)) < 1e-13:
                break
        if decrement < 1e-9:  # quadratic convergence: the next step reaches rounding level
            settled += 1
            if settled > 2:
                break
    return y


def min_cvar(
    returns: pd.DataFrame,
    level: float = 0.95,
    *,
    bounds: Bounds = (0.0, 1.0),
    groups: Mapping[Any, Any] | pd.Series | None = None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
) -> pd.Series:
    r"""Find the portfolio with the least historical conditional value at risk (CVaR).

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, the scenarios of the loss distribution (no NaN).
    level : float, default 0.95
        Confidence level :math:`\beta` of the CVaR, in (0.5, 1).
    bounds, groups, group_bounds
        Constraints, as in :func:`min_variance`.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"min_cvar"``, summing to 1.

    Raises
    ------
    DataError, InsufficientDataError
        If ``returns`` has NaN or too few dates (at least ``1 / (1 - level)``).
    InfeasibleError, SolverError
        If the constraints cannot hold or the LP fails.

    Notes
    -----
    With scenarios :math:`r_t`, :math:`t = 1..T`, losses :math:`-r_t^\top w` and the
    Rockafellar-Uryasev auxiliary :math:`\alpha` (the VaR at the optimum):

    .. math:: \min_{w,\alpha,u} \; \alpha + \frac{1}{(1-\beta)T}\sum_t u_t \quad
              \text{s.t.}\quad u_t \ge -r_t^\top w - \alpha,\; u_t \ge 0,\;
              \mathbf 1^\top w = 1,\; l \le w \le u ,

    a linear programme solved by HiGHS. CVaR (expected shortfall) is the mean loss in
    the worst :math:`1-\beta` of periods; it uses the whole tail, not only the variance,
    but with few tail scenarios its weights are noisy.

    References
    ----------
    .. [1] Rockafellar, R. T., Uryasev, S. (2000). Optimization of conditional value-at-risk.
           J. Risk 2(3), 21-41.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="D", name="date")
    >>> r = pd.DataFrame({"A": [0.02, -0.02, 0.02, -0.02], "B": [-0.02, 0.02, -0.02, 0.02]}, index=idx)
    >>> min_cvar(r, level=0.75).round(4).tolist()  # a perfect hedge
    [0.5, 0.5]
    """
    beta = check_level(level)
    frame, _ = check_returns(returns, name="returns", min_obs=2)  # _min_cvar checks the dates for `level`
    return _min_cvar(frame, beta, bounds=bounds, groups=groups, group_bounds=group_bounds)


def _min_cvar(
    frame: pd.DataFrame,
    level: float = 0.95,
    *,
    bounds: Bounds = (0.0, 1.0),
    groups: Mapping[Any, Any] | pd.Series | None = None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
) -> pd.Series:
    """:func:`min_cvar` of a checked frame."""
    from scipy import sparse

    from poolkit.exceptions import InsufficientDataError

    beta = check_level(level)
    min_obs = max(2, int(np.ceil(1.0 / (1.0 - beta) - 1e-9)))
    if len(frame) < min_obs:
        raise InsufficientDataError(
            f"min_cvar at level {beta:g} needs at least {min_obs} dates, "
            f"got {len(frame)}; use a longer lookback or a lower level."
        )
    r = frame.to_numpy()
    t_obs, n = r.shape
    cons = parse_constraints(frame.columns, bounds, groups, group_bounds)
    scale = float(np.abs(r).max()) or 1.0
    rs = r / scale
    # variables [w (n), alpha (1), u (T)]
    c = np.concatenate([np.zeros(n), [1.0], np.full(t_obs, 1.0 / ((1.0 - beta) * t_obs))])
    a_tail = sparse.hstack(
        [
            sparse.csr_matrix(-rs),
            sparse.csr_matrix(-np.ones((t_obs, 1))),
            -sparse.identity(t_obs, format="csr"),
        ]
    )
    g_ub, g_b, _, _ = constraint_lp_rows(cons)
    a_ub = sparse.vstack(
        [a_tail, sparse.hstack([sparse.csr_matrix(g_ub), sparse.csr_matrix((g_ub.shape[0], 1 + t_obs))])]
    )
    b_ub = np.concatenate([np.zeros(t_obs), g_b])
    a_eq = sparse.csr_matrix(np.concatenate([np.ones(n), np.zeros(1 + t_obs)])[None, :])
    lo = np.concatenate([cons.lower, [-np.inf], np.zeros(t_obs)])
    hi = np.concatenate([cons.upper, [np.inf], np.full(t_obs, np.inf)])
    sol = solve_lp(
        c,
        lo,
        hi,
        a_ub=a_ub.tocsr(),
        b_ub=b_ub,
        a_eq=a_eq,
        b_eq=np.array([1.0]),
        what="min_cvar",
        method="highs-ds",  # dual simplex: the fastest HiGHS method here on many scenarios
    )
    w = finalize(sol[:n], cons, name="min_cvar", what="min_cvar")
    # verify: the LP objective equals the empirical CVaR of the returned weights
    lp_value = float(c @ sol) * scale
    cvar = historical_cvar(r @ w.to_numpy(), beta)
    if abs(lp_value - cvar) > 1e-7 * max(1.0, abs(cvar)) + 1e-9 * scale:
        raise SolverError(
            f"min_cvar: the LP objective {lp_value:.6g} does not match the CVaR {cvar:.6g} of its weights."
        )
    return w


def historical_cvar(portfolio_returns: np.ndarray, level: float) -> float:
    r"""Rockafellar-Uryasev CVaR of losses ``-r``: :math:`\min_\alpha \alpha + E[(L-\alpha)^+]/(1-\beta)`."""
    losses = -np.asarray(portfolio_returns, dtype="float64")
    if losses.size == 0:
        raise DataError("no returns to compute CVaR from.")
    t_obs = losses.size
    srt = np.sort(losses)
    # the minimising alpha is the beta-quantile: the ceil(beta*T)-th smallest loss
    k = min(t_obs - 1, max(0, int(np.ceil(level * t_obs - 1e-12)) - 1))
    alpha = srt[k]
    return float(alpha + np.maximum(losses - alpha, 0.0).sum() / ((1.0 - level) * t_obs))

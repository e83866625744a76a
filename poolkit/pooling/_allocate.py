"""Allocate with pools: pool returns, pool-of-pools (two-level) allocation and the pool summary."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from poolkit._numerics import (
    cov_to_corr,
    diversification_ratio,
    euler_risk,
    portfolio_variance,
    portfolio_volatility,
    resolve_periods_per_year,
    standalone_volatility,
)
from poolkit._validation import check_aligned, check_level, check_nan_policy, check_returns
from poolkit.exceptions import ParameterError
from poolkit.pooling._common import POOL_NAME, check_pools, membership

__all__ = ["pool_returns", "pool_summary", "pool_weights", "two_level_allocation", "two_level_backtest"]

Method = str | Callable[..., pd.Series]


def _check_method(method: Method, *, name: str) -> None:
    """Refuse, before any work, a method that is neither a registered name nor a callable."""
    if isinstance(method, str):
        from poolkit.allocation import method_spec

        method_spec(method, argument=name)  # ParameterError with the nearest names
    elif not callable(method):
        raise ParameterError(f"`{name}` must be a method name or a callable, got {type(method).__name__}.")


def _allocate(frame: pd.DataFrame, method: Method, params: Mapping[str, Any], *, name: str) -> np.ndarray:
    """Weights (array in ``frame.columns`` order, summing to 1) of one allocation step.

    A method name goes through :func:`poolkit.allocation.allocate` (the method registry);
    a one-asset step holds that asset whatever the method.
    """
    if frame.shape[1] == 1:
        return np.ones(1)
    if callable(method):
        result = method(frame, **params)
    else:
        from poolkit.allocation import allocate

        result = allocate(frame, method, **params)
    w = check_aligned(result, frame.columns, name=f"{name} weights").to_numpy()
    total = w.sum()
    if not np.isfinite(total) or abs(total) < 1e-12:
        raise ParameterError(f"`{name}`={method!r} returned weights that do not sum to a positive number.")
    return w / total


def _name(method: Method) -> str:
    """Name of a method: the string itself, or a callable's ``__name__``."""
    return method if isinstance(method, str) else str(getattr(method, "__name__", "callable"))


def _inner(
    frame: pd.DataFrame,
    labels: pd.Series,
    order: list[Any],
    method: Method,
    params: Mapping[str, Any],
    *,
    name: str = "inner",
) -> np.ndarray:
    """(n_assets, n_pools) matrix of within-pool weights (each column sums to 1)."""
    m = membership(labels, order)
    out = np.zeros_like(m)
    codes = m.argmax(axis=1)
    for k in range(len(order)):  # a loop over pools, not assets
        idx = np.flatnonzero(codes == k)
        out[idx, k] = _allocate(frame.iloc[:, idx], method, params, name=name)
    return out


def pool_returns(
    returns: pd.DataFrame,
    pools: object,
    within: Method = "equal",
    *,
    nan_policy: str = "raise",
    **params: Any,
) -> pd.DataFrame:
    r"""Return one return series per pool: each pool held as a portfolio of its members.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, no missing values.
    pools : Series or dict
        Asset -> pool label (e.g. from :func:`cluster_pools` or :func:`pools_by`), or
        pool label -> list of assets.
    within : str or callable, default "equal"
        How each pool weights its members: ``"equal"``, or any method name of
        :func:`poolkit.allocation.allocate` (e.g. ``"inverse_volatility"``,
        ``"risk_parity"``, ``"min_variance"``), or a callable ``f(returns, **params) -> weights``.
    nan_policy : {"raise", "drop"}, default "raise"
        Missing returns raise, or the dates with one are dropped first (every step
        needs every asset on the same dates).
    **params
        Passed to the allocation method.

    Returns
    -------
    DataFrame of shape (n_dates, n_pools)
        Columns = pool labels (in pool order), index = the dates of ``returns``.

    Raises
    ------
    AlignmentError
        If ``pools`` does not name exactly the assets of ``returns``.
    ParameterError
        If a pool is empty or ``within`` is unknown.

    Notes
    -----
    With within-pool weights :math:`v^{(k)}` summing to 1 over pool :math:`k`,

    .. math:: r_{k,t} = \sum_{i \in k} v^{(k)}_i \, r_{i,t} ,

    a pool rebalanced to its weights every period.

    References
    ----------
    .. [1] Fabozzi, F. J., Gupta, F. and Markowitz, H. M. (2002). The legacy of modern
       portfolio theory. J. Investing 11(3), 7-22.

    Examples
    --------
    >>> r = pd.DataFrame({"A": [0.01, 0.02], "B": [0.03, 0.00], "C": [0.05, -0.01]})
    >>> pool_returns(r, {"A": "x", "B": "x", "C": "y"}).round(4).to_numpy().tolist()
    [[0.02, 0.05], [0.01, -0.01]]
    """
    _check_method(within, name="within")
    nan_policy = check_nan_policy(nan_policy, ("raise", "drop"), where="pool_returns")
    frame, _ = check_returns(returns, name="returns", min_obs=2, nan_policy=nan_policy)
    labels, order = check_pools(pools, frame.columns)
    inner = _inner(frame, labels, order, within, params, name="within")
    out = pd.DataFrame(frame.to_numpy() @ inner, index=frame.index.copy(), columns=pd.Index(order, name=POOL_NAME))
    return out


def pool_weights(weights: pd.Series, pools: object) -> pd.Series:
    r"""Return the total weight of each pool.

    Parameters
    ----------
    weights : Series of shape (n_assets,)
        Holding of each asset, indexed by asset name.
    pools : Series or dict
        Asset -> pool label for the same assets (or pool label -> list of assets).

    Returns
    -------
    Series
        Pool label -> :math:`W_k = \sum_{i \in k} w_i`, named ``pool_weight``, in pool order.

    Raises
    ------
    AlignmentError
        If ``pools`` and ``weights`` name different assets.

    Examples
    --------
    >>> pool_weights(pd.Series({"A": 0.2, "B": 0.3, "C": 0.5}), {"A": "x", "B": "x", "C": "y"}).tolist()
    [0.5, 0.5]
    """
    if not isinstance(weights, pd.Series):
        raise TypeError(f"`weights` must be a Series indexed by asset, got {type(weights).__name__}.")
    w = check_aligned(weights, weights.index, name="weights")
    labels, order = check_pools(pools, w.index)
    totals = w.to_numpy() @ membership(labels, order)
    return pd.Series(totals, index=pd.Index(order, name=POOL_NAME), name="pool_weight")


def two_level_allocation(
    returns: pd.DataFrame,
    pools: object,
    inner: Method = "equal",
    outer: Method = "equal",
    *,
    inner_params: Mapping[str, Any] | None = None,
    outer_params: Mapping[str, Any] | None = None,
    nan_policy: str = "raise",
) -> pd.Series:
    r"""Allocate as a pool of pools: inside each pool first, then across the pools.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, no missing values.
    pools : Series or dict
        Asset -> pool label, or pool label -> list of assets.
    inner : str or callable, default "equal"
        Allocation inside each pool (see :func:`pool_returns`).
    outer : str or callable, default "equal"
        Allocation across the pools, applied to the pools' returns.
    inner_params, outer_params : mapping, optional
        Keyword arguments of the inner and outer methods.
    nan_policy : {"raise", "drop"}, default "raise"
        Missing returns raise, or the dates with one are dropped first (every step
        needs every asset on the same dates).

    Returns
    -------
    Series
        Asset weights :math:`w_i = W_{k(i)} v_i`, indexed like ``returns.columns``, summing to
        1, named ``two_level``. ``attrs`` holds ``pool_weights`` ({pool: :math:`W_k`}),
        ``inner`` and ``outer`` (method names); :func:`pool_weights` recovers the pool
        weights from any weights.

    Raises
    ------
    AlignmentError
        If ``pools`` does not name exactly the assets of ``returns``.
    ParameterError
        If a pool is empty or a method is unknown.

    Notes
    -----
    Inner weights :math:`v^{(k)}` give pool returns :math:`r_k = R\,v^{(k)}`; the outer method
    allocates :math:`W` over the :math:`K` pool return series; the asset weight is

    .. math:: w_i = W_{k(i)} \, v^{(k(i))}_i, \qquad \sum_i w_i = \sum_k W_k = 1 .

    Equal/equal gives every pool :math:`1/K` whatever its size; with a single pool the
    result is the inner method on all assets. Hierarchical risk parity (López de Prado,
    2016) is the recursive version of this idea.

    References
    ----------
    .. [1] López de Prado, M. (2016). Building diversified portfolios that outperform out of
       sample. J. Portfolio Management 42(4), 59-69.
    .. [2] Raffinot, T. (2017). Hierarchical clustering-based asset allocation.
       J. Portfolio Management 44(2), 89-99.

    Examples
    --------
    >>> r = pd.DataFrame({"A": [0.01, 0.02], "B": [0.03, 0.00], "C": [0.05, -0.01]})
    >>> two_level_allocation(r, {"A": "x", "B": "x", "C": "y"}).tolist()
    [0.25, 0.25, 0.5]
    """
    _check_method(inner, name="inner")
    _check_method(outer, name="outer")
    nan_policy = check_nan_policy(nan_policy, ("raise", "drop"), where="two_level_allocation")
    frame, _ = check_returns(returns, name="returns", min_obs=2, nan_policy=nan_policy)
    labels, order = check_pools(pools, frame.columns)
    return _two_level(frame, labels, order, inner, outer, inner_params or {}, outer_params or {})


def _two_level(
    frame: pd.DataFrame,
    labels: pd.Series,
    order: list[Any],
    inner: Method,
    outer: Method,
    inner_params: Mapping[str, Any],
    outer_params: Mapping[str, Any],
) -> pd.Series:
    """Two-level weights on an already checked frame and pool labels."""
    v = _inner(frame, labels, order, inner, inner_params)
    pooled = pd.DataFrame(frame.to_numpy() @ v, index=frame.index, columns=pd.Index([str(p) for p in order]))
    outer_w = _allocate(pooled, outer, outer_params, name="outer")
    w = v @ outer_w
    out = pd.Series(w / w.sum(), index=frame.columns.copy(), name="two_level")
    out.attrs.update(
        pool_weights={str(k): float(x) for k, x in zip(order, outer_w, strict=True)},
        inner=_name(inner),
        outer=_name(outer),
    )
    return out


def pool_summary(
    returns: pd.DataFrame,
    pools: object,
    weights: pd.Series | None = None,
    level: float = 0.95,
    *,
    periods_per_year: int | None = None,
    nan_policy: str = "raise",
) -> pd.DataFrame:
    r"""Summarise each pool: members, weight, risk, internal correlation, diversification, tail loss.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, no missing values.
    pools : Series or dict
        Asset -> pool label, or pool label -> list of assets.
    weights : Series, optional
        Holding of each asset; equal weights by default.
    level : float, default 0.95
        Confidence level of the historical VaR and CVaR.
    periods_per_year : int, optional
        Used to annualise volatilities; inferred from the dates when omitted.
    nan_policy : {"raise", "drop"}, default "raise"
        Missing returns raise, or the dates with one are dropped first (every step
        needs every asset on the same dates).

    Returns
    -------
    DataFrame
        One row per pool (in pool order) and a last row ``portfolio``; index named ``pool``.
        Columns: ``members`` (count), ``single_asset`` (True: a one-asset pool, which cannot
        diversify internally), ``weight`` (:math:`W_k`), ``volatility`` and
        ``standalone_volatility`` (annualised, of the pool held with its members' weights
        rescaled to 1), ``diversification_ratio``, ``average_correlation`` (mean pairwise
        correlation inside the pool; NaN for a one-asset pool, which has no pair),
        ``risk_share`` (the pool's share of portfolio variance) and ``var_<level>`` /
        ``cvar_<level>`` (historical one-period loss of the pool, positive = loss).

    Raises
    ------
    AlignmentError
        If ``pools`` or ``weights`` do not name exactly the assets of ``returns``.
    ParameterError
        If a pool is empty or ``level`` is not in (0.5, 1).

    Notes
    -----
    Inside pool :math:`k` the weights are :math:`v_i = w_i / W_k` (equal when :math:`W_k = 0`).
    With :math:`\Sigma` the annualised covariance,

    .. math:: \sigma_k = \sqrt{v^\top \Sigma v}, \qquad
              DR_k = \frac{\sum_{i\in k} |v_i| \sigma_i}{\sigma_k}, \qquad
              \text{share}_k = \frac{\sum_{i \in k} w_i (\Sigma w)_i}{w^\top \Sigma w}, \qquad
              \mathrm{VaR}_\alpha = -q_{1-\alpha}(r_k), \quad
              \mathrm{CVaR}_\alpha = -E[r_k \mid r_k \le q_{1-\alpha}] .

    References
    ----------
    .. [1] Choueifaty, Y. and Coignard, Y. (2008). J. Portfolio Management 35(1), 40-51.
    .. [2] Maillard, S., Roncalli, T. and Teïletche, J. (2010). The properties of equally
       weighted risk contribution portfolios. J. Portfolio Management 36(4), 60-70.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> r = pd.DataFrame(rng.normal(0, 0.01, size=(250, 3)), columns=list("ABC"),
    ...                  index=pd.bdate_range("2020-01-01", periods=250, name="date"))
    >>> t = pool_summary(r, {"A": "x", "B": "x", "C": "y"}, periods_per_year=252)
    >>> t["members"].tolist(), t["single_asset"].tolist()
    ([2, 1, 3], [False, True, False])
    """
    nan_policy = check_nan_policy(nan_policy, ("raise", "drop"), where="pool_summary")
    frame, _ = check_returns(returns, name="returns", min_obs=3, nan_policy=nan_policy)
    alpha = check_level(level)
    labels, order = check_pools(pools, frame.columns)
    ppy = resolve_periods_per_year(periods_per_year, frame.index)
    names = frame.columns
    n = len(names)
    w = np.full(n, 1.0 / n) if weights is None else check_aligned(weights, names, name="weights").to_numpy()
    m = membership(labels, order)
    m_all = np.hstack([m, np.ones((n, 1))])
    totals = w @ m_all
    counts = m_all.sum(axis=0)
    held = np.abs(totals) > 1e-15 * max(float(np.abs(w).max()), 1e-300)  # relative to the weights' size
    safe = np.where(held, totals, 1.0)
    v = np.where(held, m_all * w[:, None] / safe, m_all / counts)
    from poolkit.risk import conditional_value_at_risk, covariance, value_at_risk

    x = frame.to_numpy()
    cov = covariance(frame, annualize=True, periods_per_year=ppy).to_numpy()
    _, corr = cov_to_corr(cov)
    pool_vol = portfolio_volatility(v, cov)
    inside = portfolio_variance(m_all, corr) - counts  # sum of the pairwise correlations, both ways
    pairs = counts * (counts - 1)
    avg_corr = np.divide(inside, pairs, out=np.full(len(counts), np.nan), where=pairs > 0)
    split = euler_risk(w, cov)
    share = split.share @ m_all if split.volatility > 0 else np.full(len(counts), np.nan)

    pr = pd.DataFrame(x @ v, index=frame.index)
    var_loss = np.asarray(value_at_risk(pr, level=alpha), dtype="float64")  # one loss per pool column
    cvar_loss = np.asarray(conditional_value_at_risk(pr, level=alpha), dtype="float64")
    tag = f"{alpha * 100:g}".replace(".", "_")
    table = pd.DataFrame(
        {
            "members": counts.astype(int),
            "single_asset": counts == 1,
            "weight": totals,
            "volatility": pool_vol,
            "standalone_volatility": standalone_volatility(v, cov),
            "diversification_ratio": diversification_ratio(v, cov),
            "average_correlation": avg_corr,
            "risk_share": share,
            f"var_{tag}": var_loss,
            f"cvar_{tag}": cvar_loss,
        },
        index=pd.Index([*map(str, order), "portfolio"], name=POOL_NAME),
    )
    table.attrs.update(level=alpha, periods_per_year=ppy)
    return table


def two_level_backtest(
    returns: pd.DataFrame,
    pools: object = "cluster",
    inner: Method = "equal",
    outer: Method = "equal",
    *,
    rebalance: str = "M",
    lookback: int = 252,
    costs: float = 0.0,
    n_pools: int | None = None,
    linkage: str = "ward",
    inner_params: Mapping[str, Any] | None = None,
    outer_params: Mapping[str, Any] | None = None,
    nan_policy: str = "raise",
) -> Any:
    r"""Walk-forward, out-of-sample backtest of the two-level (pool of pools) allocation.

    At the close of each rebalance date the pools (when ``pools`` names a way to build
    them) and the two-level weights are computed from the ``lookback`` periods ending
    there, then held,
    drifting with prices, until the next rebalance. The two-level rule is run by
    :func:`poolkit.allocation.backtest` as a callable method, so drift, turnover and costs
    are those of the one-level methods and the two compare like for like.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns (no NaN), DatetimeIndex.
    pools : str, Series or dict, default "cluster"
        A method of :func:`build_pools` that works on returns (``"cluster"``,
        ``"volatility"``, ``"expected_return"``): the pools are rebuilt from each lookback
        window (no look-ahead). A fixed asset -> pool mapping is used as given (pools
        built on the whole sample would leak future information into the test).
    inner, outer : str or callable
        As in :func:`two_level_allocation`.
    rebalance : {"M", "W", "Q", "Y", "D"}, default "M"
        Calendar period between rebalances (last trading date of each period).
    lookback : int, default 252
        Periods of history used at each rebalance.
    costs : float, default 0.0
        Proportional cost per unit of one-way turnover.
    n_pools, linkage
        Passed to :func:`build_pools` when ``pools`` is a method name (``None`` = let
        clustering choose, or 3 bins of a criterion).
    inner_params, outer_params : mapping, optional
        Keyword arguments of the inner and outer methods.
    nan_policy : {"raise", "drop"}, default "raise"
        Missing returns raise, or the dates with one are dropped first (every step
        needs every asset on the same dates).

    Returns
    -------
    poolkit.allocation.BacktestResult
        ``weights`` at each rebalance, out-of-sample ``returns`` (named
        ``two_level(<inner>/<outer>)``), ``turnover`` and ``costs``.

    Raises
    ------
    InsufficientDataError
        If there are not more than ``lookback`` dates.
    ParameterError
        If ``rebalance``, ``lookback``, ``costs``, ``pools`` or a method is invalid.

    Notes
    -----
    Between rebalances :math:`w_{t+1} \propto w_t (1 + r_{t+1})` and
    :math:`r_{P,t} = w_{t-1}^\top r_t`; at a rebalance the one-way turnover is
    :math:`\tau = \sum_i |w_i^{target} - w_i^{drift}|` and :math:`c\,\tau` is charged.

    References
    ----------
    .. [1] DeMiguel, V., Garlappi, L. and Uppal, R. (2009). Optimal versus naive
       diversification. Rev. Financial Studies 22(5), 1915-1953.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=60, freq="B", name="date")
    >>> r = pd.DataFrame({"A": 0.001, "B": 0.002, "C": 0.003}, index=idx)
    >>> res = two_level_backtest(r, {"A": "x", "B": "x", "C": "y"}, lookback=20)
    >>> round(float(res.returns.iloc[0]), 6)  # 1/4, 1/4, 1/2
    0.00225
    """
    from poolkit._validation import check_choice
    from poolkit.allocation import backtest
    from poolkit.pooling._build import RETURNS_METHODS, build_pools

    _check_method(inner, name="inner")
    _check_method(outer, name="outer")
    nan_policy = check_nan_policy(nan_policy, ("raise", "drop"), where="two_level_backtest")
    frame, _ = check_returns(returns, name="returns", min_obs=2, nan_policy=nan_policy)
    rebuild = isinstance(pools, str)
    if rebuild:
        check_choice(pools, RETURNS_METHODS, name="pools")
    else:
        fixed = check_pools(pools, frame.columns)
    inner_kw, outer_kw = dict(inner_params or {}), dict(outer_params or {})

    def step(window: pd.DataFrame) -> pd.Series:
        """Two-level weights from one lookback window (pools rebuilt on it when asked)."""
        if rebuild:
            built = build_pools(window, str(pools), n_pools, linkage=linkage)
            labels, order = check_pools(built, window.columns)
        else:
            labels, order = fixed
        return _two_level(window, labels, order, inner, outer, inner_kw, outer_kw)

    step.__name__ = f"two_level({_name(inner)}/{_name(outer)})"
    result = backtest(frame, step, rebalance=rebalance, lookback=lookback, costs=costs)
    result.params.update(pools=pools if rebuild else "fixed", inner=str(inner), outer=str(outer))
    return result

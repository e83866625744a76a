"""One entry point by name (allocate), expected returns, mandates, and portfolio statistics."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from poolkit._numerics import Rate, euler_risk, per_period_rate, resolve_periods_per_year
from poolkit._validation import check_choice, check_nan_policy, check_returns
from poolkit.allocation._registry import METHODS, method_spec
from poolkit.exceptions import AlignmentError, ParameterError, PoolkitWarning

__all__ = [
    "METHODS",
    "allocate",
    "allocate_many",
    "expected_returns",
    "mandate",
    "mandate_effect",
    "portfolio_stats",
    "risk_contribution_table",
]

EXPECTED_RETURN_METHODS = ("historical_mean", "ewma", "capm")


def _ppy(index: pd.Index) -> float:
    """Periods per year of returns indexed by ``index`` (the rule of :func:`resolve_periods_per_year`)."""
    return resolve_periods_per_year(None, index)


def _returns_not_covariance(frame: pd.DataFrame, *, where: str) -> pd.DataFrame:
    """Refuse a "returns" frame whose rows are labelled by its assets (a covariance, or part of one).

    Its rows would be read as dates, giving plausible but wrong weights. Numbered rows (a
    numeric index, e.g. the default 0, 1, ...) are periods in order, never asset names.
    """
    if isinstance(frame.index, (pd.DatetimeIndex, pd.PeriodIndex)) or pd.api.types.is_numeric_dtype(frame.index):
        return frame
    cols = set(frame.columns)
    shared = [a for a in frame.index if a in cols]
    if shared:
        raise AlignmentError(
            f"{where}: `returns` has rows labelled by its assets ({shared[:5]}): it looks like a covariance, "
            f"not returns (dates x assets). Pass the returns, or call the method on the covariance "
            f"itself, e.g. pk.allocation.hrp(cov) or pk.allocation.risk_parity(cov)."
        )
    return frame


def expected_returns(
    returns: pd.DataFrame,
    method: str = "historical_mean",
    *,
    halflife: float = 63.0,
    benchmark: pd.Series | None = None,
    risk_free: Rate = 0.0,
    periods_per_year: int | None = None,
    nan_policy: str = "raise",
) -> pd.Series:
    r"""Estimate the expected return of each asset, per period.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns (no NaN).
    method : {"historical_mean", "ewma", "capm"}, default "historical_mean"
        Sample mean; exponentially weighted mean; or the CAPM equilibrium return.
    halflife : float, default 63
        Half-life in periods of the "ewma" weights.
    benchmark : Series, optional
        Market returns for "capm" (same dates); default: the equal-weighted pool of the assets.
    risk_free : float or PerPeriod, default 0.0
        Annual risk-free rate for "capm", as :math:`(1+r_f)^{1/p}-1` per period (a
        :class:`~poolkit.risk.PerPeriod` rate is used as it is).
    periods_per_year : int, optional
        Inferred from the dates when omitted.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        Missing returns raise, drop their dates, or (``"pairwise"``, not for "capm")
        leave each asset's mean to the dates it is observed.

    Returns
    -------
    Series
        Expected return per period, indexed by asset, named ``"expected_return"``.

    Raises
    ------
    ParameterError
        If ``method`` is unknown or ``halflife`` not positive.
    DataError, InsufficientDataError, AlignmentError
        If ``returns`` or ``benchmark`` is unusable.

    Notes
    -----
    .. math:: \hat\mu_i = \frac1T\sum_t r_{it}, \qquad
              \hat\mu_i^{\mathrm{ewma}} = \frac{\sum_t \lambda^{T-t} r_{it}}{\sum_t \lambda^{T-t}},\;
              \lambda = 2^{-1/h}, \qquad
              \hat\mu_i^{\mathrm{CAPM}} = r_f + \beta_i (\bar r_m - r_f),

    with :math:`\beta_i = \mathrm{cov}(r_i, r_m)/\mathrm{var}(r_m)`. Sample means are
    very noisy (their standard error is :math:`\sigma/\sqrt T`), which is why max-Sharpe
    portfolios built on them are unstable; CAPM returns shrink them towards the market.

    References
    ----------
    .. [1] Sharpe, W. F. (1964). Capital asset prices. J. Finance 19(3), 425-442.
    .. [2] Merton, R. C. (1980). On estimating the expected return on the market.
           J. Financial Economics 8(4), 323-361.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="B", name="date")
    >>> r = pd.DataFrame({"A": [0.01, 0.03, -0.01, 0.01], "B": [0.0, 0.01, 0.0, 0.01]}, index=idx)
    >>> expected_returns(r).round(4).tolist()
    [0.01, 0.005]
    """
    method = check_choice(method, EXPECTED_RETURN_METHODS, name="method")
    allowed = ("raise", "drop") if method == "capm" else ("raise", "drop", "pairwise")
    nan_policy = check_nan_policy(nan_policy, allowed, where=f"expected_returns(method={method!r})")
    frame, _ = check_returns(returns, name="returns", min_obs=2, nan_policy=nan_policy)
    _returns_not_covariance(frame, where="expected_returns")
    return _expected_returns(
        frame,
        method,
        halflife=halflife,
        benchmark=benchmark,
        risk_free=risk_free,
        periods_per_year=periods_per_year,
    )


def _expected_returns(
    frame: pd.DataFrame,
    method: str,
    *,
    halflife: float = 63.0,
    benchmark: pd.Series | None = None,
    risk_free: Rate = 0.0,
    periods_per_year: int | None = None,
) -> pd.Series:
    """:func:`expected_returns` of a checked frame (NaNs left by ``nan_policy="pairwise"`` skipped)."""
    r = frame.to_numpy()
    seen = ~np.isnan(r)
    if method == "historical_mean":
        mu = r.mean(axis=0) if seen.all() else np.nanmean(r, axis=0)
    elif method == "ewma":
        if not halflife > 0:
            raise ParameterError(f"`halflife` must be > 0 periods, got {halflife!r}.")
        wts = 0.5 ** (np.arange(len(r))[::-1] / float(halflife))
        mu = wts @ r / wts.sum() if seen.all() else wts @ np.where(seen, r, 0.0) / (wts @ seen)
    else:
        from poolkit._validation import check_aligned

        if benchmark is None:
            m = r.mean(axis=1)
        else:
            bench = check_aligned(benchmark, frame.index, name="benchmark")
            m = bench.to_numpy()
        rf = per_period_rate(risk_free, periods_per_year, frame.index)
        mc = m - m.mean()
        beta = (r - r.mean(axis=0)).T @ mc / (mc @ mc)
        mu = rf + beta * (m.mean() - rf)
    return pd.Series(mu, index=frame.columns.copy(), name="expected_return")


def allocate(
    returns: pd.DataFrame,
    method: str,
    *,
    cov_method: str = "sample",
    expected_return_method: str = "historical_mean",
    risk_free: Rate = 0.0,
    bounds: Any = (0.0, 1.0),
    groups: Mapping[Any, Any] | pd.Series | None = None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
    nan_policy: str = "raise",
    **params: Any,
) -> pd.Series:
    r"""Compute the weights of one allocation method, by name, from returns.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns (no NaN).
    method : str
        One of ``METHODS``: "equal", "inverse_volatility", "inverse_variance",
        "min_variance", "max_sharpe", "mean_variance", "risk_parity",
        "max_diversification", "min_cvar", "min_cdar", "hrp", "herc" (see
        :func:`method_spec` for what each takes; only those estimates are computed).
    cov_method : str, default "sample"
        Estimator of :func:`poolkit.risk.covariance` ("sample", "ledoit_wolf", "oas", "ewma").
    expected_return_method : str, default "historical_mean"
        Estimator of :func:`expected_returns` for "max_sharpe" and "mean_variance".
    risk_free : float or PerPeriod, default 0.0
        Annual risk-free rate (max Sharpe); a :class:`~poolkit.risk.PerPeriod` rate is used as it is.
    nan_policy : {"raise", "drop"}, default "raise"
        Missing returns raise, or the dates with one are dropped (every estimate needs
        every asset on the same dates).
    bounds, groups, group_bounds
        Constraints, as in :func:`min_variance`, taken by every method (each meets them as
        its registry entry says: :attr:`MethodSpec.constraint_rule`).
    **params
        Passed to the method (e.g. ``target_return``, ``level``, ``linkage``, ``budgets``,
        ``risk_measure``; a risk measure computed from returns makes risk_parity, hrp and
        herc take the returns instead of the covariance).

    Returns
    -------
    Series
        Weights indexed by asset, named after ``method``, summing to 1.

    Raises
    ------
    ParameterError
        If ``method`` is unknown (with a suggestion) or a parameter does not fit it.
    InfeasibleError
        If the constraints cannot all hold (the message names which).
    SolverError, CovarianceError
        From the method itself.

    Notes
    -----
    Covariances are per period: :math:`\hat\Sigma` from ``risk.covariance(returns,
    method=cov_method)``; expected returns per period from :func:`expected_returns`;
    the annual ``risk_free`` becomes :math:`(1+r_f)^{1/p}-1` per period, with :math:`p`
    the periods per year of the dates. "mean_variance" without a target maximises
    :math:`\mu^\top w - \tfrac{\delta}{2} w^\top\Sigma w` with :math:`\delta = 2.5`.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="B", name="date")
    >>> r = pd.DataFrame({"A": [0.01, -0.01, 0.01, -0.01], "B": [0.02, -0.02, 0.02, -0.02]}, index=idx)
    >>> allocate(r, "equal").tolist()
    [0.5, 0.5]
    >>> allocate(r, "inverse_volatility", bounds=(0.0, 0.6)).round(4).tolist()  # A (2/3) capped at 60 %
    [0.6, 0.4]
    """
    name = method_spec(method).name
    nan_policy = check_nan_policy(nan_policy, ("raise", "drop"), where="allocate")
    frame, _ = check_returns(returns, name="returns", min_obs=2, nan_policy=nan_policy)
    _returns_not_covariance(frame, where="allocate")
    return _allocate(
        frame,
        name,
        cov_method=cov_method,
        expected_return_method=expected_return_method,
        risk_free=risk_free,
        bounds=bounds,
        groups=groups,
        group_bounds=group_bounds,
        **params,
    )


def _allocate(
    frame: pd.DataFrame,
    method: str,
    *,
    cov_method: str = "sample",
    expected_return_method: str = "historical_mean",
    risk_free: Rate = 0.0,
    bounds: Any = (0.0, 1.0),
    groups: Mapping[Any, Any] | pd.Series | None = None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
    _cache: dict[str, Any] | None = None,
    **params: Any,
) -> pd.Series:
    """:func:`allocate` on returns already checked (a window of a checked frame).

    Estimates only what the method takes (see :mod:`poolkit.allocation._registry`);
    ``_cache`` shares the covariance and expected returns of one window between methods.
    """
    spec = method_spec(method)
    cache: dict[str, Any] = {} if _cache is None else _cache

    def get_cov() -> pd.DataFrame:
        if "cov" not in cache:
            from poolkit import risk

            cache["cov"] = risk.covariance(frame, method=cov_method)
        return cache["cov"]

    def get_mu() -> pd.Series:
        if "mu" not in cache:
            check_choice(expected_return_method, EXPECTED_RETURN_METHODS, name="expected_return_method")
            cache["mu"] = _expected_returns(frame, expected_return_method, risk_free=risk_free)  # per period
        return cache["mu"]

    estimates: dict[str, Callable[[], Any]] = {
        "assets": lambda: frame.columns,
        "returns": lambda: frame,
        "cov": get_cov,
        "expected_returns": get_mu,
    }
    kinds = spec.inputs_for(params)
    inputs = {kind: estimates[kind]() for kind in kinds}
    if "returns" in kinds and "cov_method" in spec.parameters and "cov_method" not in params:
        params = {**params, "cov_method": cov_method}  # the method estimates its clustering covariance
    ppy = _ppy(frame.index) if spec.takes_risk_free else None
    return spec.weights(
        **inputs,
        risk_free=risk_free,  # type: ignore[arg-type]  # a PerPeriod rate reaches per_period_rate as it is
        periods_per_year=ppy,
        bounds=bounds,
        groups=groups,
        group_bounds=group_bounds,
        **params,
    )


def allocate_many(returns: pd.DataFrame, methods: Sequence[str], **params: Any) -> pd.DataFrame:
    """Compute the weights of several methods side by side.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns (no NaN).
    methods : sequence of str
        Method names of :func:`allocate`.
    **params
        Passed to :func:`allocate` for every method.

    Returns
    -------
    DataFrame
        Assets x methods; each column sums to 1.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="B", name="date")
    >>> r = pd.DataFrame({"A": [0.01, -0.01, 0.02, -0.01], "B": [0.02, -0.02, 0.01, -0.02]}, index=idx)
    >>> allocate_many(r, ["equal", "inverse_variance"]).sum().round(12).tolist()
    [1.0, 1.0]
    """
    if isinstance(methods, str) or not len(methods):
        raise ParameterError(
            f"`methods` must be a non-empty list of method names such as {list(METHODS[:3])}."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PoolkitWarning)
        cols = {m: allocate(returns, m, **params) for m in methods}
    out = pd.DataFrame(cols)
    out.columns.name = "method"
    return out


def mandate(
    assets: Sequence[Any] | pd.Index,
    *,
    max_weight: float = 1.0,
    min_weight: float = 0.0,
    groups: Mapping[Any, Any] | pd.Series | pd.DataFrame | None = None,
    group_max: Mapping[Any, float] | None = None,
    group_min: Mapping[Any, float] | None = None,
) -> dict[str, Any]:
    """Write an investment mandate as the constraint arguments every allocation method takes.

    Parameters
    ----------
    assets : sequence of str or Index
        The assets of the portfolio (e.g. ``returns.columns``); groups keep only these.
    max_weight, min_weight : float, default 1.0 and 0.0
        Largest and smallest weight of any asset.
    groups : mapping asset -> group, or a DataFrame of several groupings (assets x groupings)
        Membership of the assets that belong to a group (a sector, a pool); members that are
        not among ``assets`` are dropped.
    group_max, group_min : mapping group -> float, optional
        Largest and smallest total weight of each named group; a group with no member among
        ``assets`` is dropped.

    Returns
    -------
    dict
        ``bounds``, ``groups`` and ``group_bounds``, to pass as ``**mandate`` to
        :func:`allocate`, :func:`allocate_many`, the backtests or any method.

    Raises
    ------
    ParameterError
        If a weight limit is not a fraction in [0, 1] (a percentage gets a hint), or a
        group limit names no group of ``groups``.

    Examples
    --------
    >>> m = mandate(["XOM", "CVX", "KO"], max_weight=0.5, groups={"XOM": "energy", "CVX": "energy", "BP": "energy"},
    ...             group_max={"energy": 0.6})
    >>> m["bounds"], m["groups"], m["group_bounds"]
    ((0.0, 0.5), {'XOM': 'energy', 'CVX': 'energy'}, {'energy': (0.0, 0.6)})
    """
    from poolkit._validation import check_fraction

    idx = pd.Index(assets)
    hi = check_fraction(max_weight, name="max_weight")
    lo = check_fraction(min_weight, name="min_weight")
    out: dict[str, Any] = {"bounds": (lo, hi), "groups": None, "group_bounds": None}
    if groups is None:
        if group_max or group_min:
            raise ParameterError("`group_max` / `group_min` need `groups` (asset -> group).")
        return out
    if isinstance(groups, pd.DataFrame):
        kept: Any = groups.loc[groups.index.isin(idx)]
        present = set(kept.stack().astype(str))
    else:
        ser = pd.Series(groups) if isinstance(groups, Mapping) else groups
        kept = {a: g for a, g in ser.items() if a in set(idx) and pd.notna(g)}
        present = {str(g) for g in kept.values()}
    limits: dict[str, list[float]] = {}
    for side, given in ((1, group_max or {}), (0, group_min or {})):
        for g, value in given.items():
            limits.setdefault(str(g), [0.0, 1.0])[side] = check_fraction(value, name=f"group limit of {g!r}")
    named = set(pd.Series(groups).astype(str)) if not isinstance(groups, pd.DataFrame) else set(
        groups.stack().astype(str))
    unknown = [g for g in limits if g not in named]
    if unknown:
        raise ParameterError(f"group limit(s) for {unknown} name no group of `groups` (groups: {sorted(named)}).")
    bounded = {g: (v[0], v[1]) for g, v in limits.items() if g in present}
    if bounded:
        out["groups"], out["group_bounds"] = kept, bounded
    return out


def mandate_effect(
    returns: pd.DataFrame,
    methods: Sequence[str],
    *,
    bounds: Any = (0.0, 1.0),
    groups: Mapping[Any, Any] | pd.Series | pd.DataFrame | None = None,
    group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
    cov_method: str = "sample",
    periods_per_year: float | None = None,
    **params: Any,
) -> pd.DataFrame:
    r"""Compare each method with and without a mandate: what the constraints change.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns (no NaN).
    methods : sequence of str
        Method names of :func:`allocate`.
    bounds, groups, group_bounds
        The mandate, as in :func:`min_variance` (see :func:`mandate`).
    cov_method : str, default "sample"
        Covariance estimator, for the methods and for the volatilities shown.
    periods_per_year : float, optional
        Used to annualise volatilities; inferred from the dates when omitted.
    **params
        Passed to :func:`allocate` for every method.

    Returns
    -------
    DataFrame
        One row per method: ``largest_weight_free`` / ``largest_weight`` (without / with the
        mandate), ``volatility_free`` / ``volatility`` (annualised),
        ``largest_risk_share_free`` / ``largest_risk_share`` (of the variance), ``moved``
        (:math:`\tfrac12\sum_i |w_i - w_i^{free}|`, the share of the portfolio the mandate
        moves), ``free_met_mandate`` (True when the unconstrained weights already met it),
        and for each bounded group ``<group>_free`` / ``<group>``, its total weight.

    Raises
    ------
    InfeasibleError
        If the mandate cannot hold (the message names the constraint).

    Notes
    -----
    The volatility is :math:`\sqrt{p\,w^\top\hat\Sigma w}` and the risk share of asset
    :math:`i` is :math:`w_i(\Sigma w)_i / w^\top\Sigma w`. A mandate that binds can only raise
    the in-sample risk of a risk-minimising method; for the others it may go either way.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=6, freq="B", name="date")
    >>> r = pd.DataFrame({"A": [0.01, -0.01, 0.02, -0.01, 0.0, 0.01],
    ...                   "B": [0.02, -0.03, 0.01, -0.02, 0.01, 0.0]}, index=idx)
    >>> t = mandate_effect(r, ["inverse_volatility"], bounds=(0.0, 0.55), periods_per_year=252)
    >>> t.loc["inverse_volatility", ["largest_weight_free", "largest_weight"]].round(4).tolist()  # s_B / (s_A + s_B)
    [0.6158, 0.55]
    """
    from poolkit import risk
    from poolkit._numerics import portfolio_volatility
    from poolkit.allocation._core import WEIGHT_TOL, parse_constraints

    frame, _ = check_returns(returns, name="returns", min_obs=2)
    _returns_not_covariance(frame, where="mandate_effect")
    free = allocate_many(frame, methods, cov_method=cov_method, **params)
    held = allocate_many(frame, methods, cov_method=cov_method, bounds=bounds, groups=groups,
                         group_bounds=group_bounds, **params)
    ppy = resolve_periods_per_year(periods_per_year, frame.index)
    s = risk.covariance(frame, method=cov_method).to_numpy() * ppy
    cons = parse_constraints(frame.columns, bounds, groups, group_bounds)
    wf, wh = free.to_numpy(), held.to_numpy()
    share_f = euler_risk(wf, s).share
    share_h = euler_risk(wh, s).share
    g_f = cons.group_matrix @ wf
    met = ((wf >= cons.lower[:, None] - WEIGHT_TOL) & (wf <= cons.upper[:, None] + WEIGHT_TOL)).all(axis=0)
    if cons.group_names:
        met &= ((g_f >= cons.group_lower[:, None] - WEIGHT_TOL) & (g_f <= cons.group_upper[:, None] + WEIGHT_TOL)).all(
            axis=0)
    table = pd.DataFrame(
        {
            "largest_weight_free": wf.max(axis=0),
            "largest_weight": wh.max(axis=0),
            "volatility_free": portfolio_volatility(wf, s),
            "volatility": portfolio_volatility(wh, s),
            "largest_risk_share_free": share_f.max(axis=0),
            "largest_risk_share": share_h.max(axis=0),
            "moved": 0.5 * np.abs(wh - wf).sum(axis=0),
            "free_met_mandate": met,
        },
        index=pd.Index(free.columns, name="method"),
    )
    for k, g in enumerate(cons.group_names):
        table[f"{g}_free"] = g_f[k]
        table[g] = cons.group_matrix[k] @ wh
    return table


def _weights_frame(weights: pd.Series | pd.DataFrame, assets: pd.Index) -> pd.DataFrame:
    from poolkit._validation import check_aligned

    if isinstance(weights, pd.Series):
        weights = weights.to_frame(weights.name if weights.name is not None else "portfolio")
    if not isinstance(weights, pd.DataFrame):
        raise TypeError(
            f"`weights` must be a Series or a DataFrame (assets x portfolios), got {type(weights).__name__}."
        )
    cols = {c: check_aligned(weights[c], assets, name=f"weights[{c!r}]") for c in weights.columns}
    return pd.DataFrame(cols, index=assets)


def portfolio_stats(
    weights: pd.Series | pd.DataFrame | None,
    expected_returns: pd.Series,
    cov: pd.DataFrame,
    *,
    risk_free: Rate = 0.0,
    periods_per_year: float | None = None,
) -> pd.DataFrame:
    r"""Compute the expected return, volatility and Sharpe ratio of portfolios (or of single assets).

    Parameters
    ----------
    weights : Series, DataFrame (assets x portfolios) or None
        Portfolio weights; None gives one row per single asset.
    expected_returns : Series of shape (n_assets,)
        Expected returns per period.
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance per period.
    risk_free : float, default 0.0
        Annual risk-free rate.
    periods_per_year : float, optional
        When given, returns and volatilities are annualised (as in :func:`efficient_frontier`).

    Returns
    -------
    DataFrame
        One row per portfolio (or asset): ``return``, ``volatility``, ``sharpe``.

    Notes
    -----
    .. math:: \mu_P = w^\top\mu, \quad \sigma_P = \sqrt{w^\top\Sigma w}, \quad
              S_P = \frac{\mu_P - r_{f}}{\sigma_P}\sqrt p .

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> mu = pd.Series({"A": 0.10, "B": 0.05})
    >>> portfolio_stats(pd.Series({"A": 0.5, "B": 0.5}, name="half"), mu, cov).round(4).values.tolist()
    [[0.075, 0.1118, 0.6708]]
    """
    from poolkit.allocation._core import cov_array, vector
    from poolkit.allocation._mean_variance import _annual_stats

    frame, s = cov_array(cov)
    mu = vector(expected_returns, frame.columns, name="expected_returns")
    if weights is None:
        table = pd.DataFrame(np.eye(len(mu)), index=frame.columns, columns=frame.columns.copy())
    else:
        table = _weights_frame(weights, frame.columns)
    rf = per_period_rate(risk_free, periods_per_year)
    ret, vol, sharpe = _annual_stats(table.to_numpy(), mu, s, rf, periods_per_year)
    out = pd.DataFrame({"return": ret, "volatility": vol, "sharpe": sharpe}, index=table.columns.copy())
    out.index.name = "portfolio"
    return out


def risk_contribution_table(
    weights: pd.Series | pd.DataFrame,
    returns_or_cov: pd.DataFrame,
    *,
    risk_measure: str = "variance",
    level: float = 0.95,
) -> pd.DataFrame:
    r"""Share of the portfolio's risk contributed by each asset, for each portfolio.

    Parameters
    ----------
    weights : Series or DataFrame (assets x portfolios)
        Portfolio weights, e.g. :func:`allocate_many`.
    returns_or_cov : DataFrame
        A covariance (assets x assets) for the variance, or returns (dates x assets) for
        any measure.
    risk_measure : {"variance", "semi_variance", "cvar", "cdar"}, default "variance"
        The risk that is split (see :func:`risk_parity`).
    level : float, default 0.95
        Confidence level of CVaR and CDaR.

    Returns
    -------
    DataFrame
        Assets x portfolios; each column sums to 1.

    Raises
    ------
    ParameterError
        If a portfolio has no risk (its shares are undefined), or the measure needs returns.

    Notes
    -----
    Euler's theorem splits a risk measure homogeneous of degree :math:`k` exactly:
    :math:`RC_i = \tfrac1k w_i\,\partial_i\rho(w)`, :math:`\sum_i RC_i = \rho(w)`. For the variance

    .. math:: \frac{RC_i}{\sigma_P^2} = \frac{w_i (\Sigma w)_i}{w^\top \Sigma w} ;

    for the historical CVaR and CDaR the sample-based contributions of
    :mod:`poolkit.allocation._measures` (Tasche 1999, Scaillet 2004): each asset's loss (or
    drawdown) in the tail scenarios. Equal shares :math:`1/N` are what risk parity targets.

    References
    ----------
    .. [1] Tasche, D. (1999). Risk contributions and performance measurement. TU München.
    .. [2] Scaillet, O. (2004). Nonparametric estimation and sensitivity analysis of expected
           shortfall. Mathematical Finance 14(1), 115-129.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> risk_contribution_table(pd.Series({"A": 0.5, "B": 0.5}, name="eq"), cov)["eq"].round(4).tolist()
    [0.8, 0.2]
    """
    from poolkit.allocation._measures import risk_model

    model, _ = risk_model(returns_or_cov, risk_measure, level=level, what="risk_contribution_table")
    table = _weights_frame(weights, model.assets)
    w = table.to_numpy()
    total = np.atleast_1d(model.value(w))
    zero = ~(total > 0)
    if zero.any():
        bad = table.columns[zero].tolist()
        raise ParameterError(f"portfolio(s) {bad} have zero risk; risk shares are undefined.")
    shares = np.column_stack([model.contributions(w[:, j]) for j in range(w.shape[1])]) / total  # per portfolio
    out = pd.DataFrame(shares, index=model.assets.copy(), columns=table.columns.copy())
    out.columns.name = table.columns.name
    return out

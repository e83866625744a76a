"""One entry point by name (allocate), expected returns, and the walk-forward backtest."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from poolkit._numerics import Rate, euler_risk, per_period_rate, resolve_periods_per_year
from poolkit._validation import check_choice, check_nan_policy, check_positive_int, check_returns
from poolkit.allocation._registry import METHODS, method_spec
from poolkit.exceptions import ParameterError, PoolkitWarning

__all__ = [
    "METHODS",
    "BacktestResult",
    "allocate",
    "allocate_many",
    "backtest",
    "backtest_many",
    "compare",
    "expected_returns",
    "portfolio_stats",
    "risk_contribution_table",
]

EXPECTED_RETURN_METHODS = ("historical_mean", "ewma", "capm")


def _ppy(index: pd.Index) -> float:
    """Periods per year of returns indexed by ``index`` (the rule of :func:`resolve_periods_per_year`)."""
    return resolve_periods_per_year(None, index)


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
        "max_diversification", "min_cvar", "hrp", "herc" (see :func:`method_spec` for
        what each takes; only those estimates are computed).
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
        Constraints, as in :func:`min_variance`; used by min_variance, max_sharpe,
        mean_variance, max_diversification and min_cvar. The other methods are
        long-only by construction and warn (PoolkitWarning) when constraints are set.
    **params
        Passed to the method (e.g. ``target_return``, ``level``, ``linkage``, ``budgets``).

    Returns
    -------
    Series
        Weights indexed by asset, named after ``method``, summing to 1.

    Raises
    ------
    ParameterError
        If ``method`` is unknown (with a suggestion) or a parameter does not fit it.
    InfeasibleError, SolverError, CovarianceError
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
    """
    name = method_spec(method).name
    nan_policy = check_nan_policy(nan_policy, ("raise", "drop"), where="allocate")
    frame, _ = check_returns(returns, name="returns", min_obs=2, nan_policy=nan_policy)
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
    inputs = {kind: estimates[kind]() for kind in spec.inputs}
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


@dataclass
class BacktestResult:
    r"""Outcome of a walk-forward backtest of one allocation method.

    Attributes
    ----------
    method : str
        Name of the allocation method.
    weights : DataFrame
        Target weights set at each rebalance date (rows) for each asset (columns).
    returns : Series
        Out-of-sample portfolio return of each period after costs, named after the method.
    turnover : Series
        One-way turnover :math:`\sum_i |w_i^{new} - w_i^{drift}|` at each rebalance.
    costs : Series
        Return lost to trading costs at each rebalance (``costs * turnover``).
    """

    method: str
    weights: pd.DataFrame
    returns: pd.Series
    turnover: pd.Series
    costs: pd.Series
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def cost_drag(self) -> float:
        """Annualised return lost to trading costs."""
        years = len(self.returns) / _ppy(self.returns.index) if len(self.returns) else 1.0
        return float(self.costs.sum() / years)

    @property
    def mean_turnover(self) -> float:
        """Average one-way turnover per rebalance after the first (initial) one."""
        tail = self.turnover.iloc[1:]
        return float(tail.mean()) if len(tail) else 0.0


def _rebalance_dates(index: pd.DatetimeIndex, rebalance: str) -> np.ndarray:
    """Positions of the last date of each calendar period ("D", "W", "M", "Q", "Y")."""
    codes = {"D": None, "W": "W", "M": "M", "Q": "Q", "Y": "Y", "A": "Y"}
    freq = check_choice(str(rebalance).upper().rstrip("E") or "?", list(codes), name="rebalance")
    if codes[freq] is None:
        return np.arange(len(index))
    local = index.tz_localize(None) if index.tz is not None else index  # calendar periods in wall-clock dates
    periods = local.to_period(codes[freq])
    last = np.flatnonzero(periods[1:] != periods[:-1])
    return np.concatenate([last, [len(index) - 1]])


def backtest(
    returns: pd.DataFrame,
    method: str | Callable[..., pd.Series],
    *,
    rebalance: str = "M",
    lookback: int = 252,
    costs: float = 0.0,
    nan_policy: str = "raise",
    **params: Any,
) -> BacktestResult:
    r"""Walk-forward, out-of-sample backtest of an allocation method.

    At the close of each rebalance date :math:`t` the weights are computed from the
    ``lookback`` periods ending at :math:`t` and held (drifting with prices) until the
    next rebalance date; the first decision needs a full lookback window.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns (no NaN), DatetimeIndex.
    method : str or callable
        A method name of :func:`allocate`, or a callable ``method(window, **params)``
        that takes the ``lookback`` returns ending at a rebalance date (a DataFrame,
        dates x assets) and returns the target weights (a Series indexed by asset,
        summing to 1); the result is named after its ``__name__``.
    rebalance : {"M", "W", "Q", "Y", "D"}, default "M"
        Calendar period between rebalances (last trading date of each period).
    lookback : int, default 252
        Periods of history used at each rebalance.
    costs : float, default 0.0
        Proportional trading cost per unit of one-way turnover (0.001 = 10 bp), charged
        on the first period after the rebalance.
    nan_policy : {"raise", "drop"}, default "raise"
        Missing returns raise, or the dates with one are dropped before the backtest
        (their returns then count for no asset).
    **params
        Passed to :func:`allocate` (cov_method, bounds, risk_free, ...), or to ``method``
        when it is a callable.

    Returns
    -------
    BacktestResult
        ``weights`` at each rebalance, out-of-sample ``returns``, ``turnover``, ``costs``.

    Raises
    ------
    InsufficientDataError
        If there are not more than ``lookback`` dates.
    ParameterError
        If ``rebalance``, ``lookback`` or ``costs`` is invalid, or a callable ``method``
        returns weights that do not sum to 1.
    AlignmentError
        If a callable ``method`` returns weights for other assets than the window's.

    Notes
    -----
    Between rebalances the holdings drift: :math:`w_{t+1} \propto w_t (1 + r_{t+1})`, and
    the portfolio return is :math:`r_{P,t} = w_{t-1}^\top r_t`. At a rebalance the one-way
    turnover is :math:`\tau = \sum_i |w_i^{target} - w_i^{drift}|` and costs
    :math:`c\,\tau` are subtracted from the next period's return.

    References
    ----------
    .. [1] DeMiguel, V., Garlappi, L., Uppal, R. (2009). Optimal versus naive diversification.
           Rev. Financial Studies 22(5), 1915-1953.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=60, freq="B", name="date")
    >>> r = pd.DataFrame({"A": 0.001, "B": 0.002}, index=idx)
    >>> res = backtest(r, "equal", lookback=20)
    >>> round(float(res.returns.iloc[0]), 6)  # half in each asset
    0.0015
    >>> def all_in_b(window):
    ...     return pd.Series({"A": 0.0, "B": 1.0})
    >>> round(float(backtest(r, all_in_b, lookback=20).returns.iloc[0]), 6)
    0.002
    """
    results = backtest_many(
        returns, [method], rebalance=rebalance, lookback=lookback, costs=costs, nan_policy=nan_policy, **params
    )
    return next(iter(results.values()))


def backtest_many(
    returns: pd.DataFrame,
    methods: Sequence[str | Callable[..., pd.Series]],
    *,
    rebalance: str = "M",
    lookback: int = 252,
    costs: float = 0.0,
    nan_policy: str = "raise",
    **params: Any,
) -> dict[str, BacktestResult]:
    """Run :func:`backtest` for several methods with the same settings.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns (no NaN).
    methods : sequence of str or callable
        Method names of :func:`allocate`, or callables as in :func:`backtest`.
    rebalance, lookback, costs, nan_policy
        As in :func:`backtest`.
    **params
        Passed to :func:`allocate` (cov_method, bounds, risk_free, ...) and to the
        callables. The covariance and expected returns of each window are estimated
        once and shared by the named methods.

    Returns
    -------
    dict of str to BacktestResult
        One result per method, in the order given, keyed by the method name (a
        callable's ``__name__``).

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=60, freq="B", name="date")
    >>> r = pd.DataFrame({"A": 0.001, "B": 0.002}, index=idx)
    >>> sorted(backtest_many(r, ["equal"], lookback=20))
    ['equal']
    """
    from poolkit._validation import check_fraction
    from poolkit.exceptions import InsufficientDataError

    if isinstance(methods, str) or callable(methods) or not len(methods):
        raise ParameterError(
            f"`methods` must be a non-empty list of method names such as {list(METHODS[:3])} (or callables)."
        )
    named: dict[str, str | Callable[..., pd.Series]] = {}
    for m in methods:  # a loop over methods, not assets
        key = _method_name(m) if callable(m) else method_spec(m).name
        value = m if callable(m) else key
        if key in named and (callable(value) or callable(named[key])) and named[key] is not value:
            raise ParameterError(
                f"`methods` holds two different methods named {key!r}; give each callable its own __name__."
            )
        named[key] = value
    nan_policy = check_nan_policy(nan_policy, ("raise", "drop"), where="backtest")
    frame, _ = check_returns(returns, name="returns", min_obs=2, nan_policy=nan_policy)
    # our copy; metadata would be deep-copied into every window (a stated unit is kept)
    frame.attrs = {"units": "fraction"} if frame.attrs.get("units") == "fraction" else {}
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise ParameterError("`returns` needs a DatetimeIndex of dates for a backtest.")
    lookback = check_positive_int(lookback, name="lookback", minimum=2)
    costs = check_fraction(costs, name="costs", low=0.0, high=1.0)
    n_dates = len(frame)
    if n_dates <= lookback:
        raise InsufficientDataError(
            f"backtest needs more than `lookback` = {lookback} dates of returns, got {n_dates}; "
            f"load a longer history or lower `lookback`."
        )
    reb = _rebalance_dates(frame.index, rebalance)
    reb = reb[(reb >= lookback - 1) & (reb < n_dates - 1)]
    if reb.size == 0:
        raise InsufficientDataError(
            f"backtest: no rebalance date has {lookback} dates of history and a date after it; "
            f"load a longer history or lower `lookback`."
        )
    targets = {key: np.empty((reb.size, frame.shape[1])) for key in named}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PoolkitWarning)
        for k, t in enumerate(reb):  # one estimation per rebalance date, shared by the methods
            window = frame.iloc[t - lookback + 1 : t + 1]
            cache: dict[str, Any] = {}
            for key, m in named.items():
                if callable(m):
                    targets[key][k] = _callable_weights(window, m, params, key)
                else:
                    targets[key][k] = _allocate(window, m, _cache=cache, **params).to_numpy()
    settings = dict(params, rebalance=rebalance, lookback=lookback, costs=costs)
    return {key: _simulate(frame, reb, targets[key], costs, key, dict(settings)) for key in named}


def _method_name(method: str | Callable[..., pd.Series]) -> str:
    """Name of a method: the string itself, or a callable's ``__name__``."""
    return method if isinstance(method, str) else str(getattr(method, "__name__", "callable"))


def _callable_weights(
    window: pd.DataFrame, method: Callable[..., pd.Series], params: dict[str, Any], name: str
) -> np.ndarray:
    """Weights (in ``window.columns`` order) of a callable method, checked to sum to 1."""
    from poolkit._validation import check_aligned

    w = check_aligned(method(window, **params), window.columns, name=f"weights of method {name!r}").to_numpy()
    total = float(w.sum())
    if not abs(total - 1.0) <= 1e-9:
        raise ParameterError(
            f"method {name!r} returned weights summing to {total:.12g} on the window ending "
            f"{window.index[-1]:%Y-%m-%d}; they must sum to 1 (divide them by their sum)."
        )
    return w


def _simulate(
    frame: pd.DataFrame,
    reb: np.ndarray,
    targets: np.ndarray,
    costs: float,
    method: str,
    settings: dict[str, Any],
) -> BacktestResult:
    """Hold each target portfolio (drifting) until the next rebalance; charge costs on turnover."""
    r = frame.to_numpy()
    n_dates = len(frame)
    port = np.empty(n_dates - reb[0] - 1)
    turnover = np.empty(reb.size)
    held = np.zeros(r.shape[1])
    ends = np.concatenate([reb[1:], [n_dates - 1]])
    for k, (t, end) in enumerate(zip(reb, ends, strict=True)):  # one step per rebalance, vectorised inside
        turnover[k] = np.abs(targets[k] - held).sum()
        growth = np.cumprod(1.0 + r[t + 1 : end + 1], axis=0)  # value of each holding after each period
        value = growth @ targets[k]
        prev = np.concatenate([[1.0], value[:-1]])
        port[t - reb[0] : end - reb[0]] = value / prev - 1.0
        held = targets[k] * growth[-1] / value[-1]
    cost = costs * turnover
    port[reb - reb[0]] -= cost
    reb_dates = frame.index[reb]
    weights = pd.DataFrame(targets, index=reb_dates, columns=frame.columns.copy())
    weights.index.name = "date"
    return BacktestResult(
        method=method,
        weights=weights,
        returns=pd.Series(port, index=frame.index[reb[0] + 1 :], name=method),
        turnover=pd.Series(turnover, index=reb_dates, name="turnover"),
        costs=pd.Series(cost, index=reb_dates, name="costs"),
        params=settings,
    )


def compare(results: Mapping[str, BacktestResult], *, risk_free: Rate = 0.0) -> pd.DataFrame:
    """Tabulate backtests side by side: risk summary, turnover and cost drag.

    Parameters
    ----------
    results : mapping of str to BacktestResult
        Output of :func:`backtest_many` (or several :func:`backtest` calls).
    risk_free : float, default 0.0
        Annual risk-free rate passed to :func:`poolkit.risk.summary`.

    Returns
    -------
    DataFrame
        One row per method: the columns of ``poolkit.risk.summary`` plus
        ``mean_turnover`` (per rebalance) and ``cost_drag`` (annual).

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=80, freq="B", name="date")
    >>> rng = np.random.default_rng(0)
    >>> r = pd.DataFrame(rng.normal(0.0005, 0.01, (80, 2)), index=idx, columns=["A", "B"])
    >>> table = compare(backtest_many(r, ["equal", "min_variance"], lookback=20))
    >>> table.index.tolist()
    ['equal', 'min_variance']
    """
    from poolkit import risk

    if not results:
        raise ParameterError("`results` is empty; run backtest_many(returns, methods) first.")
    rets = pd.DataFrame({name: res.returns for name, res in results.items()})
    table = risk.summary(rets, risk_free=risk_free)
    if table.index.tolist() != list(results) and list(table.columns) == list(results):
        table = table.T
    table = table.copy()
    table["mean_turnover"] = pd.Series({k: v.mean_turnover for k, v in results.items()})
    table["cost_drag"] = pd.Series({k: v.cost_drag for k, v in results.items()})
    table.index.name = "method"
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


def risk_contribution_table(weights: pd.Series | pd.DataFrame, cov: pd.DataFrame) -> pd.DataFrame:
    r"""Share of portfolio variance contributed by each asset, for each portfolio.

    Parameters
    ----------
    weights : Series or DataFrame (assets x portfolios)
        Portfolio weights, e.g. :func:`allocate_many`.
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns.

    Returns
    -------
    DataFrame
        Assets x portfolios; each column sums to 1.

    Raises
    ------
    ParameterError
        If a portfolio has zero variance (its shares are undefined).

    Notes
    -----
    .. math:: \frac{RC_i}{\sigma_P^2} = \frac{w_i (\Sigma w)_i}{w^\top \Sigma w},
              \qquad \sum_i RC_i = \sigma_P^2 .

    Equal shares :math:`1/N` are what risk parity targets.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> risk_contribution_table(pd.Series({"A": 0.5, "B": 0.5}, name="eq"), cov)["eq"].round(4).tolist()
    [0.8, 0.2]
    """
    from poolkit.allocation._core import cov_array

    frame, s = cov_array(cov)
    table = _weights_frame(weights, frame.columns)
    split = euler_risk(table.to_numpy(), s)
    zero = ~(split.volatility > 0)
    if zero.any():
        bad = table.columns[zero].tolist()
        raise ParameterError(f"portfolio(s) {bad} have zero variance; risk shares are undefined.")
    out = pd.DataFrame(split.share, index=frame.columns.copy(), columns=table.columns.copy())
    out.columns.name = table.columns.name
    return out

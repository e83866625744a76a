"""The walk-forward backtest: weights chosen on past data only, rebalanced on a calendar, compared."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from poolkit._numerics import Rate
from poolkit._validation import check_choice, check_nan_policy, check_positive_int, check_returns
from poolkit.allocation._api import _allocate, _ppy
from poolkit.allocation._registry import METHODS, method_spec
from poolkit.exceptions import ParameterError, PoolkitWarning

__all__ = ["BacktestResult", "backtest", "backtest_many", "compare"]


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

r"""Allocation: how much of the pool goes to each asset.

Every method returns a ``pd.Series`` of weights indexed by asset, summing to 1 within
1e-9 and inside every bound, or raises a named :mod:`poolkit.exceptions` error —
never None, NaN or weights off the simplex.

- heuristics: :func:`value_weights` (:math:`w_i = V_i/\sum_j V_j`), :func:`equal_weights`,
  :func:`inverse_volatility`, :func:`inverse_variance`;
- mean-variance: :func:`min_variance`, :func:`max_sharpe`, :func:`mean_variance`,
  :func:`efficient_frontier`, :func:`max_diversification` (dense QPs solved exactly by the
  DAQP active-set solver, each checked against its KKT conditions);
- risk-based: :func:`risk_parity` (Newton on a convex log-barrier form), :func:`min_cvar`
  (a linear programme solved by HiGHS), :func:`hrp` and :func:`herc` (scipy clustering);
- by name from returns: :func:`allocate`, :func:`allocate_many`, :func:`expected_returns`;
  by name from estimates: :func:`method_spec` (the registry of :data:`METHODS`: each
  method's function, the estimates it takes, whether it takes constraints), used by
  :func:`allocate`, the pooling functions and the explorers alike;
  reading portfolios: :func:`portfolio_stats`, :func:`risk_contribution_table`;
- walk-forward, out-of-sample: :func:`backtest`, :func:`backtest_many`, :func:`compare`.

Constraints (where a method takes them): ``bounds`` per asset (a pair of numbers or of
per-asset Series, or ``{asset: (lo, hi)}``; long-only ``(0, 1)`` by default, a negative
lower bound allows shorts), ``groups`` (asset -> group) with ``group_bounds``
(group -> (lo, hi)). Covariances and expected returns are per period.
"""

from __future__ import annotations

from poolkit.allocation._api import (
    METHODS,
    BacktestResult,
    allocate,
    allocate_many,
    backtest,
    backtest_many,
    compare,
    expected_returns,
    portfolio_stats,
    risk_contribution_table,
)
from poolkit.allocation._hierarchical import herc, hrp
from poolkit.allocation._mean_variance import (
    efficient_frontier,
    max_diversification,
    max_sharpe,
    mean_variance,
    min_variance,
)
from poolkit.allocation._registry import MethodSpec, method_spec
from poolkit.allocation._risk_based import (
    equal_weights,
    inverse_variance,
    inverse_volatility,
    min_cvar,
    risk_parity,
    value_weights,
)

__all__ = [
    "METHODS",
    "BacktestResult",
    "MethodSpec",
    "allocate",
    "allocate_many",
    "backtest",
    "backtest_many",
    "compare",
    "efficient_frontier",
    "equal_weights",
    "expected_returns",
    "herc",
    "hrp",
    "inverse_variance",
    "inverse_volatility",
    "max_diversification",
    "max_sharpe",
    "mean_variance",
    "method_spec",
    "min_cvar",
    "min_variance",
    "portfolio_stats",
    "risk_contribution_table",
    "risk_parity",
    "value_weights",
]

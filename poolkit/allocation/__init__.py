r"""Allocation: how much of the pool goes to each asset.

Every method returns a ``pd.Series`` of weights indexed by asset, summing to 1 within
1e-9 and inside every bound, or raises a named :mod:`poolkit.exceptions` error —
never None, NaN or weights off the simplex.

- heuristics: :func:`value_weights` (:math:`w_i = V_i/\sum_j V_j`), :func:`equal_weights`,
  :func:`inverse_volatility`, :func:`inverse_variance`;
- mean-variance: :func:`min_variance`, :func:`max_sharpe`, :func:`mean_variance`,
  :func:`efficient_frontier`, :func:`max_diversification` (dense QPs solved exactly by the
  DAQP active-set solver, each checked against its KKT conditions);
- risk-based: :func:`risk_parity` (risk budgeting, also per pool, under constraints: Newton on
  a convex log-barrier form, an interior-point method when constraints bind), :func:`hrp` and
  :func:`herc` (scipy clustering; bounds inside the splits), each with a ``risk_measure`` of
  :data:`RISK_MEASURES` (variance, semi-variance, CVaR, CDaR);
- tail risk: :func:`min_cvar` and :func:`min_cdar` (linear programmes solved by HiGHS, with an
  optional return target);
- by name from returns: :func:`allocate`, :func:`allocate_many`, :func:`expected_returns`;
  by name from estimates: :func:`method_spec` (the registry of :data:`METHODS`: each
  method's function, the estimates it takes, whether it takes constraints), used by
  :func:`allocate`, the pooling functions and the explorers alike;
  reading portfolios: :func:`portfolio_stats`, :func:`risk_contribution_table`;
- walk-forward, out-of-sample: :func:`backtest`, :func:`backtest_many`, :func:`compare`;
- mandates: :func:`mandate` (max weight, group caps as constraint arguments) and
  :func:`mandate_effect` (each method with and without it).

Constraints, taken by every method of :data:`METHODS`: ``bounds`` per asset (a pair of
numbers or of per-asset Series, or ``{asset: (lo, hi)}``; long-only ``(0, 1)`` by default, a
negative lower bound allows shorts), ``groups`` (asset -> group) with ``group_bounds``
(group -> (lo, hi)). The optimisers optimise under them; risk budgeting solves its constrained
convex problem; HRP and HERC meet bounds inside their splits; the heuristics (and HRP / HERC
for group bounds) take the closest feasible weights in relative terms. Covariances and
expected returns are per period.
"""

from __future__ import annotations

from poolkit.allocation._api import (
    METHODS,
    allocate,
    allocate_many,
    expected_returns,
    mandate,
    mandate_effect,
    portfolio_stats,
    risk_contribution_table,
)
from poolkit.allocation._backtest import BacktestResult, backtest, backtest_many, compare
from poolkit.allocation._hierarchical import herc, hrp
from poolkit.allocation._mean_variance import (
    efficient_frontier,
    max_diversification,
    max_sharpe,
    mean_variance,
    min_variance,
)
from poolkit.allocation._measures import RISK_MEASURES
from poolkit.allocation._registry import MethodSpec, method_spec
from poolkit.allocation._risk_based import (
    equal_weights,
    inverse_variance,
    inverse_volatility,
    risk_parity,
    value_weights,
)
from poolkit.allocation._tail import min_cdar, min_cvar

__all__ = [
    "METHODS",
    "RISK_MEASURES",
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
    "mandate",
    "mandate_effect",
    "max_diversification",
    "max_sharpe",
    "mean_variance",
    "method_spec",
    "min_cdar",
    "min_cvar",
    "min_variance",
    "portfolio_stats",
    "risk_contribution_table",
    "risk_parity",
    "value_weights",
]

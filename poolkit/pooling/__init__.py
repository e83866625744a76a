"""Pooling: build asset pools, measure what pooling buys, allocate across pools, stress correlations.

A pool combines assets so that their risks partly cancel. This module builds pools
(from assumptions as in a teaching example, by a criterion such as risk level or
horizon, or by clustering the correlations of real returns), measures what the
pooling bought (diversification ratio, effective numbers of assets and of bets,
diversification benefit), allocates inside and across pools (pool of pools) and
shows how the benefit decays when correlations rise in a crisis::

    import poolkit as pk
    pool = pk.pooling.from_assumptions(table, corr=0.3)
    pools = pk.pooling.build_pools(returns, "cluster")  # or "volatility", "expected_return", ...
    pk.pooling.pool_summary(returns, pools)
"""

from __future__ import annotations

from poolkit.pooling._allocate import (
    pool_returns,
    pool_summary,
    pool_weights,
    two_level_allocation,
    two_level_backtest,
)
from poolkit.pooling._assumptions import AssumedPool, from_assumptions
from poolkit.pooling._build import build_pools, cluster_pools, cluster_tree, pool_count_scores, pools_by
from poolkit.pooling._measures import (
    diversification_benefit,
    diversification_ratio,
    diversification_table,
    effective_number_of_assets,
    effective_number_of_bets,
    minimum_torsion,
)
from poolkit.pooling._stress import (
    correlation_stress,
    crisis_comparison,
    diversification_curve,
    nearest_correlation,
)

__all__ = [
    "AssumedPool",
    "build_pools",
    "cluster_pools",
    "cluster_tree",
    "correlation_stress",
    "crisis_comparison",
    "diversification_benefit",
    "diversification_curve",
    "diversification_ratio",
    "diversification_table",
    "effective_number_of_assets",
    "effective_number_of_bets",
    "from_assumptions",
    "minimum_torsion",
    "nearest_correlation",
    "pool_count_scores",
    "pool_returns",
    "pool_summary",
    "pool_weights",
    "pools_by",
    "two_level_allocation",
    "two_level_backtest",
]

"""Pooling: build asset pools, measure what pooling buys, allocate across pools, stress correlations.

A pool combines assets so that their risks partly cancel. This module builds pools
(from assumptions as in a teaching example, by a criterion such as risk level or
horizon, or by clustering the correlations of real returns), measures what the
pooling bought (diversification ratio, effective numbers of assets and of bets,
diversification benefit), allocates inside and across pools (pool of pools) and
shows how the benefit decays when correlations rise in a crisis; it measures what pooling
cannot remove (systematic risk and the diversification floor, systemic-risk indicators)
and finds the crises in the data::

    import poolkit as pk
    pool = pk.pooling.from_assumptions(table, corr=0.3)
    pools = pk.pooling.build_pools(returns, "cluster")  # or "volatility", "expected_return", ...
    pk.pooling.pool_summary(returns, pools)
    crises = pk.pooling.find_crises(returns)
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
from poolkit.pooling._crises import CRISIS_INDICATORS, find_crises  # noqa: F401
from poolkit.pooling._indicators import (
    absorption_ratio,
    average_correlation,
    co_exceedance,
    systemic_indicators,
    tail_dependence,
    turbulence,
)
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
from poolkit.pooling._systemic import SystematicDecomposition, diversification_floor, systematic_decomposition

__all__ = [
    "AssumedPool",
    "build_pools",
    "SystematicDecomposition",
    "absorption_ratio",
    "average_correlation",
    "cluster_pools",
    "cluster_tree",
    "co_exceedance",
    "correlation_stress",
    "crisis_comparison",
    "diversification_benefit",
    "diversification_curve",
    "diversification_floor",
    "diversification_ratio",
    "diversification_table",
    "effective_number_of_assets",
    "effective_number_of_bets",
    "find_crises",
    "from_assumptions",
    "minimum_torsion",
    "nearest_correlation",
    "pool_count_scores",
    "pool_returns",
    "pool_summary",
    "pool_weights",
    "pools_by",
    "systematic_decomposition",
    "systemic_indicators",
    "tail_dependence",
    "turbulence",
    "two_level_allocation",
    "two_level_backtest",
]

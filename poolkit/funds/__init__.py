r"""Pooled funds: unit accounting for many investors, returns flows cannot distort, what pooling saves.

A pooled fund (an open-ended fund, an endowment's unitised pool, an investment
club) holds one pool of assets for many investors. Units divide it: investor
:math:`i` owns the value :math:`V_i = u_i P` and the share
:math:`w_i = V_i / \sum_j V_j` (the value weight of the source document, FAQ 6.4).
This module keeps those accounts with management and performance fees, measures
returns that flows cannot distort (time-weighted) beside each investor's own
(money-weighted), and prices what pooling saves: whole shares, fixed and minimum
costs, and netting of flows::

    import poolkit as pk
    ledger = pk.funds.fund_ledger(flows, returns=pool_returns, management_fee=0.01, performance_fee=0.2)
    pk.funds.statement(ledger, "Ann", freq="ME")
    pk.funds.investor_returns(ledger)                 # TWR vs money-weighted return (XIRR)
    pk.funds.whole_share_curve(capitals, weights, prices, n_investors=20)
"""

from __future__ import annotations

from poolkit.funds._costs import (
    integer_allocation,
    netting_savings,
    simulate_flows,
    trading_cost_curve,
    whole_share_comparison,
    whole_share_curve,
)
from poolkit.funds._flows import dealing_dates, flow_table
from poolkit.funds._ledger import FundLedger, fund_ledger, statement
from poolkit.funds._returns import (
    IRRError,
    investor_returns,
    money_weighted_return,
    time_weighted_return,
    xirr,
)

__all__ = [
    "FundLedger",
    "IRRError",
    "dealing_dates",
    "flow_table",
    "fund_ledger",
    "integer_allocation",
    "investor_returns",
    "money_weighted_return",
    "netting_savings",
    "simulate_flows",
    "statement",
    "time_weighted_return",
    "trading_cost_curve",
    "whole_share_comparison",
    "whole_share_curve",
    "xirr",
]

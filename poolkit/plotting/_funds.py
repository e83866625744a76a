r"""Figures for poolkit.funds: investors' values and shares, TWR vs IRR, what pooling saves.

Each function takes pandas objects and an optional matplotlib ``ax`` and returns
the axes; none calls ``plt.show()`` or writes files; matplotlib is imported inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from poolkit.exceptions import DataError

__all__ = ["fund_returns_chart", "fund_values_chart", "netting_chart", "trading_cost_chart", "whole_share_chart"]

_ALONE, _POOLED = "#d62728", "#1f77b4"


def _axes(ax: Any, figsize: tuple[float, float] = (9.0, 4.5)) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _need(table: object, columns: Sequence[str], source: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"expected a DataFrame from {source}, got {type(table).__name__}.")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"the table lacks column(s) {missing}; pass the output of {source}.")
    return table


def fund_values_chart(values: pd.DataFrame, *, shares: bool = False, ax: Any = None) -> Any:
    r"""Draw each investor's value in the fund over time, stacked (or their shares :math:`w_i`).

    Parameters
    ----------
    values : DataFrame of shape (n_dates, n_investors)
        ``ledger.values`` (or ``ledger.shares``) of :func:`poolkit.funds.fund_ledger`.
    shares : bool, default False
        Draw the shares :math:`w_i = V_i / \sum_j V_j` (in %) instead of the values.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib Axes
        The top of the stack is the fund's net asset value (or 100 %).

    Raises
    ------
    TypeError
        If ``values`` is not a DataFrame.

    Examples
    --------
    >>> values = pd.DataFrame({"Ann": [100.0, 110.0], "Ben": [0.0, 50.0]}, index=pd.to_datetime(["2024-01-31", "2024-02-29"]))
    >>> fund_values_chart(values, shares=True).get_title()
    'Who owns the pool'
    """
    if not isinstance(values, pd.DataFrame):
        raise TypeError(f"`values` must be a DataFrame of dates x investors (ledger.values), got {type(values).__name__}.")
    data = values.clip(lower=0.0)
    if shares:
        total = data.sum(axis=1).replace(0.0, np.nan)
        data = data.div(total, axis=0).fillna(0.0) * 100.0
    ax = _axes(ax)
    ax.stackplot(data.index, data.to_numpy().T, labels=[str(c) for c in data.columns], alpha=0.85)
    ax.set_ylabel(r"share $w_i = V_i / \sum_j V_j$ (%)" if shares else "value $V_i = u_i P - F_i$")
    ax.set_title("Who owns the pool" if shares else "Investors' values in the fund")
    ax.margins(x=0)
    ax.legend(loc="upper left", fontsize="small", ncol=min(len(data.columns), 4))
    return ax


def fund_returns_chart(table: pd.DataFrame, *, ax: Any = None) -> Any:
    """Draw each investor's time-weighted return next to their money-weighted return (IRR).

    Parameters
    ----------
    table : DataFrame
        :func:`poolkit.funds.investor_returns` output (columns ``time_weighted_return``
        and ``money_weighted_return``, annual rates).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    DataError
        If a column is missing.

    Examples
    --------
    >>> table = pd.DataFrame({"time_weighted_return": [-0.134, -0.134], "money_weighted_return": [-0.134, -0.455]},
    ...                      index=["Ann", "Bob"])
    >>> len(fund_returns_chart(table).patches)  # two bars per investor
    4
    """
    table = _need(table, ["time_weighted_return", "money_weighted_return"], "poolkit.funds.investor_returns")
    ax = _axes(ax)
    x = np.arange(len(table))
    width = 0.38
    ax.bar(x - width / 2, table["time_weighted_return"] * 100, width, color="#7f7f7f", label="time-weighted (the pool)")
    ax.bar(x + width / 2, table["money_weighted_return"] * 100, width, color=_POOLED, label="money-weighted (IRR, the investor)")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, [str(i) for i in table.index])
    ax.set_ylabel("annual rate (%)")
    ax.set_title("Same fund, different experiences: TWR vs IRR")
    ax.legend()
    return ax


def _alone_pooled(ax: Any, table: pd.DataFrame, column: str, scale: float) -> None:
    ax.plot(table.index, table[f"alone_{column}"] * scale, "o-", color=_ALONE, label="alone")
    ax.plot(table.index, table[f"pooled_{column}"] * scale, "o-", color=_POOLED, label="pooled")
    ax.set_xscale("log")
    ax.set_xlabel("capital per investor")
    ax.legend()


def whole_share_chart(curve: pd.DataFrame, *, measure: str = "deviation", ax: Any = None) -> Any:
    r"""Draw how far whole shares keep a portfolio from its target as capital grows, alone vs pooled.

    Parameters
    ----------
    curve : DataFrame
        :func:`poolkit.funds.whole_share_curve` output.
    measure : {"deviation", "tracking_error", "cash"}, default "deviation"
        :math:`\sum_j |\tilde w_j - w_j|`, the ex-ante tracking error (needs ``cov``
        in the curve) or the share left in cash.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    DataError
        If the curve lacks the columns of ``measure``.

    Examples
    --------
    >>> curve = pd.DataFrame({"alone_deviation": [0.21, 0.02], "pooled_deviation": [0.02, 0.001]},
    ...                      index=pd.Index([1e3, 1e4], name="capital"))
    >>> whole_share_chart(curve).get_xscale()
    'log'
    """
    from poolkit._validation import check_choice

    check_choice(measure, ("deviation", "tracking_error", "cash"), name="measure")
    curve = _need(curve, [f"alone_{measure}", f"pooled_{measure}"], "poolkit.funds.whole_share_curve (with cov=...)")
    ax = _axes(ax)
    _alone_pooled(ax, curve, measure, 100.0)
    label = {"deviation": r"$\sum_j |\tilde w_j - w_j|$ (%)", "tracking_error": "tracking error (%)", "cash": "cash left (%)"}
    ax.set_ylabel(label[measure])
    ax.set_title("Whole shares: distance from the target weights")
    return ax


def trading_cost_chart(curve: pd.DataFrame, *, measure: str = "cost", ax: Any = None) -> Any:
    """Draw the cost of building the portfolio as a share of capital (or the weight out of reach), alone vs pooled.

    Parameters
    ----------
    curve : DataFrame
        :func:`poolkit.funds.trading_cost_curve` output.
    measure : {"cost", "unreachable"}, default "cost"
        The cost as a share of capital (log scale), or the target weight in
        positions below the minimum ticket.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    DataError
        If a column is missing.

    Examples
    --------
    >>> curve = pd.DataFrame({"alone_cost": [0.05, 0.005], "pooled_cost": [0.005, 0.0005]},
    ...                      index=pd.Index([1e3, 1e4], name="capital"))
    >>> trading_cost_chart(curve).get_yscale()
    'log'
    """
    from poolkit._validation import check_choice

    check_choice(measure, ("cost", "unreachable"), name="measure")
    curve = _need(curve, [f"alone_{measure}", f"pooled_{measure}"], "poolkit.funds.trading_cost_curve")
    ax = _axes(ax)
    _alone_pooled(ax, curve, measure, 100.0)
    if measure == "cost" and (curve[["alone_cost", "pooled_cost"]].to_numpy() > 0).all():
        ax.set_yscale("log")
    ax.set_ylabel("cost, % of capital" if measure == "cost" else "target weight below the minimum ticket (%)")
    ax.set_title("Fixed and minimum costs: building the portfolio" if measure == "cost" else "Minimum tickets: weight out of reach")
    return ax


def netting_chart(table: pd.DataFrame, *, measure: str = "volume", ax: Any = None) -> Any:
    """Draw cumulative traded volume (or cost) when investors trade alone vs netted in a pool.

    Parameters
    ----------
    table : DataFrame
        :func:`poolkit.funds.netting_savings` output.
    measure : {"volume", "cost", "trades"}, default "volume"
        What to accumulate.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    DataError
        If a column is missing.

    Examples
    --------
    >>> table = pd.DataFrame({"alone_volume": [1700.0, 500.0], "pooled_volume": [500.0, 500.0]},
    ...                      index=pd.to_datetime(["2024-01-02", "2024-01-03"]))
    >>> netting_chart(table).lines[0].get_ydata().tolist()  # cumulative volume alone
    [1700.0, 2200.0]
    """
    from poolkit._validation import check_choice

    check_choice(measure, ("volume", "cost", "trades"), name="measure")
    table = _need(table, [f"alone_{measure}", f"pooled_{measure}"], "poolkit.funds.netting_savings")
    ax = _axes(ax)
    ax.plot(table.index, table[f"alone_{measure}"].cumsum(), color=_ALONE, label="each investor trades alone")
    ax.plot(table.index, table[f"pooled_{measure}"].cumsum(), color=_POOLED, label="the pool trades the net flow")
    ax.set_ylabel(f"cumulative {measure}")
    ax.set_title("Netting: flows of the same day cancel inside the pool")
    ax.legend()
    return ax

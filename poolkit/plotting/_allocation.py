r"""Figures for poolkit.allocation: weights, the efficient frontier, risk contributions, backtests.

Each function takes pandas objects and an optional matplotlib ``ax``, returns the
axes (or the figure for a multi-panel chart), never calls ``plt.show()`` and never
writes files. matplotlib is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from poolkit.exceptions import DataError

__all__ = [
    "backtest_chart",
    "frontier_chart",
    "risk_contribution_chart",
    "weights_chart",
    "weights_overview",
]


def _axes(ax: Any, figsize: tuple[float, float] = (9.0, 4.5)) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _table(weights: pd.DataFrame | pd.Series, name: str) -> pd.DataFrame:
    if isinstance(weights, pd.Series):
        weights = weights.to_frame(weights.name or "weights")
    if not isinstance(weights, pd.DataFrame) or weights.empty:
        raise DataError(f"`{name}` must be a non-empty DataFrame (assets x methods) or a Series of weights.")
    return weights


def _percent(axis: Any) -> None:
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(1.0))


def weights_chart(weights: pd.DataFrame | pd.Series, *, ax: Any = None) -> Any:
    """Draw the weights of one or several portfolios as grouped horizontal bars.

    Parameters
    ----------
    weights : DataFrame (assets x methods) or Series
        Weights, e.g. from :func:`poolkit.allocation.allocate_many`.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure when omitted.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> w = pd.DataFrame({"equal": [0.5, 0.5], "min_variance": [0.2, 0.8]}, index=["A", "B"])
    >>> len(weights_chart(w).patches)
    4
    """
    table = _table(weights, "weights")
    n_assets, n_methods = table.shape
    ax = _axes(ax, (9.0, min(12.0, max(3.0, 0.12 * n_assets * n_methods + 1.0))))
    height = 0.8 / n_methods
    pos = np.arange(n_assets)
    for k, col in enumerate(table.columns):
        ax.barh(
            pos + (k - (n_methods - 1) / 2) * height, table[col].to_numpy(), height=height, label=str(col)
        )
    ax.set_yticks(pos, [str(a) for a in table.index])
    ax.set_ylim(n_assets - 0.5, -0.5)  # first asset on top, rows aligned with a heatmap of the table
    ax.axvline(0.0, color="black", lw=0.6)
    _percent(ax.xaxis)
    ax.set_xlabel("weight")
    ax.set_title("Portfolio weights by method")
    if n_methods > 1:
        ax.legend(fontsize="x-small", loc="lower right", framealpha=0.9)
    return ax


def frontier_chart(
    frontier: pd.DataFrame,
    *,
    portfolios: pd.DataFrame | None = None,
    assets: pd.DataFrame | None = None,
    ax: Any = None,
) -> Any:
    """Draw the efficient frontier with chosen portfolios and the individual assets.

    Parameters
    ----------
    frontier : DataFrame
        Output of :func:`poolkit.allocation.efficient_frontier` (columns ``return``,
        ``volatility``, ``sharpe``).
    portfolios : DataFrame, optional
        Points to mark, one row per portfolio with ``return`` and ``volatility``
        (e.g. :func:`poolkit.allocation.portfolio_stats` of several methods).
    assets : DataFrame, optional
        Individual assets, same columns, drawn as grey dots with labels.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure when omitted.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> f = pd.DataFrame({"return": [0.05, 0.08], "volatility": [0.10, 0.15], "sharpe": [0.5, 0.53]})
    >>> len(frontier_chart(f).lines)
    1
    """
    for name, frame in (("frontier", frontier), ("portfolios", portfolios), ("assets", assets)):
        if frame is not None and not {"return", "volatility"} <= set(frame.columns):
            raise DataError(
                f"`{name}` needs columns 'return' and 'volatility', got {list(frame.columns)[:5]}."
            )
    ax = _axes(ax, (8.0, 5.5))
    ax.plot(frontier["volatility"], frontier["return"], color="black", lw=2, label="efficient frontier")
    if assets is not None:
        ax.scatter(
            assets["volatility"], assets["return"], color="grey", s=18, alpha=0.7, label="single assets"
        )
        for label, row in assets.iterrows():
            ax.annotate(
                str(label),
                (row["volatility"], row["return"]),
                fontsize=7,
                color="grey",
                xytext=(3, 2),
                textcoords="offset points",
            )
    if portfolios is not None:
        markers = "o^sDv<>pP*hX"
        for k, (label, row) in enumerate(portfolios.iterrows()):
            ax.scatter(
                row["volatility"],
                row["return"],
                s=70,
                marker=markers[k % len(markers)],
                edgecolor="black",
                zorder=3,
                label=str(label),
            )
    _percent(ax.xaxis)
    _percent(ax.yaxis)
    ax.set_xlabel("volatility")
    ax.set_ylabel("expected return")
    ax.set_title("Efficient frontier")
    ax.legend(fontsize="small", loc="best")
    return ax


def _annotated_heatmap(table: pd.DataFrame, ax: Any, *, label: str, title: str) -> Any:
    """Draw a labelled assets x methods table as a heatmap with percentages in the cells."""
    n_assets, n_methods = table.shape
    values = table.to_numpy(dtype="float64")
    vmax = max(float(np.nanmax(np.abs(values))), 1e-12)
    if np.nanmin(values) >= -1e-12:  # long-only: shares in [0, 1]
        image = ax.imshow(values, cmap="Reds", vmin=0.0, vmax=vmax, aspect="auto")
    else:
        image = ax.imshow(values, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
    ax.set_xticks(np.arange(n_methods), [str(c) for c in table.columns], rotation=35, ha="right")
    ax.set_yticks(np.arange(n_assets), [str(a) for a in table.index])
    if n_assets * n_methods <= 400:
        for i in range(n_assets):
            for j in range(n_methods):
                ax.text(j, i, f"{values[i, j]:.0%}", ha="center", va="center", fontsize=7)
    ax.figure.colorbar(image, ax=ax, fraction=0.04, label=label)
    ax.set_title(title)
    return ax


def risk_contribution_chart(shares: pd.DataFrame, *, ax: Any = None) -> Any:
    """Draw each method's risk contributions (shares of portfolio variance) as a heatmap.

    Parameters
    ----------
    shares : DataFrame (assets x methods)
        Risk-contribution shares, e.g. :func:`poolkit.allocation.risk_contribution_table`.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure when omitted.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> s = pd.DataFrame({"equal": [0.8, 0.2], "risk_parity": [0.5, 0.5]}, index=["A", "B"])
    >>> len(risk_contribution_chart(s).images)
    1
    """
    table = _table(shares, "shares")
    ax = _axes(ax, (1.2 * table.shape[1] + 3.0, 0.32 * table.shape[0] + 1.5))
    return _annotated_heatmap(
        table, ax, label="share of portfolio variance", title="Risk contributions by method"
    )


def weights_overview(weights: pd.DataFrame | pd.Series) -> Any:
    """Show the weights table (as an annotated heatmap) and the bar chart side by side.

    Parameters
    ----------
    weights : DataFrame (assets x methods) or Series
        Weights, e.g. from :func:`poolkit.allocation.allocate_many`.

    Returns
    -------
    matplotlib Figure
        Left: the table of weights, one column per method; right: grouped bars.

    Examples
    --------
    >>> w = pd.DataFrame({"equal": [0.5, 0.5], "min_variance": [0.2, 0.8]}, index=["A", "B"])
    >>> len(weights_overview(w).axes)  # table, its colour bar, bars
    3
    """
    import matplotlib.pyplot as plt

    table = _table(weights, "weights")
    n_assets, n_methods = table.shape
    height = min(12.0, max(3.5, 0.32 * n_assets + 1.5))
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(15.0, height), width_ratios=[max(1.0, 0.35 * n_methods), 1.0]
    )
    _annotated_heatmap(table, left, label="weight", title="Weights by method")
    weights_chart(table, ax=right)
    right.set_yticks(right.get_yticks(), [])
    fig.tight_layout()
    return fig


def backtest_chart(results: Mapping[str, Any] | pd.DataFrame, *, log: bool = True) -> Any:
    """Draw cumulative growth and drawdowns of several backtests, one panel each.

    Parameters
    ----------
    results : mapping of str to BacktestResult, or DataFrame of returns
        Output of :func:`poolkit.allocation.backtest_many`, or portfolio returns by column.
    log : bool, default True
        Log scale for the growth of 1.

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=5, freq="B", name="date")
    >>> fig = backtest_chart(pd.DataFrame({"a": [0.01, -0.02, 0.01, 0.0, 0.01]}, index=idx))
    >>> len(fig.axes)
    2
    """
    import matplotlib.pyplot as plt

    if isinstance(results, pd.DataFrame):
        rets = results
    else:
        rets = pd.DataFrame({name: res.returns for name, res in results.items()})
    if rets.empty:
        raise DataError("`results` holds no portfolio returns to draw.")
    from poolkit._validation import check_returns

    rets, _ = check_returns(rets, name="results", min_obs=1, nan_policy="pairwise")  # dates in order
    wealth = (1.0 + rets.fillna(0.0)).cumprod()
    drawdown = wealth / wealth.cummax() - 1.0
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10.0, 6.5), sharex=True, height_ratios=[2, 1])
    for col in rets.columns:
        top.plot(wealth.index, wealth[col], lw=1.2, label=str(col))
        bottom.plot(drawdown.index, drawdown[col], lw=1.0)
    if log:
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        top.set_yscale("log")
        top.yaxis.set_major_formatter(ScalarFormatter())
        top.yaxis.set_minor_formatter(NullFormatter())
    top.set_ylabel("growth of 1")
    top.set_title("Walk-forward backtest (out of sample, after costs)")
    top.legend(fontsize="small", loc="upper left")
    bottom.set_ylabel("drawdown")
    _percent(bottom.yaxis)
    fig.tight_layout()
    return fig

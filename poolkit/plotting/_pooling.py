"""Figures for poolkit.pooling (see poolkit.plotting)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["diversification_curve", "pool_dendrogram", "pool_risk_contributions", "pooled_vs_standalone"]


def _axes(ax: Any, figsize: tuple[float, float] = (8.0, 4.5)) -> Any:
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def pool_dendrogram(
    returns: pd.DataFrame,
    pools: Any = None,
    *,
    linkage: str = "ward",
    distance: str = "correlation",
    ax: Any = None,
) -> Any:
    """Draw the correlation dendrogram of the assets, branches and names coloured by pool.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns (as for :func:`poolkit.pooling.cluster_tree`).
    pools : Series or dict, optional
        Asset -> pool label (any pooling, e.g. :func:`poolkit.pooling.cluster_pools` or
        :func:`poolkit.pooling.pools_by`). A branch is coloured when all its assets share a pool.
    linkage, distance : str
        As in :func:`poolkit.pooling.cluster_tree`.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex
    from matplotlib.patches import Patch
    from scipy.cluster import hierarchy

    from poolkit.pooling import cluster_tree
    from poolkit.pooling._common import check_pools

    z = cluster_tree(returns, linkage=linkage, distance=distance)
    names = list(returns.columns)
    n = len(names)
    ax = _axes(ax, (max(8.0, min(0.35 * n, 16.0)), 4.5))
    grey = "#b0b0b0"
    colours: dict[Any, str] = {}
    node = np.full(2 * n - 1, -1)
    if pools is not None:
        labels, order = check_pools(pools, returns.columns)
        base = [to_hex(c) for c in plt.get_cmap("tab10")(np.arange(10)) if to_hex(c) != "#7f7f7f"]
        if len(order) > len(base):
            base = [to_hex(c) for c in plt.get_cmap("tab20")(np.arange(20))]
        colours = {p: base[i % len(base)] for i, p in enumerate(order)}
        node[:n] = pd.Categorical(labels.to_numpy(), categories=order).codes
        for i, (a, b) in enumerate(z[:, :2].astype(int)):  # one pass over the n - 1 merges
            node[n + i] = node[a] if node[a] == node[b] else -1
        palette = list(colours.values())
    hierarchy.dendrogram(
        z,
        labels=names,
        ax=ax,
        leaf_rotation=90,
        no_labels=n > 80,
        link_color_func=lambda k: palette[node[k]] if node[k] >= 0 else grey,
    )
    if pools is not None:
        lab = dict(zip(returns.columns, labels, strict=True))
        for tick in ax.get_xticklabels():
            if tick.get_text() in lab:
                tick.set_color(colours[lab[tick.get_text()]])
        ax.legend(handles=[Patch(color=c, label=str(p)) for p, c in colours.items()], title="pool", fontsize="small")
    ax.set_ylabel(f"{linkage} linkage height ({distance} distance)")
    ax.set_title("Correlation dendrogram of the assets")
    return ax


def pooled_vs_standalone(table: pd.DataFrame, *, ax: Any = None) -> Any:
    """Bar chart of each row's pooled volatility next to its standalone (correlation-1) volatility.

    Parameters
    ----------
    table : DataFrame
        Rows to compare (pools, windows...) with columns ``standalone_volatility`` and
        ``volatility`` or ``pooled_volatility`` — e.g. :func:`poolkit.pooling.pool_summary`
        or :func:`poolkit.pooling.crisis_comparison`.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib Axes
    """
    pooled_col = "pooled_volatility" if "pooled_volatility" in table.columns else "volatility"
    missing = [c for c in (pooled_col, "standalone_volatility") if c not in table.columns]
    if missing:
        raise ValueError(f"`table` needs the columns {missing}; pass poolkit.pooling.pool_summary(...).")
    ax = _paired_bars(
        _axes(ax),
        table["standalone_volatility"],
        table[pooled_col],
        labels=("standalone  Σ w σ (ρ = 1)", "pooled  √(wᵀΣw)"),
        colors=("#bbbbbb", "#1f77b4"),
    )
    ax.set_ylabel("annualised volatility")
    ax.set_title("What pooling removes: standalone vs pooled risk")
    ax.legend()
    return ax


def pool_risk_contributions(table: pd.DataFrame, *, ax: Any = None) -> Any:
    """Bar chart of each pool's weight next to its share of the portfolio's risk.

    Parameters
    ----------
    table : DataFrame
        :func:`poolkit.pooling.pool_summary` output (columns ``weight`` and ``risk_share``);
        the ``portfolio`` row is left out.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib Axes
    """
    rows = table.drop(index="portfolio", errors="ignore")
    ax = _paired_bars(
        _axes(ax),
        rows["weight"],
        rows["risk_share"],
        labels=("capital weight", "risk contribution share"),
        colors=("#bbbbbb", "#d62728"),
    )
    ax.axhline(0, color="black", lw=0.6)
    ax.set_title("Capital vs risk by pool")
    ax.legend()
    return ax


def diversification_curve(curve: pd.DataFrame, *, ax: Any = None) -> Any:
    """Plot pooled and standalone volatility as the common correlation rises.

    Parameters
    ----------
    curve : DataFrame
        :func:`poolkit.pooling.diversification_curve` output (indexed by ``rho``). Its
        ``attrs["implied_correlation"]`` is marked when present.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    rho = curve.index.to_numpy(dtype=float)
    ax.plot(rho, curve["standalone_volatility"], color="#7f7f7f", ls="--", label="standalone Σ w σ")
    ax.plot(rho, curve["pooled_volatility"], color="#1f77b4", lw=2, label="pooled σ_P")
    ax.fill_between(rho, curve["pooled_volatility"], curve["standalone_volatility"], color="#1f77b4", alpha=0.15,
                    label="diversification benefit")
    implied = curve.attrs.get("implied_correlation")
    if implied is not None and np.isfinite(implied):
        ax.axvline(implied, color="#2ca02c", lw=1, label=f"today (implied ρ = {implied:.2f})")
    ax.set_xlabel("common correlation ρ")
    ax.set_ylabel("volatility")
    ax.yaxis.set_major_formatter(_percent())
    ax.set_title("Diversification fades as correlations rise")
    ax.legend()
    return ax


def _paired_bars(ax: Any, left: pd.Series, right: pd.Series, *, labels: tuple[str, str], colors: tuple[str, str]) -> Any:
    """Draw two bars side by side for each row of ``left`` / ``right`` (same index), in percent."""
    x = np.arange(len(left))
    ax.bar(x - 0.2, left, width=0.4, label=labels[0], color=colors[0])
    ax.bar(x + 0.2, right, width=0.4, label=labels[1], color=colors[1])
    ax.set_xticks(x, [str(i) for i in left.index])
    ax.yaxis.set_major_formatter(_percent())
    return ax


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0)

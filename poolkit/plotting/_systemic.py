"""Figures for what pooling cannot remove: the diversification floor, systemic indicators, factor risk."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["crisis_bands", "diversification_floor_chart", "factor_risk_chart", "systemic_indicators_chart"]

_LABELS = {
    "average_correlation": "average correlation ρ̄",
    "absorption_ratio": "absorption ratio AR",
    "turbulence": "turbulence d",
}


def _axes(ax: Any, figsize: tuple[float, float] = (9.0, 4.5)) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0)


def crisis_bands(crises: pd.DataFrame, *, ax: Any = None, label: bool = True, color: str = "#d62728") -> Any:
    """Shade the crisis windows of a :func:`poolkit.pooling.find_crises` table on a time axis.

    Parameters
    ----------
    crises : DataFrame
        Rows with ``start`` and ``end`` dates (e.g. :func:`poolkit.pooling.find_crises`).
    ax : matplotlib Axes, optional
        A time-series plot to shade; a new figure when omitted.
    label : bool, default True
        Write the start year of each crisis at the top of its band.
    color : str, default red
        Colour of the bands.

    Returns
    -------
    matplotlib Axes
    """
    missing = [c for c in ("start", "end") if c not in crises.columns]
    if missing:
        raise ValueError(f"`crises` needs the columns {missing}; pass poolkit.pooling.find_crises(...).")
    ax = _axes(ax)
    last: pd.Timestamp | None = None
    for i, (start, end) in enumerate(zip(crises["start"], crises["end"], strict=True)):
        ax.axvspan(start, end, color=color, alpha=0.15, lw=0, label="crisis found" if i == 0 else None)
        if label and (last is None or pd.Timestamp(start) - last > pd.Timedelta(days=550)):  # labels never overlap
            ax.annotate(f"{pd.Timestamp(start):%Y}", xy=(start, 1.0), xycoords=("data", "axes fraction"),
                        fontsize="x-small", color=color, va="bottom")
            last = pd.Timestamp(start)
    return ax


def diversification_floor_chart(curve: pd.DataFrame, *, ax: Any = None) -> Any:
    r"""Plot pooled volatility against the number of assets, falling towards the systematic floor.

    Parameters
    ----------
    curve : DataFrame
        :func:`poolkit.pooling.diversification_floor` output (or the ``floor`` of
        :func:`poolkit.pooling.systematic_decomposition`), indexed by ``n_assets``.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    n = curve.index.to_numpy(dtype=float)
    if "empirical_volatility" in curve.columns:
        ax.fill_between(n, curve["empirical_p05"], curve["empirical_p95"], color="#1f77b4", alpha=0.15,
                        label="random pools, 5-95 %")
        ax.plot(n, curve["empirical_volatility"], "o", ms=3, color="#1f77b4", label="random pools (average)")
    ax.plot(n, curve["model_volatility"], color="#1f77b4", lw=2, label=r"factor model $\sqrt{\bar c_{off} + (\bar c_{diag} + \bar d - \bar c_{off})/n}$")
    ax.axhline(float(curve["floor_volatility"].iloc[0]), color="#d62728", ls="--",
               label=r"floor $\sqrt{\bar c_{off}}$: systematic risk")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("number of assets in the pool (equal weights)")
    ax.set_ylabel("volatility" + (" (annualised)" if curve.attrs.get("annualized") else ""))
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(_percent())
    ax.set_title("What pooling cannot remove: the diversification floor")
    ax.legend(fontsize="small")
    return ax


def systemic_indicators_chart(indicators: pd.DataFrame, crises: pd.DataFrame | None = None, *, axes: Any = None) -> Any:
    """Plot each systemic indicator over time in its own panel, crisis windows shaded.

    Parameters
    ----------
    indicators : DataFrame
        Indicators by date, e.g. :func:`poolkit.pooling.systemic_indicators` (one panel per column).
    crises : DataFrame, optional
        :func:`poolkit.pooling.find_crises` table; its windows are shaded in every panel.
    axes : sequence of matplotlib Axes, optional
        One per column; a new figure when omitted.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    cols = list(indicators.columns)
    if axes is None:
        fig, axes = plt.subplots(len(cols), 1, figsize=(10.0, 2.4 * len(cols) + 0.6), sharex=True, squeeze=False,
                                 layout="constrained")
        axes = axes[:, 0]
    else:
        axes = np.atleast_1d(axes)
        fig = axes[0].figure
    for ax, col in zip(axes, cols, strict=True):
        ax.plot(indicators.index, indicators[col], lw=0.8, color="#1f77b4")
        if crises is not None and len(crises):
            crisis_bands(crises, ax=ax, label=ax is axes[0])
        ax.set_ylabel(_LABELS.get(str(col), str(col)), fontsize="small")
        if col == "turbulence":
            ax.set_yscale("log")
    fig.suptitle("Systemic-risk indicators" + (" and the crises found in the data" if crises is not None else ""))
    if crises is not None and len(crises):
        axes[0].legend(loc="upper left", fontsize="small")
    return fig


def factor_risk_chart(decomposition: Any, *, ax: Any = None) -> Any:
    """Stacked bars: the share of each pool's variance due to each factor, and the idiosyncratic rest.

    Parameters
    ----------
    decomposition : SystematicDecomposition or DataFrame
        :func:`poolkit.pooling.systematic_decomposition` output, or its ``factor_shares``
        (factors and ``idiosyncratic`` as rows, pools as columns, each column summing to 1).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib Axes
    """
    shares = decomposition.factor_shares if hasattr(decomposition, "factor_shares") else decomposition
    if not isinstance(shares, pd.DataFrame):
        raise TypeError("`decomposition` must be a SystematicDecomposition or its `factor_shares` DataFrame.")
    ax = _axes(ax, (max(6.0, 1.0 + 0.8 * shares.shape[1]), 4.5))
    import matplotlib.pyplot as plt

    x = np.arange(shares.shape[1])
    pos, neg = np.zeros(len(x)), np.zeros(len(x))
    cmap = plt.get_cmap("tab10")
    for i, (name, row) in enumerate(shares.iterrows()):  # one bar segment per factor (a handful)
        v = row.to_numpy(dtype=float)
        grey = name == "idiosyncratic"
        base = np.where(v >= 0, pos, neg)
        ax.bar(x, v, bottom=base, width=0.6, color="#c7c7c7" if grey else cmap(i % 10),
               hatch="//" if grey else None, edgecolor="white", label=str(name))
        pos, neg = pos + np.clip(v, 0, None), neg + np.clip(v, None, 0)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, [str(c) for c in shares.columns])
    ax.yaxis.set_major_formatter(_percent())
    ax.set_ylabel("share of the pool's variance")
    ax.set_title("Where each pool's risk comes from: factors (Euler) vs idiosyncratic")
    ax.legend(fontsize="small", bbox_to_anchor=(1.01, 1), loc="upper left")
    return ax

"""Figures for poolkit.credit (see poolkit.plotting).

Every function takes the pandas objects that :mod:`poolkit.credit` returns, draws
on ``ax`` (a new figure when ``None``) and returns the axes. matplotlib is imported
inside the functions; nothing is shown or written.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "plot_average_life_by_speed",
    "plot_correlation_view",
    "plot_loss_distribution",
    "plot_pac_schedule",
    "plot_pooling_view",
    "plot_speed_scenarios",
    "plot_tranche_balances",
    "plot_tranche_loss_exceedance",
    "plot_tranche_losses",
    "plot_wal_by_speed",
]


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(8, 4.5))
    return ax


def _quantile_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if isinstance(c, str) and c.startswith("q")]


def plot_speed_scenarios(cashflows: pd.DataFrame, field: str = "balance", *, ax: Any = None) -> Any:
    """Plot one cash-flow column month by month for every speed scenario.

    Parameters
    ----------
    cashflows : DataFrame
        Output of :func:`poolkit.credit.speed_scenarios` (columns ``(field, scenario)``).
    field : str, default "balance"
        Column to draw, e.g. ``"balance"``, ``"cash_flow"``, ``"principal"``,
        ``"new_defaults"`` or ``"principal_loss"``.
    ax : matplotlib Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    if field not in cashflows.columns.get_level_values(0):
        fields = sorted(set(cashflows.columns.get_level_values(0)))
        raise KeyError(f"`field` {field!r} is not a cash-flow column; choose one of {fields}.")
    ax = _axes(ax)
    cashflows[field].plot(ax=ax, lw=1.5)
    ax.set_xlabel("month")
    ax.set_ylabel(field.replace("_", " "))
    ax.set_title(f"{field.replace('_', ' ').capitalize()} by month and speed")
    ax.legend(title="scenario")
    ax.grid(alpha=0.3)
    return ax


def plot_wal_by_speed(table: pd.DataFrame, *, ax: Any = None) -> Any:
    """Plot the weighted average life (and yield when present) against speed.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`poolkit.credit.speed_table` (columns ``speed``, ``wal``, ``yield``).
    ax : matplotlib Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib Axes
        The axes with the average life (the yield goes on a twin axis).
    """
    ax = _axes(ax)
    ax.plot(table["speed"], table["wal"], marker="o", color="C0", label="average life")
    ax.set_xlabel("speed (% of the standard curve)")
    ax.set_ylabel("weighted average life (years)", color="C0")
    ax.grid(alpha=0.3)
    if "yield" in table.columns:
        twin = ax.twinx()
        twin.plot(table["speed"], 100 * table["yield"], marker="s", color="C1", ls="--", label="yield")
        twin.set_ylabel("cash-flow yield (%, bond-equivalent)", color="C1")
    ax.set_title("Average life falls as prepayments speed up")
    return ax


def plot_loss_distribution(
    losses: pd.Series,
    *,
    pd: float | None = None,
    lgd: float = 1.0,
    rho: float | None = None,
    level: float = 0.999,
    bins: int = 80,
    ax: Any = None,
) -> Any:
    """Histogram of simulated pool losses, with the Vasicek density and quantiles.

    Parameters
    ----------
    losses : Series
        Simulated loss rates (:func:`poolkit.credit.simulate_pool_losses`).
    pd, rho : float, optional
        When both are given, overlay the large-pool (Vasicek) density and quantile.
    lgd : float, default 1.0
        Loss given default of the Vasicek overlay.
    level : float, default 0.999
        Quantile marked on the chart.
    bins : int, default 80
        Histogram bins.
    ax : matplotlib Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    from poolkit import credit

    ax = _axes(ax)
    values = np.asarray(losses, dtype=float)
    hi = float(np.quantile(values, min(0.9995, level + (1 - level) / 2))) if values.size else 1.0
    hi = max(hi, 1e-6)
    ax.hist(values, bins=bins, range=(0.0, hi), density=True, alpha=0.5, color="C0", label="Monte Carlo (finite pool)")
    ax.axvline(values.mean(), color="C0", ls=":", label=f"mean {values.mean():.2%}")
    ax.axvline(np.quantile(values, level), color="C0", ls="--", label=f"MC {level:.1%} quantile")
    if pd is not None and rho is not None and rho > 0:
        grid = np.linspace(hi / 400, hi, 400)
        ax.plot(grid, credit.vasicek_loss_pdf(grid, pd=pd, lgd=lgd, rho=rho), color="C3", lw=2,
                label="Vasicek (infinite pool)")
        ax.axvline(credit.vasicek_loss_quantile(level, pd=pd, lgd=lgd, rho=rho), color="C3", ls="--",
                   label=f"Vasicek {level:.1%} quantile")
    ax.set_xlabel("pool loss (fraction of exposure)")
    ax.set_ylabel("density")
    ax.set_title("Loss distribution of the pool")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_tranche_losses(table: pd.DataFrame, *, ax: Any = None) -> Any:
    """Bar chart of the expected loss of each tranche (Monte Carlo and Vasicek).

    Parameters
    ----------
    table : DataFrame
        Output of :func:`poolkit.credit.tranche_table`.
    ax : matplotlib Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    ax = _axes(ax)
    cols = [c for c in ("expected_loss", "vasicek_expected_loss", "prob_hit") if c in table.columns]
    labels = {"expected_loss": "expected loss (MC)", "vasicek_expected_loss": "expected loss (Vasicek)",
              "prob_hit": "probability of any loss"}
    (100 * table[cols]).rename(columns=labels).plot.bar(ax=ax, rot=0)
    ax.set_ylabel("% of tranche notional / probability in %")
    ax.set_xlabel("tranche")
    ax.set_title("Tranche losses: the equity absorbs the first losses")
    ax.grid(alpha=0.3, axis="y")
    return ax


def plot_pooling_view(table: pd.DataFrame, *, ax: Any = None) -> Any:
    """Loss quantiles against the number of loans, with the infinite-pool limit.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`poolkit.credit.loss_distribution_by_pool_size`.
    ax : matplotlib Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib Axes
        The axes drawn on (log scale for the number of loans).
    """
    ax = _axes(ax)
    finite = table[np.isfinite(table.index.to_numpy(dtype=float))]
    limit = table[~np.isfinite(table.index.to_numpy(dtype=float))]
    for i, col in enumerate(["mean", *_quantile_columns(table)]):
        ax.plot(finite.index, finite[col], marker="o", color=f"C{i}", label=col)
        if not limit.empty:
            ax.axhline(float(limit[col].iloc[0]), color=f"C{i}", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("number of loans in the pool (dotted: infinite pool, Vasicek)")
    ax.set_ylabel("pool loss (fraction of exposure)")
    ax.set_title("Pooling narrows the loss distribution, down to the systematic floor")
    ax.legend(title="statistic")
    ax.grid(alpha=0.3)
    return ax


def plot_correlation_view(table: pd.DataFrame, *, ax: Any = None) -> Any:
    """Loss quantiles against the asset correlation of the loans.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`poolkit.credit.loss_distribution_by_correlation`.
    ax : matplotlib Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    ax = _axes(ax)
    for i, col in enumerate(["mean", *_quantile_columns(table)]):
        ax.plot(table.index, table[col], marker="o", color=f"C{i}", label=col)
    ax.set_xlabel("asset correlation rho")
    ax.set_ylabel("pool loss (fraction of exposure)")
    ax.set_title("Correlation widens the tail: the risk pooling cannot remove")
    ax.legend(title="statistic")
    ax.grid(alpha=0.3)
    return ax


# ----------------------------------------------------------------------------------------
# securitisation
# ----------------------------------------------------------------------------------------


def plot_tranche_balances(balances: pd.DataFrame, *, ax: Any = None, title: str | None = None) -> Any:
    """Stacked balances of a deal's tranches month by month: who is paid first, who waits.

    Parameters
    ----------
    balances : DataFrame
        Output of :meth:`poolkit.credit.WaterfallResult.balances` (index ``month`` from
        0, one column per tranche). Interest-only tranches (notional only) are best
        dropped first.
    ax : matplotlib Axes, optional
        Where to draw.
    title : str, optional
        Chart title.

    Returns
    -------
    matplotlib Axes
        The axes drawn on (years on the x axis, balance in millions when large).
    """
    ax = _axes(ax)
    years = balances.index.to_numpy(dtype=float) / 12.0
    values = balances.to_numpy(dtype=float).T
    scale, unit = (1e6, " (millions)") if np.nanmax(values, initial=0.0) >= 1e6 else (1.0, "")
    ax.stackplot(years, values / scale, labels=[str(c) for c in balances.columns], alpha=0.85)
    ax.set_xlabel("years")
    ax.set_ylabel(f"balance{unit}")
    ax.set_title(title or "Tranche balances over time")
    ax.legend(title="tranche", loc="upper right")
    ax.grid(alpha=0.3)
    return ax


def plot_average_life_by_speed(table: pd.DataFrame, *, ax: Any = None, title: str | None = None) -> Any:
    """Average life of each tranche against the prepayment speed (the prospectus table as a chart).

    Parameters
    ----------
    table : DataFrame
        Output of :func:`poolkit.credit.prospectus_table` (rows ``(tranche, measure)``,
        columns ``"100 PSA"``...).
    ax : matplotlib Axes, optional
        Where to draw.
    title : str, optional
        Chart title.

    Returns
    -------
    matplotlib Axes
        The axes drawn on: a flat line is a tranche protected from prepayment risk.
    """
    ax = _axes(ax)
    wal = table.xs("average_life", level="measure")
    speeds = [float(str(c).split()[0]) for c in wal.columns]
    for i, (name, row) in enumerate(wal.iterrows()):
        ax.plot(speeds, row.to_numpy(dtype=float), marker="o", color=f"C{i}", label=str(name))
    ax.set_xlabel("prepayment speed (% PSA)")
    ax.set_ylabel("average life (years)")
    ax.set_title(title or "Average life by prepayment speed")
    ax.legend(title="tranche")
    ax.grid(alpha=0.3)
    return ax


def plot_pac_schedule(schedule: pd.DataFrame, *, ax: Any = None) -> Any:
    """Collateral principal at the two collar speeds and the PAC schedule (the smaller of the two).

    Parameters
    ----------
    schedule : DataFrame
        Output of :func:`poolkit.credit.pac_schedule`.
    ax : matplotlib Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    ax = _axes(ax)
    years = schedule.index.to_numpy(dtype=float) / 12.0
    scale, unit = (1e6, " (millions)") if schedule["upper"].max() >= 1e6 else (1.0, "")
    ax.plot(years, schedule["lower"] / scale, color="C0", lw=1.5, label="principal at the lower speed")
    ax.plot(years, schedule["upper"] / scale, color="C1", lw=1.5, label="principal at the upper speed")
    ax.fill_between(years, 0, schedule["scheduled_payment"] / scale, color="C2", alpha=0.35, label="PAC schedule")
    ax.set_xlabel("years")
    ax.set_ylabel(f"monthly principal{unit}")
    ax.set_title("The PAC schedule: the smaller principal of the two collar speeds")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_tranche_loss_exceedance(losses: pd.DataFrame, *, ax: Any = None) -> Any:
    """Probability that each tranche loses more than a given share of its principal.

    Parameters
    ----------
    losses : DataFrame
        Output of :func:`poolkit.credit.tranche_loss_distribution` (one column per
        tranche; ``pool`` and ``default_fraction`` are left out).
    ax : matplotlib Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib Axes
        The axes drawn on (log scale of probability): the junior tranches' curves lie
        above the seniors'.
    """
    ax = _axes(ax)
    grid = np.linspace(0.0, 1.0, 201)
    names = [c for c in losses.columns if c not in ("pool", "default_fraction")]
    for i, name in enumerate(names):
        x = np.sort(losses[name].to_numpy(dtype=float))
        exceed = 1.0 - np.searchsorted(x, grid, side="right") / max(x.size, 1)
        ax.step(grid, np.where(exceed > 0, exceed, np.nan), where="post", color=f"C{i}", label=str(name))
    ax.set_yscale("log")
    ax.set_xlabel("loss (share of the tranche's principal)")
    ax.set_ylabel("probability of a larger loss")
    ax.set_title("Who bears default risk: loss exceedance by tranche")
    ax.legend(title="tranche")
    ax.grid(alpha=0.3, which="both")
    return ax

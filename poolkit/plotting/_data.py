r"""Figures for poolkit.data: normalised prices, return distribution, missing-data map.

Each function takes pandas objects and an optional matplotlib ``ax``, returns the
axes, never calls ``plt.show()`` and never writes files. matplotlib (and scipy
where needed) is imported inside the functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from poolkit.exceptions import DataError, InsufficientDataError

__all__ = ["missing_map", "price_chart", "return_distribution"]


def _axes(ax: Any, figsize: tuple[float, float] = (9.0, 4.5)) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _check_frame(frame: object, name: str) -> pd.DataFrame:
    if isinstance(frame, pd.Series):
        frame = frame.to_frame(name=frame.name if frame.name is not None else name)
    if not isinstance(frame, pd.DataFrame) or not isinstance(frame.index, pd.DatetimeIndex):
        raise TypeError(
            f"`{name}` must be a DataFrame (or Series) indexed by dates; load it with poolkit.data."
        )
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise InsufficientDataError(f"`{name}` is empty: nothing to plot.")
    return frame


def price_chart(
    prices: pd.DataFrame | pd.Series, *, ax: Any = None, base: float = 1.0, log: bool = True
) -> Any:
    r"""Plot prices rebased to ``base`` on their first common date (growth of 1).

    Parameters
    ----------
    prices : DataFrame (n_dates, n_assets) or Series
        Positive prices indexed by date.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made when None.
    base : float, default 1.0
        Value every line starts from (1 = growth of one unit of currency, 100 = index).
    log : bool, default True
        Logarithmic y axis, on which equal percentage moves have equal heights.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    DataError
        If a price is non-positive or no date has a price for every asset.

    Notes
    -----
    Each line is :math:`\tilde P_{i,t} = b \, P_{i,t} / P_{i,t_0}` where :math:`t_0`
    is the first date on which every asset has a price.

    Examples
    --------
    >>> p = pd.DataFrame({"A": [2.0, 4.0]}, index=pd.to_datetime(["2024-01-01", "2024-01-02"]))
    >>> price_chart(p).get_lines()[0].get_ydata()[-1]
    np.float64(2.0)
    """
    frame = _check_frame(prices, "prices")
    values = frame.to_numpy(dtype="float64")
    if (values[~np.isnan(values)] <= 0).any():
        raise DataError("`prices` holds a zero or negative price; price_chart needs positive prices.")
    complete = ~np.isnan(values).any(axis=1)
    if not complete.any():
        raise DataError("`prices`: no date has a price for every asset; select assets with a common history.")
    start = int(np.argmax(complete))
    rebased = frame.iloc[start:] / values[start] * base
    ax = _axes(ax)
    for col in rebased.columns:
        ax.plot(rebased.index, rebased[col].to_numpy(), lw=1.0, label=str(col))
    if log:
        ax.set_yscale("log")
    ax.axhline(base, color="grey", lw=0.6, ls=":")
    ax.set_ylabel(f"value of {base:g} invested on {rebased.index[0].date()}")
    ax.set_title("Normalised prices")
    if rebased.shape[1] <= 12:
        ax.legend(fontsize="small", ncols=2 if rebased.shape[1] > 6 else 1)
    return ax


def return_distribution(
    returns: pd.DataFrame | pd.Series,
    *,
    ax: Any = None,
    bins: int = 80,
    standardise: bool = True,
) -> Any:
    r"""Plot the distribution of returns against the normal curve with the same mean and spread.

    Parameters
    ----------
    returns : DataFrame (n_dates, n_assets) or Series
        Periodic returns indexed by date (NaN ignored).
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made when None.
    bins : int, default 80
        Number of histogram bins.
    standardise : bool, default True
        Pool every asset's z-scores :math:`(R_{i,t} - \bar R_i)/s_i` in one
        histogram (compared with N(0, 1)); if False, plot raw returns of all assets pooled.

    Returns
    -------
    matplotlib Axes
        Density histogram (log y axis, to show the tails) with the normal density dashed.

    Raises
    ------
    InsufficientDataError
        If fewer than 3 returns are present or an asset has zero variance.

    Notes
    -----
    Real returns have fatter tails than the normal density

    .. math:: \varphi(z) = \frac{1}{\sqrt{2\pi}} e^{-z^2/2},

    so moves beyond 4 standard deviations, almost impossible under the normal
    law, appear in a few decades of daily data.

    Examples
    --------
    >>> r = pd.Series([0.01, -0.02, 0.005, 0.0, 0.015], index=pd.date_range("2024-01-01", periods=5))
    >>> len(return_distribution(r).patches) > 0
    True
    """
    frame = _check_frame(returns, "returns")
    values = frame.to_numpy(dtype="float64")
    if np.isfinite(values).sum() < 3:
        raise InsufficientDataError("`returns` has fewer than 3 values: nothing to show as a distribution.")
    if standardise:
        mean = np.nanmean(values, axis=0)
        std = np.nanstd(values, axis=0, ddof=1)
        if not (std > 0).all():
            flat = frame.columns[~(std > 0)][0]
            raise InsufficientDataError(
                f"`returns` column {flat!r} has no variation; drop it to standardise."
            )
        values = (values - mean) / std
        mu, sigma, label = 0.0, 1.0, "z-score (per-asset standardised return)"
    pooled = values[np.isfinite(values)]
    if not standardise:
        mu, sigma, label = float(pooled.mean()), float(pooled.std(ddof=1)), "return per period"
    ax = _axes(ax)
    ax.hist(
        pooled, bins=bins, density=True, alpha=0.6, label=f"{frame.shape[1]} asset(s), {pooled.size} returns"
    )
    grid = np.linspace(pooled.min(), pooled.max(), 400)
    density = np.exp(-0.5 * ((grid - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    ax.plot(grid, density, "k--", lw=1.0, label="normal, same mean and s.d.")
    ax.set_yscale("log")
    width = (pooled.max() - pooled.min()) / bins or 1.0
    counts, _ = np.histogram(pooled, bins=bins)
    ax.set_ylim(0.5 / (pooled.size * width), 2.0 * max(counts.max() / (pooled.size * width), density.max()))
    ax.set_xlabel(label)
    ax.set_ylabel("density (log scale)")
    ax.set_title("Return distribution: fat tails")
    ax.legend(fontsize="small")
    return ax


def missing_map(frame: pd.DataFrame, *, ax: Any = None) -> Any:
    """Show where values are missing: one row per asset, dark where a value is missing.

    Parameters
    ----------
    frame : DataFrame (n_dates, n_assets)
        Prices or returns indexed by date, NaN where missing.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made when None.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> f = pd.DataFrame({"A": [1.0, None, 2.0]}, index=pd.date_range("2024-01-01", periods=3))
    >>> missing_map(f).get_title()
    'Missing values: 1 of 3'
    """
    data = _check_frame(frame, "frame")
    import matplotlib.dates as mdates

    mask = data.isna().to_numpy().T.astype(float)
    ax = _axes(ax, figsize=(9.0, max(1.2, 0.15 * data.shape[1] + 0.8)))
    x0, x1 = mdates.date2num(data.index[0]), mdates.date2num(data.index[-1])
    ax.imshow(
        mask,
        aspect="auto",
        cmap="Greys",
        vmin=0,
        vmax=1,
        interpolation="nearest",
        extent=(x0, x1 if x1 > x0 else x0 + 1, data.shape[1] - 0.5, -0.5),
    )
    ax.xaxis_date()
    ax.set_yticks(range(data.shape[1]))
    ax.set_yticklabels([str(c) for c in data.columns], fontsize="small")
    ax.set_title(f"Missing values: {int(mask.sum())} of {mask.size}")
    return ax

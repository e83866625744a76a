r"""Figures for poolkit.risk: correlation heatmap, drawdowns, VaR, rolling risk, pooling.

Each function takes pandas objects and an optional matplotlib ``ax``, returns the
axes (or the figure for a multi-panel chart), never calls ``plt.show()`` and never
writes files. matplotlib and scipy are imported inside the functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from poolkit import risk
from poolkit._numerics import asset_volatilities, correlation_tree, standalone_volatility
from poolkit.exceptions import DataError

__all__ = [
    "correlation_heatmap",
    "drawdown_chart",
    "pooled_volatility_chart",
    "rolling_chart",
    "var_histogram",
]


def _axes(ax: Any, figsize: tuple[float, float] = (9.0, 4.5)) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _clustered_order(corr: pd.DataFrame) -> list[int]:
    """Leaf order of an average-linkage tree on the distance sqrt((1 - rho) / 2)."""
    if corr.shape[0] < 3:
        return list(range(corr.shape[0]))
    from scipy.cluster.hierarchy import leaves_list

    _, tree = correlation_tree(corr.to_numpy(), "average")
    return [int(i) for i in leaves_list(tree)]


def correlation_heatmap(
    data: pd.DataFrame,
    *,
    method: str = "pearson",
    cluster: bool = True,
    annotate: bool | None = None,
    ax: Any = None,
) -> Any:
    r"""Draw a correlation matrix as a heatmap, similar assets next to each other.

    Parameters
    ----------
    data : DataFrame
        Either returns (dates x assets; the correlation is computed with
        :func:`poolkit.risk.correlation`) or a correlation matrix (square, index =
        columns = assets).
    method : {"pearson", "spearman", "kendall"}, default "pearson"
        Used when ``data`` holds returns.
    cluster : bool, default True
        Reorder assets by hierarchical clustering (average linkage on the distance
        :math:`d_{ij} = \sqrt{(1 - \rho_{ij})/2}`), so blocks of correlated assets show.
    annotate : bool, optional
        Print the coefficients in the cells; default when there are at most 12 assets.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made when None.

    Returns
    -------
    matplotlib Axes
        The heatmap, colour scale from -1 (blue) to 1 (red), with a colour bar;
        ``ax.poolkit_order`` lists the assets in the order shown.

    Raises
    ------
    DataError
        For returns with NaNs or constant columns (see :func:`poolkit.risk.correlation`).

    Notes
    -----
    :math:`\rho_{ij} = \operatorname{cov}(r_i, r_j) / (\sigma_i \sigma_j)`; the
    distance is a metric (Mantegna, 1999).

    References
    ----------
    .. [1] Mantegna, R. N. (1999). Hierarchical structure in financial markets.
       Eur. Phys. J. B 11, 193-197.

    Examples
    --------
    >>> r = pd.DataFrame({"A": [0.01, -0.02, 0.03, 0.0], "B": [0.02, -0.01, 0.05, 0.01]},
    ...                  index=pd.bdate_range("2024-01-01", periods=4))
    >>> correlation_heatmap(r).get_title()
    'Correlation (pearson)'
    """
    is_corr = (
        isinstance(data, pd.DataFrame)
        and data.shape[0] == data.shape[1]
        and data.index.equals(data.columns)
        and np.allclose(np.diag(data.to_numpy(dtype="float64")), 1.0)
    )
    corr = data.astype("float64") if is_corr else risk.correlation(data, method=method)
    order = _clustered_order(corr) if cluster else list(range(corr.shape[0]))
    corr = corr.iloc[order, order]
    ax = _axes(ax, (7.5, 6.5))
    image = ax.imshow(corr.to_numpy(), cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    n = corr.shape[0]
    ax.set_xticks(range(n), [str(c) for c in corr.columns], rotation=90, fontsize="small")
    ax.set_yticks(range(n), [str(c) for c in corr.index], fontsize="small")
    if annotate if annotate is not None else n <= 12:
        for i in range(n):  # one label per cell: a drawing loop, not a computation
            for j in range(n):
                ax.text(j, i, f"{corr.iat[i, j]:.2f}", ha="center", va="center", fontsize="x-small")
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label="correlation")
    ax.set_title(f"Correlation ({corr.attrs.get('method', 'given') if is_corr else method})")
    ax.poolkit_order = list(corr.index)
    return ax


def drawdown_chart(
    returns: pd.DataFrame | pd.Series, *, log: bool = True, figsize: tuple[float, float] = (10, 6)
) -> Any:
    r"""Plot the growth of 1 (top) and the drawdown below the running peak (bottom).

    Parameters
    ----------
    returns : DataFrame (n_dates, n_assets) or Series
        Periodic simple returns indexed by date.
    log : bool, default True
        Log scale for the growth panel.
    figsize : tuple of float, default (10, 6)
        Figure size in inches.

    Returns
    -------
    matplotlib Figure
        Two panels sharing the date axis; the deepest drawdown of each series is
        in the legend.

    Raises
    ------
    DataError
        For NaNs, a return below -100 %, dates out of order (the rules of
        :func:`poolkit.risk.drawdowns`).

    Notes
    -----
    .. math:: W_t = \prod_{s \le t}(1 + r_s), \qquad DD_t = W_t / \max_{s \le t} W_s - 1 .

    Examples
    --------
    >>> r = pd.Series([0.1, -0.2, 0.05], index=pd.bdate_range("2024-01-01", periods=3), name="A")
    >>> len(drawdown_chart(r).axes)
    2
    """
    import matplotlib.pyplot as plt

    from poolkit._validation import check_returns

    simple, _ = check_returns(returns, min_obs=1)  # dates in order, log returns made simple
    dd = risk.drawdowns(returns)
    frame = dd.to_frame() if isinstance(dd, pd.Series) else dd
    growth = (1.0 + simple).cumprod()
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=figsize, height_ratios=(3, 2))
    growth.plot(ax=top, lw=1.0, legend=frame.shape[1] <= 12)
    if log:
        top.set_yscale("log")
        top.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
        top.yaxis.set_minor_formatter(plt.NullFormatter())
    top.set_ylabel("growth of 1")
    top.set_title("Cumulative return and drawdown")
    worst = frame.min()
    frame.plot(ax=bottom, lw=0.8, legend=False)
    if frame.shape[1] <= 12:
        bottom.legend(
            [f"{c}: max {worst[c]:.0%}" for c in frame.columns], fontsize="x-small", loc="lower left"
        )
    bottom.set_ylabel("drawdown")
    bottom.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    fig.tight_layout()
    return fig


def var_histogram(
    returns: pd.Series,
    level: float = 0.95,
    *,
    methods: tuple[str, ...] = ("historical", "gaussian", "cornish_fisher"),
    bins: int = 100,
    ax: Any = None,
) -> Any:
    r"""Histogram of one return series with its VaR and CVaR marked.

    Parameters
    ----------
    returns : Series
        Periodic returns of one asset or pool, indexed by date.
    level : float, default 0.95
        Confidence level in (0.5, 1).
    methods : tuple of str
        VaR/CVaR methods to mark (see :func:`poolkit.risk.value_at_risk`).
    bins : int, default 100
        Histogram bins.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made when None.

    Returns
    -------
    matplotlib Axes
        The histogram (density) with a solid line at :math:`-VaR` and a dashed line
        at :math:`-CVaR` for each method (losses are positive numbers, so they are
        drawn at minus their value on the return axis).

    Raises
    ------
    DataError
        If ``returns`` is not one series.
    ParameterError
        For a level outside (0.5, 1) or an unknown method.

    Notes
    -----
    :math:`VaR_\alpha = -Q_{1-\alpha}(r)` and :math:`CVaR_\alpha = -E[r \mid r \le -VaR_\alpha]`.

    Examples
    --------
    >>> r = pd.Series(np.linspace(-0.05, 0.05, 41), index=pd.bdate_range("2024-01-01", periods=41))
    >>> len(var_histogram(r, methods=("historical",)).lines)
    2
    """
    if isinstance(returns, pd.DataFrame):
        if returns.shape[1] != 1:
            raise DataError(
                "`var_histogram` takes one return series; pass returns['ASSET'] or a pool's returns."
            )
        returns = returns.iloc[:, 0]
    ax = _axes(ax)
    ax.hist(returns.to_numpy(dtype="float64"), bins=bins, density=True, alpha=0.5, color="grey")
    colours = {"historical": "C3", "gaussian": "C0", "cornish_fisher": "C2"}
    for method in methods:
        var = risk.value_at_risk(returns, level, method)
        es = risk.conditional_value_at_risk(returns, level, method)
        colour = colours.get(method, "k")
        ax.axvline(-var, color=colour, lw=1.5, label=f"VaR {method}: {var:.2%}")
        ax.axvline(-es, color=colour, lw=1.5, ls="--", label=f"CVaR {method}: {es:.2%}")
    ax.set_xlabel("return per period")
    ax.set_ylabel("density")
    ax.set_title(f"{returns.name or 'returns'}: {level:.1%} VaR (solid) and CVaR (dashed)")
    ax.legend(fontsize="x-small")
    return ax


def rolling_chart(
    returns: pd.DataFrame | pd.Series,
    window: int,
    statistic: str = "volatility",
    *,
    ax: Any = None,
    **params: Any,
) -> Any:
    r"""Plot a rolling statistic of each asset (see :func:`poolkit.risk.rolling`).

    Parameters
    ----------
    returns : DataFrame (n_dates, n_assets) or Series
        Periodic returns indexed by date.
    window : int
        Window length in periods.
    statistic : str, default "volatility"
        Any statistic accepted by :func:`poolkit.risk.rolling`.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made when None.
    **params
        Passed to :func:`poolkit.risk.rolling` (``benchmark``, ``level``, ...).

    Returns
    -------
    matplotlib Axes
        One line per asset, dated by each window's last day.

    Raises
    ------
    InsufficientDataError
        If there are fewer dates than ``window``.

    Notes
    -----
    For volatility, :math:`\sigma_t = \sqrt{p}\, s(r_{t-w+1}, \dots, r_t)`.

    Examples
    --------
    >>> r = pd.Series([0.01, -0.01, 0.02, 0.0, -0.02], index=pd.bdate_range("2024-01-01", periods=5))
    >>> len(rolling_chart(r, 3).lines)
    1
    """
    rolled = risk.rolling(returns, window, statistic, **params)
    ax = _axes(ax)
    frame = rolled.to_frame() if isinstance(rolled, pd.Series) else rolled
    frame.plot(ax=ax, lw=0.9, legend=frame.shape[1] <= 12)
    ax.set_ylabel(statistic.replace("_", " "))
    ax.set_xlabel("")
    ax.set_title(f"Rolling {statistic.replace('_', ' ')} ({window}-period window)")
    if frame.shape[1] <= 12:
        ax.legend(fontsize="x-small", ncol=2)
    return ax


def pooled_volatility_chart(weights: pd.Series, cov: pd.DataFrame, *, ax: Any = None) -> Any:
    r"""Bar chart: each asset's volatility, their weighted sum, and the pool's volatility.

    Parameters
    ----------
    weights : Series of shape (n_assets,)
        Holding of each asset, indexed by asset.
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance (e.g. annualised) labelled by asset.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made when None.

    Returns
    -------
    matplotlib Axes
        Grey bars: standalone volatilities :math:`\sigma_i`; orange: the
        no-diversification figure :math:`\sum_i |w_i|\sigma_i`; blue: the pooled
        :math:`\sigma_P`. The gap between the last two is what pooling buys.

    Raises
    ------
    AlignmentError, CovarianceError
        As :func:`poolkit.risk.pooled_volatility`.

    Notes
    -----
    .. math:: \sigma_P = \sqrt{w^\top \Sigma w} \le \sum_i |w_i| \sigma_i .

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.04]], index=["A", "B"], columns=["A", "B"])
    >>> len(pooled_volatility_chart(pd.Series({"A": 0.5, "B": 0.5}), cov).patches)
    4
    """
    pooled = risk.pooled_volatility(weights, cov)
    c = cov.to_numpy(dtype="float64")
    vols = pd.Series(asset_volatilities(c), index=cov.index)
    undiversified = float(standalone_volatility(weights.reindex(cov.index).to_numpy(dtype="float64"), c))
    ax = _axes(ax, (10, 4.5))
    names = [str(c) for c in vols.index]
    ax.bar(names, vols.to_numpy(), color="0.7", label="standalone volatility")
    ax.bar(
        ["weighted sum"], [undiversified], color="C1", label=r"$\sum_i |w_i| \sigma_i$ (no diversification)"
    )
    ax.bar(["pool"], [pooled], color="C0", label=r"pooled $\sigma_P = \sqrt{w^\top \Sigma w}$")
    ax.axhline(pooled, color="C0", lw=0.8, ls=":")
    ax.set_ylabel("volatility")
    ax.tick_params(axis="x", rotation=90)
    ax.set_title(f"Pooling: {pooled:.1%} against {undiversified:.1%} without diversification")
    ax.legend(fontsize="x-small")
    return ax

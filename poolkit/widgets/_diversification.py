"""The diversification explorer: pooled risk of n assets as the correlation and the weights move."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from poolkit._validation import check_fraction, check_positive_int
from poolkit.exceptions import PoolkitError
from poolkit.widgets._core import SEED_ASSETS, _build, _figures_html, _new_figure, _percent, _png, _Spec

# --------------------------------------------------------------------------------------------
# Diversification explorer
# --------------------------------------------------------------------------------------------


def _seed_pool(n_assets: int, assets: pd.DataFrame = SEED_ASSETS) -> pd.DataFrame:
    """Return ``n_assets`` assets: the given ones, then copies of their risk profile in turn.

    Asset ``k`` (1-based) beyond the given ones repeats the expected return and
    volatility of given asset ``(k - 1) mod m``; names continue the numbering
    (``资产4``, ``资产5``, ...) when the given names follow that pattern.
    """
    n = check_positive_int(n_assets, name="n_assets")
    m = len(assets)
    take = np.arange(n) % m
    table = assets.iloc[take].copy()
    names = list(assets.index)
    if all(str(a).startswith("资产") for a in names):
        names = [f"资产{k + 1}" for k in range(n)]
    else:
        names = [str(names[i]) if k < m else f"{names[i]}_{k // m + 1}" for k, i in enumerate(take)]
    table.index = pd.Index(names, name="asset")
    return table


def diversification_view(
    n_assets: int = 3, correlation: float = 0.3, *, assets: pd.DataFrame = SEED_ASSETS, max_assets: int = 30
) -> dict[str, Any]:
    r"""Compute what the diversification explorer shows for one setting, without drawing.

    An equally weighted pool of ``n_assets`` assets with the risk profiles of
    ``assets`` (the seed's three assets, repeated in turn) and one correlation
    :math:`\rho` for every pair.

    Parameters
    ----------
    n_assets : int, default 3
        Number of assets in the pool.
    correlation : float, default 0.3
        Correlation between every pair, in :math:`[-1/(n-1), 1]`.
    assets : DataFrame, default SEED_ASSETS
        Columns ``expected_return`` and ``volatility`` (annual), indexed by asset.
    max_assets : int, default 30
        Largest pool size of the curve.

    Returns
    -------
    dict
        ``assets`` (the pool's table: asset k beyond the given ones repeats the
        profile of given asset ``(k - 1) mod m``), ``weights``, ``cov``,
        ``expected_return``, ``pooled_volatility``, ``undiversified_volatility``
        (:math:`\sum_i w_i \sigma_i`), ``diversification_ratio``,
        ``effective_number_of_bets`` (and ``enb_method``), ``contributions`` (each
        asset's risk contribution) and ``curve`` (pooled volatility against the number
        of assets at this correlation, NaN where no such pool exists).

    Raises
    ------
    ParameterError
        If ``n_assets`` is not a positive integer or ``correlation`` is outside [-1, 1].
    CovarianceError
        If no pool of ``n_assets`` assets can have this correlation (below :math:`-1/(n-1)`).

    Notes
    -----
    .. math:: \sigma_P = \sqrt{w^\top \Sigma w}, \qquad DR = \frac{\sum_i w_i\sigma_i}{\sigma_P},
              \qquad \Sigma_{ij} = \rho\,\sigma_i\sigma_j \; (i \ne j).

    Examples
    --------
    >>> view = diversification_view(3, 0.3)  # the seed: sqrt(0.3035 / 9)
    >>> round(view["pooled_volatility"], 4), round(view["undiversified_volatility"], 4)
    (0.1836, 0.25)
    """
    import poolkit.pooling as pooling
    import poolkit.risk as risk
    from poolkit._numerics import standalone_volatility

    n = check_positive_int(n_assets, name="n_assets")
    rho = check_fraction(correlation, name="correlation", low=-1.0, high=1.0)
    table = _seed_pool(n, assets)
    weights = pd.Series(1.0 / n, index=table.index, name="equal_weights")
    cov = risk.covariance_from(table["volatility"], rho)
    pooled = risk.pooled_volatility(weights, cov)
    undiversified = float(standalone_volatility(weights.to_numpy(), cov.to_numpy()))
    curve_n = np.arange(1, max(int(max_assets), n) + 1)
    curve = []
    for k in curve_n:  # one small covariance per pool size (display only, at most ~30)
        pool_k = _seed_pool(int(k), assets)
        w_k = pd.Series(1.0 / k, index=pool_k.index)
        try:
            curve.append(risk.pooled_volatility(w_k, risk.covariance_from(pool_k["volatility"], rho)))
        except PoolkitError:  # correlation below -1/(k-1): no such pool of k assets
            curve.append(np.nan)
    try:
        enb, enb_method = float(pooling.effective_number_of_bets(weights, cov)), "minimum_torsion"
    except PoolkitError:  # singular (e.g. rho = 1): minimum torsion is undefined, principal components are not
        enb, enb_method = float(pooling.effective_number_of_bets(weights, cov, method="pca")), "pca"
    return {
        "n_assets": n,
        "correlation": rho,
        "assets": table,
        "weights": weights,
        "cov": cov,
        "expected_return": float(weights @ table["expected_return"]),
        "pooled_volatility": pooled,
        "contributions": risk.risk_contributions(weights, cov),
        "undiversified_volatility": undiversified,
        "diversification_ratio": float(pooling.diversification_ratio(weights, cov)),
        "effective_number_of_bets": enb,
        "enb_method": enb_method,
        "curve": pd.Series(curve, index=pd.Index(curve_n, name="n_assets"), name="pooled_volatility"),
    }


def _diversification_render(view: dict[str, Any]) -> tuple[str, bytes]:
    rows = [
        ("Assets in the pool", f"{view['n_assets']}"),
        ("Correlation between every pair", f"{view['correlation']:.2f}"),
        ("Expected return (equal weights)", f"{view['expected_return']:.2%}"),
        ("Pooled volatility", f"{view['pooled_volatility']:.2%}"),
        ("Volatility without diversification", f"{view['undiversified_volatility']:.2%}"),
        ("Diversification ratio", f"{view['diversification_ratio']:.3f}"),
        ("Effective number of bets" + (" (principal components)" if view["enb_method"] == "pca" else ""),
         f"{view['effective_number_of_bets']:.2f}"),
    ]
    fig, (ax1, ax2) = _new_figure(2)
    curve = view["curve"]
    ax1.plot(curve.index, curve.to_numpy(), marker=".", label="pooled volatility")
    ax1.axhline(view["undiversified_volatility"], color="grey", ls="--", lw=1, label="no diversification (ρ = 1)")
    ax1.scatter([view["n_assets"]], [view["pooled_volatility"]], color="C3", zorder=3, label="this pool")
    ax1.set(xlabel="number of assets (equal weights)", ylabel="volatility", title=f"Pooling at ρ = {view['correlation']:.2f}")
    ax1.yaxis.set_major_formatter(_percent())
    ax1.legend(fontsize=8)
    shown = view["contributions"]["share"].iloc[:12]
    ax2.bar(range(len(shown)), shown.to_numpy(), color="C0")
    ax2.set_xticks(range(len(shown)), [str(a) for a in shown.index], rotation=45, ha="right", fontsize=8)
    ax2.set(ylabel="share of pooled volatility", title="Risk contributions")
    ax2.yaxis.set_major_formatter(_percent())
    return _figures_html(rows), _png(fig)


def _diversification_controls(defaults: Mapping[str, Any]) -> dict[str, Any]:
    import ipywidgets as w

    style = {"description_width": "150px"}
    return {
        "correlation": w.FloatSlider(
            value=defaults["correlation"], min=-0.5, max=1.0, step=0.05, description="correlation ρ",
            continuous_update=False, style=style, readout_format=".2f",
        ),
        "n_assets": w.IntSlider(
            value=defaults["n_assets"], min=1, max=defaults["max_assets"], step=1, description="number of assets",
            continuous_update=False, style=style,
        ),
    }


def _diversification_spec(
    n_assets: int = 3, correlation: float = 0.3, *, assets: pd.DataFrame = SEED_ASSETS, max_assets: int = 30
) -> _Spec:
    defaults = {"n_assets": int(n_assets), "correlation": float(correlation), "max_assets": int(max_assets)}
    diversification_view(n_assets, correlation, assets=assets, max_assets=max_assets)  # bad defaults raise here

    def compute(values: Mapping[str, Any]) -> dict[str, Any]:
        return diversification_view(values["n_assets"], values["correlation"], assets=assets, max_assets=max_assets)

    return _Spec("diversification", "Diversification: what pooling buys", defaults, compute,
                 _diversification_render, _diversification_controls)


def diversification_explorer(
    n_assets: int = 3,
    correlation: float = 0.3,
    *,
    assets: pd.DataFrame = SEED_ASSETS,
    max_assets: int = 30,
    debounce: float = 0.3,
) -> Any:
    r"""Explore how pooled volatility falls with more assets and lower correlation.

    Starts from the source document's three assets (资产1-3: expected returns 10 %,
    15 %, 12 %; volatilities 20 %, 30 %, 25 %), held in equal weights with one
    correlation :math:`\rho` for every pair. A slider adds assets (repeating the
    three risk profiles), another moves :math:`\rho`; the panel shows the pooled
    volatility, the diversification ratio and the effective number of bets.

    Parameters
    ----------
    n_assets : int, default 3
        Initial number of assets in the pool.
    correlation : float, default 0.3
        Initial correlation between every pair, in :math:`[-1/(n-1), 1]`.
    assets : DataFrame, default SEED_ASSETS
        Columns ``expected_return`` and ``volatility`` (annual), indexed by asset.
    max_assets : int, default 30
        Largest pool on the slider and in the curve.
    debounce : float, default 0.3
        Seconds to wait after the last slider move before recomputing.

    Returns
    -------
    ipywidgets.VBox
        The panel; ``panel.poolkit_panel.view`` holds the last valid figures.

    Raises
    ------
    ParameterError, CovarianceError
        If the initial settings are invalid (later invalid moves are shown in the panel).

    Notes
    -----
    With weights :math:`w_i = 1/n`, volatilities :math:`\sigma_i` and
    :math:`\Sigma = D R D` (constant correlation :math:`\rho`),

    .. math:: \sigma_P = \sqrt{w^\top \Sigma w}, \qquad
              DR = \frac{\sum_i w_i \sigma_i}{\sigma_P}, \qquad
              \sigma_P \xrightarrow[n\to\infty]{} \sqrt{\rho}\,\bar\sigma
              \text{ (equal } \sigma_i = \bar\sigma),

    so pooling removes the idiosyncratic part of risk but never the common part:
    when correlations rise (a crisis), the benefit vanishes.

    References
    ----------
    .. [1] Markowitz, H. (1952). Portfolio selection. J. Finance 7(1), 77-91.
    .. [2] Choueifaty, Y. & Coignard, Y. (2008). Toward maximum diversification.
           J. Portfolio Management 35(1), 40-51.

    Examples
    --------
    >>> panel = diversification_explorer(debounce=0)
    >>> round(panel.poolkit_panel.view["pooled_volatility"], 4)
    0.1836
    """
    return _build(_diversification_spec(n_assets, correlation, assets=assets, max_assets=max_assets), debounce)



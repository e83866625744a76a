r"""Interactive explorers of pooling: allocation, diversification and loan pools.

Each explorer is a function returning an ipywidgets panel: controls on the left,
the key figures and a chart on the right, recomputed (debounced) when a control
moves. The finance comes from :mod:`poolkit.risk`, :mod:`poolkit.allocation`,
:mod:`poolkit.pooling` and :mod:`poolkit.credit`; this module only turns control
values into a *view* and a view into a picture. The views are public
(:func:`diversification_view`, :func:`allocation_view`, :func:`loan_pool_view`):
they compute the figures an explorer shows, without drawing anything.

A control combination that poolkit refuses (a group limit that cannot be met, a
correlation outside the valid range) never raises into the page: the error
message is shown above the figures and the last valid result stays visible.

In a report run (papermill, ``poolkit report``, any run without a live browser)
:func:`show` renders a *static* version instead: the same key figures and chart at
the default settings, embedded as an image, so HTML reports stay complete and
work offline. ``poolkit app`` (:mod:`poolkit.cli`) serves
``notebooks/06_explorers.ipynb`` as a Voilà web app; this module starts no server.

ipywidgets and matplotlib are imported inside the functions that use them.
"""

from __future__ import annotations

import asyncio
import html
import io
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from poolkit._validation import check_choice, check_fraction, check_positive_int, check_returns
from poolkit.exceptions import ParameterError, PoolkitError

__all__ = [
    "ALLOCATION_METHODS",
    "COV_ESTIMATORS",
    "LOAN_POOL",
    "SEED_ASSETS",
    "allocation_view",
    "allocation_explorer",
    "diversification_explorer",
    "diversification_view",
    "live_frontend",
    "loan_pool_explorer",
    "loan_pool_view",
    "show",
]

#: The three-asset example of the source document: expected return and risk (volatility), annual.
SEED_ASSETS = pd.DataFrame(
    {"expected_return": [0.10, 0.15, 0.12], "volatility": [0.20, 0.30, 0.25]},
    index=pd.Index(["资产1", "资产2", "资产3"], name="asset"),
)

#: Environment variable that makes :func:`show` render live widgets (set by ``poolkit app``).
INTERACTIVE_ENV = "POOLKIT_INTERACTIVE"

_ERROR_STYLE = "color:#b00020;background:#fdecea;border-left:4px solid #b00020;padding:4px 8px;margin:4px 0"


# --------------------------------------------------------------------------------------------
# Shared machinery: a panel = controls + compute(values) -> view + render(view) -> (html, png)
# --------------------------------------------------------------------------------------------


@dataclass
class _Spec:
    """What an explorer is made of; the same spec renders live or static."""

    name: str
    title: str
    defaults: dict[str, Any]
    compute: Callable[[Mapping[str, Any]], dict[str, Any]]
    render: Callable[[dict[str, Any]], tuple[str, bytes]]
    controls: Callable[[Mapping[str, Any]], dict[str, Any]]
    view_only: frozenset[str] = field(default_factory=frozenset)


class _Debouncer:
    """Call ``func`` once, ``wait`` seconds after the last of a burst of calls.

    In a running kernel the call is scheduled on its event loop; without a running
    loop (plain Python, tests) or with ``wait <= 0`` it happens at once.
    """

    def __init__(self, func: Callable[[], None], wait: float) -> None:
        self.func = func
        self.wait = float(wait)
        self._handle: asyncio.TimerHandle | None = None

    def __call__(self, *_: object) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self.wait <= 0:
            self.func()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.func()
            return
        self._handle = loop.call_later(self.wait, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self.func()


def _error_html(exc: BaseException) -> str:
    """Return the message shown in the page for an error (poolkit errors verbatim)."""
    if isinstance(exc, PoolkitError):
        text = f"{type(exc).__name__}: {exc}"
    else:
        text = f"Unexpected {type(exc).__name__}: {exc}"
    return (
        f'<div class="poolkit-error" style="{_ERROR_STYLE}">{html.escape(text)}'
        "<br><small>The last valid result is still shown below.</small></div>"
    )


def _figures_html(rows: Sequence[tuple[str, str]]) -> str:
    """Return an HTML table of (label, formatted value) rows."""
    body = "".join(
        f'<tr><th style="text-align:left;padding-right:1em">{html.escape(k)}</th>'
        f'<td class="poolkit-value" style="text-align:right">{html.escape(v)}</td></tr>'
        for k, v in rows
    )
    return f'<table class="poolkit-figures-table">{body}</table>'


def _png(fig: Any) -> bytes:
    """Render a matplotlib Figure to PNG bytes (no pyplot state, no backend needed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()


def _new_figure(ncols: int, width: float = 12.0, height: float = 3.8) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, np.atleast_1d(axes)


class _Panel:
    """Live state of an explorer: the widgets, the last valid view and the refresh logic."""

    def __init__(self, spec: _Spec, debounce: float) -> None:
        import ipywidgets as w

        self.spec = spec
        self.controls = spec.controls(spec.defaults)
        self.view: dict[str, Any] | None = None
        self.status = w.HTML(value="")
        self.status.add_class("poolkit-status")
        self.figures = w.HTML(value="")
        self.figures.add_class("poolkit-figures")
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.image.add_class("poolkit-chart")
        box = w.VBox(list(self.controls.values()), layout=w.Layout(min_width="340px", max_width="380px"))
        right = w.VBox([self.status, self.figures], layout=w.Layout(flex="1 1 auto"))
        self.widget = w.VBox([w.HTML(f"<h3>{html.escape(spec.title)}</h3>"), w.HBox([box, right]), self.image])
        self.widget.add_class("poolkit-explorer")
        self.widget.add_class(f"poolkit-{spec.name}")
        self.refresh = _Debouncer(self.update, debounce)
        for control in self.controls.values():
            control.observe(self.refresh, names="value")
        self.update()

    def values(self) -> dict[str, Any]:
        """Return the current control values, keyed like the spec's defaults."""
        return {key: control.value for key, control in self.controls.items()}

    def update(self) -> None:
        """Recompute the view from the controls; show an error instead of raising."""
        try:
            view = self.spec.compute(self.values())
            text, png = self.spec.render(view)
        except Exception as exc:  # never raise into the page; poolkit errors carry the fix
            self.status.value = _error_html(exc)
            return
        self.view = view
        self.status.value = ""
        self.figures.value = text
        self.image.value = png


def _build(spec: _Spec, debounce: float) -> Any:
    panel = _Panel(spec, debounce)
    widget = panel.widget
    widget.poolkit_panel = panel  # for tests and power users: panel.controls, panel.view
    return widget


def live_frontend() -> bool:
    """Return True when live widgets can be shown: under Voilà or with ``POOLKIT_INTERACTIVE=1``.

    papermill, nbconvert and other headless runs have no browser attached, so
    :func:`show` renders the static version there unless told otherwise.

    Returns
    -------
    bool

    Examples
    --------
    >>> isinstance(live_frontend(), bool)
    True
    """
    if os.environ.get(INTERACTIVE_ENV, "").strip().lower() in {"1", "true", "yes"}:
        return True
    return bool(os.environ.get("VOILA_REQUEST_URL") or os.environ.get("VOILA_KERNEL_ID"))


def show(explorer: Callable[..., Any], *args: Any, interactive: bool = False, **kwargs: Any) -> Any:
    """Display an explorer live, or its static version (same figures at the defaults).

    Parameters
    ----------
    explorer : callable
        One of :func:`allocation_explorer`, :func:`diversification_explorer`,
        :func:`loan_pool_explorer`.
    *args, **kwargs
        Passed to the explorer (e.g. ``returns`` and default settings).
    interactive : bool, default False
        Show live widgets. Also live when :func:`live_frontend` is True (Voilà,
        ``POOLKIT_INTERACTIVE=1``). Otherwise (report runs) the static version is
        shown: an HTML table of the key figures and the chart as an embedded PNG,
        with no widget state, so exported HTML needs no network.

    Returns
    -------
    object
        The widget when live, else the static IPython ``HTML`` object of the figures.

    Raises
    ------
    ParameterError
        If ``explorer`` is not one of poolkit's explorers.
    """
    from IPython.display import HTML, Image, display

    spec_of = _SPECS.get(getattr(explorer, "__name__", ""))
    if spec_of is None or explorer is not globals().get(explorer.__name__):
        raise ParameterError(
            f"`explorer` must be one of {sorted(_SPECS)} from poolkit.widgets, got {explorer!r}."
        )
    debounce = kwargs.pop("debounce", 0.3)
    if interactive or live_frontend():
        widget = explorer(*args, debounce=debounce, **kwargs)
        display(widget)
        return widget
    spec = spec_of(*args, **kwargs)
    view = spec.compute(spec.defaults)
    text, png = spec.render(view)
    shown = HTML(f"<h3>{html.escape(spec.title)}</h3>{text}")
    display(shown)
    display(Image(data=png, format="png"))
    return shown


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
    ax2.set_xticks(range(len(shown)), [_label(a) for a in shown.index], rotation=45, ha="right", fontsize=8)
    ax2.set(ylabel="share of pooled volatility", title="Risk contributions")
    ax2.yaxis.set_major_formatter(_percent())
    return _figures_html(rows), _png(fig)


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)


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


# --------------------------------------------------------------------------------------------
# Allocation explorer
# --------------------------------------------------------------------------------------------

#: Methods offered by the allocation explorer (names of :data:`poolkit.allocation.METHODS`,
#: "equal_weights" for "equal"); the first four take bounds and the group limit.
ALLOCATION_METHODS = (
    "min_variance", "max_sharpe", "max_diversification", "mean_variance",
    "risk_parity", "inverse_volatility", "equal_weights",
)
COV_ESTIMATORS = ("sample", "ledoit_wolf", "oas", "ewma")
GROUP = "group"


class _Cache:
    """Results reused while only other settings change (covariance by assets and estimator, ...)."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self.store: dict[tuple[Any, ...], Any] = {}
        self.misses: dict[str, int] = {}

    def get(self, kind: str, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        full = (kind, *key)
        if full not in self.store:
            self.misses[kind] = self.misses.get(kind, 0) + 1
            if len(self.store) >= self.size:
                self.store.pop(next(iter(self.store)))
            self.store[full] = make()
        return self.store[full]


def _constraints(
    method: str, assets: Sequence[str], bounds: tuple[float, float], group: Sequence[str], group_limit: float
) -> dict[str, Any]:
    """Return the bounds/groups keyword arguments for a constrained method (else {})."""
    from poolkit.allocation import method_spec

    if not method_spec(method).constrained:
        return {}
    lo, hi = float(bounds[0]), float(bounds[1])
    members = [a for a in group if a in set(assets)]
    out: dict[str, Any] = {"bounds": (lo, hi)}
    if members:
        out["groups"] = {a: GROUP for a in members}
        out["group_bounds"] = {GROUP: (0.0, float(group_limit))}
    return out


def allocation_view(
    returns: pd.DataFrame,
    assets: Sequence[str],
    method: str = "min_variance",
    estimator: str = "ledoit_wolf",
    bounds: tuple[float, float] = (0.0, 1.0),
    group: Sequence[str] = (),
    group_limit: float = 1.0,
    *,
    n_points: int = 20,
    cache: Any = None,
) -> dict[str, Any]:
    r"""Compute what the allocation explorer shows for one setting, without drawing.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns.
    assets : sequence of str
        The assets to allocate between (at least 2 columns of ``returns``).
    method : str, default "min_variance"
        One of ``ALLOCATION_METHODS``, computed by the allocation registry
        (:func:`poolkit.allocation.method_spec`).
    estimator : str, default "ledoit_wolf"
        One of ``COV_ESTIMATORS``.
    bounds : (float, float), default (0, 1)
        Lower and upper weight of every asset (constrained methods only).
    group : sequence of str, optional
        Assets of one group; those not in ``assets`` are ignored.
    group_limit : float, default 1.0
        Largest total weight of the group (constrained methods only).
    n_points : int, default 20
        Points of the efficient frontier.
    cache : optional
        The cache of a running explorer (``panel.poolkit_panel.cache``), so the
        covariance is estimated once per (assets, estimator) and the frontier once per
        (assets, estimator, constraints); None computes everything.

    Returns
    -------
    dict
        ``assets``, ``method``, ``estimator``, ``constrained`` (whether the bounds and
        group limit apply), ``group``, ``group_limit``, ``weights`` (Series indexed like
        ``assets``), ``expected_return`` and ``volatility`` (annual), ``contributions``
        (risk contribution of each asset), ``frontier`` (the efficient frontier under the
        same constraints) and ``asset_points`` (each asset's annual return and volatility).

    Raises
    ------
    ParameterError
        If fewer than 2 assets are chosen, an asset is unknown, or an option is invalid.
    InfeasibleError
        If the bounds and the group limit cannot hold together.

    Notes
    -----
    Covariance and mean returns are annualised with :math:`p` periods per year:
    :math:`\Sigma = p\,\hat\Sigma`, :math:`\mu = p\,\bar r`; the portfolio has
    :math:`\mu_P = w^\top\mu` and :math:`\sigma_P = \sqrt{w^\top\Sigma w}`.

    Examples
    --------
    >>> import poolkit as pk
    >>> r = pk.data.load_returns("sample", assets=["KO", "PG", "JNJ"], start="2020-01-01")
    >>> view = allocation_view(r, ["KO", "PG", "JNJ"], "equal_weights", "sample")
    >>> view["weights"].round(4).tolist(), view["constrained"]
    ([0.3333, 0.3333, 0.3333], False)
    """
    import poolkit.allocation as allocation
    import poolkit.data as data
    import poolkit.risk as risk
    from poolkit._numerics import asset_volatilities

    frame, _ = check_returns(returns)
    method = check_choice(method, ALLOCATION_METHODS, name="method")
    spec = allocation.method_spec(method)
    estimator = check_choice(estimator, COV_ESTIMATORS, name="estimator")
    chosen = [str(a) for a in assets]
    missing = [a for a in chosen if a not in frame.columns]
    if missing:
        raise ParameterError(f"`assets` {missing} are not columns of `returns`; choose from {list(frame.columns)}.")
    if len(chosen) < 2:
        raise ParameterError(f"`assets` must hold at least 2 assets to allocate between, got {chosen}; select more.")
    lo, hi = (float(b) for b in bounds)
    if not lo <= hi:
        raise ParameterError(f"`bounds` must be (lower, upper) with lower <= upper, got {bounds}.")
    limit = check_fraction(group_limit, name="group_limit")
    cache = cache or _Cache()
    key = tuple(chosen)
    sub = frame[chosen]
    ppy = float(data.periods_per_year(sub.index))
    cov = cache.get("cov", (key, estimator), lambda: risk.covariance(sub, method=estimator) * ppy)
    mu = cache.get("mu", (key,), lambda: allocation.expected_returns(sub) * ppy)
    members = tuple(a for a in group if a in set(chosen))
    cons = _constraints("min_variance", chosen, (lo, hi), members, limit)
    frontier = cache.get(
        "frontier", (key, estimator, lo, hi, members, limit),
        lambda: allocation.efficient_frontier(mu, cov, n_points, **cons),
    )
    method_cons = _constraints(method, chosen, (lo, hi), members, limit)
    # annual estimates: periods_per_year=None tells max Sharpe the risk-free rate is annual too
    estimates = {"assets": pd.Index(chosen), "cov": cov, "expected_returns": mu, "returns": sub}
    weights = spec.weights(**{k: estimates[k] for k in spec.inputs}, **method_cons).reindex(chosen)
    return {
        "assets": chosen,
        "method": method,
        "estimator": estimator,
        "constrained": spec.constrained,
        "group": list(members),
        "group_limit": limit,
        "weights": weights,
        "expected_return": float(weights @ mu),
        "volatility": risk.pooled_volatility(weights, cov),
        "contributions": risk.risk_contributions(weights, cov),
        "frontier": frontier,
        "asset_points": pd.DataFrame({"return": mu, "volatility": asset_volatilities(cov.to_numpy())}, index=cov.index),
    }


def _allocation_render(view: dict[str, Any]) -> tuple[str, bytes]:
    w = view["weights"]
    group_weight = float(w.reindex(view["group"]).sum()) if view["group"] else float("nan")
    sharpe = view["expected_return"] / view["volatility"] if view["volatility"] > 0 else float("nan")
    rows = [
        ("Method", f"{view['method']} ({'bounds and group limit applied' if view['constrained'] else 'unconstrained'})"),
        ("Covariance estimator", view["estimator"]),
        ("Expected return (annual, historical mean)", f"{view['expected_return']:.2%}"),
        ("Volatility (annual)", f"{view['volatility']:.2%}"),
        ("Return / volatility", f"{sharpe:.2f}"),
        ("Largest weight", f"{w.max():.1%} ({w.idxmax()})"),
    ]
    if view["group"]:
        rows.append((f"Group weight ({len(view['group'])} assets, limit {view['group_limit']:.0%})", f"{group_weight:.1%}"))
    fig, (ax1, ax2, ax3) = _new_figure(3, width=13.0)
    labels = [_label(a) for a in w.index]
    ax1.bar(range(len(w)), w.to_numpy(), color=["C1" if a in view["group"] else "C0" for a in w.index])
    ax1.set_xticks(range(len(w)), labels, rotation=60, ha="right", fontsize=8)
    ax1.set(title=f"Weights: {view['method']}", ylabel="weight")
    ax1.yaxis.set_major_formatter(_percent())
    share = view["contributions"]["share"]
    ax2.bar(range(len(share)), share.to_numpy(), color="C2")
    ax2.set_xticks(range(len(share)), labels, rotation=60, ha="right", fontsize=8)
    ax2.set(title="Risk contributions (share of volatility)")
    ax2.yaxis.set_major_formatter(_percent())
    front, pts = view["frontier"], view["asset_points"]
    ax3.plot(front["volatility"], front["return"], color="C0", label="efficient frontier")
    ax3.scatter(pts["volatility"], pts["return"], s=12, color="grey", label="assets")
    ax3.scatter([view["volatility"]], [view["expected_return"]], s=80, marker="*", color="C3", zorder=3, label="chosen")
    ax3.set(title="Efficient frontier (annual)", xlabel="volatility", ylabel="expected return")
    ax3.xaxis.set_major_formatter(_percent())
    ax3.yaxis.set_major_formatter(_percent())
    ax3.legend(fontsize=8)
    return _figures_html(rows), _png(fig)


def _allocation_controls(defaults: Mapping[str, Any]) -> dict[str, Any]:
    import ipywidgets as w

    style = {"description_width": "110px"}
    layout = w.Layout(width="330px")
    universe = defaults["universe"]
    return {
        "assets": w.SelectMultiple(options=universe, value=tuple(defaults["assets"]), rows=6,
                                   description="assets", style=style, layout=layout),
        "method": w.Dropdown(options=ALLOCATION_METHODS, value=defaults["method"], description="method",
                             style=style, layout=layout),
        "estimator": w.Dropdown(options=COV_ESTIMATORS, value=defaults["estimator"], description="covariance",
                                style=style, layout=layout),
        "bounds": w.FloatRangeSlider(value=tuple(defaults["bounds"]), min=0.0, max=1.0, step=0.01,
                                     description="weight bounds", continuous_update=False, readout_format=".2f",
                                     style=style, layout=layout),
        "group": w.SelectMultiple(options=universe, value=tuple(defaults["group"]), rows=4,
                                  description="group", style=style, layout=layout),
        "group_limit": w.FloatSlider(value=defaults["group_limit"], min=0.0, max=1.0, step=0.01,
                                     description="group max", continuous_update=False, readout_format=".2f",
                                     style=style, layout=layout),
    }


def _allocation_spec(
    returns: pd.DataFrame,
    assets: Sequence[str] = (),
    method: str = "min_variance",
    estimator: str = "ledoit_wolf",
    bounds: tuple[float, float] = (0.0, 1.0),
    group: Sequence[str] = (),
    group_limit: float = 1.0,
    *,
    max_assets: int = 8,
) -> _Spec:
    frame, _ = check_returns(returns)
    universe = [str(c) for c in frame.columns]
    chosen = [str(a) for a in assets] or universe[: max(2, int(max_assets))]
    defaults = {
        "universe": universe,
        "assets": chosen,
        "method": method,
        "estimator": estimator,
        "bounds": (float(bounds[0]), float(bounds[1])),
        "group": [str(a) for a in group] or chosen[:3],
        "group_limit": float(group_limit),
    }
    cache = _Cache()

    def compute(values: Mapping[str, Any]) -> dict[str, Any]:
        return allocation_view(
            frame, values["assets"], values["method"], values["estimator"], values["bounds"],
            values["group"], values["group_limit"], cache=cache,
        )

    compute(defaults)  # bad initial settings raise here, not in the page
    spec = _Spec("allocation", "Allocation: weights, risk and the efficient frontier", defaults, compute,
                 _allocation_render, _allocation_controls)
    spec.cache = cache  # type: ignore[attr-defined]
    return spec


def allocation_explorer(
    returns: pd.DataFrame,
    assets: Sequence[str] = (),
    method: str = "min_variance",
    estimator: str = "ledoit_wolf",
    bounds: tuple[float, float] = (0.0, 1.0),
    group: Sequence[str] = (),
    group_limit: float = 1.0,
    *,
    max_assets: int = 8,
    debounce: float = 0.3,
) -> Any:
    r"""Explore allocations: assets, method, covariance estimator, bounds and a group limit.

    The panel shows the weights, each asset's share of the portfolio's volatility,
    and the efficient frontier (under the same bounds and group limit) with the
    chosen portfolio on it. Changing only the method reuses the cached covariance,
    expected returns and frontier; changing the estimator re-estimates the
    covariance once per (assets, estimator).

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns; every column is offered.
    assets : sequence of str, optional
        Initially selected assets; default the first ``max_assets`` columns.
    method : str, default "min_variance"
        One of ``ALLOCATION_METHODS``. ``min_variance``, ``max_sharpe``,
        ``max_diversification`` and ``mean_variance`` (risk aversion 2.5) respect the
        bounds and the group limit; ``risk_parity``, ``inverse_volatility`` and
        ``equal_weights`` are unconstrained by construction.
    estimator : str, default "ledoit_wolf"
        Covariance estimator of :func:`poolkit.risk.covariance`.
    bounds : (float, float), default (0, 1)
        Lower and upper weight of every asset.
    group : sequence of str, optional
        Assets forming one group (e.g. a sector); default the first three selected.
    group_limit : float, default 1.0
        Largest total weight of the group.
    max_assets : int, default 8
        Number of assets selected when ``assets`` is empty.
    debounce : float, default 0.3
        Seconds to wait after the last change before recomputing.

    Returns
    -------
    ipywidgets.VBox
        The panel; ``panel.poolkit_panel.view`` holds the last valid result.

    Raises
    ------
    ParameterError, InfeasibleError, DataError
        If the initial settings are invalid (later invalid settings are shown in the panel).

    Notes
    -----
    Covariance and expected returns are annualised from the data's frequency
    :math:`p`: :math:`\Sigma = p\,\hat\Sigma`, :math:`\mu = p\,\bar r`. The group
    limit adds the constraint :math:`\sum_{i\in G} w_i \le U_G`; with per-asset
    lower bounds :math:`l` it is infeasible when :math:`|G|\,l > U_G`.

    References
    ----------
    .. [1] Markowitz, H. (1952). Portfolio selection. J. Finance 7(1), 77-91.
    .. [2] Ledoit, O. & Wolf, M. (2004). A well-conditioned estimator for
           large-dimensional covariance matrices. J. Multivariate Analysis 88(2), 365-411.

    Examples
    --------
    >>> import poolkit as pk
    >>> r = pk.data.load_returns("sample").loc["2020":]
    >>> panel = allocation_explorer(r, max_assets=4, debounce=0)
    >>> round(float(panel.poolkit_panel.view["weights"].sum()), 9)
    1.0
    """
    spec = _allocation_spec(returns, assets, method, estimator, bounds, group, group_limit, max_assets=max_assets)
    widget = _build(spec, debounce)
    widget.poolkit_panel.cache = spec.cache  # type: ignore[attr-defined]
    return widget


# --------------------------------------------------------------------------------------------
# Loan pool explorer
# --------------------------------------------------------------------------------------------

#: The pool of the loan explorer: a 30-year fixed-rate mortgage pool.
LOAN_POOL = {"balance": 100e6, "coupon": 0.065, "net_coupon": 0.06, "term": 360, "recovery_lag": 12}
#: Deals the loan explorer can cut the pool into (bundled deal files sized as shares of the pool; "" = none).
LOAN_POOL_DEALS = ("", "senior_sub", "sequential_four", "pac_support", "excess_spread_oc")


def _loan_pool_deal(deal: str, terms: Mapping[str, Any], cf: pd.DataFrame) -> dict[str, Any]:
    """Cut the explorer's pool into the tranches of a bundled deal: balances and per-tranche figures."""
    import poolkit.credit as credit

    name = check_choice(deal, LOAN_POOL_DEALS, name="deal")
    if not name:
        return {"deal": "", "deal_name": "", "tranches": None, "tranche_summary": None}
    structure = credit.load_deal(name, collateral={
        "balance": float(terms["balance"]), "coupon": float(terms["coupon"]),
        "net_coupon": float(terms["net_coupon"]), "term": int(terms["term"]), "age": 0,
    })
    result = credit.run_waterfall(structure, cf)
    summary = credit.tranche_summary(result)
    principal = [t.name for t in structure.tranches if structure.tranche_type(t) != "io"]
    return {
        "deal": name,
        "deal_name": structure.name,
        "tranches": result.balances()[principal],
        "tranche_summary": summary.loc[principal, ["type", "original_balance", "average_life", "first_month",
                                                   "last_month", "loss"]],
    }


def loan_pool_view(
    psa: float = 150.0,
    default_model: str = "CDR",
    cdr: float = 1.0,
    sda: float = 100.0,
    severity: float = 0.35,
    *,
    deal: str = "senior_sub",
    pool: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    r"""Compute what the loan pool explorer shows (cash flows, WAL, losses, tranches), without drawing.

    Parameters
    ----------
    psa : float, default 150
        Prepayment speed in percent of the PSA benchmark.
    default_model : {"CDR", "SDA"}, default "CDR"
        Which default rate applies: ``cdr`` or ``sda``.
    cdr : float, default 1.0
        Constant default rate in percent a year.
    sda : float, default 100
        Default speed in percent of the SDA benchmark.
    severity : float, default 0.35
        Loss as a fraction of the defaulted balance.
    deal : str, default "senior_sub"
        A bundled deal (one of ``LOAN_POOL_DEALS``) to cut the pool into; its tranches
        are sized as shares of the pool. ``""`` shows the pool alone.
    pool : mapping, optional
        Overrides of ``LOAN_POOL`` (balance, coupon, net_coupon, term, recovery_lag).

    Returns
    -------
    dict
        ``psa``, ``default`` (the default scenario, e.g. ``"1 CDR"``), ``severity``,
        ``cashflows`` (monthly table of :func:`poolkit.credit.pool_cashflows`), ``wal``
        (years), ``loss`` and ``loss_share`` (principal lost, in currency and as a
        share of the pool), ``interest`` (paid to investors) and ``balance``; and for the
        deal: ``deal`` (its file name, ``""`` for none), ``deal_name``, ``tranches``
        (balance of each tranche at the end of each month, month 0 = closing) and
        ``tranche_summary`` (per tranche: ``type``, ``original_balance``,
        ``average_life``, principal window ``first_month``/``last_month``, ``loss``),
        both None without a deal.

    Raises
    ------
    ParameterError
        If ``default_model`` or ``deal`` is unknown or a rate is out of range.

    Notes
    -----
    .. math:: WAL = \frac{\sum_k (k/12)\, PR_k}{\sum_k PR_k}, \qquad
              \text{loss} = \text{severity} \times \text{liquidated balance}.

    The deal's waterfall (:func:`poolkit.credit.run_waterfall`) pays the same monthly
    cash flows to its tranches: prepayments shorten the tranches paid first; losses are
    written off from the most junior tranche up.

    Examples
    --------
    >>> view = loan_pool_view(psa=0, cdr=0)  # a plain 30-year 6.5 % annuity
    >>> view["loss"], round(view["wal"], 2)
    (0.0, 19.62)
    >>> view["tranche_summary"]["loss"].max()  # no defaults: no tranche loses
    0.0
    """
    import poolkit.credit as credit

    model = check_choice(default_model, ("CDR", "SDA"), name="default_model")
    terms = {**LOAN_POOL, **(pool or {})}
    default = f"{float(cdr):g} CDR" if model == "CDR" else f"{float(sda):g} SDA"
    cf = credit.pool_cashflows(
        terms["balance"], terms["coupon"], int(terms["term"]), net_coupon=terms["net_coupon"],
        prepayment=f"{float(psa):g} PSA", default=default, severity=float(severity),
        recovery_lag=int(terms["recovery_lag"]),
    )
    balance = float(terms["balance"])
    return {
        "psa": float(psa),
        "default": default,
        "severity": float(severity),
        "cashflows": cf,
        "wal": credit.weighted_average_life(cf),
        "loss": float(cf["principal_loss"].sum()),
        "loss_share": float(cf["principal_loss"].sum()) / balance,
        "interest": float(cf["interest"].sum()),
        "balance": balance,
        **_loan_pool_deal(deal, terms, cf),
    }


def _loan_pool_render(view: dict[str, Any]) -> tuple[str, bytes]:
    cf = view["cashflows"]
    rows = [
        ("Prepayments", f"{view['psa']:g} PSA"),
        ("Defaults", view["default"]),
        ("Loss severity", f"{view['severity']:.0%}"),
        ("Weighted average life (years)", f"{view['wal']:.2f}"),
        ("Principal lost", f"{view['loss_share']:.2%} of the pool"),
        ("Interest paid to investors", f"{view['interest'] / view['balance']:.1%} of the pool"),
    ]
    table = view.get("tranche_summary")
    if table is not None:
        rows += [
            ("Deal", view["deal_name"]),
            ("Tranche average life (years)", " · ".join(
                f"{n} {v:.1f}" if np.isfinite(v) else f"{n} written off" for n, v in table["average_life"].items())),
            ("Tranche principal lost", " · ".join(f"{n} {v:.0%}" for n, v in table["loss"].items())),
        ]
    fig, axes = _new_figure(3 if table is not None else 2, width=16.0 if table is not None else 12.0)
    ax1, ax2 = axes[0], axes[1]
    years = cf.index.to_numpy() / 12.0
    ax1.plot(years, cf["balance"].to_numpy() / view["balance"], color="C0", label="pool balance")
    ax1.axvline(view["wal"], color="C3", ls="--", lw=1, label=f"WAL {view['wal']:.1f} y")
    ax1.set(title="Balance (fraction of the original)", xlabel="years")
    ax1.yaxis.set_major_formatter(_percent())
    ax1.legend(fontsize=8)
    scheduled = cf["expected_amortization"].to_numpy()
    prepaid = cf["voluntary_prepayments"].to_numpy()
    recovered = cf["principal_recovery"].to_numpy()
    parts = [cf["interest"].to_numpy(), scheduled, prepaid, recovered]
    ax2.stackplot(years, *[p / view["balance"] for p in parts],
                  labels=["interest", "scheduled principal", "prepayments", "recoveries"], alpha=0.85)
    ax2.plot(years, cf["principal_loss"].to_numpy() / view["balance"], color="black", lw=1, label="losses")
    ax2.set(title="Monthly cash flows (fraction of the pool)", xlabel="years")
    ax2.legend(fontsize=8)
    if table is not None:
        ax3 = axes[2]
        balances = view["tranches"]
        ax3.stackplot(balances.index.to_numpy() / 12.0, balances.to_numpy().T / view["balance"],
                      labels=[str(c) for c in balances.columns], alpha=0.85)
        ax3.set(title=f"Tranche balances: {view['deal_name']}", xlabel="years")
        ax3.yaxis.set_major_formatter(_percent())
        ax3.legend(fontsize=8, ncol=2)
    return _figures_html(rows), _png(fig)


def _loan_pool_controls(defaults: Mapping[str, Any]) -> dict[str, Any]:
    import ipywidgets as w

    style = {"description_width": "130px"}
    return {
        "psa": w.FloatSlider(value=defaults["psa"], min=0, max=800, step=25, description="prepayment % PSA",
                             continuous_update=False, style=style, readout_format=".0f"),
        "default_model": w.ToggleButtons(options=("CDR", "SDA"), value=defaults["default_model"],
                                         description="default model", style={"button_width": "60px", **style}),
        "cdr": w.FloatSlider(value=defaults["cdr"], min=0, max=20, step=0.25, description="CDR (% a year)",
                             continuous_update=False, style=style, readout_format=".2f"),
        "sda": w.FloatSlider(value=defaults["sda"], min=0, max=1000, step=25, description="% SDA",
                             continuous_update=False, style=style, readout_format=".0f"),
        "severity": w.FloatSlider(value=defaults["severity"], min=0, max=1, step=0.05, description="loss severity",
                                  continuous_update=False, style=style, readout_format=".2f"),
        "deal": w.Dropdown(options=[("none (the pool alone)", ""), *[(d.replace("_", " "), d) for d in LOAN_POOL_DEALS
                                                                     if d]],
                           value=defaults["deal"], description="deal", style=style),
    }


def _loan_pool_spec(
    psa: float = 150.0,
    default_model: str = "CDR",
    cdr: float = 1.0,
    sda: float = 100.0,
    severity: float = 0.35,
    *,
    deal: str = "senior_sub",
    pool: Mapping[str, Any] | None = None,
) -> _Spec:
    defaults = {"psa": float(psa), "default_model": default_model, "cdr": float(cdr), "sda": float(sda),
                "severity": float(severity), "deal": deal}

    def compute(values: Mapping[str, Any]) -> dict[str, Any]:
        return loan_pool_view(values["psa"], values["default_model"], values["cdr"], values["sda"],
                               values["severity"], deal=values["deal"], pool=pool)

    compute(defaults)
    return _Spec("loan_pool", "Loan pool: prepayments, defaults and losses", defaults, compute,
                 _loan_pool_render, _loan_pool_controls)


def loan_pool_explorer(
    psa: float = 150.0,
    default_model: str = "CDR",
    cdr: float = 1.0,
    sda: float = 100.0,
    severity: float = 0.35,
    *,
    deal: str = "senior_sub",
    pool: Mapping[str, Any] | None = None,
    debounce: float = 0.3,
) -> Any:
    r"""Explore a mortgage pool's cash flows under prepayment, default and severity scenarios.

    Sliders set the prepayment speed (% PSA), the default rate (CDR in % a year,
    or a % SDA speed) and the loss severity; the panel shows the balance and the
    monthly cash flows (interest, scheduled principal, prepayments, recoveries,
    losses), the weighted average life (WAL) and the share of principal lost. A
    deal menu cuts the pool into the tranches of a securitisation and shows their
    balances over time, average lives and losses.

    Parameters
    ----------
    psa : float, default 150
        Prepayment speed in percent of the PSA benchmark.
    default_model : {"CDR", "SDA"}, default "CDR"
        Which default slider applies.
    cdr : float, default 1.0
        Constant default rate in percent a year.
    sda : float, default 100
        Default speed in percent of the SDA benchmark.
    severity : float, default 0.35
        Loss as a fraction of the defaulted balance.
    deal : str, default "senior_sub"
        The deal shown first (one of ``LOAN_POOL_DEALS``; ``""`` for none).
    pool : mapping, optional
        Overrides of ``LOAN_POOL`` (balance, coupon, net_coupon, term, recovery_lag).
    debounce : float, default 0.3
        Seconds to wait after the last slider move before recomputing.

    Returns
    -------
    ipywidgets.VBox
        The panel; ``panel.poolkit_panel.view`` holds the last valid result.

    Raises
    ------
    ParameterError
        If the initial settings are invalid (later invalid settings are shown in the panel).

    Notes
    -----
    100 % PSA prepays at an annual rate (CPR) rising by 0.2 % a month to 6 % at
    month 30; the monthly rate is :math:`SMM = 1 - (1 - CPR)^{1/12}`, and likewise
    :math:`MDR = 1 - (1 - CDR)^{1/12}` for defaults. With principal :math:`PR_k` paid
    at month :math:`k`,

    .. math:: WAL = \frac{\sum_k (k/12)\, PR_k}{\sum_k PR_k}.

    Faster prepayments shorten the WAL; defaults shorten it too but lose
    :math:`\text{severity} \times` the defaulted balance.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-4 to SF-49.

    Examples
    --------
    >>> panel = loan_pool_explorer(psa=0, cdr=0, debounce=0)
    >>> panel.poolkit_panel.view["loss"]
    0.0
    """
    return _build(_loan_pool_spec(psa, default_model, cdr, sda, severity, deal=deal, pool=pool), debounce)


def _label(name: object) -> str:
    """Chart label of an asset: the seed's Chinese names in ASCII (fonts may lack CJK glyphs)."""
    text = str(name)
    return text.replace("资产", "asset ") if not text.isascii() else text


_SPECS: dict[str, Callable[..., _Spec]] = {
    "allocation_explorer": _allocation_spec,
    "diversification_explorer": _diversification_spec,
    "loan_pool_explorer": _loan_pool_spec,
}

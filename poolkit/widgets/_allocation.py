"""The allocation explorer: one method, one covariance estimator, a mandate, and what they give."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from poolkit._validation import check_choice, check_fraction, check_returns
from poolkit.exceptions import ParameterError
from poolkit.widgets._core import _build, _figures_html, _new_figure, _percent, _png, _Spec

# --------------------------------------------------------------------------------------------
# Allocation explorer
# --------------------------------------------------------------------------------------------

#: Methods offered by the allocation explorer (names of :data:`poolkit.allocation.METHODS`,
#: "equal_weights" for "equal"); every one meets the bounds and the group limit.
ALLOCATION_METHODS = (
    "min_variance", "max_sharpe", "max_diversification", "mean_variance",
    "risk_parity", "inverse_volatility", "inverse_variance", "equal_weights",
    "hrp", "herc", "min_cvar", "min_cdar",
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
    method: str, assets: Sequence[str], bounds: tuple[float, float], group: Sequence[str], group_limit: float,
    group_floor: float = 0.0,
) -> dict[str, Any]:
    """Return the bounds/groups keyword arguments of the mandate (every method takes them)."""
    from poolkit.allocation import method_spec

    if not method_spec(method).constrained:
        return {}
    lo, hi = float(bounds[0]), float(bounds[1])
    members = [a for a in group if a in set(assets)]
    out: dict[str, Any] = {"bounds": (lo, hi)}
    if members:
        out["groups"] = {a: GROUP for a in members}
        out["group_bounds"] = {GROUP: (float(group_floor), float(group_limit))}
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
    group_floor: float = 0.0,
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
        Lower and upper weight of every asset (the mandate's max weight per asset).
    group : sequence of str, optional
        Assets of one group; those not in ``assets`` are ignored.
    group_limit : float, default 1.0
        Largest total weight of the group (the mandate's group cap).
    group_floor : float, default 0.0
        Least total weight of the group (e.g. "each pool at least 15 %").
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
        group limit apply: always), ``rule`` (how the method meets them, the registry's
        ``constraint_rule``), ``group``, ``group_limit``, ``weights`` (Series indexed like
        ``assets``), ``unconstrained`` (the same method without the mandate),
        ``expected_return`` and ``volatility`` (annual), ``contributions`` (risk contribution
        of each asset), ``frontier`` (the efficient frontier under the same constraints) and
        ``asset_points`` (each asset's annual return and volatility).

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
    >>> view["weights"].round(4).tolist(), view["rule"]
    ([0.3333, 0.3333, 0.3333], 'closest feasible')
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
    floor = check_fraction(group_floor, name="group_floor")
    if floor > limit:
        raise ParameterError(
            f"`group_floor` {floor:g} is above `group_limit` {limit:g}: the group's weight cannot be both. "
            f"Lower the group minimum or raise the group cap."
        )
    cache = cache or _Cache()
    key = tuple(chosen)
    sub = frame[chosen]
    ppy = float(data.periods_per_year(sub.index))
    cov = cache.get("cov", (key, estimator), lambda: risk.covariance(sub, method=estimator) * ppy)
    mu = cache.get("mu", (key,), lambda: allocation.expected_returns(sub) * ppy)
    members = tuple(a for a in group if a in set(chosen))
    cons = _constraints("min_variance", chosen, (lo, hi), members, limit, floor)
    frontier = cache.get(
        "frontier", (key, estimator, lo, hi, members, limit, floor),
        lambda: allocation.efficient_frontier(mu, cov, n_points, **cons),
    )
    method_cons = _constraints(method, chosen, (lo, hi), members, limit, floor)
    # annual estimates: periods_per_year=None tells max Sharpe the risk-free rate is annual too
    estimates = {"assets": pd.Index(chosen), "cov": cov, "expected_returns": mu, "returns": sub}
    inputs = {k: estimates[k] for k in spec.inputs_for({})}
    weights = spec.weights(**inputs, **method_cons).reindex(chosen)
    free = cache.get("free", (key, estimator, method), lambda: spec.weights(**inputs).reindex(chosen))
    return {
        "assets": chosen,
        "method": method,
        "estimator": estimator,
        "constrained": spec.constrained,
        "rule": spec.constraint_rule,
        "unconstrained": free,
        "group": list(members),
        "group_limit": limit,
        "group_floor": floor,
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
        ("Method", f"{view['method']} (mandate met: {view['rule']})"),
        ("Covariance estimator", view["estimator"]),
        ("Expected return (annual, historical mean)", f"{view['expected_return']:.2%}"),
        ("Volatility (annual)", f"{view['volatility']:.2%}"),
        ("Return / volatility", f"{sharpe:.2f}"),
        ("Largest weight", f"{w.max():.1%} ({w.idxmax()}; without the mandate "
                           f"{view['unconstrained'].max():.1%})"),
    ]
    if view["group"]:
        band = f"{view.get('group_floor', 0.0):.0%} to {view['group_limit']:.0%}"
        rows.append((f"Group weight ({len(view['group'])} assets, mandate {band})", f"{group_weight:.1%}"))
    fig, (ax1, ax2, ax3) = _new_figure(3, width=13.0)
    labels = [str(a) for a in w.index]  # Chinese names draw: poolkit.plotting registers a CJK font
    ax1.bar(range(len(w)), w.to_numpy(), color=["C1" if a in view["group"] else "C0" for a in w.index],
            label="with the mandate")
    ax1.scatter(range(len(w)), view["unconstrained"].to_numpy(), marker="_", s=120, color="k", zorder=3,
                label="without")
    ax1.set_xticks(range(len(w)), labels, rotation=60, ha="right", fontsize=8)
    ax1.set(title=f"Weights: {view['method']}", ylabel="weight")
    ax1.legend(fontsize=8)
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
                                     description="weight min/max", continuous_update=False, readout_format=".2f",
                                     style=style, layout=layout),
        "group": w.SelectMultiple(options=universe, value=tuple(defaults["group"]), rows=4,
                                  description="group", style=style, layout=layout),
        "group_limit": w.FloatSlider(value=defaults["group_limit"], min=0.0, max=1.0, step=0.01,
                                     description="group cap", continuous_update=False, readout_format=".2f",
                                     style=style, layout=layout),
        "group_floor": w.FloatSlider(value=defaults["group_floor"], min=0.0, max=1.0, step=0.01,
                                     description="group min", continuous_update=False, readout_format=".2f",
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
    group_floor: float = 0.0,
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
        "group_floor": float(group_floor),
    }
    cache = _Cache()

    def compute(values: Mapping[str, Any]) -> dict[str, Any]:
        return allocation_view(
            frame, values["assets"], values["method"], values["estimator"], values["bounds"],
            values["group"], values["group_limit"], group_floor=values["group_floor"], cache=cache,
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
    group_floor: float = 0.0,
    max_assets: int = 8,
    debounce: float = 0.3,
) -> Any:
    r"""Explore allocations: assets, method, covariance estimator and a mandate (bounds, a group cap).

    The mandate is a max (and min) weight per asset and a cap on one group's total weight,
    met by every method. The panel shows the weights with and without the mandate, each
    asset's share of the portfolio's volatility,
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
        One of ``ALLOCATION_METHODS``; every one meets the bounds and the group limit (the
        mandate): the optimisers optimise under it, risk parity solves its constrained
        risk-budgeting problem, HRP and HERC clip their splits, and the heuristics take the
        closest feasible weights. ``mean_variance`` uses risk aversion 2.5.
    estimator : str, default "ledoit_wolf"
        Covariance estimator of :func:`poolkit.risk.covariance`.
    bounds : (float, float), default (0, 1)
        Lower and upper weight of every asset.
    group : sequence of str, optional
        Assets forming one group (e.g. a sector); default the first three selected.
    group_limit : float, default 1.0
        Largest total weight of the group.
    group_floor : float, default 0.0
        Least total weight of the group (a pool minimum such as 15 %).
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
    limits add the constraint :math:`L_G \le \sum_{i\in G} w_i \le U_G`; with per-asset
    bounds :math:`[l, u]` it is infeasible when :math:`|G|\,l > U_G` or :math:`|G|\,u < L_G`.

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
    spec = _allocation_spec(returns, assets, method, estimator, bounds, group, group_limit, group_floor=group_floor,
                            max_assets=max_assets)
    widget = _build(spec, debounce)
    widget.poolkit_panel.cache = spec.cache  # type: ignore[attr-defined]
    return widget



"""Tests for poolkit.widgets: the public view functions, errors shown (never raised), static mode.

Widget values are driven from Python (``panel.poolkit_panel.controls[...]``) with
``debounce=0``, so every change recomputes at once; the browser tests drive the
same panels through a real page.
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import poolkit as pk
from poolkit import widgets as W
from poolkit.exceptions import ParameterError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def recent(returns: pd.DataFrame) -> pd.DataFrame:
    """Five years of daily returns of the first six sample stocks."""
    return returns.loc["2018":"2022", list(returns.columns[:6])]


# ----------------------------------------------------------------------------- diversification


def test_seed_pool_matches_hand_worked_example():
    # 资产1-3, equal weights, rho = 0.3 (the seed's vols 0.20, 0.30, 0.25), worked by hand:
    # var = (0.04 + 0.09 + 0.0625 + 2*0.3*(0.06 + 0.05 + 0.075)) / 9 = 0.3035 / 9
    view = W.diversification_view(3, 0.3)
    assert view["pooled_volatility"] == pytest.approx(math.sqrt(0.3035 / 9), rel=1e-12)
    assert view["undiversified_volatility"] == pytest.approx(0.25)  # (0.20 + 0.30 + 0.25) / 3
    assert view["diversification_ratio"] == pytest.approx(0.25 / math.sqrt(0.3035 / 9), rel=1e-10)
    assert view["expected_return"] == pytest.approx((0.10 + 0.15 + 0.12) / 3)
    assert list(view["weights"].index) == ["资产1", "资产2", "资产3"]
    # share of variance of asset i = w_i (Sigma w)_i / sigma_P^2; (Sigma w)_i x 3 = 0.073, 0.1305, 0.1
    shares = view["contributions"]["share"]
    np.testing.assert_allclose(shares.to_numpy(), np.array([0.073, 0.1305, 0.1]) / 0.3035, rtol=1e-10)


def test_uncorrelated_seed_pool_has_entropy_number_of_bets():
    # rho = 0: the assets are the uncorrelated bets; shares of variance p_i = w_i^2 s_i^2 / sum (Meucci 2009)
    view = W.diversification_view(3, 0.0)
    p = np.array([0.04, 0.09, 0.0625]) / 0.1925
    assert view["effective_number_of_bets"] == pytest.approx(math.exp(-(p * np.log(p)).sum()), rel=1e-6)


def test_perfect_correlation_buys_nothing():
    view = W.diversification_view(7, 1.0)
    assert view["pooled_volatility"] == pytest.approx(view["undiversified_volatility"], rel=1e-9)
    assert view["diversification_ratio"] == pytest.approx(1.0, rel=1e-9)
    assert view["effective_number_of_bets"] == pytest.approx(1.0, rel=1e-6)  # a single bet


def test_curve_follows_closed_form_for_equal_volatilities():
    # n equal-vol assets, one correlation: sigma_P = sigma * sqrt(rho + (1 - rho) / n)
    assets = pd.DataFrame({"expected_return": [0.08], "volatility": [0.20]}, index=["X"])
    view = W.diversification_view(5, 0.25, assets=assets, max_assets=12)
    n = view["curve"].index.to_numpy()
    np.testing.assert_allclose(view["curve"].to_numpy(), 0.20 * np.sqrt(0.25 + 0.75 / n), rtol=1e-12)
    assert view["pooled_volatility"] == pytest.approx(0.20 * math.sqrt(0.25 + 0.75 / 5))


def test_pool_extends_the_seed_assets_by_repeating_profiles():
    view = W.diversification_view(5, 0.0)
    table = view["assets"]
    assert list(table.index) == ["资产1", "资产2", "资产3", "资产4", "资产5"]
    assert table["volatility"].tolist() == [0.20, 0.30, 0.25, 0.20, 0.30]
    # uncorrelated, equal weights: sigma_P^2 = (0.04 + 0.09 + 0.0625 + 0.04 + 0.09) / 25
    assert view["pooled_volatility"] == pytest.approx(math.sqrt(0.3225) / 5, rel=1e-12)


def test_invalid_correlation_is_shown_and_last_result_kept():
    panel = W.diversification_explorer(debounce=0).poolkit_panel
    panel.controls["n_assets"].value = 10
    good = panel.view
    figures, image = panel.figures.value, panel.image.value
    panel.controls["correlation"].value = -0.5  # below -1/(n-1) for 10 assets: no such pool
    assert "CovarianceError" in panel.status.value and "-1/(n-1)" in panel.status.value
    assert panel.view is good and panel.figures.value == figures and panel.image.value == image
    panel.controls["correlation"].value = 0.5  # valid again: the message goes, the figures move
    assert panel.status.value == ""
    assert panel.view["pooled_volatility"] > good["pooled_volatility"]


def test_diversification_figures_show_the_numbers():
    panel = W.diversification_explorer(n_assets=3, correlation=0.3, debounce=0).poolkit_panel
    assert "Pooled volatility" in panel.figures.value and "18.36%" in panel.figures.value
    assert panel.image.value[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- allocation


def test_allocation_view_annualises_and_respects_constraints(recent):
    assets = list(recent.columns)
    view = W.allocation_view(recent, assets, "min_variance", "sample", (0.05, 0.6), assets[:3], 0.3)
    w = view["weights"]
    assert w.sum() == pytest.approx(1.0, abs=1e-9)
    assert (w >= 0.05 - 1e-9).all() and (w <= 0.6 + 1e-9).all()
    assert w[assets[:3]].sum() <= 0.3 + 1e-9
    # independent annualised volatility: numpy sample covariance (ddof=1) x 252 trading days
    cov = np.cov(recent.to_numpy(), rowvar=False, ddof=1) * 252
    assert view["volatility"] == pytest.approx(math.sqrt(w.to_numpy() @ cov @ w.to_numpy()), rel=1e-9)
    assert view["expected_return"] == pytest.approx(float(recent.mean().to_numpy() @ w.to_numpy()) * 252, rel=1e-9)
    assert view["contributions"]["share"].sum() == pytest.approx(1.0)
    # the minimum-variance portfolio is the left end of the frontier under the same constraints
    assert view["volatility"] == pytest.approx(view["frontier"]["volatility"].min(), rel=1e-4)


@pytest.mark.parametrize("method", W.ALLOCATION_METHODS)
def test_explorer_weights_are_those_of_allocate(recent, method):
    # one registry: the explorer (annual estimates) and allocate (per-period estimates) give the
    # same weights, since every method is invariant to scaling mu and Sigma by the same p (rf = 0)
    assets = list(recent.columns)
    view = W.allocation_view(recent, assets, method, "sample", (0.05, 0.6), assets[:3], 0.3)
    cons = {"bounds": (0.05, 0.6), "groups": {a: "g" for a in assets[:3]}, "group_bounds": {"g": (0.0, 0.3)}}
    ref = pk.allocation.allocate(recent, method, **cons)
    assert view["constrained"]  # every method takes the bounds and the group limit
    np.testing.assert_allclose(view["weights"].to_numpy(), ref.to_numpy(), atol=1e-7)


@pytest.mark.parametrize("method", ["min_variance", "risk_parity", "hrp", "equal_weights"])
def test_a_pool_minimum_from_the_explorer_binds_like_the_mandate(recent, method):
    # "each pool at least 15 %" with a pool the unconstrained portfolio underweights: the explorer's
    # group minimum gives the weights of allocate under the same group bounds, and the floor holds
    assets = list(recent.columns)
    free = W.allocation_view(recent, assets, method, "sample", (0.0, 0.3))["weights"]
    pool = list(free.sort_values().index[:2])  # the two smallest holdings
    floor = max(0.15, float(free[pool].sum()) + 0.05)
    view = W.allocation_view(recent, assets, method, "sample", (0.0, 0.3), pool, 1.0, group_floor=floor)
    w = view["weights"]
    assert w[pool].sum() >= floor - 1e-9 and (w <= 0.3 + 1e-9).all() and w.sum() == pytest.approx(1.0, abs=1e-9)
    ref = pk.allocation.allocate(recent, method, bounds=(0.0, 0.3), groups={a: "pool" for a in pool},
                                 group_bounds={"pool": (floor, 1.0)})
    np.testing.assert_allclose(w.to_numpy(), ref.to_numpy(), atol=1e-7)
    with pytest.raises(ParameterError, match="group_floor"):
        W.allocation_view(recent, assets, method, "sample", (0.0, 0.3), pool, 0.2, group_floor=0.25)


def test_chosen_portfolio_never_beats_the_frontier(recent):
    assets = list(recent.columns)
    front = None
    for method in W.ALLOCATION_METHODS:
        view = W.allocation_view(recent, assets, method, "ledoit_wolf")
        front = view["frontier"]
        # the frontier's return rises with its volatility: the first frontier point at least as risky
        # as the chosen portfolio must earn at least as much
        riskier = front.loc[front["volatility"] >= view["volatility"] - 1e-9, "return"]
        assert not riskier.empty and view["expected_return"] <= riskier.iloc[0] + 1e-9, method
        assert view["weights"].sum() == pytest.approx(1.0, abs=1e-9)
    assert front is not None and front["volatility"].is_monotonic_increasing


def test_changing_the_method_reuses_the_covariance(recent, monkeypatch):
    calls = []
    original = pk.risk.covariance

    def counting(*args, **kwargs):
        calls.append(kwargs.get("method"))
        return original(*args, **kwargs)

    monkeypatch.setattr(pk.risk, "covariance", counting)
    panel = W.allocation_explorer(recent, debounce=0).poolkit_panel
    assert len(calls) == 1
    for method in ("max_sharpe", "risk_parity", "equal_weights", "min_variance"):
        panel.controls["method"].value = method
        assert panel.status.value == "" and panel.view["method"] == method
    assert len(calls) == 1 and panel.cache.misses["frontier"] == 1  # view changes only: nothing re-estimated
    panel.controls["estimator"].value = "oas"
    panel.controls["estimator"].value = "ledoit_wolf"  # back to a cached estimator
    assert calls == ["ledoit_wolf", "oas"]


def test_infeasible_group_limit_is_shown_and_last_weights_kept(recent):
    panel = W.allocation_explorer(recent, group=list(recent.columns[:3]), debounce=0).poolkit_panel
    panel.controls["bounds"].value = (0.1, 1.0)
    good = panel.view["weights"]
    panel.controls["group_limit"].value = 0.2  # three assets of at least 10 % each cannot fit in 20 %
    assert "InfeasibleError" in panel.status.value and "group" in panel.status.value
    pd.testing.assert_series_equal(panel.view["weights"], good)
    panel.controls["group_limit"].value = 0.35
    assert panel.status.value == ""
    assert panel.view["weights"][list(recent.columns[:3])].sum() <= 0.35 + 1e-9


def test_allocation_needs_two_assets(recent):
    with pytest.raises(ParameterError, match="at least 2 assets"):
        W.allocation_view(recent, [recent.columns[0]])
    panel = W.allocation_explorer(recent, debounce=0).poolkit_panel
    panel.controls["assets"].value = (recent.columns[0],)
    assert "ParameterError" in panel.status.value and "at least 2 assets" in panel.status.value


# ----------------------------------------------------------------------------- loan pool


def _level_payment_wal(balance: float, rate: float, term: int) -> float:
    """WAL of a fully amortising level-payment loan, from the annuity formula (independent of poolkit)."""
    r = rate / 12
    payment = balance * r / (1 - (1 + r) ** -term)
    months = np.arange(1, term + 1)
    remaining = balance * ((1 + r) ** term - (1 + r) ** months) / ((1 + r) ** term - 1)
    principal = np.diff(np.concatenate([[balance], remaining]) * -1)
    assert np.allclose(principal + np.concatenate([[balance], remaining[:-1]]) * r, payment)
    return float((months / 12 * principal).sum() / principal.sum())


def test_loan_pool_without_prepayments_or_defaults_is_an_annuity():
    view = W.loan_pool_view(psa=0, cdr=0, severity=0.35)
    assert view["wal"] == pytest.approx(_level_payment_wal(100e6, 0.065, 360), rel=1e-9)
    assert view["loss"] == 0.0


def test_loan_pool_scenarios_move_the_wal_and_losses():
    slow, fast = W.loan_pool_view(psa=100, cdr=0), W.loan_pool_view(psa=300, cdr=0)
    assert fast["wal"] < slow["wal"]
    mild, severe = W.loan_pool_view(cdr=1, severity=0.1), W.loan_pool_view(cdr=1, severity=0.3)
    # loss = severity x liquidated balance (SF-19), the same defaults in both runs: about 3 times the loss
    assert severe["loss"] == pytest.approx(3 * mild["loss"], rel=1e-3)
    sda = W.loan_pool_view(default_model="SDA", sda=200)
    assert sda["default"] == "200 SDA" and sda["loss"] > 0


def test_loan_pool_explorer_reacts_and_shows_errors():
    panel = W.loan_pool_explorer(debounce=0).poolkit_panel
    wal = panel.view["wal"]
    panel.controls["psa"].value = 400
    assert panel.view["wal"] < wal
    panel.controls["default_model"].value = "SDA"
    assert panel.view["default"] == "100 SDA"
    view = panel.view
    panel.spec.compute = lambda values: W.loan_pool_view(values["psa"], "CDR", 150.0, 0, 0.3)  # 150 % CDR
    panel.controls["severity"].value = 0.5
    assert "ParameterError" in panel.status.value and panel.view is view


# ----------------------------------------------------------------------------- show / static / debounce


def test_static_show_creates_no_widgets(monkeypatch):
    import sys

    monkeypatch.delenv(W.INTERACTIVE_ENV, raising=False)
    monkeypatch.delenv("VOILA_REQUEST_URL", raising=False)
    monkeypatch.delenv("VOILA_KERNEL_ID", raising=False)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # any `import ipywidgets` now fails
    shown = W.show(W.diversification_explorer, n_assets=3, correlation=0.3, interactive=False)
    assert "Pooled volatility" in shown.data and "18.36%" in shown.data
    with pytest.raises(ImportError):  # the live path does need ipywidgets: the static one never asked
        W.show(W.diversification_explorer, interactive=True)


def test_show_is_live_when_asked_or_under_voila(monkeypatch):
    monkeypatch.delenv(W.INTERACTIVE_ENV, raising=False)
    monkeypatch.delenv("VOILA_REQUEST_URL", raising=False)
    monkeypatch.delenv("VOILA_KERNEL_ID", raising=False)
    assert not W.live_frontend()
    panel = W.show(W.loan_pool_explorer, interactive=True, debounce=0).poolkit_panel
    wal = panel.view["wal"]
    assert wal == pytest.approx(W.loan_pool_view()["wal"])  # the live panel shows the default view
    panel.controls["psa"].value = 400
    assert panel.view["wal"] < wal  # and recomputes when a control moves
    monkeypatch.setenv("VOILA_REQUEST_URL", "http://127.0.0.1:8866/")
    assert W.live_frontend()
    monkeypatch.delenv("VOILA_REQUEST_URL")
    monkeypatch.setenv(W.INTERACTIVE_ENV, "1")
    assert W.live_frontend()


def test_show_refuses_other_callables():
    with pytest.raises(ParameterError, match="diversification_explorer"):
        W.show(print)


def test_a_burst_of_moves_recomputes_once():
    seen = []

    async def burst() -> None:
        panel = W.diversification_explorer(debounce=0.05).poolkit_panel
        compute = panel.spec.compute
        panel.spec.compute = lambda values: seen.append(values["n_assets"]) or compute(values)
        for n in range(4, 9):  # five moves within the debounce interval
            panel.controls["n_assets"].value = n
        await asyncio.sleep(0.3)
        assert seen == [8] and panel.view["n_assets"] == 8  # one recompute, at the last value
        panel.controls["n_assets"].value = 3
        await asyncio.sleep(0.3)
        assert seen == [8, 3]

    asyncio.run(burst())
    # without a running event loop (plain Python) every move recomputes at once
    panel = W.diversification_explorer(debounce=0.05).poolkit_panel
    panel.controls["n_assets"].value = 6
    assert panel.view["n_assets"] == 6


# ----------------------------------------------------------------------------- notebook 06 in report mode


@pytest.mark.notebook
def test_explorers_notebook_is_static_and_offline_in_reports(tmp_path):
    from poolkit.reporting import run_notebook

    out = tmp_path / "06_explorers.ipynb"
    run_notebook(ROOT / "notebooks" / "06_explorers.ipynb", out, {"out_dir": str(tmp_path / "out")})
    nb = json.loads(out.read_text(encoding="utf-8"))
    assert "widgets" not in nb["metadata"]  # no widget state: the HTML export needs no widget JS
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    html = "".join("".join(o["data"].get("text/html", "")) for o in outputs if "data" in o)
    assert len(pngs) == 3  # one chart per explorer, embedded
    for label in ("Pooled volatility", "Diversification ratio", "Largest weight", "Weighted average life"):
        assert label in html

"""The loan-pool explorer's deal control (view without drawing) and the securitisation figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import poolkit.credit as C
import poolkit.plotting as P
import poolkit.widgets as W
from poolkit.exceptions import ParameterError


def test_the_view_cuts_the_pool_into_the_deal_tranches():
    view = W.loan_pool_view(psa=150, cdr=0, deal="sequential_four")
    balances, summary = view["tranches"], view["tranche_summary"]
    assert list(balances.columns) == ["A", "B", "C", "D"]
    # the tranches add up to the pool balance every month (no losses, no overcollateralisation)
    pool = np.concatenate([[view["balance"]], view["cashflows"]["balance"].to_numpy()])
    np.testing.assert_allclose(balances.sum(axis=1).to_numpy(), pool, rtol=1e-12, atol=1e-4)
    # sequential pay: each tranche's window starts where the previous one ends
    assert summary["first_month"].tolist()[1:] == summary["last_month"].tolist()[:-1]
    assert summary["average_life"].is_monotonic_increasing and (summary["loss"] == 0).all()


def test_speed_moves_the_short_tranches_and_defaults_hit_the_juniors():
    slow, fast = W.loan_pool_view(psa=100, cdr=0), W.loan_pool_view(psa=400, cdr=0)
    assert (fast["tranche_summary"]["average_life"] < slow["tranche_summary"]["average_life"]).all()
    mild, severe = W.loan_pool_view(cdr=1, severity=0.2), W.loan_pool_view(cdr=4, severity=0.6)
    assert mild["tranche_summary"]["loss"].sum() < severe["tranche_summary"]["loss"].sum()
    loss = severe["tranche_summary"]["loss"]
    assert loss["B2"] == pytest.approx(1.0) and loss["A1"] == 0.0  # reverse seniority
    assert loss.is_monotonic_increasing


def test_the_pool_alone_and_unknown_deals():
    view = W.loan_pool_view(deal="")
    assert view["tranches"] is None and view["deal"] == ""
    with pytest.raises(ParameterError, match="Did you mean 'senior_sub'"):
        W.loan_pool_view(deal="senior_subs")


def test_the_explorer_has_a_deal_control_and_reacts():
    panel = W.loan_pool_explorer(debounce=0).poolkit_panel
    assert panel.view["deal"] == "senior_sub"
    wal = panel.view["tranche_summary"].loc["A1", "average_life"]
    panel.controls["psa"].value = 400
    assert panel.view["tranche_summary"].loc["A1", "average_life"] < wal
    panel.controls["deal"].value = "pac_support"
    assert list(panel.view["tranches"].columns) == ["PAC", "Support"]
    assert "Tranche average life" in panel.figures.value and panel.image.value


def test_static_show_includes_the_tranches(monkeypatch):
    import sys

    monkeypatch.delenv(W.INTERACTIVE_ENV, raising=False)
    monkeypatch.delenv("VOILA_REQUEST_URL", raising=False)
    monkeypatch.delenv("VOILA_KERNEL_ID", raising=False)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    shown = W.show(W.loan_pool_explorer, psa=150, deal="senior_sub")
    assert "Tranche principal lost" in shown.data and "Senior/subordinate" in shown.data


def test_securitisation_figures_draw_from_poolkit_tables():
    import matplotlib.pyplot as plt

    deal = C.load_deal("fabozzi_cmo3")
    cf = C.pool_cashflows(400e6, 0.08125, 360, age=3, net_coupon=0.075, prepayment="165 PSA")
    res = C.run_waterfall(deal, cf)
    ax = P.plot_tranche_balances(res.balances())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["P", "S"]
    ax = P.plot_average_life_by_speed(C.prospectus_table(deal, [0, 165, 400]))
    assert len(ax.get_lines()) == 2 and ax.get_lines()[0].get_xdata().tolist() == [0.0, 165.0, 400.0]
    ax = P.plot_pac_schedule(C.pac_schedule(deal))
    assert "PAC schedule" in [t.get_text() for t in ax.get_legend().get_texts()]
    sims = C.simulate_pool_cashflows(100e6, 0.08, 120, n_loans=100, pd=0.1, lgd=0.5, rho=0.2, n_sims=300, seed=1)
    losses = C.tranche_loss_distribution(C.load_deal("senior_sub", collateral={"term": 120}), sims)
    ax = P.plot_tranche_loss_exceedance(losses)
    assert len(ax.get_lines()) == 6
    plt.close("all")

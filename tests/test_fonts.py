"""Chinese text draws in every figure on a machine without CJK fonts, and Latin text keeps its font.

The source document's own example, 资产1, 资产2, 资产3, is drawn in a 9-panel figure of poolkit's
plots; any "Glyph ... missing" warning (an empty box in the picture) fails the test.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import poolkit as pk

SEED = [{"name": "资产1", "return": 0.10, "risk": 0.20},
        {"name": "资产2", "return": 0.15, "risk": 0.30},
        {"name": "资产3", "return": 0.12, "risk": 0.25}]


@pytest.fixture
def no_missing_glyphs():
    """Turn matplotlib's missing-glyph warnings into errors for the test."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r".*[Gg]lyph .* missing from font")
        yield


def seed_figures():
    """Nine panels of the three-asset example (simulated daily returns with its risks, correlation 0.3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import poolkit.plotting  # noqa: F401  registers the font, for every figure made from now on

    pool = pk.pooling.from_assumptions(SEED, corr=0.3)
    mu, cov, w = pool.expected_returns, pool.cov, pool.weights
    rng = np.random.default_rng(1970)
    dates = pd.bdate_range("2020-01-01", periods=750, name="date")
    returns = pd.DataFrame(rng.multivariate_normal(mu.to_numpy() / 252, cov.to_numpy() / 252, size=len(dates)),
                           index=dates, columns=mu.index)
    weights = pd.DataFrame({"equal": w, "按风险": pk.allocation.value_weights(pd.Series([0.2, 0.3, 0.25], index=mu.index))})
    frontier = pk.allocation.efficient_frontier(mu, cov, 12)
    fig, axes = plt.subplots(3, 3, figsize=(15, 12), layout="constrained")
    fig.suptitle("资产池：三个资产的汇集")  # "asset pool: pooling three assets"
    pk.plotting.correlation_heatmap(returns, ax=axes[0, 0])
    pk.plotting.pooled_volatility_chart(w, cov, ax=axes[0, 1])
    pk.plotting.weights_chart(weights, ax=axes[0, 2])
    pk.plotting.risk_contribution_chart(pk.allocation.risk_contribution_table(weights, cov), ax=axes[1, 0])
    pk.plotting.frontier_chart(frontier, portfolios=pk.allocation.portfolio_stats(weights, mu, cov),
                               assets=pk.allocation.portfolio_stats(None, mu, cov), ax=axes[1, 1])
    pk.plotting.diversification_curve(pk.pooling.diversification_curve(w, cov), ax=axes[1, 2])
    pk.plotting.price_chart((1 + returns).cumprod(), ax=axes[2, 0])
    pk.plotting.return_distribution(returns, ax=axes[2, 1])
    pk.plotting.missing_map(returns, ax=axes[2, 2])
    return fig


def test_the_seed_example_draws_without_a_missing_glyph(no_missing_glyphs, tmp_path):
    import matplotlib.pyplot as plt

    fig = seed_figures()
    texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    assert any("资产1" in t for t in texts)  # the Chinese names really are on the figure
    fig.savefig(tmp_path / "seed.png", dpi=60)  # draws every text: a missing glyph raises here
    fig.savefig(tmp_path / "seed.pdf")
    plt.close(fig)


def test_latin_text_keeps_its_font_and_cjk_falls_back_to_the_bundled_one():
    import matplotlib
    from matplotlib import font_manager

    families = pk.plotting.register_cjk_fonts()
    assert families and families[-1] == "Noto Sans CJK SC"
    family = matplotlib.rcParams["font.family"]
    assert family[0] == "sans-serif" and family[-len(families):] == families
    fonts = font_manager.fontManager._find_fonts_by_props(font_manager.FontProperties())
    assert "DejaVuSans" in fonts[0].replace(" ", "")  # Latin glyphs: the usual font first
    assert any("NotoSansCJK" in path for path in fonts[1:])  # then the bundled collection
    assert pk.plotting.register_cjk_fonts() == families  # a second call adds nothing
    assert matplotlib.rcParams["font.family"] == family


def test_system_cjk_fonts_come_before_the_bundled_one():
    from poolkit.plotting._fonts import cjk_font_families

    assert cjk_font_families({"DejaVu Sans", "SimHei", "Noto Sans CJK SC"}, ["Noto Sans CJK SC"]) == [
        "Noto Sans CJK SC", "SimHei"]  # a system Noto CJK and the bundled one share their name
    assert cjk_font_families({"DejaVu Sans", "PingFang SC"}, ["Noto Sans CJK SC"]) == ["PingFang SC", "Noto Sans CJK SC"]
    assert cjk_font_families(set(), []) == []


def test_importing_poolkit_plotting_registers_the_font_in_a_fresh_process(tmp_path):
    code = (
        "import warnings; warnings.filterwarnings('error', message='.*missing from font')\n"
        "import matplotlib; matplotlib.use('Agg')\n"
        "import matplotlib.pyplot as plt\n"
        "import poolkit.plotting\n"
        "fig, ax = plt.subplots(); ax.set_title('资产1 的风险'); ax.set_xlabel('volatility σ')\n"
        f"fig.savefig({str(tmp_path / 'a.png')!r})\n"
        "print(matplotlib.rcParams['font.family'])\n"
    )
    env = {"MPLCONFIGDIR": str(tmp_path / "mpl")}  # a fresh font cache, as on a new machine
    import os

    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env})
    assert run.returncode == 0, run.stderr
    assert "Noto Sans CJK SC" in run.stdout


def test_the_diversification_explorer_draws_the_chinese_names(no_missing_glyphs, monkeypatch):
    from poolkit.widgets import _diversification as widgets

    drawn = []
    real_png = widgets._png

    def keep(fig):
        drawn.append(fig)
        return real_png(fig)  # draws the figure: a missing glyph raises

    monkeypatch.setattr(widgets, "_png", keep)
    widgets._diversification_render(widgets.diversification_view(n_assets=3, correlation=0.3))
    labels = [t.get_text() for ax in drawn[0].axes for t in ax.get_xticklabels()]
    assert {"资产1", "资产2", "资产3"} <= set(labels)  # the source document's names, not renamed


def test_the_figures_of_notebooks_07_to_09_draw_chinese_labels(no_missing_glyphs, tmp_path):
    """Systemic risk (07), securitisation (08) and pooled funds (09) with Chinese assets, tranches and investors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import poolkit.plotting  # noqa: F401  registers the font

    returns = pk.data.load_returns("sample").iloc[-756:]
    returns = returns.rename(columns={a: f"资产{i}" for i, a in enumerate(returns.columns, 1)})
    pools = pk.pooling.cluster_pools(returns, n_pools=3).map(lambda p: f"资产池{p}")
    split = pk.pooling.systematic_decomposition(returns=returns, pools=pools, n_factors=2, n_draws=20, seed=0)
    collateral = {"balance": 1e8, "coupon": 0.08, "net_coupon": 0.075, "term": 360, "age": 0}
    deal = pk.credit.load_deal("sequential_four", collateral=collateral)
    names = {n: f"{n}级" for n in deal.names}  # "class A"
    pool = pk.credit.pool_cashflows(1e8, 0.08, 360, net_coupon=0.075, prepayment="150 PSA")
    fund_returns = returns.mean(axis=1).iloc[-300:]
    day = [f"{d:%Y-%m-%d}" for d in fund_returns.index[[0, 0, 100]]]
    flows = pk.funds.flow_table(day, ["投资者甲", "投资者乙", "投资者丙"], [1e5, 5e4, 2e4], valuation_dates=fund_returns.index)
    ledger = pk.funds.fund_ledger(flows, returns=fund_returns)

    fig, axes = plt.subplots(2, 3, figsize=(15, 8), layout="constrained")
    fig.suptitle("系统性风险、证券化与基金")  # "systemic risk, securitisation and funds"
    pk.plotting.diversification_floor_chart(split.floor, ax=axes[0, 0])
    pk.plotting.factor_risk_chart(split, ax=axes[0, 1])
    pk.plotting.plot_tranche_balances(pk.credit.run_waterfall(deal, pool).balances().rename(columns=names),
                                      ax=axes[0, 2], title="顺序偿付")  # "sequential pay"
    pk.plotting.plot_average_life_by_speed(pk.credit.prospectus_table(deal, [0, 100, 300]).rename(index=names, level="tranche"),
                                           ax=axes[1, 0], title="平均期限")  # "average life"
    pk.plotting.fund_values_chart(ledger.values, ax=axes[1, 1])
    pk.plotting.fund_returns_chart(pk.funds.investor_returns(ledger), ax=axes[1, 2])
    texts = {t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))}
    assert {"资产池P1", "A级", "投资者甲", "顺序偿付"} <= texts  # the Chinese labels really are on the figure
    fig.savefig(tmp_path / "07-09.png", dpi=60)  # draws every text: a missing glyph raises here
    plt.close(fig)


def test_a_font_without_cjk_glyphs_is_caught(no_missing_glyphs, tmp_path):
    """The check above can fail: with only DejaVu Sans, 资产1 is a missing glyph."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        fig, ax = plt.subplots()
        ax.set_title("资产1")
        with pytest.raises(UserWarning, match="missing from font"):
            fig.savefig(tmp_path / "boxes.png", dpi=40)
    plt.close(fig)

"""Figures of poolkit.risk: they draw what they claim, take an ax, and never show or save."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import poolkit as pk  # noqa: E402
from poolkit.exceptions import AlignmentError, DataError  # noqa: E402


@pytest.fixture(scope="module")
def sample(returns):
    return returns.iloc[-500:, :6]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_figures_draw_on_the_given_ax_and_never_show_or_save(sample, monkeypatch):
    from matplotlib.figure import Figure

    def refuse(*args, **kwargs):
        raise AssertionError("a poolkit figure must not show or save itself")

    monkeypatch.setattr(plt, "show", refuse)
    monkeypatch.setattr(Figure, "savefig", refuse)
    w = pd.Series(1 / 6, index=sample.columns)
    cov = pk.risk.covariance(sample, annualize=True)
    calls = {
        "correlation_heatmap": lambda ax: pk.plotting.correlation_heatmap(sample, ax=ax),
        "var_histogram": lambda ax: pk.plotting.var_histogram(sample.iloc[:, 0], 0.95, ax=ax),
        "rolling_chart": lambda ax: pk.plotting.rolling_chart(sample, 63, ax=ax),
        "pooled_volatility_chart": lambda ax: pk.plotting.pooled_volatility_chart(w, cov, ax=ax),
    }
    for name, call in calls.items():
        _, ax = plt.subplots()
        assert call(ax) is ax, name
        assert ax.has_data(), name  # something was drawn on it
    fig = pk.plotting.drawdown_chart(sample.iloc[:, :2])  # two panels: it makes its own figure
    assert len(fig.axes) == 2 and all(a.has_data() for a in fig.axes)


def test_heatmap_clusters_correlated_assets_together():
    rng = np.random.default_rng(1)
    f1, f2 = rng.standard_normal((2, 300))
    noise = rng.standard_normal((4, 300)) * 0.3
    # A and C follow factor 1, B and D factor 2: clustering must put A next to C
    r = (
        pd.DataFrame(
            {"A": f1 + noise[0], "B": f2 + noise[1], "C": f1 + noise[2], "D": f2 + noise[3]},
            index=pd.bdate_range("2020-01-01", periods=300),
        )
        / 100
    )
    _, ax = plt.subplots()
    out = pk.plotting.correlation_heatmap(r, ax=ax)
    assert out is ax
    order = ax.poolkit_order
    assert abs(order.index("A") - order.index("C")) == 1 and abs(order.index("B") - order.index("D")) == 1
    shown = ax.images[0].get_array()
    corr = r.corr().loc[order, order].to_numpy()
    np.testing.assert_allclose(np.asarray(shown), corr, rtol=1e-10)


def test_heatmap_accepts_a_correlation_matrix(sample):
    corr = pk.risk.correlation(sample)
    ax = pk.plotting.correlation_heatmap(corr, cluster=False)
    assert ax.poolkit_order == list(sample.columns)


def test_drawdown_chart_shows_growth_and_drawdowns(sample):
    fig = pk.plotting.drawdown_chart(sample.iloc[:, :2])
    top, bottom = fig.axes
    y = top.lines[0].get_ydata()
    np.testing.assert_allclose(y, (1 + sample.iloc[:, 0]).cumprod().to_numpy(), rtol=1e-12)
    assert np.min(bottom.lines[0].get_ydata()) == pytest.approx(pk.risk.max_drawdown(sample.iloc[:, 0]))


def test_var_histogram_marks_var_and_cvar(sample):
    r = sample.iloc[:, 0]
    ax = pk.plotting.var_histogram(r, 0.99, methods=("historical",))
    xs = [line.get_xdata()[0] for line in ax.lines]
    assert xs == pytest.approx([-pk.risk.value_at_risk(r, 0.99), -pk.risk.conditional_value_at_risk(r, 0.99)])
    with pytest.raises(DataError, match="one return series"):
        pk.plotting.var_histogram(sample)


def test_rolling_chart_plots_the_rolling_statistic(sample):
    _, ax = plt.subplots()
    pk.plotting.rolling_chart(sample, 63, ax=ax)
    expected = pk.risk.rolling(sample, 63)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), expected.iloc[:, 0].to_numpy())


def test_pooled_volatility_chart(sample):
    cov = pk.risk.covariance(sample, annualize=True)
    w = pd.Series(1 / 6, index=sample.columns)
    ax = pk.plotting.pooled_volatility_chart(w, cov)
    heights = [p.get_height() for p in ax.patches]
    assert heights[-1] == pytest.approx(pk.risk.pooled_volatility(w, cov))
    assert heights[-2] == pytest.approx(float((w * np.sqrt(np.diag(cov))).sum()))
    with pytest.raises(AlignmentError):
        pk.plotting.pooled_volatility_chart(w.iloc[:-1], cov)

"""One table of the main risk and performance statistics per asset."""

from __future__ import annotations

from typing import Any

import pandas as pd

from poolkit._numerics import PerPeriod, Rate, rate_text, resolve_periods_per_year
from poolkit._validation import check_choice, check_level
from poolkit.risk._benchmark import alpha, beta, information_ratio, tracking_error
from poolkit.risk._capture import down_beta, down_capture, up_beta, up_capture
from poolkit.risk._common import _checked
from poolkit.risk._dispersion import volatility
from poolkit.risk._drawdowns import annual_return, calmar_ratio, max_drawdown
from poolkit.risk._moments import kurtosis, skewness
from poolkit.risk._path_stats import average_drawdown, stability, ulcer_index
from poolkit.risk._ratios import sharpe_ratio, sortino_ratio
from poolkit.risk._tail import VAR_METHODS, conditional_value_at_risk, tail_ratio, value_at_risk


def summary(
    returns: pd.DataFrame | pd.Series,
    benchmark: pd.Series | pd.DataFrame | None = None,
    risk_free: Rate = 0.0,
    level: float = 0.95,
    *,
    var_method: str = "historical",
    periods_per_year: float | None = None,
    nan_policy: str = "raise",
) -> pd.DataFrame:
    r"""Tabulate the main risk and performance statistics, one row per asset.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic simple returns, indexed by date; columns are assets.
    benchmark : Series, optional
        Benchmark returns; adds beta, alpha, tracking error and information ratio.
    risk_free : float or PerPeriod, default 0.0
        **Annual** risk-free rate (Sharpe, alpha) and Sortino target, converted per
        period as :math:`(1 + r_f)^{1/p} - 1` (a :class:`PerPeriod` rate is used as it is).
    level : float, default 0.95
        Confidence level of VaR, CVaR and the tail ratio.
    var_method : {"historical", "gaussian", "cornish_fisher"}, default "historical"
        Method of VaR and CVaR.
    periods_per_year : float, optional
        Inferred from the dates when omitted; stated in ``attrs``.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    DataFrame of shape (n_assets, n_statistics)
        Index = assets (named ``"asset"``). Columns, all fractions (0.1 = 10 %)
        unless a ratio: ``"observations"``, ``"annual return"`` (CAGR),
        ``"annual volatility"``, ``"Sharpe ratio"``, ``"Sortino ratio"``,
        ``"max drawdown"`` (negative), ``"Calmar ratio"``, ``"skewness"``,
        ``"excess kurtosis"``, ``"VaR 95% (per period)"`` and
        ``"CVaR 95% (per period)"`` (positive losses; the level in the name follows
        ``level``), ``"tail ratio"``, ``"ulcer index"``, ``"average drawdown"``
        (negative), ``"stability"``; with a benchmark also ``"beta"``,
        ``"alpha (annual)"``, ``"tracking error (annual)"``, ``"information ratio"``,
        ``"up capture"``, ``"down capture"``, ``"up beta"``, ``"down beta"``.
        ``attrs`` holds ``"periods_per_year"``, ``"risk_free"``, ``"level"``,
        ``"var_method"`` and ``"units"`` (column -> unit).

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``) or an asset for which a ratio is undefined
        (e.g. a constant column has no Sharpe ratio).
    AlignmentError
        If the benchmark lacks dates of ``returns``.
    InsufficientDataError
        With a benchmark that never rose or never fell (capture ratios), or did on
        fewer than two dates (up and down betas).

    Notes
    -----
    Each column is computed by the function of the same name in this module; see
    their formulas. The seed's standard deviation
    :math:`\sigma = \sqrt{\tfrac{1}{N}\sum (r - \bar r)^2}` differs from the
    ``annual volatility`` column (divisor :math:`N - 1`, times :math:`\sqrt{p}`).

    References
    ----------
    .. [1] Bacon, C. R. (2008). *Practical Portfolio Performance Measurement and
       Attribution*, 2nd ed., Wiley.

    Examples
    --------
    >>> idx = pd.bdate_range("2024-01-01", periods=6, name="date")
    >>> r = pd.DataFrame({"A": [0.01, -0.02, 0.015, 0.0, -0.01, 0.02]}, index=idx)
    >>> table = summary(r)
    >>> table.attrs["periods_per_year"], int(table.loc["A", "observations"])
    (252.0, 6)
    """
    level = check_level(level)
    check_choice(var_method, VAR_METHODS, name="var_method")
    frame, _ = _checked(returns, min_obs=4, nan_policy=nan_policy)
    if nan_policy == "drop":
        nan_policy = "raise"  # the NaN dates are gone already
    ppy = resolve_periods_per_year(periods_per_year, frame.index)
    kw: dict[str, Any] = {"nan_policy": nan_policy}
    pct = f"{level * 100:g}%"
    cols: dict[str, Any] = {
        "observations": frame.notna().sum().astype("int64"),
        "annual return": annual_return(frame, periods_per_year=ppy, **kw),
        "annual volatility": volatility(frame, periods_per_year=ppy, **kw),
        "Sharpe ratio": sharpe_ratio(frame, risk_free, periods_per_year=ppy, **kw),
        "Sortino ratio": sortino_ratio(frame, risk_free, periods_per_year=ppy, **kw),
        "max drawdown": max_drawdown(frame, **kw),
        "Calmar ratio": calmar_ratio(frame, periods_per_year=ppy, **kw),
        "skewness": skewness(frame, **kw),
        "excess kurtosis": kurtosis(frame, **kw),
        f"VaR {pct} (per period)": value_at_risk(frame, level, var_method, **kw),
        f"CVaR {pct} (per period)": conditional_value_at_risk(frame, level, var_method, **kw),
        "tail ratio": tail_ratio(frame, level, **kw),
        "ulcer index": ulcer_index(frame, **kw),
        "average drawdown": average_drawdown(frame, **kw),
        "stability": stability(frame, **kw),
    }
    units = {
        "observations": "count of dates",
        "annual return": "fraction per year, compounded (CAGR)",
        "annual volatility": f"fraction per year (per-period std, ddof=1, x sqrt({ppy:g}))",
        "Sharpe ratio": f"per year (x sqrt({ppy:g})); excess over risk_free={rate_text(risk_free)}",
        "Sortino ratio": f"per year; target = risk_free={rate_text(risk_free)}",
        "max drawdown": "fraction, negative (-0.3 = 30 % below the peak)",
        "Calmar ratio": "annual return / |max drawdown|",
        "skewness": "no unit (adjusted G1)",
        "excess kurtosis": "no unit (adjusted G2; 0 for a normal law)",
        f"VaR {pct} (per period)": f"fraction lost in one period, positive ({var_method})",
        f"CVaR {pct} (per period)": f"mean fraction lost beyond VaR, positive ({var_method})",
        "tail ratio": f"|{level:g} quantile| / |{1 - level:g} quantile|",
        "ulcer index": "fraction (root mean square of the drawdowns)",
        "average drawdown": "fraction, negative (mean of the drawdowns over the dates)",
        "stability": "R^2 in [0, 1] of the cumulative log return on time",
    }
    if benchmark is not None:
        cols["beta"] = beta(frame, benchmark, **kw)
        cols["alpha (annual)"] = alpha(frame, benchmark, risk_free, periods_per_year=ppy, **kw)
        cols["tracking error (annual)"] = tracking_error(frame, benchmark, periods_per_year=ppy, **kw)
        cols["information ratio"] = information_ratio(frame, benchmark, periods_per_year=ppy, **kw)
        cols["up capture"] = up_capture(frame, benchmark, periods_per_year=ppy, **kw)
        cols["down capture"] = down_capture(frame, benchmark, periods_per_year=ppy, **kw)
        cols["up beta"] = up_beta(frame, benchmark, **kw)
        cols["down beta"] = down_beta(frame, benchmark, **kw)
        units.update(
            {
                "beta": "no unit",
                "alpha (annual)": "fraction per year, compounded",
                "tracking error (annual)": "fraction per year",
                "information ratio": "per year",
                "up capture": "annualised geometric mean / the benchmark's, on its up periods",
                "down capture": "annualised geometric mean / the benchmark's, on its down periods",
                "up beta": "no unit (beta on the benchmark's up periods)",
                "down beta": "no unit (beta on the benchmark's down periods)",
            }
        )
    table = pd.DataFrame(cols)
    table.index.name = "asset"
    table.attrs.update(
        {
            "periods_per_year": ppy,
            "risk_free": risk_free if isinstance(risk_free, PerPeriod) else float(risk_free),
            "level": level,
            "var_method": var_method,
            "units": units,
        }
    )
    return table

r"""Risk statistics of assets and pools: volatility, ratios, VaR, covariance.

Every per-asset statistic takes periodic returns (a DataFrame of dates x assets,
or a Series for one asset) and returns a Series indexed by asset (a float for a
Series). ``periods_per_year`` and annual rates (``risk_free``, ``target``) follow the
one rule of the package (README, *Conventions*): the periods per year are read from
the dates when not given, and a rate :math:`r` becomes
:math:`r^{(p)} = (1 + r)^{1/p} - 1` per period; a rate already per period is passed as
:class:`PerPeriod` (``risk_free=pk.risk.PerPeriod(0.0001)``) and used as it is. Losses (VaR, CVaR) are positive numbers;
drawdowns are negative (a fall of 30 % is ``-0.30``).

Covariance matrices are **per period** (not annualised) unless ``annualize=True``
is asked for. The sample covariance and volatility use ``ddof=1`` (like pandas and
empyrical); the seed's textbook formula :math:`\sigma = \sqrt{\tfrac{1}{N}\sum (r - \bar r)^2}`
is ``ddof=0``. The shrinkage estimators (Ledoit-Wolf, OAS) follow scikit-learn's
convention: demeaned data, ``ddof=0``.

Missing values follow ``nan_policy``: ``"raise"`` (default) names the first NaN,
``"drop"`` drops every date where any asset is missing, ``"pairwise"`` uses, for each
asset (or pair of assets), the dates where it is observed. Nothing is ever averaged
away silently.
"""

from __future__ import annotations

# The *_METHODS and *_STATISTICS tuples name the choices the functions accept.
from poolkit._numerics import PerPeriod
from poolkit.risk._benchmark import alpha, beta, information_ratio, tracking_error
from poolkit.risk._capture import down_beta, down_capture, up_beta, up_capture
from poolkit.risk._covariance import (
    CORR_METHODS,  # noqa: F401
    COV_METHODS,  # noqa: F401
    RISKMETRICS_HALFLIFE,  # noqa: F401
    correlation,
    covariance,
    covariance_from,
)
from poolkit.risk._dispersion import volatility
from poolkit.risk._drawdowns import annual_return, calmar_ratio, drawdown_table, drawdowns, max_drawdown
from poolkit.risk._estimators import SHRINKAGE_TARGETS, semicovariance  # noqa: F401
from poolkit.risk._factor import FactorModel, factor_model
from poolkit.risk._moments import kurtosis, skewness
from poolkit.risk._path_stats import average_drawdown, stability, ulcer_index
from poolkit.risk._portfolio import marginal_risk, pooled_volatility, risk_contributions
from poolkit.risk._ratios import downside_deviation, omega_ratio, sharpe_ratio, sortino_ratio
from poolkit.risk._rolling import ROLLING_STATISTICS, rolling  # noqa: F401
from poolkit.risk._summary import summary
from poolkit.risk._tail import VAR_METHODS, conditional_value_at_risk, tail_ratio, value_at_risk  # noqa: F401

__all__ = [
    "PerPeriod",
    "FactorModel",
    "alpha",
    "annual_return",
    "average_drawdown",
    "beta",
    "calmar_ratio",
    "conditional_value_at_risk",
    "correlation",
    "covariance",
    "covariance_from",
    "down_beta",
    "down_capture",
    "downside_deviation",
    "drawdown_table",
    "drawdowns",
    "factor_model",
    "information_ratio",
    "kurtosis",
    "marginal_risk",
    "max_drawdown",
    "omega_ratio",
    "pooled_volatility",
    "risk_contributions",
    "rolling",
    "semicovariance",
    "sharpe_ratio",
    "skewness",
    "sortino_ratio",
    "stability",
    "summary",
    "tail_ratio",
    "tracking_error",
    "ulcer_index",
    "up_beta",
    "up_capture",
    "value_at_risk",
    "volatility",
]

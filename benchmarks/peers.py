"""Adapters: the same operation as each peer library spells it.

Every adapter takes the same inputs as the poolkit call it is compared with and
returns a result comparable to poolkit's (a weights Series indexed by asset, a
covariance DataFrame, or a per-asset Series). Conventions that differ are
aligned here and written down in ``CONVENTIONS`` (they are printed with the
results), never hidden.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np
import pandas as pd

PEERS = {
    "PyPortfolioOpt": "pypfopt",
    "skfolio": "skfolio",
    "Riskfolio-Lib": "riskfolio",
    "empyrical": "empyrical",
    "quantstats": "quantstats",
    "scikit-learn": "sklearn",
}

CONVENTIONS = {
    "covariance": "sample covariance, per period, ddof=1 (numpy.cov / pandas.DataFrame.cov convention)",
    "ledoit_wolf": "Ledoit & Wolf (2004) shrinkage to a scaled identity on demeaned returns, ddof=0 "
    "(scikit-learn's convention, which PyPortfolioOpt calls; frequency=1 so nothing is annualised)",
    "risk statistics": "daily returns, annualised with 252 periods, risk-free 0, ddof=1; VaR/CVaR "
    "historical at 95 %, losses positive (empyrical and quantstats report them negative: sign flipped); "
    "maximum drawdown positive (peers negative: sign flipped). empyrical's VaR/CVaR take one series, so "
    "they run in a loop over assets, as a user of empyrical would. quantstats' VaR is parametric (Gaussian): "
    "its agreement column compares with poolkit's Gaussian VaR",
    "min_variance": "long-only, fully invested, sample covariance (ddof=1); agreement = signed relative "
    "difference of the objective w'Σw, (peer − poolkit) / peer: > 0 means poolkit found the lower variance "
    "(the optimum's value is unique even if weights may not be)",
    "max_sharpe": "long-only, risk-free 0, historical mean and sample covariance; agreement = "
    "signed relative difference of the Sharpe ratio: > 0 means poolkit's Sharpe ratio is the higher",
    "risk_parity": "equal risk contributions on the sample covariance (unique long-only solution); "
    "agreement = max |Δw|",
    "hrp": "single linkage on the correlation distance sqrt((1-ρ)/2), sample covariance, "
    "bisection of the quasi-diagonal order (López de Prado 2016); agreement = max |Δw|",
    "herc": "Ward linkage, equal risk contribution across clusters (Raffinot 2018); poolkit's default cut of "
    "the tree follows skfolio's rule, Riskfolio-Lib chooses the number of clusters by the two-difference gap "
    "statistic, so its weights differ by design; agreement = max |Δw|",
    "min_cvar": "long-only, historical CVaR at 95 % of the scenarios (Rockafellar & Uryasev 2000, an LP); "
    "agreement = signed relative difference of the CVaR objective: > 0 means poolkit's CVaR is the lower",
    "efficient_frontier": "50 long-only points; agreement = max relative difference of the volatility "
    "at the same target return (interpolated on the peer's frontier)",
}


def available() -> dict[str, bool]:
    """Which peer libraries import here."""
    found = {}
    for label, module in PEERS.items():
        try:
            importlib.import_module(module)
            found[label] = True
        except Exception:
            found[label] = False
    return found


def versions() -> dict[str, str]:
    """Installed versions of the peers (and of numpy, pandas, scipy)."""
    from importlib.metadata import PackageNotFoundError, version

    names = ["numpy", "pandas", "scipy", "pyportfolioopt", "skfolio", "riskfolio-lib",
             "empyrical-reloaded", "quantstats", "scikit-learn", "cvxpy", "clarabel", "daqp",
             "quadprog", "dask", "distributed", "papermill"]
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


# --------------------------------------------------------------------------- covariance
def sklearn_ledoit_wolf(returns: pd.DataFrame) -> pd.DataFrame:
    from sklearn.covariance import ledoit_wolf

    cov, _ = ledoit_wolf(returns.to_numpy())
    return pd.DataFrame(cov, index=returns.columns, columns=returns.columns)


def pypfopt_ledoit_wolf(returns: pd.DataFrame) -> pd.DataFrame:
    from pypfopt import risk_models

    return risk_models.CovarianceShrinkage(returns, returns_data=True, frequency=1).ledoit_wolf()


def skfolio_ledoit_wolf(returns: pd.DataFrame) -> pd.DataFrame:
    from skfolio.moments import LedoitWolf

    cov = LedoitWolf().fit(returns).covariance_
    return pd.DataFrame(cov, index=returns.columns, columns=returns.columns)


def pypfopt_sample_cov(returns: pd.DataFrame) -> pd.DataFrame:
    from pypfopt import risk_models

    return risk_models.sample_cov(returns, returns_data=True, frequency=1)


# --------------------------------------------------------------------------- statistics
def empyrical_stats(returns: pd.DataFrame) -> pd.DataFrame:
    import empyrical as ep

    cols = returns.columns
    return pd.DataFrame(
        {
            "volatility": ep.annual_volatility(returns),
            "sharpe": ep.sharpe_ratio(returns),
            "sortino": ep.sortino_ratio(returns),
            "max_drawdown": -np.asarray(ep.max_drawdown(returns)),
            "var": [-ep.value_at_risk(returns[c], cutoff=0.05) for c in cols],
            "cvar": [-ep.conditional_value_at_risk(returns[c], cutoff=0.05) for c in cols],
        },
        index=cols,
    )


def quantstats_stats(returns: pd.DataFrame) -> pd.DataFrame:
    import quantstats as qs

    return pd.DataFrame(
        {
            "volatility": qs.stats.volatility(returns, periods=252),
            "sharpe": qs.stats.sharpe(returns, periods=252),
            "sortino": qs.stats.sortino(returns, periods=252),
            "max_drawdown": -qs.stats.max_drawdown(returns),
            "var": -np.asarray(qs.stats.value_at_risk(returns, confidence=0.95)),
            "cvar": -np.asarray(qs.stats.cvar(returns, confidence=0.95)),
        },
        index=returns.columns,
    )


def numpy_stats(returns: pd.DataFrame) -> pd.DataFrame:
    """The same six statistics written as plain vectorised numpy (the speed yardstick)."""
    x = returns.to_numpy()
    mean = x.mean(axis=0)
    std = x.std(axis=0, ddof=1)
    downside = np.sqrt((np.minimum(x, 0.0) ** 2).mean(axis=0))
    wealth = np.cumprod(1.0 + x, axis=0)
    peak = np.maximum.accumulate(np.vstack([np.ones((1, x.shape[1])), wealth]), axis=0)[1:]
    mdd = (1.0 - wealth / peak).max(axis=0)
    q = np.quantile(x, 0.05, axis=0)
    tail = np.where(x <= q, x, np.nan)
    return pd.DataFrame(
        {
            "volatility": std * np.sqrt(252),
            "sharpe": mean / std * np.sqrt(252),
            "sortino": mean / downside * np.sqrt(252),
            "max_drawdown": mdd,
            "var": -q,
            "cvar": -np.nanmean(tail, axis=0),
        },
        index=returns.columns,
    )


# --------------------------------------------------------------------------- optimisers
def _series(weights: object, assets: pd.Index) -> pd.Series:
    if isinstance(weights, pd.DataFrame):
        weights = weights.iloc[:, 0]
    if isinstance(weights, dict):
        weights = pd.Series(weights)
    if isinstance(weights, pd.Series):
        return weights.reindex(assets).astype(float)
    return pd.Series(np.asarray(weights, dtype=float).ravel(), index=assets)


def pypfopt(method: str) -> Callable[..., pd.Series]:
    def run(returns: pd.DataFrame, cov: pd.DataFrame, mu: pd.Series) -> pd.Series:
        from pypfopt import EfficientCVaR, EfficientFrontier, HRPOpt

        if method == "min_variance":
            w = EfficientFrontier(mu, cov, weight_bounds=(0, 1)).min_volatility()
        elif method == "max_sharpe":
            w = EfficientFrontier(mu, cov, weight_bounds=(0, 1)).max_sharpe(risk_free_rate=0.0)
        elif method == "hrp":
            w = HRPOpt(returns=returns, cov_matrix=cov).optimize(linkage_method="single")
        elif method == "min_cvar":
            w = EfficientCVaR(mu, returns, beta=0.95, weight_bounds=(0, 1)).min_cvar()
        else:
            raise NotImplementedError(method)
        return _series(w, returns.columns)

    return run


def pypfopt_frontier(returns: pd.DataFrame, cov: pd.DataFrame, mu: pd.Series, targets: np.ndarray) -> pd.DataFrame:
    """PyPortfolioOpt has no frontier routine: one efficient_return per target, as its docs do."""
    from pypfopt import EfficientFrontier

    rows = []
    for target in targets:
        ef = EfficientFrontier(mu, cov, weight_bounds=(0, 1))
        ef.efficient_return(float(target))
        ret, vol, _ = ef.portfolio_performance(risk_free_rate=0.0)
        rows.append((ret, vol))
    return pd.DataFrame(rows, columns=["return", "volatility"])


def skfolio_opt(method: str) -> Callable[..., pd.Series]:
    def run(returns: pd.DataFrame, cov: pd.DataFrame, mu: pd.Series) -> pd.Series:
        from skfolio import RiskMeasure
        from skfolio.cluster import HierarchicalClustering, LinkageMethod
        from skfolio.optimization import (
            HierarchicalEqualRiskContribution,
            HierarchicalRiskParity,
            MeanRisk,
            ObjectiveFunction,
            RiskBudgeting,
        )

        if method == "min_variance":
            model = MeanRisk(risk_measure=RiskMeasure.VARIANCE)
        elif method == "max_sharpe":
            model = MeanRisk(risk_measure=RiskMeasure.VARIANCE, objective_function=ObjectiveFunction.MAXIMIZE_RATIO)
        elif method == "risk_parity":
            model = RiskBudgeting(risk_measure=RiskMeasure.VARIANCE)
        elif method == "hrp":
            model = HierarchicalRiskParity(
                risk_measure=RiskMeasure.VARIANCE,
                hierarchical_clustering_estimator=HierarchicalClustering(linkage_method=LinkageMethod.SINGLE),
            )
        elif method == "herc":
            model = HierarchicalEqualRiskContribution(
                risk_measure=RiskMeasure.VARIANCE,
                hierarchical_clustering_estimator=HierarchicalClustering(linkage_method=LinkageMethod.WARD),
            )
        elif method == "min_cvar":
            model = MeanRisk(risk_measure=RiskMeasure.CVAR, cvar_beta=0.95)
        else:
            raise NotImplementedError(method)
        return _series(model.fit(returns).weights_, returns.columns)

    return run


def skfolio_frontier(returns: pd.DataFrame, n_points: int) -> pd.DataFrame:
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk

    model = MeanRisk(risk_measure=RiskMeasure.VARIANCE, efficient_frontier_size=n_points).fit(returns)
    w = np.asarray(model.weights_)
    x = returns.to_numpy()
    cov = np.cov(x, rowvar=False)
    return pd.DataFrame(
        {"return": w @ x.mean(axis=0), "volatility": np.sqrt(np.einsum("ij,jk,ik->i", w, cov, w))}
    )


def riskfolio_opt(method: str) -> Callable[..., pd.Series]:
    def run(returns: pd.DataFrame, cov: pd.DataFrame, mu: pd.Series) -> pd.Series:
        import riskfolio as rp

        if method in ("hrp", "herc"):
            linkage = "single" if method == "hrp" else "ward"
            w = rp.HCPortfolio(returns=returns).optimization(
                model=method.upper(), codependence="pearson", rm="MV", rf=0, linkage=linkage,
                leaf_order=method == "herc",
            )
            return _series(w, returns.columns)
        port = rp.Portfolio(returns=returns)
        port.assets_stats(method_mu="hist", method_cov="hist")
        if method == "risk_parity":
            w = port.rp_optimization(model="Classic", rm="MV", rf=0, b=None, hist=True)
        else:
            obj, rm = {"min_variance": ("MinRisk", "MV"), "max_sharpe": ("Sharpe", "MV"),
                       "min_cvar": ("MinRisk", "CVaR")}[method]
            w = port.optimization(model="Classic", rm=rm, obj=obj, rf=0, l=0, hist=True)
        if w is None:
            raise RuntimeError("Riskfolio returned None (solver failed)")
        return _series(w, returns.columns)

    return run

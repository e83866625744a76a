r"""What pooling cannot remove: systematic vs idiosyncratic risk, and the diversification floor.

With a factor model :math:`\Sigma = B\Sigma_f B^\top + D`, a pool held with weights :math:`w`
has variance

.. math:: \sigma_P^2 = \underbrace{w^\top B \Sigma_f B^\top w}_{\text{systematic}}
          + \underbrace{\textstyle\sum_i w_i^2 d_i}_{\text{idiosyncratic}} .

Adding assets shrinks the second term towards zero (each :math:`w_i^2` falls like
:math:`1/N^2`), never the first: it is the floor that pooling cannot go below, the
"global risk" of the source document's challenge 5.2.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from poolkit._numerics import portfolio_variance, resolve_periods_per_year, variance_contributions
from poolkit._validation import check_aligned, check_positive_int, check_time_index
from poolkit.exceptions import AlignmentError, InsufficientDataError, ParameterError
from poolkit.pooling._common import POOL_NAME, check_pools, membership
from poolkit.pooling._indicators import within_pool_weights
from poolkit.risk._factor import FactorModel, factor_model

__all__ = ["SystematicDecomposition", "diversification_floor", "systematic_decomposition"]

_SPLIT_COLUMNS = ["variance", "systematic", "idiosyncratic", "systematic_share", "idiosyncratic_share"]


@dataclass(frozen=True)
class SystematicDecomposition:
    r"""Systematic and idiosyncratic risk of assets, pools and a portfolio (see :func:`systematic_decomposition`).

    Attributes
    ----------
    assets : DataFrame
        One row per asset: ``weight``, ``variance`` :math:`b_i^\top\Sigma_f b_i + d_i`,
        ``systematic``, ``idiosyncratic``, ``systematic_share``, ``idiosyncratic_share``.
    pools : DataFrame
        Same columns for each pool (members held with their weights rescaled to 1) and a last
        row ``portfolio``, plus ``members``, ``volatility`` and ``floor_volatility``
        (:math:`\sqrt{\text{systematic}}`, what is left when every idiosyncratic risk is
        diversified away); index named ``pool``.
    factor_contributions : DataFrame
        Euler contributions of each factor (rows) to the systematic variance of each pool and
        of the portfolio (columns); each column sums to the ``systematic`` variance.
    floor : DataFrame
        :func:`diversification_floor` of the universe (equal weights).
    model : FactorModel
        The factor model used.
    """

    assets: pd.DataFrame
    pools: pd.DataFrame
    factor_contributions: pd.DataFrame
    floor: pd.DataFrame
    model: FactorModel

    @property
    def factor_shares(self) -> pd.DataFrame:
        """Factor contributions as shares of each column's **total** variance; with ``idiosyncratic`` they sum to 1."""
        total = self.pools["variance"]
        shares = self.factor_contributions / total.to_numpy()[None, :]
        idio = (self.pools["idiosyncratic"] / total).to_frame().T
        idio.index = pd.Index(["idiosyncratic"], name=shares.index.name)
        return pd.concat([shares, idio])


def _model_for(
    returns: pd.DataFrame | None,
    factors: pd.DataFrame | None,
    model: FactorModel | None,
    *,
    n_factors: int | None,
    risk_free: str,
) -> FactorModel:
    if model is not None:
        if not isinstance(model, FactorModel):
            raise TypeError(f"`model` must be a FactorModel from poolkit.risk.factor_model, got {type(model).__name__}.")
        if factors is not None or n_factors is not None or risk_free:
            raise ParameterError(
                "give either a fitted `model` or what to fit one with (`factors`, `n_factors`, `risk_free`), not both."
            )
        if returns is not None:
            missing = [a for a in returns.columns if a not in model.assets]
            extra = [a for a in model.assets if a not in returns.columns]
            if missing or extra:
                raise AlignmentError(
                    f"`model` was fitted on other assets than `returns`: missing {missing[:10]}, not in the "
                    f"returns {extra[:10]}. Fit it on the same returns."
                )
        return model
    if returns is None:
        raise ParameterError("give `returns` (and optionally `factors`) or a fitted `model`.")
    return factor_model(returns, factors, n_factors, risk_free=risk_free)


def _scale(model: FactorModel, annualize: bool, periods_per_year: float | None) -> float:
    if not annualize:
        return 1.0
    return resolve_periods_per_year(periods_per_year, model.factor_returns.index)


def _split(b: np.ndarray, sigma_f: np.ndarray, d: np.ndarray, v: np.ndarray) -> dict[str, np.ndarray]:
    """Systematic / idiosyncratic variance of the portfolios in the columns of ``v``."""
    beta = b.T @ v  # factor exposures (k, p)
    systematic = np.asarray(portfolio_variance(beta, sigma_f))
    idiosyncratic = (v * v * d[:, None]).sum(axis=0)
    total = systematic + idiosyncratic
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, systematic / np.where(total > 0, total, 1.0), np.nan)
    return {
        "variance": total,
        "systematic": systematic,
        "idiosyncratic": idiosyncratic,
        "systematic_share": share,
        "idiosyncratic_share": 1.0 - share,
    }


def systematic_decomposition(
    weights: pd.Series | None = None,
    returns: pd.DataFrame | None = None,
    factors: pd.DataFrame | None = None,
    *,
    model: FactorModel | None = None,
    pools: object = None,
    n_factors: int | None = None,
    risk_free: str = "",
    annualize: bool = False,
    periods_per_year: float | None = None,
    n_draws: int = 200,
    seed: int = 0,
) -> SystematicDecomposition:
    r"""Split the risk of each asset, each pool and the portfolio into systematic and idiosyncratic parts.

    Parameters
    ----------
    weights : Series of shape (n_assets,), optional
        Holding of each asset, indexed by asset name; equal weights when omitted.
    returns : DataFrame of shape (n_dates, n_assets), optional
        Periodic returns, to fit the factor model (with ``factors``, ``n_factors``,
        ``risk_free`` as in :func:`poolkit.risk.factor_model`) and to draw the empirical
        diversification floor.
    factors : DataFrame, optional
        Factor returns of the same frequency (e.g. the Fama-French factors with monthly
        returns); statistical factors when omitted.
    model : FactorModel, optional
        A fitted model instead (then ``factors``, ``n_factors`` and ``risk_free`` are not
        given; without ``returns`` the floor has no empirical curve).
    pools : Series or dict, optional
        Asset -> pool label (e.g. :func:`poolkit.pooling.cluster_pools`); without it the
        ``pools`` table holds the portfolio only.
    n_factors, risk_free
        Passed to :func:`poolkit.risk.factor_model`.
    annualize : bool, default False
        Multiply variances by the periods per year (inferred from the dates when
        ``periods_per_year`` is omitted). Shares do not change.
    periods_per_year : float, optional
        Used only with ``annualize=True``.
    n_draws, seed
        Random subsets per size and seed of :func:`diversification_floor`.

    Returns
    -------
    SystematicDecomposition
        ``assets``, ``pools`` (pools then ``portfolio``), ``factor_contributions``, ``floor``
        and ``model``, labelled by asset, pool and factor.

    Raises
    ------
    AlignmentError
        If ``weights``, ``pools`` or ``model`` name other assets than the returns.
    ParameterError
        If both a ``model`` and what to fit one with are given, or neither.
    DataError, InsufficientDataError, CovarianceError
        From :func:`poolkit.risk.factor_model`.

    Notes
    -----
    With loadings :math:`B`, factor covariance :math:`\Sigma_f` and specific variances
    :math:`D`, a portfolio :math:`v` (one pool with its members' weights
    :math:`v_i = w_i / W_k`, or the whole portfolio :math:`w`) has factor exposures
    :math:`\beta = B^\top v` and

    .. math:: \sigma^2 = \underbrace{\beta^\top \Sigma_f \beta}_{\text{systematic}}
              + \underbrace{\textstyle\sum_i v_i^2 d_i}_{\text{idiosyncratic}}, \qquad
              \text{share}_{sys} = \frac{\beta^\top\Sigma_f\beta}{\sigma^2} ,

    and the systematic variance splits into Euler contributions of the factors,

    .. math:: c_k = \beta_k (\Sigma_f \beta)_k, \qquad \sum_k c_k = \beta^\top \Sigma_f \beta ,

    (a negative :math:`c_k` is a factor the pool hedges). For a single asset the same split is
    :math:`\sigma_i^2 = b_i^\top\Sigma_f b_i + d_i`, its :math:`R^2` being the systematic share.

    References
    ----------
    .. [1] Sharpe, W. F. (1964). Capital asset prices: a theory of market equilibrium under
       conditions of risk. J. Finance 19(3), 425-442.
    .. [2] Roncalli, T. (2013). *Introduction to Risk Parity and Budgeting*, ch. 2 (risk
       decomposition by factors).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> dates = pd.date_range("2000-01-31", periods=240, freq="ME", name="date")
    >>> mkt = pd.DataFrame({"MKT": rng.normal(0, 0.04, 240)}, index=dates)
    >>> r = pd.DataFrame(mkt.to_numpy() + rng.normal(0, 0.04, (240, 4)), index=dates, columns=list("ABCD"))
    >>> split = systematic_decomposition(returns=r, factors=mkt)
    >>> bool(abs(split.pools.loc["portfolio", "systematic_share"] - 0.8) < 0.1)  # 1 / (1 + 1/4)
    True
    """
    if returns is not None:
        if not isinstance(returns, pd.DataFrame):
            raise TypeError(f"`returns` must be a DataFrame of dates x assets, got {type(returns).__name__}.")
        check_time_index(returns.index, name="returns")
    fm = _model_for(returns, factors, model, n_factors=n_factors, risk_free=risk_free)
    names = fm.assets
    scale = _scale(fm, annualize, periods_per_year)
    n = len(names)
    w = np.full(n, 1.0 / n) if weights is None else check_aligned(weights, names, name="weights").to_numpy()
    if pools is None:
        order: list[Any] = []
        m = np.zeros((n, 0))
    else:
        labels, order = check_pools(pools, names)
        m = membership(labels, order)
    v_pools, totals = within_pool_weights(w, m)
    v = np.hstack([v_pools, w[:, None]])
    b, sigma_f, d = fm.loadings.to_numpy(), fm.factor_cov.to_numpy() * scale, fm.specific_variance.to_numpy() * scale
    own = _split(b, sigma_f, d, np.eye(n))
    assets = pd.DataFrame({"weight": w, **own}, index=names.copy())
    split = _split(b, sigma_f, d, v)
    pool_index = pd.Index([*map(str, order), "portfolio"], name=POOL_NAME)
    table = pd.DataFrame(
        {
            "members": np.append(m.sum(axis=0), n).astype(int),
            "weight": np.append(totals, w.sum()),
            **split,
            "volatility": np.sqrt(split["variance"]),
            "floor_volatility": np.sqrt(np.clip(split["systematic"], 0.0, None)),
        },
        index=pool_index,
    )
    contributions = pd.DataFrame(
        variance_contributions(b.T @ v, sigma_f), index=fm.factors.copy(), columns=pool_index.copy()
    )
    floor = diversification_floor(
        returns, model=fm, annualize=annualize, periods_per_year=periods_per_year, n_draws=n_draws, seed=seed
    )
    for frame in (assets, table, contributions):
        frame.attrs.update(kind=fm.kind, annualized=bool(annualize), scale=scale)
    return SystematicDecomposition(assets, table, contributions, floor, fm)


def _size_grid(n: int, sizes: object) -> np.ndarray:
    if sizes is None:
        if n <= 60:
            return np.arange(1, n + 1)
        return np.unique(np.round(np.geomspace(1, n, 40)).astype(int))
    grid = np.unique(np.atleast_1d(np.asarray(sizes)).astype(int))
    if len(grid) == 0 or grid[0] < 1 or grid[-1] > n:
        raise ParameterError(f"`sizes` must be numbers of assets between 1 and {n}, got {sizes!r}.")
    return grid


def diversification_floor(
    returns: pd.DataFrame | None = None,
    factors: pd.DataFrame | None = None,
    *,
    model: FactorModel | None = None,
    sizes: object = None,
    n_draws: int = 200,
    seed: int = 0,
    n_factors: int | None = None,
    risk_free: str = "",
    annualize: bool = False,
    periods_per_year: float | None = None,
) -> pd.DataFrame:
    r"""Trace how the volatility of an equally weighted pool falls with its number of assets.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets), optional
        The universe to draw pools from (and to fit the factor model on, unless ``model``).
    factors, n_factors, risk_free
        As in :func:`poolkit.risk.factor_model` (statistical factors by default).
    model : FactorModel, optional
        A fitted model of the same assets instead.
    sizes : sequence of int, optional
        Pool sizes :math:`n` to evaluate; default every size up to 60 assets, else 40 sizes
        spaced geometrically from 1 to :math:`N`.
    n_draws : int, default 200
        Random pools drawn per size for the empirical curve.
    seed : int, default 0
        Seed of the draws (the same seed and assets give the same curve, whatever their order).
    annualize : bool, default False
        Annualise the volatilities (periods per year inferred from the dates when
        ``periods_per_year`` is omitted).
    periods_per_year : float, optional
        Used only with ``annualize=True``.

    Returns
    -------
    DataFrame
        Indexed by ``n_assets``; columns ``model_volatility`` (closed form below),
        ``floor_volatility`` (its limit, the same on every row) and, with ``returns``,
        ``empirical_volatility`` (root mean variance of ``n_draws`` random equally weighted
        pools of the sample covariance), ``empirical_p05`` and ``empirical_p95`` (5 % and 95 %
        quantiles of their volatilities). ``attrs``: ``floor_variance``,
        ``universe_variance`` (equal weights on all :math:`N` assets), ``systematic_share``.

    Raises
    ------
    ParameterError
        For sizes outside 1..N or a non-positive ``n_draws``.
    AlignmentError
        If ``model`` names other assets than ``returns``.

    Notes
    -----
    Draw :math:`n` of the :math:`N` assets at random and hold them equally. With
    :math:`C = B\Sigma_f B^\top`, :math:`\bar c_{diag}` and :math:`\bar c_{off}` the averages of its
    diagonal and off-diagonal entries and :math:`\bar d` the average specific variance, the
    expected variance of the pool is exactly

    .. math:: E[\sigma_P^2(n)] = \bar c_{off} + \frac{\bar c_{diag} + \bar d - \bar c_{off}}{n}
              \;\xrightarrow[n \to \infty]{}\; \bar c_{off} = \text{floor},

    which at :math:`n = N` is :math:`w^\top B\Sigma_f B^\top w + \sum_i w_i^2 d_i` with
    :math:`w_i = 1/N`. With one factor and equal loadings :math:`\beta` and specific variance
    :math:`\sigma_\varepsilon^2` it is :math:`\beta^2\sigma_f^2 + \sigma_\varepsilon^2/n`. The
    specific risk falls like :math:`1/n`; the systematic floor does not move. Each empirical
    draw adds the assets of a random order one at a time (so every prefix is a uniformly
    random pool of its size), using the sample covariance (``ddof=1``) of ``returns`` on the
    dates the model was fitted on (raw returns, also when the model explains excess returns
    over ``risk_free``); the assets are ordered by name before drawing.

    References
    ----------
    .. [1] Evans, J. L. and Archer, S. H. (1968). Diversification and the reduction of
       dispersion: an empirical analysis. J. Finance 23(5), 761-767.
    .. [2] Elton, E. J. and Gruber, M. J. (1977). Risk reduction and portfolio size: an
       analytical solution. J. Business 50(4), 415-437.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> r = pd.DataFrame(rng.normal(0, 0.01, (500, 1)) + rng.normal(0, 0.02, (500, 30)),
    ...                  columns=[f"S{i:02d}" for i in range(30)])
    >>> curve = diversification_floor(r, n_factors=1)
    >>> bool(curve["model_volatility"].is_monotonic_decreasing)
    True
    >>> round(float(curve["floor_volatility"].iloc[0]), 2)  # the market's 1 % a period stays
    0.01
    """
    if returns is not None:
        if not isinstance(returns, pd.DataFrame):
            raise TypeError(f"`returns` must be a DataFrame of dates x assets, got {type(returns).__name__}.")
        check_time_index(returns.index, name="returns")
    fm = _model_for(returns, factors, model, n_factors=n_factors, risk_free=risk_free)
    draws = check_positive_int(n_draws, name="n_draws")
    scale = _scale(fm, annualize, periods_per_year)
    n = len(fm.assets)
    grid = _size_grid(n, sizes)
    c = fm.systematic_covariance.to_numpy() * scale
    d = fm.specific_variance.to_numpy() * scale
    diag = float(np.trace(c)) / n
    off = float((c.sum() - np.trace(c)) / (n * (n - 1))) if n > 1 else diag
    model_var = off + (diag + float(d.mean()) - off) / grid
    out = pd.DataFrame(
        {
            "model_volatility": np.sqrt(np.clip(model_var, 0.0, None)),
            "floor_volatility": np.sqrt(max(off, 0.0)),
        },
        index=pd.Index(grid, name="n_assets"),
    )
    if returns is not None:
        frame = returns.loc[fm.factor_returns.index, fm.assets]
        if len(frame) < 2:
            raise InsufficientDataError("the empirical floor needs at least two dates.")
        x = frame.to_numpy(dtype="float64")
        order = np.argsort(np.asarray(fm.assets.astype(str)), kind="stable")  # draws independent of column order
        xc = x - x.mean(axis=0)
        sample = (xc.T @ xc) / (len(x) - 1) * scale
        sample = sample[np.ix_(order, order)]
        rng = np.random.default_rng(seed)
        perms = np.argsort(rng.random((draws, n)), axis=1)
        var = np.empty((draws, len(grid)))
        step = max(1, 4_000_000 // (n * n))
        for lo in range(0, draws, step):  # blocks of draws: each a permuted matrix, summed by prefixes
            p = perms[lo : lo + step]
            sub = sample[p[:, :, None], p[:, None, :]]
            prefix = np.cumsum(np.cumsum(sub, axis=1), axis=2)
            var[lo : lo + step] = prefix[:, grid - 1, grid - 1] / (grid * grid)
        vol = np.sqrt(np.clip(var, 0.0, None))
        out["empirical_volatility"] = np.sqrt(np.clip(var.mean(axis=0), 0.0, None))
        out["empirical_p05"] = np.quantile(vol, 0.05, axis=0)
        out["empirical_p95"] = np.quantile(vol, 0.95, axis=0)
    universe = float(np.full(n, 1.0 / n) @ (c + np.diag(d)) @ np.full(n, 1.0 / n))
    out.attrs.update(
        floor_variance=off,
        universe_variance=universe,
        systematic_share=float(c.sum() / n**2 / universe) if universe > 0 else float("nan"),
        kind=fm.kind,
        annualized=bool(annualize),
    )
    return out

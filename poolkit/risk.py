r"""Risk statistics of assets and pools: volatility, ratios, VaR, covariance.

Every per-asset statistic takes periodic returns (a DataFrame of dates x assets,
or a Series for one asset) and returns a Series indexed by asset (a float for a
Series). Annualised statistics use ``periods_per_year``, inferred from the dates
when not given (252 for daily, 52 weekly, 12 monthly...). ``risk_free`` and other
annual rates are turned into per-period rates geometrically,
:math:`r_f^{(p)} = (1 + r_f)^{1/p} - 1`. Losses (VaR, CVaR) are positive numbers;
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

import math
from collections.abc import Callable
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from poolkit._validation import (
    as_frame,
    check_aligned,
    check_choice,
    check_covariance,
    check_fraction,
    check_level,
    check_positive_int,
    check_returns,
    series_or_float,
)
from poolkit.exceptions import (
    AlignmentError,
    CovarianceError,
    DataError,
    InsufficientDataError,
    ParameterError,
)

__all__ = [
    "alpha",
    "annual_return",
    "beta",
    "calmar_ratio",
    "conditional_value_at_risk",
    "correlation",
    "covariance",
    "covariance_from",
    "downside_deviation",
    "drawdown_table",
    "drawdowns",
    "information_ratio",
    "kurtosis",
    "marginal_risk",
    "max_drawdown",
    "omega_ratio",
    "pooled_volatility",
    "risk_contributions",
    "rolling",
    "sharpe_ratio",
    "skewness",
    "sortino_ratio",
    "summary",
    "tail_ratio",
    "tracking_error",
    "value_at_risk",
    "volatility",
]

COV_METHODS = ("sample", "ledoit_wolf", "oas", "ewma")
CORR_METHODS = ("pearson", "spearman", "kendall")
VAR_METHODS = ("historical", "gaussian", "cornish_fisher")
#: RiskMetrics (1996) daily decay 0.94, as a half-life in periods: ln(0.5) / ln(0.94).
RISKMETRICS_HALFLIFE = math.log(0.5) / math.log(0.94)


# --------------------------------------------------------------------------- helpers
def _infer_periods(index: pd.Index) -> int:
    """Periods per year from the spacing of dates (see :func:`poolkit.data.periods_per_year`)."""
    from poolkit.data import periods_per_year as _ppy

    return int(_ppy(index))


def _periods(frame: pd.DataFrame, periods_per_year: float | None) -> float:
    """Return ``periods_per_year`` checked, or inferred from ``frame``'s dates."""
    if periods_per_year is None:
        if not isinstance(frame.index, pd.DatetimeIndex):
            raise ParameterError(
                "`periods_per_year` cannot be inferred because the returns are not indexed by dates "
                f"(index type {type(frame.index).__name__}); pass it explicitly, e.g. periods_per_year=252."
            )
        return float(_infer_periods(frame.index))
    if isinstance(periods_per_year, bool) or not isinstance(periods_per_year, (int, float, np.number)):
        raise ParameterError(
            f"`periods_per_year` must be a positive number such as 252, got {periods_per_year!r}."
        )
    if not np.isfinite(periods_per_year) or periods_per_year <= 0:
        raise ParameterError(
            f"`periods_per_year` must be a positive number such as 252, got {periods_per_year!r}."
        )
    return float(periods_per_year)


def _per_period_rate(rate: float, ppy: float, *, name: str = "risk_free") -> float:
    """Convert an annual rate to a per-period one: ``(1 + rate) ** (1 / ppy) - 1``."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.number)) or not np.isfinite(rate):
        raise ParameterError(f"`{name}` must be an annual rate such as 0.02 (2 %), got {rate!r}.")
    if rate <= -1.0:
        raise ParameterError(f"`{name}` must be an annual rate above -1 (-100 %), got {rate!r}.")
    if rate > 1.0:
        raise ParameterError(
            f"`{name}` is an annual rate as a fraction; got {rate!r}. Did you mean {rate / 100:g} ({rate:g} %)?"
        )
    return float((1.0 + rate) ** (1.0 / ppy) - 1.0)


_FLOAT64 = np.dtype("float64")


def _checked(
    returns: object, *, nan_policy: str = "raise", min_obs: int = 2, name: str = "returns"
) -> tuple[pd.DataFrame, bool]:
    """Check returns like ``_validation.check_returns``, with a fast path for clean float data.

    Clean input (a float64 frame or series with unique columns, finite values and enough
    rows) is used as it is, without the per-column checks and the copy; anything else goes
    through the full check, which names the problem. Callers never write into the result.
    """
    if isinstance(returns, pd.DataFrame):
        frame, was_series = returns, False
    elif isinstance(returns, pd.Series):
        frame, was_series = returns.to_frame(name=returns.name if returns.name is not None else name), True
    else:
        frame = None
    if (
        frame is not None
        and nan_policy in ("raise", "drop", "pairwise")
        and frame.shape[1] > 0
        and frame.shape[0] >= min_obs
        and not frame.columns.has_duplicates
        and all(dt == _FLOAT64 for dt in set(frame.dtypes))
        and np.isfinite(frame.to_numpy()).all()
    ):
        return frame, was_series
    return check_returns(returns, name=name, min_obs=min_obs, nan_policy=nan_policy)


def _prepare(
    returns: object, *, nan_policy: str = "raise", min_obs: int = 2, name: str = "returns"
) -> tuple[pd.DataFrame, bool, np.ndarray, bool]:
    """Check returns; return (frame, was_series, values, has_nan)."""
    frame, was_series = _checked(returns, name=name, min_obs=min_obs, nan_policy=nan_policy)
    values = frame.to_numpy()
    has_nan = bool(nan_policy == "pairwise" and np.isnan(values).any())
    return frame, was_series, values, has_nan


def _count(x: np.ndarray, has_nan: bool) -> np.ndarray:
    if has_nan:
        return np.sum(~np.isnan(x), axis=0).astype("float64")
    return np.full(x.shape[1], float(x.shape[0]))


def _mean(x: np.ndarray, has_nan: bool) -> np.ndarray:
    return np.nanmean(x, axis=0) if has_nan else x.mean(axis=0)


def _std(x: np.ndarray, has_nan: bool, ddof: int = 1) -> np.ndarray:
    return np.nanstd(x, axis=0, ddof=ddof) if has_nan else x.std(axis=0, ddof=ddof)


def _check_ddof(ddof: object) -> int:
    if ddof not in (0, 1) or isinstance(ddof, bool):
        raise ParameterError(f"`ddof` must be 0 (population, 1/N) or 1 (sample, 1/(N-1)), got {ddof!r}.")
    return int(ddof)  # type: ignore[call-overload]


def _wrap(values: np.ndarray, frame: pd.DataFrame, was_series: bool, name: str) -> Any:
    return series_or_float(values, frame.columns, was_series, name=name)


def _undefined(
    values: np.ndarray, bad: np.ndarray, frame: pd.DataFrame, *, statistic: str, why: str, fix: str
) -> None:
    """Raise DataError naming the assets where a ratio's denominator is zero."""
    if bad.any():
        names = frame.columns[bad].tolist()
        raise DataError(
            f"{statistic} is undefined for {names[:5]}{'...' if len(names) > 5 else ''}: {why}. {fix}"
        )


# --------------------------------------------------------------------------- dispersion
def volatility(
    returns: pd.DataFrame | pd.Series,
    *,
    periods_per_year: float | None = None,
    annualize: bool = True,
    ddof: int = 1,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Measure the standard deviation of returns, annualised by :math:`\sqrt{p}` by default.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic simple returns, indexed by date; columns are assets.
    periods_per_year : float, optional
        Periods in a year :math:`p` (252 daily, 12 monthly). Inferred from the dates
        when omitted.
    annualize : bool, default True
        Multiply the per-period standard deviation by :math:`\sqrt{p}`.
    ddof : {1, 0}, default 1
        1 = sample estimate :math:`1/(N-1)` (pandas, empyrical); 0 = population
        formula :math:`1/N` (the textbook formula of the seed document).
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns (see the module notes).

    Returns
    -------
    Series or float
        Volatility per asset, indexed by asset, named ``"volatility"``; a float
        for a Series input. A fraction per year (0.2 = 20 %) when annualised.

    Raises
    ------
    DataError
        If ``returns`` holds a NaN (with ``nan_policy="raise"``) or an infinity.
    InsufficientDataError
        If an asset has fewer than two observations.

    Notes
    -----
    .. math:: \sigma = \sqrt{\frac{1}{N - \delta} \sum_{t=1}^{N} (r_t - \bar r)^2}
              \times \sqrt{p}, \qquad \delta = \text{ddof}.

    References
    ----------
    .. [1] Bodie, Kane & Marcus, *Investments*, 12th ed., ch. 5 (2021).

    Examples
    --------
    >>> r = pd.Series([0.01, -0.01, 0.01, -0.01])
    >>> round(volatility(r, annualize=False), 6)  # sqrt(4 * 0.0001 / 3)
    0.011547
    >>> round(volatility(r, annualize=False, ddof=0), 6)  # the seed's 1/N formula
    0.01
    """
    ddof = _check_ddof(ddof)
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=ddof + 1)
    sd = _std(x, has_nan, ddof)
    if annualize:
        sd = sd * math.sqrt(_periods(frame, periods_per_year))
    return _wrap(sd, frame, was_series, "volatility")


# --------------------------------------------------------------------------- covariance
def _demeaned(x: np.ndarray) -> np.ndarray:
    return x - x.mean(axis=0)


def _empirical(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the demeaned data and their ``ddof=0`` covariance (the one matrix product)."""
    xc = _demeaned(x)
    return xc, (xc.T @ xc) / x.shape[0]


def _shrunk(s: np.ndarray, shrink: float, mu: float) -> np.ndarray:
    """Shrink ``s`` towards ``mu`` times the identity: ``(1 - shrink) s + shrink mu I``."""
    out = (1.0 - shrink) * s
    out.flat[:: s.shape[0] + 1] += shrink * mu
    return out


def _ledoit_wolf(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit-Wolf shrinkage to a scaled identity (scikit-learn's convention)."""
    n, p = x.shape
    xc, s = _empirical(x)
    if p == 1:
        return s, 0.0
    sq = xc * xc
    var = sq.sum(axis=0) / n  # diag(S)
    mu = var.sum() / p
    # sum_{ij} (X2' X2)_{ij} = sum_t (sum_i x_ti^2)^2 : O(n p), no second product needed
    beta_ = float(np.square(sq.sum(axis=1)).sum())
    delta_ = float(np.square(s).sum())  # = sum((X'X)^2) / n^2
    beta = (beta_ / n - delta_) / (p * n)
    delta = (delta_ - 2.0 * mu * var.sum() + p * mu**2) / p
    beta = min(beta, delta)
    shrink = 0.0 if beta == 0 else beta / delta
    return _shrunk(s, shrink, mu), float(shrink)


def _oas(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Oracle approximating shrinkage (Chen et al. 2010, scikit-learn's form)."""
    n, p = x.shape
    _, s = _empirical(x)
    if p == 1:
        return s, 0.0
    alpha = float(np.mean(s**2))
    mu = float(np.trace(s)) / p
    num = alpha + mu**2
    den = (n + 1) * (alpha - mu**2 / p)
    shrink = 1.0 if den == 0 else min(num / den, 1.0)
    return _shrunk(s, shrink, mu), float(shrink)


def _ewma(x: np.ndarray, halflife: float) -> np.ndarray:
    """Exponentially weighted covariance, equal to pandas ``ewm(halflife).cov()`` at the last date."""
    n = x.shape[0]
    lam = 0.5 ** (1.0 / halflife)
    w = lam ** np.arange(n - 1, -1, -1, dtype="float64")
    w /= w.sum()
    m = w @ x
    xc = x - m
    denom = 1.0 - float(np.square(w).sum())  # reliability weights: unbiased like ddof=1
    return (xc * w[:, None]).T @ xc / denom


def covariance(
    returns: pd.DataFrame,
    method: str = "sample",
    *,
    halflife: float | None = None,
    annualize: bool = False,
    periods_per_year: float | None = None,
    nan_policy: str = "raise",
) -> pd.DataFrame:
    r"""Estimate the covariance matrix of asset returns, per period by default.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, indexed by date; columns are assets.
    method : {"sample", "ledoit_wolf", "oas", "ewma"}, default "sample"
        ``"sample"``: unbiased sample covariance (``ddof=1``). ``"ledoit_wolf"`` and
        ``"oas"``: shrinkage towards :math:`\mu I` (demeaned, ``ddof=0``, as in
        scikit-learn). ``"ewma"``: exponentially weighted, recent dates weigh more.
    halflife : float, optional
        Half-life in periods of the EWMA weights (only for ``"ewma"``). Default:
        RiskMetrics' daily decay :math:`\lambda = 0.94` (half-life 11.2 periods).
    annualize : bool, default False
        Multiply by ``periods_per_year`` (inferred from the dates when omitted).
    periods_per_year : float, optional
        Used only with ``annualize=True``.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        ``"pairwise"`` (sample method only) uses, for each pair, the dates where both
        are observed; the result may then not be positive semi-definite.

    Returns
    -------
    DataFrame of shape (n_assets, n_assets)
        Index = columns = asset names. Its ``attrs["shrinkage"]`` holds the
        shrinkage intensity for ``"ledoit_wolf"`` and ``"oas"``.

    Raises
    ------
    ParameterError
        For an unknown method, a bad half-life, or ``"pairwise"`` with a
        shrinkage/EWMA method.
    DataError, InsufficientDataError
        For NaNs (policy ``"raise"``) or fewer than two dates.

    Notes
    -----
    Sample: :math:`S = \frac{1}{N-1} \sum_t (r_t - \bar r)(r_t - \bar r)^\top`,
    so :math:`S_{ij} = \rho_{ij} \sigma_i \sigma_j`.

    Shrinkage: :math:`\hat\Sigma = (1 - \delta) S_0 + \delta \mu I`, with
    :math:`S_0` the covariance with divisor :math:`N` and
    :math:`\mu = \operatorname{tr}(S_0) / n`; Ledoit-Wolf [2]_ and OAS [3]_ choose
    :math:`\delta` from the data. Both cost about one matrix product
    :math:`X^\top X`. Note the divisor :math:`N` (``ddof=0``) differs from the
    sample method's :math:`N - 1`.

    EWMA: weights :math:`w_t \propto \lambda^{N - t}` with
    :math:`\lambda = 2^{-1/h}`, normalised to 1;
    :math:`\hat\Sigma = \sum_t w_t (r_t - \bar r_w)(r_t - \bar r_w)^\top / (1 - \sum_t w_t^2)`
    (pandas' ``ewm(halflife=h).cov()`` at the last date).

    References
    ----------
    .. [1] J.P. Morgan/Reuters, *RiskMetrics — Technical Document*, 4th ed. (1996).
    .. [2] Ledoit, O. & Wolf, M. (2004). A well-conditioned estimator for
       large-dimensional covariance matrices. J. Multivariate Anal. 88(2), 365-411.
    .. [3] Chen, Y., Wiesel, A., Eldar, Y. C. & Hero, A. O. (2010). Shrinkage
       algorithms for MMSE covariance estimation. IEEE Trans. Signal Process. 58(10).

    Examples
    --------
    >>> r = pd.DataFrame({"A": [0.01, -0.01, 0.02, 0.0], "B": [0.02, -0.02, 0.04, 0.0]})
    >>> cov = covariance(r)
    >>> round(float(cov.loc["A", "B"] / cov.loc["A", "A"]), 6)  # B = 2 A
    2.0
    """
    check_choice(method, COV_METHODS, name="method")
    if nan_policy == "pairwise" and method != "sample":
        raise ParameterError(
            f"nan_policy='pairwise' is only supported by method='sample', got method={method!r}; "
            f"use nan_policy='drop' to keep the dates where every asset is observed."
        )
    if halflife is not None and method != "ewma":
        raise ParameterError(f"`halflife` applies to method='ewma' only, got method={method!r}.")
    frame, _ = _checked(returns, min_obs=2, nan_policy=nan_policy)
    if isinstance(returns, pd.Series):
        raise TypeError("`returns` must be a DataFrame of dates x assets to estimate a covariance matrix.")
    x = frame.to_numpy()
    shrink: float | None = None
    if method == "sample":
        if nan_policy == "pairwise" and np.isnan(x).any():
            mat = frame.cov(min_periods=2).to_numpy()
            if np.isnan(mat).any():
                i, j = np.argwhere(np.isnan(mat))[0]
                raise InsufficientDataError(
                    f"Assets {frame.columns[i]!r} and {frame.columns[j]!r} share fewer than two dates; "
                    f"their covariance cannot be estimated."
                )
        else:
            xc = _demeaned(x)
            mat = (xc.T @ xc) / (x.shape[0] - 1)
    elif method == "ledoit_wolf":
        mat, shrink = _ledoit_wolf(x)
    elif method == "oas":
        mat, shrink = _oas(x)
    else:
        h = RISKMETRICS_HALFLIFE if halflife is None else halflife
        if isinstance(h, bool) or not isinstance(h, (int, float, np.number)) or not np.isfinite(h) or h <= 0:
            raise ParameterError(f"`halflife` must be a positive number of periods, got {halflife!r}.")
        mat = _ewma(x, float(h))
    if annualize:
        mat = mat * _periods(frame, periods_per_year)
    out = pd.DataFrame(mat, index=frame.columns.copy(), columns=frame.columns.copy())
    out.attrs["method"] = method
    if shrink is not None:
        out.attrs["shrinkage"] = shrink
    return out


def _ranks(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rank(axis=0, method="average")


def correlation(returns: pd.DataFrame, method: str = "pearson", *, nan_policy: str = "raise") -> pd.DataFrame:
    r"""Correlation matrix of asset returns (Pearson, Spearman or Kendall).

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, indexed by date; columns are assets.
    method : {"pearson", "spearman", "kendall"}, default "pearson"
        Linear correlation, rank correlation, or Kendall's :math:`\tau` (concordance).
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        ``"pairwise"`` uses, for each pair, the dates where both are observed.

    Returns
    -------
    DataFrame of shape (n_assets, n_assets)
        Index = columns = asset names; ones on the diagonal.

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``) or a constant column (its correlation is
        undefined).

    Notes
    -----
    The seed's correlation coefficient (Pearson):

    .. math:: \rho_{ij} = \frac{\operatorname{cov}(r_i, r_j)}{\sigma_i \sigma_j}
              = \frac{\sum_t (r_{it} - \bar r_i)(r_{jt} - \bar r_j)}
                     {\sqrt{\sum_t (r_{it} - \bar r_i)^2}\sqrt{\sum_t (r_{jt} - \bar r_j)^2}} .

    Spearman's :math:`\rho` is Pearson's on the ranks; Kendall's
    :math:`\tau = (n_c - n_d) / \sqrt{(n_0 - n_1)(n_0 - n_2)}` (the tie-corrected
    :math:`\tau_b`) counts concordant minus discordant pairs of dates.

    References
    ----------
    .. [1] Kendall, M. G. (1938). A new measure of rank correlation. Biometrika 30.

    Examples
    --------
    >>> r = pd.DataFrame({"A": [0.01, -0.02, 0.03, 0.0], "B": [0.02, -0.01, 0.05, 0.01]})
    >>> round(float(correlation(r, method="spearman").loc["A", "B"]), 6)
    1.0
    """
    check_choice(method, CORR_METHODS, name="method")
    if isinstance(returns, pd.Series):
        raise TypeError("`returns` must be a DataFrame of dates x assets to estimate a correlation matrix.")
    frame, _ = _checked(returns, min_obs=2, nan_policy=nan_policy)
    x = frame.to_numpy()
    has_nan = bool(np.isnan(x).any())
    sd = _std(x, has_nan, 1)
    const = sd == 0
    _undefined(
        sd,
        const,
        frame,
        statistic="Correlation",
        why="the returns are constant (zero volatility)",
        fix="Drop constant columns first.",
    )
    if method == "kendall":
        mat = frame.corr(method="kendall", min_periods=2).to_numpy()
    elif has_nan:
        src = _ranks(frame) if method == "spearman" else frame
        mat = src.corr(method="pearson", min_periods=2).to_numpy()
    else:
        if method == "spearman":
            x = _ranks(frame).to_numpy()
        xc = _demeaned(x)
        xc = xc / np.sqrt(np.square(xc).sum(axis=0))
        mat = np.clip(xc.T @ xc, -1.0, 1.0)
        np.fill_diagonal(mat, 1.0)
    if np.isnan(mat).any():
        i, j = np.argwhere(np.isnan(mat))[0]
        raise InsufficientDataError(
            f"The correlation of {frame.columns[i]!r} and {frame.columns[j]!r} cannot be estimated "
            f"(fewer than two shared dates, or constant on their shared dates)."
        )
    out = pd.DataFrame(mat, index=frame.columns.copy(), columns=frame.columns.copy())
    out.attrs["method"] = method
    return out


def covariance_from(vols: pd.Series, corr: pd.DataFrame | float) -> pd.DataFrame:
    r"""Build a covariance matrix from volatilities and correlations, :math:`\Sigma = D R D`.

    Parameters
    ----------
    vols : Series of shape (n_assets,)
        Volatility of each asset (any consistent unit, e.g. annual), indexed by asset.
    corr : DataFrame of shape (n_assets, n_assets) or float
        Correlation matrix labelled by asset, or one correlation shared by every
        pair (between :math:`-1/(n-1)` and 1 so that :math:`\Sigma` is valid).

    Returns
    -------
    DataFrame of shape (n_assets, n_assets)
        Covariance, index = columns = ``vols.index``.

    Raises
    ------
    ParameterError
        For negative or missing volatilities or a correlation outside [-1, 1].
    AlignmentError
        If ``corr`` names other assets than ``vols``.
    CovarianceError
        If ``corr`` is not symmetric, has a diagonal other than 1, or is not positive
        semi-definite (the smallest eigenvalue is reported).

    Notes
    -----
    .. math:: \Sigma_{ij} = \rho_{ij}\, \sigma_i \sigma_j, \qquad
              \Sigma = D R D, \quad D = \operatorname{diag}(\sigma_1, \dots, \sigma_n).

    References
    ----------
    .. [1] Markowitz, H. (1952). Portfolio selection. J. Finance 7(1), 77-91.

    Examples
    --------
    >>> cov = covariance_from(pd.Series({"A": 0.2, "B": 0.1}), corr=0.5)
    >>> round(float(cov.loc["A", "B"]), 6)  # 0.5 * 0.2 * 0.1
    0.01
    """
    if isinstance(vols, dict):
        vols = pd.Series(vols, dtype="float64")
    if not isinstance(vols, pd.Series):
        raise TypeError(f"`vols` must be a pandas Series indexed by asset, got {type(vols).__name__}.")
    if vols.index.duplicated().any():
        raise AlignmentError(
            f"`vols` names assets {vols.index[vols.index.duplicated()].tolist()} more than once."
        )
    v = vols.astype("float64").to_numpy()
    if not np.isfinite(v).all() or (v < 0).any():
        bad = vols.index[~(np.isfinite(v) & (v >= 0))].tolist()
        raise ParameterError(f"`vols` must be finite and non-negative; check {bad}.")
    n = len(v)
    if isinstance(corr, pd.DataFrame):
        if not (corr.index.equals(corr.columns)):
            raise AlignmentError("`corr` must have the same asset labels on its index and columns.")
        missing = [a for a in vols.index if a not in corr.index]
        extra = [a for a in corr.index if a not in vols.index]
        if missing or extra:
            raise AlignmentError(
                f"`corr` must name the assets of `vols`; missing {missing}, not in `vols` {extra}."
            )
        r = corr.loc[vols.index, vols.index].to_numpy(dtype="float64")
        if not np.allclose(np.diag(r), 1.0, atol=1e-10):
            raise CovarianceError("`corr` must have ones on its diagonal (it is a correlation matrix).")
        if np.abs(r).max() > 1.0 + 1e-12:
            raise ParameterError("`corr` entries must lie in [-1, 1].")
    else:
        rho = check_fraction(corr, name="corr", low=-1.0, high=1.0)
        if n > 1 and rho < -1.0 / (n - 1) - 1e-12:
            raise CovarianceError(
                f"A correlation of {rho:g} shared by all {n} assets is impossible (not positive "
                f"semi-definite); the lowest common correlation of {n} assets is -1/(n-1) = {-1 / (n - 1):.4g}."
            )
        r = np.full((n, n), rho)
        np.fill_diagonal(r, 1.0)
    mat = v[:, None] * r * v[None, :]
    cov = pd.DataFrame(mat, index=vols.index.copy(), columns=vols.index.copy())
    return check_covariance(cov, name="cov (from vols and corr)")


# --------------------------------------------------------------------------- pools
def _weights_cov(weights: pd.Series, cov: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    c = check_covariance(cov, name="cov")
    w = check_aligned(weights, c.columns, name="weights")
    return w.to_numpy(), c.to_numpy(), c.columns


def pooled_volatility(weights: pd.Series, cov: pd.DataFrame) -> float:
    r"""Volatility of a pool of assets held with the given weights.

    Parameters
    ----------
    weights : Series of shape (n_assets,)
        Holding of each asset, indexed by asset name. Need not be long-only.
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, indexed and labelled by asset name, in the
        same period unit as the volatility wanted (annualise before, not after).

    Returns
    -------
    float
        :math:`\sigma_P`, in the units of ``cov``.

    Raises
    ------
    AlignmentError
        If the assets of ``weights`` and ``cov`` differ (the missing and extra ones
        are named).
    CovarianceError
        If ``cov`` is not symmetric, has a negative variance or a NaN, or is not
        positive semi-definite (its smallest eigenvalue is reported).

    Notes
    -----
    With weights :math:`w` and covariance :math:`\Sigma = D R D`, where :math:`D`
    holds the volatilities and :math:`R` the correlations,

    .. math:: \sigma_P = \sqrt{w^\top \Sigma w}
              = \sqrt{\sum_i \sum_j w_i w_j \rho_{ij} \sigma_i \sigma_j}
              \le \sum_i |w_i| \sigma_i ,

    with equality only when every correlation is 1: the gap is what pooling buys.
    (The seed's toy code scales risk linearly by weight, i.e. assumes that
    equality.)

    References
    ----------
    .. [1] Markowitz, H. (1952). Portfolio selection. J. Finance 7(1), 77-91.

    Examples
    --------
    >>> w = pd.Series({"A": 0.5, "B": 0.5})
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.04]], index=["A", "B"], columns=["A", "B"])
    >>> round(pooled_volatility(w, cov), 4)  # two uncorrelated 20 % assets
    0.1414
    """
    w, s, _ = _weights_cov(weights, cov)
    return float(np.sqrt(max(float(w @ s @ w), 0.0)))


def _marginal(weights: pd.Series, cov: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Return (weights, marginal risk, asset labels) as arrays; raise if the pool has zero volatility."""
    w, s, labels = _weights_cov(weights, cov)
    sw = s @ w
    sigma = math.sqrt(max(float(w @ sw), 0.0))
    if sigma <= 0:
        raise ParameterError(
            "The pool has zero volatility with these weights, so marginal and component risk are undefined; "
            "check that the weights are not all zero."
        )
    return w, sw / sigma, labels


def marginal_risk(weights: pd.Series, cov: pd.DataFrame) -> pd.Series:
    r"""Marginal contribution of each asset to the pool's volatility, :math:`\partial\sigma_P/\partial w_i`.

    Parameters
    ----------
    weights : Series of shape (n_assets,)
        Holding of each asset, indexed by asset name.
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, labelled by asset.

    Returns
    -------
    Series of shape (n_assets,)
        Indexed like ``cov``, named ``"marginal_risk"``, in the units of volatility.

    Raises
    ------
    AlignmentError
        If the assets of ``weights`` and ``cov`` differ.
    CovarianceError
        If ``cov`` is invalid.
    ParameterError
        If the pool has zero volatility (the derivative is undefined).

    Notes
    -----
    .. math:: \frac{\partial \sigma_P}{\partial w_i} = \frac{(\Sigma w)_i}{\sigma_P}
              = \beta_{i,P}\, \sigma_P .

    References
    ----------
    .. [1] Roncalli, T. (2013). *Introduction to Risk Parity and Budgeting*, ch. 2.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> marginal_risk(pd.Series({"A": 1.0, "B": 0.0}), cov).round(6).tolist()
    [0.2, 0.0]
    """
    _, mr, labels = _marginal(weights, cov)
    return pd.Series(mr, index=labels.copy(), name="marginal_risk")


def risk_contributions(weights: pd.Series, cov: pd.DataFrame) -> pd.DataFrame:
    r"""Split the pool's volatility into one component per asset (Euler allocation).

    Parameters
    ----------
    weights : Series of shape (n_assets,)
        Holding of each asset, indexed by asset name.
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, labelled by asset.

    Returns
    -------
    DataFrame of shape (n_assets, 2)
        Indexed by asset; column ``"contribution"`` (units of volatility, summing to
        :math:`\sigma_P`) and ``"share"`` (fraction of :math:`\sigma_P`, summing to 1;
        negative for a hedge).

    Raises
    ------
    AlignmentError
        If the assets of ``weights`` and ``cov`` differ.
    CovarianceError
        If ``cov`` is invalid.
    ParameterError
        If the pool has zero volatility (shares are undefined).

    Notes
    -----
    .. math:: RC_i = w_i \frac{(\Sigma w)_i}{\sigma_P}, \qquad
              \sum_i RC_i = \frac{w^\top \Sigma w}{\sigma_P} = \sigma_P, \qquad
              \text{share}_i = RC_i / \sigma_P .

    References
    ----------
    .. [1] Tasche, D. (1999). Risk contributions and performance measurement.
       Working paper, TU München.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.04]], index=["A", "B"], columns=["A", "B"])
    >>> rc = risk_contributions(pd.Series({"A": 0.5, "B": 0.5}), cov)
    >>> rc["share"].round(6).tolist()
    [0.5, 0.5]
    """
    w, mr, labels = _marginal(weights, cov)
    contrib = w * mr
    sigma = contrib.sum()
    return pd.DataFrame({"contribution": contrib, "share": contrib / sigma}, index=labels.copy())


# --------------------------------------------------------------------------- moments
def _central_moments(x: np.ndarray, has_nan: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (n, m2, m3, m4): counts and biased central moments per column."""
    n = _count(x, has_nan)
    d = x - _mean(x, has_nan)
    d2 = d * d
    if has_nan:
        m2 = np.nanmean(d2, axis=0)
        m3 = np.nanmean(d2 * d, axis=0)
        m4 = np.nanmean(d2 * d2, axis=0)
    else:
        m2, m3, m4 = d2.mean(axis=0), (d2 * d).mean(axis=0), (d2 * d2).mean(axis=0)
    return n, m2, m3, m4


def _skew_from(n: np.ndarray, m2: np.ndarray, m3: np.ndarray, bias: bool) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        g1 = m3 / m2**1.5
        if not bias:
            g1 = g1 * np.sqrt(n * (n - 1)) / (n - 2)
    return g1


def _kurt_from(n: np.ndarray, m2: np.ndarray, m4: np.ndarray, bias: bool) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        g2 = m4 / m2**2 - 3.0
        if not bias:
            g2 = ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3))
    return g2


def _no_constant(m2: np.ndarray, frame: pd.DataFrame, statistic: str) -> None:
    _undefined(
        m2,
        m2 <= 0,
        frame,
        statistic=statistic,
        why="the returns are constant (zero volatility)",
        fix="Drop constant columns first.",
    )


def skewness(
    returns: pd.DataFrame | pd.Series, *, bias: bool = False, nan_policy: str = "raise"
) -> pd.Series | float:
    r"""Skewness of returns (asymmetry; negative = a longer left tail of losses).

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    bias : bool, default False
        False: the adjusted Fisher-Pearson estimator :math:`G_1` (pandas, Excel);
        True: the moment estimator :math:`g_1` (``scipy.stats.skew`` default).
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"skewness"`` (no unit).

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``) or a constant column (skewness undefined).
    InsufficientDataError
        With fewer than three observations.

    Notes
    -----
    .. math:: g_1 = \frac{m_3}{m_2^{3/2}}, \quad m_k = \frac{1}{N}\sum_t (r_t - \bar r)^k,
              \qquad G_1 = g_1 \frac{\sqrt{N(N-1)}}{N-2} .

    References
    ----------
    .. [1] Joanes, D. N. & Gill, C. A. (1998). Comparing measures of sample skewness
       and kurtosis. J. Royal Stat. Soc. D 47(1), 183-189.

    Examples
    --------
    >>> round(skewness(pd.Series([0.0, 0.0, 0.0, 0.04]), bias=True), 6)  # m3 / m2^1.5
    1.154701
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=3)
    n, m2, m3, _ = _central_moments(x, has_nan)
    _no_constant(m2, frame, "Skewness")
    return _wrap(_skew_from(n, m2, m3, bias), frame, was_series, "skewness")


def kurtosis(
    returns: pd.DataFrame | pd.Series, *, bias: bool = False, nan_policy: str = "raise"
) -> pd.Series | float:
    r"""Excess kurtosis of returns (fat tails; 0 for a normal distribution).

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    bias : bool, default False
        False: the adjusted estimator :math:`G_2` (pandas, Excel); True: the moment
        estimator :math:`g_2` (``scipy.stats.kurtosis`` default).
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"kurtosis"`` (excess, no unit).

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``) or a constant column (kurtosis undefined).
    InsufficientDataError
        With fewer than four observations.

    Notes
    -----
    .. math:: g_2 = \frac{m_4}{m_2^2} - 3, \qquad
              G_2 = \frac{N-1}{(N-2)(N-3)} \left[(N+1) g_2 + 6\right] .

    References
    ----------
    .. [1] Joanes, D. N. & Gill, C. A. (1998). Comparing measures of sample skewness
       and kurtosis. J. Royal Stat. Soc. D 47(1), 183-189.

    Examples
    --------
    >>> round(kurtosis(pd.Series([-0.01, 0.01, -0.01, 0.01]), bias=True), 6)  # two-point law
    -2.0
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=4)
    n, m2, _, m4 = _central_moments(x, has_nan)
    _no_constant(m2, frame, "Kurtosis")
    return _wrap(_kurt_from(n, m2, m4, bias), frame, was_series, "kurtosis")


# --------------------------------------------------------------------------- ratios
def _annual_rate_per_period(
    rate: float, frame: pd.DataFrame, periods_per_year: float | None, name: str
) -> float:
    if rate == 0:
        return 0.0
    return _per_period_rate(rate, _periods(frame, periods_per_year), name=name)


def downside_deviation(
    returns: pd.DataFrame | pd.Series,
    target: float = 0.0,
    *,
    periods_per_year: float | None = None,
    annualize: bool = True,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Downside deviation: root mean square of returns below a target.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    target : float, default 0.0
        Minimum acceptable return, an **annual** rate converted per period as
        :math:`(1 + \tau)^{1/p} - 1`.
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    annualize : bool, default True
        Multiply by :math:`\sqrt{p}`.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"downside_deviation"``; a fraction per year when annualised.

    Raises
    ------
    DataError, InsufficientDataError
        For NaNs (policy ``"raise"``) or fewer than two observations.

    Notes
    -----
    Every date counts in the mean (divisor :math:`N`, as in empyrical):

    .. math:: DD = \sqrt{\frac{1}{N}\sum_t \min(r_t - \tau_p, 0)^2}\; \sqrt{p} .

    References
    ----------
    .. [1] Sortino, F. A. & Price, L. N. (1994). Performance measurement in a downside
       risk framework. J. Investing 3(3), 59-64.

    Examples
    --------
    >>> r = pd.Series([0.02, -0.02, 0.01, -0.04])
    >>> round(downside_deviation(r, annualize=False), 6)  # sqrt((0.02^2 + 0.04^2) / 4)
    0.022361
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=2)
    t = _annual_rate_per_period(target, frame, periods_per_year, "target")
    low = np.minimum(x - t, 0.0)
    dd = np.sqrt(_mean(low * low, has_nan))
    if annualize:
        dd = dd * math.sqrt(_periods(frame, periods_per_year))
    return _wrap(dd, frame, was_series, "downside_deviation")


def sharpe_ratio(
    returns: pd.DataFrame | pd.Series,
    risk_free: float = 0.0,
    *,
    periods_per_year: float | None = None,
    annualize: bool = True,
    ddof: int = 1,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Sharpe ratio: mean excess return per unit of volatility, annualised by :math:`\sqrt{p}`.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    risk_free : float, default 0.0
        **Annual** risk-free rate, converted per period as :math:`(1 + r_f)^{1/p} - 1`.
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    annualize : bool, default True
        Multiply the per-period ratio by :math:`\sqrt{p}`.
    ddof : {1, 0}, default 1
        Divisor of the standard deviation, as in :func:`volatility`.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"sharpe_ratio"`` (no unit; per year when annualised).

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``), or a constant column: with zero volatility the
        Sharpe ratio is undefined (not infinite).
    ParameterError
        For a risk-free rate that looks like a percentage (e.g. 2 instead of 0.02).

    Notes
    -----
    .. math:: SR = \frac{\overline{r - r_f^{(p)}}}{\sigma(r - r_f^{(p)})}\sqrt{p},
              \qquad r_f^{(p)} = (1 + r_f)^{1/p} - 1 .

    References
    ----------
    .. [1] Sharpe, W. F. (1994). The Sharpe ratio. J. Portfolio Management 21(1), 49-58.

    Examples
    --------
    >>> r = pd.Series([0.01, 0.03, 0.01, 0.03])
    >>> round(sharpe_ratio(r, annualize=False), 6)  # 0.02 / 0.011547
    1.732051
    """
    ddof = _check_ddof(ddof)
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=2)
    rf = _annual_rate_per_period(risk_free, frame, periods_per_year, "risk_free")
    ex = x - rf if rf else x
    sd = _std(ex, has_nan, ddof)
    _undefined(
        sd,
        sd <= 0,
        frame,
        statistic="The Sharpe ratio",
        why="the returns are constant, so the volatility is zero and mean/volatility has no value",
        fix="Drop constant columns (e.g. cash) before computing ratios.",
    )
    sr = _mean(ex, has_nan) / sd
    if annualize:
        sr = sr * math.sqrt(_periods(frame, periods_per_year))
    return _wrap(sr, frame, was_series, "sharpe_ratio")


def sortino_ratio(
    returns: pd.DataFrame | pd.Series,
    target: float = 0.0,
    *,
    periods_per_year: float | None = None,
    annualize: bool = True,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Sortino ratio: mean return above a target per unit of downside deviation.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    target : float, default 0.0
        Minimum acceptable return (often the risk-free rate), an **annual** rate
        converted per period as :math:`(1 + \tau)^{1/p} - 1`.
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    annualize : bool, default True
        Multiply the per-period ratio by :math:`\sqrt{p}`.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"sortino_ratio"``.

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``), or an asset that never falls below the target
        (zero downside deviation: the ratio is undefined, not infinite).

    Notes
    -----
    .. math:: S = \frac{\overline{r - \tau_p}\; p}{DD(\tau)\sqrt{p}}
              = \frac{\overline{r - \tau_p}}{\sqrt{\tfrac{1}{N}\sum_t \min(r_t - \tau_p, 0)^2}}\sqrt{p}

    (the convention of empyrical's ``sortino_ratio``).

    References
    ----------
    .. [1] Sortino, F. A. & Price, L. N. (1994). Performance measurement in a downside
       risk framework. J. Investing 3(3), 59-64.

    Examples
    --------
    >>> r = pd.Series([0.02, -0.02, 0.03, -0.01])
    >>> round(sortino_ratio(r, annualize=False), 6)  # 0.005 / sqrt(0.0005 / 4)
    0.447214
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=2)
    t = _annual_rate_per_period(target, frame, periods_per_year, "target")
    ex = x - t if t else x
    low = np.minimum(ex, 0.0)
    dd = np.sqrt(_mean(low * low, has_nan))
    _undefined(
        dd,
        dd <= 0,
        frame,
        statistic="The Sortino ratio",
        why="no return falls below the target, so the downside deviation is zero",
        fix="Use a longer history or a higher `target`.",
    )
    s = _mean(ex, has_nan) / dd
    if annualize:
        s = s * math.sqrt(_periods(frame, periods_per_year))
    return _wrap(s, frame, was_series, "sortino_ratio")


def omega_ratio(
    returns: pd.DataFrame | pd.Series,
    target: float = 0.0,
    *,
    periods_per_year: float | None = None,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Omega ratio: gains above a target divided by losses below it.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    target : float, default 0.0
        Threshold return, an **annual** rate converted per period as
        :math:`(1 + \tau)^{1/p} - 1` (as empyrical's ``required_return``).
    periods_per_year : float, optional
        Inferred from the dates when omitted (needed only for a non-zero target).
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"omega_ratio"`` (no unit; 1 = gains equal losses).

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``), or an asset with no return below the target
        (the ratio is undefined, not infinite).

    Notes
    -----
    .. math:: \Omega(\tau) = \frac{\sum_t \max(r_t - \tau_p, 0)}{\sum_t \max(\tau_p - r_t, 0)} .

    References
    ----------
    .. [1] Keating, C. & Shadwick, W. F. (2002). A universal performance measure.
       J. Performance Measurement 6(3), 59-84.

    Examples
    --------
    >>> round(omega_ratio(pd.Series([0.03, -0.01, 0.01, -0.02])), 6)  # 0.04 / 0.03
    1.333333
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=2)
    t = _annual_rate_per_period(target, frame, periods_per_year, "target")
    ex = x - t if t else x
    if has_nan:
        ex = np.nan_to_num(ex, nan=0.0)
    up = np.maximum(ex, 0.0).sum(axis=0)
    down = np.maximum(-ex, 0.0).sum(axis=0)
    _undefined(
        down,
        down <= 0,
        frame,
        statistic="The Omega ratio",
        why="no return falls below the target, so the denominator is zero",
        fix="Use a longer history or a higher `target`.",
    )
    return _wrap(up / down, frame, was_series, "omega_ratio")


# --------------------------------------------------------------------------- drawdowns
def _path_values(x: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
    """Prepare returns for compounding: missing dates (pairwise) are flat; r < -1 is refused."""
    if np.isnan(x).any():
        x = np.nan_to_num(x, nan=0.0)
    if (x < -1.0).any():
        i, j = np.argwhere(x < -1.0)[0]
        raise DataError(
            f"`returns` column {frame.columns[j]!r} has a return of {x[i, j]:.4g} at {frame.index[i]!r}, "
            f"below -100 %; simple returns cannot fall below -1 (are these log returns or prices?)."
        )
    return x


def _drawdown_values(x: np.ndarray) -> np.ndarray:
    wealth = np.cumprod(1.0 + x, axis=0)
    peak = np.maximum(np.maximum.accumulate(wealth, axis=0), 1.0)  # the start (wealth 1) is a peak
    return wealth / peak - 1.0


def _cagr(xp: np.ndarray, n: np.ndarray, ppy: float) -> np.ndarray:
    """Compound annual growth of returns ``xp`` (from :func:`_path_values`) over ``n`` periods each."""
    final = np.prod(1.0 + xp, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(final > 0, np.power(np.maximum(final, 1e-300), ppy / n) - 1.0, -1.0)


def annual_return(
    returns: pd.DataFrame | pd.Series,
    *,
    periods_per_year: float | None = None,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Compound annual growth rate (CAGR) of returns.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic simple returns, indexed by date; columns are assets.
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        ``"pairwise"`` compounds each asset over its observed dates.

    Returns
    -------
    Series or float
        Per asset, named ``"annual_return"``, a fraction per year (-1 after a total loss).

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``) or a return below -100 %.

    Notes
    -----
    .. math:: \text{CAGR} = \Big(\prod_{t=1}^{N} (1 + r_t)\Big)^{p/N} - 1 .

    References
    ----------
    .. [1] Bacon, C. R. (2008). *Practical Portfolio Performance Measurement and
       Attribution*, 2nd ed., Wiley, ch. 2.

    Examples
    --------
    >>> r = pd.Series([0.1, 0.1])
    >>> round(annual_return(r, periods_per_year=1), 6)
    0.1
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=1)
    ppy = _periods(frame, periods_per_year)
    cagr = _cagr(_path_values(x, frame), _count(x, has_nan), ppy)
    return _wrap(cagr, frame, was_series, "annual_return")


def drawdowns(returns: pd.DataFrame | pd.Series, *, nan_policy: str = "raise") -> pd.DataFrame | pd.Series:
    r"""Drawdown path: how far the compounded value sits below its running peak.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic simple returns, indexed by date; columns are assets.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        ``"pairwise"`` treats an asset's missing dates as flat (no return).

    Returns
    -------
    DataFrame or Series
        Same index and columns as ``returns``; values in [-1, 0] (``-0.3`` = 30 %
        below the peak). The starting value 1 counts as a peak.

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``) or a return below -100 %.

    Notes
    -----
    .. math:: W_t = \prod_{s \le t} (1 + r_s), \qquad
              DD_t = \frac{W_t}{\max(1, \max_{s \le t} W_s)} - 1 .

    References
    ----------
    .. [1] Magdon-Ismail, M. & Atiya, A. (2004). Maximum drawdown. Risk 17(10), 99-102.

    Examples
    --------
    >>> drawdowns(pd.Series([0.1, -0.5, 0.2])).round(6).tolist()
    [0.0, -0.5, -0.4]
    """
    frame, was_series, x, _ = _prepare(returns, nan_policy=nan_policy, min_obs=1)
    dd = _drawdown_values(_path_values(x, frame))
    if was_series:
        return pd.Series(dd[:, 0], index=frame.index.copy(), name=frame.columns[0])
    out = pd.DataFrame(dd, index=frame.index.copy(), columns=frame.columns.copy())
    return out


def max_drawdown(returns: pd.DataFrame | pd.Series, *, nan_policy: str = "raise") -> pd.Series | float:
    r"""Maximum drawdown: the worst fall from a peak, as a negative fraction.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic simple returns, indexed by date; columns are assets.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        ``"pairwise"`` treats an asset's missing dates as flat (no return).

    Returns
    -------
    Series or float
        Per asset, named ``"max_drawdown"``, in [-1, 0] (``-0.55`` = lost 55 % from
        the peak; the sign of empyrical and quantstats).

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``) or a return below -100 %.

    Notes
    -----
    .. math:: MDD = \min_t DD_t = \min_t \left(\frac{W_t}{\max_{s \le t} W_s} - 1\right).

    References
    ----------
    .. [1] Magdon-Ismail, M. & Atiya, A. (2004). Maximum drawdown. Risk 17(10), 99-102.

    Examples
    --------
    >>> round(max_drawdown(pd.Series([0.1, -0.5, 0.2])), 6)
    -0.5
    """
    frame, was_series, x, _ = _prepare(returns, nan_policy=nan_policy, min_obs=1)
    mdd = _drawdown_values(_path_values(x, frame)).min(axis=0)
    return _wrap(mdd, frame, was_series, "max_drawdown")


def calmar_ratio(
    returns: pd.DataFrame | pd.Series,
    *,
    periods_per_year: float | None = None,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Calmar ratio: compound annual return divided by the size of the maximum drawdown.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic simple returns, indexed by date; columns are assets.
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"calmar_ratio"``.

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``), or an asset that never fell (zero drawdown:
        the ratio is undefined, not infinite).

    Notes
    -----
    .. math:: \text{Calmar} = \frac{\text{CAGR}}{|MDD|}

    over the whole sample (empyrical's convention; the original uses 36 months).

    References
    ----------
    .. [1] Young, T. W. (1991). Calmar ratio: a smoother tool. Futures 20(1), 40.

    Examples
    --------
    >>> r = pd.Series([0.5, -0.2, 0.1, 0.1])
    >>> round(calmar_ratio(r, periods_per_year=4), 6)  # CAGR 0.452 over |MDD| 0.2
    2.26
    """
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=2)
    ppy = _periods(frame, periods_per_year)
    xp = _path_values(x, frame)
    cagr = _cagr(xp, _count(x, has_nan), ppy)
    mdd = _drawdown_values(xp).min(axis=0)
    _undefined(
        mdd,
        mdd >= 0,
        frame,
        statistic="The Calmar ratio",
        why="the value never fell below a previous peak (maximum drawdown is zero)",
        fix="Use a longer history.",
    )
    return _wrap(cagr / np.abs(mdd), frame, was_series, "calmar_ratio")


def drawdown_table(returns: pd.Series | pd.DataFrame, top: int = 5) -> pd.DataFrame:
    r"""List the deepest drawdown episodes of one return series.

    Parameters
    ----------
    returns : Series or one-column DataFrame
        Periodic simple returns of one asset or pool, indexed by date.
    top : int, default 5
        How many episodes to list, deepest first.

    Returns
    -------
    DataFrame
        One row per episode (index ``1..top``) with columns ``"peak"`` (last date at
        the high; the first date if the fall starts at once), ``"trough"``,
        ``"recovery"`` (first date back at the peak; ``NaT`` if not yet recovered),
        ``"depth"`` (negative fraction), ``"to trough (periods)"``,
        ``"length (periods)"`` (peak to recovery, or to the last date) and
        ``"recovered"`` (bool).

    Raises
    ------
    DataError
        For NaNs, a return below -100 %, or several columns.
    ParameterError
        For ``top`` < 1.

    Notes
    -----
    An episode starts when the value :math:`W_t` falls below its running peak and
    ends when it regains it; its depth is :math:`\min_t W_t / \text{peak} - 1`.

    References
    ----------
    .. [1] Bacon, C. R. (2008). *Practical Portfolio Performance Measurement and
       Attribution*, 2nd ed., Wiley, ch. 4.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=5, freq="D")
    >>> t = drawdown_table(pd.Series([0.1, -0.5, 1.0, -0.1, 0.0], index=idx))
    >>> t[["depth", "recovered"]].round(6).values.tolist()
    [[-0.5, True], [-0.1, False]]
    """
    top = check_positive_int(top, name="top")
    frame, _, x, _ = _prepare(returns, nan_policy="raise", min_obs=1)
    if frame.shape[1] != 1:
        raise DataError(
            f"`drawdown_table` takes one return series, got {frame.shape[1]} columns; "
            f"pass returns['{frame.columns[0]}'] or a pool's returns."
        )
    dd = _drawdown_values(_path_values(x, frame))[:, 0]
    under = dd < 0
    cols = ["peak", "trough", "recovery", "depth", "to trough (periods)", "length (periods)", "recovered"]
    if not under.any():
        return pd.DataFrame(columns=cols).astype({"depth": "float64", "recovered": "bool"})
    # episode id: increments at each date where the series goes under water
    starts = under & ~np.r_[False, under[:-1]]
    ep = np.cumsum(starts)
    ep[~under] = 0
    ids = np.arange(1, int(ep.max()) + 1)
    start_pos = np.flatnonzero(starts)
    # trough of each episode: sort by (episode, drawdown) and take each episode's first row
    order = np.lexsort((dd, ep))
    trough_pos = order[np.searchsorted(ep[order], ids)]
    # recovery: first date after the start that is back at the peak
    not_under = np.flatnonzero(~under)
    rec_idx = np.searchsorted(not_under, start_pos)
    recovered = rec_idx < len(not_under)
    rec_pos = (
        not_under[np.minimum(rec_idx, len(not_under) - 1)] if len(not_under) else np.zeros_like(start_pos)
    )
    dates = frame.index
    recovery = pd.Series(dates[rec_pos]).where(recovered)
    table = pd.DataFrame(
        {
            "peak": dates[np.maximum(start_pos - 1, 0)],
            "trough": dates[trough_pos],
            "recovery": recovery.to_numpy(),
            "depth": dd[trough_pos],
            "to trough (periods)": trough_pos - start_pos + 1,
            "length (periods)": np.where(recovered, rec_pos, len(dd) - 1) - start_pos + 1,
            "recovered": recovered,
        }
    )
    table = table.sort_values("depth", kind="stable").head(top).reset_index(drop=True)
    table.index = pd.RangeIndex(1, len(table) + 1, name="episode")
    return table


# --------------------------------------------------------------------------- VaR / CVaR
def _hist_cut(n: np.ndarray, level: float) -> np.ndarray:
    """Count the worst returns averaged by historical CVaR: floor((n - 1)(1 - level)) + 1."""
    return np.floor((n - 1) * (1.0 - level) + 1e-12).astype(int) + 1


def _tail_mean_hist(x: np.ndarray, has_nan: bool, level: float) -> np.ndarray:
    """Mean of the k smallest returns per column (NaNs sort last)."""
    n = _count(x, has_nan)
    k = _hist_cut(n, level)
    if not has_nan:
        kk = int(k[0])
        part = np.partition(x, kk - 1, axis=0)[:kk]
        return part.mean(axis=0)
    xs = np.sort(x, axis=0)  # NaN last
    rows = np.arange(x.shape[0])[:, None]
    take = rows < k[None, :]
    return np.where(take, xs, 0.0).sum(axis=0) / k


def _normal_ppf(p: float) -> float:
    """Return the standard normal quantile (stdlib, Wichura's AS241, about 1e-16 relative)."""
    return NormalDist().inv_cdf(p)


def _normal_pdf(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _cornish_fisher_z(z: float, s: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Cornish-Fisher quantile of a standardised return with skewness s, excess kurtosis k."""
    return z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36


def _cornish_fisher_tail_mean(c: float, s: np.ndarray, k: np.ndarray) -> np.ndarray:
    r"""E[q(Z) | Z <= c] for the Cornish-Fisher polynomial q, from truncated normal moments."""
    phi, big_phi = _normal_pdf(c), NormalDist().cdf(c)
    m0 = big_phi  # int_{-inf}^c z^j phi(z) dz, j = 0..3
    m1 = -phi
    m2 = -c * phi + m0
    m3 = -(c**2 + 2.0) * phi
    # q(z) = a0 + a1 z + a2 z^2 + a3 z^3
    a0 = -s / 6
    a1 = 1 - 3 * k / 24 + 5 * s**2 / 36
    a2 = s / 6
    a3 = k / 24 - 2 * s**2 / 36
    return (a0 * m0 + a1 * m1 + a2 * m2 + a3 * m3) / big_phi


def _parametric_loss(
    mu: np.ndarray,
    sd: np.ndarray,
    level: float,
    want: str,
    s: np.ndarray | None = None,
    k: np.ndarray | None = None,
) -> np.ndarray:
    """Gaussian VaR/ES (``s is None``) or Cornish-Fisher with skewness ``s``, excess kurtosis ``k``."""
    z = _normal_ppf(1.0 - level)  # negative
    if s is None or k is None:
        if want == "var":
            return -(mu + sd * z)
        return -mu + sd * _normal_pdf(z) / (1.0 - level)
    zz = _cornish_fisher_z(z, s, k) if want == "var" else _cornish_fisher_tail_mean(z, s, k)
    return -(mu + sd * zz)


def _var_es(
    returns: object, level: float, method: str, nan_policy: str, *, want: str
) -> tuple[pd.DataFrame, bool, np.ndarray]:
    level = check_level(level)
    check_choice(method, VAR_METHODS, name="method")
    min_obs = {"historical": 2, "gaussian": 2, "cornish_fisher": 4}[method]
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=min_obs)
    if method == "historical":
        if want == "var":
            q = np.nanquantile(x, 1.0 - level, axis=0) if has_nan else np.quantile(x, 1.0 - level, axis=0)
            return frame, was_series, -q
        return frame, was_series, -_tail_mean_hist(x, has_nan, level)
    mu = _mean(x, has_nan)
    sd = _std(x, has_nan, 1)
    if method == "gaussian":
        return frame, was_series, _parametric_loss(mu, sd, level, want)
    n, m2, m3, m4 = _central_moments(x, has_nan)
    _no_constant(m2, frame, "The Cornish-Fisher VaR")
    s = _skew_from(n, m2, m3, False)
    k = _kurt_from(n, m2, m4, False)
    return frame, was_series, _parametric_loss(mu, sd, level, want, s, k)


def value_at_risk(
    returns: pd.DataFrame | pd.Series,
    level: float = 0.95,
    method: str = "historical",
    *,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Value at risk: the loss not exceeded with probability ``level`` over one period.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    level : float, default 0.95
        Confidence level in (0.5, 1).
    method : {"historical", "gaussian", "cornish_fisher"}, default "historical"
        Empirical quantile, normal distribution, or normal corrected for skewness
        and kurtosis.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"value_at_risk"``: a positive loss per period (fraction
        of value).

    Raises
    ------
    ParameterError
        For a level outside (0.5, 1) (``95`` gets "did you mean 0.95?") or an unknown
        method.
    DataError, InsufficientDataError
        For NaNs (policy ``"raise"``) or too few observations.

    Notes
    -----
    Losses are **positive** numbers: a VaR of 0.03 means a loss of 3 % of value
    over one period (the returns' frequency; not annualised). With :math:`\alpha`
    = ``level`` and :math:`z_{\alpha} = \Phi^{-1}(\alpha)`:

    - historical: the empirical quantile (linear interpolation, as
      ``numpy.quantile``) :math:`VaR = -Q_{1-\alpha}(r)`; CVaR is the mean of the
      :math:`\lfloor (N-1)(1-\alpha) \rfloor + 1` worst returns (empyrical's rule);
    - gaussian: :math:`VaR = -\mu + \sigma z_\alpha`,
      :math:`CVaR = -\mu + \sigma\, \varphi(z_\alpha) / (1 - \alpha)`;
    - cornish_fisher: :math:`z_\alpha` is replaced by the Cornish-Fisher quantile
      :math:`\tilde z = z + (z^2 - 1)\frac{S}{6} + (z^3 - 3z)\frac{K}{24}
      - (2z^3 - 5z)\frac{S^2}{36}` (with :math:`z = z_{1-\alpha}`, sample skewness
      :math:`S` and excess kurtosis :math:`K`, ``bias=False``), and CVaR is the mean
      of that quantile over the tail, :math:`\frac{1}{1-\alpha}\int_\alpha^1 VaR_u\,du`,
      computed exactly from truncated normal moments. With :math:`S = K = 0` both
      equal the Gaussian values.

    :math:`\mu` and :math:`\sigma` (``ddof=1``) are per-period mean and volatility.

    References
    ----------
    .. [1] McNeil, A. J., Frey, R. & Embrechts, P. (2015). *Quantitative Risk
       Management*, rev. ed., Princeton, sections 2.3 and 2.2.4 (normal VaR and ES).
    .. [2] Zangari, P. (1996). A VaR methodology for portfolios that include options.
       RiskMetrics Monitor, Q1, 4-12 (Cornish-Fisher VaR).

    Examples
    --------
    >>> r = pd.Series([-0.05, -0.03, -0.01, 0.0, 0.01, 0.02, 0.03, 0.04, 0.05])
    >>> round(value_at_risk(r, level=0.875), 6)  # the 12.5 % quantile: 2nd worst
    0.03
    """
    frame, was_series, v = _var_es(returns, level, method, nan_policy, want="var")
    return _wrap(v, frame, was_series, "value_at_risk")


def conditional_value_at_risk(
    returns: pd.DataFrame | pd.Series,
    level: float = 0.95,
    method: str = "historical",
    *,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Conditional value at risk (expected shortfall): the mean loss beyond the VaR.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    level : float, default 0.95
        Confidence level in (0.5, 1).
    method : {"historical", "gaussian", "cornish_fisher"}, default "historical"
        As in :func:`value_at_risk`.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"conditional_value_at_risk"``: a positive loss per period,
        never below the VaR of the same method and level.

    Raises
    ------
    ParameterError
        For a level outside (0.5, 1) or an unknown method.
    DataError, InsufficientDataError
        For NaNs (policy ``"raise"``) or too few observations.

    Notes
    -----
    Losses are **positive** numbers: a VaR of 0.03 means a loss of 3 % of value
    over one period (the returns' frequency; not annualised). With :math:`\alpha`
    = ``level`` and :math:`z_{\alpha} = \Phi^{-1}(\alpha)`:

    - historical: the empirical quantile (linear interpolation, as
      ``numpy.quantile``) :math:`VaR = -Q_{1-\alpha}(r)`; CVaR is the mean of the
      :math:`\lfloor (N-1)(1-\alpha) \rfloor + 1` worst returns (empyrical's rule);
    - gaussian: :math:`VaR = -\mu + \sigma z_\alpha`,
      :math:`CVaR = -\mu + \sigma\, \varphi(z_\alpha) / (1 - \alpha)`;
    - cornish_fisher: :math:`z_\alpha` is replaced by the Cornish-Fisher quantile
      :math:`\tilde z = z + (z^2 - 1)\frac{S}{6} + (z^3 - 3z)\frac{K}{24}
      - (2z^3 - 5z)\frac{S^2}{36}` (with :math:`z = z_{1-\alpha}`, sample skewness
      :math:`S` and excess kurtosis :math:`K`, ``bias=False``), and CVaR is the mean
      of that quantile over the tail, :math:`\frac{1}{1-\alpha}\int_\alpha^1 VaR_u\,du`,
      computed exactly from truncated normal moments. With :math:`S = K = 0` both
      equal the Gaussian values.

    :math:`\mu` and :math:`\sigma` (``ddof=1``) are per-period mean and volatility.

    References
    ----------
    .. [1] McNeil, A. J., Frey, R. & Embrechts, P. (2015). *Quantitative Risk
       Management*, rev. ed., Princeton, example 2.14 (ES of the normal).
    .. [2] Acerbi, C. & Tasche, D. (2002). On the coherence of expected shortfall.
       J. Banking & Finance 26(7), 1487-1503.

    Examples
    --------
    >>> r = pd.Series([-0.05, -0.03, -0.01, 0.0, 0.01, 0.02, 0.03, 0.04, 0.05])
    >>> round(conditional_value_at_risk(r, level=0.875), 6)  # mean of the 2 worst
    0.04
    """
    frame, was_series, v = _var_es(returns, level, method, nan_policy, want="es")
    return _wrap(v, frame, was_series, "conditional_value_at_risk")


def tail_ratio(
    returns: pd.DataFrame | pd.Series, level: float = 0.95, *, nan_policy: str = "raise"
) -> pd.Series | float:
    r"""Tail ratio: size of the right tail over the size of the left tail.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    level : float, default 0.95
        Upper quantile; the lower one is ``1 - level``.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"tail_ratio"`` (above 1: big gains are larger than big losses).

    Raises
    ------
    DataError
        If the lower quantile is zero (the ratio is undefined).

    Notes
    -----
    .. math:: TR = \frac{|Q_{\alpha}(r)|}{|Q_{1-\alpha}(r)|}

    (empyrical's definition; quantiles by linear interpolation).

    References
    ----------
    .. [1] Konstantinov, G., Chorus, A. & Rebmann, J. (2020). A network and machine
       learning approach to factor, asset, and blended allocation. J. Portfolio
       Management 46(6) (tail ratio as reported by pyfolio).

    Examples
    --------
    >>> r = pd.Series([-0.02, -0.01, 0.0, 0.01, 0.04])
    >>> round(tail_ratio(r, level=0.75), 6)  # |0.01| / |-0.01|
    1.0
    """
    level = check_level(level)
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=2)
    qf = np.nanquantile if has_nan else np.quantile
    q = qf(x, [level, 1.0 - level], axis=0)
    low = np.abs(q[1])
    _undefined(
        low,
        low <= 0,
        frame,
        statistic="The tail ratio",
        why=f"the {1 - level:.0%} quantile of returns is zero",
        fix="Use a higher `level` or longer history.",
    )
    return _wrap(np.abs(q[0]) / low, frame, was_series, "tail_ratio")


# --------------------------------------------------------------------------- benchmark
def _with_benchmark(
    returns: object, benchmark: object, nan_policy: str
) -> tuple[pd.DataFrame, bool, np.ndarray, np.ndarray, bool]:
    """Align returns and a benchmark on the returns' dates.

    Returns (frame, was_series, x, b2, has_nan) with ``b2`` broadcast to x's shape and
    pairwise-missing values set to NaN in both.
    """
    frame, was_series = as_frame(returns, name="returns")
    if isinstance(benchmark, pd.DataFrame):
        if benchmark.shape[1] != 1:
            raise DataError(
                f"`benchmark` must be one return series, got {benchmark.shape[1]} columns; pass one column."
            )
        benchmark = benchmark.iloc[:, 0]
    if not isinstance(benchmark, pd.Series):
        raise TypeError(
            f"`benchmark` must be a pandas Series of returns indexed by date, got {type(benchmark).__name__}."
        )
    bench, _ = as_frame(benchmark, name="benchmark")
    if bench.index.duplicated().any():
        raise DataError("`benchmark` has duplicated dates; keep one return per date.")
    missing = frame.index.difference(bench.index)
    if len(missing):
        raise AlignmentError(
            f"`benchmark` lacks {len(missing)} of the {len(frame)} dates of `returns` (first missing: "
            f"{missing[0]!r}). Restrict both to common dates, e.g. "
            f"returns.loc[returns.index.intersection(benchmark.index)]."
        )
    key = "benchmark"
    while key in frame.columns:
        key = "_" + key
    combined = frame.copy()
    combined[key] = bench.iloc[:, 0].reindex(frame.index).to_numpy()
    checked, _ = _checked(combined, name="returns and benchmark", min_obs=2, nan_policy=nan_policy)
    b = checked[key].to_numpy()
    checked = checked.drop(columns=key)
    x = checked.to_numpy()
    b2 = np.broadcast_to(b[:, None], x.shape)
    has_nan = bool(nan_policy == "pairwise" and (np.isnan(x).any() or np.isnan(b).any()))
    if has_nan:
        both = ~np.isnan(x) & ~np.isnan(b2)
        x = np.where(both, x, np.nan)
        b2 = np.where(both, b2, np.nan)
        if both.sum(axis=0).min() < 2:
            j = int(np.argmin(both.sum(axis=0)))
            raise InsufficientDataError(
                f"Asset {checked.columns[j]!r} shares fewer than two dates with the benchmark."
            )
    return checked, was_series, x, np.array(b2), has_nan


def _beta_values(x: np.ndarray, b: np.ndarray, has_nan: bool, frame: pd.DataFrame) -> np.ndarray:
    bc = b - _mean(b, has_nan)
    xc = x - _mean(x, has_nan)
    var_b = _mean(bc * bc, has_nan)
    _undefined(
        var_b,
        var_b <= 0,
        frame,
        statistic="Beta",
        why="the benchmark returns are constant (zero variance) on these dates",
        fix="Check the benchmark.",
    )
    return _mean(xc * bc, has_nan) / var_b


def beta(
    returns: pd.DataFrame | pd.Series, benchmark: pd.Series, *, nan_policy: str = "raise"
) -> pd.Series | float:
    r"""Beta of each asset to a benchmark: the slope of asset returns on benchmark returns.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    benchmark : Series
        Benchmark returns of the same frequency, indexed by date; it must cover
        every date of ``returns`` (extra dates are ignored).
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns (in either input).

    Returns
    -------
    Series or float
        Per asset, named ``"beta"`` (no unit).

    Raises
    ------
    AlignmentError
        If the benchmark lacks dates of ``returns``.
    DataError
        For NaNs (policy ``"raise"``) or a constant benchmark.

    Notes
    -----
    .. math:: \beta_i = \frac{\operatorname{cov}(r_i, r_b)}{\operatorname{var}(r_b)} .

    A constant risk-free rate does not change beta.

    References
    ----------
    .. [1] Sharpe, W. F. (1964). Capital asset prices. J. Finance 19(3), 425-442.

    Examples
    --------
    >>> b = pd.Series([0.01, -0.02, 0.03, 0.0])
    >>> round(beta(2 * b + 0.001, b), 6)
    2.0
    """
    frame, was_series, x, b, has_nan = _with_benchmark(returns, benchmark, nan_policy)
    return _wrap(_beta_values(x, b, has_nan, frame), frame, was_series, "beta")


def alpha(
    returns: pd.DataFrame | pd.Series,
    benchmark: pd.Series,
    risk_free: float = 0.0,
    *,
    periods_per_year: float | None = None,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Jensen's alpha: the return not explained by beta to the benchmark, annualised.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    benchmark : Series
        Benchmark returns indexed by date, covering every date of ``returns``.
    risk_free : float, default 0.0
        **Annual** risk-free rate, converted per period as :math:`(1 + r_f)^{1/p} - 1`.
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"alpha"``, an annual rate (compounded).

    Raises
    ------
    AlignmentError
        If the benchmark lacks dates of ``returns``.
    DataError
        For NaNs (policy ``"raise"``) or a constant benchmark.

    Notes
    -----
    With per-period excess returns :math:`\tilde r = r - r_f^{(p)}`:

    .. math:: \alpha = \left(1 + \overline{\tilde r_i - \beta_i \tilde r_b}\right)^{p} - 1

    (annualised by compounding, as empyrical's ``alpha``).

    References
    ----------
    .. [1] Jensen, M. C. (1968). The performance of mutual funds in the period
       1945-1964. J. Finance 23(2), 389-416.

    Examples
    --------
    >>> b = pd.Series([0.01, -0.02, 0.03, 0.0])
    >>> round(alpha(b + 0.001, b, periods_per_year=1), 6)  # 0.001 per period above beta 1
    0.001
    """
    frame, was_series, x, b, has_nan = _with_benchmark(returns, benchmark, nan_policy)
    rf = _annual_rate_per_period(risk_free, frame, periods_per_year, "risk_free")
    ppy = _periods(frame, periods_per_year)
    bt = _beta_values(x, b, has_nan, frame)
    a = _mean((x - rf) - bt * (b - rf), has_nan)
    return _wrap(np.power(1.0 + a, ppy) - 1.0, frame, was_series, "alpha")


def tracking_error(
    returns: pd.DataFrame | pd.Series,
    benchmark: pd.Series,
    *,
    periods_per_year: float | None = None,
    annualize: bool = True,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Tracking error: volatility of the return difference to a benchmark.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    benchmark : Series
        Benchmark returns indexed by date, covering every date of ``returns``.
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    annualize : bool, default True
        Multiply by :math:`\sqrt{p}`.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"tracking_error"``, a fraction per year when annualised.

    Raises
    ------
    AlignmentError
        If the benchmark lacks dates of ``returns``.

    Notes
    -----
    .. math:: TE = \sigma(r_i - r_b)\sqrt{p} \quad (\text{ddof} = 1).

    References
    ----------
    .. [1] Grinold, R. C. & Kahn, R. N. (2000). *Active Portfolio Management*,
       2nd ed., McGraw-Hill, ch. 5.

    Examples
    --------
    >>> b = pd.Series([0.01, -0.02, 0.03, 0.0])
    >>> round(tracking_error(b + pd.Series([0.01, -0.01, 0.01, -0.01]), b, annualize=False), 6)
    0.011547
    """
    frame, was_series, x, b, has_nan = _with_benchmark(returns, benchmark, nan_policy)
    te = _std(x - b, has_nan, 1)
    if annualize:
        te = te * math.sqrt(_periods(frame, periods_per_year))
    return _wrap(te, frame, was_series, "tracking_error")


def information_ratio(
    returns: pd.DataFrame | pd.Series,
    benchmark: pd.Series,
    *,
    periods_per_year: float | None = None,
    annualize: bool = True,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Information ratio: mean active return per unit of tracking error.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    benchmark : Series
        Benchmark returns indexed by date, covering every date of ``returns``.
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    annualize : bool, default True
        Multiply the per-period ratio by :math:`\sqrt{p}`.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns.

    Returns
    -------
    Series or float
        Per asset, named ``"information_ratio"``.

    Raises
    ------
    AlignmentError
        If the benchmark lacks dates of ``returns``.
    DataError
        If an asset tracks the benchmark exactly (zero tracking error: undefined).

    Notes
    -----
    .. math:: IR = \frac{\overline{r_i - r_b}}{\sigma(r_i - r_b)}\sqrt{p}

    (empyrical's ``excess_sharpe`` times :math:`\sqrt{p}`).

    References
    ----------
    .. [1] Grinold, R. C. & Kahn, R. N. (2000). *Active Portfolio Management*,
       2nd ed., McGraw-Hill, ch. 5.

    Examples
    --------
    >>> b = pd.Series([0.01, -0.02, 0.03, 0.0])
    >>> r = b + pd.Series([0.02, 0.0, 0.02, 0.0])
    >>> round(information_ratio(r, b, annualize=False), 6)  # 0.01 / 0.011547
    0.866025
    """
    frame, was_series, x, b, has_nan = _with_benchmark(returns, benchmark, nan_policy)
    act = x - b
    te = _std(act, has_nan, 1)
    _undefined(
        te,
        te <= 0,
        frame,
        statistic="The information ratio",
        why="the asset tracks the benchmark exactly (zero tracking error)",
        fix="Drop that asset.",
    )
    ir = _mean(act, has_nan) / te
    if annualize:
        ir = ir * math.sqrt(_periods(frame, periods_per_year))
    return _wrap(ir, frame, was_series, "information_ratio")


# --------------------------------------------------------------------------- rolling
ROLLING_STATISTICS = (
    "volatility",
    "downside_deviation",
    "sharpe_ratio",
    "sortino_ratio",
    "omega_ratio",
    "skewness",
    "kurtosis",
    "max_drawdown",
    "value_at_risk",
    "conditional_value_at_risk",
    "tail_ratio",
    "beta",
    "alpha",
    "tracking_error",
    "information_ratio",
)
_BENCHMARK_STATISTICS = ("beta", "alpha", "tracking_error", "information_ratio")
_ROLLING_PARAMS: dict[str, tuple[str, ...]] = {
    "volatility": ("annualize", "ddof"),
    "downside_deviation": ("target", "annualize"),
    "sharpe_ratio": ("risk_free", "annualize", "ddof"),
    "sortino_ratio": ("target", "annualize"),
    "omega_ratio": ("target",),
    "skewness": ("bias",),
    "kurtosis": ("bias",),
    "max_drawdown": (),
    "value_at_risk": ("level", "method"),
    "conditional_value_at_risk": ("level", "method"),
    "tail_ratio": ("level",),
    "beta": (),
    "alpha": ("risk_free",),
    "tracking_error": ("annualize",),
    "information_ratio": ("annualize",),
}
_CHUNK = 4_000_000  # elements per block of sliding windows (bounds memory, not a loop per window)


def _msum(a: np.ndarray, w: int) -> np.ndarray:
    """Sum ``w`` consecutive rows: row k sums rows k .. k + w - 1 (cumulative-sum form)."""
    c = np.zeros((a.shape[0] + 1, *a.shape[1:]))
    np.cumsum(a, axis=0, out=c[1:])
    return c[w:] - c[:-w]


def _window_blocks(a: np.ndarray, w: int, func: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply ``func`` to blocks of sliding windows, shape (k, n_assets, w) -> (k, n_assets)."""
    from numpy.lib.stride_tricks import sliding_window_view

    view = sliding_window_view(a, w, axis=0)
    step = max(1, _CHUNK // max(1, a.shape[1] * w))
    return np.concatenate([func(view[i : i + step]) for i in range(0, view.shape[0], step)], axis=0)


def _rolling_moments(x: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the moving mean and biased central moments m2, m3, m4 of each window."""
    c = x - x.mean(axis=0)  # centring first keeps the cumulative sums accurate
    c2 = c * c
    s1, s2, s3, s4 = _msum(c, w) / w, _msum(c2, w) / w, _msum(c2 * c, w) / w, _msum(c2 * c2, w) / w
    m2 = np.maximum(s2 - s1**2, 0.0)
    m3 = s3 - 3 * s1 * s2 + 2 * s1**3
    m4 = s4 - 4 * s1 * s3 + 6 * s1**2 * s2 - 3 * s1**4
    return s1 + x.mean(axis=0), m2, m3, m4


def _rolling_undefined(bad: np.ndarray, frame: pd.DataFrame, w: int, statistic: str, why: str) -> None:
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DataError(
            f"Rolling {statistic} is undefined for {frame.columns[j]!r} in the window ending "
            f"{frame.index[i + w - 1]!r}: {why}. Use a longer window or drop that asset."
        )


def rolling(
    returns: pd.DataFrame | pd.Series,
    window: int,
    statistic: str | Callable[..., Any] = "volatility",
    *,
    benchmark: pd.Series | pd.DataFrame | None = None,
    periods_per_year: float | None = None,
    nan_policy: str = "raise",
    **params: Any,
) -> pd.DataFrame | pd.Series:
    r"""Compute a statistic over a moving window of dates, for every asset at once.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    window : int
        Number of periods in each window (e.g. 63 for about three months of days).
    statistic : str or function, default "volatility"
        One of ``"volatility"``, ``"downside_deviation"``, ``"sharpe_ratio"``,
        ``"sortino_ratio"``, ``"omega_ratio"``, ``"skewness"``, ``"kurtosis"``,
        ``"max_drawdown"``, ``"value_at_risk"``, ``"conditional_value_at_risk"``,
        ``"tail_ratio"``, ``"beta"``, ``"alpha"``, ``"tracking_error"``,
        ``"information_ratio"`` (or the poolkit.risk function of that name).
    benchmark : Series, optional
        Benchmark returns, required by beta, alpha, tracking error and information ratio.
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    nan_policy : {"raise", "drop"}, default "raise"
        Missing returns raise, or dates with any missing value are dropped.
    **params
        Options of the statistic, as in its own function: ``annualize``, ``ddof``,
        ``risk_free``, ``target``, ``bias``, ``level``, ``method``.

    Returns
    -------
    DataFrame or Series
        One row per full window, indexed by the window's last date (the first
        ``window - 1`` dates have no full window and are left out); columns =
        assets; ``attrs["statistic"]`` and ``attrs["window"]`` say what it holds.
        Units as the statistic's own function.

    Raises
    ------
    ParameterError
        For an unknown statistic or option, a missing benchmark, or ``"pairwise"``.
    InsufficientDataError
        If there are fewer dates than ``window``.
    DataError
        If a window makes a ratio undefined (e.g. constant returns for a Sharpe ratio).

    Notes
    -----
    Moment statistics use moving sums from cumulative sums,
    :math:`\sum_{s=t-w+1}^{t} x_s = C_t - C_{t-w}` with :math:`C_t = \sum_{s \le t} x_s`
    (on returns centred by their overall mean, which keeps the differences accurate),
    so their cost does not grow with the window. Quantile and drawdown statistics
    work on strided windows (``numpy.lib.stride_tricks.sliding_window_view``) in
    blocks. Each window's value equals the statistic's function applied to that
    window alone.

    References
    ----------
    .. [1] Welford, B. P. (1962). Note on a method for calculating corrected sums of
       squares and products. Technometrics 4(3), 419-420.

    Examples
    --------
    >>> r = pd.Series([0.01, -0.01, 0.01, -0.01, 0.03])
    >>> rolling(r, 4, "volatility", annualize=False).round(6).tolist()
    [0.011547, 0.019149]
    """
    name = statistic if isinstance(statistic, str) else getattr(statistic, "__name__", repr(statistic))
    check_choice(name, ROLLING_STATISTICS, name="statistic")
    if nan_policy == "pairwise":
        raise ParameterError("`rolling` supports nan_policy 'raise' or 'drop', not 'pairwise'.")
    allowed = _ROLLING_PARAMS[name]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ParameterError(f"Rolling {name} takes options {list(allowed)}; got unknown {unknown}.")
    w = check_positive_int(window, name="window", minimum=2)
    need = {"skewness": 3, "kurtosis": 4}.get(name, 2)
    if params.get("method") == "cornish_fisher":
        need = 4
    if w < need:
        raise ParameterError(f"`window` must be at least {need} for {name}, got {w}.")
    if name in _BENCHMARK_STATISTICS:
        if benchmark is None:
            raise ParameterError(f"Rolling {name} needs `benchmark` (a Series of benchmark returns).")
        frame, was_series, x, b, _ = _with_benchmark(returns, benchmark, nan_policy)
        b = np.ascontiguousarray(b)
    elif benchmark is not None:
        raise ParameterError(f"`benchmark` is not used by rolling {name}; leave it out.")
    else:
        frame, was_series, x, _ = _prepare(returns, nan_policy=nan_policy, min_obs=1)
    if frame.shape[0] < w:
        raise InsufficientDataError(
            f"`returns` has {frame.shape[0]} dates, fewer than the window of {w}; use a shorter window."
        )
    annualize = bool(params.get("annualize", True))

    def ppy() -> float:
        return _periods(frame, periods_per_year)

    if name in ("volatility", "sharpe_ratio"):
        ddof = _check_ddof(params.get("ddof", 1))
        rf = _annual_rate_per_period(params.get("risk_free", 0.0), frame, periods_per_year, "risk_free")
        mean, m2, _, _ = _rolling_moments(x - rf, w)
        sd = np.sqrt(m2 * w / (w - ddof))
        if name == "volatility":
            out = sd
        else:
            _rolling_undefined(
                sd <= 1e-15 * np.abs(mean).clip(1e-300),
                frame,
                w,
                "Sharpe ratio",
                "the returns are constant (zero volatility)",
            )
            out = mean / sd
        if annualize:
            out = out * math.sqrt(ppy())
    elif name in ("downside_deviation", "sortino_ratio", "omega_ratio"):
        t = _annual_rate_per_period(params.get("target", 0.0), frame, periods_per_year, "target")
        ex = x - t
        if name == "omega_ratio":
            down = _msum(np.maximum(-ex, 0.0), w)
            _rolling_undefined(down <= 0, frame, w, "Omega ratio", "no return falls below the target")
            out = _msum(np.maximum(ex, 0.0), w) / down
        else:
            low = np.minimum(ex, 0.0)
            dd = np.sqrt(np.maximum(_msum(low * low, w), 0.0) / w)
            if name == "downside_deviation":
                out = dd * (math.sqrt(ppy()) if annualize else 1.0)
            else:
                _rolling_undefined(dd <= 0, frame, w, "Sortino ratio", "no return falls below the target")
                out = (_msum(ex, w) / w) / dd * (math.sqrt(ppy()) if annualize else 1.0)
    elif name in ("skewness", "kurtosis"):
        _, m2, m3, m4 = _rolling_moments(x, w)
        _rolling_undefined(m2 <= 0, frame, w, name, "the returns are constant")
        nn = np.full_like(m2, float(w))
        bias = bool(params.get("bias", False))
        out = _skew_from(nn, m2, m3, bias) if name == "skewness" else _kurt_from(nn, m2, m4, bias)
    elif name == "max_drawdown":
        xp = _path_values(x, frame)
        with np.errstate(divide="ignore"):
            logw = np.maximum(np.log1p(xp), -1e6)
        lw = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(logw, axis=0)])

        def _mdd(v: np.ndarray) -> np.ndarray:
            return np.expm1((v - np.maximum.accumulate(v, axis=-1)).min(axis=-1))

        out = _window_blocks(lw, w + 1, _mdd)
    elif name in ("value_at_risk", "conditional_value_at_risk", "tail_ratio"):
        level = check_level(params.get("level", 0.95))
        method = check_choice(params.get("method", "historical"), VAR_METHODS, name="method")
        if name == "tail_ratio" or method == "historical":
            if name == "conditional_value_at_risk":
                k = int(_hist_cut(np.array([float(w)]), level)[0])

                def _es(v: np.ndarray) -> np.ndarray:
                    return -np.partition(v, k - 1, axis=-1)[..., :k].mean(axis=-1)

                out = _window_blocks(x, w, _es)
            else:
                qs = [1.0 - level] if name == "value_at_risk" else [level, 1.0 - level]

                def _q(v: np.ndarray) -> np.ndarray:
                    q = np.quantile(v, qs, axis=-1)
                    if name == "value_at_risk":
                        return -q[0]
                    low = np.abs(q[1])
                    return np.abs(q[0]) / np.where(low > 0, low, np.nan)

                out = _window_blocks(x, w, _q)
                if name == "tail_ratio":
                    _rolling_undefined(np.isnan(out), frame, w, "tail ratio", "the lower quantile is zero")
        else:
            mean, m2, m3, m4 = _rolling_moments(x, w)
            sd = np.sqrt(m2 * w / (w - 1))
            want = "var" if name == "value_at_risk" else "es"
            if method == "gaussian":
                out = _parametric_loss(mean, sd, level, want)
            else:
                _rolling_undefined(m2 <= 0, frame, w, name, "the returns are constant")
                nn = np.full_like(m2, float(w))
                s, kk = _skew_from(nn, m2, m3, False), _kurt_from(nn, m2, m4, False)
                out = _parametric_loss(mean, sd, level, want, s, kk)
    else:  # benchmark statistics
        if name in ("beta", "alpha"):
            xm, bm = x.mean(axis=0), b.mean(axis=0)
            xc, bc = x - xm, b - bm
            sx, sb = _msum(xc, w), _msum(bc, w)
            var_b = _msum(bc * bc, w) - sb * sb / w
            _rolling_undefined(var_b <= 0, frame, w, name, "the benchmark is constant")
            bt = (_msum(xc * bc, w) - sx * sb / w) / var_b
            if name == "beta":
                out = bt
            else:
                rf = _annual_rate_per_period(
                    params.get("risk_free", 0.0), frame, periods_per_year, "risk_free"
                )
                a = (sx / w + xm - rf) - bt * (sb / w + bm - rf)
                out = np.power(1.0 + a, ppy()) - 1.0
        else:
            mean, m2, _, _ = _rolling_moments(x - b, w)
            te = np.sqrt(m2 * w / (w - 1))
            if name == "tracking_error":
                out = te
            else:
                _rolling_undefined(te <= 0, frame, w, "information ratio", "zero tracking error")
                out = mean / te
            if annualize:
                out = out * math.sqrt(ppy())
    index = frame.index[w - 1 :]
    if was_series:
        res: pd.DataFrame | pd.Series = pd.Series(out[:, 0], index=index.copy(), name=frame.columns[0])
    else:
        res = pd.DataFrame(out, index=index.copy(), columns=frame.columns.copy())
    res.attrs.update({"statistic": name, "window": w})
    return res


# --------------------------------------------------------------------------- summary
def summary(
    returns: pd.DataFrame | pd.Series,
    benchmark: pd.Series | pd.DataFrame | None = None,
    risk_free: float = 0.0,
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
    risk_free : float, default 0.0
        **Annual** risk-free rate (Sharpe, alpha) and Sortino target, converted per
        period as :math:`(1 + r_f)^{1/p} - 1`.
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
        ``level``), ``"tail ratio"``; with a benchmark also ``"beta"``,
        ``"alpha (annual)"``, ``"tracking error (annual)"``, ``"information ratio"``.
        ``attrs`` holds ``"periods_per_year"``, ``"risk_free"``, ``"level"``,
        ``"var_method"`` and ``"units"`` (column -> unit).

    Raises
    ------
    DataError
        For NaNs (policy ``"raise"``) or an asset for which a ratio is undefined
        (e.g. a constant column has no Sharpe ratio).
    AlignmentError
        If the benchmark lacks dates of ``returns``.

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
    ppy = _periods(frame, periods_per_year)
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
    }
    units = {
        "observations": "count of dates",
        "annual return": "fraction per year, compounded (CAGR)",
        "annual volatility": f"fraction per year (per-period std, ddof=1, x sqrt({ppy:g}))",
        "Sharpe ratio": f"per year (x sqrt({ppy:g})); excess over risk_free={risk_free:g}",
        "Sortino ratio": f"per year; target = risk_free={risk_free:g}",
        "max drawdown": "fraction, negative (-0.3 = 30 % below the peak)",
        "Calmar ratio": "annual return / |max drawdown|",
        "skewness": "no unit (adjusted G1)",
        "excess kurtosis": "no unit (adjusted G2; 0 for a normal law)",
        f"VaR {pct} (per period)": f"fraction lost in one period, positive ({var_method})",
        f"CVaR {pct} (per period)": f"mean fraction lost beyond VaR, positive ({var_method})",
        "tail ratio": f"|{level:g} quantile| / |{1 - level:g} quantile|",
    }
    if benchmark is not None:
        cols["beta"] = beta(frame, benchmark, **kw)
        cols["alpha (annual)"] = alpha(frame, benchmark, risk_free, periods_per_year=ppy, **kw)
        cols["tracking error (annual)"] = tracking_error(frame, benchmark, periods_per_year=ppy, **kw)
        cols["information ratio"] = information_ratio(frame, benchmark, periods_per_year=ppy, **kw)
        units.update(
            {
                "beta": "no unit",
                "alpha (annual)": "fraction per year, compounded",
                "tracking error (annual)": "fraction per year",
                "information ratio": "per year",
            }
        )
    table = pd.DataFrame(cols)
    table.index.name = "asset"
    table.attrs.update(
        {
            "periods_per_year": ppy,
            "risk_free": float(risk_free),
            "level": level,
            "var_method": var_method,
            "units": units,
        }
    )
    return table

r"""Linear factor models of asset returns: regression on given factors, or principal components.

A factor model splits each asset's return into a part driven by a few common factors and a
part of its own,

.. math:: r_{i,t} = \alpha_i + \sum_k B_{ik} f_{k,t} + \varepsilon_{i,t}, \qquad
          \Sigma = B \Sigma_f B^\top + D ,

with :math:`D = \operatorname{diag}(d_1, \dots, d_N)` the specific (idiosyncratic)
variances. The common part is what pooling cannot diversify away; the specific part is
what it can. :func:`factor_model` fits one, :func:`poolkit.risk.covariance` uses it as
``method="factor"``, and :func:`poolkit.pooling.systematic_decomposition` splits pools with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from poolkit._validation import check_choice, check_positive_int, check_returns
from poolkit.exceptions import (
    AlignmentError,
    CovarianceError,
    DataError,
    InsufficientDataError,
    ParameterError,
)

__all__ = ["ALIGNMENTS", "PCA_ON", "FactorModel", "factor_model"]

#: How :func:`factor_model` matches the dates of returns and factors.
ALIGNMENTS = ("period", "date")
#: What the principal components of a statistical factor model are taken of.
PCA_ON = ("correlation", "covariance")
#: Column names read as a risk-free rate (case-insensitive): never silently used as a factor.
_RISK_FREE_NAMES = ("rf", "risk_free", "riskfree", "risk-free", "rfr")
#: pandas period of each frequency name of :func:`poolkit.data.periods_per_year`.
_PERIOD_CODES = {252: ("daily", "D"), 365: ("daily", "D"), 52: ("weekly", "W-FRI"), 12: ("monthly", "M"),
                 4: ("quarterly", "Q"), 1: ("annual", "Y")}


def _frequency(index: pd.Index, name: str) -> tuple[int, str, str]:
    """Return (periods per year, frequency name, pandas period code) of a DatetimeIndex."""
    from poolkit.data import periods_per_year

    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError(
            f"`{name}` must be indexed by dates (a DatetimeIndex) to be aligned with the other input, "
            f"got {type(index).__name__}; load it with poolkit.data.load_returns."
        )
    ppy = periods_per_year(index)
    label, code = _PERIOD_CODES[ppy]
    return ppy, label, code


def align_factors(
    returns: pd.DataFrame, factors: pd.DataFrame, *, align: str = "period"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(returns, factors)`` restricted to their common dates, rows matched one to one.

    Both must be indexed by sorted, unique dates of the same frequency. ``align="date"``
    matches identical dates; ``align="period"`` matches calendar periods of that frequency
    (the day, the week ending Friday, the month, the quarter, the year), so factors dated the
    1st of the month meet returns dated the last trading day of the same month. The result
    keeps the dates of ``returns``.
    """
    check_choice(align, ALIGNMENTS, name="align")
    _, r_label, r_code = _frequency(returns.index, "returns")
    f_ppy, f_label, _ = _frequency(factors.index, "factors")
    if r_label != f_label:
        raise AlignmentError(
            f"`returns` are {r_label} but `factors` are {f_label}: a regression needs one return per "
            f"factor observation of the same period. Resample the higher frequency first, e.g. "
            f"`poolkit.data.resample_returns(returns, {f_label!r})` (returns are compounded), then fit "
            f"with align='period'."
        )
    if align == "date":
        r_keys, f_keys = returns.index, factors.index
    else:
        r_keys = returns.index.to_period(r_code)
        f_keys = factors.index.to_period(r_code)
        for keys, frame, what in ((r_keys, returns, "returns"), (f_keys, factors, "factors")):
            if keys.has_duplicates:
                first = frame.index[keys.duplicated()][0]
                raise DataError(
                    f"`{what}` has two dates in the {r_label} period of {first.date()}; align='period' needs "
                    f"one observation per period. Resample it to {r_label} first."
                )
    common = r_keys.intersection(f_keys)
    if len(common) == 0:
        hint = ""
        if align == "date" and len(returns.index.to_period(r_code).intersection(factors.index.to_period(r_code))):
            hint = (
                f" They share {r_label} periods but not dates (e.g. factors dated the 1st of the month, "
                f"returns at month-end): use align='period'."
            )
        raise AlignmentError(
            f"`returns` ({returns.index[0].date()} to {returns.index[-1].date()}) and `factors` "
            f"({factors.index[0].date()} to {factors.index[-1].date()}) have no {'date' if align == 'date' else r_label + ' period'} "
            f"in common.{hint} Load returns that overlap the factors' history."
        )
    r_pos = r_keys.get_indexer(common)
    f_pos = f_keys.get_indexer(common)
    r_out = returns.iloc[r_pos]
    f_out = factors.iloc[f_pos].copy()
    f_out.index = r_out.index.copy()
    f_out.attrs["periods_per_year"] = f_ppy
    return r_out, f_out


# --------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class FactorModel:
    r"""A fitted linear factor model :math:`r_t = \alpha + B f_t + \varepsilon_t` (see :func:`factor_model`).

    Attributes
    ----------
    loadings : DataFrame of shape (n_assets, n_factors)
        :math:`B`, index = assets, columns = factors (named ``factor``).
    factor_cov : DataFrame of shape (n_factors, n_factors)
        :math:`\Sigma_f`, the sample covariance (``ddof=1``) of the factor returns.
    specific_variance : Series of shape (n_assets,)
        :math:`d_i`, the variance of each asset's residual (``ddof=1``), named ``specific_variance``.
    intercept : Series of shape (n_assets,)
        :math:`\alpha_i` per period (the mean return for statistical factors).
    r_squared : Series of shape (n_assets,)
        Share of each asset's variance explained by the factors, :math:`1 - d_i / s_i^2`.
    factor_returns : DataFrame of shape (n_dates, n_factors)
        The factor series the model was fitted on, on the dates used. For statistical
        factors, the principal-component scores :math:`V_K^\top z_t` (of standardised,
        unitless returns with ``pca="correlation"``; of demeaned returns otherwise).
    kind : str
        ``"regression"`` (given factors) or ``"statistical"`` (principal components).
    pca : str
        ``"correlation"`` or ``"covariance"`` for statistical factors, ``""`` otherwise.
    n_obs : int
        Number of dates used.
    info : dict
        Details of the fit: ``excess`` (risk-free column subtracted, or ""), ``align``,
        ``explained_variance`` (statistical: share of the total variance of each component),
        ``eigenvalues``, ``selection`` (how the number of factors was chosen) and
        ``mp_edge`` (the Marchenko-Pastur bound used by the default selection).
    """

    loadings: pd.DataFrame
    factor_cov: pd.DataFrame
    specific_variance: pd.Series
    intercept: pd.Series
    r_squared: pd.Series
    factor_returns: pd.DataFrame
    kind: str
    pca: str
    n_obs: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def assets(self) -> pd.Index:
        """The asset names, in the order of the returns."""
        return self.loadings.index

    @property
    def factors(self) -> pd.Index:
        """The factor names."""
        return self.loadings.columns

    def _systematic(self) -> np.ndarray:
        b = self.loadings.to_numpy()
        mat = b @ self.factor_cov.to_numpy() @ b.T
        return np.asarray((mat + mat.T) / 2.0)

    @property
    def systematic_covariance(self) -> pd.DataFrame:
        r"""The factor part of the covariance, :math:`B \Sigma_f B^\top` (assets x assets)."""
        return pd.DataFrame(self._systematic(), index=self.assets.copy(), columns=self.assets.copy())

    @property
    def covariance(self) -> pd.DataFrame:
        r"""The implied covariance :math:`B \Sigma_f B^\top + D`, positive semi-definite by construction."""
        mat = self._systematic()
        mat[np.diag_indices(len(mat))] += self.specific_variance.to_numpy()
        out = pd.DataFrame(mat, index=self.assets.copy(), columns=self.assets.copy())
        out.attrs["method"] = "factor"
        return out


def _check_factor_frame(factors: object, *, risk_free: str) -> pd.DataFrame:
    if not isinstance(factors, pd.DataFrame):
        raise TypeError(
            f"`factors` must be a DataFrame of factor returns (dates x factors), got {type(factors).__name__}; "
            f"e.g. poolkit.data.load_returns('sample:ff_factors')."
        )
    frame, _ = check_returns(factors, name="factors", min_obs=3)
    if risk_free and risk_free not in frame.columns:
        raise AlignmentError(
            f"`risk_free` names the column {risk_free!r}, which `factors` does not have; its columns are "
            f"{list(frame.columns)}."
        )
    lookalike = [c for c in frame.columns if str(c).strip().lower() in _RISK_FREE_NAMES and c != risk_free]
    if lookalike:
        raise ParameterError(
            f"`factors` has a column {lookalike[0]!r} that looks like the risk-free rate, not a factor. Pass "
            f"risk_free={lookalike[0]!r} to regress excess returns r - {lookalike[0]} on the other factors, or "
            f"drop it (`factors.drop(columns={lookalike[0]!r})`); rename it if it really is a factor."
        )
    values = frame.to_numpy()
    if np.abs(values).max() > 1.0:
        col = frame.columns[int(np.argmax(np.abs(values).max(axis=0)))]
        raise DataError(
            f"`factors` column {col!r} holds a return of {np.abs(frame[col]).max():g} in one period (above "
            f"100 %): factor returns look like percentages. Pass them as fractions (`factors / 100`)."
        )
    return frame


def _mp_count(eig: np.ndarray, n_obs: int, n_assets: int) -> tuple[int, float]:
    r"""Count the eigenvalues above the Marchenko-Pastur edge :math:`\bar\lambda (1 + \sqrt{N/T})^2`."""
    edge = float(eig.mean()) * (1.0 + np.sqrt(n_assets / n_obs)) ** 2
    k = int((eig > edge).sum())
    return min(max(k, 1), n_assets - 1), edge


def _statistical(
    x: np.ndarray, names: pd.Index, n_factors: int | None, pca: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Principal-component factors of ``x``: (B, Σ_f, d, α, factor returns, info)."""
    t, n = x.shape
    mu = x.mean(axis=0)
    xc = x - mu
    var = np.einsum("ti,ti->i", xc, xc) / (t - 1)
    scale = np.sqrt(var) if pca == "correlation" else np.ones(n)
    z = xc / scale
    s = (z.T @ z) / (t - 1)
    eig, vec = np.linalg.eigh((s + s.T) / 2.0)
    eig, vec = eig[::-1], vec[:, ::-1]
    eig = np.clip(eig, 0.0, None)
    if n_factors is None:
        k, edge = _mp_count(eig, t, n)
        selection = "Marchenko-Pastur: eigenvalues above the edge of pure noise"
    else:
        k, edge = n_factors, float(eig.mean()) * (1.0 + np.sqrt(n / t)) ** 2
        selection = "given"
    if k >= n or k > t - 1:
        raise ParameterError(
            f"`n_factors` must be below the number of assets ({n}) and of dates minus one ({t - 1}), got {k}."
        )
    if eig[k - 1] <= 1e-12 * max(eig[0], 1e-300):
        raise CovarianceError(
            f"the returns have only {int((eig > 1e-12 * eig[0]).sum())} non-zero principal component(s); "
            f"{k} were asked. Use fewer factors."
        )
    v = vec[:, :k]
    v = v * np.where(v.sum(axis=0) < 0, -1.0, 1.0)  # sign: loadings sum to >= 0 (PC1 is "the market")
    b = scale[:, None] * v
    sigma_f = np.diag(eig[:k])
    d = np.clip(var - np.einsum("ik,k,ik->i", b, eig[:k], b), 0.0, None)
    f = z @ v
    info = {
        "eigenvalues": pd.Series(eig, index=pd.RangeIndex(1, n + 1, name="component"), name="eigenvalue"),
        "explained_variance": float(eig[:k].sum() / eig.sum()),
        "selection": selection,
        "mp_edge": edge,
    }
    return b, sigma_f, d, mu, f, info


def _regression(y: np.ndarray, f: np.ndarray, factor_names: pd.Index) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """OLS with intercept of every column of ``y`` on ``f``: (B, Σ_f, d, α)."""
    t, k = f.shape
    fm, ym = f.mean(axis=0), y.mean(axis=0)
    fc, yc = f - fm, y - ym
    sv = np.linalg.svd(fc, compute_uv=False)
    if sv[-1] <= 1e-10 * max(sv[0], 1e-300):
        raise CovarianceError(
            f"the factors {list(factor_names)} are collinear (or one is constant) on the dates used: the "
            f"loadings are not identified. Drop a redundant factor."
        )
    coef, *_ = np.linalg.lstsq(fc, yc, rcond=None)  # (k, n)
    resid = yc - fc @ coef
    d = np.einsum("ti,ti->i", resid, resid) / (t - 1)
    sigma_f = (fc.T @ fc) / (t - 1)
    return coef.T, (sigma_f + sigma_f.T) / 2.0, d, ym - fm @ coef


def factor_model(
    returns: pd.DataFrame,
    factors: pd.DataFrame | None = None,
    n_factors: int | None = None,
    *,
    risk_free: str = "",
    align: str = "period",
    pca: str = "correlation",
    nan_policy: str = "raise",
) -> FactorModel:
    r"""Fit a linear factor model: regression on given factors, or statistical factors.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic simple returns, indexed by sorted unique dates; columns are assets.
    factors : DataFrame of shape (n_dates_f, n_factors), optional
        Factor returns as fractions (0.01 = 1 %), indexed by dates of the **same frequency**
        as ``returns`` (e.g. ``poolkit.data.load_returns("sample:ff_factors")``, monthly).
        Omitted: statistical factors, the principal components of the returns.
    n_factors : int, optional
        Number of principal components (statistical factors only). Default: the number of
        eigenvalues above the Marchenko-Pastur edge of pure noise (at least 1).
    risk_free : str, default ""
        Column of ``factors`` holding the per-period risk-free rate: it is subtracted from the
        returns (the model explains excess returns :math:`r - r_f`) and is not a factor.
    align : {"period", "date"}, default "period"
        How dates are matched: ``"period"`` pairs the observations of the same calendar day,
        week (ending Friday), month, quarter or year (the Fama-French factors are dated the 1st
        of the month, resampled returns the last trading day); ``"date"`` needs identical dates.
        The model keeps the dates of ``returns``.
    pca : {"correlation", "covariance"}, default "correlation"
        Statistical factors are the principal components of the correlation matrix (every
        asset standardised first, so a volatile asset cannot dominate) or of the covariance.
    nan_policy : {"raise", "drop"}, default "raise"
        ``"drop"`` drops every date where an asset is missing.

    Returns
    -------
    FactorModel
        ``loadings`` :math:`B`, ``factor_cov`` :math:`\Sigma_f`, ``specific_variance``
        :math:`D`, ``intercept`` :math:`\alpha`, ``r_squared``, ``factor_returns`` and the
        implied ``covariance`` :math:`B\Sigma_f B^\top + D`, all labelled by asset and factor.

    Raises
    ------
    AlignmentError
        If ``returns`` and ``factors`` have different frequencies (e.g. daily returns and
        monthly factors: resample the returns) or no date in common.
    DataError
        For shuffled or duplicated dates, missing values, factors given in percent, or a
        constant asset (its :math:`R^2` is undefined).
    ParameterError
        For ``n_factors`` with given factors, a number of components not below the number of
        assets, an unknown ``align``/``pca``, or a factor column that looks like a risk-free
        rate (``"RF"``) without ``risk_free``.
    CovarianceError
        If the factors are collinear on the dates used.
    InsufficientDataError
        If fewer than ``n_factors + 2`` dates remain.

    Notes
    -----
    **Regression** (time series, one OLS per asset with an intercept, all at once):

    .. math:: r_{i,t} - r_{f,t} = \alpha_i + \sum_k B_{ik} f_{k,t} + \varepsilon_{i,t}, \qquad
              \hat B^\top = (\tilde F^\top \tilde F)^{-1} \tilde F^\top \tilde R ,

    with :math:`\tilde F, \tilde R` demeaned. **Statistical**: with
    :math:`S = V \Lambda V^\top` the correlation (or covariance) matrix of the returns,
    the factors are the first :math:`K` principal components :math:`f_t = V_K^\top z_t` of the
    standardised returns :math:`z_t`, with :math:`B = D_\sigma V_K`,
    :math:`\Sigma_f = \Lambda_K`; the sign of each component makes its loadings sum to a
    non-negative number. The default :math:`K` counts the eigenvalues above
    :math:`\bar\lambda (1 + \sqrt{N/T})^2`, the largest eigenvalue pure noise would give [3]_.

    In both cases :math:`\Sigma_f` and the residual variances :math:`d_i` use the divisor
    :math:`T - 1`, so the implied covariance

    .. math:: \hat\Sigma = B \Sigma_f B^\top + D, \qquad \hat\Sigma_{ii} = s_i^2 , \qquad
              R_i^2 = 1 - d_i / s_i^2

    is positive semi-definite and reproduces every sample variance :math:`s_i^2` exactly;
    only the covariances between assets are replaced by their factor part.

    References
    ----------
    .. [1] Fama, E. F. and French, K. R. (1993). Common risk factors in the returns on stocks
       and bonds. J. Financial Economics 33(1), 3-56.
    .. [2] Connor, G. and Korajczyk, R. A. (1988). Risk and return in an equilibrium APT:
       application of a new test methodology. J. Financial Economics 21(2), 255-289.
    .. [3] Laloux, L., Cizeau, P., Bouchaud, J.-P. and Potters, M. (1999). Noise dressing of
       financial correlation matrices. Phys. Rev. Lett. 83(7), 1467-1470.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> dates = pd.date_range("2000-01-31", periods=240, freq="ME", name="date")
    >>> mkt = pd.DataFrame({"MKT": rng.normal(0.005, 0.04, 240)}, index=dates)
    >>> noise = rng.normal(0, 0.02, (240, 3))
    >>> r = pd.DataFrame(mkt.to_numpy() * [0.5, 1.0, 1.5] + noise, index=dates, columns=["A", "B", "C"])
    >>> model = factor_model(r, mkt)
    >>> model.loadings["MKT"].round(1).tolist()  # planted betas 0.5, 1.0, 1.5
    [0.5, 1.0, 1.5]
    >>> model.covariance.shape
    (3, 3)
    """
    check_choice(pca, PCA_ON, name="pca")
    check_choice(nan_policy, ("raise", "drop"), name="nan_policy")
    frame, _ = check_returns(returns, name="returns", min_obs=3, nan_policy=nan_policy)
    info: dict[str, Any] = {"excess": risk_free, "align": align if factors is not None else ""}
    if factors is None:
        if risk_free:
            raise ParameterError("`risk_free` names a column of `factors`; it needs `factors`.")
        if n_factors is not None:
            n_factors = check_positive_int(n_factors, name="n_factors")
        if frame.shape[1] < 2:
            raise InsufficientDataError(
                "statistical factors need at least two assets (a principal component of one asset is the asset)."
            )
        x = frame.to_numpy()
        const = np.ptp(x, axis=0) == 0
        if const.any():
            raise DataError(
                f"`returns` column {frame.columns[const][0]!r} is constant: its correlation (and R²) is "
                f"undefined. Drop it first."
            )
        b, sigma_f, d, alpha, f, extra = _statistical(x, frame.columns, n_factors, pca)
        info.update(extra)
        names = pd.Index([f"PC{k + 1}" for k in range(b.shape[1])], name="factor")
        used = frame
        kind = "statistical"
    else:
        if n_factors is not None:
            raise ParameterError(
                "`n_factors` chooses the number of statistical factors; with given `factors` select their "
                "columns instead (e.g. `factors[['MktRF', 'SMB']]`)."
            )
        fac = _check_factor_frame(factors, risk_free=risk_free)
        used, fac = align_factors(frame, fac, align=align)
        if risk_free:
            used = used.sub(fac[risk_free], axis=0)
            fac = fac.drop(columns=risk_free)
        if fac.shape[1] == 0:
            raise ParameterError("`factors` has no factor column left once `risk_free` is set aside.")
        k = fac.shape[1]
        if len(used) < k + 2:
            raise InsufficientDataError(
                f"only {len(used)} date(s) are common to `returns` and `factors`; a regression on {k} "
                f"factor(s) needs at least {k + 2}, and many more for stable loadings."
            )
        x = used.to_numpy()
        names = pd.Index([str(c) for c in fac.columns], name="factor")
        b, sigma_f, d, alpha = _regression(x, fac.to_numpy(), names)
        f = fac.to_numpy()
        kind = "regression"
    x = used.to_numpy()
    var = np.var(x, axis=0, ddof=1)
    flat = (np.ptp(x, axis=0) == 0) | (var <= 0)
    if flat.any():
        bad = used.columns[flat].tolist()
        raise DataError(f"`returns` column(s) {bad} are constant on the dates used: R² is undefined. Drop them.")
    assets = used.columns.copy()
    return FactorModel(
        loadings=pd.DataFrame(b, index=assets, columns=names),
        factor_cov=pd.DataFrame(sigma_f, index=names.copy(), columns=names.copy()),
        specific_variance=pd.Series(d, index=assets.copy(), name="specific_variance"),
        intercept=pd.Series(alpha, index=assets.copy(), name="intercept"),
        r_squared=pd.Series(np.clip(1.0 - d / var, 0.0, 1.0), index=assets.copy(), name="r_squared"),
        factor_returns=pd.DataFrame(f, index=used.index.copy(), columns=names.copy()),
        kind=kind,
        pca=pca if kind == "statistical" else "",
        n_obs=len(used),
        info=info,
    )

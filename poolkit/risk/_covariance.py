"""Covariance and correlation matrices: sample, shrinkage, EWMA; from volatilities and correlations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from poolkit._numerics import corr_to_cov, resolve_periods_per_year
from poolkit._validation import check_choice, check_covariance, check_fraction
from poolkit.exceptions import AlignmentError, CovarianceError, InsufficientDataError, ParameterError
from poolkit.risk._common import _checked, _std, _undefined
from poolkit.risk._estimators import (
    SHRINKAGE_TARGETS,
    _check_detone,
    _clean,
    _ewma_effective_obs,
    _ledoit_wolf_constant_correlation,
    _ledoit_wolf_single_index,
)

COV_METHODS = ("sample", "ledoit_wolf", "oas", "ewma", "factor")
CORR_METHODS = ("pearson", "spearman", "kendall")
#: RiskMetrics (1996) daily decay 0.94, as a half-life in periods: ln(0.5) / ln(0.94).
RISKMETRICS_HALFLIFE = math.log(0.5) / math.log(0.94)


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
    shrinkage_target: str | None = None,
    denoise: bool = False,
    detone: bool | int = False,
    annualize: bool = False,
    periods_per_year: float | None = None,
    nan_policy: str = "raise",
    n_factors: int | None = None,
    factors: pd.DataFrame | None = None,
) -> pd.DataFrame:
    r"""Estimate the covariance matrix of asset returns, per period by default.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, indexed by date; columns are assets.
    method : {"sample", "ledoit_wolf", "oas", "ewma", "factor"}, default "sample"
        ``"sample"``: unbiased sample covariance (``ddof=1``). ``"ledoit_wolf"`` and
        ``"oas"``: shrinkage towards :math:`\mu I` (demeaned, ``ddof=0``, as in
        scikit-learn; ``"ledoit_wolf"`` takes other targets, see ``shrinkage_target``).
        ``"ewma"``: exponentially weighted, recent dates weigh more.
        ``"factor"``: :math:`B \Sigma_f B^\top + D` of :func:`poolkit.risk.factor_model`
        (statistical factors unless ``factors`` are given).
    halflife : float, optional
        Half-life in periods of the EWMA weights (only for ``"ewma"``). Default:
        RiskMetrics' daily decay :math:`\lambda = 0.94` (half-life 11.2 periods).
    shrinkage_target : {"identity", "single_index", "constant_correlation"}, optional
        Target of ``"ledoit_wolf"`` (only): the scaled identity :math:`\mu I` (default,
        Ledoit & Wolf 2004a [2]_), the single-index (market-model) covariance (Ledoit &
        Wolf 2003 [4]_) or the constant-correlation covariance (Ledoit & Wolf 2004b [5]_).
    denoise : bool, default False
        Replace the correlation eigenvalues that the Marchenko-Pastur law attributes to
        noise by their average (López de Prado 2020 [6]_), on top of any method.
    detone : bool or int, default False
        Remove the largest principal component (``True``), or that many components (an
        int), from the correlation, on top of any method (after ``denoise``). The result
        is singular: meant for clustering, not for inversion.
    annualize : bool, default False
        Multiply by ``periods_per_year`` (inferred from the dates when omitted).
    periods_per_year : float, optional
        Used only with ``annualize=True``.
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        ``"pairwise"`` (sample method only) uses, for each pair, the dates where both
        are observed; the result may then not be positive semi-definite.
    n_factors, factors : optional
        Only for ``"factor"``: passed to :func:`poolkit.risk.factor_model` (number of
        principal components, or factor returns of the same frequency to regress on).

    Returns
    -------
    DataFrame of shape (n_assets, n_assets)
        Index = columns = asset names. Its ``attrs["shrinkage"]`` holds the
        shrinkage intensity for ``"ledoit_wolf"`` and ``"oas"`` (and
        ``attrs["shrinkage_target"]`` the target of ``"ledoit_wolf"``); with
        ``denoise=True``, ``attrs["denoise"]`` holds ``q``, the fitted
        ``noise_variance``, ``lambda_plus`` and the number of eigenvalues kept,
        ``n_factors``; with ``detone``, ``attrs["detone"]`` the components removed.

    Raises
    ------
    ParameterError
        For an unknown method, a bad half-life, or ``"pairwise"`` with a
        shrinkage/EWMA method or with ``denoise``; a ``shrinkage_target`` with
        another method than ``"ledoit_wolf"``; ``detone`` removing every component.
    DataError, InsufficientDataError
        For NaNs (policy ``"raise"``) or fewer than two dates; a constant asset with
        the constant-correlation target, or a constant equal-weighted market with the
        single-index target.
    CovarianceError
        If detoning leaves an asset without variance.

    Warns
    -----
    PoolkitWarning
        If the Marchenko-Pastur fit does not converge (the noise variance is then 1).

    Notes
    -----
    Sample: :math:`S = \frac{1}{N-1} \sum_t (r_t - \bar r)(r_t - \bar r)^\top`,
    so :math:`S_{ij} = \rho_{ij} \sigma_i \sigma_j`.

    Shrinkage: :math:`\hat\Sigma = (1 - \delta) S_0 + \delta \mu I`, with
    :math:`S_0` the covariance with divisor :math:`N` and
    :math:`\mu = \operatorname{tr}(S_0) / n`; Ledoit-Wolf [2]_ and OAS [3]_ choose
    :math:`\delta` from the data. Both cost about one matrix product
    :math:`X^\top X`. Note the divisor :math:`N` (``ddof=0``) differs from the
    sample method's :math:`N - 1`. With another ``shrinkage_target`` :math:`F`,
    :math:`\hat\Sigma = (1 - \delta) S_0 + \delta F`; these structured targets keep
    the sample variances on the diagonal, :math:`F_{ii} = s_{ii}`, with :math:`s = S_0`:
    single index :math:`F_{ij} = s_{im} s_{jm} / s_{mm}` (the market :math:`m` is the
    equal-weighted average of the assets, as in the authors' code and
    PyPortfolioOpt); constant correlation :math:`F_{ij} = \bar r \sqrt{s_{ii} s_{jj}}`,
    :math:`\bar r` the average sample correlation. The intensity is
    :math:`\delta = \max(0, \min(1, \hat\kappa / N))`,
    :math:`\hat\kappa = (\hat\pi - \hat\rho) / \hat\gamma`, with
    :math:`\hat\pi = \sum_{ij} \frac{1}{N}\sum_t (x_{it} x_{jt} - s_{ij})^2` (:math:`x` the demeaned returns) (the
    estimation error of :math:`S`), :math:`\hat\gamma = \lVert F - S \rVert_F^2` (the
    misspecification of :math:`F`) and :math:`\hat\rho` the covariance of the two
    errors, as in [4]_ (appendix B) and [5]_ (appendix A).

    Denoising [6]_ (ch. 2): with :math:`q = N / n` dates per asset (for EWMA,
    :math:`N` is Kish's effective number of dates :math:`(\sum w)^2 / \sum w^2`), the Marchenko-Pastur law
    of a pure-noise correlation matrix has its eigenvalues below
    :math:`\lambda_+ = \sigma^2 (1 + \sqrt{1/q})^2`. :math:`\sigma^2` is fitted as in the
    book (snippets 2.2-2.4): minimising the squared distance between the
    Marchenko-Pastur density and a Gaussian kernel density (bandwidth 0.01) of the
    eigenvalues on 1000 points. The eigenvalues below :math:`\lambda_+` are replaced by
    their average (the trace is kept), the correlation is rebuilt from the same
    eigenvectors and re-scaled to a unit diagonal, and the variances are put back:
    :math:`\hat\Sigma = D \tilde C D`. Detoning removes :math:`W_M \Lambda_M W_M^\top`
    (the largest components) from the correlation and re-scales it the same way.

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
    .. [4] Ledoit, O. & Wolf, M. (2003). Improved estimation of the covariance matrix of
       stock returns with an application to portfolio selection. J. Empir. Finance
       10(5), 603-621.
    .. [5] Ledoit, O. & Wolf, M. (2004). Honey, I shrunk the sample covariance matrix.
       J. Portfolio Manag. 30(4), 110-119.
    .. [6] López de Prado, M. (2020). *Machine Learning for Asset Managers*, Cambridge
       University Press, ch. 2 (Denoising and detoning).

    Examples
    --------
    >>> r = pd.DataFrame({"A": [0.01, -0.01, 0.02, 0.0], "B": [0.02, -0.02, 0.04, 0.0]})
    >>> cov = covariance(r)
    >>> round(float(cov.loc["A", "B"] / cov.loc["A", "A"]), 6)  # B = 2 A
    2.0
    >>> lw = covariance(r, "ledoit_wolf", shrinkage_target="constant_correlation")
    >>> lw.attrs["shrinkage"]  # two assets: the target is the sample itself
    0.0
    """
    check_choice(method, COV_METHODS, name="method")
    if shrinkage_target is not None:
        check_choice(shrinkage_target, SHRINKAGE_TARGETS, name="shrinkage_target")
        if method != "ledoit_wolf":
            raise ParameterError(
                f"`shrinkage_target` applies to method='ledoit_wolf' only, got method={method!r}."
            )
    if not isinstance(denoise, (bool, np.bool_)):
        raise ParameterError(f"`denoise` must be True or False, got {denoise!r}.")
    if denoise and nan_policy == "pairwise":
        raise ParameterError(
            "denoise=True needs one number of dates for every asset; use nan_policy='drop' instead "
            "of 'pairwise'."
        )
    if nan_policy == "pairwise" and method != "sample":
        raise ParameterError(
            f"nan_policy='pairwise' is only supported by method='sample', got method={method!r}; "
            f"use nan_policy='drop' to keep the dates where every asset is observed."
        )
    if halflife is not None and method != "ewma":
        raise ParameterError(f"`halflife` applies to method='ewma' only, got method={method!r}.")
    if (n_factors is not None or factors is not None) and method != "factor":
        raise ParameterError(f"`n_factors` and `factors` apply to method='factor' only, got method={method!r}.")
    frame, _ = _checked(returns, min_obs=2, nan_policy=nan_policy)
    if isinstance(returns, pd.Series):
        raise TypeError("`returns` must be a DataFrame of dates x assets to estimate a covariance matrix.")
    if method == "factor":
        if denoise or (detone is not False and detone != 0):
            raise ParameterError(
                "denoise/detone apply to estimated covariances, not to method='factor', whose factor model "
                "already separates the common factors from the noise; choose the factors with `n_factors`."
            )
        from poolkit.risk._factor import factor_model

        fm = factor_model(frame, factors, n_factors).covariance
        if annualize:
            fm = fm * resolve_periods_per_year(periods_per_year, frame.index)
            fm.attrs["method"] = "factor"
        return fm
    x = frame.to_numpy()
    n_detone = _check_detone(detone, x.shape[1])
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
            mat = xc.T @ xc
            mat /= x.shape[0] - 1  # in place: no second n x n array
    elif method == "ledoit_wolf":
        if shrinkage_target == "single_index":
            mat, shrink = _ledoit_wolf_single_index(x)
        elif shrinkage_target == "constant_correlation":
            mat, shrink = _ledoit_wolf_constant_correlation(x, frame.columns)
        else:
            mat, shrink = _ledoit_wolf(x)
    elif method == "oas":
        mat, shrink = _oas(x)
    else:
        h = RISKMETRICS_HALFLIFE if halflife is None else halflife
        if isinstance(h, bool) or not isinstance(h, (int, float, np.number)) or not np.isfinite(h) or h <= 0:
            raise ParameterError(f"`halflife` must be a positive number of periods, got {halflife!r}.")
        mat = _ewma(x, float(h))
    cleaned = None
    if denoise or n_detone:
        n_obs = float(x.shape[0])
        if method == "ewma":
            n_obs = _ewma_effective_obs(x.shape[0], RISKMETRICS_HALFLIFE if halflife is None else float(halflife))
        mat, cleaned = _clean(mat, denoise=bool(denoise), detone=n_detone, n_obs=n_obs, columns=frame.columns)
    if annualize:
        mat = mat * resolve_periods_per_year(periods_per_year, frame.index)
    out = pd.DataFrame(mat, index=frame.columns.copy(), columns=frame.columns.copy())
    out.attrs["method"] = method
    if shrink is not None:
        out.attrs["shrinkage"] = shrink
    if method == "ledoit_wolf":
        out.attrs["shrinkage_target"] = shrinkage_target or "identity"
    if cleaned is not None:
        out.attrs["denoise"] = cleaned
    if n_detone:
        out.attrs["detone"] = n_detone
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
    mat = corr_to_cov(v, r)
    cov = pd.DataFrame(mat, index=vols.index.copy(), columns=vols.index.copy())
    return check_covariance(cov, name="cov (from vols and corr)")

"""What pooling buys: diversification ratio, effective numbers of assets and bets, benefit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from poolkit._numerics import cov_to_corr, portfolio_variance, portfolio_volatility, standalone_volatility
from poolkit._numerics import diversification_ratio as _diversification_ratio
from poolkit._validation import check_aligned, check_choice, check_covariance
from poolkit.exceptions import CovarianceError, ParameterError, SolverError

__all__ = [
    "diversification_benefit",
    "diversification_ratio",
    "diversification_table",
    "effective_number_of_assets",
    "effective_number_of_bets",
    "minimum_torsion",
]


def _weights_and_cov(weights: object, cov: object) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    c = check_covariance(cov, name="cov")
    w = check_aligned(weights, c.columns, name="weights").to_numpy()
    if not np.any(w):
        raise ParameterError("`weights` are all zero; a pool needs at least one holding.")
    return w, c.to_numpy(), c.columns


def _standalone_and_pooled(weights: object, cov: object) -> tuple[float, float]:
    r"""Return :math:`(\sum_i |w_i| \sigma_i, \sqrt{w^\top \Sigma w})` of checked weights and covariance."""
    w, mat, _ = _weights_and_cov(weights, cov)
    return float(standalone_volatility(w, mat)), float(portfolio_volatility(w, mat))


def diversification_ratio(weights: pd.Series, cov: pd.DataFrame) -> float:
    r"""Return the diversification ratio of a pool: standalone risk over pooled risk.

    Parameters
    ----------
    weights : Series of shape (n_assets,)
        Holding of each asset, indexed by asset name.
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, labelled by asset (any period unit: the ratio is unitless).

    Returns
    -------
    float
        :math:`DR \ge 1` for long-only pools; 1 means pooling bought nothing.

    Raises
    ------
    AlignmentError
        If the assets of ``weights`` and ``cov`` differ.
    CovarianceError
        If ``cov`` is not a valid covariance matrix, or the pool has zero risk.
    ParameterError
        If every weight is zero.

    Notes
    -----
    .. math:: DR(w) = \frac{\sum_i |w_i| \sigma_i}{\sigma_P}, \qquad \sigma_P = \sqrt{w^\top \Sigma w} .

    For :math:`N` equal-volatility assets held equally with a common correlation
    :math:`\rho`, :math:`DR = 1 / \sqrt{\rho + (1 - \rho)/N}`: it tends to
    :math:`1/\sqrt{\rho}` however many assets are pooled, and equals 1 at :math:`\rho = 1`.

    References
    ----------
    .. [1] Choueifaty, Y. and Coignard, Y. (2008). Toward maximum diversification.
       J. Portfolio Management 35(1), 40-51.

    Examples
    --------
    >>> w = pd.Series({"A": 0.5, "B": 0.5})
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.04]], index=["A", "B"], columns=["A", "B"])
    >>> round(diversification_ratio(w, cov), 4)  # sqrt(2) for two uncorrelated equal assets
    1.4142
    """
    w, mat, _ = _weights_and_cov(weights, cov)
    ratio = float(_diversification_ratio(w, mat))
    if np.isnan(ratio):
        raise CovarianceError("the pool has zero volatility under `cov`; the diversification ratio is undefined.")
    return ratio


def effective_number_of_assets(weights: pd.Series) -> float:
    r"""Return the effective number of assets held: the inverse Herfindahl index of the weights.

    Parameters
    ----------
    weights : Series of shape (n_assets,)
        Holding of each asset, indexed by asset name (need not sum to 1; long-short allowed).

    Returns
    -------
    float
        Between 1 (everything in one asset) and :math:`N` (equal weights).

    Raises
    ------
    ParameterError
        If every weight is zero or a weight is missing.

    Notes
    -----
    .. math:: N_{eff} = \frac{\left(\sum_i |w_i|\right)^2}{\sum_i w_i^2} = \frac{1}{HHI}
              \quad \text{when } w \ge 0,\ \sum_i w_i = 1 .

    It counts holdings, not risks: ten stocks of one sector count as ten. See
    :func:`effective_number_of_bets` for a count that sees correlations.

    References
    ----------
    .. [1] Hirschman, A. O. (1964). The paternity of an index. American Economic Review 54(5), 761.

    Examples
    --------
    >>> round(effective_number_of_assets(pd.Series({"A": 0.5, "B": 0.25, "C": 0.25})), 4)
    2.6667
    """
    w = check_aligned(weights, weights.index if isinstance(weights, pd.Series) else pd.Index(weights), name="weights")
    v = w.to_numpy()
    if not np.any(v):
        raise ParameterError("`weights` are all zero; the effective number of assets is undefined.")
    return float(np.abs(v).sum() ** 2 / (v @ v))


def minimum_torsion(cov: pd.DataFrame, *, method: str = "exact", max_iter: int = 10_000, tol: float = 1e-10) -> pd.DataFrame:
    r"""Return the minimum-torsion matrix that turns the assets into uncorrelated factors.

    Parameters
    ----------
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, labelled by asset; every variance must be positive
        and the matrix non-singular.
    method : {"exact", "approximate"}
        ``"exact"`` runs the fixed-point iteration of Meucci, Santangelo and Deguest;
        ``"approximate"`` uses the closed-form first step :math:`\sigma C^{-1/2}\sigma^{-1}`.
    max_iter : int, default 10000
        Largest number of iterations of the exact method.
    tol : float, default 1e-10
        Relative change of the objective below which the iteration stops.

    Returns
    -------
    DataFrame of shape (n_factors, n_assets)
        The torsion :math:`t`: factor :math:`k` has returns :math:`F_k = \sum_i t_{ki} R_i`;
        index ``"MT1"..`` (named ``factor``), columns = assets.

    Raises
    ------
    CovarianceError
        If ``cov`` is invalid, has a zero variance or is singular.
    SolverError
        If the exact iteration does not converge within ``max_iter``.

    Notes
    -----
    Among all linear maps :math:`F = tR` whose factors are uncorrelated, the minimum-torsion
    map keeps each factor closest to its asset, minimising the tracking error

    .. math:: \min_t \sqrt{\frac1N \sum_k \operatorname{Var}\left(\frac{F_k - R_k}{\sigma_k}\right)}
              \quad \text{s.t. } \operatorname{Cov}(F) \text{ diagonal} .

    With :math:`C` the correlation matrix and :math:`c = C^{1/2}` (symmetric root), the exact
    solution iterates :math:`u = (D c^2 D)^{1/2}`, :math:`q = u^{-1} D c`,
    :math:`D = \operatorname{diag}(q c)` from :math:`D = I` until :math:`\lVert c - Dq \rVert_F`
    settles; then :math:`t = \sigma (D q) c^{-1} \sigma^{-1}`.

    References
    ----------
    .. [1] Meucci, A., Santangelo, A. and Deguest, R. (2015). Risk budgeting and
       diversification based on optimized uncorrelated factors. Risk 11/2015, 70-75
       (SSRN 2276632).

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.09]], index=["A", "B"], columns=["A", "B"])
    >>> minimum_torsion(cov).round(6).to_numpy().tolist()  # uncorrelated assets: the identity
    [[1.0, 0.0], [0.0, 1.0]]
    """
    check_choice(method, ("exact", "approximate"), name="method")
    c_df = check_covariance(cov, name="cov")
    mat = c_df.to_numpy()
    if (np.diag(mat) <= 0).any():
        k = int(np.argmin(np.diag(mat)))
        raise CovarianceError(
            f"`cov` has a zero variance for {c_df.index[k]!r}; minimum-torsion factors need every asset to move."
        )
    sigma, corr = cov_to_corr(mat)
    vals, vecs = np.linalg.eigh(corr)
    if vals[0] <= 1e-12 * vals[-1]:
        raise CovarianceError(
            f"`cov` is singular (smallest correlation eigenvalue {vals[0]:.3g}); minimum-torsion factors need a "
            f"full-rank covariance. Use a shrinkage estimator (poolkit.risk.covariance(returns, method='ledoit_wolf'))."
        )
    root = (vecs * np.sqrt(vals)) @ vecs.T
    inv_root = (vecs / np.sqrt(vals)) @ vecs.T
    n = len(sigma)
    if method == "approximate":
        x = inv_root
    else:
        d = np.ones(n)
        corr2 = root @ root
        prev = np.inf
        for _ in range(max_iter):
            u_mat = d[:, None] * corr2 * d[None, :]
            u_vals, u_vecs = np.linalg.eigh(u_mat)
            u_inv = (u_vecs / np.sqrt(np.clip(u_vals, 1e-300, None))) @ u_vecs.T
            q = u_inv @ (d[:, None] * root)
            d = np.einsum("ij,ji->i", q, root)
            pi = d[:, None] * q
            obj = float(np.linalg.norm(root - pi))
            if np.isfinite(prev) and abs(obj - prev) / max(obj, 1e-300) / n <= tol:
                break
            prev = obj
        else:
            raise SolverError(
                f"minimum_torsion did not converge in {max_iter} iterations; raise `max_iter` or use "
                f"method='approximate'."
            )
        x = pi @ inv_root
    t = sigma[:, None] * x / sigma[None, :]
    names = pd.Index([f"MT{k + 1}" for k in range(n)], name="factor")
    return pd.DataFrame(t, index=names, columns=c_df.columns.copy())


def _bets_distribution(w: np.ndarray, mat: np.ndarray, cols: pd.Index, method: str) -> np.ndarray:
    """Diversification distribution p_k (shares of pooled variance by uncorrelated factor)."""
    var = float(portfolio_variance(w, mat))
    if var <= 0.0:
        raise CovarianceError("the pool has zero variance under `cov`; the effective number of bets is undefined.")
    if method == "pca":
        vals, vecs = np.linalg.eigh(mat)
        exposures = vecs.T @ w
        p = exposures**2 * np.clip(vals, 0.0, None) / var
    else:
        t = minimum_torsion(pd.DataFrame(mat, index=cols, columns=cols)).to_numpy()
        exposures = np.linalg.solve(t.T, w)
        p = exposures * (t @ mat @ w) / var
    p = np.clip(p, 0.0, None)
    return p / p.sum()


def effective_number_of_bets(weights: pd.Series, cov: pd.DataFrame, method: str = "minimum_torsion") -> float:
    r"""Return Meucci's effective number of uncorrelated bets in a pool.

    Parameters
    ----------
    weights : Series of shape (n_assets,)
        Holding of each asset, indexed by asset name.
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, labelled by asset.
    method : {"minimum_torsion", "pca"}
        How the pool is split into uncorrelated factors: the minimum-torsion factors
        (closest to the assets, see :func:`minimum_torsion`), or principal components.

    Returns
    -------
    float
        :math:`ENB \in [1, N]`: 1 when all the risk comes from one factor, :math:`N` when it is
        spread evenly over all :math:`N` factors.

    Raises
    ------
    AlignmentError
        If the assets of ``weights`` and ``cov`` differ.
    CovarianceError
        If ``cov`` is invalid, or (minimum torsion) singular.
    ParameterError
        If ``method`` is unknown or every weight is zero.

    Notes
    -----
    Write the pooled return through uncorrelated factors :math:`F = tR` with exposures
    :math:`b = (t^\top)^{-1} w`. The diversification distribution is the share of pooled
    variance each factor carries, and ENB is the exponential of its entropy:

    .. math:: p_k = \frac{b_k\,(t \Sigma w)_k}{w^\top \Sigma w} \ge 0, \qquad
              ENB = \exp\left(-\sum_k p_k \ln p_k\right) .

    With principal components (:math:`t = E^\top`, :math:`\Sigma = E \Lambda E^\top`),
    :math:`p_k = (E^\top w)_k^2 \lambda_k / \sigma_P^2`; the ENB is then ill-defined when
    eigenvalues are tied (the eigenvectors are not unique). For uncorrelated assets held with
    equal risk (risk parity) both methods give :math:`ENB = N`.

    References
    ----------
    .. [1] Meucci, A. (2009). Managing diversification. Risk 22(5), 74-79 (SSRN 1358533).
    .. [2] Meucci, A., Santangelo, A. and Deguest, R. (2015). Risk budgeting and
       diversification based on optimized uncorrelated factors. Risk 11/2015, 70-75
       (SSRN 2276632).

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.09]], index=["A", "B"], columns=["A", "B"])
    >>> w = pd.Series({"A": 0.6, "B": 0.4})  # 0.6 * 0.2 = 0.4 * 0.3: equal risk
    >>> round(effective_number_of_bets(w, cov), 6)
    2.0
    """
    check_choice(method, ("minimum_torsion", "pca"), name="method")
    w, mat, cols = _weights_and_cov(weights, cov)
    p = _bets_distribution(w, mat, cols, method)
    nz = p[p > 0]
    return float(np.exp(-np.sum(nz * np.log(nz))))


def diversification_benefit(weights: pd.Series, cov: pd.DataFrame) -> pd.Series:
    r"""Return how much risk pooling removes, in absolute and relative terms.

    Parameters
    ----------
    weights : Series of shape (n_assets,)
        Holding of each asset, indexed by asset name.
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, labelled by asset, in the unit wanted for the
        volatilities (annualise ``cov`` first for annual figures).

    Returns
    -------
    Series
        Named ``diversification_benefit`` with entries ``standalone`` (:math:`\sum|w_i|\sigma_i`,
        the risk if every correlation were 1), ``pooled`` (:math:`\sigma_P`), ``absolute``
        (standalone minus pooled) and ``relative`` (absolute / standalone, in [0, 1]).

    Raises
    ------
    AlignmentError
        If the assets of ``weights`` and ``cov`` differ.
    CovarianceError
        If ``cov`` is not a valid covariance matrix.
    ParameterError
        If every weight is zero.

    Notes
    -----
    .. math:: B_{abs} = \sum_i |w_i| \sigma_i - \sqrt{w^\top \Sigma w}, \qquad
              B_{rel} = 1 - \frac{\sigma_P}{\sum_i |w_i| \sigma_i} = 1 - \frac{1}{DR} .

    It is zero when all correlations are 1 (the seed's FAQ 6.2: strongly correlated assets
    cannot lower each other's risk) and grows as correlations fall.

    References
    ----------
    .. [1] Markowitz, H. (1952). Portfolio selection. J. Finance 7(1), 77-91.

    Examples
    --------
    >>> w = pd.Series({"A": 0.5, "B": 0.5})
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.04]], index=["A", "B"], columns=["A", "B"])
    >>> diversification_benefit(w, cov).round(4).tolist()
    [0.2, 0.1414, 0.0586, 0.2929]
    """
    standalone, pooled = _standalone_and_pooled(weights, cov)
    absolute = max(standalone - pooled, 0.0)
    relative = absolute / standalone if standalone > 0 else 0.0
    return pd.Series(
        {"standalone": standalone, "pooled": pooled, "absolute": absolute, "relative": relative},
        name="diversification_benefit",
    )


def diversification_table(weights: pd.Series | pd.DataFrame, cov: pd.DataFrame) -> pd.DataFrame:
    r"""Tabulate the pooling measures of one or several weightings side by side.

    Parameters
    ----------
    weights : Series or DataFrame
        One weighting (Series indexed by asset) or several (DataFrame assets x strategies,
        e.g. from :func:`poolkit.allocation.allocate_many`).
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, in the unit wanted for the volatilities.

    Returns
    -------
    DataFrame
        One row per strategy (index named ``strategy``); columns ``volatility``
        (:math:`\sigma_P`), ``standalone_volatility``, ``diversification_ratio``,
        ``relative_benefit``, ``effective_number_of_assets`` and ``effective_number_of_bets``
        (minimum torsion).

    Raises
    ------
    AlignmentError
        If the assets of ``weights`` and ``cov`` differ.
    CovarianceError
        If ``cov`` is invalid or singular.

    Notes
    -----
    Each column is the function of the same name: :func:`diversification_ratio`,
    :func:`diversification_benefit`, :func:`effective_number_of_assets`,
    :func:`effective_number_of_bets`.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.04]], index=["A", "B"], columns=["A", "B"])
    >>> w = pd.DataFrame({"equal": [0.5, 0.5], "all_A": [1.0, 0.0]}, index=["A", "B"])
    >>> diversification_table(w, cov)["effective_number_of_bets"].round(6).tolist()
    [2.0, 1.0]
    """
    frame = weights.to_frame(name=weights.name or "weights") if isinstance(weights, pd.Series) else weights
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"`weights` must be a Series or DataFrame indexed by asset, got {type(weights).__name__}.")
    rows = {}
    for name in frame.columns:  # a loop over strategies, not assets
        w = frame[name]
        benefit = diversification_benefit(w, cov)
        rows[name] = {
            "volatility": benefit["pooled"],
            "standalone_volatility": benefit["standalone"],
            "diversification_ratio": diversification_ratio(w, cov),
            "relative_benefit": benefit["relative"],
            "effective_number_of_assets": effective_number_of_assets(w),
            "effective_number_of_bets": effective_number_of_bets(w, cov),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "strategy"
    return out

"""Hierarchical allocation: hierarchical risk parity (HRP) and hierarchical equal risk contribution (HERC)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from poolkit._numerics import correlation_tree, cov_to_corr, portfolio_variance
from poolkit._validation import check_choice, check_positive_int
from poolkit.allocation._core import WEIGHT_TOL, cov_array
from poolkit.exceptions import CovarianceError, SolverError

__all__ = ["herc", "hrp"]

LINKAGES = ("single", "complete", "average", "weighted", "centroid", "median", "ward")


def _as_cov(returns_or_cov: pd.DataFrame, cov_method: str) -> pd.DataFrame:
    """Return a covariance: the input itself if it is one, else ``risk.covariance`` of the returns."""
    if not isinstance(returns_or_cov, pd.DataFrame):
        raise TypeError(
            f"`returns_or_cov` must be a DataFrame of returns (dates x assets) or a covariance (assets x assets), "
            f"got {type(returns_or_cov).__name__}."
        )
    if returns_or_cov.index.equals(returns_or_cov.columns):
        return returns_or_cov
    from poolkit import risk

    return risk.covariance(returns_or_cov, method=cov_method)


def _tree(
    returns_or_cov: pd.DataFrame, linkage: str, cov_method: str, what: str
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(cov frame, cov array, distance matrix, linkage matrix)``."""
    check_choice(linkage, LINKAGES, name="linkage")
    frame, s = cov_array(_as_cov(returns_or_cov, cov_method))
    var = np.diag(s)
    if (var <= 0).any():
        bad = frame.columns[var <= 0].tolist()
        raise CovarianceError(f"{what}: asset(s) {bad} have zero variance; drop them.")
    dist, link = correlation_tree(cov_to_corr(s)[1], linkage)
    return frame, s, dist, link


def hrp(
    returns_or_cov: pd.DataFrame,
    linkage: str = "single",
    *,
    cov_method: str = "sample",
) -> pd.Series:
    r"""Allocate by hierarchical risk parity (Lopez de Prado).

    Parameters
    ----------
    returns_or_cov : DataFrame
        Returns (dates x assets) or a covariance (assets x assets, index = columns).
    linkage : {"single", "complete", "average", "weighted", "centroid", "median", "ward"}
        Linkage of scipy's agglomerative clustering; "single" is the original.
    cov_method : str, default "sample"
        Estimator passed to :func:`poolkit.risk.covariance` when returns are given.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"hrp"``, summing to 1, all positive.

    Raises
    ------
    ParameterError
        If ``linkage`` is unknown.
    CovarianceError
        If an asset has zero variance or the covariance is invalid.

    Notes
    -----
    1. Cluster the assets by the correlation distance :math:`d_{ij} = \sqrt{(1-\rho_{ij})/2}`
       (scipy ``linkage``), and order them by the dendrogram's leaves (quasi-diagonalisation).
    2. Recursive bisection: split each ordered list in two halves :math:`L, R`; with the
       inverse-variance portfolio :math:`\tilde w` of each half and its variance
       :math:`V = \tilde w^\top \Sigma \tilde w`, give
       :math:`\alpha = 1 - V_L / (V_L + V_R)` to :math:`L` and :math:`1-\alpha` to :math:`R`.

    No matrix is inverted, so it stays stable when :math:`\Sigma` is near singular; the
    halves follow the leaf order, not the clusters, which is its known weakness (HERC
    fixes it). Each half's variance is read from 2-D prefix sums, so the bisection is
    vectorised level by level.

    References
    ----------
    .. [1] Lopez de Prado, M. (2016). Building diversified portfolios that outperform out of
           sample. J. Portfolio Management 42(4), 59-69.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> hrp(cov).round(4).tolist()  # two assets: inverse variance
    [0.2, 0.8]
    """
    frame, s, _dist, link = _tree(returns_or_cov, linkage, cov_method, "hrp")
    from scipy.cluster.hierarchy import leaves_list

    order = leaves_list(link)
    n = len(order)
    so = s[np.ix_(order, order)]
    v = 1.0 / np.diag(so)
    m = so * np.outer(v, v)
    pm = np.zeros((n + 1, n + 1))
    pm[1:, 1:] = m.cumsum(0).cumsum(1)
    pv = np.concatenate([[0.0], v.cumsum()])

    def seg_var(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        block = pm[b, b] - pm[a, b] - pm[b, a] + pm[a, a]
        return block / (pv[b] - pv[a]) ** 2

    logw = np.zeros(n)
    starts, ends = np.array([0]), np.array([n])
    while starts.size:
        mids = starts + (ends - starts) // 2
        vl, vr = seg_var(starts, mids), seg_var(mids, ends)
        alpha = 1.0 - vl / (vl + vr)
        d = np.zeros(n + 1)
        np.add.at(d, starts, np.log(alpha))
        np.add.at(d, mids, np.log1p(-alpha) - np.log(alpha))
        np.add.at(d, ends, -np.log1p(-alpha))
        logw += d.cumsum()[:n]
        starts, ends = np.concatenate([starts, mids]), np.concatenate([mids, ends])
        keep = ends - starts > 1
        starts, ends = starts[keep], ends[keep]
    w = np.empty(n)
    w[order] = np.exp(logw)
    return _checked(w, frame.columns, "hrp")


def _checked(w: np.ndarray, assets: pd.Index, name: str) -> pd.Series:
    if not np.isfinite(w).all() or (w < 0).any() or abs(w.sum() - 1.0) > 1e-6:
        raise SolverError(f"{name} produced invalid weights; check the covariance.")
    w = w / w.sum()
    if abs(w.sum() - 1.0) > WEIGHT_TOL:
        raise SolverError(f"{name} produced weights summing to {w.sum():.12g}.")
    return pd.Series(w, index=assets.copy(), name=name)


def optimal_n_clusters(dist: np.ndarray, link: np.ndarray) -> int:
    r"""Choose the number of clusters by the two-order difference of the gap statistic.

    Notes
    -----
    With :math:`W_k` the sum over the :math:`k` clusters of the mean within-cluster
    distance, :math:`k^* = \arg\max_k W_{k+2} + W_k - 2W_{k+1}` over
    :math:`k \le \max(8, \sqrt n)` (Yue, Wang & Wei, 2009; as in skfolio).
    """
    from scipy.cluster.hierarchy import cut_tree

    n = dist.shape[0]
    if n <= 2:
        return n
    k_max = min(n, max(8, round(np.sqrt(n))))
    cuts = cut_tree(link, n_clusters=list(range(1, k_max + 1)))
    disp = np.empty(k_max)
    for j in range(k_max):  # a handful of cluster counts, each vectorised over assets
        labels = cuts[:, j]
        onehot = np.eye(j + 1)[labels]
        within = ((dist @ onehot) * onehot).sum(axis=0) / 2.0
        size = onehot.sum(0)
        pairs = size * (size - 1) / 2.0
        disp[j] = np.sum(np.where(pairs > 0, within / np.where(pairs > 0, pairs, 1.0), 0.0))
    gaps = disp[2:] + disp[:-2] - 2.0 * disp[1:-1]
    return int(np.argmax(gaps)) + 2


def herc(
    returns_or_cov: pd.DataFrame,
    linkage: str = "ward",
    *,
    n_clusters: int = 0,
    cov_method: str = "sample",
) -> pd.Series:
    r"""Allocate by hierarchical equal risk contribution (Raffinot).

    Parameters
    ----------
    returns_or_cov : DataFrame
        Returns (dates x assets) or a covariance (assets x assets, index = columns).
    linkage : {"ward", "single", "complete", "average", "weighted", "centroid", "median"}
        Linkage of scipy's agglomerative clustering.
    n_clusters : int, default 0
        Number of clusters to cut the tree into; 0 chooses it by the two-order
        difference of the gap statistic.
    cov_method : str, default "sample"
        Estimator passed to :func:`poolkit.risk.covariance` when returns are given.

    Returns
    -------
    Series
        Weights indexed by asset, named ``"herc"``, summing to 1, all positive.

    Raises
    ------
    ParameterError
        If ``linkage`` or ``n_clusters`` is invalid.
    CovarianceError
        If an asset has zero variance or the covariance is invalid.

    Notes
    -----
    1. Cluster as in :func:`hrp` and cut the dendrogram into :math:`K` clusters.
    2. Inside cluster :math:`c`: inverse-variance weights :math:`\tilde w_c`, with cluster
       risk :math:`V_c = \tilde w_c^\top \Sigma \tilde w_c`.
    3. Top-down along the dendrogram (not halves of a list): at each split, with
       :math:`V_L, V_R` the summed risks of the clusters on each side, the left side
       gets :math:`\alpha = 1 - V_L/(V_L+V_R)`, the right side :math:`1-\alpha`.

    Weights follow the tree, so similar assets share one risk budget; the result depends
    on the number of clusters and on the linkage.

    References
    ----------
    .. [1] Raffinot, T. (2018). The hierarchical equal risk contribution portfolio. SSRN 3237540.
    .. [2] Yue, S., Wang, X., Wei, M. (2009). Application of two-order difference to gap statistic.
           Trans. Tianjin Univ. 14, 217-221.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    >>> herc(cov).round(4).tolist()  # two singleton clusters: inverse variance
    [0.2, 0.8]
    """
    from scipy.cluster.hierarchy import fcluster, to_tree

    frame, s, dist, link = _tree(returns_or_cov, linkage, cov_method, "herc")
    n = s.shape[0]
    if n == 1:
        return pd.Series([1.0], index=frame.columns.copy(), name="herc")
    k = (
        optimal_n_clusters(dist, link)
        if n_clusters == 0
        else check_positive_int(n_clusters, name="n_clusters")
    )
    k = min(k, n)
    labels = fcluster(link, t=k, criterion="maxclust") - 1
    k = int(labels.max()) + 1
    onehot = np.eye(k)[labels]  # (n, k)
    inv = 1.0 / np.diag(s)
    intra = onehot * inv[:, None]
    intra /= intra.sum(0)
    cluster_var = portfolio_variance(intra, s)
    cluster_w = np.ones(k)

    def split(node: Any) -> None:
        ids = np.unique(labels[node.pre_order()])
        if ids.size <= 1:
            return
        left, right = node.get_left(), node.get_right()
        lid, rid = np.unique(labels[left.pre_order()]), np.unique(labels[right.pre_order()])
        vl, vr = cluster_var[lid].sum(), cluster_var[rid].sum()
        alpha = 1.0 - vl / (vl + vr)
        cluster_w[lid] *= alpha
        cluster_w[rid] *= 1.0 - alpha
        split(left)
        split(right)

    split(to_tree(link))
    w = intra @ cluster_w
    return _checked(w, frame.columns, "herc")

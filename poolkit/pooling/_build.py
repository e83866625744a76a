"""Build pools: by a criterion (risk level, expected return, horizon) or by clustering returns."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import cast

import numpy as np
import pandas as pd

from poolkit._numerics import CORRELATION_DISTANCES, correlation_tree, resolve_periods_per_year
from poolkit._validation import check_choice, check_nan_policy, check_positive_int, check_returns
from poolkit.exceptions import DataError, InsufficientDataError, ParameterError, PoolkitWarning
from poolkit.pooling._common import POOL_NAME

__all__ = ["build_pools", "cluster_pools", "cluster_tree", "pool_count_scores", "pools_by"]

LINKAGES = ("ward", "average", "complete", "single")
DISTANCES = CORRELATION_DISTANCES


def _criterion(data: object, by: str, periods_per_year: int | None) -> pd.Series:
    """Per-asset values of the pooling criterion ``by``."""
    if isinstance(data, pd.Series):
        return data.rename(by)
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            f"`table_or_returns` must be a DataFrame of returns (dates x assets), a table (one row per asset) "
            f"or a Series of values per asset, got {type(data).__name__}."
        )
    if isinstance(data.index, pd.DatetimeIndex):
        frame, _ = check_returns(data, name="returns", nan_policy="pairwise")
        ppy = resolve_periods_per_year(periods_per_year, frame.index)
        stats = {
            "volatility": frame.std(ddof=1) * np.sqrt(ppy),
            "expected_return": frame.mean() * ppy,
        }
        if by not in stats:
            raise ParameterError(
                f"`by`={by!r} cannot be computed from returns; use one of {sorted(stats)}, or pass a table "
                f"with a {by!r} column (one row per asset)."
            )
        return stats[by].rename(by)
    from poolkit.pooling._assumptions import _ALIASES

    frame = data.copy()
    for key in ("name", "asset"):
        if key in frame.columns:
            frame = frame.set_index(key)
            break
    aliases = _ALIASES.get(by, (by,))
    found = [c for c in frame.columns if str(c).lower() in aliases or c == by]
    if not found:
        from poolkit._validation import did_you_mean

        raise DataError(
            f"`table` has no {by!r} column; columns are {list(map(str, frame.columns))}."
            f"{did_you_mean(by, map(str, frame.columns))}"
        )
    return frame[found[0]].rename(by)


def pools_by(
    table_or_returns: object,
    by: str = "volatility",
    bins: int | Sequence[float] = 3,
    labels: Sequence[str] | None = None,
    *,
    periods_per_year: int | None = None,
) -> pd.Series:
    r"""Group assets into pools by a criterion: risk level, expected return, horizon or any column.

    Parameters
    ----------
    table_or_returns : DataFrame or Series
        Either returns (dates x assets, DatetimeIndex), from which ``"volatility"`` and
        ``"expected_return"`` (annualised) are computed; or a table with one row per asset
        (as for :func:`from_assumptions`) holding the column ``by``; or a Series of values.
    by : str, default "volatility"
        The criterion. A numeric criterion is cut into ``bins``; a text criterion
        (e.g. ``"asset_class"``) gives one pool per distinct value.
    bins : int or sequence of float, default 3
        An integer cuts at quantiles (pools of nearly equal size); a sorted sequence of
        edges cuts at those values (the lowest edge included).
    labels : sequence of str, optional
        Pool names, one per bin. Default ``low, medium, high`` for three bins, ``low,
        high`` for two, ``Q1..Qk`` for other counts and the interval for explicit edges.
    periods_per_year : int, optional
        Periods per year of the returns; inferred from the dates when omitted.

    Returns
    -------
    Series
        Asset -> pool label, named ``pool``, an ordered categorical (lowest bin first).

    Raises
    ------
    ParameterError
        If a bin would hold no asset (its range is named), bins are too many or labels
        have the wrong length.
    DataError
        If ``by`` is not a column of the table or a value is missing.

    Notes
    -----
    Quantile bins put the :math:`k`-th pool at
    :math:`(q_{(k-1)/K}, q_{k/K}]` of the criterion's cross-sectional distribution.

    References
    ----------
    .. [1] Maginn, J. L., Tuttle, D. L., McLeavey, D. W. and Pinto, J. E. (2007). Managing
       Investment Portfolios, 3rd ed., ch. 5 (asset allocation by risk and horizon). Wiley.

    Examples
    --------
    >>> table = pd.DataFrame({"risk": [0.20, 0.30, 0.25]}, index=["a1", "a2", "a3"])
    >>> pools_by(table, by="volatility", bins=[0.0, 0.22, 0.5], labels=["low", "high"]).tolist()
    ['low', 'high', 'high']
    """
    values = _criterion(table_or_returns, by, periods_per_year)
    if values.index.duplicated().any():
        raise DataError(f"assets {values.index[values.index.duplicated()].tolist()} appear twice.")
    if values.isna().any():
        raise DataError(f"criterion {by!r} is missing for asset(s) {values.index[values.isna()].tolist()}.")
    if not pd.api.types.is_numeric_dtype(values):
        cats = list(pd.unique(values.astype(str)))
        out = pd.Categorical(values.astype(str), categories=cats, ordered=False)
        return pd.Series(out, index=values.index.copy(), name=POOL_NAME)
    x = values.astype("float64")
    if isinstance(bins, bool):
        raise ParameterError(f"`bins` must be a number of bins or a list of edges, got {bins!r}.")
    if isinstance(bins, (int, np.integer)):
        k = check_positive_int(bins, name="bins")
        if k > len(x):
            raise ParameterError(f"`bins`={k} is more than the {len(x)} assets; every pool needs an asset.")
        try:
            cut, edges = pd.qcut(x, k, labels=False, retbins=True)
        except ValueError as exc:
            raise ParameterError(
                f"cannot cut {by!r} into {k} quantile bins: too many assets share the same value ({exc}). "
                f"Use fewer bins or explicit edges."
            ) from exc
        default = {2: ["low", "high"], 3: ["low", "medium", "high"]}.get(k, [f"Q{i + 1}" for i in range(k)])
    else:
        listed = list(cast("Sequence[float]", bins))  # not an integer count: the edges
        edges = np.asarray(listed, dtype="float64")
        if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
            raise ParameterError(f"`bins` edges must be a strictly increasing list of >= 2 numbers, got {listed}.")
        outside = x[(x < edges[0]) | (x > edges[-1])]
        if len(outside):
            raise ParameterError(
                f"`bins` edges [{edges[0]:g}, {edges[-1]:g}] leave {outside.index[0]!r} ({by} = {outside.iloc[0]:.4g}) "
                f"outside every pool; widen the first or last edge."
            )
        cut = pd.cut(x, edges, labels=False, include_lowest=True)
        k = len(edges) - 1
        default = [f"({edges[i]:g}, {edges[i + 1]:g}]" if i else f"[{edges[i]:g}, {edges[i + 1]:g}]" for i in range(k)]
    names = list(labels) if labels is not None else default
    if len(names) != k:
        raise ParameterError(f"`labels` must have one name per bin ({k}), got {len(names)}.")
    codes = np.asarray(cut, dtype=int)
    counts = np.bincount(codes, minlength=k)
    if (counts == 0).any():
        e = int(np.argmax(counts == 0))
        raise ParameterError(
            f"pool {names[e]!r} ({by} in [{edges[e]:.4g}, {edges[e + 1]:.4g}]) would hold no asset; "
            f"merge it with a neighbour (fewer or other `bins`)."
        )
    out = pd.Categorical.from_codes(codes, categories=names, ordered=True)
    return pd.Series(out, index=values.index.copy(), name=POOL_NAME)


def _correlation_of(returns: pd.DataFrame) -> np.ndarray:
    raw = returns.to_numpy()
    x = raw - raw.mean(axis=0)
    norms = np.sqrt(np.einsum("ij,ij->j", x, x))
    # zero variance, or a constant column whose centring left only rounding noise
    flat = norms <= 1e-12 * np.sqrt(np.einsum("ij,ij->j", raw, raw))
    if flat.any():
        bad = returns.columns[int(np.argmax(flat))]
        raise DataError(f"`returns` column {bad!r} never moves (zero variance); it cannot be clustered. Drop it.")
    xn = x / norms
    corr = xn.T @ xn
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, -1.0, 1.0)


def _tree(
    returns: object, linkage: str, distance: str, *, checked: bool = False, nan_policy: str = "raise"
) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    check_choice(linkage, LINKAGES, name="linkage")
    check_choice(distance, DISTANCES, name="distance")
    if checked:
        frame = returns  # already a checked float frame (internal callers)
        assert isinstance(frame, pd.DataFrame)
    else:
        nan_policy = check_nan_policy(nan_policy, ("raise", "drop"), where="clustering")
        frame, _ = check_returns(returns, name="returns", min_obs=3, nan_policy=nan_policy)
    if frame.shape[1] < 2:
        raise InsufficientDataError(f"`returns` has {frame.shape[1]} asset; clustering needs at least 2.")
    dist, z = correlation_tree(_correlation_of(frame), linkage, distance)
    return z, dist, frame.columns


def cluster_tree(returns: pd.DataFrame, linkage: str = "ward", distance: str = "correlation") -> np.ndarray:
    r"""Return the hierarchical clustering tree of the assets (a scipy linkage matrix).

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, no missing values.
    linkage : {"ward", "average", "complete", "single"}, default "ward"
        How the distance between two groups is measured when they merge.
    distance : {"correlation", "abs_correlation"}, default "correlation"
        :math:`d_{ij} = \sqrt{(1 - \rho_{ij})/2}`, or :math:`\sqrt{1 - |\rho_{ij}|}` (treats
        strongly negatively correlated assets as close).

    Returns
    -------
    ndarray of shape (n_assets - 1, 4)
        The linkage matrix in scipy's format (leaves numbered in ``returns.columns`` order),
        for :func:`scipy.cluster.hierarchy.dendrogram` or :func:`cluster_pools`.

    Raises
    ------
    ParameterError
        If ``linkage`` or ``distance`` is unknown.
    DataError
        If ``returns`` has a missing value or a constant column.

    Notes
    -----
    :math:`\sqrt{(1-\rho_{ij})/2}` is the Euclidean distance between the standardised return
    series (up to a constant), so Ward's criterion is well defined on it.

    References
    ----------
    .. [1] Mantegna, R. N. (1999). Hierarchical structure in financial markets.
       Eur. Phys. J. B 11, 193-197.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> r = pd.DataFrame(rng.normal(0.0, 0.01, size=(50, 3)), columns=["A", "B", "C"])
    >>> cluster_tree(r).shape
    (2, 4)
    """
    z, _, _ = _tree(returns, linkage, distance)
    return z


def _silhouettes(dist: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Silhouette of each asset for a labelling (labels 0..k-1) on a precomputed distance matrix."""
    n = len(labels)
    onehot = np.zeros((n, k))
    onehot[np.arange(n), labels] = 1.0
    sums = dist @ onehot
    counts = onehot.sum(axis=0)
    own = sums[np.arange(n), labels]
    own_n = counts[labels] - 1.0
    a = np.divide(own, own_n, out=np.zeros(n), where=own_n > 0)
    mean_other = sums / counts[None, :]
    mean_other[np.arange(n), labels] = np.inf
    b = mean_other.min(axis=1)
    denom = np.maximum(a, b)
    s = np.divide(b - a, denom, out=np.zeros(n), where=denom > 0)
    s[own_n == 0] = 0.0
    return s


def _cut(z: np.ndarray, k: int, leaves: np.ndarray | None = None) -> np.ndarray:
    """Labels 0..k-1 of the tree cut into ``k`` pools, numbered left to right along the leaves."""
    from scipy.cluster import hierarchy

    raw = hierarchy.fcluster(z, k, criterion="maxclust")
    if leaves is None:
        leaves = hierarchy.leaves_list(z)
    first = pd.unique(raw[leaves])
    remap = np.zeros(int(raw.max()) + 1, dtype=int)
    remap[first] = np.arange(len(first))
    return remap[raw]


CRITERIA = ("quality", "silhouette")


def _scores(z: np.ndarray, dist: np.ndarray, max_pools: int) -> pd.DataFrame:
    from scipy.cluster import hierarchy

    ks = list(range(2, max_pools + 1))
    leaves = hierarchy.leaves_list(z)
    rows = []
    for k in ks:  # a loop over candidate pool counts, each one vectorised over assets
        labels = _cut(z, k, leaves)
        s = _silhouettes(dist, labels, int(labels.max()) + 1)
        rows.append((float(s.mean()), float(s.mean() / max(float(s.std()), 1e-12))))
    return pd.DataFrame(rows, index=pd.Index(ks, name="n_pools"), columns=["silhouette", "quality"])


def pool_count_scores(
    returns: pd.DataFrame, max_pools: int = 10, linkage: str = "ward", distance: str = "correlation"
) -> pd.DataFrame:
    r"""Score each candidate number of pools by the silhouettes of the clustered pools.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, no missing values, at least 3 assets.
    max_pools : int, default 10
        Largest number of pools tried (capped at ``n_assets - 1``).
    linkage, distance : str
        As in :func:`cluster_tree`.

    Returns
    -------
    DataFrame
        Indexed by ``n_pools`` (2..max_pools); columns ``silhouette`` (mean silhouette
        :math:`S(k)`) and ``quality`` (mean over standard deviation of the silhouettes);
        higher is better for both. :func:`cluster_pools` with ``n_pools=None`` picks the
        highest ``quality`` by default.

    Raises
    ------
    InsufficientDataError
        If there are fewer than 3 assets.

    Notes
    -----
    For asset :math:`i` in pool :math:`A`, with :math:`a_i` its mean distance to the other
    members of :math:`A` and :math:`b_i` the smallest mean distance to another pool,

    .. math:: s_i = \frac{b_i - a_i}{\max(a_i, b_i)}, \qquad S(k) = \frac1N \sum_i s_i ,

    with :math:`s_i = 0` for an asset alone in its pool. Distances are the correlation
    distances of :func:`cluster_tree`. The quality score
    :math:`q(k) = \bar s / \operatorname{std}(s)` of López de Prado and Lewis rewards pools
    that are uniformly well separated: on stock returns, whose cluster structure is weak, the
    mean silhouette alone tends to prefer many one-asset pools.

    References
    ----------
    .. [1] Rousseeuw, P. J. (1987). Silhouettes: a graphical aid to the interpretation and
       validation of cluster analysis. J. Comput. Appl. Math. 20, 53-65.
    .. [2] López de Prado, M. and Lewis, M. J. (2019). Detection of false investment
       strategies using unsupervised learning methods. Quantitative Finance 19(9), 1555-1565.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> f = rng.normal(size=(500, 2))
    >>> r = pd.DataFrame(0.01 * (np.repeat(f, 3, axis=1) + 0.3 * rng.normal(size=(500, 6))), columns=list("ABCDEF"))
    >>> int(pool_count_scores(r, max_pools=4)["quality"].idxmax())
    2
    """
    z, dist, cols = _tree(returns, linkage, distance)
    if len(cols) < 3:
        raise InsufficientDataError(f"choosing the number of pools needs at least 3 assets, got {len(cols)}.")
    top = min(check_positive_int(max_pools, name="max_pools", minimum=2), len(cols) - 1)
    return _scores(z, dist, top)


def cluster_pools(
    returns: pd.DataFrame,
    n_pools: int | None = None,
    linkage: str = "ward",
    distance: str = "correlation",
    *,
    max_pools: int = 10,
    criterion: str = "quality",
    nan_policy: str = "raise",
) -> pd.Series:
    r"""Group assets into pools of similar behaviour by hierarchical clustering of correlations.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, no missing values.
    n_pools : int, optional
        Number of pools. ``None`` (or 0) chooses it from the data: the number in
        ``2..max_pools`` with the best ``criterion`` (see :func:`pool_count_scores`).
    linkage : {"ward", "average", "complete", "single"}, default "ward"
        Linkage of the hierarchical clustering.
    distance : {"correlation", "abs_correlation"}, default "correlation"
        Distance between assets, see :func:`cluster_tree`.
    max_pools : int, default 10
        Largest number of pools tried when ``n_pools`` is chosen.
    criterion : {"quality", "silhouette"}, default "quality"
        Score maximised when ``n_pools`` is chosen: the silhouettes' mean over their
        standard deviation, or the mean silhouette.
    nan_policy : {"raise", "drop"}, default "raise"
        Missing returns raise, or the dates with one are dropped (correlations need
        every asset on the same dates).

    Returns
    -------
    Series
        Asset -> pool label ``P1..Pk`` (ordered categorical, numbered left to right along the
        dendrogram), named ``pool``, indexed like ``returns.columns``. ``attrs`` holds
        ``n_pools``, ``criterion`` (``"quality"``, ``"silhouette"`` or ``"given"``),
        ``scores`` ({n_pools: score}, when chosen), ``linkage`` and ``distance``.

    Raises
    ------
    ParameterError
        If ``n_pools`` exceeds the number of assets, or ``linkage``/``distance`` is unknown.
    InsufficientDataError
        If there are too few assets to choose a number of pools.
    DataError
        If ``returns`` has missing values or a constant column.

    Notes
    -----
    One correlation matrix and one linkage are computed; cutting the tree into :math:`k`
    pools costs :math:`O(N)` and each silhouette :math:`O(N^2 k)` as matrix products.

    References
    ----------
    .. [1] Mantegna, R. N. (1999). Hierarchical structure in financial markets.
       Eur. Phys. J. B 11, 193-197.
    .. [2] Rousseeuw, P. J. (1987). Silhouettes. J. Comput. Appl. Math. 20, 53-65.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> f = rng.normal(size=(500, 2))
    >>> r = pd.DataFrame(0.01 * (np.repeat(f, 3, axis=1) + 0.3 * rng.normal(size=(500, 6))), columns=list("ABCDEF"))
    >>> pools = cluster_pools(r)  # two planted blocks: A, B, C and D, E, F
    >>> pools.attrs["n_pools"], bool(pools["A"] == pools["C"] != pools["D"] == pools["F"])
    (2, True)
    """
    return _cluster(returns, n_pools, linkage, distance, max_pools, criterion, checked=False, nan_policy=nan_policy)


def _cluster(
    returns: object,
    n_pools: int | None,
    linkage: str,
    distance: str,
    max_pools: int,
    criterion: str,
    *,
    checked: bool,
    nan_policy: str = "raise",
) -> pd.Series:
    check_choice(criterion, CRITERIA, name="criterion")
    z, dist, cols = _tree(returns, linkage, distance, checked=checked, nan_policy=nan_policy)
    n = len(cols)
    attrs: dict[str, object] = {"linkage": linkage, "distance": distance}
    if n_pools is None or (n_pools == 0 and not isinstance(n_pools, bool)):
        if n < 3:
            raise InsufficientDataError(
                f"choosing the number of pools needs at least 3 assets, got {n}; pass `n_pools`."
            )
        top = min(check_positive_int(max_pools, name="max_pools", minimum=2), n - 1)
        scores = _scores(z, dist, top)[criterion]
        k = int(scores.idxmax())
        attrs.update(criterion=criterion, scores={int(i): float(v) for i, v in scores.items()})
    else:
        k = check_positive_int(n_pools, name="n_pools")
        if k > n:
            raise ParameterError(
                f"`n_pools`={k} is more than the {n} assets in `returns`; use at most {n} "
                f"(or None to choose from the data)."
            )
        attrs["criterion"] = "given"
    labels = _cut(z, k) if k > 1 else np.zeros(n, dtype=int)
    found = int(labels.max()) + 1
    if found < k:
        warnings.warn(
            f"the tree could only be cut into {found} pools (tied merge heights), not {k}.",
            PoolkitWarning,
            stacklevel=2,
        )
    names = [f"P{i + 1}" for i in range(found)]
    out = pd.Series(
        pd.Categorical.from_codes(labels, categories=names, ordered=True), index=cols.copy(), name=POOL_NAME
    )
    attrs["n_pools"] = found
    out.attrs.update(attrs)
    return out


#: What :func:`build_pools` can do with returns: cluster them, or cut a statistic of them.
RETURNS_METHODS = ("cluster", "volatility", "expected_return")


def build_pools(
    returns_or_table: object,
    method: str = "cluster",
    n_pools: int | None = None,
    *,
    linkage: str = "ward",
    distance: str = "correlation",
    max_pools: int = 10,
    criterion: str = "quality",
    bins: int | Sequence[float] | None = None,
    labels: Sequence[str] | None = None,
    periods_per_year: int | None = None,
) -> pd.Series:
    r"""Build pools of assets: by clustering their correlations, or by a criterion.

    The one entry point of the two ways a pool is built: ``method="cluster"`` runs
    :func:`cluster_pools` (assets that move together share a pool), any other
    ``method`` names the criterion of :func:`pools_by` (``"volatility"``,
    ``"expected_return"``, a column of a table such as ``"horizon"`` or
    ``"asset_class"``), cut into ``n_pools`` quantile bins or at explicit ``bins``.

    Parameters
    ----------
    returns_or_table : DataFrame or Series
        Returns (dates x assets, DatetimeIndex), for clustering or for the criteria
        ``"volatility"`` and ``"expected_return"`` (annualised); or a table with one row
        per asset holding the criterion column; or a Series of values per asset.
    method : str, default "cluster"
        ``"cluster"``, or the criterion of :func:`pools_by`.
    n_pools : int, optional
        Number of pools. ``None`` (or 0) lets clustering choose it from the data
        (best ``criterion`` score in ``2..max_pools``) and cuts a numeric criterion
        into 3 quantile bins.
    linkage, distance, max_pools, criterion
        Clustering options, as in :func:`cluster_pools`; a criterion ignores them.
    bins : int or sequence of float, optional
        Criterion only: explicit bin edges (or a number of quantile bins instead of
        ``n_pools``).
    labels : sequence of str, optional
        Criterion only: pool names, one per bin.
    periods_per_year : int, optional
        Criterion only: periods per year of the returns; inferred from the dates.

    Returns
    -------
    Series
        Asset -> pool label, named ``pool``, an ordered categorical indexed like the
        assets. ``attrs["method"]`` is ``method``; clustering adds the attributes of
        :func:`cluster_pools` (``n_pools``, ``scores``, ``linkage``...).

    Raises
    ------
    ParameterError
        If a criterion gets both ``n_pools`` and ``bins``, clustering gets ``bins``,
        ``labels`` or ``periods_per_year``, or an option of the chosen method is invalid.
    DataError, InsufficientDataError
        As in :func:`cluster_pools` and :func:`pools_by`.

    Notes
    -----
    Clustering cuts the tree of the correlation distance
    :math:`d_{ij} = \sqrt{(1 - \rho_{ij})/2}` into :math:`K` pools; a numeric criterion
    :math:`c_i` puts asset :math:`i` in pool :math:`k` when
    :math:`q_{(k-1)/K} < c_i \le q_{k/K}`, the cross-sectional quantiles of the criterion.

    References
    ----------
    .. [1] Mantegna, R. N. (1999). Hierarchical structure in financial markets.
       Eur. Phys. J. B 11, 193-197.
    .. [2] Maginn, J. L., Tuttle, D. L., McLeavey, D. W. and Pinto, J. E. (2007). Managing
       Investment Portfolios, 3rd ed., ch. 5. Wiley.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> f = rng.normal(size=(500, 2))
    >>> r = pd.DataFrame(0.01 * (np.repeat(f, 3, axis=1) + 0.3 * rng.normal(size=(500, 6))), columns=list("ABCDEF"))
    >>> build_pools(r).tolist()  # two planted blocks, found by clustering
    ['P2', 'P2', 'P2', 'P1', 'P1', 'P1']
    >>> table = pd.DataFrame({"risk": [0.10, 0.30, 0.20, 0.25]}, index=["a", "b", "c", "d"])
    >>> build_pools(table, "volatility", 2).tolist()  # by risk level: below / above the median
    ['low', 'high', 'low', 'high']
    """
    if not isinstance(method, str):
        raise ParameterError(
            f"`method` must be 'cluster' or a criterion such as 'volatility', got {type(method).__name__}."
        )
    is_returns = isinstance(returns_or_table, pd.DataFrame) and isinstance(returns_or_table.index, pd.DatetimeIndex)
    if is_returns and method not in RETURNS_METHODS:
        check_choice(method, RETURNS_METHODS, name="method")  # names the nearest, e.g. 'volatility'
    k = None if n_pools is None or (n_pools == 0 and not isinstance(n_pools, bool)) else n_pools
    if method == "cluster":
        extra = {"bins": bins, "labels": labels, "periods_per_year": periods_per_year}
        given = sorted(name for name, value in extra.items() if value is not None)
        if given:
            raise ParameterError(
                f"{given} only apply to pools built by a criterion; clustering takes `n_pools`, "
                f"`linkage`, `distance`, `max_pools` and `criterion`."
            )
        out = cluster_pools(
            returns_or_table,  # type: ignore[arg-type]
            k,
            linkage,
            distance,
            max_pools=max_pools,
            criterion=criterion,
        )
    else:
        if k is not None and bins is not None:
            raise ParameterError(
                f"give `n_pools` (quantile bins) or `bins` (edges or a count) for {method!r}, not both."
            )
        out = pools_by(
            returns_or_table,
            by=method,
            bins=bins if bins is not None else (k or 3),
            labels=labels,
            periods_per_year=periods_per_year,
        )
    out.attrs["method"] = method
    return out

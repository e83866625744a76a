"""Private helpers shared by the pooling files: pool labels, correlations, PSD repair."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from poolkit._validation import check_aligned
from poolkit.exceptions import AlignmentError, CovarianceError, ParameterError

POOL_NAME = "pool"


def check_pools(pools: object, assets: pd.Index, *, name: str = "pools") -> tuple[pd.Series, list[Any]]:
    """Return ``(labels, order)``: a label per asset (ordered like ``assets``) and the pool order.

    ``pools`` may be a Series or dict asset -> pool label, or a dict pool label -> list of
    assets. The order is the categories' order for a categorical Series, else the order of
    first appearance. Raises when labels do not match ``assets`` or a pool is empty.
    """
    if isinstance(assets, pd.MultiIndex):
        raise AlignmentError(
            f"the assets have labels of {assets.nlevels} levels, e.g. {assets[0]!r}; a pool label belongs to one "
            f"asset name. Flatten them first, e.g. returns.columns = ['/'.join(map(str, c)) for c in returns.columns]."
        )
    if isinstance(pools, Mapping) and pools and all(
        isinstance(v, (list, tuple, set, pd.Index, np.ndarray)) for v in pools.values()
    ):
        empty = [k for k, v in pools.items() if len(v) == 0]
        if empty:
            raise ParameterError(
                f"`{name}` pool {empty[0]!r} has no assets; remove it or give it at least one asset."
            )
        seen = pd.Index([asset for members in pools.values() for asset in members])
        if seen.duplicated().any():
            dup = sorted({str(a) for a in seen[seen.duplicated()]})
            raise AlignmentError(f"`{name}` puts asset(s) {dup} in more than one pool; each asset belongs to one pool.")
        sizes = [len(members) for members in pools.values()]  # a loop over pools, not assets
        labels = pd.Series(list(pools.keys()), dtype=object).repeat(sizes).to_numpy()
        series = pd.Series(labels, index=seen, name=POOL_NAME)
        order: list[Any] = list(pools.keys())
    elif isinstance(pools, (pd.Series, Mapping)):
        series = pd.Series(pools) if isinstance(pools, Mapping) else pools
        if len(series) == 0:
            raise ParameterError(f"`{name}` is empty; give one pool label per asset.")
        if isinstance(series.dtype, pd.CategoricalDtype):
            order = list(series.cat.categories)
            used = set(series.dropna())
            empty = [c for c in order if c not in used]
            if empty:
                raise ParameterError(
                    f"`{name}` pool {empty[0]!r} has no assets (an empty category); drop it with "
                    f"`{name}.cat.remove_unused_categories()` or choose other bins."
                )
        else:
            order = list(pd.unique(series.dropna()))
    else:
        raise TypeError(
            f"`{name}` must be a Series (asset -> pool label) or a dict, got {type(pools).__name__}. "
            f"Build one with poolkit.pooling.cluster_pools or pools_by."
        )
    if series.index.duplicated().any():
        dup = series.index[series.index.duplicated()].unique().tolist()
        raise AlignmentError(f"`{name}` names asset(s) {dup} more than once.")
    if series.isna().any():
        bad = series.index[series.isna()].tolist()
        raise ParameterError(f"`{name}` has no pool label for asset(s) {bad}; give every asset a pool.")
    missing = assets[~assets.isin(series.index)].tolist()
    extra = series.index[~series.index.isin(assets)].tolist()
    if missing or extra:
        raise AlignmentError(
            f"`{name}` must give exactly one pool per asset of the data; missing {missing[:10]}, "
            f"not in the data {extra[:10]}. Build the pools from the same returns, or select "
            f"`returns[{name}.index]`."
        )
    labels = series.reindex(assets)
    labels = pd.Series(np.asarray(labels, dtype=object), index=assets.copy(), name=POOL_NAME)
    return labels, order


def membership(labels: pd.Series, order: list[Any]) -> np.ndarray:
    """Return the (n_assets, n_pools) 0/1 membership matrix in pool ``order``."""
    codes = pd.Categorical(labels.to_numpy(), categories=order).codes
    out = np.zeros((len(labels), len(order)))
    out[np.arange(len(labels)), codes] = 1.0
    return out


def check_correlation(mat: np.ndarray, labels: pd.Index, *, name: str = "corr", psd_tol: float = 1e-10) -> np.ndarray:
    """Check a correlation matrix: entries in [-1, 1], unit diagonal, symmetric, PSD.

    The messages name the offending pair of assets or the negative eigenvalue.
    """
    mat = np.asarray(mat, dtype="float64")
    n = len(labels)
    if mat.shape != (n, n):
        raise CovarianceError(f"`{name}` must be a {n} x {n} matrix (one row per asset), got shape {mat.shape}.")
    if not np.isfinite(mat).all():
        i, j = np.argwhere(~np.isfinite(mat))[0]
        raise CovarianceError(f"`{name}` has a missing value for the pair ({labels[i]!r}, {labels[j]!r}).")
    out = np.abs(mat) > 1.0 + 1e-12
    if out.any():
        i, j = np.argwhere(out)[0]
        raise CovarianceError(
            f"`{name}` for the pair ({labels[i]!r}, {labels[j]!r}) is {mat[i, j]:.6g}; a correlation must be in [-1, 1]."
        )
    diag = np.diag(mat)
    if not np.allclose(diag, 1.0, atol=1e-8):
        k = int(np.argmax(np.abs(diag - 1.0)))
        raise CovarianceError(
            f"`{name}` has {diag[k]:.6g} on the diagonal for {labels[k]!r}; a correlation matrix has 1 there."
        )
    asym = np.abs(mat - mat.T)
    if asym.max() > 1e-10:
        i, j = np.unravel_index(int(asym.argmax()), asym.shape)
        raise CovarianceError(
            f"`{name}` is not symmetric: ({labels[i]!r}, {labels[j]!r}) = {mat[i, j]:.6g} but "
            f"({labels[j]!r}, {labels[i]!r}) = {mat[j, i]:.6g}."
        )
    vals, vecs = np.linalg.eigh(mat)
    if vals[0] < -psd_tol * max(1.0, float(n)):
        top = np.argsort(-np.abs(vecs[:, 0]))[:2]
        raise CovarianceError(
            f"`{name}` is not positive semi-definite: its smallest eigenvalue is {vals[0]:.6g} "
            f"(driven mostly by {labels[top[0]]!r} and {labels[top[-1]]!r}), so some pool would have a negative "
            f"variance. These correlations cannot hold together; lower the offending ones, or repair the "
            f"matrix with poolkit.pooling.nearest_correlation."
        )
    return (mat + mat.T) / 2.0


def repair_correlation(mat: np.ndarray, *, floor: float = 0.0) -> tuple[np.ndarray, float]:
    """Clip the eigenvalues of a symmetric matrix at ``floor`` and rescale to a unit diagonal.

    Returns the repaired correlation and the smallest eigenvalue before repair.
    """
    sym = (mat + mat.T) / 2.0
    vals, vecs = np.linalg.eigh(sym)
    if vals[0] >= floor:
        return sym, float(vals[0])
    fixed = (vecs * np.clip(vals, floor, None)) @ vecs.T
    d = np.sqrt(np.clip(np.diag(fixed), 1e-300, None))
    fixed = fixed / d[:, None] / d[None, :]
    fixed = (fixed + fixed.T) / 2.0
    np.fill_diagonal(fixed, 1.0)
    return np.clip(fixed, -1.0, 1.0), float(vals[0])


def weights_for(weights: object, cov: pd.DataFrame) -> np.ndarray:
    """Return the weights as an array ordered like ``cov`` (labels checked)."""
    return check_aligned(weights, cov.columns, name="weights").to_numpy()

"""Pools from assumptions: a table of assets with expected return and risk, plus correlations."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from poolkit._numerics import asset_volatilities, standalone_volatility
from poolkit._validation import check_aligned
from poolkit.exceptions import AlignmentError, DataError, ParameterError
from poolkit.pooling._common import check_correlation

__all__ = ["AssumedPool", "from_assumptions"]

_ALIASES = {
    "expected_return": ("expected_return", "return", "mu", "mean"),
    "volatility": ("volatility", "risk", "vol", "sigma", "std"),
    "value": ("value", "market_value", "amount"),
    "horizon": ("horizon", "investment_horizon"),
    "asset_class": ("asset_class", "class", "group"),
}


class AssumedPool(NamedTuple):
    """A pool built from assumptions: expected returns, covariance and weights (annual units).

    Unpacks as ``expected_returns, cov, weights``; the properties give the pool's own
    figures and :meth:`summary` a labelled table.
    """

    expected_returns: pd.Series
    cov: pd.DataFrame
    weights: pd.Series

    @property
    def expected_return(self) -> float:
        r"""Expected return of the pool, :math:`w^\top \mu`."""
        return float(self.weights.to_numpy() @ self.expected_returns.to_numpy())

    @property
    def volatility(self) -> float:
        r"""Volatility of the pool, :math:`\sqrt{w^\top \Sigma w}`."""
        from poolkit.risk import pooled_volatility

        return pooled_volatility(self.weights, self.cov)

    @property
    def standalone_volatility(self) -> float:
        r"""Weighted sum of the assets' volatilities, :math:`\sum_i |w_i| \sigma_i` (correlations ignored)."""
        return float(standalone_volatility(self.weights.to_numpy(), self.cov.to_numpy()))

    def summary(self) -> pd.DataFrame:
        r"""Return one row per asset plus a ``pool`` row.

        Columns: ``weight``, ``expected_return``, ``volatility``, ``risk_share`` (each asset's
        Euler share of the pool's variance; 1 for the pool) and ``standalone_volatility``
        (for the pool row, :math:`\sum_i |w_i|\sigma_i`, what the volatility would be if every
        correlation were 1).
        """
        from poolkit.risk import risk_contributions

        w = self.weights.to_numpy()
        vols = asset_volatilities(self.cov.to_numpy())
        share = risk_contributions(self.weights, self.cov)["share"].to_numpy()
        table = pd.DataFrame(
            {
                "weight": w,
                "expected_return": self.expected_returns.to_numpy(),
                "volatility": vols,
                "risk_share": share,
                "standalone_volatility": vols,
            },
            index=self.weights.index.copy(),
        )
        table.loc["pool"] = [w.sum(), self.expected_return, self.volatility, 1.0, self.standalone_volatility]
        table.index.name = "asset"
        return table


def _as_table(table: object) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        frame = table.copy()
    elif isinstance(table, Mapping):
        frame = pd.DataFrame.from_dict(dict(table), orient="index")
    elif isinstance(table, (list, tuple)) and all(isinstance(r, Mapping) for r in table):
        frame = pd.DataFrame(list(table))
    else:
        raise TypeError(
            f"`table` must be a DataFrame (one row per asset), a dict name -> {{'return', 'risk'}}, or a list "
            f"of dicts with 'name', 'return' and 'risk' keys, got {type(table).__name__}."
        )
    if len(frame) == 0:
        raise DataError("`table` has no assets (rows).")
    for key in ("name", "asset"):
        if key in frame.columns:
            frame = frame.set_index(key)
            break
    frame.index = pd.Index([str(i) for i in frame.index], name="asset")
    if frame.index.duplicated().any():
        raise DataError(f"`table` names asset(s) {frame.index[frame.index.duplicated()].tolist()} twice.")
    rename = {}
    for canon, aliases in _ALIASES.items():
        found = [c for c in frame.columns if str(c).lower() in aliases]
        if found:
            rename[found[0]] = canon
    frame = frame.rename(columns=rename)
    for needed in ("expected_return", "volatility"):
        if needed not in frame.columns:
            raise DataError(
                f"`table` needs a {needed!r} column (also accepted: {list(_ALIASES[needed])}); "
                f"got columns {list(map(str, frame.columns))}."
            )
    for col in ("expected_return", "volatility", "value"):
        if col in frame.columns:
            vals = pd.to_numeric(frame[col], errors="coerce")
            if vals.isna().any():
                bad = vals.index[vals.isna()][0]
                raise DataError(f"`table` column {col!r} is missing or not a number for asset {bad!r}.")
            frame[col] = vals.astype("float64")
    if (frame["volatility"] < 0).any():
        bad = frame.index[frame["volatility"] < 0][0]
        raise DataError(f"`table` volatility (risk) of {bad!r} is negative ({frame.loc[bad, 'volatility']:g}).")
    return frame


def _correlation(corr: object, frame: pd.DataFrame) -> np.ndarray:
    names = frame.index
    n = len(names)
    if isinstance(corr, numbers.Real) and not isinstance(corr, bool):
        rho = float(corr)
        if not -1.0 <= rho <= 1.0:
            raise ParameterError(f"`corr` must be in [-1, 1], got {rho:g}.")
        mat = np.full((n, n), rho)
        np.fill_diagonal(mat, 1.0)
        return check_correlation(mat, names, name="corr")
    if isinstance(corr, Mapping):
        if "asset_class" not in frame.columns:
            raise DataError("`corr` given per class needs an 'asset_class' (or 'class') column in `table`.")
        unknown = set(corr) - {"within", "between"}
        if unknown or not {"within", "between"} <= set(corr):
            raise ParameterError(f"`corr` as a dict needs exactly the keys 'within' and 'between', got {sorted(corr)}.")
        classes = frame["asset_class"].astype(str).to_numpy()
        same = classes[:, None] == classes[None, :]
        mat = np.where(same, float(corr["within"]), float(corr["between"]))
        np.fill_diagonal(mat, 1.0)
        return check_correlation(mat, names, name="corr")
    if isinstance(corr, pd.DataFrame):
        if set(map(str, corr.index)) == set(names) and set(map(str, corr.columns)) == set(names):
            c = corr.copy()
            c.index = c.index.map(str)
            c.columns = c.columns.map(str)
            return check_correlation(c.loc[names, names].to_numpy(dtype="float64"), names, name="corr")
        if "asset_class" in frame.columns:
            classes = frame["asset_class"].astype(str)
            c = corr.copy()
            c.index = c.index.map(str)
            c.columns = c.columns.map(str)
            missing = sorted(set(classes) - set(c.index))
            if missing or set(c.index) != set(c.columns):
                raise AlignmentError(
                    f"`corr` by class must be indexed and labelled by the classes of `table` "
                    f"{sorted(set(classes))}; missing {missing}."
                )
            pos = c.index.get_indexer(classes)
            mat = c.loc[c.index, c.index].to_numpy(dtype="float64")[np.ix_(pos, pos)]
            np.fill_diagonal(mat, 1.0)
            return check_correlation(mat, names, name="corr")
        raise AlignmentError(
            f"`corr` must be labelled by the assets of `table` {list(names)[:6]} (or by their asset classes); "
            f"got {list(corr.index)[:6]}."
        )
    arr = np.asarray(corr, dtype="float64")
    return check_correlation(arr, names, name="corr")


def from_assumptions(table: object, corr: object, *, weights: pd.Series | None = None) -> AssumedPool:
    r"""Build a pool from assumed expected returns, risks and correlations.

    Parameters
    ----------
    table : DataFrame, dict or list of dicts
        One row per asset with an expected return (column ``expected_return``; ``return`` or
        ``mu`` accepted) and a risk = volatility (``volatility``; ``risk`` or ``sigma``
        accepted), optionally ``value`` (market value), ``horizon`` and ``asset_class``.
        Names come from the index, or from a ``name`` column (the list-of-dicts form of the
        seed document: ``[{"name": "资产1", "return": 0.10, "risk": 0.20}, ...]``).
        Units are yours (annual figures give an annual pool).
    corr : float, DataFrame, array or dict
        Correlations: a scalar common to every pair; a full matrix (labelled by asset, or an
        array in the table's order); a class-by-class DataFrame (its diagonal is the
        correlation within a class) or ``{"within": x, "between": y}``, both with an
        ``asset_class`` column in ``table``. There is no default: pooling depends on it.
    weights : Series, optional
        Holding of each asset. Default: value weights :math:`w_i = V_i / \sum_j V_j` when
        ``table`` has a ``value`` column, else equal weights.

    Returns
    -------
    AssumedPool
        ``(expected_returns, cov, weights)`` labelled by asset, with the properties
        ``expected_return``, ``volatility``, ``standalone_volatility`` and a ``summary()`` table.

    Raises
    ------
    DataError
        If a required column is missing, a value is not a number or a risk is negative.
    CovarianceError
        If a correlation is outside [-1, 1] (the pair is named) or the matrix is not PSD.
    AlignmentError
        If ``corr`` or ``weights`` name other assets.

    Notes
    -----
    With :math:`D = \operatorname{diag}(\sigma)` and correlation matrix :math:`R`,

    .. math:: \Sigma = D R D, \qquad \mu_P = \sum_i w_i \mu_i, \qquad
              \sigma_P = \sqrt{w^\top \Sigma w} \le \sum_i w_i \sigma_i .

    The expected return pools linearly; the risk does not, unless every correlation is 1.

    References
    ----------
    .. [1] Markowitz, H. (1952). Portfolio selection. J. Finance 7(1), 77-91.

    Examples
    --------
    >>> assets = [{"name": "资产1", "return": 0.10, "risk": 0.20},
    ...           {"name": "资产2", "return": 0.15, "risk": 0.30},
    ...           {"name": "资产3", "return": 0.12, "risk": 0.25}]
    >>> pool = from_assumptions(assets, corr=0.3)
    >>> round(pool.expected_return, 4), round(pool.volatility, 4)
    (0.1233, 0.1836)
    """
    frame = _as_table(table)
    names = frame.index
    rho = _correlation(corr, frame)
    from poolkit.risk import covariance_from

    vols = pd.Series(frame["volatility"].to_numpy(), index=names.copy())
    cov = covariance_from(vols, pd.DataFrame(rho, index=names.copy(), columns=names.copy()))
    if weights is not None:
        w = check_aligned(weights, names, name="weights")
    elif "value" in frame.columns:
        values = frame["value"].to_numpy()
        if (values < 0).any() or values.sum() <= 0:
            raise DataError("`table` column 'value' must be non-negative with a positive total.")
        w = pd.Series(values / values.sum(), index=names.copy())
    else:
        w = pd.Series(np.full(len(names), 1.0 / len(names)), index=names.copy())
    w.name = "weight"
    mu = pd.Series(frame["expected_return"].to_numpy(), index=names.copy(), name="expected_return")
    return AssumedPool(mu, cov, w)

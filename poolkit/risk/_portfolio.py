"""Pools of assets: pooled volatility, marginal risk and risk contributions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from poolkit._numerics import EulerRisk, euler_risk, portfolio_volatility
from poolkit._validation import check_aligned, check_covariance
from poolkit.exceptions import ParameterError


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
    return float(portfolio_volatility(w, s))


def _euler(weights: pd.Series, cov: pd.DataFrame) -> tuple[EulerRisk, pd.Index]:
    """Return the Euler split of the pool's volatility and the asset labels; raise at zero volatility."""
    w, s, labels = _weights_cov(weights, cov)
    split = euler_risk(w, s)
    if not float(split.volatility) > 0:
        raise ParameterError(
            "The pool has zero volatility with these weights, so marginal and component risk are undefined; "
            "check that the weights are not all zero."
        )
    return split, labels


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
    split, labels = _euler(weights, cov)
    return pd.Series(split.marginal, index=labels.copy(), name="marginal_risk")


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
    split, labels = _euler(weights, cov)
    return pd.DataFrame({"contribution": split.contribution, "share": split.share}, index=labels.copy())

"""Loss distribution of an infinitely granular pool (Vasicek) and its tranches."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from poolkit.credit._inputs import _by_name, _like, _loss_rates, _pd_array, _tranche_bounds, _vasicek_args
from poolkit.exceptions import ParameterError


def _conditional_pd(threshold: Any, rho: Any, z: Any) -> np.ndarray:
    r"""Default probability of a loan given the common factor: the one-factor Gaussian kernel.

    With :math:`t = N^{-1}(\mathrm{PD})` the default threshold and :math:`Z` the factor,

    .. math:: p(Z) = N\!\left(\frac{t - \sqrt{\rho}\,Z}{\sqrt{1-\rho}}\right).

    The one implementation used by the Vasicek quantile (:math:`Z = -N^{-1}(q)`), the Basel
    IRB capital and the Monte Carlo simulations; arguments broadcast.
    """
    from scipy.special import ndtr

    r = np.asarray(rho, dtype=float)
    return np.asarray(ndtr((np.asarray(threshold, dtype=float) - np.sqrt(r) * np.asarray(z, dtype=float)) / np.sqrt(1.0 - r)))


def _threshold(p: Any) -> np.ndarray:
    r"""Default threshold :math:`N^{-1}(\mathrm{PD})` of the one-factor model."""
    from scipy.special import ndtri

    return np.asarray(ndtri(np.asarray(p, dtype=float)))


@_by_name("pd", "rho", fixed=1)
def vasicek_loss_cdf(x: Any, *, pd: float, lgd: float = 1.0, rho: float) -> Any:
    r"""Compute the probability that the loss rate of an infinitely granular pool is at most ``x``.

    Parameters
    ----------
    x : float, array or Series
        Loss rate(s) as fractions of the pool exposure.
    pd : float
        Probability of default of each loan over the horizon, in (0, 1). By name only,
        like ``lgd`` and ``rho``: the three are fractions and easy to swap.
    lgd : float, default 1.0
        Loss given default, in (0, 1]; the loss rate is ``lgd`` times the default rate.
    rho : float
        Asset correlation (loading on the common factor squared), in [0, 1).

    Returns
    -------
    float, array or Series
        :math:`P(L \le x)`, same shape and labels as ``x``.

    Raises
    ------
    ParameterError
        If ``pd`` is outside (0, 1), ``rho`` outside [0, 1) or ``lgd`` outside (0, 1], ``x``
        is outside [0, 1], or ``pd``, ``lgd`` or ``rho`` is given by position (the message
        shows the call to write).

    Notes
    -----
    In the one-factor Gaussian model loan :math:`i` defaults when
    :math:`\sqrt{\rho} Z + \sqrt{1-\rho}\,\varepsilon_i < N^{-1}(\mathrm{PD})`. Given
    the factor :math:`Z`, a very large pool loses
    :math:`L(Z) = \mathrm{LGD}\, N\big((N^{-1}(\mathrm{PD}) - \sqrt{\rho}Z)/\sqrt{1-\rho}\big)`,
    so (Vasicek, 2002)

    .. math:: P(L \le x) = N\!\left(\frac{\sqrt{1-\rho}\,N^{-1}(x/\mathrm{LGD}) - N^{-1}(\mathrm{PD})}{\sqrt{\rho}}\right).

    At :math:`\rho = 0` the loss is certain, :math:`\mathrm{PD}\cdot\mathrm{LGD}`.

    References
    ----------
    .. [1] Vasicek, O. (2002). The distribution of loan portfolio value. Risk 15(12).

    Examples
    --------
    >>> round(vasicek_loss_cdf(0.05, pd=0.02, rho=0.12), 4)
    0.9298
    """
    from scipy.stats import norm

    p, g, r = _vasicek_args(pd=pd, lgd=lgd, rho=rho)
    xs = _loss_rates(x)
    u = np.clip(xs / g, 0.0, 1.0)
    if r == 0.0:
        cdf = (u >= p).astype(float)
    else:
        with np.errstate(divide="ignore"):
            cdf = norm.cdf((math.sqrt(1 - r) * norm.ppf(u) - norm.ppf(p)) / math.sqrt(r))
    cdf = np.where(xs < 0, 0.0, np.where(xs >= g, 1.0, cdf))
    return _like(cdf, x)


@_by_name("pd", "rho", fixed=1)
def vasicek_loss_pdf(x: Any, *, pd: float, lgd: float = 1.0, rho: float) -> Any:
    r"""Compute the density of the loss rate of an infinitely granular pool (Vasicek distribution).

    Parameters
    ----------
    x : float, array or Series
        Loss rate(s) in (0, lgd).
    pd, lgd, rho
        As in :func:`vasicek_loss_cdf`; ``rho`` must be > 0 (at 0 there is no density).

    Returns
    -------
    float, array or Series
        Density at ``x`` (0 outside (0, lgd)).

    Raises
    ------
    ParameterError
        If ``pd``, ``rho`` or ``lgd`` is out of range, ``rho`` is 0, or ``x`` is not finite.

    Notes
    -----
    With :math:`u = x/\mathrm{LGD}`,

    .. math:: f(x) = \frac{1}{\mathrm{LGD}}\sqrt{\frac{1-\rho}{\rho}}
              \exp\!\Big(\tfrac12 N^{-1}(u)^2 - \tfrac{1}{2\rho}\big(\sqrt{1-\rho}\,N^{-1}(u) - N^{-1}(\mathrm{PD})\big)^2\Big).

    References
    ----------
    .. [1] Vasicek, O. (2002). The distribution of loan portfolio value. Risk 15(12).

    Examples
    --------
    >>> round(vasicek_loss_pdf(0.02, pd=0.02, rho=0.12), 3)
    20.859
    """
    from scipy.stats import norm

    p, g, r = _vasicek_args(pd=pd, lgd=lgd, rho=rho)
    if r == 0.0:
        raise ParameterError("`rho` must be > 0 for a loss density; at rho = 0 the loss is certain (pd * lgd).")
    xs = _loss_rates(x)
    u = xs / g
    inside = (u > 0) & (u < 1)
    uu = np.where(inside, u, 0.5)
    q = norm.ppf(uu)
    dens = math.sqrt((1 - r) / r) * np.exp(0.5 * q**2 - (math.sqrt(1 - r) * q - norm.ppf(p)) ** 2 / (2 * r)) / g
    return _like(np.where(inside, dens, 0.0), x)


@_by_name("pd", "rho", fixed=1)
def vasicek_loss_quantile(q: Any, *, pd: float, lgd: float = 1.0, rho: float) -> Any:
    r"""Compute the loss rate of an infinitely granular pool at confidence ``q`` (Vasicek quantile).

    Parameters
    ----------
    q : float, array or Series
        Confidence level(s) in (0, 1), e.g. 0.999.
    pd, lgd, rho
        As in :func:`vasicek_loss_cdf`.

    Returns
    -------
    float, array or Series
        The loss rate :math:`x_q` with :math:`P(L \le x_q) = q`.

    Raises
    ------
    ParameterError
        If ``q`` or ``pd`` is outside (0, 1), ``rho`` outside [0, 1) or ``lgd`` outside (0, 1].

    Notes
    -----
    .. math:: x_q = \mathrm{LGD}\; N\!\left(\frac{N^{-1}(\mathrm{PD}) + \sqrt{\rho}\,N^{-1}(q)}{\sqrt{1-\rho}}\right).

    This is the conditional default rate in the Basel IRB formula (:func:`irb_capital`).

    References
    ----------
    .. [1] Vasicek, O. (2002). The distribution of loan portfolio value. Risk 15(12).
    .. [2] BCBS (2005), An Explanatory Note on the Basel II IRB Risk Weight Functions, section 4.2.

    Examples
    --------
    >>> round(vasicek_loss_quantile(0.999, pd=0.01, rho=0.12), 4)
    0.0903
    """
    p, g, r = _vasicek_args(pd=pd, lgd=lgd, rho=rho)
    qs = _pd_array(q, name="q")
    out = g * _conditional_pd(_threshold(p), r, -_threshold(qs))
    return _like(out, q)


@_by_name("pd", "rho", fixed=2)
def vasicek_tranche_loss(attachment: float, detachment: float, *, pd: float, lgd: float = 1.0, rho: float) -> float:
    r"""Compute the expected loss of a tranche of an infinitely granular pool (fraction of the tranche).

    Parameters
    ----------
    attachment, detachment : float
        Tranche bounds as fractions of the pool, ``0 <= attachment < detachment <= 1``.
    pd, lgd, rho
        As in :func:`vasicek_loss_cdf`.

    Returns
    -------
    float
        :math:`E[\min(\max(L - a, 0), d - a)] / (d - a)`.

    Raises
    ------
    ParameterError
        If ``attachment >= detachment`` or a bound is outside [0, 1], or for the
        errors of :func:`vasicek_loss_cdf`.

    Notes
    -----
    .. math:: E[\text{tranche loss}] = \frac{1}{d - a}\int_a^d P(L > x)\,dx ,

    integrated numerically over the Vasicek distribution.

    References
    ----------
    .. [1] Vasicek, O. (2002). The distribution of loan portfolio value. Risk 15(12).

    Examples
    --------
    >>> round(vasicek_tranche_loss(0.0, 1.0, pd=0.02, rho=0.2), 6)  # the whole pool: pd
    0.02
    """
    from scipy.integrate import quad

    a, d = _tranche_bounds(attachment, detachment)
    p, g, r = _vasicek_args(pd=pd, lgd=lgd, rho=rho)
    if r == 0.0:
        loss = p * g
        return float(min(max(loss - a, 0.0), d - a) / (d - a))
    hi = min(d, g)
    if hi <= a:
        return 0.0
    points = [x for x in (p * g,) if a < x < hi]
    value, _ = quad(lambda x: 1.0 - vasicek_loss_cdf(x, pd=p, lgd=g, rho=r), a, hi, points=points or None, limit=200)
    return float(value / (d - a))


def _vasicek_std(p: float, r: float, g: float) -> float:
    from scipy.stats import multivariate_normal, norm

    if r == 0.0:
        return 0.0
    t = norm.ppf(p)
    joint = multivariate_normal(mean=[0.0, 0.0], cov=[[1.0, r], [r, 1.0]]).cdf([t, t])
    return float(g * math.sqrt(max(joint - p * p, 0.0)))


def _vasicek_row(p: float, r: float, g: float, qs: Sequence[float]) -> dict[str, float]:
    """Mean, std and loss quantiles of the infinitely granular (Vasicek) pool."""
    row = {"mean": p * g, "std": _vasicek_std(p, r, g)}
    for q in qs:
        row[f"q{q:g}"] = p * g if r == 0 else float(vasicek_loss_quantile(q, pd=p, lgd=g, rho=r)) if g > 0 else 0.0
    return row

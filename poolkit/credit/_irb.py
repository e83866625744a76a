"""Basel II IRB capital and risk weights."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from poolkit._validation import check_fraction
from poolkit.credit._inputs import _by_name, _lgd_array, _like, _pd_array, _positive, _rho_array
from poolkit.credit._vasicek import _conditional_pd, _threshold


def irb_correlation(pd: Any) -> Any:
    r"""Return the Basel II asset correlation for corporate, sovereign and bank exposures.

    Parameters
    ----------
    pd : float, array or Series
        One-year probability of default, in (0, 1).

    Returns
    -------
    float, array or Series
        :math:`R`, between 12 % (high PD) and 24 % (low PD).

    Raises
    ------
    ParameterError
        If a PD is outside (0, 1).

    Notes
    -----
    .. math:: R = 0.12\,\frac{1 - e^{-50\,\mathrm{PD}}}{1 - e^{-50}}
              + 0.24\left(1 - \frac{1 - e^{-50\,\mathrm{PD}}}{1 - e^{-50}}\right).

    References
    ----------
    .. [1] BCBS (2006), International Convergence of Capital Measurement and Capital
       Standards, paragraph 272; BCBS (2005), Explanatory Note, section 5.2.

    Examples
    --------
    >>> round(irb_correlation(0.01), 4)
    0.1928
    """
    p = _pd_array(pd)
    w = (1 - np.exp(-50 * p)) / (1 - math.exp(-50))
    return _like(0.12 * w + 0.24 * (1 - w), pd)


@_by_name("pd", "lgd", "rho")
def irb_capital(
    *,
    pd: Any,
    lgd: Any,
    rho: Any = None,
    maturity: Any = 2.5,
    maturity_adjustment: bool = True,
    confidence: float = 0.999,
) -> Any:
    r"""Compute the Basel II IRB capital requirement K per unit of exposure at default.

    Parameters
    ----------
    pd : float, array or Series
        One-year probability of default, in (0, 1).
    lgd : float or array
        Loss given default, in [0, 1].
    rho : float or array, optional
        Asset correlation; ``None`` uses the corporate formula :func:`irb_correlation`.
        (Residential mortgages: 0.15; qualifying revolving retail: 0.04.)
    maturity : float or array, default 2.5
        Effective maturity M in years (used by the maturity adjustment).
    maturity_adjustment : bool, default True
        Apply the corporate maturity adjustment (retail exposures have none).
    confidence : float, default 0.999
        Confidence level of the capital (Basel: 99.9 %).

    Returns
    -------
    float, array or Series
        K, capital per unit of EAD. Risk-weighted assets are ``12.5 * K * EAD``
        (:func:`irb_risk_weight` gives ``12.5 * K``).

    Raises
    ------
    ParameterError
        If ``pd`` is outside (0, 1), ``lgd`` outside [0, 1], ``rho`` outside [0, 1),
        ``maturity`` not positive or ``confidence`` outside (0.5, 1).

    Notes
    -----
    With :math:`b = (0.11852 - 0.05478 \ln \mathrm{PD})^2`,

    .. math:: K = \left[\mathrm{LGD}\; N\!\left(\frac{N^{-1}(\mathrm{PD}) + \sqrt{R}\,N^{-1}(0.999)}{\sqrt{1-R}}\right)
              - \mathrm{PD}\cdot\mathrm{LGD}\right]\frac{1 + (M - 2.5)\,b}{1 - 1.5\,b},

    the unexpected loss of an infinitely granular pool at 99.9 % (the Vasicek quantile
    of :func:`vasicek_loss_quantile` minus the expected loss), scaled for maturity.

    References
    ----------
    .. [1] BCBS (2005), An Explanatory Note on the Basel II IRB Risk Weight Functions.
    .. [2] BCBS (2006), International Convergence of Capital Measurement and Capital
       Standards, paragraph 272 and Annex 5 (illustrative risk weights).

    Examples
    --------
    >>> round(12.5 * irb_capital(pd=0.01, lgd=0.45), 4)  # Annex 5: PD 1 %, LGD 45 %, M 2.5 -> 92.32 %
    0.9232
    """
    p = _pd_array(pd)
    g = _lgd_array(lgd)
    if rho is None:
        r = np.asarray(irb_correlation(p), dtype=float)
    else:
        r = _rho_array(rho)
    m = _positive(maturity, name="maturity")
    conf = check_fraction(confidence, name="confidence", low=0.5, low_open=True, high_open=True)
    k = g * _conditional_pd(_threshold(p), r, -_threshold(conf)) - p * g
    if maturity_adjustment:
        b = (0.11852 - 0.05478 * np.log(p)) ** 2
        k = k * (1 + (m - 2.5) * b) / (1 - 1.5 * b)
    return _like(k, pd)


@_by_name("pd", "lgd", "rho")
def irb_risk_weight(*, pd: Any, lgd: Any, rho: Any = None, **kwargs: Any) -> Any:
    r"""Compute the Basel II IRB risk weight, ``12.5 * K`` (risk-weighted assets per unit of EAD).

    Parameters
    ----------
    pd, lgd, rho
        As in :func:`irb_capital`.
    **kwargs
        ``maturity``, ``maturity_adjustment``, ``confidence`` of :func:`irb_capital`.

    Returns
    -------
    float, array or Series
        Risk weight as a fraction (``0.9232`` = 92.32 %).

    Raises
    ------
    ParameterError
        As :func:`irb_capital`.

    Notes
    -----
    .. math:: \mathrm{RW} = 12.5\,K, \qquad \mathrm{RWA} = 12.5\,K\,\mathrm{EAD}
              \quad (12.5 = 1 / 8\,\%).

    References
    ----------
    .. [1] BCBS (2006), International Convergence of Capital Measurement and Capital
       Standards, paragraph 272 and Annex 5.

    Examples
    --------
    >>> round(irb_risk_weight(pd=0.0003, lgd=0.45), 4)  # Annex 5, PD 0.03 %: 14.44 %
    0.1444
    """
    k = irb_capital(pd=pd, lgd=lgd, rho=rho, **kwargs)
    return k * 12.5

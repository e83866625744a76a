"""Dispersion of returns: volatility."""

from __future__ import annotations

import math
from typing import overload

import pandas as pd

from poolkit._numerics import resolve_periods_per_year
from poolkit._typing import DataFrameLike, SeriesLike
from poolkit.risk._common import _check_ddof, _prepare, _std, _wrap


@overload
def volatility(
    returns: DataFrameLike,
    *,
    periods_per_year: float | None = ...,
    annualize: bool = ...,
    ddof: int = ...,
    nan_policy: str = ...,
) -> pd.Series: ...


@overload
def volatility(
    returns: SeriesLike,
    *,
    periods_per_year: float | None = ...,
    annualize: bool = ...,
    ddof: int = ...,
    nan_policy: str = ...,
) -> float: ...


def volatility(
    returns: pd.DataFrame | pd.Series,
    *,
    periods_per_year: float | None = None,
    annualize: bool = True,
    ddof: int = 1,
    nan_policy: str = "raise",
) -> pd.Series | float:
    r"""Measure the standard deviation of returns, annualised by :math:`\sqrt{p}` by default.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic simple returns, indexed by date; columns are assets.
    periods_per_year : float, optional
        Periods in a year :math:`p` (252 daily, 12 monthly). Inferred from the dates
        when omitted.
    annualize : bool, default True
        Multiply the per-period standard deviation by :math:`\sqrt{p}`.
    ddof : {1, 0}, default 1
        1 = sample estimate :math:`1/(N-1)` (pandas, empyrical); 0 = population
        formula :math:`1/N` (the textbook formula of the seed document).
    nan_policy : {"raise", "drop", "pairwise"}, default "raise"
        What to do with missing returns (see the module notes).

    Returns
    -------
    Series or float
        Volatility per asset, indexed by asset, named ``"volatility"``; a float
        for a Series input. A fraction per year (0.2 = 20 %) when annualised.

    Raises
    ------
    DataError
        If ``returns`` holds a NaN (with ``nan_policy="raise"``) or an infinity.
    InsufficientDataError
        If an asset has fewer than two observations.

    Notes
    -----
    .. math:: \sigma = \sqrt{\frac{1}{N - \delta} \sum_{t=1}^{N} (r_t - \bar r)^2}
              \times \sqrt{p}, \qquad \delta = \text{ddof}.

    References
    ----------
    .. [1] Bodie, Kane & Marcus, *Investments*, 12th ed., ch. 5 (2021).

    Examples
    --------
    >>> r = pd.Series([0.01, -0.01, 0.01, -0.01])
    >>> round(volatility(r, annualize=False), 6)  # sqrt(4 * 0.0001 / 3)
    0.011547
    >>> round(volatility(r, annualize=False, ddof=0), 6)  # the seed's 1/N formula
    0.01
    """
    ddof = _check_ddof(ddof)
    frame, was_series, x, has_nan = _prepare(returns, nan_policy=nan_policy, min_obs=ddof + 1)
    sd = _std(x, has_nan, ddof)
    if annualize:
        sd = sd * math.sqrt(resolve_periods_per_year(periods_per_year, frame.index))
    return _wrap(sd, frame, was_series, "volatility")

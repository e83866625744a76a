"""Prepayment and default rate conventions (SF-5 to SF-10, SF-20 to SF-22) and the rate curves of the recursion."""

from __future__ import annotations

import numbers
import re
from typing import Any

import numpy as np
import pandas as pd

from poolkit.credit._inputs import _like, _rate, _rate_array
from poolkit.exceptions import ParameterError

MONTHS_PER_YEAR = 12


def _monthly_rate(annual: np.ndarray | float) -> np.ndarray:
    r"""Monthly rate with the same survival over a year as ``annual`` (CPR -> SMM, CDR -> MDR).

    The one conversion of an annual prepayment or default rate into a monthly one
    (SF-6, SF-21): twelve months at the monthly rate leave the same balance,

    .. math:: m = 1 - (1 - a)^{1/12} = -\operatorname{expm1}\big(\ln(1 - a) / 12\big),

    written with ``log1p``/``expm1`` so that small rates keep their digits; ``a = 1`` gives 1.
    """
    with np.errstate(divide="ignore"):
        return -np.expm1(np.log1p(-np.asarray(annual, dtype=float)) / MONTHS_PER_YEAR)


def _annual_rate(monthly: np.ndarray | float) -> np.ndarray:
    r"""Annual rate of a constant monthly rate (SMM -> CPR, MDR -> CDR): :math:`1 - (1 - m)^{12}`."""
    with np.errstate(divide="ignore"):
        return -np.expm1(MONTHS_PER_YEAR * np.log1p(-np.asarray(monthly, dtype=float)))


def _monthly_coupon(annual: np.ndarray | float) -> np.ndarray:
    """Monthly interest rate of a mortgage rate quoted annually and paid monthly: ``C / 12`` (SF-4).

    Mortgage coupons are nominal rates compounded monthly, so the month's rate is the
    annual rate divided by 12 (not the compounded conversion of :func:`_monthly_rate`).
    """
    return np.asarray(annual, dtype=float) / MONTHS_PER_YEAR


def smm_from_cpr(cpr: Any) -> Any:
    r"""Convert an annual prepayment rate (CPR) into a single monthly mortality (SMM).

    Parameters
    ----------
    cpr : float, array or Series
        Conditional prepayment rate(s), annual, as fractions in [0, 1] (6 % CPR is ``0.06``).

    Returns
    -------
    float, array or Series
        SMM, monthly, same shape and labels as ``cpr``.

    Raises
    ------
    ParameterError
        If a rate is outside [0, 1] (a value such as 6 is reported as "did you mean 0.06?").

    Notes
    -----
    Twelve months at the monthly rate compound to the annual rate (SF-6):

    .. math:: 1 - \mathrm{CPR} = (1 - \mathrm{SMM})^{12}
              \quad\Longleftrightarrow\quad
              \mathrm{SMM} = 1 - (1 - \mathrm{CPR})^{1/12}.

    The same conversion turns a CDR into an MDR (:func:`mdr_from_cdr`).

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-6.

    Examples
    --------
    >>> round(smm_from_cpr(0.06), 6)  # 6 % CPR, the plateau of 100 % PSA
    0.005143
    """
    arr = _rate_array(cpr, name="cpr")
    return _like(_monthly_rate(arr), cpr)


def cpr_from_smm(smm: Any) -> Any:
    r"""Convert a single monthly mortality (SMM) into an annual prepayment rate (CPR).

    Parameters
    ----------
    smm : float, array or Series
        Monthly prepayment rate(s) as fractions in [0, 1].

    Returns
    -------
    float, array or Series
        :math:`\mathrm{CPR} = 1 - (1 - \mathrm{SMM})^{12}`, same shape and labels.

    Raises
    ------
    ParameterError
        If a rate is outside [0, 1].

    Notes
    -----
    .. math:: \mathrm{CPR} = 1 - (1 - \mathrm{SMM})^{12}.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-6 and
       the worked example of SF-8 (SMM 0.435270 % gives CPR 5.1000 %).

    Examples
    --------
    >>> round(cpr_from_smm(0.00435270), 5)
    0.051
    """
    arr = _rate_array(smm, name="smm")
    return _like(_annual_rate(arr), smm)


def mdr_from_cdr(cdr: Any) -> Any:
    r"""Convert an annual default rate (CDR) into a monthly default rate (MDR).

    Parameters
    ----------
    cdr : float, array or Series
        Constant (conditional) default rate(s), annual, as fractions in [0, 1].

    Returns
    -------
    float, array or Series
        :math:`\mathrm{MDR} = 1 - (1 - \mathrm{CDR})^{1/12}`, same shape and labels.

    Raises
    ------
    ParameterError
        If a rate is outside [0, 1].

    Notes
    -----
    .. math:: \mathrm{MDR} = 1 - (1 - \mathrm{CDR})^{1/12}   \quad\text{(SF-21, item g)}.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-21.

    Examples
    --------
    >>> round(mdr_from_cdr(0.006), 6)  # the 0.60 % peak of 100 % SDA
    0.000501
    """
    arr = _rate_array(cdr, name="cdr")
    return _like(_monthly_rate(arr), cdr)


def _speed_array(speed: object, *, name: str) -> np.ndarray:
    try:
        arr = np.asarray(speed, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`{name}` must be a number such as 150 (percent of the standard curve), got {speed!r}.") from exc
    if (~np.isfinite(arr) | (arr < 0)).any():
        raise ParameterError(f"`{name}` must be >= 0 (percent of the standard curve, 100 = the curve itself), got {speed!r}.")
    return arr


def _month_array(month: object) -> np.ndarray:
    try:
        arr = np.asarray(month, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`month` must be a whole number of months >= 1, got {month!r}.") from exc
    if (~np.isfinite(arr) | (arr < 0)).any():
        raise ParameterError(f"`month` must be >= 1 (month 1 is the first month after origination), got {month!r}.")
    return arr


def _psa(month: np.ndarray, speed: np.ndarray) -> np.ndarray:
    return np.minimum(speed / 100.0 * 0.002 * np.clip(month, 1, 30), 1.0)


def _sda(month: np.ndarray, speed: np.ndarray) -> np.ndarray:
    m = np.maximum(month, 1)
    base = np.where(
        m <= 30,
        0.0002 * m,
        np.where(m <= 60, 0.006, np.where(m <= 120, 0.006 - 0.000095 * (m - 60), 0.0003)),
    )
    return np.minimum(speed / 100.0 * base, 1.0)


def psa_cpr(month: Any, speed: Any = 100) -> Any:
    r"""Return the annual prepayment rate (CPR) of the PSA standard prepayment model.

    Parameters
    ----------
    month : int, array or Series
        Month(s) of loan life, 1 = the first month after origination (the accrual
        period in which the loan age goes from ``month - 1`` to ``month``).
    speed : float or array, default 100
        PSA speed in percent of the standard curve (``150`` = 150 % PSA).
        ``month`` and ``speed`` broadcast: ``psa_cpr(np.arange(1, 361)[:, None], [100, 200])``
        gives a months x speeds table.

    Returns
    -------
    float, array or Series
        CPR as a fraction (``0.06`` at 100 % PSA from month 30 on).

    Raises
    ------
    ParameterError
        If a month or speed is negative or not a number.

    Notes
    -----
    100 % PSA is 0.2 % CPR in month 1, rising by 0.2 % a month to 6 % CPR in month 30
    and flat afterwards; other speeds scale the curve (SF-6):

    .. math:: \mathrm{CPR} = \min\left\{\frac{\mathrm{PSA}}{100}\times 0.2\,\%\times
              \max\{1, \min\{\mathrm{MONTH}, 30\}\},\ 100\,\%\right\}.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-6.

    Examples
    --------
    >>> psa_cpr([1, 15, 30, 200], speed=100).round(4).tolist()
    [0.002, 0.03, 0.06, 0.06]
    >>> round(psa_cpr(17, speed=150), 4)  # the SF-8 example: month 17 at 150 % PSA
    0.051
    """
    m = _month_array(month)
    s = _speed_array(speed, name="speed")
    return _like(_psa(m, s), month)


def sda_cdr(month: Any, speed: Any = 100) -> Any:
    r"""Return the annual default rate (CDR) of the Standard Default Assumption (SDA) curve.

    Parameters
    ----------
    month : int, array or Series
        Month(s) of loan life, 1 = the first month after origination.
    speed : float or array, default 100
        SDA speed in percent of the standard curve. Broadcasts with ``month``.

    Returns
    -------
    float, array or Series
        CDR as a fraction.

    Raises
    ------
    ParameterError
        If a month or speed is negative or not a number.

    Notes
    -----
    100 % SDA rises linearly from 0.02 % in month 1 to a 0.60 % peak in month 30,
    stays there to month 60, falls by 0.0095 % a month to a 0.03 % tail in month 120
    and stays at the tail (SF-20/21):

    .. math:: \mathrm{CDR}(m) = \frac{\mathrm{SDA}}{100}\times\begin{cases}
              0.02\,\%\, m & m \le 30\\ 0.60\,\% & 30 < m \le 60\\
              0.60\,\% - 0.0095\,\%\,(m - 60) & 60 < m \le 120\\ 0.03\,\% & m > 120 .\end{cases}

    The SF also sets the default rate to 0 in the last ``n`` months of the pool, ``n``
    being the months to liquidation; :func:`pool_cashflows` applies that rule.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-20 to SF-22.

    Examples
    --------
    >>> sda_cdr([1, 30, 61, 120, 300]).round(6).tolist()
    [0.0002, 0.006, 0.005905, 0.0003, 0.0003]
    """
    m = _month_array(month)
    s = _speed_array(speed, name="speed")
    return _like(_sda(m, s), month)


_RATE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*%?\s*([A-Za-z]+)\s*$", re.IGNORECASE)
_PREPAY_UNITS = ("PSA", "CPR", "SMM")
_DEFAULT_UNITS = ("SDA", "CDR", "MDR")


class _Curve:
    """A monthly rate assumption: ``kind`` in {"smm", "psa", "sda", "vector"}.

    ``value`` is a per-row constant monthly rate or a speed (percent of the
    standard curve), or, for ``"vector"``, monthly rates by projection month.
    """

    def __init__(self, kind: str, value: np.ndarray, label: str) -> None:
        self.kind = kind
        self.value = np.asarray(value, dtype=float)
        self.label = label
        self._table: np.ndarray | None = None

    def monthly(self, k: int, month_of_life: np.ndarray) -> np.ndarray:
        """Monthly rate (SMM or MDR) in projection month ``k`` for loans of that month of life."""
        if self.kind == "smm":
            return self.value
        if self.kind == "vector":
            vec = self.value
            return np.asarray(vec[min(k, vec.size) - 1])
        shape = _psa if self.kind == "psa" else _sda
        if self.value.size == 1:  # one speed for every row: look the curve up in a table
            if self._table is None or self._table.size <= int(month_of_life.max()):
                months = np.arange(max(int(month_of_life.max()) + 1, 400), dtype=float)
                self._table = _monthly_rate(shape(months, self.value.reshape(())))
            return self._table[np.asarray(month_of_life, dtype=np.int64)]
        return _monthly_rate(shape(np.asarray(month_of_life, dtype=float), self.value))


def _by_month(index: pd.Index) -> bool:
    """Whether a Series index is positional (0, 1, ...) or the projection months 1, 2, ... in order."""
    if not pd.api.types.is_integer_dtype(index.dtype):
        return False
    values = index.to_numpy()
    start = values[0] if values.size else 0
    return bool(start in (0, 1) and (values == np.arange(start, start + values.size)).all())


def _parse_curve(spec: object, *, name: str, units: tuple[str, ...]) -> _Curve:
    """Turn ``0.06``, ``"150 PSA"``, ``"1 SMM"`` or a vector of annual rates into a curve."""
    curve_unit, annual_unit, monthly_unit = units
    if isinstance(spec, str):
        match = _RATE_RE.match(spec)
        if not match or match.group(2).upper() not in units:
            other = _DEFAULT_UNITS if units == _PREPAY_UNITS else _PREPAY_UNITS
            hint = ""
            if match and match.group(2).upper() in other:
                hint = f" {match.group(2).upper()} is a {'default' if other == _DEFAULT_UNITS else 'prepayment'} convention; pass it as the other argument."
            raise ParameterError(
                f"`{name}` string {spec!r} does not parse; write a number and a unit such as "
                f"'150 {curve_unit}', '6 {annual_unit}' or '1 {monthly_unit}' (numbers in percent).{hint}"
            )
        number = float(match.group(1))
        unit = match.group(2).upper()
        if unit == curve_unit:
            return _Curve(curve_unit.lower(), np.asarray(number), f"{number:g} {unit}")
        if number > 100:
            raise ParameterError(f"`{name}` {spec!r}: a {unit} above 100 % is impossible.")
        rate = number / 100.0
        monthly = rate if unit == monthly_unit else float(_monthly_rate(rate))
        return _Curve("smm", np.asarray(monthly), f"{number:g} {unit}")
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        rate = _rate(spec, name=name)
        return _Curve("smm", _monthly_rate(rate), f"{rate * 100:g} {annual_unit}")
    if isinstance(spec, (pd.Series, np.ndarray, list, tuple)):
        if isinstance(spec, pd.Series) and not _by_month(spec.index):
            raise ParameterError(
                f"`{name}` as a Series must be indexed by projection month 1, 2, ... (in order), got the index "
                f"{list(spec.index[:5])}...; pass `{name}.to_numpy()` to give the rates in order instead."
            )
        arr = _rate_array(spec, name=name)
        if arr.ndim != 1:
            raise ParameterError(f"`{name}` must be one rate per projection month (1-D), got shape {arr.shape}.")
        return _Curve("vector", _monthly_rate(arr), f"vector {annual_unit}")
    raise ParameterError(
        f"`{name}` must be an annual rate such as 0.06, a string such as '150 {curve_unit}', or a "
        f"vector of annual {annual_unit} rates by month; got {type(spec).__name__}."
    )

r"""Pools of loans: prepayment, default and loss, and pooled credit loss distributions.

Pooling in finance began with pools of loans. In 1970 the Government National
Mortgage Association (Ginnie Mae) guaranteed the first mortgage *pass-through*
security: the monthly payments of a pool of home loans were passed, pro rata, to
investors. Freddie Mac (1971) and Fannie Mae (1981) followed, and the pooled
mortgage became the template of every later securitisation (CMOs in 1983, asset
backed securities, CLOs). This module covers both halves of that history:

* **Cash flows of a loan pool** following the Bond Market Association (now SIFMA)
  *Uniform Practices / Standard Formulas*, chapter SF [1]_: SMM and CPR, the PSA
  prepayment ramp, CDR/MDR and the SDA default curve, the SF-18/19 recursion with
  defaults (performing balance, new defaults, loans in foreclosure, expected and
  actual amortisation, voluntary prepayments, amortised default balance, principal
  recovery and loss, lost interest), and the yield, average life and durations of
  SF section G with payment delay days.
* **Pooled credit loss** of a portfolio of loans: the one-factor Gaussian
  (Vasicek) model [2]_, the Basel II IRB capital formula [3]_, a finite-pool Monte
  Carlo simulation, tranche losses, and the *pooling view* (the loss distribution
  narrows as loans are added and widens as their correlation rises).

Conventions: every rate is a **fraction** (a 9.5 % coupon is ``0.095``, 6 % CPR is
``0.06``); a value that looks like a percentage gets a "did you mean" hint.
Strings use the market's percent notation: ``"150 PSA"``, ``"6 CPR"``,
``"1 SMM"``, ``"100 SDA"``, ``"0.5 CDR"``, ``"1 MDR"``. Months are counted from 1
(month ``k`` is the accrual period during which the loan age goes from ``age + k - 1``
to ``age + k``). Losses are positive numbers.

References
----------
.. [1] The Bond Market Association (1999). *Uniform Practices/Standard Formulas*,
   chapter SF: Standard Formulas for the Analysis of Mortgage-Backed Securities and
   Other Related Securities (02/01/99).
.. [2] Vasicek, O. (2002). The distribution of loan portfolio value. *Risk* 15(12), 160-162.
.. [3] Basel Committee on Banking Supervision (2005). *An Explanatory Note on the
   Basel II IRB Risk Weight Functions*; BCBS (2006), *International Convergence of
   Capital Measurement and Capital Standards*, paragraph 272 and Annex 5.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from poolkit._validation import check_fraction, check_positive_int
from poolkit.exceptions import DataError, ParameterError, SolverError

_pandas = pd  # functions whose argument is called `pd` (probability of default) use this name

__all__ = [
    "LoanPool",
    "cash_flow_yield",
    "convexity",
    "cpr_from_smm",
    "irb_capital",
    "irb_correlation",
    "irb_risk_weight",
    "level_payment",
    "loss_distribution_by_correlation",
    "loss_distribution_by_pool_size",
    "macaulay_duration",
    "mdr_from_cdr",
    "modified_duration",
    "pool_cashflows",
    "pool_from_loans",
    "psa_cpr",
    "scheduled_balance",
    "sda_cdr",
    "simulate_pool_losses",
    "smm_from_cpr",
    "speed_scenarios",
    "speed_table",
    "tranche_loss",
    "tranche_table",
    "vasicek_loss_cdf",
    "vasicek_loss_pdf",
    "vasicek_loss_quantile",
    "vasicek_tranche_loss",
    "weighted_average_life",
]

CASHFLOW_COLUMNS = (
    "beginning_balance",
    "performing_balance",
    "foreclosure",
    "balance",
    "smm",
    "mdr",
    "new_defaults",
    "expected_amortization",
    "actual_amortization",
    "amortization_from_defaults",
    "voluntary_prepayments",
    "amortized_default_balance",
    "principal_recovery",
    "principal_loss",
    "expected_interest",
    "lost_interest",
    "actual_interest",
    "servicing_fee",
    "principal",
    "interest",
    "cash_flow",
)

# ----------------------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------------------


def _rate_array(value: object, *, name: str) -> np.ndarray:
    """Check a rate (or array of rates) in [0, 1]; hint when it looks like a percentage."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return np.asarray(check_fraction(value, name=name), dtype=float)
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`{name}` must be a number or an array of numbers in [0, 1], got {value!r}.") from exc
    if arr.size == 0:
        raise ParameterError(f"`{name}` is empty; give at least one rate.")
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1)
    if bad.any():
        x = float(arr[bad].flat[0])
        hint = f" Did you mean {x:g} % = {x / 100:g}?" if 1 < x <= 100 else ""
        raise ParameterError(f"`{name}` must hold rates in [0, 1], got {x:g}.{hint}")
    return arr


def _positive(value: object, *, name: str, allow_zero: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`{name}` must be a positive number, got {value!r}.") from exc
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if bad.any():
        x = float(arr[bad].flat[0])
        need = ">= 0" if allow_zero else "> 0"
        raise ParameterError(f"`{name}` must be {need}, got {x:g}; a balance cannot be negative.")
    return arr


def _term_age(term: object, age: object) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(term)
    a = np.asarray(age)
    for name, arr in (("term", t), ("age", a)):
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise ParameterError(f"`{name}` must be a whole number of months, got {arr!r}.")
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ParameterError(f"`{name}` must be a whole number of months, got {arr.flat[0]!r}.")
    t = t.astype(np.int64)
    a = a.astype(np.int64)
    if (t <= 0).any():
        raise ParameterError(f"`term` must be a positive number of months (e.g. 360), got {int(t[t <= 0].flat[0])}.")
    if (a < 0).any():
        raise ParameterError(f"`age` must be >= 0 months, got {int(a[a < 0].flat[0])}.")
    tt, aa = np.broadcast_arrays(t, a)
    if (aa >= tt).any():
        i = int(np.argmax(aa >= tt))
        raise ParameterError(
            f"`age` ({int(aa.flat[i])}) must be smaller than `term` ({int(tt.flat[i])}): a loan of that age "
            f"has no payments left. `term` is the original term; the remaining term is term - age."
        )
    return t, a


# ----------------------------------------------------------------------------------------
# prepayment and default rate conventions (SF-5 to SF-10, SF-20 to SF-22)
# ----------------------------------------------------------------------------------------


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
    return _like(1.0 - (1.0 - arr) ** (1.0 / 12.0), cpr)


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
    return _like(1.0 - (1.0 - arr) ** 12, smm)


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
    return _like(1.0 - (1.0 - arr) ** (1.0 / 12.0), cdr)


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


def _like(values: np.ndarray, template: object) -> Any:
    """Return a float for scalar input, a Series/DataFrame for one (same labels), else an array."""
    if isinstance(template, pd.DataFrame):
        return pd.DataFrame(np.asarray(values, dtype=float).reshape(template.shape), index=template.index.copy(),
                            columns=template.columns.copy())
    if isinstance(template, pd.Series):
        return pd.Series(np.asarray(values, dtype=float).reshape(template.shape), index=template.index.copy(),
                         name=template.name)
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        return float(arr)
    return arr


# ----------------------------------------------------------------------------------------
# rate curves used by the cash-flow recursion
# ----------------------------------------------------------------------------------------

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
                with np.errstate(divide="ignore"):
                    self._table = -np.expm1(np.log1p(-shape(months, self.value.reshape(()))) / 12.0)
            return self._table[np.asarray(month_of_life, dtype=np.int64)]
        with np.errstate(divide="ignore"):
            return -np.expm1(np.log1p(-shape(np.asarray(month_of_life, dtype=float), self.value)) / 12.0)


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
        monthly = rate if unit == monthly_unit else 1.0 - (1.0 - rate) ** (1.0 / 12.0)
        return _Curve("smm", np.asarray(monthly), f"{number:g} {unit}")
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        rate = check_fraction(spec, name=name)
        return _Curve("smm", np.asarray(1.0 - (1.0 - rate) ** (1.0 / 12.0)), f"{rate * 100:g} {annual_unit}")
    if isinstance(spec, (pd.Series, np.ndarray, list, tuple)):
        arr = _rate_array(spec, name=name).reshape(-1)
        return _Curve("vector", 1.0 - (1.0 - arr) ** (1.0 / 12.0), f"vector {annual_unit}")
    raise ParameterError(
        f"`{name}` must be an annual rate such as 0.06, a string such as '150 {curve_unit}', or a "
        f"vector of annual {annual_unit} rates by month; got {type(spec).__name__}."
    )


# ----------------------------------------------------------------------------------------
# scheduled amortisation (SF-4)
# ----------------------------------------------------------------------------------------


def _annuity(months: np.ndarray, monthly_rate: np.ndarray) -> np.ndarray:
    """:math:`1 - (1 + c)^{-m}` (or ``m`` when c = 0); 0 for ``m <= 0``: proportional to a balance."""
    m = np.maximum(months, 0).astype(float)
    c = np.asarray(monthly_rate, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(c > 0, -np.expm1(-m * np.log1p(np.where(c > 0, c, 0.0))), m)
    return out


def level_payment(balance: Any, rate: Any, term: Any) -> Any:
    r"""Compute the level monthly payment that amortises a loan fully over its term.

    Parameters
    ----------
    balance : float or array
        Loan balance (currency), > 0.
    rate : float or array
        Annual mortgage rate as a fraction (9.5 % is ``0.095``), paid monthly (rate / 12).
    term : int or array
        Number of monthly payments left, > 0.

    Returns
    -------
    float or array
        The monthly payment (principal + interest), broadcast over the inputs.

    Raises
    ------
    ParameterError
        If a balance or term is not positive or a rate is outside [0, 1].

    Notes
    -----
    With monthly rate :math:`c = C / 12` and :math:`M_0` payments (SF-4),

    .. math:: P = B\,\frac{c}{1 - (1 + c)^{-M_0}} \qquad (P = B / M_0 \text{ when } c = 0).

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-4.

    Examples
    --------
    >>> round(level_payment(100_000, 0.06, 360), 2)  # a classic textbook mortgage
    599.55
    """
    b = _positive(balance, name="balance")
    c = _rate_array(rate, name="rate") / 12.0
    t, _ = _term_age(term, 0)
    out = b * np.where(c > 0, c / np.where(c > 0, _annuity(t, c), 1.0), 1.0 / t)
    return _like(out, None)


def scheduled_balance(balance: float, rate: float, term: int, *, age: int = 0) -> pd.Series:
    r"""Project the scheduled (no prepayment, no default) balance of a level-payment loan.

    Parameters
    ----------
    balance : float
        Balance today (currency), > 0.
    rate : float
        Annual gross mortgage rate as a fraction.
    term : int
        Original term in months.
    age : int, default 0
        Months since origination (``term - age`` payments are left).

    Returns
    -------
    Series
        Scheduled balance indexed by projection month ``0 .. term - age`` (``month``),
        starting at ``balance`` and ending at 0, named ``"scheduled_balance"``.

    Raises
    ------
    ParameterError
        If the balance is not positive, the rate is outside [0, 1], ``term <= 0`` or
        ``age >= term``.

    Notes
    -----
    As a fraction of par, the amortised balance with :math:`M` months left of :math:`M_0` is (SF-4)

    .. math:: \mathrm{BAL} = \frac{1 - (1 + C/1200)^{-M}}{1 - (1 + C/1200)^{-M_0}} ,

    so the balance :math:`k` months from today is
    :math:`B\,\mathrm{BAL}(M - k) / \mathrm{BAL}(M)`.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-4 and SF-7.

    Examples
    --------
    >>> bal = scheduled_balance(1.0, 0.095, 359)  # the SF-7 Ginnie Mae example
    >>> [round(float(bal[15]), 8), round(float(bal[16]), 8)]
    [0.992133, 0.99157471]
    """
    b = float(_positive(balance, name="balance"))
    c = float(_rate_array(rate, name="rate")) / 12.0
    t, a = _term_age(term, age)
    remaining = int(t - a)
    left = remaining - np.arange(remaining + 1)
    values = b * _annuity(left, c) / _annuity(np.asarray(remaining), c)
    return pd.Series(values, index=pd.RangeIndex(remaining + 1, name="month"), name="scheduled_balance")


# ----------------------------------------------------------------------------------------
# the SF-18/19 recursion, vectorised across rows (loans, speeds)
# ----------------------------------------------------------------------------------------


def _project(
    balance: np.ndarray,
    coupon: np.ndarray,
    net_coupon: np.ndarray,
    term: np.ndarray,
    age: np.ndarray,
    prepay: _Curve,
    default: _Curve,
    severity: np.ndarray,
    lag: int,
    advancing: bool,
    *,
    groups: np.ndarray | None = None,
    n_groups: int = 1,
    rows: bool = False,
) -> dict[str, np.ndarray]:
    """Run the standard recursion for ``n`` rows at once; loop over months only.

    Returns a dict of column -> array (n_out, months): one output row per input row
    when ``rows``, else per group (``groups`` codes) or one total.
    """
    n = balance.size
    remaining = term - age
    months = int(remaining.max())
    c = coupon / 12.0
    net = net_coupon / 12.0
    servicing = (coupon - net_coupon) / 12.0
    n_out = n if rows else n_groups
    keys = (
        "beginning_balance", "performing_balance", "foreclosure", "balance", "new_defaults",
        "expected_amortization", "actual_amortization", "amortization_from_defaults", "voluntary_prepayments",
        "amortized_default_balance", "principal_recovery", "principal_loss", "expected_interest",
        "lost_interest", "actual_interest", "servicing_fee", "principal", "interest", "prepay_base", "default_base",
    )
    store = np.zeros((len(keys), n_out, months))
    starts = np.zeros(1, dtype=np.int64)
    if not rows and groups is not None:  # rows sorted by group: sum contiguous blocks
        if (np.diff(groups) < 0).any():
            raise ValueError("internal: rows must be sorted by group")
        starts = np.searchsorted(groups, np.arange(n_groups))

    perf = balance.astype(float).copy()
    fcl = np.zeros(n)
    history = np.zeros((max(lag, 1), n))  # ring buffer of new defaults (lag months)
    zeros = np.zeros(n)
    growth = 1.0 + c
    zero_rate = c == 0
    any_zero = bool(zero_rate.any())
    rem_f = remaining.astype(float)
    # SCH(k) is proportional to 1 - (1 + c)^-(remaining - k): keep v^(remaining - k) by multiplication
    vpow = np.exp(-rem_f * np.log1p(c))
    a_prev = np.where(zero_rate, rem_f, 1.0 - vpow) if any_zero else 1.0 - vpow
    sched_history = np.zeros((max(lag, 1), n))  # SCH(k - 1) of the last `lag` months
    for k in range(1, months + 1):
        vpow = vpow * growth
        left = rem_f - k
        a_now = np.maximum(1.0 - vpow, 0.0)
        if any_zero:
            a_now = np.where(zero_rate, np.maximum(left, 0.0), a_now)
        a_now = np.where(left > 0, a_now, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(a_prev > 0, a_now / a_prev, 0.0)  # SCH AM(i) / SCH AM(i-1)
        amort = 1.0 - ratio
        life = age + k
        smm = np.broadcast_to(prepay.monthly(k, life), (n,))
        mdr = np.broadcast_to(default.monthly(k, life), (n,))
        if lag:
            mdr = np.where(k > remaining - lag, 0.0, mdr)  # SF-20 (j): no defaults in the last `lag` months
        perf_prev, fcl_prev = perf, fcl

        new_def = perf_prev * mdr
        if lag == 0:
            defaulted = new_def
        elif k > lag:
            defaulted = history[k % lag].copy()
        else:
            defaulted = zeros
        if advancing and lag > 0 and k > lag:
            sched_lagged = sched_history[k % lag]  # SCH AM(i-1-lag)
            with np.errstate(divide="ignore", invalid="ignore"):
                # SCH AM(i-1) / SCH AM(i-1-lag): the defaulted loans amortised through advances
                factor = np.where(sched_lagged > 0, a_prev / sched_lagged, 0.0)
            adb = defaulted * factor
        else:
            adb = defaulted
        if lag > 0:
            sched_history[k % lag] = a_prev
        if lag > 0:
            history[k % lag] = new_def

        exp_am = (perf_prev + fcl_prev - adb) * amort
        act_am = (perf_prev - new_def) * amort
        vol = perf_prev * ratio * smm
        vol = np.minimum(vol, np.maximum(perf_prev - new_def - act_am, 0.0))  # SF-17 (e) cap
        am_def = (new_def + fcl_prev - adb) * amort if advancing else zeros
        fcl = np.maximum(new_def + fcl_prev - adb - am_def, 0.0)
        perf = np.maximum(perf_prev - new_def - vol - act_am, 0.0)
        exp_int = (perf_prev + fcl_prev) * net
        lost_int = (new_def + fcl_prev) * net
        act_int = exp_int - lost_int
        loss = np.minimum(defaulted * severity, adb)
        recov = np.maximum(adb - loss, 0.0)
        if advancing:
            principal = exp_am + vol + recov
            interest = exp_int
            fee = (perf_prev + fcl_prev) * servicing
        else:
            principal = act_am + vol + recov
            interest = act_int
            fee = (perf_prev - new_def) * servicing

        vals = (
            perf_prev + fcl_prev, perf, fcl, perf + fcl, new_def, exp_am, act_am, am_def, vol, adb, recov, loss,
            exp_int, lost_int, act_int, fee, principal, interest, perf_prev * ratio, perf_prev,
        )
        if rows:
            for i, v in enumerate(vals):
                store[i, :, k - 1] = v
        elif groups is None:
            for i, v in enumerate(vals):
                store[i, 0, k - 1] = v.sum()
        else:
            store[:, :, k - 1] = np.add.reduceat(np.stack(vals), starts, axis=1)
        a_prev = a_now
    out = {key: store[i] for i, key in enumerate(keys)}
    prepay_base, default_base = out.pop("prepay_base"), out.pop("default_base")
    out["cash_flow"] = out["principal"] + out["interest"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["smm"] = np.where(prepay_base > 0, out["voluntary_prepayments"] / np.where(prepay_base > 0, prepay_base, 1), 0.0)
        out["mdr"] = np.where(default_base > 0, out["new_defaults"] / np.where(default_base > 0, default_base, 1), 0.0)
    return out


def _frame(out: dict[str, np.ndarray], row: int = 0) -> pd.DataFrame:
    months = next(iter(out.values())).shape[1]
    index = pd.RangeIndex(1, months + 1, name="month")
    return pd.DataFrame({col: out[col][row] for col in CASHFLOW_COLUMNS}, index=index)


def _common_args(
    coupon: object, net_coupon: object, severity: object, recovery_lag: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    c = _rate_array(coupon, name="coupon")
    net = c if net_coupon is None else _rate_array(net_coupon, name="net_coupon")
    if (net > c + 1e-15).any():
        raise ParameterError(
            f"`net_coupon` ({float(np.max(net)):g}) cannot exceed the gross `coupon` ({float(np.min(c)):g}); "
            f"the difference is the servicing (and guarantee) fee."
        )
    sev = _rate_array(severity, name="severity")
    lag = check_positive_int(recovery_lag, name="recovery_lag", minimum=0)
    return c, net, sev, lag


def pool_cashflows(
    balance: float,
    coupon: float,
    term: int,
    *,
    age: int = 0,
    net_coupon: float | None = None,
    prepayment: float | str | Sequence[float] | pd.Series = 0.0,
    default: float | str | Sequence[float] | pd.Series = 0.0,
    severity: float = 0.0,
    recovery_lag: int = 0,
    advancing: bool = True,
) -> pd.DataFrame:
    r"""Project the monthly cash flows of a mortgage pool with prepayments, defaults and losses.

    Parameters
    ----------
    balance : float
        Current pool balance (currency), > 0.
    coupon : float
        Gross weighted-average coupon (WAC) as a fraction, used for amortisation.
    term : int
        Original term in months (e.g. 360).
    age : int, default 0
        Loan age in months (WALA); ``term - age`` months are projected.
    net_coupon : float, optional
        Pass-through (net) rate paid to investors; defaults to ``coupon``. The
        difference is the servicing fee.
    prepayment : float, str or sequence, default 0.0
        Voluntary prepayments: an annual CPR (``0.06``), a string (``"150 PSA"``,
        ``"6 CPR"``, ``"1 SMM"``, numbers in percent) or a vector of annual CPRs for
        projection months 1, 2, ... (its last value is held afterwards).
    default : float, str or sequence, default 0.0
        Defaults: an annual CDR, a string (``"100 SDA"``, ``"0.5 CDR"``, ``"1 MDR"``)
        or a vector of annual CDRs by projection month.
    severity : float, default 0.0
        Loss severity: loss as a fraction of the balance at default.
    recovery_lag : int, default 0
        Months from default to liquidation ("time to liquidation"); the default rate
        is set to 0 in the last ``recovery_lag`` months of the pool (SF-20 j).
    advancing : bool, default True
        Whether the servicer advances principal and interest on defaulted loans
        until liquidation.

    Returns
    -------
    DataFrame
        One row per projection month (index ``month`` = 1 .. term - age) and the
        columns of the standard recursion: ``beginning_balance``,
        ``performing_balance`` (end of month), ``foreclosure`` (loans in foreclosure,
        end of month), ``balance`` (performing + foreclosure), ``smm``, ``mdr``,
        ``new_defaults``, ``expected_amortization``, ``actual_amortization``,
        ``amortization_from_defaults``, ``voluntary_prepayments``,
        ``amortized_default_balance`` (liquidated this month), ``principal_recovery``,
        ``principal_loss``, ``expected_interest``, ``lost_interest``, ``actual_interest``
        (all at the net rate), ``servicing_fee``, and what investors receive:
        ``principal``, ``interest`` and ``cash_flow``.

    Raises
    ------
    ParameterError
        For a non-positive balance, a rate or severity outside [0, 1] (with a percent
        hint), ``term <= 0``, ``age >= term``, a negative lag, or a rate string that
        does not parse.

    Notes
    -----
    With :math:`\mathrm{SCH}(i)` the scheduled balance factor,
    :math:`r_i = \mathrm{SCH}(i)/\mathrm{SCH}(i-1)`, lag :math:`L` and severity
    :math:`s`, month :math:`i` follows SF-18/19:

    .. math::
        \mathrm{NEWDEF}_i &= \mathrm{PERF}_{i-1}\,\mathrm{MDR}_i \\
        \mathrm{ADB}_i &= \mathrm{NEWDEF}_{i-L}\,\mathrm{SCH}(i-1)/\mathrm{SCH}(i-1-L)
            \quad(\times 1 \text{ without advances})\\
        \mathrm{EXPAM}_i &= (\mathrm{PERF}_{i-1} + \mathrm{FCL}_{i-1} - \mathrm{ADB}_i)(1 - r_i) \\
        \mathrm{ACTAM}_i &= (\mathrm{PERF}_{i-1} - \mathrm{NEWDEF}_i)(1 - r_i) \\
        \mathrm{VOL}_i &= \mathrm{PERF}_{i-1}\, r_i\, \mathrm{SMM}_i \\
        \mathrm{AMDEF}_i &= (\mathrm{NEWDEF}_i + \mathrm{FCL}_{i-1} - \mathrm{ADB}_i)(1 - r_i)
            \quad(0 \text{ without advances})\\
        \mathrm{FCL}_i &= \mathrm{NEWDEF}_i + \mathrm{FCL}_{i-1} - \mathrm{ADB}_i - \mathrm{AMDEF}_i \\
        \mathrm{PERF}_i &= \mathrm{PERF}_{i-1} - \mathrm{NEWDEF}_i - \mathrm{VOL}_i - \mathrm{ACTAM}_i \\
        \mathrm{LOSS}_i &= \min(s\,\mathrm{NEWDEF}_{i-L},\ \mathrm{ADB}_i), \quad
        \mathrm{RECOV}_i = \mathrm{ADB}_i - \mathrm{LOSS}_i \\
        \mathrm{EXPINT}_i &= (\mathrm{PERF}_{i-1} + \mathrm{FCL}_{i-1})\, c_{net}/12, \quad
        \mathrm{LOSTINT}_i = (\mathrm{NEWDEF}_i + \mathrm{FCL}_{i-1})\, c_{net}/12 .

    Voluntary prepayments are capped so that the performing balance never goes
    negative (SF-17 e). Investors receive ``principal`` = EXPAM + VOL + RECOV and
    ``interest`` = EXPINT with advances (ACTAM and ACTINT without), so that
    :math:`\sum \text{principal} + \sum \text{loss} + \text{final balance}` equals the
    starting balance. Without defaults the recursion reduces to the SF-4 pass-through:
    scheduled amortisation, prepayments ``SMM x`` (balance after amortisation),
    interest at the net rate and the servicing fee.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-4,
       SF-16 to SF-19, and the Cash Flow A and B tables of SF-23 to SF-38.

    Examples
    --------
    >>> cf = pool_cashflows(100e6, 0.08, 360, prepayment="1 SMM", default="1 MDR",
    ...                     severity=0.20, recovery_lag=12)
    >>> int(round(cf.loc[1, "new_defaults"])), int(round(cf.loc[13, "principal_loss"]))
    (1000000, 200000)
    """
    b = _positive(balance, name="balance")
    if b.ndim != 0:
        raise ParameterError("`balance` must be one number; use pool_from_loans for a table of loans.")
    t, a = _term_age(term, age)
    c, net, sev, lag = _common_args(coupon, net_coupon, severity, recovery_lag)
    prepay = _parse_curve(prepayment, name="prepayment", units=_PREPAY_UNITS)
    dflt = _parse_curve(default, name="default", units=_DEFAULT_UNITS)
    out = _project(
        b.reshape(1), c.reshape(-1)[:1], net.reshape(-1)[:1], t.reshape(1), a.reshape(1),
        prepay, dflt, sev.reshape(-1)[:1], lag, bool(advancing),
    )
    return _frame(out)


def speed_scenarios(
    balance: float,
    coupon: float,
    term: int,
    speeds: Sequence[float],
    *,
    kind: str = "PSA",
    age: int = 0,
    net_coupon: float | None = None,
    prepayment: float | str = 0.0,
    default: float | str = 0.0,
    severity: float = 0.0,
    recovery_lag: int = 0,
    advancing: bool = True,
) -> pd.DataFrame:
    r"""Project the cash flows of one pool under several prepayment (PSA) or default (SDA) speeds.

    All speeds are projected at once (vectorised across speeds; the recursion of
    :func:`pool_cashflows` loops over months only).

    Parameters
    ----------
    balance, coupon, term, age, net_coupon, severity, recovery_lag, advancing
        As in :func:`pool_cashflows`.
    speeds : sequence of float
        Speeds in percent of the standard curve, e.g. ``[50, 100, 200, 300]``.
    kind : {"PSA", "SDA"}, default "PSA"
        Which curve the speeds scale: PSA varies prepayments (``default`` is held
        fixed), SDA varies defaults (``prepayment`` is held fixed).
    prepayment, default : float or str
        The assumption held fixed (see :func:`pool_cashflows`).

    Returns
    -------
    DataFrame
        Index ``month``; columns a MultiIndex ``(field, scenario)`` where ``field`` is
        a column of :func:`pool_cashflows` and ``scenario`` a label such as
        ``"150 PSA"``, so ``frame["balance"]`` is a months x scenarios table.

    Raises
    ------
    ParameterError
        For bad pool inputs (see :func:`pool_cashflows`), an unknown ``kind`` or a
        negative speed.

    Notes
    -----
    Each scenario is :func:`pool_cashflows` with ``prepayment=f"{speed} PSA"`` (or
    ``default=f"{speed} SDA"``); see :func:`psa_cpr` and :func:`sda_cdr` for the curves.

    Examples
    --------
    >>> cf = speed_scenarios(1.0, 0.095, 360, [0, 100, 300])
    >>> cf["balance"].loc[120].round(3).tolist()  # factor after ten years
    [0.902, 0.524, 0.159]
    """
    b = _positive(balance, name="balance")
    t, a = _term_age(term, age)
    c, net, sev, lag = _common_args(coupon, net_coupon, severity, recovery_lag)
    kind_u = str(kind).upper()
    if kind_u not in ("PSA", "SDA"):
        raise ParameterError(f"`kind` must be 'PSA' or 'SDA', got {kind!r}.")
    s = _speed_array(list(speeds), name="speeds").reshape(-1)
    if s.size == 0:
        raise ParameterError("`speeds` is empty; give at least one speed such as [100, 200].")
    n = s.size
    labels = [f"{v:g} {kind_u}" for v in s]
    if kind_u == "PSA":
        prepay = _Curve("psa", s, "PSA")
        dflt = _parse_curve(default, name="default", units=_DEFAULT_UNITS)
    else:
        prepay = _parse_curve(prepayment, name="prepayment", units=_PREPAY_UNITS)
        dflt = _Curve("sda", s, "SDA")
    out = _project(
        np.full(n, float(b)), np.full(n, float(c.reshape(-1)[0])), np.full(n, float(net.reshape(-1)[0])),
        np.full(n, int(t)), np.full(n, int(a)), prepay, dflt, np.full(n, float(sev.reshape(-1)[0])), lag,
        bool(advancing), rows=True,
    )
    months = out["balance"].shape[1]
    data = {(col, lab): out[col][i] for col in CASHFLOW_COLUMNS for i, lab in enumerate(labels)}
    frame = pd.DataFrame(data, index=pd.RangeIndex(1, months + 1, name="month"))
    frame.columns = pd.MultiIndex.from_tuples(list(data), names=["field", "scenario"])
    return frame


# ----------------------------------------------------------------------------------------
# yield, average life, duration (SF section G)
# ----------------------------------------------------------------------------------------


def _times(cashflows: pd.DataFrame, delay_days: float, settle_days: float) -> np.ndarray:
    if not isinstance(cashflows, pd.DataFrame):
        raise TypeError(
            f"`cashflows` must be the DataFrame returned by pool_cashflows, got {type(cashflows).__name__}."
        )
    try:
        months = np.asarray(cashflows.index, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError("`cashflows` must be indexed by projection month 1, 2, ... (as pool_cashflows returns).") from exc
    d = float(delay_days)
    s = float(settle_days)
    if not math.isfinite(d) or d < 0:
        raise ParameterError(f"`delay_days` must be >= 0 (actual delay, e.g. 14 for Ginnie Mae I), got {delay_days!r}.")
    if not math.isfinite(s) or not 0 <= s < 30:
        raise ParameterError(f"`settle_days` must be in [0, 30) days after the start of the accrual month, got {settle_days!r}.")
    return (30.0 * months + d - s) / 360.0


def _column(cashflows: pd.DataFrame, column: str) -> np.ndarray:
    if column not in cashflows.columns:
        raise DataError(f"`cashflows` has no column {column!r}; columns are {list(cashflows.columns)}.")
    values = cashflows[column].to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise DataError(f"`cashflows` column {column!r} holds a missing or infinite value.")
    return values


def weighted_average_life(
    cashflows: pd.DataFrame, *, delay_days: float = 0.0, settle_days: float = 0.0, column: str = "principal"
) -> float:
    r"""Compute the weighted average life (years) of the principal of a pool.

    Parameters
    ----------
    cashflows : DataFrame
        Monthly cash flows indexed by projection month (from :func:`pool_cashflows`).
    delay_days : float, default 0
        Actual payment delay in days after the end of each accrual month (Ginnie Mae I:
        14, Ginnie Mae II: 19, Fannie Mae: 24; the *stated* delay is 31 days longer).
    settle_days : float, default 0
        Days (30/360) from the start of the first accrual month to settlement.
    column : str, default "principal"
        Principal column to weight by.

    Returns
    -------
    float
        Average life in years (30/360).

    Raises
    ------
    DataError
        If the column is missing or holds no principal.
    ParameterError
        If ``delay_days`` or ``settle_days`` is out of range.

    Notes
    -----
    With :math:`T_k = (30k + \text{delay} - \text{settle})/360` the time to the actual
    receipt of the :math:`k`-th payment and :math:`PR_k` its principal (SF-49),

    .. math:: \mathrm{AL} = \frac{\sum_k T_k\, PR_k}{\sum_k PR_k}.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-49 and
       SF-51 (Ginnie Mae I 9 %, 150 % PSA, 14-day delay: average life 9.77844 years).

    Examples
    --------
    >>> cf = pool_cashflows(100.0, 0.095, 360, net_coupon=0.09, prepayment="150 PSA")
    >>> round(weighted_average_life(cf, delay_days=14), 5)
    9.77844
    """
    times = _times(cashflows, delay_days, settle_days)
    pr = _column(cashflows, column)
    total = pr.sum()
    if total <= 0:
        raise DataError(f"`cashflows` column {column!r} pays no principal; the average life is undefined.")
    return float((times * pr).sum() / total)


def _discount(times: np.ndarray, y: float) -> np.ndarray:
    return (1.0 + y / 2.0) ** (-2.0 * times)


def cash_flow_yield(
    cashflows: pd.DataFrame,
    price: float,
    *,
    delay_days: float = 0.0,
    settle_days: float = 0.0,
    column: str = "cash_flow",
) -> float:
    r"""Solve for the bond-equivalent (semiannual) cash-flow yield of a pool at a price.

    Parameters
    ----------
    cashflows : DataFrame
        Monthly cash flows indexed by projection month (from :func:`pool_cashflows`).
    price : float
        Full price (including accrued interest) per 100 of the balance at the start
        of month 1, e.g. ``100.0`` for par.
    delay_days, settle_days : float
        As in :func:`weighted_average_life`.
    column : str, default "cash_flow"
        Column holding what the investor receives each month.

    Returns
    -------
    float
        Yield :math:`Y` as a fraction, semiannual compounding (0.0910675 = 9.10675 %).

    Raises
    ------
    ParameterError
        If ``price`` is not positive.
    SolverError
        If no yield in (-100 %, 1000 %) prices the cash flows.

    Notes
    -----
    :math:`Y` solves (SF-48)

    .. math:: P = \sum_k \frac{CF_k}{(1 + Y/2)^{2 T_k}},\qquad
              T_k = \frac{30k + \text{delay} - \text{settle}}{360}.

    The monthly-compounding *mortgage yield* is :math:`12[(1 + Y/2)^{1/6} - 1]`.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-48 to SF-51
       (Ginnie Mae I 9 %, 150 % PSA, par, 14-day delay: 9.10675 %).

    Examples
    --------
    >>> cf = pool_cashflows(100.0, 0.095, 360, net_coupon=0.09, prepayment="150 PSA")
    >>> round(100 * cash_flow_yield(cf, 100.0, delay_days=14), 5)
    9.10675
    """
    from scipy.optimize import brentq

    p = float(_positive(price, name="price"))
    times = _times(cashflows, delay_days, settle_days)
    cf = _column(cashflows, column)
    start = float(cashflows["beginning_balance"].iloc[0]) if "beginning_balance" in cashflows else 100.0
    target = p / 100.0 * start

    def gap(y: float) -> float:
        return float((cf * _discount(times, y)).sum() - target)

    lo, hi = -1.99, 10.0
    try:
        if gap(lo) * gap(hi) > 0:
            raise ValueError
        return float(brentq(gap, lo, hi, xtol=1e-14, maxiter=500))
    except (ValueError, RuntimeError) as exc:
        raise SolverError(
            f"no yield between -199 % and 1000 % prices these cash flows at {p:g}; check the price "
            f"(per 100 of the starting balance) and the cash-flow column {column!r}."
        ) from exc


def macaulay_duration(
    cashflows: pd.DataFrame,
    yield_rate: float,
    *,
    delay_days: float = 0.0,
    settle_days: float = 0.0,
    column: str = "cash_flow",
) -> float:
    r"""Compute the Macaulay duration (years) of a pool's cash flows at a bond-equivalent yield.

    Parameters
    ----------
    cashflows : DataFrame
        Monthly cash flows (from :func:`pool_cashflows`).
    yield_rate : float
        Bond-equivalent yield as a fraction (see :func:`cash_flow_yield`).
    delay_days, settle_days, column
        As in :func:`cash_flow_yield`.

    Returns
    -------
    float
        Present-value-weighted average time to the cash flows, in years.

    Raises
    ------
    ParameterError
        If ``yield_rate`` is not above -200 %.

    Notes
    -----
    .. math:: D = \frac{1}{P}\sum_k \frac{T_k\, CF_k}{(1 + Y/2)^{2T_k}},\qquad
              P = \sum_k \frac{CF_k}{(1 + Y/2)^{2T_k}}  \quad\text{(SF-49)}.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-49, SF-51.

    Examples
    --------
    >>> cf = pool_cashflows(100.0, 0.095, 360, net_coupon=0.09, prepayment="150 PSA")
    >>> round(macaulay_duration(cf, 0.0910675, delay_days=14), 3)
    5.731
    """
    y = _yield(yield_rate)
    times = _times(cashflows, delay_days, settle_days)
    pv = _column(cashflows, column) * _discount(times, y)
    return float((times * pv).sum() / pv.sum())


def modified_duration(
    cashflows: pd.DataFrame,
    yield_rate: float,
    *,
    delay_days: float = 0.0,
    settle_days: float = 0.0,
    column: str = "cash_flow",
) -> float:
    r"""Compute the modified duration (years) of a pool's cash flows at a bond-equivalent yield.

    Parameters
    ----------
    cashflows, yield_rate, delay_days, settle_days, column
        As in :func:`macaulay_duration`.

    Returns
    -------
    float
        :math:`D / (1 + Y/2)`: the relative price change per unit change of yield.

    Raises
    ------
    ParameterError
        If ``yield_rate`` is not above -200 %.

    Notes
    -----
    .. math:: D_{mod} = \frac{D}{1 + Y/2} = -\frac{1}{P}\frac{\partial P}{\partial Y}
              \quad\text{(cash flows held fixed; SF-49)}.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-49, SF-51.

    Examples
    --------
    >>> cf = pool_cashflows(100.0, 0.095, 360, net_coupon=0.09, prepayment="150 PSA")
    >>> round(modified_duration(cf, 0.0910675, delay_days=14), 3)
    5.482
    """
    y = _yield(yield_rate)
    return macaulay_duration(cashflows, y, delay_days=delay_days, settle_days=settle_days, column=column) / (1 + y / 2)


def convexity(
    cashflows: pd.DataFrame,
    yield_rate: float,
    *,
    delay_days: float = 0.0,
    settle_days: float = 0.0,
    column: str = "cash_flow",
) -> float:
    r"""Compute the cash-flow convexity (years squared) of a pool's cash flows at a yield.

    Parameters
    ----------
    cashflows, yield_rate, delay_days, settle_days, column
        As in :func:`macaulay_duration`.

    Returns
    -------
    float
        :math:`\frac{1}{P}\,\partial^2 P / \partial Y^2` with cash flows held fixed.

    Raises
    ------
    ParameterError
        If ``yield_rate`` is not above -200 %.

    Notes
    -----
    .. math:: C = \frac{1}{(1 + Y/2)^2\, P}\sum_k \frac{T_k (T_k + 1/2)\, CF_k}{(1 + Y/2)^{2T_k}}
              \quad\text{(SF-49)}.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-49, SF-51
       (54.4326 years squared in the Ginnie Mae example).

    Examples
    --------
    >>> cf = pool_cashflows(100.0, 0.095, 360, net_coupon=0.09, prepayment="150 PSA")
    >>> round(convexity(cf, 0.0910675, delay_days=14), 2)
    54.43
    """
    y = _yield(yield_rate)
    times = _times(cashflows, delay_days, settle_days)
    pv = _column(cashflows, column) * _discount(times, y)
    return float((times * (times + 0.5) * pv).sum() / pv.sum() / (1 + y / 2) ** 2)


def _yield(yield_rate: object) -> float:
    if isinstance(yield_rate, bool) or not isinstance(yield_rate, numbers.Real) or not math.isfinite(float(yield_rate)):
        raise ParameterError(f"`yield_rate` must be a number such as 0.09 (9 %), got {yield_rate!r}.")
    y = float(yield_rate)
    if y <= -2.0:
        raise ParameterError(f"`yield_rate` must be above -200 % (semiannual compounding), got {y:g}.")
    if y > 1.0:
        raise ParameterError(f"`yield_rate` must be a fraction, got {y:g}. Did you mean {y:g} % = {y / 100:g}?")
    return y


def speed_table(
    balance: float,
    coupon: float,
    term: int,
    speeds: Sequence[float],
    *,
    kind: str = "PSA",
    price: float = 100.0,
    delay_days: float = 0.0,
    age: int = 0,
    net_coupon: float | None = None,
    prepayment: float | str = 0.0,
    default: float | str = 0.0,
    severity: float = 0.0,
    recovery_lag: int = 0,
    advancing: bool = True,
) -> pd.DataFrame:
    r"""Tabulate average life, yield, durations, defaults and losses of a pool at several speeds.

    Parameters
    ----------
    balance, coupon, term, speeds, kind, age, net_coupon, prepayment, default, severity, recovery_lag, advancing
        As in :func:`speed_scenarios`.
    price : float, default 100.0
        Full price per 100 of balance, for the yield and durations.
    delay_days : float, default 0
        Actual payment delay (see :func:`weighted_average_life`).

    Returns
    -------
    DataFrame
        Index ``scenario`` (``"150 PSA"``...); columns ``speed``, ``wal`` (years),
        ``yield``, ``macaulay_duration``, ``modified_duration``, ``cumulative_defaults``
        and ``cumulative_loss`` (fractions of the starting balance), ``final_month``
        (last month with a cash flow).

    Raises
    ------
    ParameterError
        For bad inputs (see :func:`speed_scenarios`).
    SolverError
        If a yield cannot be found.

    Notes
    -----
    Faster prepayments return principal sooner: the average life falls as the PSA speed
    rises, and the yield of a pool bought at a discount rises (at a premium, falls).
    At a given default rate, faster prepayments leave fewer loans to default (SF-17 h).

    Examples
    --------
    >>> t = speed_table(100e6, 0.08, 360, [150], kind="SDA", prepayment="150 PSA", severity=0.2, recovery_lag=12)
    >>> round(100 * float(t.loc["150 SDA", "cumulative_defaults"]), 2)  # SF-21 matrix: 4.13
    4.13
    """
    frame = speed_scenarios(
        balance, coupon, term, speeds, kind=kind, age=age, net_coupon=net_coupon, prepayment=prepayment,
        default=default, severity=severity, recovery_lag=recovery_lag, advancing=advancing,
    )
    rows = {}
    start = float(balance)
    for label in frame.columns.get_level_values("scenario").unique():
        cf = frame.xs(label, axis=1, level="scenario")
        y = cash_flow_yield(cf, price, delay_days=delay_days)
        paying = np.flatnonzero(cf["cash_flow"].to_numpy() > 1e-12 * start)
        rows[label] = {
            "speed": float(label.split()[0]),
            "wal": weighted_average_life(cf, delay_days=delay_days),
            "yield": y,
            "macaulay_duration": macaulay_duration(cf, y, delay_days=delay_days),
            "modified_duration": modified_duration(cf, y, delay_days=delay_days),
            "cumulative_defaults": float(cf["new_defaults"].sum()) / start,
            "cumulative_loss": float(cf["principal_loss"].sum()) / start,
            "final_month": int(cf.index[paying[-1]]) if paying.size else 0,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "scenario"
    return table


# ----------------------------------------------------------------------------------------
# loan-level pools
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoanPool:
    """A pool built from a loan table: its characteristics and aggregated cash flows.

    Attributes
    ----------
    summary : DataFrame
        One row per segment plus ``"pool"`` (all loans): ``n_loans``, ``balance``,
        ``share`` (of the pool balance), ``wac``, ``wam``, ``wala``, ``pool_factor``.
    cashflows : DataFrame
        Monthly cash flows of the whole pool (columns of :func:`pool_cashflows`).
    segment_cashflows : DataFrame
        The same columns per segment: MultiIndex rows ``(segment, month)``; empty
        when the loan table has no ``segment`` column.
    """

    summary: pd.DataFrame
    cashflows: pd.DataFrame
    segment_cashflows: pd.DataFrame


def _loan_column(loans: pd.DataFrame, names: Sequence[str], *, required: bool = True) -> pd.Series | None:
    for name in names:
        if name in loans.columns:
            col = loans[name]
            if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
                raise DataError(f"loan table column {name!r} must be numeric, got dtype {col.dtype}.")
            if col.isna().any():
                row = col.index[col.isna()][0]
                raise DataError(f"loan table column {name!r} is missing a value for loan {row!r}; fill or drop it.")
            return col
    if required:
        raise DataError(
            f"the loan table needs a column {names[0]!r} (or one of {list(names[1:])}); it has {list(loans.columns)}."
        )
    return None


def pool_from_loans(
    loans: pd.DataFrame,
    *,
    prepayment: float | str | Sequence[float] = 0.0,
    default: float | str | Sequence[float] = 0.0,
    severity: float = 0.0,
    recovery_lag: int = 0,
    advancing: bool = True,
) -> LoanPool:
    r"""Pool a table of loans: characteristics (WAC, WAM, WALA, factor) and cash flows.

    Parameters
    ----------
    loans : DataFrame
        One row per loan with columns ``balance`` (current balance), ``rate`` (gross
        annual rate, fraction), ``remaining_term`` (months) and ``age`` (months);
        optional ``net_rate`` (pass-through rate, defaults to ``rate``),
        ``original_balance`` (for the pool factor) and ``segment`` (a label to
        aggregate by, e.g. product or vintage).
    prepayment, default, severity, recovery_lag, advancing
        Assumptions applied to every loan, as in :func:`pool_cashflows`; PSA and SDA
        curves follow each loan's own age.

    Returns
    -------
    LoanPool
        ``summary`` (per segment and ``"pool"``), ``cashflows`` (whole pool) and
        ``segment_cashflows``.

    Raises
    ------
    DataError
        If a required column is missing, not numeric or has missing values, or the
        table is empty.
    ParameterError
        For a non-positive balance, a rate outside [0, 1], a remaining term <= 0 or
        a negative age.

    Notes
    -----
    Balance-weighted averages:

    .. math:: \mathrm{WAC} = \frac{\sum_i B_i c_i}{\sum_i B_i},\quad
              \mathrm{WAM} = \frac{\sum_i B_i M_i}{\sum_i B_i},\quad
              \mathrm{WALA} = \frac{\sum_i B_i a_i}{\sum_i B_i},\quad
              F = \frac{\sum_i B_i}{\sum_i B_i^{orig}} .

    Without ``original_balance`` the factor is the *scheduled* one, with the
    original balance implied by each loan's amortisation schedule
    (:math:`B_i^{orig} = B_i / \mathrm{BAL}_i`). The recursion of
    :func:`pool_cashflows` runs for every loan at once (a loop over months with
    vectors across loans) and the pool's cash flows are the sums over loans; the
    ``smm`` and ``mdr`` columns are the pool's effective rates.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-4, SF-18,
       SF-39 to SF-43 (WAM, WALA, WAC of generic pools).

    Examples
    --------
    >>> loans = pd.DataFrame({"balance": [100.0, 300.0], "rate": [0.06, 0.08],
    ...                       "remaining_term": [360, 240], "age": [0, 120]})
    >>> pool = pool_from_loans(loans)
    >>> pool.summary.loc["pool", ["wac", "wam", "wala"]].round(4).tolist()
    [0.075, 270.0, 90.0]
    """
    if not isinstance(loans, pd.DataFrame):
        raise TypeError(f"`loans` must be a DataFrame with one row per loan, got {type(loans).__name__}.")
    if loans.empty:
        raise DataError("the loan table is empty; give at least one loan.")
    bal = _positive(_loan_column(loans, ["balance", "current_balance"]).to_numpy(dtype=float), name="balance")
    rate = _rate_array(_loan_column(loans, ["rate", "coupon", "wac"]).to_numpy(dtype=float), name="rate")
    rem = _loan_column(loans, ["remaining_term", "wam"]).to_numpy()
    age_col = _loan_column(loans, ["age", "loan_age", "wala"]).to_numpy()
    if (np.asarray(rem, dtype=float) <= 0).any():
        row = loans.index[np.asarray(rem, dtype=float) <= 0][0]
        raise ParameterError(
            f"loan table column 'remaining_term' must be > 0 months; loan {row!r} has "
            f"{rem[np.asarray(rem, dtype=float) <= 0][0]!r}. Drop loans that have matured."
        )
    _term_age(np.asarray(rem) + np.asarray(age_col), age_col)  # checks whole months, remaining > 0, age >= 0
    rem = np.asarray(rem).astype(np.int64)
    age = np.asarray(age_col).astype(np.int64)
    net_col = _loan_column(loans, ["net_rate", "net_coupon"], required=False)
    net = rate if net_col is None else _rate_array(net_col.to_numpy(dtype=float), name="net_rate")
    if (net > rate + 1e-15).any():
        raise ParameterError("loan table: `net_rate` cannot exceed `rate` (the difference is the servicing fee).")
    orig_col = _loan_column(loans, ["original_balance"], required=False)
    _, _, sev, lag = _common_args(0.0, None, severity, recovery_lag)
    prepay = _parse_curve(prepayment, name="prepayment", units=_PREPAY_UNITS)
    dflt = _parse_curve(default, name="default", units=_DEFAULT_UNITS)
    term = rem + age

    if orig_col is not None:
        orig = _positive(orig_col.to_numpy(dtype=float), name="original_balance")
    else:
        c = rate / 12.0
        orig = bal * _annuity(term, c) / _annuity(rem, c)

    if "segment" in loans.columns:
        codes, uniques = pd.factorize(loans["segment"], sort=True)
        if (codes < 0).any():
            raise DataError("loan table column 'segment' has missing labels; fill them (e.g. 'other').")
        labels = [str(u) for u in uniques]
    else:
        codes, labels = np.zeros(bal.size, dtype=np.int64), []
    n_seg = max(len(labels), 1)

    def stats(mask_codes: np.ndarray | None) -> dict[str, np.ndarray]:
        idx = codes if mask_codes is None else mask_codes
        g = n_seg if mask_codes is None else 1
        w = np.bincount(idx, weights=bal, minlength=g)
        return {
            "n_loans": np.bincount(idx, minlength=g).astype(float),
            "balance": w,
            "wac": np.bincount(idx, weights=bal * rate, minlength=g) / w,
            "wam": np.bincount(idx, weights=bal * rem, minlength=g) / w,
            "wala": np.bincount(idx, weights=bal * age, minlength=g) / w,
            "pool_factor": w / np.bincount(idx, weights=orig, minlength=g),
        }

    total = stats(np.zeros(bal.size, dtype=np.int64))
    rows = {"pool": {k: float(v[0]) for k, v in total.items()}}
    if labels:
        seg = stats(None)
        for i, lab in enumerate(labels):
            rows[lab] = {k: float(v[i]) for k, v in seg.items()}
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary["share"] = summary["balance"] / total["balance"][0]
    summary["n_loans"] = summary["n_loans"].astype(int)
    summary = summary[["n_loans", "balance", "share", "wac", "wam", "wala", "pool_factor"]]
    summary.index.name = "segment"

    sev_arr = np.broadcast_to(sev, bal.shape).astype(float)
    if labels:
        order = np.argsort(codes, kind="stable")  # contiguous segments (every segment has a loan)
        out = _project(
            bal[order], rate[order], net[order], term[order], age[order], prepay, dflt, sev_arr[order], lag,
            bool(advancing), groups=codes[order], n_groups=n_seg,
        )
        per_seg = {lab: _frame(out, i) for i, lab in enumerate(labels)}
        seg_cf = pd.concat(per_seg, names=["segment", "month"])
        cash = seg_cf.groupby(level="month").sum()
        base_p = _project_bases(out)
        cash["smm"], cash["mdr"] = base_p
    else:
        out = _project(bal, rate, net, term, age, prepay, dflt, sev_arr, lag, bool(advancing))
        cash = _frame(out)
        seg_cf = pd.DataFrame(columns=list(CASHFLOW_COLUMNS))
    return LoanPool(summary=summary, cashflows=cash, segment_cashflows=seg_cf)


def _project_bases(out: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pool-level effective SMM and MDR from per-segment rates and flows."""
    vol = out["voluntary_prepayments"]
    with np.errstate(divide="ignore", invalid="ignore"):
        base_p = np.where(out["smm"] > 0, vol / out["smm"], 0.0).sum(axis=0)
        base_d = np.where(out["mdr"] > 0, out["new_defaults"] / out["mdr"], 0.0).sum(axis=0)
        smm = np.where(base_p > 0, vol.sum(axis=0) / np.where(base_p > 0, base_p, 1), 0.0)
        mdr = np.where(base_d > 0, out["new_defaults"].sum(axis=0) / np.where(base_d > 0, base_d, 1), 0.0)
    return smm, mdr


# ----------------------------------------------------------------------------------------
# pooled credit loss: Vasicek, Basel IRB, Monte Carlo, tranches
# ----------------------------------------------------------------------------------------


def _pd_array(value: object, *, name: str = "pd") -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`{name}` must be a probability in (0, 1), got {value!r}.") from exc
    bad = ~np.isfinite(arr) | (arr <= 0) | (arr >= 1)
    if bad.any():
        x = float(arr[bad].flat[0])
        hint = f" Did you mean {x:g} % = {x / 100:g}?" if 1 <= x < 100 else ""
        raise ParameterError(f"`{name}` must be in (0, 1), got {x:g}.{hint}")
    return arr


def _rho(value: object, *, name: str = "rho") -> float:
    return check_fraction(value, name=name, high=1.0, high_open=True)


def _vasicek_args(pd: object, rho: object, lgd: object) -> tuple[float, float, float]:
    """Check the scalar ``(pd, rho, lgd)`` of a Vasicek pool: pd in (0, 1), rho in [0, 1), lgd in (0, 1]."""
    return float(_pd_array(pd)), _rho(rho), check_fraction(lgd, name="lgd", low_open=True)


def _loss_rates(x: object) -> np.ndarray:
    xs = np.asarray(x, dtype=float)
    if (~np.isfinite(xs)).any():
        raise ParameterError("`x` must hold finite loss rates.")
    return xs


def vasicek_loss_cdf(x: Any, pd: float, rho: float, *, lgd: float = 1.0) -> Any:
    r"""Compute the probability that the loss rate of an infinitely granular pool is at most ``x``.

    Parameters
    ----------
    x : float, array or Series
        Loss rate(s) as fractions of the pool exposure.
    pd : float
        Probability of default of each loan over the horizon, in (0, 1).
    rho : float
        Asset correlation (loading on the common factor squared), in [0, 1).
    lgd : float, default 1.0
        Loss given default, in (0, 1]; the loss rate is ``lgd`` times the default rate.

    Returns
    -------
    float, array or Series
        :math:`P(L \le x)`, same shape and labels as ``x``.

    Raises
    ------
    ParameterError
        If ``pd`` is outside (0, 1), ``rho`` outside [0, 1) or ``lgd`` outside (0, 1].

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

    p, r, g = _vasicek_args(pd, rho, lgd)
    xs = _loss_rates(x)
    u = np.clip(xs / g, 0.0, 1.0)
    if r == 0.0:
        cdf = (u >= p).astype(float)
    else:
        with np.errstate(divide="ignore"):
            cdf = norm.cdf((math.sqrt(1 - r) * norm.ppf(u) - norm.ppf(p)) / math.sqrt(r))
    cdf = np.where(xs < 0, 0.0, np.where(xs >= g, 1.0, cdf))
    return _like(cdf, x)


def vasicek_loss_pdf(x: Any, pd: float, rho: float, *, lgd: float = 1.0) -> Any:
    r"""Compute the density of the loss rate of an infinitely granular pool (Vasicek distribution).

    Parameters
    ----------
    x : float, array or Series
        Loss rate(s) in (0, lgd).
    pd, rho, lgd
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

    p, r, g = _vasicek_args(pd, rho, lgd)
    if r == 0.0:
        raise ParameterError("`rho` must be > 0 for a loss density; at rho = 0 the loss is certain (pd * lgd).")
    xs = _loss_rates(x)
    u = xs / g
    inside = (u > 0) & (u < 1)
    uu = np.where(inside, u, 0.5)
    q = norm.ppf(uu)
    dens = math.sqrt((1 - r) / r) * np.exp(0.5 * q**2 - (math.sqrt(1 - r) * q - norm.ppf(p)) ** 2 / (2 * r)) / g
    return _like(np.where(inside, dens, 0.0), x)


def vasicek_loss_quantile(q: Any, pd: float, rho: float, *, lgd: float = 1.0) -> Any:
    r"""Compute the loss rate of an infinitely granular pool at confidence ``q`` (Vasicek quantile).

    Parameters
    ----------
    q : float, array or Series
        Confidence level(s) in (0, 1), e.g. 0.999.
    pd, rho, lgd
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
    from scipy.stats import norm

    p, r, g = _vasicek_args(pd, rho, lgd)
    qs = _pd_array(q, name="q")
    out = g * norm.cdf((norm.ppf(p) + math.sqrt(r) * norm.ppf(qs)) / math.sqrt(1 - r))
    return _like(out, q)


def vasicek_tranche_loss(attachment: float, detachment: float, pd: float, rho: float, *, lgd: float = 1.0) -> float:
    r"""Compute the expected loss of a tranche of an infinitely granular pool (fraction of the tranche).

    Parameters
    ----------
    attachment, detachment : float
        Tranche bounds as fractions of the pool, ``0 <= attachment < detachment <= 1``.
    pd, rho, lgd
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
    p, r, g = _vasicek_args(pd, rho, lgd)
    if r == 0.0:
        loss = p * g
        return float(min(max(loss - a, 0.0), d - a) / (d - a))
    hi = min(d, g)
    if hi <= a:
        return 0.0
    points = [x for x in (p * g,) if a < x < hi]
    value, _ = quad(lambda x: 1.0 - vasicek_loss_cdf(x, p, r, lgd=g), a, hi, points=points or None, limit=200)
    return float(value / (d - a))


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


def irb_capital(
    pd: Any,
    lgd: Any,
    rho: Any = None,
    *,
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
    >>> round(12.5 * irb_capital(0.01, 0.45), 4)  # Annex 5: PD 1 %, LGD 45 %, M 2.5 -> 92.32 %
    0.9232
    """
    from scipy.stats import norm

    p = _pd_array(pd)
    g = _rate_array(lgd, name="lgd")
    if rho is None:
        r = np.asarray(irb_correlation(p), dtype=float)
    else:
        r = np.asarray(rho, dtype=float)
        if (~np.isfinite(r) | (r < 0) | (r >= 1)).any():
            x = float(r[~np.isfinite(r) | (r < 0) | (r >= 1)].flat[0])
            hint = f" Did you mean {x:g} % = {x / 100:g}?" if 1 <= x < 100 else ""
            raise ParameterError(f"`rho` must be in [0, 1), got {x:g}.{hint}")
    m = _positive(maturity, name="maturity")
    conf = check_fraction(confidence, name="confidence", low=0.5, low_open=True, high_open=True)
    k = g * norm.cdf((norm.ppf(p) + np.sqrt(r) * norm.ppf(conf)) / np.sqrt(1 - r)) - p * g
    if maturity_adjustment:
        b = (0.11852 - 0.05478 * np.log(p)) ** 2
        k = k * (1 + (m - 2.5) * b) / (1 - 1.5 * b)
    return _like(k, pd)


def irb_risk_weight(pd: Any, lgd: Any, rho: Any = None, **kwargs: Any) -> Any:
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
    >>> round(irb_risk_weight(0.0003, 0.45), 4)  # Annex 5, PD 0.03 %: 14.44 %
    0.1444
    """
    k = irb_capital(pd, lgd, rho, **kwargs)
    return k * 12.5


def _loan_inputs(exposures: object, pd: object, lgd: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(exposures, numbers.Integral) and not isinstance(exposures, bool):
        n = check_positive_int(exposures, name="exposures")
        ead = np.full(n, 1.0 / n)
    else:
        if isinstance(exposures, _pd_types()):
            ead = np.asarray(exposures, dtype=float)
        else:
            try:
                ead = np.asarray(exposures, dtype=float)
            except (TypeError, ValueError) as exc:
                raise ParameterError(
                    f"`exposures` must be a number of equal loans (int) or an array of exposures, got {exposures!r}."
                ) from exc
        ead = ead.reshape(-1)
        if ead.size == 0:
            raise ParameterError("`exposures` is empty; give at least one loan.")
        if (~np.isfinite(ead) | (ead < 0)).any():
            raise ParameterError("`exposures` must be >= 0 (exposure at default of each loan); a balance cannot be negative.")
        if ead.sum() <= 0:
            raise ParameterError("`exposures` sum to 0; give at least one positive exposure.")
    n = ead.size
    p = _pd_array(pd).reshape(-1)
    g = _rate_array(lgd, name="lgd").reshape(-1)
    if isinstance(exposures, _pd_types()[0]) and isinstance(pd, _pd_types()[0]):
        p = _pd_array(pd.reindex(exposures.index)).reshape(-1)  # type: ignore[union-attr]
    if isinstance(exposures, _pd_types()[0]) and isinstance(lgd, _pd_types()[0]):
        g = _rate_array(lgd.reindex(exposures.index), name="lgd").reshape(-1)  # type: ignore[union-attr]
    for name, arr in (("pd", p), ("lgd", g)):
        if arr.size not in (1, n):
            raise ParameterError(f"`{name}` must be one number or one value per loan ({n}), got {arr.size} values.")
    return ead, np.broadcast_to(p, (n,)).copy(), np.broadcast_to(g, (n,)).copy()


def _pd_types() -> tuple[type, ...]:
    """Return the pandas types accepted as labelled loan vectors (Series)."""
    return (_pandas.Series,)


def simulate_pool_losses(
    exposures: int | Sequence[float] | pd.Series,
    pd: float | Sequence[float] | pd.Series,
    lgd: float | Sequence[float] | pd.Series,
    rho: float,
    n_sims: int = 100_000,
    seed: int | None = None,
    *,
    progress: bool = False,
    max_memory_mb: float = 64.0,
) -> pd.Series:
    r"""Simulate the loss rate of a finite pool of loans (one-factor Gaussian copula).

    Parameters
    ----------
    exposures : int, array or Series
        Either the number of loans of a homogeneous pool (equal exposures), or the
        exposure at default of each loan.
    pd : float, array or Series
        Probability of default over the horizon, one number or one per loan, in (0, 1).
    lgd : float, array or Series
        Loss given default, one number or one per loan, in [0, 1].
    rho : float
        Asset correlation in [0, 1).
    n_sims : int, default 100_000
        Number of scenarios.
    seed : int, optional
        Seed of the numpy random generator: the same seed gives the same losses.
    progress : bool, default False
        Show a tqdm progress bar (useful for millions of scenarios).
    max_memory_mb : float, default 64
        Memory budget of one chunk of loan-level draws; scenarios are simulated in
        chunks that fit it.

    Returns
    -------
    Series
        Loss of the pool in each scenario, as a fraction of the total exposure,
        indexed by ``scenario`` and named ``"loss"``.

    Raises
    ------
    ParameterError
        If ``pd`` is outside (0, 1), ``lgd`` outside [0, 1], ``rho`` outside [0, 1),
        an exposure is negative, or ``n_sims`` < 1.

    Notes
    -----
    Loan :math:`i` defaults when :math:`\sqrt{\rho}\,Z + \sqrt{1-\rho}\,\varepsilon_i < N^{-1}(p_i)`,
    with one common factor :math:`Z` per scenario. Conditional on :math:`Z` defaults are
    independent with probability

    .. math:: p_i(Z) = N\!\left(\frac{N^{-1}(p_i) - \sqrt{\rho}\,Z}{\sqrt{1-\rho}}\right),
              \qquad L = \frac{\sum_i \mathrm{EAD}_i\,\mathrm{LGD}_i\,D_i}{\sum_i \mathrm{EAD}_i}.

    *Exact bucket method*: loans that share the same PD and loss amount
    :math:`\mathrm{EAD}_i\mathrm{LGD}_i` form a bucket whose number of defaults, given
    :math:`Z`, is Binomial(:math:`n_b`, :math:`p_b(Z)`); when the pool has few such
    buckets (always for a homogeneous pool) one binomial draw per bucket replaces the
    loan-level draws. *Exact subset method* (heterogeneous exposures or PDs): within a
    group of loans, with :math:`\bar p(Z) = \max_i p_i(Z)`, a number
    :math:`K \sim \mathrm{Binomial}(n_g, \bar p(Z))` of candidates is drawn, the
    candidates are a uniformly random subset of the group (each loan is then a
    candidate independently with probability :math:`\bar p`), and each candidate
    defaults with probability :math:`p_i(Z)/\bar p(Z)` (thinning), so every loan
    defaults with probability :math:`p_i(Z)`: the work grows with the number of
    defaults, not of loans. Loans are grouped by PD (up to 8 groups) to keep
    :math:`\bar p` close to each :math:`p_i`. Scenarios run in chunks that fit
    ``max_memory_mb``. The mean loss tends to
    :math:`\sum_i \mathrm{EAD}_i\mathrm{LGD}_i p_i / \sum_i \mathrm{EAD}_i` and, for a
    large homogeneous pool, the quantiles to :func:`vasicek_loss_quantile`.

    References
    ----------
    .. [1] Vasicek, O. (2002). The distribution of loan portfolio value. Risk 15(12).
    .. [2] Glasserman, P. (2004). Monte Carlo Methods in Financial Engineering, section 9.4.

    Examples
    --------
    >>> losses = simulate_pool_losses(1000, pd=0.02, lgd=0.45, rho=0.1, n_sims=20_000, seed=1)
    >>> bool(abs(losses.mean() - 0.02 * 0.45) < 0.0005)
    True
    """
    from scipy.special import ndtr
    from scipy.stats import norm

    ead, p, g = _loan_inputs(exposures, pd, lgd)
    r = _rho(rho)
    n_s = check_positive_int(n_sims, name="n_sims")
    budget = float(max_memory_mb)
    if not math.isfinite(budget) or budget <= 0:
        raise ParameterError(f"`max_memory_mb` must be > 0, got {max_memory_mb!r}.")
    rng = np.random.default_rng(seed)
    total = ead.sum()
    w = ead * g / total  # loss of each loan as a fraction of the pool
    threshold = norm.ppf(p)
    sr, sq = math.sqrt(r), math.sqrt(1 - r)

    n_loans = ead.size
    keys = np.stack([p, w])
    uniq, counts = np.unique(keys, axis=1, return_counts=True)
    method = "buckets" if uniq.shape[1] <= max(1, n_loans // 4) else "subsets"
    budget_items = max(1, int(budget * 1e6 // 16))
    order = np.argsort(p, kind="stable")
    n_groups = int(min(np.unique(p).size, 8))
    groups = [g_idx for g_idx in np.array_split(order, n_groups) if g_idx.size]
    if method == "buckets":
        chunk = budget_items // max(uniq.shape[1], 1)
    else:
        expected = float(p.max()) * n_loans * 4 + 8  # candidates per scenario, generously
        chunk = int(budget_items // expected)
    chunk = int(max(1, min(n_s, chunk)))
    losses = np.empty(n_s)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_s, desc="scenarios", unit="scen")
    thr_b, loss_b = norm.ppf(uniq[0]), uniq[1]
    start = 0
    while start < n_s:
        size = min(chunk, n_s - start)
        z = rng.standard_normal(size)
        if method == "buckets":
            cond = ndtr((thr_b[None, :] - sr * z[:, None]) / sq)
            losses[start:start + size] = rng.binomial(counts[None, :], cond) @ loss_b
        else:
            total_loss = np.zeros(size)
            for idx in groups:
                thr = threshold[idx]
                top = float(thr.max())
                p_top = ndtr((top - sr * z) / sq)
                k = rng.binomial(idx.size, p_top)
                if float(thr.min()) == top:
                    accept = None
                else:
                    def accept(s_idx: np.ndarray, l_idx: np.ndarray, thr: np.ndarray = thr,
                               z: np.ndarray = z, p_top: np.ndarray = p_top) -> np.ndarray:
                        with np.errstate(divide="ignore", invalid="ignore"):
                            ratio = ndtr((thr[l_idx] - sr * z[s_idx]) / sq) / p_top[s_idx]
                        return np.where(p_top[s_idx] > 0, ratio, 0.0)
                total_loss += _thinned_subset_losses(rng, k, w[idx], accept, budget_items)
            losses[start:start + size] = total_loss
        start += size
        if bar is not None:
            bar.update(size)
    if bar is not None:
        bar.close()
    return _pd_series(np.clip(losses, 0.0, None), name="loss", index_name="scenario")


def _thinned_subset_losses(
    rng: np.random.Generator,
    k: np.ndarray,
    weights: np.ndarray,
    accept: Any,
    max_items: int,
) -> np.ndarray:
    """Loss of each scenario when a uniformly random subset of ``k[s]`` loans are candidates.

    Candidates are drawn with replacement and the repeated ones redrawn until every
    scenario holds ``k[s]`` distinct loans; the procedure treats all loans alike, so
    every subset of that size is equally likely (exact). Candidate ``i`` of scenario
    ``s`` then defaults with probability ``accept(s, i)`` (thinning; ``None`` means 1,
    when all loans of the group share one PD). When more than half the loans are candidates, the
    scenario is done loan by loan instead.
    """
    n = weights.size
    size = k.size
    out = np.zeros(size)
    dense = np.flatnonzero(k > n // 2)
    if dense.size:  # rare, very bad scenarios: every loan is a candidate, draw them all
        for lo in range(0, dense.size, max(1, max_items // max(n, 1))):
            rows = dense[lo:lo + max(1, max_items // max(n, 1))]
            cand = np.argsort(np.argsort(rng.random((rows.size, n)), axis=1), axis=1) < k[rows, None]
            if accept is not None:
                r_idx = np.broadcast_to(rows[:, None], (rows.size, n))
                l_idx = np.broadcast_to(np.arange(n)[None, :], (rows.size, n))
                cand &= rng.random((rows.size, n)) < accept(r_idx, l_idx)
            out[rows] = cand @ weights
    sparse = np.flatnonzero(k <= n // 2)
    picks = k[sparse]
    bounds = np.concatenate([[0], np.cumsum(picks)])
    per_batch = max(1, min(sparse.size, max_items // max(n, 1)))  # bounds the ownership table
    owner = np.full(per_batch * n, -1, dtype=np.int64)  # position that holds each (scenario, loan)
    start = 0
    while start < sparse.size:  # batches of scenarios whose picks and table fit in memory
        stop = int(np.searchsorted(bounds, bounds[start] + max_items, side="right")) - 1
        stop = min(max(stop, start + 1), start + per_batch, sparse.size)
        scen = np.repeat(np.arange(stop - start, dtype=np.int64), picks[start:stop])
        idx = rng.integers(0, n, scen.size)
        key = scen * n + idx
        pos = np.arange(key.size)
        owner[key[::-1]] = pos[::-1]  # the first draw of each (scenario, loan) owns it
        pending = pos[owner[key] != pos]
        while pending.size:
            idx[pending] = rng.integers(0, n, pending.size)
            new_key = scen[pending] * n + idx[pending]
            free = owner[new_key] < 0
            cand, cand_key = pending[free], new_key[free]
            owner[cand_key[::-1]] = cand[::-1]
            won = owner[cand_key] == cand
            pending = np.concatenate([pending[~free], cand[~won]])
        owner[scen * n + idx] = -1  # every entry written above belongs to a final pick: reset them
        rows = sparse[start:stop]
        lost = weights[idx]
        if accept is not None:
            lost = lost * (rng.random(scen.size) < accept(rows[scen], idx))
        out[rows] = np.bincount(scen, weights=lost, minlength=stop - start)
        start = stop
    return out


def _pd_series(values: np.ndarray, *, name: str, index_name: str) -> pd.Series:
    """Wrap values in a Series with a named RangeIndex."""
    return _pandas.Series(values, index=_pandas.RangeIndex(len(values), name=index_name), name=name)


def _tranche_bounds(attachment: object, detachment: object) -> tuple[float, float]:
    a = check_fraction(attachment, name="attachment")
    d = check_fraction(detachment, name="detachment")
    if a >= d:
        raise ParameterError(
            f"`attachment` ({a:g}) must be below `detachment` ({d:g}); a tranche covers losses "
            f"between them, e.g. attachment=0.03, detachment=0.07."
        )
    return a, d


def tranche_loss(losses: Any, attachment: float, detachment: float) -> Any:
    r"""Compute the loss of a tranche as a fraction of its notional, scenario by scenario.

    Parameters
    ----------
    losses : float, array or Series
        Pool loss rate(s) as fractions of the pool (e.g. from :func:`simulate_pool_losses`).
    attachment, detachment : float
        Tranche bounds as fractions of the pool, ``0 <= attachment < detachment <= 1``.

    Returns
    -------
    float, array or Series
        Tranche loss in [0, 1] for each scenario (a Series keeps the scenario index and
        is named ``"tranche a-d"``); its mean is the expected tranche loss.

    Raises
    ------
    ParameterError
        If ``attachment >= detachment`` or a bound is outside [0, 1].

    Notes
    -----
    .. math:: \ell_{[a,d]}(L) = \frac{\min\{\max(L - a, 0),\ d - a\}}{d - a}.

    The equity tranche :math:`[0, a_1]` absorbs the first losses; senior tranches are hit
    only when the pool loss passes their attachment, which diversification makes rare
    and correlation makes likelier.

    References
    ----------
    .. [1] Hull, J. and White, A. (2004). Valuation of a CDO and an n-th to default CDS
       without Monte Carlo simulation. Journal of Derivatives 12(2), 8-23.

    Examples
    --------
    >>> tranche_loss(np.array([0.01, 0.05, 0.2]), 0.03, 0.07).round(3).tolist()
    [0.0, 0.5, 1.0]
    """
    a, d = _tranche_bounds(attachment, detachment)
    arr = np.asarray(losses, dtype=float)
    if (~np.isfinite(arr)).any():
        raise ParameterError("`losses` must hold finite loss rates.")
    out = np.minimum(np.maximum(arr - a, 0.0), d - a) / (d - a)
    if isinstance(losses, pd.Series):
        return pd.Series(out, index=losses.index.copy(), name=f"tranche {a:g}-{d:g}")
    return _like(out, losses)


def tranche_table(
    losses: pd.Series | np.ndarray,
    tranches: Mapping[str, float],
    *,
    pd: float | None = None,
    rho: float | None = None,
    lgd: float = 1.0,
) -> pd.DataFrame:
    r"""Tabulate the expected loss and hit probabilities of a capital structure of tranches.

    Parameters
    ----------
    losses : Series or array
        Simulated pool loss rates (fractions of the pool).
    tranches : mapping of str to float
        Tranche name -> detachment point, from the most junior up, e.g.
        ``{"equity": 0.03, "mezzanine": 0.07, "senior": 1.0}``; each tranche attaches
        where the previous one detaches (the first at 0).
    pd, rho : float, optional
        When both are given, add the large-pool (Vasicek) expected tranche loss.
    lgd : float, default 1.0
        Loss given default for the Vasicek column.

    Returns
    -------
    DataFrame
        Index ``tranche``; columns ``attachment``, ``detachment``, ``expected_loss``
        (fraction of the tranche), ``prob_hit`` (P[L > attachment]),
        ``prob_wiped_out`` (P[L >= detachment]), ``share_of_pool_loss`` and, with
        ``pd`` and ``rho``, ``vasicek_expected_loss``.

    Raises
    ------
    ParameterError
        If the detachment points are not increasing within (0, 1].

    Notes
    -----
    The tranche losses add up to the pool loss:
    :math:`\sum_j (d_j - a_j)\,\ell_j = \min(L, d_{last})`.

    Examples
    --------
    >>> t = tranche_table(np.array([0.0, 0.02, 0.05, 0.10]), {"equity": 0.03, "senior": 1.0})
    >>> t["expected_loss"].round(4).tolist()
    [0.6667, 0.0232]
    """
    if not isinstance(tranches, Mapping) or not tranches:
        raise ParameterError(
            "`tranches` must be a non-empty mapping of name -> detachment point, e.g. "
            "{'equity': 0.03, 'mezzanine': 0.07, 'senior': 1.0}."
        )
    arr = np.asarray(losses, dtype=float).reshape(-1)
    total = arr.mean() if arr.size else 0.0
    rows = {}
    attach = 0.0
    for name, det in tranches.items():
        a, d = _tranche_bounds(attach, det)
        tl = tranche_loss(arr, a, d)
        row = {
            "attachment": a,
            "detachment": d,
            "expected_loss": float(np.mean(tl)),
            "prob_hit": float(np.mean(arr > a)),
            "prob_wiped_out": float(np.mean(arr >= d)),
            "share_of_pool_loss": float(np.mean(tl) * (d - a) / total) if total > 0 else 0.0,
        }
        if pd is not None and rho is not None:
            row["vasicek_expected_loss"] = vasicek_tranche_loss(a, d, pd, rho, lgd=lgd)
        rows[str(name)] = row
        attach = d
    table = _pandas.DataFrame.from_dict(rows, orient="index")
    table.index.name = "tranche"
    return table


def _quantile_columns(quantiles: Sequence[float]) -> list[float]:
    qs = [float(q) for q in quantiles]
    for q in qs:
        if not 0 < q < 1:
            raise ParameterError(f"`quantiles` must lie in (0, 1), got {q:g}.")
    return qs


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
        row[f"q{q:g}"] = p * g if r == 0 else float(vasicek_loss_quantile(q, p, r, lgd=g)) if g > 0 else 0.0
    return row


def _binomial_losses(p: float, g: float, r: float, sizes: np.ndarray, n_s: int, rng: np.random.Generator) -> np.ndarray:
    from scipy.stats import norm

    z = rng.standard_normal(n_s)
    cond = norm.cdf((norm.ppf(p) - math.sqrt(r) * z) / math.sqrt(1 - r))
    return g * rng.binomial(sizes[None, :], cond[:, None]) / sizes[None, :]


def loss_distribution_by_pool_size(
    pd: float,
    lgd: float,
    rho: float,
    n_loans: Sequence[int] = (1, 10, 100, 1000, 10_000),
    *,
    n_sims: int = 100_000,
    seed: int | None = None,
    quantiles: Sequence[float] = (0.5, 0.95, 0.99, 0.999),
) -> pd.DataFrame:
    r"""Tabulate how the loss distribution of a homogeneous pool narrows as loans are added.

    Parameters
    ----------
    pd, lgd, rho : float
        Probability of default, loss given default and asset correlation of each loan.
    n_loans : sequence of int
        Pool sizes to compare.
    n_sims : int, default 100_000
        Scenarios per pool size (exact binomial draws given the factor).
    seed : int, optional
        Seed of the random generator.
    quantiles : sequence of float
        Loss quantiles to report.

    Returns
    -------
    DataFrame
        Index ``n_loans`` (float; the last row ``inf`` is the infinitely granular
        Vasicek limit, computed in closed form); columns ``mean``, ``std`` and one
        ``q<level>`` column per quantile, all loss rates of the pool.

    Raises
    ------
    ParameterError
        For parameters out of range or a pool size below 1.

    Notes
    -----
    The mean stays at :math:`\mathrm{PD}\cdot\mathrm{LGD}` whatever the size; the variance
    falls towards the systematic part,

    .. math:: \operatorname{Var}(L_n) = \mathrm{LGD}^2\left[\frac{\mathrm{PD} - p_2}{n} + p_2 - \mathrm{PD}^2\right],
              \quad p_2 = N_2\big(N^{-1}(\mathrm{PD}), N^{-1}(\mathrm{PD}); \rho\big),

    which is what pooling cannot diversify away (unless :math:`\rho = 0`).

    References
    ----------
    .. [1] Vasicek, O. (2002). The distribution of loan portfolio value. Risk 15(12).

    Examples
    --------
    >>> t = loss_distribution_by_pool_size(0.02, 1.0, 0.1, [1, 100], n_sims=20_000, seed=0)
    >>> bool(t.loc[1.0, "std"] > t.loc[100.0, "std"] > t.loc[np.inf, "std"])
    True
    """
    p = float(_pd_array(pd))
    g = check_fraction(lgd, name="lgd")
    r = _rho(rho)
    sizes = np.asarray([check_positive_int(n, name="n_loans") for n in n_loans], dtype=np.int64)
    qs = _quantile_columns(quantiles)
    n_s = check_positive_int(n_sims, name="n_sims")
    rng = np.random.default_rng(seed)
    sims = _binomial_losses(p, g, r, sizes, n_s, rng)
    cols = {"mean": sims.mean(axis=0), "std": sims.std(axis=0, ddof=1)}
    for q in qs:
        cols[f"q{q:g}"] = np.quantile(sims, q, axis=0)
    table = _pandas.DataFrame(cols, index=_pandas.Index(sizes.astype(float), name="n_loans"))
    table.loc[np.inf] = _vasicek_row(p, r, g, qs)
    return table


def loss_distribution_by_correlation(
    pd: float,
    lgd: float,
    rhos: Sequence[float] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5),
    *,
    n_loans: int = 0,
    n_sims: int = 100_000,
    seed: int | None = None,
    quantiles: Sequence[float] = (0.5, 0.95, 0.99, 0.999),
) -> pd.DataFrame:
    r"""Tabulate how the loss distribution of a pool widens as the correlation of its loans rises.

    Parameters
    ----------
    pd, lgd : float
        Probability of default and loss given default of each loan.
    rhos : sequence of float
        Asset correlations to compare, each in [0, 1).
    n_loans : int, default 0
        Pool size; ``0`` means infinitely granular (Vasicek closed form, no simulation).
    n_sims : int, default 100_000
        Scenarios per correlation when ``n_loans > 0``.
    seed : int, optional
        Seed of the random generator.
    quantiles : sequence of float
        Loss quantiles to report.

    Returns
    -------
    DataFrame
        Index ``rho``; columns ``mean``, ``std`` and ``q<level>`` per quantile.

    Raises
    ------
    ParameterError
        For parameters out of range.

    Notes
    -----
    The expected loss :math:`\mathrm{PD}\cdot\mathrm{LGD}` does not depend on
    :math:`\rho`, but the tail does: with the factor at its 99.9 % bad value the
    conditional default rate is
    :math:`N\big((N^{-1}(\mathrm{PD}) + \sqrt{\rho}N^{-1}(0.999))/\sqrt{1-\rho}\big)`,
    which rises steeply with :math:`\rho`: the systemic risk that pooling cannot remove.

    References
    ----------
    .. [1] Vasicek, O. (2002). The distribution of loan portfolio value. Risk 15(12).

    Examples
    --------
    >>> t = loss_distribution_by_correlation(0.02, 1.0, [0.0, 0.1, 0.3])
    >>> t["q0.999"].round(4).tolist()
    [0.02, 0.1282, 0.333]
    """
    p = float(_pd_array(pd))
    g = check_fraction(lgd, name="lgd")
    rs = [_rho(r) for r in rhos]
    qs = _quantile_columns(quantiles)
    n = check_positive_int(n_loans, name="n_loans", minimum=0)
    rows = {}
    rng = np.random.default_rng(seed)
    n_s = check_positive_int(n_sims, name="n_sims")
    for r in rs:
        if n == 0:
            row = _vasicek_row(p, r, g, qs)
        else:
            sims = _binomial_losses(p, g, r, np.asarray([n]), n_s, rng)[:, 0]
            row = {"mean": float(sims.mean()), "std": float(sims.std(ddof=1))}
            for q in qs:
                row[f"q{q:g}"] = float(np.quantile(sims, q))
        rows[r] = row
    table = _pandas.DataFrame.from_dict(rows, orient="index")
    table.index.name = "rho"
    return table

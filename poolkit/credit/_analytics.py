"""Yield, average life, durations and convexity of pool cash flows (SF section G), and the speed table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from poolkit.credit._cashflows import speed_scenarios
from poolkit.credit._inputs import _number, _percent_hint, _positive, _scalar
from poolkit.exceptions import DataError, ParameterError, SolverError

#: Longest payment delay accepted, in days (stated delays run to 55 days, actual ones to 24).
MAX_DELAY_DAYS = 90


def _times(cashflows: pd.DataFrame, delay_days: float, settle_days: float) -> np.ndarray:
    if not isinstance(cashflows, pd.DataFrame):
        raise TypeError(
            f"`cashflows` must be the DataFrame returned by pool_cashflows, got {type(cashflows).__name__}."
        )
    if cashflows.empty:
        raise DataError("`cashflows` is empty; project a pool first with pool_cashflows.")
    index = cashflows.index
    if not pd.api.types.is_numeric_dtype(index.dtype) or pd.api.types.is_bool_dtype(index.dtype):
        raise DataError(
            f"`cashflows` must be indexed by projection month 1, 2, ... (as pool_cashflows returns), got an index "
            f"of dtype {index.dtype}."
        )
    months = index.to_numpy(dtype=float)
    if not np.isfinite(months).all() or (months <= 0).any() or (np.diff(months) <= 0).any():
        raise DataError("`cashflows` must be indexed by increasing projection months 1, 2, ... (as pool_cashflows returns).")
    d = _number(delay_days, name="delay_days", expected="a number of days such as 14 (Ginnie Mae I)")
    s = _number(settle_days, name="settle_days", expected="a number of days in [0, 30)")
    if not 0 <= d <= MAX_DELAY_DAYS:
        raise ParameterError(
            f"`delay_days` must be in [0, {MAX_DELAY_DAYS}] days (actual delay after the accrual month, e.g. 14 for "
            f"Ginnie Mae I, 24 for Fannie Mae), got {delay_days!r}."
        )
    if not 0 <= s < 30:
        raise ParameterError(f"`settle_days` must be in [0, 30) days after the start of the accrual month, got {settle_days!r}.")
    return (30.0 * months + d - s) / 360.0


def _column(cashflows: pd.DataFrame, column: str) -> np.ndarray:
    if not isinstance(column, str) or column not in cashflows.columns:
        raise DataError(f"`cashflows` has no column {column!r}; columns are {list(cashflows.columns)}.")
    col = cashflows[column]
    if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        raise DataError(f"`cashflows` column {column!r} must hold numbers, got dtype {col.dtype}.")
    values = col.to_numpy(dtype=float)
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
    TypeError
        If ``cashflows`` is not a DataFrame.
    DataError
        If ``cashflows`` is empty, not indexed by increasing projection months, or the
        column is missing, holds non-numbers, NaN or infinity, or pays no principal.
    ParameterError
        If ``delay_days`` is outside [0, 90] or ``settle_days`` outside [0, 30), or
        either is not a number.

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
    >>> from poolkit.credit import pool_cashflows
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


def _present_value(pv: np.ndarray, column: str) -> float:
    """Sum of discounted cash flows; refuse a stream worth nothing (durations are undefined)."""
    total = float(pv.sum())
    if not total > 0:
        raise DataError(f"`cashflows` column {column!r} is worth {total:g} at this yield; a duration needs a positive value.")
    return total


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
    TypeError
        If ``cashflows`` is not a DataFrame.
    DataError
        If ``cashflows`` is empty, not indexed by increasing projection months, or the
        column is missing, holds non-numbers, NaN or infinity.
    ParameterError
        If ``price`` is not one positive number, or for the day counts of
        :func:`weighted_average_life`.
    SolverError
        If no yield in (-199 %, 1000 %) prices the cash flows.

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
    >>> from poolkit.credit import pool_cashflows
    >>> cf = pool_cashflows(100.0, 0.095, 360, net_coupon=0.09, prepayment="150 PSA")
    >>> round(100 * cash_flow_yield(cf, 100.0, delay_days=14), 5)
    9.10675
    """
    from scipy.optimize import brentq

    p = _scalar(_positive(price, name="price"), name="price")
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
    TypeError
        If ``cashflows`` is not a DataFrame.
    DataError
        If ``cashflows`` is empty, not indexed by increasing projection months, or the
        column is missing, holds non-numbers, NaN or infinity, or the cash flows are worth nothing at the yield.
    ParameterError
        If ``yield_rate`` is not a number in (-200 %, 100 %] (9 gets "did you mean 0.09?").

    Notes
    -----
    .. math:: D = \frac{1}{P}\sum_k \frac{T_k\, CF_k}{(1 + Y/2)^{2T_k}},\qquad
              P = \sum_k \frac{CF_k}{(1 + Y/2)^{2T_k}}  \quad\text{(SF-49)}.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-49, SF-51.

    Examples
    --------
    >>> from poolkit.credit import pool_cashflows
    >>> cf = pool_cashflows(100.0, 0.095, 360, net_coupon=0.09, prepayment="150 PSA")
    >>> round(macaulay_duration(cf, 0.0910675, delay_days=14), 3)
    5.731
    """
    y = _yield(yield_rate)
    times = _times(cashflows, delay_days, settle_days)
    pv = _column(cashflows, column) * _discount(times, y)
    return float((times * pv).sum() / _present_value(pv, column))


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
    TypeError
        If ``cashflows`` is not a DataFrame.
    DataError
        If ``cashflows`` is empty, not indexed by increasing projection months, or the
        column is missing, holds non-numbers, NaN or infinity, or the cash flows are worth nothing at the yield.
    ParameterError
        If ``yield_rate`` is not a number in (-200 %, 100 %] (9 gets "did you mean 0.09?").

    Notes
    -----
    .. math:: D_{mod} = \frac{D}{1 + Y/2} = -\frac{1}{P}\frac{\partial P}{\partial Y}
              \quad\text{(cash flows held fixed; SF-49)}.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-49, SF-51.

    Examples
    --------
    >>> from poolkit.credit import pool_cashflows
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
    TypeError
        If ``cashflows`` is not a DataFrame.
    DataError
        If ``cashflows`` is empty, not indexed by increasing projection months, or the
        column is missing, holds non-numbers, NaN or infinity, or the cash flows are worth nothing at the yield.
    ParameterError
        If ``yield_rate`` is not a number in (-200 %, 100 %] (9 gets "did you mean 0.09?").

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
    >>> from poolkit.credit import pool_cashflows
    >>> cf = pool_cashflows(100.0, 0.095, 360, net_coupon=0.09, prepayment="150 PSA")
    >>> round(convexity(cf, 0.0910675, delay_days=14), 2)
    54.43
    """
    y = _yield(yield_rate)
    times = _times(cashflows, delay_days, settle_days)
    pv = _column(cashflows, column) * _discount(times, y)
    return float((times * (times + 0.5) * pv).sum() / _present_value(pv, column) / (1 + y / 2) ** 2)


def _yield(yield_rate: object) -> float:
    """Check a bond-equivalent yield: a fraction above -200 %, at most 100 %."""
    y = _number(yield_rate, name="yield_rate", expected="a number such as 0.09 (9 %)")
    if y <= -2.0:
        raise ParameterError(f"`yield_rate` must be above -200 % (semiannual compounding), got {y:g}.")
    if y > 1.0:
        raise ParameterError(f"`yield_rate` must be a fraction, got {y:g}.{_percent_hint(y)}")
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

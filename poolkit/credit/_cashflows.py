"""Cash flows of a loan pool: level payment, the SF-18/19 recursion, speed scenarios, loan-level pools."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from poolkit._validation import check_positive_int
from poolkit.credit._conventions import (
    _DEFAULT_UNITS,
    _PREPAY_UNITS,
    _Curve,
    _monthly_coupon,
    _parse_curve,
    _speed_array,
)
from poolkit.credit._inputs import (
    MAX_TERM_MONTHS,
    _flag,
    _like,
    _positive,
    _rate,
    _rate_array,
    _scalar,
    _term_age,
)
from poolkit.exceptions import DataError, ParameterError

#: Most speed scenarios projected at once (the recursion stores 20 columns x months per scenario).
MAX_SCENARIOS = 1000

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
# scheduled amortisation (SF-4)
# ----------------------------------------------------------------------------------------


def _annuity(months: np.ndarray, monthly_rate: np.ndarray | float) -> np.ndarray:
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
        Number of monthly payments left, 1 to 1200 (100 years).

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
    c = _monthly_coupon(_rate_array(rate, name="rate"))
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
        Original term in months, at most 1200 (100 years).
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
        If the balance is not positive, the rate is outside [0, 1], ``term`` is not in
        1..1200 months or ``age >= term``.

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
    b = _scalar(_positive(balance, name="balance"), name="balance")
    c = float(_monthly_coupon(_rate(rate, name="rate")))
    for name, value in (("term", term), ("age", age)):
        if np.ndim(np.asarray(value, dtype=object)) != 0:
            raise ParameterError(f"`{name}` must be one whole number of months, got {value!r}.")
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
    c = _monthly_coupon(coupon)
    net = _monthly_coupon(net_coupon)
    servicing = _monthly_coupon(coupon - net_coupon)
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


def _assumptions(severity: object, recovery_lag: object, advancing: object) -> tuple[float, int, bool]:
    """Check the default assumptions shared by every projection: severity, lag, advancing."""
    sev = _rate(severity, name="severity")
    lag = check_positive_int(recovery_lag, name="recovery_lag", minimum=0)
    if lag > MAX_TERM_MONTHS:
        raise ParameterError(
            f"`recovery_lag` is {lag:,} months; it must be at most {MAX_TERM_MONTHS} (the longest term), "
            f"e.g. 12 months from default to liquidation."
        )
    return sev, lag, _flag(advancing, name="advancing")


@dataclass(frozen=True)
class _Pool:
    """The checked scalar inputs of one pool projection."""

    balance: float
    coupon: float
    net_coupon: float
    term: int
    age: int
    severity: float
    lag: int
    advancing: bool


def _pool_args(
    balance: object, coupon: object, term: object, age: object, net_coupon: object, severity: object,
    recovery_lag: object, advancing: object,
) -> _Pool:
    """Check the inputs of one pool: single numbers (a table of loans goes to pool_from_loans)."""
    one = " Use pool_from_loans for a table of loans."
    b = _scalar(_positive(balance, name="balance"), name="balance", hint=one)
    c = _scalar(_rate_array(coupon, name="coupon"), name="coupon", hint=one)
    net = c if net_coupon is None else _scalar(_rate_array(net_coupon, name="net_coupon"), name="net_coupon", hint=one)
    if net > c + 1e-15:
        raise ParameterError(
            f"`net_coupon` ({net:g}) cannot exceed the gross `coupon` ({c:g}); "
            f"the difference is the servicing (and guarantee) fee."
        )
    for name, value in (("term", term), ("age", age)):
        if np.ndim(np.asarray(value, dtype=object)) != 0:
            raise ParameterError(f"`{name}` must be one whole number of months, got {value!r}.{one}")
    t, a = _term_age(term, age)
    sev, lag, adv = _assumptions(severity, recovery_lag, advancing)
    return _Pool(b, c, net, int(t), int(a), sev, lag, adv)


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
        Original term in months (e.g. 360), at most 1200 (100 years): the recursion runs
        month by month, so this limit is checked before any work.
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
        For a non-positive balance (or one above 1e18), a rate or severity outside [0, 1]
        (with a percent hint), ``term`` outside 1..1200 months, ``age >= term``, a lag
        outside 0..1200, an array where one number is expected, a non-boolean
        ``advancing``, a rate string that does not parse, or a Series of rates not
        indexed by projection month.

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
    pool = _pool_args(balance, coupon, term, age, net_coupon, severity, recovery_lag, advancing)
    prepay = _parse_curve(prepayment, name="prepayment", units=_PREPAY_UNITS)
    dflt = _parse_curve(default, name="default", units=_DEFAULT_UNITS)
    out = _project(
        np.array([pool.balance]), np.array([pool.coupon]), np.array([pool.net_coupon]), np.array([pool.term]),
        np.array([pool.age]), prepay, dflt, np.array([pool.severity]), pool.lag, pool.advancing,
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
        Speeds in percent of the standard curve, e.g. ``[50, 100, 200, 300]``; at most
        1000 scenarios.
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
        For bad pool inputs (see :func:`pool_cashflows`), an unknown ``kind``, a
        negative speed, a speed given twice, or more than 1000 speeds.

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
    pool = _pool_args(balance, coupon, term, age, net_coupon, severity, recovery_lag, advancing)
    kind_u = kind.upper() if isinstance(kind, str) else ""
    if kind_u not in ("PSA", "SDA"):
        raise ParameterError(f"`kind` must be 'PSA' or 'SDA', got {kind!r}.")
    s = _speed_array(list(speeds) if isinstance(speeds, Iterable) else speeds, name="speeds").reshape(-1)
    if s.size == 0:
        raise ParameterError("`speeds` is empty; give at least one speed such as [100, 200].")
    if s.size > MAX_SCENARIOS:
        raise ParameterError(f"`speeds` holds {s.size:,} scenarios; at most {MAX_SCENARIOS:,} are projected at once.")
    labels = [f"{v:g} {kind_u}" for v in s]
    repeated = sorted({lab for lab in labels if labels.count(lab) > 1})
    if repeated:
        raise ParameterError(f"`speeds` lists {repeated} more than once; give each speed once.")
    n = s.size
    if kind_u == "PSA":
        prepay = _Curve("psa", s, "PSA")
        dflt = _parse_curve(default, name="default", units=_DEFAULT_UNITS)
    else:
        prepay = _parse_curve(prepayment, name="prepayment", units=_PREPAY_UNITS)
        dflt = _Curve("sda", s, "SDA")
    out = _project(
        np.full(n, pool.balance), np.full(n, pool.coupon), np.full(n, pool.net_coupon), np.full(n, pool.term),
        np.full(n, pool.age), prepay, dflt, np.full(n, pool.severity), pool.lag, pool.advancing, rows=True,
    )
    months = out["balance"].shape[1]
    data = {(col, lab): out[col][i] for col in CASHFLOW_COLUMNS for i, lab in enumerate(labels)}
    frame = pd.DataFrame(data, index=pd.RangeIndex(1, months + 1, name="month"))
    frame.columns = pd.MultiIndex.from_tuples(list(data), names=["field", "scenario"])
    return frame


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


@overload
def _loan_column(loans: pd.DataFrame, names: Sequence[str]) -> pd.Series: ...
@overload
def _loan_column(loans: pd.DataFrame, names: Sequence[str], *, required: Literal[False]) -> pd.Series | None: ...
def _loan_column(loans: pd.DataFrame, names: Sequence[str], *, required: bool = True) -> pd.Series | None:
    """Return the first of ``names`` found in the loan table, checked numeric and complete."""
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
        For a non-positive balance, a rate outside [0, 1], a remaining term <= 0, a
        negative age, or remaining term + age above 1200 months.

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
    too_long = np.asarray(rem, dtype=float) + np.asarray(age_col, dtype=float) > MAX_TERM_MONTHS
    if too_long.any():
        row = loans.index[too_long][0]
        raise ParameterError(
            f"loan {row!r}: remaining_term + age is {float((np.asarray(rem, dtype=float) + age_col)[too_long][0]):g} "
            f"months; the original term of a loan must be at most {MAX_TERM_MONTHS} months (100 years). "
            f"Both columns are in months."
        )
    _term_age(np.asarray(rem) + np.asarray(age_col), age_col)  # checks whole months, remaining > 0, age >= 0
    rem = np.asarray(rem).astype(np.int64)
    age = np.asarray(age_col).astype(np.int64)
    net_col = _loan_column(loans, ["net_rate", "net_coupon"], required=False)
    net = rate if net_col is None else _rate_array(net_col.to_numpy(dtype=float), name="net_rate")
    if (net > rate + 1e-15).any():
        raise ParameterError("loan table: `net_rate` cannot exceed `rate` (the difference is the servicing fee).")
    orig_col = _loan_column(loans, ["original_balance"], required=False)
    sev, lag, adv = _assumptions(severity, recovery_lag, advancing)
    prepay = _parse_curve(prepayment, name="prepayment", units=_PREPAY_UNITS)
    dflt = _parse_curve(default, name="default", units=_DEFAULT_UNITS)
    term = rem + age

    if orig_col is not None:
        orig = _positive(orig_col.to_numpy(dtype=float), name="original_balance")
    else:
        c = _monthly_coupon(rate)
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
            adv, groups=codes[order], n_groups=n_seg,
        )
        per_seg = {lab: _frame(out, i) for i, lab in enumerate(labels)}
        seg_cf = pd.concat(per_seg, names=["segment", "month"])
        cash = seg_cf.groupby(level="month").sum()
        base_p = _project_bases(out)
        cash["smm"], cash["mdr"] = base_p
    else:
        out = _project(bal, rate, net, term, age, prepay, dflt, sev_arr, lag, adv)
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

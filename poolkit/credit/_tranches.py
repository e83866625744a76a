r"""Per-tranche measures (average life, window, yield, price, duration, losses), prospectus tables, and credit risk.

The measures reuse the pool analytics of :mod:`poolkit.credit` (one home per number):
a tranche's cash-flow table has the columns those functions read. The credit side
simulates loan-level defaults with the one-factor model of
:func:`simulate_pool_losses` and runs every scenario through the waterfall.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from poolkit.credit._analytics import (
    _discount,
    _times,
    _yield,
    cash_flow_yield,
    modified_duration,
    weighted_average_life,
)
from poolkit.credit._cashflows import _annuity, _pool_args, speed_scenarios
from poolkit.credit._conventions import _PREPAY_UNITS, _monthly_coupon, _parse_curve, _sda
from poolkit.credit._deal import Deal
from poolkit.credit._inputs import (
    _by_name,
    _lgd_array,
    _n_loans,
    _n_sims,
    _pd_array,
    _rho,
    _rng,
    _scalar,
)
from poolkit.credit._vasicek import vasicek_tranche_loss
from poolkit.credit._waterfall import PoolScenarios, WaterfallResult, run_waterfall
from poolkit.exceptions import DataError, ParameterError, SolverError

_pandas = pd  # functions whose argument is called `pd` (probability of default) use this name

#: Measures of :func:`prospectus_table`, in the order printed.
PROSPECTUS_MEASURES = ("average_life", "yield", "modified_duration", "first_month", "last_month", "loss")
#: Default speeds of :func:`prospectus_table` (% PSA), as printed in offering documents.
PROSPECTUS_SPEEDS = (0, 50, 100, 150, 200, 300, 400)


def _per_tranche(value: object, names: Sequence[str], *, name: str) -> dict[str, float]:
    """One number for every tranche, or a mapping tranche -> number (every tranche named)."""
    if isinstance(value, Mapping):
        missing = [n for n in names if n not in value]
        extra = [k for k in value if k not in names]
        if missing or extra:
            raise ParameterError(f"`{name}` must give one value per tranche; missing {missing}, not in the deal {extra}.")
        return {n: float(value[n]) for n in names}
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"`{name}` must be a number or a mapping tranche -> number, got {value!r}.")
    return dict.fromkeys(names, float(value))


def _price_at_yield(cf: pd.DataFrame, y: float, delay_days: float, settle_days: float) -> float:
    r"""Full price per 100 of the starting balance that yields ``y``: :math:`100\sum_k CF_k (1+y/2)^{-2T_k}/B_0`."""
    times = _times(cf, delay_days, settle_days)
    start = float(cf["beginning_balance"].iloc[0])
    return float(100.0 * (cf["cash_flow"].to_numpy() * _discount(times, y)).sum() / start)


def tranche_summary(
    result: WaterfallResult,
    scenario: object = None,
    *,
    price: float | Mapping[str, float] | None = None,
    yield_rate: float | Mapping[str, float] | None = None,
    delay_days: float = 0.0,
    settle_days: float = 0.0,
) -> pd.DataFrame:
    r"""Tabulate each tranche's average life, principal window, yield or price, duration and losses.

    Parameters
    ----------
    result : WaterfallResult
        Output of :func:`run_waterfall` (``record="full"``).
    scenario : label, optional
        Scenario of the result (needed when it holds several).
    price : float or mapping, optional
        Full price per 100 of original balance (per 100 of notional for an IO), one for
        every tranche or one per tranche; gives the yield. Default 100 (par) when
        neither ``price`` nor ``yield_rate`` is given.
    yield_rate : float or mapping, optional
        Bond-equivalent yield (fraction), one or per tranche; gives the price.
    delay_days, settle_days : float, default 0
        Payment delay and settlement offset in days, as in :func:`weighted_average_life`.

    Returns
    -------
    DataFrame
        Index ``tranche``; columns ``type``, ``original_balance``, ``principal`` (paid),
        ``interest`` (paid in cash), ``accrued_interest`` (accreted, Z bonds),
        ``writedown`` (principal lost), ``loss`` (writedown / original balance),
        ``interest_shortfall`` (unpaid at the end), ``average_life`` (years; weighted by
        the notional's fall for an IO), ``first_month`` and ``last_month`` (principal
        window; 0 when no principal is paid), ``price``, ``yield`` and
        ``modified_duration``. ``average_life`` is NaN for a tranche that receives no
        principal (written off entirely); ``yield`` and ``modified_duration`` are NaN when
        no yield in (-199 %, 1000 %) prices its cash flows (e.g. an IO priced at par).

    Raises
    ------
    ParameterError
        If both ``price`` and ``yield_rate`` are given, a mapping misses a tranche, a
        value is out of range, or the scenario is unknown.

    Notes
    -----
    Each tranche's cash flows go through the pool measures (SF-49):
    :func:`weighted_average_life`, :func:`cash_flow_yield` (price to yield) and
    :func:`modified_duration`; a yield gives the price

    .. math:: P = \frac{100}{b_0}\sum_k \frac{CF_k}{(1 + Y/2)^{2T_k}},\qquad
              T_k = \frac{30k + \text{delay} - \text{settle}}{360}.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-48 to SF-51.

    Examples
    --------
    >>> from poolkit.credit import load_deal, pool_cashflows, run_waterfall
    >>> cf = pool_cashflows(400e6, 0.08125, 360, age=3, net_coupon=0.075, prepayment="165 PSA")
    >>> t = tranche_summary(run_waterfall(load_deal("fabozzi_cmo1"), cf))
    >>> t[["average_life", "first_month", "last_month"]].round(2)
             average_life  first_month  last_month
    tranche
    A                3.49            1          81
    B                7.50           81         100
    C               11.21          100         178
    D               20.28          178         357
    """
    if price is not None and yield_rate is not None:
        raise ParameterError("give `price` (to get the yield) or `yield_rate` (to get the price), not both.")
    names = list(result.tranches)
    prices = _per_tranche(100.0 if price is None and yield_rate is None else price, names, name="price") \
        if yield_rate is None else None
    yields = _per_tranche(yield_rate, names, name="yield_rate") if yield_rate is not None else None
    s = result._scenario(scenario)
    deal = result.deal
    rows = {}
    for j, t in enumerate(deal.tranches):
        kind = deal.tranche_type(t)
        cf = result.tranche_cashflows(t.name, result.scenarios[s])
        weight = "notional_paydown" if kind == "io" else "principal"
        paid = float(cf[weight].sum())
        wal = weighted_average_life(cf, delay_days=delay_days, settle_days=settle_days, column=weight) \
            if paid > 0 else np.nan
        p = y = dur = np.nan
        if float(cf["cash_flow"].sum()) > 0 and float(cf["beginning_balance"].iloc[0]) > 0:
            try:
                if prices is not None:
                    p = prices[t.name]
                    y = cash_flow_yield(cf, p, delay_days=delay_days, settle_days=settle_days)
                else:
                    assert yields is not None
                    y = _yield(yields[t.name])
                    p = _price_at_yield(cf, y, delay_days, settle_days)
                dur = modified_duration(cf, y, delay_days=delay_days, settle_days=settle_days)
            except SolverError:
                y = dur = np.nan
        a = result.arrays
        orig = deal.balance_of(t)
        rows[t.name] = {
            "type": kind,
            "original_balance": orig,
            "principal": float(a["total_principal"][s, j]),
            "interest": float(a["total_interest"][s, j]),
            "accrued_interest": float(a["total_accrued_interest"][s, j]),
            "writedown": float(a["total_writedown"][s, j]),
            "loss": float(a["total_writedown"][s, j]) / orig if orig > 0 else 0.0,
            "interest_shortfall": float(a["final_shortfall"][s, j]),
            "average_life": wal,
            "first_month": int(a["first_month"][s, j]),
            "last_month": int(a["last_month"][s, j]),
            "price": p,
            "yield": y,
            "modified_duration": dur,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "tranche"
    return table


def prospectus_table(
    deal: Deal,
    speeds: Sequence[float] = PROSPECTUS_SPEEDS,
    *,
    price: float | Mapping[str, float] = 100.0,
    delay_days: float = 0.0,
    default: float | str = 0.0,
    severity: float = 0.0,
    recovery_lag: int = 0,
) -> pd.DataFrame:
    r"""Tabulate average life, yield, duration and principal window of every tranche by prepayment speed.

    The table every offering document prints ("decrement tables"): one column per PSA
    speed, one block of rows per tranche.

    Parameters
    ----------
    deal : Deal
        The deal; its collateral needs a coupon and a term (the pool is projected at
        each speed).
    speeds : sequence of float, default (0, 50, 100, 150, 200, 300, 400)
        PSA speeds (percent of the PSA curve).
    price : float or mapping, default 100
        Full price per 100 of original balance (per tranche with a mapping).
    delay_days : float, default 0
        Payment delay in days (see :func:`weighted_average_life`).
    default, severity, recovery_lag
        Default assumption of the collateral, as in :func:`pool_cashflows` (e.g.
        ``default="100 SDA"``, ``severity=0.35``).

    Returns
    -------
    DataFrame
        Index ``(tranche, measure)`` with measures ``average_life`` (years), ``yield``
        (bond-equivalent, fraction), ``modified_duration`` (years), ``first_month`` and
        ``last_month`` (principal window) and ``loss`` (written-down share of the
        tranche); columns the speed labels (``"100 PSA"``...), named ``scenario``.

    Raises
    ------
    ParameterError
        If the collateral lacks a coupon or term, or for the errors of
        :func:`speed_scenarios` and :func:`tranche_summary`.

    Notes
    -----
    Each column runs :func:`run_waterfall` on :func:`speed_scenarios` (all speeds at
    once) and :func:`tranche_summary` on its scenario.

    References
    ----------
    .. [1] Fabozzi, F. J. and Jones, F. J. (2019). *Foundations of Global Financial Markets
       and Institutions*, 5th ed., MIT Press, table 30.9 (average lives of CMO-3).

    Examples
    --------
    >>> from poolkit.credit import load_deal
    >>> t = prospectus_table(load_deal("fabozzi_cmo3"), [0, 100, 300, 400])
    >>> t.xs("average_life", level="measure").round(2)
    scenario  0 PSA  100 PSA  300 PSA  400 PSA
    tranche
    P         15.97     7.26     7.26     5.92
    S         27.26    18.56     3.13     2.17
    """
    c = deal.collateral
    if c.coupon is None or c.term is None:
        raise ParameterError(
            f"deal {deal.name!r}: the collateral needs a coupon and a term to be projected at each speed "
            f"(load_deal(..., collateral={{'coupon': 0.08, 'net_coupon': 0.075, 'term': 360}}))."
        )
    cf = speed_scenarios(float(c.balance), float(c.coupon), int(c.term), list(speeds), age=int(c.age),
                         net_coupon=c.net_coupon, default=default, severity=severity, recovery_lag=recovery_lag)
    result = run_waterfall(deal, cf)
    blocks = {}
    for label in result.scenarios:
        summary = tranche_summary(result, label, price=price, delay_days=delay_days)
        blocks[label] = summary[list(PROSPECTUS_MEASURES)].stack()
    table = pd.DataFrame(blocks)
    table.index.names = ["tranche", "measure"]
    table.columns.name = "scenario"
    order = pd.MultiIndex.from_product([list(result.tranches), list(PROSPECTUS_MEASURES)], names=["tranche", "measure"])
    return table.reindex(order).astype(float)


def pac_schedule(deal: Deal) -> pd.DataFrame:
    r"""Compute the PAC schedule of a deal: the smaller collateral principal of the two collar speeds.

    Parameters
    ----------
    deal : Deal
        A deal with ``pac`` tranches (and the collateral's coupon, term and age).

    Returns
    -------
    DataFrame
        Index ``month``; columns ``lower`` and ``upper`` (collateral principal at the
        collar speeds), ``minimum`` (the smaller of the two), ``scheduled_payment`` (the
        minimum until the PAC balance is reached) and ``scheduled_balance`` (PAC balance
        left after the month's scheduled payment).

    Raises
    ------
    ParameterError
        If the deal has no PAC tranche.

    Notes
    -----
    With :math:`P^{lo}_k` and :math:`P^{hi}_k` the collateral principal at the lower and
    upper collar speeds and :math:`B^{PAC}` the PAC balance,

    .. math:: \text{scheduled}_k = \min\Big(\min(P^{lo}_k, P^{hi}_k),\
              \big(B^{PAC} - \textstyle\sum_{i<k} \text{scheduled}_i\big)^+\Big),

    so the scheduled PAC balance is :math:`B^{PAC} - \sum_{i\le k}\text{scheduled}_i`. At
    any constant speed inside the collar the collateral pays at least the scheduled
    amount every month, which is what makes the PAC's average life constant there.

    References
    ----------
    .. [1] Fabozzi, F. J. and Jones, F. J. (2019). *Foundations of Global Financial Markets
       and Institutions*, 5th ed., MIT Press, table 30.7 (90-300 PSA collar of a $400
       million 7.5 % pass-through).

    Examples
    --------
    >>> from poolkit.credit import load_deal
    >>> s = pac_schedule(load_deal("fabozzi_cmo3"))
    >>> s.loc[[1, 104, 349], "scheduled_payment"].round(2).tolist()
    [508169.52, 1433539.23, 3432.32]
    """
    pacs = [t for t in deal.tranches if deal.tranche_type(t) == "pac"]
    if not pacs:
        raise ParameterError(f"deal {deal.name!r} has no pac tranche, so no PAC schedule.")
    lo, hi = (float(v) for v in pacs[0].collar or (0.0, 0.0))
    c = deal.collateral
    assert c.coupon is not None and c.term is not None
    cf = speed_scenarios(float(c.balance), float(c.coupon), int(c.term), [lo] if lo == hi else [lo, hi], age=int(c.age),
                         net_coupon=c.net_coupon)
    pr = cf["principal"].to_numpy()
    low, up = pr[:, 0], pr[:, -1]
    minimum = np.minimum(low, up)
    total = sum(deal.balance_of(t) for t in pacs)
    cum = np.minimum(np.cumsum(minimum), total)
    pay = np.diff(cum, prepend=0.0)
    return pd.DataFrame({"lower": low, "upper": up, "minimum": minimum, "scheduled_payment": pay,
                         "scheduled_balance": total - cum}, index=cf.index)


def attachment_points(deal: Deal) -> pd.DataFrame:
    r"""Derive each tranche's attachment and detachment point (share of the collateral) from the structure.

    Parameters
    ----------
    deal : Deal
        The deal.

    Returns
    -------
    DataFrame
        Index ``tranche`` (tranches with principal, most senior first); columns
        ``seniority``, ``attachment``, ``detachment`` and ``thickness``.

    Notes
    -----
    Losses are written off in reverse seniority after the overcollateralisation
    :math:`\mathrm{OC}_0 = B_0 - \sum_j b_j`, so with :math:`J(\ell)` the tranches
    junior to level :math:`\ell`,

    .. math:: a_\ell = \frac{\mathrm{OC}_0 + \sum_{j \in J(\ell)} b_j}{B_0},\qquad
              d_\ell = a_\ell + \frac{\sum_{j \in \ell} b_j}{B_0};

    tranches of equal seniority share one band. Excess spread and a reserve add
    protection over time that these closing points do not count.

    References
    ----------
    .. [1] Fabozzi, F. J. and Jones, F. J. (2019). *Foundations of Global Financial Markets
       and Institutions*, 5th ed., MIT Press, chapter 30 (senior-subordinate structure: a
       tranche's credit enhancement is the principal below it).

    Examples
    --------
    >>> from poolkit.credit import load_deal
    >>> attachment_points(load_deal("senior_sub")).loc[["A2", "M1", "B2"], ["attachment", "detachment"]].round(3)
             attachment  detachment
    tranche
    A2             0.10       0.500
    M1             0.06       0.100
    B2             0.00       0.015
    """
    b0 = float(deal.collateral.balance)
    rows = [(t.name, deal.seniority_of(t), deal.balance_of(t)) for t in deal.tranches if deal.tranche_type(t) != "io"]
    total = sum(r[2] for r in rows)
    oc = b0 - total
    table = {}
    for name, sen, _ in sorted(rows, key=lambda r: r[1]):
        junior = sum(r[2] for r in rows if r[1] > sen)
        level = sum(r[2] for r in rows if r[1] == sen)
        a = (oc + junior) / b0
        table[name] = {"seniority": sen, "attachment": a, "detachment": a + level / b0, "thickness": level / b0}
    frame = pd.DataFrame.from_dict(table, orient="index")
    frame.index.name = "tranche"
    return frame


# ----------------------------------------------------------------------------------------
# credit: loan-level Monte Carlo through the waterfall
# ----------------------------------------------------------------------------------------


def _timing(timing: object, months: int, age: int, lag: int) -> np.ndarray:
    """Share of the defaulted loans that default in each month (sums to 1)."""
    usable = months - lag
    if usable < 1:
        raise ParameterError(f"`recovery_lag` ({lag}) leaves no month for defaults in a {months}-month pool.")
    w = np.zeros(months)
    if isinstance(timing, str):
        key = timing.strip().lower()
        if key == "sda":
            w[:usable] = _sda(np.arange(age + 1, age + usable + 1, dtype=float), np.asarray(100.0))
        elif key == "start":
            w[0] = 1.0
        else:
            raise ParameterError(
                f"`timing` must be 'SDA' (the shape of the SDA curve), 'start' (every default in month 1) or "
                f"weights by month; got {timing!r}."
            )
    else:
        try:
            arr = np.asarray(timing, dtype=float).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"`timing` weights must be numbers by month, got {timing!r}.") from exc
        if arr.size == 0 or arr.size > usable or not np.isfinite(arr).all() or (arr < 0).any() or arr.sum() <= 0:
            raise ParameterError(
                f"`timing` weights must be {usable} or fewer non-negative numbers by month (defaults stop "
                f"`recovery_lag` months before the end), not all zero; got {arr.size} values."
            )
        w[: arr.size] = arr
    return w / w.sum()


@_by_name("pd", "lgd", "rho", fixed=3)
def simulate_pool_cashflows(
    balance: float,
    coupon: float,
    term: int,
    *,
    n_loans: int,
    pd: float,
    lgd: float,
    rho: float,
    age: int = 0,
    net_coupon: float | None = None,
    prepayment: float | str = 0.0,
    timing: str | Sequence[float] = "SDA",
    recovery_lag: int = 0,
    n_sims: int = 10_000,
    seed: int | np.random.Generator | None = None,
) -> PoolScenarios:
    r"""Simulate a pool of identical loans defaulting loan by loan (one-factor model): monthly cash flows per scenario.

    Parameters
    ----------
    balance, coupon, term, age, net_coupon
        The pool, as in :func:`pool_cashflows`; it is made of ``n_loans`` equal loans.
    n_loans : int
        Number of loans, 1 to 10 million.
    pd : float
        Probability that a loan defaults over the life of the pool (before prepayments
        take it away), in (0, 1). By name, like ``lgd`` and ``rho``.
    lgd : float
        Loss given default: the share of a defaulted loan's balance lost, in [0, 1].
    rho : float
        Asset correlation of the one-factor model, in [0, 1).
    prepayment : float or str, default 0
        Prepayments of the performing loans, as in :func:`pool_cashflows` (``"150 PSA"``).
    timing : {"SDA", "start"} or sequence of float, default "SDA"
        When the defaulted loans default: along the shape of the SDA curve, all in month
        1 (``"start"``: the loss is then measured on the original balance, the one-period
        view of :func:`simulate_pool_losses`), or weights by month.
    recovery_lag : int, default 0
        Months from default to liquidation; no loan defaults in the last ``recovery_lag``
        months.
    n_sims : int, default 10_000
        Scenarios, 1 to 10 million.
    seed : int, numpy Generator or None
        Seed of the random generator (see :func:`simulate_pool_losses`).

    Returns
    -------
    PoolScenarios
        Arrays of shape (n_sims, months): ``interest`` (net), ``principal`` (scheduled +
        prepaid + recovered), ``principal_loss``, ``voluntary_prepayments``,
        ``principal_recovery``, ``beginning_balance``; and ``default_fraction`` (n_sims,),
        the share of loans that defaulted. Feed it to :func:`run_waterfall`.

    Raises
    ------
    ParameterError
        For pool inputs out of range (see :func:`pool_cashflows`), ``pd``, ``lgd`` or
        ``rho`` out of range or given by position, a bad ``timing`` or ``seed``.

    Notes
    -----
    The number of loans that default in a scenario, :math:`D`, is drawn by
    :func:`simulate_pool_losses` (Binomial(:math:`n`, :math:`p(Z)`) given the factor
    :math:`Z`, :math:`p(Z) = N((N^{-1}(\mathrm{PD}) - \sqrt\rho Z)/\sqrt{1-\rho})`), and
    their default months by a multinomial draw over the timing weights :math:`w_k`. A
    loan due to default in month :math:`k` may prepay before, like every performing loan,
    so with :math:`G_k = \prod_{i \le k}(1 - \mathrm{SMM}_i)`, :math:`C_k` the share of loans
    due to default by month :math:`k`, and :math:`\mathrm{SCH}_k` a loan's scheduled
    balance factor (SF-4):

    .. math::
        \text{loans paying in month } k:\ A_k = (1 - C_k)\,G_{k-1},\qquad
        \text{defaults: } \mathrm{DEF}_k = (C_k - C_{k-1})\,G_{k-1}\,\mathrm{SCH}_{k-1} B_0 \\
        \text{scheduled principal } A_k(\mathrm{SCH}_{k-1} - \mathrm{SCH}_k)B_0,\quad
        \text{prepayments } A_k\,\mathrm{SMM}_k\,\mathrm{SCH}_k B_0,\quad
        \text{interest } A_k\,\mathrm{SCH}_{k-1} B_0\,c_{net}/12 .

    A defaulted loan pays nothing (no advances) and is liquidated ``recovery_lag``
    months later: a loss of :math:`\mathrm{LGD}\cdot\mathrm{DEF}` and a recovery of the rest.

    References
    ----------
    .. [1] Vasicek, O. (2002). The distribution of loan portfolio value. Risk 15(12).
    .. [2] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-4, SF-18 to SF-20.

    Examples
    --------
    >>> sims = simulate_pool_cashflows(100.0, 0.06, 120, n_loans=500, pd=0.05, lgd=0.4, rho=0.1,
    ...                                n_sims=2000, seed=1)
    >>> sims.principal.shape
    (2000, 120)
    >>> total = sims.principal.sum(axis=1) + sims.principal_loss.sum(axis=1)  # every unit accounted for
    >>> bool(np.allclose(total, 100.0))
    True
    """
    from poolkit.credit._simulation import simulate_pool_losses

    pool = _pool_args(balance, coupon, term, age, net_coupon, 0.0, recovery_lag, True)
    n = _n_loans(n_loans)
    p = _scalar(_pd_array(pd), name="pd")
    g = _scalar(_lgd_array(lgd), name="lgd")
    r = _rho(rho)
    n_s = _n_sims(n_sims)
    rng = _rng(seed)
    months = pool.term - pool.age
    w = _timing(timing, months, pool.age, pool.lag)
    curve = _parse_curve(prepayment, name="prepayment", units=_PREPAY_UNITS)
    smm = np.array([float(np.asarray(curve.monthly(k, np.array([pool.age + k]))).reshape(-1)[0])
                    for k in range(1, months + 1)])
    c = float(_monthly_coupon(pool.coupon))
    left = months - np.arange(months + 1)
    sch = _annuity(left, c) / _annuity(np.asarray(months), c)  # SCH_0 .. SCH_M, 1 -> 0
    g_cum = np.concatenate([[1.0], np.cumprod(1.0 - smm)])  # G_0 .. G_M
    share = simulate_pool_losses(n_loans=n, pd=p, lgd=1.0, rho=r, n_sims=n_s, seed=rng).to_numpy()
    defaults = np.rint(share * n).astype(np.int64)
    counts = rng.multinomial(defaults, w)  # (n_sims, months): loans defaulting each month
    due = np.cumsum(counts, axis=1) / n  # C_k
    b0 = pool.balance
    paying = (1.0 - due) * g_cum[None, :-1]  # A_k
    sched = paying * (sch[:-1] - sch[1:]) * b0
    prepaid = paying * smm * sch[1:] * b0
    interest = paying * sch[:-1] * b0 * float(_monthly_coupon(pool.net_coupon))
    defaulted = counts / n * g_cum[None, :-1] * sch[None, :-1] * b0
    lag = pool.lag
    liquidated = np.zeros_like(defaulted)
    liquidated[:, lag:] = defaulted[:, : months - lag]
    loss = g * liquidated
    recovery = liquidated - loss
    performing = (1.0 - due) * g_cum[None, 1:] * sch[None, 1:] * b0
    foreclosure = np.cumsum(defaulted - liquidated, axis=1)
    end = performing + foreclosure
    begin = np.concatenate([np.full((n_s, 1), b0), end[:, :-1]], axis=1)
    return PoolScenarios(
        interest=interest, principal=sched + prepaid + recovery, principal_loss=loss, voluntary_prepayments=prepaid,
        principal_recovery=recovery, beginning_balance=begin, default_fraction=defaults / n,
    )


def tranche_loss_distribution(deal: Deal, scenarios: PoolScenarios, *, chunk: int = 2000) -> pd.DataFrame:
    """Run simulated pools through the waterfall: each tranche's loss in each scenario.

    Parameters
    ----------
    deal : Deal
        The deal (its collateral balance must be the simulated pool's).
    scenarios : PoolScenarios
        Output of :func:`simulate_pool_cashflows`.
    chunk : int, default 2000
        Scenarios run through the waterfall at once (bounds the memory).

    Returns
    -------
    DataFrame
        Index ``scenario``; one column per tranche with principal: the written-down share
        of its original balance, in [0, 1]; plus ``pool`` (the pool's loss as a share of
        its balance) and ``default_fraction`` (share of loans that defaulted).

    Raises
    ------
    DataError
        If ``scenarios`` is not a PoolScenarios or does not fit the deal.

    Notes
    -----
    Runs :func:`run_waterfall` with ``record="summary"`` on chunks of scenarios.

    Examples
    --------
    >>> from poolkit.credit import load_deal
    >>> deal = load_deal("senior_sub", collateral={"term": 120})
    >>> sims = simulate_pool_cashflows(100e6, 0.08, 120, n_loans=200, pd=0.05, lgd=0.4, rho=0.1,
    ...                                n_sims=500, seed=3)
    >>> losses = tranche_loss_distribution(deal, sims)
    >>> bool((losses["B2"] >= losses["A1"]).all())  # the bottom tranche is hit first
    True
    """
    if not isinstance(scenarios, PoolScenarios):
        raise DataError(f"`scenarios` must be the PoolScenarios of simulate_pool_cashflows, got {type(scenarios).__name__}.")
    step = max(1, int(chunk))
    n_s = scenarios.principal.shape[0]
    parts = []
    for lo in range(0, n_s, step):
        rows = slice(lo, lo + step)
        flows = {f: getattr(scenarios, f)[rows] for f in ("interest", "principal", "principal_loss",
                                                           "voluntary_prepayments", "principal_recovery",
                                                           "beginning_balance")}
        parts.append(run_waterfall(deal, flows, record="summary").losses().to_numpy())
    names = [t.name for t in deal.tranches if deal.balance_of(t) > 0]
    frame = pd.DataFrame(np.concatenate(parts), columns=pd.Index(names, name="tranche"),
                         index=pd.RangeIndex(n_s, name="scenario"))
    frame["pool"] = scenarios.principal_loss.sum(axis=1) / float(deal.collateral.balance)
    if scenarios.default_fraction.size == n_s:
        frame["default_fraction"] = scenarios.default_fraction
    return frame


@_by_name("pd", "lgd", "rho", fixed=2)
def tranche_loss_table(
    losses: pd.DataFrame,
    deal: Deal,
    *,
    pd: float | None = None,
    lgd: float = 1.0,
    rho: float | None = None,
) -> pd.DataFrame:
    r"""Tabulate each tranche's simulated expected loss and hit probabilities, beside the large-pool Vasicek value.

    Parameters
    ----------
    losses : DataFrame
        Output of :func:`tranche_loss_distribution`.
    deal : Deal
        The deal (for the attachment points).
    pd, rho : float, optional
        Give both for the large-pool (Vasicek) expected loss of each tranche's band.
    lgd : float, default 1.0
        Loss given default of the Vasicek column.

    Returns
    -------
    DataFrame
        Index ``tranche`` (most senior first); columns ``attachment``, ``detachment``,
        ``expected_loss`` (mean written-down share), ``prob_hit`` (P[loss > 0]),
        ``prob_wiped_out`` (P[loss = 100 %]), ``loss_q99`` (99 % quantile) and, with
        ``pd`` and ``rho``, ``vasicek_expected_loss``
        (:func:`vasicek_tranche_loss` on the tranche's band).

    Raises
    ------
    ParameterError
        If only one of ``pd`` and ``rho`` is given, or a tranche of the deal is missing
        from ``losses``.

    Notes
    -----
    For an infinitely granular pool whose losses are all taken at closing
    (``timing="start"``) and a deal that allocates losses in reverse seniority, the
    tranche loss is :math:`\min(\max(L - a, 0), d - a)/(d - a)` of the pool loss
    :math:`L`, so the simulated expected loss tends to the Vasicek value as the pool grows.

    References
    ----------
    .. [1] Vasicek, O. (2002). The distribution of loan portfolio value. Risk 15(12).

    Examples
    --------
    >>> from poolkit.credit import load_deal
    >>> deal = load_deal("senior_sub", collateral={"term": 120})
    >>> sims = simulate_pool_cashflows(100e6, 0.08, 120, n_loans=200, pd=0.05, lgd=0.4, rho=0.1,
    ...                                n_sims=500, seed=3)
    >>> t = tranche_loss_table(tranche_loss_distribution(deal, sims), deal, pd=0.05, lgd=0.4, rho=0.1)
    >>> list(t.columns)[:4]
    ['attachment', 'detachment', 'expected_loss', 'prob_hit']
    """
    if (pd is None) != (rho is None):
        raise ParameterError(f"give both `pd` and `rho` for the Vasicek column, or neither; got pd={pd!r}, rho={rho!r}.")
    points = attachment_points(deal)
    missing = [n for n in points.index if n not in losses.columns]
    if missing:
        raise ParameterError(f"`losses` has no column for tranches {missing}; use tranche_loss_distribution(deal, ...).")
    rows = {}
    for name, row in points.iterrows():
        x = losses[name].to_numpy(dtype=float)
        entry = {
            "attachment": float(row["attachment"]), "detachment": float(row["detachment"]),
            "expected_loss": float(x.mean()), "prob_hit": float((x > 1e-12).mean()),
            "prob_wiped_out": float((x >= 1 - 1e-9).mean()), "loss_q99": float(np.quantile(x, 0.99)),
        }
        if pd is not None and rho is not None:
            a, d = min(entry["attachment"], 1.0), min(entry["detachment"], 1.0)
            entry["vasicek_expected_loss"] = vasicek_tranche_loss(a, d, pd=pd, lgd=lgd, rho=rho) if d > a else 0.0
        rows[name] = entry
    table = _pandas.DataFrame.from_dict(rows, orient="index")
    table.index.name = "tranche"
    return table

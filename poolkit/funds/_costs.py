r"""What pooling saves in costs: whole shares, fixed and minimum costs, netting of flows.

A small investor cannot buy 0.37 of a share, pays the same fixed fee per trade
as a large one, may be below an asset's minimum ticket, and trades every time
they add or withdraw money. Pooled with others, the capital is allocated once
(then divided by units), fixed costs are shared, and flows of the same day net
before anything is traded. These functions measure each saving, alone vs pooled.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from poolkit._numerics import portfolio_volatility
from poolkit._validation import check_aligned, check_covariance, check_positive_int
from poolkit.exceptions import DataError, ParameterError, SolverError
from poolkit.funds._checks import raise_all

__all__ = [
    "integer_allocation",
    "netting_savings",
    "simulate_flows",
    "trading_cost_curve",
    "whole_share_comparison",
    "whole_share_curve",
]


def _number(value: object, *, name: str, problems: list[str], positive: bool = False) -> float:
    """Check a finite number (>= 0, or > 0 when ``positive``); record the problem instead of raising."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        problems.append(f"`{name}` must be a finite number, got {value!r}.")
        return 1.0
    x = float(value)
    if x < 0 or (positive and x == 0):
        problems.append(f"`{name}` must be {'positive' if positive else 'zero or positive'}, got {x:g}.")
    return x


def _target(weights: object, prices: object, lot_sizes: object, problems: list[str]) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Check target weights, prices and lot sizes on the same assets; return (weights, prices, lots)."""
    if not isinstance(weights, pd.Series):
        raise TypeError(f"`weights` must be a pandas Series indexed by asset, got {type(weights).__name__}.")
    w = check_aligned(weights, weights.index, name="weights")
    p = check_aligned(prices, w.index, name="prices").to_numpy()
    if isinstance(lot_sizes, pd.Series):
        lots = check_aligned(lot_sizes, w.index, name="lot_sizes").to_numpy()
    else:
        lots = np.full(len(w), _number(lot_sizes, name="lot_sizes", problems=problems, positive=True))
    wv = w.to_numpy()
    if (wv < 0).any():
        problems.append(f"`weights` must be long-only (whole shares cannot be sold short); negative for {w.index[wv < 0].tolist()}.")
    total = float(wv.sum())
    if total > 1.0 + 1e-9:
        hint = " They look like percentages: divide by 100." if 99.0 < total < 101.0 else ""
        problems.append(f"`weights` must sum to at most 1 (the rest is cash), got {total:.6g}.{hint}")
    if total <= 0:
        problems.append("`weights` are all zero; there is nothing to allocate.")
    if (p <= 0).any():
        problems.append(f"`prices` must be positive; not for {w.index[p <= 0].tolist()}.")
    if (lots <= 0).any():
        problems.append(f"`lot_sizes` must be positive; not for {w.index[lots <= 0].tolist()}.")
    return w, p, lots


def _solve_lots(capital: float, w: np.ndarray, lot_value: np.ndarray, time_limit: float) -> np.ndarray:
    r"""Integer lots minimising :math:`\sum_j |n_j v_j - w_j C|` subject to :math:`\sum_j n_j v_j \le C`."""
    target = w * capital
    ratio = target / lot_value
    nearest = np.where(ratio - np.floor(ratio) <= np.ceil(ratio) - ratio, np.floor(ratio), np.ceil(ratio))
    if nearest @ lot_value <= capital:
        return nearest  # each asset at its best rounding and within budget: optimal, no search needed
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_array, hstack, identity, vstack

    j = len(w)
    unit = float(lot_value.max())  # money in units of the largest lot keeps HiGHS's tolerances meaningful
    a, cap, t = lot_value / unit, capital / unit, target / unit
    # an optimum never buys past the lot above the target (one lot less is cheaper and closer)
    n_max = np.minimum(np.floor(cap / a * (1.0 + 1e-12)), np.ceil(ratio))
    eye = identity(j, format="csr")
    big_a = csr_array(np.diag(a))
    rows = vstack([hstack([big_a, -eye]), hstack([-big_a, -eye]), hstack([csr_array(a[None, :]), csr_array((1, j))])])
    # HiGHS's presolve occasionally ends tiny instances in "Solve error" (status 4); the same
    # problem without presolve solves to proven optimality, so that is the fallback.
    for presolve in (True, False):
        res = milp(
            c=np.concatenate([np.zeros(j), np.ones(j)]),
            integrality=np.concatenate([np.ones(j), np.zeros(j)]),
            bounds=Bounds(np.zeros(2 * j), np.concatenate([n_max, np.full(j, np.inf)])),
            constraints=LinearConstraint(rows, -np.inf, np.concatenate([t, -t, [cap]])),
            options={"mip_rel_gap": 0.0, "time_limit": float(time_limit), "presolve": presolve},
        )
        if res.status != 4:
            break
    if res.status != 0 or res.x is None:
        raise SolverError(
            f"HiGHS did not prove an optimal whole-share allocation of {capital:,.6g} ({res.message}); "
            f"raise `time_limit` or allocate fewer assets."
        )
    lots = np.round(res.x[:j])
    if np.abs(res.x[:j] - lots).max() > 1e-6 or lots @ lot_value > capital * (1.0 + 1e-9):
        raise SolverError(f"the whole-share allocation of {capital:,.6g} did not verify (non-integer lots or over budget).")
    return lots


def integer_allocation(
    capital: float,
    weights: pd.Series,
    prices: pd.Series,
    lot_sizes: pd.Series | float = 1,
    *,
    time_limit: float = 30.0,
) -> pd.DataFrame:
    r"""Return the best allocation of a capital to target weights in whole lots (a small MILP).

    Parameters
    ----------
    capital : float
        Cash to invest, in the currency of ``prices``; never exceeded.
    weights : Series of shape (n_assets,)
        Target weight of each asset, indexed by asset; long-only, summing to at
        most 1 (the rest is a cash target).
    prices : Series of shape (n_assets,)
        Price of one share, indexed by the same assets.
    lot_sizes : Series or float, default 1
        Shares per tradable lot (e.g. 100 for a board lot), per asset or for all.
    time_limit : float, default 30.0
        Seconds HiGHS may take.

    Returns
    -------
    DataFrame
        Indexed by asset (the order of ``weights``), columns ``lots``, ``shares``,
        ``value`` (shares x price), ``weight`` (value / capital),
        ``target_weight`` and ``deviation`` (weight - target weight). The cash
        left is ``capital - value.sum()``.

    Raises
    ------
    AlignmentError
        If ``prices`` (or ``lot_sizes``) and ``weights`` name different assets.
    ParameterError
        Listing every problem: a capital that is not positive, negative weights,
        weights summing to more than 1, non-positive prices or lot sizes.
    SolverError
        If HiGHS does not prove optimality within ``time_limit``.

    Notes
    -----
    With :math:`v_j = L_j p_j` the value of one lot, the integer lots
    :math:`n_j \ge 0` solve

    .. math::
        \min_{n \in \mathbb{Z}_{\ge 0}^N} \sum_j \left| n_j v_j - w_j C \right|
        \quad \text{s.t.} \quad \sum_j n_j v_j \le C ,

    the L1 distance from the target values, linearised with
    :math:`d_j \ge \pm(n_j v_j - w_j C)` and solved to proven optimality
    (relative gap 0) by HiGHS through :func:`scipy.optimize.milp` [1]_, [2]_, with
    :math:`n_j \le \lceil w_j C / v_j \rceil` (a lot more than that is farther and
    dearer). When every asset's nearest whole number of lots fits the budget, that
    is the optimum and no search is needed. Cash left over counts in the
    objective through the assets it is missing from.

    References
    ----------
    .. [1] Mansini, R., Ogryczak, W. and Speranza, M. G. (2015). *Linear and
       Mixed Integer Programming for Portfolio Optimization*, Springer, ch. 3
       (transaction lots).
    .. [2] Huangfu, Q. and Hall, J. A. J. (2018). Parallelizing the dual revised
       simplex method. Math. Programming Computation 10(1), 119-142.

    Examples
    --------
    1,000 to split 50/50 between a 300 stock and a 70 stock: one share of the
    first (300), seven of the second (490); 210 stays in cash.

    >>> alloc = integer_allocation(1000.0, pd.Series({"A": 0.5, "B": 0.5}), pd.Series({"A": 300.0, "B": 70.0}))
    >>> alloc[["shares", "value", "weight"]]
       shares  value  weight
    A     1.0  300.0    0.30
    B     7.0  490.0    0.49
    """
    problems: list[str] = []
    c = _number(capital, name="capital", problems=problems, positive=True)
    t = _number(time_limit, name="time_limit", problems=problems, positive=True)
    w, p, lots = _target(weights, prices, lot_sizes, problems)
    raise_all(problems, what="integer_allocation", error=ParameterError)
    n = _solve_lots(c, w.to_numpy(), lots * p, t)
    shares = n * lots
    value = shares * p
    return pd.DataFrame(
        {
            "lots": n,
            "shares": shares,
            "value": value,
            "weight": value / c,
            "target_weight": w.to_numpy(),
            "deviation": value / c - w.to_numpy(),
        },
        index=w.index.copy(),
    )


def _capitals(capitals: object, *, name: str, problems: list[str]) -> np.ndarray:
    arr = np.asarray(capitals, dtype="float64").reshape(-1) if not isinstance(capitals, pd.Series) else capitals.to_numpy(dtype="float64")
    if arr.size == 0:
        problems.append(f"`{name}` is empty.")
    elif not np.isfinite(arr).all() or (arr <= 0).any():
        problems.append(f"`{name}` must be positive finite amounts.")
    return arr


def _deviation_stats(capital: float, w: np.ndarray, value: np.ndarray, cov: np.ndarray | None) -> tuple[float, float, float]:
    """(L1 weight deviation, cash share, tracking error) of holdings ``value`` against targets ``w``."""
    dw = value / capital - w
    te = float(portfolio_volatility(dw, cov)) if cov is not None else np.nan
    return float(np.abs(dw).sum()), float(1.0 - value.sum() / capital), te


def _cov_array(cov: object, index: pd.Index) -> np.ndarray | None:
    if cov is None:
        return None
    c = check_covariance(cov, name="cov")
    order = check_aligned(pd.Series(0.0, index=c.columns), index, name="cov assets").index
    return c.loc[order, order].to_numpy()


def whole_share_curve(
    capitals: Sequence[float] | np.ndarray | pd.Index,
    weights: pd.Series,
    prices: pd.Series,
    lot_sizes: pd.Series | float = 1,
    *,
    n_investors: int = 10,
    cov: pd.DataFrame | None = None,
    time_limit: float = 30.0,
) -> pd.DataFrame:
    r"""Return how far whole shares keep an investor from the target, alone and pooled, as capital grows.

    Parameters
    ----------
    capitals : sequence of float
        Each investor's capital, e.g. ``np.geomspace(1e3, 1e6, 13)``.
    weights, prices, lot_sizes
        As in :func:`integer_allocation`.
    n_investors : int, default 10
        Investors of equal capital pooled together.
    cov : DataFrame, optional
        Covariance of the assets' returns (labelled like ``weights``; annualise it
        for an annual tracking error). Adds the tracking-error columns.
    time_limit : float, default 30.0
        Seconds HiGHS may take per allocation.

    Returns
    -------
    DataFrame
        Indexed by ``capital`` (per investor), columns ``alone_deviation`` and
        ``pooled_deviation`` (:math:`\sum_j |x_j / C - w_j|`), ``alone_cash`` and
        ``pooled_cash`` (share of capital left in cash) and, with ``cov``,
        ``alone_tracking_error`` and ``pooled_tracking_error``.

    Raises
    ------
    ParameterError, AlignmentError, CovarianceError, SolverError
        As in :func:`integer_allocation`, and for an empty or non-positive
        ``capitals`` or a bad ``n_investors``.

    Notes
    -----
    Alone, an investor with capital :math:`C` holds the optimal whole-share
    allocation :math:`x(C)` of :func:`integer_allocation`. Pooled, :math:`n`
    investors allocate :math:`nC` once and each owns :math:`1/n` of every
    position (their units), so each holds the weights of :math:`x(nC)`. The
    ex-ante tracking error of holdings with weights :math:`\tilde w` (cash riskless) is

    .. math:: TE = \sqrt{(\tilde w - w)^\top \Sigma (\tilde w - w)} .

    References
    ----------
    .. [1] Mansini, R., Ogryczak, W. and Speranza, M. G. (2015). *Linear and
       Mixed Integer Programming for Portfolio Optimization*, Springer, ch. 3.

    Examples
    --------
    Alone, 1,000 buys 1 A and 7 B (210 off target); ten investors pooled buy 17 A
    and 70 B with 10,000 (100 + 100 off target):

    >>> w = pd.Series({"A": 0.5, "B": 0.5})
    >>> px = pd.Series({"A": 300.0, "B": 70.0})
    >>> whole_share_curve([1000.0], w, px, n_investors=10)[["alone_deviation", "pooled_deviation"]]
             alone_deviation  pooled_deviation
    capital
    1000.0              0.21              0.02
    """
    problems: list[str] = []
    caps = _capitals(capitals, name="capitals", problems=problems)
    try:
        n = check_positive_int(n_investors, name="n_investors")
    except ParameterError as exc:
        problems.append(str(exc))
        n = 1
    t = _number(time_limit, name="time_limit", problems=problems, positive=True)
    w, p, lots = _target(weights, prices, lot_sizes, problems)
    raise_all(problems, what="whole_share_curve", error=ParameterError)
    cov_arr = _cov_array(cov, w.index)
    wv = w.to_numpy()
    cache: dict[float, tuple[float, float, float]] = {}

    def stats(capital: float) -> tuple[float, float, float]:
        if capital not in cache:
            value = _solve_lots(capital, wv, lots * p, t) * lots * p
            cache[capital] = _deviation_stats(capital, wv, value, cov_arr)
        return cache[capital]

    alone = np.array([stats(float(c)) for c in caps])  # one MILP per distinct capital
    pooled = np.array([stats(float(c) * n) for c in caps])
    out = pd.DataFrame(
        {
            "alone_deviation": alone[:, 0],
            "pooled_deviation": pooled[:, 0],
            "alone_cash": alone[:, 1],
            "pooled_cash": pooled[:, 1],
        },
        index=pd.Index(caps, name="capital"),
    )
    if cov_arr is not None:
        out["alone_tracking_error"] = alone[:, 2]
        out["pooled_tracking_error"] = pooled[:, 2]
    return out


def whole_share_comparison(
    capitals: pd.Series,
    weights: pd.Series,
    prices: pd.Series,
    lot_sizes: pd.Series | float = 1,
    *,
    cov: pd.DataFrame | None = None,
    time_limit: float = 30.0,
) -> pd.DataFrame:
    r"""Return each investor's whole-share deviation from the target alone, and in the pool of them all.

    Parameters
    ----------
    capitals : Series
        Capital of each investor, indexed by investor.
    weights, prices, lot_sizes, cov, time_limit
        As in :func:`whole_share_curve`.

    Returns
    -------
    DataFrame
        Indexed by investor, columns ``capital``, ``alone_deviation``,
        ``pooled_deviation``, ``alone_cash``, ``pooled_cash`` (and the
        tracking errors with ``cov``), as in :func:`whole_share_curve`.

    Raises
    ------
    ParameterError, AlignmentError, CovarianceError, SolverError
        As in :func:`whole_share_curve`.

    Notes
    -----
    The pool allocates :math:`\sum_i C_i` once; investor :math:`i` owns the
    fraction :math:`C_i / \sum_j C_j` of each position (units bought at one NAV
    per unit), so every investor holds the pool's weights.

    Examples
    --------
    >>> caps = pd.Series({"Ann": 1000.0, "Ben": 4000.0})
    >>> w, px = pd.Series({"A": 0.5, "B": 0.5}), pd.Series({"A": 300.0, "B": 70.0})
    >>> whole_share_comparison(caps, w, px)[["alone_deviation", "pooled_deviation"]].round(3)  # 210/4000, 120/5000
              alone_deviation  pooled_deviation
    investor
    Ann                 0.210             0.024
    Ben                 0.053             0.024
    """
    if not isinstance(capitals, pd.Series):
        raise TypeError(f"`capitals` must be a pandas Series of capital by investor, got {type(capitals).__name__}.")
    problems: list[str] = []
    caps = _capitals(capitals, name="capitals", problems=problems)
    if capitals.index.duplicated().any():
        problems.append(f"`capitals` names investor(s) {capitals.index[capitals.index.duplicated()].tolist()} twice.")
    raise_all(problems, what="whole_share_comparison", error=ParameterError)
    total = float(caps.sum())
    curve = whole_share_curve(np.append(caps, total), weights, prices, lot_sizes, n_investors=1, cov=cov, time_limit=time_limit)
    alone = curve.iloc[:-1].drop(columns=[c for c in curve.columns if c.startswith("pooled")])
    pooled = curve.iloc[-1][[c for c in curve.columns if c.startswith("alone")]].to_numpy()
    out = pd.DataFrame({"capital": caps}, index=pd.Index(capitals.index, name="investor"))
    for col, val in zip([c for c in curve.columns if c.startswith("alone")], pooled, strict=True):
        out[col] = alone[col].to_numpy()
        out[col.replace("alone", "pooled")] = val
    order = ["capital", "alone_deviation", "pooled_deviation", "alone_cash", "pooled_cash"]
    order += [c for c in out.columns if c not in order]
    return out[order]


def _trade_costs(values: np.ndarray, fixed: float, proportional: float, minimum: float) -> np.ndarray:
    r"""Cost of each trade of value :math:`|v|`: :math:`f + \max(m, c|v|)` when :math:`v \ne 0`, else 0."""
    v = np.abs(values)
    return np.where(v > 0, fixed + np.maximum(minimum, proportional * v), 0.0)


def _cost_params(fixed_cost: object, proportional_cost: object, minimum_fee: object, problems: list[str]) -> tuple[float, float, float]:
    f = _number(fixed_cost, name="fixed_cost", problems=problems)
    c = _number(proportional_cost, name="proportional_cost", problems=problems)
    if c >= 0.2:
        problems.append(
            f"`proportional_cost` is a fraction of the traded value (0.001 = 10 bp), got {c:g}."
            + (f" Did you mean {c / 100:g}?" if c >= 1 else "")
        )
    m = _number(minimum_fee, name="minimum_fee", problems=problems)
    return f, c, m


def trading_cost_curve(
    capitals: Sequence[float] | np.ndarray | pd.Index,
    weights: pd.Series,
    *,
    fixed_cost: float = 0.0,
    proportional_cost: float = 0.0,
    minimum_fee: float = 0.0,
    minimum_ticket: float = 0.0,
    n_investors: int = 10,
) -> pd.DataFrame:
    r"""Return the cost of building the target portfolio, and the weight out of reach, alone vs pooled.

    Parameters
    ----------
    capitals : sequence of float
        Each investor's capital.
    weights : Series of shape (n_assets,)
        Target weights, long-only, summing to at most 1.
    fixed_cost : float, default 0.0
        Fixed cost per trade (currency), e.g. a ticket charge.
    proportional_cost : float, default 0.0
        Cost per unit traded, a fraction (0.001 = 10 bp).
    minimum_fee : float, default 0.0
        Minimum commission per trade (currency).
    minimum_ticket : float, default 0.0
        Smallest position that can be bought (currency), e.g. a bond's
        denomination or a fund's minimum subscription.
    n_investors : int, default 10
        Investors of equal capital pooled together.

    Returns
    -------
    DataFrame
        Indexed by ``capital``, columns ``alone_cost``, ``pooled_cost`` (cost as a
        share of capital), ``alone_unreachable`` and ``pooled_unreachable`` (target
        weight in positions below the minimum ticket, left in cash).

    Raises
    ------
    ParameterError
        Listing every bad number (negative costs, a percent-looking
        ``proportional_cost``, bad weights or capitals).

    Notes
    -----
    Each position :math:`j` with :math:`w_j C \ge M` (the minimum ticket) is one
    trade costing :math:`f + \max(m, c\, w_j C)`, so the cost as a share of capital is

    .. math:: \kappa(C) = \frac{1}{C} \sum_{j:\, w_j C \ge M} \left[ f + \max(m,\; c\, w_j C) \right],

    which falls like :math:`1/C` until the proportional cost dominates. Pooled,
    :math:`n` investors pay :math:`\kappa(nC)`.

    References
    ----------
    .. [1] Mansini, R., Ogryczak, W. and Speranza, M. G. (2015). *Linear and
       Mixed Integer Programming for Portfolio Optimization*, Springer, ch. 3
       (fixed and minimum transaction costs, minimum lots).

    Examples
    --------
    Ten positions, a 5 fixed fee per trade: 5 % of 1,000, 0.5 % of 10,000 pooled.

    >>> w = pd.Series(0.1, index=list("ABCDEFGHIJ"))
    >>> trading_cost_curve([1000.0], w, fixed_cost=5.0, n_investors=10)[["alone_cost", "pooled_cost"]]
             alone_cost  pooled_cost
    capital
    1000.0         0.05        0.005
    """
    problems: list[str] = []
    caps = _capitals(capitals, name="capitals", problems=problems)
    f, c, m = _cost_params(fixed_cost, proportional_cost, minimum_fee, problems)
    ticket = _number(minimum_ticket, name="minimum_ticket", problems=problems)
    try:
        n = check_positive_int(n_investors, name="n_investors")
    except ParameterError as exc:
        problems.append(str(exc))
        n = 1
    if not isinstance(weights, pd.Series):
        raise TypeError(f"`weights` must be a pandas Series indexed by asset, got {type(weights).__name__}.")
    w, _, _ = _target(weights, pd.Series(1.0, index=weights.index), 1.0, problems)
    raise_all(problems, what="trading_cost_curve", error=ParameterError)
    wv = w.to_numpy()

    def curve(cap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        target = np.outer(cap, wv)  # (n_capitals, n_assets)
        reach = (target >= ticket) & (target > 0)
        cost = np.where(reach, _trade_costs(target, f, c, m), 0.0).sum(axis=1) / cap
        return cost, np.where(reach, 0.0, wv[None, :]).sum(axis=1)

    alone_cost, alone_out = curve(caps)
    pooled_cost, pooled_out = curve(caps * n)
    return pd.DataFrame(
        {
            "alone_cost": alone_cost,
            "pooled_cost": pooled_cost,
            "alone_unreachable": alone_out,
            "pooled_unreachable": pooled_out,
        },
        index=pd.Index(caps, name="capital"),
    )


def _cash_flows(flows: object) -> pd.DataFrame:
    """Check a flow table of cash amounts (date, investor, amount) for cost studies."""
    problems: list[str] = []
    if not isinstance(flows, pd.DataFrame):
        raise TypeError(f"`flows` must be a DataFrame with columns date, investor, amount, got {type(flows).__name__}.")
    missing = [col for col in ("date", "investor", "amount") if col not in flows.columns]
    if missing:
        raise DataError(f"`flows` lacks column(s) {missing}; netting needs cash amounts (date, investor, amount).")
    amount = pd.to_numeric(flows["amount"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    dates = pd.to_datetime(flows["date"], errors="coerce")
    if not np.isfinite(amount).all():
        problems.append(
            f"`flows.amount` is missing, not a number or infinite in {int((~np.isfinite(amount)).sum())} row(s); "
            f"netting needs cash amounts (convert units with the NAV per unit, e.g. `ledger.flows`)."
        )
    if dates.isna().any():
        problems.append(f"`flows.date` is missing or not a date in {int(dates.isna().sum())} row(s).")
    if flows["investor"].isna().any():
        problems.append(f"`flows.investor` is missing in {int(flows['investor'].isna().sum())} row(s).")
    raise_all(problems, what="flows")
    return pd.DataFrame({"date": dates.to_numpy(), "investor": flows["investor"].to_numpy(), "amount": amount})


def netting_savings(
    flows: pd.DataFrame,
    *,
    weights: pd.Series | None = None,
    fixed_cost: float = 0.0,
    proportional_cost: float = 0.0,
    minimum_fee: float = 0.0,
) -> pd.DataFrame:
    r"""Return traded volume, trades and costs per date when investors trade alone vs through a pool.

    Parameters
    ----------
    flows : DataFrame
        Columns ``date``, ``investor``, ``amount`` (cash, + in, - out), in any row
        order (e.g. the flows given to :func:`fund_ledger`, or :func:`simulate_flows`).
    weights : Series, optional
        Target weights: each flow is then traded across the assets (one trade of
        :math:`w_j |A|` per asset with a positive weight; a cash target is not
        traded). Default: one trade per flow.
    fixed_cost, proportional_cost, minimum_fee : float
        Cost of a trade of value :math:`v`: :math:`f + \max(m, c|v|)`, as in
        :func:`trading_cost_curve`.

    Returns
    -------
    DataFrame
        Indexed by ``date`` (dates with flows, sorted), columns ``alone_volume``,
        ``pooled_volume`` (value traded), ``alone_trades``, ``pooled_trades``, ``alone_cost`` and
        ``pooled_cost``. Sum it for the totals.

    Raises
    ------
    DataError
        If a date, investor or cash amount is missing (units must be turned into cash first).
    ParameterError
        Listing every bad cost or weight.

    Notes
    -----
    Alone, each investor trades their own flow :math:`A_{i,t}`; the pool trades
    only the net flow of the day :math:`N_t = \sum_i A_{i,t}`:

    .. math:: \text{volume}_{\text{alone}} = \sum_i |A_{i,t}| \;\ge\; |N_t| = \text{volume}_{\text{pooled}},

    with equality only when every flow of the day has the same sign.
    Flows that oppose each other cancel inside the pool at no cost, which is
    why open-ended funds trade less than their gross flows [1]_.

    References
    ----------
    .. [1] Edelen, R. M. (1999). Investor flows and the assessed performance of
       open-end mutual funds. J. Financial Economics 53(3), 439-466.

    Examples
    --------
    >>> flows = pd.DataFrame({"date": ["2024-01-02"] * 3, "investor": ["A", "B", "C"],
    ...                       "amount": [1000.0, -600.0, 100.0]})
    >>> netting_savings(flows, fixed_cost=1.0).iloc[0]
    alone_volume     1700.0
    pooled_volume     500.0
    alone_trades         3.0
    pooled_trades        1.0
    alone_cost           3.0
    pooled_cost          1.0
    Name: 2024-01-02 00:00:00, dtype: float64
    """
    table = _cash_flows(flows)
    problems: list[str] = []
    f, c, m = _cost_params(fixed_cost, proportional_cost, minimum_fee, problems)
    if weights is None:
        wv = np.ones(1)
    else:
        if not isinstance(weights, pd.Series):
            raise TypeError(f"`weights` must be a pandas Series indexed by asset, got {type(weights).__name__}.")
        w, _, _ = _target(weights, pd.Series(1.0, index=weights.index), 1.0, problems)
        wv = w.to_numpy()
        wv = wv[wv > 0]  # the rest of each flow stays in cash: not traded
    raise_all(problems, what="netting_savings", error=ParameterError)
    amount = table["amount"].to_numpy()
    per_flow = np.outer(np.abs(amount), wv)  # (n_flows, n_assets)
    alone = pd.DataFrame(
        {
            "date": table["date"],
            "volume": per_flow.sum(axis=1),
            "trades": (per_flow > 0).sum(axis=1),
            "cost": _trade_costs(per_flow, f, c, m).sum(axis=1),
        }
    ).groupby("date").sum()
    net = table.groupby("date")["amount"].sum()
    per_date = np.outer(np.abs(net.to_numpy()), wv)
    out = pd.DataFrame(
        {
            "alone_volume": alone["volume"].to_numpy(),
            "pooled_volume": per_date.sum(axis=1),
            "alone_trades": alone["trades"].to_numpy().astype("float64"),
            "pooled_trades": (per_date > 0).sum(axis=1).astype("float64"),
            "alone_cost": alone["cost"].to_numpy(),
            "pooled_cost": _trade_costs(per_date, f, c, m).sum(axis=1),
        },
        index=pd.DatetimeIndex(net.index, name="date"),
    )
    return out


def simulate_flows(
    investors: int | Sequence[Any],
    dates: pd.DatetimeIndex,
    *,
    initial: float = 10_000.0,
    probability: float = 0.05,
    size: float = 0.1,
    redemption_share: float = 0.4,
    seed: int = 0,
) -> pd.DataFrame:
    r"""Return a seeded table of random investor flows, for cost and netting studies.

    Parameters
    ----------
    investors : int or sequence of labels
        Number of investors (named ``investor_01``, ...) or their names.
    dates : DatetimeIndex
        Valuation (dealing) dates; every investor subscribes ``initial`` on the first.
    initial : float, default 10,000
        First subscription of each investor.
    probability : float, default 0.05
        Chance that an investor deals on a later date.
    size : float, default 0.1
        Mean size of a later flow as a fraction of ``initial``.
    redemption_share : float, default 0.4
        Chance that a later flow is a redemption rather than a subscription.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`: the same seed gives the same table.

    Returns
    -------
    DataFrame
        Columns ``date``, ``investor``, ``amount``, sorted by date and investor.

    Raises
    ------
    ParameterError
        If a probability is outside [0, 1], or ``initial`` or ``size`` is not positive.

    Notes
    -----
    Later flows are :math:`\pm\, s\, I\, e^{Z - \sigma^2/2}`, :math:`Z \sim N(0, \sigma^2)`,
    :math:`\sigma = 0.5` (mean :math:`sI`), drawn independently for each
    investor and date. Redemptions are not checked against holdings: check the
    table before giving it to :func:`fund_ledger` over a falling market.

    Examples
    --------
    >>> table = simulate_flows(3, pd.bdate_range("2024-01-01", periods=20), seed=1)
    >>> table.groupby("investor")["amount"].first().tolist()
    [10000.0, 10000.0, 10000.0]
    """
    from poolkit._validation import check_fraction

    problems: list[str] = []
    for value, name in ((probability, "probability"), (redemption_share, "redemption_share")):
        try:
            check_fraction(value, name=name)
        except ParameterError as exc:
            problems.append(str(exc))
    first = _number(initial, name="initial", problems=problems, positive=True)
    s = _number(size, name="size", problems=problems, positive=True)
    if not isinstance(dates, pd.DatetimeIndex) or len(dates) == 0:
        problems.append("`dates` must be a non-empty DatetimeIndex of dealing dates.")
    if isinstance(investors, numbers.Integral) and not isinstance(investors, bool):
        names: list[Any] = [f"investor_{i + 1:02d}" for i in range(max(int(investors), 0))]
    else:
        names = list(investors)  # type: ignore[arg-type]
    if not names or len(set(names)) != len(names):
        problems.append("`investors` must be a positive number or a list of distinct names.")
    raise_all(problems, what="simulate_flows", error=ParameterError)
    rng = np.random.default_rng(seed)
    shape = (len(dates) - 1, len(names))
    deal = rng.random(shape) < float(probability)
    sign = np.where(rng.random(shape) < float(redemption_share), -1.0, 1.0)
    sigma = 0.5
    amount = sign * s * first * np.exp(rng.normal(-0.5 * sigma**2, sigma, shape))
    t_idx, i_idx = np.nonzero(deal)
    later = pd.DataFrame(
        {"date": dates[1:][t_idx], "investor": np.asarray(names, dtype=object)[i_idx], "amount": np.round(amount[deal], 2)}
    )
    start = pd.DataFrame({"date": [dates[0]] * len(names), "investor": names, "amount": first})
    return pd.concat([start, later], ignore_index=True)

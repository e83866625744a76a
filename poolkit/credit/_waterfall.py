r"""The waterfall: a pool's monthly cash flows paid to the tranches of a deal, for many scenarios at once.

The period loop is sequential (each month starts from the balances the previous one
left), but everything inside a month is a numpy operation across scenarios and
tranches: sequential payments are a capped cumulative sum, pro-rata payments a
matrix product with the membership of each payment slot.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from poolkit.credit._deal import (
    STANDARD_SHIFTING_INTEREST,
    Deal,
    Floater,
    _canonical_trigger,
    _floater_rates,
    _pac_payments,
)
from poolkit.exceptions import DataError, ParameterError

#: Largest scenarios x months x tranches kept month by month (``record="full"``); beyond it use ``"summary"``.
MAX_FULL_CELLS = 4_000_000
#: Fields of a pool's cash flows the waterfall reads (``interest`` and ``principal`` are required).
FLOW_FIELDS = ("interest", "principal", "principal_loss", "voluntary_prepayments", "principal_recovery",
               "beginning_balance")
_TRANCHE_FIELDS = ("interest", "accrued_interest", "principal", "writedown", "balance", "interest_shortfall",
                   "beginning_balance")
_DEAL_FIELDS = ("interest_in", "principal_in", "collateral_loss", "collateral_balance", "fees", "residual",
                "reserve", "reserve_draw", "reserve_deposit", "overcollateralisation", "trigger_failed")


@dataclass(frozen=True)
class PoolScenarios:
    """Simulated monthly cash flows of one pool in many scenarios (arrays of shape (n_scenarios, n_months)).

    Attributes
    ----------
    interest, principal, principal_loss, voluntary_prepayments, principal_recovery, beginning_balance : ndarray
        The columns of :func:`poolkit.credit.pool_cashflows`, one row per scenario and
        one column per month (month 1 first).
    default_fraction : ndarray
        Share of the loans that default in each scenario (shape (n_scenarios,)).
    """

    interest: np.ndarray
    principal: np.ndarray
    principal_loss: np.ndarray
    voluntary_prepayments: np.ndarray
    principal_recovery: np.ndarray
    beginning_balance: np.ndarray
    default_fraction: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class _Flows:
    interest: np.ndarray
    principal: np.ndarray
    loss: np.ndarray
    scheduled: np.ndarray
    unscheduled: np.ndarray
    begin: np.ndarray
    scenarios: pd.Index
    months: pd.RangeIndex


def _array_field(value: object, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"cash-flow field {name!r} must hold numbers, got {type(value).__name__}.") from exc
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise DataError(
            f"cash-flow field {name!r} must be an array of shape (n_scenarios, n_months) (or (n_months,) for one "
            f"scenario), got shape {arr.shape}."
        )
    return arr


def _frame_fields(frame: pd.DataFrame) -> tuple[dict[str, np.ndarray], pd.Index, pd.Index]:
    """Fields of a pool_cashflows table (one scenario) or a speed_scenarios table (field, scenario)."""
    if isinstance(frame.columns, pd.MultiIndex):
        fields = {}
        present = set(frame.columns.get_level_values(0))
        scen = pd.Index(frame.columns.get_level_values(-1).unique(), name="scenario")
        for name in FLOW_FIELDS:
            if name in present:
                block = frame[name]
                fields[name] = block.reindex(columns=scen).to_numpy(dtype=float).T
        return fields, scen, frame.index
    fields = {name: frame[name].to_numpy(dtype=float)[None, :] for name in FLOW_FIELDS if name in frame.columns}
    return fields, pd.Index(["base"], name="scenario"), frame.index


def _flows(cashflows: object, deal: Deal) -> _Flows:
    """Check and normalise the pool's cash flows into (n_scenarios, n_months) arrays."""
    from poolkit.credit._cashflows import LoanPool

    if isinstance(cashflows, LoanPool):
        cashflows = cashflows.cashflows
    months_index: pd.Index | None = None
    if isinstance(cashflows, pd.DataFrame):
        if cashflows.empty:
            raise DataError("`cashflows` is empty; project the pool first (pool_cashflows, speed_scenarios).")
        fields, scenarios, months_index = _frame_fields(cashflows)
        idx = months_index.to_numpy()
        if not pd.api.types.is_numeric_dtype(months_index.dtype) or not np.array_equal(idx, np.arange(1, idx.size + 1)):
            raise DataError(
                "`cashflows` must be indexed by projection month 1, 2, 3, ... in order (as pool_cashflows returns); "
                f"got {list(idx[:5])}... Sort the months and drop duplicates."
            )
    elif isinstance(cashflows, PoolScenarios):
        fields = {name: _array_field(getattr(cashflows, name), name) for name in FLOW_FIELDS}
        scenarios = pd.RangeIndex(fields["principal"].shape[0], name="scenario")
    elif isinstance(cashflows, Mapping):
        unknown = sorted(str(k) for k in cashflows if k not in FLOW_FIELDS)
        if unknown:
            from poolkit._validation import did_you_mean

            raise DataError(
                f"cash-flow fields {unknown} are not read by the waterfall; the fields are {list(FLOW_FIELDS)}."
                f"{did_you_mean(unknown[0], FLOW_FIELDS)}"
            )
        fields = {str(k): _array_field(v, str(k)) for k, v in cashflows.items()}
        n = next(iter(fields.values())).shape[0] if fields else 0
        scenarios = pd.RangeIndex(n, name="scenario")
    else:
        raise DataError(
            "`cashflows` must be a pool_cashflows / speed_scenarios table, a LoanPool, a PoolScenarios or a mapping of "
            f"arrays (n_scenarios, n_months); got {type(cashflows).__name__}."
        )
    missing = [f for f in ("interest", "principal") if f not in fields]
    if missing:
        raise DataError(f"`cashflows` has no {missing}; the waterfall needs at least 'interest' and 'principal' by month.")
    shape = fields["principal"].shape
    bad_shape = {k: v.shape for k, v in fields.items() if v.shape != shape}
    if bad_shape:
        raise DataError(f"every cash-flow field must have the shape of 'principal' {shape}; got {bad_shape}.")
    for name, arr in fields.items():
        if not np.isfinite(arr).all():
            raise DataError(f"cash-flow field {name!r} holds a missing or infinite value; the waterfall needs every month.")
        if (arr < -1e-9 * max(1.0, float(np.abs(arr).max()))).any():
            s, m = np.argwhere(arr < 0)[0]
            raise DataError(f"cash-flow field {name!r} is negative ({arr[s, m]:g}) in scenario {s}, month {m + 1}.")
    zero = np.zeros(shape)
    interest = fields["interest"]
    principal = fields["principal"]
    loss = fields.get("principal_loss", zero)
    prepaid = fields.get("voluntary_prepayments", zero)
    recovered = fields.get("principal_recovery", zero)
    unscheduled = np.minimum(prepaid + recovered, principal)
    scheduled = np.maximum(principal - unscheduled, 0.0)
    b0 = float(deal.collateral.balance)
    if "beginning_balance" in fields:
        start = fields["beginning_balance"][:, 0]
        off = np.abs(start - b0) > 1e-9 * b0
        if off.any():
            raise DataError(
                f"the cash flows start from a pool balance of {float(start[off][0]):,.2f}, but the deal's collateral is "
                f"{b0:,.2f}; project the deal's own pool, or apply the deal to this pool with "
                f"load_deal(..., collateral={{'balance': {float(start[off][0]):.10g}}}) (tranches given as shares)."
            )
    paid = np.cumsum(principal + loss, axis=1)
    begin = b0 - np.concatenate([np.zeros((shape[0], 1)), paid[:, :-1]], axis=1)
    over = begin - principal - loss < -1e-7 * b0
    if over.any():
        s, m = np.argwhere(over)[0]
        raise DataError(
            f"the pool pays more principal and losses than its balance: scenario {s}, month {m + 1} leaves "
            f"{float((begin - principal - loss)[s, m]):,.2f}. Check the units of the cash flows."
        )
    months = pd.RangeIndex(1, shape[1] + 1, name="month")
    return _Flows(interest, principal, loss, scheduled, unscheduled, np.maximum(begin, 0.0), scenarios, months)


# ----------------------------------------------------------------------------------------
# the deal compiled into arrays
# ----------------------------------------------------------------------------------------


@dataclass
class _Struct:
    names: list[str]
    types: list[str]
    b0: np.ndarray
    level: np.ndarray
    lvl: np.ndarray  # (L, T) membership of seniority levels, most senior first
    pb: np.ndarray  # tranches with principal
    rate: np.ndarray  # (M, T) monthly coupon
    io_tr: np.ndarray  # (T, T)
    io_coll: np.ndarray  # (T,)
    is_z: np.ndarray
    z_ahead: np.ndarray  # (T, T)
    sen_member: np.ndarray  # (G, T) principal slots of the senior group
    n_pac_slots: int
    pac_member: np.ndarray  # (Gp, T)
    pac_target: np.ndarray  # (M,) scheduled aggregate PAC balance at month end
    sub_member: np.ndarray  # (Gs, T)
    senior_pb: np.ndarray
    fee_rate: float
    oc_target: float
    has_oc: bool
    cover_losses: bool
    reserve: tuple[float, float, float] | None
    trig_kind: np.ndarray  # 0 OC, 1 IC
    trig_level: np.ndarray
    trig_thr: np.ndarray
    trig_cover: np.ndarray  # (T, n_trig) levels at or above the tested tranche
    shift: np.ndarray  # (M,) shifting percentage by month
    loss_limit: float
    sp0: float


def _groups(keys: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Membership rows (one per distinct key among ``mask``), sorted by key."""
    if not mask.any():
        return np.zeros((0, mask.size))
    uniq = np.unique(keys[mask])
    return np.stack([(keys == u) & mask for u in uniq]).astype(float)


def _compile(deal: Deal, months: int) -> _Struct:
    tranches = deal.tranches
    names = [t.name for t in tranches]
    types = [deal.tranche_type(t) for t in tranches]
    n = len(tranches)
    b0 = np.array([deal.balance_of(t) for t in tranches], dtype=float)
    sen = np.array([deal.seniority_of(t) for t in tranches])
    uniq, level = np.unique(sen, return_inverse=True)
    lvl = np.stack([level == i for i in range(uniq.size)]).astype(float)
    ty = np.array(types)
    pb = ty != "io"
    rate = np.zeros((months, n))
    for j, t in enumerate(tranches):
        c = t.coupon
        rate[:, j] = (_floater_rates(c, months) if isinstance(c, Floater) else float(c)) / 12.0
    io_tr = np.zeros((n, n))
    io_coll = np.zeros(n)
    for j, t in enumerate(tranches):
        if types[j] == "io":
            refs = [t.notional] if isinstance(t.notional, str) else list(t.notional or ())
            for ref in refs:
                if ref == "collateral":
                    io_coll[j] = 1.0
                else:
                    io_tr[j, names.index(ref)] = 1.0
    is_z = ty == "z"
    is_sub = ty == "subordinate"
    is_pac = ty == "pac"
    senior = pb & ~is_sub
    z_ahead = np.zeros((n, n))
    for i in np.flatnonzero(is_z):
        z_ahead[i] = senior & ~is_z & ((sen <= sen[i]) | is_pac)
    # principal slots of the senior group: PAC to schedule, the others by seniority, PAC beyond schedule
    others = senior & ~is_pac
    keys = level.astype(float).copy()
    pro = others & (ty == "pro_rata")
    if pro.any():
        keys[pro] = keys[pro].min()
    pac_member = _groups(level.astype(float), is_pac)
    group_member = _groups(keys, others)
    sen_member = np.concatenate([pac_member, group_member, pac_member]) if pac_member.size else group_member
    pac_target = np.zeros(months)
    if is_pac.any():
        collar = next(t.collar for t in tranches if deal.tranche_type(t) == "pac")
        assert collar is not None
        pay = _pac_payments(deal.collateral, (float(collar[0]), float(collar[1])))
        total = float(b0[is_pac].sum())
        cum = np.minimum(np.cumsum(pay), total)
        cum = np.concatenate([cum, np.full(max(months - cum.size, 0), total)])[:months]
        pac_target = total - cum
    sub_member = _groups(level.astype(float), is_sub & pb)
    coll = float(deal.collateral.balance)
    oc = deal.overcollateralisation
    oc_target = float(oc) * coll if oc is not None else max(coll - float(b0[pb].sum()), 0.0)
    res = deal.reserve
    reserve = (float(res.initial) * coll, float(res.target), float(res.floor) * coll) if res is not None else None
    kinds, tl, thr = [], [], []
    for trig in deal.triggers:
        kinds.append(0 if _canonical_trigger(trig.type) == "overcollateralisation" else 1)
        tl.append(level[names.index(trig.tranche)])
        thr.append(float(trig.level))
    trig_level = np.array(tl, dtype=int)
    trig_cover = (level[:, None] <= trig_level[None, :]).astype(float) if tl else np.zeros((n, 0))
    shift = np.ones(months)
    loss_limit = np.inf
    if is_sub.any():
        rule = deal.shifting_interest
        sched = np.asarray(rule.schedule if rule is not None else STANDARD_SHIFTING_INTEREST, dtype=float)
        shift = sched[np.minimum(np.arange(months) // 12, sched.size - 1)]
        if rule is not None and rule.cumulative_loss_limit is not None:
            loss_limit = float(rule.cumulative_loss_limit) * coll
    return _Struct(
        names=names, types=types, b0=b0, level=level, lvl=lvl, pb=pb, rate=rate, io_tr=io_tr, io_coll=io_coll,
        is_z=is_z, z_ahead=z_ahead, sen_member=sen_member, n_pac_slots=pac_member.shape[0], pac_member=pac_member,
        pac_target=pac_target, sub_member=sub_member, senior_pb=senior.astype(float),
        fee_rate=sum(float(v) for v in deal.fees.values()) / 12.0, oc_target=oc_target,
        has_oc=oc is not None, cover_losses=deal.excess_spread == "cover_losses", reserve=reserve,
        trig_kind=np.array(kinds, dtype=int), trig_level=trig_level, trig_thr=np.array(thr, dtype=float),
        trig_cover=trig_cover, shift=shift, loss_limit=loss_limit, sp0=float(b0[senior].sum()) / coll,
    )


# ----------------------------------------------------------------------------------------
# the engine
# ----------------------------------------------------------------------------------------


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Product of a small (rows, tranches) matrix and a (tranches, scenarios) array.

    numpy's own single-threaded loops (``einsum``) rather than a multi-threaded BLAS call:
    with a handful of tranches there is nothing for threads to share, and on a busy machine
    their hand-offs cost far more than the arithmetic.
    """
    return np.einsum("ij,j...->i...", a, b)


@functools.cache
def _lower(g: int) -> np.ndarray:
    """Lower-triangular ones (g, g): ``_mm(_lower(g), x)`` is the cumulative sum of the rows of ``x``."""
    return np.tri(g)


def _sequential(amount: np.ndarray, cap: np.ndarray) -> np.ndarray:
    r"""Pay ``amount`` (S,) into slots of capacity ``cap`` (G, S) in order: :math:`\Delta\min(\mathrm{cumsum}(c), A)`."""
    reach = np.minimum(_mm(_lower(cap.shape[0]), cap), amount)
    paid = reach.copy()
    paid[1:] -= reach[:-1]
    return np.maximum(paid, 0.0, out=paid)


def _pay(amount: np.ndarray, weight: np.ndarray, member: np.ndarray, cap: np.ndarray | None = None) -> np.ndarray:
    """Pay ``amount`` (S,) slot after slot, pro rata to ``weight`` (T, S) inside a slot; return (T, S).

    A slot's capacity is its members' total weight, unless ``cap`` (G, S) says otherwise
    (never more than that total).
    """
    if member.shape[0] == 0:
        return np.zeros_like(weight)
    total = _mm(member, weight)
    paid = _sequential(amount, total if cap is None else cap)
    return weight * _mm(member.T, paid / np.maximum(total, 1e-300))


def _principal_slots(st: _Struct, b: np.ndarray, k: int) -> np.ndarray:
    """Capacity (G, S) of the senior group's principal slots this month (PAC schedule slots first)."""
    cap = _mm(st.sen_member, b)
    if st.n_pac_slots:
        g = st.n_pac_slots
        level_bal = cap[:g].copy()
        due = np.maximum(level_bal.sum(axis=0) - st.pac_target[k], 0.0)
        ahead = np.cumsum(level_bal, axis=0) - level_bal
        sched = np.clip(due - ahead, 0.0, level_bal)
        cap[:g] = sched
        cap[-g:] = level_bal - sched
    return cap


def _run(st: _Struct, fl: _Flows, record: str) -> dict[str, np.ndarray]:
    """Run the months in order; inside a month every array is (tranches or slots, scenarios)."""
    n_s, months = fl.principal.shape
    n_t = len(st.names)
    full = record == "full"
    rows = {name: np.ascontiguousarray(getattr(fl, name).T) for name in
            ("interest", "principal", "loss", "scheduled", "unscheduled", "begin")}
    b = np.repeat(np.where(st.pb, st.b0, 0.0)[:, None], n_s, axis=1)
    short = np.zeros((n_t, n_s))
    fee_short = np.zeros(n_s)
    reserve = np.full(n_s, st.reserve[0] if st.reserve else 0.0)
    cum_loss = np.zeros(n_s)
    coll0 = float(fl.begin[0, 0]) if fl.begin.size else 0.0
    tiny = 1e-12 * max(coll0, 1.0)
    lvl_rev = st.lvl[::-1]
    level = st.level[:, None]
    has_io = bool(st.io_tr.any() or st.io_coll.any())
    has_sub = st.sub_member.shape[0] > 0
    has_z = bool(st.is_z.any())
    n_trig = st.trig_thr.size
    kind_oc = (st.trig_kind == 0)[:, None]
    thr = st.trig_thr[:, None]
    top = st.lvl.shape[0] - 1
    if full:
        tr = {f: np.zeros((months, n_t, n_s)) for f in _TRANCHE_FIELDS}
        dl = {f: np.zeros((months, n_s)) for f in _DEAL_FIELDS}
    tot = {f: np.zeros((n_t, n_s)) for f in ("principal", "interest", "writedown", "accrued_interest", "time_principal")}
    first = np.zeros((n_t, n_s), dtype=np.int64)
    last = np.zeros((n_t, n_s), dtype=np.int64)
    dtot = {f: np.zeros(n_s) for f in ("fees", "residual", "trigger_months")}
    zeros_t = np.zeros((n_t, n_s))
    zeros_s = np.zeros(n_s)
    for k in range(months):
        cash_i = rows["interest"][k]
        cash_p = rows["principal"][k]
        loss = rows["loss"][k]
        bb = rows["begin"][k]
        be = np.maximum(bb - cash_p - loss, 0.0)
        basis = b + _mm(st.io_tr, b) + st.io_coll[:, None] * bb if has_io else b
        due = basis * st.rate[k][:, None] + short
        fee_due = st.fee_rate * bb + fee_short
        # -- coverage tests on the balances at the start of the month
        failing_any = np.zeros(n_s, dtype=bool)
        cutoff = np.full(n_s, top)
        cure = zeros_s
        if n_trig:
            covered = _mm(st.trig_cover.T, b)
            due_cov = _mm(st.trig_cover.T, due)
            with np.errstate(divide="ignore", invalid="ignore"):
                oc_ratio = np.where(covered > tiny, bb / covered, np.inf)
                ic_ratio = np.where(due_cov > tiny, (cash_i - fee_due) / due_cov, np.inf)
            failing = np.where(kind_oc, oc_ratio, ic_ratio) < thr
            failing_any = np.asarray(failing.any(axis=0), dtype=bool)
            cutoff = np.where(failing, st.trig_level[:, None], top).min(axis=0)
            oc_cure = np.where(failing & kind_oc, covered - bb / thr, 0.0).max(axis=0)
            cure = np.where((failing & ~kind_oc).any(axis=0), np.inf, oc_cure)
        # -- fees and interest by seniority (shortfalls carried forward), diverting cash when a test fails
        funds = cash_i + reserve
        fee_paid = np.minimum(fee_due, funds)
        funds = funds - fee_paid
        if n_trig:
            upper = level <= cutoff
            due_a = np.where(upper, due, 0.0)
        else:
            due_a = due
        paid = _pay(funds, due_a, st.lvl)
        paid_a_total = paid.sum(axis=0)
        funds = funds - paid_a_total
        diversion = zeros_s
        if n_trig:
            senior_bal = (b * upper).sum(axis=0)
            from_interest = np.maximum(cash_i - fee_paid - paid_a_total, 0.0)
            diversion = np.where(failing_any, np.minimum(np.minimum(from_interest, cure), senior_bal), 0.0)
            funds = funds - diversion
            paid = paid + _pay(funds, due - due_a, st.lvl)
        short = np.maximum(due - paid, 0.0)
        fee_short = np.maximum(fee_due - fee_paid, 0.0)
        used = fee_paid + paid.sum(axis=0) + diversion
        draw = np.maximum(used - cash_i, 0.0)
        reserve = reserve - draw
        excess = np.maximum(cash_i - used, 0.0)
        # -- accrual (Z) bonds: interest accretes and pays down the tranches ahead of them
        if has_z:
            accruing = st.is_z[:, None] & (_mm(st.z_ahead, (b > tiny).astype(float)) > 0)
            accrued = np.where(accruing, paid, 0.0)
            cash_int = paid - accrued
            b = b + accrued
            acc_total = accrued.sum(axis=0)
        else:
            accrued, cash_int, acc_total = zeros_t, paid, zeros_s
        # -- principal distribution amount: collateral principal, accretion, excess spread, OC release
        base = cash_p + acc_total
        needed = b.sum(axis=0) - be + np.minimum(st.oc_target, be)
        extra = np.clip(needed - base, 0.0, excess) if st.cover_losses else zeros_s
        excess = excess - extra
        release = np.where(failing_any, 0.0, np.clip(base - needed, 0.0, cash_p)) if st.has_oc else zeros_s
        amount = base + extra - release
        # -- this month's losses: what the tranches will exceed the collateral by once paid, after the
        #    reserve, written off in reverse seniority before principal is shared (so no subordinate
        #    class is paid principal that the month's losses take back from a senior one)
        gap = np.maximum(b.sum(axis=0) - amount - diversion - be, 0.0)
        cover = np.minimum(reserve, gap) if st.reserve is not None else zeros_s
        gap = gap - cover
        written = _pay(np.where(gap > tiny, gap, 0.0), b, lvl_rev)  # rounding dust is not a loss
        b = b - written
        if has_sub:
            with np.errstate(divide="ignore", invalid="ignore"):
                sp = np.where(bb > tiny, np.clip((st.senior_pb[:, None] * b).sum(axis=0) / bb, 0.0, 1.0), 1.0)
                keep = np.where(cash_p > tiny, (cash_p - release) / cash_p, 0.0)
            stepped = failing_any | (cum_loss + loss > st.loss_limit) | (sp > st.sp0 + 1e-12)
            spp = sp + np.where(stepped, 1.0, st.shift[k]) * (1.0 - sp)
            to_senior = (sp * rows["scheduled"][k] + spp * rows["unscheduled"][k]) * keep + extra + acc_total
            prin = _pay(np.minimum(to_senior, amount), b, st.sen_member, _principal_slots(st, b, k))
            prin = prin + _pay(amount - prin.sum(axis=0), b - prin, st.sub_member)
            rest = b - prin  # subordinates retired: what they cannot take goes back to the seniors
            prin = prin + _pay(amount - prin.sum(axis=0), rest, st.sen_member, _principal_slots(st, rest, k))
        else:
            prin = _pay(amount, b, st.sen_member, _principal_slots(st, b, k))
        left = amount - prin.sum(axis=0)
        b = b - prin
        if n_trig:
            diverted = _pay(diversion, b * upper, st.lvl)
            b = b - diverted
            prin = prin + diverted
            excess = excess + diversion - diverted.sum(axis=0)
        loss_draw = zeros_s
        if st.reserve is not None:  # the reserve pays principal in place of the losses it covers
            covered_loss = _pay(cover, b, st.lvl)
            b = b - covered_loss
            prin = prin + covered_loss
            loss_draw = covered_loss.sum(axis=0)
            reserve = reserve - loss_draw
        gap = np.maximum(b.sum(axis=0) - be, 0.0)  # left over when principal found no tranche to pay
        if (gap > tiny).any():
            late = _pay(np.where(gap > tiny, gap, 0.0), b, lvl_rev)
            b = b - late
            written = written + late
        b[np.abs(b) < tiny] = 0.0
        # -- reserve top-up and release, then the residual holder
        deposit = released = zeros_s
        if st.reserve is not None:
            _, r_target, r_floor = st.reserve
            goal = np.where(be > tiny, np.maximum(r_target * be, r_floor), 0.0)
            deposit = np.minimum(excess, np.maximum(goal - reserve, 0.0))
            reserve = reserve + deposit
            excess = excess - deposit
            released = np.where(failing_any & (be > tiny), 0.0, np.maximum(reserve - goal, 0.0))
            reserve = reserve - released
        residual = excess + left + release + released
        cum_loss = cum_loss + loss
        # -- record
        tot["principal"] += prin
        tot["interest"] += cash_int
        tot["writedown"] += written
        tot["time_principal"] += (k + 1) * prin
        if has_z:
            tot["accrued_interest"] += accrued
        pays = prin > tiny
        first[(first == 0) & pays] = k + 1
        last[pays] = k + 1
        dtot["fees"] += fee_paid
        dtot["residual"] += residual
        dtot["trigger_months"] += failing_any
        if full:
            tr["interest"][k] = cash_int
            tr["accrued_interest"][k] = accrued
            tr["principal"][k] = prin
            tr["writedown"][k] = written
            tr["balance"][k] = b + _mm(st.io_tr, b) + st.io_coll[:, None] * be if has_io else b
            tr["interest_shortfall"][k] = short
            tr["beginning_balance"][k] = basis
            for key, val in (("interest_in", cash_i), ("principal_in", cash_p), ("collateral_loss", loss),
                             ("collateral_balance", be), ("fees", fee_paid), ("residual", residual),
                             ("reserve", reserve), ("reserve_draw", draw + loss_draw), ("reserve_deposit", deposit),
                             ("overcollateralisation", be - b.sum(axis=0)), ("trigger_failed", failing_any)):
                dl[key][k] = val
    out: dict[str, np.ndarray] = {f"total_{k}": v.T.copy() for k, v in tot.items()}
    out.update(first_month=first.T.copy(), last_month=last.T.copy(), final_balance=b.T.copy(),
               final_shortfall=short.T.copy(), final_reserve=reserve)
    out.update({f"total_{k}": v for k, v in dtot.items()})
    if full:
        out.update({f"tranche_{k}": np.ascontiguousarray(v.transpose(2, 0, 1)) for k, v in tr.items()})
        out.update({f"deal_{k}": np.ascontiguousarray(v.T) for k, v in dl.items()})
    return out


# ----------------------------------------------------------------------------------------
# the result
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaterfallResult:
    """What a waterfall paid, tranche by tranche, month by month, scenario by scenario.

    Attributes
    ----------
    deal : Deal
        The deal that was run.
    scenarios : Index
        Scenario labels (``"base"`` for one pool_cashflows table, the speed labels of a
        speed_scenarios table, 0..n-1 for arrays), named ``scenario``.
    months : RangeIndex
        Months 1..n, named ``month``.
    tranches : Index
        Tranche names in the order of the deal, named ``tranche``.
    arrays : dict of str to ndarray
        The raw results: ``tranche_<field>`` (n_scenarios, n_months, n_tranches) and
        ``deal_<field>`` (n_scenarios, n_months) when run with ``record="full"``; always
        the totals ``total_principal``, ``total_interest``, ``total_writedown``,
        ``total_accrued_interest``, ``total_time_principal`` (sum of month x principal),
        ``first_month``, ``last_month`` (0 = no principal), ``final_balance``,
        ``final_shortfall`` (n_scenarios, n_tranches) and ``total_fees``,
        ``total_residual``, ``total_trigger_months``, ``final_reserve`` (n_scenarios,).
    record : {"full", "summary"}
        What was kept.
    """

    deal: Deal
    scenarios: pd.Index
    months: pd.RangeIndex
    tranches: pd.Index
    arrays: dict[str, np.ndarray]
    record: str

    def _scenario(self, scenario: object) -> int:
        if scenario is None:
            if len(self.scenarios) != 1:
                raise ParameterError(
                    f"this result holds {len(self.scenarios)} scenarios; name one with scenario=..., e.g. "
                    f"scenario={self.scenarios[0]!r}."
                )
            return 0
        if scenario not in self.scenarios:
            from poolkit._validation import did_you_mean

            shown = list(self.scenarios[:8])
            raise ParameterError(
                f"scenario {scenario!r} is not in this result; scenarios are {shown}"
                f"{'...' if len(self.scenarios) > 8 else ''}.{did_you_mean(scenario, [str(s) for s in shown])}"
            )
        return int(self.scenarios.get_loc(scenario))

    def _tranche(self, tranche: object) -> int:
        if tranche not in self.tranches:
            from poolkit._validation import did_you_mean

            raise ParameterError(
                f"tranche {tranche!r} is not in the deal; tranches are {list(self.tranches)}."
                f"{did_you_mean(tranche, list(self.tranches))}"
            )
        return int(self.tranches.get_loc(tranche))

    def _need_full(self) -> None:
        if self.record != "full":
            raise ParameterError("month-by-month flows were not kept; run the waterfall with record='full'.")

    def tranche_cashflows(self, tranche: str, scenario: object = None) -> pd.DataFrame:
        """Return one tranche's monthly cash flows in one scenario.

        Parameters
        ----------
        tranche : str
            Tranche name.
        scenario : label, optional
            Scenario label (needed when the result holds several).

        Returns
        -------
        DataFrame
            Index ``month``; columns ``beginning_balance`` (principal, or the notional of
            an interest-only tranche), ``interest`` (cash), ``accrued_interest`` (accreted
            to a Z bond), ``principal``, ``writedown`` (losses), ``balance`` (end of
            month), ``interest_shortfall`` (unpaid, carried forward), ``cash_flow``
            (interest + principal) and ``notional_paydown`` (fall of the notional, which
            weights an interest-only tranche's average life). The columns fit
            :func:`weighted_average_life`, :func:`cash_flow_yield` and
            :func:`modified_duration`.

        Raises
        ------
        ParameterError
            For an unknown tranche or scenario, or a result run with ``record="summary"``.
        """
        self._need_full()
        j = self._tranche(tranche)
        s = self._scenario(scenario)
        a = self.arrays
        data = {f: a[f"tranche_{f}"][s, :, j] for f in _TRANCHE_FIELDS}
        frame = pd.DataFrame(data, index=self.months)[
            ["beginning_balance", "interest", "accrued_interest", "principal", "writedown", "balance",
             "interest_shortfall"]
        ]
        frame["cash_flow"] = frame["interest"] + frame["principal"]
        frame["notional_paydown"] = np.maximum(frame["beginning_balance"] - frame["balance"], 0.0)
        frame.columns.name = str(tranche)
        return frame

    def balances(self, scenario: object = None) -> pd.DataFrame:
        """Return the balance of every tranche at the end of each month (month 0 = closing).

        Parameters
        ----------
        scenario : label, optional
            Scenario label (needed when the result holds several).

        Returns
        -------
        DataFrame
            Index ``month`` 0..n; one column per tranche (notional for interest-only
            tranches).

        Raises
        ------
        ParameterError
            For an unknown scenario, or a result run with ``record="summary"``.
        """
        self._need_full()
        s = self._scenario(scenario)
        start = self.arrays["tranche_beginning_balance"][s, :1, :]
        values = np.concatenate([start, self.arrays["tranche_balance"][s]], axis=0)
        return pd.DataFrame(values, index=pd.RangeIndex(0, len(self.months) + 1, name="month"), columns=self.tranches)

    def deal_cashflows(self, scenario: object = None) -> pd.DataFrame:
        """Return the deal-level accounts month by month: cash in, fees, residual, reserve, triggers.

        Parameters
        ----------
        scenario : label, optional
            Scenario label (needed when the result holds several).

        Returns
        -------
        DataFrame
            Index ``month``; columns ``interest_in`` and ``principal_in`` (collected from
            the pool), ``collateral_loss``, ``collateral_balance`` (end of month),
            ``fees``, ``residual`` (paid to the residual holder: excess spread, released
            overcollateralisation and reserve), ``reserve`` (end balance),
            ``reserve_draw``, ``reserve_deposit``, ``overcollateralisation`` (collateral
            minus tranche principal, end of month), ``trigger_failed`` (1 when a test
            failed), ``interest_paid`` and ``principal_paid`` (to the tranches, cash).

        Raises
        ------
        ParameterError
            For an unknown scenario, or a result run with ``record="summary"``.
        """
        self._need_full()
        s = self._scenario(scenario)
        frame = pd.DataFrame({f: self.arrays[f"deal_{f}"][s] for f in _DEAL_FIELDS}, index=self.months)
        frame["interest_paid"] = self.arrays["tranche_interest"][s].sum(axis=1)
        frame["principal_paid"] = self.arrays["tranche_principal"][s].sum(axis=1)
        return frame

    def losses(self) -> pd.DataFrame:
        """Return each tranche's loss (written-down principal) as a fraction of its original balance.

        Returns
        -------
        DataFrame
            Index ``scenario``; one column per tranche with principal, values in [0, 1].
        """
        orig = np.array([self.deal.balance_of(t) for t in self.deal.tranches])
        keep = orig > 0
        values = self.arrays["total_writedown"][:, keep] / orig[keep]
        return pd.DataFrame(values, index=self.scenarios, columns=self.tranches[keep])


def run_waterfall(deal: Deal, cashflows: Any, *, record: str = "full") -> WaterfallResult:
    r"""Pay a pool's monthly cash flows to the tranches of a deal, in every scenario at once.

    Parameters
    ----------
    deal : Deal
        The deal (see :func:`load_deal`).
    cashflows : DataFrame, LoanPool, PoolScenarios or mapping
        The pool's cash flows: a :func:`pool_cashflows` table (one scenario), a
        :func:`speed_scenarios` table (one scenario per speed), a :class:`LoanPool` from
        :func:`pool_from_loans`, simulated pools from :func:`simulate_pool_cashflows`,
        or a mapping of the fields ``interest`` and ``principal`` (required),
        ``principal_loss``, ``voluntary_prepayments``, ``principal_recovery`` and
        ``beginning_balance`` to arrays of shape (n_scenarios, n_months). The pool must
        start from the deal's collateral balance.
    record : {"full", "summary"}, default "full"
        ``"full"`` keeps every month (at most 4 million scenario x month x tranche
        cells); ``"summary"`` keeps totals per scenario (for large Monte Carlo runs).

    Returns
    -------
    WaterfallResult
        Per tranche and scenario: interest, principal, write-downs, balances, shortfalls;
        per scenario: fees, residual, reserve, overcollateralisation, triggers.

    Raises
    ------
    DataError
        If the cash flows are malformed (missing fields, negative or missing values,
        months not 1..n, more principal than balance) or start from another balance
        than the deal's collateral.
    ParameterError
        For an unknown ``record``, or ``"full"`` beyond 4 million cells.

    Notes
    -----
    Each month :math:`k`, with collateral interest :math:`I_k`, principal :math:`P_k`
    (scheduled :math:`P^s_k`, prepaid and recovered :math:`P^u_k`), loss :math:`L_k` and
    balance :math:`B_k = B_{k-1} - P_k - L_k`, and tranche balances :math:`b_{j}` at the
    start of the month:

    1. **Fees** :math:`f\,B_{k-1}/12` (plus any unpaid before).
    2. **Interest by seniority**: tranche :math:`j` is due
       :math:`c_j b_j/12 + \text{shortfall}_j` (on its notional for an IO); seniority
       levels are paid in order, pro rata inside a level; what is unpaid is carried
       forward (without interest). When an OC or IC test on tranche :math:`T` fails,
       interest left after :math:`T` and its seniors is first paid as principal to them
       (up to :math:`S_T - B_{k-1}/\text{level}` for OC, all of it for IC). The reserve
       covers fee and interest shortfalls. A Z bond's interest accretes,
       :math:`b_Z \mathrel{+}= c_Z b_Z/12`, and is paid as principal to the tranches
       ahead of it.
    3. **Principal distribution amount** :math:`A_k = P_k + \text{accretion} + E_k - R_k`,
       where excess spread :math:`E_k` (``excess_spread="cover_losses"``) covers the
       shortfall of collateral against tranches and builds the overcollateralisation to its
       target :math:`\mathrm{OC}^*`, and :math:`R_k` releases overcollateralisation above
       it (never while a test fails):

       .. math:: A^*_k = \sum_j b_j - B_k + \min(\mathrm{OC}^*, B_k),\quad
                 E_k = \min\{(A^*_k - P_k - \text{acc.})^+,\ \text{excess}\},\quad
                 R_k = \min\{(P_k + \text{acc.} - A^*_k)^+,\ P_k\}.

    4. **Losses**: what the tranches will exceed the collateral by once paid,
       :math:`(\sum_j b_j - A_k - B_k)^+`, less what the reserve covers (paid as principal
       to the seniors), is written off in reverse seniority, so overcollateralisation
       absorbs losses first. The write-down is applied before principal is shared, so a
       subordinate class is never paid principal that the same month's losses then take
       from a senior class.
    5. **Principal by rule**: senior/subordinate deals split :math:`A_k` by shifting
       interest (see :class:`ShiftingInterest`): the seniors receive
       :math:`SP_k P^s_k + (SP_k + s_k(1 - SP_k)) P^u_k` plus accretion and excess spread.
       Within the seniors: PAC tranches up to their schedule, then the other tranches in
       order of seniority (equal seniority and ``pro_rata`` tranches share in proportion
       to balance), then the PACs beyond schedule. Subordinates are paid in order of
       seniority; what they cannot take goes back to the seniors.
    6. The reserve is topped up to :math:`\max(\text{target}\,B_k, \text{floor}\,B_0)` from
       what remains; everything else goes to the residual holder.

    Every month, cash paid out (fees, interest, principal, residual) plus the change of
    the reserve equals cash in (:math:`I_k + P_k`), and each tranche's principal paid
    plus written down equals its original balance plus its accretion.

    References
    ----------
    .. [1] Fabozzi, F. J. and Jones, F. J. (2019). *Foundations of Global Financial Markets
       and Institutions*, 5th ed., MIT Press, chapter 30 (sequential pay, accrual, PAC,
       senior/subordinate, excess spread, overcollateralisation).
    .. [2] Fabozzi, F. J. (ed.) (2006). *The Handbook of Mortgage-Backed Securities*, 6th
       ed., McGraw-Hill (shifting interest, step-down and trigger tests).

    Examples
    --------
    >>> from poolkit.credit import load_deal, pool_cashflows
    >>> deal = load_deal("fabozzi_cmo1")
    >>> cf = pool_cashflows(400e6, 0.08125, 360, age=3, net_coupon=0.075, prepayment="165 PSA")
    >>> res = run_waterfall(deal, cf)
    >>> a = res.tranche_cashflows("A")
    >>> round(a.loc[1, "principal"]), round(a.loc[1, "interest"]), int(a.index[a["principal"] > 0][-1])
    (709923, 1215625, 81)
    """
    if record not in ("full", "summary"):
        raise ParameterError(f"`record` must be 'full' or 'summary', got {record!r}.")
    if not isinstance(deal, Deal):
        raise ParameterError(f"`deal` must be a Deal (see load_deal), got {type(deal).__name__}.")
    fl = _flows(cashflows, deal)
    n_s, months = fl.principal.shape
    cells = n_s * months * len(deal.tranches)
    if record == "full" and cells > MAX_FULL_CELLS:
        raise ParameterError(
            f"record='full' would keep {cells:,} scenario x month x tranche cells (at most {MAX_FULL_CELLS:,}); "
            f"use record='summary' for large simulations (totals per scenario and tranche)."
        )
    st = _compile(deal, months)
    arrays = _run(st, fl, record)
    return WaterfallResult(
        deal=deal, scenarios=fl.scenarios, months=fl.months, tranches=pd.Index(st.names, name="tranche"),
        arrays=arrays, record=record,
    )

r"""A securitisation deal as data: tranches, payment rules, credit enhancement, and deal files.

A deal is a frozen :class:`Deal` of :class:`Tranche` objects (name, balance, coupon,
type, seniority) with its collateral and rules, built in Python or read from a
YAML/JSON file by :func:`load_deal` (so a notebook parameter or a batch grid can name a
deal). Every check runs before anything is computed, and every problem of a deal is
listed in one :class:`~poolkit.exceptions.DataError` (misspelt keys and rule names get a
"did you mean").
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from poolkit._validation import did_you_mean
from poolkit.exceptions import DataError

#: The principal and interest rules a tranche can follow (see :class:`Tranche`).
TRANCHE_TYPES = ("sequential", "pro_rata", "pac", "support", "z", "io", "po", "senior", "subordinate")
_TYPE_ALIASES = {
    "pro-rata": "pro_rata", "prorata": "pro_rata", "pro rata": "pro_rata", "accrual": "z", "z_bond": "z",
    "companion": "support", "sub": "subordinate", "interest_only": "io", "principal_only": "po",
}
#: Tests that divert cash when they fail (see :class:`Trigger`).
TRIGGER_TYPES = ("overcollateralisation", "interest_coverage")
_TRIGGER_ALIASES = {"oc": "overcollateralisation", "overcollateralization": "overcollateralisation",
                    "ic": "interest_coverage"}
#: What excess spread does (see :class:`Deal`).
EXCESS_SPREAD_RULES = ("cover_losses", "release")
#: The standard shifting-interest schedule: share of the subordinates' pro-rata part of
#: prepayments still paid to the seniors, by deal year (years 1-5: 100 %, then 70, 60, 40, 20 %, then 0).
STANDARD_SHIFTING_INTEREST = (1.0, 1.0, 1.0, 1.0, 1.0, 0.7, 0.6, 0.4, 0.2, 0.0)
#: Deal files shipped with poolkit (``load_deal("<name>")``).
DEALS_DIR = Path(__file__).resolve().parents[1] / "datasets" / "deals"
#: Relative tolerance on "the tranche balances add up to the collateral".
BALANCE_RTOL = 1e-9

_DEAL_KEYS = ("name", "description", "source", "collateral", "tranches", "fees", "overcollateralisation",
              "reserve", "triggers", "shifting_interest", "excess_spread")
_KEY_ALIASES = {"overcollateralization": "overcollateralisation"}
_TRANCHE_KEYS = ("name", "type", "balance", "share", "coupon", "seniority", "collar", "notional", "description")
_COLLATERAL_KEYS = ("balance", "coupon", "net_coupon", "term", "age")
_FLOATER_KEYS = ("index", "margin", "multiplier", "cap", "floor")
_RESERVE_KEYS = ("initial", "target", "floor")
_TRIGGER_KEYS = ("type", "tranche", "level")
_SHIFT_KEYS = ("schedule", "cumulative_loss_limit")


# ----------------------------------------------------------------------------------------
# the description
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Floater:
    r"""A floating coupon: an index plus a margin, with a floor and an optional cap.

    Attributes
    ----------
    index : float or tuple of float
        Annual index rate as a fraction, one number or one per month (the last value is
        held afterwards), e.g. ``0.05`` for a flat 5 % index.
    margin : float, default 0
        Added to the (scaled) index, annual fraction.
    multiplier : float, default 1
        Index multiplier; a negative one makes an inverse floater.
    cap : float, optional
        Highest coupon (annual fraction).
    floor : float, default 0
        Lowest coupon (annual fraction, >= 0: coupons are never negative).

    Notes
    -----
    .. math:: c_k = \min\{\max(\text{margin} + \text{multiplier}\cdot\text{index}_k,\ \text{floor}),\ \text{cap}\}.
    """

    index: float | tuple[float, ...]
    margin: float = 0.0
    multiplier: float = 1.0
    cap: float | None = None
    floor: float = 0.0


@dataclass(frozen=True)
class Collateral:
    """The pool behind a deal.

    Attributes
    ----------
    balance : float
        Collateral balance at closing (currency), > 0: the tranches must add up to it
        (or less, with stated overcollateralisation).
    coupon : float, optional
        Gross weighted-average coupon (WAC) as a fraction; needed for PAC schedules and
        prospectus tables, which project the pool.
    net_coupon : float, optional
        Pass-through rate (WAC minus servicing), defaults to ``coupon``.
    term : int, optional
        Original term in months (e.g. 360).
    age : int, default 0
        Loan age (WALA) in months at closing.
    """

    balance: float
    coupon: float | None = None
    net_coupon: float | None = None
    term: int | None = None
    age: int = 0


@dataclass(frozen=True)
class Tranche:
    """One bond of a deal.

    Attributes
    ----------
    name : str
        Unique label.
    balance : float, optional
        Original principal (currency). Give ``balance`` or ``share``, not both (neither for
        an ``io`` tranche, which has a notional instead).
    share : float, optional
        Original principal as a fraction of the collateral balance (so one deal file fits
        any pool size).
    coupon : float or Floater, default 0
        Annual coupon as a fraction (7.5 % is ``0.075``), paid monthly on the balance at
        the start of the month (30/360), or a :class:`Floater`.
    type : str, default "sequential"
        ``"sequential"`` (principal in order of seniority), ``"pro_rata"`` (principal
        shared with the other pro-rata tranches in proportion to balance), ``"pac"``
        (planned amortisation class: paid to its schedule first), ``"support"`` (absorbs
        what the PAC does not take), ``"z"`` (accrual bond: its interest accretes to its
        balance and pays down the tranches ahead of it until they are retired), ``"io"``
        (interest only, on a notional), ``"po"`` (principal only, no coupon),
        ``"senior"`` and ``"subordinate"`` (senior/subordinate structure with shifting
        interest).
    seniority : int, optional
        1 = most senior. Interest is paid and losses are taken by seniority; tranches of
        equal seniority share pro rata. Defaults to the position in the list (1-based):
        state it when the order of listing should not matter.
    collar : tuple of float, optional
        ``(lower, upper)`` PSA speeds of a PAC's band, e.g. ``(90, 300)``.
    notional : str or tuple of str, optional
        What an ``io`` tranche's interest accrues on: ``"collateral"`` (the pool balance)
        or the names of the tranches whose balances make its notional.
    """

    name: str
    balance: float | None = None
    share: float | None = None
    coupon: float | Floater = 0.0
    type: str = "sequential"
    seniority: int | None = None
    collar: tuple[float, float] | None = None
    notional: str | tuple[str, ...] | None = None


@dataclass(frozen=True)
class Trigger:
    r"""A coverage test that diverts cash to the senior tranches when it fails.

    Attributes
    ----------
    type : {"overcollateralisation", "interest_coverage"}
        Which ratio is tested.
    tranche : str
        The tested tranche: the ratio covers it and every tranche senior to it.
    level : float
        Minimum ratio, e.g. ``1.05`` (105 %).

    Notes
    -----
    With :math:`B_{k-1}` the collateral balance and :math:`S_T` the balance of tranche
    :math:`T` and those senior to it at the start of month :math:`k`, :math:`I_k` the
    interest collected, :math:`F_k` the fees due and :math:`D_T` the interest due on
    :math:`T` and its seniors,

    .. math:: \mathrm{OC}_T = \frac{B_{k-1}}{S_T},\qquad \mathrm{IC}_T = \frac{I_k - F_k}{D_T}.
    """

    type: str
    tranche: str
    level: float


@dataclass(frozen=True)
class Reserve:
    r"""A cash reserve account, funded at closing and topped up from excess spread.

    Attributes
    ----------
    initial : float, default 0
        Deposit at closing, as a fraction of the collateral balance.
    target : float, default 0
        Target balance as a fraction of the current collateral balance.
    floor : float, default 0
        Lowest target, as a fraction of the collateral balance at closing.

    Notes
    -----
    .. math:: R^{*}_k = \max(\text{target}\cdot B_k,\ \text{floor}\cdot B_0)\ (0 \text{ once } B_k = 0).
    """

    initial: float = 0.0
    target: float = 0.0
    floor: float = 0.0


@dataclass(frozen=True)
class ShiftingInterest:
    r"""The shifting-interest rule of a senior/subordinate deal.

    Attributes
    ----------
    schedule : tuple of float
        Shifting percentage by deal year (the last value is held), default
        :data:`STANDARD_SHIFTING_INTEREST`: 100 % for years 1-5, then 70, 60, 40, 20 %,
        then 0 (pro rata).
    cumulative_loss_limit : float, optional
        Step-down test: while cumulative losses exceed this fraction of the collateral at
        closing, the shifting percentage stays at 100 %.

    Notes
    -----
    With the senior percentage :math:`SP_k` (senior balance over collateral balance) and
    the shifting percentage :math:`s_k`, the seniors receive

    .. math:: SP_k \cdot \text{scheduled principal} + \big(SP_k + s_k (1 - SP_k)\big)\cdot
              \text{(prepayments + recoveries)} ,

    and :math:`s_k = 100\,\%` whenever a trigger fails, the loss test fails or the senior
    percentage has risen above its value at closing.
    """

    schedule: tuple[float, ...] = STANDARD_SHIFTING_INTEREST
    cumulative_loss_limit: float | None = None


@dataclass(frozen=True)
class Deal:
    r"""A securitisation: collateral, tranches and the rules of its waterfall.

    Attributes
    ----------
    name : str
        Label of the deal.
    collateral : Collateral
        The pool behind it.
    tranches : tuple of Tranche
        The bonds, in any order (seniority decides).
    fees : mapping of str to float
        Deal fees (trustee, administration...) as annual rates on the collateral balance,
        paid first each month.
    overcollateralisation : float, optional
        Overcollateralisation target as a fraction of the collateral at closing. Needed
        when the tranches add up to less than the collateral; excess spread builds the
        overcollateralisation up to the target and principal above it is released.
    reserve : Reserve, optional
        A reserve account.
    triggers : tuple of Trigger
        Coverage tests diverting cash to the senior tranches when they fail.
    shifting_interest : ShiftingInterest, optional
        Rule of a senior/subordinate deal (the standard schedule when it has
        ``subordinate`` tranches and none is given).
    excess_spread : {"cover_losses", "release"}, default "cover_losses"
        Whether the interest left after fees and coupons first covers the month's losses
        and builds the overcollateralisation (then the reserve), or goes straight to the
        residual holder.

    Raises
    ------
    DataError
        Listing every problem of the deal at once (see :func:`load_deal`).

    Notes
    -----
    The tranches with principal must add up to the collateral, or to less with stated
    overcollateralisation: :math:`\sum_j b_j = B_0 - \mathrm{OC}_0`.

    References
    ----------
    .. [1] Fabozzi, F. J. and Jones, F. J. (2019). *Foundations of Global Financial Markets
       and Institutions*, 5th ed., MIT Press, chapter 30.

    Examples
    --------
    >>> deal = Deal("two classes", Collateral(balance=100.0),
    ...             (Tranche("A", balance=80.0, coupon=0.05), Tranche("B", balance=20.0, coupon=0.07)))
    >>> deal.names, deal.seniority_of(deal.tranches[1])
    (['A', 'B'], 2)
    >>> Deal("too big", Collateral(balance=100.0), (Tranche("A", balance=120.0),))
    Traceback (most recent call last):
    ...
    poolkit.exceptions.DataError: deal 'too big' has 1 problem; fix them all and try again:
      - the tranche balances add up to 120.00, above the collateral 100.00 by 20.00; ...
    """

    name: str
    collateral: Collateral
    tranches: tuple[Tranche, ...]
    fees: Mapping[str, float] = field(default_factory=dict)
    overcollateralisation: float | None = None
    reserve: Reserve | None = None
    triggers: tuple[Trigger, ...] = ()
    shifting_interest: ShiftingInterest | None = None
    excess_spread: str = "cover_losses"

    def __post_init__(self) -> None:
        problems = _deal_problems(self)
        if problems:
            raise _deal_error(self.name, problems)

    @property
    def names(self) -> list[str]:
        """Tranche names in the order listed."""
        return [t.name for t in self.tranches]

    def balance_of(self, tranche: Tranche) -> float:
        """Original principal of a tranche (currency); 0 for an interest-only tranche."""
        if tranche.balance is not None:
            return float(tranche.balance)
        if tranche.share is not None:
            return float(tranche.share) * float(self.collateral.balance)
        return 0.0

    def tranche_type(self, tranche: Tranche) -> str:
        """Canonical type name of a tranche (aliases such as ``"accrual"`` resolved)."""
        return _canonical_type(tranche.type) or str(tranche.type)

    def seniority_of(self, tranche: Tranche) -> int:
        """Seniority of a tranche (its 1-based position when not stated)."""
        if tranche.seniority is not None:
            return int(tranche.seniority)
        return self.tranches.index(tranche) + 1


def _canonical_type(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    key = value.strip().lower()
    key = _TYPE_ALIASES.get(key, key)
    return key if key in TRANCHE_TYPES else None


def _canonical_trigger(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    key = value.strip().lower().replace("-", "_")
    key = _TRIGGER_ALIASES.get(key, key)
    return key if key in TRIGGER_TYPES else None


def _deal_error(name: object, problems: Sequence[str]) -> DataError:
    label = f"deal {name!r}" if isinstance(name, str) and name else "the deal"
    lines = "\n".join(f"  - {p}" for p in problems)
    n = len(problems)
    return DataError(f"{label} has {n} problem{'s' if n > 1 else ''}; fix them all and try again:\n{lines}")


# ----------------------------------------------------------------------------------------
# semantic checks: every problem of a deal, at once
# ----------------------------------------------------------------------------------------


def _real(value: object) -> float | None:
    """Return a finite real number (not a bool) as a float, else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def _pct(x: float) -> str:
    return f" Did you mean {x:g} % = {x / 100:g}?" if 1.0 < x <= 100.0 else ""


def _rate_problem(value: object, where: str, what: str, *, allow_none: bool = False) -> str | None:
    """Check an annual rate in [0, 1]: negative coupons and percentages are refused by name."""
    if value is None and allow_none:
        return None
    x = _real(value)
    if x is None:
        return f"{where}: {what} must be a number (an annual rate as a fraction such as 0.075), got {value!r}."
    if x < 0:
        return f"{where}: {what} {x:g} is negative; rates are annual fractions >= 0 (a 7.5 % coupon is 0.075)."
    if x > 1:
        return f"{where}: {what} {x:g} is above 100 %; rates are annual fractions.{_pct(x)}"
    return None


def _collateral_problems(c: object, problems: list[str]) -> None:
    if not isinstance(c, Collateral):
        problems.append(f"collateral: must describe the pool (balance, coupon, net_coupon, term, age), got {c!r}.")
        return
    b = _real(c.balance)
    if b is None or b <= 0:
        problems.append(f"collateral: balance must be a positive amount (currency), got {c.balance!r}.")
    for key in ("coupon", "net_coupon"):
        msg = _rate_problem(getattr(c, key), "collateral", key, allow_none=True)
        if msg:
            problems.append(msg)
    cpn, net = _real(c.coupon), _real(c.net_coupon)
    if cpn is not None and net is not None and net > cpn + 1e-15:
        problems.append(f"collateral: net_coupon {net:g} exceeds the gross coupon {cpn:g}; the difference is the servicing fee.")
    term, age = c.term, c.age
    if term is not None and (isinstance(term, bool) or not isinstance(term, numbers.Integral) or not 1 <= int(term) <= 1200):
        problems.append(f"collateral: term must be a whole number of months in 1..1200 (e.g. 360), got {term!r}.")
    if isinstance(age, bool) or not isinstance(age, numbers.Integral) or int(age) < 0:
        problems.append(f"collateral: age must be a whole number of months >= 0, got {age!r}.")
    elif isinstance(term, numbers.Integral) and not isinstance(term, bool) and int(age) >= int(term) >= 1:
        problems.append(f"collateral: age {age} must be below the term {term}; term is the original term.")


def _coupon_problems(coupon: object, where: str, problems: list[str]) -> None:
    if isinstance(coupon, Floater):
        idx = coupon.index
        values = list(idx) if isinstance(idx, (tuple, list)) else [idx]
        if not values or any(_real(v) is None for v in values):
            problems.append(f"{where}: floater index must be a rate or a list of monthly rates (fractions), got {idx!r}.")
        for key in ("margin", "multiplier"):
            if _real(getattr(coupon, key)) is None:
                problems.append(f"{where}: floater {key} must be a number, got {getattr(coupon, key)!r}.")
        floor = _real(coupon.floor)
        if floor is None or floor < 0:
            problems.append(
                f"{where}: floater floor must be a rate >= 0 (coupons are never negative), got {coupon.floor!r}."
            )
        if coupon.cap is not None:
            cap = _real(coupon.cap)
            if cap is None or cap < 0:
                problems.append(f"{where}: floater cap must be a rate >= 0, got {coupon.cap!r}.")
            elif floor is not None and cap < floor:
                problems.append(f"{where}: floater cap {cap:g} is below its floor {floor:g}.")
        return
    msg = _rate_problem(coupon, where, "coupon")
    if msg:
        problems.append(msg)


def _tranche_problems(deal: Deal, problems: list[str]) -> dict[str, str]:
    """Check each tranche; return name -> canonical type of the well-formed ones."""
    types: dict[str, str] = {}
    names = [t.name for t in deal.tranches if isinstance(t, Tranche)]
    seen: set[object] = set()
    collars: set[tuple[float, float]] = set()
    for i, t in enumerate(deal.tranches):
        if not isinstance(t, Tranche):
            problems.append(f"tranches[{i}]: must be a Tranche, got {type(t).__name__}.")
            continue
        where = f"tranche {t.name!r}" if isinstance(t.name, str) and t.name else f"tranches[{i}]"
        if not isinstance(t.name, str) or not t.name.strip():
            problems.append(f"tranches[{i}]: name must be a non-empty text such as 'A', got {t.name!r}.")
        elif t.name in seen:
            problems.append(f"{where}: the name is used twice; tranche names must be unique.")
        else:
            seen.add(t.name)
        kind = _canonical_type(t.type)
        if kind is None:
            hint = did_you_mean(t.type, [*TRANCHE_TYPES, *_TYPE_ALIASES]) if isinstance(t.type, str) else ""
            problems.append(f"{where}: unknown type {t.type!r}; use one of {list(TRANCHE_TYPES)}.{hint}")
        elif isinstance(t.name, str):
            types[t.name] = kind
        if kind == "io":
            if t.balance is not None or t.share is not None:
                problems.append(f"{where}: an io tranche has no principal; drop balance/share and give its notional.")
            if t.notional is None:
                problems.append(f"{where}: an io tranche needs a notional: 'collateral' or the names of tranches.")
            else:
                refs = [t.notional] if isinstance(t.notional, str) else list(t.notional)
                for ref in refs:
                    if ref != "collateral" and ref not in names:
                        problems.append(
                            f"{where}: notional names {ref!r}, which is not a tranche of the deal.{did_you_mean(ref, names)}"
                        )
        else:
            if t.notional is not None:
                problems.append(f"{where}: only an io tranche has a notional; drop it or make the tranche type 'io'.")
            if (t.balance is None) == (t.share is None):
                given = "both" if t.balance is not None else "neither"
                problems.append(f"{where}: give balance (currency) or share (fraction of the collateral), not {given}.")
            elif t.balance is not None:
                b = _real(t.balance)
                if b is None or b <= 0:
                    problems.append(f"{where}: balance must be a positive amount (currency), got {t.balance!r}.")
            else:
                s = _real(t.share)
                if s is None or not 0 < s <= 1:
                    problems.append(
                        f"{where}: share must be a fraction of the collateral in (0, 1], got {t.share!r}.{_pct(s or 0)}"
                    )
        if kind == "po":
            if not (isinstance(t.coupon, numbers.Real) and not isinstance(t.coupon, bool) and float(t.coupon) == 0):
                problems.append(f"{where}: a po tranche pays no interest; its coupon must be 0, got {t.coupon!r}.")
        else:
            _coupon_problems(t.coupon, where, problems)
        if t.seniority is not None and (
            isinstance(t.seniority, bool) or not isinstance(t.seniority, numbers.Integral) or int(t.seniority) < 1
        ):
            problems.append(f"{where}: seniority must be a whole number >= 1 (1 = most senior), got {t.seniority!r}.")
        if kind == "pac":
            collar = t.collar
            if collar is None:
                problems.append(f"{where}: a pac tranche needs a collar [lower, upper] of PSA speeds, e.g. [90, 300].")
            elif not isinstance(collar, (tuple, list)) or len(collar) != 2 or any(_real(v) is None for v in collar):
                problems.append(f"{where}: collar must be two PSA speeds [lower, upper], e.g. [90, 300], got {collar!r}.")
            else:
                lo, hi = float(collar[0]), float(collar[1])
                if lo < 0 or hi < 0:
                    problems.append(f"{where}: collar speeds must be >= 0 % PSA, got {list(collar)}.")
                elif lo > hi:
                    problems.append(
                        f"{where}: collar lower {lo:g} PSA is above upper {hi:g} PSA; write [{hi:g}, {lo:g}]."
                    )
                else:
                    collars.add((lo, hi))
        elif t.collar is not None:
            problems.append(f"{where}: only a pac tranche has a collar; drop it or make the tranche type 'pac'.")
    if len(collars) > 1:
        problems.append(f"the pac tranches must share one collar (one schedule), got {sorted(collars)}.")
    return types


def _structure_problems(deal: Deal, types: dict[str, str], problems: list[str]) -> None:
    """Check across tranches: balances add up, PAC capacity, Z, senior/subordinate, triggers."""
    tranches = [t for t in deal.tranches if isinstance(t, Tranche) and isinstance(t.name, str) and t.name in types]
    coll = _real(deal.collateral.balance) if isinstance(deal.collateral, Collateral) else None
    principal = [t for t in tranches if types[t.name] != "io"]
    # balances count whatever the (possibly misspelt) type: only an io tranche has no principal
    with_balance = [t for t in deal.tranches if isinstance(t, Tranche) and _canonical_type(t.type) != "io"]
    seniorities = {t.name: deal.seniority_of(t) for t in tranches if t.seniority is None or _real(t.seniority)}
    amounts: dict[int, float] = {}
    for t in with_balance:
        b = _real(t.balance) if t.balance is not None else None
        s = _real(t.share) if t.share is not None else None
        if b is not None and b > 0:
            amounts[id(t)] = b
        elif s is not None and 0 < s <= 1 and coll is not None:
            amounts[id(t)] = s * coll
    oc = deal.overcollateralisation
    if oc is not None:
        x = _real(oc)
        if x is None or not 0 <= x < 1:
            problems.append(
                f"overcollateralisation: the target must be a fraction of the collateral in [0, 1), got {oc!r}.{_pct(x or 0)}"
            )
    if not principal and tranches:
        problems.append("the deal has no tranche with principal; add at least one (an io tranche alone has none).")
    if coll is not None and coll > 0 and len(amounts) == len(with_balance) and with_balance:
        total = sum(amounts.values())
        gap = coll - total
        if gap < -BALANCE_RTOL * coll:
            problems.append(
                f"the tranche balances add up to {total:,.2f}, above the collateral {coll:,.2f} by {-gap:,.2f}; "
                f"bonds cannot exceed the pool that pays them. Reduce the balances (or shares)."
            )
        elif gap > BALANCE_RTOL * coll and oc is None:
            problems.append(
                f"the tranche balances add up to {total:,.2f}, below the collateral {coll:,.2f} by {gap:,.2f}; make "
                f"them add up, or state the overcollateralisation (e.g. overcollateralisation: {gap / coll:.4g})."
            )
    pacs = [t for t in principal if types[t.name] == "pac"]
    if pacs:
        c = deal.collateral
        if not isinstance(c, Collateral) or c.coupon is None or c.term is None:
            problems.append("a pac schedule is projected from the collateral: give its coupon, net_coupon, term and age.")
        elif all(id(t) in amounts for t in pacs) and not any("collar" in p for p in problems):
            collar = pacs[0].collar
            try:
                capacity = float(_pac_payments(c, (float(collar[0]), float(collar[1]))).sum())  # type: ignore[index]
            except Exception as exc:  # the collateral problem is reported above
                capacity = math.inf
                if not any(p.startswith("collateral") for p in problems):
                    problems.append(f"collateral: cannot project the pac schedule ({exc}).")
            pac_total = sum(amounts[id(t)] for t in pacs)
            if pac_total > capacity * (1 + BALANCE_RTOL):
                problems.append(
                    f"the pac tranches add up to {pac_total:,.2f}, but the collar {list(collar or ())} PSA supports at "
                    f"most {capacity:,.2f} of scheduled principal; reduce the pac balance or widen the collar."
                )
    if any(types[t.name] == "support" for t in principal) and not pacs:
        problems.append("a support tranche absorbs what a pac does not take; the deal has no pac tranche.")
    subs = [t for t in principal if types[t.name] == "subordinate"]
    for z in (t for t in principal if types[t.name] == "z"):
        ahead = [t for t in principal if types[t.name] not in ("z", "subordinate") and t.name in seniorities
                 and z.name in seniorities and seniorities[t.name] <= seniorities[z.name]]
        if not ahead:
            problems.append(
                f"tranche {z.name!r}: a z (accrual) tranche pays its accrued interest to tranches ahead of it; "
                f"no tranche is senior to it."
            )
    if subs:
        non_sub = [t for t in principal if types[t.name] != "subordinate" and t.name in seniorities]
        for sub in subs:
            above = [t.name for t in non_sub if sub.name in seniorities and seniorities[t.name] >= seniorities[sub.name]]
            if above:
                problems.append(
                    f"tranche {sub.name!r}: a subordinate tranche must be junior to every senior tranche; "
                    f"{above} rank at or below it (give it a larger seniority)."
                )
    shift = deal.shifting_interest
    if shift is not None:
        if not isinstance(shift, ShiftingInterest):
            problems.append(f"shifting_interest: must be a ShiftingInterest, got {shift!r}.")
        else:
            sched = shift.schedule
            if not isinstance(sched, (tuple, list)) or not sched or any(
                _real(v) is None or not 0 <= float(v) <= 1 for v in sched
            ):
                problems.append(
                    f"shifting_interest: schedule must be fractions in [0, 1] by deal year, e.g. "
                    f"{list(STANDARD_SHIFTING_INTEREST)}, got {sched!r}."
                )
            if shift.cumulative_loss_limit is not None:
                x = _real(shift.cumulative_loss_limit)
                if x is None or not 0 <= x <= 1:
                    problems.append(
                        f"shifting_interest: cumulative_loss_limit must be a fraction of the collateral in [0, 1], "
                        f"got {shift.cumulative_loss_limit!r}.{_pct(x or 0)}"
                    )
        if not subs:
            problems.append("shifting_interest applies to senior/subordinate deals; the deal has no subordinate tranche.")
    for i, trig in enumerate(deal.triggers):
        where = f"triggers[{i}]"
        if not isinstance(trig, Trigger):
            problems.append(f"{where}: must be a Trigger, got {trig!r}.")
            continue
        if _canonical_trigger(trig.type) is None:
            hint = did_you_mean(trig.type, [*TRIGGER_TYPES, *_TRIGGER_ALIASES]) if isinstance(trig.type, str) else ""
            problems.append(f"{where}: unknown type {trig.type!r}; use one of {list(TRIGGER_TYPES)}.{hint}")
        if trig.tranche not in [t.name for t in principal]:
            names = [t.name for t in principal]
            problems.append(
                f"{where}: tests tranche {trig.tranche!r}, which is not a tranche with principal of the deal."
                f"{did_you_mean(trig.tranche, names)}"
            )
        lvl = _real(trig.level)
        if lvl is None or lvl <= 0:
            problems.append(f"{where}: level must be a positive ratio such as 1.05 (105 %), got {trig.level!r}.")
        elif lvl > 10:
            problems.append(f"{where}: level {lvl:g} is a ratio, not a percentage. Did you mean {lvl / 100:g}?")
    res = deal.reserve
    if res is not None:
        if not isinstance(res, Reserve):
            problems.append(f"reserve: must be a Reserve, got {res!r}.")
        else:
            for key in _RESERVE_KEYS:
                x = _real(getattr(res, key))
                if x is None or not 0 <= x <= 1:
                    problems.append(
                        f"reserve: {key} must be a fraction of the collateral in [0, 1], got {getattr(res, key)!r}."
                        f"{_pct(x or 0)}"
                    )


def _deal_problems(deal: Deal) -> list[str]:
    """Every problem of a deal, in reading order; empty when it can run."""
    problems: list[str] = []
    if not isinstance(deal.name, str) or not deal.name.strip():
        problems.append(f"name: a deal needs a name (text), got {deal.name!r}.")
    _collateral_problems(deal.collateral, problems)
    if not isinstance(deal.tranches, tuple) or not deal.tranches:
        problems.append("tranches: a deal needs at least one tranche (a tuple of Tranche).")
        return problems
    types = _tranche_problems(deal, problems)
    if not isinstance(deal.fees, Mapping):
        problems.append(f"fees: must map fee names to annual rates, e.g. {{'trustee': 0.0002}}, got {deal.fees!r}.")
    else:
        for name, rate in deal.fees.items():
            x = _real(rate)
            if x is None or not 0 <= x < 1:
                problems.append(f"fees: {name!r} must be an annual rate in [0, 1) on the collateral, got {rate!r}.{_pct(x or 0)}")
    if deal.excess_spread not in EXCESS_SPREAD_RULES:
        hint = did_you_mean(deal.excess_spread, EXCESS_SPREAD_RULES) if isinstance(deal.excess_spread, str) else ""
        problems.append(f"excess_spread: unknown rule {deal.excess_spread!r}; use one of {list(EXCESS_SPREAD_RULES)}.{hint}")
    if not isinstance(deal.triggers, tuple):
        problems.append(f"triggers: must be a tuple of Trigger, got {type(deal.triggers).__name__}.")
        return problems
    _structure_problems(deal, types, problems)
    return problems


def _pac_payments(collateral: Collateral, collar: tuple[float, float]) -> np.ndarray:
    """Monthly principal of the collateral at the slower of the two collar speeds, month by month."""
    from poolkit.credit._cashflows import speed_scenarios

    assert collateral.coupon is not None and collateral.term is not None
    lo, hi = collar
    speeds = [lo] if lo == hi else [lo, hi]
    cf = speed_scenarios(float(collateral.balance), float(collateral.coupon), int(collateral.term), speeds,
                         age=int(collateral.age), net_coupon=collateral.net_coupon)
    return np.asarray(cf["principal"].to_numpy().min(axis=1), dtype=float)


def _floater_rates(coupon: Floater, months: int) -> np.ndarray:
    """Annual coupon of a floater in months 1..months (index held at its last value)."""
    idx = np.asarray(coupon.index if isinstance(coupon.index, Iterable) else [coupon.index], dtype=float).reshape(-1)
    path = idx[np.minimum(np.arange(months), idx.size - 1)]
    rate = float(coupon.margin) + float(coupon.multiplier) * path
    rate = np.maximum(rate, float(coupon.floor))
    if coupon.cap is not None:
        rate = np.minimum(rate, float(coupon.cap))
    return rate

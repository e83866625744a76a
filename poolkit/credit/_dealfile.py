r"""Deal files: a deal read from YAML/JSON or a bundled name, every problem listed at once; the tranche table."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from poolkit._validation import did_you_mean
from poolkit.credit._deal import (
    _COLLATERAL_KEYS,
    _DEAL_KEYS,
    _FLOATER_KEYS,
    _KEY_ALIASES,
    _RESERVE_KEYS,
    _SHIFT_KEYS,
    _TRANCHE_KEYS,
    _TRIGGER_KEYS,
    DEALS_DIR,
    STANDARD_SHIFTING_INTEREST,
    Collateral,
    Deal,
    Floater,
    Reserve,
    ShiftingInterest,
    Tranche,
    Trigger,
    _deal_error,
    _deal_problems,
    _floater_rates,
)
from poolkit.exceptions import DataError


def _keys(data: Mapping[Any, Any], allowed: Sequence[str], where: str, problems: list[str],
          aliases: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the mapping with aliases resolved; report unknown keys with "did you mean"."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = (aliases or {}).get(str(key), str(key))
        if name not in allowed:
            problems.append(f"{where}: unknown key {key!r}; allowed keys are {list(allowed)}.{did_you_mean(key, allowed)}")
            continue
        out[name] = value
    return out


def _mapping(value: object, where: str, problems: list[str]) -> Mapping[Any, Any] | None:
    if isinstance(value, Mapping):
        return value
    problems.append(f"{where}: must be a mapping of keys to values, got {type(value).__name__} {value!r}.")
    return None


def _as_tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


def _parse_coupon(value: object, where: str, problems: list[str]) -> object:
    if isinstance(value, Mapping):
        spec = _keys(value, _FLOATER_KEYS, f"{where} coupon", problems)
        if "index" not in spec:
            problems.append(f"{where} coupon: a floating coupon needs an index (a rate or monthly rates), e.g. index: 0.05.")
            return 0.0
        return Floater(index=_as_tuple(spec["index"]), margin=spec.get("margin", 0.0),  # type: ignore[arg-type]
                       multiplier=spec.get("multiplier", 1.0), cap=spec.get("cap"), floor=spec.get("floor", 0.0))
    return value


def _parse(data: Mapping[Any, Any], collateral: Mapping[str, Any] | None, problems: list[str]) -> dict[str, Any]:
    """Turn a deal mapping into the arguments of :class:`Deal`; structural problems go to ``problems``."""
    top = _keys(data, _DEAL_KEYS, "deal", problems, _KEY_ALIASES)
    out: dict[str, Any] = {"name": top.get("name", "")}
    coll_map = dict(_mapping(top.get("collateral", {}), "collateral", problems) or {})
    if collateral is not None:
        coll_map.update(collateral)
    coll = _keys(coll_map, _COLLATERAL_KEYS, "collateral", problems)
    if "balance" not in coll:
        problems.append("collateral: give the balance of the pool (currency), e.g. collateral: {balance: 400000000}.")
    out["collateral"] = Collateral(balance=coll.get("balance", 0.0), coupon=coll.get("coupon"),
                                   net_coupon=coll.get("net_coupon", coll.get("coupon")), term=coll.get("term"),
                                   age=coll.get("age", 0))
    raw = top.get("tranches")
    tranches: list[Tranche] = []
    if not isinstance(raw, list) or not raw:
        problems.append("tranches: give a list of tranches, e.g. [{name: A, balance: 100, coupon: 0.05}].")
    else:
        for i, item in enumerate(raw):
            spec_map = _mapping(item, f"tranches[{i}]", problems)
            if spec_map is None:
                continue
            label = f"tranches[{i}] {spec_map['name']!r}" if "name" in spec_map else f"tranches[{i}]"
            spec = _keys(spec_map, _TRANCHE_KEYS, label, problems)
            if "name" not in spec:
                problems.append(f"tranches[{i}]: every tranche needs a name.")
            tranches.append(Tranche(
                name=spec.get("name", f"#{i + 1}"), balance=spec.get("balance"), share=spec.get("share"),
                coupon=_parse_coupon(spec.get("coupon", 0.0), label, problems),  # type: ignore[arg-type]
                type=spec.get("type", "sequential"), seniority=spec.get("seniority"),
                collar=_as_tuple(spec.get("collar")),  # type: ignore[arg-type]
                notional=_as_tuple(spec.get("notional")),  # type: ignore[arg-type]
            ))
    out["tranches"] = tuple(tranches)
    fees = top.get("fees", {})
    out["fees"] = dict(_mapping(fees, "fees", problems) or {}) if fees is not None else {}
    out["overcollateralisation"] = top.get("overcollateralisation")
    if top.get("reserve") is not None:
        res = _mapping(top["reserve"], "reserve", problems)
        if res is not None:
            spec = _keys(res, _RESERVE_KEYS, "reserve", problems)
            out["reserve"] = Reserve(**spec)
    trig_list = top.get("triggers", [])
    triggers: list[Trigger] = []
    if not isinstance(trig_list, list):
        problems.append(f"triggers: give a list of tests, e.g. [{{type: overcollateralisation, tranche: A, level: 1.1}}], got {trig_list!r}.")
    else:
        for i, item in enumerate(trig_list):
            trig_map = _mapping(item, f"triggers[{i}]", problems)
            if trig_map is None:
                continue
            spec = _keys(trig_map, _TRIGGER_KEYS, f"triggers[{i}]", problems)
            missing = [k for k in _TRIGGER_KEYS if k not in spec]
            if missing:
                problems.append(f"triggers[{i}]: missing {missing}; a test needs a type, a tranche and a level.")
                continue
            triggers.append(Trigger(type=spec["type"], tranche=spec["tranche"], level=spec["level"]))
    out["triggers"] = tuple(triggers)
    if top.get("shifting_interest") is not None:
        si = _mapping(top["shifting_interest"], "shifting_interest", problems)
        if si is not None:
            spec = _keys(si, _SHIFT_KEYS, "shifting_interest", problems)
            out["shifting_interest"] = ShiftingInterest(
                schedule=_as_tuple(spec.get("schedule", STANDARD_SHIFTING_INTEREST)),  # type: ignore[arg-type]
                cumulative_loss_limit=spec.get("cumulative_loss_limit"),
            )
    out["excess_spread"] = top.get("excess_spread", "cover_losses")
    return out


def deal_names() -> list[str]:
    """List the deal files shipped with poolkit, by the name :func:`load_deal` takes.

    Returns
    -------
    list of str
        Sorted names such as ``"fabozzi_cmo1"``.

    Examples
    --------
    >>> "fabozzi_cmo3" in deal_names()
    True
    """
    return sorted(p.stem for p in DEALS_DIR.glob("*.yaml"))


def _read(source: str | Path) -> tuple[Mapping[Any, Any], str]:
    """Read a deal file (YAML or JSON) or a bundled deal by name."""
    import yaml

    text_source = str(source)
    path = Path(text_source)
    bundled = DEALS_DIR / f"{text_source}.yaml"
    if not path.suffix and "/" not in text_source and "\\" not in text_source:
        if not bundled.is_file():
            raise DataError(
                f"no bundled deal named {text_source!r}; the bundled deals are {deal_names()}."
                f"{did_you_mean(text_source, deal_names())} Or give the path of a .yaml or .json file."
            )
        path = bundled
    if not path.is_file():
        raise DataError(f"deal file {str(path)!r} does not exist; give a .yaml/.json path or one of {deal_names()}.")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DataError(f"deal file {str(path)!r} does not parse: {exc}") from exc
    if not isinstance(data, Mapping):
        raise DataError(f"deal file {str(path)!r} must hold a mapping (name, collateral, tranches, ...), got {type(data).__name__}.")
    return data, str(path)


def load_deal(source: str | Path | Mapping[str, Any], *, collateral: Mapping[str, Any] | None = None) -> Deal:
    r"""Build a deal from a YAML/JSON file, a bundled deal name or a mapping; list every problem at once.

    Parameters
    ----------
    source : str, Path or mapping
        A bundled deal name (see :func:`deal_names`), the path of a ``.yaml``/``.yml``
        or ``.json`` file, or the mapping such a file holds. Keys: ``name``,
        ``description``, ``source``, ``collateral`` (``balance``, ``coupon``,
        ``net_coupon``, ``term``, ``age``), ``tranches`` (a list of ``name``, ``type``,
        ``balance`` or ``share``, ``coupon`` — a number or ``{index, margin, multiplier,
        cap, floor}`` — ``seniority``, ``collar``, ``notional``), ``fees``,
        ``overcollateralisation``, ``reserve`` (``initial``, ``target``, ``floor``),
        ``triggers`` (a list of ``type``, ``tranche``, ``level``), ``shifting_interest``
        (``schedule``, ``cumulative_loss_limit``) and ``excess_spread``.
    collateral : mapping, optional
        Overrides of the file's collateral keys, e.g. ``{"balance": 100e6, "coupon": 0.08}``,
        to apply a deal file whose tranches are given as ``share`` to another pool.

    Returns
    -------
    Deal
        The checked deal.

    Raises
    ------
    DataError
        If the file is missing or does not parse, or listing at once every problem of the
        deal: unknown keys (with "did you mean"), unknown tranche types or trigger types,
        balances that do not add up to the collateral (or exceed it, or fall short of it
        without stated overcollateralisation), a PAC collar with lower > upper or a PAC
        larger than its collar supports, negative coupons, and more (see :class:`Deal`).

    Notes
    -----
    Tranche balances :math:`b_j` and the collateral :math:`B_0` must satisfy

    .. math:: \sum_j b_j = B_0 - \mathrm{OC}_0,\qquad \mathrm{OC}_0 \ge 0,

    with :math:`\mathrm{OC}_0 > 0` only when ``overcollateralisation`` is stated
    (interest-only tranches carry no principal and are left out of the sum).

    References
    ----------
    .. [1] Fabozzi, F. J. and Jones, F. J. (2019). *Foundations of Global Financial Markets
       and Institutions*, 5th ed., MIT Press, chapter 30 (CMO-1 to CMO-3).

    Examples
    --------
    >>> deal = load_deal("fabozzi_cmo1")
    >>> [(t.name, deal.balance_of(t)) for t in deal.tranches][:2]
    [('A', 194500000.0), ('B', 36000000.0)]
    >>> load_deal({"name": "x", "collateral": {"balance": 100},
    ...            "tranches": [{"name": "A", "balance": 100, "cupon": 0.05}]})
    Traceback (most recent call last):
    ...
    poolkit.exceptions.DataError: deal 'x' has 1 problem; fix them all and try again:
      - tranches[0] 'A': unknown key 'cupon'; allowed keys are [...]. Did you mean 'coupon'...?
    """
    where = "the deal"
    if isinstance(source, Mapping):
        data: Mapping[Any, Any] = source
    elif isinstance(source, (str, Path)):
        data, where = _read(source)
    else:
        raise DataError(f"`source` must be a deal name, a file path or a mapping, got {type(source).__name__}.")
    if collateral is not None and not isinstance(collateral, Mapping):
        raise DataError(f"`collateral` must be a mapping of overrides such as {{'balance': 100e6}}, got {collateral!r}.")
    problems: list[str] = []
    args = _parse(data, collateral, problems)
    probe = object.__new__(Deal)  # the checks read the fields; the Deal itself is built once they pass
    for key, value in {"fees": {}, "overcollateralisation": None, "reserve": None, "triggers": (),
                       "shifting_interest": None, "excess_spread": "cover_losses", **args}.items():
        object.__setattr__(probe, key, value)
    problems += _deal_problems(probe)
    if problems:
        name = args.get("name") or (Path(where).stem if where != "the deal" else "")
        raise _deal_error(name, problems)
    return Deal(**args)


def deal_table(deal: Deal) -> Any:
    """Tabulate the tranches of a deal: type, seniority, balance, share, coupon.

    Parameters
    ----------
    deal : Deal
        The deal.

    Returns
    -------
    DataFrame
        Index ``tranche`` (deal order); columns ``type``, ``seniority``, ``balance``,
        ``share`` (of the collateral), ``coupon`` (the fixed rate, or the first month's
        rate of a floater) and ``collar`` (PAC band as text, empty otherwise).

    Examples
    --------
    >>> deal_table(load_deal("fabozzi_cmo3"))[["type", "balance"]]
                type      balance
    tranche
    P            pac  243800000.0
    S        support  156200000.0
    """
    import pandas as pd

    rows = {}
    coll = float(deal.collateral.balance)
    for t in deal.tranches:
        c = t.coupon
        rate = _floater_rates(c, 1)[0] if isinstance(c, Floater) else float(c)
        rows[t.name] = {
            "type": deal.tranche_type(t), "seniority": deal.seniority_of(t), "balance": deal.balance_of(t),
            "share": deal.balance_of(t) / coll, "coupon": rate,
            "collar": "" if t.collar is None else f"{t.collar[0]:g}-{t.collar[1]:g} PSA",
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "tranche"
    return table



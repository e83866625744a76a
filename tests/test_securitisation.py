"""Deals as data: building, reading and refusing deals (poolkit.credit._deal, _dealfile)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

import poolkit.credit as C
from poolkit.exceptions import DataError


def _deal(**changes):
    """A valid three-tranche deal as a file would hold it; ``changes`` replace top-level keys."""
    data = {
        "name": "test",
        "collateral": {"balance": 1000.0, "coupon": 0.08, "net_coupon": 0.075, "term": 120, "age": 0},
        "tranches": [
            {"name": "A", "type": "sequential", "balance": 700.0, "coupon": 0.06, "seniority": 1},
            {"name": "B", "type": "sequential", "balance": 200.0, "coupon": 0.07, "seniority": 2},
            {"name": "C", "type": "sequential", "balance": 100.0, "coupon": 0.09, "seniority": 3},
        ],
    }
    data.update(changes)
    return data


def _problems(exc: pytest.ExceptionInfo) -> list[str]:
    return [line[4:] for line in str(exc.value).splitlines() if line.startswith("  - ")]


# ----------------------------------------------------------------------------- valid deals


def test_every_bundled_deal_loads_and_adds_up():
    names = C.deal_names()
    assert {"fabozzi_cmo1", "fabozzi_cmo2", "fabozzi_cmo3", "fabozzi_strips", "senior_sub"} <= set(names)
    for name in names:
        deal = C.load_deal(name)
        table = C.deal_table(deal)
        principal = table.loc[table["type"] != "io", "balance"].sum()
        oc = deal.overcollateralisation or 0.0
        # the tranches add up to the collateral, less stated overcollateralisation (checked at load)
        assert principal <= deal.collateral.balance * (1 + 1e-12)
        assert principal >= deal.collateral.balance * (1 - oc) * (1 - 1e-12) - 1e-6


def test_a_deal_built_in_python_equals_the_same_deal_read_from_yaml_and_json(tmp_path):
    data = _deal()
    (tmp_path / "d.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    (tmp_path / "d.json").write_text(json.dumps(data), encoding="utf-8")
    built = C.Deal(
        name="test",
        collateral=C.Collateral(balance=1000.0, coupon=0.08, net_coupon=0.075, term=120, age=0),
        tranches=(C.Tranche("A", balance=700.0, coupon=0.06, seniority=1),
                  C.Tranche("B", balance=200.0, coupon=0.07, seniority=2),
                  C.Tranche("C", balance=100.0, coupon=0.09, seniority=3)),
    )
    assert C.load_deal(tmp_path / "d.yaml") == built
    assert C.load_deal(str(tmp_path / "d.json")) == built
    assert C.load_deal(data) == built


def test_shares_apply_a_deal_file_to_any_pool():
    deal = C.load_deal("senior_sub", collateral={"balance": 250e6, "coupon": 0.065, "net_coupon": 0.06})
    table = C.deal_table(deal)
    assert table["balance"].sum() == pytest.approx(250e6, rel=1e-12)
    assert table.loc["A1", "balance"] == pytest.approx(0.5 * 250e6)
    assert deal.collateral.term == 360  # keys not overridden keep the file's values


def test_aliases_and_case_of_type_names_are_accepted():
    data = _deal(tranches=[
        {"name": "A", "type": "Pro-Rata", "balance": 600.0, "coupon": 0.06, "seniority": 1},
        {"name": "B", "type": "PRO_RATA", "balance": 300.0, "coupon": 0.06, "seniority": 2},
        {"name": "Z", "type": "accrual", "balance": 100.0, "coupon": 0.06, "seniority": 3},
    ])
    deal = C.load_deal(data)
    assert C.deal_table(deal)["type"].tolist() == ["pro_rata", "pro_rata", "z"]


# ----------------------------------------------------------------------------- bad deals: one error, every problem


def test_every_problem_of_a_deal_is_listed_at_once():
    data = _deal(
        extra_key=1,
        tranches=[
            {"name": "A", "type": "sequental", "balance": 700.0, "cupon": 0.06},
            {"name": "B", "type": "pac", "balance": 200.0, "coupon": -0.01, "collar": [300, 90]},
            {"name": "C", "type": "sequential", "balance": 150.0, "coupon": 7.5},
        ],
        triggers=[{"type": "overcolateralisation", "tranche": "D", "level": 105}],
    )
    with pytest.raises(DataError) as exc:
        C.load_deal(data)
    problems = _problems(exc)
    text = "\n".join(problems)
    assert f"has {len(problems)} problems" in str(exc.value) and len(problems) >= 8
    assert "unknown key 'extra_key'" in text
    assert "unknown key 'cupon'" in text and "Did you mean 'coupon'" in text
    assert "unknown type 'sequental'" in text and "Did you mean 'sequential'" in text
    assert "coupon -0.01 is negative" in text
    assert "collar lower 300 PSA is above upper 90 PSA" in text
    assert "coupon 7.5 is above 100 %" in text and "0.075" in text
    assert re.search(r"add up to 1,050\.00, above the collateral 1,000\.00", text)
    assert "unknown type 'overcolateralisation'" in text and "Did you mean 'overcollateralisation'" in text
    assert "tests tranche 'D'" in text
    assert "Did you mean 1.05?" in text


def test_balances_below_the_collateral_need_stated_overcollateralisation():
    data = _deal()
    data["tranches"][2]["balance"] = 60.0
    with pytest.raises(DataError, match=r"below the collateral 1,000\.00 by 40\.00.*overcollateralisation: 0\.04"):
        C.load_deal(data)
    deal = C.load_deal({**data, "overcollateralisation": 0.04})
    assert C.attachment_points(deal).loc["C", "attachment"] == pytest.approx(0.04)


def test_a_pac_larger_than_its_collar_supports_is_refused():
    data = _deal(tranches=[
        {"name": "P", "type": "pac", "balance": 900.0, "coupon": 0.07, "collar": [90, 300]},
        {"name": "S", "type": "support", "balance": 100.0, "coupon": 0.07},
    ])
    with pytest.raises(DataError, match=r"collar \[90, 300\] PSA supports at most"):
        C.load_deal(data)


def test_structural_mistakes_are_named():
    cases = {
        "support tranche absorbs what a pac": [{"name": "S", "type": "support", "balance": 1000.0, "coupon": 0.05}],
        "no tranche is senior to it": [{"name": "Z", "type": "z", "balance": 1000.0, "coupon": 0.05}],
        "needs a notional": [{"name": "IO", "type": "io", "coupon": 0.01},
                             {"name": "A", "balance": 1000.0, "coupon": 0.05}],
        "must be junior to every senior": [{"name": "J", "type": "subordinate", "balance": 100.0, "seniority": 1},
                                           {"name": "S", "type": "senior", "balance": 900.0, "seniority": 2}],
        "names are used twice|the name is used twice": [{"name": "A", "balance": 500.0}, {"name": "A", "balance": 500.0}],
        "give balance .* not both": [{"name": "A", "balance": 1000.0, "share": 1.0}],
        "pays no interest": [{"name": "PO", "type": "po", "balance": 1000.0, "coupon": 0.05}],
        "only a pac tranche has a collar": [{"name": "A", "balance": 1000.0, "collar": [90, 300]}],
    }
    for message, tranches in cases.items():
        with pytest.raises(DataError, match=message):
            C.load_deal(_deal(tranches=tranches))


def test_floater_checks():
    bad = _deal()
    bad["tranches"][0]["coupon"] = {"index": 0.05, "margin": 0.01, "cap": 0.02, "floor": 0.03}
    with pytest.raises(DataError, match="cap 0.02 is below its floor 0.03"):
        C.load_deal(bad)
    bad["tranches"][0]["coupon"] = {"index": 0.05, "floor": -0.01}
    with pytest.raises(DataError, match="coupons are never negative"):
        C.load_deal(bad)
    bad["tranches"][0]["coupon"] = {"idx": 0.05}
    with pytest.raises(DataError, match="unknown key 'idx'.*Did you mean 'index'"):
        C.load_deal(bad)


def test_a_deal_built_in_python_is_checked_the_same_way():
    with pytest.raises(DataError) as exc:
        C.Deal("py", C.Collateral(balance=100.0),
               (C.Tranche("A", balance=60.0, coupon=-0.02), C.Tranche("B", balance=60.0, type="mezz")))
    text = str(exc.value)
    assert "has 3 problems" in text and "negative" in text and "unknown type 'mezz'" in text and "above the collateral" in text


def test_files_that_cannot_be_read_are_named(tmp_path):
    with pytest.raises(DataError, match=r"no bundled deal named 'fabozzi_cmo4'.*Did you mean .*'fabozzi_cmo1'"):
        C.load_deal("fabozzi_cmo4")
    with pytest.raises(DataError, match="does not exist"):
        C.load_deal(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("tranches: [a, b\n", encoding="utf-8")
    with pytest.raises(DataError, match="does not parse"):
        C.load_deal(tmp_path / "bad.yaml")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(DataError, match="must hold a mapping"):
        C.load_deal(tmp_path / "list.json")


def test_the_error_is_a_value_error_for_callers_that_catch_those():
    with pytest.raises(ValueError):
        C.load_deal(_deal(tranches=[]))

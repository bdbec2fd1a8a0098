"""The registry of a national deployment: every province of `vietnam-provinces` with its departments
and every commune and ward the package has, under one national root; a deployment limited to one
province or a list of them; the setting that chooses."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import ValidationError
from vietnam_provinces import Province, Ward

from services.api.registry import seed_units
from services.api.settings import ApiSettings
from services.api.tree import UnitTree
from services.contract.units import DEPARTMENTS, NATIONAL_ROOT, province_units

COMMUNE_LEVELS = {"ward", "commune", "special_zone"}


def test_the_country_is_34_provinces_every_commune_of_the_package_and_each_provinces_departments() -> None:
    units = seed_units(None)
    tree = UnitTree(units)
    by_level = Counter(u.level for u in units)
    assert tree.roots() == [NATIONAL_ROOT] and units[0].code == NATIONAL_ROOT
    assert len({u.code for u in units}) == len(units)
    assert by_level["country"] == 1
    assert by_level["province"] == 34 == len(list(Province.iter_all()))
    wards = list(Ward.iter_all())
    assert sum(by_level[level] for level in COMMUNE_LEVELS) == len(wards) == 3321
    assert by_level["department"] + by_level["office"] == 34 * len(DEPARTMENTS)
    # Every commune and ward hangs from its own province (the package's province_code), every province
    # from the root; parents come before their children.
    province_of = {f"{int(w.code):05d}": f"{int(w.province_code):02d}" for w in wards}
    seen: set[str] = set()
    for unit in units:
        if unit.level in COMMUNE_LEVELS:
            assert unit.parent_code == province_of[unit.code]
        if unit.level == "province":
            assert unit.parent_code == NATIONAL_ROOT
        assert unit.parent_code is None or unit.parent_code in seen
        seen.add(unit.code)
    assert len(tree.subtree(NATIONAL_ROOT)) == len(units)


def test_a_deployment_of_a_list_of_provinces_or_of_one() -> None:
    two = UnitTree(seed_units(["31", "ha_noi", "01"]))  # a province named twice counts once
    assert two.roots() == [NATIONAL_ROOT] and two.children(NATIONAL_ROOT) == ["01", "31"]
    assert len(two) == 1 + len(province_units("01")) + len(province_units("31"))
    # One province: its tree as before, the province at the root.
    one = seed_units("31")
    assert one == seed_units(["hai_phong"]) and UnitTree(one).roots() == ["31"]


def test_the_setting_names_one_province_a_list_or_all() -> None:
    assert ApiSettings(seed_province="31").provinces() == ["31"]
    assert ApiSettings(seed_province="31, 01").provinces() == ["31", "01"]
    assert ApiSettings(seed_province="31,hai_phong").national() is False
    assert ApiSettings(seed_province="ALL").provinces() is None
    assert ApiSettings(seed_province="all").national() and ApiSettings(seed_province="31,01").national()
    with pytest.raises(ValidationError, match="unknown province"):
        ApiSettings(seed_province="31,99")

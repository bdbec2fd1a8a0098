"""The unit registry on the compacted `unit-registry` topic: key = unit code, value = the unit as JSON,
a tombstone deletes it. Every replica mirrors the whole topic, so all see the same tree."""

from __future__ import annotations

import re
from typing import Any

import orjson

from services.api.tree import UnitInfo, UnitTree
from services.contract.units import deployment_units

# Any code the event contract takes (`unit_code` of schemas/filing-event.v1.json): a unit has figures
# under it, so the read endpoints take it. ASCII only: no `\w` or `\d`, which match other scripts.
ANY_UNIT_CODE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The codes the registry takes, for a unit and its parent: those of the contract that begin with a
# letter or digit, as codes become Kafka keys, URL path segments (never `.` or `..`) and part of
# target keys ('/'-separated).
UNIT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def encode_unit(unit: UnitInfo) -> bytes:
    return orjson.dumps(unit.as_dict())


def decode_unit(code: str, value: bytes) -> UnitInfo:
    """The unit of one registry record; a record the admin endpoint would refuse raises ValueError
    (the mirror skips it), whoever wrote it to the topic."""
    raw: dict[str, Any] = orjson.loads(value)
    parent = raw.get("parent_code")
    if not isinstance(raw.get("name"), str) or not isinstance(raw.get("level"), str):
        raise ValueError("a unit needs a name and a level")
    for each in (code, parent):
        if each is not None and not (isinstance(each, str) and UNIT_CODE.fullmatch(each)):
            raise ValueError("a unit's code and parent_code must match the registry's pattern")
    return UnitInfo(code, raw["name"], raw["level"], parent)


def apply_unit(tree: UnitTree, code: str, value: bytes | None) -> None:
    if value is None:
        tree.delete(code)
    else:
        tree.put(decode_unit(code, value))


def seed_units(provinces: str | list[str] | None) -> list[UnitInfo]:
    """The real units (provinces, departments, communes and wards) of one province, of a list of them,
    or of all 34 (None), parents first; more than one province hang from the national root `VN`."""
    scope = [provinces] if isinstance(provinces, str) else provinces
    return [UnitInfo(u.code, u.name, u.level, u.parent_code) for u in deployment_units(scope)]


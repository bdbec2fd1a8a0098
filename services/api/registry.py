"""The unit registry on the compacted `unit-registry` topic: key = unit code, value = the unit as JSON,
a tombstone deletes it. Every replica mirrors the whole topic, so all see the same tree."""

from __future__ import annotations

import re
from typing import Any

import orjson

from services.api.tree import UnitInfo, UnitTree
from services.simulator.units import province_units

# Codes become Kafka keys, URL path segments and part of target keys ('/'-separated): keep them plain.
UNIT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def encode_unit(unit: UnitInfo) -> bytes:
    return orjson.dumps(unit.as_dict())


def decode_unit(code: str, value: bytes) -> UnitInfo:
    raw: dict[str, Any] = orjson.loads(value)
    parent = raw.get("parent_code")
    if not isinstance(raw.get("name"), str) or not isinstance(raw.get("level"), str):
        raise ValueError("a unit needs a name and a level")
    return UnitInfo(code, raw["name"], raw["level"], parent if isinstance(parent, str) else None)


def apply_unit(tree: UnitTree, code: str, value: bytes | None) -> None:
    if value is None:
        tree.delete(code)
    else:
        tree.put(decode_unit(code, value))


def seed_units(province: str) -> list[UnitInfo]:
    """The province's real units (province, departments, communes and wards), parents first."""
    return [UnitInfo(u.code, u.name, u.level, u.parent_code) for u in province_units(province)]


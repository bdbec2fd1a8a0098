"""Agency codes → units: the compacted `unit-agencies` topic that places the national portal's sync.

A province's systems name the agency a dossier belongs to by its code in the portal's directory
(`madonvi`, `MaDinhDanhDV`, e.g. `000.00.12.H31`); the product counts by its own unit codes. The
API's admin endpoints write one record per agency (key = the agency code, value = `{"unit_code":
...}`, a tombstone removes it); ingest mirrors the topic and refuses a dossier whose agency has no
record. Both read the records through this module, so they agree on what a valid one is.
"""

from __future__ import annotations

import re

import orjson

# Codes seen are dotted (000.00.12.H31) or short (H31.100); they become Kafka keys and URL path
# segments, so the registry's own rule: ASCII letters, digits, `.`, `_`, `-`, beginning with one of
# the first two.
AGENCY_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
UNIT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def encode_agency(unit_code: str) -> bytes:
    return orjson.dumps({"unit_code": unit_code})


def decode_agency(agency_code: str, value: bytes) -> str:
    """The unit of one record; ValueError for a record the admin endpoint would not have written."""
    if not AGENCY_CODE.fullmatch(agency_code):
        raise ValueError("an agency code must match the registry's pattern")
    raw = orjson.loads(value)
    unit = raw.get("unit_code") if isinstance(raw, dict) else None
    if not isinstance(unit, str) or not UNIT_CODE.fullmatch(unit):
        raise ValueError("an agency record needs a unit_code matching the registry's pattern")
    return unit


class AgencyBook:
    """The mapping as plain data, fed record by record (`apply`) from the topic."""

    def __init__(self) -> None:
        self.units: dict[str, str] = {}

    def apply(self, agency_code: str, value: bytes | None) -> None:
        if value is None:
            self.units.pop(agency_code, None)
        else:
            self.units[agency_code] = decode_agency(agency_code, value)

    def unit_of(self, agency_code: str) -> str | None:
        return self.units.get(agency_code)

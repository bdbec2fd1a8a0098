"""Targets per unit, figure and calendar period, as plain data, and which target a figure period uses.

A target period is a year (`2026`), a quarter (`2026-Q1`) or a month (`2026-03`). Hải Phòng set yearly
targets per unit and reported monthly, so a period looks for the most specific target that covers
it and falls back to the wider ones: month_to_date takes the month's target, else the quarter's,
else the year's. Periods that do not follow the calendar (today, last 7 or 30 days, all time) are
judged against the target of the calendar month they end in, falling back the same way.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import orjson

TARGET_PERIOD = re.compile(r"^\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$")


@dataclass(frozen=True, slots=True)
class Target:
    unit_code: str
    figure: str
    period: str
    value: float

    @property
    def key(self) -> str:
        return target_key(self.unit_code, self.figure, self.period)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def target_key(unit_code: str, figure: str, period: str) -> str:
    """The Kafka key of a target; unit codes never contain '/' (the registry refuses it)."""
    return f"{unit_code}/{figure}/{period}"


def covering_periods(period: str, day: date) -> tuple[str, ...]:
    """The target periods that judge figure `period` ending on `day`, the preferred first."""
    year = f"{day.year:04d}"
    quarter = f"{year}-Q{(day.month - 1) // 3 + 1}"
    month = f"{year}-{day.month:02d}"
    if period == "year_to_date":
        return (year,)
    if period == "quarter_to_date":
        return (quarter, year)
    return (month, quarter, year)


class TargetBook:
    """Every target, by Kafka key and by unit."""

    def __init__(self) -> None:
        self.by_key: dict[str, Target] = {}
        self._by_unit: dict[str, dict[str, Target]] = {}

    def put(self, target: Target) -> None:
        self.by_key[target.key] = target
        self._by_unit.setdefault(target.unit_code, {})[target.key] = target

    def delete(self, key: str) -> None:
        old = self.by_key.pop(key, None)
        if old is not None:
            mine = self._by_unit.get(old.unit_code, {})
            mine.pop(key, None)
            if not mine:
                self._by_unit.pop(old.unit_code, None)

    def for_unit(self, unit_code: str) -> list[Target]:
        return sorted(self._by_unit.get(unit_code, {}).values(), key=lambda t: (t.figure, t.period))

    def units_with(self, figure: str) -> set[str]:
        return {unit for unit, mine in self._by_unit.items()
                if any(t.figure == figure for t in mine.values())}

    def lookup(self, unit_code: str, figure: str, period: str, day: date) -> Target | None:
        """The target that judges `figure` over `period` ending on `day`, if the unit has one."""
        for candidate in covering_periods(period, day):
            found = self.by_key.get(target_key(unit_code, figure, candidate))
            if found is not None:
                return found
        return None


def encode_target(target: Target) -> bytes:
    return orjson.dumps(target.as_dict())


def apply_target(book: TargetBook, key: str, value: bytes | None) -> None:
    if value is None:
        book.delete(key)
        return
    raw: dict[str, Any] = orjson.loads(value)
    target = Target(str(raw["unit_code"]), str(raw["figure"]), str(raw["period"]), float(raw["value"]))
    if target_key(target.unit_code, target.figure, target.period) != key:
        raise ValueError("the key does not match the target's unit, figure and period")
    book.put(target)

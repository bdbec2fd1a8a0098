"""Targets per unit, figure and calendar period, as plain data, and which target a figure period uses.

A target period is a year (`2026`), a quarter (`2026-Q1`) or a month (`2026-03`). Hải Phòng set yearly
targets per unit and reported monthly, so a period looks for the most specific target that covers
it and falls back to the wider ones: month_to_date takes the month's target, else the quarter's,
else the year's. Periods that do not follow the calendar (today, last 7 or 30 days, all time) are
judged against the target of the calendar month they end in, falling back the same way.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import orjson

from services.api.registry import UNIT_CODE
from services.api.rollup import SUMMED
from services.api.years import YEAR_PATTERN
from services.contract.figures import RATES

TARGET_PERIOD = re.compile(rf"^{YEAR_PATTERN}(-Q[1-4]|-(0[1-9]|1[0-2]))?$")

# What a target may be, by figure. A share of filings is between 0 and 1 (60 % is 0.6, so 5.0 is a
# mistake); the average resolution time is in hours, at most a leap year's; a counter is a whole
# number of filings (of seconds, for resolution_seconds), at most 10^12. Anything beyond would make
# every ranking, gap and report against it meaningless.
HOURS_FIGURE = "avg_resolution_hours"
SHARES = frozenset(RATES) - {HOURS_FIGURE}
MAX_HOURS = 366 * 24
MAX_COUNT = 10**12


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


def target_value(figure: str, value: object) -> float:
    """`value` as a target of `figure`, or ValueError saying what a target of it may be. A JSON
    `true` is not a number here, though Python counts it as 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("must be a finite number")
    if figure in SHARES:
        high, whole = 1, False
    elif figure == HOURS_FIGURE:
        high, whole = MAX_HOURS, False
    elif figure in SUMMED:
        high, whole = MAX_COUNT, True
    else:
        raise ValueError(f"no figure {figure[:64]!r}")
    if not 0 <= value <= high:
        raise ValueError(f"must be between 0 and {high:,} for {figure}")
    if whole and not float(value).is_integer():
        raise ValueError(f"must be a whole number for {figure}")
    return float(value)


def target_key(unit_code: str, figure: str, period: str) -> str:
    """The Kafka key of a target; unit codes never contain '/' (the registry refuses it)."""
    return f"{unit_code}/{figure}/{period}"


@lru_cache(maxsize=4096)  # a country's standings ask the same few (period, day) pairs 10^4 times a scrape
def covering_periods(period: str, day: date) -> tuple[str, ...]:
    """The target periods that judge figure `period` ending on `day`, the preferred first. A calendar
    period is judged by its own target, then its quarter's and year's, whatever `day` is."""
    if TARGET_PERIOD.fullmatch(period):
        year = period[:4]
        if len(period) == 4:
            return (year,)
        if "-Q" in period:
            return (period, year)
        return (period, f"{year}-Q{(int(period[5:]) - 1) // 3 + 1}", year)
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
    # Held to what the admin endpoint takes, whoever wrote the record: a ValueError skips it.
    raw: dict[str, Any] = orjson.loads(value)
    unit_code, figure, period = raw["unit_code"], raw["figure"], raw["period"]
    if not all(isinstance(v, str) for v in (unit_code, figure, period)):
        raise ValueError("a target's unit_code, figure and period are strings")
    if not UNIT_CODE.fullmatch(unit_code) or not TARGET_PERIOD.fullmatch(period):
        raise ValueError("not a registry unit code, or not a year, quarter or month")
    target = Target(unit_code, figure, period, target_value(figure, raw["value"]))
    if target_key(target.unit_code, target.figure, target.period) != key:
        raise ValueError("the key does not match the target's unit, figure and period")
    book.put(target)

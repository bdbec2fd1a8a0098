"""A unit's record on `unit-figures`: every counter and every rate for every period (docs/figures.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from services.aggregator.hcm_time import day_iso, day_start_us, epoch_to_us, format_as_of, hcm_day
from services.aggregator.unit_state import UnitState
from services.contract.figures import COUNTERS, PERIODS, calendar_periods, rates

# The bounds of all_time: every day, future ones included.
FIRST_DAY = 1
LAST_DAY = date.max.toordinal()

_WINDOWED = PERIODS[:-1]  # the periods that end today


def period_days(today: int) -> dict[str, tuple[int, int]]:
    """Each period's first and last day (ordinals, inclusive) when `today` is the day of as_of."""
    d = date.fromordinal(today)
    quarter_month = 3 * ((d.month - 1) // 3) + 1
    return {
        "today": (today, today),
        "last_7_days": (today - 6, today),
        "last_30_days": (today - 29, today),
        "month_to_date": (d.replace(day=1).toordinal(), today),
        "quarter_to_date": (date(d.year, quarter_month, 1).toordinal(), today),
        "year_to_date": (date(d.year, 1, 1).toordinal(), today),
        "all_time": (FIRST_DAY, LAST_DAY),
    }


@lru_cache(maxsize=4)
def calendar_days(today: int) -> Mapping[str, tuple[int, int]]:
    """Each calendar period's first and last day (ordinals, inclusive) when `today` is the day of
    as_of, the same for every unit of a publish round (kept: read-only). A calendar period holds its
    days up to today: days after today (events from the future) count only in all_time, as in the
    rolling periods."""
    return {name: (first.toordinal(), min(last.toordinal(), today))
            for name, (first, last) in calendar_periods(date.fromordinal(today)).items()}


def _period(row: list[int], within: int, overdue: int, portal: tuple[int, int]) -> dict[str, Any]:
    period: dict[str, Any] = dict(zip(COUNTERS, row, strict=True))
    period["pending_within_due"] = within
    period["pending_overdue"] = overdue
    period["portal_pending_on_time"], period["portal_pending_overdue"] = portal
    period.update(rates(period))
    return period


def cutoff_us(last_day: int, today: int, now_us: int) -> int:
    """When a period's open filings are judged (docs/figures.md): now for a period that has not
    ended, else the first instant after its last day."""
    return now_us if last_day >= today else day_start_us(last_day + 1)


def figures(unit_code: str, unit: UnitState, now_epoch: float) -> dict[str, Any]:
    """The unit-figures record of `unit` at `now_epoch` (seconds since the epoch): the rolling
    periods, then the calendar ones."""
    now_us = epoch_to_us(now_epoch)
    today = hcm_day(now_us)
    spans = period_days(today)
    sums = unit.window_sums(today, tuple(spans[name][0] for name in _WINDOWED))
    within, overdue = unit.pending(now_us)
    periods = {name: _period(row, within, overdue, unit.portal_pending(spans[name][0], today, now_us))
               for name, row in zip(_WINDOWED, sums, strict=True)}
    # all_time is every day, future ones included: the running total.
    periods["all_time"] = _period(unit.totals, within, overdue,
                                  unit.portal_pending(FIRST_DAY, LAST_DAY, now_us))
    calendar = calendar_days(today)
    for name, row in unit.range_sums(calendar).items():
        first, last = calendar[name]
        periods[name] = _period(row, within, overdue,
                                unit.portal_pending(first, last, cutoff_us(last, today, now_us)))
    return {"unit_code": unit_code, "as_of": format_as_of(now_us), "day": day_iso(today), "periods": periods}


def day_record(unit_code: str, unit: UnitState, day: int) -> dict[str, Any]:
    """A unit's record on `unit-days`: the counters of one Ho Chi Minh day (zeros when it has none)."""
    row = unit.days.get(day) or [0] * len(COUNTERS)
    return {"unit_code": unit_code, "day": day_iso(day), **dict(zip(COUNTERS, row, strict=True))}

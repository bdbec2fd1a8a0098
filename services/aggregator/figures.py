"""A unit's record on `unit-figures`: every counter and every rate for every period (docs/figures.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Any

import orjson

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


def cutoff_us(last_day: int, today: int, now_us: int) -> int:
    """When a period's open filings are judged (docs/figures.md): now for a period that has not
    ended, else the first instant after its last day."""
    return now_us if last_day >= today else day_start_us(last_day + 1)


# A unit's periods as last encoded: period -> (its counters, its 766 pending, and the JSON of its object
# before and after the press-style pending).
KeptPeriods = dict[str, tuple[list[int], tuple[int, int], bytes, bytes]]


def figures(unit_code: str, unit: UnitState, now_epoch: float) -> dict[str, Any]:
    """The unit-figures record of `unit` at `now_epoch` (seconds since the epoch): the rolling
    periods, then the calendar ones."""
    return orjson.loads(figures_json(unit_code, unit, now_epoch, {})[0])


def figures_json(unit_code: str, unit: UnitState, now_epoch: float,
                 kept: KeptPeriods) -> tuple[bytes, tuple[int, int]]:
    """figures(), encoded, as published, and its all_time's (pending_overdue, portal_pending_overdue),
    which the clock moves (Engine.mark_clock_changes). A period whose counters and 766 pending are
    those of the unit's last record (most of its thirty periods between two records: past months,
    quarters and years) is not built and encoded again. Each period also holds the press-style
    pending of now, written afresh every time. `kept` is the unit's, updated in place."""
    now_us = epoch_to_us(now_epoch)
    today = hcm_day(now_us)
    spans = period_days(today)
    within, overdue = unit.pending(now_us)
    press = b',"pending_within_due":%d,"pending_overdue":%d' % (within, overdue)
    rows = dict(zip(_WINDOWED, unit.window_sums(today, tuple(spans[name][0] for name in _WINDOWED)),
                    strict=True))
    rows["all_time"] = unit.totals
    cutoffs = {name: (first, last, now_us) for name, (first, last) in spans.items()}
    calendar = calendar_days(today)
    rows.update(unit.range_sums(calendar))
    cutoffs.update((name, (first, last, cutoff_us(last, today, now_us)))
                   for name, (first, last) in calendar.items())
    periods: dict[str, orjson.Fragment] = {}
    was = dict(kept)
    kept.clear()
    for name, row in rows.items():
        portal = unit.portal_pending(*cutoffs[name])
        entry = was.get(name)
        if entry is None or entry[1] != portal or entry[0] != row:
            counters: dict[str, Any] = dict(zip(COUNTERS, row, strict=True))
            judged = {"portal_pending_on_time": portal[0], "portal_pending_overdue": portal[1]}
            # In the record's order: the counters, the snapshots (press-style ones between), the rates.
            entry = (row, portal, orjson.dumps(counters)[:-1],
                     b"," + orjson.dumps({**judged, **rates({**counters, **judged})})[1:])
        kept[name] = entry
        periods[name] = orjson.Fragment(entry[2] + press + entry[3])
    record = orjson.dumps({"unit_code": unit_code, "as_of": format_as_of(now_us), "day": day_iso(today),
                           "periods": periods})
    return record, (overdue, kept["all_time"][1][1])


def day_record(unit_code: str, unit: UnitState, day: int) -> dict[str, Any]:
    """A unit's record on `unit-days`: the counters of one Ho Chi Minh day (zeros when it has none)."""
    row = unit.days.get(day) or [0] * len(COUNTERS)
    return {"unit_code": unit_code, "day": day_iso(day), **dict(zip(COUNTERS, row, strict=True))}

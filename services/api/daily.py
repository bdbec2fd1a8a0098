"""Every unit's counters per Ho Chi Minh day, as the aggregator last published them on `unit-days`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import orjson

from services.contract.figures import COUNTERS, rates

KEY_SEPARATOR = "|"
MAX_DAYS = 400  # the aggregator's default retention: older days no longer change


class DailyView:
    def __init__(self) -> None:
        # unit code -> day (ISO date) -> counters, in COUNTERS order
        self.rows: dict[str, dict[str, list[int]]] = {}

    def apply(self, key: str, value: bytes | None) -> None:
        """One record of `unit-days`, keyed `<unit>|<YYYY-MM-DD>`; the latest offset wins."""
        unit_code, separator, day = key.rpartition(KEY_SEPARATOR)
        if not separator or not unit_code:
            raise ValueError("not a unit-days key: expected <unit>|<YYYY-MM-DD>")
        date.fromisoformat(day)  # raises ValueError on a malformed day
        if value is None:
            self.rows.get(unit_code, {}).pop(day, None)
            return
        record = orjson.loads(value)
        if not isinstance(record, dict):
            raise ValueError("not a unit-days record: not an object")
        # A record missing a counter is refused whole (KeyError), not half-read.
        self.rows.setdefault(unit_code, {})[day] = [int(record[name]) for name in COUNTERS]

    def has(self, unit_code: str) -> bool:
        return unit_code in self.rows

    def series(self, unit_code: str, first: date, last: date) -> list[dict[str, Any]]:
        """One entry per day from `first` to `last`, zeros where the unit had no activity.

        A day has no pending snapshot, so its on-time rate (2.1) is over the filings received that
        day whose verdict is already fixed: portal_on_time / (portal_on_time + portal_overdue)."""
        rows = self.rows.get(unit_code, {})
        empty = [0] * len(COUNTERS)
        out = []
        for offset in range((last - first).days + 1):  # no day after `last` is computed: it may not exist
            day = (first + timedelta(days=offset)).isoformat()
            counts = dict(zip(COUNTERS, rows.get(day, empty), strict=True))
            decided = counts["portal_on_time"] + counts["portal_overdue"]
            on_time = {"on_time_rate": counts["portal_on_time"] / decided if decided else None}
            out.append({"day": day, **counts, **rates(counts), **on_time})
        return out

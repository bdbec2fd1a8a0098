"""One unit's accumulated figures: day buckets, an all-time total, and the pending indexes.

The unit holds the sum of its filings' contributions: `apply` adds each `Delta` from rules.py.
Pending filings are indexed by due time so that "how many are overdue now" is one bisect, right
at any moment with no event (the overdue clock only has to re-publish). For Decision 766 the open
filings are also indexed by receipt day, each day's effective dues sorted, so that a period's
cutoff judges them with one bisect a day (`portal_pending`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Mapping
from datetime import date
from operator import add
from typing import Any, Final

from services.aggregator.rules import Delta
from services.contract.figures import COUNTERS

_WIDTH: Final = len(COUNTERS)
_NO_CHANGE: Final = 1 << 62  # a day later than any real day


class UnitState:
    __slots__ = ("_changed_from", "_dues", "_marked", "_month_sums", "_months", "_past_key", "_past_sums",
                 "_portal_days", "_portal_dues", "_range_sums", "_stale_days", "days", "touched",
                 "unacknowledged")

    def __init__(self) -> None:
        self.days: dict[int, list[int]] = {}  # day ordinal -> counters, in COUNTERS order
        self._dues: list[int] = []  # sorted due_at of pending filings not marked overdue
        self._marked = 0  # pending filings marked overdue: overdue whatever their due
        # 766: receipt day -> sorted effective dues of the open filings received that day.
        self._portal_dues: dict[int, list[int]] = {}
        self._portal_days: list[int] | None = None  # its days, sorted; None until asked again
        # Sums of whole calendar ranges (month_sums), kept until a day in them changes.
        self._month_sums: dict[tuple[int, int], list[int]] = {}
        # Sums of ranges of whole months (a past month, quarter or year), kept until a day in them changes.
        self._range_sums: dict[tuple[int, int], list[int]] = {}
        self._stale_days: set[int] = set()  # days changed since _month_sums was last brought up to date
        self._months: set[tuple[int, int]] = set()  # every month with a day row
        # Sums over days before "today", cached for window_sums: valid for _past_key while no day
        # earlier than the key's today has changed (_changed_from is the earliest changed day).
        self._past_key: tuple[int, tuple[int, ...]] | None = None
        self._past_sums: list[list[int]] = []
        self._changed_from = _NO_CHANGE
        self.touched: set[int] = set()  # days changed since their rows were last published
        # Days whose rows were sent and not yet acknowledged: kept in the record with `touched`
        # until Kafka has them, so that a worker taking over after a crash publishes them again.
        self.unacknowledged: set[int] = set()

    def apply(self, change: Delta) -> None:
        """Add a filing's change. Raises (ValueError) before changing anything, or not at all: a
        change the state cannot take leaves it as it was."""
        counts, before, after, portal_before, portal_after = change  # (one unpacking, not four lookups)
        # Where the filing's old due time sits in the index, None if it was marked overdue: the one
        # check that can fail, made before any counter moves.
        pending_moved, portal_moved = before != after, portal_before != portal_after  # compared once
        drop_at = self._due_index(before[0]) if before is not None and pending_moved and not before[1] \
            else None
        portal_drop_at = self._portal_index(portal_before) if portal_before is not None and portal_moved \
            else None
        days = self.days
        # An int, not None, and a list index set as `row[i] = row[i] + n`: compiled (compiled.py),
        # both are then C integer operations, where `None` and `+=` go through Python's objects.
        row_day = -1  # no day: ordinals start at 1
        row: list[int] = []  # replaced before use
        for day, sign, amounts in counts:
            if day != row_day:  # an event's parts are mostly on one day: look it up once
                row_day = day
                self.touched.add(day)
                found = days.get(day)
                if found is None:
                    found = days[day] = [0] * _WIDTH
                    self._months.add(_month_of(day))
                row = found
                if day < self._changed_from:
                    self._changed_from = day
                self._stale_days.add(day)
            if sign > 0:
                for index, amount in amounts.items():
                    row[index] = row[index] + amount
            else:
                for index, amount in amounts.items():
                    row[index] = row[index] - amount
        if portal_moved:
            if portal_before is not None:
                dues = self._portal_dues[portal_before[0]]
                del dues[portal_drop_at]  # type: ignore[arg-type]  # found above
                if not dues:
                    del self._portal_dues[portal_before[0]]
                    self._portal_days = None
            if portal_after is not None:
                held = self._portal_dues.get(portal_after[0])
                if held is None:
                    held = self._portal_dues[portal_after[0]] = []
                    self._portal_days = None
                insort(held, portal_after[1])
        if not pending_moved:
            return
        if before is not None:
            if drop_at is None:
                self._marked -= 1
            else:
                del self._dues[drop_at]
        if after is not None:
            if after[1]:
                self._marked += 1
            else:
                insort(self._dues, after[0])

    def _due_index(self, due: int) -> int:
        dues = self._dues
        i = bisect_left(dues, due)
        if i == len(dues) or dues[i] != due:
            # Only a unit state out of step with its filings' states gets here.
            raise ValueError(f"pending filing due {due} is not in this unit's index")
        return i

    def _portal_index(self, entry: tuple[int, int]) -> int:
        dues = self._portal_dues.get(entry[0], ())
        i = bisect_left(dues, entry[1])
        if i == len(dues) or dues[i] != entry[1]:
            raise ValueError(f"open filing {entry} is not in this unit's 766 index")
        return i

    def portal_pending(self, first_day: int, last_day: int, cutoff_us: int) -> tuple[int, int]:
        """(on time, overdue) of the open filings received from first_day to last_day (inclusive),
        judged at `cutoff_us`: on time while cutoff <= effective due (portal_rules.judged_on_time).
        Only the period's own days are visited: a record asks this of some thirty periods."""
        days = self._portal_days
        if days is None:
            days = self._portal_days = sorted(self._portal_dues)
        portal_dues = self._portal_dues
        on_time = overdue = 0
        for day in days[bisect_left(days, first_day):bisect_right(days, last_day)]:
            dues = portal_dues[day]
            passed = bisect_left(dues, cutoff_us)  # dues strictly before the cutoff
            overdue += passed
            on_time += len(dues) - passed
        return on_time, overdue

    def range_sums(self, ranges: Mapping[str, tuple[int, int]]) -> dict[str, list[int]]:
        """The counters summed over each named range of days (first and last day, ordinals,
        inclusive), each starting on the first of a month; the lists are read-only. A whole month's
        sum is kept until one of its days changes, so a past month is summed again only when a
        filing received (or resolved) in it moves, and so is the sum of a range of whole months (a
        past quarter or year). A month cut short (the current one, up to today) is its kept sum
        when it has no day after the cut (a filing dated in the future), else summed on each call."""
        self._forget_changed_months()
        partial: dict[tuple[int, int], list[int]] = {}  # (first, last) of a cut month -> its sum
        out: dict[str, list[int]] = {}
        for name, (first, last) in ranges.items():
            kept = self._range_sums.get((first, last))
            if kept is not None:
                out[name] = kept
                continue
            total = [0] * _WIDTH
            day = first
            whole = True
            while day <= last:
                key = _month_of(day)
                month_end = _month_end(key)
                if month_end <= last or not self._has_days(last + 1, month_end):
                    month_sum = self._month_sum(key)
                elif (day, last) in partial:
                    month_sum = partial[(day, last)]
                else:
                    month_sum = partial[(day, last)] = self._sum_days(day, last)
                whole = month_end <= last
                total = list(map(add, total, month_sum))
                day = month_end + 1
            if whole:
                self._range_sums[(first, last)] = total
            out[name] = total
        return out

    def _has_days(self, first: int, last: int) -> bool:
        days = self.days
        return any(day in days for day in range(first, last + 1))

    @property
    def totals(self) -> list[int]:
        """The counters summed over every day, future ones included: the all_time period. Summed
        from the months' kept sums when asked (at publishing), not kept up to date per event."""
        self._forget_changed_months()
        total = [0] * _WIDTH
        for key in self._months:
            total = list(map(add, total, self._month_sum(key)))
        return total

    def _forget_changed_months(self) -> None:
        """Drops the kept sums of the months changed since they were summed, and of the ranges
        holding them."""
        if not self._stale_days:
            return
        changed = {_month_of(day) for day in self._stale_days}
        for key in changed:
            self._month_sums.pop(key, None)
        if self._range_sums:
            starts = [date(*key, 1).toordinal() for key in changed]
            held = [span for span in self._range_sums if any(span[0] <= start <= span[1] for start in starts)]
            for span in held:
                del self._range_sums[span]
        self._stale_days.clear()

    def _month_sum(self, key: tuple[int, int]) -> list[int]:
        """A whole month's counters: the kept sum, or summed now and kept."""
        month_sum = self._month_sums.get(key)
        if month_sum is None:
            month_sum = self._month_sums[key] = self._sum_days(date(*key, 1).toordinal(), _month_end(key))
        return month_sum

    def _sum_days(self, first: int, last: int) -> list[int]:
        days = self.days
        total = [0] * _WIDTH
        for day in range(first, last + 1):
            row = days.get(day)
            if row is not None:
                total = list(map(add, total, row))
        return total

    def pending(self, now_us: int) -> tuple[int, int]:
        """(within due, overdue) at `now_us`: overdue when marked or now > due."""
        dues = self._dues
        passed = bisect_left(dues, now_us)  # dues strictly before now
        return len(dues) - passed, self._marked + passed

    def next_overdue_change(self, now_us: int) -> int | None:
        """The due time whose passing will next move a filing to overdue (after now_us), if any."""
        dues = self._dues
        i = bisect_left(dues, now_us)
        return dues[i] if i < len(dues) else None

    def window_sums(self, today: int, starts: tuple[int, ...]) -> list[list[int]]:
        """For each start (<= today), the counters summed over the days start..today."""
        key = (today, starts)
        if key != self._past_key or self._changed_from < today:
            self._past_sums = self._sum_past(today, starts)
            self._past_key = key
            self._changed_from = _NO_CHANGE
        today_row = self.days.get(today)
        if today_row is None:
            return [list(past) for past in self._past_sums]
        return [list(map(add, past, today_row)) for past in self._past_sums]

    def _sum_past(self, today: int, starts: tuple[int, ...]) -> list[list[int]]:
        # One walk back from yesterday to the earliest start, taking a copy of the running sum
        # as each start is passed: every day is added once, whatever the number of windows.
        days = self.days
        running = [0] * _WIDTH
        sums: dict[int, list[int]] = {}
        remaining = sorted(set(starts), reverse=True)
        day = today - 1
        for start in remaining:
            while day >= start:
                row = days.get(day)
                if row is not None:
                    running = list(map(add, running, row))
                day -= 1
            sums[start] = running
        return [list(sums[start]) for start in starts]

    def to_json(self) -> dict[str, Any]:
        """JSON-able form: non-empty day rows and the pending index."""
        return {
            "days": [[day, row] for day, row in sorted(self.days.items()) if any(row)],
            "dues": self._dues,
            "marked": self._marked,
            "portal_dues": [[day, dues] for day, dues in sorted(self._portal_dues.items())],
            # Kept with the state, so that a worker taking the unit over publishes them too.
            "touched": sorted(self.touched | self.unacknowledged),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UnitState:
        unit = cls()
        for day, row in data["days"]:
            unit.days[day] = list(row)
            unit._months.add(_month_of(day))
        unit._dues = sorted(data["dues"])
        unit._marked = data["marked"]
        unit._portal_dues = {day: sorted(dues) for day, dues in data.get("portal_dues", ())}
        unit.touched = set(data.get("touched", ()))
        return unit


def _month_of(day: int) -> tuple[int, int]:
    d = date.fromordinal(day)
    return d.year, d.month


def _month_end(year_month: tuple[int, int]) -> int:
    """The last day of a month (an ordinal)."""
    year, month = year_month
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return following.toordinal() - 1

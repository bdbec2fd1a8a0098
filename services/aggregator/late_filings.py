"""The filings behind a unit's 2.1 figure (docs/figures.md, "The filings behind a figure"): which
filings are overdue now, which count as late in each period, and which open ones fall due within
the next working day.

A unit keeps a `FilingLedger`: one entry per filing that the portal counts late or that is still
open, a pure function of the filing's fold and procedure (`entry_of`). Being set, never added to,
an entry is the same whatever order and however often a filing's events are applied again.

Nothing of it is done per event: the engine only notes which filings' portal summaries changed
(one dict write), and their entries are set when the unit is next published. The ledger is not
stored: it is a function of the filings table, and a unit loaded from the units table (a restart,
a rebalance) has its ledger rebuilt from its filings' records before its first list is published.
The entries are grouped by receipt month, each month's sorted views kept until it changes, so that
a period's list merges a few sorted months; a period whose months and cutoff did not change since
the unit's last record (a past month, quarter or year) keeps its list.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from itertools import islice
from typing import Any

from services.aggregator.figures import cutoff_us, period_days
from services.aggregator.hcm_time import DAY_SHIFT_US, DAY_US, day_start_us, format_as_of, hcm_day
from services.aggregator.portal_rules import SUBMITTED, PortalFiling, effective_due, end_time, fixed_verdict
from services.contract.figures import calendar_periods

# An entry: (kind, received_at, due, over, reason, procedure), JSON-able as a list.
# - OPEN: still open (no end, no unanswered request); `due` is its effective due date (supplement
#   time added, or the date the sender moved it to); `over` and `reason` None: each period's cutoff
#   judges it.
# - LATE: the filing's own events make it overdue; `due` its effective due date, `over` the end
#   time minus that due in microseconds (None while a filing with two requests has no end).
OPEN, LATE = 0, 1
PAST_DUE = "past_due"  # ended after its due date
SECOND_REQUEST = "second_supplement_request"  # more than one supplement request: overdue whatever the times
OPEN_PAST_DUE = "open_past_due"  # still open at the period's end (now, for a current period), past due
REASONS = (PAST_DUE, SECOND_REQUEST, OPEN_PAST_DUE)
Entry = tuple[int, int, int, int | None, str | None, str | None]

# The filings listed per list; the counts are exact whatever their number.
LIST_BOUND = 100
_NO_END = 1 << 62  # the sort key of a late filing with no end: after every other
WEEKEND = (5, 6)  # Saturday and Sunday: the working days are Monday to Friday (no holiday calendar)


def entry_of(portal: PortalFiling | None, portal_pending: tuple[int, int] | None,
             procedure: str | None) -> Entry | None:
    """A filing's ledger entry from its fold's portal summary and 766 pending entry: None for a
    held filing, or one whose verdict is fixed on time."""
    if portal is None:
        return None
    if portal_pending is not None:
        return (OPEN, portal.received_at, portal_pending[1], None, None, procedure)
    if fixed_verdict(portal) is not False:
        return None
    # Late by its requests: against its first due date, whatever the supplements' time.
    second = portal.requests >= 2
    due = portal.due if second else effective_due(portal)
    end = end_time(portal)
    return (LATE, portal.received_at, due, None if end is None else end - due,
            SECOND_REQUEST if second else PAST_DUE, procedure)


def first_procedure(state: tuple[tuple[Any, ...], ...], event: Any, procedure: str | None) -> str | None:
    """A filing's procedure once the submission `event` is in its `state`: the procedure of its
    first submission in canonical order (`procedure`, the one kept, unless this event is it)."""
    for stored in state:
        if stored[1] == SUBMITTED:
            return event[8] if stored[2] == event[2] else procedure
    return procedure


def spans(now_us: int) -> dict[str, tuple[int, int, int]]:
    """Each published period but all_time (whose late filings are not all kept): its first day,
    last day and cutoff, as the unit's figures have them (figures.py)."""
    today = hcm_day(now_us)
    out = {name: (first, last, now_us) for name, (first, last) in period_days(today).items()
           if name != "all_time"}
    for name, (first, last) in calendar_periods(date.fromordinal(today)).items():
        end = min(last.toordinal(), today)
        out[name] = (first.toordinal(), end, cutoff_us(end, today, now_us))
    return out


def receipt_day(entry: Entry) -> int:
    return (entry[1] + DAY_SHIFT_US) // DAY_US


def month_key(day: int) -> int:
    d = date.fromordinal(day)
    return d.year * 12 + d.month - 1


def month_name(key: int) -> str:
    return f"{key // 12:04d}-{key % 12 + 1:02d}"


def days_over(over_us: int | None) -> int | None:
    """Whole days past due, rounded up: a filing one microsecond late is 1 day over; 0 when it is
    late only by its supplement requests."""
    if over_us is None:
        return None
    return max(0, -(-over_us // DAY_US))


def next_working_day_end(now_us: int) -> int:
    """The end of the next working day after today (Monday to Friday, Ho Chi Minh days): the open
    filings due before it are the ones an officer can still save."""
    day = hcm_day(now_us) + 1
    while date.fromordinal(day).weekday() in WEEKEND:
        day += 1
    return day_start_us(day + 1)


class _Month:
    """One receipt month's entries, and their sorted views, kept until the month changes."""

    __slots__ = ("entries", "late", "open", "version")

    def __init__(self, entries: dict[str, Entry], version: int) -> None:
        self.entries = entries
        self.version = version  # the ledger's change count when the month last changed
        self.late: list[tuple[int, str, Entry]] | None = None  # (-over, id, entry): most over first
        self.open: list[tuple[int, str, Entry]] | None = None  # (due, id, entry), earliest due first

    def sorted_views(self) -> tuple[list[tuple[int, str, Entry]], list[tuple[int, str, Entry]]]:
        if self.late is None or self.open is None:
            late, open_ = [], []
            for filing_id, e in self.entries.items():
                if e[0] == OPEN:
                    open_.append((e[2], filing_id, e))
                else:
                    # A filing late only by its requests, with no end yet, sorts last.
                    late.append((_NO_END if e[3] is None else -e[3], filing_id, e))
            late.sort()
            open_.sort()
            self.late, self.open = late, open_
        return self.late, self.open


class FilingLedger:
    """A unit's open and late filings by receipt month (see the module's docstring)."""

    __slots__ = ("_changes", "_month_of", "_months", "_period_lists")

    def __init__(self) -> None:
        self._months: dict[int, _Month] = {}
        self._month_of: dict[str, int] = {}  # filing id -> its entry's month
        self._changes = 0
        # The last record's period lists by (first day, last day, cutoff), each with the versions
        # of the months it read: a period whose months and cutoff did not change since (a past
        # month, quarter or year, in a unit whose new filings are all this month's) is not listed
        # again. Replaced at every record, so it holds one record's periods at most.
        self._period_lists: dict[tuple[int, int, int], tuple[tuple[tuple[int, int], ...], Any]] = {}

    def _changed(self, held: _Month) -> None:
        self._changes += 1
        held.version = self._changes
        held.late = held.open = None

    def __len__(self) -> int:
        return len(self._month_of)

    def put(self, filing_id: str, entry: Entry | None) -> None:
        """Set a filing's entry (None: it has none)."""
        old = self._month_of.get(filing_id)
        if entry is None:
            if old is not None:
                self._drop(filing_id, old)
            return
        month = month_key(receipt_day(entry))
        if old is not None and old != month:
            self._drop(filing_id, old)
        held = self._months.get(month)
        if held is None:
            held = self._months[month] = _Month({}, 0)
        elif held.entries.get(filing_id) == entry:
            return
        held.entries[filing_id] = entry
        self._changed(held)
        self._month_of[filing_id] = month

    def _drop(self, filing_id: str, month: int) -> None:
        held = self._months[month]
        del held.entries[filing_id]
        self._changed(held)
        del self._month_of[filing_id]
        if not held.entries:
            del self._months[month]

    def get(self, filing_id: str) -> Entry | None:
        month = self._month_of.get(filing_id)
        return None if month is None else self._months[month].entries[filing_id]

    def prune(self, today: int) -> None:
        """Drop the late entries of receipt months before January of last year (no published
        period holds them); open filings stay, whatever their age."""
        oldest = (date.fromordinal(today).year - 1) * 12
        for month in [month for month in self._months if month < oldest]:
            for filing_id in [f for f, e in self._months[month].entries.items() if e[0] == LATE]:
                self._drop(filing_id, month)

    def rebuild(self, entries: Iterable[tuple[str, Entry | None]]) -> None:
        """Set the entries of every filing of the unit (read from the filings table)."""
        for filing_id, entry in entries:
            self.put(filing_id, entry)

    # -- the lists --------------------------------------------------------------------------------

    def period_lists(self, periods: dict[str, tuple[int, int, int]],
                     make: Callable[[int, int, int], Any]) -> dict[str, Any]:
        """`make(first, last, cutoff)` for each period, made again only where the period's months
        or cutoff changed since the last call (periods with the same span share one)."""
        kept, self._period_lists = self._period_lists, {}
        out = {}
        for name, span in periods.items():
            first, last = month_key(span[0]), month_key(span[1])
            versions = tuple((month, held.version) for month, held in self._months.items()
                             if first <= month <= last)
            made = self._period_lists.get(span) or kept.get(span)
            if made is None or made[0] != versions:
                made = (versions, make(*span))
            self._period_lists[span] = made
            out[name] = made[1]
        return out

    def overdue_now(self, now_us: int) -> tuple[int, list[tuple[int | None, str, Entry]]]:
        """The open filings past due at `now_us` (the count, then the most overdue first, at most
        LIST_BOUND) as (over, filing id, entry)."""
        return self.late_in(1, date.max.toordinal(), now_us, open_only=True)

    def due_soon(self, now_us: int, until_us: int) -> tuple[int, list[tuple[int, str, Entry]]]:
        """The open filings due from `now_us` (inclusive: still within due) to before `until_us`,
        the earliest due first."""
        count = 0
        streams = []
        for held in self._months.values():
            opened = held.sorted_views()[1]
            first = bisect_left(opened, (now_us,))
            last = bisect_left(opened, (until_us,))
            count += last - first
            if last > first:
                streams.append(islice(opened, first, last))
        found = [(due - now_us, filing_id, e) for due, filing_id, e in
                 islice(heapq.merge(*streams), LIST_BOUND)]
        return count, found

    def late_in(self, first_day: int, last_day: int, cutoff_us: int,
                open_only: bool = False) -> tuple[int, list[tuple[int | None, str, Entry]]]:
        """The filings received from first_day to last_day that 2.1 counts overdue at `cutoff_us`:
        those late by their own events, and the open ones past due at the cutoff. The count, then
        the most overdue first (at most LIST_BOUND), as (over, filing id, entry); over is None for
        a filing late by its requests with no end yet."""
        first_month, last_month = month_key(first_day), month_key(last_day)
        count = 0
        streams: list[Iterator[tuple[int, str, Entry]]] = []
        for month, held in self._months.items():
            if not first_month <= month <= last_month:
                continue
            late, opened = held.sorted_views()
            whole = first_month < month < last_month
            if not open_only:
                chosen = late if whole else [x for x in late if first_day <= receipt_day(x[2]) <= last_day]
                count += len(chosen)
                streams.append(iter(chosen))
            passed = opened[:bisect_left(opened, (cutoff_us,))]  # due strictly before the cutoff
            if not whole:
                passed = [x for x in passed if first_day <= receipt_day(x[2]) <= last_day]
            count += len(passed)
            # As (-over, id, entry), like the late ones: over = cutoff − due.
            streams.append((due - cutoff_us, filing_id, e) for due, filing_id, e in passed)
        found = [(None if negative == _NO_END else -negative, filing_id, e)
                 for negative, filing_id, e in islice(heapq.merge(*streams), LIST_BOUND)]
        return count, found


def item(over: int | None, filing_id: str, entry: Entry, reason: str | None = None,
         shown: dict[int, str] | None = None) -> dict[str, Any]:
    """One listed filing as the `unit-filings` record has it (no applicant data: the filing's id,
    its procedure and its dates); `shown` keeps instants already written (periods share filings)."""
    shown = {} if shown is None else shown
    received, due = shown.get(entry[1]), shown.get(entry[2])
    if received is None:
        received = shown[entry[1]] = format_as_of(entry[1])
    if due is None:
        due = shown[entry[2]] = format_as_of(entry[2])
    return {"filing_id": filing_id, "procedure_code": entry[5], "received_at": received,
            "due_at": due, "days_over": days_over(over),
            "reason": reason if reason is not None else entry[4] if entry[0] == LATE else OPEN_PAST_DUE}


_HOUR_US = 3_600_000_000


def filings_record(unit_code: str, ledger: FilingLedger, now_us: int,
                   periods: dict[str, tuple[int, int, int]]) -> dict[str, Any]:
    """The unit's record on `unit-filings` at `now_us`; `periods` maps each published period to
    its first day, last day and cutoff (figures.py)."""
    shown: dict[int, str] = {}
    count, found = ledger.overdue_now(now_us)
    until = next_working_day_end(now_us)
    soon_count, soon = ledger.due_soon(now_us, until)

    def late_list(first: int, last: int, cutoff: int) -> dict[str, Any]:
        period_count, period_found = ledger.late_in(first, last, cutoff)
        return {"count": period_count,
                "filings": [item(over, fid, e, None, shown) for over, fid, e in period_found]}

    late = ledger.period_lists(periods, late_list)
    return {
        "unit_code": unit_code, "as_of": format_as_of(now_us), "bound": LIST_BOUND,
        "overdue_now": {"count": count,
                        "filings": [item(over, fid, e, None, shown) for over, fid, e in found]},
        "due_soon": {"count": soon_count, "until": format_as_of(until),
                     "filings": [{**item(None, filing_id, e, None, shown), "reason": None, "days_over": None,
                                  "hours_left": left // _HOUR_US} for left, filing_id, e in soon]},
        "late": late,
    }

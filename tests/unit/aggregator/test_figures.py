"""Periods, rates and the unit-figures record (docs/figures.md), without a broker."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from services.aggregator.figures import figures, period_days
from services.aggregator.hcm_time import day_from_iso, day_iso, format_as_of, parse_instant
from services.aggregator.rules import (
    COUNTERS,
    RECEIVED_ONLINE,
    RECEIVED_TOTAL,
    RESOLUTION_SECONDS,
    RESOLVED_ON_TIME,
    RESOLVED_TOTAL,
    Delta,
)
from services.aggregator.unit_state import UnitState
from services.contract.figures import PERIODS, RATES, SNAPSHOTS, calendar_periods, rates


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def spans(today: str) -> dict[str, tuple[str, str]]:
    return {name: (day_iso(first), day_iso(last)) for name, (first, last) in
            period_days(day_from_iso(today)).items() if name != "all_time"}


def test_periods_in_the_middle_of_a_quarter() -> None:
    assert spans("2026-05-15") == {
        "today": ("2026-05-15", "2026-05-15"),
        "last_7_days": ("2026-05-09", "2026-05-15"),  # today and the 6 days before
        "last_30_days": ("2026-04-16", "2026-05-15"),  # today and the 29 days before
        "month_to_date": ("2026-05-01", "2026-05-15"),
        "quarter_to_date": ("2026-04-01", "2026-05-15"),
        "year_to_date": ("2026-01-01", "2026-05-15"),
    }


@pytest.mark.parametrize(("today", "month", "quarter", "year"), [
    ("2026-01-01", "2026-01-01", "2026-01-01", "2026-01-01"),
    ("2026-03-31", "2026-03-01", "2026-01-01", "2026-01-01"),
    ("2026-04-01", "2026-04-01", "2026-04-01", "2026-01-01"),
    ("2026-06-30", "2026-06-01", "2026-04-01", "2026-01-01"),
    ("2026-07-01", "2026-07-01", "2026-07-01", "2026-01-01"),
    ("2026-12-31", "2026-12-01", "2026-10-01", "2026-01-01"),
    ("2028-02-29", "2028-02-01", "2028-01-01", "2028-01-01"),
])
def test_month_quarter_and_year_boundaries(today: str, month: str, quarter: str, year: str) -> None:
    got = spans(today)
    assert got["month_to_date"] == (month, today)
    assert got["quarter_to_date"] == (quarter, today)
    assert got["year_to_date"] == (year, today)


def test_last_7_days_across_a_year_boundary() -> None:
    assert spans("2026-01-03")["last_7_days"] == ("2025-12-28", "2026-01-03")


def test_all_time_covers_every_day() -> None:
    first, last = period_days(day_from_iso("2026-05-15"))["all_time"]
    assert first <= day_from_iso("0001-01-01") and last >= day_from_iso("9999-12-31")


def parts(counts: dict[tuple[int, int], int]) -> tuple[tuple[int, int, dict[int, int]], ...]:
    """A Delta's counts from one dict (day, counter index) -> amount."""
    return tuple((day, 1, {index: amount}) for (day, index), amount in counts.items())


def received_on(unit: UnitState, day: str, count: int = 1, online: int = 0) -> None:
    counts = {(day_from_iso(day), RECEIVED_TOTAL): count}
    if online:
        counts[(day_from_iso(day), RECEIVED_ONLINE)] = online
    unit.apply(Delta(parts(counts), None, None, None, None))


def totals(record: dict, counter: str = "received_total") -> dict[str, int]:
    return {name: period[counter] for name, period in record["periods"].items()}


def test_each_day_lands_in_the_right_periods() -> None:
    unit = UnitState()
    for day, n in [("2026-05-15", 1), ("2026-05-09", 2), ("2026-05-08", 4), ("2026-04-16", 8),
                   ("2026-04-15", 16), ("2026-04-01", 32), ("2026-03-31", 64), ("2026-01-01", 128),
                   ("2025-12-31", 256), ("2026-05-16", 512), ("2027-01-01", 1024)]:
        received_on(unit, day, n)
    record = figures("U1", unit, epoch("2026-05-15T23:59:59.999+07:00"))
    assert {name: n for name, n in totals(record).items() if name in PERIODS} == {
        "today": 1,
        "last_7_days": 1 + 2,
        "last_30_days": 1 + 2 + 4 + 8,
        "month_to_date": 1 + 2 + 4,
        "quarter_to_date": 1 + 2 + 4 + 8 + 16 + 32,
        "year_to_date": 1 + 2 + 4 + 8 + 16 + 32 + 64 + 128,
        "all_time": 2047,  # future days (16 May, next year) count only here
    }
    calendar = totals(record)
    assert calendar["2026-05"] == 1 + 2 + 4  # up to today: 16 May counts only in all_time
    assert (calendar["2026-04"], calendar["2026-03"], calendar["2026-01"], calendar["2025-12"]) == \
        (8 + 16 + 32, 64, 128, 256)
    assert calendar["2026-Q2"] == 1 + 2 + 4 + 8 + 16 + 32
    assert (calendar["2026-Q1"], calendar["2025-Q4"]) == (64 + 128, 256)
    assert (calendar["2026"], calendar["2025"]) == (2047 - 1024 - 512 - 256, 256)
    assert "2027" not in calendar and "2025-05" in calendar and "2025-04" not in calendar


def test_periods_follow_the_clock_and_late_events() -> None:
    unit = UnitState()
    received_on(unit, "2026-05-15")
    assert totals(figures("U1", unit, epoch("2026-05-15T12:00:00+07:00")))["today"] == 1
    # Midnight in Ho Chi Minh is 17:00 UTC: the day rolls with no event.
    moved = totals(figures("U1", unit, epoch("2026-05-15T17:00:00Z")))
    assert (moved["today"], moved["last_7_days"]) == (0, 1)
    # A late event for a past day after figures were made: the cached sums must see it.
    received_on(unit, "2026-05-10", 10)
    again = totals(figures("U1", unit, epoch("2026-05-15T17:00:01Z")))
    assert (again["today"], again["last_7_days"], again["month_to_date"]) == (0, 11, 11)
    received_on(unit, "2026-05-16", 100)  # today's row is read live
    assert totals(figures("U1", unit, epoch("2026-05-15T17:00:02Z")))["today"] == 100
    # Back to an earlier day (another caller's clock): recomputed, not taken from the cache.
    assert totals(figures("U1", unit, epoch("2026-05-10T12:00:00+07:00")))["today"] == 10


def test_record_format() -> None:
    unit = UnitState()
    received_on(unit, "2026-11-23", 4, online=3)
    record = figures("26734", unit, epoch("2026-11-23T14:05:00.123987+07:00"))
    assert record["unit_code"] == "26734"
    assert record["as_of"] == "2026-11-23T14:05:00.123+07:00"  # milliseconds, truncated
    assert record["day"] == "2026-11-23"
    assert list(record["periods"]) == [*PERIODS, *calendar_periods(date(2026, 11, 23))]
    for name, period in record["periods"].items():
        assert list(period) == [*COUNTERS, *SNAPSHOTS, *RATES]
        holds_the_day = name in (*PERIODS, "2026-11", "2026-Q4", "2026")
        assert period["received_total"] == (4 if holds_the_day else 0)
        assert period["online_rate"] == (0.75 if holds_the_day else None)


def test_as_of_is_ho_chi_minh_time() -> None:
    assert format_as_of(parse_instant("2026-11-23T16:59:59.999999Z")) == "2026-11-23T23:59:59.999+07:00"
    assert format_as_of(parse_instant("2026-11-23T17:00:00Z")) == "2026-11-24T00:00:00.000+07:00"


def test_rates_are_null_when_the_denominator_is_zero() -> None:
    record = figures("U1", UnitState(), epoch("2026-11-23T12:00:00+07:00"))
    for period in record["periods"].values():
        assert all(period[name] is None for name in RATES)
        assert all(period[name] == 0 for name in (*COUNTERS, *SNAPSHOTS))


def counters(**values: int) -> dict[str, int]:
    return {name: values.get(name, 0) for name in (*COUNTERS, *SNAPSHOTS)}


def test_rates_from_counters() -> None:
    c = counters(received_total=8, received_online=6, resolved_early=3, resolved_on_time=1,
                 resolved_late=2, resolved_total=6, returned_withdrawn=1, returned_total=1,
                 resolution_seconds=6 * 3600 * 5, payment_reported=4, payment_online=1,
                 digitised_reported=2, digitised_yes=2, pending_within_due=2, pending_overdue=1)
    c.update(portal_on_time=3, portal_pending_on_time=1)
    assert rates(c) == {
        "online_rate": 0.75,
        # Decision 766's 2.1: on time, ended or judged at the cutoff, over all received.
        "on_time_rate": 0.5,
        "avg_resolution_hours": 5.0,
        "online_payment_share": 0.25,
        "digitised_share": 1.0,
    }


def test_on_time_rate_is_2_1_not_the_press_style_counters() -> None:
    press = counters(received_total=4, resolved_early=2, resolved_total=2, returned_total=2,
                     pending_within_due=1)
    assert rates(press)["on_time_rate"] == 0.0  # nothing is on time by the portal's rule
    assert rates(counters(received_total=4, portal_pending_on_time=1, portal_pending_overdue=3))[
        "on_time_rate"] == 0.25
    assert rates(counters(pending_overdue=3))["on_time_rate"] is None  # nothing received


def test_rates_of_a_subtree_come_from_summed_counters() -> None:
    a = counters(received_total=1, received_online=1, resolved_total=1, resolved_on_time=1,
                 resolution_seconds=3600, portal_on_time=1)
    b = counters(received_total=3, received_online=0, resolved_total=3, resolved_late=3,
                 resolution_seconds=3 * 7 * 3600, portal_overdue=3)
    summed = {name: a[name] + b[name] for name in a}
    assert rates(summed)["online_rate"] == 0.25  # not the mean of 1.0 and 0.0
    assert rates(summed)["avg_resolution_hours"] == 5.5
    assert rates(summed)["on_time_rate"] == 0.25


def test_figures_use_the_pending_snapshot_in_every_period() -> None:
    unit = UnitState()
    due = parse_instant("2026-11-23T12:00:00+07:00")
    received = parts({(day_from_iso("2026-11-20"), RECEIVED_TOTAL): 2})
    unit.apply(Delta(received, None, (due, False), None, None))
    unit.apply(Delta(parts({(day_from_iso("2026-11-21"), RESOLVED_ON_TIME): 1,
                            (day_from_iso("2026-11-21"), RESOLVED_TOTAL): 1,
                            (day_from_iso("2026-11-21"), RESOLUTION_SECONDS): 7200}), None, None, None, None))
    before = figures("U1", unit, epoch("2026-11-23T12:00:00+07:00"))
    after = figures("U1", unit, epoch("2026-11-23T12:00:00.001+07:00"))
    for name in PERIODS:
        was, now = before["periods"][name], after["periods"][name]
        assert (was["pending_within_due"], was["pending_overdue"]) == (1, 0)
        assert (now["pending_within_due"], now["pending_overdue"]) == (0, 1)


def portal_open(unit: UnitState, received: str, due: str) -> None:
    """An open filing received on `received`, due at `due`, as the 766 index holds it."""
    day = day_from_iso(received)
    unit.apply(Delta(parts({(day, RECEIVED_TOTAL): 1}), None, None, None, (day, parse_instant(due))))


def judged(record: dict, name: str) -> tuple[int, int]:
    period = record["periods"][name]
    return period["portal_pending_on_time"], period["portal_pending_overdue"]


def test_open_filings_are_judged_at_each_periods_cutoff() -> None:
    unit = UnitState()
    # Received in August, due 3 September: still open on 6 December.
    portal_open(unit, "2026-08-28", "2026-09-03T17:00:00+07:00")
    # Received on 31 August, due at the very first instant of September.
    portal_open(unit, "2026-08-31", "2026-09-01T00:00:00+07:00")
    record = figures("U1", unit, epoch("2026-12-06T10:00:00+07:00"))
    # August ended at 00:00 on 1 September: neither was past due then.
    assert judged(record, "2026-08") == (2, 0)
    # Q3 and the year are judged later: at 1 October and now.
    assert judged(record, "2026-Q3") == (0, 2)
    assert judged(record, "2026") == (0, 2)
    assert judged(record, "year_to_date") == (0, 2) and judged(record, "all_time") == (0, 2)
    assert judged(record, "2026-09") == (0, 0)  # received in August: not September's
    assert record["periods"]["2026-08"]["on_time_rate"] == 1.0
    assert record["periods"]["2026-Q3"]["on_time_rate"] == 0.0


def test_the_current_period_is_judged_now() -> None:
    unit = UnitState()
    portal_open(unit, "2026-12-01", "2026-12-06T10:00:00+07:00")
    at_due = figures("U1", unit, epoch("2026-12-06T10:00:00+07:00"))
    past_due = figures("U1", unit, epoch("2026-12-06T10:00:00.001+07:00"))
    for name in ("2026-12", "2026-Q4", "2026", "month_to_date", "last_7_days"):
        assert judged(at_due, name) == (1, 0) and judged(past_due, name) == (0, 1)


def test_a_past_month_is_summed_again_when_one_of_its_days_changes() -> None:
    unit = UnitState()
    received_on(unit, "2026-08-10", 3)
    assert totals(figures("U1", unit, epoch("2026-12-06T10:00:00+07:00")))["2026-08"] == 3
    received_on(unit, "2026-08-31", 4)  # a late event for August after its sum was kept
    again = totals(figures("U1", unit, epoch("2026-12-06T10:00:01+07:00")))
    assert (again["2026-08"], again["2026-Q3"], again["2026"]) == (7, 7, 7)


def test_a_day_after_today_counts_in_all_time_only_until_its_day_comes() -> None:
    unit = UnitState()
    received_on(unit, "2026-12-02", 2)
    received_on(unit, "2026-12-20", 5)  # sent with a date in the future
    received_on(unit, "2026-11-10", 1)
    today = totals(figures("U1", unit, epoch("2026-12-06T10:00:00+07:00")))
    assert (today["2026-12"], today["month_to_date"], today["2026-Q4"], today["2026"], today["all_time"]) == \
        (2, 2, 3, 3, 8)
    later = totals(figures("U1", unit, epoch("2026-12-20T10:00:00+07:00")))
    assert (later["2026-12"], later["month_to_date"], later["2026-Q4"], later["all_time"]) == (7, 7, 8, 8)


def test_open_filings_are_counted_in_the_periods_of_their_receipt_day_only() -> None:
    unit = UnitState()
    for day in ("2025-12-31", "2026-01-01", "2026-11-30", "2026-12-01", "2026-12-06"):
        portal_open(unit, day, "2026-12-31T10:00:00+07:00")
    record = figures("U1", unit, epoch("2026-12-06T10:00:00+07:00"))
    expected = {"today": 1, "2026-12": 2, "2026-11": 1, "2026-01": 1, "2025-12": 1, "2026-Q4": 3,
                "2026-Q1": 1, "2025-Q4": 1, "2026": 4, "2025": 1, "all_time": 5, "last_7_days": 3}
    assert {name: judged(record, name)[0] for name in expected} == expected
    portal_open(unit, "2026-12-05", "2026-12-31T10:00:00+07:00")  # a receipt day new to the unit
    again = figures("U1", unit, epoch("2026-12-06T10:00:01+07:00"))
    assert (judged(again, "2026-12")[0], judged(again, "all_time")[0]) == (3, 6)

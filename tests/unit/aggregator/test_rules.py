"""Every counting rule of docs/figures.md, with explicit timestamps and no broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.aggregator.hcm_time import (
    DAY_US,
    US_PER_SECOND,
    day_from_iso,
    day_iso,
    day_start_us,
    hcm_day,
    instant_us,
    parse_instant,
)
from services.aggregator.portal_rules import ONLINE_PAYMENT, flag_bits
from services.aggregator.rules import (
    COUNTERS,
    EMPTY_FILING,
    NOTHING,
    PROCESSED,
    SUBMITTED,
    Delta,
    FilingState,
    add_event,
    can_forget,
    contribution,
    delta,
    event_from_json,
    event_to_json,
    is_too_late,
    net,
    step,
)
from services.aggregator.unit_state import UnitState

# The press-style counters: those before the first Decision 766 one.
PRESS = frozenset(COUNTERS[:COUNTERS.index("portal_on_time")])
# A due time in the afternoon of 10 March (Ho Chi Minh), used by most cases below.
DUE = "2026-03-10T15:00:00+07:00"


def ev(event_id: str, event_type: str, at: str, filing: str = "F1", **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"event_id": event_id, "event_type": event_type, "filing_id": filing,
                           "unit_code": "U1", "occurred_at": at, "source": "test"}
    if event_type == "submitted":
        obj.update(channel="online", due_at=DUE, procedure_code="1.000001")
    if event_type == "returned":
        obj["reason"] = "rejected"
    obj.update(extra)
    return obj


class Harness:
    """Filing states and one unit, fed event by event as the aggregator does."""

    def __init__(self) -> None:
        self.filings: dict[str, FilingState] = {}
        self.unit = UnitState()

    def feed(self, *objs: dict[str, Any]) -> Harness:
        for obj in objs:
            event = event_from_json(obj)
            new, change, _ = step(self.filings.get(event.filing_id, EMPTY_FILING), event)
            self.filings[event.filing_id] = new
            if change is not None:
                self.unit.apply(change)
        return self

    def day(self, iso: str) -> dict[str, int]:
        """The non-zero press-style counters of one Ho Chi Minh day (the 766 counters have their
        own tests: test_portal_rules.py and test_portal_contribution.py)."""
        row = self.unit.days.get(day_from_iso(iso), [0] * len(COUNTERS))
        return {name: value for name, value in zip(COUNTERS, row, strict=True) if value and name in PRESS}

    def all_days(self) -> dict[str, dict[str, int]]:
        return {day_iso(d): self.day(day_iso(d)) for d in sorted(self.unit.days) if self.day(day_iso(d))}

    def pending(self, at: str) -> tuple[int, int]:
        return self.unit.pending(parse_instant(at))


def submitted(at: str = "2026-03-09T09:00:00+07:00", **extra: Any) -> dict[str, Any]:
    return ev("s1", "submitted", at, **extra)


# -- time ------------------------------------------------------------------------------------------


def test_instants_are_microseconds_whatever_the_offset() -> None:
    assert parse_instant("2026-03-09T17:00:00Z") == parse_instant("2026-03-10T00:00:00+07:00") \
        == parse_instant("2026-03-09T12:00:00-05:00")
    # Digits past the microsecond are dropped, not rounded.
    assert parse_instant("2026-03-09T17:00:00.123456999Z") - parse_instant("2026-03-09T17:00:00Z") == 123456


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                   timezones=st.sampled_from([UTC, timezone(timedelta(hours=7)),
                                              timezone(-timedelta(hours=9, minutes=30)),
                                              timezone(timedelta(hours=23, minutes=59))])))
def test_instant_us_is_the_exact_microsecond_count_since_the_epoch(moment: datetime) -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert instant_us(moment) == (moment - epoch) // timedelta(microseconds=1)


def test_instant_us_follows_each_timestamps_own_offset_and_refuses_a_naive_one() -> None:
    # It keeps the last zone's offset; a new zone object of the same offset, as fromisoformat makes
    # for every timestamp, reuses it, and one of another offset does not.
    plus7 = [datetime(2026, 3, 10, 7, tzinfo=timezone(timedelta(hours=7))) for _ in range(2)]
    utc = datetime(2026, 3, 10, 0, tzinfo=UTC)
    assert [instant_us(m) for m in (*plus7, utc, *plus7)] == [instant_us(utc)] * 5
    with pytest.raises(TypeError):
        instant_us(datetime(2026, 3, 10))


def test_ho_chi_minh_day_turns_at_17_utc() -> None:
    assert hcm_day(parse_instant("2026-03-09T16:59:59.999999Z")) == day_from_iso("2026-03-09")
    assert hcm_day(parse_instant("2026-03-09T17:00:00Z")) == day_from_iso("2026-03-10")
    assert day_start_us(day_from_iso("2026-03-10")) == parse_instant("2026-03-09T17:00:00Z")


def test_event_from_json_keeps_only_the_fields_of_its_type() -> None:
    e = event_from_json(ev("p1", "processed", "2026-03-10T10:00:00+07:00", channel="postal",
                           due_at=DUE, reason="withdrawn", online_payment=True))
    assert (e.type, e.channel, e.due_at, e.flags) == (PROCESSED, None, None, flag_bits(ONLINE_PAYMENT, True))
    s = event_from_json(submitted(channel="postal"))
    assert (s.type, s.channel, s.due_at) == (SUBMITTED, 2, parse_instant(DUE))
    assert (s.filing_id, s.unit_code, s.event_id) == ("F1", "U1", "s1")


# -- received ------------------------------------------------------------------------------------


def test_received_on_its_ho_chi_minh_day_by_channel() -> None:
    h = Harness().feed(
        ev("a", "submitted", "2026-03-09T16:59:59.999999Z", filing="A", channel="postal"),
        ev("b", "submitted", "2026-03-09T17:00:00Z", filing="B", channel="in_person"),
        ev("c", "submitted", "2026-03-10T08:00:00+07:00", filing="C", channel="online"),
    )
    assert h.all_days() == {
        "2026-03-09": {"received_total": 1, "received_postal": 1},
        "2026-03-10": {"received_total": 2, "received_in_person": 1, "received_online": 1},
    }


# -- resolved: early / on time / late ----------------------------------------------------------


@pytest.mark.parametrize(("processed_at", "verdict"), [
    ("2026-03-09T23:59:59.999999+07:00", "resolved_early"),  # the day before the due day
    ("2026-03-09T16:59:59Z", "resolved_early"),  # the same instant zone, written in UTC
    ("2026-03-09T17:00:00Z", "resolved_on_time"),  # 00:00 on the due day in Ho Chi Minh
    ("2026-03-10T00:00:00+07:00", "resolved_on_time"),
    ("2026-03-10T15:00:00+07:00", "resolved_on_time"),  # exactly the due time
    ("2026-03-10T08:00:00.000001Z", "resolved_late"),  # one microsecond after the due time
    ("2026-03-10T23:59:59+07:00", "resolved_late"),  # the due day, after the due time
    ("2026-03-11T08:00:00+07:00", "resolved_late"),
])
def test_resolution_against_the_due_day_and_time(processed_at: str, verdict: str) -> None:
    h = Harness().feed(submitted(), ev("p1", "processed", processed_at))
    counts = h.day(day_iso(hcm_day(parse_instant(processed_at))))
    assert counts[verdict] == 1
    assert counts["resolved_total"] == 1
    assert h.pending("2026-03-12T00:00:00+07:00") == (0, 0)


def test_resolved_counts_on_the_day_it_was_resolved() -> None:
    h = Harness().feed(submitted(), ev("p1", "processed", "2026-03-10T09:00:00+07:00"))
    assert h.all_days() == {
        "2026-03-09": {"received_total": 1, "received_online": 1},
        "2026-03-10": {"resolved_on_time": 1, "resolved_total": 1, "resolution_seconds": 86400},
    }


def test_resolution_seconds_are_whole_seconds_rounded_down_per_filing() -> None:
    h = Harness().feed(
        ev("a1", "submitted", "2026-03-09T10:00:00.900+07:00", filing="A"),
        ev("a2", "processed", "2026-03-09T10:00:02.100+07:00", filing="A"),  # 1.2 s
        ev("b1", "submitted", "2026-03-09T10:00:00+07:00", filing="B"),
        ev("b2", "processed", "2026-03-09T10:00:01.999999+07:00", filing="B"),  # 1.999999 s
    )
    assert h.day("2026-03-09")["resolution_seconds"] == 2


# -- held, clamped -------------------------------------------------------------------------------


def test_held_events_count_when_the_submission_arrives() -> None:
    h = Harness().feed(ev("p1", "processed", "2026-03-10T09:00:00+07:00", online_payment=True))
    assert h.all_days() == {}
    assert h.filings["F1"] != EMPTY_FILING  # kept
    h.feed(submitted())
    assert h.all_days() == {
        "2026-03-09": {"received_total": 1, "received_online": 1, "payment_reported": 1, "payment_online": 1},
        "2026-03-10": {"resolved_on_time": 1, "resolved_total": 1, "resolution_seconds": 86400},
    }


def test_event_before_the_submission_is_clamped_to_it() -> None:
    # Clock skew: resolved "before" it was received. It counts as resolved at the submission.
    h = Harness().feed(ev("p1", "processed", "2026-03-09T08:00:00+07:00"),
                       submitted("2026-03-09T09:00:00+07:00"))
    assert h.all_days() == {
        "2026-03-09": {"received_total": 1, "received_online": 1, "resolved_early": 1, "resolved_total": 1},
    }


def test_clamped_events_are_ordered_by_type_rank() -> None:
    # processed at 08:00 then overdue at 08:30, both before the 09:00 submission: clamped to 09:00,
    # the overdue mark (rank 1) comes before processed (rank 2), so the resolution is late.
    h = Harness().feed(ev("p1", "processed", "2026-03-09T08:00:00+07:00"),
                       ev("o1", "overdue", "2026-03-09T08:30:00+07:00"), submitted())
    assert h.day("2026-03-09")["resolved_late"] == 1


def test_first_submission_is_the_earliest_then_the_smallest_event_id() -> None:
    at = "2026-03-09T09:00:00+07:00"
    h = Harness().feed(ev("s-b", "submitted", at, channel="postal"),
                       ev("s-a", "submitted", at, channel="in_person"))
    assert h.day("2026-03-09") == {"received_total": 1, "received_in_person": 1}


# -- repeated events and repeated transitions --------------------------------------------------


def test_duplicate_event_id_changes_nothing() -> None:
    first = event_from_json(submitted())
    state, changed = add_event(EMPTY_FILING, first)
    assert changed
    again, changed = add_event(state, first)
    assert not changed and again is state
    # The first copy wins even if a later copy differs.
    other, changed = add_event(state, event_from_json(submitted(channel="postal")))
    assert not changed and other is state
    assert step(state, first)[:2] == (state, None)


def test_same_transition_under_a_new_event_id_is_ignored() -> None:
    h = Harness().feed(
        submitted(),
        ev("s2", "submitted", "2026-03-09T10:00:00+07:00", channel="postal",
           due_at="2026-03-20T17:00:00+07:00"),
        ev("p1", "processed", "2026-03-11T09:00:00+07:00"),  # late against the first due
        ev("p2", "processed", "2026-03-12T09:00:00+07:00"),
        ev("r1", "returned", "2026-03-13T09:00:00+07:00", reason="withdrawn"),
    )
    assert h.all_days() == {
        "2026-03-09": {"received_total": 1, "received_online": 1},
        "2026-03-11": {"resolved_late": 1, "resolved_total": 1, "resolution_seconds": 2 * 86400},
    }


@pytest.mark.parametrize("in_order", [True, False])
def test_first_closing_event_wins(in_order: bool) -> None:
    events = [submitted(), ev("r1", "returned", "2026-03-10T09:00:00+07:00", reason="rejected"),
              ev("p1", "processed", "2026-03-10T10:00:00+07:00"),
              ev("s2", "submitted", "2026-03-10T11:00:00+07:00")]  # closed: not reopened
    h = Harness().feed(*(events if in_order else events[::-1]))
    assert h.day("2026-03-10") == {"returned_rejected": 1, "returned_total": 1}
    assert h.pending("2026-03-10T12:00:00+07:00") == (0, 0)


# -- returned, supplement and resubmission ------------------------------------------------------


@pytest.mark.parametrize("reason", ["rejected", "withdrawn", "supplement_requested"])
def test_returned_by_reason(reason: str) -> None:
    h = Harness().feed(submitted(), ev("r1", "returned", "2026-03-10T09:00:00+07:00", reason=reason))
    assert h.day("2026-03-10") == {f"returned_{reason}": 1, "returned_total": 1}
    assert h.pending("2026-03-10T10:00:00+07:00") == (0, 0)  # closed, or paused: not pending


def test_supplement_then_resubmission() -> None:
    h = Harness().feed(
        submitted(),  # 9 March, due 10 March 15:00
        ev("o1", "overdue", "2026-03-10T16:00:00+07:00"),
        ev("r1", "returned", "2026-03-11T09:00:00+07:00", reason="supplement_requested"),
        ev("o2", "overdue", "2026-03-11T10:00:00+07:00"),  # while paused: ignored
    )
    assert h.pending("2026-03-12T00:00:00+07:00") == (0, 0)
    h.feed(ev("s2", "submitted", "2026-03-13T09:00:00+07:00", channel="postal",
              due_at="2026-03-16T17:00:00+07:00"))
    assert h.pending("2026-03-14T00:00:00+07:00") == (1, 0)  # the earlier overdue mark is cleared
    h.feed(ev("p1", "processed", "2026-03-16T09:00:00+07:00"))
    assert h.all_days() == {
        "2026-03-09": {"received_total": 1, "received_online": 1},  # received once, first channel
        "2026-03-11": {"returned_supplement_requested": 1, "returned_total": 1},
        # on time against the new due; resolution time from the first submission
        "2026-03-16": {"resolved_on_time": 1, "resolved_total": 1, "resolution_seconds": 7 * 86400},
    }
    assert h.pending("2026-03-17T00:00:00+07:00") == (0, 0)


def test_processed_while_paused_is_ignored() -> None:
    h = Harness().feed(submitted(), ev("r1", "returned", "2026-03-10T09:00:00+07:00",
                                       reason="supplement_requested"),
                       ev("p1", "processed", "2026-03-10T10:00:00+07:00"))
    assert h.day("2026-03-10") == {"returned_supplement_requested": 1, "returned_total": 1}


# -- overdue -------------------------------------------------------------------------------------


def test_overdue_mark_makes_the_resolution_late_even_before_the_due_time() -> None:
    h = Harness().feed(submitted(), ev("o1", "overdue", "2026-03-09T12:00:00+07:00"),
                       ev("p1", "processed", "2026-03-09T13:00:00+07:00"))
    assert h.day("2026-03-09")["resolved_late"] == 1


def test_overdue_mark_makes_a_pending_filing_overdue_now_though_due_later() -> None:
    h = Harness().feed(submitted(), ev("o1", "overdue", "2026-03-09T12:00:00+07:00"))
    assert h.pending("2026-03-09T13:00:00+07:00") == (0, 1)


def test_overdue_after_closing_is_ignored() -> None:
    h = Harness().feed(submitted(), ev("p1", "processed", "2026-03-09T13:00:00+07:00"),
                       ev("o1", "overdue", "2026-03-10T16:00:00+07:00"))
    assert h.day("2026-03-09")["resolved_early"] == 1
    assert h.pending("2026-03-11T00:00:00+07:00") == (0, 0)


def test_overdue_now_moves_with_the_clock_alone() -> None:
    h = Harness().feed(submitted(), ev("s9", "submitted", "2026-03-09T09:00:00+07:00", filing="F2",
                                       due_at="2026-03-12T17:00:00+07:00"))
    due = parse_instant(DUE)
    assert h.unit.pending(due - 1) == (2, 0)
    assert h.unit.pending(due) == (2, 0)  # overdue only when now > due
    assert h.unit.pending(due + 1) == (1, 1)
    assert h.unit.next_overdue_change(due + 1) == parse_instant("2026-03-12T17:00:00+07:00")
    assert h.pending("2026-03-13T00:00:00+07:00") == (0, 2)


# -- flags ---------------------------------------------------------------------------------------


def test_flags_take_the_last_value_in_canonical_order_on_the_received_day() -> None:
    h = Harness().feed(
        submitted(online_payment=False, digitised=True),
        ev("p1", "processed", "2026-03-10T09:00:00+07:00", online_payment=True),
        # arrives last but happened earlier: it does not override
        ev("o1", "overdue", "2026-03-09T10:00:00+07:00", online_payment=False, digitised=False),
    )
    assert h.day("2026-03-09") == {"received_total": 1, "received_online": 1, "payment_reported": 1,
                                   "payment_online": 1, "digitised_reported": 1}


def test_flags_on_an_ignored_event_still_count() -> None:
    # The flag is a fact about the filing, not a transition (see docs/figures.md).
    h = Harness().feed(submitted(), ev("p1", "processed", "2026-03-10T09:00:00+07:00"),
                       ev("p2", "processed", "2026-03-10T10:00:00+07:00", digitised=True))
    assert h.day("2026-03-09")["digitised_yes"] == 1


def test_no_flag_reported_without_a_submission_or_a_carrier() -> None:
    h = Harness().feed(submitted(), ev("p1", "processed", "2026-03-10T09:00:00+07:00"),
                       ev("x", "processed", "2026-03-10T09:00:00+07:00", filing="HELD", online_payment=True))
    assert "payment_reported" not in h.day("2026-03-09")
    assert "digitised_reported" not in h.day("2026-03-09")


# -- contribution, delta, unit -------------------------------------------------------------------


def test_delta_is_new_minus_old_and_undoes_itself() -> None:
    state, _ = add_event(EMPTY_FILING, event_from_json(submitted()))
    before = contribution(state)
    state, _ = add_event(state, event_from_json(ev("p1", "processed", "2026-03-10T09:00:00+07:00")))
    after = contribution(state)
    assert net(delta(NOTHING, before).counts) == net(before.counts)
    forward, back = delta(before, after), delta(after, before)
    assert net(forward.counts) == {key: value for key, value in net(after.counts).items()
                                   if key not in net(before.counts)}
    assert net(back.counts) == {key: -value for key, value in net(forward.counts).items()}
    assert (forward.pending_before, forward.pending_after) == ((parse_instant(DUE), False), None)
    unit = UnitState()
    unit.apply(delta(NOTHING, after))
    unit.apply(back)
    unit.apply(delta(before, NOTHING))
    assert not any(any(row) for row in unit.days.values())
    assert unit.pending(0) == (0, 0)


def test_closed_at_and_forgetting() -> None:
    state: FilingState = EMPTY_FILING
    for obj in (submitted(), ev("p1", "processed", "2026-03-10T09:00:00+07:00"),
                ev("x", "overdue", "2026-03-12T09:00:00+07:00")):
        state, _ = add_event(state, event_from_json(obj))
    result = contribution(state)
    newest = parse_instant("2026-03-12T09:00:00+07:00")
    assert result.closed_at == newest  # the newest event, so every copy of an event is too_late by then
    assert not can_forget(result, newest + 400 * DAY_US, 400)
    assert can_forget(result, newest + 400 * DAY_US + 1, 400)
    assert contribution(state[:1]).closed_at is None


def test_too_late_is_older_than_the_retention_window() -> None:
    event = event_from_json(submitted("2025-03-09T09:00:00+07:00"))
    at = event.occurred_at
    assert not is_too_late(at, at + 400 * DAY_US, 400)
    assert is_too_late(at, at + 400 * DAY_US + 1, 400)


def test_state_round_trips_through_json() -> None:
    state: FilingState = EMPTY_FILING
    for obj in (submitted(online_payment=True),
                ev("r1", "returned", "2026-03-10T09:00:00+07:00", reason="supplement_requested"),
                ev("o1", "overdue", "2026-03-09T08:00:00.5+07:00", digitised=False)):
        state, _ = add_event(state, event_from_json(obj))
    text = orjson.dumps(state)  # as the filings table stores it: a list of 8-item lists
    back: FilingState = tuple(tuple(stored) for stored in orjson.loads(text))
    assert back == state
    assert contribution(back) == contribution(state)


def test_unit_state_round_trips_through_json() -> None:
    h = Harness().feed(submitted(), ev("o", "overdue", "2026-03-09T12:00:00+07:00", filing="F2"),
                       ev("s", "submitted", "2026-03-09T10:00:00+07:00", filing="F2"),
                       ev("s3", "submitted", "2026-03-09T10:00:00+07:00", filing="F3"))
    copy = UnitState.from_json(orjson.loads(orjson.dumps(h.unit.to_json())))
    assert copy.days == {d: r for d, r in h.unit.days.items() if any(r)}
    assert copy.totals == h.unit.totals
    now = parse_instant("2026-03-09T13:00:00+07:00")
    assert copy.pending(now) == h.unit.pending(now) == (2, 1)


def test_removing_an_unknown_pending_filing_fails_loudly() -> None:
    with pytest.raises(ValueError, match="not in this unit's index"):
        UnitState().apply(Delta((), (5 * US_PER_SECOND, False), None, None, None))
    with pytest.raises(ValueError, match="not in this unit's 766 index"):
        UnitState().apply(Delta((), None, None, (700_000, 5 * US_PER_SECOND), None))


@pytest.mark.parametrize("obj", [
    submitted(online_payment=True),
    {"event_id": "e9", "event_type": "returned", "filing_id": "F", "unit_code": "U",
     "occurred_at": "2026-03-01T10:00:00.123456+07:00", "source": "s", "reason": "withdrawn",
     "digitised": False},
])
def test_an_event_written_back_as_json_reads_as_the_same_event(obj: dict[str, Any]) -> None:
    event = event_from_json(obj)
    assert event_from_json(event_to_json(event)) == event

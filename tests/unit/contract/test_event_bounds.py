"""The bounds on an event's instants (services/contract/event_bounds.py), as pure functions.

Issue 12, class 1: an event dated at the calendar's end (9999-12-31T23:59:59-23:59) was accepted
and then stopped the aggregator on every restart; events dated 1970 or 2500 were accepted too.
"""

from __future__ import annotations

import pytest

from services.contract.event_bounds import (
    DUE_HORIZON_DAYS,
    EARLIEST,
    bound_errors,
    event_bound_errors,
    instant_us,
)
from tests.support.ingest import make_event

NOW = "2026-12-06T10:00:00+07:00"
DUE = "2026-12-20T17:00:00+07:00"
NOW_US = instant_us(NOW)
DAY_US = 86_400_000_000


def fields(event: dict[str, object]) -> dict[str, str]:
    return {e.field: e.reason for e in event_bound_errors(event, NOW_US)}


def test_a_plausible_event_is_within_bounds() -> None:
    assert fields(make_event(occurred_at="2026-12-05T08:00:00+07:00", due_at=DUE)) == {}


@pytest.mark.parametrize("occurred_at", ["9999-12-31T23:59:59-23:59", "2500-01-01T00:00:00Z",
                                         "2026-12-07T10:00:00.000001+07:00"])
def test_occurred_at_more_than_a_day_ahead_of_the_receiver_is_refused(occurred_at: str) -> None:
    reasons = fields(make_event(occurred_at=occurred_at, due_at=DUE))
    assert "a day ahead" in reasons["occurred_at"]


def test_occurred_at_up_to_a_day_ahead_is_a_clock_off_by_hours_and_accepted() -> None:
    assert fields(make_event(occurred_at="2026-12-07T10:00:00+07:00", due_at=DUE)) == {}


@pytest.mark.parametrize("occurred_at", ["1970-01-01T00:00:00Z", "0001-01-01T00:00:00+23:59",
                                         "1999-12-31T23:59:59.999999+07:00"])
def test_occurred_at_before_2000_is_refused(occurred_at: str) -> None:
    reasons = fields(make_event(occurred_at=occurred_at, due_at=DUE))
    assert reasons["occurred_at"] == f"must not be before {EARLIEST.isoformat()}"


def test_the_first_instant_of_2000_in_vietnam_is_accepted() -> None:
    assert bound_errors(instant_us("2000-01-01T00:00:00+07:00"), None, NOW_US) == []


def test_due_at_beyond_the_horizon_or_before_2000_is_refused() -> None:
    occurred = "2026-12-01T08:00:00+07:00"
    assert "within" in fields(make_event(occurred_at=occurred, due_at="9999-12-31T23:59:59-23:59"))["due_at"]
    assert "before" in fields(make_event(occurred_at=occurred, due_at="1970-01-01T00:00:00Z"))["due_at"]
    limit = instant_us(occurred) + DUE_HORIZON_DAYS * DAY_US
    assert bound_errors(instant_us(occurred), limit, NOW_US) == []
    assert [e.field for e in bound_errors(instant_us(occurred), limit + 1, NOW_US)] == ["due_at"]


def test_due_at_is_bounded_only_where_it_means_something_on_submitted_events() -> None:
    processed = make_event(event_type="processed", occurred_at="2026-12-01T08:00:00+07:00",
                           due_at="9999-12-31T23:59:59-23:59")
    assert fields(processed) == {}


def test_every_error_is_named_and_kind_bounds_for_metrics() -> None:
    errors = bound_errors(instant_us("1970-01-01T00:00:00Z"), instant_us("1970-01-02T00:00:00Z"), NOW_US)
    assert [(e.field, e.kind) for e in errors] == [("occurred_at", "bounds"), ("due_at", "bounds")]


def v2_event(**fields: object) -> dict[str, object]:
    event = make_event(schema_version=2, occurred_at="2026-12-01T08:00:00+07:00", **fields)
    return {k: v for k, v in event.items() if v is not None}


def test_a_moved_due_date_on_supplement_completed_is_bounded_like_a_submission() -> None:
    far, old = "9999-12-31T23:59:59-23:59", "1970-01-01T00:00:00Z"
    assert "within" in fields(v2_event(event_type="supplement_completed", due_at=far))["due_at"]
    assert "before" in fields(v2_event(event_type="supplement_completed", due_at=old))["due_at"]
    assert fields(v2_event(event_type="supplement_completed", due_at=DUE)) == {}
    # Completed without moving the due date: nothing to bound.
    assert fields(v2_event(event_type="supplement_completed", due_at=None, channel=None,
                           procedure_code=None)) == {}


def test_a_submission_with_statutory_hours_only_has_no_due_at_to_bound() -> None:
    assert fields(v2_event(due_at=None, statutory_max_hours=26352)) == {}
    # Still a day ahead of the receiver is refused, with or without a due date.
    assert list(fields({**v2_event(due_at=None, statutory_max_hours=24),
                        "occurred_at": "2026-12-08T10:00:00+07:00"})) == ["occurred_at"]

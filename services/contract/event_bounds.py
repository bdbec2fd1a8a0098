"""Plausible instants: the bounds the contract puts on an event's times beyond their syntax.

The schema checks that a time is a real RFC 3339 instant; these bounds check that it is one a
case-management system could mean. Without them one event dated at the calendar's end (year
9999, offset -23:59) was accepted and then broke every day computation downstream, again on every
replay. They are relative to the receiver's clock, so they are not in the schema file; ingest
refuses an event outside them (422, naming the field) and the aggregator's packer sends one that
reached Kafka by another way to the DLQ with the same reason.

The rules apply to the instants the product reads: `occurred_at` on every event, `due_at` on the
event types that set the due time (DUE_SETTING_TYPES: `submitted`, and version 2's
`supplement_completed`, which moves it; elsewhere the contract says it is ignored, and it is never
stored). A `submitted` event with `statutory_max_hours` instead has no due_at to bound: its due
time is at most 26,352 hours (the schema's maximum: 1,098 days) after occurred_at, within the horizon.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.contract.event_validation import FieldError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
DAY_US = 86_400 * 1_000_000

# No one-stop system in Vietnam holds filings from before 2000; anything earlier is a default or
# a typo (1970-01-01, 0001-01-01).
EARLIEST = datetime.fromisoformat("2000-01-01T00:00:00+07:00")
EARLIEST_US = (EARLIEST - _EPOCH) // _US
# A sender's clock may be off by hours (a wrong time zone), not by days.
MAX_AHEAD_US = 1 * DAY_US
# Statutory processing times run from hours to a few months; three years leaves room for any
# extension and still refuses a due date at the calendar's end.
DUE_HORIZON_DAYS = 3 * 366
DUE_HORIZON_US = DUE_HORIZON_DAYS * DAY_US
# The event types whose due_at the product reads, so the ones whose due_at is bounded.
DUE_SETTING_TYPES = frozenset({"submitted", "supplement_completed"})


def instant_us(text: str) -> int:
    """Microseconds since the epoch of a schema-valid RFC 3339 timestamp (exact, no float)."""
    return (datetime.fromisoformat(text) - _EPOCH) // _US


def bound_errors(occurred_us: int, due_us: int | None, now_us: int) -> list[FieldError]:
    """What is out of bounds in an event with these instants, received at `now_us`; `due_us` is
    the due time the event sets (its due_at if its type is in DUE_SETTING_TYPES), else None."""
    errors = []
    if occurred_us < EARLIEST_US:
        errors.append(FieldError("occurred_at", f"must not be before {EARLIEST.isoformat()}", "bounds"))
    elif occurred_us > now_us + MAX_AHEAD_US:
        errors.append(FieldError("occurred_at", "must not be more than a day ahead of the receiver's "
                                 f"clock ({_iso(now_us)})", "bounds"))
    if due_us is not None:
        if due_us < EARLIEST_US:
            errors.append(FieldError("due_at", f"must not be before {EARLIEST.isoformat()}", "bounds"))
        elif due_us > occurred_us + DUE_HORIZON_US:
            errors.append(FieldError("due_at", f"must be within {DUE_HORIZON_DAYS} days of occurred_at",
                                     "bounds"))
    return errors


def event_bound_errors(event: dict[str, object], now_us: int) -> list[FieldError]:
    """`bound_errors` of a schema-valid event object."""
    due = event.get("due_at") if event.get("event_type") in DUE_SETTING_TYPES else None
    return bound_errors(instant_us(str(event["occurred_at"])),
                        instant_us(due) if isinstance(due, str) else None, now_us)


def _iso(instant: int) -> str:
    return (_EPOCH + instant * _US).isoformat(timespec="seconds")

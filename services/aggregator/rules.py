"""The counting rules of docs/figures.md as pure functions over plain data.

What one filing contributes to its unit's day buckets is a function of the *set* of its events:
`add_event` grows the set (ignoring a repeated event_id), `contribution` folds the set in canonical
order into counts per (day, counter) plus the pending snapshot, and `delta` is what a unit must add
when a filing's contribution changes. Because a unit holds the sum of its filings' contributions,
every arrival order and every duplication of events ends in the same figures.

Representation, chosen for the hot path (the aggregator must apply over 100,000 events/s on one
core; `python -m bench.bench_rules` measures this module's share):
- instants are integer microseconds since the epoch, days are Ho Chi Minh day ordinals (hcm_time);
- event types, channels and reasons are small ints (their index in EVENT_TYPES, CHANNELS, REASONS);
  an event type's int is also its rank in the canonical order;
- a filing's state is a tuple of stored events, each the tuple
  `(occurred_at, type, event_id, channel, due_at, reason, online_payment, digitised)`, kept sorted:
  plain tuple order *is* the canonical order (occurred_at, type rank, event_id) before clamping.
  It is JSON-able as it is (a list of 8-item lists): the filings table stores it so (engine.Filing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from services.aggregator.hcm_time import (
    DAY_SHIFT_US,
    DAY_US,
    US_PER_SECOND,
    format_instant,
    instant_us,
    parse_instant,
)
from services.contract.figures import COUNTERS

EVENT_TYPES = ("submitted", "overdue", "processed", "returned")
SUBMITTED, OVERDUE, PROCESSED, RETURNED = range(4)
CHANNELS = ("online", "in_person", "postal")
REASONS = ("rejected", "supplement_requested", "withdrawn")
SUPPLEMENT_REQUESTED = REASONS.index("supplement_requested")

# Each counter's index in a day bucket's list (the contract's COUNTERS, in that order).
(RECEIVED_TOTAL, RECEIVED_ONLINE, RECEIVED_IN_PERSON, RECEIVED_POSTAL,
 RESOLVED_EARLY, RESOLVED_ON_TIME, RESOLVED_LATE, RESOLVED_TOTAL,
 RETURNED_REJECTED, RETURNED_SUPPLEMENT_REQUESTED, RETURNED_WITHDRAWN, RETURNED_TOTAL,
 RESOLUTION_SECONDS,
 PAYMENT_REPORTED, PAYMENT_ONLINE, DIGITISED_REPORTED, DIGITISED_YES) = range(len(COUNTERS))
# received_<channel> and returned_<reason> are found by adding the code to the first of their kind.
assert COUNTERS[RECEIVED_ONLINE:RECEIVED_ONLINE + 3] == tuple(f"received_{c}" for c in CHANNELS)
assert COUNTERS[RETURNED_REJECTED:RETURNED_REJECTED + 3] == tuple(f"returned_{r}" for r in REASONS)

_TYPE_CODE = {name: code for code, name in enumerate(EVENT_TYPES)}
_CHANNEL_CODE = {name: code for code, name in enumerate(CHANNELS)}
_REASON_CODE = {name: code for code, name in enumerate(REASONS)}
# NamedTuple's generated __new__ is a Python function; tuple.__new__ builds the same record in C,
# which counts on a path run once or twice per event.
_new = tuple.__new__


class Event(NamedTuple):
    """One event, as the rules need it. Fields in canonical-order position first, so that
    `event[:8]` is the stored form and plain tuple order sorts events canonically."""

    occurred_at: int  # microseconds since the epoch
    type: int  # SUBMITTED, OVERDUE, PROCESSED or RETURNED
    event_id: str
    channel: int | None  # index in CHANNELS; submitted only
    due_at: int | None  # microseconds since the epoch; submitted only
    reason: int | None  # index in REASONS; returned only
    online_payment: bool | None  # None: the event does not carry the flag
    digitised: bool | None
    filing_id: str
    unit_code: str


StoredEvent = tuple[int, int, str, int | None, int | None, int | None, bool | None, bool | None]
FilingState = tuple[StoredEvent, ...]
EMPTY_FILING: FilingState = ()


def event_from_json(obj: dict[str, Any]) -> Event:
    """The Event of a schema-valid event object (the caller has validated it).

    ValueError for a timestamp that is no real instant (second 60, 30 February): the reference
    validator (jsonschema's date-time format) rejects those, so a validator letting them through
    differs from the contract.
    """
    get = obj.get
    return _compact(obj["event_type"], obj["occurred_at"], obj["event_id"], get("channel"), get("due_at"),
                    get("reason"), get("online_payment"), get("digitised"), obj["filing_id"],
                    obj["unit_code"], parse_instant)


def event_from_checked(event: Any) -> Event:
    """The Event of an event that passed the raw check (raw_event_check.py): the same fields as
    attributes, absent ones None, timestamps already parsed into aware datetimes."""
    return _compact(event.event_type, event.occurred_at, event.event_id, event.channel, event.due_at,
                    event.reason, event.online_payment, event.digitised, event.filing_id,
                    event.unit_code, instant_us)


def _compact(event_type: str, occurred_at: Any, event_id: str, channel_name: str | None, due_at: Any,
             reason_name: str | None, online_payment: bool | None, digitised: bool | None,
             filing_id: str, unit_code: str, to_us: Callable[[Any], int]) -> Event:
    kind = _TYPE_CODE[event_type]
    # channel, due_at and reason mean something on one event type only; elsewhere they are ignored
    # and not stored, so that a filing's state stays small.
    if kind == SUBMITTED:
        channel: int | None = _CHANNEL_CODE[channel_name]  # type: ignore[index]  # required then
        due: int | None = to_us(due_at)
    else:
        channel = due = None
    reason = _REASON_CODE[reason_name] if kind == RETURNED else None  # type: ignore[index]
    return _new(Event, (to_us(occurred_at), kind, event_id, channel, due, reason, online_payment,
                        digitised, filing_id, unit_code))


def event_to_json(event: Event) -> dict[str, Any]:
    """The contract's fields of an Event (instants in UTC), for a dead letter of an applied event."""
    obj: dict[str, Any] = {"event_id": event.event_id, "event_type": EVENT_TYPES[event.type],
                           "filing_id": event.filing_id, "unit_code": event.unit_code,
                           "occurred_at": format_instant(event.occurred_at)}
    if event.channel is not None:
        obj["channel"] = CHANNELS[event.channel]
    if event.due_at is not None:
        obj["due_at"] = format_instant(event.due_at)
    if event.reason is not None:
        obj["reason"] = REASONS[event.reason]
    for name in ("online_payment", "digitised"):
        if getattr(event, name) is not None:
            obj[name] = getattr(event, name)
    return obj


def retention_start(now_us: int, retention_days: int) -> int:
    """The first instant inside the retention window that ends at `now_us`."""
    return now_us - retention_days * DAY_US


def is_too_late(event: Event, now_us: int, retention_days: int) -> bool:
    """True when the event is strictly older than the retention window before `now_us` (DLQ too_late)."""
    return event.occurred_at < retention_start(now_us, retention_days)


# ---------------------------------------------------------------------------------------------
# A filing's state: the set of its distinct events


def add_event(state: FilingState, event: Event) -> tuple[FilingState, bool]:
    """The state with `event` added, and whether it changed (a repeated event_id changes nothing).

    The first copy of an event_id wins, as docs/figures.md says; copies are expected to be equal.
    """
    event_id = event[2]
    for stored in state:
        if stored[2] == event_id:
            return state, False
    new: StoredEvent = event[:8]  # the stored form: a plain tuple
    if not state or new > state[-1]:
        return (*state, new), True  # the usual case: events arrive in order
    return tuple(sorted((*state, new))), True


# ---------------------------------------------------------------------------------------------
# What a filing contributes to its unit


class Contribution(NamedTuple):
    counts: dict[tuple[int, int], int]  # (day ordinal, counter index) -> amount; never 0
    pending: tuple[int, bool] | None  # (due_at, marked overdue) while the filing is pending
    # None unless the filing is closed; then the newest occurred_at in its set (not just the
    # closing event's), so that once this is out of the retention window a redelivered copy of
    # any of its events is too_late and the filing can be forgotten (see can_forget).
    closed_at: int | None
    # The rest of the fold's final state, so that step() can add one more event without folding
    # again: returned for a supplement (paused), and the flags' values (online_payment, digitised).
    # These four fields are the Fold, below, in the same order.
    paused: bool
    flags: tuple[bool | None, bool | None]


NOTHING = Contribution({}, None, None, False, (None, None))

_PENDING, _PAUSED, _CLOSED = range(3)


def contribution(state: FilingState) -> Contribution:
    """The lifecycle fold of docs/figures.md over the filing's events in canonical order."""
    for first in state:
        if first[1] == SUBMITTED:
            break
    else:
        return NOTHING  # held: nothing counts until the submission arrives
    t0 = first[0]
    if state[0] is not first:
        # Clock skew: an event before the first submission counts as happening at it, and the
        # canonical order is taken after that (so type rank orders the clamped events).
        state = tuple(sorted([(t0, *stored[1:]) if stored[0] < t0 else stored for stored in state]))

    received_day = (t0 + DAY_SHIFT_US) // DAY_US
    counts: dict[tuple[int, int], int] = {
        (received_day, RECEIVED_TOTAL): 1,
        (received_day, RECEIVED_ONLINE + first[3]): 1,  # type: ignore[operator]  # set on submitted
    }
    status = _PENDING
    due: int = first[4]  # type: ignore[assignment]  # set on submitted
    marked = False
    payment = digitised = None
    for at, kind, _event_id, _channel, new_due, reason, pay, digi in state:
        # The flags are facts about the filing: the last event carrying one wins, whatever the
        # event does to the lifecycle.
        if pay is not None:
            payment = pay
        if digi is not None:
            digitised = digi
        if status != _PENDING:
            if kind == SUBMITTED and status == _PAUSED:
                status, due, marked = _PENDING, new_due, False  # type: ignore[assignment]
            continue  # the first closing event wins
        if kind == OVERDUE:
            marked = True
        elif kind == PROCESSED:
            _count_resolved(counts, at, due, marked, t0)
            status = _CLOSED
        elif kind == RETURNED:
            _count_returned(counts, at, reason)  # type: ignore[arg-type]  # set on returned
            status = _PAUSED if reason == SUPPLEMENT_REQUESTED else _CLOSED
        # SUBMITTED while pending (the first submission itself included): the same transition again.

    if payment is not None:
        _count_flag(counts, received_day, PAYMENT_REPORTED, None, payment)
    if digitised is not None:
        _count_flag(counts, received_day, DIGITISED_REPORTED, None, digitised)
    flags = (payment, digitised)
    if status == _PENDING:
        return _new(Contribution, (counts, (due, marked), None, False, flags))
    if status == _PAUSED:
        return _new(Contribution, (counts, None, None, True, flags))
    return _new(Contribution, (counts, None, state[-1][0], False, flags))


def _count_resolved(counts: dict[tuple[int, int], int], at: int, due: int, marked: bool, t0: int) -> None:
    day = (at + DAY_SHIFT_US) // DAY_US
    if marked or at > due:
        verdict = RESOLVED_LATE
    elif day < (due + DAY_SHIFT_US) // DAY_US:
        verdict = RESOLVED_EARLY
    else:
        verdict = RESOLVED_ON_TIME
    # A filing is resolved once at most, so these keys are not there yet.
    counts[(day, verdict)] = 1
    counts[(day, RESOLVED_TOTAL)] = 1
    seconds = (at - t0) // US_PER_SECOND
    if seconds:
        counts[(day, RESOLUTION_SECONDS)] = seconds


def _count_returned(counts: dict[tuple[int, int], int], at: int, reason: int) -> None:
    day = (at + DAY_SHIFT_US) // DAY_US
    # A filing may be returned for a supplement more than once on one day.
    key = (day, RETURNED_REJECTED + reason)
    counts[key] = counts.get(key, 0) + 1
    key = (day, RETURNED_TOTAL)
    counts[key] = counts.get(key, 0) + 1


# Each flag's "yes" counter follows its "reported" counter.
assert (PAYMENT_ONLINE, DIGITISED_YES) == (PAYMENT_REPORTED + 1, DIGITISED_REPORTED + 1)


def _count_flag(counts: dict[tuple[int, int], int], day: int, reported: int,
                old: bool | None, new: bool) -> None:
    """The change of a flag's counters when its value goes from `old` (None: unreported) to `new`."""
    if old is None:
        counts[(day, reported)] = 1
        if new:
            counts[(day, reported + 1)] = 1
    elif old != new:
        counts[(day, reported + 1)] = 1 if new else -1


class Delta(NamedTuple):
    counts: dict[tuple[int, int], int]  # (day, counter index) -> amount to add; never 0
    pending_before: tuple[int, bool] | None  # the pending entry to remove from the unit, if any
    pending_after: tuple[int, bool] | None  # the pending entry to add, if any


def delta(old: Contribution, new: Contribution) -> Delta:
    """What the unit must add when a filing's contribution goes from `old` to `new`."""
    if not old.counts:
        return _new(Delta, (new.counts, old.pending, new.pending))  # shared: neither is ever changed
    counts = dict(new.counts)
    for key, value in old.counts.items():
        left = counts.get(key, 0) - value
        if left:
            counts[key] = left
        else:
            del counts[key]  # contributions hold no zeros, so left == 0 means the key was there
    return _new(Delta, (counts, old.pending, new.pending))


class Fold(NamedTuple):
    """Where a filing's lifecycle fold ended, its counts aside: the Contribution's other fields, all
    that `step` needs to add an event that comes after every other one. The engine keeps it with
    the filing's record, so the usual event costs no fold at all."""

    pending: tuple[int, bool] | None
    closed_at: int | None
    paused: bool
    flags: tuple[bool | None, bool | None]


def fold_of(result: Contribution) -> Fold:
    return _new(Fold, result[1:])


def step(state: FilingState, event: Event,
         fold: Fold | None = None) -> tuple[FilingState, Delta | None, Fold | None]:
    """add_event, then the delta to apply to the unit (None when the event changed nothing) and the
    new state's Fold; `fold` is the state's Fold when the caller kept it (None: computed here).

    The delta equals `delta(contribution(state), contribution(new_state))`; it is computed from the
    Fold alone when the event comes last in canonical order and nothing is clamped, the usual case:
    then the new fold is the old fold plus one step. The property tests feed events in and out of
    order to hold both ways to the same figures, and the Fold to `fold_of(contribution(new_state))`.
    """
    new_state, changed = add_event(state, event)
    if not changed:
        return state, None, fold
    if state and state[0][1] == SUBMITTED and new_state[-1][2] == event[2]:
        if fold is None:
            fold = fold_of(contribution(state))
        return (new_state, *_one_more(fold, state[0][0], new_state[-1]))
    after = contribution(new_state)
    if not state:  # a filing's first event: it contributed nothing before
        return new_state, _new(Delta, (after.counts, None, after.pending)), fold_of(after)
    return new_state, delta(contribution(state), after), fold_of(after)


def _one_more(before: Fold, t0: int, stored: StoredEvent) -> tuple[Delta, Fold]:
    """The delta and new Fold of one event that comes after every other event of a filing
    received at t0 (so the filing is pending, paused or closed: never held)."""
    at, kind, _event_id, _channel, new_due, reason, pay, digi = stored
    counts: dict[tuple[int, int], int] = {}
    pending = after = before.pending
    paused = before.paused
    if pending is not None:
        due, marked = pending
        if kind == OVERDUE:
            after = (due, True)
        elif kind == PROCESSED:
            _count_resolved(counts, at, due, marked, t0)
            after = None
        elif kind == RETURNED:
            _count_returned(counts, at, reason)  # type: ignore[arg-type]  # set on returned
            after = None
            paused = reason == SUPPLEMENT_REQUESTED
    elif kind == SUBMITTED and paused:
        after = (new_due, False)  # type: ignore[assignment]  # set on submitted
        paused = False
    payment, digitised = flags = before.flags
    if pay is not None and pay != payment:
        _count_flag(counts, (t0 + DAY_SHIFT_US) // DAY_US, PAYMENT_REPORTED, payment, pay)
        flags = (pay, digitised)
    if digi is not None and digi != digitised:
        _count_flag(counts, (t0 + DAY_SHIFT_US) // DAY_US, DIGITISED_REPORTED, digitised, digi)
        flags = (flags[0], digi)
    # Closed: neither pending nor paused; closed_at is then the newest event's time, this one's.
    closed_at = None if after is not None or paused else at
    return _new(Delta, (counts, pending, after)), _new(Fold, (after, closed_at, paused, flags))


def can_forget(result: Contribution | Fold, now_us: int, retention_days: int) -> bool:
    """A closed filing whose newest event left the retention window: its state may be dropped."""
    return result.closed_at is not None and result.closed_at < retention_start(now_us, retention_days)

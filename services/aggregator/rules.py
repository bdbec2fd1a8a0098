"""The counting rules of docs/figures.md as pure functions over plain data.

What one filing contributes to its unit's day buckets is a function of the *set* of its events:
`add_event` grows the set (ignoring a repeated event_id), `contribution` folds the set in canonical
order into counts per (day, counter) plus its pending entries, and `delta` is what a unit must add
when a filing's contribution changes. Because a unit holds the sum of its filings' contributions,
every arrival order and every duplication of events ends in the same figures.

Two folds run over the same events: the press-style lifecycle here (counts on the days things
happen, pending judged now) and Decision 766 as the portal computes it (portal_rules.py: counts on
the receipt day, open filings judged at each period's cutoff).

Representation, chosen for the hot path (`python -m bench.bench_rules` measures this module's share):
- instants are integer microseconds since the epoch, days are Ho Chi Minh day ordinals (hcm_time);
- event types and channels are small ints (their index in EVENT_TYPES, CHANNELS); an event type's
  int is also its rank in the canonical order; the flags are one int (portal_rules.flag_bits);
- a filing's state is a tuple of stored events, each the tuple
  `(occurred_at, type, event_id, channel, due_at, flags)`, kept sorted: plain tuple order *is* the
  canonical order (occurred_at, type rank, event_id) before clamping. It is JSON-able as it is
  (a list of 6-item lists): the filings table stores it so (engine.Filing).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, Final, NamedTuple, cast

from services.aggregator import portal_rules
from services.aggregator.hcm_time import (
    DAY_SHIFT_US,
    DAY_US,
    US_PER_SECOND,
    format_instant,
    instant_us,
    parse_instant,
)
from services.aggregator.portal_rules import (
    CHANNELS,
    EVENT_TYPES,
    FLAGS,
    ONLINE_PAYMENT,
    OVERDUE,
    PROCESSED,
    REJECTED,
    RESULT_RETURNED,
    STOPPED,
    SUBMITTED,
    SUPPLEMENT_COMPLETED,
    SUPPLEMENT_REQUESTED,
    WITHDRAWN,
    PortalFiling,
    flag,
    flag_bits,
)
from services.contract.figures import COUNTERS

# Each counter's index in a day bucket's list (the contract's COUNTERS, in that order).
# (Constants are Final, one to a line, as in portal_rules.py.)
_C: Final = {name: index for index, name in enumerate(COUNTERS)}
RECEIVED_TOTAL: Final = _C["received_total"]
RECEIVED_ONLINE: Final = _C["received_online"]
RESOLVED_EARLY: Final = _C["resolved_early"]
RESOLVED_ON_TIME: Final = _C["resolved_on_time"]
RESOLVED_LATE: Final = _C["resolved_late"]
RESOLVED_TOTAL: Final = _C["resolved_total"]
RETURNED_TOTAL: Final = _C["returned_total"]
RESOLUTION_SECONDS: Final = _C["resolution_seconds"]
# received_<channel> is found by adding the channel's code to the first of its kind.
assert COUNTERS[RECEIVED_ONLINE:RECEIVED_ONLINE + 3] == tuple(f"received_{c}" for c in CHANNELS)
# The press-style "returned" counter of each event type that closes a filing without a result.
_RETURNED_BY_TYPE: Final = {REJECTED: _C["returned_rejected"],
                            SUPPLEMENT_REQUESTED: _C["returned_supplement_requested"],
                            WITHDRAWN: _C["returned_withdrawn"], STOPPED: _C["returned_stopped"]}
_RESOLVING: Final = frozenset({PROCESSED, RESULT_RETURNED})
# Answering a supplement request: v2's completion, or v1's submission again.
_RESUMING: Final = frozenset({SUBMITTED, SUPPLEMENT_COMPLETED})

_TYPE_CODE: Final = {name: code for code, name in enumerate(EVENT_TYPES)}
# A v1 `returned` event is the v2 type its reason names.
_V1_RETURNED: Final = {"rejected": REJECTED, "supplement_requested": SUPPLEMENT_REQUESTED,
                       "withdrawn": WITHDRAWN}
_CHANNEL_CODE: Final = {name: code for code, name in enumerate(CHANNELS)}
_FLAG_FIELDS: Final = tuple(enumerate(FLAGS))
# NamedTuple's generated __new__ is a Python function; tuple.__new__ builds the same record in C,
# which counts on a path run once or twice per event.
_new: Final = tuple.__new__


class Event(NamedTuple):
    """One event, as the rules need it. Fields in canonical-order position first, so that
    `event[:6]` is the stored form and plain tuple order sorts events canonically."""

    occurred_at: int  # microseconds since the epoch
    type: int  # index in EVENT_TYPES (v1 `returned` events are read as the type their reason names)
    event_id: str
    channel: int | None  # index in CHANNELS; submitted only
    # submitted: the due date (the sender's, else receipt + statutory maximum); a completed
    # supplement: the due date the sender moved it to, if any; None on other types.
    due_at: int | None
    flags: int  # portal_rules.flag_bits of every flag the event carries
    filing_id: str
    unit_code: str
    # submitted only: the national procedure code (mã TTHC), for the lists of late filings
    # (late_filings.py). Packs written before it was carried have no such field.
    procedure: str | None = None


# An Event's fields as a plain tuple, in its order. Typed as any tuple: compiled, a typed tuple is
# unboxed into a C struct and boxed again each time it crosses a function's boundary.
EventFields = tuple[Any, ...]
StoredEvent = tuple[int, int, str, int | None, int | None, int]
FilingState = tuple[StoredEvent, ...]
EMPTY_FILING: Final[FilingState] = ()


def event_from_json(obj: dict[str, Any]) -> Event:
    """The Event of a schema-valid event object (the caller has validated it).

    ValueError for a timestamp that is no real instant (second 60, 30 February): the reference
    validator (jsonschema's date-time format) rejects those, so a validator letting them through
    differs from the contract.
    """
    get = obj.get
    return _new(Event, _compact(tuple(map(get, _READ)), get("reason"), get("statutory_max_hours"), False))


def event_from_checked(event: Any) -> EventFields:
    """The Event's fields, in its order, of an event that passed the raw check (raw_event_check.py:
    the same fields as attributes, absent ones None, timestamps already parsed into aware
    datetimes). A plain tuple: the packer packs the fields as they are, and an Event would cost a
    Python call to make on every event."""
    read = _STRUCT_READERS.get(type(event))
    if read is None:
        read = _STRUCT_READERS[type(event)] = _struct_reader(type(event))
    return read(event)


# The fields every contract version has that the rules read, in _compact's order; the flags (in
# FLAGS order) come last. `reason` is v1's only, `statutory_max_hours` v2's only.
_READ: Final = ("event_type", "occurred_at", "event_id", "channel", "due_at", "filing_id", "unit_code",
                "online_payment_via", *FLAGS, "procedure_code")
_read_common: Final = attrgetter(*_READ)
_STRUCT_READERS: Final[dict[type, Callable[[Any], EventFields]]] = {}


def _struct_reader(struct: type) -> Callable[[Any], EventFields]:
    """The Event's fields of a checked Struct of one contract version: its fields read in C, in one call,
    and a field the version does not have read as None."""
    fields = struct.__struct_fields__  # type: ignore[attr-defined]
    if "reason" in fields:
        return lambda event: _compact(_read_common(event), event.reason, None, True)
    if "statutory_max_hours" in fields:
        return lambda event: _compact(_read_common(event), None, event.statutory_max_hours, True)
    return lambda event: _compact(_read_common(event), None, None, True)


def _compact(values: Any, reason: str | None, statutory_hours: int | None, parsed: bool) -> EventFields:
    """The Event's fields of an event's `_READ` values; its timestamps already datetimes if `parsed`, else
    text."""
    event_type, occurred, event_id, channel_name, due_at, filing_id, unit_code = values[:7]
    kind = _V1_RETURNED[reason] if event_type == "returned" else _TYPE_CODE[event_type]  # type: ignore[index]
    occurred_at = _us(occurred, parsed)
    # channel and due_at mean something on some event types only; elsewhere they are ignored and
    # not stored, so that a filing's state stays small.
    channel = due = procedure = None
    if kind == SUBMITTED:
        channel = _CHANNEL_CODE[channel_name]
        procedure = values[-1]
        due_us = None if due_at is None else _us(due_at, parsed)
        due = portal_rules.due_of(due_us, occurred_at, statutory_hours)
    elif kind == SUPPLEMENT_COMPLETED:
        due = None if due_at is None else _us(due_at, parsed)
    flags = _flags_of(values[7:-1])  # online_payment_via and the flags
    return occurred_at, kind, event_id, channel, due, flags, filing_id, unit_code, procedure


def _us(instant: Any, parsed: bool) -> int:
    # Called directly, compiled: a function passed as an argument is called through Python.
    return instant_us(instant) if parsed else parse_instant(instant)


def _flags_of(values: Any) -> int:
    """The flags int of an event's (online_payment_via, *FLAGS) values. Events share a few hundred
    combinations, so each is worked out once (the packer reads every event's)."""
    flags = _FLAGS_SEEN.get(values)
    if flags is None:
        paid_via, *named = values
        flags = 0
        for index, value in enumerate(named):
            if value is not None:
                flags |= flag_bits(index, value)
        if paid_via is not None:  # paid online somewhere: online_payment true
            flags = portal_rules.merge_flags(flags, flag_bits(ONLINE_PAYMENT, True))
        if len(_FLAGS_SEEN) >= _FLAGS_SEEN_KEPT:
            _FLAGS_SEEN.clear()  # never in life: a value is a bool, None or a gateway's name
        _FLAGS_SEEN[values] = flags
    return flags


_FLAGS_SEEN: Final[dict[Any, int]] = {}
_FLAGS_SEEN_KEPT: Final = 100_000


def event_to_json(event: Event) -> dict[str, Any]:
    """The contract's fields of an Event (schema v2, instants in UTC), for a dead letter of an
    applied event. A submission's due date is written as `due_at` even where the statutory
    maximum gave it."""
    obj: dict[str, Any] = {"schema_version": 2, "event_id": event.event_id,
                           "event_type": EVENT_TYPES[event.type], "filing_id": event.filing_id,
                           "unit_code": event.unit_code, "occurred_at": format_instant(event.occurred_at)}
    if event.channel is not None:
        obj["channel"] = CHANNELS[event.channel]
    if event.due_at is not None:
        obj["due_at"] = format_instant(event.due_at)
    if len(event) > 8 and event.procedure is not None:
        obj["procedure_code"] = event.procedure
    for index, name in _FLAG_FIELDS:
        value = flag(event.flags, index)
        if value is not None:
            obj[name] = value
    return obj


def retention_start(now_us: int, retention_days: int) -> int:
    """The first instant inside the retention window that ends at `now_us`."""
    return now_us - retention_days * DAY_US


def is_too_late(occurred_at: int, now_us: int, retention_days: int) -> bool:
    """True when an event that occurred at `occurred_at` is strictly older than the retention window
    before `now_us` (DLQ too_late). It takes the instant, not the Event: compiled, an Event passed in
    from Python is unboxed field by field at the call (about 2,400 instructions)."""
    return occurred_at < retention_start(now_us, retention_days)


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
    return _inserted(state, event), True


def _inserted(state: FilingState, event: Event) -> FilingState:
    """The state with `event`, whose event_id it does not hold, added in canonical order."""
    # The stored form: a plain tuple. Typed as any tuple, so that compiled it stays the tuple the
    # slice made, not six fields unboxed and boxed again into the state.
    new: tuple[Any, ...] = event[:6]
    # The last event as the tuple it is: read as a StoredEvent, compiled, it is unpacked into C
    # fields and packed into a new tuple again to be compared.
    held: tuple[Any, ...] = state
    if not held or new > held[-1]:
        # The usual case: events arrive in order. A concatenation, which compiled is one C call
        # where the starred form builds a list first.
        return state + (new,)  # noqa: RUF005
    return tuple(sorted((*state, new)))


# ---------------------------------------------------------------------------------------------
# What a filing contributes to its unit

# What a filing adds to its unit: parts, each `(day, sign, amounts)` (amounts: counter index ->
# amount, added on that day times sign, ±1). Parts, not one dict keyed by (day, counter): most of
# a filing's counts are constant dicts kept once (its receipt, its flags' part, a return), so the
# usual event builds none, and the unit adds each part to one day's row with no key to unpack.
Part = tuple[int, int, dict[int, int]]
Counts = tuple[Part, ...]


def net(counts: Counts) -> dict[tuple[int, int], int]:
    """The counts as one dict (day, counter index) -> amount, zeros left out: what they add up to."""
    out: dict[tuple[int, int], int] = {}
    for day, sign, amounts in counts:
        for index, amount in amounts.items():
            key = (day, index)
            out[key] = out.get(key, 0) + sign * amount
    return {key: amount for key, amount in out.items() if amount}


class Contribution(NamedTuple):
    counts: Counts
    pending: tuple[int, bool] | None  # press-style: (due_at, marked overdue) while the filing is pending
    portal_pending: tuple[int, int] | None  # 766: (receipt day, effective due) while the cutoff judges it
    # None unless the filing is closed; then the newest occurred_at in its set (not just the
    # closing event's), so that once this is out of the retention window a redelivered copy of
    # any of its events is too_late and the filing can be forgotten (see can_forget).
    closed_at: int | None
    # The rest of the fold's final state, so that step() can add one more event without folding
    # again: (due_at, the request's time) while paused for a supplement (press-style), and the
    # portal's summary. These fields from `pending` on are the Fold, below, in the same order.
    paused: tuple[int, int] | None
    portal: PortalFiling | None


NOTHING: Final = Contribution((), None, None, None, None, None)

_PENDING: Final = 0
_PAUSED: Final = 1
_CLOSED: Final = 2


def contribution(state: FilingState) -> Contribution:
    """Both folds of docs/figures.md over the filing's events in canonical order."""
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
    counts: list[Part] = [(received_day, 1, _RECEIVED[first[3]])]  # type: ignore[index]  # set on submitted
    status = _PENDING
    due: int = first[4]  # type: ignore[assignment]  # set on submitted
    marked = False
    paused_at: int | None = None
    portal = portal_rules.start(t0, first[3], due, 0)  # type: ignore[arg-type]
    advance = portal_rules.advance
    for at, kind, _event_id, _channel, new_due, flags in state:
        portal = advance(portal, at, kind, new_due, flags)
        if status == _PENDING:
            if kind == OVERDUE:
                marked = True
            elif kind in _RESOLVING:
                counts.append(_resolved(at, due, marked, t0))
                status = _CLOSED
            elif kind in _RETURNED_BY_TYPE:
                counts.append(((at + DAY_SHIFT_US) // DAY_US, 1, _RETURNED_PART[kind]))
                if kind == SUPPLEMENT_REQUESTED:
                    status, paused_at = _PAUSED, at
                else:
                    status = _CLOSED
            # SUBMITTED while pending (the first submission itself included): the same transition again.
        elif status == _PAUSED and kind in _RESUMING:
            due = _resumed_due(due, new_due, at, paused_at)  # type: ignore[arg-type]
            status, marked, paused_at = _PENDING, False, None
        # Otherwise ignored: the first closing event wins.
    # The portal's part, on the receipt day. One verdict_part gives both its counts and its pending entry.
    verdict, portal_pending = portal_rules.verdict_part(portal)
    if verdict:
        counts.append((received_day, 1, verdict))
    flagged = portal_rules.flag_counts(portal.flags, portal.channel)
    if flagged:
        counts.append((received_day, 1, flagged))
    parts = tuple(counts)
    if status == _PENDING:
        return _new(Contribution, (parts, (due, marked), portal_pending, None, None, portal))
    if status == _PAUSED:
        return _new(Contribution, (parts, None, portal_pending, None, (due, paused_at), portal))
    return _new(Contribution, (parts, None, portal_pending, state[-1][0], None, portal))


def _resumed_due(due: int, new_due: int | None, at: int, paused_at: int) -> int:
    """The press-style due date once a supplement is answered: the one the sender gave (a v1
    resubmission always gives one), else the old one moved later by the pause."""
    return new_due if new_due is not None else due + (at - paused_at)


def _resolved(at: int, due: int, marked: bool, t0: int) -> Part:
    """The press-style part of a filing's resolution, on the day it is resolved."""
    day = (at + DAY_SHIFT_US) // DAY_US
    if marked or at > due:
        verdict = RESOLVED_LATE
    elif day < (due + DAY_SHIFT_US) // DAY_US:
        verdict = RESOLVED_EARLY
    else:
        verdict = RESOLVED_ON_TIME
    seconds = (at - t0) // US_PER_SECOND
    if seconds:
        return day, 1, {verdict: 1, RESOLVED_TOTAL: 1, RESOLUTION_SECONDS: seconds}
    return day, 1, _RESOLVED_PART[verdict]


# The constant parts, kept once: a receipt by channel, a return by type, a resolution in no time.
_RECEIVED: Final = tuple({RECEIVED_TOTAL: 1, RECEIVED_ONLINE + channel: 1}
                         for channel in range(len(CHANNELS)))
_RETURNED_PART: Final = {kind: {counter: 1, RETURNED_TOTAL: 1} for kind, counter in _RETURNED_BY_TYPE.items()}
_RESOLVED_PART: Final = {verdict: {verdict: 1, RESOLVED_TOTAL: 1}
                  for verdict in (RESOLVED_EARLY, RESOLVED_ON_TIME, RESOLVED_LATE)}


class Delta(NamedTuple):
    """What a unit adds for one change of a filing. Its fields are only ever unpacked (UnitState.apply),
    so the per-event paths (_first_submission, _one_more) make it a plain tuple in this field order:
    a NamedTuple made per event costs about 900 instructions (tuple.__new__ through a call), a plain
    tuple about 50."""

    counts: Counts  # the parts to add (a part with sign -1 takes an old part back)
    pending_before: tuple[int, bool] | None  # the press-style pending entry to remove, if any
    pending_after: tuple[int, bool] | None  # the press-style pending entry to add, if any
    portal_before: tuple[int, int] | None  # the 766 pending entry to remove, if any
    portal_after: tuple[int, int] | None  # the 766 pending entry to add, if any


def delta(old: Contribution, new: Contribution) -> Delta:
    """What the unit must add when a filing's contribution goes from `old` to `new`."""
    # The old parts taken back, the new ones added: parts the two share cancel out in the rows.
    counts = (*((day, -sign, amounts) for day, sign, amounts in old.counts), *new.counts)
    return _new(Delta, (counts, old.pending, new.pending, old.portal_pending, new.portal_pending))


class Fold:
    """Where a filing's folds ended, its counts aside: the Contribution's other fields, all that
    `step` needs to add an event that comes after every other one. The engine keeps it with the
    filing's record, so the usual event costs no fold at all.

    A class, not a NamedTuple: one is made for every event, and compiled (compiled.py) a
    NamedTuple made with `tuple.__new__` costs about 900 instructions, this __init__ a C call.
    A record holds it as the tuple `fields` gives (engine.Filing)."""

    __slots__ = ("closed_at", "paused", "pending", "portal", "portal_pending")

    def __init__(self, pending: tuple[int, bool] | None, portal_pending: tuple[int, int] | None,
                 closed_at: int | None, paused: tuple[int, int] | None, portal: PortalFiling | None) -> None:
        self.pending = pending
        self.portal_pending = portal_pending
        self.closed_at = closed_at
        self.paused = paused
        self.portal = portal

    def fields(self) -> tuple[tuple[int, bool] | None, tuple[int, int] | None, int | None,
                              tuple[int, int] | None, PortalFiling | None]:
        return self.pending, self.portal_pending, self.closed_at, self.paused, self.portal

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fold) and self.fields() == other.fields()

    def __repr__(self) -> str:
        return f"Fold{self.fields()!r}"


def fold_of(result: Contribution) -> Fold:
    return Fold(result[1], result[2], result[3], result[4], result[5])


def step(state: FilingState, event: Event, fold: Fold | None = None,
         known_new: bool = False) -> tuple[FilingState, Delta | None, Fold | None]:
    """add_event, then the delta to apply to the unit (None when the event changed nothing) and the
    new state's Fold; `fold` is the state's Fold when the caller kept it (None: computed here).
    `known_new`: the caller knows the state holds no event with this event_id (the engine does).

    The delta equals `delta(contribution(state), contribution(new_state))`; it is computed from the
    Fold alone when the event comes last in canonical order and nothing is clamped, the usual case:
    then the new fold is the old fold plus one step. The property tests feed events in and out of
    order to hold both ways to the same figures, and the Fold to `fold_of(contribution(new_state))`.
    """
    if known_new:
        new_state = _inserted(state, event)
    else:
        new_state, changed = add_event(state, event)
        if not changed:
            return state, None, fold
    if state and state[0][1] == SUBMITTED and new_state[-1][2] == event[2]:
        if fold is None:
            fold = fold_of(contribution(state))
        change, new_fold = _one_more(fold, state[0][0], new_state[-1])
        return new_state, change, new_fold
    if not state:  # a filing's first event: it contributed nothing before
        if event[1] == SUBMITTED:
            change, new_fold = _first_submission(new_state[0])
            return new_state, change, new_fold
        after = contribution(new_state)
        return new_state, _new(Delta, (after.counts, None, after.pending, None, after.portal_pending)), \
            fold_of(after)
    return new_state, delta(contribution(state), after := contribution(new_state)), fold_of(after)


def _first_submission(stored: StoredEvent) -> tuple[Delta, Fold]:
    """The delta and Fold of a filing whose one event is its submission (most filings' first event
    is): `contribution` of that one event, without the fold's loop."""
    at, _kind, _event_id, channel, due, flags = stored
    day = (at + DAY_SHIFT_US) // DAY_US
    received: Part = (day, 1, _RECEIVED[channel])  # type: ignore[index]  # set on submitted
    flagged = portal_rules.flag_counts(flags, channel)  # type: ignore[arg-type]
    counts: Counts = (received, (day, 1, flagged)) if flagged else (received,)
    pending = (due, False)
    portal = portal_rules.start(at, channel, due, flags)  # type: ignore[arg-type]
    portal_pending = (day, due)  # open, no supplement: judged against its own due date
    return (cast(Delta, (counts, None, pending, None, portal_pending)),
            Fold(pending, portal_pending, None, None, portal))  # type: ignore[arg-type]  # due: set on submitted


def _one_more(before: Fold, t0: int, stored: StoredEvent) -> tuple[Delta, Fold]:
    """The delta and new Fold of one event that comes after every other event of a filing
    received at t0 (so the filing is pending, paused or closed: never held)."""
    at, kind, _event_id, _channel, new_due, flags = stored
    counts: list[Part] = []
    pending = after = before.pending
    paused = before.paused
    if pending is not None:
        due, marked = pending
        if kind == OVERDUE:
            after = (due, True)
        elif kind in _RESOLVING:
            counts.append(_resolved(at, due, marked, t0))
            after = None
        elif kind in _RETURNED_BY_TYPE:
            counts.append(((at + DAY_SHIFT_US) // DAY_US, 1, _RETURNED_PART[kind]))
            after = None
            if kind == SUPPLEMENT_REQUESTED:
                paused = (due, at)
    elif paused is not None and kind in _RESUMING:
        after = (_resumed_due(paused[0], new_due, at, paused[1]), False)
        paused = None
    portal: PortalFiling = before.portal  # type: ignore[assignment]  # received: never held
    new_portal = portal_rules.advance(portal, at, kind, new_due, flags)
    portal_pending = new_portal_pending = before.portal_pending
    if new_portal is not portal:
        # Only the parts of the receipt-day counts that the event can have moved are replaced.
        day = (t0 + DAY_SHIFT_US) // DAY_US
        if portal_rules.lifecycle_moved(portal, new_portal):
            # An open filing has no fixed verdict and no end: nothing of this part to take back.
            if portal_pending is None:
                counts.append((day, -1, portal_rules.verdict_counts(portal)))
            new_part, new_portal_pending = portal_rules.verdict_part(new_portal)
            if new_part:
                counts.append((day, 1, new_part))
        if new_portal.flags != portal.flags:
            moved = portal_rules.flag_change(portal.flags, new_portal.flags, portal.channel)
            if moved:
                counts.append((day, 1, moved))
    # Closed: neither pending nor paused; closed_at is then the newest event's time, this one's.
    closed_at = None if after is not None or paused is not None else at
    return (cast(Delta, (tuple(counts), pending, after, portal_pending, new_portal_pending)),
            Fold(after, new_portal_pending, closed_at, paused, new_portal))


def can_forget(result: Contribution | Fold, now_us: int, retention_days: int) -> bool:
    """A closed filing whose newest event left the retention window: its state may be dropped."""
    return result.closed_at is not None and result.closed_at < retention_start(now_us, retention_days)

"""Decision 766 as the national portal computes it, for one filing: pure functions (docs/figures.md,
"Decision 766 as the national portal computes it").

A filing's portal facts are folded, in canonical order, into a `PortalFiling` summary; from it
come the counts it adds on its receipt day (`receipt_counts`) and, while it is open, its entry in
the unit's pending index (`pending_entry`), judged later at each period's cutoff. Every rule of
the portal is one small function here, tested on its own (tests/unit/aggregator/test_portal_rules.py).

Flags are one int, two bits a flag (bit 2i: reported, bit 2i+1: its value), so that "the last event
carrying a flag wins" is one mask and one or, whatever the number of flags.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from services.aggregator.hcm_time import US_PER_SECOND, hcm_day
from services.contract.figures import COUNTERS

# The event types, in canonical rank order (docs/figures.md): a type's int is its rank.
# Constants are Final, one to a line: compiled (compiled.py), a Final int is a C constant, any other
# Final a C static, where a plain module global costs a dict lookup at every use.
EVENT_TYPES: Final = ("submitted", "supplement_completed", "overdue", "updated", "processed",
                      "result_returned", "supplement_requested", "rejected", "withdrawn", "stopped")
SUBMITTED: Final = 0
SUPPLEMENT_COMPLETED: Final = 1
OVERDUE: Final = 2
UPDATED: Final = 3
PROCESSED: Final = 4
RESULT_RETURNED: Final = 5
SUPPLEMENT_REQUESTED: Final = 6
REJECTED: Final = 7
WITHDRAWN: Final = 8
STOPPED: Final = 9
assert tuple(range(len(EVENT_TYPES))) == (SUBMITTED, SUPPLEMENT_COMPLETED, OVERDUE, UPDATED, PROCESSED,
                                          RESULT_RETURNED, SUPPLEMENT_REQUESTED, REJECTED, WITHDRAWN, STOPPED)
# A supplement request is answered by a completion, or (v1) by the filing submitted again.
_ANSWERS: Final = frozenset({SUPPLEMENT_COMPLETED, SUBMITTED})
ENDING: Final = frozenset({PROCESSED, RESULT_RETURNED, REJECTED, WITHDRAWN, STOPPED})
# The end time's order of preference: processed, then result returned, then stopped or rejected
# (together: the earlier of them), then withdrawn. Lower is preferred.
END_PREFERENCE: Final = {PROCESSED: 0, RESULT_RETURNED: 1, STOPPED: 2, REJECTED: 2, WITHDRAWN: 3}

CHANNELS: Final = ("online", "in_person", "postal")
ONLINE: Final = 0
FLAGS: Final = ("online_payment", "digitised", "fee_due", "electronic_result", "paper_result", "data_reused",
                "personal_store", "population_db", "full_online_service", "full_online_eligible", "satisfied")
ONLINE_PAYMENT: Final = 0
DIGITISED: Final = 1
FEE_DUE: Final = 2
ELECTRONIC_RESULT: Final = 3
PAPER_RESULT: Final = 4
DATA_REUSED: Final = 5
PERSONAL_STORE: Final = 6
POPULATION_DB: Final = 7
FULL_ONLINE_SERVICE: Final = 8
FULL_ONLINE_ELIGIBLE: Final = 9
SATISFIED: Final = 10
assert tuple(range(len(FLAGS))) == (ONLINE_PAYMENT, DIGITISED, FEE_DUE, ELECTRONIC_RESULT, PAPER_RESULT,
                                    DATA_REUSED, PERSONAL_STORE, POPULATION_DB, FULL_ONLINE_SERVICE,
                                    FULL_ONLINE_ELIGIBLE, SATISFIED)
NO_FLAGS: Final = 0

_C: Final = {name: index for index, name in enumerate(COUNTERS)}
_new: Final = tuple.__new__  # builds a NamedTuple in C (see rules.py)


def flag_bits(index: int, value: bool) -> int:
    """The bits of one reported flag."""
    return (3 if value else 1) << (2 * index)


def flag(flags: int, index: int) -> bool | None:
    """A flag's value, None when no event reported it."""
    bits = flags >> (2 * index)
    return None if not bits & 1 else bool(bits & 2)


def merge_flags(flags: int, newer: int) -> int:
    """`flags` with every flag that `newer` reports replaced by newer's value (the last one wins)."""
    reported = newer & 0x555555  # the even bits
    return (flags & ~(reported | reported << 1)) | newer


def due_of(due_at: int | None, received_at: int, statutory_max_hours: int | None) -> int | None:
    """The due date: the sender's, else receipt plus the procedure's statutory maximum. The portal's
    rule for a filing without one, (end − start − supplement time) ≤ maximum, is the same test."""
    if due_at is not None:
        return due_at
    if statutory_max_hours is not None:
        return received_at + statutory_max_hours * 3600 * US_PER_SECOND
    return None


def receipt_day(received_at: int) -> int:
    """The Ho Chi Minh day a filing was received on: it decides every period the filing is in."""
    return hcm_day(received_at)


class PortalFiling(NamedTuple):
    """What the portal's rules read of a received filing, folded from its events in canonical order."""

    received_at: int  # the first submission's time
    channel: int  # index in CHANNELS
    due: int  # the first submission's due date (due_of)
    requests: int  # supplement requests before the first ending status
    open_request_at: int | None  # the request the applicant has not answered yet, if any
    paused_total: int  # time between each answered request and its completion, microseconds
    moved_due: int | None  # the due date a completion moved it to, if the sender moved it
    end_rank: int | None  # END_PREFERENCE of the preferred ending status seen, None: not ended
    end_at: int | None  # the earliest time of an ending status of that rank
    flags: int


def start(received_at: int, channel: int, due: int, flags: int) -> PortalFiling:
    return _new(PortalFiling, (received_at, channel, due, 0, None, 0, None, None, None, flags))


def advance(p: PortalFiling, at: int, kind: int, due_at: int | None, flags: int) -> PortalFiling:
    """`p` after one more event, which comes after all the others in canonical order; `p` itself
    when the event changes nothing the portal reads."""
    # A new summary takes the fields it keeps from `f`, p as any tuple: the objects p holds. Compiled
    # (compiled.py), a field read as an int is a C integer, and put back it is boxed again: a new
    # int object for each timestamp, some ten an event.
    f: tuple[Any, ...] = p
    if flags:
        merged = merge_flags(p.flags, flags)
        if merged != p.flags:
            p = _new(PortalFiling, (f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], merged))
            f = p
    if kind in ENDING:
        rank = END_PREFERENCE[kind]
        end_rank = p.end_rank
        if end_rank is None or rank < end_rank:  # same rank: the earlier one, already kept
            return _new(PortalFiling, (f[0], f[1], f[2], f[3], f[4], f[5], f[6], rank, at, f[9]))
        return p
    if p.end_rank is not None:
        return p  # supplements after the filing ended mean nothing
    if kind == SUPPLEMENT_REQUESTED:
        return _new(PortalFiling, (f[0], f[1], f[2], p.requests + 1, at, f[5], f[6], f[7], f[8], f[9]))
    open_request_at = p.open_request_at
    if kind in _ANSWERS and open_request_at is not None:
        # A v1 submission while a request is open is its completion, with a moved due date.
        return _new(PortalFiling, (f[0], f[1], f[2], f[3], None, p.paused_total + at - open_request_at,
                                   due_at if due_at is not None else f[6], f[7], f[8], f[9]))
    return p


def lifecycle_moved(p: PortalFiling, q: PortalFiling) -> bool:
    """Whether `advance` took `p` to a `q` that differs in more than its flags. Its receipt, channel
    and due never move; the fields are compared one by one, not as slices (two tuples made an event)."""
    return (q.end_rank != p.end_rank or q.end_at != p.end_at or q.requests != p.requests
            or q.open_request_at != p.open_request_at or q.paused_total != p.paused_total
            or q.moved_due != p.moved_due)


def end_time(p: PortalFiling) -> int | None:
    """When the filing's processing ended for the portal: the request the applicant never answered
    (even if the filing ended later), else the preferred ending status; None while open."""
    if p.open_request_at is not None:
        return p.open_request_at
    return p.end_at


def supplement_time(p: PortalFiling) -> int:
    """What is subtracted from the end time: the answered supplements' time, unless the sender moved
    the due date at the completion (then the new due date already holds it)."""
    return 0 if p.moved_due is not None else p.paused_total


def effective_due(p: PortalFiling) -> int:
    """The due date to compare the end time with, once supplement time is taken as a later due."""
    return p.moved_due if p.moved_due is not None else p.due + p.paused_total


def on_time(end: int, supplement: int, due: int) -> bool:
    """The portal's test, compared as instants: end − supplement time ≤ due."""
    return end - supplement <= due


def fixed_verdict(p: PortalFiling) -> bool | None:
    """On time (True) or overdue (False) when the filing's own events decide it; None while it is
    open, when each period's cutoff decides (judged_on_time)."""
    if p.requests >= 2:
        return False  # more than one supplement request: overdue, whatever the times
    end = end_time(p)
    if end is None:
        return None
    if p.open_request_at is not None:
        return on_time(end, 0, p.due)
    return on_time(end, supplement_time(p), p.moved_due if p.moved_due is not None else p.due)


def judged_on_time(due: int, cutoff: int) -> bool:
    """An open filing in a period: its end time is the period's cutoff (now for the current one)."""
    return cutoff <= due


def processing_seconds(p: PortalFiling) -> int | None:
    """2.2: for a filing with an ending status, end − receipt − supplement time in whole seconds
    (0 if negative); None otherwise."""
    if p.end_rank is None:
        return None
    end = end_time(p)
    return max(0, (end - p.received_at - p.paused_total) // US_PER_SECOND)  # type: ignore[operator]


def pending_entry(p: PortalFiling) -> tuple[int, int] | None:
    """(receipt day, effective due) of a filing that each period's cutoff judges; None otherwise."""
    return verdict_part(p)[1]


def receipt_counts(p: PortalFiling) -> dict[int, int]:
    """What the filing adds on its receipt day: counter index in COUNTERS -> amount (never 0)."""
    return {**verdict_counts(p), **flag_counts(p.flags, p.channel)}


def verdict_counts(p: PortalFiling) -> dict[int, int]:
    """The part of receipt_counts its lifecycle decides: 2.1's fixed verdict and 2.2's time."""
    return verdict_part(p)[0]


def verdict_part(p: PortalFiling) -> tuple[dict[int, int], tuple[int, int] | None]:
    """verdict_counts and pending_entry in one pass (the aggregator's path for each event)."""
    verdict = fixed_verdict(p)
    if verdict is None:
        return {}, (receipt_day(p.received_at), effective_due(p))  # open: nothing fixed, no end
    counts = {_PORTAL_ON_TIME if verdict else _PORTAL_OVERDUE: 1}
    seconds = processing_seconds(p)
    if seconds is not None:
        counts[_PORTAL_COMPLETED] = 1
        if seconds:
            counts[_PORTAL_PROCESSING_SECONDS] = seconds
    return counts, None


def flag_counts(flags: int, channel: int) -> dict[int, int]:
    """The part of receipt_counts its flags (and channel) decide: the dossier ratios. Filings share
    a few hundred combinations of flags, so each is computed once (the caller must not change it)."""
    key = _flag_key(flags, channel)
    found = _FLAG_COUNTS.get(key)
    if found is None:
        if len(_FLAG_COUNTS) >= _FLAG_COUNTS_KEPT:
            _FLAG_COUNTS.clear()  # never reached in life (3^11 × 3 combinations at most)
            _FLAG_MASKS.clear()
        found = _FLAG_COUNTS[key] = _flag_counts(flags, channel)
        _FLAG_MASKS[key] = sum(1 << index for index in found)
    return found


def flag_change(old_flags: int, new_flags: int, channel: int) -> dict[int, int]:
    """flag_counts(new_flags) less flag_counts(old_flags), the counters that differ only: what a
    filing's receipt day gains when an event changes its flags (a result issued, a payment, a
    rating). One or two counters move where each side has about ten, and the unit adds every entry
    it is given (the caller must not change the dict).

    Every amount of flag_counts is 1, so its counters as a bit mask say all of it; a change is
    kept by its two masks, far fewer than the pairs of flags behind them (on the aggregator
    benchmark's feed a third of the changes had a pair of flags not seen before)."""
    before, after = _flag_mask(old_flags, channel), _flag_mask(new_flags, channel)
    key = before << _COUNTER_BITS | after
    found = _FLAG_CHANGES.get(key)
    if found is None:
        if len(_FLAG_CHANGES) >= _FLAG_COUNTS_KEPT:
            _FLAG_CHANGES.clear()
        moved = before ^ after
        found = _FLAG_CHANGES[key] = {index: 1 if after >> index & 1 else -1
                                      for index in range(_COUNTER_BITS) if moved >> index & 1}
    return found


def _flag_key(flags: int, channel: int) -> int:
    """The key of a (flags, channel) pair in the caches below: one int, not a tuple, so that no
    tuple is built, hashed and compared a call."""
    return flags << 2 | channel


def _flag_mask(flags: int, channel: int) -> int:
    key = _flag_key(flags, channel)
    mask = _FLAG_MASKS.get(key)
    if mask is None:
        flag_counts(flags, channel)  # keeps its mask
        mask = _FLAG_MASKS[key]
    return mask


# _flag_key -> flag_counts, and the same counters as a mask (bit i: COUNTERS[i]).
_FLAG_COUNTS: Final[dict[int, dict[int, int]]] = {}
_FLAG_MASKS: Final[dict[int, int]] = {}
_FLAG_CHANGES: Final[dict[int, dict[int, int]]] = {}  # before mask << _COUNTER_BITS | after mask
_FLAG_COUNTS_KEPT: Final = 100_000
_COUNTER_BITS: Final = len(COUNTERS)


def _flag_counts(flags: int, channel: int) -> dict[int, int]:
    counts: dict[int, int] = {}
    # A paper-result procedure's filing counts as online or digitised only with an electronic result.
    result_ok = flags & _PAPER_YES != _PAPER_YES or flags & _ELECTRONIC_YES == _ELECTRONIC_YES
    if channel == ONLINE and result_ok:
        counts[_PORTAL_ONLINE] = 1
    if not flags:
        return counts
    service, eligible = flag(flags, FULL_ONLINE_SERVICE), flag(flags, FULL_ONLINE_ELIGIBLE)
    if service is not None or eligible is not None:
        counts[_FULL_ONLINE_REPORTED] = 1
        if service or eligible:  # filed through a full-online service: its procedure is eligible
            counts[_FULL_ONLINE_ELIGIBLE] = 1
        if service:
            counts[_FULL_ONLINE_FILINGS] = 1
    paid, fee = flag(flags, ONLINE_PAYMENT), flag(flags, FEE_DUE)
    if paid is not None:
        counts[_PAYMENT_REPORTED] = 1
        if paid:
            counts[_PAYMENT_ONLINE] = 1
    if paid is not None or fee is not None:
        counts[_FEE_REPORTED] = 1
        # Paid online means a fee was due; a payment reported without fee_due implies one too.
        if fee or paid or (fee is None and paid is not None):
            counts[_FEE_FILINGS] = 1
        if paid:
            counts[_FEE_PAID_ONLINE] = 1
    paper = flag(flags, PAPER_RESULT)
    if paper is not None:
        counts[_PAPER_RESULT_REPORTED] = 1
        if paper:
            counts[_PAPER_RESULT_FILINGS] = 1
            if flags & _ELECTRONIC_YES == _ELECTRONIC_YES:
                counts[_ELECTRONIC_RESULT_FILINGS] = 1
    digitised = flag(flags, DIGITISED)
    if digitised is not None:
        counts[_DIGITISED_REPORTED] = 1
        if digitised:
            counts[_DIGITISED_YES] = 1
            if result_ok:
                counts[_PORTAL_DIGITISED] = 1
    for index, reported, yes in _SIMPLE_FLAGS:
        bits = flags >> (2 * index)
        if bits & 1:
            counts[reported] = 1
            if bits & 2:
                counts[yes] = 1
    return counts


_PAPER_YES: Final = flag_bits(PAPER_RESULT, True)
_ELECTRONIC_YES: Final = flag_bits(ELECTRONIC_RESULT, True)
(_PORTAL_ON_TIME, _PORTAL_OVERDUE, _PORTAL_COMPLETED, _PORTAL_PROCESSING_SECONDS, _PORTAL_ONLINE,
 _FULL_ONLINE_FILINGS, _FULL_ONLINE_ELIGIBLE, _FULL_ONLINE_REPORTED, _FEE_FILINGS, _FEE_PAID_ONLINE,
 _FEE_REPORTED, _PAPER_RESULT_FILINGS, _ELECTRONIC_RESULT_FILINGS, _PAPER_RESULT_REPORTED,
 _PORTAL_DIGITISED, _PAYMENT_REPORTED, _PAYMENT_ONLINE, _DIGITISED_REPORTED, _DIGITISED_YES) = (
    _C[name] for name in (
        "portal_on_time", "portal_overdue", "portal_completed", "portal_processing_seconds", "portal_online",
        "full_online_filings", "full_online_eligible", "full_online_reported", "fee_filings",
        "fee_paid_online", "fee_reported", "paper_result_filings", "electronic_result_filings",
        "paper_result_reported", "portal_digitised", "payment_reported", "payment_online",
        "digitised_reported", "digitised_yes"))
# Flags whose indicator is "filings with it over all filings": (flag, reported counter, yes counter).
_SIMPLE_FLAGS: Final = (
    *((index, _C[f"{name}_reported"], _C[f"{name}_filings"])
      for index, name in ((DATA_REUSED, "data_reused"), (PERSONAL_STORE, "personal_store"),
                          (POPULATION_DB, "population_db"))),
    (SATISFIED, _C["ratings"], _C["ratings_satisfied"]),
)

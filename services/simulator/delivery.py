"""From events in the order they happened to lines in the order a receiver gets them.

Real senders retry (the same event twice), batch and parallelise (small reordering), come back
after an outage (events days late), resend a status under a new id (the same transition again),
and sometimes send garbage. Each effect is applied per original event at its own rate, so a
rate of 0.01 means about one extra line per hundred events.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from services.simulator.lifecycle import Event
from services.simulator.localtime import DAY, HOUR, rfc3339
from services.simulator.malformed import NOT_JSON, corrupt, not_json_line

# What a delivered line is, for summaries and tests.
ORIGINAL = "original"
REORDERED = "reordered"
LATE = "late"
DUPLICATE = "duplicate"
REPEAT = "repeat"
MALFORMED = "malformed"
# Dossier states for the national portal's sync (dvcqg_sync.as_sync): a state when it is first sent,
# and the same state sent again.
SYNC_STATE = "sync_state"
SYNC_RESENT = "sync_resent"
SYNC_KINDS = frozenset({SYNC_STATE, SYNC_RESENT})

# A repeated transition is only ever one that cannot change a filing again: an ending (the
# earliest of its kind counts) or an overdue mark. Never a supplement request (a second one makes
# the filing overdue under Decision 766) nor a completion or a submission.
REPEATABLE = frozenset({"processed", "result_returned", "stopped", "rejected", "withdrawn", "overdue"})


@dataclass(frozen=True, slots=True)
class DeliveryRates:
    duplicate: float = 0.01
    reorder: float = 0.05
    reorder_window: int = 600  # seconds an event may be held back behind later ones
    late: float = 0.005
    max_late_days: float = 5.0
    repeat: float = 0.005  # applied to closing and overdue events only (see REPEATABLE)
    malformed: float = 0.002
    not_json: bool = False  # also write lines that are not JSON at all (file mode)

    def __post_init__(self) -> None:
        for name in ("duplicate", "reorder", "late", "repeat", "malformed"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"the {name} rate must be between 0 and 1")
        if self.late + self.reorder > 1.0:
            raise ValueError("the late and reorder rates together cannot exceed 1")
        if self.max_late_days < 1.0 or self.reorder_window < 1:
            raise ValueError("max_late_days must be at least 1 and reorder_window at least 1 second")

    @classmethod
    def clean(cls) -> DeliveryRates:
        """Every event once, in order, well formed."""
        return cls(duplicate=0.0, reorder=0.0, late=0.0, repeat=0.0, malformed=0.0)


class Delivery(NamedTuple):
    deliver_at: int  # epoch seconds when the receiver gets it
    occurred_at: int  # epoch seconds of the event it came from
    payload: Event | bytes  # bytes only for a line that is not JSON; a dossier state for SYNC_KINDS
    kind: str  # ORIGINAL, REORDERED, LATE, DUPLICATE, REPEAT, MALFORMED, SYNC_STATE or SYNC_RESENT
    detail: str = ""  # the kind of breakage, for MALFORMED


def deliver(rng: random.Random, rates: DeliveryRates, events: Iterable[tuple[int, Event]],
            end: int | None) -> Iterator[Delivery]:
    """Apply the delivery effects to `events` (in time order); yield in delivery order.

    Nothing held back is lost: when the events run out, the rest is delivered in order, even
    if its delivery time lies beyond `end` (a late line still describes something before `end`).
    """
    held: list[tuple[int, int, Delivery]] = []
    seq = 0
    # Thresholds of one roll that picks an original's own fate.
    late_below = rates.late
    reorder_below = rates.late + rates.reorder

    def hold(item: Delivery) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(held, (item.deliver_at, seq, item))

    for ts, event in events:
        while held and held[0][0] <= ts:
            yield heapq.heappop(held)[2]

        roll = rng.random()
        if roll < late_below:
            hold(Delivery(ts + DAY + int(rng.random() * (rates.max_late_days - 1) * DAY), ts, event, LATE))
        elif roll < reorder_below:
            hold(Delivery(ts + 1 + rng.randrange(max(rates.reorder_window, 1)), ts, event, REORDERED))
        else:
            # Everything held is due after `ts`, so this one can go straight out.
            yield Delivery(ts, ts, event, ORIGINAL)

        if rates.duplicate and rng.random() < rates.duplicate:
            # Mostly a quick retry; sometimes a replay after the sender restarts.
            delay = rng.randrange(60) if rng.random() < 0.8 else rng.randrange(2 * DAY)
            hold(Delivery(ts + delay, ts, event, DUPLICATE))
        if rates.repeat and rng.random() < rates.repeat and event["event_type"] in REPEATABLE:
            again = ts + 1 + rng.randrange(HOUR)
            if end is None or again < end:
                copy = dict(event)
                copy["event_id"] = f"{event['event_id']}:again"
                copy["occurred_at"] = rfc3339(again)
                hold(Delivery(again, again, copy, REPEAT))
        if rates.malformed and rng.random() < rates.malformed:
            if rates.not_json and rng.random() < 1 / 6:
                hold(Delivery(ts, ts, not_json_line(rng, event), MALFORMED, NOT_JSON))
            else:
                kind, bad = corrupt(rng, event)
                hold(Delivery(ts, ts, bad, MALFORMED, kind))

    while held:
        yield heapq.heappop(held)[2]

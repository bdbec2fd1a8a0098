"""Everything that happens to one filing, decided when it is received.

A filing is submitted; then it is processed (early, on its due day, or late, in which case the
sender may first mark it `overdue`), or returned: rejected, withdrawn, or sent back for a
supplement, after which the applicant usually submits it again and the clock restarts with a
new due date. Times of officers' actions fall in office hours on working days.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from services.simulator.arrivals import ONLINE, Arrival
from services.simulator.localtime import HOUR, day_start, local_day, rfc3339
from services.simulator.workdays import add_working_days, due_at, is_working_day, office_moment

Event = dict[str, Any]

SCHEMA_VERSION = 1
MAX_SUPPLEMENT_ROUNDS = 2


@dataclass(frozen=True, slots=True)
class LifecycleShares:
    """How filings end. Shares are of filings (or of resolutions, for `late`)."""

    late: float = 0.03  # processed after the due time
    rejected: float = 0.02
    withdrawn: float = 0.01
    supplement: float = 0.06  # returned for a supplement
    resubmitted: float = 0.8  # of those returned for a supplement, submitted again later
    overdue_notice: float = 0.7  # of late filings, the sender sends `overdue` at the due time
    max_late_working_days: int = 15
    digitised: float = 0.8  # chance a reported `digitised` flag is true
    online_payment_online: float = 0.85  # chance a fee is paid online, filed online
    online_payment_counter: float = 0.25  # the same, filed at the counter or by post

    def __post_init__(self) -> None:
        shares = ("late", "rejected", "withdrawn", "supplement", "resubmitted", "overdue_notice",
                  "digitised", "online_payment_online", "online_payment_counter")
        for name in shares:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"the {name} share must be between 0 and 1")
        if self.rejected + self.withdrawn + self.supplement > 1.0:
            raise ValueError("rejected, withdrawn and supplement shares together cannot exceed 1")
        if self.max_late_working_days < 1:
            raise ValueError("max_late_working_days must be at least 1")


def _acting_moment(rng: random.Random, submitted: int, due: int, working_days: int,
                   skew: float) -> int:
    """When an officer acts on a filing, between receipt and due; `skew` > 1 favours early days.

    Candidates are the rest of the receipt day (when it is a working day) and the working days
    up to the due day, whose office hours all end by the due time (17:00).
    """
    day = local_day(submitted)
    same_day = office_moment(rng, day, submitted + 600) if is_working_day(day) else None
    choices = working_days + (1 if same_day is not None else 0)
    pick = int(choices * rng.random() ** skew)
    if same_day is not None:
        if pick == 0:
            return same_day
        pick -= 1
    moment = office_moment(rng, add_working_days(day, pick + 1))
    assert moment is not None  # a whole office day is always available
    return min(moment, due)


def _late_moment(rng: random.Random, due: int, max_days: int) -> int:
    later = 1 + int(max_days * rng.random() ** 2)
    moment = office_moment(rng, add_working_days(local_day(due), later))
    assert moment is not None
    return moment


def _resubmission(rng: random.Random, returned: int, channel: str) -> int:
    """When the applicant comes back with the supplement: 1 to 10 days later."""
    day = local_day(returned) + 1 + rng.randrange(10)
    if channel == ONLINE:
        return day_start(day) + rng.randrange(7 * HOUR, 23 * HOUR)
    while not is_working_day(day):
        day += 1
    moment = office_moment(rng, day)
    assert moment is not None
    return moment


def filing_events(rng: random.Random, shares: LifecycleShares, arrival: Arrival, filing_id: str,
                  source: str) -> list[tuple[int, Event]]:
    """The filing's events as (epoch seconds, event), in time order."""
    out: list[tuple[int, Event]] = []
    unit_code = arrival.unit.code
    procedure = arrival.procedure
    channel = arrival.channel
    prefix = f"{source}:{filing_id}:"

    def event(ts: int, event_type: str) -> Event:
        ev = {"schema_version": SCHEMA_VERSION, "event_id": f"{prefix}{len(out) + 1}",
              "event_type": event_type, "filing_id": filing_id, "unit_code": unit_code,
              "occurred_at": rfc3339(ts), "source": source}
        out.append((ts, ev))
        return ev

    submitted = arrival.ts
    for rounds in range(MAX_SUPPLEMENT_ROUNDS + 1):
        due = due_at(submitted, procedure.working_days)
        sub = event(submitted, "submitted")
        sub["channel"] = channel
        sub["due_at"] = rfc3339(due)
        sub["procedure_code"] = procedure.code
        # Flags are reported on some events only, as real senders do.
        if rng.random() < 0.6:
            sub["digitised"] = rng.random() < shares.digitised
        if procedure.paid and rng.random() < 0.9:
            paid_online = shares.online_payment_online if channel == ONLINE else shares.online_payment_counter
            sub["online_payment"] = rng.random() < paid_online

        roll = rng.random()
        if roll < shares.rejected + shares.withdrawn:
            reason = "rejected" if roll < shares.rejected else "withdrawn"
            ts = _acting_moment(rng, submitted, due, procedure.working_days, 3.0)
            event(ts, "returned")["reason"] = reason
            return out
        roll -= shares.rejected + shares.withdrawn
        if roll < shares.supplement and rounds < MAX_SUPPLEMENT_ROUNDS:
            ts = _acting_moment(rng, submitted, due, procedure.working_days, 2.0)
            event(ts, "returned")["reason"] = "supplement_requested"
            if rng.random() >= shares.resubmitted:
                return out
            submitted = _resubmission(rng, ts, channel)
            continue

        if rng.random() < shares.late:
            ts = _late_moment(rng, due, shares.max_late_working_days)
            if rng.random() < shares.overdue_notice:
                event(due + 60 + rng.randrange(HOUR), "overdue")
        else:
            ts = _acting_moment(rng, submitted, due, procedure.working_days, 1.6)
        done = event(ts, "processed")
        if rng.random() < 0.3:
            done["digitised"] = rng.random() < shares.digitised
        return out
    return out

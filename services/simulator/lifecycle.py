"""Everything that happens to one filing, decided when it is received (contract v2 events).

A filing is submitted (with its due date, or for a few senders only the procedure's statutory
maximum in hours). It may be sent back for a supplement (`supplement_requested`); the applicant
usually comes back (`supplement_completed`, sometimes with a new due date), sometimes never, and
a few filings get a second request. Then it is processed (early, on its due day, or late, in
which case the sender may first mark it `overdue`) and its result returned, or it is rejected,
withdrawn or stopped. Some applicants rate the service afterwards (`updated` with `satisfied`).
The Decision 766 flags are facts about the filing drawn at receipt from its unit's profile
(`profiles.py`) and reported on some events, as real senders do. Times of officers' actions fall
in office hours on working days; a filing's events have strictly increasing times.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from typing import Any

from services.simulator.arrivals import ONLINE, Arrival
from services.simulator.localtime import DAY, HOUR, day_start, local_day, rfc3339
from services.simulator.profiles import CALIBRATED_LATE, UnitProfile, logit, sigmoid
from services.simulator.workdays import add_working_days, due_at, is_working_day, office_moment

Event = dict[str, Any]

SCHEMA_VERSION = 2
NATIONAL_PORTAL = "national_portal"
PROVINCIAL_GATEWAY = "provincial_gateway"
# Event types that end a filing (docs/figures.md, 2.1).
ENDINGS = frozenset({"processed", "result_returned", "stopped", "rejected", "withdrawn"})

# How often a flag is carried at all (the rest of the filings leave it unreported).
REPORTED = {"full_online": 0.95, "fee_due": 0.9, "online_payment": 0.95, "population_db": 0.85,
            "data_reused": 0.85, "digitised": 0.7, "paper_result": 0.9, "electronic_result": 0.9,
            "personal_store": 0.8}


@dataclass(frozen=True, slots=True)
class LifecycleShares:
    """How filings go. Shares are of filings unless said otherwise; the per-unit ones are the
    centres of the units' shares (`profiles.py` spreads the units around them)."""

    late: float = CALIBRATED_LATE  # processed after the due time (centre: profiles.py draws the units)
    late_spread: float = 0.15  # each unit's noise around its calibrated share on time, logit scale
    rejected: float = 0.015
    withdrawn: float = 0.008
    stopped: float = 0.007  # stopped by the unit ("Dừng xử lý") instead of processed
    supplement: float = 0.08  # sent back for a supplement at least once
    never_back: float = 0.15  # of those, the applicant never comes back
    second_request: float = 0.10  # of those, a second request after the first completion
    abandoned_closed: float = 0.5  # of those never back, later stopped or withdrawn
    moved_due: float = 0.35  # of completions, the sender sends a new due date
    overdue_notice: float = 0.7  # of late filings, the sender sends `overdue` at the due time
    max_late_working_days: int = 15
    statutory_only: float = 0.04  # submitted with statutory_max_hours and no due_at
    result_returned: float = 0.9  # of processed filings, the result is returned (and said so)
    result_only: float = 0.03  # of resolved filings, the sender skips `processed`
    rated: float = 0.3  # of resolved filings, the applicant rates the service
    satisfied: float = 0.94  # of ratings (centre)
    fee: float = 0.6  # of filings of a procedure with a fee, a fee is due (exemptions)
    paid_online_online: float = 0.8  # of fee filings made online, paid online (centre)
    paid_online_counter: float = 0.2  # the same, made at the counter or by post (centre)
    via_portal: float = 0.4  # of online payments, through the national portal (centre)
    digitised: float = 0.75  # (centre)
    paper_result: float = 0.6  # the procedure's result is a paper document
    electronic_result: float = 0.7  # of paper-result filings, also issued electronically (centre)
    data_reused: float = 0.55  # (centre)
    personal_store: float = 0.35  # (centre)
    population_db_online: float = 0.75  # VNeID login or population data, online filings (centre)
    population_db_counter: float = 0.35  # the same at the counter (centre)
    full_online: float = 0.7  # of eligible filings made online, through the full-online service
    unit_spread: float = 0.6  # spread of the units' flag shares, logit scale

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name in ("max_late_working_days", "late_spread", "unit_spread"):
                continue
            if not 0.0 <= getattr(self, f.name) <= 1.0:
                raise ValueError(f"the {f.name} share must be between 0 and 1")
        if self.rejected + self.withdrawn + self.supplement > 1.0:
            raise ValueError("rejected, withdrawn and supplement shares together cannot exceed 1")
        if self.never_back + self.second_request > 1.0:
            raise ValueError("never_back and second_request together cannot exceed 1")
        if self.max_late_working_days < 1:
            raise ValueError("max_late_working_days must be at least 1")
        if self.late_spread < 0 or self.unit_spread < 0:
            raise ValueError("spreads cannot be negative")


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
    # A minute before the due time at the latest: an action exactly at it, followed by another
    # event in the same second, would be pushed past it (filing_events' one-second rule).
    return min(moment, due - 60)


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



def _office_later(rng: random.Random, after: int, min_days: int, max_days: int) -> int:
    """An office moment on a working day `min_days` to `max_days` working days after `after`."""
    day = local_day(after)
    count = min_days + rng.randrange(max_days - min_days + 1)
    moment = (office_moment(rng, day, after + 60) if count == 0 and is_working_day(day) else None)
    if moment is None:
        moment = office_moment(rng, add_working_days(day, max(count, 1)))
    assert moment is not None
    return moment


@dataclass(slots=True)
class _Facts:
    """The filing's Decision 766 facts, drawn at receipt."""

    eligible: bool
    full_online: bool
    fee: bool
    paid_online: bool
    via: str
    paper: bool
    electronic: bool
    digitised: bool
    reused: bool
    store: bool
    population_db: bool


def _facts(rng: random.Random, shares: LifecycleShares, profile: UnitProfile, arrival: Arrival) -> _Facts:
    online = arrival.channel == ONLINE
    procedure = arrival.procedure
    eligible = procedure.full_online_eligible
    full_online = rng.random() < profile.full_online and eligible and online
    fee = rng.random() < shares.fee and procedure.paid
    paid_share = profile.paid_online_online if online else profile.paid_online_counter
    paid_online = rng.random() < paid_share and fee
    via = NATIONAL_PORTAL if rng.random() < profile.via_portal else PROVINCIAL_GATEWAY
    paper = rng.random() < shares.paper_result
    electronic = rng.random() < profile.electronic_result or not paper  # else it is electronic anyway
    digitised = rng.random() < profile.digitised
    reused = rng.random() < profile.data_reused
    store = rng.random() < profile.personal_store
    population = rng.random() < (profile.population_db_online if online else profile.population_db_counter)
    return _Facts(eligible, full_online, fee, paid_online, via, paper, electronic, digitised, reused,
                  store, population)


def filing_events(rng: random.Random, shares: LifecycleShares, profile: UnitProfile, arrival: Arrival,
                  filing_id: str, source: str) -> list[tuple[int, Event]]:
    """The filing's events as (epoch seconds, event), in strictly increasing time order."""
    out: list[tuple[int, Event]] = []
    unit_code = arrival.unit.code
    procedure = arrival.procedure
    channel = arrival.channel
    working_days = procedure.working_days
    prefix = f"{source}:{filing_id}:"

    def event(ts: int, event_type: str) -> Event:
        if out and ts <= out[-1][0]:
            ts = out[-1][0] + 1  # one filing's events never share a second: one order only
        ev = {"schema_version": SCHEMA_VERSION, "event_id": f"{prefix}{len(out) + 1}",
              "event_type": event_type, "filing_id": filing_id, "unit_code": unit_code,
              "occurred_at": rfc3339(ts), "source": source}
        out.append((ts, ev))
        return ev

    def reported(name: str) -> bool:
        return rng.random() < REPORTED[name]

    facts = _facts(rng, shares, profile, arrival)
    start = arrival.ts
    statutory_hours = working_days * 24 if rng.random() < shares.statutory_only else None

    def due_from(moment: int) -> int:
        if statutory_hours is not None:
            return moment + statutory_hours * HOUR
        return due_at(moment, working_days)

    due = due_from(start)
    sub = event(start, "submitted")
    sub["channel"] = channel
    sub["procedure_code"] = procedure.code
    if statutory_hours is not None:
        sub["statutory_max_hours"] = statutory_hours
    else:
        sub["due_at"] = rfc3339(due)
    # What is known at receipt, reported by most senders.
    if reported("full_online"):
        sub["full_online_eligible"] = facts.eligible
        sub["full_online_service"] = facts.full_online
    if reported("fee_due"):
        sub["fee_due"] = facts.fee
    pay_now = channel == ONLINE  # online applicants pay when filing; others when they collect
    if facts.fee and pay_now and reported("online_payment"):
        sub["online_payment"] = facts.paid_online
        if facts.paid_online:
            sub["online_payment_via"] = facts.via
    if reported("population_db"):
        sub["population_db"] = facts.population_db
    if reported("data_reused"):
        sub["data_reused"] = facts.reused
    if reported("paper_result"):
        sub["paper_result"] = facts.paper
    digitised_late = facts.digitised and rng.random() < 0.15  # digitised only when processed
    if reported("digitised"):
        sub["digitised"] = facts.digitised and not digitised_late
    else:
        digitised_late = False
    store_at_result = facts.store and rng.random() < 0.5  # the result synchronised to the store
    if reported("personal_store") and not store_at_result:
        sub["personal_store"] = facts.store

    # Early endings, before anything else happens.
    roll = rng.random()
    if roll < shares.rejected + shares.withdrawn:
        kind = "rejected" if roll < shares.rejected else "withdrawn"
        event(_acting_moment(rng, start, due, working_days, 3.0), kind)
        return out
    roll -= shares.rejected + shares.withdrawn

    cursor = start
    if roll < shares.supplement:
        fate = rng.random()
        rounds = 2 if fate >= 1.0 - shares.second_request else 1
        for round_ in range(rounds):
            event(_acting_moment(rng, cursor, due, working_days, 2.0), "supplement_requested")
            requested_at = out[-1][0]
            gone = (fate < shares.never_back) if round_ == 0 else (rng.random() < 0.2)
            if gone:
                if rng.random() < shares.abandoned_closed:  # the unit closes the case later
                    kind = "stopped" if rng.random() < 0.6 else "withdrawn"
                    event(_office_later(rng, requested_at, 10, 30), kind)
                return out
            completed_at = _resubmission(rng, requested_at, channel)
            done = event(completed_at, "supplement_completed")
            completed_at = out[-1][0]
            # A sender that gives no due dates gives no new one either: the pause moves it.
            if rng.random() < shares.moved_due and statutory_hours is None:
                due = due_from(completed_at)
                done["due_at"] = rfc3339(due)
            else:
                due += completed_at - requested_at
            cursor = completed_at

    if rng.random() < shares.stopped:
        event(_acting_moment(rng, cursor, due, working_days, 1.0), "stopped")
        return out

    late = rng.random() < profile.late
    if late:
        ts = _late_moment(rng, due, shares.max_late_working_days)
        if rng.random() < shares.overdue_notice:
            event(due + 60 + rng.randrange(HOUR), "overdue")
    else:
        ts = _acting_moment(rng, cursor, due, working_days, 1.6)
    result_only = rng.random() < shares.result_only
    closing = None if result_only else event(ts, "processed")
    if result_only or rng.random() < shares.result_returned:
        # Online, the result goes out electronically; otherwise the applicant collects it.
        when = ts + 60 + rng.randrange(4 * HOUR) if channel == ONLINE else _office_later(rng, ts, 0, 5)
        closing = event(when, "result_returned")
    assert closing is not None
    # What is known with the result.
    if facts.paper and reported("electronic_result"):
        closing["electronic_result"] = facts.electronic
    if facts.fee and not pay_now and reported("online_payment"):
        closing["online_payment"] = facts.paid_online
        if facts.paid_online:
            closing["online_payment_via"] = facts.via
    if digitised_late:
        closing["digitised"] = True
    if store_at_result and reported("personal_store"):
        closing["personal_store"] = True

    if rng.random() < shares.rated:
        satisfied = profile.satisfied if not late else sigmoid(logit(profile.satisfied) - 1.2)
        rating = event(out[-1][0] + 60 + rng.randrange(3 * DAY), "updated")
        rating["satisfied"] = rng.random() < satisfied
    return out

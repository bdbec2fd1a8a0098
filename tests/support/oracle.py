"""The test oracle: every unit's figures recomputed in one batch from an NDJSON event log.

Written again from docs/figures.md, on purpose sharing no code (and no representation) with
services/aggregator: events stay JSON objects, times are aware `datetime`s, days are `date`s in the
Asia/Ho_Chi_Minh zone of the tz database, each filing's whole history is sorted and walked once,
and totals are derived from their parts instead of being counted. Slow and plain; that is the point.

The model is "every line arrives at `as_of`": a line is skipped when it is not JSON, not valid
against the schema file its `schema_version` names (absent: 1; `schemas/filing-event.v<n>.json`
for every such file that exists; Draft 2020-12, formats checked), outside the bounds the contract
puts on instants (`out_of_bounds`: before 2000-01-01 in Vietnam, occurred_at more than a day after
`as_of`, the due_at of a submitted or supplement_completed event more than 1,098 days after its
occurred_at), or older than the retention window before `as_of` (`too_late`). A unit appears in
the result as soon as one of its events is accepted, even if none of them counts anything (a held
filing).

Each filing is walked twice over the same canonical order: once by the press-style lifecycle
(received, resolved, returned, the `pending_*` snapshots, and the reading of a v1 `submitted` while
paused as a `supplement_completed`), once by Decision 766's 2.1 rule as the national portal
computes it (`portal_verdict`), which fixes the filing's verdict or, for an open filing, the latest
cutoff at which it is still on time. The dossier ratios' counters are read from the filing's flags.

Decisions where docs/figures.md leaves a choice (marked DECISION below; listed for the spec):
 1. A v1 `returned` sorts by the rank of the type it reads as (supplement_requested 6, rejected 7,
    withdrawn 8); a v1 `submitted` keeps rank 0 even when it reads as a supplement_completed.
 2. A repeated `submitted` of either version while paused reads as `supplement_completed` whose
    moved due date is that submission's (its `due_at`, or its time + `statutory_max_hours`);
    otherwise it is ignored.
 3. Without `due_at` on the first submission the press-style due is also
    first submission + `statutory_max_hours`, as 2.1's D.
 4. `stopped` counts in `returned_total` (returned_rejected + _supplement_requested + _withdrawn +
    _stopped), and `received_total` counts every first submission even one without a channel.
 5. `online_payment_via` on an event makes that event carry `online_payment: true`, whatever
    `online_payment` it also carries.
 6. 2.1 with two or more requests: the verdict is overdue. A filing waiting for its one supplement
    but without an ending status is not "completed" (portal_completed, portal_processing_seconds
    count filings with an ending status).
 7. portal_processing_seconds: E - P - first submission floored to whole seconds, 0 if negative,
    where E is the unanswered request's time if the last request before the end is unanswered, else
    the ending time, and P is the sum of the answered pauses (a request to the completion after it),
    whatever the number of requests and whether the due date was moved.
 8. full_online_eligible (the counter) counts the denominator: eligible true or service true;
    full_online_reported: either field reported.
 9. Calendar periods, like the rolling ones, leave out days after today (they count only in
    all_time): the current month equals month_to_date, the current quarter quarter_to_date, this
    year year_to_date.
10. The press-style `pending_*` snapshots are the same (as_of) in every period, calendar ones
    included; a period's figures are its counters, then the four snapshots, then the rates.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jsonschema import Draft202012Validator

from tests.support.paths import SCHEMA_DIR

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
# The canonical order's type ranks (docs/figures.md, "Decision 766 as the national portal computes it").
RANK = {"submitted": 0, "supplement_completed": 1, "overdue": 2, "updated": 3, "processed": 4,
        "result_returned": 5, "supplement_requested": 6, "rejected": 7, "withdrawn": 8, "stopped": 9}
# The rolling periods (cutoff as_of); calendar periods follow them in a record.
PERIODS = ["today", "last_7_days", "last_30_days", "month_to_date", "quarter_to_date", "year_to_date",
           "all_time"]
CHANNELS = ["online", "in_person", "postal"]
VERDICTS = ["early", "on_time", "late"]
RETURNS = ["rejected", "supplement_requested", "withdrawn", "stopped"]
# 2.1's ending statuses in order of preference; stopped and rejected rank together.
ENDINGS = [("processed",), ("result_returned",), ("stopped", "rejected"), ("withdrawn",)]
ENDING = {kind for group in ENDINGS for kind in group}
FLAGS = ["online_payment", "fee_due", "digitised", "electronic_result", "paper_result", "data_reused",
         "personal_store", "population_db", "full_online_service", "full_online_eligible", "satisfied"]
COUNTER_ORDER = [
    "received_total", *(f"received_{c}" for c in CHANNELS),
    *(f"resolved_{v}" for v in VERDICTS), "resolved_total",
    *(f"returned_{r}" for r in RETURNS), "returned_total",
    "resolution_seconds", "payment_reported", "payment_online", "digitised_reported", "digitised_yes",
    "portal_on_time", "portal_overdue", "portal_completed", "portal_processing_seconds", "portal_online",
    "full_online_filings", "full_online_eligible", "full_online_reported",
    "fee_filings", "fee_paid_online", "fee_reported",
    "paper_result_filings", "electronic_result_filings", "paper_result_reported",
    "portal_digitised",
    "data_reused_filings", "data_reused_reported",
    "personal_store_filings", "personal_store_reported",
    "population_db_filings", "population_db_reported",
    "ratings", "ratings_satisfied",
]
SNAPSHOT_ORDER = ["pending_within_due", "pending_overdue", "portal_pending_on_time", "portal_pending_overdue"]
RATE_ORDER = ["online_rate", "on_time_rate", "avg_resolution_hours", "online_payment_share",
              "digitised_share"]
FIGURE_ORDER = [*COUNTER_ORDER, *SNAPSHOT_ORDER, *RATE_ORDER]
COUNTER_COUNT = len(COUNTER_ORDER)
# Rates are compared with this relative tolerance: the same ratio computed two correct ways may
# differ in the last bit. Counters are compared exactly.
RATE_TOLERANCE = 1e-12

Facts = Counter[tuple[date, str]]  # (Ho Chi Minh day, fact) -> amount


@dataclass
class OracleResult:
    units: dict[str, dict[str, Any]]  # unit code -> unit-figures record
    # "<unit code>|<YYYY-MM-DD>" -> that unit's counters of that day (days with any fact)
    days: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)  # not_json / invalid / too_late -> lines
    accepted: int = 0  # lines that passed, duplicates included
    duplicates: int = 0  # accepted lines whose event_id the filing already had
    # (event_id, "bounds" or "too_late") of each schema-valid line skipped: the aggregator's DLQ holds these
    refused: list[tuple[str, str]] = field(default_factory=list)
    # unit code -> its filings behind 2.1 (`filing_lists`), every one of them, not only the bound
    filings: dict[str, dict[str, Any]] = field(default_factory=dict)


def _validators(schema_dir: Path) -> dict[int, Draft202012Validator]:
    """A validator per contract version whose file `filing-event.v<n>.json` exists in `schema_dir`."""
    present = tuple((version, path) for version in range(1, 10)
                    if (path := schema_dir / f"filing-event.v{version}.json").exists())
    if not present:
        raise FileNotFoundError(f"no filing-event schema in {schema_dir}")
    return _compiled(present)


@cache
def _compiled(present: tuple[tuple[int, Path], ...]) -> dict[int, Draft202012Validator]:
    return {version: Draft202012Validator(json.loads(path.read_text(encoding="utf-8")),
                                          format_checker=Draft202012Validator.FORMAT_CHECKER)
            for version, path in present}


def _is_valid(event: Any, validators: dict[int, Draft202012Validator]) -> bool:
    if not isinstance(event, dict):
        return False
    version = event.get("schema_version", 1)
    # true is an int in Python, and 1.0 equals 1, but neither is a version number.
    validator = validators.get(version) if type(version) is int else None
    return validator is not None and validator.is_valid(event)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _has_lone_surrogate(value: Any) -> bool:
    # "\ud800" parses, but is no Unicode text: strict decoders (orjson) refuse it, so do we.
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _decode(line: bytes) -> Any:
    """The JSON value of one line; ValueError when it is not strict JSON."""
    value = json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
    if _has_lone_surrogate(value):
        raise ValueError("lone surrogate")
    return value


def recompute(path: str | Path, as_of: datetime, retention_days: int = 400,
              schema_dir: Path | None = None) -> OracleResult:
    """Every unit's unit-figures record for the events in the NDJSON file at `path`; the schema
    files are read from `schema_dir` (default: the repository's schemas/)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    validators = _validators(Path(schema_dir or SCHEMA_DIR).resolve())
    oldest = as_of - timedelta(days=retention_days)
    result = OracleResult(units={})
    # unit -> filing -> event_id -> the first accepted copy of that event
    histories: dict[str, dict[str, dict[str, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    with Path(path).open("rb") as lines:
        for line in lines:
            try:
                event = _decode(line)
            except ValueError:
                result.skipped["not_json"] += 1
                continue
            if not _is_valid(event, validators):
                result.skipped["invalid"] += 1
                continue
            if not _within_bounds(event, as_of):
                result.skipped["out_of_bounds"] += 1
                result.refused.append((event["event_id"], "bounds"))
                continue
            if _instant(event["occurred_at"]) < oldest:
                result.skipped["too_late"] += 1
                result.refused.append((event["event_id"], "too_late"))
                continue
            result.accepted += 1
            seen = histories[event["unit_code"]][event["filing_id"]]
            if event["event_id"] in seen:
                result.duplicates += 1
            else:
                seen[event["event_id"]] = event

    today = _local_day(as_of)
    periods = all_periods(as_of)
    for unit_code, filings in histories.items():
        walks = [walk_filing(list(events.values())) for events in filings.values()]
        result.filings[unit_code] = filing_lists(dict(zip(filings, walks, strict=True)), periods, as_of)
        facts: Facts = Counter()
        for walk in walks:
            facts.update(walk.facts)
        result.units[unit_code] = {
            "unit_code": unit_code,
            "as_of": as_of.astimezone(HCM).isoformat(timespec="milliseconds"),
            "day": today.isoformat(),
            "periods": {p.name: period_figures(facts, walks, p, as_of) for p in periods},
        }
        by_day: dict[date, Counter[str]] = defaultdict(Counter)
        for (day, fact), amount in facts.items():
            by_day[day][fact] += amount
        for day, part in by_day.items():
            result.days[f"{unit_code}|{day.isoformat()}"] = counters(part)
    return result


EARLIEST = datetime(2000, 1, 1, tzinfo=HCM)


def _within_bounds(event: dict[str, Any], as_of: datetime) -> bool:
    # Differences, not sums: an instant at the calendar's end plus a day is past datetime's range.
    occurred = _instant(event["occurred_at"])
    if occurred < EARLIEST or occurred - as_of > timedelta(days=1):
        return False
    # due_at is read (so bounded) on submitted and supplement_completed events only.
    if event["event_type"] not in ("submitted", "supplement_completed") or "due_at" not in event:
        return True
    due = _instant(event["due_at"])
    return not (due < EARLIEST or due - occurred > timedelta(days=3 * 366))


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _local_day(moment: datetime) -> date:
    return moment.astimezone(HCM).date()


def _kind(event: dict[str, Any]) -> str:
    """The event's type as schema v2 names it: a v1 `returned` is its reason."""
    return event["reason"] if event["event_type"] == "returned" else event["event_type"]


def _first_due(submission: dict[str, Any], start: datetime) -> datetime:
    if "due_at" in submission:
        return _instant(submission["due_at"])
    return start + timedelta(hours=submission["statutory_max_hours"])


# ---------------------------------------------------------------------------------------------
# One filing


@dataclass(frozen=True)
class Reading:
    kind: str  # the type the lifecycle reads the event as (RANK's names)
    at: datetime  # its time after clamping
    event: dict[str, Any]


@dataclass(frozen=True)
class Verdict:
    """A filing's 2.1 verdict: `on_time` when fixed (ended, waiting for a supplement, two requests),
    else None and the filing is on time at a cutoff c while c <= `limit` (D + S, or the moved D)."""
    on_time: bool | None
    limit: datetime
    completed: bool  # an ending status is present
    processing_seconds: int  # E - S - first submission, for a completed filing; else 0
    end: datetime | None = None  # E: the end time (the unanswered request's, else the ending's)
    requests: int = 0  # supplement requests before the first ending status


@dataclass
class Walk:
    facts: Facts
    pending: tuple[datetime, bool] | None  # press-style: (due, marked) when the final state is pending
    receipt_day: date | None = None  # None: held (no submission)
    verdict: Verdict | None = None
    received_at: datetime | None = None  # the first submission's time
    procedure: str | None = None  # the first submission's procedure_code


def walk_filing(events: list[dict[str, Any]]) -> Walk:
    """One filing's facts (day, fact) -> amount, its press-style pending snapshot and its 2.1 verdict.

    Facts are the parts (received, received_<channel>, resolved_<verdict>, returned_<kind>,
    resolution_seconds, the flags' counters, portal_*); totals are derived later.
    """
    facts: Facts = Counter()
    submissions = [e for e in events if e["event_type"] == "submitted"]
    if not submissions:
        return Walk(facts, None)  # held: counted only once its submission arrives
    first = min(submissions, key=lambda e: (_instant(e["occurred_at"]), e["event_id"]))
    start = _instant(first["occurred_at"])

    def when(e: dict[str, Any]) -> datetime:
        moment = _instant(e["occurred_at"])
        # Clamping: nothing but a submission happens before the first submission.
        return moment if e["event_type"] == "submitted" or moment >= start else start

    history = sorted(events, key=lambda e: (when(e), RANK[_kind(e)], e["event_id"]))
    received_day = _local_day(start)

    # The press-style lifecycle; it also decides how a repeated submission reads.
    readings: list[Reading] = []
    status, due, marked, paused_at = "none", start, False, start
    for e in history:
        kind, moment = _kind(e), when(e)
        if kind == "submitted" and status == "none":
            status, due, marked = "pending", _first_due(e, start), False
            facts[received_day, "received"] += 1
            if "channel" in e:
                facts[received_day, f"received_{e['channel']}"] += 1
        elif kind == "submitted":
            # DECISION 2: a repeated submission while paused is the supplement's completion.
            kind = "supplement_completed" if status == "paused" else "submitted_again"
        readings.append(Reading(kind, moment, e))
        if kind == "supplement_completed" and status == "paused":
            if e["event_type"] == "submitted":
                due = _first_due(e, moment)
            else:
                due = _instant(e["due_at"]) if "due_at" in e else due + (moment - paused_at)
            status, marked = "pending", False
        elif kind == "overdue" and status == "pending":
            marked = True
        elif kind in ("processed", "result_returned") and status == "pending":
            day = _local_day(moment)
            if marked or moment > due:
                resolved = "late"
            elif day < _local_day(due):
                resolved = "early"
            else:
                resolved = "on_time"
            facts[day, f"resolved_{resolved}"] += 1
            facts[day, "resolution_seconds"] += (moment - start) // timedelta(seconds=1)
            status = "closed"
        elif kind in RETURNS and status == "pending":
            facts[_local_day(moment), f"returned_{kind}"] += 1
            if kind == "supplement_requested":
                status, paused_at = "paused", moment
            else:
                status = "closed"

    verdict = portal_verdict(readings, start, _first_due(first, start))
    if verdict.on_time is not None:
        facts[received_day, "portal_on_time" if verdict.on_time else "portal_overdue"] += 1
    if verdict.completed:
        facts[received_day, "portal_completed"] += 1
        facts[received_day, "portal_processing_seconds"] += verdict.processing_seconds
    for fact, amount in dossier_facts(flags_of(history), first.get("channel")).items():
        if amount:
            facts[received_day, fact] += amount
    return Walk(facts, (due, marked) if status == "pending" else None, received_day, verdict, start,
                first.get("procedure_code"))


def portal_verdict(readings: list[Reading], start: datetime, due: datetime) -> Verdict:
    """Decision 2.1 for one filing from its readings in canonical order (docs/figures.md, "2.1 on
    time"): `start` is the first submission's time, `due` the D of its `due_at` or statutory maximum."""
    first_end = next((i for i, r in enumerate(readings) if r.kind in ENDING), len(readings))
    before = readings[:first_end]  # only supplement events before the first ending status count
    requests = [i for i, r in enumerate(before) if r.kind == "supplement_requested"]
    end: datetime | None = None
    for group in ENDINGS:
        times = [r.at for r in readings if r.kind in group]
        if times:
            end = min(times)
            break
    completed = end is not None
    # The pauses: each request, answered by the first completion after it (a later request before
    # the completion restarts the pause from that request).
    waiting_since: datetime | None = None
    paused = timedelta(0)
    pauses: list[tuple[Reading, Reading]] = []
    for reading in before:
        if reading.kind == "supplement_requested":
            waiting_since, request = reading.at, reading
        elif reading.kind == "supplement_completed" and waiting_since is not None:
            paused += reading.at - waiting_since
            pauses.append((request, reading))
            waiting_since = None
    if waiting_since is not None:
        end = waiting_since  # the applicant has not come back: the clock stopped at the request
    supplement = timedelta(0)
    fixed: bool | None = None
    if len(requests) >= 2:
        fixed = False
    elif pauses:
        request, completion = pauses[0]
        if completion.event["event_type"] == "submitted":
            due = _first_due(completion.event, completion.at)  # DECISION 2
        elif "due_at" in completion.event:
            due = _instant(completion.event["due_at"])
        else:
            supplement = completion.at - request.at
    if fixed is None and end is not None:
        fixed = end - supplement <= due
    processing = 0
    if completed:
        assert end is not None
        # DECISION 7: whole seconds rounded down, 0 if negative.
        processing = max(0, (end - paused - start) // timedelta(seconds=1))
    return Verdict(fixed, due + supplement, completed, processing, end, len(requests))


def flags_of(history: list[dict[str, Any]]) -> dict[str, bool | None]:
    """Each flag's value on the last event (canonical order) that carries it; None: not reported."""
    values: dict[str, bool | None] = dict.fromkeys(FLAGS)
    for e in history:
        for flag in FLAGS:
            if flag in e:
                values[flag] = e[flag]
        if e.get("online_payment_via") is not None:
            values["online_payment"] = True  # DECISION 5: the place paid implies paid online
    return values


def dossier_facts(flags: dict[str, bool | None], channel: str | None) -> dict[str, int]:
    """The flag counters of one filing on its receipt day (docs/figures.md, "Dossier ratios")."""
    def yes(flag: str) -> bool:
        return flags[flag] is True

    def reported(flag: str) -> bool:
        return flags[flag] is not None

    electronic_if_paper = not yes("paper_result") or yes("electronic_result")
    out = {
        "payment_reported": reported("online_payment"), "payment_online": yes("online_payment"),
        "digitised_reported": reported("digitised"), "digitised_yes": yes("digitised"),
        "portal_online": channel == "online" and electronic_if_paper,
        "full_online_filings": yes("full_online_service"),
        # DECISION 8
        "full_online_eligible": yes("full_online_eligible") or yes("full_online_service"),
        "full_online_reported": reported("full_online_eligible") or reported("full_online_service"),
        "fee_filings": (yes("fee_due") or yes("online_payment")
                        or (not reported("fee_due") and reported("online_payment"))),
        "fee_paid_online": yes("online_payment"),
        "fee_reported": reported("fee_due") or reported("online_payment"),
        "paper_result_filings": yes("paper_result"),
        "electronic_result_filings": yes("paper_result") and yes("electronic_result"),
        "paper_result_reported": reported("paper_result"),
        "portal_digitised": yes("digitised") and electronic_if_paper,
        "ratings": reported("satisfied"), "ratings_satisfied": yes("satisfied"),
    }
    for flag in ("data_reused", "personal_store", "population_db"):
        out[f"{flag}_filings"], out[f"{flag}_reported"] = yes(flag), reported(flag)
    return {fact: int(value) for fact, value in out.items()}


# ---------------------------------------------------------------------------------------------
# Periods


@dataclass(frozen=True)
class Period:
    name: str
    cutoff: datetime  # when its open filings are judged for 2.1
    today: date
    span: tuple[date, date] | None = None  # a calendar period's first and last day

    def includes(self, day: date) -> bool:
        """Whether a day's counts belong to the period."""
        if self.span is None:
            return in_period(self.name, day, self.today)
        first, last = self.span
        return first <= day <= min(last, self.today)


def in_period(name: str, day: date, today: date) -> bool:
    """Whether a day belongs to a rolling period."""
    if name == "all_time":
        return True
    if day > today:
        return False
    if name == "today":
        return day == today
    if name == "last_7_days":
        return (today - day).days < 7
    if name == "last_30_days":
        return (today - day).days < 30
    if name == "month_to_date":
        return (day.year, day.month) == (today.year, today.month)
    if name == "quarter_to_date":
        return day.year == today.year and (day.month - 1) // 3 == (today.month - 1) // 3
    if name == "year_to_date":
        return day.year == today.year
    raise ValueError(name)


def calendar_spans(today: date) -> dict[str, tuple[date, date]]:
    """The calendar periods named when `today` is as_of's day, newest first within months, quarters
    and years, each with its first and last day (docs/figures.md, "Periods")."""
    spans: dict[str, tuple[date, date]] = {}
    months = today.year * 12 + today.month - 1  # months since year 0
    for back in range(13):
        year, month0 = divmod(months - back, 12)
        following = date(year + (month0 + 1) // 12, (month0 + 1) % 12 + 1, 1)
        spans[f"{year:04d}-{month0 + 1:02d}"] = (date(year, month0 + 1, 1), following - timedelta(days=1))
    quarter = (today.month + 2) // 3
    for year, quarters in ((today.year, range(quarter, 0, -1)), (today.year - 1, range(4, 0, -1))):
        for q in quarters:
            last_month = 3 * q
            last_day = (date(year + 1, 1, 1) if last_month == 12 else date(year, last_month + 1, 1)) \
                - timedelta(days=1)
            spans[f"{year:04d}-Q{q}"] = (date(year, last_month - 2, 1), last_day)
    for year in (today.year, today.year - 1):
        spans[f"{year:04d}"] = (date(year, 1, 1), date(year, 12, 31))
    return spans


def all_periods(as_of: datetime) -> list[Period]:
    """The rolling periods (cutoff as_of), then the calendar ones: cutoff as_of for the one holding
    today, else 00:00 (Ho Chi Minh) of the day after its last day. DECISION 9: a calendar period
    leaves out days after today, as the rolling ones do."""
    today = _local_day(as_of)
    periods = [Period(name, as_of, today) for name in PERIODS]
    for name, (first, last) in calendar_spans(today).items():
        cutoff = as_of if first <= today <= last else datetime.combine(last + timedelta(days=1), time(), HCM)
        periods.append(Period(name, cutoff, today, (first, last)))
    return periods


# ---------------------------------------------------------------------------------------------
# Figures


def _share(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else float(Fraction(numerator, denominator))


def counters(part: Counter[str]) -> dict[str, int]:
    """The counters of a set of facts, in COUNTER_ORDER."""
    f: dict[str, int] = {"received_total": part["received"]}
    for c in CHANNELS:
        f[f"received_{c}"] = part[f"received_{c}"]
    for v in VERDICTS:
        f[f"resolved_{v}"] = part[f"resolved_{v}"]
    f["resolved_total"] = sum(part[f"resolved_{v}"] for v in VERDICTS)
    for r in RETURNS:
        f[f"returned_{r}"] = part[f"returned_{r}"]
    f["returned_total"] = sum(part[f"returned_{r}"] for r in RETURNS)  # DECISION 4: stopped included
    for k in COUNTER_ORDER[COUNTER_ORDER.index("resolution_seconds"):]:
        f[k] = part[k]
    assert list(f) == COUNTER_ORDER
    return f


def period_figures(facts: Facts, walks: Iterable[Walk], period: Period, as_of: datetime) -> dict[str, Any]:
    """One unit's figures for one period: its days' counters, the snapshots, the rates."""
    part: Counter[str] = Counter()
    for (day, fact), amount in facts.items():
        if period.includes(day):
            part[fact] += amount
    f: dict[str, Any] = dict(counters(part))
    pendings = [w.pending for w in walks if w.pending is not None]
    # Press-style: judged at as_of in every period (DECISION 10).
    f["pending_within_due"] = sum(1 for due, marked in pendings if not marked and not as_of > due)
    f["pending_overdue"] = len(pendings) - f["pending_within_due"]
    # 2.1: open filings received in the period, judged at its cutoff.
    open_limits = [w.verdict.limit for w in walks
                   if w.verdict is not None and w.verdict.on_time is None
                   and w.receipt_day is not None and period.includes(w.receipt_day)]
    f["portal_pending_on_time"] = sum(1 for limit in open_limits if period.cutoff <= limit)
    f["portal_pending_overdue"] = len(open_limits) - f["portal_pending_on_time"]
    assert f["received_total"] == (f["portal_on_time"] + f["portal_overdue"] + f["portal_pending_on_time"]
                                   + f["portal_pending_overdue"]), (period.name, f)
    return _with_rates(f)


def _with_rates(f: dict[str, Any]) -> dict[str, Any]:
    """The counters and snapshots `f` (in FIGURE_ORDER) followed by their rates."""
    f["online_rate"] = _share(f["received_online"], f["received_total"])
    f["on_time_rate"] = _share(f["portal_on_time"] + f["portal_pending_on_time"], f["received_total"])
    f["avg_resolution_hours"] = _share(f["resolution_seconds"], f["resolved_total"] * 3600)
    f["online_payment_share"] = _share(f["payment_online"], f["payment_reported"])
    f["digitised_share"] = _share(f["digitised_yes"], f["digitised_reported"])
    assert list(f) == FIGURE_ORDER
    return f


def subtree_periods(records: list[dict[str, Any]],
                    as_of: datetime | None = None) -> dict[str, dict[str, Any]]:
    """The figures of a subtree from its units' records: each counter and snapshot summed, then the
    rates of the sums (docs/figures.md: rates are never averaged). The periods are those of the
    records (the same in each); with `as_of`, those published at as_of, so that a subtree without
    records gets every period, all zeros."""
    if as_of is not None:
        names = [p.name for p in all_periods(as_of)]
    elif records:
        names = list(dict.fromkeys(name for r in records for name in r["periods"]))
    else:
        names = list(PERIODS)
    summed = FIGURE_ORDER[:FIGURE_ORDER.index(RATE_ORDER[0])]
    return {name: _with_rates({c: sum(r["periods"][name][c] for r in records) for c in summed})
            for name in names}


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
        return a is b or (type(a) is type(b) and a == b)
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=RATE_TOLERANCE, abs_tol=0.0)
    return bool(a == b)


def compare(expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]]) -> list[str]:
    """Every (unit, period, figure) that differs, with both values; [] when all agree.

    Compares unit sets, unit_code and every figure of every period, rolling and calendar (a period
    on one side only is a difference); as_of and day are left to the caller (they depend on when the
    records were made).
    """
    out: list[str] = []
    for unit in sorted(expected.keys() | actual.keys()):
        if unit not in actual:
            out.append(f"{unit}: missing (expected a record)")
            continue
        if unit not in expected:
            out.append(f"{unit}: unexpected record")
            continue
        want, got = expected[unit], actual[unit]
        if want.get("unit_code") != got.get("unit_code"):
            out.append(f"{unit}: unit_code expected {want.get('unit_code')!r}, got {got.get('unit_code')!r}")
        want_periods, got_periods = want.get("periods", {}), got.get("periods", {})
        for period in sorted(want_periods.keys() | got_periods.keys(), key=_period_order):
            w, g = want_periods.get(period), got_periods.get(period)
            if w is None or g is None:
                out.append(f"{unit} {period}: {'missing' if g is None else 'unexpected'} period")
                continue
            for figure in sorted(w.keys() | g.keys(), key=_figure_order):
                if figure not in g:
                    out.append(f"{unit} {period} {figure}: missing (expected {w[figure]!r})")
                elif figure not in w:
                    out.append(f"{unit} {period} {figure}: unexpected ({g[figure]!r})")
                elif not _same(w[figure], g[figure]):
                    out.append(f"{unit} {period} {figure}: expected {w[figure]!r}, got {g[figure]!r}")
    return out


def compare_days(expected: dict[str, dict[str, int]], actual: dict[str, dict[str, Any]]) -> list[str]:
    """Differences between the oracle's day counters and `unit-days` records; a published day the
    oracle has no fact for must be all zeros."""
    differences = []
    for key, counts in sorted(expected.items()):
        got = actual.get(key)
        if got is None:
            differences.append(f"{key}: missing (expected a record)")
            continue
        differences.extend(f"{key} {name}: expected {value}, got {got.get(name)}"
                           for name, value in counts.items() if got.get(name) != value)
    for key in sorted(actual.keys() - expected.keys()):
        if any(actual[key].get(name) for name in COUNTER_ORDER):
            differences.append(f"{key}: counts where the oracle has none")
    return differences


def _period_order(name: str) -> tuple[int, str]:
    # Rolling periods first, then calendar ones (months, quarters, years), newest first.
    if name in PERIODS:
        return (PERIODS.index(name), "")
    kind = 1 if "-Q" in name else (0 if "-" in name else 2)
    return (len(PERIODS) + kind, "".join(chr(0x10FFFF - ord(c)) for c in name))


def _figure_order(name: str) -> tuple[int, str]:
    return (FIGURE_ORDER.index(name) if name in FIGURE_ORDER else len(FIGURE_ORDER), name)


# ---------------------------------------------------------------------------------------------
# The filings behind 2.1 (docs/figures.md, "The filings behind a figure")


def next_working_day_end(as_of: datetime) -> datetime:
    """00:00 (Ho Chi Minh) after the first Monday-to-Friday day after as_of's day."""
    day = _local_day(as_of) + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day + timedelta(days=1), time(), HCM)


def _days_over(over: timedelta | None) -> int | None:
    if over is None:
        return None
    return max(0, math.ceil(over / timedelta(days=1)))


def _listed(filing_id: str, walk: Walk, over: timedelta | None, reason: str | None) -> dict[str, Any]:
    assert walk.verdict is not None and walk.received_at is not None
    return {"filing_id": filing_id, "procedure_code": walk.procedure,
            "received_at": walk.received_at, "due_at": walk.verdict.limit,
            "days_over": _days_over(over), "reason": reason, "over": over}


def _by_most_over(item: dict[str, Any]) -> tuple[int, timedelta, str]:
    over = item["over"]
    return (1, timedelta(0), item["filing_id"]) if over is None else (0, -over, item["filing_id"])


def filing_lists(walks: dict[str, Walk], periods: list[Period], as_of: datetime) -> dict[str, Any]:
    """One unit's lists, every filing in them, most overdue first (ties by filing id): the open
    filings past due at as_of, the open ones due from as_of to the end of the next working day
    (earliest due first), and per period but all_time the filings 2.1 counts overdue: late by their
    own events (past due, or two supplement requests) or open and past due at the period's cutoff."""
    received = {fid: w for fid, w in walks.items() if w.verdict is not None}
    opened = {fid: w for fid, w in received.items() if w.verdict.on_time is None}  # type: ignore[union-attr]
    overdue = [_listed(fid, w, as_of - w.verdict.limit, "open_past_due")  # type: ignore[union-attr]
               for fid, w in opened.items() if as_of > w.verdict.limit]  # type: ignore[union-attr]
    until = next_working_day_end(as_of)
    soon = sorted(((w.verdict.limit, fid, w) for fid, w in opened.items()  # type: ignore[union-attr]
                   if as_of <= w.verdict.limit < until), key=lambda x: (x[0], x[1]))  # type: ignore[union-attr]
    late: dict[str, Any] = {}
    for period in periods:
        if period.name == "all_time":
            continue
        items = []
        for fid, w in received.items():
            v = w.verdict
            assert v is not None and w.receipt_day is not None
            if not period.includes(w.receipt_day):
                continue
            if v.on_time is False:
                over = None if v.end is None else v.end - v.limit
                reason = "second_supplement_request" if v.requests >= 2 else "past_due"
                items.append(_listed(fid, w, over, reason))
            elif v.on_time is None and period.cutoff > v.limit:
                items.append(_listed(fid, w, period.cutoff - v.limit, "open_past_due"))
        late[period.name] = sorted(items, key=_by_most_over)
    return {
        "overdue_now": sorted(overdue, key=_by_most_over),
        "due_soon": [{**_listed(fid, w, None, None), "hours_left": (limit - as_of) // timedelta(hours=1)}
                     for limit, fid, w in soon],
        "due_soon_until": until,
        "late": late,
    }


def _ms(moment: datetime) -> str:
    """An instant as the records write it: Ho Chi Minh time, milliseconds truncated."""
    local = moment.astimezone(HCM)
    return local.replace(microsecond=local.microsecond // 1000 * 1000).isoformat(timespec="milliseconds")


def _shown(item: dict[str, Any]) -> dict[str, Any]:
    shown = {"filing_id": item["filing_id"], "procedure_code": item["procedure_code"],
             "received_at": _ms(item["received_at"]), "due_at": _ms(item["due_at"]),
             "days_over": item["days_over"], "reason": item["reason"]}
    if "hours_left" in item:
        shown["hours_left"] = item["hours_left"]
    return shown


def compare_filings(expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]],
                    bound: int) -> list[str]:
    """Differences between the oracle's lists (`OracleResult.filings`) and `unit-filings` records:
    each list's count, and its first `bound` filings, filing by filing."""
    out: list[str] = []
    for unit, lists in sorted(expected.items()):
        record = actual.get(unit)
        if record is None:
            out.append(f"{unit}: no record")
            continue
        pairs = [("overdue_now", lists["overdue_now"], record["overdue_now"]),
                 ("due_soon", lists["due_soon"], record["due_soon"]),
                 *((f"late.{name}", items, record["late"].get(name, {"count": None, "filings": []}))
                   for name, items in lists["late"].items())]
        until = _ms(lists["due_soon_until"])
        if record["due_soon"]["until"] != until:
            out.append(f"{unit} due_soon until: {record['due_soon']['until']} != {until}")
        for name, items, got in pairs:
            if got["count"] != len(items):
                out.append(f"{unit} {name} count: {got['count']} != {len(items)}")
            want = [_shown(item) for item in items[:bound]]
            have = [{k: v for k, v in item.items() if k in want[0]} for item in got["filings"]] if want else \
                got["filings"]
            if have != want:
                first = next((i for i, (a, b) in enumerate(zip(have, want, strict=False)) if a != b),
                             min(len(have), len(want)))
                out.append(f"{unit} {name} differs at {first}: "
                           f"{have[first] if first < len(have) else None} != "
                           f"{want[first] if first < len(want) else None}")
    return out

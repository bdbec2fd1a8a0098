"""The test oracle: every unit's figures recomputed in one batch from an NDJSON event log.

Written again from docs/figures.md, on purpose sharing no code (and no representation) with
services/aggregator: events stay JSON objects, times are aware `datetime`s, days are `date`s in the
Asia/Ho_Chi_Minh zone of the tz database, each filing's whole history is sorted and walked once,
and totals are derived from their parts instead of being counted. Slow and plain; that is the point.

The model is "every line arrives at `as_of`": a line is skipped when it is not JSON, not valid
against schemas/filing-event.v1.json (Draft 2020-12, formats checked), outside the bounds the
contract puts on instants (`out_of_bounds`: before 2000-01-01 in Vietnam, occurred_at more than a
day after `as_of`, a submitted event's due_at more than 1,098 days after its occurred_at), or
older than the retention window before `as_of` (`too_late`). A unit appears in the result as soon
as one of its events is accepted, even if none of them counts anything (a held filing).
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jsonschema import Draft202012Validator

from tests.support.paths import SCHEMA

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
RANK = {"submitted": 0, "overdue": 1, "processed": 2, "returned": 3}
PERIODS = ["today", "last_7_days", "last_30_days", "month_to_date", "quarter_to_date", "year_to_date",
           "all_time"]
CHANNELS = ["online", "in_person", "postal"]
VERDICTS = ["early", "on_time", "late"]
REASONS = ["rejected", "supplement_requested", "withdrawn"]
FIGURE_ORDER = [
    "received_total", *(f"received_{c}" for c in CHANNELS),
    *(f"resolved_{v}" for v in VERDICTS), "resolved_total",
    *(f"returned_{r}" for r in REASONS), "returned_total",
    "resolution_seconds", "payment_reported", "payment_online", "digitised_reported", "digitised_yes",
    "pending_within_due", "pending_overdue",
    "online_rate", "on_time_rate", "avg_resolution_hours", "online_payment_share", "digitised_share",
]
COUNTER_COUNT = FIGURE_ORDER.index("pending_within_due")
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


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


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


def recompute(path: str | Path, as_of: datetime, retention_days: int = 400) -> OracleResult:
    """Every unit's unit-figures record for the events in the NDJSON file at `path`."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    validator = _validator()
    cutoff = as_of - timedelta(days=retention_days)
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
            if not validator.is_valid(event):
                result.skipped["invalid"] += 1
                continue
            if not _within_bounds(event, as_of):
                result.skipped["out_of_bounds"] += 1
                result.refused.append((event["event_id"], "bounds"))
                continue
            if datetime.fromisoformat(event["occurred_at"]) < cutoff:
                result.skipped["too_late"] += 1
                result.refused.append((event["event_id"], "too_late"))
                continue
            result.accepted += 1
            seen = histories[event["unit_code"]][event["filing_id"]]
            if event["event_id"] in seen:
                result.duplicates += 1
            else:
                seen[event["event_id"]] = event

    today = as_of.astimezone(HCM).date()
    for unit_code, filings in histories.items():
        facts: Facts = Counter()
        pendings: list[tuple[datetime, bool]] = []
        for events in filings.values():
            filing_facts, pending = walk_filing(list(events.values()))
            facts.update(filing_facts)
            if pending is not None:
                pendings.append(pending)
        within = sum(1 for due, marked in pendings if not marked and not as_of > due)
        overdue = len(pendings) - within
        result.units[unit_code] = {
            "unit_code": unit_code,
            "as_of": as_of.astimezone(HCM).isoformat(timespec="milliseconds"),
            "day": today.isoformat(),
            "periods": {name: period_figures(facts, name, today, within, overdue) for name in PERIODS},
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
    occurred = datetime.fromisoformat(event["occurred_at"])
    if occurred < EARLIEST or occurred - as_of > timedelta(days=1):
        return False
    if event["event_type"] != "submitted":
        return True
    due = datetime.fromisoformat(event["due_at"])
    return not (due < EARLIEST or due - occurred > timedelta(days=3 * 366))


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _local_day(moment: datetime) -> date:
    return moment.astimezone(HCM).date()


def walk_filing(events: list[dict[str, Any]]) -> tuple[Facts, tuple[datetime, bool] | None]:
    """One filing's facts (day, fact) -> amount and its pending snapshot (due, marked) or None.

    Facts are the parts (received_<channel>, resolved_<verdict>, returned_<reason>,
    resolution_seconds, payment_*, digitised_*); totals are derived later.
    """
    facts: Facts = Counter()
    submissions = [e for e in events if e["event_type"] == "submitted"]
    if not submissions:
        return facts, None  # held: counted only once its submission arrives
    first = min(submissions, key=lambda e: (_instant(e["occurred_at"]), e["event_id"]))
    start = _instant(first["occurred_at"])

    def when(e: dict[str, Any]) -> datetime:
        moment = _instant(e["occurred_at"])
        # Clamping: nothing but a submission happens before the first submission.
        return moment if e["event_type"] == "submitted" or moment >= start else start

    history = sorted(events, key=lambda e: (when(e), RANK[e["event_type"]], e["event_id"]))

    status = "none"
    due = start
    marked = False
    for e in history:
        kind, moment = e["event_type"], when(e)
        if kind == "submitted" and status == "none":
            status, due, marked = "pending", _instant(e["due_at"]), False
            facts[_local_day(moment), f"received_{e['channel']}"] += 1
        elif kind == "submitted" and status == "paused":
            status, due, marked = "pending", _instant(e["due_at"]), False
        elif kind == "overdue" and status == "pending":
            marked = True
        elif kind == "processed" and status == "pending":
            day, due_day = _local_day(moment), _local_day(due)
            if marked or moment > due:
                verdict = "late"
            elif day < due_day:
                verdict = "early"
            else:
                verdict = "on_time"
            facts[day, f"resolved_{verdict}"] += 1
            facts[day, "resolution_seconds"] += (moment - start) // timedelta(seconds=1)
            status = "closed"
        elif kind == "returned" and status == "pending":
            facts[_local_day(moment), f"returned_{e['reason']}"] += 1
            status = "paused" if e["reason"] == "supplement_requested" else "closed"

    received_day = _local_day(start)
    for flag, reported, yes in (("online_payment", "payment_reported", "payment_online"),
                                ("digitised", "digitised_reported", "digitised_yes")):
        carried = [e[flag] for e in history if flag in e]
        if carried:
            facts[received_day, reported] += 1
            facts[received_day, yes] += 1 if carried[-1] is True else 0
    return facts, ((due, marked) if status == "pending" else None)


def in_period(name: str, day: date, today: date) -> bool:
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


def _share(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else float(Fraction(numerator, denominator))


def counters(part: Counter[str]) -> dict[str, int]:
    """The counters of a set of facts, in FIGURE_ORDER."""
    f: dict[str, int] = {}
    f["received_total"] = sum(part[f"received_{c}"] for c in CHANNELS)
    for c in CHANNELS:
        f[f"received_{c}"] = part[f"received_{c}"]
    for v in VERDICTS:
        f[f"resolved_{v}"] = part[f"resolved_{v}"]
    f["resolved_total"] = sum(part[f"resolved_{v}"] for v in VERDICTS)
    for r in REASONS:
        f[f"returned_{r}"] = part[f"returned_{r}"]
    f["returned_total"] = sum(part[f"returned_{r}"] for r in REASONS)
    for k in ("resolution_seconds", "payment_reported", "payment_online", "digitised_reported",
              "digitised_yes"):
        f[k] = part[k]
    return f


def period_figures(facts: Facts, name: str, today: date,
                   within: int, overdue: int) -> dict[str, Any]:
    part: Counter[str] = Counter()
    for (day, fact), amount in facts.items():
        if in_period(name, day, today):
            part[fact] += amount
    f: dict[str, Any] = dict(counters(part))
    f["pending_within_due"] = within
    f["pending_overdue"] = overdue
    return _with_rates(f)


def _with_rates(f: dict[str, Any]) -> dict[str, Any]:
    """The counters `f` (in FIGURE_ORDER) followed by their rates."""
    in_time = f["resolved_early"] + f["resolved_on_time"] + f["returned_total"] + f["pending_within_due"]
    handled = f["resolved_total"] + f["returned_total"] + f["pending_within_due"] + f["pending_overdue"]
    f["online_rate"] = _share(f["received_online"], f["received_total"])
    f["on_time_rate"] = _share(in_time, handled)
    f["avg_resolution_hours"] = _share(f["resolution_seconds"], f["resolved_total"] * 3600)
    f["online_payment_share"] = _share(f["payment_online"], f["payment_reported"])
    f["digitised_share"] = _share(f["digitised_yes"], f["digitised_reported"])
    assert list(f) == FIGURE_ORDER
    return f


def subtree_periods(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The figures of a subtree from its units' records: each counter summed, then the rates of the
    sums (docs/figures.md: rates are never averaged)."""
    counters = FIGURE_ORDER[:FIGURE_ORDER.index("online_rate")]
    return {name: _with_rates({c: sum(r["periods"][name][c] for r in records) for c in counters})
            for name in PERIODS}


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

    Compares unit sets, unit_code and every figure of every period; as_of and day are left to
    the caller (they depend on when the records were made).
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
        if any(actual[key].get(name) for name in FIGURE_ORDER[:COUNTER_COUNT]):
            differences.append(f"{key}: counts where the oracle has none")
    return differences


def _period_order(name: str) -> tuple[int, str]:
    return (PERIODS.index(name) if name in PERIODS else len(PERIODS), name)


def _figure_order(name: str) -> tuple[int, str]:
    return (FIGURE_ORDER.index(name) if name in FIGURE_ORDER else len(FIGURE_ORDER), name)

"""Properties of the counting logic over generated event sets (hypothesis), without a broker.

1. Any permutation and any duplication of the events (several filings, several units) applied
   one by one through add_event / contribution / delta / UnitState gives the same final figures
   as applying each distinct event once in canonical order; every counter and snapshot of every
   period (Decision 766's included) is additive over units.
2. The same logic fed from an NDJSON log equals tests/support/oracle.py, the independent batch
   recomputation, on every figure of every unit (junk lines and too-old events included).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.aggregator.figures import KeptPeriods, figures, figures_json
from services.aggregator.hcm_time import parse_instant
from services.aggregator.rules import (
    EMPTY_FILING,
    EVENT_TYPES,
    FilingState,
    Fold,
    contribution,
    delta,
    event_from_json,
    fold_of,
    is_too_late,
    net,
    step,
)
from services.aggregator.unit_state import UnitState
from services.contract.event_bounds import bound_errors
from services.contract.event_validation import EventValidator, Valid, default_validator
from services.contract.figures import COUNTERS, SNAPSHOTS
from tests.support.oracle import compare, recompute

AS_OF = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)  # 23:30 in Ho Chi Minh, last day of a quarter
RETENTION_DAYS = 400
OFFSETS = [timedelta(0), timedelta(hours=7), timedelta(hours=-5, minutes=-30), timedelta(hours=9)]


def render(moment: datetime, offset: timedelta, digits: int) -> str:
    """RFC 3339 text of `moment` at `offset`, with `digits` fractional digits (7 to 9: noise past
    the microsecond, which must be dropped); UTC is written Z or +00:00."""
    local = moment.astimezone(timezone(offset))
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{local.microsecond:06d}987"[:digits]
    if offset == timedelta(0) and digits % 2:
        return text + "Z"
    sign = "-" if offset < timedelta(0) else "+"
    hours, rest = divmod(abs(int(offset.total_seconds())), 3600)
    return f"{text}{sign}{hours:02d}:{rest // 60:02d}"


# Filings start on a coarse grid around the end of March so that month and quarter boundaries and
# events after as_of happen often; a filing's events and due times fall within a few days of its
# start, on an hourly grid, so that ties, same-day resolutions and Ho Chi Minh day boundaries do too.
starts = st.one_of(
    st.integers(-24 * 40, 24 * 3).map(lambda h: AS_OF + timedelta(hours=h - h % 5)),
    st.just(AS_OF - timedelta(days=RETENTION_DAYS + 2)),  # events around the retention limit
)
micros = st.sampled_from([0, 0, 0, 1, 999_999, 500_000])
flags = st.sampled_from([None, None, True, False])
fraction_digits = st.sampled_from([0, 0, 3, 6, 9])
reasons = st.sampled_from(["rejected", "supplement_requested", "withdrawn"])
KINDS = ["submitted", "submitted", "overdue", "processed", "processed", "returned", "returned"]
# Lifecycles worth seeing often, in time order; random extra events are mixed in.
SCRIPTS = [
    ["submitted", "processed"],
    ["submitted", "overdue", "processed"],
    ["submitted", "returned:supplement_requested", "submitted", "processed"],
    ["submitted", "overdue", "returned:supplement_requested", "submitted", "processed"],
    ["submitted", "returned:supplement_requested", "submitted", "returned:supplement_requested",
     "submitted", "overdue"],
]
# Schema v2: its own event types, every Decision 766 flag, the statutory maximum.
KINDS_V2 = ["submitted", "submitted", "supplement_requested", "supplement_completed", "processed",
            "result_returned", "stopped", "rejected", "withdrawn", "overdue", "updated"]
SCRIPTS_V2 = [
    ["submitted", "processed", "result_returned", "updated"],
    ["submitted", "supplement_requested", "supplement_completed", "processed"],
    ["submitted", "supplement_requested", "supplement_completed", "supplement_requested",
     "supplement_completed", "result_returned"],
    ["submitted", "supplement_requested", "withdrawn"],
    ["submitted", "supplement_requested"],
    ["submitted", "stopped", "rejected", "updated"],
]
FLAGS_V1 = ("online_payment", "digitised")
FLAGS_V2 = (*FLAGS_V1, "fee_due", "electronic_result", "paper_result", "data_reused", "personal_store",
            "population_db", "full_online_service", "full_online_eligible", "satisfied")


@st.composite
def filing_events(draw: st.DrawFn, unit: str, filing: str) -> list[dict[str, Any]]:
    start = draw(starts)
    version = draw(st.sampled_from([1, 2]))
    kinds_of, scripts_of = (KINDS, SCRIPTS) if version == 1 else (KINDS_V2, SCRIPTS_V2)
    kinds = draw(st.one_of(
        st.lists(st.sampled_from(kinds_of), min_size=1, max_size=6),
        st.builds(lambda script, extra: script + extra, st.sampled_from(scripts_of),
                  st.lists(st.sampled_from(kinds_of), max_size=2)),
    ))
    hours = sorted(draw(st.lists(st.integers(-6, 96), min_size=len(kinds), max_size=len(kinds))))
    events = []
    for i, (kind, hour) in enumerate(zip(kinds, hours, strict=True)):
        kind, _, reason = kind.partition(":")
        moment = start + timedelta(hours=hour, microseconds=draw(micros))
        event: dict[str, Any] = {
            # The letter makes event_id order differ from generation order (it breaks ties).
            "event_id": f"{draw(st.sampled_from('abc'))}{unit}.{filing}.{i}",
            "event_type": kind, "filing_id": filing, "unit_code": unit,
            "occurred_at": render(moment, draw(st.sampled_from(OFFSETS)), draw(fraction_digits)),
            "source": "hypothesis",
        }
        if version == 2:
            event["schema_version"] = 2
        due = moment + timedelta(hours=draw(st.integers(-2, 72)), minutes=draw(st.sampled_from([0, 30])))
        if kind == "submitted":
            event.update(channel=draw(st.sampled_from(["online", "in_person", "postal"])),
                         procedure_code="1.000001")
            if version == 1 or draw(st.booleans()):
                event["due_at"] = render(due, timedelta(hours=7), 0)
            else:
                event["statutory_max_hours"] = draw(st.integers(1, 72))
        if kind == "supplement_completed" and draw(st.booleans()):
            event["due_at"] = render(due, timedelta(hours=7), 0)
        if kind == "returned":
            event["reason"] = reason or draw(reasons)
        for name in FLAGS_V1 if version == 1 else FLAGS_V2:
            value = draw(flags)
            if value is not None:
                event[name] = value
        if version == 2 and draw(st.integers(0, 9)) == 0:
            event["online_payment_via"] = draw(st.sampled_from(["national_portal", "provincial_gateway"]))
        events.append(event)
    return events


@st.composite
def event_sets(draw: st.DrawFn) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for u in range(draw(st.integers(1, 3))):
        for f in range(draw(st.integers(1, 4))):
            # The same filing_id in two units is two filings.
            events.extend(draw(filing_events(f"U{u}", f"F{f}")))
    return events


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the distinct events, a delivery of them: shuffled, some several times)."""
    events = draw(event_sets())
    again = draw(st.lists(st.sampled_from(range(len(events))), max_size=len(events)))
    delivered = draw(st.permutations(events + [events[i] for i in again]))
    return events, delivered


def canonical(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def rank(e: dict[str, Any]) -> int:
        return EVENT_TYPES.index(e["reason"] if e["event_type"] == "returned" else e["event_type"])
    return sorted(events, key=lambda e: (datetime.fromisoformat(e["occurred_at"]), rank(e), e["event_id"]))


class Aggregator:
    """The pure logic wired as the aggregator wires it, minus Kafka."""

    def __init__(self) -> None:
        self.filings: dict[tuple[str, str], FilingState] = {}
        self.folds: dict[tuple[str, str], Fold | None] = {}
        self.units: dict[str, UnitState] = {}

    def feed(self, obj: dict[str, Any], now_us: int | None = None) -> None:
        event = event_from_json(obj)
        # As the packer does: refused when out of the contract's bounds or past retention at now_us.
        if now_us is not None and (bound_errors(event.occurred_at, event.due_at, now_us)
                                   or is_too_late(event.occurred_at, now_us, RETENTION_DAYS)):
            return
        unit = self.units.setdefault(event.unit_code, UnitState())
        key = (event.unit_code, event.filing_id)
        old = self.filings.get(key, EMPTY_FILING)
        # The fold kept from the previous step, as the engine keeps it with the filing's record.
        new, change, fold = step(old, event, self.folds.get(key))
        if change is not None:
            # step's shortcut for an event that comes last is the general delta, exactly, and the
            # fold it keeps is the new state's.
            general = delta(contribution(old), contribution(new))
            # (step's change has Delta's fields in order, as a plain tuple: rules.Delta says why.)
            assert net(change[0]) == net(general.counts) and change[1:] == general[1:]
            assert fold == fold_of(contribution(new))
            self.filings[key] = new
            self.folds[key] = fold
            unit.apply(change)

    def records(self, now: datetime) -> dict[str, dict[str, Any]]:
        return {code: figures(code, unit, now.timestamp()) for code, unit in self.units.items()}

    def days(self) -> dict[str, dict[int, list[int]]]:
        return {code: {d: r for d, r in unit.days.items() if any(r)} for code, unit in self.units.items()}


@settings(max_examples=300, deadline=None)
@given(deliveries())
def test_any_order_and_duplication_give_the_canonical_figures(delivery: tuple[list, list]) -> None:
    events, delivered = delivery
    in_order, any_order = Aggregator(), Aggregator()
    for event in canonical(events):
        in_order.feed(event)
    for event in delivered:
        any_order.feed(event)
    assert any_order.filings == in_order.filings
    assert any_order.days() == in_order.days()
    for now in (AS_OF, AS_OF + timedelta(days=2, microseconds=1)):
        assert any_order.records(now) == in_order.records(now)


@settings(max_examples=150, deadline=None)
@given(deliveries(), st.lists(st.integers(-86400 * 10**6, 3 * 86400 * 10**6), min_size=1, max_size=5))
def test_a_record_encoded_from_its_last_periods_equals_one_built_afresh(delivery: tuple[list, list],
                                                                        later_us: list[int]) -> None:
    """The publisher encodes each unit's record reusing the periods that did not change since its
    last one (figures_json): after any event and at any later instant (the day, the month and the
    quarter rolling past AS_OF), the record is the one built from nothing."""
    _events, delivered = delivery
    aggregator = Aggregator()
    kept: dict[str, KeptPeriods] = {}
    # Just past each due date too, where a filing still open turns overdue.
    dues = sorted({datetime.fromisoformat(e["due_at"]) for e in delivered if e.get("due_at")})[:4]
    instants = sorted([*(AS_OF + timedelta(microseconds=us) for us in later_us),
                       *(due + timedelta(microseconds=1) for due in dues)])
    # After each event at one of the instants, then at each in turn with no event between: the
    # clock alone moves open filings past their due dates, and the periods with them.
    steps = [(event, instants[position % len(instants)]) for position, event in enumerate(delivered)]
    for event, moment in [*steps, *((None, moment) for moment in instants)]:
        if event is not None:
            aggregator.feed(event)
        now = moment.timestamp()
        for code, unit in aggregator.units.items():
            encoded, overdue = figures_json(code, unit, now, kept.setdefault(code, {}))
            record = figures(code, unit, now)
            assert orjson.loads(encoded) == record
            everything = record["periods"]["all_time"]
            assert overdue == (everything["pending_overdue"], everything["portal_pending_overdue"])


@cache
def _validator() -> EventValidator:
    return default_validator()  # what the packer checks with: every version of the contract


JUNK = [b"{not json", b'"just a string"', b"[]", b"",
        b'{"event_id": "x", "event_type": "processed"}',  # required fields missing
        b'{"event_id": "j1", "event_type": "processed", "filing_id": "F0", "unit_code": "U0", '
        b'"occurred_at": "2026-02-30T10:00:00+07:00", "source": "s"}']  # no such date


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries(), st.lists(st.sampled_from(JUNK), max_size=3))
def test_streaming_logic_equals_the_batch_oracle(delivery: tuple[list, list], junk: list[bytes]) -> None:
    _events, delivered = delivery
    lines = [orjson.dumps(e) for e in delivered] + junk
    aggregator = Aggregator()
    now_us = parse_instant(AS_OF.isoformat())
    for line in lines:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(_validator().validate(obj), Valid):
            aggregator.feed(obj, now_us)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.ndjson"
        path.write_bytes(b"\n".join(lines) + b"\n")
        expected = recompute(path, AS_OF, RETENTION_DAYS)
    actual = aggregator.records(AS_OF)
    assert compare(expected.units, actual) == []
    for code, record in actual.items():
        oracle = expected.units[code]
        assert (record["as_of"], record["day"]) == (oracle["as_of"], oracle["day"])
    assert sum(expected.skipped.values()) + expected.accepted == len(lines)


@settings(max_examples=150, deadline=None)
@given(deliveries())
def test_a_subtree_counts_what_its_units_count(delivery: tuple[list, list]) -> None:
    """Every counter and snapshot of every period is additive: the units' records summed equal the
    record of one unit holding all their filings, so a rollup (the API's, the portal's parent row)
    sums counts and scores the sums."""
    _events, delivered = delivery
    units, together = Aggregator(), Aggregator()
    for event in delivered:
        units.feed(event)
        # The same filing under one unit: its filing id keeps it apart from the other units' filings.
        together.feed({**event, "unit_code": "ALL",
                       "filing_id": f"{event['unit_code']}.{event['filing_id']}"})
    for now in (AS_OF, AS_OF + timedelta(days=40)):
        records = units.records(now)
        whole = together.records(now)["ALL"]["periods"]
        for period, figures_of_all in whole.items():
            for name in (*COUNTERS, *SNAPSHOTS):
                assert sum(r["periods"][period][name] for r in records.values()) == figures_of_all[name], \
                    (period, name)

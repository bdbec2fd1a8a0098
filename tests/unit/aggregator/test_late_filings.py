"""The filings behind 2.1 (late_filings.py): each filing's entry, the ledger's lists, and the
engine's records equal to the oracle's lists, filing by filing."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.aggregator import late_filings
from services.aggregator.engine import Engine, Unit
from services.aggregator.hcm_time import DAY_US, day_from_iso, instant_us
from services.aggregator.late_filings import (
    LATE,
    OPEN,
    PAST_DUE,
    SECOND_REQUEST,
    FilingLedger,
    days_over,
    entry_of,
    next_working_day_end,
)
from services.aggregator.portal_rules import PortalFiling, start
from services.aggregator.rules import event_from_json
from services.simulator.delivery import DeliveryRates
from services.simulator.feed import FeedConfig, generate
from services.simulator.ndjson_file import write_file
from tests.support.oracle import compare_filings, recompute

HOUR = 3_600_000_000
T0 = instant_us(datetime.fromisoformat("2026-11-02T09:00:00+07:00"))


def portal(**changes: Any) -> PortalFiling:
    return start(T0, 0, T0 + 48 * HOUR, 0)._replace(**changes)


def test_an_open_filing_is_kept_with_its_effective_due() -> None:
    assert entry_of(portal(), (1, T0 + 50 * HOUR), "1.1") == (OPEN, T0, T0 + 50 * HOUR, None, None, "1.1")


def test_a_filing_ended_after_its_due_is_late_by_the_time_past_it() -> None:
    ended = portal(end_rank=0, end_at=T0 + 50 * HOUR)
    assert entry_of(ended, None, "1.1") == (LATE, T0, T0 + 48 * HOUR, 2 * HOUR, PAST_DUE, "1.1")


def test_supplement_time_moves_the_due_date_it_is_judged_against() -> None:
    answered = portal(requests=1, paused_total=3 * HOUR, end_rank=0, end_at=T0 + 50 * HOUR)
    assert entry_of(answered, None, None) is None  # 50 h − 3 h ≤ 48 h: on time
    later = answered._replace(end_at=T0 + 52 * HOUR)
    assert entry_of(later, None, None) == (LATE, T0, T0 + 51 * HOUR, HOUR, PAST_DUE, None)


def test_two_supplement_requests_make_it_late_against_its_first_due_date() -> None:
    early = portal(requests=2, open_request_at=T0 + HOUR)
    assert entry_of(early, None, "P") == (LATE, T0, T0 + 48 * HOUR, -47 * HOUR, SECOND_REQUEST, "P")
    completed_no_end = portal(requests=2, paused_total=HOUR)
    assert entry_of(completed_no_end, None, "P") == (LATE, T0, T0 + 48 * HOUR, None, SECOND_REQUEST, "P")


def test_on_time_and_held_filings_have_no_entry() -> None:
    assert entry_of(portal(end_rank=0, end_at=T0 + 48 * HOUR), None, None) is None
    assert entry_of(None, None, None) is None


def test_a_periods_list_is_made_again_only_when_its_months_or_cutoff_change() -> None:
    ledger = FilingLedger()
    october = T0 - 30 * DAY_US  # received in October, ended late
    ledger.put("OCT-1", (LATE, october, october + 48 * HOUR, HOUR, PAST_DUE, "P"))
    ledger.put("NOV-1", (OPEN, T0, T0 + 48 * HOUR, None, None, "P"))
    now = T0 + 60 * HOUR
    first = late_filings.filings_record("U", ledger, now, late_filings.spans(now))
    ledger.put("NOV-2", (OPEN, T0, T0 + 49 * HOUR, None, None, "P"))  # November changes, October not
    second = late_filings.filings_record("U", ledger, now, late_filings.spans(now))
    assert second["late"]["2026-10"] is first["late"]["2026-10"]  # kept, not made again
    assert second["late"]["2026-11"]["count"] == first["late"]["2026-11"]["count"] + 1
    ledger.put("OCT-2", (LATE, october, october + 48 * HOUR, 2 * HOUR, PAST_DUE, "P"))
    third = late_filings.filings_record("U", ledger, now, late_filings.spans(now))
    assert [f["filing_id"] for f in third["late"]["2026-10"]["filings"]] == ["OCT-2", "OCT-1"]
    later = now + HOUR  # a current period's cutoff moves: made again; a past one's does not
    fourth = late_filings.filings_record("U", ledger, later, late_filings.spans(later))
    assert fourth["late"]["2026-10"] is third["late"]["2026-10"]
    assert fourth["late"]["month_to_date"] is not third["late"]["month_to_date"]


def test_days_over_round_up_and_never_go_below_zero() -> None:
    assert [days_over(x) for x in (1, DAY_US, DAY_US + 1, -5, None)] == [1, 1, 2, 0, None]


def test_the_next_working_day_skips_the_weekend() -> None:
    friday = instant_us(datetime.fromisoformat("2026-11-20T10:00:00+07:00"))
    tuesday_start = instant_us(datetime.fromisoformat("2026-11-24T00:00:00+07:00"))
    assert next_working_day_end(friday) == tuesday_start
    monday = instant_us(datetime.fromisoformat("2026-11-23T23:59:00+07:00"))
    assert next_working_day_end(monday) == instant_us(datetime.fromisoformat("2026-11-25T00:00:00+07:00"))


def test_the_ledger_sets_replaces_and_drops_entries() -> None:
    ledger = FilingLedger()
    ledger.put("A", (OPEN, T0, T0 + 48 * HOUR, None, None, "1"))
    ledger.put("A", (LATE, T0, T0 + 48 * HOUR, HOUR, PAST_DUE, "1"))
    assert ledger.get("A") == (LATE, T0, T0 + 48 * HOUR, HOUR, PAST_DUE, "1")
    moved = T0 - 40 * 24 * HOUR  # an earlier submission arrived: another receipt month
    ledger.put("A", (OPEN, moved, moved + HOUR, None, None, "1"))
    assert len(ledger) == 1 and ledger.get("A")[1] == moved  # type: ignore[index]
    ledger.put("A", None)
    assert len(ledger) == 0 and ledger.get("A") is None


def test_late_entries_before_january_of_last_year_are_dropped_open_ones_kept() -> None:
    ledger = FilingLedger()
    old = instant_us(datetime.fromisoformat("2024-12-31T10:00:00+07:00"))
    kept = instant_us(datetime.fromisoformat("2025-01-01T10:00:00+07:00"))
    ledger.put("old-late", (LATE, old, old + HOUR, HOUR, PAST_DUE, None))
    ledger.put("old-open", (OPEN, old, old + HOUR, None, None, None))
    ledger.put("kept-late", (LATE, kept, kept + HOUR, HOUR, PAST_DUE, None))
    ledger.prune(day_from_iso("2026-11-23"))
    assert (ledger.get("old-late"), len(ledger)) == (None, 2)


def test_a_period_lists_late_and_open_past_due_filings_most_overdue_first() -> None:
    ledger = FilingLedger()
    day = (T0 + late_filings.DAY_SHIFT_US) // DAY_US
    ledger.put("late-1h", (LATE, T0, T0 + HOUR, HOUR, PAST_DUE, None))
    ledger.put("two-requests", (LATE, T0, T0 + HOUR, None, SECOND_REQUEST, None))
    ledger.put("open-3h", (OPEN, T0, T0 + 2 * HOUR, None, None, None))
    ledger.put("open-not-yet", (OPEN, T0, T0 + 10 * HOUR, None, None, None))
    earlier = T0 - 24 * HOUR  # the day before: outside a one-day period
    ledger.put("yesterday", (LATE, earlier, earlier + HOUR, 9 * HOUR, PAST_DUE, None))
    count, found = ledger.late_in(day, day, T0 + 5 * HOUR)
    assert count == 3
    assert [(over, filing_id) for over, filing_id, _ in found] == [
        (3 * HOUR, "open-3h"), (HOUR, "late-1h"), (None, "two-requests")]
    count, found = ledger.overdue_now(T0 + 5 * HOUR)
    assert (count, [f for _, f, _ in found]) == (1, ["open-3h"])
    count, found = ledger.due_soon(T0 + 5 * HOUR, T0 + 11 * HOUR)
    assert (count, [f for _, f, _ in found]) == (1, ["open-not-yet"])


def test_a_list_holds_at_most_the_bound_and_counts_them_all() -> None:
    ledger = FilingLedger()
    for i in range(late_filings.LIST_BOUND + 5):
        ledger.put(f"F{i:04d}", (OPEN, T0, T0 + i, None, None, None))
    count, found = ledger.overdue_now(T0 + 10 * HOUR)
    assert count == late_filings.LIST_BOUND + 5 and len(found) == late_filings.LIST_BOUND
    assert found[0][1] == "F0000"  # the earliest due: the most overdue


AS_OF = datetime.fromisoformat("2026-11-23T12:00:00+07:00")


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("late") / "events.ndjson"
    config = FeedConfig(start=AS_OF - timedelta(days=100), end=AS_OF, seed=7, filings_per_day=150,
                        delivery=DeliveryRates(duplicate=0.02, reorder=0.1, late=0.02, repeat=0.01,
                                               malformed=0.0))
    write_file(generate(config), path)
    return path


def applied(engine: Engine, tables: dict[str, dict[bytes, bytes]], lines: list[bytes]) -> None:
    rows = [[offset, *event_from_json(orjson.loads(line))] for offset, line in enumerate(lines)]
    for first in range(0, len(rows), 997):
        result = engine.apply_pack(0, rows[first:first + 997], tables["filings"].get, tables["units"].get)
        tables["filings"].update({k: v for k, v in result.filing_changes.items() if v is not None})
        tables["units"].update({k: v for k, v in engine.unit_records(0).items() if v is not None})
        assert not result.rejected


def records(engine: Engine) -> dict[str, dict[str, Any]]:
    now = AS_OF.timestamp()
    published = {code for code, _ in engine.publish_due(now)}
    out = dict(engine.filings_due(now))
    assert set(out) == published
    return out


def test_the_engine_lists_equal_the_oracle_filing_by_filing(feed: Path) -> None:
    expected = recompute(feed, AS_OF)
    assert sum(len(lists["overdue_now"]) for lists in expected.filings.values()) > 0
    assert sum(len(lists["late"]["month_to_date"]) for lists in expected.filings.values()) > 0
    engine = Engine(400, clock=lambda: AS_OF.timestamp())
    tables: dict[str, dict[bytes, bytes]] = {"filings": {}, "units": {}}
    applied(engine, tables, [line for line in feed.read_bytes().splitlines() if line])
    actual = records(engine)
    assert compare_filings(expected.filings, actual, late_filings.LIST_BOUND) == []
    # A restarted worker reads its units from their records and rebuilds their ledgers from the
    # filings table: the same lists.
    fresh = Engine(400, clock=lambda: AS_OF.timestamp())
    fresh.load_missing((key.decode(), value) for key, value in tables["units"].items())
    assert {code for code, _ in fresh.unknown_ledgers()} == set(actual)
    for code, _ in fresh.unknown_ledgers():
        prefix = f"{code}\x1f".encode()
        fresh.rebuild_ledger(code, ((k, v) for k, v in tables["filings"].items() if k.startswith(prefix)))
    assert records(fresh) == actual
    assert day_from_iso(actual[next(iter(actual))]["as_of"][:10])  # the record is dated


def test_a_unit_whose_ledger_is_not_rebuilt_keeps_its_lists_due() -> None:
    # A unit read back from its record has no ledger until the publisher rebuilds it; a round that
    # publishes its figures meanwhile must leave its lists due, or they wait for its next change.
    engine = Engine(400, clock=lambda: 0.0)
    engine.units["U1"] = Unit(0, filings=None)
    assert [code for code, _ in engine.publish_due(0.0)] == []  # not dirty: nothing changed
    engine.dirty.add("U1")
    assert [code for code, _ in engine.publish_due(0.0)] == ["U1"]
    assert list(engine.filings_due(0.0)) == []
    assert "U1" in engine.lists_due
    engine.rebuild_ledger("U1", [])
    assert [code for code, _ in engine.filings_due(0.0)] == ["U1"]
    assert "U1" not in engine.lists_due


def test_a_units_lists_go_out_at_most_once_per_gap_and_then_follow_its_figures() -> None:
    engine = Engine(400, clock=lambda: 0.0)
    engine.units["U1"] = Unit(0)
    engine.dirty.add("U1")
    assert [code for code, _ in engine.publish_due(0.0, 0.5, tick=10.0)] == ["U1"]
    assert [code for code, _ in engine.filings_due(0.0, 5.0, tick=10.0)] == ["U1"]
    engine.dirty.add("U1")
    assert [code for code, _ in engine.publish_due(0.0, 0.5, tick=11.0)] == ["U1"]
    assert list(engine.filings_due(0.0, 5.0, tick=11.0)) == []  # within the gap: kept due
    assert [code for code, _ in engine.filings_due(0.0, 5.0, tick=15.0)] == ["U1"]
    assert list(engine.filings_due(0.0, 5.0, tick=30.0)) == []  # its figures did not go out again

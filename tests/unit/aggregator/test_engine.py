"""The engine's exactly-once bookkeeping, with plain dicts standing in for the tables."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from services.aggregator import engine as engine_module
from services.aggregator import metrics
from services.aggregator.engine import Engine, Filing
from services.aggregator.rules import event_from_json
from tests.unit.aggregator.fakes import NOW, T0, decoded, event, figures_of

EVENTS = [
    event(1, "submitted", "F1", T0),
    event(2, "processed", "F1", T0 + timedelta(hours=5)),
    event(3, "submitted", "F2", T0 + timedelta(hours=1)),
    event(4, "returned", "F2", T0 + timedelta(hours=2), reason="rejected"),
    event(5, "submitted", "F3", T0 + timedelta(hours=3)),
]


def packed(pack: list[list[Any]]) -> list[list[Any]]:
    """`[offset, event object]` pairs as the packer packs them: `[offset, *Event]` rows."""
    return [[offset, *event_from_json(obj)] for offset, obj in pack]


class Tables:
    def __init__(self) -> None:
        self.filings: dict[bytes, bytes] = {}
        self.units: dict[bytes, bytes] = {}

    def run(self, engine: Engine, pack: list[list[Any]], keep_filings: bool = True,
            keep_units: bool = True) -> None:
        """Apply a pack; `keep_*=False` loses that table's writes, as a crash before the flush would."""
        result = engine.apply_pack(0, packed(pack), self.filings.get, self.units.get)
        if keep_filings:
            self.filings.update({k: v for k, v in result.filing_changes.items() if v is not None})
        records = engine.unit_records(0)  # what the commit protocol writes before its record
        if keep_units:
            self.units.update({k: v for k, v in records.items() if v is not None})


def reference() -> dict[str, Any]:
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    tables.run(engine, [[i, e] for i, e in enumerate(EVENTS)])
    return figures_of(engine)


def restarted(tables: Tables) -> Engine:
    return Engine(400, clock=lambda: NOW)  # a new process: nothing in memory, the tables remain


def test_counts_once_when_the_same_records_are_delivered_again() -> None:
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    pack = [[i, e] for i, e in enumerate(EVENTS)]
    tables.run(engine, pack)
    tables.run(engine, pack)
    tables.run(restarted(tables), pack)
    assert figures_of(engine) == reference()


def test_a_source_duplicate_at_another_offset_is_ignored() -> None:
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    tables.run(engine, [[i, e] for i, e in enumerate(EVENTS)] + [[99, EVENTS[0]], [100, EVENTS[1]]])
    assert figures_of(engine) == reference()


def test_replay_after_losing_the_unit_write_but_keeping_the_filing_writes() -> None:
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    first, second = [[i, e] for i, e in enumerate(EVENTS[:2])], [[i + 2, e] for i, e in enumerate(EVENTS[2:])]
    tables.run(engine, first)
    tables.run(engine, second, keep_units=False)  # crash: filings persisted, unit record not
    fresh = restarted(tables)
    tables.run(fresh, second)  # the packer delivers the pack again
    assert figures_of(fresh) == reference()


def test_replay_after_losing_the_filing_writes_but_keeping_the_unit_write() -> None:
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    first, second = [[i, e] for i, e in enumerate(EVENTS[:2])], [[i + 2, e] for i, e in enumerate(EVENTS[2:])]
    tables.run(engine, first)
    tables.run(engine, second, keep_filings=False)
    fresh = restarted(tables)
    tables.run(fresh, second)
    assert figures_of(fresh) == reference()


def test_replay_of_several_events_of_one_filing_in_one_lost_pack() -> None:
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    pack = [[i, e] for i, e in enumerate(EVENTS)]
    tables.run(engine, pack, keep_units=False)
    fresh = restarted(tables)
    tables.run(fresh, pack)
    assert figures_of(fresh) == reference()


@pytest.mark.parametrize("filings_kept", [0, 1, 2])
@pytest.mark.parametrize("units_kept", [0, 1, 2])
def test_replay_after_losing_any_tail_of_each_tables_writes_over_two_packs(filings_kept: int,
                                                                          units_kept: int) -> None:
    # Two packs' writes sent without waiting, then a crash: each table's changelog keeps its
    # writes in order, so each keeps the writes of the first 0, 1 or 2 packs. Both packs are
    # applied again (the next pack was not recorded), and the figures come out exact.
    first = [[0, EVENTS[0]], [1, EVENTS[2]]]  # F1 and F2 submitted
    second = [[2, EVENTS[1]], [3, EVENTS[3]], [4, EVENTS[4]]]  # F1 processed, F2 returned, F3
    engine, kept = Engine(400, clock=lambda: NOW), Tables()
    for index, pack in enumerate((first, second)):
        result = engine.apply_pack(0, packed(pack), kept.filings.get, kept.units.get)
        if index < filings_kept:
            kept.filings.update({k: v for k, v in result.filing_changes.items() if v is not None})
        records = engine.unit_records(0)
        if index < units_kept:
            kept.units.update({k: v for k, v in records.items() if v is not None})
    fresh = restarted(kept)
    kept.run(fresh, first)
    kept.run(fresh, second)
    assert figures_of(fresh) == reference()


def test_too_old_events_are_rejected_not_counted() -> None:
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    old = event(7, "submitted", "OLD", T0 - timedelta(days=401))
    result = engine.apply_pack(0, packed([[0, old]]), tables.filings.get, tables.units.get)
    assert result.rejected == [(0, event_from_json(old), "too_late")]
    assert result.filing_changes == {}


def test_closed_filings_are_forgotten_after_retention_and_counts_stay() -> None:
    clock = [NOW]
    engine, tables = Engine(400, clock=lambda: clock[0]), Tables()
    tables.run(engine, [[i, e] for i, e in enumerate(EVENTS)])
    before = engine.units["U1"].state.totals[:]
    assert engine.forgettable(tables.filings.items(), clock[0]) == {}
    clock[0] = NOW + 401 * 86400
    forgotten = engine.forgettable(tables.filings.items(), clock[0])
    # F1 processed and F2 rejected are closed; F3 is still pending and must be kept.
    assert sorted(forgotten[0]) == [b"U1\x1fF1", b"U1\x1fF2"]
    assert engine.units["U1"].state.totals == before


def test_a_filing_record_another_version_wrote_is_kept_and_the_sweep_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    """A record in a format this version cannot read (JSON, from before MessagePack) stopped the
    retention sweep, and the agent with it; it is kept, and the sweep says how many."""
    clock = [NOW]
    engine, tables = Engine(400, clock=lambda: clock[0]), Tables()
    tables.run(engine, [[i, e] for i, e in enumerate(EVENTS)])
    tables.filings[b"U1\x1fOLD"] = b'{"offsets": {}, "events": []}'
    clock[0] = NOW + 401 * 86400
    forgotten = engine.forgettable(tables.filings.items(), clock[0])
    assert sorted(forgotten[0]) == [b"U1\x1fF1", b"U1\x1fF2"]
    assert "1 filing records could not be read" in caplog.text


def test_a_day_roll_republishes_every_unit_and_the_clock_moves_overdue() -> None:
    clock = [NOW]
    engine, tables = Engine(400, clock=lambda: clock[0]), Tables()
    pending = event(8, "submitted", "P", datetime.fromtimestamp(NOW - 3600).astimezone(), unit="U2")
    tables.run(engine, [[i, e] for i, e in enumerate([*EVENTS, pending])])
    published = dict(engine.publish_due(clock[0]))
    assert set(published) == {"U1", "U2"}
    assert list(engine.publish_due(clock[0])) == []  # nothing changed: nothing to publish
    clock[0] = NOW + 2 * 86400  # P's due (2 days after submission) has passed; the day rolled too
    engine.mark_clock_changes(clock[0])
    again = decoded(engine.publish_due(clock[0]))
    assert set(again) == {"U1", "U2"}
    assert again["U2"]["periods"]["all_time"]["pending_overdue"] == 1


def test_the_clock_moves_766_overdue_when_the_press_style_count_does_not() -> None:
    clock = [NOW]
    engine, tables = Engine(400, clock=lambda: clock[0]), Tables()
    start = datetime.fromtimestamp(NOW - 3600).astimezone()
    # The sender marks the filing overdue by its own calendar before the due date passes: the
    # press-style count has it overdue already; Decision 766 judges it by the due date alone.
    lifecycle = [event(1, "submitted", "P", start), event(2, "overdue", "P", start + timedelta(minutes=1))]
    tables.run(engine, [[i, e] for i, e in enumerate(lifecycle)])
    first = decoded(engine.publish_due(clock[0]))["U1"]["periods"]["all_time"]
    assert (first["pending_overdue"], first["portal_pending_overdue"]) == (1, 0)
    due = (start + timedelta(days=2)).timestamp()  # the fakes' submissions are due in 2 days
    clock[0] = due - 1  # the day has rolled: every unit goes out once
    engine.mark_clock_changes(clock[0])
    assert set(dict(engine.publish_due(clock[0]))) == {"U1"}
    clock[0] = due  # at the due instant: still on time, nothing moved
    engine.mark_clock_changes(clock[0])
    assert list(engine.publish_due(clock[0])) == []
    clock[0] = due + 0.001
    engine.mark_clock_changes(clock[0])
    again = decoded(engine.publish_due(clock[0]))["U1"]["periods"]["all_time"]
    assert (again["pending_overdue"], again["portal_pending_overdue"]) == (1, 1)


def test_units_of_revoked_partitions_are_read_again_from_the_table() -> None:
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    tables.run(engine, [[i, e] for i, e in enumerate(EVENTS)])
    engine.drop_partitions([0])
    assert engine.unit_count() == 0
    tables.run(engine, [[10, event(9, "submitted", "F9", T0)]])
    assert engine.units["U1"].state.totals[0] == 4  # F1, F2, F3 from the table, and F9


def test_a_gap_in_pack_offsets_means_memory_is_stale() -> None:
    mine, other, tables = Engine(400, clock=lambda: NOW), Engine(400, clock=lambda: NOW), Tables()
    run = packed([[i, e] for i, e in enumerate(EVENTS)])
    result = mine.apply_pack(0, run[:2], tables.filings.get, tables.units.get, packs=range(0, 1))
    tables.filings.update(result.filing_changes)
    tables.units.update(mine.unit_records(0))
    # The partition moves to another worker for pack 1, then comes back for pack 2.
    result = other.apply_pack(0, run[2:4], tables.filings.get, tables.units.get, packs=range(1, 2))
    tables.filings.update(result.filing_changes)
    tables.units.update(other.unit_records(0))
    result = mine.apply_pack(0, run[4:], tables.filings.get, tables.units.get, packs=range(2, 3))
    assert figures_of(mine) == reference()


def test_a_filing_changed_by_another_worker_meanwhile_is_read_again_from_the_table() -> None:
    mine, other, tables = Engine(400, clock=lambda: NOW), Engine(400, clock=lambda: NOW), Tables()
    # F1 submitted (mine, pack 0), processed (other, pack 1), then the source sends the processed
    # event again under the same event_id (mine, pack 2): a duplicate, unless mine trusts its
    # cached F1 (submitted only) and counts the resolution a second time.
    run = packed([[0, EVENTS[0]], [1, EVENTS[1]], [2, EVENTS[1]]])
    for engine, rows, packs in ((mine, run[:1], range(0, 1)), (other, run[1:2], range(1, 2)),
                                (mine, run[2:], range(2, 3))):
        result = engine.apply_pack(0, rows, tables.filings.get, tables.units.get, packs=packs)
        tables.filings.update(result.filing_changes)
        tables.units.update(engine.unit_records(0))
    alone, alone_tables = Engine(400, clock=lambda: NOW), Tables()
    alone_tables.run(alone, [[0, EVENTS[0]], [1, EVENTS[1]]])
    assert figures_of(mine) == figures_of(alone)


def test_the_filing_cache_keeps_at_most_its_size() -> None:
    engine, tables = Engine(400, clock=lambda: NOW, filing_cache_size=2), Tables()
    tables.run(engine, [[i, e] for i, e in enumerate(EVENTS)])  # three filings
    assert len(engine._filing_cache) == 2
    assert figures_of(engine) == reference()


def test_a_changed_filing_reaches_the_store_when_it_leaves_the_cache_or_when_asked() -> None:
    """The filings' store is written back (filing_store.py): a filing read back from it after
    leaving the cache must be the filing as last changed, never an older record."""
    engine, store = Engine(400, clock=lambda: NOW, filing_cache_size=1), {}
    for offset, e in enumerate(EVENTS):  # F1, F1, F2, F2, F3: each filing leaves as the next comes
        result = engine.apply_pack(0, packed([[offset, e]]), store.get, {}.get)
        for partition, records in result.evicted.items():
            assert partition == 0
            store.update(records)
    assert sorted(store) == [b"U1\x1fF1", b"U1\x1fF2"]  # F3, changed, is still in the cache only
    assert Filing.from_bytes(store[b"U1\x1fF1"]).offsets == {"e1": 0, "e2": 1}
    # F1 comes back from the store as last changed: its processed event sent again is a duplicate.
    result = engine.apply_pack(0, packed([[9, EVENTS[1]]]), store.get, {}.get)
    assert figures_of(engine) == reference()
    assert list(result.evicted[0]) == [b"U1\x1fF3"]  # F3 leaves for F1, which was read, not changed
    assert engine.unstored_partitions() == []
    store.update(result.evicted[0])
    engine.apply_pack(0, packed([[10, event(10, "processed", "F3", T0 + timedelta(hours=6))]]),
                      store.get, {}.get)
    assert engine.unstored_partitions() == [0] and list(engine.unstored_records(0)) == [b"U1\x1fF3"]
    assert engine.unstored_records(0) == {} and engine.unstored_partitions() == []


def test_a_dropped_partition_leaves_its_changed_filings_to_the_changelog() -> None:
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    tables.run(engine, [[i, e] for i, e in enumerate(EVENTS)])
    engine.drop_partitions([0])
    assert engine.unstored_partitions() == [] and engine.unstored_records(0) == {}


def test_the_retention_sweep_judges_a_cached_filing_as_last_changed() -> None:
    clock = [NOW]
    engine, tables = Engine(400, clock=lambda: clock[0]), Tables()
    tables.run(engine, [[0, EVENTS[0]]], keep_filings=False)  # F1 submitted, changed in the cache only
    tables.filings[b"U1\x1fF1"] = Filing.from_bytes(None).to_bytes()  # an older record: nothing
    tables.run(engine, [[1, EVENTS[1]]], keep_filings=False)  # processed: closed
    clock[0] = NOW + 401 * 86400
    assert engine.forgettable(tables.filings.items(), clock[0]) == {0: [b"U1\x1fF1"]}
    assert engine.unstored_records(0) == {}  # forgotten: not written back


def test_publishing_coalesces_each_unit_to_one_record_per_gap() -> None:
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    tables.run(engine, [[0, EVENTS[0]]])
    assert [code for code, _ in engine.publish_due(NOW, min_gap_s=0.5, tick=100.0)] == ["U1"]
    tables.run(engine, [[1, EVENTS[1]]])
    # Changed again 0.2 s later: held back, not lost.
    assert list(engine.publish_due(NOW, min_gap_s=0.5, tick=100.2)) == []
    tables.run(engine, [[2, EVENTS[2]]])
    late = decoded(engine.publish_due(NOW, min_gap_s=0.5, tick=100.5))
    # One record, carrying both changes made while it waited.
    assert late["U1"]["periods"]["all_time"]["received_total"] == 2
    assert late["U1"]["periods"]["all_time"]["resolved_total"] == 1
    assert list(engine.publish_due(NOW, min_gap_s=0.5, tick=101.0)) == []


def test_a_change_made_while_a_round_is_publishing_is_published_next_round() -> None:
    # The worker awaits Kafka between the records of a round, and the agent applies packs meanwhile.
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    tables.run(engine, [[0, EVENTS[0]], [1, event(10, "submitted", "G1", T0, unit="U2")]])
    publishing = engine.publish_due(NOW)
    assert next(publishing)[0] == "U1"
    tables.run(engine, [[2, EVENTS[1]], [3, event(11, "submitted", "G2", T0, unit="U2")]])
    rest = decoded(publishing)
    assert rest.keys() == {"U2"} and rest["U2"]["periods"]["all_time"]["received_total"] == 2
    again = decoded(engine.publish_due(NOW))  # U1's record went out before its change: U1 is due again
    assert again.keys() == {"U1"} and again["U1"]["periods"]["all_time"]["resolved_total"] == 1


def test_changed_days_are_published_once_and_again_when_publishing_failed() -> None:
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    tables.run(engine, [[i, e] for i, e in enumerate(EVENTS)])
    days = engine.days_due("U1")
    assert [key for key, _ in days.values()] == ["U1|2026-11-20"]
    row = next(iter(days.values()))[1]
    assert (row["received_total"], row["resolved_total"], row["returned_total"]) == (3, 1, 1)
    assert engine.days_due("U1") == {}
    engine.unpublished({"U1": list(days)})
    assert "U1" in engine.dirty and engine.days_due("U1").keys() == days.keys()
    # The days not yet published travel with the unit's table record, for a worker taking over.
    engine.unpublished({"U1": list(days)})
    tables.run(engine, [[9, event(9, "submitted", "F9", T0 + timedelta(days=1))]])
    taken_over = Engine(400, clock=lambda: NOW)
    taken_over.load_missing([("U1", tables.units[b"U1"])])
    assert [key for key, _ in taken_over.days_due("U1").values()] == ["U1|2026-11-20", "U1|2026-11-21"]


def test_days_sent_but_not_acknowledged_stay_in_the_unit_record_until_they_are() -> None:
    # A worker killed after a later pack's unit record reached Kafka, but before a day row it had
    # sent did, must leave that day in the record, for the worker taking over to publish it.
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    tables.run(engine, [[i, e] for i, e in enumerate(EVENTS)])
    sent = engine.days_due("U1")  # 2026-11-20 sent, not yet acknowledged
    tables.run(engine, [[9, event(9, "submitted", "F9", T0 + timedelta(days=1))]])  # 11-21 changes

    def due_after_takeover() -> list[str]:
        taken_over = Engine(400, clock=lambda: NOW)
        taken_over.load_missing([("U1", tables.units[b"U1"])])
        return [key for key, _ in taken_over.days_due("U1").values()]

    assert due_after_takeover() == ["U1|2026-11-20", "U1|2026-11-21"]
    engine.published({"U1": list(sent)})
    tables.run(engine, [[10, event(10, "submitted", "F10", T0 + timedelta(days=1))]])
    assert due_after_takeover() == ["U1|2026-11-21"]


def test_a_filing_record_reads_back_as_written() -> None:
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    tables.run(engine, [[7, EVENTS[0]], [9, EVENTS[1]]])
    (data,) = tables.filings.values()
    filing = Filing.from_bytes(data)
    assert filing.offsets == {"e1": 7, "e2": 9} and len(filing.state) == 2
    assert filing.fold is not None and filing.fold.closed_at == filing.state[-1][0]
    again = Filing.from_bytes(filing.to_bytes())
    assert (again.state, again.offsets, again.fold, again.procedure) == \
        (filing.state, filing.offsets, filing.fold, filing.procedure)


def test_an_event_the_engine_cannot_count_is_dead_lettered_and_the_pack_goes_on() -> None:
    """Issue 12, class 1: no record can crash the aggregator. Here the unit's pending index is out
    of step with its filings (as only a bug could make it): the event that trips on it goes to the
    DLQ with the reason, leaves the unit and the filing as they were, and the rest of the pack counts."""
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    tables.run(engine, [[i, e] for i, e in enumerate(EVENTS)])
    engine.units["U1"].state._dues.clear()  # F3's due time is gone from the index
    before = figures_of(engine)["U1"]
    resolve_f3 = event(6, "processed", "F3", T0 + timedelta(hours=4))
    new_filing = event(7, "submitted", "F4", T0 + timedelta(hours=6))
    result = engine.apply_pack(0, packed([[5, resolve_f3], [6, new_filing]]), tables.filings.get,
                               tables.units.get)
    assert [(e.event_id, reason.split(":")[0]) for _, e, reason in result.rejected] == [("e6", "failed")]
    assert result.rejected[0][0] == 5
    assert "not in this unit's index" in result.rejected[0][2]
    after = figures_of(engine)["U1"]["all_time"]
    assert after["resolved_total"] == before["all_time"]["resolved_total"]
    assert after["received_total"] == before["all_time"]["received_total"] + 1
    f3 = Filing.from_bytes(tables.filings[b"U1\x1fF3"])
    assert "e6" not in f3.offsets and len(f3.state) == 1
    assert b"U1\x1fF3" not in result.filing_changes


def test_a_row_packed_by_another_version_is_dead_lettered_and_the_pack_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    """An upgrade can leave packs of an older packer on the packed topic, their rows in another
    layout (here a flag where this version reads the unit code): such a row goes to the DLQ with the
    reason, and the rows around it count, where it stopped the worker on every restart."""
    engine = Engine(400, clock=lambda: NOW)
    old_layout = [3, EVENTS[1]["occurred_at"], 0, "e-old", 0, None, 0, "F-old", True]
    pack = [*packed([[1, EVENTS[0]]]), old_layout, *packed([[5, EVENTS[4]]])]
    result = engine.apply_pack(0, [*pack, [4, *old_layout[1:]]], {}.get, {}.get)
    assert [(offset, reason.split(":")[0]) for offset, _, reason in result.rejected] == [
        (3, "failed"), (4, "failed")]
    assert figures_of(engine)["U1"]["all_time"]["received_total"] == 2
    # The first of the pack is logged with its reason, the rest counted: a log, not a flood.
    failures = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(failures) == 2 and "offset 3" in failures[0] and failures[1].startswith("2 events")


def test_a_unit_whose_figures_fail_is_reported_and_every_other_unit_is_published(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12, class 1: a unit whose figures cannot be computed (a date past the calendar's end
    crashed the worker) is reported by metric and log; the others go out, and it comes back once
    it can be published."""
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    tables.run(engine, [[0, EVENTS[0]], [1, event(8, "submitted", "G1", T0, unit="U2")]])
    real_figures = engine_module.figures_json

    def failing_for_u2(unit_code: str, *args: Any) -> tuple[bytes, tuple[int, int]]:
        if unit_code == "U2":
            raise OverflowError("date value out of range")
        return real_figures(unit_code, *args)

    monkeypatch.setattr(engine_module, "figures_json", failing_for_u2)
    assert set(figures_of(engine)) == {"U1"}
    assert metrics.REGISTRY.get_sample_value("aggregator_units_unpublishable") == 1
    assert engine.unpublishable == {"U2"}
    monkeypatch.setattr(engine_module, "figures_json", real_figures)
    tables.run(engine, [[2, event(9, "submitted", "G2", T0, unit="U2")]])
    assert set(figures_of(engine)) == {"U2"}
    assert metrics.REGISTRY.get_sample_value("aggregator_units_unpublishable") == 0


def test_a_day_row_past_the_calendar_is_reported_not_raised() -> None:
    """Issue 12, class 1: the original crash, `day_iso` of a day after 9999-12-31, now reported."""
    engine, tables = Engine(400, clock=lambda: NOW), Tables()
    tables.run(engine, [[0, EVENTS[0]]])
    engine.units["U1"].state.touched.add(date.max.toordinal() + 1)
    assert engine.days_due("U1") == {}
    assert "U1" in engine.unpublishable

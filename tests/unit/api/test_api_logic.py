"""The API's pure logic with plain data: the tree, rollups, rankings, the target report, target periods,
the change feed's coalescing and resumption, and the per-unit metrics. No broker."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncGenerator
from datetime import date
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.api.changes import WAIT_SLOT_S, ChangeFeed
from services.api.figure_metrics import FIGURE_METRICS, render_unit_figures, unit_rows
from services.api.queries import State, ranked_units, standing, subtree_rollup
from services.api.ranking import Standing, rank, report_csv, target_report
from services.api.registry import seed_units
from services.api.rollup import rollup, sum_counters
from services.api.rollup_cache import MAX_AGE_S, RollupCache
from services.api.routes.stream import _event
from services.api.sse import ABORT, SERVER_SEND, TRANSPORT, EventStreamResponse, pieces
from services.api.targets import Target, TargetBook, covering_periods
from services.api.tree import UnitInfo, UnitTree
from services.api.view import FiguresView
from services.contract.figures import COUNTERS, PERIODS, RATES, SNAPSHOTS
from tests.support.api import record, sample_tree

# --- tree ---------------------------------------------------------------------------------------

def test_tree_subtree_children_roots_and_nesting() -> None:
    tree = sample_tree()
    assert tree.subtree("31.S06") == ["31.S06", "31.S06.01"]
    assert set(tree.subtree("31")) == set(tree.units)
    assert tree.children("31") == ["11311", "11312", "31.S03", "31.S06"]
    assert tree.roots() == ["31"]
    assert tree.is_within("31.S06.01", "31") and not tree.is_within("31", "31.S06")
    nested = orjson.loads(tree.nested_json(["31.S06"]))["roots"][0]
    assert nested["children"][0]["code"] == "31.S06.01" and nested["children"][0]["children"] == []


def test_tree_moves_deletes_and_orphans() -> None:
    tree = sample_tree()
    tree.put(UnitInfo("31.S06.01", "VP", "office", "31.S03"))  # moved to another parent
    assert tree.children("31.S06") == [] and tree.children("31.S03") == ["31.S06.01"]
    tree.delete("31.S03")
    assert "31.S06.01" in tree.roots()  # an orphan shows as a root, not lost
    assert tree.would_cycle("31", "31.S06") and not tree.would_cycle("31.S06", "31")


def test_tree_survives_a_cycle_written_around_the_admin_check() -> None:
    tree = UnitTree([UnitInfo("a", "A", "x", "b"), UnitInfo("b", "B", "x", "a")])
    assert sorted(tree.subtree("a")) == ["a", "b"]
    assert not tree.is_within("a", "zzz")


def test_seed_is_the_real_province_tree() -> None:
    units = seed_units("31")
    tree = UnitTree(units)
    assert tree.roots() == ["31"]
    assert len(tree.subtree("31")) == len(units)
    assert {u.level for u in units} >= {"province", "department", "office", "ward", "commune"}


# --- rollup -------------------------------------------------------------------------------------

def test_rollup_sums_counters_then_takes_rates_never_averages() -> None:
    a = record("a", received_total=1, received_online=1, resolved_total=1, resolved_on_time=1,
               portal_on_time=1)
    b = record("b", received_total=9, received_online=0, pending_overdue=3, pending_within_due=2,
               portal_overdue=4, portal_pending_on_time=2, portal_pending_overdue=3)
    sums = rollup([a, b])
    for p in PERIODS:
        assert sums[p]["received_total"] == 10 and sums[p]["received_online"] == 1
        assert sums[p]["online_rate"] == pytest.approx(0.1)  # the average of rates would be 0.5
        assert sums[p]["pending_overdue"] == 3 and sums[p]["pending_within_due"] == 2
        assert sums[p]["portal_pending_on_time"] == 2 and sums[p]["portal_pending_overdue"] == 3
        # 2.1: (1 on time + 2 open and on time) / 10 received; the average of rates would be 0.61
        assert sums[p]["on_time_rate"] == pytest.approx(3 / 10)
        assert list(sums[p]) == [*COUNTERS, *SNAPSHOTS, *RATES]


def test_rollup_of_nothing_is_zeros_and_undefined_rates() -> None:
    sums = rollup([])
    assert sums["today"]["received_total"] == 0 and sums["today"]["online_rate"] is None
    assert sum_counters([{"received_total": 2}])["received_total"] == 2  # missing counters count 0


def test_subtree_rollup_counts_units_and_spread_of_as_of() -> None:
    tree = sample_tree()
    records = {"31.S06": record("31.S06", received_total=4, received_online=1),
               "31.S06.01": record("31.S06.01", "2026-03-11", received_total=6, received_online=5),
               "11311": record("11311", received_total=100, received_online=100)}
    result = subtree_rollup(State(tree, records, TargetBook()), "31.S06")
    assert result["units"] == 2 and result["units_with_figures"] == 2
    assert result["periods"]["year_to_date"]["online_rate"] == pytest.approx(0.6)
    assert result["as_of_min"].startswith("2026-03-10") and result["day"] == "2026-03-11"


# --- targets ------------------------------------------------------------------------------------

def test_covering_periods_prefer_the_most_specific() -> None:
    day = date(2026, 5, 20)
    assert covering_periods("month_to_date", day) == ("2026-05", "2026-Q2", "2026")
    assert covering_periods("quarter_to_date", day) == ("2026-Q2", "2026")
    assert covering_periods("year_to_date", day) == ("2026",)
    assert covering_periods("today", day)[0] == "2026-05"


def test_target_lookup_falls_back_to_the_year() -> None:
    book = TargetBook()
    book.put(Target("a", "online_rate", "2026", 0.6))
    day = date(2026, 3, 10)
    assert book.lookup("a", "online_rate", "month_to_date", day).value == 0.6
    book.put(Target("a", "online_rate", "2026-03", 0.7))
    assert book.lookup("a", "online_rate", "month_to_date", day).value == 0.7
    assert book.lookup("a", "online_rate", "month_to_date", date(2025, 3, 1)) is None
    book.delete("a/online_rate/2026-03")
    assert book.lookup("a", "online_rate", "month_to_date", day).period == "2026"
    assert book.units_with("online_rate") == {"a"} and book.units_with("on_time_rate") == set()


# --- ranking and report -------------------------------------------------------------------------

def test_rank_best_first_with_shared_ranks_and_unvalued_last() -> None:
    rows = rank([Standing("c", "C", "ward", 0.5), Standing("a", "A", "ward", 0.9, 0.95, "2026"),
                 Standing("b", "B", "ward", 0.5, 0.4, "2026"), Standing("d", "D", "ward", None, 0.5, "2026")],
                "online_rate")
    assert [(r["code"], r["rank"]) for r in rows] == [("a", 1), ("b", 2), ("c", 2), ("d", None)]
    assert rows[0]["gap"] == pytest.approx(-0.05) and rows[0]["met"] is False
    assert rows[1]["gap"] == pytest.approx(0.1) and rows[1]["met"] is True
    assert rows[2]["gap"] is None and rows[2]["met"] is None


def test_rank_lower_is_better_figures() -> None:
    rows = rank([Standing("a", None, None, 30.0, 24.0), Standing("b", None, None, 10.0, 24.0)],
                "avg_resolution_hours")
    assert [r["code"] for r in rows] == ["b", "a"]
    assert rows[0]["met"] is True and rows[1]["met"] is False


def test_target_report_splits_and_writes_csv() -> None:
    rows = rank([Standing("a", "Sở A", "department", 0.9, 0.6, "2026"),
                 Standing("b", "Xã \"B\", mới", "commune", 0.3, 0.5, "2026"),
                 Standing("c", "C", "ward", None, 0.5, "2026"), Standing("d", "D", "ward", 0.99)],
                "online_rate")
    report = target_report(rows)
    assert [r["code"] for r in report["above"]] == ["a"]
    assert [r["code"] for r in report["below"]] == ["b"]
    assert [r["code"] for r in report["no_value"]] == ["c"]  # d has no target: not in the report
    parsed = list(csv.DictReader(io.StringIO(report_csv(report))))
    assert [(p["status"], p["code"]) for p in parsed] == [("above", "a"), ("below", "b"), ("no_value", "c")]
    assert parsed[1]["name"] == 'Xã "B", mới' and float(parsed[1]["gap"]) == pytest.approx(-0.2)
    assert parsed[2]["value"] == "" and parsed[2]["rank"] == ""


def test_ranked_units_selection() -> None:
    tree = sample_tree()
    assert ranked_units(tree, "31", None) == ["11311", "11312", "31.S03", "31.S06"]
    assert ranked_units(tree, None, None) == ["31"]
    assert ranked_units(tree, "31", "ward") == ["11311"]
    assert sorted(ranked_units(tree, None, "department")) == ["31.S03", "31.S06"]


def test_standing_uses_the_subtree_and_the_records_day_for_targets() -> None:
    tree = sample_tree()
    book = TargetBook()
    book.put(Target("31.S06", "online_rate", "2026-Q1", 0.5))
    records = {"31.S06": record("31.S06", received_total=4, received_online=1),
               "31.S06.01": record("31.S06.01", received_total=6, received_online=5)}
    s = standing(State(tree, records, book), "31.S06", "online_rate", "month_to_date", date(2026, 7, 1))
    assert s.value == pytest.approx(0.6) and s.target == 0.5 and s.target_period == "2026-Q1"
    none = standing(State(tree, records, book), "31.S03", "online_rate", "today", date(2026, 7, 1))
    assert none.value is None and none.target is None


# --- change feed --------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_feed_sends_first_change_at_once_and_coalesces_the_rest() -> None:
    clock = Clock()
    feed = ChangeFeed(0.5, 100, clock, epoch="e")
    feed.offer("a", {"v": 1})
    assert [(c.seq, c.unit_code, c.record) for c in feed.since(0)] == [(1, "a", {"v": 1})]
    clock.now += 0.1
    feed.offer("a", {"v": 2})
    feed.offer("a", {"v": 3})
    feed.offer("b", {"v": 1})  # another unit is not held back by a
    feed.flush_due()
    assert [(c.unit_code, c.record) for c in feed.since(1)] == [("b", {"v": 1})]
    clock.now += 0.4
    feed.flush_due()
    assert [(c.unit_code, c.record) for c in feed.since(2)] == [("a", {"v": 3})]
    clock.now += 0.1
    feed.offer("a", {"v": 4})  # only 0.1 s after a's last event: waits
    feed.flush_due()
    assert feed.since(3) == []


def test_feed_resumes_within_the_ring_and_refuses_beyond_it() -> None:
    clock = Clock()
    feed = ChangeFeed(0.5, 3, clock, epoch="e")
    for i in range(5):
        feed.offer(f"u{i}", {"i": i})
    assert [c.seq for c in feed.since(2)] == [3, 4, 5]
    assert feed.since(1) is None  # change 2 has left the ring
    assert feed.since(5) == []
    assert feed.parse_id("e-4") == 4
    assert feed.parse_id("other-4") is None and feed.parse_id("e-99") is None
    assert feed.parse_id("junk") is None
    assert feed.event_id(5) == "e-5"


@pytest.mark.parametrize("sequence", ["²", "٣", "9" * 5000, "+3", " 3", "", "-3"])
def test_a_last_event_id_with_other_digits_or_too_many_is_no_resume(sequence: str) -> None:
    """Issue 12, class 6: `str.isdigit` passed "²" (then int() raised: a 500) and Arabic-Indic digits,
    and 5,000 digits made int() raise too; only ASCII digits, at most 18, are a sequence number."""
    feed = ChangeFeed(0.5, 3, Clock(), epoch="e")
    for i in range(5):
        feed.offer(f"u{i}", {"i": i})
    assert feed.parse_id(f"e-{sequence}") is None


def test_pieces_are_bounded_and_made_only_as_taken() -> None:
    """Issue 12, class 2: a stream's replay or snapshot is handed over in bounded pieces, never whole."""
    made: list[int] = []

    def frames() -> Any:
        for i in range(100):
            made.append(i)
            yield b"x" * 300
    out = pieces(frames(), 1024)
    assert next(out) == b"x" * 1024 and len(made) == 4  # nothing made beyond the first piece
    rest = list(out)
    assert all(len(p) == 1024 for p in rest[:-1]) and b"".join(rest) == b"x" * (30_000 - 1024)
    assert list(pieces(iter([b"", b""]), 10)) == []
    lone = b"y" * 100
    assert next(pieces(iter([b"", lone, b""]), 1024)) is lone  # not copied per stream (issue 17)
    assert list(pieces(iter([lone, lone]), 150)) == [b"y" * 150, b"y" * 50]
    assert list(pieces(iter([b"z" * 10, b"w" * 5]), 10)) == [b"z" * 10, b"w" * 5]


async def test_a_stream_whose_client_takes_nothing_is_aborted_and_counted() -> None:
    """Issue 12, class 2: a client that does not read is disconnected after the write deadline, and
    its stream's clean-up runs."""
    ended, dropped, aborted = asyncio.Event(), [], []
    sent: list[bytes] = []

    async def content() -> AsyncGenerator[bytes, None]:
        try:
            while True:
                yield b"data: x\n\n"
        finally:
            ended.set()

    async def send(message: Any) -> None:
        if len(sent) >= 3:  # the client's buffer is full: this write never completes
            await asyncio.Event().wait()
        sent.append(message.get("body", b""))

    async def receive() -> Any:
        await asyncio.Event().wait()

    response = EventStreamResponse(content(), 0.05, lambda: dropped.append(1))
    scope = {"type": "http", "asgi": {"spec_version": "2.4"}, ABORT: lambda: aborted.append(1)}
    await asyncio.wait_for(response(scope, receive, send), 5)
    assert dropped == [1] and aborted == [1] and ended.is_set()


async def test_waits_end_in_their_slot_or_at_a_change_without_a_timer_each() -> None:
    """Issue 17: a stream's wait ends at the first tick of the slot its deadline falls in, or at once
    on a change; waits are events shared per slot, set by the feed's tick."""
    clock = Clock()
    feed = ChangeFeed(0.5, 10, clock, epoch="e")
    late = asyncio.create_task(feed.wait_after(0, 1.0))  # deadline 101.0: the slot beginning there
    early = asyncio.create_task(feed.wait_after(0, 0.3))  # deadline 100.3: the slot at 100.5
    same_slot = asyncio.create_task(feed.wait_after(0, 0.4))
    await asyncio.sleep(0)  # the tasks start waiting
    assert len(feed._waits) == 2  # the two waits ending in the same slot share its event
    clock.now = 100.49
    feed.end_waits()
    await asyncio.sleep(0)
    assert not (late.done() or early.done() or same_slot.done())
    clock.now = 100.5
    feed.end_waits()
    await asyncio.wait_for(asyncio.gather(early, same_slot), 1)
    assert not late.done()
    feed.offer("a", {"v": 1})  # a change ends every wait at once
    await asyncio.wait_for(late, 1)
    await asyncio.wait_for(feed.wait_after(0, 60), 1)  # already behind: returns at once
    assert WAIT_SLOT_S <= 0.25  # heartbeats late by at most a slot and a tick


def test_a_change_is_encoded_once_for_every_stream_it_goes_to() -> None:
    """Issue 17: 2,000 streams send one change as the same bytes, encoded by the first; a stream
    whose subtree does not hold the unit sends nothing."""
    feed = ChangeFeed(0.5, 10, Clock(), epoch="e")
    feed.offer("31.S06.01", record("31.S06.01", received_total=3))
    feed.offer("11311", None)
    office, removed = feed.since(0) or []
    runtime: Any = SimpleNamespace(tree=sample_tree(), feed=feed)
    first = _event(office, runtime, "31.S06")
    assert _event(office, runtime, "31") is first and _event(office, runtime, None) is first
    assert _event(office, runtime, "31.S03") == b"" and _event(office, runtime, "11311") == b""
    head, data = first.split(b"\ndata: ")
    assert head == b"id: e-1\nevent: figures" and data.endswith(b"\n\n")
    assert orjson.loads(data) == {"unit_code": "31.S06.01", **record("31.S06.01", received_total=3)}
    assert _event(removed, runtime, "31") == b'id: e-2\nevent: removed\ndata: {"unit_code":"11311"}\n\n'


class FakeTransport:
    def __init__(self, buffered: int) -> None:
        self.buffered = buffered

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return 16 * 1024, 64 * 1024


async def test_a_streams_start_goes_through_the_middleware_and_its_pieces_to_the_server() -> None:
    """Issue 17: the middleware see the status and headers; the body goes to the server's own send,
    without a deadline while the transport is at or under its low-water mark, with one above it."""
    through_middleware: list[str] = []
    to_server: list[bytes] = []
    dropped: list[int] = []
    aborted: list[int] = []
    transport = FakeTransport(0)

    async def middleware_send(message: Any) -> None:
        through_middleware.append(message["type"])

    async def server_send(message: Any) -> None:
        if transport.buffered > 16 * 1024:  # paused: this write would wait for the client, forever
            await asyncio.Event().wait()
        to_server.append(message["body"])
        transport.buffered = 20 * 1024 if message["body"] == b"b" else transport.buffered

    async def content() -> AsyncGenerator[bytes, None]:
        for piece in (b"a", b"b", b"c"):
            yield piece

    async def receive() -> Any:
        await asyncio.Event().wait()

    response = EventStreamResponse(content(), 0.05, lambda: dropped.append(1))
    scope = {"type": "http", "asgi": {"spec_version": "2.4"}, ABORT: lambda: aborted.append(1),
             TRANSPORT: transport, SERVER_SEND: server_send}
    await asyncio.wait_for(response(scope, receive, middleware_send), 5)
    assert through_middleware == ["http.response.start"]
    assert to_server == [b"a", b"b"]  # "c" found the transport over its mark, and timed out
    assert dropped == [1] and aborted == [1]

    plain: list[Any] = []  # without the server's entries: everything through the given send

    async def record_send(message: Any) -> None:
        plain.append(message.get("body"))

    response = EventStreamResponse(content(), 1, lambda: None)
    bare_scope = {"type": "http", "asgi": {"spec_version": "2.4"}}
    await asyncio.wait_for(response(bare_scope, receive, record_send), 5)
    assert plain == [None, b"a", b"b", b"c", b""]


# --- metrics ------------------------------------------------------------------------------------

def test_unit_figures_render_as_gauges_in_base_units() -> None:
    tree = sample_tree()
    odd = 'a"b\\c\nd'  # a code only a hand-written record could carry: escaped, and read back whole
    records = {"11311": record("11311", received_total=4, received_online=3, resolved_total=2,
                               resolution_seconds=7200, pending_overdue=1),
               "zzz": record("zzz"), odd: record(odd, received_total=1)}
    records["zzz"]["periods"]["today"]["received_online"] = "junk"
    text = render_unit_figures(unit_rows(records, tree), ["today", "year_to_date"]).decode()
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge" and family.documentation
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value

    def value(name: str, unit: str, level: str, period: str = "today") -> float | None:
        return samples.get((name, tuple(sorted({"unit": unit, "level": level, "period": period}.items()))))

    assert value("onestop_unit_received_filings", "11311", "ward") == 4
    assert value("onestop_unit_received_online_filings", "11311", "ward") == 3
    assert value("onestop_unit_pending_overdue_filings", "11311", "ward") == 1
    assert value("onestop_unit_online_rate_ratio", "11311", "ward") == 0.75
    assert value("onestop_unit_resolution_average_seconds", "11311", "ward") == 3600
    assert value("onestop_unit_received_filings", "11311", "ward", "year_to_date") == 4
    assert value("onestop_unit_received_filings", "11311", "ward", "all_time") is None
    # Undefined rates and values that are no number are left out; a unit outside the registry is
    # labelled, not dropped.
    assert value("onestop_unit_online_rate_ratio", "zzz", "unknown") is None
    assert value("onestop_unit_received_online_filings", "zzz", "unknown") is None
    assert value("onestop_unit_received_filings", "zzz", "unknown") == 0
    assert value("onestop_unit_received_filings", odd, "unknown") == 1
    # Every figure of 3 units × 2 periods, less the undefined rates (11311: 2 a period; zzz: 5; odd: 3,
    # its on-time rate being 0 of 1 received) and zzz's junk value.
    assert len(samples) == 3 * 2 * len(FIGURE_METRICS) - 2 * (2 + 5 + 3) - 1


# --- rollup cache -------------------------------------------------------------------------------

def test_rollup_cache_serves_a_moment_then_recomputes() -> None:
    clock = Clock()
    tree, view = sample_tree(), FiguresView()
    cache = RollupCache(State(tree, view.records, TargetBook()), view, tree, clock)

    def publish(unit: str, received: int) -> None:
        view.apply(unit, orjson.dumps(record(unit, received_total=received)))

    def received() -> int:
        return int(cache.get("31.S06", PERIODS)["periods"]["today"]["received_total"])

    publish("31.S06.01", 5)
    assert received() == 5
    clock.now += 60
    assert received() == 5  # nothing changed: still current, however old
    publish("31.S06.01", 7)
    assert received() == 7  # changed, and the entry was older than MAX_AGE_S
    publish("31.S06.01", 9)
    assert received() == 7  # changed, but the entry is younger than MAX_AGE_S
    clock.now += MAX_AGE_S
    assert received() == 9
    publish("31.S06", 1)
    tree.put(UnitInfo("31.S06.02", "new office", "office", "31.S06"))  # a tree change: stale at once
    publish("31.S06.02", 10)
    assert received() == 9 + 1 + 10

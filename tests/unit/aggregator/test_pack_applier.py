"""The pack applier (services/aggregator/pack_applier.py): packs from the next one expected, in
order, whatever the stream delivered; missing ones read back from Kafka; batches of events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson

from services.aggregator.commit_protocol import CommitProtocol
from services.aggregator.dead_letters import DeadLetterWriter
from services.aggregator.engine import Engine
from services.aggregator.pack_applier import PackApplier
from tests.unit.aggregator.fakes import (
    T0,
    FakePacks,
    FakeProducer,
    FakeTables,
    engine,
    event,
    figures_of,
    pack,
)

E = [event(n, "submitted", f"F{n}", T0 + timedelta(minutes=n)) for n in range(6)]
PACKS = [pack([(2 * i, E[2 * i]), (2 * i + 1, E[2 * i + 1])]) for i in range(3)]  # 3 packs, 2 events each


class Setup:
    def __init__(self, apply_max_events: int = 20000, settled: list[int] | None = None) -> None:
        self.tables = FakeTables()
        self.packs = FakePacks({0: PACKS})
        self.engine: Engine = engine()
        self.producer = FakeProducer()
        self.commits = CommitProtocol(self.tables, "units", self.packs.first, self.engine.unit_records)
        self.settled: list[int] = []
        self.applier = PackApplier(self.engine, self.tables, "filings", "units", self.commits, self.packs,
                                   DeadLetterWriter("dlq", self.producer), "filing-events",
                                   apply_max_events, dead_letter_max_bytes=1000,
                                   settle=lambda: self.settled.append(1), wall_clock=lambda: 123.0)

    def received(self) -> int:
        return int(figures_of(self.engine)["U1"]["all_time"]["received_total"])


async def test_packs_delivered_in_order_are_applied_without_reading_kafka() -> None:
    s = Setup()
    assert await s.applier.apply(0, list(enumerate(PACKS)), 3) == 3
    assert s.packs.reads == [] and s.received() == 6
    assert s.applier.last_applied_at == 123.0


async def test_packs_before_the_next_expected_are_dropped() -> None:
    s = Setup()
    s.commits.applied(0, 2)  # packs 0 and 1 were applied already
    assert await s.applier.apply(0, list(enumerate(PACKS)), 3) == 3
    assert s.packs.reads == [] and s.received() == 2


async def test_a_pack_the_stream_skipped_is_read_back_from_kafka_first() -> None:
    s = Setup()
    assert await s.applier.apply(0, [(0, PACKS[0]), (2, PACKS[2])], 3) == 3
    assert s.packs.reads == [(0, 0, 3)] and s.received() == 6


async def test_packs_never_delivered_are_read_up_to_the_end() -> None:
    s = Setup()
    assert await s.applier.apply(0, [], 2) == 2
    assert s.packs.reads == [(0, 0, 2)] and s.received() == 4


async def test_packs_are_applied_in_batches_of_at_most_apply_max_events_or_one_pack() -> None:
    s = Setup(apply_max_events=4)
    await s.applier.apply(0, list(enumerate(PACKS)), 3)
    # 6 events: packs 0 and 1 (4 events), then pack 2; one write per table per batch.
    assert [kind for kind, table, _ in s.tables.log if table == "filings"] == ["write", "write"]
    assert len(s.settled) == 2 and s.received() == 6


async def test_an_event_the_engine_refuses_is_dead_lettered_with_its_source_offset() -> None:
    s = Setup()
    old = event(9, "submitted", "OLD", T0 - timedelta(days=401))
    await s.applier.apply(3, [(0, pack([(17, old)]))], 1)
    (sent,) = s.producer.sent
    headers: dict[str, Any] = dict(sent["headers"])
    assert sent["topic"] == "dlq" and sent["key"] == b"U1"
    assert headers == {"dlq.reason": b"too_late", "dlq.source.topic": b"filing-events",
                       "dlq.source.partition": b"3", "dlq.source.offset": b"17"}
    assert orjson.loads(sent["value"])["event_id"] == "e9"

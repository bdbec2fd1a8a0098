"""The agent's step (services/aggregator/pack_stream.py): delivered packs applied under the gate,
partition by partition, the next packs recorded about once a second; a backlog's batch seen at once."""

from __future__ import annotations

from types import SimpleNamespace

from services.aggregator.commit_protocol import NEXT_PACK_KEY, CommitProtocol
from services.aggregator.dead_letters import DeadLetterWriter
from services.aggregator.gate import PartitionGate
from services.aggregator.pack_applier import PackApplier
from services.aggregator.pack_stream import BACKLOG_HOLD_S, BACKLOG_TAKE_EVENTS, PackStream, by_partition
from services.aggregator.stall_guard import StallGuard
from tests.unit.aggregator.fakes import T0, FakePacks, FakeProducer, FakeTables, engine, event, pack

P0 = [pack([(0, event(1, "submitted", "F1", T0))]), pack([(1, event(2, "submitted", "F2", T0))])]
P1 = [pack([(0, event(3, "submitted", "G1", T0, unit="U2"))])]


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class Setup:
    def __init__(self, held: set[int]) -> None:
        self.tables = FakeTables()
        self.packs = FakePacks({0: P0, 1: P1})
        self.engine = engine()
        self.clock = Clock()
        self.gate = PartitionGate(lambda partition: partition in held)
        self.gate.open()
        self.commits = CommitProtocol(self.tables, "units", self.packs.first, self.engine.unit_records,
                                      clock=self.clock)
        applier = PackApplier(self.engine, self.tables, "filings", "units", self.commits, self.packs,
                              DeadLetterWriter("dlq", FakeProducer()), "filing-events", 20000, 1000)
        self.guard = StallGuard(5.0, self.gate, self.commits, applier, self.packs, lambda: sorted(held),
                                clock=self.clock)
        self.stream = PackStream(self.gate, applier, self.commits, self.guard, clock=self.clock)


def test_delivered_events_are_grouped_by_partition_in_order() -> None:
    def delivered(partition: int, offset: int) -> SimpleNamespace:
        message = SimpleNamespace(partition=partition, offset=offset)
        return SimpleNamespace(message=message, value=b"%d" % offset)

    events = [delivered(0, 5), delivered(1, 2), delivered(0, 6)]
    assert by_partition(events) == {0: [(5, b"5"), (6, b"6")], 1: [(2, b"2")]}


async def test_packs_of_partitions_held_are_applied_the_others_left_to_their_owner() -> None:
    s = Setup(held={0})
    await s.stream.take({0: list(enumerate(P0)), 1: list(enumerate(P1))})
    assert set(s.engine.units) == {"U1"} and s.commits.unrecorded == {0: 2}
    assert s.guard.progress[0][0] == 2


async def test_the_next_packs_are_recorded_once_an_interval_has_passed() -> None:
    s = Setup(held={0})
    s.clock.now = 0.5
    await s.stream.take({0: [(0, P0[0])]})
    assert NEXT_PACK_KEY not in s.tables.read(0, "units")
    s.clock.now = 1.0
    await s.stream.take({0: [(1, P0[1])]})
    # The record's units are written at once; Kafka's acknowledgements and the next pack come in
    # the background, while the stream goes on.
    assert b"U1" in s.tables.read(0, "units") and NEXT_PACK_KEY not in s.tables.read(0, "units")
    await s.commits.settled()
    assert s.tables.read(0, "units")[NEXT_PACK_KEY] == b"2" and s.commits.unrecorded == {}


async def test_packs_applied_before_the_stream_went_quiet_are_recorded_by_the_timer() -> None:
    s = Setup(held={0})
    await s.stream.take({0: [(0, P0[0])]})
    await s.stream.record_waiting()
    assert NEXT_PACK_KEY not in s.tables.read(0, "units")
    s.clock.now = 1.0
    await s.stream.record_waiting()
    assert s.tables.read(0, "units")[NEXT_PACK_KEY] == b"1"


async def test_a_batch_as_large_as_a_backlogs_makes_the_agent_behind_before_it_is_applied() -> None:
    s = Setup(held={0})
    seen: list[bool] = []
    s.stream.before_applying = lambda: seen.append(s.stream.behind())
    await s.stream.take({0: list(enumerate(P0))})  # live: a few events
    big = pack([(n, event(10 + n, "submitted", f"B{n}", T0)) for n in range(BACKLOG_TAKE_EVENTS)])
    await s.stream.take({0: [(2, big)]})
    assert seen == [False, True] and s.stream.behind()
    s.clock.now += BACKLOG_HOLD_S
    assert not s.stream.behind()

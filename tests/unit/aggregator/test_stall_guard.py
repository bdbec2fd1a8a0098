"""The stall guard (services/aggregator/stall_guard.py, faust-streaming #629): packs waiting with no
delivery from the stream for `stall_after_s` are read straight from Kafka and applied."""

from __future__ import annotations

from services.aggregator import metrics
from services.aggregator.commit_protocol import NEXT_PACK_KEY, CommitProtocol
from services.aggregator.dead_letters import DeadLetterWriter
from services.aggregator.gate import PartitionGate
from services.aggregator.pack_applier import PackApplier
from services.aggregator.stall_guard import StallGuard
from tests.unit.aggregator.fakes import T0, FakePacks, FakeProducer, FakeTables, engine, event, pack

PACKS = [pack([(0, event(1, "submitted", "F1", T0))]), pack([(1, event(2, "submitted", "F2", T0))])]


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


class Setup:
    def __init__(self, assigned: frozenset[int] = frozenset({0})) -> None:
        self.tables = FakeTables()
        self.packs = FakePacks({0: PACKS})
        self.engine = engine()
        self.clock = Clock()
        self.gate = PartitionGate(lambda partition: partition in assigned)
        self.gate.open()
        self.commits = CommitProtocol(self.tables, "units", self.packs.first, self.engine.unit_records)
        applier = PackApplier(self.engine, self.tables, "filings", "units", self.commits, self.packs,
                              DeadLetterWriter("dlq", FakeProducer()), "filing-events", 20000, 1000)
        self.guard = StallGuard(5.0, self.gate, self.commits, applier, self.packs, lambda: sorted(assigned),
                                clock=self.clock)


def stalls() -> float:
    return metrics.REGISTRY.get_sample_value("aggregator_stalled_partitions_total") or 0.0


async def test_packs_waiting_with_no_delivery_are_applied_after_the_stall_time_and_recorded() -> None:
    s, before = Setup(), stalls()
    await s.guard.check()  # first look: progress starts now
    s.clock.now += 4.9
    await s.guard.check()
    assert s.engine.applied == 0
    s.clock.now += 0.1
    await s.guard.check()
    assert s.engine.applied == 2 and s.packs.reads == [(0, 0, 2)]
    assert s.tables.read(0, "units")[NEXT_PACK_KEY] == b"2" and s.tables.sending() == set()
    assert stalls() == before + 1


async def test_a_partition_the_stream_advances_is_left_alone() -> None:
    s = Setup()
    await s.guard.check()
    s.clock.now += 3
    s.commits.applied(0, 1)
    s.guard.advanced(0, 1)  # the stream delivered pack 0
    s.clock.now += 3
    await s.guard.check()
    assert s.engine.applied == 0


async def test_nothing_is_applied_while_the_tables_recover_or_for_partitions_not_held() -> None:
    s = Setup(assigned=frozenset({0}))
    s.gate.close()
    await s.guard.check()
    s.clock.now += 60
    await s.guard.check()
    assert s.engine.applied == 0 and s.guard.progress == {}
    s.gate.open()
    s.gate.assigned = lambda partition: False  # revoked meanwhile
    await s.guard.check()
    assert s.engine.applied == 0


async def test_a_stalled_partition_with_nothing_waiting_is_not_a_stall() -> None:
    s = Setup()
    s.commits.applied(0, 2)
    await s.guard.check()
    s.clock.now += 10
    before = stalls()
    await s.guard.check()
    assert stalls() == before and s.packs.reads == []


def test_revoked_partitions_are_forgotten() -> None:
    s = Setup()
    s.guard.advanced(0, 1)
    s.guard.forget([0, 5])
    assert s.guard.progress == {}

"""A rebalance (services/aggregator/rebalance.py): recovered partitions' units loaded and the gate
opened; revoked ones recorded while holding the gate, then dropped."""

from __future__ import annotations

import asyncio

from aiokafka.errors import KafkaConnectionError

from services.aggregator.commit_protocol import NEXT_PACK_KEY, CommitProtocol
from services.aggregator.dead_letters import DeadLetterWriter
from services.aggregator.engine import Unit
from services.aggregator.gate import PartitionGate
from services.aggregator.pack_applier import PackApplier
from services.aggregator.rebalance import Rebalance
from services.aggregator.stall_guard import StallGuard
from tests.unit.aggregator.fakes import T0, FakePacks, FakeProducer, FakeTables, engine, event, pack


class Setup:
    def __init__(self) -> None:
        self.tables = FakeTables()
        self.packs = FakePacks({0: [pack([(0, event(1, "submitted", "F1", T0))])]})
        self.engine = engine()
        self.gate = PartitionGate(lambda partition: True)
        self.commits = CommitProtocol(self.tables, "units", self.packs.first, self.engine.unit_records)
        self.applier = PackApplier(self.engine, self.tables, "filings", "units", self.commits, self.packs,
                                   DeadLetterWriter("dlq", FakeProducer()), "filing-events", 20000, 1000)
        self.guard = StallGuard(5.0, self.gate, self.commits, self.applier, self.packs, lambda: [0])
        self.rebalance = Rebalance(self.engine, self.gate, self.commits, self.guard)

    async def apply_one(self) -> None:
        self.commits.applied(0, await self.applier.apply(0, [(0, self.packs.packs[0][0])], 1))
        self.guard.advanced(0, 1)


def test_recovery_loads_the_units_not_held_and_opens_the_gate() -> None:
    s = Setup()
    stored = [(b"U1", Unit(0).to_bytes()), (NEXT_PACK_KEY, b"4")]
    s.rebalance.recovered(stored)
    assert s.gate.is_open and set(s.engine.units) == {"U1"} and "U1" in s.engine.dirty


async def test_a_revocation_waits_for_the_round_in_flight_then_records_and_drops() -> None:
    s = Setup()
    s.gate.open()
    await s.apply_one()
    async with s.gate.lock:  # a round of packs in flight
        revoking = asyncio.create_task(s.rebalance.revoked([0]))
        await asyncio.sleep(0.01)
        assert not s.gate.is_open and not revoking.done()
    await asyncio.wait_for(revoking, 1)
    assert s.tables.read(0, "units")[NEXT_PACK_KEY] == b"1" and s.tables.sending() == set()
    assert s.engine.unit_count() == 0 and s.guard.progress == {}


async def test_a_revocation_whose_writes_fail_forgets_them_and_still_drops_the_partitions() -> None:
    s = Setup()
    s.gate.open()
    await s.apply_one()
    s.tables.fail = KafkaConnectionError()
    await s.rebalance.revoked([0])
    assert s.commits.unrecorded == {} and s.engine.unit_count() == 0
    assert NEXT_PACK_KEY not in s.tables.read(0, "units")

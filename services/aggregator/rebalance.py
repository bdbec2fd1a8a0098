"""What a rebalance does to the runtime: partitions recovered and partitions revoked.

- Recovered (the tables' own recovery callback): every unit this worker now owns is loaded from
  the units table and published again; units already in memory are left alone, since the agent may
  be half-way through a pack (a unit whose partition moved meanwhile is read again from the table
  on its next pack: see Engine.apply_pack). Then the gate opens.
- Revoked: the gate closes, and under its lock every change sent must be in Kafka before the
  partitions move, since the next owner restores the tables from the changelogs as they are then
  (our writes bypass Faust's producer, which Faust flushes itself). Then the partitions' units and
  stall watch are dropped: should they come back, their state is read again from the tables.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka.errors import KafkaError

from services.aggregator import metrics
from services.aggregator.commit_protocol import CommitProtocol
from services.aggregator.engine import Engine
from services.aggregator.gate import PartitionGate
from services.aggregator.stall_guard import StallGuard

log = logging.getLogger(__name__)


@dataclass
class Rebalance:
    engine: Engine
    gate: PartitionGate
    commits: CommitProtocol
    stall_guard: StallGuard

    def recovered(self, stored_units: Iterable[tuple[bytes, bytes]]) -> None:
        """The tables are whole; `stored_units` are the units table's records (keys starting with
        a zero byte are the runtime's own, such as the next pack)."""
        loaded = self.engine.load_missing((key.decode(), value) for key, value in stored_units
                                          if not key.startswith(b"\x00"))
        self.gate.open()
        metrics.UNITS.set(self.engine.unit_count())
        log.info("recovery done: %d units loaded, %d held", loaded, self.engine.unit_count())

    async def revoked(self, partitions: Iterable[int]) -> None:
        """The packed partitions `partitions` (and their tables) are about to move."""
        self.gate.close()
        async with self.gate.lock:
            try:
                await self.commits.record()
            except KafkaError as exc:
                # The writes failed, so none can land after the next owner's restore; it applies
                # the packs since the last record again, exactly.
                log.warning("could not record the next packs before a rebalance: %r", exc)
                self.commits.forget()
            gone = list(partitions)
            self.engine.drop_partitions(gone)
            self.stall_guard.forget(gone)

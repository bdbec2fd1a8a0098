"""Applies a partition's packs in order, from the next one expected, whatever the stream delivered.

Faust's consumer can skip packed records across rebalances (its offset-gap logic) or stop
fetching a partition (stall_guard.py); packs before the next expected were applied already. So the
applier keeps only the delivered packs from the next expected on, reads any pack missing in between
back from Kafka, and applies them in batches of up to `apply_max_events` events, each batch one
engine call and one write to the filings table (the units table is written by the commit protocol).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from services.aggregator.commit_protocol import ChangeWriter, CommitProtocol
from services.aggregator.dead_letters import DeadLetterWriter, Source, of_event
from services.aggregator.engine import Engine
from services.aggregator.pack_format import decode_pack

log = logging.getLogger(__name__)


class PackSource(Protocol):
    async def read(self, partition: int, start: int, end: int) -> list[tuple[int, bytes]]: ...


@dataclass
class PackApplier:
    engine: Engine
    writer: ChangeWriter
    filings: Any
    units: Any
    commits: CommitProtocol
    packs: PackSource
    dead_letters: DeadLetterWriter
    source_topic: str  # where the packed events came from: filing-events
    apply_max_events: int
    dead_letter_max_bytes: int
    settle: Callable[[], None] = lambda: None  # after each batch (gc_tuning.FrozenState.settle in the worker)
    wall_clock: Callable[[], float] = time.time
    # When a batch was last applied (the real clock, not the figures': replays freeze that).
    last_applied_at: float | None = field(default=None, init=False)

    async def apply(self, partition: int, delivered: list[tuple[int, bytes]], end: int) -> int:
        """Apply the partition's packs from the next one expected up to `end` (exclusive), in order,
        and send their changes to the tables; return the next pack to apply (the commit protocol
        records it once Kafka has the changes). `delivered` are (offset, value) packs the stream
        handed over."""
        start = await self.commits.next_pack(partition)
        delivered = [(offset, value) for offset, value in delivered if start <= offset < end]
        if [offset for offset, _ in delivered] != list(range(start, start + len(delivered))) \
                or start + len(delivered) < end:
            read = await self.packs.read(partition, start, end)
            if delivered and len(read) > len(delivered):
                log.warning("partition %d: read %d packs back from Kafka that the stream did not "
                            "deliver in order", partition, len(read) - len(delivered))
            delivered = read
        batch: list[tuple[Any, ...]] = []
        first = start
        for index, (offset, value) in enumerate(delivered):
            batch.extend(decode_pack(value))
            if len(batch) >= self.apply_max_events or index == len(delivered) - 1:
                await self._apply_batch(partition, batch, range(first, offset + 1))
                batch, first = [], offset + 1
                self.settle()
        return start + len(delivered)

    async def _apply_batch(self, partition: int, batch: list[tuple[Any, ...]], pack_range: range) -> None:
        result = self.engine.apply_pack(partition, batch, self.writer.read(partition, self.filings).get,
                                        self.writer.read(partition, self.units).get, pack_range)
        self.last_applied_at = self.wall_clock()
        # The filings' store is written back (filing_store.py): their records go to the store as
        # they leave the engine's cache; the units' records go with the next record of the commit
        # protocol (Engine.unit_records).
        await self.writer.write(partition, self.filings, result.filing_changes, to_store=False)
        for owner, records in result.evicted.items():
            self.writer.write_store(owner, self.filings, records)
        for offset, event, reason in result.rejected:
            # Packed topic and source topic are co-partitioned: the event's partition is this one.
            letter = of_event(event, reason, Source(self.source_topic, partition, offset),
                              self.dead_letter_max_bytes)
            await (await self.dead_letters.send(letter))

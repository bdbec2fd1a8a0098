"""The commit protocol: the units table records each partition's next pack to apply only once Kafka
has acknowledged every change sent for the packs before it.

Table writes are sent without waiting (table_writer.py). A crash can keep any part of the writes
sent since the last record, in each changelog's order; the packs since that record are then applied
again, and the offsets stored with the state make that exact (engine.py). The record itself must
therefore never reach the changelog before the writes it vouches for, and `record` goes in three
steps:

1. write the records of the units the applied packs changed (Engine.unit_records: a unit's
   record is written here, once a record, not after every batch), then flush every partition with
   changes sent: Kafka has all of the applied packs' writes;
2. write each applied partition's next pack (`NEXT_PACK_KEY`) to the units table;
3. flush those partitions: Kafka has the records.

A crash before step 3 is over replays the packs since the previous record; after it, never.
Waiting for Kafka about once a second (`RECORD_EVERY_S`), not once a pack, keeps the broker's
round trips out of the agent's way. Call `record` while holding the gate (gate.py), so that no
pack is applied half-way through it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

# In the units table, beside the units: the next packed offset of the partition to apply.
NEXT_PACK_KEY = b"\x00next-pack"
# How often the tables record the next packs to apply, at most.
RECORD_EVERY_S = 1.0


class ChangeWriter(Protocol):
    """What the protocol needs of the table writer (a fake in the tests loses what it is told to)."""

    async def write(self, partition: int, table: Any, changed: dict[bytes, bytes | None]) -> None: ...

    def read(self, partition: int, table: Any) -> Any: ...

    def sending(self) -> set[int]: ...

    async def flush(self, partition: int) -> None: ...


class CommitProtocol:
    def __init__(self, writer: ChangeWriter, units: Any, first_pack: Callable[[int], Awaitable[int]],
                 unit_records: Callable[[int], dict[bytes, bytes | None]],
                 clock: Callable[[], float] = time.monotonic, every_s: float = RECORD_EVERY_S) -> None:
        self.writer = writer
        self.units = units
        self.unit_records = unit_records  # a partition's changed units' records (Engine.unit_records)
        self.first_pack = first_pack  # the partition's first pack still in Kafka
        self.clock = clock
        self.every_s = every_s
        # partition -> its next pack to apply, where packs were applied since the last record
        self.unrecorded: dict[int, int] = {}
        self.recorded_at = clock()

    async def next_pack(self, partition: int) -> int:
        """The partition's next pack to apply: as applied here since the last record, else as
        recorded in the units table, else the first pack in Kafka."""
        if partition in self.unrecorded:
            return self.unrecorded[partition]
        stored = self.writer.read(partition, self.units).get(NEXT_PACK_KEY)
        return int(stored) if stored is not None else await self.first_pack(partition)

    def applied(self, partition: int, next_pack: int) -> None:
        """Packs of the partition were applied and their changes sent, up to `next_pack`."""
        self.unrecorded[partition] = next_pack

    def due(self) -> bool:
        return self.clock() - self.recorded_at >= self.every_s

    def waiting(self) -> bool:
        """Packs applied are waiting to be recorded, and it is time (a stream gone quiet)."""
        return bool(self.unrecorded) and self.due()

    async def record(self) -> None:
        """Record each applied partition's next pack, in the three steps above."""
        self.recorded_at = self.clock()
        for partition in self.unrecorded:
            await self.writer.write(partition, self.units, self.unit_records(partition))
        for partition in self.writer.sending():  # the unrecorded ones, and any a failed pack left
            await self.writer.flush(partition)
        for partition, next_pack in self.unrecorded.items():
            await self.writer.write(partition, self.units, {NEXT_PACK_KEY: str(next_pack).encode()})
        for partition in self.unrecorded:
            await self.writer.flush(partition)
        self.unrecorded.clear()

    def forget(self) -> None:
        """The writes since the last record failed: none of them can land later, and the packs
        since the last record will be applied again (by this worker or the partition's next one)."""
        self.unrecorded.clear()

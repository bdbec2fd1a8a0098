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
round trips out of the agent's way; so does `record(wait=False)`, which makes step 1's writes and
marks what they are to be flushed with at once (the units' records and each partition's next
pack are then a snapshot), and leaves the waiting and steps 2 and 3 to the background while the
agent applies the next packs: their writes go out behind the snapshot's, and the next record
vouches for them. Call `record` while holding the gate (gate.py), so that no pack is applied
half-way through its snapshot; it first waits for the record before it to end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

# In the units table, beside the units: the next packed offset of the partition to apply.
NEXT_PACK_KEY = b"\x00next-pack"
# How often the tables record the next packs to apply, at most.
RECORD_EVERY_S = 1.0


class ChangeWriter(Protocol):
    """What the protocol needs of the table writer (a fake in the tests loses what it is told to)."""

    async def write(self, partition: int, table: Any, changed: dict[bytes, bytes | None],
                    to_store: bool = True) -> None: ...

    def write_store(self, partition: int, table: Any, changed: dict[bytes, bytes]) -> None: ...

    def store_holds_all(self, partition: int, table: Any) -> None: ...

    def read(self, partition: int, table: Any) -> Any: ...

    def sending(self) -> set[int]: ...

    def seal(self, partition: int, table: Any = None) -> Any: ...

    async def flushed(self, sealed: Any) -> None: ...

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
        self._vouching: asyncio.Future[None] | None = None  # a record's steps left to the background

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

    async def record(self, wait: bool = True) -> None:
        """Record each applied partition's next pack, in the three steps above; unless `wait`, all
        but the first step's writes in the background."""
        await self.settled()
        self.recorded_at = self.clock()
        snapshot = dict(self.unrecorded)
        for partition in snapshot:
            await self.writer.write(partition, self.units, self.unit_records(partition))
        # The snapshot's partitions, and any a failed pack left.
        sealed = [self.writer.seal(partition) for partition in sorted(self.writer.sending())]
        vouching = asyncio.ensure_future(self._vouch(sealed, snapshot))
        if wait:
            await vouching
        else:
            self._vouching = vouching

    async def settled(self) -> None:
        """Wait for the record under way in the background to end, raising what failed."""
        if self._vouching is not None:
            vouching, self._vouching = self._vouching, None
            await vouching

    async def _vouch(self, sealed: list[Any], snapshot: dict[int, int]) -> None:
        """Steps 1 (its waiting), 2 and 3 of the record of `snapshot` (partition -> next pack)."""
        for each in sealed:
            await self.writer.flushed(each)
        for partition, next_pack in snapshot.items():
            await self.writer.write(partition, self.units, {NEXT_PACK_KEY: str(next_pack).encode()})
        for partition in snapshot:
            await self.writer.flushed(self.writer.seal(partition, self.units))
        for partition, next_pack in snapshot.items():
            if self.unrecorded.get(partition) == next_pack:  # else the packs since go in the next record
                del self.unrecorded[partition]

    def forget(self) -> None:
        """The writes since the last record failed: none of them can land later, and the packs
        since the last record will be applied again (by this worker or the partition's next one)."""
        self.unrecorded.clear()
        self._vouching = None

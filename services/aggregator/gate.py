"""When packs may be applied: only while the tables are whole, and one round at a time.

Guards against two faust-streaming 0.15 behaviours:
- Faust resumes its streams before the tables' recovery has read the changelogs to the end (its
  `on_rebalance_complete` fires then too), and packs already fetched reach the agent; applying
  them would read and write half-restored state. So the gate opens only in the tables' own
  recovery callback (`open`), and closes when partitions are revoked.
- Our changelog writes do not go through Faust's producer, which Faust flushes before giving
  partitions up. So packs are applied, and their changes sent, while holding the gate's lock; a
  revocation takes the lock and waits for every write sent (rebalance.py), and the next owner's
  recovery, which reads the changelogs to their end as they are then, cannot miss writes in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class PartitionGate:
    def __init__(self, assigned: Callable[[int], bool]) -> None:
        self.assigned = assigned  # whether this worker holds the packed partition (Faust's assignor)
        self.lock = asyncio.Lock()
        self.tables_ready = asyncio.Event()

    def open(self) -> None:
        """The tables are whole (Faust's recovery is done)."""
        self.tables_ready.set()

    def close(self) -> None:
        """Partitions are being revoked: no new round of packs starts."""
        self.tables_ready.clear()

    @property
    def is_open(self) -> bool:
        return self.tables_ready.is_set()

    async def wait_open(self) -> None:
        await self.tables_ready.wait()

    def owned(self, partition: int) -> bool:
        """This worker holds the partition and its tables are whole (call while holding the gate)."""
        return self.tables_ready.is_set() and self.assigned(partition)

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Wait until the tables are whole, then hold the lock; should a revocation begin while
        this waits for the lock, wait for the tables again."""
        while True:
            await self.tables_ready.wait()
            await self.lock.acquire()
            if self.tables_ready.is_set():
                break
            self.lock.release()
        try:
            yield
        finally:
            self.lock.release()

"""Guards against faust-streaming issue #629: after a rebalance, Faust's consumer sometimes stops
fetching a partition altogether, and its packs would wait for ever with the figures frozen.

The guard watches each owned partition's next pack to apply. When it has not moved for
`stall_after_s` while Kafka holds packs past it, they are read straight from Kafka and applied
(counted in `aggregator_stalled_partitions_total`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from services.aggregator import metrics
from services.aggregator.commit_protocol import CommitProtocol
from services.aggregator.gate import PartitionGate
from services.aggregator.pack_applier import PackApplier

log = logging.getLogger(__name__)


class PackEnds(Protocol):
    @property
    def started(self) -> bool: ...

    async def end(self, partition: int) -> int: ...


@dataclass
class StallGuard:
    stall_after_s: float
    gate: PartitionGate
    commits: CommitProtocol
    applier: PackApplier
    packs: PackEnds
    assigned: Callable[[], Iterable[int]]  # the packed partitions this worker holds
    clock: Callable[[], float] = time.monotonic
    # partition -> (next pack expected, since when): how the guard sees progress.
    progress: dict[int, tuple[int, float]] = field(default_factory=dict, init=False)

    def advanced(self, partition: int, next_pack: int) -> None:
        """The stream delivered the partition's packs up to `next_pack`."""
        self.progress[partition] = (next_pack, self.clock())

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self.progress.pop(partition, None)

    async def check(self) -> None:
        """Apply the packs of every partition stalled for `stall_after_s` (a timer calls this)."""
        if not self.packs.started or not self.gate.is_open:
            return
        now = self.clock()
        for partition in self.assigned():
            async with self.gate.lock:
                if not self.gate.owned(partition):
                    continue
                start = await self.commits.next_pack(partition)
                seen, since = self.progress.setdefault(partition, (start, now))
                if seen != start:
                    self.progress[partition] = (start, now)
                    continue
                if now - since < self.stall_after_s:
                    continue
                end = await self.packs.end(partition)
                if end > start:
                    self.commits.applied(partition, await self.applier.apply(partition, [], end))
                    await self.commits.record()
                    metrics.STALLS.inc()
                    log.warning("partition %d: the stream delivered nothing for %.0f s; applied %d "
                                "waiting packs directly", partition, now - since, end - start)

"""What the agent does with the packs the stream delivers: each batch is applied under the gate,
partition by partition, and the next packs are recorded about once a second."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from services.aggregator.busy_share import BusyShare
from services.aggregator.commit_protocol import CommitProtocol
from services.aggregator.gate import PartitionGate
from services.aggregator.pack_applier import PackApplier
from services.aggregator.stall_guard import StallGuard


def by_partition(events: Iterable[Any]) -> dict[int, list[tuple[int, bytes]]]:
    """Faust's delivered events as (offset, value) packs per partition, in order."""
    delivered: dict[int, list[tuple[int, bytes]]] = {}
    for event in events:
        delivered.setdefault(event.message.partition, []).append((event.message.offset, event.value))
    return delivered


@dataclass
class PackStream:
    gate: PartitionGate
    applier: PackApplier
    commits: CommitProtocol
    stall_guard: StallGuard
    applying: BusyShare = field(default_factory=BusyShare)  # the agent's time spent applying

    async def take(self, delivered: dict[int, list[tuple[int, bytes]]]) -> None:
        """Apply a batch of delivered packs: all the packs waiting in a partition cost one table
        write. Packs of partitions this worker does not hold (any more) are left to their owner."""
        if not delivered:
            return
        async with self.gate.held():
            with self.applying.busy():
                for partition, packs in delivered.items():
                    if self.gate.owned(partition):
                        next_pack = await self.applier.apply(partition, packs, packs[-1][0] + 1)
                        self.commits.applied(partition, next_pack)
                        self.stall_guard.advanced(partition, next_pack)
            if self.commits.due():
                # Kafka's acknowledgements are waited for while the next packs are applied.
                await self.commits.record(wait=False)

    async def record_waiting(self) -> None:
        """The next packs applied in a last round, before the stream went quiet (a timer)."""
        if self.commits.waiting():
            async with self.gate.lock:
                await self.commits.record()

"""What the agent does with the packs the stream delivers: each batch is applied under the gate,
partition by partition, and the next packs are recorded about once a second. Also whether the
agent is behind a backlog, which publishing and the GIL's hold follow."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from services.aggregator.busy_share import BusyShare
from services.aggregator.commit_protocol import CommitProtocol
from services.aggregator.gate import PartitionGate
from services.aggregator.pack_applier import PackApplier
from services.aggregator.pack_format import pack_length
from services.aggregator.stall_guard import StallGuard


def by_partition(events: Iterable[Any]) -> dict[int, list[tuple[int, bytes]]]:
    """Faust's delivered events as (offset, value) packs per partition, in order."""
    delivered: dict[int, list[tuple[int, bytes]]] = {}
    for event in events:
        delivered.setdefault(event.message.partition, []).append((event.message.offset, event.value))
    return delivered


# A batch of delivered packs this large is a backlog's: live, the packer gathers 50 ms of traffic
# into a pack (about 100 events at 2,000 events/s); behind, it fills packs of `pack_max_events`
# (2,000 by default). Seen, the agent counts as behind for BACKLOG_HOLD_S, from before it applies
# the first batch of a catch-up (which can hold all of a short one): the applying share takes a
# second or more to say so, and until then the worker publishes and batches the live way
# (behind_mode.py), which a catch-up cannot afford.
BACKLOG_TAKE_EVENTS = 2000
BACKLOG_HOLD_S = 1.0


@dataclass
class PackStream:
    gate: PartitionGate
    applier: PackApplier
    commits: CommitProtocol
    stall_guard: StallGuard
    applying: BusyShare = field(default_factory=BusyShare)  # the agent's time spent applying
    clock: Callable[[], float] = time.monotonic
    # Called before each batch is applied, once `behind` says whether it is a backlog's
    # (behind_mode.py).
    before_applying: Callable[[], None] = lambda: None
    _backlog_until: float = field(default=float("-inf"), init=False)

    def behind(self) -> bool:
        """Behind a backlog: a batch delivered in the last BACKLOG_HOLD_S was a backlog's, or the
        agent has been applying most of its time (BusyShare.behind)."""
        return self.clock() < self._backlog_until or self.applying.behind()

    async def take(self, delivered: dict[int, list[tuple[int, bytes]]]) -> None:
        """Apply a batch of delivered packs: all the packs waiting in a partition cost one table
        write. Packs of partitions this worker does not hold (any more) are left to their owner."""
        if not delivered:
            return
        events = sum(pack_length(value) for packs in delivered.values() for _, value in packs)
        if events >= BACKLOG_TAKE_EVENTS:
            self._backlog_until = self.clock() + BACKLOG_HOLD_S
        self.before_applying()
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

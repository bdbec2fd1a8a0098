"""Forgets filings closed longer than the retention window, once a Ho Chi Minh day, while their
counts stay in the units' day buckets."""

from __future__ import annotations

import logging
from typing import Any

from services.aggregator.commit_protocol import ChangeWriter
from services.aggregator.engine import Engine
from services.aggregator.gate import PartitionGate

log = logging.getLogger(__name__)


class RetentionSweep:
    def __init__(self, engine: Engine, writer: ChangeWriter, filings: Any, gate: PartitionGate) -> None:
        self.engine = engine
        self.writer = writer
        self.filings = filings  # the Faust table; `filings.data.items()` reads every partition held
        self.gate = gate

    async def sweep_if_due(self) -> None:
        """Called between batches of packs, under the gate's lock, so that no write of the agent
        can interleave with the deletions."""
        if not self.engine.sweep_due(self.engine.now()):
            return
        async with self.gate.lock:
            forgettable = self.engine.forgettable(self.filings.data.items(), self.engine.now())
            for partition, keys in forgettable.items():
                await self.writer.write(partition, self.filings, dict.fromkeys(keys))
                await self.writer.flush(partition)
                log.info("forgot %d filings closed past retention in partition %d", len(keys), partition)

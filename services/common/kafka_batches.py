"""Sending many records to one partition as whole Kafka batches.

aiokafka's per-record `send()` costs more Python time than the broker spends on the record; when
a caller already knows the partition of thousands of records (a table's changelog, a replayed
file), filling `BatchBuilder`s by hand and sending each full one costs a fraction of that.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder


@dataclass(eq=False)
class PartitionBatcher:
    """Appends records for one (topic, partition) and ships each batch when it fills."""

    producer: AIOKafkaProducer
    topic: str
    partition: int
    builder: BatchBuilder = field(init=False)
    shipped: list[asyncio.Future[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.builder = self.producer.create_batch()

    def add(self, key: bytes | None, value: bytes | None) -> bool:
        """Append to the current batch if it has room (False: it is full, call `append`). Callers
        adding thousands of records call this first: it costs no coroutine."""
        return self.builder.append(key=key, value=value, timestamp=None) is not None

    async def append(self, key: bytes | None, value: bytes | None) -> None:
        if self.add(key, value):
            return
        await self.ship()  # full: send it and start the next one
        if self.builder.append(key=key, value=value, timestamp=None) is None:
            raise ValueError(f"a record of {len(value or b'')} bytes does not fit in a Kafka batch")

    async def ship(self) -> None:
        if self.builder.record_count():
            self.shipped.append(
                await self.producer.send_batch(self.builder, self.topic, partition=self.partition))
            self.builder = self.producer.create_batch()

    async def flush(self) -> list[Any]:
        """Ship what is left and wait for Kafka to acknowledge every batch."""
        await self.ship()
        shipped, self.shipped = self.shipped, []
        return list(await asyncio.gather(*shipped))


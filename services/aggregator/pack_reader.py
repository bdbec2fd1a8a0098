"""Reads packed records straight from Kafka by offset, without Faust or a consumer group: the packs
Faust's consumer skipped or stopped delivering (see pack_applier.py and stall_guard.py)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.aggregator.settings import AggregatorSettings

# How long a range of packs may take to read before the partition is taken to be unreadable.
READ_TIMEOUT_S = 60.0


class PackReader:
    def __init__(self, settings: AggregatorSettings, read_timeout_s: float = READ_TIMEOUT_S) -> None:
        self.settings = settings
        self.read_timeout_s = read_timeout_s
        self.consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(**self.settings.kafka.client_kwargs(), enable_auto_commit=False,
                                         max_partition_fetch_bytes=16 * 1024 * 1024)
        await self.consumer.start()

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()

    @property
    def started(self) -> bool:
        return self.consumer is not None

    def _tp(self, partition: int) -> TopicPartition:
        return TopicPartition(self.settings.packed_topic, partition)

    async def first(self, partition: int) -> int:
        """The partition's first pack still in Kafka."""
        assert self.consumer is not None
        tp = self._tp(partition)
        return int((await self.consumer.beginning_offsets([tp]))[tp])

    async def end(self, partition: int) -> int:
        """The offset the partition's next pack will have."""
        assert self.consumer is not None
        tp = self._tp(partition)
        return int((await self.consumer.end_offsets([tp]))[tp])

    async def read(self, partition: int, start: int, end: int) -> list[tuple[int, bytes]]:
        """The records at offsets start..end-1 (none when start >= end), as (offset, value)."""
        if start >= end:
            return []
        assert self.consumer is not None
        tp = self._tp(partition)
        self.consumer.assign([tp])
        self.consumer.seek(tp, start)
        found: list[tuple[int, bytes]] = []
        deadline = asyncio.get_running_loop().time() + self.read_timeout_s
        while not found or found[-1][0] < end - 1:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"packs {start}..{end - 1} of partition {partition} not readable")
            for record in (await self.consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                if record.offset < end:
                    found.append((record.offset, record.value))
        return found

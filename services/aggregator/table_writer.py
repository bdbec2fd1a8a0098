"""Writes state changes to Faust tables' stores and changelogs, bypassing Faust's producer.

Faust's `table[key] = value` sends each change through its buffered producer, ~25 µs a key, and a
pack changes thousands of keys. The writer puts the changes in the partition's store directly and
sends the same raw changelog records itself in whole Kafka batches; once Kafka has acknowledged
them it records the changelog offset as Faust's own callback would, so that recovery after a
restart resumes where it should. Writes are not awaited one by one: the broker stores one batch of
packs while the agent applies the next (see commit_protocol.py for when they must be).
"""

from __future__ import annotations

import asyncio
from typing import Any

import rocksdict
from aiokafka import AIOKafkaProducer

from services.aggregator.faust_adapter import partition_store, set_changelog_offset
from services.aggregator.settings import AggregatorSettings
from services.common.kafka_batches import PartitionBatcher


class TableWriter:
    """`write` puts changes in a table partition's store and sends them to its changelog; `flush`
    waits until Kafka has everything sent for a partition."""

    def __init__(self, settings: AggregatorSettings) -> None:
        self.settings = settings
        self.producer: AIOKafkaProducer | None = None
        # (changelog topic, partition) -> the table and the records sent there since the last flush
        self._sending: dict[tuple[str, int], tuple[Any, PartitionBatcher]] = {}

    async def start(self) -> None:
        self.producer = AIOKafkaProducer(
            **self.settings.kafka.client_kwargs(), acks="all", enable_idempotence=True,
            linger_ms=0, max_batch_size=1024 * 1024, max_request_size=8 * 1024 * 1024)
        await self.producer.start()

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()

    async def write(self, partition: int, table: Any, changed: dict[bytes, bytes | None]) -> None:
        assert self.producer is not None
        if not changed:
            return
        topic = table.changelog_topic.get_topic_name()
        if (topic, partition) not in self._sending:
            self._sending[topic, partition] = (table, PartitionBatcher(self.producer, topic, partition))
        batcher = self._sending[topic, partition][1]
        # One RocksDB write for the lot: a third of the cost of a put per key.
        writes = rocksdict.WriteBatch(raw_mode=True)
        for key, value in changed.items():
            if value is None:
                writes.delete(key)
            else:
                writes.put(key, value)
            if not batcher.add(key, value):
                await batcher.append(key, value)  # ships the full batch first
        partition_store(table, partition).write(writes)
        await batcher.ship()
        await asyncio.sleep(0)  # lets the producer put the batches on the wire now

    def read(self, partition: int, table: Any) -> Any:
        """The partition's store of the table, to read keys from (`.get`)."""
        return partition_store(table, partition)

    def sending(self) -> set[int]:
        """Partitions with changes sent and not yet flushed."""
        return {partition for _, partition in self._sending}

    async def flush(self, partition: int) -> None:
        """Wait until Kafka has acknowledged every change written for the partition."""
        for key in [key for key in self._sending if key[1] == partition]:
            table, batcher = self._sending.pop(key)
            acked = await batcher.flush()
            if acked:
                last = acked[-1]
                set_changelog_offset(table, last.topic_partition, last.offset)

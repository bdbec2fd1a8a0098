"""Writes state changes to Faust tables' stores and changelogs, bypassing Faust's producer.

Faust's `table[key] = value` sends each change through its buffered producer, ~25 µs a key, and a
pack changes thousands of keys. The writer puts the changes in the partition's store directly and
sends the same raw changelog records itself in whole Kafka batches; once Kafka has acknowledged
them it records the changelog offset as Faust's own callback would, so that recovery after a
restart resumes where it should. Writes are not awaited one by one: the broker stores one batch of
packs while the agent applies the next (see commit_protocol.py for when they must be). `seal` marks
what was written so far, for `flushed` to wait on while later writes go out behind it, in order.

The stores are written without RocksDB's write-ahead log, as Kafka Streams writes its own: the
changelog is the log. After a crash a store holds what RocksDB last flushed to disk, the changelog
offset recorded with it included (every write, the offset's too, skips the log, so the offset is
never ahead of the data), and recovery restores the changelog from there; a clean stop flushes.
Skipping the log saves about a fifth of RocksDB's time a write (1.7 against 1.4 µs, measured on the
benchmark's filing records) and the disk writes of a second copy.

A table may be written back (`written_back`: the filings, which the engine caches): its changes go
to the changelog at once, `write(..., to_store=False)`, and to the store later (`write_store`);
the changelog offset its recovery resumes from is recorded only when the caller says the store
holds every change sent (`store_holds_all`), never on an acknowledgement alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import rocksdict
from aiokafka import AIOKafkaProducer

from services.aggregator.faust_adapter import (
    open_partition_store,
    partition_store,
    set_changelog_offset,
    set_lz4,
)
from services.aggregator.settings import AggregatorSettings
from services.common.kafka_batches import Checkpoint, PartitionBatcher

# What a partition's writes so far were, per changelog: (table, (changelog topic, partition), batches)
Sealed = list[tuple[Any, tuple[str, int], Checkpoint]]


def _without_log() -> rocksdict.WriteOptions:
    options = rocksdict.WriteOptions()
    # A property: rocksdict's type stub declares it a method.
    options.disable_wal = True  # type: ignore[method-assign,assignment]
    return options


WITHOUT_LOG = _without_log()


class TableWriter:
    """`write` puts changes in a table partition's store and sends them to its changelog; `flush`
    waits until Kafka has everything sent for a partition (`seal`, then `flushed`)."""

    def __init__(self, settings: AggregatorSettings, written_back: tuple[Any, ...] = ()) -> None:
        self.settings = settings
        self.written_back = written_back
        # (id of a written-back table, partition) -> its changelog's last acknowledged offset. Tables
        # go by identity: a Faust table is a Mapping, and comparing two compares their every item.
        self._acknowledged: dict[tuple[int, int], tuple[Any, int]] = {}
        self.producer: AIOKafkaProducer | None = None
        # (changelog topic, partition) -> the table and the batcher of its records, in order
        self._batchers: dict[tuple[str, int], tuple[Any, PartitionBatcher]] = {}
        self._unsealed: set[tuple[str, int]] = set()  # changelogs written since they were last sealed
        self._lz4 = False

    async def start(self) -> None:
        self.producer = AIOKafkaProducer(
            **self.settings.kafka.client_kwargs(), acks="all", enable_idempotence=True,
            linger_ms=0, max_batch_size=1024 * 1024, max_request_size=8 * 1024 * 1024)
        set_lz4(self.producer, self._lz4)
        await self.producer.start()

    def compress(self, on: bool) -> None:
        """lz4 on the changelogs' next batches, or none (behind_mode.py)."""
        self._lz4 = on
        if self.producer is not None:
            set_lz4(self.producer, on)

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
        # Written without the write-ahead log: what RocksDB holds in memory goes to disk now, so
        # that the next start restores only the changelog written after it.
        for (_, partition), (table, _) in self._batchers.items():
            store = open_partition_store(table, partition)
            if store is not None:
                store.flush()

    async def write(self, partition: int, table: Any, changed: dict[bytes, bytes | None],
                    to_store: bool = True) -> None:
        assert self.producer is not None
        if not changed:
            return
        topic = table.changelog_topic.get_topic_name()
        if (topic, partition) not in self._batchers:
            self._batchers[topic, partition] = (table, PartitionBatcher(self.producer, topic, partition))
        batcher = self._batchers[topic, partition][1]
        self._unsealed.add((topic, partition))
        if to_store:
            self.write_store(partition, table, changed)
        for key, value in changed.items():
            if not batcher.add(key, value):
                await batcher.append(key, value)  # ships the full batch first
        await batcher.ship()
        await asyncio.sleep(0)  # lets the producer put the batches on the wire now

    def write_store(self, partition: int, table: Any, changed: Mapping[bytes, bytes | None]) -> None:
        """Put changes in the partition's store only (`write` sends them to the changelog)."""
        if not changed:
            return
        # One RocksDB write for the lot: a third of the cost of a put per key.
        writes = rocksdict.WriteBatch(raw_mode=True)
        for key, value in changed.items():
            if value is None:
                writes.delete(key)
            else:
                writes.put(key, value)
        store = partition_store(table, partition)
        store.set_write_options(WITHOUT_LOG)  # every later write of the store too (see above)
        store.write(writes)

    def store_holds_all(self, partition: int, table: Any) -> None:
        """The written-back table's store holds every change sent for the partition: record its
        changelog's last acknowledged offset as the one its recovery resumes from."""
        acknowledged = self._acknowledged.pop((id(table), partition), None)
        if acknowledged is not None:
            set_changelog_offset(table, *acknowledged)

    def read(self, partition: int, table: Any) -> Any:
        """The partition's store of the table, to read keys from (`.get`)."""
        return partition_store(table, partition)

    def sending(self) -> set[int]:
        """Partitions with changes sent and not yet sealed."""
        return {partition for _, partition in self._unsealed}

    def seal(self, partition: int, table: Any = None) -> Sealed:
        """What was written so far for the partition (of `table` only, if given), without waiting."""
        sealed: Sealed = []
        for key in sorted(self._unsealed):
            owner, batcher = self._batchers[key]
            if key[1] == partition and (table is None or owner is table):
                self._unsealed.discard(key)
                sealed.append((owner, key, batcher.checkpoint()))
        return sealed

    async def flushed(self, sealed: Sealed) -> None:
        """Wait until Kafka has acknowledged every change of `sealed`."""
        # A failed batch fails every later one of its changelog too (they go out in order), so no
        # record can vouch for writes made after it: the agent stops, and the tables are restored.
        for table, _, checkpoint in sealed:
            acked = await PartitionBatcher.acknowledged(checkpoint)
            if acked:
                last = acked[-1]
                if any(table is each for each in self.written_back):  # store_holds_all records it
                    self._acknowledged[id(table), last.topic_partition.partition] = (
                        last.topic_partition, last.offset)
                else:
                    set_changelog_offset(table, last.topic_partition, last.offset)

    async def flush(self, partition: int) -> None:
        """Wait until Kafka has acknowledged every change written for the partition."""
        await self.flushed(self.seal(partition))

"""The table writer (services/aggregator/table_writer.py): changes go to the partition's RocksDB
store at once and to the changelog in whole batches; a flush waits for Kafka and records the
changelog offset for the table's recovery."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
from faust.types import TP

from services.aggregator.settings import AggregatorSettings
from services.aggregator.table_writer import TableWriter


class Batch:
    def __init__(self, room: int) -> None:
        self.room = room
        self.records: list[tuple[bytes, bytes | None]] = []

    def append(self, key: bytes, value: bytes | None, timestamp: Any) -> object | None:
        if len(self.records) == self.room:
            return None
        self.records.append((key, value))
        return object()

    def record_count(self) -> int:
        return len(self.records)


class Producer:
    """aiokafka's batch API; the broker acknowledges when `ack` is set."""

    def __init__(self, room: int = 2) -> None:
        self.room = room
        self.batches: list[tuple[str, int, list[tuple[bytes, bytes | None]]]] = []
        self.ack = asyncio.Event()

    def create_batch(self) -> Batch:
        return Batch(self.room)

    async def send_batch(self, batch: Batch, topic: str, partition: int) -> asyncio.Future[Any]:
        offset = sum(len(records) for _, _, records in self.batches) + len(batch.records) - 1
        self.batches.append((topic, partition, batch.records))

        async def acknowledged() -> Any:
            await self.ack.wait()
            return SimpleNamespace(topic_partition=TP(topic, partition), offset=offset)

        return asyncio.ensure_future(acknowledged())


def setup(tmp_path: Path) -> tuple[TableWriter, Producer, Any]:
    app = faust.App("writer-test", broker="kafka://127.0.0.1:1", store="rocksdb://", datadir=str(tmp_path))
    table = app.Table("t", key_type=bytes, value_type=bytes, partitions=2)
    writer, producer = TableWriter(AggregatorSettings()), Producer()
    writer.producer = producer  # type: ignore[assignment]
    return writer, producer, table


async def test_changes_reach_the_store_at_once_and_the_changelog_in_whole_batches(tmp_path: Path) -> None:
    writer, producer, table = setup(tmp_path)
    writer.read(1, table)[b"gone"] = b"x"
    await writer.write(1, table, {b"a": b"1", b"b": b"2", b"c": b"3", b"gone": None})
    assert writer.read(1, table).get(b"a") == b"1" and writer.read(1, table).get(b"gone") is None
    topic = table.changelog_topic.get_topic_name()
    assert producer.batches == [(topic, 1, [(b"a", b"1"), (b"b", b"2")]),
                                (topic, 1, [(b"c", b"3"), (b"gone", None)])]
    assert writer.sending() == {1}


async def test_a_flush_waits_for_kafka_then_records_the_changelog_offset(tmp_path: Path) -> None:
    writer, producer, table = setup(tmp_path)
    await writer.write(1, table, {b"a": b"1", b"b": b"2", b"c": b"3"})
    flushing = asyncio.create_task(writer.flush(1))
    await asyncio.sleep(0.01)
    assert not flushing.done()
    producer.ack.set()
    await asyncio.wait_for(flushing, 1)
    assert table.data.persisted_offset(TP(table.changelog_topic.get_topic_name(), 1)) == 2
    assert writer.sending() == set()


async def test_nothing_changed_sends_nothing(tmp_path: Path) -> None:
    writer, producer, table = setup(tmp_path)
    await writer.write(0, table, {})
    assert producer.batches == [] and writer.sending() == set()

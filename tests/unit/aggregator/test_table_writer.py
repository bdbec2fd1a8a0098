"""The table writer (services/aggregator/table_writer.py): changes go to the partition's RocksDB
store at once and to the changelog in whole batches; a flush waits for Kafka and records the
changelog offset for the table's recovery."""

from __future__ import annotations

import asyncio
import subprocess
import sys
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

    async def stop(self) -> None:
        pass


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



class NeverCompared:
    """A table must be found by identity: Faust's tables are Mappings, and comparing two reads
    every item of both (a full scan of the filings' store a second, found in a replay)."""

    def __eq__(self, other: object) -> bool:
        raise AssertionError("a table was compared by its items")

    __hash__ = object.__hash__


async def test_a_written_back_table_records_its_offset_only_once_its_store_holds_all(tmp_path: Path) -> None:
    writer, producer, table = setup(tmp_path)
    writer.written_back = (NeverCompared(), table)
    tp = TP(table.changelog_topic.get_topic_name(), 1)
    await writer.write(1, table, {b"a": b"1", b"b": b"2"}, to_store=False)
    assert writer.read(1, table).get(b"a") is None and producer.batches  # the changelog only
    producer.ack.set()
    await writer.flush(1)
    assert table.data.persisted_offset(tp) is None  # acknowledged, but the store lacks them
    writer.write_store(1, table, {b"a": b"1", b"b": b"2"})
    writer.store_holds_all(1, table)
    assert table.data.persisted_offset(tp) == 1 and writer.read(1, table).get(b"b") == b"2"

# Writes, has the changelog acknowledged (the offset recorded), then stops cleanly or not, and
# ends the process at once, as a crash would.
WRITE_THEN_END = """
import asyncio, os, sys
from pathlib import Path
from tests.unit.aggregator.test_table_writer import setup

async def main() -> None:
    writer, producer, table = setup(Path(sys.argv[1]))
    await writer.write(1, table, {b"a": b"1"})
    producer.ack.set()
    await writer.flush(1)
    if sys.argv[2] == "stop":
        await writer.stop()
    os._exit(0)

asyncio.run(main())
"""


def written_then(how: str, tmp_path: Path) -> tuple[bytes | None, int | None]:
    """What a store holds after a process wrote it and ended `how`: (the key written, the
    changelog offset recorded)."""
    root = Path(__file__).resolve().parents[3]
    subprocess.run([sys.executable, "-c", WRITE_THEN_END, str(tmp_path), how], cwd=root, check=True,
                   timeout=60)
    _, _, table = setup(tmp_path)
    return (TableWriter(AggregatorSettings()).read(1, table).get(b"a"),
            table.data.persisted_offset(TP(table.changelog_topic.get_topic_name(), 1)))


def test_a_crash_loses_the_unflushed_writes_and_their_offset_together(tmp_path: Path) -> None:
    # Without RocksDB's write-ahead log, nothing since its last flush survives; and the offset is
    # never kept without the data it covers, so recovery restores the changelog from before it.
    assert written_then("crash", tmp_path) == (None, None)


def test_a_clean_stop_keeps_the_writes_and_their_offset(tmp_path: Path) -> None:
    assert written_then("stop", tmp_path) == (b"1", 0)

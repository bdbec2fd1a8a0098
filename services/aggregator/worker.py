"""Wires the worker together: the packer, the Faust agent over packed records, the tables that
make its state durable, and the timers that publish figures and move the overdue clock."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import faust
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import generate_latest

from services.aggregator import metrics
from services.aggregator.app import make_app
from services.aggregator.engine import Engine
from services.aggregator.packer import Packer
from services.aggregator.settings import AggregatorSettings
from services.common.kafka_batches import PartitionBatcher

log = logging.getLogger(__name__)


class TableWriter:
    """Writes a pack's state changes to Faust tables' stores and changelogs, then waits for acks.

    Faust's `table[key] = value` sends each change through its buffered producer, ~25 µs a key,
    and a pack changes thousands of keys. We write the store directly and send the same raw
    changelog records ourselves in whole Kafka batches, then record the changelog offset as
    Faust's own callback would, so that recovery after a restart resumes where it should.
    """

    def __init__(self, settings: AggregatorSettings) -> None:
        self.settings = settings
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self.producer = AIOKafkaProducer(
            **self.settings.kafka.client_kwargs(), acks="all", enable_idempotence=True,
            linger_ms=0, max_batch_size=1024 * 1024, max_request_size=8 * 1024 * 1024)
        await self.producer.start()

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()

    async def write(self, partition: int, *changes: tuple[Any, dict[bytes, bytes | None]]) -> None:
        assert self.producer is not None
        waiting = []
        for table, changed in changes:
            if not changed:
                continue
            store = table.data
            batcher = PartitionBatcher(self.producer, table.changelog_topic.get_topic_name(), partition)
            for key, value in changed.items():
                if value is None:
                    store.pop(key, None)
                else:
                    store[key] = value
                await batcher.append(key, value)
            waiting.append((table, batcher.flush()))
        for table, flushed in waiting:
            last = (await flushed)[-1]
            table.data.set_persisted_offset(last.topic_partition, last.offset)


# In the units table, beside the units: the next packed offset of the partition to apply.
NEXT_PACK_KEY = b"\x00next-pack"


class PackReader:
    """Reads packed records straight from Kafka by offset, without Faust or a consumer group."""

    def __init__(self, settings: AggregatorSettings) -> None:
        self.settings = settings
        self.consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(**self.settings.kafka.client_kwargs(), enable_auto_commit=False,
                                         max_partition_fetch_bytes=16 * 1024 * 1024)
        await self.consumer.start()

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()

    async def first(self, partition: int) -> int:
        assert self.consumer is not None
        tp = TopicPartition(self.settings.packed_topic, partition)
        return int((await self.consumer.beginning_offsets([tp]))[tp])

    async def read(self, partition: int, start: int, end: int) -> list[tuple[int, bytes]]:
        """The records at offsets start..end-1 (none when start >= end)."""
        if start >= end:
            return []
        assert self.consumer is not None
        tp = TopicPartition(self.settings.packed_topic, partition)
        self.consumer.assign([tp])
        self.consumer.seek(tp, start)
        found: list[tuple[int, bytes]] = []
        deadline = asyncio.get_running_loop().time() + 60
        while not found or found[-1][0] < end - 1:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"packs {start}..{end - 1} of partition {partition} not readable")
            for record in (await self.consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                if record.offset < end:
                    found.append((record.offset, record.value))
            if found and found[-1][0] >= end - 1:
                break
        log.warning("applied %d packs of partition %d that the stream skipped", len(found), partition)
        return found


def build(settings: AggregatorSettings, partitions: int) -> faust.App:
    app = make_app(settings, partitions)
    engine = Engine(retention_days=settings.retention_days, clock=settings.clock())
    packed = app.topic(settings.packed_topic, value_type=bytes, value_serializer="raw",
                       partitions=partitions)
    filings = app.Table("filings", key_type=bytes, value_type=bytes, partitions=partitions)
    units = app.Table("units", key_type=bytes, value_type=bytes, partitions=partitions)
    writer = TableWriter(settings)
    packs = PackReader(settings)
    packer = Packer(settings)

    # Held while a pack is applied and its state written. Our changelog writes do not go through
    # Faust's producer, which Faust flushes before giving partitions up; so a revocation waits
    # here instead, and the next owner's recovery, which reads the changelog to its end as it is
    # then, cannot miss writes still in flight.
    pack_in_flight = asyncio.Lock()
    # Set while the tables are whole. Faust resumes its streams before the tables' recovery has
    # read the changelogs to the end (its `on_rebalance_complete` fires then too), and packs
    # already fetched reach the agent; applying them would read and write half-restored state.
    # So the agent waits for the tables' own recovery callback.
    tables_ready = asyncio.Event()

    @units.on_recover
    async def publish_recovered_units() -> None:
        # After a rebalance Faust has restored the tables from their changelogs. Every unit this
        # worker now owns is published again; units already in memory are left alone, since the
        # agent may be half-way through a pack (a unit whose partition moved meanwhile is read
        # again from the table on its next pack: see Engine.apply_pack).
        loaded = engine.load_missing((key.decode(), value) for key, value in units.items()
                                     if not key.startswith(b"\x00"))
        tables_ready.set()
        metrics.UNITS.set(engine.unit_count())
        log.info("recovery done: %d units loaded, %d held", loaded, engine.unit_count())


    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # faust's stub wants a `signal` kwarg
    async def on_revoked(sender: faust.App, revoked: set[Any], **_: Any) -> None:
        tables_ready.clear()
        async with pack_in_flight:
            engine.drop_partitions(tp.partition for tp in revoked if tp.topic == settings.packed_topic)

    @app.agent(packed)
    async def aggregate(stream: faust.StreamT[bytes]) -> None:
        await writer.start()
        await packs.start()
        try:
            async for event in stream.events():
                partition = event.message.partition
                await tables_ready.wait()
                async with pack_in_flight:
                    # Faust's consumer can skip packed records across rebalances (its offset
                    # "gaps" logic); the tables record the next pack each partition expects, and
                    # any pack skipped is read back directly and applied first.
                    expected = units.data.get(NEXT_PACK_KEY)
                    start = int(expected) if expected is not None else await packs.first(partition)
                    packs_due = await packs.read(partition, start, event.message.offset)
                    packs_due.append((event.message.offset, event.value))
                    for offset, value in packs_due:
                        result = engine.apply_pack(partition, orjson.loads(value), filings.data.get,
                                                   units.data.get, offset)
                        result.unit_changes[NEXT_PACK_KEY] = str(offset + 1).encode()
                        await writer.write(partition, (filings, result.filing_changes),
                                           (units, result.unit_changes))
                        for item, reason in result.rejected:
                            metrics.DLQ.labels(reason=reason).inc()
                            await app.producer.send_and_wait(
                                settings.kafka.dlq_topic, item["unit_code"].encode(), orjson.dumps(item),
                                None, None, [("dlq.reason", reason.encode())])
                if engine.sweep_due(engine.now()):
                    # Between packs, so no write of the agent can interleave with the deletions.
                    for part, keys in engine.forgettable(filings.data.items(), engine.now()).items():
                        await writer.write(part, (filings, dict.fromkeys(keys)))
                        log.info("forgot %d filings closed past retention in partition %d", len(keys), part)
        finally:
            await packs.stop()
            await writer.stop()

    @app.timer(settings.publish_interval_s)
    async def publish() -> None:
        now = engine.now()
        sends = []
        for unit_code, record in engine.publish_due(now):
            sends.append(await app.producer.send(settings.kafka.figures_topic, unit_code.encode(),
                                                 orjson.dumps(record), None, None, None))
        if sends:
            await asyncio.gather(*sends)
            metrics.PUBLISHED.inc(len(sends))

    @app.timer(settings.overdue_check_interval_s)
    async def overdue_clock() -> None:
        engine.mark_clock_changes(engine.now())

    @app.task
    async def run_packer() -> None:
        await packer.start()
        try:
            await packer.run()
        finally:
            await packer.stop()

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(metrics.REGISTRY), content_type="text/plain; version=0.0.4")

    @app.page("/state")
    async def state_page(web: Any, request: Any) -> Any:
        return web.json({"units": engine.unit_count(), "applied": engine.applied,
                         "dirty": engine.dirty_count(), "at": time.time()})

    return app

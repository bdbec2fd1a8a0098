"""Wires the worker together: the packer (in a child process), the Faust agent over packed records,
the tables that make its state durable, and the timers that publish figures and move the overdue
clock."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import faust
import orjson
import rocksdict
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from faust.types import TP
from prometheus_client import generate_latest

from services.aggregator import metrics
from services.aggregator.app import make_app
from services.aggregator.dlq import event_dead_letter
from services.aggregator.engine import Engine
from services.aggregator.packer_process import PackerProcess
from services.aggregator.settings import AggregatorSettings
from services.common.gc_tuning import FrozenState
from services.common.kafka_batches import PartitionBatcher

log = logging.getLogger(__name__)


def partition_store(table: Any, partition: int) -> Any:
    """The RocksDB database of one partition of a Faust table.

    Faust's own store methods pick the partition from the event being processed; the packs of a
    partition are also applied outside any event (a stalled partition, below), so every read and
    write here names its partition.
    """
    return table.data._db_for_partition(partition)


class TableWriter:
    """Writes state changes to Faust tables' stores and changelogs: `write` puts them in the
    store and sends them on, `flush` waits until Kafka has everything sent for a partition.

    Faust's `table[key] = value` sends each change through its buffered producer, ~25 µs a key,
    and a pack changes thousands of keys. We write the store directly and send the same raw
    changelog records ourselves in whole Kafka batches, then record the changelog offset as
    Faust's own callback would, so that recovery after a restart resumes where it should.
    Writes are not awaited one by one: the broker stores one batch of packs while the agent
    applies the next.
    """

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
                table.data.set_persisted_offset(last.topic_partition, last.offset)


# In the units table, beside the units: the next packed offset of the partition to apply.
NEXT_PACK_KEY = b"\x00next-pack"
# How often the tables record the next packs to apply, at most (see record_next_packs).
RECORD_EVERY_S = 1.0


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

    def _tp(self, partition: int) -> TopicPartition:
        return TopicPartition(self.settings.packed_topic, partition)

    async def first(self, partition: int) -> int:
        assert self.consumer is not None
        tp = self._tp(partition)
        return int((await self.consumer.beginning_offsets([tp]))[tp])

    async def end(self, partition: int) -> int:
        assert self.consumer is not None
        tp = self._tp(partition)
        return int((await self.consumer.end_offsets([tp]))[tp])

    async def read(self, partition: int, start: int, end: int) -> list[tuple[int, bytes]]:
        """The records at offsets start..end-1 (none when start >= end)."""
        if start >= end:
            return []
        assert self.consumer is not None
        tp = self._tp(partition)
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
        return found


def build(settings: AggregatorSettings, partitions: int) -> faust.App:
    app = make_app(settings, partitions)
    engine = Engine(retention_days=settings.retention_days, clock=settings.clock(),
                    filing_cache_size=settings.filing_cache_size)
    packed = app.topic(settings.packed_topic, value_type=bytes, value_serializer="raw",
                       partitions=partitions)
    filings = app.Table("filings", key_type=bytes, value_type=bytes, partitions=partitions)
    units = app.Table("units", key_type=bytes, value_type=bytes, partitions=partitions)
    writer = TableWriter(settings)
    frozen = FrozenState()
    last_applied_at: list[float | None] = [None]  # when a batch was last applied, for /state
    packs = PackReader(settings)

    # Held while packs are applied and their changes sent. Our changelog writes do not go
    # through Faust's producer, which Faust flushes before giving partitions up; so a revocation
    # takes this lock and waits for every write sent (record_next_packs), and the next owner's
    # recovery, which reads the changelog to its end as it is then, cannot miss writes in flight.
    pack_in_flight = asyncio.Lock()
    # Set while the tables are whole. Faust resumes its streams before the tables' recovery has
    # read the changelogs to the end (its `on_rebalance_complete` fires then too), and packs
    # already fetched reach the agent; applying them would read and write half-restored state.
    # So packs are applied only after the tables' own recovery callback.
    tables_ready = asyncio.Event()
    # partition -> (next pack expected, since when): how the stall check sees progress.
    progress: dict[int, tuple[int, float]] = {}
    # partition -> its next pack to apply, where packs were applied since the tables last
    # recorded it; and when they last did (see record_next_packs).
    unrecorded: dict[int, int] = {}
    recorded = [time.monotonic()]

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
            # Every change sent must be in Kafka before the partitions move: the next owner
            # restores the tables from the changelogs as they are then.
            try:
                await record_next_packs()
            except KafkaError as exc:
                # The writes failed, so none can land after the next owner's restore; it applies
                # the packs since the last record again, exactly.
                log.warning("could not record the next packs before a rebalance: %r", exc)
                unrecorded.clear()
            gone = [tp.partition for tp in revoked if tp.topic == settings.packed_topic]
            engine.drop_partitions(gone)
            for partition in gone:
                progress.pop(partition, None)

    def owned(partition: int) -> bool:
        """This worker holds the partition and its tables are whole (call under the lock)."""
        return (tables_ready.is_set()
                and TP(settings.packed_topic, partition) in app.assignor.assigned_actives())

    async def next_pack(partition: int) -> int:
        if partition in unrecorded:
            return unrecorded[partition]
        expected = partition_store(units, partition).get(NEXT_PACK_KEY)
        return int(expected) if expected is not None else await packs.first(partition)

    async def apply_packs(partition: int, delivered: list[tuple[int, bytes]], end: int) -> int:
        """Apply the partition's packs from the next one expected up to `end` (exclusive), in order,
        and send their changes to the tables; returns the next pack to apply once Kafka has them
        (see record_next_packs).

        `delivered` are packs the stream handed over; packs before the next expected were applied
        already and are dropped, and any pack missing in between (Faust's consumer can skip
        records across rebalances, or stop fetching a partition) is read back from Kafka.
        """
        start = await next_pack(partition)
        delivered = [(offset, value) for offset, value in delivered if start <= offset < end]
        if [offset for offset, _ in delivered] != list(range(start, start + len(delivered))) \
                or start + len(delivered) < end:
            read = await packs.read(partition, start, end)
            if delivered and len(read) > len(delivered):
                log.warning("partition %d: read %d packs back from Kafka that the stream did not "
                            "deliver in order", partition, len(read) - len(delivered))
            delivered = read
        batch: list[list[Any]] = []
        first = start
        for index, (offset, value) in enumerate(delivered):
            batch.extend(orjson.loads(value))
            if len(batch) >= settings.apply_max_events or index == len(delivered) - 1:
                await apply_batch(partition, batch, range(first, offset + 1))
                batch, first = [], offset + 1
                frozen.settle()
        return start + len(delivered)

    async def record_next_packs() -> None:
        """Once Kafka has every change sent for the partitions applied since the last call, record
        in the tables each one's next pack to apply. A crash before then replays the packs since
        the last record, which the engine recognises; a crash after never replays them. Waiting
        for Kafka about once a second, not once a pack, keeps the broker's round trips out of the
        agent's way (call under the lock)."""
        recorded[0] = time.monotonic()
        for partition in writer.sending():  # unrecorded ones, and any a failed pack left
            await writer.flush(partition)
        for partition, next_ in unrecorded.items():
            await writer.write(partition, units, {NEXT_PACK_KEY: str(next_).encode()})
        for partition in unrecorded:
            await writer.flush(partition)
        unrecorded.clear()

    async def apply_batch(partition: int, batch: list[list[Any]], pack_range: range) -> None:
        result = engine.apply_pack(partition, batch, partition_store(filings, partition).get,
                                   partition_store(units, partition).get, pack_range)
        last_applied_at[0] = time.time()  # the real clock, not the figures' (replays freeze that)
        await writer.write(partition, filings, result.filing_changes)
        await writer.write(partition, units, result.unit_changes)
        for event, reason in result.rejected:
            metrics.DLQ.labels(reason=reason.split(":")[0]).inc()
            key, value, headers = event_dead_letter(event, reason)
            await app.producer.send_and_wait(settings.kafka.dlq_topic, key, value, None, None, headers)

    @app.agent(packed)
    async def aggregate(stream: faust.StreamT[bytes]) -> None:
        await writer.start()
        await packs.start()
        try:
            # Packs come in batches: all the packs waiting in a partition cost one table write.
            # (`take_events` is missing from faust's StreamT stub.)
            async for events in stream.take_events(256, within=0.005):  # type: ignore[attr-defined]
                delivered: dict[int, list[tuple[int, bytes]]] = {}
                for event in events:
                    delivered.setdefault(event.message.partition, []).append(
                        (event.message.offset, event.value))
                while delivered:
                    await tables_ready.wait()
                    async with pack_in_flight:
                        if not tables_ready.is_set():
                            continue  # a rebalance began while this waited for the lock
                        for partition, partition_packs in delivered.items():
                            if owned(partition):
                                unrecorded[partition] = await apply_packs(
                                    partition, partition_packs, partition_packs[-1][0] + 1)
                                progress[partition] = (unrecorded[partition], time.monotonic())
                        if time.monotonic() - recorded[0] >= RECORD_EVERY_S:
                            await record_next_packs()
                        delivered = {}
                if engine.sweep_due(engine.now()):
                    # Between packs, so no write of the agent can interleave with the deletions.
                    async with pack_in_flight:
                        for part, keys in engine.forgettable(filings.data.items(), engine.now()).items():
                            await writer.write(part, filings, dict.fromkeys(keys))
                            await writer.flush(part)
                            log.info("forgot %d filings closed past retention in partition %d",
                                     len(keys), part)
        finally:
            await packs.stop()
            await writer.stop()

    @app.timer(RECORD_EVERY_S)
    async def record_waiting_next_packs() -> None:
        """The next packs applied in a last round, before the stream went quiet."""
        if unrecorded and time.monotonic() - recorded[0] >= RECORD_EVERY_S:
            async with pack_in_flight:
                await record_next_packs()

    @app.timer(settings.stall_after_s)
    async def apply_stalled_partitions() -> None:
        """Packs that wait while the stream delivers nothing for their partition are applied
        directly. Faust's consumer sometimes stops fetching a partition after a rebalance (see
        faust-streaming issue #629); the figures must not freeze with it."""
        if packs.consumer is None or not tables_ready.is_set():
            return
        now = time.monotonic()
        for tp in app.assignor.assigned_actives():
            if tp.topic != settings.packed_topic:
                continue
            async with pack_in_flight:
                if not owned(tp.partition):
                    continue
                start = await next_pack(tp.partition)
                seen, since = progress.setdefault(tp.partition, (start, now))
                if seen != start:
                    progress[tp.partition] = (start, now)
                    continue
                if now - since < settings.stall_after_s:
                    continue
                end = await packs.end(tp.partition)
                if end > start:
                    unrecorded[tp.partition] = await apply_packs(tp.partition, [], end)
                    await record_next_packs()
                    metrics.STALLS.inc()
                    log.warning("partition %d: the stream delivered nothing for %.0f s; applied %d "
                                "waiting packs directly", tp.partition, now - since, end - start)

    async def publish_round() -> None:
        now = engine.now()
        sends = []
        days_by_unit: dict[str, list[int]] = {}
        try:
            for unit_code, record in engine.publish_due(now, settings.publish_interval_s, time.monotonic()):
                days = engine.days_due(unit_code)
                days_by_unit[unit_code] = list(days)
                sends.append(await app.producer.send(settings.kafka.figures_topic, unit_code.encode(),
                                                     orjson.dumps(record), None, None, None))
                for key, row in days.values():
                    sends.append(await app.producer.send(settings.kafka.days_topic, key.encode(),
                                                         orjson.dumps(row), None, None, None))
            await asyncio.gather(*sends)
        except KafkaError as exc:
            engine.unpublished(days_by_unit)
            log.warning("publishing %d units failed (%r); they are due again", len(days_by_unit), exc)
            return
        engine.published(days_by_unit)
        metrics.PUBLISHED.inc(len(days_by_unit))

    @app.task
    async def publish() -> None:
        # Ticks well inside the interval: a unit that changes after a quiet spell goes out within
        # a tick, while one that keeps changing still gets one record per interval. A loop, not a
        # Faust timer: a long round (every unit, after a recovery) just delays the next one.
        tick = min(settings.publish_interval_s, 0.05)
        while True:
            await asyncio.sleep(tick)
            await publish_round()

    @app.timer(settings.overdue_check_interval_s)
    async def overdue_clock() -> None:
        engine.mark_clock_changes(engine.now())

    @app.task
    async def run_packer() -> None:
        # Packing starts once the agent can apply: packs made earlier would only wait, and the
        # throughput benchmark, timed from the first event applied, would not count the head start.
        await tables_ready.wait()
        await PackerProcess().run()

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(metrics.REGISTRY), content_type="text/plain; version=0.0.4")

    @app.page("/state")
    async def state_page(web: Any, request: Any) -> Any:
        return web.json({"units": engine.unit_count(), "applied": engine.applied,
                         "last_applied_at": last_applied_at[0], "dirty": engine.dirty_count(),
                         "at": time.time()})

    return app

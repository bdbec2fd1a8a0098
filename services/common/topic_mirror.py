"""A compacted topic followed from its beginning into memory, with no consumer group.

Every replica (of the API, and of ingest for the agency codes) reads every partition itself (assign,
seek to beginning), so each holds the whole topic; a group would split the partitions between
replicas. `caught_up` is set once the consumer's position reaches, on every partition, the end
offset seen at start: from then on the mirror holds at least everything that was on the topic when
this process started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from services.common.kafka_settings import KafkaSettings

log = logging.getLogger(__name__)

# (key, value) of one record; value None is a tombstone. Raising ValueError skips the record.
Apply = Callable[[str, bytes | None], None]
FETCH_TIMEOUT_MS = 200
MAX_RECORDS = 5_000  # per fetch: bounds how long one batch holds the event loop while it is applied
RETRY_S = 1.0


class TopicMirror:
    def __init__(self, kafka: KafkaSettings, topic: str, apply: Apply,
                 client_prefix: str = "onestop-api") -> None:
        self.kafka = kafka
        self.client_prefix = client_prefix
        self.topic = topic
        self.apply = apply
        self.caught_up = asyncio.Event()
        self.records = 0  # consumed since start
        self.rejected = 0  # consumed but not understood, skipped
        self.positions: dict[int, int] = {}
        self._ends: dict[int, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._progress = asyncio.Condition()

    async def start(self, partitions: int) -> None:
        """Connect and assign every partition at its beginning; raises KafkaError if Kafka is away."""
        consumer = AIOKafkaConsumer(
            **self.kafka.client_kwargs(), group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", isolation_level="read_committed",
            client_id=f"{self.client_prefix}-{self.topic}")
        try:
            await consumer.start()
            tps = [TopicPartition(self.topic, p) for p in range(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            begins = await consumer.beginning_offsets(tps)
            ends = await consumer.end_offsets(tps)
        except BaseException:
            await consumer.stop()
            raise
        self._ends = {tp.partition: ends[tp] for tp in tps if ends[tp] > begins[tp]}
        self.positions = {tp.partition: begins[tp] for tp in tps}
        self._consumer = consumer
        if not self._ends:
            self.caught_up.set()
        self._task = asyncio.create_task(self._run(), name=f"mirror {self.topic}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()

    def lag(self) -> int:
        """Records on the broker not yet applied here, by the high watermarks last fetched."""
        consumer = self._consumer
        if consumer is None:
            return sum(self._ends.values())
        total = 0
        for partition, position in self.positions.items():
            high = consumer.highwater(TopicPartition(self.topic, partition))
            total += max(0, (high or 0) - position)
        return total

    async def wait_past(self, partition: int, offset: int, wait_s: float) -> bool:
        """Wait until the record at `offset` has been applied here (read-your-writes for admins)."""
        async with self._progress:
            try:
                async with asyncio.timeout(wait_s):
                    await self._progress.wait_for(lambda: self.positions.get(partition, 0) > offset)
            except TimeoutError:
                return False
        return True

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS, max_records=MAX_RECORDS)
            except KafkaError as exc:
                # aiokafka reconnects by itself; keep the last view and say so once per failure.
                log.warning("reading %s failed (%r); retrying", self.topic, exc)
                await asyncio.sleep(RETRY_S)
                continue
            for tp, records in batches.items():
                for record in records:
                    self._apply_one(record.key, record.value)
                if records:
                    self.positions[tp.partition] = records[-1].offset + 1
            if not self.caught_up.is_set():
                await self._check_caught_up()
            if batches:
                async with self._progress:
                    self._progress.notify_all()

    def _apply_one(self, key: bytes | None, value: bytes | None) -> None:
        self.records += 1
        if key is None:
            self.rejected += 1
            return
        try:
            self.apply(key.decode(), value)
        except (ValueError, TypeError, KeyError) as exc:
            # A record we cannot read must not stop the view: skip it, count it, say why.
            self.rejected += 1
            log.warning("skipped a record of %s with key %r: %r", self.topic, key[:100], exc)

    async def _check_caught_up(self) -> None:
        assert self._consumer is not None
        for partition, end in self._ends.items():
            # The position, not the last record's offset: compaction and transaction markers leave
            # offsets with no record, which the consumer steps over.
            position = await self._consumer.position(TopicPartition(self.topic, partition))
            if position < end:
                return
            self.positions[partition] = max(self.positions[partition], position)
        self.caught_up.set()

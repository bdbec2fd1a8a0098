"""Packs the event stream so the Faust agent pays its per-record cost once per many events.

A plain aiokafka consumer reads `filing-events`, decodes and validates each record once, sends
bad ones (and ones older than the retention window) to the DLQ with the reason, and writes the good
ones in the compact form the engine applies, with their source offsets, as packed records to the
packed topic's partition of the same number.
Offsets are committed only after the packs and DLQ records are acknowledged, so nothing is lost;
a crash may pack some events twice, which the agent ignores by source offset (see engine.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from services.aggregator import metrics
from services.aggregator.dead_letters import DeadLetterWriter, of_record
from services.aggregator.hcm_time import epoch_to_us
from services.aggregator.pack_format import encode_pack
from services.aggregator.rules import Event, event_from_checked, event_from_json, is_too_late
from services.aggregator.settings import AggregatorSettings
from services.contract.event_bounds import bound_errors
from services.contract.event_validation import EventValidator, FieldError, Valid, default_validator

log = logging.getLogger(__name__)
# Rounds packed ahead of Kafka's acknowledgements, at most.
MAX_UNSETTLED_ROUNDS = 4
# The longest a fetch waits at the broker for data (aiokafka's default is 500 ms): aiokafka keeps one
# fetch in flight, and the partitions left out of it wait for it to come back. The agent's fetches
# take this bound too (kafka_transport.py); it is set here, since this process must not load Faust.
FETCH_MAX_WAIT_MS = 100


def triage(records: Iterable[ConsumerRecord[bytes, bytes]], now_us: int,
           retention_days: int) -> tuple[list[list[Any]], list[tuple[Any, str]]]:
    """Split records into packable rows `[offset, *Event]` (the compact form the agent applies:
    decoded once, here, in the packer's process) and `(record, reason)` rejects."""
    good: list[list[Any]] = []
    bad: list[tuple[Any, str]] = []
    check = _raw_check()
    for record in records:
        # One pass in C for the valid events (nearly all); the reference validator explains the rest.
        checked = check(record.value) if check is not None and record.value is not None else None
        compact = event_from_checked(checked) if checked is not None else _validated(record.value)
        if isinstance(compact, str):
            bad.append((record, compact))
            continue
        occurred_at, due_at = compact[0], compact[4]  # Event's fields, as a plain tuple or not
        out_of_bounds = bound_errors(occurred_at, due_at, now_us)
        if out_of_bounds:
            bad.append((record, _reason("bounds", out_of_bounds)))
            continue
        if is_too_late(occurred_at, now_us, retention_days):
            bad.append((record, "too_late"))
            continue
        good.append([record.offset, *compact])
    return good, bad


def _validated(value: bytes | None) -> Event | str:
    """The Event of a record the raw check did not pass, if the validator accepts it (the raw
    check stands aside where it does not apply), else why it is refused."""
    try:
        event = orjson.loads(value) if value is not None else None
    except orjson.JSONDecodeError:
        return "not_json"
    verdict = _validator().validate(event)
    if isinstance(verdict, Valid):
        return event_from_json(verdict.event)
    return _reason("schema", verdict.errors)


def _reason(kind: str, errors: Iterable[FieldError]) -> str:
    """A DLQ reason: the kind, then each field and why (bounded: a header, not a log)."""
    return (f"{kind}: " + "; ".join(f"{e.field or 'event'}: {e.reason}" for e in errors))[:500]


@cache
def _validator() -> EventValidator:
    return default_validator()


@cache
def _raw_check() -> Callable[[bytes], Any] | None:
    return _validator().raw_check_any()


def packs_of(rows: list[list[Any]], max_events: int, max_bytes: int) -> list[bytes]:
    """The rows as packs, in order, each of at most `max_events` rows and `max_bytes` bytes.

    A pack Kafka refuses (over its record limit) would be refused again on every retry, stopping
    the stream for good. A row holds only the schema's bounded fields (a few hundred bytes at
    most), so the usual chunk costs one encoding (pack_format.py) and a chunk over the limit is
    halved until it fits.
    """
    packs: list[bytes] = []

    def pack(chunk: list[list[Any]]) -> None:
        packed = encode_pack(chunk)
        if len(packed) <= max_bytes:
            packs.append(packed)
        elif len(chunk) == 1:
            raise ValueError(f"one packed event is {len(packed)} bytes, over the pack limit {max_bytes}")
        else:
            half = len(chunk) // 2
            pack(chunk[:half])
            pack(chunk[half:])

    for start in range(0, len(rows), max_events):
        pack(rows[start:start + max_events])
    return packs


class Packer:
    def __init__(self, settings: AggregatorSettings) -> None:
        self.settings = settings
        self.clock = settings.clock()
        # Rounds whose packs are sent but not yet acknowledged and committed, oldest first.
        self.settling: deque[asyncio.Task[None]] = deque()

    async def start(self) -> None:
        # aiokafka clients bind to the running loop: create them inside it.
        kafka = self.settings.kafka
        settings = self.settings
        self.consumer = AIOKafkaConsumer(
            kafka.events_topic, **kafka.client_kwargs(),
            group_id=f"{settings.app_id}-packer", enable_auto_commit=False,
            auto_offset_reset="earliest", isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_wait_ms=FETCH_MAX_WAIT_MS)
        self.producer = AIOKafkaProducer(
            **kafka.client_kwargs(), acks="all", enable_idempotence=True, linger_ms=5,
            max_request_size=8 * 1024 * 1024, compression_type=None)
        self.dead_letters = DeadLetterWriter(kafka.dlq_topic, self.producer)
        await self.producer.start()
        await self.consumer.start()

    async def stop(self) -> None:
        await asyncio.gather(*self.settling, return_exceptions=True)
        await self.consumer.stop()
        await self.producer.stop()

    async def run(self) -> None:
        """Pack forever; Kafka errors are logged and retried, never fatal."""
        while True:
            try:
                await self.pack_once()
            except KafkaError as exc:
                log.warning("packer: %r; packing again from the committed offsets", exc)
                for settle in self.settling:
                    settle.cancel()
                await asyncio.gather(*self.settling, return_exceptions=True)
                self.settling.clear()
                await asyncio.sleep(1.0)
                await self.rewind()

    async def rewind(self) -> None:
        """Seek every assigned partition back to its committed offset.

        After a failed send or commit the consumer's position is already past records that may
        never have reached the packed topic; without this they would be skipped for good.
        """
        try:
            for tp in self.consumer.assignment():
                committed = await self.consumer.committed(tp)
                if committed is None:
                    await self.consumer.seek_to_beginning(tp)
                else:
                    self.consumer.seek(tp, committed)
        except KafkaError as exc:
            # The next rebalance resets positions to the committed offsets anyway.
            log.warning("packer: could not rewind: %r", exc)

    async def fetch(self) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        """Records for up to pack_max_wait_ms, so that live traffic makes packs of many events
        (a Faust record costs the same for one event as for thousands)."""
        limit = self.settings.pack_max_events * 4
        deadline = asyncio.get_running_loop().time() + self.settings.pack_max_wait_ms / 1000
        batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
        count = 0
        while count < limit:
            left_ms = int((deadline - asyncio.get_running_loop().time()) * 1000)
            if left_ms <= 0:
                break
            for tp, records in (await self.consumer.getmany(timeout_ms=left_ms,
                                                            max_records=limit - count)).items():
                batches.setdefault(tp, []).extend(records)
                count += len(records)
        return batches

    async def pack_once(self) -> int:
        while self.settling and self.settling[0].done():
            await self.settling.popleft()  # raises what failed, so that run() rewinds
        batches = await self.fetch()
        if not batches:
            return 0
        max_bytes = self.settings.pack_max_bytes
        sends = []
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        count = 0
        now_us = epoch_to_us(self.clock())
        for tp, records in batches.items():
            good, bad = triage(records, now_us, self.settings.retention_days)
            packs = packs_of(good, self.settings.pack_max_events, max_bytes)
            count += len(records)
            for record, reason in bad:
                sends.append(await self.dead_letters.send(of_record(record, reason, max_bytes)))
            for pack in packs:
                sends.append(await self.producer.send(
                    self.settings.packed_topic, pack, partition=tp.partition))
            offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, "")
            # A rebalance may have taken the partition since the fetch.
            highwater = self.consumer.highwater(tp) if tp in self.consumer.assignment() else None
            if highwater is not None:
                metrics.CONSUMER_LAG.labels(partition=str(tp.partition)).set(
                    highwater - records[-1].offset - 1)
        # The next round is read and packed while Kafka stores this one: rounds settle in order,
        # each committing its offsets once its packs are acknowledged and the round before it
        # has settled, so a commit never passes a pack Kafka does not have.
        previous = self.settling[-1] if self.settling else None
        self.settling.append(asyncio.create_task(self.settle(sends, offsets, previous)))
        if len(self.settling) > MAX_UNSETTLED_ROUNDS:
            await self.settling.popleft()
        metrics.PACKED.inc(count)
        return count

    async def settle(self, sends: list[asyncio.Future[Any]], offsets: dict[TopicPartition, OffsetAndMetadata],
                     previous: asyncio.Task[None] | None) -> None:
        await asyncio.gather(*sends)
        if previous is not None:
            await previous
        await self.consumer.commit(offsets)

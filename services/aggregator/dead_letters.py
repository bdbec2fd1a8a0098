"""The dead-letter writer: every record the aggregator cannot count goes to `filing-events-dlq` in
one format, whether the packer refused it or the engine could not count it.

A dead letter on the DLQ topic:
- **headers**, always: `dlq.reason` (why: `not_json`, `schema: <field>: <why>`, `bounds: <field>:
  <why>`, `too_late`, `failed: <error>`) and `dlq.source.topic`, `dlq.source.partition`,
  `dlq.source.offset` (where the record is whole: the `filing-events` record it came from);
  `dlq.value.truncated` (the value's length in bytes) when the value was cut;
- **value**: the source record's bytes as they were, when known (the packer's refusals); else the
  event in the contract's fields as JSON (an event refused by the engine, which holds only its
  compact form), or, for an event whose instants no timestamp can write (past year 9999 in UTC) or
  a row not in this version's layout (packed by another version, left on the packed topic by an
  upgrade), `{"engine_row": [...]}`, so that writing the dead letter cannot fail in turn. A value over the
  limit is cut to it, so that the DLQ send cannot be refused as too large and stall the stream;
- **key**: the source record's key when known, else the event's unit code (the key the contract
  gives its records), empty for a row without one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from aiokafka.structs import ConsumerRecord

from services.aggregator import metrics
from services.aggregator.rules import Event, event_to_json

REASON_HEADER = "dlq.reason"
SOURCE_TOPIC_HEADER = "dlq.source.topic"
SOURCE_PARTITION_HEADER = "dlq.source.partition"
SOURCE_OFFSET_HEADER = "dlq.source.offset"
# Present when the value was cut to fit the DLQ: the original length in bytes.
TRUNCATED_HEADER = "dlq.value.truncated"


@dataclass(frozen=True, slots=True)
class Source:
    """Where the dead letter's record is whole."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    reason: str


def cut(value: bytes | None, max_bytes: int) -> tuple[bytes | None, list[tuple[str, bytes]]]:
    """The value cut to `max_bytes`, with a header saying so when it was."""
    if value is None or len(value) <= max_bytes:
        return value, []
    return value[:max_bytes], [(TRUNCATED_HEADER, str(len(value)).encode())]


def dead_letter(key: bytes | None, value: bytes | None, reason: str, source: Source,
                max_bytes: int) -> DeadLetter:
    value, truncated = cut(value, max_bytes)
    headers = [
        (REASON_HEADER, reason.encode()),
        (SOURCE_TOPIC_HEADER, source.topic.encode()),
        (SOURCE_PARTITION_HEADER, str(source.partition).encode()),
        (SOURCE_OFFSET_HEADER, str(source.offset).encode()),
        *truncated,
    ]
    return DeadLetter(key, value, headers, reason)


def of_record(record: ConsumerRecord[bytes, bytes], reason: str, max_bytes: int) -> DeadLetter:
    """The dead letter of a record read from the source topic: its own key and bytes."""
    return dead_letter(record.key, record.value, reason,
                       Source(record.topic, record.partition, record.offset), max_bytes)


def of_event(event: Event, reason: str, source: Source, max_bytes: int) -> DeadLetter:
    """The dead letter of an event the engine refused, known only in its compact form."""
    try:
        value = orjson.dumps(event_to_json(event))
    except Exception:  # noqa: BLE001  (out of range, or a row not of this version's layout)
        try:
            value = orjson.dumps({"engine_row": list(event)}, default=repr)
        except TypeError:  # an integer past 64 bits
            value = orjson.dumps({"engine_row": [repr(field) for field in event]})
    unit_code = event[7] if len(event) > 7 and type(event[7]) is str else ""
    return dead_letter(unit_code.encode(), value, reason, source, max_bytes)


class Producer(Protocol):
    """What the writer needs of a producer (aiokafka's `AIOKafkaProducer.send`)."""

    async def send(self, topic: str, value: Any = None, key: Any = None, partition: Any = None,
                   timestamp_ms: Any = None, headers: Any = None) -> asyncio.Future[Any]: ...


class DeadLetterWriter:
    """Sends dead letters to the DLQ topic and counts them by the first word of their reason."""

    def __init__(self, topic: str, producer: Producer | None = None) -> None:
        self.topic = topic
        self.producer = producer

    def use(self, producer: Producer) -> None:
        """Send through this producer (aiokafka clients are made inside the running loop)."""
        self.producer = producer

    async def send(self, letter: DeadLetter) -> asyncio.Future[Any]:
        """Send the letter; the future resolves once Kafka has it."""
        assert self.producer is not None
        metrics.DLQ.labels(reason=letter.reason.split(":")[0]).inc()
        return await self.producer.send(self.topic, letter.value, key=letter.key, headers=letter.headers)

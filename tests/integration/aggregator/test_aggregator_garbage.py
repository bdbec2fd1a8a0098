"""Garbage produced straight onto `filing-events` (not through ingest) goes to the DLQ with its reason,
and the stream goes on: the good events before, between and after it are all counted.

test_aggregator_exact covers the simulator's malformed records (truncated JSON, an HTML error page,
Python reprs, schema violations) inside 200,000 events. This adds what a broken or hostile producer
can put on the topic that ingest would never let through: invalid UTF-8, empty and null values, NaN,
nesting beyond the parser's depth, values near Kafka's 1 MiB record limit, and valid events so large
that a few of them together exceed what one packed record may hold (this stopped the stream for good
before packs were cut by size: the packer retried the refused send forever), and valid events whose
instants are out of the contract's bounds (issue 12, class 1: one at the calendar's end,
9999-12-31T23:59:59-23:59, crashed the worker on every restart).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from deploy.local.broker import LocalKafka
from services.aggregator.dead_letters import TRUNCATED_HEADER
from services.common.kafka_settings import KafkaSettings
from services.common.topics import ensure_topics
from tests.support.aggregator import FiguresReader, Worker, read_dlq
from tests.support.broker import unique_settings
from tests.support.ingest import make_event

pytestmark = pytest.mark.integration

FROZEN_NOW = "2026-11-23T12:00:00+07:00"
NEAR_LIMIT = 900 * 1024  # under the broker's default 1 MiB record limit, with room for headers
GOOD_UNIT, BIG_UNIT = "GOOD.1", "BIG.1"
CALENDAR_END = "9999-12-31T23:59:59-23:59"


def good(unit: str = GOOD_UNIT, **extra: Any) -> bytes:
    return orjson.dumps(make_event(**{"unit_code": unit, "occurred_at": "2026-11-23T09:00:00+07:00",
                                      "due_at": "2026-11-30T17:00:00+07:00", **extra}))


def deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


# (value, the reason the DLQ header must start with)
GARBAGE: list[tuple[bytes | None, str]] = [
    (b"\xff\xfe\x00n\x00o\x00t", "not_json"),                       # UTF-16, not UTF-8
    (good().replace(b"test-mcdt", b"test\xc3\x28mcdt"), "not_json"),  # invalid UTF-8 inside a string
    (good().replace(b"test-mcdt", b"test\xed\xa0\x80"), "not_json"),  # an encoded surrogate
    (b"", "not_json"),                                                # an empty value
    (None, "schema"),                                                 # a tombstone: no value at all
    (b"NaN", "not_json"),
    (b'{"event_id": "x", "n": NaN}', "not_json"),
    (b"[" * 5000 + b"]" * 5000, "not_json"),                          # deeper than any parser goes
    (b"null", "schema"),
    (b"[1, 2, 3]", "schema"),
    (b'"just a string"', "schema"),
    (good().replace(b'"submitted"', b'"resolved"'), "schema"),
    (b"<" * NEAR_LIMIT, "not_json"),                                   # huge, not JSON
    (orjson.dumps({"event_id": "huge", "junk": "j" * NEAR_LIMIT}), "schema"),  # huge, not an event
    (orjson.dumps(make_event(unit_code=GOOD_UNIT, occurred_at=CALENDAR_END, due_at=CALENDAR_END)), "bounds"),
    (orjson.dumps(make_event(unit_code=GOOD_UNIT, occurred_at="1970-01-01T00:00:00Z",
                             due_at="1970-01-05T00:00:00Z")), "bounds"),
    (orjson.dumps(make_event(unit_code=GOOD_UNIT, occurred_at="2500-01-01T00:00:00+07:00",
                             due_at="2500-01-05T00:00:00+07:00")), "bounds"),
    (good(due_at=CALENDAR_END), "bounds"),
]
# Valid events with unknown fields that a pack once had to carry whole: too large for a pack alone,
# and nested deeper than orjson writes (both went to the DLQ then). Packs carry only the fields the
# figures need, so these are counted like any other.
ODD_BUT_VALID = [good(x_pad="p" * 950 * 1024), json.dumps(make_event(
    unit_code=GOOD_UNIT, occurred_at="2026-11-23T09:00:00+07:00", due_at="2026-11-30T17:00:00+07:00",
    x_deep=deep(300))).encode()]
BIG_EVENTS = 6  # valid, ~300 KiB each: any three of them together are over 1 MiB


async def produce(kafka: KafkaSettings, values: list[bytes | None]) -> None:
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all", max_request_size=2 * 1024 * 1024)
    await producer.start()
    try:
        for value in values:
            # One partition, so the order of good, bad and good is the order read.
            await producer.send_and_wait(kafka.events_topic, value, key=b"any", partition=0)
    finally:
        await producer.stop()


def received(latest: dict[str, dict[str, Any]], unit: str) -> int:
    record = latest.get(unit)
    return int(record["periods"]["all_time"]["received_total"]) if record else 0


async def test_garbage_goes_to_the_dlq_with_its_reason_and_the_stream_goes_on(
        kafka_broker: LocalKafka, tmp_path: Path) -> None:
    kafka = unique_settings(kafka_broker.bootstrap, partitions=1)
    await ensure_topics(kafka)
    values: list[bytes | None] = [good()]
    for value, _ in GARBAGE:
        values += [value, good()]
    values += [good(BIG_UNIT, x_pad="p" * 300 * 1024) for _ in range(BIG_EVENTS)]
    values += [*ODD_BUT_VALID, good()]
    goods = 2 + len(GARBAGE) + len(ODD_BUT_VALID)
    await produce(kafka, values)

    worker = Worker(kafka, tmp_path / "w1", f"agg-{kafka.events_topic}", FROZEN_NOW).start()
    try:
        async with FiguresReader(kafka) as reader:
            def all_counted(latest: dict[str, dict[str, Any]]) -> bool:
                return received(latest, GOOD_UNIT) == goods and received(latest, BIG_UNIT) == BIG_EVENTS

            assert await reader.wait_for(all_counted, 90, [worker]), (
                f"counted {received(reader.latest, GOOD_UNIT)}/{goods} good events and "
                f"{received(reader.latest, BIG_UNIT)}/{BIG_EVENTS} big ones:\n{worker.log_tail()}")
        dead = await read_dlq(kafka, len(GARBAGE), deadline_s=10)
        by_offset = sorted(dead, key=lambda r: int(dict(r.headers)["dlq.source.offset"]))
        for record, (value, reason) in zip(by_offset, GARBAGE, strict=True):
            headers = dict(record.headers)
            assert headers["dlq.reason"].decode().split(":")[0] == reason, headers["dlq.reason"][:200]
            if TRUNCATED_HEADER in headers:  # cut to fit the DLQ; the source offset has it whole
                assert value is not None and int(headers[TRUNCATED_HEADER]) == len(value) > NEAR_LIMIT
                assert record.value == value[: len(record.value)]
            else:
                assert record.value == value  # the record itself, untouched, for whoever mends it
            assert headers["dlq.source.topic"] == kafka.events_topic.encode()
        state = worker.state()
        assert state is not None and worker.alive()
        # The packer runs in a child process; its counts reach the worker's /metrics.
        expected = {f'aggregator_dlq_records_total{{reason="{reason}"}}': float(count)
                    for reason, count in Counter(reason for _, reason in GARBAGE).items()}
        expected["aggregator_records_packed_total"] = float(len(values))
        assert wait_for_metrics(worker.port, expected, deadline_s=10), worker.log_tail()
    finally:
        worker.stop()


def wait_for_metrics(port: int, expected: dict[str, float], deadline_s: float) -> bool:
    """True once the worker's /metrics shows every expected sample with its value."""
    deadline = time.monotonic() + deadline_s
    found: dict[str, float] = {}
    while time.monotonic() < deadline:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        found = {name: float(value) for name, value in
                 (line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))}
        if all(found.get(name) == value for name, value in expected.items()):
            return True
        time.sleep(0.2)
    print({name: found.get(name) for name in expected})
    return False

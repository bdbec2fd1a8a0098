"""Producing an NDJSON file straight to Kafka: keys, completeness, and (with a broker) the records."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from services.common.kafka_settings import KafkaSettings
from services.simulator.delivery import DeliveryRates
from services.simulator.feed import FeedConfig, generate
from services.simulator.localtime import TZ
from services.simulator.ndjson_file import write_file
from services.simulator.replay import produce_file, record_key


def test_record_key_is_the_unit_code_or_none() -> None:
    assert record_key(b'{"unit_code": "31.S04", "event_type": "submitted"}') == b"31.S04"
    assert record_key(b'{"event_type": "submitted"}') is None
    assert record_key(b'{"unit_code": 12}') is None
    assert record_key(b'{"unit_code": ""}') is None
    assert record_key(b"[1, 2]") is None
    assert record_key(b"<html>502 Bad Gateway</html>") is None


@pytest.mark.integration
async def test_produce_file_sends_every_line_keyed_by_unit(kafka_settings: KafkaSettings,
                                                           tmp_path: Path) -> None:
    path = tmp_path / "feed.ndjson"
    start = datetime(2026, 10, 5, tzinfo=TZ)
    config = FeedConfig(start=start, end=start + timedelta(days=4), seed=9, filings_per_day=3000,
                        delivery=DeliveryRates(malformed=0.02, not_json=True))
    write_file(generate(config), path)
    with path.open("ab") as out:
        out.write(b"\n   \n")  # blank lines are not records
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    assert sum(record_key(line) is None for line in lines) > 10

    started = time.perf_counter()
    count = await produce_file(path, kafka_settings, kafka_settings.events_topic)
    elapsed = time.perf_counter() - started
    print(f"\nproduced {count:,} records in {elapsed:.2f}s ({count / elapsed:,.0f}/s)")
    assert count == len(lines)

    consumer = AIOKafkaConsumer(kafka_settings.events_topic, **kafka_settings.client_kwargs(),
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    received: Counter[bytes] = Counter()
    partitions_of: dict[bytes, set[int]] = defaultdict(set)
    try:
        deadline = time.monotonic() + 60
        while sum(received.values()) < count and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=1000, max_records=50_000)).items():
                for record in records:
                    assert record.value is not None
                    assert record.key == record_key(record.value)
                    received[record.value] += 1
                    if record.key is not None:
                        partitions_of[record.key].add(tp.partition)
    finally:
        await consumer.stop()
    assert received == Counter(lines)
    assert all(len(p) == 1 for p in partitions_of.values()), "one unit, one partition"
    assert len({p for ps in partitions_of.values() for p in ps}) == kafka_settings.events_partitions

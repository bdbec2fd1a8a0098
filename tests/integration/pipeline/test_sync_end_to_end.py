"""The national portal's sync end to end on the real broker: a simulated province's days as
`DongBoHoSoMC` calls (states re-sent, out of order, full of personal data) → the ingest's sync
intake → Kafka → a real aggregator worker → the API. The API's figures equal the oracle's over the
same filings' events as the format can say them; and no applicant's data is on any topic of the
broker or in any log."""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.common.clock import CLOCK_START_ENV
from services.common.kafka_settings import KafkaSettings
from services.simulator.dvcqg_sync import agency_code, personal_data, province_day_calls
from services.simulator.feed import Feed, FeedConfig
from tests.support.aggregator import Worker
from tests.support.api import ADMIN_KEY, api_settings, running_api
from tests.support.ingest import running_ingest
from tests.support.oracle import recompute
from tests.support.oracle_check import FAST_WORKER, assert_api_equals_oracle
from tests.support.waiting import async_wait_until

pytestmark = pytest.mark.integration

FROZEN_NOW = "2026-11-23T12:00:00+07:00"
# The first filings' personal data, and words every applicant's and officer's data carries.
NEEDLES = [value.encode() for n in range(1, 50) for value in personal_data(n).values()] + [
    word.encode() for word in ("Nguyễn Văn Thử", "@example.invalid", "Cán bộ Thử", "Số nhà")]


async def test_sync_province_days_equal_the_oracle_and_leak_no_personal_data(
        kafka_settings: KafkaSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(CLOCK_START_ENV, FROZEN_NOW)
    now = datetime.fromisoformat(FROZEN_NOW)
    events = [e for _, e in Feed(FeedConfig(start=now - timedelta(days=10), end=now, seed=99,
                                            filings_per_day=150)).events()]
    calls, said = province_day_calls(events, random.Random(5))
    (tmp_path / "said.ndjson").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in said))
    oracle = recompute(tmp_path / "said.ndjson", now)
    units = sorted({e["unit_code"] for e in events})
    worker = Worker(kafka_settings, tmp_path / "worker", f"agg-{kafka_settings.events_topic}", FROZEN_NOW,
                    FAST_WORKER).start()
    try:
        async with running_ingest(kafka_settings, tmp_path) as ingest, \
                running_api(api_settings(kafka_settings, admin_rate_burst=1000)) as api:
            # The province maps its agency codes to units through the API's admin.
            admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
            for unit in units:
                answer = await api.client.put(f"/v1/admin/agencies/{agency_code(unit)}",
                                              json={"unit_code": unit}, headers=admin)
                assert answer.status_code in (200, 202), answer.text
            book = ingest.app.state.ingest.sync.agencies.book
            await async_wait_until(lambda: len(book.units) == len(units), 30, "ingest reading the agencies")

            key_id, _, secret = ingest.all_units.partition(".")
            login = (await ingest.client.post("/dvcqg/login",
                                              json={"username": key_id, "password": secret})).json()
            for call in calls:
                body = {"session": login["session"], "madonvi": "000.00.00.H31", "service": "DongBoHoSoMC",
                        "isUpdating": "True", "data": call}
                answer = await ingest.client.post("/dvcqg/sync", json=body)
                assert answer.status_code == 200 and answer.json()["error_code"] == "00", answer.text[:500]

            await assert_api_equals_oracle(api.client, oracle, worker)
            sent = orjson.dumps(calls)
            assert all(needle in sent for needle in NEEDLES)  # what is looked for below was sent
            await assert_no_personal_data(kafka_settings, len(said), worker, caplog.text)
    finally:
        worker.stop()


async def assert_no_personal_data(kafka: KafkaSettings, expected_events: int, worker: Worker,
                                  logs: str) -> None:
    """Every record of every topic of this pipeline (events, DLQ, figures, days, registry, targets,
    agencies: the test's suffix; other tests share the broker), and every log line, free of the
    applicants' data."""
    suffix = kafka.figures_topic.rsplit("-", 1)[1]
    admin = AIOKafkaAdminClient(**kafka.client_kwargs())
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.endswith(suffix)]
        counts = {d["topic"]: len(d["partitions"]) for d in await admin.describe_topics(topics)}
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(**kafka.client_kwargs(), enable_auto_commit=False, group_id=None)
    await consumer.start()
    read = 0
    try:
        partitions = [TopicPartition(t, p) for t, n in counts.items() for p in range(n)]
        assert len(counts) >= 7, counts
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + 120
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            assert time.monotonic() < deadline, "the topics were not read to their end"
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for record in records:
                    read += 1
                    blob = (record.key or b"") + (record.value or b"")
                    hit = next((n for n in NEEDLES if n in blob), None)
                    assert hit is None, (record.topic, hit)
    finally:
        await consumer.stop()
    assert read > expected_events  # the events topic, the figures, the days, the registry
    for text in (logs, worker.log_tail(10_000)):
        assert not any(n.decode() in text for n in NEEDLES)

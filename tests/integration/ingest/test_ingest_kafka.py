"""The ingest service over HTTP against a real Kafka: what it answers is what the topic holds."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from deploy.local.broker import LocalKafka
from services.common.kafka_settings import KafkaSettings
from services.common.topics import ensure_topics
from tests.support.api import ADMIN, WARD_A, api_settings, running_api, status_is
from tests.support.broker import unique_settings
from tests.support.ingest import NDJSON_TYPE, Running, bearer, make_event, running_ingest
from tests.support.waiting import async_wait_until, eventually

pytestmark = pytest.mark.integration

async def read_topic(kafka: KafkaSettings, expect: Collection[str] = (),
                     isolation_level: str = "read_committed") -> list[ConsumerRecord]:
    """Every record of the events topic up to its end, once the events `expect`ed are all there.

    A 202 means Kafka committed the transaction; a read_committed reader sees it once the commit
    markers are written, a few milliseconds later. So read to the end (the last stable offset), and
    again until every expected event_id has been seen.
    """
    consumer = AIOKafkaConsumer(**kafka.client_kwargs(), isolation_level=isolation_level,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = [TopicPartition(kafka.events_topic, p) for p in range(kafka.events_partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord] = []
        missing = set(expect)
        deadline = time.monotonic() + 30
        while True:
            end = await consumer.end_offsets(partitions)
            while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
                assert time.monotonic() < deadline, "timed out reading the topic to its end"
                for batch in (await consumer.getmany(*partitions, timeout_ms=500)).values():
                    records.extend(batch)
                    missing.difference_update(orjson.loads(r.value)["event_id"] for r in batch)
            if not missing:
                return records
            assert time.monotonic() < deadline, f"{len(missing)} expected events never became visible"
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop()


async def high_watermarks(kafka: KafkaSettings) -> int:
    """How many records were ever appended (committed, aborted or open) to the events topic."""
    return len(await read_topic(kafka, isolation_level="read_uncommitted"))


@pytest.fixture
async def ingest(kafka_settings: KafkaSettings, tmp_path: Path) -> AsyncIterator[Running]:
    async with running_ingest(kafka_settings, tmp_path) as running:
        yield running


async def test_posted_events_come_back_keyed_by_unit_with_their_payload(
        ingest: Running, kafka_settings: KafkaSettings) -> None:
    single = make_event(unit_code="26737", x_source_meta={"v": "4.2"})
    batch = [make_event(unit_code="26734"), make_event(event_type="processed", unit_code="79"),
             make_event(event_type="returned", reason="withdrawn", unit_code="26734")]
    for body in (single, batch):
        answer = await ingest.post(body)
        assert answer.status_code == 202, answer.text
    sent = {e["event_id"]: e for e in [single, *batch]}

    records = await read_topic(kafka_settings, expect=sent)
    assert len(records) == len(sent)
    for record in records:
        event = orjson.loads(record.value)
        assert event == sent[event["event_id"]]
        assert record.key == event["unit_code"].encode()
    # Same unit, same partition, in the order sent.
    unit_26734 = [orjson.loads(r.value)["event_id"] for r in sorted(records, key=lambda r: r.offset)
                  if r.key == b"26734"]
    assert unit_26734 == [batch[0]["event_id"], batch[2]["event_id"]]


async def test_an_ndjson_batch_of_1000_is_all_in_the_topic_once(ingest: Running,
                                                                kafka_settings: KafkaSettings) -> None:
    units = ["26734", "26737", "26740", "27001", "27004"]
    events = [make_event(unit_code=units[i % len(units)]) for i in range(1000)]
    answer = await ingest.post_ndjson(events)
    assert answer.status_code == 202
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (1000, 0)
    assert [r["event_id"] for r in body["results"]] == [e["event_id"] for e in events]

    expected = [e["event_id"] for e in events]
    counts = Counter(orjson.loads(r.value)["event_id"] for r in await read_topic(kafka_settings, expected))
    assert counts == Counter(expected)
    assert ingest.registry.get_sample_value("ingest_events_accepted_total") == 1000


async def test_concurrent_requests_share_transactions_and_each_is_in_the_topic_once(
        kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    """Requests that arrive while a transaction is in flight go together in the next one (group
    commit): far fewer transactions than requests, and every request's events there exactly once."""
    async with running_ingest(kafka_settings, tmp_path, producer_pool_size=2) as ingest:
        requests = [[make_event(unit_code=str(26734 + (i + j) % 7)) for j in range(20)] for i in range(40)]
        answers = await asyncio.gather(*(ingest.writer.write(
            [(e["unit_code"].encode(), orjson.dumps(e)) for e in events]) for events in requests))
        assert answers == [None] * 40
        transactions = ingest.registry.get_sample_value("ingest_kafka_transaction_requests_count")
        grouped = ingest.registry.get_sample_value("ingest_kafka_transaction_requests_sum")
        assert grouped == 40
        # The first request starts a transaction at once; the 39 that come while it is in flight go
        # together in the next (one transaction a request would make 40).
        assert transactions == 2

        # Over HTTP, concurrent clients: every 202's events are in the topic, once.
        posted = [[make_event(unit_code=str(26734 + i % 7)) for _ in range(20)] for i in range(30)]
        statuses = [a.status_code for a in await asyncio.gather(*(ingest.post_ndjson(e) for e in posted))]
        assert statuses == [202] * 30
        after = ingest.registry.get_sample_value("ingest_kafka_transaction_requests_count")
        assert after is not None and after - transactions < 30

    expected = [e["event_id"] for events in requests + posted for e in events]
    counts = Counter(orjson.loads(r.value)["event_id"] for r in await read_topic(kafka_settings, expected))
    assert counts == Counter(expected)


async def test_refused_requests_write_nothing(ingest: Running, kafka_settings: KafkaSettings) -> None:
    bad = make_event()
    del bad["due_at"]
    invalid = await ingest.post([bad])
    assert invalid.status_code == 422
    assert invalid.json()["results"][0]["errors"] == [
        {"field": "due_at", "reason": 'required when event_type is "submitted"'}]

    no_key = await ingest.client.post("/v1/events", json=make_event())
    wrong_key = await ingest.client.post("/v1/events", json=make_event(),
                                         headers=bearer(ingest.scoped[:-2] + "xx"))
    assert (no_key.status_code, wrong_key.status_code) == (401, 401)

    other_unit = await ingest.post([make_event(unit_code="26734"), make_event(unit_code="26740")],
                                   key=ingest.scoped)
    assert other_unit.status_code == 403
    assert (other_unit.json()["index"], other_unit.json()["unit_code"]) == (1, "26740")

    assert await high_watermarks(kafka_settings) == 0  # not even an aborted attempt


async def test_too_big_is_413_over_a_real_socket(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    async with running_ingest(kafka_settings, tmp_path, max_body_bytes=64 * 1024) as ingest:
        events = [make_event(x_pad="p" * 500) for _ in range(200)]  # about 140 KB
        declared = await ingest.post_ndjson(events)
        assert declared.status_code == 413

        async def chunked() -> AsyncIterator[bytes]:
            for event in events:
                yield orjson.dumps(event) + b"\n"

        streamed = await ingest.client.post("/v1/events", content=chunked(),
                                            headers=bearer(ingest.all_units) | NDJSON_TYPE)
        assert streamed.status_code == 413
        # The sync's routes: the same bound, answered in the format's shape, both ways.
        sync_url = "/dvcqg/DongBoHoSoMC?MaDinhDanhDV=000.00.12.H31"
        for content in (orjson.dumps(events), chunked()):
            sync = await ingest.client.post(sync_url, content=content, headers=bearer(ingest.all_units))
            assert sync.status_code == 413 and sync.json()["error_code"] == "413", sync.text
        # The connection is still good for the next request.
        assert (await ingest.post_ndjson(events[:10])).status_code == 202
    assert await high_watermarks(kafka_settings) == 10


async def test_the_sync_follows_the_admins_agency_codes(kafka_settings: KafkaSettings,
                                                        tmp_path: Path) -> None:
    """Codes mapped under the API's admin before ingest starts are all known once its /readyz says
    ready (no dossier refused as unmapped because the topic was not read yet); a code unmapped later
    is refused, counted, and writes nothing."""
    agency = "000.00.12.H31"
    dossier = {"MaHoSo": f"{agency}-261120-00001", "MaTTHC": "1.001234", "KenhThucHien": "2",
               "NgayTiepNhan": "20261120083000", "NgayHenTra": "20261125170000", "TrangThaiHoSo": "4"}
    async with running_api(api_settings(kafka_settings)) as api:
        put = await api.client.put(f"/v1/admin/agencies/{agency}", json={"unit_code": WARD_A}, headers=ADMIN)
        assert put.status_code == 200, put.text
        async with running_ingest(kafka_settings, tmp_path) as ingest:
            await eventually(lambda: status_is(ingest.client, "/readyz", 200), 30, "ingest's readiness")
            ready = (await ingest.client.get("/readyz")).json()
            assert ready["checks"] == {"kafka": True, "agency_codes": True}

            async def call() -> dict[str, Any]:
                answer = await ingest.client.post(f"/dvcqg/DongBoHoSoMC?MaDinhDanhDV={agency}",
                                                  content=orjson.dumps([dossier]),
                                                  headers=bearer(ingest.all_units))
                assert answer.status_code == 200, answer.text
                body: dict[str, Any] = answer.json()
                return body

            taken = await call()
            assert taken["error_code"] == "00" and taken["accepted"] == 1
            [record] = await read_topic(kafka_settings)
            assert record.key == WARD_A.encode()

            deleted = await api.client.delete(f"/v1/admin/agencies/{agency}", headers=ADMIN)
            assert deleted.status_code == 204
            book = ingest.app.state.ingest.sync.agencies.book
            await async_wait_until(lambda: book.unit_of(agency) is None, 30, "ingest to drop the code")
            refused = await call()
            assert refused["error_code"] == "-1" and refused["data"][0]["errors"][0]["field"] == "madonvi"
            key_id = ingest.all_units.partition(".")[0]
            assert ingest.registry.get_sample_value("ingest_sync_unmapped_agency_total",
                                                    {"key_id": key_id}) == 1
    assert len(await read_topic(kafka_settings)) == 1


@dataclass
class Attempt:
    ids: list[str]
    status: int
    retry_after: str | None
    seconds: float


async def test_kafka_outage_is_503_then_recovers_without_losing_or_doubling(own_broker: LocalKafka,
                                                                            tmp_path: Path) -> None:
    kafka = unique_settings(own_broker.bootstrap, partitions=3)
    await ensure_topics(kafka)
    attempts: list[Attempt] = []
    async with running_ingest(kafka, tmp_path, produce_timeout_s=3.0, transaction_timeout_ms=10_000,
                              producer_pool_size=2) as ingest:
        # Ready before the outage, the agency codes read too: after it, readiness is Kafka's alone.
        await eventually(lambda: status_is(ingest.client, "/readyz", 200), 30, "ingest's readiness")

        async def attempt(size: int) -> Attempt:
            events = [make_event(unit_code=str(26734 + i % 7)) for i in range(size)]
            started = time.monotonic()
            answer = await ingest.post_ndjson(events)
            assert answer.status_code in (202, 503), answer.text
            done = Attempt([e["event_id"] for e in events], answer.status_code,
                           answer.headers.get("retry-after"), time.monotonic() - started)
            attempts.append(done)
            return done

        async def keep_posting(stop: asyncio.Event) -> None:
            while not stop.is_set():
                await attempt(200)
                await asyncio.sleep(0.05)

        for _ in range(3):
            assert (await attempt(50)).status == 202

        # Requests in flight while the broker goes away: each must end all-or-nothing.
        stop_posting = asyncio.Event()
        posting = asyncio.create_task(keep_posting(stop_posting))
        await async_wait_until(lambda: len(attempts) >= 5, 20, "the background posts under way")
        await asyncio.to_thread(own_broker.stop)

        outage = [await attempt(20) for _ in range(3)]
        assert all(a.status == 503 and a.retry_after == "5" for a in outage)
        # Once a failure is known, refusals come at once rather than after the produce timeout.
        assert outage[-1].seconds < 1.0
        assert (await ingest.client.get("/readyz")).status_code == 503
        assert ingest.registry.get_sample_value("ingest_kafka_producers", {"state": "idle"}) == 0

        await asyncio.to_thread(own_broker.start)
        deadline = time.monotonic() + 30
        while (await attempt(20)).status != 202:
            assert time.monotonic() < deadline, "no 202 within 30 s of the broker's return"
            await asyncio.sleep(0.2)
        stop_posting.set()
        await posting
        assert (await attempt(20)).status == 202
        assert (await ingest.client.get("/readyz")).status_code == 200

        # Every producer re-created (each re-init aborted what its predecessor left open), so the last
        # stable offset is the end of the log and a read_committed reader sees everything decided.
        await async_wait_until(lambda: ingest.writer.states()["idle"] == 2, 20, "every producer re-created")
        restarts = ingest.registry.get_sample_value("ingest_kafka_producer_restarts_total")
        assert restarts is not None and restarts >= 2

    accepted = [a for a in attempts if a.status == 202]
    answered_202 = [i for a in accepted for i in a.ids]
    counts = Counter(orjson.loads(r.value)["event_id"] for r in await read_topic(kafka, answered_202))
    refused = [a for a in attempts if a.status == 503]
    assert refused and len(accepted) >= 5
    for a in accepted:
        assert all(counts[i] == 1 for i in a.ids), "an event answered 202 is missing or doubled"
    for a in refused:
        # 503 promises nothing half-done: a refused request's events are all there or none is.
        present = [counts[i] for i in a.ids]
        assert set(present) in ({0}, {1}), f"request answered 503 is half in the topic: {present}"
    posted = {i for a in attempts for i in a.ids}
    assert set(counts) <= posted

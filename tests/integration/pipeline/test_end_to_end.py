"""The whole pipeline on the real broker: simulator → ingest (HTTP, with a key) → Kafka → a real aggregator
worker → unit-figures → the API. What the API serves, for units and rolled-up subtrees, equals the
oracle's batch recomputation of the same NDJSON file, exactly. Then an event posted to ingest reaches a
connected /v1/stream client within a second."""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.clock import CLOCK_START_ENV
from services.common.kafka_settings import KafkaSettings
from services.simulator.delivery import DeliveryRates
from services.simulator.feed import FeedConfig, generate
from services.simulator.ndjson_file import write_file
from tests.support.aggregator import Worker
from tests.support.api import SseReader, api_settings, running_api
from tests.support.ingest import NDJSON_TYPE, bearer, make_event, running_ingest
from tests.support.oracle import OracleResult, recompute
from tests.support.oracle_check import FAST_WORKER, assert_api_equals_oracle

pytestmark = pytest.mark.integration

FROZEN_NOW = "2026-11-23T12:00:00+07:00"
EVENTS = 4000
CHUNK = 500  # lines per ingest request
LATENCY_SAMPLES = 5


@pytest.fixture(scope="module")
def event_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A messy simulated feed: duplicates, reordering, late deliveries, repeats and invalid events
    (no lines that are not JSON: ingest refuses such a request whole, as it should)."""
    path = tmp_path_factory.mktemp("e2e") / "events.ndjson"
    now = datetime.fromisoformat(FROZEN_NOW)
    config = FeedConfig(start=now - timedelta(days=20), end=now, seed=4242, filings_per_day=200,
                        delivery=DeliveryRates(duplicate=0.03, reorder=0.05, late=0.02, repeat=0.02,
                                               malformed=0.01))
    assert write_file(generate(config), path, limit=EVENTS).lines == EVENTS
    return path


@pytest.fixture(scope="module")
def event_lines(event_log: Path) -> list[bytes]:
    return event_log.read_bytes().splitlines(keepends=True)


@pytest.fixture(scope="module")
def oracle(event_log: Path) -> OracleResult:
    result = recompute(event_log, datetime.fromisoformat(FROZEN_NOW))
    assert len(result.units) > 30 and result.skipped["invalid"] > 0 and result.duplicates > 0
    return result


async def post_lines(client: httpx.AsyncClient, key: str, lines: list[bytes]) -> int:
    """Every line to ingest in chunks, as a sender would; the number of events accepted."""
    accepted = 0
    for start in range(0, len(lines), CHUNK):
        answer = await client.post("/v1/events", content=b"".join(lines[start:start + CHUNK]),
                                   headers=bearer(key) | NDJSON_TYPE)
        assert answer.status_code == 202, answer.text
        accepted += answer.json()["accepted"]
    return accepted


async def test_api_equals_the_oracle_and_streams_within_a_second(
        kafka_settings: KafkaSettings, event_lines: list[bytes], oracle: OracleResult,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One clock for every service, the worker's: the API names the calendar periods it rolls up
    # (this month, the 12 before...) by its own today, as the aggregator does by its own.
    monkeypatch.setenv(CLOCK_START_ENV, FROZEN_NOW)
    worker = Worker(kafka_settings, tmp_path / "worker", f"agg-{kafka_settings.events_topic}", FROZEN_NOW,
                    FAST_WORKER).start()
    try:
        async with running_ingest(kafka_settings, tmp_path) as ingest, \
                running_api(api_settings(kafka_settings)) as api:
            # Ingest accepts exactly what the oracle counts (duplicates too: they are dropped later).
            assert await post_lines(ingest.client, ingest.all_units, event_lines) == oracle.accepted
            await assert_api_equals_oracle(api.client, oracle, worker)
            latencies = [await stream_latency(api.client, ingest, unit)
                         for unit in sorted(oracle.units)[:LATENCY_SAMPLES]]
            print(f"ingest → stream latency (s): {[round(s, 3) for s in latencies]}, "
                  f"median {statistics.median(latencies):.3f}")
            assert max(latencies) < 1.0, latencies
    finally:
        worker.stop()


async def stream_latency(client: httpx.AsyncClient, ingest: Any, unit: str) -> float:
    """Seconds from posting one new filing of `unit` to ingest until a stream client has its figures."""
    now = datetime.fromisoformat(FROZEN_NOW)
    before = (await client.get(f"/v1/units/{unit}")).json()["figures"]["periods"]["today"]["received_total"]
    event = make_event(unit_code=unit, filing_id=f"E2E-{uuid.uuid4().hex[:10]}",
                       occurred_at=(now - timedelta(hours=1)).isoformat(),
                       due_at=(now + timedelta(days=3)).isoformat())
    async with SseReader(client, {"unit": unit}) as stream:
        sent = time.monotonic()
        answer = await ingest.post(event)
        assert answer.status_code == 202, answer.text
        while True:
            _, _, data, arrived = await stream.next_event(5.0)
            if data["periods"]["today"]["received_total"] == before + 1:
                return arrived - sent

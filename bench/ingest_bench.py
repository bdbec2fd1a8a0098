"""How fast the ingest service takes events: `python -m bench.ingest_bench`.

Starts its own Kafka (KRaft, in a temp dir) and the ingest service (`python -m services.ingest`, a
separate process, as deployed), then measures over HTTP:
  (a) throughput: NDJSON batches of 1,000 events posted by a few concurrent clients;
  (b) latency: single-event requests, one after another (p50, p99).
As baselines on the same broker and machine: a bare aiokafka producer (acks=all, idempotent) sending
the same events, the same with one transaction per 1,000 events (what ingest does per request),
and the schema validation alone, in this process.

Everything runs on one machine: broker, service and this client share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from bench.stats import percentile, print_rows
from deploy.local.broker import free_port
from deploy.local.service import Service
from services.common.kafka_settings import KafkaSettings
from services.common.topics import ensure_topics
from services.contract.event_validation import SCHEMAS_DIR, EventValidator, Valid
from services.ingest.keys import KeyStore, new_key
from tests.support.broker import scratch_broker
from tests.support.ingest import ndjson

ROOT = Path(__file__).resolve().parents[1]
# 256 unit codes: enough keys to spread over every partition (which units they are does not matter).
UNITS = [str(code) for code in range(26734, 27500, 3)]


def make_events(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """A plausible mix: mostly submissions and resolutions, some returns and overdue marks."""
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    events = []
    for i in range(n):
        kind = rng.choices(["submitted", "processed", "returned", "overdue"], [50, 40, 6, 4])[0]
        day = 1 + i % 28
        event: dict[str, Any] = {
            "schema_version": 1, "event_id": f"bench-{run}-{i}", "event_type": kind,
            "filing_id": f"H29.{run}.{i // 2:08d}", "unit_code": rng.choice(UNITS),
            "occurred_at": f"2025-07-{day:02d}T{8 + i % 9:02d}:{i % 60:02d}:00+07:00",
            "source": "bench-mcdt",
        }
        if kind == "submitted":
            event |= {"channel": rng.choice(["online", "online", "in_person", "postal"]),
                      "due_at": f"2025-08-{day:02d}T17:00:00+07:00",
                      "procedure_code": f"1.00{rng.randint(1000, 9999)}"}
        elif kind == "returned":
            event["reason"] = rng.choice(["rejected", "supplement_requested", "withdrawn"])
        if rng.random() < 0.3:
            event["online_payment"] = rng.random() < 0.6
        events.append(event)
    return events


class IngestProcess:
    """`python -m services.ingest` on a free port, configured by environment like a deployment."""

    def __init__(self, workdir: Path, kafka: KafkaSettings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        key_id, self.key, stored = new_key(["*"], note="bench")
        KeyStore({key_id: stored}).save(workdir / "keys.json")
        self.service = Service("ingest", [sys.executable, "-m", "services.ingest"], workdir,
                               f"{self.url}/readyz", {
            "INGEST_PORT": str(self.port), "INGEST_KEYS_FILE": str(workdir / "keys.json"),
            "INGEST_INSTANCE_ID": f"bench-{uuid.uuid4().hex[:6]}",
            # The load comes from one key: measure ingest, not its flood guard.
            "INGEST_RATE_PER_KEY_PER_S": "1000000", "INGEST_RATE_BURST_PER_KEY": "1000000",
            "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "KAFKA_EVENTS_TOPIC": kafka.events_topic,
        })

    def start(self) -> None:
        self.service.start()
        self.service.wait_ready(time.monotonic() + 60)

    def stop(self) -> None:
        self.service.stop()


async def post_all(service: IngestProcess, requests: list[tuple[str, bytes, dict[str, str]]],
                   clients: int) -> float:
    """Seconds to post every (path, body, headers) from `clients` concurrent clients; each must be
    taken whole (/v1/events: 202 with nothing rejected; the portal's sync: error_code "00")."""
    queue: asyncio.Queue[tuple[str, bytes, dict[str, str]]] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=service.url, timeout=60) as http:
            while not queue.empty():
                path, body, headers = queue.get_nowait()
                answer = await http.post(path, content=body, headers=headers)
                if path == "/v1/events":
                    ok = answer.status_code == 202 and answer.json()["rejected"] == 0
                else:
                    ok = answer.status_code == 200 and answer.json()["error_code"] == "00"
                if not ok:
                    raise RuntimeError(f"{path}: not taken whole: {answer.status_code} {answer.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started


async def http_throughput(service: IngestProcess, bodies: list[bytes], per_body: int,
                          clients: int) -> float:
    headers = {"Authorization": f"Bearer {service.key}", "Content-Type": "application/x-ndjson"}
    seconds = await post_all(service, [("/v1/events", body, headers) for body in bodies], clients)
    return len(bodies) * per_body / seconds


async def http_latency(service: IngestProcess, events: list[dict[str, Any]]) -> list[float]:
    headers = {"Authorization": f"Bearer {service.key}", "Content-Type": "application/json"}
    bodies = [orjson.dumps(e) for e in events]
    seconds = []
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
        for body in bodies:
            started = time.perf_counter()
            answer = await http.post("/v1/events", content=body, headers=headers)
            seconds.append(time.perf_counter() - started)
            if answer.status_code != 202:
                raise RuntimeError(f"single event refused: {answer.status_code} {answer.text[:300]}")
    return seconds


async def bare_producer(kafka: KafkaSettings, events: list[dict[str, Any]],
                        per_transaction: int | None) -> float:
    """aiokafka alone, the same events and batch size as ingest's producers; optionally transactional."""
    records = [(e["unit_code"].encode(), orjson.dumps(e)) for e in events]
    extra: dict[str, Any] = ({"transactional_id": f"bench-{uuid.uuid4().hex[:6]}"} if per_transaction
                             else {"enable_idempotence": True})
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all", max_batch_size=256 * 1024,
                                max_request_size=1024 * 1024, **extra)
    await producer.start()
    try:
        started = time.perf_counter()
        step = per_transaction or len(records)
        for first in range(0, len(records), step):
            chunk = records[first:first + step]
            if per_transaction:
                await producer.begin_transaction()
            futures = [await producer.send(kafka.events_topic, value, key=key) for key, value in chunk]
            if per_transaction:
                await producer.commit_transaction()
            await asyncio.gather(*futures)
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


def validation_only(events: list[dict[str, Any]]) -> float:
    validator = EventValidator.from_files([SCHEMAS_DIR / "filing-event.v1.json"])
    started = time.perf_counter()
    assert all(isinstance(validator.validate(e), Valid) for e in events)
    return len(events) / (time.perf_counter() - started)


async def run(args: argparse.Namespace, kafka: KafkaSettings,
              service: IngestProcess) -> list[tuple[str, str]]:
    batch_events = make_events(args.batches * args.batch_size)
    bodies = [ndjson(batch_events[i:i + args.batch_size])
              for i in range(0, len(batch_events), args.batch_size)]
    single_events = make_events(args.single, seed=11)
    bare_events = make_events(args.batches * args.batch_size, seed=13)

    # Warm-up: connections, the JIT-less but cache-hungry first requests, the broker's segments.
    await http_throughput(service, [ndjson(make_events(args.batch_size, seed=3))] * 3, args.batch_size, 1)
    await http_latency(service, make_events(50, seed=5))

    ingest_rate = await http_throughput(service, bodies, args.batch_size, args.clients)
    latencies = await http_latency(service, single_events)
    bare_rate = await bare_producer(kafka, bare_events, None)
    txn_rate = await bare_producer(kafka, make_events(len(bare_events), seed=17), args.batch_size)
    check_rate = validation_only(batch_events)

    ms = [s * 1000 for s in latencies]
    return [
        (f"ingest, NDJSON x{args.batch_size}, {args.clients} clients, {args.batches} batches",
         f"{ingest_rate:,.0f} events/s"),
        (f"ingest, single event, {args.single} sequential: p50 / p99 / mean",
         f"{percentile(ms, 50):.1f} / {percentile(ms, 99):.1f} / {statistics.fmean(ms):.1f} ms"),
        ("  (same: requests/s)", f"{len(ms) / sum(latencies):,.0f} req/s"),
        ("aiokafka producer, acks=all, idempotent (baseline)", f"{bare_rate:,.0f} events/s"),
        (f"aiokafka producer, one transaction per {args.batch_size}", f"{txn_rate:,.0f} events/s"),
        ("schema validation alone, one core", f"{check_rate:,.0f} events/s"),
        ("ingest batch throughput / bare producer", f"{ingest_rate / bare_rate:.2f}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--single", type=int, default=2000)
    parser.add_argument("--partitions", type=int, default=12)
    args = parser.parse_args()

    with scratch_broker("ingest-bench-") as (workdir, broker):
        kafka = KafkaSettings(bootstrap_servers=broker.bootstrap, events_partitions=args.partitions)
        asyncio.run(ensure_topics(kafka))
        service = IngestProcess(workdir, kafka)
        try:
            service.start()
            rows = asyncio.run(run(args, kafka, service))
        finally:
            service.stop()

    print(f"\nIngest benchmark ({os.cpu_count()} CPUs; broker, service and client on this machine)")
    print_rows(rows, value_width=22)


if __name__ == "__main__":
    main()

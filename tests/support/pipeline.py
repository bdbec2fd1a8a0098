"""The whole pipeline on this machine, for the fault tests and the soak: ingest, aggregator and API as
deployed (each `python -m services.<name>` in its own process, configured by environment) on a given
broker, and clients that post a feed through ingest as NDJSON batches the way a real sender does.

A sender retries a batch answered 503 (Kafka unreachable) after the Retry-After it was given, and
keeps every line answered `accepted` inside a 202, in the order of the answers: that file is what
the oracle recomputes, so the figures are compared with exactly the events the pipeline promised to
count.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx
import orjson
from aiokafka import AIOKafkaConsumer

from deploy.local.broker import free_port
from deploy.local.service import Service
from services.common.kafka_settings import KafkaSettings
from services.common.topics import ensure_topics
from tests.support.paths import ROOT

ADMIN_KEY = "pipeline-admin-key"
NDJSON = "application/x-ndjson"


@dataclass
class Pipeline:
    """Ingest, one aggregator worker and one API replica on fresh topics of one broker."""

    bootstrap: str
    workdir: Path
    frozen_now: str  # the aggregator's clock, and the oracle's as_of
    province: str = "31"  # the API's registry is seeded with it
    partitions: int = 6
    kafka: KafkaSettings = field(init=False)
    ingest: Service = field(init=False)
    aggregator: Service = field(init=False)
    api: Service = field(init=False)
    key: str = field(init=False)

    def __post_init__(self) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.kafka = KafkaSettings(bootstrap_servers=self.bootstrap, events_partitions=self.partitions,
                                   events_topic=f"events-{suffix}", dlq_topic=f"dlq-{suffix}",
                                   figures_topic=f"figures-{suffix}", days_topic=f"days-{suffix}",
                                   agencies_topic=f"agencies-{suffix}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        keys_file = self.workdir / "ingest-keys.json"
        self.key = subprocess.run(
            [sys.executable, "-m", "services.ingest.keys", "new", "--units", "*", "--note", "pipeline",
             "--file", str(keys_file)], cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip().splitlines()[-1]
        ingest_port, agg_port, api_port = free_port(), free_port(), free_port()
        self.ingest_url = f"http://127.0.0.1:{ingest_port}"
        self.aggregator_url = f"http://127.0.0.1:{agg_port}"
        self.api_url = f"http://127.0.0.1:{api_port}"
        logs = self.workdir / "logs"
        self.ingest = Service("ingest", [sys.executable, "-m", "services.ingest"], logs,
                              f"{self.ingest_url}/readyz", {
                                  "INGEST_PORT": str(ingest_port), "INGEST_KEYS_FILE": str(keys_file),
                                  "INGEST_INSTANCE_ID": f"pipeline-{suffix}",
                                  # A sender waits this long after a 503; 1 s keeps recoveries short.
                                  "INGEST_RETRY_AFTER_S": "1"})
        self.aggregator = Service("aggregator", [sys.executable, "-m", "services.aggregator"], logs,
                                  f"{self.aggregator_url}/state", {
                                      "AGGREGATOR_APP_ID": f"agg-{suffix}",
                                      "AGGREGATOR_DATA_DIR": str(self.workdir / "aggregator"),
                                      "AGGREGATOR_WEB_PORT": str(agg_port), "AGGREGATOR_LOG_LEVEL": "warn",
                                      "AGGREGATOR_FROZEN_NOW": self.frozen_now})
        self.api = Service("api", [sys.executable, "-m", "services.api"], logs, f"{self.api_url}/readyz", {
            "API_PORT": str(api_port), "API_REGISTRY_TOPIC": f"registry-{suffix}",
            "API_TARGETS_TOPIC": f"targets-{suffix}", "API_SEED_PROVINCE": self.province,
            "API_ADMIN_KEY_SHA256": hashlib.sha256(ADMIN_KEY.encode()).hexdigest()})

    @property
    def env(self) -> dict[str, str]:
        kafka = self.kafka
        return {**os.environ, "PYTHONUNBUFFERED": "1", "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
                "KAFKA_EVENTS_TOPIC": kafka.events_topic, "KAFKA_DLQ_TOPIC": kafka.dlq_topic,
                "KAFKA_FIGURES_TOPIC": kafka.figures_topic, "KAFKA_DAYS_TOPIC": kafka.days_topic,
                "KAFKA_AGENCIES_TOPIC": kafka.agencies_topic,
                "KAFKA_EVENTS_PARTITIONS": str(kafka.events_partitions)}

    @property
    def services(self) -> list[Service]:
        return [self.ingest, self.aggregator, self.api]

    async def start(self, within_s: float = 120) -> None:
        await ensure_topics(self.kafka)
        for service in self.services:
            service.start(self.env)
        deadline = time.monotonic() + within_s
        for service in self.services:
            await asyncio.to_thread(service.wait_ready, deadline)

    async def restart(self, service: Service, within_s: float = 120) -> None:
        service.start(self.env)
        await asyncio.to_thread(service.wait_ready, time.monotonic() + within_s)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()

    def check_alive(self, *except_: Service) -> None:
        for service in self.services:
            if service not in except_ and not service.alive():
                raise AssertionError(f"{service.name} stopped:\n{service.log_tail()}")


@dataclass
class SendStats:
    requests: int = 0  # HTTP requests made, retries included
    answered_202: int = 0
    retried_503: int = 0  # answers 503, each followed by a retry of the same batch
    transport_errors: int = 0  # no answer at all (connection refused or reset), retried too
    other: list[str] = field(default_factory=list)  # any other answer: a failure, never retried
    accepted: int = 0  # events accepted inside 202s
    rejected: int = 0  # events refused inside 202s (the feed's deliberately malformed ones)
    acked: list[tuple[float, list[bytes]]] = field(default_factory=list)  # (time of the 202, accepted lines)

    @property
    def error_rate(self) -> float:
        """Requests not answered 202, over all requests."""
        return (self.requests - self.answered_202) / max(self.requests, 1)

    def write_accepted(self, path: Path) -> int:
        """Every accepted line, one per line, in the order of the 202s: the oracle's input."""
        with path.open("wb") as out:
            for _, lines in self.acked:
                out.write(b"".join(line + b"\n" for line in lines))
        return self.accepted


async def post_batch(http: httpx.AsyncClient, body_lines: Sequence[bytes], stats: SendStats,
                     give_up_s: float = 180) -> None:
    """Post one NDJSON batch until it is answered 202; a 503 or no answer is retried, as a client would."""
    body = b"".join(line + b"\n" for line in body_lines)
    deadline = time.monotonic() + give_up_s
    while True:
        stats.requests += 1
        try:
            answer = await http.post("/v1/events", content=body)
        except httpx.TransportError:
            stats.transport_errors += 1
            wait = 0.5
        else:
            if answer.status_code == 202:
                stats.answered_202 += 1
                acked = time.time()
                accepted = []
                for result in answer.json()["results"]:
                    if result["status"] == "accepted":
                        accepted.append(body_lines[result["index"]])
                    else:
                        stats.rejected += 1
                stats.accepted += len(accepted)
                stats.acked.append((acked, accepted))
                return
            if answer.status_code != 503:
                stats.other.append(f"{answer.status_code} {answer.text[:200]}")
                return
            stats.retried_503 += 1
            wait = float(answer.headers.get("Retry-After", "1"))
        if time.monotonic() > deadline:
            raise AssertionError(f"ingest did not take a batch in {give_up_s} s")
        await asyncio.sleep(wait)


async def send_lines(url: str, key: str, lines: Iterable[bytes], stats: SendStats, batch_size: int,
                     clients: int, rate: float | None = None,
                     on_batch: Callable[[int], None] | None = None) -> None:
    """Post `lines` in batches of `batch_size` from `clients` concurrent clients, at about `rate` lines/s
    (None: as fast as ingest takes them). `on_batch(n)` is called with the count of batches queued."""
    queue: asyncio.Queue[list[bytes] | None] = asyncio.Queue(maxsize=clients * 4)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": NDJSON}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers) as http:
            while (batch := await queue.get()) is not None:
                await post_batch(http, batch, stats)

    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    start = time.monotonic()
    batch: list[bytes] = []
    sent = batches = 0
    try:
        for line in lines:
            batch.append(line)
            if len(batch) < batch_size:
                continue
            sent += len(batch)
            await _put(queue, batch, tasks)
            batch = []
            batches += 1
            if on_batch is not None:
                on_batch(batches)
            if rate is not None and (ahead := start + sent / rate - time.monotonic()) > 0:
                await asyncio.sleep(ahead)
        if batch:
            await _put(queue, batch, tasks)
        for _ in tasks:
            await _put(queue, None, tasks)
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()


async def _put(queue: asyncio.Queue[list[bytes] | None], item: list[bytes] | None,
               tasks: list[asyncio.Task[None]]) -> None:
    """Queue `item`, but surface a client's error instead of waiting forever on a full queue."""
    while True:
        for task in tasks:
            if task.done():
                task.result()
        try:
            await asyncio.wait_for(queue.put(item), 1)
            return
        except TimeoutError:
            continue


class FiguresFollower:
    """Follows a compacted topic of per-unit records from the start: the latest record of each unit,
    and for freshness every record's (arrival here, all_time received_total)."""

    def __init__(self, kafka: KafkaSettings, topic: str | None = None, keep_history: Callable[[str], bool]
                 = lambda unit: False) -> None:
        self.kafka = kafka
        self.topic = topic or kafka.figures_topic
        self.latest: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[tuple[float, int]]] = {}
        self.keep_history = keep_history
        self.consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> Self:
        self.consumer = AIOKafkaConsumer(self.topic, **self.kafka.client_kwargs(),
                                         auto_offset_reset="earliest", enable_auto_commit=False)
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.consumer is not None
        await self.consumer.stop()

    async def poll(self, timeout_ms: int = 200) -> None:
        assert self.consumer is not None
        batches = await self.consumer.getmany(timeout_ms=timeout_ms)
        arrived = time.time()
        for records in batches.values():
            for record in records:
                unit = record.key.decode()
                value = orjson.loads(record.value)
                self.latest[unit] = value
                if self.keep_history(unit):
                    total = value["periods"]["all_time"]["received_total"]
                    self.history.setdefault(unit, []).append((arrived, total))

    async def read_to_end(self, deadline_s: float = 30) -> None:
        """Poll until every partition is read up to the end offset it had when this was called."""
        assert self.consumer is not None
        deadline = time.monotonic() + deadline_s
        while not self.consumer.assignment():
            await self.poll(100)
            if time.monotonic() > deadline:
                raise AssertionError(f"no partitions of {self.topic} assigned")
        ends = await self.consumer.end_offsets(list(self.consumer.assignment()))
        while [tp for tp, end in ends.items() if await self.consumer.position(tp) < end]:
            await self.poll(100)
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.topic} not read to its end in {deadline_s} s")

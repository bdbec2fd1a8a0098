"""The API in tests: unit-figures records, a small unit tree, settings on fresh topics, the app under a
real uvicorn on a broker, a producer of figures, and a reader of its event stream."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from services.api.app import create_app
from services.api.settings import ApiSettings
from services.api.tree import UnitInfo, UnitTree
from services.common.kafka_settings import KafkaSettings
from services.contract.figures import COUNTERS, PERIODS, SNAPSHOTS, rates
from services.contract.units import province_units
from tests.support.ingest import serving
from tests.support.waiting import eventually

ADMIN_KEY = "admin-key-for-tests"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
UNITS = province_units("31")
WARD_A, WARD_B, WARD_OUTSIDE = [u.code for u in UNITS if u.level in ("ward", "commune")][:3]
DAY = "2026-03-10"


def period(**counts: int) -> dict[str, Any]:
    """One period's figures: these counts, every other zero, the rates computed."""
    figures: dict[str, Any] = dict.fromkeys((*COUNTERS, *SNAPSHOTS), 0)
    figures.update(counts)
    figures.update(rates(figures))
    return figures


def record(unit: str, day: str = DAY, **counts: int) -> dict[str, Any]:
    """A unit-figures record with the same figures in every period."""
    return {"unit_code": unit, "as_of": f"{day}T10:00:00.000+07:00", "day": day,
            "periods": {p: period(**counts) for p in PERIODS}}


def sample_tree() -> UnitTree:
    """A province, two departments (one with an office), a ward and a commune."""
    return UnitTree([
        UnitInfo("31", "Hải Phòng", "province", None),
        UnitInfo("31.S06", "Sở NN&MT", "department", "31"),
        UnitInfo("31.S06.01", "VP Đăng ký đất đai", "office", "31.S06"),
        UnitInfo("31.S03", "Sở Tư pháp", "department", "31"),
        UnitInfo("11311", "Phường A", "ward", "31"),
        UnitInfo("11312", "Xã B", "commune", "31"),
    ])


def figures_record(unit: str, **counts: int) -> dict[str, Any]:
    """A unit-figures record (docs/figures.md); period i holds the counts times i + 1, so that a
    mix-up of periods shows."""
    periods = {}
    for i, name in enumerate(PERIODS):
        figures: dict[str, Any] = {c: counts.get(c, 0) * (i + 1) for c in (*COUNTERS, *SNAPSHOTS)}
        periods[name] = {**figures, **rates(figures)}
    return {"unit_code": unit, "as_of": f"{DAY}T10:00:00.000+07:00", "day": DAY, "periods": periods}


def api_settings(kafka: KafkaSettings, **overrides: Any) -> ApiSettings:
    suffix = kafka.figures_topic.rsplit("-", 1)[1]
    values: dict[str, Any] = {
        "kafka": kafka, "registry_topic": f"unit-registry-{suffix}",
        "targets_topic": f"unit-targets-{suffix}",
        "admin_key_sha256": hashlib.sha256(ADMIN_KEY.encode()).hexdigest(), "seed_province": "31",
        **overrides}
    return ApiSettings(**values)


@dataclass
class Api:
    client: httpx.AsyncClient
    url: str
    registry: CollectorRegistry


@asynccontextmanager
async def running_api(settings: ApiSettings, wait_ready: bool = True) -> AsyncIterator[Api]:
    registry = CollectorRegistry()
    app = create_app(settings, registry)
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        api = Api(client, url, registry)
        if wait_ready:
            await eventually(lambda: status_is(client, "/readyz", 200), 20, "readiness")
        yield api


async def status_is(client: httpx.AsyncClient, path: str, status: int) -> bool:
    return (await client.get(path)).status_code == status


@asynccontextmanager
async def figures_producer(kafka: KafkaSettings) -> AsyncIterator[Callable[..., Awaitable[None]]]:
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all")
    await producer.start()

    async def publish(*records: dict[str, Any]) -> None:
        sent = [await producer.send(kafka.figures_topic, orjson.dumps(r), key=r["unit_code"].encode())
                for r in records]
        await asyncio.gather(*sent)

    try:
        yield publish
    finally:
        await producer.stop()


class SseReader:
    """Reads one event stream into a queue of (event, id, data, arrival time), and its comments."""

    def __init__(self, client: httpx.AsyncClient, params: dict[str, str],
                 headers: dict[str, str] | None = None) -> None:
        self.client, self.params, self.headers = client, params, headers or {}
        self.events: asyncio.Queue[tuple[str, str | None, Any, float]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.opened = asyncio.Event()
        self.comments: list[str] = []

    async def __aenter__(self) -> SseReader:
        self.task = asyncio.create_task(self._read())
        await asyncio.wait_for(self.opened.wait(), 5)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def _read(self) -> None:
        request = self.client.stream("GET", "/v1/stream", params=self.params, headers=self.headers)
        async with request as answer:
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/event-stream")
            fields: dict[str, str] = {}
            async for line in answer.aiter_lines():
                self.opened.set()
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                elif line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                elif "data" in fields:
                    await self.events.put((fields.get("event", "message"), fields.get("id"),
                                           orjson.loads(fields["data"]), time.monotonic()))
                    fields = {}
                else:
                    fields = {}

    async def next_event(self, within_s: float) -> tuple[str, str | None, Any, float]:
        """The next event that is not a comment; TimeoutError if none comes within `within_s`."""
        async with asyncio.timeout(within_s):
            return await self.events.get()

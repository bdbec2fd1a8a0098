"""Helpers for the ingest tests: events, keys files, a stand-in Kafka writer, an app under a real
uvicorn, and the ingest service on a broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from deploy.local.broker import free_port
from services.common.kafka_settings import KafkaSettings
from services.contract.agencies import AgencyBook, encode_agency
from services.ingest.app import create_app
from services.ingest.keys import KeyStore, new_key
from services.ingest.producer import KafkaUnavailable, Record, TransactionalWriter
from services.ingest.settings import IngestSettings


def make_event(**overrides: Any) -> dict[str, Any]:
    """A valid `submitted` event with a unique event_id; keyword arguments replace or add fields."""
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": f"ev-{uuid.uuid4().hex}",
        "event_type": "submitted",
        "filing_id": f"HS-{uuid.uuid4().hex[:12]}",
        "unit_code": "26734",
        "occurred_at": "2025-07-01T08:30:00+07:00",
        "source": "test-mcdt",
        "channel": "online",
        "due_at": "2025-07-04T17:00:00+07:00",
        "procedure_code": "1.001234",
    }
    event.update(overrides)
    return event


def ndjson(events: Iterable[Any]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


def write_keys(path: Path, *scopes: Sequence[str]) -> list[str]:
    """A keys file with one key per scope; returns the keys (the only time they are seen)."""
    store = KeyStore()
    tokens = []
    for units in scopes:
        key_id, token, stored = new_key(units)
        store.keys[key_id] = stored
        tokens.append(token)
    store.save(path)
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class StubAgencies:
    """The agency → unit mapping ingest mirrors from Kafka, given instead; `ready` as the test sets it."""

    def __init__(self, mapping: dict[str, str] | None = None, ready: bool = True) -> None:
        self.book = AgencyBook()
        for agency, unit in (mapping or {}).items():
            self.book.apply(agency, encode_agency(unit))
        self.ready = ready

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class FakeWriter:
    """Stands in for Kafka: keeps what it is given, or fails like an unreachable broker."""

    def __init__(self) -> None:
        self.batches: list[list[Record]] = []
        self.available = True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def write(self, records: Sequence[Record]) -> None:
        if not self.available:
            raise KafkaUnavailable("no connection to Kafka")
        self.batches.append(list(records))

    async def check(self) -> bool:
        return self.available


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Run `app` under a real uvicorn server on a free loopback port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn exited before starting")
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("uvicorn did not start in 30 s")
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


NDJSON_TYPE = {"Content-Type": "application/x-ndjson"}


@dataclass
class Running:
    client: httpx.AsyncClient
    settings: IngestSettings
    writer: TransactionalWriter
    registry: CollectorRegistry
    all_units: str
    scoped: str  # units 26734 and 26737 only
    app: FastAPI

    async def post(self, body: Any, key: str | None = None) -> httpx.Response:
        return await self.client.post("/v1/events", json=body, headers=bearer(key or self.all_units))

    async def post_ndjson(self, events: list[dict[str, Any]]) -> httpx.Response:
        return await self.client.post("/v1/events", content=ndjson(events),
                                      headers=bearer(self.all_units) | NDJSON_TYPE)


@asynccontextmanager
async def running_ingest(kafka: KafkaSettings, tmp_path: Path, **overrides: Any) -> AsyncIterator[Running]:
    """The service under a real uvicorn on a free port, its own transactional ids, a fresh registry."""
    all_units, scoped = write_keys(tmp_path / "keys.json", ["*"], ["26734", "26737"])
    settings = IngestSettings(kafka=kafka, keys_file=tmp_path / "keys.json",
                              instance_id=f"test-{uuid.uuid4().hex[:8]}", **overrides)
    registry = CollectorRegistry()
    app = create_app(settings, registry)
    writer = app.state.ingest.writer
    assert isinstance(writer, TransactionalWriter)
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=60) as client:
        yield Running(client, settings, writer, registry, all_units, scoped, app)

"""Helpers for the ingest tests: events, keys files, a stand-in Kafka writer, a running server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI

from deploy.local.broker import free_port
from services.ingest.keys import KeyStore, new_key
from services.ingest.producer import KafkaUnavailable, Record


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

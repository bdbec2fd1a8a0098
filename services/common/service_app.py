"""What both HTTP services' apps start from: a metrics registry with the process's own metrics, and a
lifespan that starts one component (ingest's Kafka writer, the API's runtime) and stops it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector


class Startable(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def process_registry() -> CollectorRegistry:
    """A fresh registry holding the process, platform and garbage collector metrics."""
    registry = CollectorRegistry()
    for collector in (ProcessCollector, PlatformCollector, GCCollector):
        collector(registry=registry)
    return registry


def lifespan_of(component: Startable) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan that starts `component` before the app serves and stops it after."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await component.start()
        try:
            yield
        finally:
            await component.stop()

    return lifespan

"""`create_app`: the API's FastAPI application; its Kafka mirrors and writer started by the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

from services.api.deps import ApiContext
from services.api.errors import install_error_handlers
from services.api.metrics import ApiMetrics, RequestObserver
from services.api.routes import admin, allocation, ops, rankings, stream, units
from services.api.runtime import Runtime
from services.api.settings import ApiSettings

DESCRIPTION = """Live figures of the one-stop shops, per unit and over any subtree of units: the online
rate, the on-time rate of Decision 766, filings overdue now, returns, for today, the last 7 and 30 days,
month, quarter and year to date. Reading needs no key; changing the registry or targets needs the admin
key. Figures are defined in docs/figures.md."""


def create_app(settings: ApiSettings, registry: CollectorRegistry | None = None) -> FastAPI:
    """The app; `registry` defaults to a fresh one with the process metrics."""
    if registry is None:
        registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=registry)
    metrics = ApiMetrics(registry)
    runtime = Runtime(settings, metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title="onestop-live API", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.api = ApiContext(settings, runtime, metrics)
    for module in (units, rankings, stream, admin, allocation, ops):
        app.include_router(module.router)
    install_error_handlers(app)
    app.add_middleware(RequestObserver, metrics=metrics)
    return app

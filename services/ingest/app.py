"""`create_app`: the ingest service's FastAPI application, its Kafka writer started by the lifespan."""

from __future__ import annotations

import secrets

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.common.docs_pages import install_docs
from services.common.http_security import SecurityGuard
from services.common.rate_limit import RateLimiter
from services.common.request_body import install_body_guard
from services.common.service_app import Startable, lifespan_of, process_registry
from services.contract.event_validation import EventValidator
from services.ingest.context import IngestContext
from services.ingest.dvcqg.agencies import AgencyDirectory
from services.ingest.dvcqg.context import Agencies, SyncContext
from services.ingest.dvcqg.metrics import SyncMetrics
from services.ingest.dvcqg.sessions import Sessions
from services.ingest.errors import install_error_handlers
from services.ingest.keys import KeyFile
from services.ingest.metrics import IngestMetrics, RequestObserver
from services.ingest.producer import EventWriter, TransactionalWriter
from services.ingest.routes import dvcqg, events, ops
from services.ingest.settings import IngestSettings


class _Parts:
    """The components the lifespan starts (Kafka writer first, so a sync call finds it) and stops."""

    def __init__(self, *parts: Startable) -> None:
        self.parts = parts

    async def start(self) -> None:
        for part in self.parts:
            await part.start()

    async def stop(self) -> None:
        for part in reversed(self.parts):
            await part.stop()


# The routes that take writers' bodies, whose requests the metrics count: /v1/events and the sync's.
INTAKE_PATHS = ("/v1/events", *(getattr(route, "path", "") for route in dvcqg.router.routes))


def create_app(settings: IngestSettings, registry: CollectorRegistry | None = None,
               writer: EventWriter | None = None, agencies: Agencies | None = None) -> FastAPI:
    """The app; `registry` defaults to a fresh one (with process metrics), `writer` to Kafka, `agencies`
    to the mirrored `unit-agencies` topic."""
    if registry is None:
        registry = process_registry()
    metrics = IngestMetrics(registry)
    # Both fail fast, at start-up, on a broken schema or a missing keys file.
    validator = EventValidator.from_files(settings.schema_files)
    keys = KeyFile(settings.keys_file)
    writer = writer or TransactionalWriter(settings, metrics)
    agencies = agencies or AgencyDirectory(settings.kafka)
    secret = settings.sync_session_secret
    sessions = Sessions(secret.get_secret_value().encode() if secret else secrets.token_bytes(32),
                        settings.sync_session_ttl_s, settings.now.clock())
    sync = SyncContext(sessions, agencies, SyncMetrics(registry))

    app = FastAPI(title="onestop-live ingest", version="1", lifespan=lifespan_of(_Parts(writer, agencies)),
                  docs_url=None, redoc_url=None)
    limiter = RateLimiter(settings.rate_per_key_per_s, settings.rate_burst_per_key)
    app.state.ingest = IngestContext(settings, validator, keys, writer, metrics, limiter, sync)
    app.include_router(events.router)
    app.include_router(dvcqg.router)
    app.include_router(ops.router)
    install_docs(app)
    install_error_handlers(app)
    dvcqg.install_sync_errors(app)
    # Innermost, so that its refusals (413, 408, 499) are counted and carry the security headers.
    install_body_guard(app, settings.max_body_bytes, settings.body_timeout_s,
                       answers={dvcqg.router.prefix + "/": dvcqg.body_refused})
    app.add_middleware(RequestObserver, metrics=metrics, paths=INTAKE_PATHS)
    # Outermost, so that its headers and its 500 cover every answer. No CORS middleware: writers are
    # servers holding a key, never a browser page, so no origin is ever allowed.
    app.add_middleware(SecurityGuard, no_store_prefixes=("/v1/",))
    return app

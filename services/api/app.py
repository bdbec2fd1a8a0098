"""`create_app`: the API's FastAPI application; its Kafka mirrors and writer started by the lifespan."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp

from services.api.dashboard import install_dashboard
from services.api.deps import ApiContext
from services.api.errors import install_error_handlers
from services.api.figure_metrics import export_plan
from services.api.metrics import ApiMetrics, RequestObserver
from services.api.routes import (
    admin,
    agencies,
    allocation,
    daily,
    filings,
    ops,
    rankings,
    reporting,
    scores,
    stream,
    trends,
    units,
)
from services.api.runtime import Runtime
from services.api.settings import ApiSettings
from services.api.sse import ExposeAbort
from services.common.docs_pages import install_docs
from services.common.http_security import SecurityGuard
from services.common.rate_limit import RateLimiter
from services.common.request_body import install_body_guard
from services.common.service_app import lifespan_of, process_registry

DESCRIPTION = """Live figures of the one-stop shops, per unit and over any subtree of units: the online
rate, the on-time rate of Decision 766 (2.1, as the national portal computes it), filings overdue now and
returns (press-style), for today, the last 7 and 30 days, month, quarter and year to date, and calendar
months, quarters and years; Decision 766's scores per unit, and the portal's reporting answers in its
own shape. Reading needs no key; changing the registry or targets needs the admin
key. Figures are defined in docs/figures.md."""


class ApiApp(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Outside every middleware, where `send` is still the server's own (see services/api/sse.py).
        return ExposeAbort(super().build_middleware_stack())


def create_app(settings: ApiSettings, registry: CollectorRegistry | None = None) -> FastAPI:
    """The app; `registry` defaults to a fresh one with the process metrics."""
    if registry is None:
        registry = process_registry()
    metrics = ApiMetrics(registry)
    runtime = Runtime(settings, metrics)
    clock = settings.now.clock()  # once: a clock started at a set instant runs from its creation
    plan = export_plan(settings)

    app = ApiApp(title="onestop-live API", version="1", description=DESCRIPTION,
                 lifespan=lifespan_of(runtime), docs_url=None, redoc_url=None)
    admin_limiter = RateLimiter(settings.admin_rate_per_s, settings.admin_rate_burst)
    app.state.api = ApiContext(settings, runtime, metrics, admin_limiter, clock, plan)
    for module in (units, agencies, daily, filings, scores, trends, reporting, rankings, stream, admin,
                   allocation, ops):
        app.include_router(module.router)
    install_dashboard(app)
    install_docs(app)
    install_error_handlers(app)
    # Innermost, so that its refusals (413, 408, 499) are counted and carry the security headers.
    install_body_guard(app, settings.max_body_bytes, settings.body_timeout_s)
    app.add_middleware(RequestObserver, metrics=metrics)
    if settings.cors_origins:
        # Reading only: no credentials, no writes; Last-Event-ID lets an EventSource resume.
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET"],
                           allow_headers=["Last-Event-ID"], allow_credentials=False, max_age=600)
    app.add_middleware(SecurityGuard, no_store_prefixes=("/v1/admin",))
    return app

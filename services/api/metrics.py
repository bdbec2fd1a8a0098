"""The API's own Prometheus metrics: requests, view progress and stream clients, on a registry the caller
owns. The figures on /metrics are figure_metrics.py's."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Seconds: reads answer from memory in well under a millisecond; a subtree rollup of a country or a
# metrics scrape takes longer.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        r = registry
        self.requests = Counter("api_requests_total", "HTTP requests by route template and status.",
                                ["method", "route", "status"], registry=r)
        self.request_seconds = Histogram("api_request_duration_seconds", "Time to the response's headers.",
                                         ["route"], buckets=LATENCY_BUCKETS, registry=r)
        # Gauges read from the mirrors at scrape time (set_function), hence not Counters.
        self.records_consumed = Gauge("api_view_records_consumed",
                                      "Records read from each topic since start.", ["topic"], registry=r)
        self.records_rejected = Gauge("api_view_records_rejected",
                                      "Records skipped as unreadable since start.", ["topic"], registry=r)
        self.lag = Gauge("api_view_lag_records", "Records on Kafka not yet in the view, by topic.",
                         ["topic"], registry=r)
        self.ready = Gauge("api_view_ready", "1 once the view has caught up with Kafka at start-up.",
                           registry=r)
        self.units = Gauge("api_view_units", "Units with figures in the view.", registry=r)
        self.stream_clients = Gauge("api_stream_clients", "Open server-sent-event streams.", registry=r)
        self.stream_clients_dropped = Counter(
            "api_stream_clients_dropped", "Streams disconnected because the client read nothing for "
            "API_STREAM_WRITE_TIMEOUT_S.", registry=r)


class RequestObserver:
    """ASGI middleware counting and timing every HTTP request by its route template (bounded labels)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = "500"

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
                # Headers out: a stream's duration would only measure how long the client stayed.
                self.metrics.request_seconds.labels(_route(scope)).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            self.metrics.requests.labels(scope["method"], _route(scope), status).inc()


def _route(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"

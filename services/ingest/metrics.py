"""The ingest service's Prometheus metrics, on a registry the caller owns (a fresh one per test)."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Seconds. Single events commit in milliseconds; a 10,000-event batch or a Kafka outage takes seconds
# (the produce timeout, 10 s by default, is the top of the useful range).
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0)
BATCH_BUCKETS = (1, 10, 100, 1_000, 5_000, 10_000)
GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.events_accepted = Counter(
            "ingest_events_accepted_total", "Events written to Kafka and acknowledged to the sender.",
            registry=registry)
        self.events_rejected = Counter(
            "ingest_events_rejected_total",
            "Events refused by validation; reason is the first failing rule (JSON Schema keyword, or bounds: "
            "an instant out of the contract's bounds).",
            ["reason"], registry=registry)
        self.requests = Counter(
            "ingest_requests_total", "Requests to the intake routes (/v1/events, the sync's /dvcqg/...) by "
            "route and HTTP status.", ["route", "status"], registry=registry)
        self.rate_limited = Counter(
            "ingest_rate_limited_total", "Requests answered 429: their key was over its rate.",
            registry=registry)
        self.request_seconds = Histogram(
            "ingest_request_duration_seconds", "Intake request time from first byte to answer, by route and "
            "HTTP status.", ["route", "status"], buckets=LATENCY_BUCKETS, registry=registry)
        self.request_events = Histogram(
            "ingest_request_events", "Events per well-formed request.", buckets=BATCH_BUCKETS,
            registry=registry)
        self.kafka_seconds = Histogram(
            "ingest_kafka_transaction_duration_seconds",
            "Time to write one request's events in a Kafka transaction, waiting for it to start included.",
            buckets=LATENCY_BUCKETS, registry=registry)
        self.transaction_requests = Histogram(
            "ingest_kafka_transaction_requests", "Requests written together in one Kafka transaction (those "
            "that arrive while one is in flight go together in the next).", buckets=GROUP_BUCKETS,
            registry=registry)
        self.kafka_failures = Counter(
            "ingest_kafka_failures_total",
            "Requests answered 503 because Kafka failed: timeout, error, or unavailable (no producer).",
            ["reason"], registry=registry)
        self.producer_restarts = Counter(
            "ingest_kafka_producer_restarts_total",
            "Transactional producers discarded after a failure and created again.", registry=registry)
        self.producers = Gauge(
            "ingest_kafka_producers", "Transactional producers in the pool by state.", ["state"],
            registry=registry)

    def watch_producers(self, states: Callable[[], Mapping[str, int]], names: tuple[str, ...]) -> None:
        """Read the pool's state at scrape time rather than updating a gauge on every change."""
        def reader(name: str) -> Callable[[], float]:
            return lambda: states()[name]

        for name in names:
            self.producers.labels(name).set_function(reader(name))


class RequestObserver:
    """ASGI middleware timing and counting the requests to the given paths, whatever their outcome,
    labelled by the path (exact paths only: a bounded label)."""

    def __init__(self, app: ASGIApp, metrics: IngestMetrics, paths: Collection[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if scope["type"] != "http" or path not in self.paths:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = "500"  # if the app raises before answering, the server answers 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            self.metrics.requests.labels(path, status).inc()
            self.metrics.request_seconds.labels(path, status).observe(time.perf_counter() - started)

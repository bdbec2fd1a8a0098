"""For operators and orchestrators: liveness, readiness (Kafka reachable, the agency codes read) and
Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.ingest.deps import Context
from services.ingest.errors import json_response

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> Response:
    """The process is alive."""
    return json_response(200, {"status": "ok"})


@router.get("/readyz")
async def readyz(context: Context) -> Response:
    """Ready when a producer is connected to Kafka and the sync's agency codes (the unit-agencies
    topic) have been read to the end they had at start: before that a sync call would answer 503."""
    kafka = await context.writer.check()
    agencies = context.sync.agencies.ready
    checks = {"kafka": kafka, "agency_codes": agencies}
    if kafka and agencies:
        return json_response(200, {"status": "ready", "checks": checks})
    reasons = [r for ok, r in ((kafka, "no connection to Kafka"),
                               (agencies, "the agency codes (unit-agencies topic) not read yet")) if not ok]
    return json_response(503, {"status": "not_ready", "reason": "; ".join(reasons), "checks": checks},
                         {"Retry-After": str(context.settings.retry_after_s)})


@router.get("/metrics")
async def metrics(context: Context) -> Response:
    """Prometheus text exposition."""
    return Response(generate_latest(context.metrics.registry), media_type=CONTENT_TYPE_LATEST)

"""For operators and orchestrators: liveness, readiness (Kafka reachable) and Prometheus metrics."""

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
    """Ready when a producer is connected to Kafka."""
    if await context.writer.check():
        return json_response(200, {"status": "ready"})
    return json_response(503, {"status": "not_ready", "reason": "no connection to Kafka"},
                         {"Retry-After": str(context.settings.retry_after_s)})


@router.get("/metrics")
async def metrics(context: Context) -> Response:
    """Prometheus text exposition."""
    return Response(generate_latest(context.metrics.registry), media_type=CONTENT_TYPE_LATEST)

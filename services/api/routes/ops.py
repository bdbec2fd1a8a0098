"""For operators and orchestrators: liveness, readiness (view caught up) and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.api.deps import Context
from services.api.errors import json_response
from services.api.figure_metrics import render_figures, render_targets, rollup_units, target_rows, unit_rows
from services.api.models import Status
from services.api.queries import hcm_today

router = APIRouter(tags=["ops"])


@router.get("/healthz", summary="Liveness", response_model=Status)
async def healthz() -> Response:
    """The process is alive."""
    return json_response(200, {"status": "ok"})


@router.get("/readyz", summary="Readiness", response_model=Status,
            responses={503: {"description": "Still reading the figures, registry or targets from Kafka."}})
async def readyz(context: Context) -> Response:
    """Ready once the view has caught up with the topics' end offsets seen at start-up."""
    runtime = context.runtime
    if runtime.ready.is_set():
        return json_response(200, {"status": "ready"})
    lag = {m.topic: m.lag() for m in runtime.mirrors}
    return json_response(503, {"status": "not_ready", "reason": "catching up with Kafka", "lag": lag},
                         {"Retry-After": "1"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(context: Context) -> Response:
    """Per-unit figures (onestop_unit_*), subtree figures (onestop_rollup_*), units' standing against
    their targets and the service's own metrics, in the text exposition format (docs/operations.md says
    which series)."""
    runtime, plan = context.runtime, context.export
    # What the live state says, taken on the event loop; the text is written in a thread (tens of
    # milliseconds at country scale), so that the loop keeps answering meanwhile.
    rows = unit_rows(runtime.view.records, runtime.tree)
    rollups = [(code, unit.level, runtime.rollups.get(code, plan.periods)["periods"])
               for code in rollup_units(runtime.tree, plan) if (unit := runtime.tree.get(code))]
    targets = target_rows(runtime.state, plan.target_periods, hcm_today(context.clock), runtime.rollups.get)
    own = generate_latest(context.metrics.registry)
    text = await asyncio.to_thread(lambda: render_figures(rows, plan, rollups) + render_targets(targets))
    return Response(own + text, media_type=CONTENT_TYPE_LATEST)

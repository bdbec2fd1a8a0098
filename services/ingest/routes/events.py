"""POST /v1/events: validate a batch and write its valid events to Kafka in one transaction."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response

from services.ingest.body import media_type_of
from services.ingest.deps import Context, WriterKey
from services.ingest.errors import IngestError, json_response
from services.ingest.intake import Batch, OutOfScope, examine
from services.ingest.parsing import MalformedBody, TooManyEvents
from services.ingest.producer import KafkaUnavailable

router = APIRouter(prefix="/v1", tags=["events"])

# Validation costs ~0.1 ms per event; above this size a body is examined in a worker thread so a
# 10,000-event batch does not stall the event loop (and every other request) for a second.
THREAD_ABOVE_BYTES = 64 * 1024


# Documents the body for /docs: it is read raw (three framings, size-limited), not as a model.
OPENAPI = {
    "requestBody": {"required": True, "content": {
        "application/json": {"schema": {"description": "one event, or an array of events",
                                        "oneOf": [{"type": "object"},
                                                  {"type": "array", "items": {"type": "object"}}]}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "one event per line"}}}},
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "At least one event accepted; Kafka has committed every accepted event."},
    400: {"description": "Malformed JSON (NDJSON: the line is named) or an empty batch."},
    401: {"description": "No key, or a wrong one."},
    403: {"description": "An event is for a unit outside the key's units; nothing written."},
    408: {"description": "The body did not arrive within the body deadline; nothing written."},
    413: {"description": "Body over the size limit, or too many events."},
    415: {"description": "Not application/json or application/x-ndjson (UTF-8, uncompressed)."},
    422: {"description": "No event valid; each error names the field."},
    429: {"description": "Over the key's rate limit; retry after Retry-After seconds."},
    503: {"description": "Kafka unavailable; nothing half-written. Retry after Retry-After seconds."},
}


@router.post("/events", status_code=202, openapi_extra=OPENAPI, responses=RESPONSES)
async def post_events(request: Request, key: WriterKey, context: Context) -> Response:
    """Take one event, a JSON array or NDJSON; 202 once Kafka has every accepted event."""
    settings = context.settings
    media_type = media_type_of(request)
    body = await request.body()  # capped and timed by the app's BodyGuard
    now_us = round(settings.now.clock()() * 1_000_000)
    args = (body, media_type, key, context.validator, settings.max_events, settings.max_event_bytes, now_us)
    try:
        if len(body) > THREAD_ABOVE_BYTES:
            batch = await asyncio.to_thread(examine, *args)
        else:
            batch = examine(*args)
    except MalformedBody as exc:
        raise IngestError(400, "malformed", str(exc)) from None
    except TooManyEvents as exc:
        raise IngestError(413, "too_many_events", str(exc)) from None
    except OutOfScope as exc:
        raise IngestError(403, "forbidden_unit", str(exc), index=exc.index, unit_code=exc.unit_code) from None

    context.metrics.request_events.observe(len(batch.results))
    if batch.records:
        try:
            await context.writer.write(batch.records)
        except KafkaUnavailable as exc:
            retry_after = str(settings.retry_after_s)
            raise IngestError(503, "kafka_unavailable", f"{exc}; nothing was accepted, retry later",
                              headers={"Retry-After": retry_after}) from None
    _count(context, batch)
    return json_response(202 if batch.accepted else 422, batch.answer())


def _count(context: Context, batch: Batch) -> None:
    metrics = context.metrics
    metrics.events_accepted.inc(batch.accepted)
    for reason in batch.rejected_reasons:
        metrics.events_rejected.labels(reason).inc()

"""GET /v1/stream: server-sent events of changed figures, filtered by subtree, resumable by event id."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Iterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from services.api.changes import Change
from services.api.deps import Context
from services.api.errors import not_found
from services.api.metrics import ApiMetrics
from services.api.models import Error
from services.api.runtime import Runtime
from services.api.sse import EventStreamResponse, pieces

router = APIRouter(prefix="/v1", tags=["stream"])

RETRY_MS = 2000  # how soon a browser's EventSource reconnects after the connection drops
EXAMPLE = ('retry: 2000\n\nid: 18c2f0a1b2c-42\nevent: figures\n'
           'data: {"unit_code":"26734","as_of":"2026-11-23T14:05:00.123+07:00","day":"2026-11-23",'
           '"periods":{"today":{"received_total":12,"...":0}}}\n\n: heartbeat\n\n')


@router.get("/stream", summary="Live changes of figures (server-sent events)",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"example": EXAMPLE}},
                             "description": "`figures` events (a unit's whole new record), `removed` events, "
                                            "and a `reset` event before a fresh snapshot when a resume is "
                                            "impossible; a comment line as heartbeat."},
                       404: {"model": Error, "description": "No such unit."}})
async def stream(
    context: Context,
    unit: Annotated[str | None, Query(description="only changes in the subtree at this unit",
                                      examples=["31"])] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID",
                                                description="resume after this event",
                                                examples=["18c2f0a1b2c-42"])] = None,
) -> StreamingResponse:
    """At most one event per unit per 500 ms; reconnect with Last-Event-ID to get what was missed."""
    runtime = context.runtime
    if unit is not None and unit not in runtime.tree and unit not in runtime.view.records:
        raise not_found(unit)
    settings, metrics = context.settings, context.metrics
    events = _events(runtime, metrics, unit, last_event_id, settings.stream_heartbeat_s,
                     settings.stream_piece_bytes)
    # no-cache and no proxy buffering: each event must reach the client as it happens.
    return EventStreamResponse(events, settings.stream_write_timeout_s, metrics.stream_clients_dropped.inc,
                               media_type="text/event-stream",
                               headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _events(runtime: Runtime, metrics: ApiMetrics, unit: str | None, last_event_id: str | None,
                  heartbeat_s: float, piece_bytes: int) -> AsyncGenerator[bytes, None]:
    """The stream's bytes in pieces of at most `piece_bytes`, each made only when the last was taken
    (services/api/sse.py): a replay or snapshot is never held whole."""
    feed = runtime.feed
    metrics.stream_clients.inc()
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        seq = feed.seq
        if last_event_id is not None:
            resumed = feed.parse_id(last_event_id)
            missed = feed.since(resumed) if resumed is not None else None
            frames = (_snapshot(runtime, unit, "cannot resume after that event id") if missed is None
                      else _changes(missed, runtime, unit))
            for piece in pieces(frames, piece_bytes):
                yield piece
        last_write = time.monotonic()
        while True:
            await feed.wait_after(seq, max(0.0, last_write + heartbeat_s - time.monotonic()))
            changes = feed.since(seq)
            if changes is None:  # this client fell behind the ring buffer
                frames = _snapshot(runtime, unit, "fell behind the buffer of recent changes")
                seq = feed.seq
            else:
                frames = _changes(changes, runtime, unit)
                seq = changes[-1].seq if changes else seq
            for piece in pieces(frames, piece_bytes):
                yield piece
                last_write = time.monotonic()
            if time.monotonic() - last_write >= heartbeat_s:
                yield b": heartbeat\n\n"
                last_write = time.monotonic()
    finally:
        metrics.stream_clients.dec()


def _changes(changes: list[Change], runtime: Runtime, unit: str | None) -> Iterator[bytes]:
    return (_event(c, runtime, unit) for c in changes)


def _event(change: Change, runtime: Runtime, unit: str | None) -> bytes:
    if unit is not None and not runtime.tree.is_within(change.unit_code, unit):
        return b""
    if change.frame is None:  # the first stream to send it: the others reuse the bytes
        event_id = runtime.feed.event_id(change.seq)
        change.frame = (_frame(event_id, "removed", {"unit_code": change.unit_code}) if change.record is None
                        else _frame(event_id, "figures", {"unit_code": change.unit_code, **change.record}))
    return change.frame


def _snapshot(runtime: Runtime, unit: str | None, reason: str) -> Iterator[bytes]:
    """A `reset`, then the current figures of every unit in scope: enough to start over from. Each
    record is read as its frame is made; all carry the id of the snapshot's start, so a later change
    of a unit is sent again, never missed."""
    feed = runtime.feed
    event_id = feed.event_id(feed.seq)
    records = runtime.view.records
    codes = runtime.tree.subtree(unit) if unit is not None else sorted(records)
    yield _frame(event_id, "reset", {"reason": reason})
    for code in codes:
        if (record := records.get(code)) is not None:
            yield _frame(event_id, "figures", {"unit_code": code, **record})


def _frame(event_id: str, event: str, data: dict[str, Any]) -> bytes:
    # orjson never writes a raw newline inside JSON, so one data line carries the whole payload.
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (event_id.encode(), event.encode(), orjson.dumps(data))

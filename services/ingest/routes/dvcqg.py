"""The national portal's sync, accepted unchanged: login, and the dossier and progress calls.

A province's sync client keeps its payloads and changes only its adapter address and credentials
(docs/integration.md): `POST /dvcqg/login` with `{"username", "password"}` gives a `session`;
`POST /dvcqg/sync` takes the envelope, whose `service` names the call; `POST /dvcqg/DongBoHoSoMC`
and `/dvcqg/CapNhatTienDoHoSoMC` take the envelope or the bare list some gateways send
(`?MaDinhDanhDV=<agency>&isUpdating=True`). Every answer is in the format's own shape,
`{"error_code", "message", ...}`; a call refused as a whole also has its HTTP status.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response

from services.common.http_errors import ServiceError, json_response
from services.common.rate_limit import retry_after
from services.common.request_body import BodyRefused
from services.ingest.deps import Context, presented_key
from services.ingest.dvcqg import values
from services.ingest.dvcqg.intake import (
    DOSSIERS,
    STEPS,
    Intake,
    MalformedCall,
    SyncBatch,
    examine_call,
    parse_call,
)
from services.ingest.keys import ApiKey
from services.ingest.producer import KafkaUnavailable
from services.ingest.routes.events import THREAD_ABOVE_BYTES

router = APIRouter(prefix="/dvcqg", tags=["national portal sync"])

ENVELOPE = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "description": 'the envelope {"session", "madonvi", "service", "isUpdating", "data": [...]}, or '
                   "the bare list of dossiers or steps", "oneOf": [{"type": "object"}, {"type": "array"}]}}}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": 'Every item answered in `data`; `error_code` "00" when all were taken, "-1" '
                         "when some were refused (each names its field)."},
    400: {"description": "Not JSON, not an envelope or a list, or an unknown service."},
    401: {"description": "No session or key, an expired session, or a wrong one."},
    413: {"description": "Body over the size limit, or too many items."},
    415: {"description": "A compressed body."},
    429: {"description": "Over the key's rate limit; retry after Retry-After seconds."},
    503: {"description": "Kafka, or the agency codes, not available yet; nothing written. Retry."},
}


class SyncError(ServiceError):
    """A sync call refused as a whole: answered `{"error_code": "<HTTP status>", "message"}`."""


async def _on_sync_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, SyncError)
    return json_response(exc.status, {"error_code": str(exc.status), "message": exc.message, **exc.extra},
                         exc.headers)


def install_sync_errors(app: FastAPI) -> None:
    app.add_exception_handler(SyncError, _on_sync_error)


# A body refused by the app's BodyGuard (request_body.py), in Vietnamese first as the sync's answers are.
BODY_REFUSALS = {413: "Dữ liệu gửi quá lớn", 408: "Gửi dữ liệu quá chậm", 499: "Máy khách đã đóng kết nối"}


def body_refused(exc: BodyRefused) -> Response:
    """The guard's refusal (over the size limit, too slow, abandoned) in the format's shape; the
    guard's bound itself is unchanged (a declared length over it is refused before the route runs)."""
    vietnamese = BODY_REFUSALS.get(exc.status_code)
    message = f"{vietnamese} ({exc.message})" if vietnamese else exc.message
    return json_response(exc.status_code, {"error_code": str(exc.status_code), "message": message})


@router.post("/login", responses={401: RESPONSES[401], 429: RESPONSES[429]},
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                 "type": "object", "properties": {"username": {"type": "string"},
                                                  "password": {"type": "string"}}}}}}})
async def login(request: Request, context: Context) -> Response:
    """A session for a writer key: username = the key id, password = its secret (or the whole key)."""
    sync = context.sync
    body = await _body(request)
    try:
        raw = orjson.loads(body)
        username = values.code(raw.get("username")) if isinstance(raw, dict) else None
        password = values.code(raw.get("password")) if isinstance(raw, dict) else None
    except (orjson.JSONDecodeError, values.Unreadable):
        username = password = None
    found = sync.sessions.login(context.keys.current(), username, password) if username and password else None
    if found is None:
        sync.metrics.logins.labels("refused").inc()
        raise SyncError(401, "unauthorized", "Sai tên đăng nhập hoặc mật khẩu (wrong username or password)")
    key, session = found
    _spend(context, key)
    sync.metrics.logins.labels("ok").inc()
    return json_response(200, {"error_code": 0, "message": "Thành công (success)", "session": session,
                               "expires_in": sync.sessions.ttl_s})


@router.post("/sync", openapi_extra=ENVELOPE, responses=RESPONSES)
async def sync_call(request: Request, context: Context) -> Response:
    """The envelope; its `service` (DongBoHoSoMC or CapNhatTienDoHoSoMC) names the call."""
    return await _sync(request, context, None)


@router.post("/DongBoHoSoMC", openapi_extra=ENVELOPE, responses=RESPONSES)
async def dossiers(request: Request, context: Context) -> Response:
    """Dossier states: the envelope, or the bare list with `?MaDinhDanhDV=<agency code>`."""
    return await _sync(request, context, DOSSIERS)


@router.post("/CapNhatTienDoHoSoMC", openapi_extra=ENVELOPE, responses=RESPONSES)
async def steps(request: Request, context: Context) -> Response:
    """Progress steps: checked and acknowledged; the figures read the dossier states."""
    return await _sync(request, context, STEPS)


async def _sync(request: Request, context: Context, path_service: str | None) -> Response:
    settings = context.settings
    sync = context.sync
    # A key or session outside the body is checked before a byte of the body is read.
    key = _outside_credential(request, context)
    body = await _body(request)
    query = request.query_params
    agency = query.get("MaDinhDanhDV") or query.get("madonvi")
    try:
        call = parse_call(body, path_service, agency.strip() if agency else None, settings.sync_max_items)
    except MalformedCall as exc:
        raise SyncError(exc.status, "malformed", str(exc)) from None
    if key is None:
        key = sync.sessions.check(context.keys.current(), call.session) if call.session else None
        if key is None:
            raise _unauthorized()
        _spend(context, key)
    if not sync.agencies.ready:
        raise SyncError(503, "not_ready", "Chưa đọc xong danh mục mã đơn vị (the agency codes are still "
                        "being read); thử lại (retry)", headers={"Retry-After": str(settings.retry_after_s)})
    intake = Intake(key, sync.agencies.book, context.validator, settings.max_event_bytes,
                    round(settings.now.clock()() * 1_000_000))
    if len(body) > THREAD_ABOVE_BYTES:
        batch = await asyncio.to_thread(examine_call, call, intake)
    else:
        batch = examine_call(call, intake)
    if batch.records:
        try:
            await context.writer.write(batch.records)
        except KafkaUnavailable as exc:
            raise SyncError(503, "kafka_unavailable", f"{exc}; không mục nào được ghi (nothing was written), "
                            "thử lại (retry)", headers={"Retry-After": str(settings.retry_after_s)}) from None
    _count(context, call.service, key, batch)
    return json_response(200, batch.answer())


def _outside_credential(request: Request, context: Context) -> ApiKey | None:
    """A writer key in the headers, or a session in the query string; None when neither is sent."""
    store = context.keys.current()
    token = presented_key(request)
    session = request.query_params.get("session")
    if token is None and not session:
        return None
    key = store.authenticate(token) if token else context.sync.sessions.check(store, session or "")
    if key is None:
        raise _unauthorized()
    _spend(context, key)
    return key


def _unauthorized() -> SyncError:
    return SyncError(401, "unauthorized", "Phiên làm việc không hợp lệ hoặc đã hết hạn; đăng nhập lại "
                     "(no valid session: log in again at /dvcqg/login)",
                     headers={"WWW-Authenticate": "Bearer"})


def _spend(context: Context, key: ApiKey) -> None:
    """The key's rate, shared with /v1/events: one flood guard per sender, whatever it calls."""
    wait = context.limiter.take(key.key_id)
    if wait > 0:
        context.metrics.rate_limited.inc()
        raise SyncError(429, "rate_limited", f"quá {context.settings.rate_per_key_per_s:g} yêu cầu mỗi giây "
                        "(over the key's rate); gửi ít lần hơn, mỗi lần nhiều mục hơn "
                        "(send fewer, larger calls)",
                        headers={"Retry-After": retry_after(wait)})


async def _body(request: Request) -> bytes:
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise SyncError(415, "unsupported_media_type",
                        "không nhận thân nén (compressed bodies are not accepted)")
    # Capped and timed by the app's BodyGuard, whose refusals are answered by `body_refused`.
    return await request.body()


def _count(context: Context, service: str, key: ApiKey, batch: SyncBatch) -> None:
    metrics = context.sync.metrics
    context.metrics.events_accepted.inc(len(batch.records))
    metrics.items.labels(service, "taken").inc(batch.taken - batch.not_received)
    metrics.items.labels(service, "not_received").inc(batch.not_received)
    metrics.items.labels(service, "refused").inc(batch.refused)
    if batch.unmapped:
        metrics.unmapped.labels(key.key_id).inc(batch.unmapped)

"""What every response of the HTTP services carries, and what none may: one ASGI middleware.

- A request id: the caller's `X-Request-ID` when it is a short plain token, else a fresh one; echoed
  in the response header and in the log line of any failure, so a report can be matched to the log.
- Security headers: `nosniff`, no framing, no referrer; a `default-src 'none'` CSP on everything but
  HTML (a page sets its own); `Cache-Control: no-store` under the given path prefixes (admin and
  intake answers must not sit in a shared cache). A header the route set itself is left alone.
- An unhandled error becomes a generic 500 `{"error": "internal", "message": ..., "request_id": ...}`:
  the exception and its stack trace go to the log only.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

BASE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
# JSON, CSV, metrics text: nothing in them is to be run, loaded or framed by a browser.
DATA_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
NO_STORE = (b"cache-control", b"no-store")


class SecurityGuard:
    """ASGI middleware: request id, security headers, and no internals in a 500."""

    def __init__(self, app: ASGIApp, no_store_prefixes: Iterable[str] = ()) -> None:
        self.app = app
        self.no_store_prefixes = tuple(no_store_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        no_store = scope["path"].startswith(self.no_store_prefixes) if self.no_store_prefixes else False
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = _with_headers(list(message.get("headers", [])), request_id, no_store)
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        except Exception:
            log.exception("unhandled error on %s %s (request id %s)", scope["method"], scope["path"],
                          request_id)
            if started:
                raise  # half a response is out: only closing the connection is left
            body = orjson.dumps({"error": "internal", "message": "internal error; quote the request id "
                                 "when reporting it", "request_id": request_id})
            await guarded_send({"type": "http.response.start", "status": 500, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            presented = value.decode("latin-1")
            if _ACCEPTABLE_ID.fullmatch(presented):
                return presented
            break
    return uuid.uuid4().hex


def _with_headers(headers: list[tuple[bytes, bytes]], request_id: str,
                  no_store: bool) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
    wanted = [*BASE_HEADERS, (REQUEST_ID_HEADER.encode(), request_id.encode())]
    if not content_type.startswith(b"text/html"):
        wanted.append(DATA_CSP)
    if no_store:
        wanted.append(NO_STORE)
    return headers + [(name, value) for name, value in wanted if name not in present]

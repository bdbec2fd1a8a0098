"""One shape for every refusal, `{"error": code, "message": text, ...}`, and never a stack trace.

Shared by the HTTP services: each raises its own subclass of `ServiceError`. An unexpected exception
is answered by `http_security.SecurityGuard`: a generic 500 naming the request id, the detail logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount

# The methods a 405 looks for other routes of the path with.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


ECHO_CHARS = 100  # of a client's own value quoted back in an answer


def bounded(value: str) -> str:
    """A client's value as an answer may quote it: cut to ECHO_CHARS, so that no answer grows with
    what was sent (a 5,000-character unit code is not sent back)."""
    return value if len(value) <= ECHO_CHARS else value[:ECHO_CHARS] + "…"


class ServiceError(Exception):
    """A request refused as a whole, with its HTTP status."""

    def __init__(self, status: int, code: str, message: str, *,
                 headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extra = extra


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers,
                    media_type="application/json")


def error_response(exc: ServiceError) -> Response:
    return json_response(exc.status, {"error": exc.code, "message": exc.message, **exc.extra}, exc.headers)


async def _on_service_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return error_response(exc)


async def _on_http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return json_response(exc.status_code, {"error": code, "message": str(exc.detail)},
                         getattr(exc, "headers", None))


async def _on_method_not_allowed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    allowed = ", ".join(allowed_methods(request, exc))
    return json_response(405, {"error": "method_not_allowed",
                               "message": f"{request.method} is not allowed here; allowed: {allowed}"},
                         {"Allow": allowed})


def allowed_methods(request: Request, exc: HTTPException) -> list[str]:
    """Every method the path takes, which a 405 must name (RFC 9110, 15.5.6).

    The raiser's own `Allow` names only its route's (Starlette's router stops at the first route of
    the path; static files name theirs), so each other method is tried against every route too.
    Mounts are left out of that: they match a path whatever the method, and name theirs when they
    refuse one."""
    named = (exc.headers or {}).get("Allow", "")
    allowed = {m.strip() for m in named.split(",") if m.strip()}
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    for method in METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in routes):
            allowed.add(method)
    return sorted(allowed)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _on_service_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(405, _on_method_not_allowed)

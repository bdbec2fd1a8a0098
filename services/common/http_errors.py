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


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _on_service_error)
    app.add_exception_handler(HTTPException, _on_http_error)

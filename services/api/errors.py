"""One shape for every refusal, `{"error": code, "message": text, ...}`, and never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *,
                 headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extra = extra


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")


def not_found(code: str) -> ApiError:
    return ApiError(404, "unknown_unit", f"no unit {code!r}", unit_code=code)


async def _on_api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_response(exc.status, {"error": exc.code, "message": exc.message, **exc.extra}, exc.headers)


async def _on_invalid(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Name the parameter (`figure`, `period`, or a body field) rather than FastAPI's location tuple.
    errors = [{"parameter": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "reason": e["msg"]}
              for e in exc.errors()]
    message = "; ".join(f"{e['parameter']}: {e['reason']}" for e in errors)
    return json_response(422, {"error": "invalid_parameter", "message": message, "errors": errors})


async def _on_http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return json_response(exc.status_code, {"error": code, "message": str(exc.detail)},
                         getattr(exc, "headers", None))


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    # A bug, not a client's fault: log it whole, answer without internals.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_response(500, {"error": "internal", "message": "internal error"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_invalid)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)

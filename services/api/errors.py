"""The API's refusals: the shared error shape of services/common/http_errors.py, plus naming the
offending query parameter on a validation error."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError

from services.common import http_errors
from services.common.http_errors import ServiceError, bounded, json_response


class ApiError(ServiceError):
    """A request refused as a whole, with its HTTP status."""


def not_found(code: str) -> ApiError:
    code = bounded(code)
    return ApiError(404, "unknown_unit", f"no unit {code!r}", unit_code=code)


def _named(error: dict[str, Any]) -> dict[str, str]:
    """A validation error as the parameter it names (`figure`, `period`, or a body field) rather than
    FastAPI's location tuple, and why. A body that is no JSON is named `body`: its location's second
    part is then the character where decoding stopped, not a field."""
    location = error["loc"]
    if error.get("type") == "json_invalid":
        detail = error.get("ctx", {}).get("error", "")
        where = f" at character {location[1]}" if len(location) > 1 else ""
        return {"parameter": "body", "reason": f"not JSON{where}" + (f": {detail}" if detail else "")}
    return {"parameter": ".".join(str(p) for p in location[1:]) or str(location[0]), "reason": error["msg"]}


async def _on_invalid(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [_named(e) for e in exc.errors()]
    message = "; ".join(f"{e['parameter']}: {e['reason']}" for e in errors)
    return json_response(422, {"error": "invalid_parameter", "message": message, "errors": errors})


def install_error_handlers(app: FastAPI) -> None:
    http_errors.install_error_handlers(app)
    app.add_exception_handler(RequestValidationError, _on_invalid)


__all__ = ["ApiError", "install_error_handlers", "json_response", "not_found"]

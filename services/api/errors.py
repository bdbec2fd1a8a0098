"""The API's refusals: the shared error shape of services/common/http_errors.py, plus naming the
offending query parameter on a validation error."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError

from services.common import http_errors
from services.common.http_errors import ServiceError, bounded, json_response


class ApiError(ServiceError):
    """A request refused as a whole, with its HTTP status."""


def not_found(code: str) -> ApiError:
    code = bounded(code)
    return ApiError(404, "unknown_unit", f"no unit {code!r}", unit_code=code)


async def _on_invalid(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Name the parameter (`figure`, `period`, or a body field) rather than FastAPI's location tuple.
    errors = [{"parameter": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "reason": e["msg"]}
              for e in exc.errors()]
    message = "; ".join(f"{e['parameter']}: {e['reason']}" for e in errors)
    return json_response(422, {"error": "invalid_parameter", "message": message, "errors": errors})


def install_error_handlers(app: FastAPI) -> None:
    http_errors.install_error_handlers(app)
    app.add_exception_handler(RequestValidationError, _on_invalid)


__all__ = ["ApiError", "install_error_handlers", "json_response", "not_found"]

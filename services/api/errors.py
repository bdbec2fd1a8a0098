"""The API's refusals: the shared error shape of services/common/http_errors.py, plus naming the
offending query parameter on a validation error."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.routing import Match

from services.common import http_errors
from services.common.http_errors import ServiceError, json_response


class ApiError(ServiceError):
    """A request refused as a whole, with its HTTP status."""


def not_found(code: str) -> ApiError:
    return ApiError(404, "unknown_unit", f"no unit {code!r}", unit_code=code)


async def _on_invalid(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Name the parameter (`figure`, `period`, or a body field) rather than FastAPI's location tuple.
    errors = [{"parameter": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "reason": e["msg"]}
              for e in exc.errors()]
    message = "; ".join(f"{e['parameter']}: {e['reason']}" for e in errors)
    return json_response(422, {"error": "invalid_parameter", "message": message, "errors": errors})


async def _on_method_not_allowed(request: Request, _: Exception) -> Response:
    # Starlette's Allow names only the first route of the path; a path with PUT and DELETE routes must
    # name both (RFC 9110, 15.5.6), so collect the methods of every route the path matches.
    allowed: set[str] = set()
    for route in request.app.router.routes:
        match, _child = route.matches(request.scope)
        if match != Match.NONE:
            allowed |= getattr(route, "methods", None) or set()
    message = f"{request.method} is not allowed here; allowed: {', '.join(sorted(allowed))}"
    return json_response(405, {"error": "method_not_allowed", "message": message},
                         {"Allow": ", ".join(sorted(allowed))})


def install_error_handlers(app: FastAPI) -> None:
    http_errors.install_error_handlers(app)
    app.add_exception_handler(RequestValidationError, _on_invalid)
    app.add_exception_handler(405, _on_method_not_allowed)


__all__ = ["ApiError", "install_error_handlers", "json_response", "not_found"]

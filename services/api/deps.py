"""Dependencies for the routes: the shared context; the admin routes' rate limit and key check."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from services.api.errors import ApiError
from services.api.figure_metrics import ExportPlan
from services.api.metrics import ApiMetrics
from services.api.runtime import Runtime
from services.api.settings import ApiSettings
from services.common.clock import Clock
from services.common.rate_limit import RateLimiter, retry_after


@dataclass(frozen=True)
class ApiContext:
    settings: ApiSettings
    runtime: Runtime
    metrics: ApiMetrics
    admin_limiter: RateLimiter  # admin requests per client address
    clock: Clock  # the calendar's "today" (settings.now)
    export: ExportPlan  # what /metrics carries of the figures


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.api
    return context


Context = Annotated[ApiContext, Depends(get_context)]


def limit_admin(request: Request, context: ApiContext) -> None:
    """429 once a client address is over the admin rate, whatever key it presents."""
    caller = request.client.host if request.client else "unknown"
    wait = context.admin_limiter.take(caller)
    if wait > 0:
        raise ApiError(429, "rate_limited", f"over {context.settings.admin_rate_per_s:g} admin requests "
                       "a second from this address", headers={"Retry-After": retry_after(wait)})


def require_admin(request: Request, context: ApiContext) -> None:
    """401 without a bearer key, 403 with a wrong one (or when no admin key is configured)."""
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthorized", "an admin key is required (Authorization: Bearer <key>)",
                       headers={"WWW-Authenticate": "Bearer"})
    expected = context.settings.admin_key_sha256
    presented = hashlib.sha256(token.encode()).hexdigest()
    # Constant-time, so response timing tells nothing about how much of the digest matched.
    if not expected or not hmac.compare_digest(presented, expected):
        raise ApiError(403, "forbidden", "this key may not change the registry or targets")


class AdminRoute(APIRoute):
    """A route that checks the admin rate limit, then the key, before anything else.

    Not dependencies: FastAPI reads and parses a body parameter before it runs any dependency, so a
    caller without the key could make it read and parse up to the body cap. Here a refused caller
    costs no byte of its body.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            context = get_context(request)
            # The rate first: a key guesser is slowed down before its guess is checked.
            limit_admin(request, context)
            require_admin(request, context)
            return await handler(request)

        return checked

"""Dependencies for the routes: the shared context, and the admin key check."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.api.errors import ApiError
from services.api.metrics import ApiMetrics
from services.api.runtime import Runtime
from services.api.settings import ApiSettings


@dataclass(frozen=True)
class ApiContext:
    settings: ApiSettings
    runtime: Runtime
    metrics: ApiMetrics


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.api
    return context


Context = Annotated[ApiContext, Depends(get_context)]


def require_admin(request: Request, context: Context) -> None:
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


Admin = Depends(require_admin)

"""Dependencies for the routes: the shared context and the caller's API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.common.rate_limit import retry_after
from services.ingest.context import IngestContext
from services.ingest.errors import IngestError
from services.ingest.keys import ApiKey


def get_context(request: Request) -> IngestContext:
    context: IngestContext = request.app.state.ingest
    return context


Context = Annotated[IngestContext, Depends(get_context)]


def presented_key(request: Request) -> str | None:
    """The key from `Authorization: Bearer <key>`, or else from `X-API-Key`."""
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key", "").strip() or None


def require_key(request: Request, context: Context) -> ApiKey:
    token = presented_key(request)
    key = context.keys.current().authenticate(token) if token else None
    if key is None:
        # The same answer for a missing and a wrong key: nothing to learn about which keys exist.
        raise IngestError(401, "unauthorized", "a valid API key is required "
                          "(Authorization: Bearer <key>, or X-API-Key)",
                          headers={"WWW-Authenticate": "Bearer"})
    # Counted per key after authentication: an unknown caller cannot spend a real sender's tokens.
    wait = context.limiter.take(key.key_id)
    if wait > 0:
        context.metrics.rate_limited.inc()
        raise IngestError(429, "rate_limited", f"over {context.settings.rate_per_key_per_s:g} requests "
                          "a second for this key; send fewer, larger batches",
                          headers={"Retry-After": retry_after(wait)})
    return key


WriterKey = Annotated[ApiKey, Depends(require_key)]

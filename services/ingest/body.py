"""Which framing a request body uses (its size and read time are bounded by `request_body.py`)."""

from __future__ import annotations

from fastapi import Request

from services.ingest.errors import IngestError
from services.ingest.parsing import JSON, NDJSON, MediaType

ACCEPTED_TYPES: dict[str, MediaType] = {JSON: JSON, NDJSON: NDJSON}


def media_type_of(request: Request) -> MediaType:
    """The body's framing from Content-Type; anything else is 415."""
    header = request.headers.get("content-type", "")
    media, *params = (part.strip().lower() for part in header.split(";"))
    found = ACCEPTED_TYPES.get(media)
    if found is None:
        raise IngestError(415, "unsupported_media_type",
                          f"Content-Type must be {JSON} or {NDJSON}, not {header[:100] or 'missing'}")
    charset = next((p.partition("=")[2].strip('"') for p in params if p.startswith("charset=")), "utf-8")
    if charset not in ("utf-8", "utf8"):
        raise IngestError(415, "unsupported_media_type", f"the body must be UTF-8, not {charset[:40]}")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise IngestError(415, "unsupported_media_type", "compressed bodies are not accepted")
    return found

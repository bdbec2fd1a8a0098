"""Read a request body within the size limit and tell which framing it uses."""

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


def too_large(max_bytes: int) -> IngestError:
    return IngestError(413, "too_large", f"the body is over {max_bytes} bytes")


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed `max_bytes`."""
    declared = request.headers.get("content-length")
    # Refuse a declared oversize body before reading a byte of it.
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large(max_bytes)
    # Chunked bodies declare nothing, and a declared length is the client's word: count what arrives.
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise too_large(max_bytes)
    return bytes(body)

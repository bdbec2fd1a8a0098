"""Turn a request body into a list of raw events: one JSON object, a JSON array, or NDJSON.

Only the framing is checked here (well-formed JSON, not empty, not too many); what each event
must contain is `validation`'s job, so a non-object element is passed on to be rejected there.
"""

from __future__ import annotations

from typing import Final, Literal

import orjson

MediaType = Literal["application/json", "application/x-ndjson"]
JSON: Final = "application/json"
NDJSON: Final = "application/x-ndjson"


class MalformedBody(ValueError):
    """The body is not well-formed JSON / NDJSON, or holds no event (HTTP 400)."""


class TooManyEvents(ValueError):
    """More events than one request may carry (HTTP 413)."""


def parse_body(body: bytes, media_type: MediaType, max_events: int) -> list[object]:
    events = parse_ndjson(body, max_events) if media_type == NDJSON else parse_json(body)
    if not events:
        raise MalformedBody("empty batch: the body holds no event")
    if len(events) > max_events:
        raise TooManyEvents(f"{len(events)} events in one request; at most {max_events} accepted")
    return events


def parse_json(body: bytes) -> list[object]:
    if not body.strip():
        raise MalformedBody("empty body: send one event object or an array of events")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return value
    raise MalformedBody("the body must be one event (a JSON object) or an array of events")


def parse_ndjson(body: bytes, max_events: int) -> list[object]:
    """One JSON value per line; blank lines are skipped, errors name the 1-based line."""
    events: list[object] = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        if len(events) == max_events:
            # Say so before parsing the rest of a body that will be refused anyway.
            raise TooManyEvents(f"more than {max_events} events in one request")
        try:
            events.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise MalformedBody(f"malformed JSON on line {number} column {exc.colno}: {exc.msg}") from None
    return events

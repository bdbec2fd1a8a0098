"""What one request's events come to, before Kafka: parsed, scope-checked, validated, serialised.

Plain functions over bytes and dicts, so they are tested without HTTP or Kafka, and run in a worker
thread for large bodies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.common.http_errors import bounded
from services.contract.event_bounds import event_bound_errors
from services.contract.event_validation import EventValidator, FieldError, Invalid
from services.ingest.keys import ApiKey
from services.ingest.parsing import MediaType, parse_body
from services.ingest.producer import Record


class OutOfScope(Exception):
    """An event names a unit the key may not write (HTTP 403)."""

    def __init__(self, index: int, unit_code: str) -> None:
        self.index = index
        self.unit_code = bounded(unit_code)
        super().__init__(f"event {index} is for unit {self.unit_code!r}, which this key may not write")


@dataclass
class Batch:
    """Per event, in order, an accepted or rejected result; and the records to write for the accepted."""

    results: list[dict[str, Any]] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    rejected_reasons: list[str] = field(default_factory=list)  # first error's kind, per rejected event

    @property
    def accepted(self) -> int:
        return len(self.records)

    @property
    def rejected(self) -> int:
        return len(self.rejected_reasons)

    def answer(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected, "results": self.results}


def check_scope(events: Sequence[object], key: ApiKey) -> None:
    """Refuse the whole request if any event is for a unit outside the key's units."""
    for index, event in enumerate(events):
        unit = event.get("unit_code") if isinstance(event, dict) else None
        # A missing or non-string unit is not a scope question: validation rejects that event.
        if isinstance(unit, str) and not key.may_write(unit):
            raise OutOfScope(index, unit)


def check_events(events: Sequence[object], validator: EventValidator, max_event_bytes: int,
                 now_us: int, raw_bytes: Sequence[bytes] | None = None) -> Batch:
    """Each event's verdict: the schema's, then the bounds on its instants at `now_us`. Given the bytes
    each event was decoded from (`raw_bytes`, in the same order), the schema's fast check runs on
    those (`EventValidator.validate`: the same verdict, a few times faster)."""
    batch = Batch()
    for index, raw in enumerate(events):
        checked = validator.validate(raw, raw_bytes[index] if raw_bytes is not None else None)
        if isinstance(checked, Invalid):
            _reject(batch, index, checked.errors)
            continue
        event = checked.event
        out_of_bounds = event_bound_errors(event, now_us)
        if out_of_bounds:
            _reject(batch, index, out_of_bounds)
            continue
        try:
            value = orjson.dumps(event)
        except orjson.JSONEncodeError:
            # orjson reads deeper nesting than it writes (1024 vs 255 levels) and refuses >64-bit ints.
            _reject(batch, index, (FieldError("", "cannot be re-encoded: nested too deeply or a number "
                                              "out of range", "unencodable"),))
            continue
        if len(value) > max_event_bytes:
            _reject(batch, index, (FieldError("", f"the event is {len(value)} bytes; at most "
                                              f"{max_event_bytes} accepted", "too_large"),))
            continue
        batch.records.append((event["unit_code"].encode(), value))
        batch.results.append({"index": index, "status": "accepted", "event_id": event["event_id"]})
    return batch


def _reject(batch: Batch, index: int, errors: Sequence[FieldError]) -> None:
    batch.results.append({"index": index, "status": "rejected", "errors": [e.as_dict() for e in errors]})
    batch.rejected_reasons.append(errors[0].kind)


def examine(body: bytes, media_type: MediaType, key: ApiKey, validator: EventValidator,
            max_events: int, max_event_bytes: int, now_us: int) -> Batch:
    """Parse, scope-check and validate one body (raises MalformedBody, TooManyEvents, OutOfScope)."""
    events = parse_body(body, media_type, max_events)
    check_scope(events, key)
    return check_events(events, validator, max_event_bytes, now_us)

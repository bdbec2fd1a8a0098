"""Records that cannot be counted go to the dead-letter topic, with the reason in a header."""

from __future__ import annotations

import orjson
from aiokafka.structs import ConsumerRecord

from services.aggregator.rules import Event, event_to_json

REASON_HEADER = "dlq.reason"
# Present when the value was cut to fit the DLQ: the original length in bytes.
TRUNCATED_HEADER = "dlq.value.truncated"


def dlq_headers(record: ConsumerRecord[bytes, bytes], reason: str) -> list[tuple[str, bytes]]:
    return [
        (REASON_HEADER, reason.encode()),
        ("dlq.source.topic", record.topic.encode()),
        ("dlq.source.partition", str(record.partition).encode()),
        ("dlq.source.offset", str(record.offset).encode()),
    ]


def event_dead_letter(event: Event, reason: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Key, value and headers of the dead letter of an event the engine refused.

    The value is the event in the contract's fields; an event whose instants no timestamp can
    write (past year 9999 in UTC) is written in the engine's own form instead, so that writing the
    dead letter cannot fail in turn.
    """
    try:
        value = orjson.dumps(event_to_json(event))
    except (OverflowError, ValueError):
        value = orjson.dumps({"engine_row": list(event)})
    return event.unit_code.encode(), value, [(REASON_HEADER, reason.encode())]

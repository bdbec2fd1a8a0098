"""Records that cannot be counted go to the dead-letter topic, with the reason in a header."""

from __future__ import annotations

from aiokafka.structs import ConsumerRecord

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

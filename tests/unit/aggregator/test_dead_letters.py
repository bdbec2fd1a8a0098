"""One dead-letter format (services/aggregator/dead_letters.py), whoever refuses the record."""

from __future__ import annotations

import orjson
from aiokafka.structs import ConsumerRecord

from services.aggregator import metrics
from services.aggregator.dead_letters import (
    TRUNCATED_HEADER,
    DeadLetterWriter,
    Source,
    of_event,
    of_record,
)
from services.aggregator.rules import Event, event_from_json
from tests.unit.aggregator.fakes import T0, FakeProducer, event

SOURCE_HEADERS = ("dlq.reason", "dlq.source.topic", "dlq.source.partition", "dlq.source.offset")


def record(value: bytes | None) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("filing-events", 2, 41, 0, 0, b"key", value, None, 3, len(value or b""), [])


def test_a_record_is_dead_lettered_as_it_was_with_its_source() -> None:
    letter = of_record(record(b"{not json"), "not_json", max_bytes=100)
    assert (letter.key, letter.value) == (b"key", b"{not json")
    assert letter.headers == [("dlq.reason", b"not_json"), ("dlq.source.topic", b"filing-events"),
                              ("dlq.source.partition", b"2"), ("dlq.source.offset", b"41")]


def test_an_event_known_only_to_the_engine_is_dead_lettered_in_the_contract_form_with_its_source() -> None:
    compact = event_from_json(event(1, "submitted", "F1", T0))
    letter = of_event(compact, "failed: KeyError: x", Source("filing-events", 2, 41), max_bytes=10_000)
    assert letter.key == b"U1"
    assert event_from_json(orjson.loads(letter.value)) == compact
    assert [name for name, _ in letter.headers] == list(SOURCE_HEADERS)
    assert dict(letter.headers)["dlq.source.offset"] == b"41"


def test_an_event_no_timestamp_can_write_is_dead_lettered_in_the_engine_form() -> None:
    year_11476 = 3 * 10 ** 17
    compact = event_from_json(event(1, "submitted", "F1", T0))._replace(occurred_at=year_11476)
    letter = of_event(compact, "failed: x", Source("filing-events", 0, 1), max_bytes=10_000)
    assert letter.value is not None and letter.value.startswith(b'{"engine_row":')


def test_a_row_not_of_this_versions_layout_is_dead_lettered_as_it_came() -> None:
    """A row packed by another version (an upgrade leaves its packs on the packed topic): no field
    is where this version reads it, and the letter is written all the same."""
    row = tuple.__new__(Event, (1_790_000_000_000_000, "submitted", "e1", True, None, 5, "F1", False))
    letter = of_event(row, "failed: TypeError: x", Source("filing-events", 0, 7), max_bytes=10_000)
    assert letter.key == b""
    assert orjson.loads(letter.value)["engine_row"][:3] == [1_790_000_000_000_000, "submitted", "e1"]


def test_a_value_over_the_limit_is_cut_and_says_so_and_keeps_its_source() -> None:
    letter = of_record(record(b"x" * 10), "schema: x", max_bytes=4)
    assert letter.value == b"xxxx"
    assert dict(letter.headers)[TRUNCATED_HEADER] == b"10"
    assert [name for name, _ in letter.headers][:4] == list(SOURCE_HEADERS)


async def test_the_writer_sends_to_the_dlq_topic_and_counts_by_the_reasons_first_word() -> None:
    def count() -> float:
        return metrics.REGISTRY.get_sample_value("aggregator_dlq_records_total", {"reason": "schema"}) or 0.0

    producer = FakeProducer()
    before = count()
    letter = of_record(record(b"[]"), "schema: event: x", 100)
    await (await DeadLetterWriter("the-dlq", producer).send(letter))
    assert producer.sent[0]["topic"] == "the-dlq" and producer.sent[0]["value"] == b"[]"
    assert count() == before + 1

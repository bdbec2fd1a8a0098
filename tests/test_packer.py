"""The packer's pure parts: what is packed, what is dead-lettered and why, and how packs are cut."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiokafka.structs import ConsumerRecord
from hypothesis import given
from hypothesis import strategies as st

from services.aggregator.dlq import TRUNCATED_HEADER
from services.aggregator.packer import dlq_value, packs_of, triage
from tests.ingest_support import make_event


def record(offset: int, value: bytes | None) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("filing-events", 0, offset, 0, 0, b"k", value, None, 1, len(value or b""), [])


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_triage_keeps_the_valid_and_names_why_the_rest_is_refused() -> None:
    ok = make_event()
    records = [record(0, orjson.dumps(ok)), record(1, b"\xff"), record(2, None), record(3, b"[]")]
    good, bad = triage(records)
    assert good == [[0, ok]]
    assert {r.offset: reason.split(":")[0] for r, reason in bad} == {1: "not_json", 2: "schema", 3: "schema"}


def test_what_no_pack_can_carry_is_refused_and_the_rest_packed_in_order() -> None:
    events = [make_event() for _ in range(9)]
    events[2] = make_event(x_pad="p" * 5000)   # larger than a pack alone
    events[6] = make_event(x_deep=nested(300))  # deeper than orjson writes
    packs, refused = packs_of([[i, e] for i, e in enumerate(events)], max_events=4, max_bytes=4096)
    assert [(offset, reason.split(":")[0]) for offset, reason in refused] == [(2, "too_large"),
                                                                              (6, "unencodable")]
    assert [row for pack in packs for row in orjson.loads(pack)] == [
        [i, e] for i, e in enumerate(events) if i not in (2, 6)]


@given(sizes=st.lists(st.integers(1, 300), max_size=60), max_events=st.integers(1, 10),
       max_bytes=st.integers(200, 2000))
def test_packs_keep_every_event_in_order_within_both_limits(sizes: list[int], max_events: int,
                                                            max_bytes: int) -> None:
    good = [[i, "x" * size] for i, size in enumerate(sizes)]
    packs, refused = packs_of(good, max_events, max_bytes)
    too_big = {i for i, pair in enumerate(good) if len(orjson.dumps([pair])) > max_bytes}
    assert {offset for offset, _ in refused} == too_big
    assert [row for pack in packs for row in orjson.loads(pack)] == [p for i, p in enumerate(good)
                                                                     if i not in too_big]
    assert all(len(pack) <= max_bytes and len(orjson.loads(pack)) <= max_events for pack in packs)


@pytest.mark.parametrize(("value", "kept", "header"), [
    (None, None, []), (b"abc", b"abc", []), (b"abcdef", b"abcd", [(TRUNCATED_HEADER, b"6")])])
def test_a_dead_letter_too_big_for_the_dlq_is_cut_and_says_so(value: bytes | None, kept: bytes | None,
                                                               header: list[tuple[str, bytes]]) -> None:
    assert dlq_value(value, 4) == (kept, header)

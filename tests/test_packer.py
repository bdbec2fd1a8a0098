"""The packer's pure parts: what is packed, what is dead-lettered and why, and how packs are cut."""

from __future__ import annotations

import json
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


def test_triage_packs_the_valid_and_names_why_the_rest_is_refused() -> None:
    ok = make_event()
    records = [record(0, orjson.dumps(ok)), record(1, b"\xff"), record(2, None), record(3, b"[]"),
               record(4, json.dumps(make_event(x_deep=nested(300))).encode()),  # orjson writes 255 levels
               record(5, orjson.dumps(make_event(x_pad="p" * 5000)))]
    good, bad = triage(records, max_item_bytes=4096)
    assert [orjson.loads(item) for item in good] == [[0, ok]]
    reasons = {r.offset: reason.split(":")[0] for r, reason in bad}
    assert reasons == {1: "not_json", 2: "schema", 3: "schema", 4: "unencodable", 5: "too_large"}


@given(sizes=st.lists(st.integers(1, 300), max_size=60), max_events=st.integers(1, 10),
       max_bytes=st.integers(320, 2000))
def test_packs_keep_every_item_in_order_within_both_limits(sizes: list[int], max_events: int,
                                                           max_bytes: int) -> None:
    items = [orjson.dumps([i, "x" * size]) for i, size in enumerate(sizes)]  # each under 318 bytes
    packs = list(packs_of(items, max_events, max_bytes))
    assert [row for pack in packs for row in orjson.loads(pack)] == [orjson.loads(i) for i in items]
    assert all(len(pack) <= max_bytes and len(orjson.loads(pack)) <= max_events for pack in packs)


@pytest.mark.parametrize(("value", "kept", "header"), [
    (None, None, []), (b"abc", b"abc", []), (b"abcdef", b"abcd", [(TRUNCATED_HEADER, b"6")])])
def test_a_dead_letter_too_big_for_the_dlq_is_cut_and_says_so(value: bytes | None, kept: bytes | None,
                                                               header: list[tuple[str, bytes]]) -> None:
    assert dlq_value(value, 4) == (kept, header)

"""The packer's pure parts: what is packed, what is dead-lettered and why, and how packs are cut."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from aiokafka.structs import ConsumerRecord
from hypothesis import given, settings
from hypothesis import strategies as st

from services.aggregator.dead_letters import TRUNCATED_HEADER, cut
from services.aggregator.hcm_time import parse_instant
from services.aggregator.pack_format import decode_pack
from services.aggregator.packer import _raw_check, packs_of, triage
from services.aggregator.rules import event_from_json
from tests.support.ingest import make_event


def record(offset: int, value: bytes | None) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("filing-events", 0, offset, 0, 0, b"k", value, None, 1, len(value or b""), [])


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


NOW_US = parse_instant("2026-11-23T12:00:00+07:00")


def test_triage_keeps_the_valid_in_compact_form_and_names_why_the_rest_is_refused() -> None:
    # Unknown fields are allowed and not packed: not even one deeper than orjson writes.
    ok = make_event(occurred_at="2026-11-20T09:00:00+07:00", due_at="2026-11-27T09:00:00+07:00",
                    x_unknown={"deep": nested(300)}, x_pad="p" * 5000)
    old = make_event(occurred_at="2025-10-01T09:00:00+07:00", due_at="2025-10-09T09:00:00+07:00")
    records = [record(0, json.dumps(ok).encode()), record(1, b"\xff"), record(2, None), record(3, b"[]"),
               record(4, orjson.dumps(old))]
    good, bad = triage(records, NOW_US, retention_days=400)
    assert good == [[0, *event_from_json(ok)]]
    assert {r.offset: reason.split(":")[0] for r, reason in bad} == {
        1: "not_json", 2: "schema", 3: "schema", 4: "too_late"}


instants = st.builds(
    lambda day, second, fraction, offset:
        f"2026-11-{day:02d}T10:{second // 60:02d}:{second % 60:02d}{fraction}{offset}",
    st.integers(1, 22), st.integers(0, 3599), st.sampled_from(["", ".5", ".123456", ".123456789"]),
    st.sampled_from(["Z", "+07:00", "-03:30", "+00:00"]))


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    event = make_event(event_type=draw(st.sampled_from(["submitted", "processed", "overdue", "returned"])),
                       occurred_at=draw(instants), due_at=draw(instants),
                       channel=draw(st.sampled_from(["online", "in_person", "postal"])),
                       reason=draw(st.sampled_from(["rejected", "supplement_requested", "withdrawn"])))
    for flag in ("online_payment", "digitised"):
        value = draw(st.sampled_from([None, True, False]))
        if value is not None:
            event[flag] = value
    if draw(st.booleans()):
        del event["schema_version"]  # absent means 1
    return event


@settings(max_examples=300, deadline=None)
@given(st.lists(valid_events(), min_size=1, max_size=5))
def test_the_raw_check_packs_the_very_rows_the_validator_path_does(events: list[dict[str, Any]]) -> None:
    # Valid events take the raw check's path (timestamps parsed once, in the check); the rows must
    # be what the validator's path (orjson, then event_from_json) makes of the same events.
    records = [record(offset, orjson.dumps(event)) for offset, event in enumerate(events)]
    good, bad = triage(records, NOW_US, retention_days=400)
    assert bad == []
    assert good == [[offset, *event_from_json(event)] for offset, event in enumerate(events)]
    assert all(_raw_check()(r.value) is not None for r in records)  # type: ignore[misc]


@given(sizes=st.lists(st.integers(1, 300), max_size=60), max_events=st.integers(1, 10),
       max_bytes=st.integers(400, 2000))
def test_packs_keep_every_row_in_order_within_both_limits(sizes: list[int], max_events: int,
                                                          max_bytes: int) -> None:
    rows = [[i, "x" * size] for i, size in enumerate(sizes)]
    packs = packs_of(rows, max_events, max_bytes)
    assert [list(row) for pack in packs for row in decode_pack(pack)] == rows
    assert all(len(pack) <= max_bytes and len(decode_pack(pack)) <= max_events for pack in packs)


def test_a_row_larger_than_a_pack_is_an_error_not_a_stall() -> None:
    with pytest.raises(ValueError, match="over the pack limit"):
        packs_of([[0, "x" * 500]], max_events=10, max_bytes=100)


@pytest.mark.parametrize(("value", "kept", "header"), [
    (None, None, []), (b"abc", b"abc", []), (b"abcdef", b"abcd", [(TRUNCATED_HEADER, b"6")])])
def test_a_dead_letter_too_big_for_the_dlq_is_cut_and_says_so(value: bytes | None, kept: bytes | None,
                                                               header: list[tuple[str, bytes]]) -> None:
    assert cut(value, 4) == (kept, header)


def test_records_with_instants_out_of_bounds_are_dead_lettered_with_the_field() -> None:
    """Issue 12, class 1: a record produced straight to Kafka with instants at the calendar's end
    (which ingest now refuses) is dead-lettered with the reason, never packed."""
    end = "9999-12-31T23:59:59-23:59"
    poison = make_event(occurred_at=end, due_at=end)
    far_due = make_event(occurred_at="2026-11-20T09:00:00+07:00", due_at=end)
    ancient = make_event(occurred_at="1970-01-01T00:00:00Z", due_at="1970-01-02T00:00:00Z")
    good, bad = triage([record(0, orjson.dumps(poison)), record(1, orjson.dumps(far_due)),
                        record(2, orjson.dumps(ancient))], NOW_US, retention_days=400)
    assert good == []
    reasons = {r.offset: reason for r, reason in bad}
    assert reasons[0].startswith("bounds: occurred_at: must not be more than a day ahead")
    assert reasons[1].startswith("bounds: due_at: must be within")
    assert reasons[2].startswith("bounds: occurred_at: must not be before 2000")

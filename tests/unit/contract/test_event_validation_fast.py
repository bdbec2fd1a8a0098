"""The compiled fast validator and the reference 2020-12 validator agree on every verdict."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.contract.event_validation import EventValidator, Valid, default_validator
from services.contract.raw_event_check import RawEventCheck, UnsupportedSchema

VALIDATOR = default_validator()
REFERENCE, SCHEMA = VALIDATOR._by_version[1]


def fast(event: dict[str, Any]) -> bool:
    return VALIDATOR._passes_fast(1, event)


def reference(event: dict[str, Any]) -> bool:
    return REFERENCE.is_valid(event)

VALID: dict[str, Any] = {
    "event_id": "mc:HS-1:1", "event_type": "submitted", "filing_id": "HS-1", "unit_code": "31",
    "occurred_at": "2026-11-23T09:15:00+07:00", "source": "motcua-hp", "channel": "online",
    "due_at": "2026-11-26T17:00:00+07:00", "procedure_code": "1.001234",
}

junk = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=50),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                                      max_size=2))
timestamps = st.sampled_from(["2026-11-23T09:15:00+07:00", "2026-11-23T02:15:00Z",
                              "2026-02-30T09:15:00+07:00", "2026-11-23 09:15:00", "2026-11-23T09:15:00",
                              "2026-11-23T25:00:00+07:00", "2026-11-23T10:00:60+07:00",
                              "2026-11-23T09:15:00.123456+07:00"])


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    event = dict(VALID)
    event["event_type"] = draw(st.sampled_from(["submitted", "processed", "overdue", "returned", "x"]))
    if event["event_type"] == "returned":
        event["reason"] = draw(st.sampled_from(["rejected", "supplement_requested", "withdrawn", "lost"]))
    for field in draw(st.lists(st.sampled_from(sorted(VALID)), max_size=3)):
        choice = draw(st.integers(0, 2))
        if choice == 0:
            event.pop(field, None)
        elif choice == 1:
            event[field] = draw(junk)
        else:
            event[field] = draw(timestamps)
    if draw(st.booleans()):
        event["online_payment"] = draw(st.one_of(st.booleans(), junk))
    return event


@settings(max_examples=400, deadline=None)
@given(mutated_events())
def test_fast_and_reference_validators_agree(event: dict[str, Any]) -> None:
    assert fast(event) == reference(event)


def test_second_60_is_refused_by_both() -> None:
    event = {**VALID, "occurred_at": "2026-11-23T10:00:60+07:00"}
    assert not fast(event)
    assert [e.field for e in VALIDATOR.validate(event).errors] == ["occurred_at"]  # type: ignore[union-attr]


def test_a_valid_event_takes_the_fast_path() -> None:
    assert fast(VALID)
    assert isinstance(VALIDATOR.validate(VALID), Valid)


RAW = VALIDATOR._raw_checks[1]


def raw_fast(event: dict[str, Any]) -> bool:
    # json, not orjson: it writes what orjson refuses (NaN, integers past 64 bits) as a sender might.
    return RAW.check(json.dumps(event).encode()) is not None


@settings(max_examples=400, deadline=None)
@given(mutated_events())
def test_the_raw_bytes_check_and_the_reference_agree(event: dict[str, Any]) -> None:
    assert raw_fast(event) == reference(event)


@pytest.mark.parametrize("change", [
    {"schema_version": 1}, {"schema_version": True}, {"schema_version": 2},
    {"event_type": "returned"}, {"event_type": "returned", "reason": "withdrawn"},
    {"event_type": "processed", "channel": None}, {"online_payment": 1}, {"digitised": False},
    {"source": ""}, {"source": "é" * 64}, {"source": "é" * 65}, {"unit_code": "31 "},
    {"occurred_at": "2026-11-23T10:00:60+07:00"}, {"due_at": "2026-02-29T09:15:00+07:00"},
    {"x_unknown": {"nested": [1, {"deeper": None}]}},
])
def test_the_raw_bytes_check_and_the_reference_agree_on_edges(change: dict[str, Any]) -> None:
    event = {**VALID, **change}
    assert raw_fast(event) == reference(event)


def test_an_anchored_pattern_ends_at_the_end_of_the_string_in_both_fast_checks() -> None:
    # ECMA-262, JSON Schema's regex dialect: `$` does not match before a final newline. jsonschema
    # uses Python's meaning and lets it through; the fast checks refuse, and so does validate().
    event = {**VALID, "event_id": "mc:HS-1:1\n"}
    assert not raw_fast(event) and not fast(event)
    assert not isinstance(VALIDATOR.validate(event, orjson.dumps(event)), Valid)


def test_a_schema_with_a_keyword_the_raw_check_does_not_know_is_refused() -> None:
    schema = {**SCHEMA, "properties": {**SCHEMA["properties"], "n": {"type": "integer", "minimum": 0}}}
    with pytest.raises(UnsupportedSchema, match="n: the raw check does not support"):
        RawEventCheck(schema)
    # The validator then checks that version's raw bytes decoded, with the same verdicts.
    validator = EventValidator([schema])
    for event in ({**VALID, "n": 3}, {**VALID, "n": -1}):
        raw = orjson.dumps(event)
        assert validator.validate(event, raw) == validator.validate(event)
    assert not isinstance(validator.validate({**VALID, "n": -1}, orjson.dumps({**VALID, "n": -1})), Valid)


def test_a_schema_allowing_null_as_a_value_is_refused() -> None:
    # The raw check reads an absent field as None: null as a value would look absent.
    schema = {**SCHEMA, "properties": {**SCHEMA["properties"], "channel": {"enum": ["online", None]}}}
    with pytest.raises(UnsupportedSchema, match=r"channel: .* null"):
        RawEventCheck(schema)


def test_the_raw_check_gives_the_event_with_its_timestamps_parsed() -> None:
    checked = RAW.check(orjson.dumps({**VALID, "event_type": "overdue"}))
    assert checked is not None
    assert checked.occurred_at == datetime.fromisoformat(VALID["occurred_at"])
    assert checked.due_at == datetime.fromisoformat(VALID["due_at"])
    assert (checked.event_type, checked.reason, checked.online_payment) == ("overdue", None, None)


def test_validate_with_the_raw_bytes_gives_the_same_verdicts_and_reasons() -> None:
    for event in ({**VALID}, {**VALID, "channel": "fax"}, {**VALID, "event_type": "returned"}):
        raw = orjson.dumps(event)
        assert VALIDATOR.validate(event, raw) == VALIDATOR.validate(event)

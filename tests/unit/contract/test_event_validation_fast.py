"""The fast checks (fastjsonschema on decoded events, msgspec on raw bytes) and the reference
2020-12 validator agree on every verdict, for every version of the contract."""

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
REFERENCE_V2, SCHEMA_V2 = VALIDATOR._by_version[2]
FLAGS = ["online_payment", "fee_due", "digitised", "electronic_result", "paper_result", "data_reused",
         "personal_store", "population_db", "full_online_service", "full_online_eligible", "satisfied"]


def fast(event: dict[str, Any], version: int = 1) -> bool:
    return VALIDATOR._passes_fast(version, event)


def reference(event: dict[str, Any], version: int = 1) -> bool:
    return VALIDATOR._by_version[version][0].is_valid(event)


def reference_of_named_version(event: dict[str, Any]) -> bool:
    """The reference's verdict under the version the event names (absent: 1), as validate() picks it."""
    version = event.get("schema_version", 1)
    return type(version) is int and version in VALIDATOR.versions and reference(event, version)

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


VALID_V2: dict[str, Any] = {
    "schema_version": 2, "event_id": "mc:HS-2:1", "event_type": "submitted", "filing_id": "HS-2",
    "unit_code": "31", "occurred_at": "2026-11-23T09:15:00+07:00", "source": "motcua-hp",
    "channel": "online", "due_at": "2026-11-26T17:00:00+07:00", "statutory_max_hours": 24,
    "procedure_code": "1.001234",
}
V2_TYPES = SCHEMA_V2["properties"]["event_type"]["enum"]
hours = st.sampled_from([1, 24, 26352, 0, 26353, -1, 24.0, 24.5, 1e2, 1e400, True, 10**20, "24"])


@st.composite
def mutated_v2_events(draw: st.DrawFn) -> dict[str, Any]:
    """Version 2 events near the valid ones: every type, each of the due time's alternatives
    present or not, hours in and out of range (24.0 is an integer to JSON Schema), flags of
    every kind of value."""
    event = dict(VALID_V2)
    event["event_type"] = draw(st.sampled_from([*V2_TYPES, "returned", "x"]))
    for field in draw(st.lists(st.sampled_from(sorted(VALID_V2)), max_size=3)):
        choice = draw(st.integers(0, 3))
        if choice == 0:
            event.pop(field, None)
        elif choice == 1:
            event[field] = draw(junk)
        elif choice == 2:
            event[field] = draw(timestamps)
        else:
            event[field] = draw(hours)
    for flag in draw(st.lists(st.sampled_from(FLAGS), max_size=3)):
        event[flag] = draw(st.one_of(st.booleans(), junk))
    if draw(st.booleans()):
        event["online_payment_via"] = draw(st.sampled_from(["national_portal", "provincial_gateway", "bank",
                                                            None, True]))
    return event


@settings(max_examples=400, deadline=None)
@given(mutated_events())
def test_fast_and_reference_validators_agree(event: dict[str, Any]) -> None:
    assert fast(event) == reference(event)


@settings(max_examples=400, deadline=None)
@given(mutated_v2_events())
def test_fast_and_reference_validators_agree_on_version_2(event: dict[str, Any]) -> None:
    assert fast(event, 2) == reference(event, 2)


def test_the_fast_check_parses_every_date_time_of_its_version() -> None:
    # due_at is optional on every v2 type; second 60 passes fastjsonschema's format, not datetime.
    event = {**VALID_V2, "event_type": "supplement_completed", "due_at": "2026-11-23T10:00:60+07:00"}
    assert not fast(event, 2) and not reference(event, 2)
    assert VALIDATOR._instants == {1: ("occurred_at", "due_at"), 2: ("occurred_at", "due_at")}


def test_second_60_is_refused_by_both() -> None:
    event = {**VALID, "occurred_at": "2026-11-23T10:00:60+07:00"}
    assert not fast(event)
    assert [e.field for e in VALIDATOR.validate(event).errors] == ["occurred_at"]  # type: ignore[union-attr]


def test_a_valid_event_takes_the_fast_path() -> None:
    assert fast(VALID)
    assert isinstance(VALIDATOR.validate(VALID), Valid)


RAW = VALIDATOR._raw_checks[1]
_raw_any = VALIDATOR.raw_check_any()
assert _raw_any is not None  # every version of the contract has a raw check
RAW_ANY = _raw_any


def raw_fast(event: dict[str, Any], version: int = 1) -> bool:
    # json, not orjson: it writes what orjson refuses (NaN, integers past 64 bits) as a sender might.
    return VALIDATOR._raw_checks[version].check(json.dumps(event).encode()) is not None


@settings(max_examples=400, deadline=None)
@given(mutated_events())
def test_the_raw_bytes_check_and_the_reference_agree(event: dict[str, Any]) -> None:
    assert raw_fast(event) == reference(event)


@settings(max_examples=400, deadline=None)
@given(mutated_v2_events())
def test_the_raw_bytes_check_and_the_reference_agree_on_version_2(event: dict[str, Any]) -> None:
    assert raw_fast(event, 2) == reference(event, 2)


@st.composite
def raw_events_of_any_version(draw: st.DrawFn) -> bytes:
    """Bytes of an event of either version, naming a version or not (or a wrong one), spelt
    compact or spaced, the version key first or last, and sometimes a decoy `schema_version`
    inside an unknown field before the real one."""
    event = draw(st.one_of(mutated_events(), mutated_v2_events()))
    version = draw(st.sampled_from(["keep", "absent", 1, 2, 3, 12, True, "2"]))
    if version == "absent":
        event.pop("schema_version", None)
    elif version != "keep":
        event["schema_version"] = version
    if "schema_version" in event and draw(st.booleans()):
        event = {**{k: v for k, v in event.items() if k != "schema_version"},
                 "schema_version": event["schema_version"]}
    if draw(st.booleans()):
        event = {"x_note": {"schema_version": draw(st.sampled_from([1, 2, 7]))}, **event}
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (",", " :\n ")]))
    return json.dumps(event, separators=separators).encode()


@settings(max_examples=600, deadline=None)
@given(raw_events_of_any_version())
def test_the_check_of_any_version_and_the_reference_of_the_named_version_agree(raw: bytes) -> None:
    event = json.loads(raw)
    checked = RAW_ANY(raw)
    assert (checked is not None) == reference_of_named_version(event)
    if checked is not None:
        assert checked.schema_version == event.get("schema_version")


class CountingCheck:
    def __init__(self, check: RawEventCheck) -> None:
        self.inner, self.calls = check, 0

    def check(self, raw: bytes) -> Any:
        self.calls += 1
        return self.inner.check(raw)


@pytest.mark.parametrize(("event", "spelling", "version"), [
    ({**VALID_V2}, (",", ":"), 2), ({**VALID_V2}, (", ", ": "), 2),
    ({k: v for k, v in VALID.items()}, (",", ":"), 1), ({**VALID, "schema_version": 1}, (",", ":"), 1),
    ({**VALID, "schema_version": 1}, (", ", " : "), 1),
])
def test_an_event_pays_the_check_of_its_own_version_only(event: dict[str, Any],
                                                          spelling: tuple[str, str], version: int) -> None:
    validator = default_validator()
    counting = {v: CountingCheck(check) for v, check in validator._raw_checks.items()}
    validator._raw_checks = counting  # type: ignore[assignment]
    checked = validator.raw_check_any()(json.dumps(event, separators=spelling).encode())  # type: ignore[misc]
    assert checked is not None and checked.event_id == event["event_id"]
    assert {v: c.calls for v, c in counting.items()} == {1: int(version == 1), 2: int(version == 2)}


def test_the_check_of_any_version_gives_each_version_its_fields() -> None:
    v1 = RAW_ANY(orjson.dumps({**VALID, "event_type": "returned", "reason": "withdrawn"}))
    v2 = RAW_ANY(orjson.dumps({**VALID_V2, "statutory_max_hours": 24.0, "satisfied": False,
                               "online_payment_via": "provincial_gateway"}))
    assert (v1.schema_version, v1.reason, v1.fee_due, v1.satisfied) == (None, "withdrawn", None, None)
    assert not hasattr(v2, "reason")
    assert (v2.schema_version, v2.statutory_max_hours, v2.satisfied, v2.online_payment_via, v2.fee_due) == (
        2, 24, False, "provincial_gateway", None)
    assert type(v2.statutory_max_hours) is int  # 24.0 is the integer 24, as the schema reads it
    every_v2_field = set(SCHEMA_V2["properties"])
    assert {name for name in every_v2_field if not hasattr(v2, name)} == set()


def test_a_version_that_does_not_require_its_number_is_left_to_validate() -> None:
    # Its check could pass bytes naming no version, which validate() judges as version 1.
    loose = {**SCHEMA_V2, "required": [n for n in SCHEMA_V2["required"] if n != "schema_version"]}
    validator = EventValidator([SCHEMA, loose])
    event = {k: v for k, v in VALID_V2.items() if k != "schema_version"}
    event["event_type"] = "updated"
    assert validator.raw_check_any()(orjson.dumps(event)) is None  # type: ignore[misc]
    assert not isinstance(validator.validate(event), Valid)


@pytest.mark.parametrize("change", [
    {"schema_version": 1}, {"schema_version": True}, {"schema_version": 2},
    {"event_type": "returned"}, {"event_type": "returned", "reason": "withdrawn"},
    {"event_type": "processed", "channel": None}, {"online_payment": 1}, {"digitised": False},
    {"source": ""}, {"source": "é" * 64}, {"source": "é" * 65}, {"unit_code": "31 "},
    {"occurred_at": "2026-11-23T10:00:60+07:00"}, {"due_at": "2026-02-29T09:15:00+07:00"},
    {"x_unknown": {"nested": [1, {"deeper": None}]}},
    {"online_payment_via": "national_portal"}, {"online_payment_via": "bank"}, {"satisfied": None},
    {"fee_due": 0}, {"population_db": True, "personal_store": False},
])
def test_the_raw_bytes_check_and_the_reference_agree_on_edges(change: dict[str, Any]) -> None:
    event = {**VALID, **change}
    assert raw_fast(event) == reference(event)


def without(*names: str, **change: Any) -> dict[str, Any]:
    return {**{k: v for k, v in VALID_V2.items() if k not in names}, **change}


@pytest.mark.parametrize(("event", "valid"), [
    (without(), True), (without("due_at"), True), (without("statutory_max_hours"), True),
    (without("due_at", "statutory_max_hours"), False),
    (without("due_at", "statutory_max_hours", event_type="processed"), True),
    (without("due_at", "statutory_max_hours", event_type="supplement_completed"), True),
    (without("due_at", statutory_max_hours=24.0), True), (without("due_at", statutory_max_hours=24.5), False),
    (without("due_at", statutory_max_hours=0), False), (without("due_at", statutory_max_hours=26353), False),
    (without("due_at", statutory_max_hours=True), False), (without("channel"), False),
    (without("schema_version"), False), (without(schema_version=1), False),
    (without(event_type="returned", reason="withdrawn"), False),
    (without(event_type="updated", satisfied=True, online_payment_via="national_portal"), True),
])
def test_the_three_checks_agree_on_version_2_edges(event: dict[str, Any], valid: bool) -> None:
    assert reference(event, 2) is valid
    assert fast(event, 2) is valid
    assert raw_fast(event, 2) is valid


def test_an_anchored_pattern_ends_at_the_end_of_the_string_in_both_fast_checks() -> None:
    # ECMA-262, JSON Schema's regex dialect: `$` does not match before a final newline. jsonschema
    # uses Python's meaning and lets it through; the fast checks refuse, and so does validate().
    event = {**VALID, "event_id": "mc:HS-1:1\n"}
    assert not raw_fast(event) and not fast(event)
    assert not isinstance(VALIDATOR.validate(event, orjson.dumps(event)), Valid)


def test_a_schema_with_a_keyword_the_raw_check_does_not_know_is_refused() -> None:
    schema = {**SCHEMA, "properties": {**SCHEMA["properties"], "n": {"type": "integer", "multipleOf": 2}}}
    with pytest.raises(UnsupportedSchema, match="n: the raw check does not support"):
        RawEventCheck(schema)
    # The validator then checks that version's raw bytes decoded, with the same verdicts.
    validator = EventValidator([schema])
    for event in ({**VALID, "n": 4}, {**VALID, "n": 3}):
        raw = orjson.dumps(event)
        assert validator.validate(event, raw) == validator.validate(event)
    assert not isinstance(validator.validate({**VALID, "n": 3}, orjson.dumps({**VALID, "n": 3})), Valid)


def submitted_rule(then: Any) -> dict[str, Any]:
    return {"if": {"properties": {"event_type": {"const": "submitted"}}, "required": ["event_type"]},
            "then": then}


@pytest.mark.parametrize("then", [
    {"anyOf": [{"required": ["due_at"]}, {"required": ["channel"], "properties": {}}]},
    {"anyOf": [{"required": ["due_at"]}, {"anyOf": [{"required": ["channel"]}]}]},
    {"anyOf": []}, {"anyOf": {"required": ["due_at"]}}, {"oneOf": [{"required": ["due_at"]}]},
    {"required": ["due_at"], "not": {"required": ["channel"]}}, {},
    {"anyOf": [{"required": ["due_at"]}, {"required": ["no_such_field"]}]},
])
def test_only_the_bare_required_alternatives_are_translated(then: Any) -> None:
    # Anything looser than `anyOf` of bare `required` lists (or a name with no property) would be
    # checked wrongly or not at all: the raw check is then not built.
    with pytest.raises(UnsupportedSchema):
        RawEventCheck({**SCHEMA, "allOf": [submitted_rule(then)]})


def test_alternatives_need_every_name_of_one_of_them() -> None:
    then = {"required": ["channel"], "anyOf": [{"required": ["due_at", "procedure_code"]},
                                               {"required": ["reason"]}]}
    schema = {**SCHEMA, "allOf": [submitted_rule(then)]}
    check, reference_check = RawEventCheck(schema), EventValidator([schema])._by_version[1][0]
    no_due = {k: v for k, v in VALID.items() if k != "due_at"}
    for event in (VALID, no_due, {**no_due, "reason": "withdrawn"},
                  {k: v for k, v in VALID.items() if k != "channel"}):
        assert (check.check(orjson.dumps(event)) is not None) == reference_check.is_valid(event), event
    assert check.check(orjson.dumps(no_due)) is None
    assert check.check(orjson.dumps({**no_due, "reason": "withdrawn"})) is not None


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


def test_a_pattern_is_checked_on_every_new_value_once_a_good_one_is_known() -> None:
    # Patterns are checked after decoding and each good value is remembered: a value seen good
    # stays good, and a bad one is refused however many good ones came before it.
    check = RawEventCheck(SCHEMA_V2)
    good = {**VALID_V2, "unit_code": "31.S03"}
    assert check.check(json.dumps(good).encode()) is not None
    assert check.check(json.dumps(good).encode()) is not None
    for bad_code in ("31 S03", "31.S03\n", "Hà-Nội"):
        assert check.check(json.dumps({**good, "unit_code": bad_code}).encode()) is None
    assert check.check(json.dumps({**good, "due_at": "2026-11-23T17:00:00+7:00"}).encode()) is None


def test_a_field_with_too_many_distinct_values_is_still_checked() -> None:
    check = RawEventCheck(SCHEMA_V2)
    for n in range(10_001):  # past the values a field keeps: its pattern is searched every time
        assert check.check(json.dumps({**VALID_V2, "event_id": f"E-{n}"}).encode()) is not None
    assert check.check(json.dumps({**VALID_V2, "event_id": "E 1"}).encode()) is None
    assert check.check(json.dumps({**VALID_V2, "event_id": "E-1"}).encode()) is not None

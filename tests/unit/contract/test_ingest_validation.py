"""Event validation: valid events pass untouched, and every kind of error names the right field."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from services.contract.event_validation import (
    SCHEMA_FILES,
    SCHEMAS_DIR,
    EventValidator,
    FieldError,
    Invalid,
    Valid,
    default_validator,
    inline_local_refs,
)
from tests.support.ingest import make_event

V1 = json.loads((SCHEMAS_DIR / "filing-event.v1.json").read_text())


@pytest.fixture(scope="module")
def validator() -> EventValidator:
    return EventValidator.from_files([SCHEMAS_DIR / "filing-event.v1.json"])


def errors_of(validator: EventValidator, event: object) -> dict[str, str]:
    result = validator.validate(event)
    assert isinstance(result, Invalid), f"expected a rejection of {event!r}"
    return {e.field: e.reason for e in result.errors}


@pytest.mark.parametrize("event", [
    make_event(),
    make_event(event_type="processed", channel=None, due_at=None, procedure_code=None),
    make_event(event_type="overdue"),
    make_event(event_type="returned", reason="supplement_requested"),
    make_event(schema_version=None, online_payment=True, digitised=False),
    make_event(occurred_at="2025-07-01T01:30:00.123456Z"),
])
def test_valid_events_pass_unchanged(validator: EventValidator, event: dict[str, Any]) -> None:
    event = {k: v for k, v in event.items() if v is not None}
    result = validator.validate(event)
    assert result == Valid(event)


def test_unknown_fields_are_accepted_and_kept(validator: EventValidator) -> None:
    event = make_event(x_case_system={"version": "4.2", "steps": [1, 2]})
    result = validator.validate(event)
    assert isinstance(result, Valid)
    assert result.event["x_case_system"] == {"version": "4.2", "steps": [1, 2]}


@pytest.mark.parametrize("missing", ["event_id", "event_type", "filing_id", "unit_code", "occurred_at",
                                     "source"])
def test_a_missing_required_field_is_named(validator: EventValidator, missing: str) -> None:
    event = make_event()
    del event[missing]
    assert errors_of(validator, event) == {missing: "required"}


@pytest.mark.parametrize("missing", ["channel", "due_at", "procedure_code"])
def test_a_field_required_by_event_type_says_why(validator: EventValidator, missing: str) -> None:
    event = make_event()
    del event[missing]
    assert errors_of(validator, event) == {missing: 'required when event_type is "submitted"'}


def test_returned_needs_a_reason(validator: EventValidator) -> None:
    event = make_event(event_type="returned")
    assert errors_of(validator, event) == {"reason": 'required when event_type is "returned"'}


@pytest.mark.parametrize(("field", "value", "words"), [
    ("unit_code", 26734, ["string", "number"]),
    ("online_payment", "yes", ["boolean", "string"]),
    ("event_type", "opened", ["one of", '"submitted"', '"returned"']),
    ("channel", "fax", ["one of", '"online"', '"postal"']),
    ("reason", "lost", ["one of", '"withdrawn"']),
    ("event_id", "", ["must not be empty"]),
    ("event_id", "has space", ["pattern"]),
    ("unit_code", "u" * 65, ["at most 64"]),
    ("source", "s" * 65, ["at most 64"]),
    ("occurred_at", "2025-07-01T08:30:00", ["RFC 3339", "offset"]),     # no offset
    ("due_at", "2025-02-30T17:00:00+07:00", ["RFC 3339"]),              # no such day
    ("due_at", "tomorrow", ["RFC 3339"]),
])
def test_each_kind_of_error_names_its_field(validator: EventValidator, field: str, value: object,
                                            words: list[str]) -> None:
    reasons = errors_of(validator, make_event(**{field: value}))
    assert list(reasons) == [field]
    for word in words:
        assert word in reasons[field]


@pytest.mark.parametrize(("value", "kind"), [([], "an array"), ("event", "a string"), (None, "null"),
                                             (7, "a number"), (True, "a boolean")])
def test_a_non_object_is_rejected_as_such(validator: EventValidator, value: object, kind: str) -> None:
    result = validator.validate(value)
    assert result == Invalid((FieldError("", f"an event must be a JSON object, not {kind}", "not_object"),))


def test_every_bad_field_is_reported_once(validator: EventValidator) -> None:
    event = make_event(unit_code=1, due_at="x", channel="fax")
    del event["source"]
    reasons = errors_of(validator, event)
    assert sorted(reasons) == ["channel", "due_at", "source", "unit_code"]


def test_reasons_stay_short_whatever_the_value(validator: EventValidator) -> None:
    huge = "x" * 100_000
    result = validator.validate(make_event(event_id=huge + " ", occurred_at=huge))
    assert isinstance(result, Invalid)
    assert {e.field for e in result.errors} == {"event_id", "occurred_at"}
    assert all(len(e.reason) < 200 for e in result.errors)


def test_kinds_are_the_failing_keywords(validator: EventValidator) -> None:
    event = make_event(event_type="opened", unit_code=5)
    del event["source"]
    result = validator.validate(event)
    assert isinstance(result, Invalid)
    assert {e.field: e.kind for e in result.errors} == {"source": "required", "event_type": "enum",
                                                        "unit_code": "type"}


@pytest.mark.parametrize("version", [2, "1", True, 1.5])
def test_an_unknown_schema_version_is_refused(validator: EventValidator, version: object) -> None:
    reasons = errors_of(validator, make_event(schema_version=version))
    assert list(reasons) == ["schema_version"]
    assert "1" in reasons["schema_version"]


def v2_schema() -> dict[str, Any]:
    """A made-up breaking v2: schema_version 2 and a new required field."""
    schema = copy.deepcopy(V1)
    schema["$id"] = schema["$id"].replace("v1", "v2")
    schema["properties"]["schema_version"] = {"const": 2}
    schema["properties"]["region"] = {"type": "string"}
    schema["required"] = [*schema["required"], "schema_version", "region"]
    return schema


def test_during_a_migration_each_event_meets_its_own_version() -> None:
    both = EventValidator([V1, v2_schema()])
    assert both.versions == [1, 2]
    assert isinstance(both.validate(make_event()), Valid)
    assert isinstance(both.validate(make_event(schema_version=2, region="south")), Valid)
    v2_without_region = make_event(schema_version=2)
    assert errors_of(both, v2_without_region) == {"region": "required"}


def test_nested_fields_are_dotted_paths() -> None:
    schema = copy.deepcopy(V1)
    schema["properties"]["detail"] = {"type": "object", "properties": {
        "steps": {"type": "array", "items": {"type": "integer"}}}}
    nested = EventValidator([schema])
    assert errors_of(nested, make_event(detail={"steps": [1, "two"]})) == {
        "detail.steps.1": "must be of type integer, not a string"}


def test_a_broken_schema_fails_at_load() -> None:
    broken = copy.deepcopy(V1)
    broken["properties"]["event_id"]["type"] = "text"
    with pytest.raises(SchemaError):
        EventValidator([broken])


def test_inlining_refs_keeps_the_verdicts() -> None:
    raw = Draft202012Validator(V1, format_checker=Draft202012Validator.FORMAT_CHECKER)
    inlined = inline_local_refs(V1)
    assert "$ref" not in json.dumps(inlined["properties"])
    fast = Draft202012Validator(inlined, format_checker=Draft202012Validator.FORMAT_CHECKER)
    stamps = ["2025-07-01T08:30:00+07:00", "2025-07-01T08:30:00Z", "2025-02-30T08:30:00Z",
              "2025-07-01T08:30:00", "2025-07-01 08:30:00+07:00", "x" * 41, "", 5]
    for stamp in stamps:
        for field in ("occurred_at", "due_at"):
            event = make_event(**{field: stamp})
            assert fast.is_valid(event) == raw.is_valid(event), (field, stamp)


def test_recursive_or_clashing_refs_are_left_alone() -> None:
    schema = {"$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}},
                        "short": {"type": "string", "maxLength": 3}},
              "properties": {"tree": {"$ref": "#/$defs/node"},
                             "code": {"$ref": "#/$defs/short", "maxLength": 2, "description": "why"},
                             "remote": {"$ref": "other.json#/x"}}}
    inlined = inline_local_refs(schema)["properties"]
    assert inlined["tree"]["properties"]["next"] == {"$ref": "#/$defs/node"}  # inlined once, then kept
    assert inlined["code"] == {"$ref": "#/$defs/short", "maxLength": 2, "description": "why"}
    assert inlined["remote"] == {"$ref": "other.json#/x"}


def test_the_default_validator_knows_every_schema_file() -> None:
    assert default_validator().versions == [1, 2]
    assert [p.name for p in SCHEMA_FILES] == ["filing-event.v1.json", "filing-event.v2.json"]


def test_a_v2_submission_without_a_due_time_names_both_ways_to_give_one() -> None:
    event = make_event(schema_version=2)
    del event["due_at"]
    assert errors_of(default_validator(), event) == {
        "due_at": 'required when event_type is "submitted", unless statutory_max_hours is given',
        "statutory_max_hours": 'required when event_type is "submitted", unless due_at is given'}
    # Either alone is enough.
    assert isinstance(default_validator().validate({**event, "statutory_max_hours": 72}), Valid)
    assert isinstance(default_validator().validate(make_event(schema_version=2)), Valid)


def test_v2_names_what_it_dropped_and_what_it_bounds() -> None:
    validator = default_validator()
    returned = make_event(schema_version=2, event_type="returned", reason="withdrawn")
    assert list(errors_of(validator, returned)) == ["event_type"]
    hours = errors_of(validator, make_event(schema_version=2, statutory_max_hours=26353))
    assert list(hours) == ["statutory_max_hours"]

"""Check events against the contract in `schemas/`; the schema files are the only statement of its rules.

Each event gets either `Valid(event)` or `Invalid(errors)`, every error naming the field as a dotted
path (`due_at`, `extra.items.0`; an empty path is the event as a whole) and a short reason.

Validators are built from each schema file. A fast one decides: fastjsonschema's compiled code
(~6 µs an event against ~70 µs) on a decoded event, or, when the caller has the raw bytes (the
aggregator's packer), msgspec on those (~3 µs: raw_event_check.py). Only an event the fast check
refuses goes to jsonschema, the reference 2020-12 implementation, to be explained field by field.
The schemas use only keywords whose meaning is the same in draft-07 and 2020-12 (`if`/`then`,
`anyOf`, local `$ref`, `const`, `enum`, `pattern`, `format`, `minimum`/`maximum`), which is why they
compile as draft-07; property tests hold both fast checks to the reference's verdicts. Ingest and the
aggregator's packer both use this module.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator, ValidationError

from services.contract.raw_event_check import RawEventCheck, UnsupportedSchema

log = logging.getLogger(__name__)
SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
# Every version of the contract a consumer accepts; each event meets the one its schema_version names.
SCHEMA_FILES = (SCHEMAS_DIR / "filing-event.v1.json", SCHEMAS_DIR / "filing-event.v2.json")
_fromisoformat = datetime.fromisoformat

# The contract says an event without schema_version is version 1 (see the schema's description).
DEFAULT_VERSION = 1
# Hints for formats whose bare name does not tell a sender what to send.
FORMAT_HINTS = {"date-time": "an RFC 3339 date-time with an offset, e.g. 2025-07-01T08:30:00+07:00"}
# jsonschema's own messages quote the offending value, which can be megabytes long.
MAX_REASON_CHARS = 160
# What names a version in an event's raw bytes, for routing them to that version's check: the key,
# then its value if it is a plain integer (a guess, never a verdict: see raw_check_any).
_VERSION_KEY = b'"schema_version"'
_VERSION_VALUE = re.compile(rb"[ \t\r\n]*:[ \t\r\n]*([0-9]{1,9})(?![0-9])")


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    reason: str
    kind: str  # the failing JSON Schema keyword, or "not_object": a bounded label for metrics

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Valid:
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Invalid:
    errors: tuple[FieldError, ...]


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class EventValidator:
    """One Draft 2020-12 validator per contract version, picked by each event's `schema_version`."""

    def __init__(self, schemas: Iterable[Mapping[str, Any]]) -> None:
        self._by_version: dict[int, tuple[Draft202012Validator, Mapping[str, Any]]] = {}
        self._fast: dict[int, Any] = {}
        self._instants: dict[int, tuple[str, ...]] = {}
        self._raw_checks: dict[int, RawEventCheck] = {}
        for schema in schemas:
            Draft202012Validator.check_schema(schema)
            version = schema["properties"]["schema_version"]["const"]
            inlined = inline_local_refs(schema)
            validator = Draft202012Validator(inlined, format_checker=Draft202012Validator.FORMAT_CHECKER)
            self._instants[version] = tuple(
                name for name, node in inlined["properties"].items()
                if isinstance(node, Mapping) and node.get("format") == "date-time")
            self._by_version[version] = (validator, schema)
            # A deep copy: fastjsonschema writes into the schema it compiles.
            self._fast[version] = fastjsonschema.compile(
                {**copy.deepcopy(dict(schema)), "$schema": "http://json-schema.org/draft-07/schema#"})
            try:
                self._raw_checks[version] = RawEventCheck(schema)
            except UnsupportedSchema as exc:
                log.info("version %s: raw bytes are checked decoded (%s)", version, exc)
        if not self._by_version:
            raise ValueError("no event schema given")

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> EventValidator:
        return cls(json.loads(Path(p).read_text(encoding="utf-8")) for p in paths)

    @property
    def versions(self) -> list[int]:
        return sorted(self._by_version)

    def raw_check_any(self) -> Callable[[bytes], Any] | None:
        """One check of raw bytes for every version: the decoded event (the Struct of the version
        the bytes name, every field of that version an attribute, absent ones None) when they are
        valid under that version, else None. None instead of a check when no version has one.

        The bytes go first to the check of the version they seem to name, read from the text
        after the first `"schema_version"` (absent: version 1), so an event pays one check. The
        look is only a guess (that key may sit in a nested unknown field, or be written with
        escapes), so bytes the guessed check refuses go through the others too: the versions
        accept disjoint sets of events (each requires its own schema_version), so the verdict
        is exact whatever the guess, and only invalid events pay more than one check.
        """
        # Exact only while the sets are disjoint: a version other than the default one must
        # require its schema_version, or its check could pass bytes that name no version.
        checks = {version: check.check for version, check in self._raw_checks.items()
                  if version == DEFAULT_VERSION
                  or "schema_version" in self._by_version[version][1]["required"]}
        if not checks:
            return None
        # Per guessed version, its check first, then the others; an unknown guess tries them all.
        orders = {guess: [checks[guess], *(c for v, c in checks.items() if v != guess)] for guess in checks}
        every = list(checks.values())
        unnamed = orders.get(DEFAULT_VERSION, every)
        # The order for the compact spelling of each version with what can follow it (`:2,`), which
        # serialisers write: a slice and a lookup, cheaper than the pattern's match.
        compact = {b":%d%c" % (v, end): order for v, order in orders.items() if 0 <= v <= 9
                   for end in b",} \t\r\n"}
        key, after, value = _VERSION_KEY, len(_VERSION_KEY), _VERSION_VALUE.match

        def check_any(raw: bytes) -> Any | None:
            at = raw.find(key)
            if at < 0:
                order = unnamed
            else:
                at += after
                order = compact.get(raw[at:at + 3])  # type: ignore[assignment]
                if order is None:
                    named = value(raw, at)
                    order = orders.get(int(named[1]), every) if named is not None else every
            for check in order:
                checked = check(raw)
                if checked is not None:
                    return checked
            return None

        return check_any

    def validate(self, raw: object, raw_bytes: bytes | None = None) -> Valid | Invalid:
        """The verdict on `raw`, a decoded JSON value. Given the bytes it was decoded from, the
        fast check runs on those (msgspec, in C: raw_event_check.py), else on `raw`."""
        if not isinstance(raw, dict):
            return Invalid((FieldError("", f"an event must be a JSON object, not {json_type(raw)}",
                                       "not_object"),))
        version = raw.get("schema_version", DEFAULT_VERSION)
        # bool is an int in Python, but `true` is no version number.
        found = self._by_version.get(version) if type(version) is int else None
        if found is None:
            reason = f"unsupported version; this service accepts {', '.join(map(str, self.versions))}"
            return Invalid((FieldError("schema_version", reason, "const"),))
        raw_check = self._raw_checks.get(version) if raw_bytes is not None else None
        passes = (raw_check.check(raw_bytes) is not None if raw_check is not None and raw_bytes is not None
                  else self._passes_fast(version, raw))
        if passes:
            return Valid(raw)
        validator, schema = found
        errors = _field_errors(validator.iter_errors(raw), schema)
        # The two validators agree by test; should they ever not, still refuse, with a reason.
        return Invalid(errors or (FieldError("", "does not match the event schema", "schema"),))

    def _passes_fast(self, version: int, raw: dict[str, Any]) -> bool:
        try:
            self._fast[version](raw)
            # fastjsonschema's date-time lets second 60 through, which the reference and every
            # consumer (datetime) refuse: parse the timestamps as the consumers will.
            for name in self._instants[version]:
                if name in raw:
                    _fromisoformat(raw[name])
        except (fastjsonschema.JsonSchemaValueException, ValueError, KeyError, TypeError):
            return False
        return True


def default_validator() -> EventValidator:
    """The validator of every version of the contract (SCHEMA_FILES), for consumers."""
    return EventValidator.from_files(SCHEMA_FILES)


def inline_local_refs(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The same schema with each `{"$ref": "#/$defs/x"}` replaced by the definition itself.

    Same verdicts, about a fifth less time per event: jsonschema resolves a `$ref` anew on every use.
    A reference is kept where the definition is recursive or shares a validation keyword with the
    reference's siblings (merging would then drop one of them).
    """
    defs: Mapping[str, Any] = schema.get("$defs", {})
    annotations = {"description", "title", "$comment", "examples"}

    def walk(node: Any, inlining: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [walk(item, inlining) for item in node]
        if not isinstance(node, Mapping):
            return node
        ref = node.get("$ref")
        name = ref.removeprefix("#/$defs/") if isinstance(ref, str) else None
        if name is not None and name != ref and name in defs and name not in inlining:
            target = walk(defs[name], (*inlining, name))
            siblings = {k: walk(v, inlining) for k, v in node.items() if k != "$ref"}
            if isinstance(target, dict) and not (set(siblings) & set(target)) - annotations:
                return {**target, **siblings}
        return {k: walk(v, inlining) for k, v in node.items()}

    inlined: dict[str, Any] = walk(schema, ())
    return inlined


def _field_errors(errors: Iterable[ValidationError], schema: Mapping[str, Any]) -> tuple[FieldError, ...]:
    """One error per field (the first the schema finds): a sender fixes a field, not a keyword."""
    by_field: dict[str, FieldError] = {}
    for error in errors:
        for field_error in _explain(error, schema):
            by_field.setdefault(field_error.field, field_error)
    return tuple(by_field.values())


def _path(parts: Iterable[object]) -> str:
    return ".".join(str(p) for p in parts)


def _explain(error: ValidationError, schema: Mapping[str, Any]) -> list[FieldError]:
    kind = str(error.validator)
    value = error.validator_value
    if kind == "required" and isinstance(error.instance, dict):
        # jsonschema reports one error per missing property but does not name it apart from the
        # message text; the missing ones are exactly those absent from the instance.
        reason = _required_reason(error, schema)
        return [FieldError(_path([*error.absolute_path, name]), reason, kind)
                for name in value if name not in error.instance]
    if kind == "anyOf" and isinstance(error.instance, dict) and _alternative_requirements(value):
        # "due_at or statutory_max_hours": name each missing field, and the others that would do.
        return _one_of_required_errors(error, schema)
    return [FieldError(_path(error.absolute_path), _reason(kind, value, error), kind)]


def _required_reason(error: ValidationError, schema: Mapping[str, Any]) -> str:
    return _when("required", error, schema)


def _when(reason: str, error: ValidationError, schema: Mapping[str, Any]) -> str:
    """`reason`, followed by the condition that made it apply when the keyword sits in a `then`."""
    path = list(error.schema_path)
    if len(path) >= 2 and path[-2] == "then":
        # A conditional requirement (if/then): say which condition made the field required.
        condition = _subschema(schema, [*path[:-2], "if"])
        facts = [f"{name} is {json.dumps(sub['const'])}"
                 for name, sub in condition.get("properties", {}).items() if "const" in sub]
        if facts:
            return f"{reason} when {' and '.join(facts)}"
    return reason


def _alternative_requirements(alternatives: object) -> list[list[str]] | None:
    """The names of each alternative of an `anyOf` made of bare `required` lists, else None."""
    if not isinstance(alternatives, list) or not alternatives:
        return None
    names = [alt.get("required") if isinstance(alt, Mapping) and set(alt) == {"required"} else None
             for alt in alternatives]
    return names if all(isinstance(n, list) for n in names) else None  # type: ignore[return-value]


def _one_of_required_errors(error: ValidationError, schema: Mapping[str, Any]) -> list[FieldError]:
    alternatives = _alternative_requirements(error.validator_value) or []
    errors = []
    for index, names in enumerate(alternatives):
        others = " or ".join(" and ".join(alt) for i, alt in enumerate(alternatives) if i != index)
        reason = _when("required", error, schema) + (f", unless {others} is given" if others else "")
        errors += [FieldError(_path([*error.absolute_path, name]), reason, "required")
                   for name in names if name not in error.instance]
    return errors


def _subschema(schema: Mapping[str, Any], path: Sequence[object]) -> Mapping[str, Any]:
    node: Any = schema
    for part in path:
        node = node[part]
    return node if isinstance(node, Mapping) else {}


def _reason(kind: str, value: Any, error: ValidationError) -> str:
    if kind == "type":
        wanted = value if isinstance(value, list) else [value]
        return f"must be of type {' or '.join(wanted)}, not {json_type(error.instance)}"
    if kind == "enum":
        return "must be one of: " + ", ".join(json.dumps(v) for v in value)
    if kind == "const":
        return f"must be {json.dumps(value)}"
    if kind == "format":
        return f"must be {FORMAT_HINTS.get(value, f'a valid {value}')}"
    if kind == "pattern":
        return f"must match the pattern {value}"
    if kind == "minLength":
        return "must not be empty" if value == 1 else f"must be at least {value} characters"
    if kind == "maxLength":
        return f"must be at most {value} characters"
    message = error.message
    return message if len(message) <= MAX_REASON_CHARS else message[: MAX_REASON_CHARS - 1] + "…"

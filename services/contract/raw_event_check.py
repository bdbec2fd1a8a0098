"""A check of an event's raw JSON bytes against the schema, in C: msgspec, typed from the schema file.

The aggregator's packer checks every record on `filing-events`; fastjsonschema's generated Python
cost it ~7 µs an event, two thirds of the packer's time (profiled). msgspec decodes and
checks the same bytes in ~3 µs. The schema file stays the only statement of the contract: the
msgspec type is built from it here, for the keywords the schema uses; for a schema using any other
keyword it is not built (UnsupportedSchema), rather than checking loosely, and the caller checks
decoded events instead. What msgspec has no keyword for is
checked after decoding: the `if`/`then` requirements (a `then` of `required` and of `anyOf`
alternatives that are each a bare `required`), that a `date-time` is a real instant, and that a
number given for an `integer` has no fractional part (JSON Schema counts `5.0` as an integer;
msgspec reads it as a float, so the Struct gets the int 5).
A property test holds this check to the reference validator's verdicts (jsonschema, 2020-12).

A valid event comes back as a msgspec Struct (attribute access, no dict built; an absent optional
field is None, which the schema never allows as a value) with its `date-time` fields already
parsed into aware datetimes: the check has to parse them anyway, and the packer then needs them,
so each timestamp is parsed once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

# Keywords that only document.
_ANNOTATIONS = {"description", "title", "$comment", "examples"}
_TOP_LEVEL = _ANNOTATIONS | {"$schema", "$id", "$defs", "type", "required", "properties", "allOf"}
_fromisoformat = datetime.fromisoformat
# Distinct values that passed a field's pattern, kept per field, at most: a field with more (event
# ids, timestamps, filing ids) is searched every time, which costs less than keeping its values.
_PATTERN_VALUES_KEPT = 10_000


class UnsupportedSchema(ValueError):
    """The schema uses a keyword this check does not translate."""


class RawEventCheck:
    """`check(raw)`: the decoded event (a Struct of the schema's fields, date-times parsed) when
    `raw` is valid, else None. Callers that need the reasons ask the reference validator."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        unsupported = set(schema) - _TOP_LEVEL
        if schema.get("type") != "object" or unsupported:
            raise UnsupportedSchema(f"the raw check does not support this top level: {sorted(unsupported)}")
        defs: Mapping[str, Any] = schema.get("$defs", {})
        required = set(schema.get("required", ()))
        fields: list[tuple[str, Any] | tuple[str, Any, None]] = []
        self._instants: list[str] = []
        self._integers: list[str] = []
        # (field, its pattern's search, the values that passed it, or None once they are too many)
        self._patterns: list[tuple[str, Callable[[str], Any], set[str] | None]] = []
        for name, node in schema["properties"].items():
            resolved = _resolve(node, defs)
            kind, form = _field_type(resolved, name)
            fields.append((name, kind) if name in required else (name, kind, None))
            if form == "date-time":
                self._instants.append(name)
            elif form == "integer":
                self._integers.append(name)
            if "pattern" in resolved:
                # Checked after decoding, each distinct value once: a regex search is ~0.4 µs, two
                # thirds of the decode's time, and unit codes, sources and due dates come again
                # and again.
                self._patterns.append((name, re.compile(_ecma_end(resolved["pattern"]) or "").search, set()))
        conditions = [_condition(rule) for rule in schema.get("allOf", ())]
        # Unpacked, so that the test of whether a rule applies costs no call.
        self._conditions = [(c.field, c.value, c.met_by) for c in conditions]
        # A required name the schema gives no property would be no attribute of the Struct.
        named = required.union(*({c.field, *c.needs_all}.union(*c.needs_one_of) for c in conditions))
        if named - set(schema["properties"]):
            raise UnsupportedSchema(f"the raw check needs a property for each required name: "
                                    f"{sorted(named - set(schema['properties']))}")
        # kw_only: fields keep the schema's order, required or not. gc=False: a Struct of strings,
        # numbers and datetimes holds no cycle, and untracked ones are cheaper to make and free.
        shape = msgspec.defstruct("CheckedEvent", fields, kw_only=True, gc=False)
        self._decode: Callable[[bytes], Any] = msgspec.json.Decoder(shape).decode

    def check(self, raw: bytes) -> Any | None:
        try:
            event = self._decode(raw)
        except msgspec.DecodeError:  # not JSON, or not the schema's shape (ValidationError)
            return None
        for field, value, met_by in self._conditions:
            if getattr(event, field) == value and not met_by(event):
                return None
        for index, (name, search, seen) in enumerate(self._patterns):
            text = getattr(event, name)
            if text is None or (seen is not None and text in seen):
                continue
            if search(text) is None:
                return None
            if seen is not None:
                seen.add(text)
                if len(seen) >= _PATTERN_VALUES_KEPT:  # a field whose values hardly recur (ids, times)
                    self._patterns[index] = (name, search, None)
        for name in self._integers:
            number = getattr(event, name)
            if type(number) is float:
                if not number.is_integer():
                    return None
                setattr(event, name, int(number))
        try:
            for name in self._instants:
                text = getattr(event, name)
                if text is not None:
                    setattr(event, name, _fromisoformat(text))
        except ValueError:  # matches the pattern, yet no real instant (30 February, second 60)
            return None
        return event


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """A property's schema with a local `$ref` merged in."""
    ref = node.get("$ref")
    if ref is None:
        return dict(node)
    name = str(ref).removeprefix("#/$defs/")
    if name == ref or name not in defs:
        raise UnsupportedSchema(f"the raw check supports local $defs references only, not {ref}")
    return {**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}


def _field_type(node: Mapping[str, Any], name: str) -> tuple[Any, str | None]:
    """The msgspec type of one property, and what is left to check after decoding: "date-time",
    "integer" (a float must have no fractional part) or None."""
    keywords = set(node) - _ANNOTATIONS
    if None in node.get("enum", ()) or ("const" in node and node["const"] is None):
        # An absent field reads as None in the decoded Struct: null as a value would be ambiguous.
        raise UnsupportedSchema(f"{name}: the raw check does not support null as a value")
    if keywords == {"const"}:
        return Literal[node["const"]], None
    if keywords == {"enum"}:
        return Literal[tuple(node["enum"])], None
    if node.get("type") == "boolean" and keywords == {"type"}:
        return bool, None
    if node.get("type") == "integer" and keywords <= {"type", "minimum", "maximum"}:
        bounds = (node.get("minimum"), node.get("maximum"))
        if any(bound is not None and type(bound) is not int for bound in bounds):
            raise UnsupportedSchema(f"{name}: the raw check supports integer bounds only")
        meta = msgspec.Meta(ge=bounds[0], le=bounds[1])
        # JSON Schema's integer is any number without a fractional part, 5.0 included.
        return Annotated[int, meta] | Annotated[float, meta], "integer"
    if node.get("type") == "string" and keywords <= {"type", "minLength", "maxLength", "pattern", "format"}:
        if node.get("format", "date-time") != "date-time":
            raise UnsupportedSchema(f"{name}: the raw check knows the date-time format only")
        # The pattern is checked after decoding (RawEventCheck.check), each distinct value once.
        meta = msgspec.Meta(min_length=node.get("minLength"), max_length=node.get("maxLength"))
        return Annotated[str, meta], ("date-time" if "format" in node else None)
    raise UnsupportedSchema(f"{name}: the raw check does not support {sorted(keywords)}")


def _ecma_end(pattern: str | None) -> str | None:
    """The pattern with a final `$` meaning the end of the string, as in ECMA-262 (JSON Schema's
    regex dialect); Python's `$` also matches before a final newline. fastjsonschema does the same;
    jsonschema keeps Python's meaning, so it alone lets `"a\\n"` through an anchored pattern."""
    if pattern is not None and pattern.endswith("$") and not pattern.endswith("\\$"):
        return pattern[:-1] + "\\Z"
    return pattern


@dataclass(frozen=True, slots=True)
class _Condition:
    """When `field` is `value`: every name of `needs_all` is present, and, if there are
    alternatives, every name of at least one of `needs_one_of`."""

    field: str
    value: Any
    needs_all: tuple[str, ...]
    needs_one_of: tuple[tuple[str, ...], ...]

    def met_by(self, event: Any) -> bool:
        """Whether `event`, whose `field` is `value`, has the names the rule requires."""
        # An absent field is None, a value the schema never allows (see _field_type). Plain loops:
        # this runs on every submitted event, and generators cost more than the tests.
        for name in self.needs_all:
            if getattr(event, name) is None:
                return False
        if not self.needs_one_of:
            return True
        for names in self.needs_one_of:
            for name in names:
                if getattr(event, name) is None:
                    break
            else:
                return True
        return False


def _condition(rule: Mapping[str, Any]) -> _Condition:
    """An `if: {properties: {f: {const: v}}, required: [f]}` rule whose `then` has `required: [...]`,
    `anyOf: [{required: [...]}, ...]` or both; no other keyword anywhere in it."""
    try:
        condition, then = rule["if"], rule["then"]
        ((field, test),) = condition["properties"].items()
        if set(rule) != {"if", "then"} or set(condition) != {"properties", "required"} \
                or condition["required"] != [field] or set(test) != {"const"} \
                or not then or not set(then) <= {"required", "anyOf"}:
            raise ValueError
        needs_all = _names(then.get("required", []))
        alternatives = then.get("anyOf", [])
        if not isinstance(alternatives, list) or ("anyOf" in then and not alternatives) \
                or any(not isinstance(a, Mapping) or set(a) != {"required"} for a in alternatives):
            raise ValueError
        needs_one_of = tuple(_names(a["required"]) for a in alternatives)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise UnsupportedSchema(f"the raw check does not support this allOf rule: {rule}") from None
    return _Condition(field, test["const"], needs_all, needs_one_of)


def _names(required: Any) -> tuple[str, ...]:
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        raise ValueError
    return tuple(required)

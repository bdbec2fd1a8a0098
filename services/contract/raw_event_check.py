"""A check of an event's raw JSON bytes against the schema, in C: msgspec, typed from the schema file.

The aggregator's packer checks every record on `filing-events`; fastjsonschema's generated Python
cost it ~7 µs an event, two thirds of the packer's time (profiled). msgspec decodes and
checks the same bytes in ~3 µs. The schema file stays the only statement of the contract: the
msgspec type is built from it here, for the keywords the schema uses; for a schema using any other
keyword it is not built (UnsupportedSchema), rather than checking loosely, and the caller checks
decoded events instead. What msgspec has no keyword for is
checked after decoding: the `if`/`then` requirements, and that a `date-time` is a real instant.
A property test holds this check to the reference validator's verdicts (jsonschema, 2020-12).

A valid event comes back as a msgspec Struct (attribute access, no dict built; an absent optional
field is None, which the schema never allows as a value) with its `date-time` fields already
parsed into aware datetimes: the check has to parse them anyway, and the packer then needs them,
so each timestamp is parsed once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

# Keywords that only document.
_ANNOTATIONS = {"description", "title", "$comment", "examples"}
_TOP_LEVEL = _ANNOTATIONS | {"$schema", "$id", "$defs", "type", "required", "properties", "allOf"}
_fromisoformat = datetime.fromisoformat


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
        for name, node in schema["properties"].items():
            kind, is_instant = _field_type(_resolve(node, defs), name)
            fields.append((name, kind) if name in required else (name, kind, None))
            if is_instant:
                self._instants.append(name)
        self._conditions = [_condition(rule) for rule in schema.get("allOf", ())]
        # kw_only: fields keep the schema's order, required or not.
        shape = msgspec.defstruct("CheckedEvent", fields, kw_only=True)
        self._decode: Callable[[bytes], Any] = msgspec.json.Decoder(shape).decode

    def check(self, raw: bytes) -> Any | None:
        try:
            event = self._decode(raw)
        except msgspec.DecodeError:  # not JSON, or not the schema's shape (ValidationError)
            return None
        for field, value, needed in self._conditions:
            if getattr(event, field) == value and any(getattr(event, name) is None for name in needed):
                return None
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


def _field_type(node: Mapping[str, Any], name: str) -> tuple[Any, bool]:
    """The msgspec type of one property, and whether it is a date-time."""
    keywords = set(node) - _ANNOTATIONS
    if None in node.get("enum", ()) or ("const" in node and node["const"] is None):
        # An absent field reads as None in the decoded Struct: null as a value would be ambiguous.
        raise UnsupportedSchema(f"{name}: the raw check does not support null as a value")
    if keywords == {"const"}:
        return Literal[node["const"]], False
    if keywords == {"enum"}:
        return Literal[tuple(node["enum"])], False
    if node.get("type") == "boolean" and keywords == {"type"}:
        return bool, False
    if node.get("type") == "string" and keywords <= {"type", "minLength", "maxLength", "pattern", "format"}:
        if node.get("format", "date-time") != "date-time":
            raise UnsupportedSchema(f"{name}: the raw check knows the date-time format only")
        meta = msgspec.Meta(min_length=node.get("minLength"), max_length=node.get("maxLength"),
                            pattern=_ecma_end(node.get("pattern")))
        return Annotated[str, meta], "format" in node
    raise UnsupportedSchema(f"{name}: the raw check does not support {sorted(keywords)}")


def _ecma_end(pattern: str | None) -> str | None:
    """The pattern with a final `$` meaning the end of the string, as in ECMA-262 (JSON Schema's
    regex dialect); Python's `$` also matches before a final newline. fastjsonschema does the same;
    jsonschema keeps Python's meaning, so it alone lets `"a\\n"` through an anchored pattern."""
    if pattern is not None and pattern.endswith("$") and not pattern.endswith("\\$"):
        return pattern[:-1] + "\\Z"
    return pattern


def _condition(rule: Mapping[str, Any]) -> tuple[str, Any, tuple[str, ...]]:
    """An `if: {properties: {f: {const: v}}, required: [f]}, then: {required: [...]}` rule."""
    try:
        condition, then = rule["if"], rule["then"]
        ((field, test),) = condition["properties"].items()
        if set(rule) != {"if", "then"} or set(condition) != {"properties", "required"} \
                or condition["required"] != [field] or set(test) != {"const"} or set(then) != {"required"}:
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise UnsupportedSchema(f"the raw check does not support this allOf rule: {rule}") from None
    return field, test["const"], tuple(then["required"])

"""The event contract as code, built from `schemas/filing-event.v1.json` and nothing else.

`check(obj)` is the fast path (fastjsonschema's compiled validator); only when an event fails
does `explain(obj)` ask jsonschema, the reference 2020-12 implementation, for every error with
the field it concerns. The schema uses only keywords whose meaning is the same in draft-07 and
2020-12 (`if`/`then`, `$ref` to `#/$defs`, `const`, `enum`, `pattern`, `format`), which is why it
can be compiled as draft-07; `tests/test_event_schema.py` checks both agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema

_fromisoformat = datetime.fromisoformat
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "filing-event.v1.json"


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str  # dotted path, e.g. "due_at"; "" for the event as a whole
    reason: str


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@cache
def _compiled() -> Any:
    as_draft7 = {**schema(), "$schema": "http://json-schema.org/draft-07/schema#"}
    return fastjsonschema.compile(as_draft7)


@cache
def _reference() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def check(obj: Any) -> bool:
    """True when `obj` is a valid event. Fast: use this on every event."""
    try:
        _compiled()(obj)
        # fastjsonschema's date-time check lets second 60 through, which the reference and
        # every consumer (datetime) refuse: parse the timestamps as the consumers will.
        _fromisoformat(obj["occurred_at"])
        if "due_at" in obj:
            _fromisoformat(obj["due_at"])
    except (fastjsonschema.JsonSchemaValueException, ValueError):
        return False
    return True


def explain(obj: Any) -> list[FieldError]:
    """Every reason `obj` is not a valid event, each naming its field."""
    errors = []
    for error in sorted(_reference().iter_errors(obj), key=lambda e: list(e.path)):
        path = ".".join(str(part) for part in error.absolute_path)
        if error.validator == "required" and isinstance(error.validator_value, list):
            missing = [name for name in error.validator_value
                       if isinstance(obj, dict) and name not in obj]
            for name in missing:
                errors.append(FieldError(f"{path}.{name}" if path else name, "is required"))
            continue
        errors.append(FieldError(path, _short(error)))
    return errors


def validate(obj: Any) -> list[FieldError]:
    """No errors for a valid event; otherwise the field-by-field explanation."""
    if check(obj):
        return []
    errors = explain(obj)
    # The two validators agree by test; should they ever not, still refuse with a reason.
    return errors or [FieldError("", "does not match the event schema")]


def _short(error: jsonschema.ValidationError) -> str:
    if error.validator == "enum":
        return f"must be one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "type":
        return f"must be of type {error.validator_value}"
    if error.validator in ("pattern", "format"):
        return "is not an RFC 3339 timestamp with offset" if "T" in str(error.schema.get(
            "pattern", "")) or error.validator == "format" else "has characters that are not allowed"
    if error.validator in ("maxLength", "minLength"):
        return f"length must be {'at most' if error.validator == 'maxLength' else 'at least'} " \
               f"{error.validator_value}"
    if error.validator == "const":
        return f"must be {error.validator_value}"
    return error.message[:200]

"""schemas/README.md: its JSON examples are valid events, one of each event type."""

from __future__ import annotations

import json
import re

from services.contract.event_validation import SCHEMAS_DIR, EventValidator, Valid

README = SCHEMAS_DIR / "README.md"
JSON_BLOCK = re.compile(r"^```json\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_the_readme_examples_are_valid_and_cover_every_event_type() -> None:
    schema = json.loads((SCHEMAS_DIR / "filing-event.v1.json").read_text())
    validator = EventValidator([schema])
    examples = [json.loads(block) for block in JSON_BLOCK.findall(README.read_text())]
    assert len(examples) >= 4
    for example in examples:
        assert validator.validate(example) == Valid(example), example
    assert {e["event_type"] for e in examples} == set(schema["properties"]["event_type"]["enum"])


def test_the_readme_field_table_lists_every_schema_field() -> None:
    schema = json.loads((SCHEMAS_DIR / "filing-event.v1.json").read_text())
    table_fields = set(re.findall(r"^\| `(\w+)` \|", README.read_text(), re.MULTILINE))
    assert table_fields == set(schema["properties"])

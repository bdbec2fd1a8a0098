"""schemas/README.md: its JSON examples are valid events of the version each names, together one of
every event type of every version; its tables list every field of every version."""

from __future__ import annotations

import json
import re

from services.contract.event_validation import SCHEMA_FILES, SCHEMAS_DIR, EventValidator, Valid

README = SCHEMAS_DIR / "README.md"
JSON_BLOCK = re.compile(r"^```json\n(.*?)^```", re.MULTILINE | re.DOTALL)
SCHEMAS = {schema["properties"]["schema_version"]["const"]: schema
           for schema in (json.loads(path.read_text()) for path in SCHEMA_FILES)}


def section_fields(heading: str) -> set[str]:
    """The fields in the first column of the table under one `## ` heading."""
    text = README.read_text()
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return set(re.findall(r"^\| `(\w+)` \|", text[start:end if end >= 0 else None], re.MULTILINE))


def test_the_readme_examples_are_valid_under_their_version_and_cover_every_event_type() -> None:
    examples = [json.loads(block) for block in JSON_BLOCK.findall(README.read_text())]
    assert len(examples) >= 4
    types_shown: dict[int, set[str]] = {version: set() for version in SCHEMAS}
    for example in examples:
        # Each example names its version, and is checked by that version's schema alone.
        version = example["schema_version"]
        assert EventValidator([SCHEMAS[version]]).validate(example) == Valid(example), example
        types_shown[version].add(example["event_type"])
    assert types_shown == {version: set(schema["properties"]["event_type"]["enum"])
                           for version, schema in SCHEMAS.items()}


def test_the_readme_tables_list_every_field_of_every_version() -> None:
    flags = section_fields("Flags (both versions)")
    assert section_fields("Fields of version 1") | flags == set(SCHEMAS[1]["properties"])
    assert section_fields("Fields of version 2") | flags == set(SCHEMAS[2]["properties"])
    # A flag is one in both versions, listed once.
    assert flags <= set(SCHEMAS[1]["properties"]) & set(SCHEMAS[2]["properties"])
    assert not flags & (section_fields("Fields of version 1") | section_fields("Fields of version 2"))

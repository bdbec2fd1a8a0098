"""The contract v2 field list of docs/figures.md ("The contract's fields"), as a plain check.

`schemas/filing-event.v2.json` is the contract; this check is written from the text so that the
simulator's events are held to the field list even where that file is not there yet. The tests
also validate against the file whenever it exists (`test_simulator.py`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

EVENT_TYPES = frozenset({"submitted", "supplement_requested", "supplement_completed", "processed",
                         "result_returned", "stopped", "rejected", "withdrawn", "overdue", "updated"})
FLAGS = ("online_payment", "fee_due", "digitised", "electronic_result", "paper_result", "data_reused",
         "personal_store", "population_db", "full_online_service", "full_online_eligible", "satisfied")
CHANNELS = frozenset({"online", "in_person", "postal"})
VIA = frozenset({"national_portal", "provincial_gateway"})
ID = re.compile(r"[A-Za-z0-9._:@/-]{1,128}")
UNIT = re.compile(r"[A-Za-z0-9._-]{1,64}")
TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
                       r"(Z|[+-][0-9]{2}:[0-9]{2})")
KNOWN = frozenset({"schema_version", "event_id", "event_type", "filing_id", "unit_code", "occurred_at",
                   "source", "channel", "due_at", "procedure_code", "statutory_max_hours",
                   "online_payment_via", *FLAGS})


def _timestamp(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 40 or not TIMESTAMP.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def problems(event: Any) -> list[str]:
    """What is wrong with `event` under the v2 field list; empty when nothing is."""
    if not isinstance(event, dict):
        return ["not an object"]
    out: list[str] = []
    if event.get("schema_version") != 2 or type(event.get("schema_version")) is not int:
        out.append("schema_version is not 2")
    for name, pattern in (("event_id", ID), ("filing_id", ID), ("unit_code", UNIT)):
        value = event.get(name)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            out.append(f"{name} {value!r}")
    if event.get("event_type") not in EVENT_TYPES:
        out.append(f"event_type {event.get('event_type')!r}")
    source = event.get("source")
    if not isinstance(source, str) or not 1 <= len(source) <= 64:
        out.append(f"source {source!r}")
    if not _timestamp(event.get("occurred_at")):
        out.append(f"occurred_at {event.get('occurred_at')!r}")
    if "due_at" in event and not _timestamp(event["due_at"]):
        out.append(f"due_at {event['due_at']!r}")
    if "channel" in event and event["channel"] not in CHANNELS:
        out.append(f"channel {event['channel']!r}")
    if "procedure_code" in event and not (isinstance(event["procedure_code"], str)
                                          and 1 <= len(event["procedure_code"]) <= 64):
        out.append("procedure_code")
    if "statutory_max_hours" in event:
        hours = event["statutory_max_hours"]
        if type(hours) is not int or not 1 <= hours <= 26_352:
            out.append(f"statutory_max_hours {hours!r}")
    if "online_payment_via" in event and event["online_payment_via"] not in VIA:
        out.append(f"online_payment_via {event['online_payment_via']!r}")
    for flag in FLAGS:
        if flag in event and not isinstance(event[flag], bool):
            out.append(f"{flag} {event[flag]!r}")
    if event.get("event_type") == "submitted":
        for name in ("channel", "procedure_code"):
            if name not in event:
                out.append(f"submitted without {name}")
        if "due_at" not in event and "statutory_max_hours" not in event:
            out.append("submitted without due_at or statutory_max_hours")
    return out

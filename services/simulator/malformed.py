"""Broken copies of good events: what a buggy sender or a broken proxy puts on the wire.

Every broken event fails the v2 contract, each for one clear reason that the ingest's error
should name. A broken copy gets its own event id (`...:bad`) so that, should a validator let it
through, it can never shadow the good event it was copied from.
"""

from __future__ import annotations

import random

import orjson

from services.simulator.lifecycle import Event

MISSING_FIELD = "missing_field"
WRONG_ENUM = "wrong_enum"
BAD_TIMESTAMP = "bad_timestamp"
WRONG_TYPE = "wrong_type"
BAD_CODE = "bad_code"
NOT_JSON = "not_json"
KINDS = (MISSING_FIELD, WRONG_ENUM, BAD_TIMESTAMP, WRONG_TYPE, BAD_CODE)

_REQUIRED = ("event_id", "event_type", "filing_id", "unit_code", "occurred_at", "source")
# A v2 submitted event needs due_at or statutory_max_hours: "due" removes whichever it has.
_REQUIRED_BY_TYPE = {"submitted": ("channel", "procedure_code", "due"), "returned": ("reason",)}
_WRONG_ENUMS = (("event_type", "resolved"), ("event_type", "SUBMITTED"))
_WRONG_ENUMS_BY_TYPE = {"submitted": (("channel", "fax"),), "returned": (("reason", "lost"),)}
_WRONG_TYPES: tuple[tuple[str, object], ...] = (
    ("online_payment", "yes"), ("schema_version", "2"), ("filing_id", 104729), ("digitised", 1),
    ("satisfied", "5 stars"), ("fee_due", 0))


def _bad_timestamp(rng: random.Random, good: str) -> object:
    date, _, clock = good.partition("T")
    year = date[:4]
    return rng.choice((
        f"{year}-02-30T{clock}",  # matches the pattern, but no such day: only a format check sees it
        f"{date} {clock[:8]}",  # no T, no offset
        f"{date[8:10]}/{date[5:7]}/{year} {clock[:5]}",  # the local way of writing it
        f"{date}T{clock[:8]}",  # no offset: which zone?
        1_700_000_000,  # epoch seconds, not text
    ))


def corrupt(rng: random.Random, event: Event) -> tuple[str, Event]:
    """A broken copy of `event` and the kind of breakage."""
    bad = dict(event)
    bad["event_id"] = f"{event['event_id']}:bad"
    kind = rng.choice(KINDS)
    event_type = event["event_type"]
    if kind == MISSING_FIELD:
        missing = rng.choice(_REQUIRED + _REQUIRED_BY_TYPE.get(event_type, ()))
        if missing == "due":
            bad.pop("due_at", None)
            bad.pop("statutory_max_hours", None)
        else:
            del bad[missing]
    elif kind == WRONG_ENUM:
        enums = _WRONG_ENUMS + _WRONG_ENUMS_BY_TYPE.get(event_type, ())
        if "online_payment_via" in event:
            enums += (("online_payment_via", "bank_transfer"),)
        field, value = rng.choice(enums)
        bad[field] = value
    elif kind == BAD_TIMESTAMP:
        field = "due_at" if event_type == "submitted" and "due_at" in event and rng.random() < 0.3 \
            else "occurred_at"
        bad[field] = _bad_timestamp(rng, event[field])
    elif kind == WRONG_TYPE:
        name, wrong_value = rng.choice(_WRONG_TYPES)
        bad[name] = wrong_value
    else:
        bad["unit_code"] = rng.choice((f"{event['unit_code']} ", "Phường Hồng Bàng", "31/S01", ""))
    return kind, bad


def not_json_line(rng: random.Random, event: Event) -> bytes:
    """A line that no JSON parser accepts (file mode only: a truncated write, a proxy's error page)."""
    whole = orjson.dumps(event)
    return rng.choice((
        whole[: len(whole) // 2],
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        ";".join(f"{k}={v}" for k, v in event.items()).encode(),
        repr(event).encode(),  # Python's repr: single quotes, not JSON
    ))
